#!/bin/bash
# scripts/measure-lowmemory.sh — is secp256k1's `lowmemory` feature worth it for the aarch64
# binaries? Measures, for the static musl build:
#   - the stripped size of nostrp2p with and without `--features secp256k1/lowmemory` (only
#     meaningful while Cargo.toml does not enable it itself; it now does, so both sizes match:
#     the numbers measured before are 2,620,064 -> 1,485,984 bytes);
#   - the BIP-340 verify speed with and without it, with a throwaway bench program (built from the
#     same secp256k1 version as Cargo.lock) run under qemu-aarch64-static and natively on the host.
#     qemu's absolute numbers mean little, but the ratio between the two builds is what matters
#     (same instructions, same emulator).
# Writes the results to stdout. Uses target/lowmem-bench/ as scratch.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECP_VERSION=$(awk '/^name = "secp256k1"$/{getline; gsub(/[^0-9.]/,""); print; exit}' Cargo.lock)
ITER=${ITER:-2000}
B=$ROOT/target/lowmem-bench
mkdir -p "$B/src"
export CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc AR_aarch64_unknown_linux_musl=aarch64-linux-gnu-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld

echo "== sizes (stripped, aarch64-unknown-linux-musl, release profile)"
for f in "" secp256k1/lowmemory; do
  CARGO_TARGET_DIR=$B/target-size-${f:+low} SKIP_DEPS=1 NOSTRP2P_FEATURES=$f \
    scripts/build-aarch64.sh musl >/dev/null 2>&1
  cp dist/nostrp2p-aarch64-linux-musl "$B/nostrp2p${f:+-lowmemory}"
  echo "nostrp2p${f:+ +lowmemory}: $(stat -c %s "$B/nostrp2p${f:+-lowmemory}") bytes"
done
# leave dist/ with the default build
CARGO_TARGET_DIR=$B/target-size- SKIP_DEPS=1 scripts/build-aarch64.sh musl >/dev/null 2>&1

cat >"$B/Cargo.toml" <<EOF
[package]
name = "lowmem-bench"
version = "0.0.0"
edition = "2021"
[workspace]
[dependencies]
secp256k1 = { version = "=$SECP_VERSION", default-features = false, features = ["std"] }
[features]
lowmemory = ["secp256k1/lowmemory"]
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
EOF
cat >"$B/src/main.rs" <<'EOF'
//! Times BIP-340 verification (what the server does for every event) for N iterations.
use secp256k1::{schnorr, Keypair, XOnlyPublicKey};
use std::time::Instant;
fn main() {
    let n: u32 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let kp = Keypair::from_secret_bytes([3u8; 32]).expect("valid key");
    let (pk, _) = XOnlyPublicKey::from_keypair(&kp);
    let msg = [7u8; 32];
    let sig = schnorr::sign_no_aux_rand(&msg, &kp);
    let t = Instant::now();
    for _ in 0..n {
        schnorr::verify(&sig, &msg, &pk).expect("valid signature");
    }
    let per = t.elapsed().as_secs_f64() / n as f64;
    println!("{:.1} us/verify ({} verifies/s)", per * 1e6, (1.0 / per) as u64);
}
EOF
echo "== BIP-340 verify speed ($ITER iterations; secp256k1 $SECP_VERSION)"
for f in "" lowmemory; do
  (cd "$B" && cargo build -q --release --target aarch64-unknown-linux-musl ${f:+--features $f} \
     --target-dir "$B/target-bench-${f:-default}" && cargo build -q --release ${f:+--features $f} --target-dir "$B/target-bench-${f:-default}")
  arm=$B/target-bench-${f:-default}/aarch64-unknown-linux-musl/release/lowmem-bench
  host=$B/target-bench-${f:-default}/release/lowmem-bench
  echo "${f:-default}: aarch64 under qemu: $(qemu-aarch64-static "$arm" "$ITER"); x86_64 native: $("$host" $((ITER * 10)))"
done
