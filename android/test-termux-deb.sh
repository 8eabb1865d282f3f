#!/bin/bash
# android/test-termux-deb.sh — checks the Termux package without a phone:
#   1. control fields (Package, Architecture aarch64, Version = Cargo.toml, Installed-Size, no
#      Depends) and conffiles;
#   2. layout: every file under the Termux prefix, modes, the svlogger symlink, shebangs that
#      point into the prefix, the `down` file shipped and ahead of `run` in the archive;
#   3. runtime, in a private mount namespace + chroot that puts the package at the real Termux
#      path /data/data/com.termux/files/usr (bind mounts only; nothing is written outside a temp
#      dir): postinst on first install leaves the service down; runit's runsv (the supervisor
#      termux-services uses) on the package's service directory keeps it down; `sv up` (what
#      sv-enable does) starts the packaged run script -> nostrp2p-run -> the aarch64 binary
#      (through binfmt_misc + qemu-aarch64-static), which answers /status, /publish and /req from
#      the host; svlogd writes the server's log to $PREFIX/var/log/sv/nostrp2p/current.
#
# Usage: android/test-termux-deb.sh [DEB]    (default: builds dist/nostrp2p_<version>_aarch64.deb)
# Needs root (mount namespace, chroot). Last line: 'N passed, N failed'.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
P=/data/data/com.termux/files/usr
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
NPUB_A=npub1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmus6gq266
DEB=${1:-}
if [ -z "$DEB" ]; then
  "$ROOT/scripts/install-deps.sh" termux >&2
  DEB=$("$ROOT/android/build-termux-deb.sh" | tail -1)
fi

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
expect() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

T=$(mktemp -d /tmp/nostrp2p-termux-test.XXXXXX)
cleanup() { [ "${KEEP_TEST_DIR:-0}" = 1 ] && echo "info kept $T" || rm -rf "$T"; }
trap cleanup EXIT

# 1. control
field() { dpkg-deb -f "$DEB" "$1"; }
expect "Package: nostrp2p" test "$(field Package)" = nostrp2p
expect "Architecture: aarch64 (Termux's name)" test "$(field Architecture)" = aarch64
expect "Version: $VERSION" test "$(field Version)" = "$VERSION"
expect "Installed-Size is a number of KiB ($(field Installed-Size))" grep -qx '[0-9]\+' <<<"$(field Installed-Size)"
expect "Maintainer and Description set" test -n "$(field Maintainer)" -a -n "$(field Description)"
expect "no Depends (static binary)" test -z "$(field Depends)"
expect "file name is nostrp2p_${VERSION}_aarch64.deb" test "$(basename "$DEB")" = "nostrp2p_${VERSION}_aarch64.deb"
mkdir -p "$T/control"
dpkg-deb -e "$DEB" "$T/control"
expect "conffiles = the config file" test "$(cat "$T/control/conffiles")" = "$P/etc/nostrp2p/nostrp2p.conf"
for s in postinst prerm postrm; do
  expect "$s shebang in the prefix" test "$(head -1 "$T/control/$s")" = "#!$P/bin/sh"
done

# 2. layout
listing=$(dpkg-deb -c "$DEB")
has() { grep -q -- "$1" <<<"$listing"; }
expect "everything under the Termux prefix" test -z "$(awk '{print $6}' <<<"$listing" | grep -v '^\./$' | grep -v "^\./data/\(data/\(com\.termux/\(files/\(usr/.*\)\?\)\?\)\?\)\?$")"
expect "bin/nostrp2p 0755" has "^-rwxr-xr-x root/root .* \./data/data/com.termux/files/usr/bin/nostrp2p$"
expect "bin/nostrp2p-run 0755" has "^-rwxr-xr-x root/root .* \./data/data/com.termux/files/usr/bin/nostrp2p-run$"
expect "var/service/nostrp2p/run 0755" has "^-rwxr-xr-x .* \./data/data/com.termux/files/usr/var/service/nostrp2p/run$"
expect "log/run -> termux-services svlogger" has "usr/var/service/nostrp2p/log/run -> $P/share/termux-services/svlogger$"
expect "'down' file shipped (the service starts disabled)" has "^-rw-r--r-- .* \./data/data/com.termux/files/usr/var/service/nostrp2p/down$"
down_line=$(grep -n 'service/nostrp2p/down$' <<<"$listing" | cut -d: -f1)
run_line=$(grep -n 'service/nostrp2p/run$' <<<"$listing" | cut -d: -f1)
expect "'down' comes before 'run' in the archive (runsvdir never sees run alone)" test "${down_line:-9999}" -lt "${run_line:-0}"
expect "Termux:Boot example shipped" has "usr/share/nostrp2p/termux-boot-nostrp2p$"
mkdir -p "$T/x"
dpkg-deb -x "$DEB" "$T/x"
for f in bin/nostrp2p-run var/service/nostrp2p/run share/nostrp2p/termux-boot-nostrp2p; do
  expect "$f shebang in the prefix" test "$(head -1 "$T/x$P/$f")" = "#!$P/bin/sh"
