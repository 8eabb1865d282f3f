//! Hand-fed tests of follower multicast (`interest.rs`): the home→leaf filter, hostile
//! interest frames (oversized, flooded, from a non-leaf), forgetting on close, and the leaf
//! sending its set only to homes that announced it, coalesced.

use super::params::*;
use super::sim::{fake_event_at, FakeCrypto};
use super::tests::{drain, hello_nonce, t};
use super::*;
use crate::wire::{DeliveryMode, Gossip, GossipKind, Hello, Interest, FEATURE_INTEREST};

pub(super) fn owner(seed: u8) -> Key32 {
    let mut k = [0u8; 32];
    k[31] = seed;
    Key32(k)
}

pub(super) fn node(seed: u8, role: RoleChoice, bootstrap: Vec<Addr>, delivery: DeliveryMode) -> Overlay {
    let cfg = Config {
        owner: owner(seed),
        delegation: None,
        listen: (role == RoleChoice::Core).then(|| Addr::v4([10, 0, 0, seed], 7000)),
        bootstrap,
        role,
        leaf_slots: LEAF_SLOTS,
        seed: seed as u64,
        delivery,
        directory: crate::overlay::DirectoryMode::Broadcast,
    };
    Overlay::new(cfg, Box::new(FakeCrypto::new([seed; 32])), t(0))
}

/// `peer` connects to `home` on inbound `conn` (full handshake; its nonce announces
/// `features`), and attaches as a leaf if `attach`.
pub(super) fn connect(home: &mut Overlay, peer: &mut Overlay, conn: ConnId, features: u8, attach: bool) {
    home.handle_input(Input::Accepted { conn, remote: Addr::v4([10, 9, conn.0 as u8, 1], 1) }, t(1));
    let nonce = hello_nonce(home);
    let hello = Hello { record: peer.record.clone(), nonce: Hello::tag_nonce(5, features) };
    home.handle_input(Input::Frame { conn, msg: Msg::Hello(Box::new(hello)) }, t(2));
    let sig = peer.crypto.sign(&Hello::auth_hash(nonce, peer.me));
    home.handle_input(Input::Frame { conn, msg: Msg::Auth(sig) }, t(3));
    if attach {
        home.handle_input(Input::Frame { conn, msg: Msg::Attach }, t(4));
        assert!(home.leaves().contains(&peer.me));
    }
    drain(home);
}

fn post(author: Key32, k: u64) -> Msg {
    let (id, body) = fake_event_at(author.0, k, 100, true, super::sim::SIM_UNIX_ORIGIN);
    Msg::Gossip(Gossip { id, round: 1, kind: GossipKind::Event, body })
}

/// Messages `home` sends on `conn` (payloads and IHAVEs, after the IHAVE batch timer).
fn sent_on(home: &mut Overlay, conn: ConnId, at: u64) -> Vec<Msg> {
    let mut out = drain(home);
    home.handle_timeout(t(at + IHAVE_QUIET_MS + IHAVE_QUIET_JITTER_MS + 1));
    out.extend(drain(home));
    out.into_iter()
        .filter_map(|o| match o {
            Output::Send { conn: c, msg } if c == conn => Some(msg),
            _ => None,
        })
        .filter(|m| matches!(m, Msg::Gossip(_) | Msg::IHave(_)))
        .collect()
}

/// A home (1) with a core peer (2) and an attached leaf (3) on connection 30.
fn home_with_leaf() -> (Overlay, Overlay, Overlay) {
    let mut home = node(1, RoleChoice::Core, vec![], DeliveryMode::Auto);
    let mut core = node(2, RoleChoice::Core, vec![], DeliveryMode::Auto);
    let mut leaf = node(3, RoleChoice::Leaf, vec![], DeliveryMode::Follow);
    connect(&mut home, &mut core, ConnId(20), FEATURE_INTEREST, false);
    connect(&mut home, &mut leaf, ConnId(30), FEATURE_INTEREST, true);
    (home, core, leaf)
}

