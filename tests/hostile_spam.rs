//! Real processes on loopback, an attacker speaking the wire protocol (issue 8 items 3 and 5):
//! events dated at and beyond the edge of the time window never cost anyone their link; a spam
//! flood of valid posts from fresh keys, pushed over a raw connection into a real server, is
//! contained at that server (it relays at most its entry admission budget onward), and the
//! honest server connected to it is neither banned nor starved of honest posts.
//! Every wait is bounded polling on a condition; a socket read timeout only turns a hang into
//! a failure.

mod common;

use std::time::Instant;

use common::cluster::{ids, overlay_addr, peers, publish, wait_until};
use common::raw::{now, pair, user, RawPeer};
use nostrp2p::event::Event;
use nostrp2p::hex;
use nostrp2p::keys::SecretKey;
use nostrp2p::overlay::params::{INJECT_BURST, INJECT_PER_S};
use nostrp2p::time::UnixTime;
use nostrp2p::wire::{Body, Gossip, GossipKind, Msg, MsgId};

#[test]
fn a_fresh_key_flood_is_contained_at_its_entry_and_the_honest_neighbour_is_not_banned() {
    let (_dirs, entry, honest) = pair("spam");
    let boot = overlay_addr(&entry);

    let mut attacker = RawPeer::connect(boot, &user(9), [0x42; 32]);
    attacker.sync(1);
    // 300 valid posts, each from a key nobody has seen, as fast as the socket takes them.
    let started = Instant::now();
    let mut spam = Vec::new();
    for k in 0..300u64 {
        let mut secret = [0x33; 32];
        secret[..8].copy_from_slice(&(k + 1).to_be_bytes());
        let key = SecretKey::from_bytes(secret).expect("valid key");
        let ev = Event::new_signed(&key, UnixTime(now()), 1, vec![], format!("spam {k}"), &[k as u8; 32]);
        let body = Body::from_slice(&nostrp2p::event::packed::encode(&ev));
        spam.push(hex::encode(&ev.id.0));
        attacker.send(&Msg::Gossip(Gossip { id: MsgId(ev.id.0), round: 1, kind: GossipKind::Event, body }));
    }
    attacker.sync(2);
    let secs = started.elapsed().as_secs() + 1;

    // An honest post published after the flood reaches the honest server behind the spam it
    // was let through (one ordered link), so then the count is final.
    let post = Event::new_signed(&user(0), UnixTime(now()), 1, vec![], "honest".into(), &[1; 32]);
    publish(&entry, &post);
    let post_id = hex::encode(&post.id.0);
    wait_until("the honest post to reach the honest server", &[&entry, &honest], || ids(&honest).contains(&post_id));

    let relayed = ids(&honest).iter().filter(|id| spam.contains(id)).count();
    let budget = (INJECT_BURST + INJECT_PER_S * secs) as usize;
    eprintln!("flood of {} fresh-key posts in {secs} s: {relayed} relayed onward (budget {budget})", spam.len());
    assert!(relayed <= budget, "{relayed} spam posts went past the entry (budget {budget})");
    assert!(relayed > 0, "the entry relayed nothing at all: the admission budget is not what this test thinks");
    assert!(peers(&honest) >= 1, "the honest server lost its link to the entry");
    // A post from the honest side still gets through the entry: nobody was banned.
    let reply = Event::new_signed(&user(1), UnixTime(now()), 1, vec![], "still here".into(), &[2; 32]);
    publish(&honest, &reply);
    let reply_id = hex::encode(&reply.id.0);
    wait_until("the honest server's post to reach the entry", &[&entry, &honest], || ids(&entry).contains(&reply_id));
}

#[test]
fn future_dated_events_are_held_or_dropped_and_ban_nobody() {
    let (_dirs, entry, honest) = pair("future");
    let boot = overlay_addr(&entry);
    // The attacker posts as its own owner (so only the time window matters): one event at the
    // very edge of a correct clock's window, one 20 min ahead (held), one 3 h ahead (dropped).
    let mut attacker = RawPeer::connect(boot, &user(9), [0x43; 32]);
    let mut edge = None;
    for (k, ahead) in [(0u8, 15 * 60 - 1), (1, 20 * 60), (2, 3 * 3_600)] {
        let ev =
            Event::new_signed(&user(9), UnixTime(now() + ahead), 1, vec![], format!("from the future {k}"), &[k; 32]);
        let body = Body::from_slice(&nostrp2p::event::packed::encode(&ev));
        attacker.send(&Msg::Gossip(Gossip { id: MsgId(ev.id.0), round: 1, kind: GossipKind::Event, body }));
        if k == 0 {
            edge = Some(hex::encode(&ev.id.0));
        }
    }
    // Still connected: the entry answers a ping after all three (a ban would close the link).
    attacker.sync(7);
    let edge = edge.expect("edge event");
    wait_until("the edge-of-window event to reach the honest server", &[&entry, &honest], || {
        ids(&honest).contains(&edge)
    });
    let post = Event::new_signed(&user(1), UnixTime(now()), 1, vec![], "honest".into(), &[3; 32]);
    publish(&honest, &post);
    let id = hex::encode(&post.id.0);
    wait_until("an honest post to cross the entry", &[&entry, &honest], || ids(&entry).contains(&id));
    attacker.sync(8);
}
