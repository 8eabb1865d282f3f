//! MessagePack for the whole crate: a hand-written reader and writer on the low-level `rmp`
//! functions, and (until every type has its own codec) the `rmp_serde` entry point.
//!
//! Why hand-written: `rmp_serde` compiles a deserializer per type and reader (≈ 290 KiB of the
//! stripped binary for the wire frames alone, README "Benchmarks"); a few small functions over
//! a byte slice do the same job. [`Reader`] reads hostile input: it never panics, never reads
//! past its slice, and a length read from the input is only trusted after it has been checked
//! against the bytes that are left (a list of `n` elements needs at least `n` bytes), so no
//! allocation is ever sized by a claim the input cannot back. Writes go to a `Vec`, which
//! cannot fail.

use std::fmt;

use serde::de::DeserializeOwned;

/// Decode one value from the start of `bytes`; bytes after it are ignored, as
/// `rmp_serde::from_slice` does (callers that must reject them use [`from_prefix`]).
///
/// # Errors
/// The bytes are not a MessagePack encoding of `T`.
pub(crate) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, rmp_serde::decode::Error> {
    from_prefix(bytes).map(|(value, _)| value)
}

/// Decode one value from the start of `bytes`; also returns the bytes after it.
///
/// # Errors
/// The bytes are not a MessagePack encoding of `T`.
pub(crate) fn from_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, &[u8]), rmp_serde::decode::Error> {
    let mut rest = bytes;
    let value = serde::Deserialize::deserialize(&mut rmp_serde::Deserializer::new(&mut rest))?;
    Ok((value, rest))
}

/// Why bytes are not the MessagePack value that was expected. `at` is the offset (from the
/// start of the reader's input) of the value that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The input ended inside a value.
    Truncated {
        /// Offset of the value.
        at: usize,
    },
    /// Another type (or a reserved marker) where `expected` was due.
    Unexpected {
        /// Offset of the value.
        at: usize,
        /// What was expected.
        expected: &'static str,
    },
    /// The right type with a value out of range: an integer too large for its field, a byte
    /// string of the wrong length, a list with the wrong number of fields, an unknown name.
    Invalid {
        /// Offset of the value.
        at: usize,
        /// What was wrong.
        what: &'static str,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Truncated { at } => write!(f, "input ends inside the value at byte {at}"),
            ReadError::Unexpected { at, expected } => write!(f, "expected {expected} at byte {at}"),
            ReadError::Invalid { at, what } => write!(f, "{what} at byte {at}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// A cursor over MessagePack bytes. Every method consumes one value (or one header) or fails;
/// after a failure the reader's position is unspecified and it should be dropped.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    total: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes, total: bytes.len() }
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Offset of the next byte.
    pub(crate) fn at(&self) -> usize {
        self.total - self.rest.len()
    }

    fn unexpected(&self, at: usize, expected: &'static str) -> ReadError {
        if self.rest.is_empty() && at == self.at() {
            ReadError::Truncated { at }
        } else {
            ReadError::Unexpected { at, expected }
        }
    }

    /// An [`ReadError::Invalid`] at offset `at`.
    pub(crate) fn invalid(at: usize, what: &'static str) -> ReadError {
        ReadError::Invalid { at, what }
    }

    /// Take `n` raw bytes.
    fn take(&mut self, n: usize, at: usize) -> Result<&'a [u8], ReadError> {
        if self.rest.len() < n {
            return Err(ReadError::Truncated { at });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// True (and the nil consumed) if the next value is nil: an `Option` that is `None`.
    pub(crate) fn nil(&mut self) -> bool {
        match self.rest.split_first() {
            Some((0xc0, tail)) => {
                self.rest = tail;
                true
            }
            _ => false,
        }
    }

    /// A boolean (only `true`/`false`: an integer is not a boolean).
    pub(crate) fn bool(&mut self) -> Result<bool, ReadError> {
        let at = self.at();
        let mut r = self.rest;
        match rmp::decode::read_bool(&mut r) {
            Ok(b) => {
                self.rest = r;
                Ok(b)
            }
            Err(_) => Err(self.unexpected(at, "a boolean")),
        }
    }

    /// An unsigned integer in any MessagePack integer encoding (fixint, u8..u64, and the signed
    /// forms when the value is not negative), checked against `T`'s range.
    pub(crate) fn uint<T: TryFrom<u64>>(&mut self) -> Result<T, ReadError> {
        let at = self.at();
        let mut r = self.rest;
        let v: u64 = match rmp::decode::read_int(&mut r) {
            Ok(v) => v,
            Err(rmp::decode::NumValueReadError::OutOfRange) => return Err(Self::invalid(at, "a negative integer")),
            Err(rmp::decode::NumValueReadError::TypeMismatch(_)) => return Err(self.unexpected(at, "an integer")),
            Err(_) => return Err(ReadError::Truncated { at }),
        };
        self.rest = r;
        T::try_from(v).map_err(|_| Self::invalid(at, "an integer too large for its field"))
    }

    /// A length-prefixed header read by `read_len`; the length must be coverable by what is
    /// left, `min_bytes` per element (so that it can size an allocation).
    fn len_header<E>(
        &mut self,
        read_len: fn(&mut &'a [u8]) -> Result<u32, E>,
        expected: &'static str,
        min_bytes: usize,
    ) -> Result<usize, ReadError> {
        let at = self.at();
        let mut r = self.rest;
        let Ok(n) = read_len(&mut r) else {
            // A header cut short is truncation; a wrong marker is a wrong type.
            return Err(match self.rest.first().map(|m| rmp::Marker::from_u8(*m)) {
                Some(m) if marker_is(m, expected) => ReadError::Truncated { at },
                _ => self.unexpected(at, expected),
            });
        };
        self.rest = r;
        let n = n as usize;
        if n.saturating_mul(min_bytes) > self.rest.len() {
            return Err(ReadError::Truncated { at });
        }
        Ok(n)
    }

    /// An array header; the count is at most the bytes left (every element is ≥ 1 byte), so a
    /// caller may reserve room for it.
    pub(crate) fn array_len(&mut self) -> Result<usize, ReadError> {
        self.len_header(rmp::decode::read_array_len, "an array", 1)
    }

    /// An array header that must announce exactly `n` elements (a struct's fields).
    pub(crate) fn fields(&mut self, n: usize) -> Result<(), ReadError> {
        let at = self.at();
        if self.array_len()? != n {
            return Err(Self::invalid(at, "a list with the wrong number of fields"));
        }
        Ok(())
    }

    /// A map header; the count is at most half the bytes left.
    pub(crate) fn map_len(&mut self) -> Result<usize, ReadError> {
        self.len_header(rmp::decode::read_map_len, "a map", 2)
    }

    /// A byte string (`bin`), borrowed from the input.
    pub(crate) fn bin(&mut self) -> Result<&'a [u8], ReadError> {
        let at = self.at();
        let n = self.len_header(rmp::decode::read_bin_len, "a byte string", 1)?;
        self.take(n, at)
    }

    /// A byte string of exactly `N` bytes (a key, an id, a signature).
    pub(crate) fn bin_array<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        let at = self.at();
        <[u8; N]>::try_from(self.bin()?).map_err(|_| Self::invalid(at, "a byte string of the wrong length"))
    }

    /// A text string's bytes (not checked to be UTF-8: callers compare them with names).
    pub(crate) fn str(&mut self) -> Result<&'a [u8], ReadError> {
        let at = self.at();
        let n = self.len_header(rmp::decode::read_str_len, "a string", 1)?;
        self.take(n, at)
    }

    /// True if the next value is a text string (without consuming it).
    pub(crate) fn at_str(&self) -> bool {
        matches!(
            self.rest.first().map(|m| rmp::Marker::from_u8(*m)),
            Some(rmp::Marker::FixStr(_) | rmp::Marker::Str8 | rmp::Marker::Str16 | rmp::Marker::Str32)
        )
    }
}

