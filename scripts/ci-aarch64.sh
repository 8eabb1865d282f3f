#!/bin/bash
# scripts/ci-aarch64.sh — the aarch64 part of CI (called from .ci/run), a few minutes:
#   1. installs what it needs (rustup targets, aarch64 cross gcc, qemu-user-static);
#   2. builds the static musl binary, `cargo check`s the Android (bionic) target, which
#      compiles the cfg(target_os = "android") code in src/platform.rs, and runs platform.rs's
#      unit tests as aarch64 musl code under qemu;
#   3. runs the run-script tests and the qemu smoke test (version, HTTP publish/req from the
#      host, Android seccomp syscall check);
#   4. cheap platform checks (each well under 2 min): the Pi image's first-boot script and unit
#      files on this host (pi-image/test-firstboot.sh), and the APK built from source with its
#      checks, including the dex bytecode verifier (android/test-apk.sh).
# The Pi image build and its qemu boot test, and the Termux package test, are too slow for CI:
# they have their own commands (docs/install.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
start=$(date +%s)
scripts/install-deps.sh aarch64
SKIP_DEPS=1 scripts/build-aarch64.sh musl android-check test-platform
platform/test-run-script.sh
scripts/smoke-aarch64.sh dist/nostrp2p-aarch64-linux-musl
t=$(date +%s)
scripts/install-deps.sh apk
command -v wpa_passphrase >/dev/null || apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends wpasupplicant >/dev/null
pi-image/test-firstboot.sh
SKIP_DEPS=1 android/test-apk.sh "$(SKIP_DEPS=1 android/build-apk.sh dist/nostrp2p-aarch64-linux-musl | tail -1)"
echo "ci-aarch64: platform checks (deps, firstboot, APK + dex verifier) took $(( $(date +%s) - t )) s"
echo "ci-aarch64: done in $(( $(date +%s) - start )) s"
