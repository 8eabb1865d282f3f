#!/bin/bash
# pi-image/build-image.sh — builds the flashable Raspberry Pi image
#   dist/nostrp2p-<version>-raspi-arm64.img.xz   (and the raw image in target/pi-image/ for tests)
#
# arm64 Debian bookworm with the Pi firmware and kernel (stage 1, pi-image/build-rootfs.sh,
# cached), plus nostrp2p as a hardened systemd service, first-boot settings from nostrp2p.txt on
# the FAT boot partition, root partition growing, networkd for Ethernet/Wi-Fi, SSH off unless a
# key is given. The disk image is assembled without loop devices or mounts (mkfs.vfat + mcopy,
# mkfs.ext4 -d, sfdisk on the image file, dd), which works in containers.
#
# Usage: pi-image/build-image.sh [BIN]   (default: dist/nostrp2p-aarch64-linux-gnu, built if missing)
# Env: XZ_LEVEL (default 6), SKIP_DEPS=1, NO_XZ=1 (raw image only, for the boot test)
# Boards: Raspberry Pi 3, 4, 400 and CM4 (Debian bookworm's 6.1 kernel does not support the
# Pi 5; no Debian package has the Zero 2 W's Wi-Fi firmware, and it has no Ethernet).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/pi-image
FILES=$HERE/files
OUT=$ROOT/target/pi-image
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
NAME=nostrp2p-$VERSION-raspi-arm64
BIN=${1:-$ROOT/dist/nostrp2p-aarch64-linux-gnu}
BOOT_MIB=256          # FAT boot partition: firmware + kernel + initrd need about 90 MiB
ALIGN_MIB=4           # first partition offset (SD erase-block friendly)
ROOT_SLACK_MIB=256    # free space in the root file system before first-boot growing

log() { echo "build-image: [$(date +%T)] $*" >&2; }
t0=$(date +%s)
[ "$(id -u)" = 0 ] || { echo "build-image: needs root (ownership of the root file system)" >&2; exit 1; }
[ "${SKIP_DEPS:-0}" = 1 ] || "$ROOT/scripts/install-deps.sh" pi
if [ ! -x "$BIN" ]; then
  SKIP_DEPS=1 "$ROOT/scripts/build-aarch64.sh" gnu
fi
file -b "$BIN" | grep -q 'ARM aarch64' || { echo "build-image: $BIN is not an aarch64 binary" >&2; exit 1; }

log "stage 1: root file system (cached)"
TARBALL=$("$HERE/build-rootfs.sh" "$OUT" | tail -1)

W=$OUT/work
rm -rf "$W"
mkdir -p "$W/root" "$W/boot"
log "stage 2: unpack $(basename "$TARBALL")"
tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$TARBALL" -C "$W/root"
R=$W/root

log "stage 2: install nostrp2p and its units"
install -m 0755 "$BIN" "$R/usr/bin/nostrp2p"
install -m 0755 "$ROOT/platform/nostrp2p-run.sh" "$R/usr/bin/nostrp2p-run"
install -d "$R/usr/lib/nostrp2p" "$R/etc/nostrp2p" "$R/usr/share/doc/nostrp2p"
install -m 0755 "$FILES/firstboot" "$FILES/growroot" "$R/usr/lib/nostrp2p/"
install -m 0644 "$FILES/nostrp2p.service" "$FILES/nostrp2p-firstboot.service" \
  "$FILES/nostrp2p-growroot.service" "$FILES/nostrp2p-tailscale.service" \
  "$FILES/nostrp2p-clock-save.service" "$FILES/nostrp2p-clock-save.timer" "$R/usr/lib/systemd/system/"
for u in wpa_supplicant@wlan0 ssh systemd-time-wait-sync systemd-networkd-wait-online; do
  install -d "$R/etc/systemd/system/$u.service.d"
  install -m 0644 "$FILES/dropins/$u.conf" "$R/etc/systemd/system/$u.service.d/nostrp2p.conf"
done
# Wi-Fi: the wlan0 device wants wpa_supplicant@wlan0, so it starts whenever wlan0 appears.
install -d "$R/etc/systemd/system/sys-subsystem-net-devices-wlan0.device.wants"
ln -sf /lib/systemd/system/wpa_supplicant@.service \
  "$R/etc/systemd/system/sys-subsystem-net-devices-wlan0.device.wants/wpa_supplicant@wlan0.service"
install -m 0644 "$FILES/20-wired.network" "$FILES/25-wireless.network" "$R/etc/systemd/network/"
install -d "$R/etc/systemd/journald.conf.d" "$R/etc/systemd/system.conf.d"
install -m 0644 "$FILES/journald-nostrp2p.conf" "$R/etc/systemd/journald.conf.d/nostrp2p.conf"
install -m 0644 "$FILES/watchdog-nostrp2p.conf" "$R/etc/systemd/system.conf.d/nostrp2p-watchdog.conf"
install -m 0644 "$FILES/nostrp2p.txt" "$R/usr/share/doc/nostrp2p/nostrp2p.txt.example"
cat >"$R/usr/share/doc/nostrp2p/README.pi" <<EOF
nostrp2p $VERSION Raspberry Pi image.
Settings: /boot/firmware/nostrp2p.txt (applied at every boot by nostrp2p-firstboot.service,
          which rewrites /etc/nostrp2p/nostrp2p.conf from it: edit nostrp2p.txt, not that).
