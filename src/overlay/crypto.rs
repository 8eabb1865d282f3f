//! Signatures and validation behind one trait, so the simulator can use a cheap fake while the
//! server (and a few tests) use real BIP-340 Schnorr.
//!
//! Pure: no clock (wall time comes in as `unix_now`), no randomness (signing uses no aux rand).
//! The node key is the server's own key; the owner's secret key is never here (spec §2.2).

use std::fmt;

use secp256k1::{schnorr, Keypair, SecretKey, XOnlyPublicKey};
use sha2::{Digest, Sha256};

use crate::event::VerifiedEvent;
use crate::wire::{Key32, MsgId, Sig};

/// Nostr kind of the owner's authorisation of a node key (NostrP2P-specific, ephemeral-range-free
/// regular kind so relays and the store keep it). Tags: `["nodekey", hex]`, `["expiration", secs]`.
pub const NODE_AUTH_KIND: u64 = 30_399;

/// Why a broadcast payload was refused. Provably bad data (malformed, bad id, bad signature)
/// from a peer bans it; a time-window failure never does (clocks differ, and an attacker could
/// otherwise date events so that nodes a little behind ban their honest neighbours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// Not decodable as an event.
    Malformed,
    /// The id is not the hash of the event.
    BadId,
    /// The signature does not verify.
    BadSig,
    /// `created_at` is too far in the future for the receiver's clock (it may be fine later).
    FromTheFuture {
        /// The event's `created_at` (Unix seconds).
        created_at: u64,
    },
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rejected::Malformed => "malformed event",
            Rejected::BadId => "event id is not the hash of the event",
            Rejected::BadSig => "invalid signature",
            Rejected::FromTheFuture { .. } => "created_at too far in the future",
        })
    }
}

impl std::error::Error for Rejected {}

/// A broadcast event that passed [`Crypto::verify_event`]: the overlay hands it on with the
/// delivery, so nothing after it checks the event again (one hash and one Schnorr check each).
#[derive(Debug, Clone)]
pub struct Checked {
    /// The event's author.
    pub author: Key32,
    /// The decoded event. A `VerifiedEvent` can only be made by `Event::verify`, so holding one
    /// proves the check happened. `None` only from a `Crypto` whose payloads are not Nostr
    /// events (the simulator's fake ones).
    pub event: Option<VerifiedEvent>,
}

/// What the overlay needs from cryptography.
pub trait Crypto {
    /// This server's node key (x-only public key).
    fn node_key(&self) -> Key32;
    /// Sign a 32-byte hash with the node key.
    fn sign(&mut self, hash: &[u8; 32]) -> Sig;
    /// Check a node-key signature.
    fn verify(&mut self, key: &Key32, hash: &[u8; 32], sig: &Sig) -> bool;
    /// Check that `delegation` is the owner's valid, unexpired authorisation of `node_key`.
    fn check_delegation(&mut self, owner: &Key32, node_key: &Key32, delegation: &[u8], unix_now: u64) -> bool;
    /// Validate a broadcast event (id hash, signature, time window); returns its author and
    /// the verified event.
    ///
    /// # Errors
    /// The reason it is invalid.
    fn verify_event(&mut self, id: &MsgId, body: &[u8], unix_now: u64) -> Result<Checked, Rejected>;
    /// The id a broadcast event body claims (a `Gossip` frame does not carry it; protocol 3),
    /// or `None` if the body cannot be an event. Cheap: [`Crypto::verify_event`] checks it later.
    fn event_id(&self, body: &[u8]) -> Option<MsgId>;
}

/// Validates event bodies for [`SchnorrCrypto`]; the server plugs in `event::Event::verify`.
pub type EventVerifier = fn(&MsgId, &[u8], u64) -> Result<Checked, Rejected>;

/// Real BIP-340 signatures over secp256k1.
pub struct SchnorrCrypto {
    keypair: Keypair,
    public: Key32,
    verify_event: EventVerifier,
}

impl SchnorrCrypto {
    /// From the node's 32-byte secret; `None` if it is not a valid secp256k1 scalar.
    pub fn new(secret: [u8; 32], verify_event: EventVerifier) -> Option<SchnorrCrypto> {
        let sk = SecretKey::from_secret_bytes(secret).ok()?;
        let keypair = Keypair::from_secret_key(&sk);
        let public = Key32(keypair.x_only_public_key().0.to_byte_array());
        Some(SchnorrCrypto { keypair, public, verify_event })
    }
}

impl fmt::Debug for SchnorrCrypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SchnorrCrypto({:?})", self.public)
    }
}

/// Verify a BIP-340 signature over a 32-byte message.
pub fn schnorr_verify(key: &Key32, hash: &[u8; 32], sig: &Sig) -> bool {
    let Ok(pk) = XOnlyPublicKey::from_byte_array(key.0) else { return false };
    let sig = schnorr::Signature::from_byte_array(sig.0);
    schnorr::verify(&sig, hash, &pk).is_ok()
}

/// Sign with a raw secret (tests and the delegation helper); `None` for an invalid secret.
pub fn schnorr_sign(secret: [u8; 32], hash: &[u8; 32]) -> Option<Sig> {
    let sk = SecretKey::from_secret_bytes(secret).ok()?;
    let kp = Keypair::from_secret_key(&sk);
    Some(Sig(schnorr::sign_no_aux_rand(hash, &kp).to_byte_array()))
}

/// The x-only public key of a secret; `None` for an invalid secret.
pub fn public_of(secret: [u8; 32]) -> Option<Key32> {
    let sk = SecretKey::from_secret_bytes(secret).ok()?;
    Some(Key32(Keypair::from_secret_key(&sk).x_only_public_key().0.to_byte_array()))
}

