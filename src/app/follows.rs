//! The owner's followee set, derived from their newest follow list (kind 3, NIP-02), which
//! stays on the owner's node (`classify`): what follower multicast subscribes to
//! (docs/scaling.md "Delivery"). A pure function of the event.
//!
//! Bound: at most [`MAX_FOLLOWEES`] keys (32 B each: 32 KB), the first ones in tag order;
//! `p` values that are not 64-hex keys are skipped; duplicates are kept once.

use crate::event::{Event, KIND_FOLLOW_LIST};
use crate::keys::PublicKey;
use crate::limits::MAX_FOLLOWEES;

/// The followees named by `list` (a kind 3 event; anything else follows nobody).
pub fn followees(list: &Event) -> Vec<PublicKey> {
    if list.kind != KIND_FOLLOW_LIST {
        return Vec::new();
    }
    let mut out: Vec<PublicKey> = Vec::new();
    for v in list.tag_values("p") {
        if out.len() >= MAX_FOLLOWEES {
            break;
        }
        if let Ok(k) = crate::hex::decode_array::<32>(v) {
            let k = PublicKey(k);
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(kind: u16, ps: &[String]) -> Event {
        let mut ev = crate::testkit::fixture("E1");
        ev.kind = kind;
        ev.tags = ps.iter().map(|p| vec!["p".to_string(), p.clone()]).collect();
        ev
    }

    #[test]
    fn followees_are_the_valid_distinct_p_tags_bounded() {
        let a = "aa".repeat(32);
        let b = "bb".repeat(32);
        let got = followees(&list(3, &[a.clone(), "nothex".into(), b.clone(), a.clone(), "ab".into()]));
        assert_eq!(got, vec![PublicKey([0xaa; 32]), PublicKey([0xbb; 32])]);
        assert!(followees(&list(1, std::slice::from_ref(&a))).is_empty(), "only kind 3 is a follow list");
        let many: Vec<String> = (0..MAX_FOLLOWEES + 10).map(|i| format!("{:064x}", i + 1)).collect();
        let got = followees(&list(3, &many));
        assert_eq!(got.len(), MAX_FOLLOWEES);
        assert_eq!(got[0], PublicKey(crate::hex::decode_array::<32>(&many[0]).expect("hex")));
    }
}
