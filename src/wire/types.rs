//! Value types carried on the wire: node/connection ids, addresses, message ids, keys, signatures,
//! shared payload bytes.
//!
//! Owns no state and does no IO. `Addr` replaces
//! the standard library's socket address so that pure code never names the networking module
//! (STYLE.md); `net` converts.
//! Fixed-size byte arrays travel as MessagePack `bin`, never as arrays of integers (`wire::codec`).

use std::fmt;
use std::sync::Arc;

#[cfg(test)]
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A node on the overlay: the one node id type of the crate, defined with the keys it derives from.
pub use crate::keys::NodeId;

/// One transport connection. Outbound ids are allocated by the overlay (top bit set), inbound ids
/// by the driver (top bit clear), so they never collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

impl ConnId {
    /// Bit that marks ids allocated by the overlay for its own dials.
    pub const OUTBOUND_BIT: u64 = 1 << 63;
}

/// A transport address: IPv6 or IPv4-mapped IPv6 bytes and a port.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct Addr {
    /// IPv6 address bytes; IPv4 is stored as `::ffff:a.b.c.d`.
    #[cfg_attr(test, serde(with = "fixed_bytes"))]
    pub ip: [u8; 16],
    /// TCP port.
    pub port: u16,
}

impl Addr {
    /// An IPv4 address.
    pub fn v4(a: [u8; 4], port: u16) -> Addr {
        let mut ip = [0u8; 16];
        ip[10] = 0xff;
        ip[11] = 0xff;
        ip[12..].copy_from_slice(&a);
        Addr { ip, port }
    }
    /// The IPv4 octets if this is an IPv4-mapped address.
    pub fn as_v4(&self) -> Option<[u8; 4]> {
        if self.ip[..10].iter().all(|b| *b == 0) && self.ip[10] == 0xff && self.ip[11] == 0xff {
            let mut a = [0u8; 4];
            a.copy_from_slice(&self.ip[12..]);
            Some(a)
        } else {
            None
        }
    }
    /// The network this address belongs to, as one number: the /24 of an IPv4 address, the /48
    /// of an IPv6 one (what one host or one small network typically controls).
    pub fn prefix(&self) -> u64 {
        match self.as_v4() {
            Some([a, b, c, _]) => u64::from_be_bytes([0, 0, 0, 0, 0, a, b, c]),
            None => {
                let mut p = [0u8; 8];
                p[2..].copy_from_slice(&self.ip[..6]);
                p[0] = 6;
                u64::from_be_bytes(p)
            }
        }
    }
    /// True for 127.0.0.0/8 and ::1.
    pub fn is_loopback(&self) -> bool {
        match self.as_v4() {
            Some([a, ..]) => a == 127,
            None => self.ip[..15].iter().all(|b| *b == 0) && self.ip[15] == 1,
        }
    }
    /// True for 0.0.0.0 / :: (a wildcard bind address, not dialable).
    pub fn is_unspecified(&self) -> bool {
        match self.as_v4() {
            Some(a) => a == [0, 0, 0, 0],
            None => self.ip.iter().all(|b| *b == 0),
        }
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_v4() {
            Some([a, b, c, d]) => write!(f, "{a}.{b}.{c}.{d}:{}", self.port),
            None => {
                write!(f, "[")?;
                for (i, pair) in self.ip.chunks(2).enumerate() {
                    if i > 0 {
                        write!(f, ":")?;
                    }
                    write!(f, "{:x}", u16::from_be_bytes([pair[0], pair[1]]))?;
                }
                write!(f, "]:{}", self.port)
            }
        }
    }
}

/// A 32-byte id of a broadcast message (the Nostr event id, or the hash of a node record).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct MsgId(#[cfg_attr(test, serde(with = "fixed_bytes"))] pub [u8; 32]);

impl MsgId {
    /// The id of a decoded `Gossip` before the receiver derives it from the body.
    pub const UNSET: MsgId = MsgId([0; 32]);
}

impl fmt::Debug for MsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MsgId({self})")
    }
}
impl fmt::Display for MsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A 32-byte x-only secp256k1 public key (owner key or node key).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct Key32(#[cfg_attr(test, serde(with = "fixed_bytes"))] pub [u8; 32]);

impl fmt::Debug for Key32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key32(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// A 64-byte BIP-340 Schnorr signature.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct Sig(#[cfg_attr(test, serde(with = "fixed_bytes"))] pub [u8; 64]);

impl fmt::Debug for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sig(..)")
    }
}

/// Immutable payload bytes shared between the caches of one process (a post is held once even if
/// the message cache, the outbox and a simulator's other nodes all refer to it).
#[derive(Clone, PartialEq, Eq)]
pub struct Body(pub Arc<[u8]>);

impl Body {
    /// Copy `bytes` into a new shared body.
    pub fn from_slice(bytes: &[u8]) -> Body {
        Body(Arc::from(bytes))
    }
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Body({} B)", self.0.len())
    }
}

// The serde forms below exist only as the test oracle for the hand-written codec
// (`wire::tests_codec`).
#[cfg(test)]
impl Serialize for Body {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

#[cfg(test)]
impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Body, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Body;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Body, E> {
                Ok(Body::from_slice(v))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Body, E> {
                Ok(Body(Arc::from(v)))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// Role of a node in the two-tier overlay (spec overlay.md §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub enum Role {
    /// Reachable: passed a dial-back check; runs HyParView + Plumtree and relays for leaves.
    Core,
    /// Not reachable (NAT, CGNAT, phone): keeps outbound links to core "homes", never relays.
    Leaf,
}

/// A core node as carried in views, shuffles and attach alternatives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct PeerRef {
    /// Its node id.
    pub node: NodeId,
    /// Where it listens.
    pub addr: Addr,
}

/// serde helpers (test oracle only): `[u8; N]` as MessagePack `bin` instead of an array of integers.
#[cfg(test)]
pub mod fixed_bytes {
    use std::fmt;

    use serde::{Deserializer, Serializer};

    /// Serialise as bytes.
    pub fn serialize<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    /// Deserialise from bytes of exactly `N` length.
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
        struct V<const N: usize>;
        impl<'de, const N: usize> serde::de::Visitor<'de> for V<N> {
            type Value = [u8; N];
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{N} bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<[u8; N], E> {
                <[u8; N]>::try_from(v).map_err(|_| E::invalid_length(v.len(), &self))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
                let mut out = [0u8; N];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq.next_element()?.ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
                }
                Ok(out)
            }
        }
        d.deserialize_bytes(V::<N>)
    }
}