#[test]
fn a_follow_leaf_gets_only_its_followees_and_its_own_owner() {
    let (mut home, ..) = home_with_leaf();
    let (followee, stranger) = (owner(40), owner(41));
    let set = Interest { mode: DeliveryMode::Follow, authors: vec![followee] };
    home.handle_input(Input::Frame { conn: ConnId(30), msg: Msg::Interest(set) }, t(10));
    assert_eq!(home.leaf_interest(NodeId::of_pubkey(&owner(3).0)).map(|(_, a)| a.len()), Some(1));

    home.handle_input(Input::Frame { conn: ConnId(20), msg: post(followee, 1) }, t(20));
    assert_eq!(sent_on(&mut home, ConnId(30), 20).len(), 1, "a followee's post goes to the leaf");
    home.handle_input(Input::Frame { conn: ConnId(20), msg: post(stranger, 2) }, t(1_000));
    assert!(sent_on(&mut home, ConnId(30), 1_000).is_empty(), "neither payload nor IHAVE of a stranger's post");
    assert_eq!(home.stats().leaf_filtered, 1);
    // The leaf's owner's own post (published elsewhere, e.g. from another client's server).
    home.handle_input(Input::Frame { conn: ConnId(20), msg: post(owner(3), 3) }, t(2_000));
    assert_eq!(sent_on(&mut home, ConnId(30), 2_000).len(), 1);
    // An own post of the home's owner: only to leaves that follow it.
    let (id, body) = fake_event_at(owner(1).0, 4, 100, true, super::sim::SIM_UNIX_ORIGIN);
    home.handle_input(Input::Publish { id, body, audience: Audience::of(owner(1), None) }, t(3_000));
    assert!(sent_on(&mut home, ConnId(30), 3_000).is_empty());
}

#[test]
fn a_leafs_new_follows_are_queued_for_backfill_and_pushed_only_to_that_attached_leaf() {
    let (mut home, ..) = home_with_leaf();
    let leaf = NodeId::of_pubkey(&owner(3).0);
    let first = Interest { mode: DeliveryMode::Follow, authors: vec![owner(40)] };
    home.handle_input(Input::Frame { conn: ConnId(30), msg: Msg::Interest(first) }, t(10));
    assert_eq!(home.take_leaf_backfill(), None, "a first set comes with the leaf's own catch-up");
    // An interest frame from the core peer (not a leaf) queues nothing either.
    let fake = Interest { mode: DeliveryMode::Follow, authors: vec![owner(50)] };
    home.handle_input(Input::Frame { conn: ConnId(20), msg: Msg::Interest(fake) }, t(15));
    assert_eq!(home.take_leaf_backfill(), None);
    // The leaf follows 41 and 42 more, and unfollows 40: only the new ones are queued.
    let more = Interest { mode: DeliveryMode::Follow, authors: vec![owner(42), owner(41)] };
    home.handle_input(Input::Frame { conn: ConnId(30), msg: Msg::Interest(more) }, t(20));
    assert_eq!(home.take_leaf_backfill(), Some((leaf, vec![owner(41), owner(42)])));
    assert_eq!(home.take_leaf_backfill(), None);
    // The driver's answer goes to that leaf only, as event gossip; to a node that is not an
    // attached leaf, nothing.
    let Msg::Gossip(g) = post(owner(41), 1) else { unreachable!("post is gossip") };
    home.handle_input(Input::LeafBackfill { leaf, bodies: vec![g.body.clone()] }, t(30));
    let to_leaf = sent_on(&mut home, ConnId(30), 30);
    assert!(matches!(&to_leaf[..], [Msg::Gossip(x)] if x.id == g.id));
    let core = NodeId::of_pubkey(&owner(2).0);
    home.handle_input(Input::LeafBackfill { leaf: core, bodies: vec![g.body.clone()] }, t(40));
    assert!(sent_on(&mut home, ConnId(20), 40).is_empty());
    assert_eq!(home.stats().leaf_backfilled, 1);
}