/// Elements to reserve room for when a list header announces `n` of type `T`: `n`, but at
/// most [`MSGPACK_PREALLOC_BYTES`](crate::limits::MSGPACK_PREALLOC_BYTES) worth (the count is a
/// peer's claim; a list longer than that grows as its elements actually arrive).
pub(crate) fn prealloc<T>(n: usize) -> usize {
    n.min(crate::limits::MSGPACK_PREALLOC_BYTES / std::mem::size_of::<T>().max(1))
}

/// True if marker `m` starts a value of the family `expected` names (used to tell a cut-short
/// header from a wrong type).
fn marker_is(m: rmp::Marker, expected: &'static str) -> bool {
    use rmp::Marker as M;
    match expected {
        "an array" => matches!(m, M::FixArray(_) | M::Array16 | M::Array32),
        "a map" => matches!(m, M::FixMap(_) | M::Map16 | M::Map32),
        "a byte string" => matches!(m, M::Bin8 | M::Bin16 | M::Bin32),
        "a string" => matches!(m, M::FixStr(_) | M::Str8 | M::Str16 | M::Str32),
        _ => false,
    }
}

/// Writing MessagePack into a `Vec` cannot fail (rmp's error type for it is `Infallible` in
/// spirit; with `std` it is `io::Error`, which a `Vec` never returns).
fn ok<T, E>(r: Result<T, E>) {
    // Ignoring is sound: `Vec<u8>`'s `io::Write` never errors (it aborts on allocation failure).
    let _ = r;
}

/// Append an unsigned integer in its shortest form.
pub(crate) fn put_uint(out: &mut Vec<u8>, v: u64) {
    ok(rmp::encode::write_uint(out, v));
}

/// Append a boolean.
pub(crate) fn put_bool(out: &mut Vec<u8>, v: bool) {
    ok(rmp::encode::write_bool(out, v));
}

/// Append nil (an `Option` that is `None`).
pub(crate) fn put_nil(out: &mut Vec<u8>) {
    ok(rmp::encode::write_nil(out));
}

/// Append a byte string (`bin`).
pub(crate) fn put_bin(out: &mut Vec<u8>, v: &[u8]) {
    ok(rmp::encode::write_bin(out, v));
}

