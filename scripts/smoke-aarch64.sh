#!/bin/bash
# scripts/smoke-aarch64.sh — runs an aarch64 nostrp2p binary under qemu-aarch64-static on this
# x86_64 host and checks that it really works:
#   1. it is an aarch64 ELF (static for musl);
#   2. `--version` prints `nostrp2p <Cargo.toml version>`;
#   3. a real server (`server -p <fixture npub> -l 127.0.0.1:P --data-dir TMP`) answers
#      GET /status, POST /publish (fixture E1) and POST /req (E1's id in the MessagePack answer),
#      all from the host over 127.0.0.1 (scripts/smoke_http.py);
#   4. (static builds, which are the Android ones) every syscall it made (qemu -strace) is one
#      that Android's app seccomp filter allows on
#      older releases: none of the post-4.14 calls (statx, rseq, clone3, close_range,
#      epoll_pwait2, pidfd_*, openat2, faccessat2, io_uring_*, ...) that Android kills with SIGSYS.
#
# Usage: scripts/smoke-aarch64.sh [BIN]     (default: dist/nostrp2p-aarch64-linux-musl)
# Env: SMOKE_READY_TIMEOUT (s, default 90), KEEP_SMOKE_DIR=1 to keep the temp dir.
# Last line: 'N passed, N failed'.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/dist/nostrp2p-aarch64-linux-musl}
QEMU=${QEMU:-qemu-aarch64-static}
NPUB_A=npub1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmus6gq266
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)

# Syscalls Android's seccomp filter may kill (aarch64 numbers >= 285, i.e. newer than the
# Linux 4.14 set that bionic's allowlist is built from; reports: termux-packages #31720 statx
# and pidfd_open, bun #30766 close_range, VSCodroid #378 epoll_pwait2).
RISKY_SYSCALLS='copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc pkey_free statx io_pgetevents rseq
kexec_file_load pidfd_send_signal io_uring_setup io_uring_enter io_uring_register open_tree move_mount
fsopen fsconfig fsmount fspick pidfd_open clone3 close_range openat2 pidfd_getfd faccessat2
process_madvise epoll_pwait2 mount_setattr quotactl_fd landlock_create_ruleset landlock_add_rule
landlock_restrict_self memfd_secret process_mrelease futex_waitv set_mempolicy_home_node cachestat
fchmodat2 map_shadow_stack futex_wake futex_wait futex_requeue'

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() {
  [ "${KEEP_SMOKE_DIR:-0}" = 1 ] && echo "info kept $WORK" || rm -rf "$WORK"
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
}

command -v "$QEMU" >/dev/null || { echo "smoke-aarch64: $QEMU missing (scripts/install-deps.sh aarch64)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "smoke-aarch64: no executable $BIN (scripts/build-aarch64.sh first)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/nostrp2p-smoke.XXXXXX)

# 1. ELF kind
desc=$(file -b "$BIN")
if [[ $desc == *"ARM aarch64"* ]]; then ok "aarch64 ELF: $desc"; else fail "not an aarch64 ELF: $desc"; fi
case $BIN in *musl*) [[ $desc == *"statically linked"* ]] && ok "musl binary is static" || fail "musl binary is not static: $desc" ;; esac
echo "info size $(stat -c %s "$BIN") bytes"

# Dynamic (gnu) binaries: plain qemu-aarch64-static finds /lib/ld-linux-aarch64.so.1 only when
# libc6:arm64 is installed; otherwise point it at the cross sysroot. Never '-L' together with
# multiarch libc6:arm64 (pthread_create spins forever: shared/spec/platforms.md §1).
QEMU_ARGS=()
if [[ $desc == *"dynamically linked"* ]] && [ ! -e /lib/ld-linux-aarch64.so.1 ]; then
  QEMU_ARGS=(-L /usr/aarch64-linux-gnu)
fi

# 2. --version
out=$(timeout 60 "$QEMU" "${QEMU_ARGS[@]}" "$BIN" --version 2>&1)
if [ "$out" = "nostrp2p $VERSION" ]; then ok "--version: $out"; else fail "--version printed '$out', want 'nostrp2p $VERSION'"; fi

# 3. a real server, exercised over HTTP from the host
port=$(python3 - <<'EOF'
import random, socket
for _ in range(200):
    p = random.randrange(30000, 60000, 2)
    try:
        for q in (p, p + 1):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
        print(p); break
    except OSError:
        pass
EOF
)
mkdir -p "$WORK/data"
start="exec $QEMU ${QEMU_ARGS[*]} -strace $BIN server -p $NPUB_A -l 127.0.0.1:$port --data-dir $WORK/data 2>$WORK/strace.log"
echo "info starting: $start"
if timeout 300 python3 "$ROOT/scripts/smoke_http.py" --http "127.0.0.1:$((port + 1))" --start "$start" \
     --log "$WORK/server.log" --ready-timeout "${SMOKE_READY_TIMEOUT:-90}" >"$WORK/http.log" 2>&1; then
  ok "server under qemu answers /status, /publish, /req ($(grep -c '^ok' "$WORK/http.log") checks)"
else
  fail "HTTP checks against the server under qemu:"
  sed 's/^/     /' "$WORK/http.log"
  echo "     --- server output (last 20 lines of strace/log):"
  grep -v '^[0-9]\+ ' "$WORK/strace.log" | tail -20 | sed 's/^/     /'
fi

# 4. syscalls
if [ -s "$WORK/strace.log" ]; then
  used=$(sed -n 's/^[0-9]\+ \([a-z_0-9]\+\)(.*/\1/p' "$WORK/strace.log" | sort -u | tr '\n' ' ')
  unknown=$(grep -o 'Unknown syscall [0-9]\+' "$WORK/strace.log" | sort -u | tr '\n' ' ')
  echo "info syscalls used: $used"
  bad=()
  for s in $used; do
    for r in $RISKY_SYSCALLS; do [ "$s" = "$r" ] && bad+=("$s"); done
  done
  if [ ${#bad[@]} = 0 ] && [ -z "$unknown" ]; then
    ok "no syscall outside Android's older seccomp allowlist ($(wc -w <<<"$used") distinct)"
  elif [[ $desc == *"dynamically linked"* ]]; then
    # glibc itself uses rseq/statx/clone3: fine on a Pi, and this binary is not for Android.
    echo "info glibc build uses ${bad[*]} $unknown: fine on Linux, which is why Android gets the musl build"
  else
    fail "syscalls Android may kill with SIGSYS: ${bad[*]} $unknown"
  fi
else
  fail "no strace output"
fi
finish
