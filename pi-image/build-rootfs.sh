#!/bin/bash
# pi-image/build-rootfs.sh — stage 1 of the Raspberry Pi image: an arm64 Debian bookworm root
# filesystem with the Pi firmware, kernel and initramfs, as a tarball that later stages reuse.
#
# It knows nothing about nostrp2p itself (that is stage 2, pi-image/build-image.sh), so it is
# cached: the tarball's name carries a hash of this script, and an existing tarball is reused.
# It runs the arm64 maintainer scripts under qemu-user-static through binfmt_misc, which takes
# 25 min on a quiet 2-core machine and 43 min while five other builds shared the cores
# (docs/install.md "Raspberry Pi"; the initramfs step alone took 516 s of that).
#
# Usage: pi-image/build-rootfs.sh [OUT_DIR]      (default OUT_DIR: target/pi-image)
# Prints the path of the tarball on its last line.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT_DIR=${1:-$HERE/../target/pi-image}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)

# Longest we let mmdebstrap run under emulation before giving up. Generous on purpose: a build
# that shares its 2 cores with other work can take several times its quiet time (one took
# 3,704 s with MODULES=most), and a timeout only throws the work away.
MMDEBSTRAP_TIMEOUT=${MMDEBSTRAP_TIMEOUT:-14400}
SUITE=bookworm
MIRROR=http://deb.debian.org/debian

# Package set (why each is here):
PACKAGES=(
  systemd-sysv udev dbus kmod               # init, device manager, bus for hostnamectl/networkd
  systemd-resolved systemd-timesyncd        # DNS for -b host:port; a Pi has no RTC, so NTP
  fake-hwclock                              # no RTC: restore the last saved time at boot
  linux-image-arm64 raspi-firmware initramfs-tools zstd   # kernel + Pi boot firmware + initrd
  firmware-brcm80211 wireless-regdb wpasupplicant iw      # on-board Wi-Fi (non-free-firmware)
  # (No Debian package, not even sid's, ships the Pi Zero 2 W's brcmfmac43430b0/brcmfmac43436
  # firmware, so that board is not supported: it would have no network at all.)
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
mkdir -p "$R/etc/initramfs-tools/conf.d" "$R/etc/initramfs-tools/hooks"
echo 'FSTYPE=ext4' >"$R/etc/initramfs-tools/conf.d/fstype"
# Only what finding the root file system on a Pi needs, not MODULES=most's every disk, RAID and
# network-boot driver (that made mkinitramfs the slowest step under emulation): SD/eMMC hosts,
# USB mass storage (USB boot on a Pi 3/4), ext4, and virtio for the qemu boot test.
echo 'MODULES=list' >"$R/etc/initramfs-tools/conf.d/modules"
cat >"$R/etc/initramfs-tools/hooks/nostrp2p-pi" <<'HOOK'
#!/bin/sh
# nostrp2p Pi image: the initramfs modules a Pi (or the qemu boot test) needs to mount root.
[ "$1" = prereqs ] && exit 0
. /usr/share/initramfs-tools/hook-functions
copy_modules_dir kernel/drivers/mmc
copy_modules_dir kernel/drivers/usb/storage
copy_modules_dir kernel/drivers/usb/dwc2
copy_modules_dir kernel/drivers/usb/host
manual_add_modules ext4 crc32c_generic pcie-brcmstb reset-raspberrypi raspberrypi-cpufreq \
  clk-raspberrypi bcm2835-dma pwrseq_simple pwrseq_emmc gpio-raspberrypi-exp \
  virtio_blk virtio_pci virtio_mmio
HOOK
chmod 0755 "$R/etc/initramfs-tools/hooks/nostrp2p-pi"
t=$(date +%s)
chroot "$R" update-initramfs -c -k all
echo "build-rootfs: update-initramfs took $(( $(date +%s) - t )) s" >&2
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
echo "build-rootfs: initramfs $(tar -tvf "$TARBALL" ./boot/firmware/ | grep -o '[0-9]* [0-9-]* [0-9:]* ./boot/firmware/initrd.img.*' | head -1)" >&2
echo "build-rootfs: done in $(( $(date +%s) - start )) s, $(du -h "$TARBALL" | cut -f1)" >&2
echo "$TARBALL"
