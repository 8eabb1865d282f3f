//! A deterministic random byte source for sealing (ephemeral keys, nonces) and message ids:
//! SHA-256 in counter mode over a 32-byte seed the driver draws from the OS once at start.
//! Tests seed it with a fixed value, so every run is reproducible. Reads no OS source itself.

use sha2::{Digest, Sha256};

/// See the module doc.
#[derive(Clone)]
pub struct Entropy {
    seed: [u8; 32],
    counter: u64,
}

impl std::fmt::Debug for Entropy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Entropy(..)")
    }
}

impl Entropy {
    /// From a 32-byte seed (secret: anyone who knows it can predict the ephemeral keys).
    pub fn from_seed(seed: [u8; 32]) -> Entropy {
        Entropy { seed, counter: 0 }
    }

    /// 32 fresh bytes.
    pub fn bytes32(&mut self) -> [u8; 32] {
        self.counter = self.counter.wrapping_add(1);
        let mut h = Sha256::new();
        h.update(b"nostrp2p/app-entropy/v1");
        h.update(self.seed);
        h.update(self.counter.to_be_bytes());
        h.finalize().into()
    }

    /// A fresh `u64`.
    pub fn next_u64(&mut self) -> u64 {
        let b = self.bytes32();
        u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }
}
