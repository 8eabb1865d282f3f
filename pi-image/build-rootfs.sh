#!/bin/bash
# pi-image/build-rootfs.sh — stage 1 of the Raspberry Pi image: an arm64 Debian bookworm root
# filesystem with the Pi firmware, kernel and initramfs, as a tarball that later stages reuse.
#
# It knows nothing about nostrp2p itself (that is stage 2, pi-image/build-image.sh), so it is
# cached: the tarball's name carries a hash of this script, and an existing tarball is reused.
# It runs the arm64 maintainer scripts under qemu-user-static through binfmt_misc, which takes
# about 20 minutes on 2 cores (see shared/spec/platforms.md §8).
#
# Usage: pi-image/build-rootfs.sh [OUT_DIR]      (default OUT_DIR: target/pi-image)
# Prints the path of the tarball on its last line.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT_DIR=${1:-$HERE/../target/pi-image}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)

# Longest we let mmdebstrap run under emulation before giving up (seen: 18–23 min).
MMDEBSTRAP_TIMEOUT=${MMDEBSTRAP_TIMEOUT:-3600}
SUITE=bookworm
MIRROR=http://deb.debian.org/debian

# Package set (why each is here):
PACKAGES=(
  systemd-sysv udev dbus kmod               # init, device manager, bus for hostnamectl/networkd
  systemd-resolved systemd-timesyncd        # DNS for -b host:port; a Pi has no RTC, so NTP
  linux-image-arm64 raspi-firmware initramfs-tools zstd   # kernel + Pi boot firmware + initrd
  firmware-brcm80211 wireless-regdb wpasupplicant iw      # on-board Wi-Fi (non-free-firmware)
  ca-certificates curl gnupg                # so the user can add Tailscale's apt repository
  fdisk dosfstools e2fsprogs                # first-boot growing of the root partition
  iproute2 netbase procps less              # basic admin
  openssh-server                            # installed but disabled; enabled only by a key in nostrp2p.txt
)
PKG_LIST=$(printf '%s,' "${PACKAGES[@]}")
PKG_LIST=${PKG_LIST%,}

need() { command -v "$1" >/dev/null || { echo "build-rootfs: missing $1 (run scripts/install-deps.sh pi)" >&2; exit 1; }; }
need mmdebstrap
need qemu-aarch64-static
# binfmt_misc must run arm64 ELF files through qemu-aarch64-static (flags F: works inside chroots).
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64
fi
grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 || { echo "build-rootfs: qemu-aarch64 binfmt not enabled" >&2; exit 1; }

# Hooks run on the host with $1 = the root directory.
# essential-hook: divert update-initramfs so the kernel, udev and firmware postinsts do not each
# build an initramfs under emulation; it is built once in the customize hook.
ESSENTIAL_HOOK='chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs && ln -sf /bin/true "$1/usr/sbin/update-initramfs"'
CUSTOMIZE_HOOK=$(cat <<'EOF'
set -e
R="$1"
rm -f "$R/usr/sbin/update-initramfs"
chroot "$R" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs
cat >"$R/etc/fstab" <<'FSTAB'
# Created by nostrp2p pi-image/build-rootfs.sh
LABEL=RASPIROOT  /               ext4  rw,noatime,commit=60  0 1
LABEL=RASPIFIRM  /boot/firmware  vfat  rw,nofail,noatime,umask=0077  0 2
FSTAB
# Appended (not pre-created: a conffile prompt would stop the install).
cat >>"$R/etc/default/raspi-firmware" <<'RF'
# nostrp2p image settings
ROOTPART=LABEL=RASPIROOT
CMA=0
CONSOLES="ttyS1,115200 tty0"
RF
mkdir -p "$R/etc/initramfs-tools/conf.d"
echo 'FSTYPE=ext4' >"$R/etc/initramfs-tools/conf.d/fstype"
chroot "$R" update-initramfs -c -k all
for k in "$R"/lib/modules/*; do
  chroot "$R" /etc/kernel/postinst.d/z50-raspi-firmware "$(basename "$k")"
done
ls -la "$R/boot/firmware" >&2
EOF
)

# The cache key covers everything that shapes the tarball (not comments or this script's layout).
HASH=$(printf '%s\n' "$SUITE" "$MIRROR" "$PKG_LIST" "$ESSENTIAL_HOOK" "$CUSTOMIZE_HOOK" | sha256sum | cut -c1-12)
TARBALL=$OUT_DIR/rootfs-$SUITE-arm64-$HASH.tar
if [ -s "$TARBALL" ]; then
  echo "build-rootfs: reusing $TARBALL" >&2
  echo "$TARBALL"
  exit 0
fi

echo "build-rootfs: mmdebstrap $SUITE arm64 -> $TARBALL (timeout ${MMDEBSTRAP_TIMEOUT}s)" >&2
start=$(date +%s)
timeout "$MMDEBSTRAP_TIMEOUT" mmdebstrap --mode=root --format=tar --arch=arm64 --variant=minbase \
  --include="$PKG_LIST" \
  --essential-hook="$ESSENTIAL_HOOK" \
  --customize-hook="$CUSTOMIZE_HOOK" \
  --customize-hook='chroot "$1" apt-get clean; rm -rf "$1"/var/lib/apt/lists/*' \
  "$SUITE" "$TARBALL.partial" \
  "deb $MIRROR $SUITE main non-free-firmware" \
  "deb $MIRROR $SUITE-updates main non-free-firmware" \
  "deb http://deb.debian.org/debian-security $SUITE-security main non-free-firmware"
mv "$TARBALL.partial" "$TARBALL"
echo "build-rootfs: done in $(( $(date +%s) - start )) s, $(du -h "$TARBALL" | cut -f1)" >&2
echo "$TARBALL"
