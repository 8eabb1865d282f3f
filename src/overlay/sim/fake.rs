//! The simulator's stand-ins: a fake signature scheme and fake events, cheap enough for 10,000
//! nodes, yet an invalid one is still detected (and its sender banned) like a real one.

use sha2::{Digest, Sha256};

use crate::limits::MAX_FUTURE_SKEW;
use crate::overlay::{Checked, Crypto, Rejected};
use crate::wire::{Body, Key32, MsgId, Sig};

/// Cheap stand-in for Schnorr: a signature is `hash XOR key` (unforgeable only by convention).
#[derive(Debug, Clone)]
pub struct FakeCrypto {
    key: Key32,
}

impl FakeCrypto {
    /// A fake key.
    pub fn new(key: [u8; 32]) -> FakeCrypto {
        FakeCrypto { key: Key32(key) }
    }
}

fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut o = [0u8; 32];
    for i in 0..32 {
        o[i] = a[i] ^ b[i];
    }
    o
}

impl Crypto for FakeCrypto {
    fn node_key(&self) -> Key32 {
        self.key
    }
    fn sign(&mut self, hash: &[u8; 32]) -> Sig {
        let mut s = [0u8; 64];
        s[..32].copy_from_slice(&xor32(hash, &self.key.0));
        Sig(s)
    }
    fn verify(&mut self, key: &Key32, hash: &[u8; 32], sig: &Sig) -> bool {
        sig.0[..32] == xor32(hash, &key.0)
    }
    /// `ok` is a valid delegation forever; `ok-until:<unix secs>` one that expires.
    fn check_delegation(&mut self, _owner: &Key32, _node_key: &Key32, delegation: &[u8], unix_now: u64) -> bool {
        if delegation == b"ok" {
            return true;
        }
        let until =
            delegation.strip_prefix(b"ok-until:").and_then(|d| std::str::from_utf8(d).ok()?.parse::<u64>().ok());
        until.is_some_and(|u| u >= unix_now)
    }
    fn event_id(&self, body: &[u8]) -> Option<MsgId> {
        Some(MsgId(Sha256::digest(body).into()))
    }
    fn verify_event(&mut self, id: &MsgId, body: &[u8], unix_now: u64) -> Result<Checked, Rejected> {
        if body.len() < 49 {
            return Err(Rejected::Malformed);
        }
        // The same window as `Event::verify` (checked first there too).
        let mut t = [0u8; 8];
        t.copy_from_slice(&body[41..49]);
        let created_at = u64::from_be_bytes(t);
        if created_at > unix_now.saturating_add(MAX_FUTURE_SKEW.as_secs()) {
            return Err(Rejected::FromTheFuture { created_at });
        }
        if Sha256::digest(body).as_slice() != id.0 {
            return Err(Rejected::BadId);
        }
        if body[0] != 1 {
            return Err(Rejected::BadSig);
        }
        let mut a = [0u8; 32];
        a.copy_from_slice(&body[1..33]);
        Ok(Checked { author: Key32(a), event: None })
    }
}

/// A fake event dated at the Unix epoch (never "from the future"): see [`fake_event_at`].
pub fn fake_event(author: [u8; 32], counter: u64, size: usize, valid: bool) -> (MsgId, Body) {
    fake_event_at(author, counter, size, valid, 0)
}

/// A fake event: `[valid flag][author 32][counter 8][created_at 8][padding]`,
/// id = SHA-256(body).
pub fn fake_event_at(author: [u8; 32], counter: u64, size: usize, valid: bool, created_at: u64) -> (MsgId, Body) {
    let mut b = vec![0u8; size.max(49)];
    b[0] = u8::from(valid);
    b[1..33].copy_from_slice(&author);
    b[33..41].copy_from_slice(&counter.to_be_bytes());
    b[41..49].copy_from_slice(&created_at.to_be_bytes());
    (MsgId(Sha256::digest(&b).into()), Body::from_slice(&b))
}
