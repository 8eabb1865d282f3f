#!/bin/bash
# platform/test-run-script.sh — tests nostrp2p-run's config parsing (dry run: prints the
# command it would exec). Last line: 'N passed, N failed'.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RUN=$HERE/nostrp2p-run.sh
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
passed=0 failed=0
check() { # name, config text, expected output, [expected exit code]
  printf '%b' "$2" >"$T/conf"
  got=$(NOSTRP2P_DRY_RUN=1 NOSTRP2P_BIN=/x/nostrp2p sh "$RUN" "$T/conf" 2>"$T/err"); rc=$?
  if [ "$got" = "$3" ] && [ "$rc" = "${4:-0}" ]; then passed=$((passed + 1)); echo "ok   $1"
  else failed=$((failed + 1)); echo "FAIL $1: got '$got' (exit $rc), want '$3' (exit ${4:-0})"; sed 's/^/     /' "$T/err"; fi
}
check "defaults: listen 0.0.0.0:20000" 'owner=npub1abc\n' '/x/nostrp2p server -p npub1abc -l 0.0.0.0:20000'
check "all keys, CRLF, quotes, blanks" 'owner = npub1abc\r\nlisten=127.0.0.1:20000\r\nbootstrap="peer.example:20000"\r\nwritable=false\r\ndata_dir=/d\r\nstore_mib=8\r\ndebug=yes\r\n' \
  '/x/nostrp2p server -p npub1abc -l 127.0.0.1:20000 -b peer.example:20000 --data-dir /d -w=false --store-mib 8 -d'
check "comments, unknown and Pi-only keys ignored" '# c\n; c\nbogus=1\nwifi_ssid=x\nhostname=h\nowner=abc\n' '/x/nostrp2p server -p abc -l 0.0.0.0:20000'
check "last line without newline" 'owner=abc' '/x/nostrp2p server -p abc -l 0.0.0.0:20000'
check "extra_args split on spaces" 'owner=abc\nextra_args=--foo 1\n' '/x/nostrp2p server -p abc -l 0.0.0.0:20000 --foo 1'
check "no owner: exit 78" 'bootstrap=x:1\n' '' 78
check "placeholder owner: exit 78" 'owner=npub1REPLACE_WITH_YOUR_NPUB\n' '' 78
got=$(NOSTRP2P_DRY_RUN=1 sh "$RUN" "$T/does-not-exist" 2>/dev/null); rc=$?
if [ "$rc" = 78 ]; then passed=$((passed + 1)); echo "ok   missing config: exit 78"; else failed=$((failed + 1)); echo "FAIL missing config: exit $rc"; fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