#[test]
fn without_an_interest_set_or_in_broadcast_mode_a_leaf_gets_everything() {
    let (mut home, ..) = home_with_leaf();
    home.handle_input(Input::Frame { conn: ConnId(20), msg: post(owner(41), 1) }, t(20));
    assert_eq!(sent_on(&mut home, ConnId(30), 20).len(), 1, "an older leaf sends no set");
    let set = Interest { mode: DeliveryMode::Broadcast, authors: vec![owner(40)] };
    home.handle_input(Input::Frame { conn: ConnId(30), msg: Msg::Interest(set) }, t(30));
    home.handle_input(Input::Frame { conn: ConnId(20), msg: post(owner(41), 2) }, t(1_000));
    assert_eq!(sent_on(&mut home, ConnId(30), 1_000).len(), 1);
    // Auto: the home decides by its directory size (2 nodes here: broadcast).
    let set = Interest { mode: DeliveryMode::Auto, authors: vec![owner(40)] };
    home.handle_input(Input::Frame { conn: ConnId(30), msg: Msg::Interest(set) }, t(1_100));
    home.handle_input(Input::Frame { conn: ConnId(20), msg: post(owner(41), 3) }, t(2_000));
    assert_eq!(sent_on(&mut home, ConnId(30), 2_000).len(), 1);
    assert_eq!(home.delivery_active(), DeliveryMode::Broadcast);
}

#[test]
fn an_oversized_interest_set_is_refused_whole_and_the_old_one_kept() {
    let (mut home, ..) = home_with_leaf();
    let leaf = NodeId::of_pubkey(&owner(3).0);
    let ok = Interest { mode: DeliveryMode::Follow, authors: vec![owner(40)] };
    home.handle_input(Input::Frame { conn: ConnId(30), msg: Msg::Interest(ok) }, t(10));
    let huge = Interest { mode: DeliveryMode::Follow, authors: vec![owner(41); MAX_INTEREST_AUTHORS + 1] };
    home.handle_input(Input::Frame { conn: ConnId(30), msg: Msg::Interest(huge) }, t(20));
    assert_eq!(home.stats().interest_dropped, 1);
    assert_eq!(home.leaf_interest(leaf).map(|(_, a)| a.to_vec()), Some(vec![owner(40)]));
    assert!(home.leaves().contains(&leaf), "no ban, no disconnect");
    assert!(!drain(&mut home).iter().any(|o| matches!(o, Output::Close { .. })));
}

#[test]
fn a_flood_of_interest_updates_is_rate_limited() {
    let (mut home, ..) = home_with_leaf();
    let leaf = NodeId::of_pubkey(&owner(3).0);
    let n = INTEREST_UPDATE_BURST + 5;
    for k in 0..n {
        let set = Interest { mode: DeliveryMode::Follow, authors: vec![owner(50 + k as u8)] };
        home.handle_input(Input::Frame { conn: ConnId(30), msg: Msg::Interest(set) }, t(10));
    }
    assert_eq!(home.stats().interest_dropped, 5);
    let last_kept = owner(50 + INTEREST_UPDATE_BURST as u8 - 1);
    assert_eq!(home.leaf_interest(leaf).map(|(_, a)| a.to_vec()), Some(vec![last_kept]), "replaced, not merged");
    let later = Interest { mode: DeliveryMode::Follow, authors: vec![owner(99)] };
    home.handle_input(
        Input::Frame { conn: ConnId(30), msg: Msg::Interest(later) },
        t(10 + INTEREST_UPDATE_INTERVAL_MS),
    );
    assert_eq!(home.leaf_interest(leaf).map(|(_, a)| a.to_vec()), Some(vec![owner(99)]));
}

