#!/bin/bash
# scripts/ci-aarch64.sh — the aarch64 part of CI (called from .ci/run), a few minutes:
#   1. installs what it needs (rustup targets, aarch64 cross gcc, qemu-user-static);
#   2. builds the static musl binary, `cargo check`s the Android (bionic) target, which
#      compiles the cfg(target_os = "android") code in src/platform.rs, and runs platform.rs's
#      unit tests as aarch64 musl code under qemu;
#   3. runs the run-script tests and the qemu smoke test (version, HTTP publish/req from the
#      host, Android seccomp syscall check).
# Package, APK and image builds have their own commands (see docs/install.md) and are not run here.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
start=$(date +%s)
scripts/install-deps.sh aarch64
SKIP_DEPS=1 scripts/build-aarch64.sh musl android-check test-platform
platform/test-run-script.sh
scripts/smoke-aarch64.sh dist/nostrp2p-aarch64-linux-musl
echo "ci-aarch64: done in $(( $(date +%s) - start )) s"