/// Append a text string.
pub(crate) fn put_str(out: &mut Vec<u8>, v: &str) {
    ok(rmp::encode::write_str(out, v));
}

/// Append an array header for `n` elements.
pub(crate) fn put_array_len(out: &mut Vec<u8>, n: usize) {
    // Lists are bounded by the frame size far below 2^32; saturating keeps this total.
    ok(rmp::encode::write_array_len(out, u32::try_from(n).unwrap_or(u32::MAX)));
}

/// Append a map header for `n` entries.
pub(crate) fn put_map_len(out: &mut Vec<u8>, n: u32) {
    ok(rmp::encode::write_map_len(out, n));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_every_encoding_and_range_checks() {
        // 5 as fixint, u8, u16, u32, u64, i8, i16, i32, i64: all the same unsigned value.
        let forms: [&[u8]; 9] = [
            &[0x05],
            &[0xcc, 5],
            &[0xcd, 0, 5],
            &[0xce, 0, 0, 0, 5],
            &[0xcf, 0, 0, 0, 0, 0, 0, 0, 5],
            &[0xd0, 5],
            &[0xd1, 0, 5],
            &[0xd2, 0, 0, 0, 5],
            &[0xd3, 0, 0, 0, 0, 0, 0, 0, 5],
        ];
        for f in forms {
            assert_eq!(Reader::new(f).uint::<u8>(), Ok(5), "{f:02x?}");
        }
        assert!(matches!(Reader::new(&[0xff]).uint::<u64>(), Err(ReadError::Invalid { .. })), "-1");
        assert!(matches!(Reader::new(&[0xcd, 1, 0]).uint::<u8>(), Err(ReadError::Invalid { .. })), "256 in a u8");
        assert!(matches!(Reader::new(&[0xc3]).uint::<u8>(), Err(ReadError::Unexpected { .. })), "true");
        assert!(matches!(Reader::new(&[0xcf, 0, 0]).uint::<u64>(), Err(ReadError::Truncated { .. })));
        assert!(matches!(Reader::new(&[]).uint::<u64>(), Err(ReadError::Truncated { .. })));
        assert!(matches!(Reader::new(&[0x01]).bool(), Err(ReadError::Unexpected { .. })), "1 is no bool");
    }

    #[test]
    fn lengths_beyond_the_input_fail_before_anything_is_sized_by_them() {
        // array32 / bin32 / map32 / str32 claiming 4 Gi elements in a 6-byte input.
        let mut r = Reader::new(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0x00]);
        assert!(matches!(r.array_len(), Err(ReadError::Truncated { .. })));
        let mut r = Reader::new(&[0xc6, 0xff, 0xff, 0xff, 0xff, 0x00]);
        assert!(matches!(r.bin(), Err(ReadError::Truncated { .. })));
        let mut r = Reader::new(&[0xdf, 0x00, 0x00, 0x00, 0x01, 0x00]);
        assert!(matches!(r.map_len(), Err(ReadError::Truncated { .. })), "1 entry needs 2 bytes");
        let mut r = Reader::new(&[0xdb, 0xff, 0xff, 0xff, 0xff, 0x00]);
        assert!(matches!(r.str(), Err(ReadError::Truncated { .. })));
        // A header cut inside its length bytes is truncation too, a wrong marker is not.
        assert!(matches!(Reader::new(&[0xdc, 0x00]).array_len(), Err(ReadError::Truncated { .. })));
        assert!(matches!(Reader::new(&[0xc4]).array_len(), Err(ReadError::Unexpected { .. })));
        // Exactly enough bytes is fine.
        let mut r = Reader::new(&[0x92, 0x01, 0x02]);
        assert_eq!(r.array_len(), Ok(2));
        assert_eq!(r.bin_array::<0>().ok(), None, "not a bin");
    }

    #[test]
    fn room_reserved_for_a_claimed_list_is_capped() {
        // A header may claim as many elements as there are bytes left (256 Ki in a full
        // frame); reserving that many 32-byte peers would be 8 MiB for a frame of 256 KiB.
        let cap = crate::limits::MSGPACK_PREALLOC_BYTES;
        assert_eq!(prealloc::<[u8; 32]>(256 * 1024) * 32, cap);
        assert_eq!(prealloc::<u8>(5), 5, "short lists get exactly their room");
        assert_eq!(prealloc::<()>(7), 7, "zero-sized elements do not divide by zero");
    }

    #[test]
    fn writers_use_the_shortest_form() {
        let mut out = Vec::new();
        put_uint(&mut out, 5);
        put_uint(&mut out, 300);
        put_bin(&mut out, &[1, 2]);
        put_array_len(&mut out, 16);
        put_str(&mut out, "P");
        put_nil(&mut out);
        put_bool(&mut out, true);
        assert_eq!(out, [0x05, 0xcd, 0x01, 0x2c, 0xc4, 0x02, 1, 2, 0xdc, 0x00, 0x10, 0xa1, b'P', 0xc0, 0xc3]);
    }
}
