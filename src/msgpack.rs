//! One MessagePack decoder for the whole crate.
//!
//! `rmp_serde` compiles every type's deserializer once per reader type: `from_slice` (a
//! borrowing reader) and `from_read` (a `Read` reader) each got a copy of every `Deserialize`
//! reachable from both (the node record, events inside app messages...), ≈ 5–20 KiB each.
//! Decoding everything through the same reader type keeps one copy (binary size matters on a
//! phone; see README "Benchmarks"). All decoded types own their data (`DeserializeOwned`).

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
