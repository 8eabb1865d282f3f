#!/bin/bash
# scripts/build-aarch64.sh — builds the two aarch64 release binaries of nostrp2p:
#
#   dist/nostrp2p-aarch64-linux-musl   static musl: Termux, the APK, any aarch64 Linux
#   dist/nostrp2p-aarch64-linux-gnu    glibc (>= 2.34, dynamic): Raspberry Pi OS / Debian 12 arm64
#
# It installs what it needs first (scripts/install-deps.sh aarch64: rustup targets, the aarch64
# cross gcc for secp256k1's C code and the gnu link, qemu-user-static for the smoke test).
#
# Usage: scripts/build-aarch64.sh [musl|gnu|android-check|test-platform]... [-- extra cargo args]
#   default: musl gnu
#   test-platform: runs src/platform.rs's unit tests (DNS client against a fake nameserver on
#                  127.0.0.1, resolver choice, data dirs) as an aarch64 musl binary under qemu
#   android-check: `cargo check --target aarch64-linux-android` (compiles the cfg(android) code;
#                  linking needs the NDK, which is not available here: use Cross.toml for that)
# Env: CARGO_TARGET_DIR (default target/), NOSTRP2P_FEATURES (extra --features),
#      SKIP_DEPS=1 to skip the install step.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

variants=()
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --) shift; extra=("$@"); break ;;
    musl|gnu|android-check|test-platform) variants+=("$1") ;;
    *) echo "build-aarch64: unknown variant '$1' (musl|gnu|android-check|test-platform)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#variants[@]} = 0 ] && variants=(musl gnu)

[ "${SKIP_DEPS:-0}" = 1 ] || "$ROOT/scripts/install-deps.sh" aarch64

# Linkers and C compilers (shared/spec/platforms.md, "simplest route"):
# - musl: rustup's std ships musl's crt objects and libc.a ("self-contained"), so rust-lld links a
#   fully static binary without a musl cross gcc; aarch64-linux-gnu-gcc only compiles
#   secp256k1's C (which uses no libc headers beyond the freestanding ones).
# - gnu: the Debian cross gcc links against its glibc 2.36 sysroot.
export CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_musl=aarch64-linux-gnu-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# cargo check for android compiles no C and links nothing, but cc-rs build scripts still run:
export CC_aarch64_linux_android=aarch64-linux-gnu-gcc
export AR_aarch64_linux_android=aarch64-linux-gnu-ar

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
# secp256k1's `lowmemory` is enabled in Cargo.toml (measured with scripts/measure-lowmemory.sh
# when it was chosen: musl binary 2,620,064 -> 1,485,984 stripped bytes, BIP-340 verify ~1.2x
# slower). NOSTRP2P_FEATURES adds cargo features.
NOSTRP2P_FEATURES=${NOSTRP2P_FEATURES:-}
features=()
[ -n "$NOSTRP2P_FEATURES" ] && features=(--features "$NOSTRP2P_FEATURES")
mkdir -p "$ROOT/dist"

for v in "${variants[@]}"; do
  case $v in
    musl) triple=aarch64-unknown-linux-musl; out=nostrp2p-aarch64-linux-musl ;;
    gnu) triple=aarch64-unknown-linux-gnu; out=nostrp2p-aarch64-linux-gnu ;;
    android-check)
      echo "build-aarch64: cargo check --target aarch64-linux-android" >&2
      cargo check --locked --release --target aarch64-linux-android --bin nostrp2p "${features[@]}" "${extra[@]}"
      continue ;;
    test-platform)
      echo "build-aarch64: cargo test --lib platform, aarch64 musl under qemu-aarch64-static" >&2
      CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUNNER=qemu-aarch64-static \
        cargo test --locked --target aarch64-unknown-linux-musl --lib "${features[@]}" "${extra[@]}" platform
      continue ;;
  esac
  echo "build-aarch64: cargo build --release --target $triple" >&2
  start=$(date +%s)
  cargo build --locked --release --target "$triple" --bin nostrp2p "${features[@]}" "${extra[@]}"
  install -m 0755 "$TARGET_DIR/$triple/release/nostrp2p" "dist/$out"
  # The release profile already strips; strip again in case a caller overrode the profile.
  aarch64-linux-gnu-strip "dist/$out"
  echo "build-aarch64: dist/$out $(stat -c %s "dist/$out") bytes, $(( $(date +%s) - start )) s" >&2
  file "dist/$out" >&2
done