done
expect "packaged binary is static aarch64" grep -q 'ARM aarch64.*statically linked' <<<"$(file -b "$T/x$P/bin/nostrp2p")"

# 3. runtime under a Termux-like root
if [ "$(id -u)" != 0 ]; then
  fail "runtime test needs root (mount namespace + chroot)"
elif ! grep -qs enabled /proc/sys/fs/binfmt_misc/qemu-aarch64; then
  fail "runtime test needs binfmt_misc for qemu-aarch64 (scripts/install-deps.sh termux)"
else
  # runit's runsv/sv/svlogd, taken from Debian's runit package without installing it (installing
  # it would register an init service on the host).
  RUNIT=${XDG_CACHE_HOME:-$HOME/.cache}/nostrp2p/runit
  if [ ! -x "$RUNIT/usr/bin/runsv" ]; then
    mkdir -p "$RUNIT" && (cd "$T" && apt-get download runit >/dev/null 2>&1 && dpkg-deb -x runit_*.deb "$RUNIT")
  fi
  C=$T/chroot
  mkdir -p "$C"
  cp -a "$T/x/." "$C/"
  for d in bin sbin lib lib64 usr etc; do [ -e "/$d" ] && mkdir -p "$C/$d"; done
  mkdir -p "$C/proc" "$C/dev" "$C/tmp"
  # What Termux itself provides and the package expects: sh in the prefix, svlogger, a HOME.
  ln -s /bin/sh "$C$P/bin/sh"
  for b in runsv sv svlogd; do cp "$RUNIT/usr/bin/$b" "$C$P/bin/$b"; done
  mkdir -p "$C$P/share/termux-services" "$C/data/data/com.termux/files/home" "$C$P/var/log/sv"
  cat >"$C$P/share/termux-services/svlogger" <<EOF