impl Crypto for SchnorrCrypto {
    fn node_key(&self) -> Key32 {
        self.public
    }
    fn sign(&mut self, hash: &[u8; 32]) -> Sig {
        Sig(schnorr::sign_no_aux_rand(hash, &self.keypair).to_byte_array())
    }
    fn verify(&mut self, key: &Key32, hash: &[u8; 32], sig: &Sig) -> bool {
        schnorr_verify(key, hash, sig)
    }
    fn check_delegation(&mut self, owner: &Key32, node_key: &Key32, delegation: &[u8], unix_now: u64) -> bool {
        check_delegation_event(owner, node_key, delegation, unix_now)
    }
    fn verify_event(&mut self, id: &MsgId, body: &[u8], unix_now: u64) -> Result<Checked, Rejected> {
        (self.verify_event)(id, body, unix_now)
    }
    fn event_id(&self, body: &[u8]) -> Option<MsgId> {
        crate::event::packed::claimed_id(body).map(MsgId)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// NIP-01 id of the fixed-shape delegation event (no content, two ASCII tags, so no escaping).
fn delegation_id(owner: &Key32, created_at: u64, node_key: &Key32, expires: u64) -> [u8; 32] {
    let tags = serde_json::json!([["nodekey", hex(&node_key.0)], ["expiration", expires.to_string()]]);
    let ser = serde_json::json!([0, hex(&owner.0), created_at, NODE_AUTH_KIND, tags, ""]);
    Sha256::digest(ser.to_string().as_bytes()).into()
}

/// Build the owner's delegation event JSON (what a client signs once and hands to its server;
/// `nostrp2p` can also make it when the owner's secret is given once, e.g. by `authorize`).
pub fn make_delegation(owner_secret: [u8; 32], node_key: &Key32, created_at: u64, expires: u64) -> Option<String> {
    let owner = public_of(owner_secret)?;
    let id = delegation_id(&owner, created_at, node_key, expires);
    let sig = schnorr_sign(owner_secret, &id)?;
    let ev = serde_json::json!({
        "id": hex(&id), "pubkey": hex(&owner.0), "created_at": created_at, "kind": NODE_AUTH_KIND,
        "tags": [["nodekey", hex(&node_key.0)], ["expiration", expires.to_string()]],
        "content": "", "sig": hex(&sig.0),
    });
    Some(ev.to_string())
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Check a delegation event: signed by `owner`, kind [`NODE_AUTH_KIND`], names `node_key`, and
/// not expired at `unix_now`.
pub fn check_delegation_event(owner: &Key32, node_key: &Key32, json: &[u8], unix_now: u64) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) else { return false };
    let field = |k: &str| v.get(k);
    let (Some(pk), Some(created), Some(kind), Some(id), Some(sig)) = (
        field("pubkey").and_then(|x| x.as_str()).and_then(unhex::<32>),
        field("created_at").and_then(|x| x.as_u64()),
        field("kind").and_then(|x| x.as_u64()),
        field("id").and_then(|x| x.as_str()).and_then(unhex::<32>),
        field("sig").and_then(|x| x.as_str()).and_then(unhex::<64>),
    ) else {
        return false;
    };
    if pk != owner.0 || kind != NODE_AUTH_KIND {
        return false;
    }
    let mut named_key = None;
    let mut expires = None;
    for tag in field("tags").and_then(|t| t.as_array()).into_iter().flatten() {
        match (tag.get(0).and_then(|x| x.as_str()), tag.get(1).and_then(|x| x.as_str())) {
            (Some("nodekey"), Some(k)) => named_key = unhex::<32>(k),
            (Some("expiration"), Some(e)) => expires = e.parse::<u64>().ok(),
            _ => {}
        }
    }
    let (Some(named_key), Some(expires)) = (named_key, expires) else { return false };
    if named_key != node_key.0 || expires < unix_now {
        return false;
    }
    id == delegation_id(owner, created, node_key, expires) && schnorr_verify(owner, &id, &Sig(sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delegation_round_trip_and_tampering() {
        let owner_secret = [0x11; 32];
        let node_secret = [0x22; 32];
        let owner = public_of(owner_secret).expect("valid secret");
        let node = public_of(node_secret).expect("valid secret");
        let other = public_of([0x33; 32]).expect("valid secret");
        let json = make_delegation(owner_secret, &node, 1_700_000_000, 1_800_000_000).expect("signs");
        assert!(check_delegation_event(&owner, &node, json.as_bytes(), 1_750_000_000));
        assert!(!check_delegation_event(&owner, &node, json.as_bytes(), 1_800_000_001), "expired");
        assert!(!check_delegation_event(&owner, &other, json.as_bytes(), 1_750_000_000), "other node key");
        assert!(!check_delegation_event(&other, &node, json.as_bytes(), 1_750_000_000), "other owner");
        let tampered = json.replace("1800000000", "1900000000");
        assert!(!check_delegation_event(&owner, &node, tampered.as_bytes(), 1_750_000_000));
        assert!(!check_delegation_event(&owner, &node, b"not json", 0));
    }

    #[test]
    fn schnorr_sign_verify() {
        let mut c = SchnorrCrypto::new([5; 32], |_, _, _| Err(Rejected::Malformed)).expect("valid");
        let h = [9u8; 32];
        let sig = c.sign(&h);
        let key = c.node_key();
        assert!(c.verify(&key, &h, &sig));
        assert!(!c.verify(&key, &[8u8; 32], &sig));
    }
}
