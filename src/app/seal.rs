//! Sealed mail: an event encrypted to one node's key, so a support server can keep it without
//! learning anything but its size, its sender node and its destination node (ECIES).
//!
//! `seal`: a fresh ephemeral secp256k1 key `e` (from the caller), `S = x(e · P)` with the
//! recipient's x-only node key `P` (lifted to even y; only the x coordinate is used, so the
//! recipient's key parity does not matter), `k = SHA-256("nostrp2p/seal/v1" ‖ S ‖ x(E) ‖ P)`,
//! then ChaCha20-Poly1305 with a 12-byte nonce from the caller. Bytes: `x(E) ‖ nonce ‖ ct+tag`.
//! Randomness is an input; nothing here reads a clock or an RNG.

use std::fmt;

use chacha20poly1305::aead::Aead;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};
use secp256k1::ecdh::shared_secret_point;
use secp256k1::{Keypair, Parity, XOnlyPublicKey};
use sha2::{Digest, Sha256};

use crate::keys::{PublicKey, SecretKey};

const DOMAIN: &[u8] = b"nostrp2p/seal/v1";
const HEADER: usize = 32 + 12;
const TAG: usize = 16;

/// Bytes a seal adds to its plaintext.
pub const SEAL_OVERHEAD: usize = HEADER + TAG;

/// The randomness one seal needs (from the caller's CSPRNG).
#[derive(Clone, Copy)]
pub struct SealRandom {
    /// Ephemeral secret scalar.
    pub ephemeral: [u8; 32],
    /// AEAD nonce.
    pub nonce: [u8; 12],
}

impl fmt::Debug for SealRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealRandom(..)")
    }
}

/// Why a seal could not be made or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealError {
    /// The recipient key (or the envelope's ephemeral key) is not a secp256k1 x coordinate.
    BadKey,
    /// The ephemeral secret is zero or not below the curve order (draw again).
    BadRandom,
    /// Shorter than a seal's header and tag.
    Truncated,
    /// Authentication failed: not sealed to this key, or altered.
    Forged,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SealError::BadKey => "not a valid secp256k1 x-only key",
            SealError::BadRandom => "ephemeral secret is not a valid scalar",
            SealError::Truncated => "sealed envelope is too short",
            SealError::Forged => "sealed envelope does not open with this key (wrong key or altered)",
        })
    }
}

impl std::error::Error for SealError {}

fn cipher(shared_x: &[u8], eph: &[u8; 32], recipient: &[u8; 32]) -> ChaCha20Poly1305 {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(shared_x);
    h.update(eph);
    h.update(recipient);
    let key: [u8; 32] = h.finalize().into();
    ChaCha20Poly1305::new(Key::from_slice(&key))
}

fn lift(x: &[u8; 32]) -> Result<secp256k1::PublicKey, SealError> {
    let xonly = XOnlyPublicKey::from_byte_array(*x).map_err(|_| SealError::BadKey)?;
    Ok(secp256k1::PublicKey::from_x_only_public_key(xonly, Parity::Even))
}

/// Encrypts `plaintext` to the node key `recipient`.
///
/// # Errors
/// [`SealError::BadKey`] for a key not on the curve, [`SealError::BadRandom`] for an invalid
/// ephemeral scalar.
pub fn seal(recipient: &PublicKey, plaintext: &[u8], rnd: &SealRandom) -> Result<Vec<u8>, SealError> {
    let point = lift(&recipient.0)?;
    let eph_kp = Keypair::from_secret_bytes(rnd.ephemeral).map_err(|_| SealError::BadRandom)?;
    let eph_x = eph_kp.x_only_public_key().0.to_byte_array();
    let shared = shared_secret_point(&point, &eph_kp.secret_key());
    let ct = cipher(&shared[..32], &eph_x, &recipient.0)
        .encrypt(Nonce::from_slice(&rnd.nonce), plaintext)
        .map_err(|_| SealError::Forged)?;
    let mut out = Vec::with_capacity(HEADER + ct.len());
    out.extend_from_slice(&eph_x);
    out.extend_from_slice(&rnd.nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Decrypts an envelope sealed to the key of `secret`.
///
/// # Errors
/// [`SealError`] when the bytes are too short, carry an invalid ephemeral key, or do not
/// authenticate under this key.
pub fn open(secret: &SecretKey, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    if sealed.len() < HEADER + TAG {
        return Err(SealError::Truncated);
    }
    let mut eph = [0u8; 32];
    eph.copy_from_slice(&sealed[..32]);
    let nonce = &sealed[32..HEADER];
    let eph_point = lift(&eph)?;
    let sk = secp256k1::SecretKey::from_secret_bytes(secret.to_bytes()).map_err(|_| SealError::BadKey)?;
    let shared = shared_secret_point(&eph_point, &sk);
    let me = secret.public_key();
    cipher(&shared[..32], &eph, &me.0)
        .decrypt(Nonce::from_slice(nonce), &sealed[HEADER..])
        .map_err(|_| SealError::Forged)
}
