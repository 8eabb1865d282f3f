//! Nostr keys: BIP-340 x-only public keys, secret keys, Schnorr signing, NIP-19 `npub`/`nsec`,
//! and the short ids the original derives from a public key (§2.1 of the original's spec).
//!
//! The server itself never needs a user's secret key; [`SecretKey`] exists for `genkey`,
//! tests, benchmarks and the node's own key. Its `Debug` never prints the key.

use std::fmt;

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32, Hrp};
use secp256k1::{schnorr, Keypair, XOnlyPublicKey};

use crate::hex;

mod parsed;
pub use parsed::parsed;

/// A 32-byte BIP-340 x-only public key (not yet checked to be on the curve; see [`PublicKey::to_xonly`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub [u8; 32]);

/// The 64-bit node id of a user: big-endian value of the last 8 bytes of the public key.
/// The original calls it `SelfPubkey64bit` / "shortPkey" and names its data folder after it.
/// The one node id type of the crate (overlay, application, logs); always printed as 16 hex
/// digits. On the wire it is a MessagePack unsigned integer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct NodeId(pub u64);

/// Why a key string is not a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not valid bech32 (bad characters, mixed case, bad checksum, bech32m, too long).
    Bech32(String),
    /// Valid bech32 but the human-readable part is not the expected one.
    WrongPrefix {
        /// The prefix that was expected (`npub` or `nsec`).
        expected: &'static str,
        /// The prefix found.
        found: String,
    },
    /// Valid bech32 with the right prefix but not 32 bytes of payload.
    Length(usize),
    /// Not 64 hex characters.
    Hex(hex::HexError),
    /// 32 bytes, but not a valid key for secp256k1.
    NotOnCurve,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Bech32(e) => write!(f, "not valid bech32: {e}"),
            KeyError::WrongPrefix { expected, found } => {
                write!(f, "expected a key starting with {expected}1, found {found}1")
            }
            KeyError::Length(n) => write!(f, "key must be 32 bytes, found {n}"),
            KeyError::Hex(e) => write!(f, "not a 64-character hex key: {e}"),
            KeyError::NotOnCurve => write!(f, "not a valid secp256k1 key"),
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyError::Hex(e) => Some(e),
            _ => None,
        }
    }
}

const NPUB: &str = "npub";
const NSEC: &str = "nsec";

impl PublicKey {
    /// Parses `npub1…` (NIP-19, strict bech32) or 64 hex characters, and checks the key is on the curve.
    ///
    /// # Errors
    /// [`KeyError`] saying what is wrong with the string.
    pub fn parse(s: &str) -> Result<PublicKey, KeyError> {
        let s = s.trim();
        let bytes = if s.len() == 64 && !s.starts_with(NPUB) {
            hex::decode_array::<32>(s).map_err(KeyError::Hex)?
        } else if s.to_ascii_lowercase().starts_with("npub1") {
            decode_bech32(s, NPUB)?
        } else if s.to_ascii_lowercase().starts_with("nsec1") {
            return Err(KeyError::WrongPrefix { expected: NPUB, found: NSEC.into() });
        } else {
            hex::decode_array::<32>(s).map_err(KeyError::Hex)?
        };
        let pk = PublicKey(bytes);
        pk.to_xonly()?;
        Ok(pk)
    }

    /// Lowercase hex (64 characters).
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// NIP-19 `npub1…`.
    pub fn to_npub(&self) -> String {
        encode_bech32(NPUB, &self.0)
    }

    /// The 64-bit node id (low 8 bytes, big-endian).
    pub fn node_id(&self) -> NodeId {
        let mut low = [0u8; 8];
        low.copy_from_slice(&self.0[24..32]);
        NodeId(u64::from_be_bytes(low))
    }

    /// The curve point, for signature checks.
    ///
    /// # Errors
    /// [`KeyError::NotOnCurve`] when the 32 bytes are not an x coordinate on secp256k1.
    pub fn to_xonly(&self) -> Result<XOnlyPublicKey, KeyError> {
        #[cfg(test)]
        KEY_PARSES.with(|c| c.set(c.get() + 1));
        XOnlyPublicKey::from_byte_array(self.0).map_err(|_| KeyError::NotOnCurve)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for PublicKey {
    /// The first 8 hex characters: enough to tell keys apart in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex::fmt_prefix(f, &self.0, 4)
    }
}

impl NodeId {
    /// The node id of a 32-byte owner pubkey: `BigEndian.Uint64(pubkey[24:32])` (original §2.1).
    pub fn of_pubkey(pubkey: &[u8; 32]) -> NodeId {
        PublicKey(*pubkey).node_id()
    }

