//! A bounded memo of parsed public keys, so an author's key costs its square root once, not
//! once per event (`Event::verify` asks here).
//!
//! Why a thread-local and not a field: parsing is a pure function of 32 bytes, so the memo
//! changes no result, only its cost, and every caller of `Event::verify` (overlay, HTTP,
//! relay) gets it without threading state through them (the `secp256k1` crate keeps its
//! context the same way). Bounded by [`PARSED_KEY_CACHE`]: a fixed array of two-way sets,
//! the set chosen by the key's first bytes. Keys that collide (an attacker can grind them)
//! only evict each other, costing a parse as if there were no memo; a lookup always compares
//! all 32 bytes, so it never answers with another key's point. Off-curve keys are not kept.

use std::cell::RefCell;

use secp256k1::XOnlyPublicKey;

use super::{KeyError, PublicKey};
use crate::limits::PARSED_KEY_CACHE;

/// Ways per set (the most recently used first).
const WAYS: usize = 2;
/// Sets in the memo.
const SETS: usize = PARSED_KEY_CACHE / WAYS;

type Slot = Option<([u8; 32], XOnlyPublicKey)>;

/// The memo: `SETS` sets of `WAYS` slots.
struct Parsed {
    sets: Box<[[Slot; WAYS]]>,
}

impl Parsed {
    fn new() -> Parsed {
        Parsed { sets: vec![[None; WAYS]; SETS].into_boxed_slice() }
    }

    fn get_or_parse(&mut self, key: &PublicKey) -> Result<XOnlyPublicKey, KeyError> {
        let Some(set) = self.sets.get_mut(set_of(&key.0)) else { return key.to_xonly() };
        for way in 0..WAYS {
            if let Some((k, point)) = set[way] {
                if k == key.0 {
                    set[..=way].rotate_right(1); // most recently used first
                    return Ok(point);
                }
            }
        }
        let point = key.to_xonly()?;
        set.rotate_right(1); // the least recently used slot falls out
        set[0] = Some((key.0, point));
        Ok(point)
    }
}

/// The set of a key: its first two bytes (x coordinates of honest keys are uniform).
fn set_of(key: &[u8; 32]) -> usize {
    usize::from(u16::from_le_bytes([key[0], key[1]])) % SETS
}

thread_local! {
    static PARSED: RefCell<Option<Parsed>> = const { RefCell::new(None) };
}

/// `key` as a curve point, parsed at most once while it stays among this thread's
/// [`PARSED_KEY_CACHE`] most recently used keys.
///
/// # Errors
/// [`KeyError::NotOnCurve`] when the 32 bytes are not an x coordinate on secp256k1.
pub fn parsed(key: &PublicKey) -> Result<XOnlyPublicKey, KeyError> {
    PARSED
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut memo) => memo.get_or_insert_with(Parsed::new).get_or_parse(key),
            Err(_) => key.to_xonly(),
        })
        .unwrap_or_else(|_| key.to_xonly())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KEY_PARSES;

    fn parses() -> u64 {
        KEY_PARSES.with(|c| c.get())
    }

    /// Distinct on-curve keys in one set: the same first two bytes, the rest varied until the
    /// bytes are an x coordinate on the curve (about every second try is).
    fn colliding_keys(n: usize) -> Vec<PublicKey> {
        (1u64..)
            .map(|i| {
                let mut x = [0x33; 32];
                x[8..16].copy_from_slice(&i.to_be_bytes());
                PublicKey(x)
            })
            .filter(|k| k.to_xonly().is_ok())
            .take(n)
            .collect()
    }

    /// Three keys in one two-way set: each lookup answers with its own point (never a
    /// neighbour's), and the evicted one is parsed again rather than mistaken.
    #[test]
    fn keys_sharing_a_set_never_answer_for_each_other() {
        let keys = colliding_keys(WAYS + 1);
        for _ in 0..3 {
            for k in &keys {
                let got = parsed(k).expect("on the curve");
                assert_eq!(got.to_byte_array(), k.0);
            }
        }
        // The two most recent stay: asking for them again parses nothing.
        let before = parses();
        for k in &keys[1..] {
            assert_eq!(parsed(k).expect("on the curve").to_byte_array(), k.0);
        }
        assert_eq!(parses(), before);
    }

    /// A key that is not on the curve is refused every time and never takes a slot.
    #[test]
    fn an_off_curve_key_is_refused_every_time_and_not_kept() {
        let mut bad = PublicKey([0xff; 32]); // x ≥ p: no point
        assert_eq!(parsed(&bad), Err(KeyError::NotOnCurve));
        let before = parses();
        assert_eq!(parsed(&bad), Err(KeyError::NotOnCurve));
        assert_eq!(parses(), before + 1, "refused keys are parsed (and refused) again");
        bad.0[31] = 0xfe;
        assert_eq!(parsed(&bad), Err(KeyError::NotOnCurve));
    }

    /// A flood of fresh keys through one set evicts the honest key in it; afterwards the
    /// honest key is parsed once and kept again (the flood cost parses, nothing else).
    #[test]
    fn a_flood_of_colliding_keys_only_evicts() {
        let keys = colliding_keys(WAYS + 6);
        let (honest, flood) = keys.split_at(1);
        parsed(&honest[0]).expect("on the curve");
        for k in flood {
            parsed(k).expect("on the curve");
        }
        let before = parses();
        parsed(&honest[0]).expect("on the curve");
        parsed(&honest[0]).expect("on the curve");
        assert_eq!(parses(), before + 1);
    }
}