#[test]
fn interest_from_a_core_peer_is_dropped_and_a_leafs_is_forgotten_on_close() {
    let (mut home, ..) = home_with_leaf();
    let set = Interest { mode: DeliveryMode::Follow, authors: vec![owner(40)] };
    home.handle_input(Input::Frame { conn: ConnId(20), msg: Msg::Interest(set.clone()) }, t(10));
    assert_eq!(home.stats().interest_dropped, 1);
    assert_eq!(home.interest_sizes().1, 0);
    home.handle_input(Input::Frame { conn: ConnId(30), msg: Msg::Interest(set) }, t(11));
    assert_eq!(home.interest_sizes().1, 1);
    home.handle_input(Input::Closed { conn: ConnId(30) }, t(12));
    assert_eq!(home.interest_sizes().1, 0);
}

/// `leaf`'s dial `conn` to `home` (key seed `home_seed`, announcing `home_features`) comes up
/// and completes the handshake from `at` ms on; returns the leaf's `Hello` nonce.
pub(super) fn leaf_handshake(
    leaf: &mut Overlay,
    conn: ConnId,
    home: &Overlay,
    home_seed: u8,
    home_features: u8,
    at: u64,
) -> u64 {
    leaf.handle_input(Input::Connected { conn }, t(at));
    let nonce = hello_nonce(leaf);
    let hello = Hello { record: home.record.clone(), nonce: Hello::tag_nonce(9, home_features) };
    leaf.handle_input(Input::Frame { conn, msg: Msg::Hello(Box::new(hello)) }, t(at + 1));
    let sig = FakeCrypto::new([home_seed; 32]).sign(&Hello::auth_hash(nonce, home.node_id()));
    leaf.handle_input(Input::Frame { conn, msg: Msg::Auth(sig) }, t(at + 2));
    nonce
}

/// A leaf in follow mode attached to `home_features`-announcing home 1; returns it and the
/// connection id, with every output so far drained.
fn attached_leaf(home_features: u8) -> (Overlay, ConnId, Vec<Msg>) {
    let home = node(1, RoleChoice::Core, vec![], DeliveryMode::Auto);
    let mut leaf = node(3, RoleChoice::Leaf, vec![Addr::v4([10, 0, 0, 1], 7000)], DeliveryMode::Follow);
    leaf.handle_input(Input::SetInterest(vec![owner(40), owner(41), owner(40)]), t(0));
    leaf.handle_timeout(t(0));
    let conn = drain(&mut leaf)
        .into_iter()
        .find_map(|o| match o {
            Output::Dial { conn, .. } => Some(conn),
            _ => None,
        })
        .expect("the leaf dials its bootstrap");
    let nonce = leaf_handshake(&mut leaf, conn, &home, 1, home_features, 1);
    assert_ne!(Hello::features(nonce) & FEATURE_INTEREST, 0, "a new build announces it");
    leaf.handle_input(Input::Frame { conn, msg: Msg::AttachAck { ok: true, alternatives: vec![] } }, t(4));
    assert_eq!(leaf.homes(), &[home.node_id()]);
    let sent = drain(&mut leaf)
        .into_iter()
        .filter_map(|o| match o {
            Output::Send { msg, .. } => Some(msg),
            _ => None,
        })
        .collect();
    (leaf, conn, sent)
}