    /// The original's mesh peer name: the last 6 bytes of the public key (48 bits).
    pub fn mesh_peer_name(&self) -> u64 {
        self.0 & 0x0000_ffff_ffff_ffff
    }

    /// The original's data folder name: lowercase hex without leading zeros.
    pub fn to_dir_name(&self) -> String {
        format!("{:x}", self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({:016x})", self.0)
    }
}

/// A secp256k1 secret key with its precomputed keypair (reused for every signature).
#[derive(Clone)]
pub struct SecretKey {
    keypair: Keypair,
}

impl SecretKey {
    /// A key from 32 secret bytes (e.g. from `getrandom`).
    ///
    /// # Errors
    /// [`KeyError::NotOnCurve`] if the bytes are zero or not below the curve order.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<SecretKey, KeyError> {
        let keypair = Keypair::from_secret_bytes(bytes).map_err(|_| KeyError::NotOnCurve)?;
        Ok(SecretKey { keypair })
    }

    /// Parses `nsec1…` or 64 hex characters.
    ///
    /// # Errors
    /// [`KeyError`] saying what is wrong with the string.
    pub fn parse(s: &str) -> Result<SecretKey, KeyError> {
        let s = s.trim();
        let bytes = if s.to_ascii_lowercase().starts_with("nsec1") {
            decode_bech32(s, NSEC)?
        } else {
            hex::decode_array::<32>(s).map_err(KeyError::Hex)?
        };
        SecretKey::from_bytes(bytes)
    }

    /// The secret bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.keypair.to_secret_bytes()
    }

    /// NIP-19 `nsec1…`.
    pub fn to_nsec(&self) -> String {
        encode_bech32(NSEC, &self.to_bytes())
    }

    /// Lowercase hex of the secret (64 characters).
    pub fn to_hex(&self) -> String {
        hex::encode(&self.to_bytes())
    }

    /// The x-only public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.keypair.x_only_public_key().0.to_byte_array())
    }

    /// BIP-340 signature of a 32-byte message with the given auxiliary randomness.
    pub fn sign(&self, msg: &[u8; 32], aux_rand: &[u8; 32]) -> [u8; 64] {
        schnorr::sign_with_aux_rand(msg, &self.keypair, aux_rand).to_byte_array()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// Checks a BIP-340 signature of `msg` by `pk`.
pub fn verify(pk: &XOnlyPublicKey, msg: &[u8; 32], sig: &[u8; 64]) -> bool {
    #[cfg(test)]
    VERIFY_CALLS.with(|c| c.set(c.get() + 1));
    schnorr::Signature::from_byte_array(*sig).verify(msg, pk).is_ok()
}

#[cfg(test)]
thread_local! {
    /// Signature checks made by [`verify`] on this thread: unit tests count them to prove that
    /// a received event is checked exactly once on its way to the store.
    pub(crate) static VERIFY_CALLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// Public keys parsed into curve points on this thread (the square root that
    /// [`PublicKey::to_xonly`] costs): tests count them to prove the parse cache works.
    pub(crate) static KEY_PARSES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn decode_bech32(s: &str, hrp: &'static str) -> Result<[u8; 32], KeyError> {
    // `CheckedHrpstring::<Bech32>` accepts only the original bech32 checksum (not bech32m),
    // rejects mixed case, and enforces the 90-character limit: NIP-19 is strict bech32.
    let checked = CheckedHrpstring::new::<Bech32>(s).map_err(|e| KeyError::Bech32(e.to_string()))?;
    let found = checked.hrp().to_lowercase();
    if found != hrp {
        return Err(KeyError::WrongPrefix { expected: hrp, found });
    }
    let data: Vec<u8> = checked.byte_iter().collect();
    <[u8; 32]>::try_from(data.as_slice()).map_err(|_| KeyError::Length(data.len()))
}

fn encode_bech32(hrp: &str, bytes: &[u8; 32]) -> String {
    let hrp = Hrp::parse(hrp).expect("npub and nsec are valid human-readable parts");
    bech32::encode::<Bech32>(hrp, bytes).expect("32 bytes always fit in a bech32 string")
}

#[cfg(test)]
mod tests;
