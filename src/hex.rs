//! Lowercase hex encoding and strict decoding of fixed-size byte arrays.

use std::fmt;

/// Why a hex string is not the expected bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HexError {
    /// The string has the wrong number of characters for the expected byte count.
    Length {
        /// Characters expected (2 × bytes).
        expected: usize,
        /// Characters found.
        found: usize,
    },
    /// A character is not `0-9`, `a-f` or `A-F`.
    Char {
        /// Byte offset of the offending character.
        at: usize,
    },
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexError::Length { expected, found } => {
                write!(f, "expected {expected} hex characters, found {found}")
            }
            HexError::Char { at } => write!(f, "invalid hex character at position {at}"),
        }
    }
}

impl std::error::Error for HexError {}

/// Decodes exactly `N` bytes from `2N` hex characters (either case).
///
/// # Errors
/// [`HexError`] when the length is not `2N` or a character is not hex.
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return Err(HexError::Length { expected: 2 * N, found: b.len() });
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        let hi = nibble(b[2 * i]).ok_or(HexError::Char { at: 2 * i })?;
        let lo = nibble(b[2 * i + 1]).ok_or(HexError::Char { at: 2 * i + 1 })?;
        *byte = (hi << 4) | lo;
    }
    Ok(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Lowercase hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        push_byte(&mut s, *b);
    }
    s
}

/// Appends the two lowercase hex characters of `b` to `s`.
pub fn push_byte(s: &mut String, b: u8) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    s.push(DIGITS[usize::from(b >> 4)] as char);
    s.push(DIGITS[usize::from(b & 0xf)] as char);
}

/// Writes the first `n` bytes of `bytes` as lowercase hex (for short `Display` forms).
pub fn fmt_prefix(f: &mut fmt::Formatter<'_>, bytes: &[u8], n: usize) -> fmt::Result {
    for b in bytes.iter().take(n) {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let b: [u8; 3] = decode_array("00fFa1").expect("valid hex");
        assert_eq!(b, [0x00, 0xff, 0xa1]);
        assert_eq!(encode(&b), "00ffa1");
        assert_eq!(decode_array::<3>("00ff"), Err(HexError::Length { expected: 6, found: 4 }));
        assert_eq!(decode_array::<2>("0g00"), Err(HexError::Char { at: 1 }));
        assert_eq!(decode_array::<1>("é"), Err(HexError::Char { at: 0 }));
    }
}