Result:   /boot/firmware/nostrp2p-status.txt (what was applied, what was not and why).
Service:  systemctl status nostrp2p; journalctl -u nostrp2p -f
Data:     /var/lib/nostrp2p (DynamicUser, StateDirectory)
HTTP API for the client: http://<this Pi's address>:20001
EOF

systemctl --root="$R" enable nostrp2p.service nostrp2p-firstboot.service nostrp2p-growroot.service \
  nostrp2p-tailscale.service nostrp2p-clock-save.timer systemd-time-wait-sync.service \
  systemd-networkd.service systemd-resolved.service systemd-timesyncd.service ssh.service \
  2>&1 | sed 's/^/build-image: /' >&2
# SSH is enabled, but its drop-in's ConditionFileNotEmpty keeps it off until nostrp2p.txt has a
# key (firstboot writes authorized_keys, and makes host keys, per device).
rm -f "$R"/etc/ssh/ssh_host_* "$R/root/.ssh/authorized_keys"
# Each card gets its own machine id on first boot.
: >"$R/etc/machine-id"
rm -f "$R/var/lib/dbus/machine-id"
# fstab (replaces stage 1's): the default 5 s journal commit, so a power cut loses at most
# seconds of metadata; the server fsyncs its own store anyway. The boot partition (nofail, so
# the boot never hangs on it) may appear late on a slow card: its device gets 5 min, not 90 s,
# or nostrp2p-firstboot would run without nostrp2p.txt (seen under a heavily loaded emulator).
cat >"$R/etc/fstab" <<'FSTAB'
# Created by nostrp2p pi-image/build-image.sh
LABEL=RASPIROOT  /               ext4  rw,noatime  0 1
LABEL=RASPIFIRM  /boot/firmware  vfat  rw,nofail,noatime,umask=0077,x-systemd.device-timeout=5min  0 2
FSTAB
echo nostrp2p >"$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tnostrp2p\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
ln -sf /run/systemd/resolve/stub-resolv.conf "$R/etc/resolv.conf"

log "stage 3: boot partition"
cp -a "$R/boot/firmware/." "$W/boot/"
find "$R/boot/firmware" -mindepth 1 -delete
install -m 0644 "$FILES/nostrp2p.txt" "$W/boot/nostrp2p.txt"
ls "$W/boot"/vmlinuz-* "$W/boot"/initrd.img-* "$W/boot"/config.txt "$W/boot"/cmdline.txt >/dev/null \
  || { echo "build-image: the boot partition lacks kernel/initrd/config.txt/cmdline.txt" >&2; exit 1; }
rm -f "$W/boot.vfat"
mkfs.vfat -F 32 -n RASPIFIRM -C "$W/boot.vfat" $((BOOT_MIB * 1024)) >/dev/null
mcopy -s -p -m -i "$W/boot.vfat" "$W/boot"/* ::

log "stage 3: root partition"
used_mib=$(du -sm --apparent-size "$R" | cut -f1)
root_mib=$(( (used_mib * 115 / 100 + ROOT_SLACK_MIB + 3) / 4 * 4 ))
rm -f "$W/root.ext4"
mkfs.ext4 -q -L RASPIROOT -d "$R" -O ^metadata_csum_seed "$W/root.ext4" "${root_mib}M"

log "stage 3: disk image (${BOOT_MIB} MiB boot + ${root_mib} MiB root)"
IMG=$OUT/$NAME.img
rm -f "$IMG"
truncate -s $(( (ALIGN_MIB + BOOT_MIB + root_mib) * 1024 * 1024 )) "$IMG"
sfdisk -q "$IMG" <<EOF
label: dos
unit: sectors
start=$((ALIGN_MIB * 2048)), size=$((BOOT_MIB * 2048)), type=c, bootable
start=$(( (ALIGN_MIB + BOOT_MIB) * 2048 )), type=83
EOF
dd if="$W/boot.vfat" of="$IMG" bs=1M seek=$ALIGN_MIB conv=notrunc,sparse status=none
dd if="$W/root.ext4" of="$IMG" bs=1M seek=$((ALIGN_MIB + BOOT_MIB)) conv=notrunc,sparse status=none
rm -rf "$W"

if [ "${NO_XZ:-0}" = 1 ]; then
  log "done in $(( $(date +%s) - t0 )) s: $IMG (NO_XZ=1: not compressed)"
  echo "$IMG"
  exit 0
fi
log "stage 4: compress (xz -${XZ_LEVEL:-6})"
mkdir -p "$ROOT/dist"
xz -T0 -"${XZ_LEVEL:-6}" -k -f -c "$IMG" >"$ROOT/dist/$NAME.img.xz"
raw=$(stat -c %s "$IMG")
xzsize=$(stat -c %s "$ROOT/dist/$NAME.img.xz")
log "done in $(( $(date +%s) - t0 )) s: $IMG $((raw / 1048576)) MiB raw, dist/$NAME.img.xz $((xzsize / 1048576)) MiB"
echo "$IMG"
