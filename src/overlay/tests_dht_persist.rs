//! The ring record file (`dht_persist.rs`) against damaged and hostile files: truncated at
//! every length, every byte flipped, oversized, over its bounds with a valid checksum, and
//! validly framed records that are forged, expired or the node's own. Nothing panics, nothing
//! unverified enters the directory.

use super::dht_persist::{decode_ring_file, encode_ring_file, RingFileError, RING_FILE_MAGIC};
use super::params::*;
use super::tests::{drain, t};
use super::tests_dht::{connect, core_in};
use super::*;
use crate::wire::{FEATURE_INTEREST, FEATURE_RING};
use sha2::{Digest, Sha256};

const RING: u8 = FEATURE_INTEREST | FEATURE_RING;

fn body(rec: &NodeRecord) -> Body {
    Body::from_slice(&rmp_serde::to_vec(rec).expect("encodes"))
}

/// Host 10 with ring peer 11: with two cores, host 10 holds every key. Records of cores 30
/// and 31 are stored at it by 11.
fn holder_with_records() -> (Overlay, Vec<Overlay>) {
    let mut host = core_in(10, DirectoryMode::Ring);
    let mut p = core_in(11, DirectoryMode::Ring);
    connect(&mut host, &mut p, ConnId(20), RING);
    let others: Vec<Overlay> = [30, 31].into_iter().map(|s| core_in(s, DirectoryMode::Ring)).collect();
    let bodies = others.iter().map(|o| body(&o.record)).collect();
    host.handle_input(Input::Frame { conn: ConnId(20), msg: Msg::Store(bodies) }, t(100));
    drain(&mut host);
    for o in &others {
        assert!(host.dir.get(o.me).is_some(), "stored at the holder");
    }
    (host, others)
}

/// `payload` (count and records) framed with magic and a valid checksum.
fn framed(payload: &[u8]) -> Vec<u8> {
    let mut out = RING_FILE_MAGIC.to_vec();
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

#[test]
fn held_records_come_back_after_a_restart_and_an_unchanged_set_is_not_rewritten() {
    let (mut host, others) = holder_with_records();
    let (file, digest) = host.ring_snapshot().expect("a first snapshot");
    assert!(host.ring_snapshot().is_some(), "not saved yet: offered again");
    host.ring_saved(digest);
    assert!(host.ring_snapshot().is_none(), "nothing changed: no rewrite");
    // The restarted node: same key, empty directory.
    let mut again = core_in(10, DirectoryMode::Ring);
    let r = again.ring_restore(&file).expect("a valid file");
    assert_eq!((r.kept, r.dropped), (others.len() + 1, 0), "30, 31 and 11 (held too) are back");
    for o in &others {
        assert_eq!(again.dir.get(o.me).map(|e| e.seq), Some(o.record.seq));
    }
    // A broadcast-directory node takes nothing from a ring file.
    let mut broadcast = core_in(10, DirectoryMode::Broadcast);
    let before = broadcast.directory_len();
    let r = broadcast.ring_restore(&file).expect("a valid file");
    assert_eq!(r.kept, 0);
    assert_eq!(broadcast.directory_len(), before);
}

#[test]
fn a_truncated_or_flipped_file_is_rejected_whole_without_a_panic() {
    let (host, _others) = holder_with_records();
    let (file, _) = host.ring_snapshot().expect("snapshot");
    assert!(decode_ring_file(&file).is_ok());
    for cut in 0..file.len() {
        let got = decode_ring_file(&file[..cut]);
        assert!(got.is_err(), "cut at {cut} of {} accepted", file.len());
    }
    let mut longer = file.clone();
    longer.push(0);
    assert_eq!(decode_ring_file(&longer), Err(RingFileError::Checksum));
    for i in 0..file.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = file.clone();
            bad[i] ^= bit;
            let got = decode_ring_file(&bad);
            assert!(matches!(got, Err(RingFileError::Magic | RingFileError::Checksum)), "byte {i}: {got:?}");
            let mut fresh = core_in(10, DirectoryMode::Ring);
            let before = fresh.directory_len();
            assert!(fresh.ring_restore(&bad).is_err());
            assert_eq!(fresh.directory_len(), before, "nothing taken from a damaged file");
        }
    }
}

#[test]
fn oversized_files_and_counts_or_lengths_over_their_bounds_are_rejected() {
    let huge = vec![0u8; RING_FILE_MAX_BYTES + 1];
    assert_eq!(decode_ring_file(&huge), Err(RingFileError::TooLarge(RING_FILE_MAX_BYTES + 1)));
    // A valid checksum does not make a bound-breaking file acceptable.
    let count = (RING_PERSIST_CAP as u32 + 1).to_le_bytes();
    assert_eq!(decode_ring_file(&framed(&count)), Err(RingFileError::Bound));
    let mut one_long = 1u32.to_le_bytes().to_vec();
    one_long.extend_from_slice(&(RING_FILE_RECORD_MAX_BYTES as u32 + 1).to_le_bytes());
    one_long.extend(std::iter::repeat_n(7u8, RING_FILE_RECORD_MAX_BYTES + 1));
    assert_eq!(decode_ring_file(&framed(&one_long)), Err(RingFileError::Bound));
    // A count promising more records than the file has.
    let mut short = 2u32.to_le_bytes().to_vec();
    short.extend_from_slice(&1u32.to_le_bytes());
    short.push(9);
    assert_eq!(decode_ring_file(&framed(&short)), Err(RingFileError::Truncated));
    // Writing never exceeds the cap.
    let many = vec![Body::from_slice(b"r"); RING_PERSIST_CAP + 5];
    assert_eq!(decode_ring_file(&encode_ring_file(&many)).map(|v| v.len()), Ok(RING_PERSIST_CAP));
}

#[test]
fn forged_expired_garbage_and_own_records_in_a_well_framed_file_are_dropped() {
    let mut victim = core_in(30, DirectoryMode::Ring);
    let mut liar = core_in(31, DirectoryMode::Ring);
    // 30's record re-signed by 31's key: the wrong key for 30's node key.
    let mut forged = victim.record.clone();
    forged.seq += 1;
    forged.sig = liar.crypto.sign(&forged.signing_hash());
    // 30's record changed after signing.
    let mut altered = victim.record.clone();
    altered.addr = Some(Addr::v4([6, 6, 6, 6], 6));
    let mut host = core_in(10, DirectoryMode::Ring);
    // Validly signed but expired before the host's clock.
    let mut expired = liar.record.clone();
    expired.expires = host.unix_now() - 1;
    expired.sig = liar.crypto.sign(&expired.signing_hash());
    let own = host.record.clone();
    let file = encode_ring_file(&[
        body(&forged),
        body(&altered),
        body(&expired),
        body(&own),
        Body::from_slice(b"not a record"),
    ]);
    let before = host.directory_len();
    let r = host.ring_restore(&file).expect("well framed");
    assert_eq!((r.kept, r.dropped), (0, 5));
    assert_eq!(host.directory_len(), before);
    assert!(host.dir.get(victim.me).is_none() && host.dir.get(liar.me).is_none());
    // The genuine record in the same kind of file is taken.
    let r = host.ring_restore(&encode_ring_file(&[body(&victim.record)])).expect("well framed");
    assert_eq!(r.kept, 1);
    let _ = (&mut victim, &mut liar);
}
