#!/bin/bash
# scripts/install-deps.sh — installs what the aarch64 builds and packaging need, on a Debian
# bookworm x86_64 host, as root (or with sudo). Idempotent: re-running is cheap.
#
# Usage: scripts/install-deps.sh [aarch64|termux|pi|apk|all]...   (default: aarch64)
#   aarch64  rustup targets (musl, gnu, android), aarch64 cross gcc, qemu-user-static, file
#   termux   aarch64 + binfmt_misc for qemu-aarch64 (the package test runs the packaged binary)
#   pi       aarch64 + mmdebstrap, binfmt, mtools/dosfstools/fdisk/e2fsprogs/xz,
#            qemu-system-aarch64 (10.x from bookworm-backports: 7.2 conflicts with qemu-utils 10)
#   apk      aapt, apksigner, zipalign, framework-res, dexdump, a JDK (javac, keytool), and
#            from Debian bullseye (pinned so nothing else comes from it): dalvik-exchange (dx,
#            the dexer) and libandroid-23-java (the API-23 android.jar); enjarify + smali for
#            the dex verifier test (android/verify-dex.sh)
set -euo pipefail

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
APT="$SUDO apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends"

apt_updated=
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "${p%%/*}" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return 0
  if [ -z "$apt_updated" ]; then $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q; apt_updated=1; fi
  echo "install-deps: apt-get install ${missing[*]}" >&2
  $APT install "${missing[@]}"
}

deps_aarch64() {
  apt_install gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static file
  if command -v rustup >/dev/null; then
    local have
    have=$(rustup target list --installed)
    for t in aarch64-unknown-linux-musl aarch64-unknown-linux-gnu aarch64-linux-android; do
      grep -qx "$t" <<<"$have" || rustup target add "$t"
    done
  else
    echo "install-deps: rustup not found; install rustup, or see shared platforms notes for Debian's rustc-web route" >&2
    exit 1
  fi
}

deps_pi() {
  deps_aarch64
  apt_install mmdebstrap arch-test binfmt-support mtools dosfstools fdisk e2fsprogs xz-utils zstd python3
  # pi-image/test-firstboot.sh runs the image's firstboot script on this host.
  apt_install wpasupplicant openssh-client
  command -v systemctl >/dev/null || apt_install systemd   # `systemctl --root` enables units offline
  # qemu-system-aarch64: bookworm's 7.2 conflicts with a preinstalled qemu-utils 10.x, so take
  # the backports build when qemu-utils is already from backports (or nothing is installed).
  if ! command -v qemu-system-aarch64 >/dev/null; then
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "install-deps: adding bookworm-backports to apt sources" >&2
      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
      $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q; apt_updated=1
    fi
    $APT install -t bookworm-backports qemu-system-arm
  fi
  deps_binfmt
}

# binfmt_misc: the kernel runs aarch64 ELF files through qemu-aarch64-static (flag F: also
# inside chroots). Needed for the image's maintainer scripts and the Termux package test.
deps_binfmt() {
  apt_install binfmt-support qemu-user-static
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || ! grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64; then
    mountpoint -q /proc/sys/fs/binfmt_misc || $SUDO mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    $SUDO update-binfmts --enable qemu-aarch64
  fi
}

deps_apk() {
  apt_install aapt apksigner zipalign android-framework-res libsmali-java dexdump enjarify python3
  command -v javac >/dev/null && command -v keytool >/dev/null || apt_install default-jdk-headless
  # dx and android.jar left Debian after bullseye. Take exactly those two from bullseye: the
  # source is pinned to priority 1, so apt never picks anything else from it (not even an
  # upgrade), and the two packages are named with /bullseye.
  if ! dpkg-query -W -f='${Status}' dalvik-exchange 2>/dev/null | grep -q 'install ok installed'; then
    if [ ! -f /etc/apt/sources.list.d/nostrp2p-bullseye.sources ]; then
      echo "install-deps: adding Debian bullseye (pinned to priority 1) for dalvik-exchange and libandroid-23-java" >&2
      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bullseye\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        | $SUDO tee /etc/apt/sources.list.d/nostrp2p-bullseye.sources >/dev/null
      printf 'Explanation: nostrp2p APK build: only dalvik-exchange and libandroid-23-java come from bullseye\nPackage: *\nPin: release n=bullseye\nPin-Priority: 1\n' \
        | $SUDO tee /etc/apt/preferences.d/nostrp2p-bullseye >/dev/null
      apt_updated=
    fi
    apt_install dalvik-exchange/bullseye libandroid-23-java/bullseye
  fi
}

[ $# = 0 ] && set -- aarch64
for what in "$@"; do
  case $what in
    aarch64) deps_aarch64 ;;
    termux) deps_aarch64; deps_binfmt ;;
    pi) deps_pi ;;
    apk) deps_aarch64; deps_apk ;;
    all) deps_pi; deps_apk ;;
    *) echo "install-deps: unknown group '$what' (aarch64|termux|pi|apk|all)" >&2; exit 2 ;;
  esac
done
echo "install-deps: ok ($*)" >&2
