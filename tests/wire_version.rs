//! Real processes on loopback: a peer of the previous protocol version is refused visibly
//! (log + `/status`), not split off silently. Every wait is bounded polling on state.

mod common;

use std::io::Write;
use std::net::TcpStream;

use common::cluster::{overlay_addr, start_node, status, wait_until};
use common::raw::user;
use common::TempDir;

/// A frame of protocol 2 (the build before the id-once `Gossip`): a `Ping(7)`, byte for byte
/// as that build wrote it (`tests/vectors/wire-v2.txt` of that build).
const V2_PING: [u8; 9] = [0, 0, 0, 5, 2, 0x81, 0xa1, 0x50, 0x07];

#[test]
fn a_peer_of_the_previous_protocol_is_named_in_status_and_the_log() {
    let dir = TempDir::new("udp-v2");
    let a = start_node(&user(0).public_key().to_hex(), &dir, None);
    assert_eq!(status(&a)["network"]["transport"]["protocol"], 3);
    let mut old = TcpStream::connect(overlay_addr(&a)).expect("connect");
    old.write_all(&V2_PING).expect("send");
    wait_until("the node to count the old peer", &[&a], || {
        status(&a)["network"]["transport"]["other_protocol_peers"].as_u64() >= Some(1)
    });
    assert_eq!(status(&a)["network"]["transport"]["other_protocol"], 2);
    wait_until("the log to say what to do", &[&a], || a.log_text().contains("speaks protocol 2, we speak 3"));
}
