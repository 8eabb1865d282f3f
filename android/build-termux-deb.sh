#!/bin/bash
# android/build-termux-deb.sh — builds dist/nostrp2p_<version>_aarch64.deb for Termux.
#
# Layout and control fields follow termux-packages' own steps (termux_step_create_debian_package,
# termux_step_install_service_scripts): files under the Termux prefix, Architecture `aarch64`
# (Termux's name, not Debian's `arm64`), xz data, owner 0/0, no Depends (the binary is static).
#
#   $PREFIX/bin/nostrp2p                       static musl server
#   $PREFIX/bin/nostrp2p-run                   reads the config, execs `nostrp2p server ...`
#   $PREFIX/etc/nostrp2p/nostrp2p.conf         the one file the user edits (a dpkg conffile)
#   $PREFIX/var/service/nostrp2p/run           termux-services (runit) run script
#   $PREFIX/var/service/nostrp2p/log/run       -> svlogger: logs in $PREFIX/var/log/sv/nostrp2p/current
#   $PREFIX/share/nostrp2p/termux-boot-nostrp2p  example for ~/.termux/boot/ (Termux:Boot)
#   $PREFIX/share/doc/nostrp2p/README.termux   the next steps, also printed by postinst
#   $PREFIX/var/service/nostrp2p/down          shipped, as termux-packages does: the service
#                                              starts disabled; `sv-enable nostrp2p` removes it
# `down` sorts before `run` in the archive, so termux-services' runsvdir (which scans the
# service directory every few seconds) never sees a run script without it, which creating it in
# postinst could not promise. An upgrade would bring `down` back, so preinst notes a service the
# user enabled and postinst removes `down` again for it.
#
# Usage: android/build-termux-deb.sh [BIN]   (default: dist/nostrp2p-aarch64-linux-musl,
#                                               built first if missing)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/dist/nostrp2p-aarch64-linux-musl}
P=/data/data/com.termux/files/usr           # Termux's $PREFIX
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
HOMEPAGE=$(sed -n 's/^repository = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
DEB=$ROOT/dist/nostrp2p_${VERSION}_aarch64.deb

if [ ! -x "$BIN" ]; then
  "$ROOT/scripts/build-aarch64.sh" musl
fi
file -b "$BIN" | grep -q 'ARM aarch64.*statically linked' || {
  echo "build-termux-deb: $BIN is not a static aarch64 binary: $(file -b "$BIN")" >&2; exit 1; }

STAGE=$(mktemp -d /tmp/nostrp2p-deb.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
R=$STAGE/root
mkdir -p "$R/DEBIAN" "$R$P/bin" "$R$P/etc/nostrp2p" "$R$P/var/service/nostrp2p/log" \
  "$R$P/share/nostrp2p" "$R$P/share/doc/nostrp2p"

install -m 0755 "$BIN" "$R$P/bin/nostrp2p"
# Termux has no /bin/sh for programs that runsv starts: point shebangs at the prefix.
sed "1s|^#!/bin/sh|#!$P/bin/sh|" "$ROOT/platform/nostrp2p-run.sh" >"$R$P/bin/nostrp2p-run"
chmod 0755 "$R$P/bin/nostrp2p-run"
install -m 0600 "$ROOT/platform/nostrp2p.conf.example" "$R$P/etc/nostrp2p/nostrp2p.conf"

cat >"$R$P/var/service/nostrp2p/run" <<EOF
#!$P/bin/sh
# termux-services run script for nostrp2p. Settings: $P/etc/nostrp2p/nostrp2p.conf
# Without an owner in the config, wait a minute before exiting so runsv does not spin.
export NOSTRP2P_UNCONFIGURED_SLEEP=60
exec $P/bin/nostrp2p-run $P/etc/nostrp2p/nostrp2p.conf 2>&1
EOF
chmod 0755 "$R$P/var/service/nostrp2p/run"
ln -s "$P/share/termux-services/svlogger" "$R$P/var/service/nostrp2p/log/run"

cat >"$R$P/share/nostrp2p/termux-boot-nostrp2p" <<EOF
#!$P/bin/sh
# Termux:Boot script (install the Termux:Boot app from the same store as Termux, open it once):
#   mkdir -p ~/.termux/boot && cp $P/share/nostrp2p/termux-boot-nostrp2p ~/.termux/boot/ && chmod +x ~/.termux/boot/termux-boot-nostrp2p
# Keeps the CPU awake, then starts termux-services' runsvdir (its profile.d hook), which starts
# every enabled service, nostrp2p included.
termux-wake-lock
. $P/etc/profile
EOF
chmod 0755 "$R$P/share/nostrp2p/termux-boot-nostrp2p"

cat >"$R$P/share/doc/nostrp2p/README.termux" <<EOF
nostrp2p $VERSION for Termux — next steps

1. Set your public key (and a bootstrap peer if you have one):
     nano $P/etc/nostrp2p/nostrp2p.conf        # owner=npub1...   bootstrap=host:port
2. Run it as a service (starts now and whenever Termux starts):
     pkg install termux-services               # then close and reopen Termux once
     sv-enable nostrp2p
     sv status nostrp2p
     tail -f $P/var/log/sv/nostrp2p/current    # the server's log
3. Keep it alive with the screen off:
     termux-wake-lock                          # or the "Acquire wakelock" notification button
     Android settings > Apps > Termux > Battery > Unrestricted (no battery optimisation)
     Android 12+: the "phantom process killer" may stop background processes; see the README.
4. Start at boot (Termux:Boot app):
     mkdir -p ~/.termux/boot && cp $P/share/nostrp2p/termux-boot-nostrp2p ~/.termux/boot/ && chmod +x ~/.termux/boot/*
5. Point the client at http://<this phone's Tailscale IP>:20001 (listen port + 1).
EOF

cat >"$R/DEBIAN/conffiles" <<EOF
$P/etc/nostrp2p/nostrp2p.conf
EOF

# Disabled until the user has set the owner and runs sv-enable (an empty file, like termux-packages').
: >"$R$P/var/service/nostrp2p/down"
chmod 0644 "$R$P/var/service/nostrp2p/down"
ENABLED_MARK=$P/var/service/nostrp2p/.enabled-before-upgrade
cat >"$R/DEBIAN/preinst" <<EOF
#!$P/bin/sh
set -e
rm -f $ENABLED_MARK
if [ "\$1" = upgrade ] && [ -d $P/var/service/nostrp2p ] && [ ! -e $P/var/service/nostrp2p/down ]; then
  # The user enabled the service: the new package's 'down' must not disable it.
  touch $ENABLED_MARK
fi
exit 0
EOF
cat >"$R/DEBIAN/postinst" <<EOF
#!$P/bin/sh
set -e
if [ "\$1" = configure ] && [ -e $ENABLED_MARK ]; then
  rm -f $P/var/service/nostrp2p/down $ENABLED_MARK
fi
cat $P/share/doc/nostrp2p/README.termux
exit 0
EOF
cat >"$R/DEBIAN/prerm" <<EOF
#!$P/bin/sh
set -e
if [ "\$1" = remove ] && command -v sv >/dev/null 2>&1; then
  sv down nostrp2p >/dev/null 2>&1 || true
fi
exit 0
EOF
cat >"$R/DEBIAN/postrm" <<EOF
#!$P/bin/sh
set -e
if [ "\$1" = purge ]; then
  rm -rf $P/var/service/nostrp2p $P/var/log/sv/nostrp2p
fi
exit 0
EOF
chmod 0755 "$R/DEBIAN/preinst" "$R/DEBIAN/postinst" "$R/DEBIAN/prerm" "$R/DEBIAN/postrm"

installed_kib=$(du -sk --exclude=DEBIAN "$R" | cut -f1)
cat >"$R/DEBIAN/control" <<EOF
Package: nostrp2p
Architecture: aarch64
Installed-Size: $installed_kib
Maintainer: nostrp2p developers
Version: $VERSION
${HOMEPAGE:+Homepage: $HOMEPAGE
}Recommends: termux-services
Suggests: termux-api
Description: Peer-to-peer Nostr microblog server for a spare phone
 Runs your own always-on nostrp2p server: the Flutter client publishes to it and
 reads your timeline from it. Static binary; runs as a termux-services service.
EOF

mkdir -p "$ROOT/dist"
dpkg-deb --build --root-owner-group -Zxz "$R" "$DEB" >&2
echo "build-termux-deb: $DEB $(stat -c %s "$DEB") bytes" >&2
echo "$DEB"