fn interests(msgs: &[Msg]) -> Vec<Interest> {
    msgs.iter()
        .filter_map(|m| match m {
            Msg::Interest(i) => Some(i.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_leaf_never_sends_interest_to_a_home_of_the_previous_build() {
    let (mut leaf, _, sent) = attached_leaf(0);
    assert!(interests(&sent).is_empty(), "an old home would drop the link on an unknown frame");
    leaf.handle_input(Input::SetInterest(vec![owner(42)]), t(100_000));
    leaf.handle_timeout(t(200_000));
    let later: Vec<Msg> = drain(&mut leaf)
        .into_iter()
        .filter_map(|o| match o {
            Output::Send { msg, .. } => Some(msg),
            _ => None,
        })
        .collect();
    assert!(interests(&later).is_empty());
}

#[test]
fn a_leaf_sends_its_set_on_attach_and_coalesces_changes() {
    let (mut leaf, conn, sent) = attached_leaf(FEATURE_INTEREST);
    let got = interests(&sent);
    assert_eq!(got, vec![Interest { mode: DeliveryMode::Follow, authors: vec![owner(40), owner(41)] }]);
    // Two changes (an unfollow, then another) inside the interval: nothing yet, then one frame
    // with the newest set.
    leaf.handle_input(Input::SetInterest(vec![owner(40)]), t(5));
    leaf.handle_input(Input::SetInterest(vec![owner(43)]), t(6));
    let now: Vec<Output> = drain(&mut leaf);
    assert!(!now.iter().any(|o| matches!(o, Output::Send { msg: Msg::Interest(_), .. })));
    leaf.handle_timeout(t(4 + INTEREST_SEND_INTERVAL_MS + TICK_LEAF_MS));
    let later: Vec<Msg> = drain(&mut leaf)
        .into_iter()
        .filter_map(|o| match o {
            Output::Send { conn: c, msg } if c == conn => Some(msg),
            _ => None,
        })
        .collect();
    assert_eq!(interests(&later), vec![Interest { mode: DeliveryMode::Follow, authors: vec![owner(43)] }]);
}

#[test]
fn in_auto_a_leaf_that_follows_nobody_keeps_the_global_view() {
    let (mut home, ..) = home_with_leaf();
    // A home past the auto threshold (the network is large enough for follow delivery).
    home.cfg.delivery = DeliveryMode::Follow;
    let empty = Interest { mode: DeliveryMode::Auto, authors: vec![] };
    home.handle_input(Input::Frame { conn: ConnId(30), msg: Msg::Interest(empty) }, t(10));
    home.handle_input(Input::Frame { conn: ConnId(20), msg: post(owner(41), 1) }, t(20));
    assert_eq!(sent_on(&mut home, ConnId(30), 20).len(), 1, "a newcomer sees everyone's posts");
    // Once the owner follows someone, only followees (and posts naming the owner) come.
    let set = Interest { mode: DeliveryMode::Auto, authors: vec![owner(40)] };
    home.handle_input(Input::Frame { conn: ConnId(30), msg: Msg::Interest(set) }, t(1_000));
    home.handle_input(Input::Frame { conn: ConnId(20), msg: post(owner(41), 2) }, t(2_000));
    assert!(sent_on(&mut home, ConnId(30), 2_000).is_empty(), "a stranger's post is filtered");
    // An explicit `follow` with nobody followed is taken as meant.
    let none = Interest { mode: DeliveryMode::Follow, authors: vec![] };
    home.handle_input(Input::Frame { conn: ConnId(30), msg: Msg::Interest(none) }, t(20_000));
    home.handle_input(Input::Frame { conn: ConnId(20), msg: post(owner(41), 3) }, t(21_000));
    assert!(sent_on(&mut home, ConnId(30), 21_000).is_empty());
}

/// Counts event checks (`verify_event`) while behaving like [`FakeCrypto`].
struct Counting(FakeCrypto, std::rc::Rc<std::cell::Cell<u32>>);

impl Crypto for Counting {
    fn node_key(&self) -> Key32 {
        self.0.node_key()
    }
    fn sign(&mut self, hash: &[u8; 32]) -> crate::wire::Sig {
        self.0.sign(hash)
    }
    fn verify(&mut self, key: &Key32, hash: &[u8; 32], sig: &crate::wire::Sig) -> bool {
        self.0.verify(key, hash, sig)
    }
    fn check_delegation(&mut self, owner: &Key32, node_key: &Key32, delegation: &[u8], unix_now: u64) -> bool {
        self.0.check_delegation(owner, node_key, delegation, unix_now)
    }
    fn verify_event(&mut self, id: &MsgId, body: &[u8], unix_now: u64) -> Result<Checked, Rejected> {
        self.1.set(self.1.get() + 1);
        self.0.verify_event(id, body, unix_now)
    }
    fn event_id(&self, body: &[u8]) -> Option<MsgId> {
        self.0.event_id(body)
    }
}

/// "Verified exactly once": the owner's own post was verified when it was published (the
/// driver hands the overlay a `VerifiedEvent`); the home→leaf filter must not check it again
/// just to learn its author and `p` tags.
#[test]
fn an_own_post_is_not_checked_again_to_filter_it_for_leaves() {
    let checks = std::rc::Rc::new(std::cell::Cell::new(0));
    let cfg = Config {
        owner: owner(1),
        delegation: None,
        listen: Some(Addr::v4([10, 0, 0, 1], 7000)),
        bootstrap: vec![],
        role: RoleChoice::Core,
        leaf_slots: LEAF_SLOTS,
        seed: 1,
        delivery: DeliveryMode::Auto,
        directory: crate::overlay::DirectoryMode::Broadcast,
    };
    let mut home = Overlay::new(cfg, Box::new(Counting(FakeCrypto::new([1; 32]), checks.clone())), t(0));
    let mut leaf = node(3, RoleChoice::Leaf, vec![], DeliveryMode::Follow);
    connect(&mut home, &mut leaf, ConnId(30), FEATURE_INTEREST, true);
    let set = Interest { mode: DeliveryMode::Follow, authors: vec![owner(1)] };
    home.handle_input(Input::Frame { conn: ConnId(30), msg: Msg::Interest(set) }, t(10));
    assert!(home.filters_leaves());
    let (id, body) = fake_event_at(owner(1).0, 4, 100, true, super::sim::SIM_UNIX_ORIGIN);
    checks.set(0);
    home.handle_input(Input::Publish { id, body, audience: Audience::of(owner(1), None) }, t(3_000));
    assert_eq!(sent_on(&mut home, ConnId(30), 3_000).len(), 1, "the leaf follows the home's owner");
    assert_eq!(checks.get(), 0, "event checks of an own post");
}

/// Pushes the transport had no room for (a burst we fan out): every one is announced, in
/// frames as large as a receiver takes, and an announcement that found no room either is
/// announced again (`tests/slow_peer.rs` lost ids both ways: 30-id frames filled the queue's
/// headroom, and the `IHave`s that did not fit were dropped).
#[test]
fn shed_pushes_are_all_announced_in_few_frames_and_a_shed_announcement_is_sent_again() {
    let (mut home, ..) = home_with_leaf();
    let author = owner(40);
    let shed: Vec<Gossip> = (0..3_000)
        .map(|k| match post(author, k) {
            Msg::Gossip(g) => g,
            _ => unreachable!(),
        })
        .collect();
    for g in &shed {
        home.handle_input(Input::Shed { conn: ConnId(30), msg: Msg::Gossip(g.clone()) }, t(10));
    }
    let mut out = drain(&mut home);
    home.handle_timeout(t(10 + IHAVE_LAZY_MS));
    out.extend(drain(&mut home));
    let frames: Vec<Vec<(MsgId, u16)>> = out
        .into_iter()
        .filter_map(|o| match o {
            Output::Send { conn: ConnId(30), msg: Msg::IHave(ids) } => Some(ids),
            _ => None,
        })
        .collect();
    let announced: std::collections::BTreeSet<MsgId> = frames.iter().flatten().map(|(id, _)| *id).collect();
    assert_eq!(announced.len(), shed.len(), "every shed push is announced");
    assert_eq!(frames.len(), shed.len().div_ceil(MAX_IHAVE_BATCH), "in frames of up to MAX_IHAVE_BATCH ids");

    // The transport hands back the first frame (no room for it either): announced again.
    let first = frames[0].clone();
    home.handle_input(Input::Shed { conn: ConnId(30), msg: Msg::IHave(first.clone()) }, t(2_000));
    let mut out = drain(&mut home);
    home.handle_timeout(t(2_000 + IHAVE_LAZY_MS));
    out.extend(drain(&mut home));
    let again: Vec<(MsgId, u16)> = out
        .into_iter()
        .filter_map(|o| match o {
            Output::Send { conn: ConnId(30), msg: Msg::IHave(ids) } => Some(ids),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(again, first);
    assert_eq!(home.stats().ihave_requeued, first.len() as u64);
}