#!$P/bin/sh
# stand-in for termux-services' svlogger (same behaviour: svlogd -tt into \$LOGDIR/sv/<service>)
svc=\$(basename "\$(dirname "\$PWD")")
mkdir -p "\$LOGDIR/sv/\$svc"
exec svlogd -tt "\$LOGDIR/sv/\$svc"
EOF
  chmod 0755 "$C$P/share/termux-services/svlogger"
  port=$(python3 -c 'import random,socket
for _ in range(200):
    p=random.randrange(30000,60000,2)
    try:
        [socket.socket().bind(("127.0.0.1",q)) for q in (p,p+1)]; print(p); break
    except OSError: pass')
  # postinst is in the control archive; run it inside the chroot as dpkg would on first install.
  cp "$T/control/postinst" "$C/tmp-postinst" && cp "$T/control/preinst" "$C/tmp-preinst" && chmod 0755 "$C/tmp-postinst" "$C/tmp-preinst"
  cat >"$T/inner.sh" <<EOF
set -u
for d in bin sbin lib lib64 usr etc; do [ -d "$C/\$d" ] && mount --bind "/\$d" "$C/\$d"; done
mount -t proc proc "$C/proc"; mount --rbind /dev "$C/dev"
CHROOT=\$(command -v chroot)
export PREFIX=$P HOME=/data/data/com.termux/files/home LOGDIR=$P/var/log SVDIR=$P/var/service PATH=$P/bin:/usr/bin:/bin
\$CHROOT "$C" /tmp-postinst configure "" >"$T/postinst.out" 2>&1; echo "postinst_rc=\$?" >"$T/state"
[ -e "$C$P/var/service/nostrp2p/down" ] && echo down_after_install=1 >>"$T/state"
# The user's one edit: owner, and (for this test) loopback + a temp data dir.
sed -i "s|^owner=.*|owner=$NPUB_A|; s|^listen=.*|listen=127.0.0.1:$port|; s|^data_dir=.*|data_dir=/data/data/com.termux/files/home/nostrp2p-data|" "$C$P/etc/nostrp2p/nostrp2p.conf"
\$CHROOT "$C" runsv $P/var/service/nostrp2p >"$T/runsv.out" 2>&1 &
sleep 2
\$CHROOT "$C" sv status $P/var/service/nostrp2p >"$T/status-before" 2>&1
# sv-enable = remove 'down' + sv up
rm -f "$C$P/var/service/nostrp2p/down"
\$CHROOT "$C" sv up $P/var/service/nostrp2p >/dev/null 2>&1
timeout 300 python3 "$ROOT/scripts/smoke_http.py" --http 127.0.0.1:$((port + 1)) --ready-timeout 120 >"$T/http.log" 2>&1
echo "http_rc=\$?" >>"$T/state"
\$CHROOT "$C" sv status $P/var/service/nostrp2p >"$T/status-after" 2>&1
# Upgrade while enabled: preinst, unpack (brings 'down' back), postinst configure OLD-VERSION.
\$CHROOT "$C" /tmp-preinst upgrade 0.0.1 >/dev/null 2>&1
: >"$C$P/var/service/nostrp2p/down"
\$CHROOT "$C" /tmp-postinst configure 0.0.1 >/dev/null 2>&1
[ -e "$C$P/var/service/nostrp2p/down" ] || echo enabled_kept=1 >>"$T/state"
# Upgrade while disabled (sv-disable made 'down'): 'down' stays.
: >"$C$P/var/service/nostrp2p/down"
\$CHROOT "$C" /tmp-preinst upgrade 0.0.1 >/dev/null 2>&1
: >"$C$P/var/service/nostrp2p/down"
\$CHROOT "$C" /tmp-postinst configure 0.0.1 >/dev/null 2>&1
[ -e "$C$P/var/service/nostrp2p/down" ] && echo disabled_kept=1 >>"$T/state"
rm -f "$C$P/var/service/nostrp2p/down"
\$CHROOT "$C" sv down $P/var/service/nostrp2p >/dev/null 2>&1
\$CHROOT "$C" sv exit $P/var/service/nostrp2p >/dev/null 2>&1
sleep 2
\$CHROOT "$C" sv exit $P/var/service/nostrp2p/log >/dev/null 2>&1
wait
EOF
  unshare --mount --propagation private bash "$T/inner.sh"
  . "$T/state"
  expect "postinst exits 0" test "${postinst_rc:-1}" = 0
  expect "postinst prints the next steps (sv-enable, wake lock, battery)" \
    bash -c "grep -q 'sv-enable nostrp2p' '$T/postinst.out' && grep -q termux-wake-lock '$T/postinst.out' && grep -qi battery '$T/postinst.out'"
  expect "service disabled after first install ('down' there)" test "${down_after_install:-0}" = 1
  expect "upgrade keeps an enabled service enabled" test "${enabled_kept:-0}" = 1
  expect "upgrade keeps a disabled service disabled" test "${disabled_kept:-0}" = 1
  expect "runsv keeps it down until enabled: $(cat "$T/status-before")" grep -q '^down:' "$T/status-before"
  expect "after sv up it runs: $(cat "$T/status-after")" grep -q '^run:' "$T/status-after"
  if [ "${http_rc:-1}" = 0 ]; then
    ok "packaged run script + binary answer HTTP ($(grep -c '^ok' "$T/http.log") checks)"
  else
    fail "HTTP checks against the packaged service:"; sed 's/^/     /' "$T/http.log"
  fi
  logf=$C$P/var/log/sv/nostrp2p/current
  expect "svlogd log has the server's output ($P/var/log/sv/nostrp2p/current)" grep -q 'nostrp2p-run: starting' "$logf"
  [ -e "$logf" ] && { echo "info log:"; tail -5 "$logf" | sed 's/^/     /'; }
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
