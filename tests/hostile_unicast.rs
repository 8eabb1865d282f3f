//! Real processes on loopback, attackers speaking the wire protocol by hand (issue 8, "Tests and
//! figures"): forged acks, forged mail acks and spoofed sync/fetch requests. The victims are raw
//! peers too, so what the server sends them is visible; every outcome is read from state (the
//! frames a victim receives, `/status` counters), never from log text, and every wait is on a
//! condition (a socket read timeout only turns a hang into a failure).

mod common;

use common::cluster::{overlay_addr, publish, status, wait_until};
use common::raw::{now, pair, user, RawPeer};
use common::Node;
use nostrp2p::app::msg::{decode as decode_app, encode as encode_app, AppMsg, Bytes, FetchTarget};
use nostrp2p::app::ring::{RING_THIRD, SUPPORT_SLACK};
use nostrp2p::event::{Event, EventId};
use nostrp2p::limits::{ANSWER_BURST, ANSWER_INTERVAL};
use nostrp2p::overlay::crypto::{Crypto, Rejected, SchnorrCrypto};
use nostrp2p::time::UnixTime;
use nostrp2p::wire::{Body, Key32, Msg, MsgId, NodeId, Role, Routed, Sig};

/// The node id of test user `i`'s server.
fn node_of(i: u8) -> NodeId {
    NodeId::of_pubkey(&user(i).public_key().0)
}

fn sign(secret: [u8; 32], hash: &[u8; 32]) -> Sig {
    SchnorrCrypto::new(secret, |_, _, _| Err(Rejected::Malformed)).expect("node key").sign(hash)
}

/// A unicast from `src` to `dst`, signed with node key `secret` (the real one, or not).
fn routed(src: NodeId, dst: NodeId, msg_id: u64, msg: &AppMsg, secret: [u8; 32]) -> Msg {
    let payload = encode_app(msg);
    let sig = sign(secret, &Routed::signing_hash(src, dst, msg_id, &payload));
    Msg::Routed(Routed { src, dst, msg_id, ttl: 8, hops: 1, attempt: 0, payload: Body::from_slice(&payload), sig })
}

/// A raw core peer for test user `owner` with node key `secret`.
struct Actor {
    peer: RawPeer,
    id: NodeId,
    secret: [u8; 32],
    pings: u32,
}

impl Actor {
    fn connect(a: &Node, owner: u8, secret: [u8; 32]) -> Actor {
        let peer = RawPeer::connect_claiming(overlay_addr(a), Key32(user(owner).public_key().0), secret, Role::Core);
        let mut actor = Actor { peer, id: node_of(owner), secret, pings: 0 };
        actor.settle();
        actor
    }

    /// Its own, genuinely signed, application message to `dst`.
    fn send_app(&mut self, dst: NodeId, msg_id: u64, msg: &AppMsg) {
        self.peer.send(&routed(self.id, dst, msg_id, msg, self.secret));
    }

    /// Every frame the server sent until it has handled all we sent and sent what that caused:
    /// two ping rounds, because a frame's application answers are queued after the `Pong` of
    /// the batch it arrived in, but before the next one.
    fn settle(&mut self) -> Vec<Msg> {
        let mut seen = Vec::new();
        for _ in 0..2 {
            self.pings += 1;
            seen.extend(self.peer.sync_collect(self.pings).expect("the server keeps this link"));
        }
        seen
    }

    /// Reads until a unicast to us whose application message satisfies `want`.
    fn wait_for(&mut self, what: &str, want: impl Fn(&AppMsg) -> bool) -> Routed {
        loop {
            match self.peer.try_read_msg() {
                Some(Msg::Routed(r))
                    if r.dst == self.id && decode_app(r.payload.as_slice()).is_ok_and(|m| want(&m)) =>
                {
                    return r
                }
                Some(_) => {}
                None => panic!("the server closed the link or went silent while we waited for {what}"),
            }
        }
    }

    /// The genuine ack of `r` (signed by our node key over the hash of exactly what was sent).
    fn ack(&mut self, r: &Routed) {
        let of = Routed::signing_hash(r.src, r.dst, r.msg_id, r.payload.as_slice());
        let sig = sign(self.secret, &Routed::ack_hash(&of));
        self.peer.send(&Msg::RoutedAck {
            src: self.id,
            dst: r.src,
            msg_id: r.msg_id,
            hops: r.hops,
            of: MsgId(of),
            sig,
        });
    }
}

/// Application messages carried by unicasts to `dst` among `frames`, with their msg ids.
fn app_msgs(frames: &[Msg], dst: NodeId) -> Vec<(u64, AppMsg)> {
    frames
        .iter()
        .filter_map(|m| match m {
            Msg::Routed(r) if r.dst == dst => decode_app(r.payload.as_slice()).ok().map(|a| (r.msg_id, a)),
            _ => None,
        })
        .collect()
}

fn counter(node: &Node, name: &str) -> u64 {
    status(node)["network"][name].as_u64().unwrap_or(u64::MAX)
}

fn is_event(m: &AppMsg, id: EventId) -> bool {
    matches!(m, AppMsg::Event(e) if e.id == id)
}

/// Guards the ack check of `on_routed_ack` (`src == pending.dst`, the hash of what was sent,
/// the destination's signature; checked failing with the check disabled): a `RoutedAck`
/// "from" the destination, forged by another peer that knows everything about the unicast but
/// the destination's key, must neither stop the resends nor empty the resend queue.
#[test]
fn a_forged_ack_does_not_stop_resends_to_the_real_destination() {
    let (_dirs, a, _b) = pair("forged-ack");
    let a_id = node_of(0);
    let mut dest = Actor::connect(&a, 7, [0x77; 32]);
    let mut attacker = Actor::connect(&a, 8, [0x88; 32]);
    // A's owner mentions D's owner: A unicasts the event to D's node and waits for D's ack.
    let tags = vec![vec!["p".to_owned(), user(7).public_key().to_hex()]];
    let ev = Event::new_signed(&user(0), UnixTime(now()), 1, tags, "for D only".into(), &[9; 32]);
    publish(&a, &ev);
    let first = dest.wait_for("the mention", |m| is_event(m, ev.id));
    wait_until("the mention to wait for its ack", &[&a], || counter(&a, "resend_waiting") >= 1);
    let of = Routed::signing_hash(a_id, dest.id, first.msg_id, first.payload.as_slice());
    let forged = Msg::RoutedAck {
        src: dest.id,
        dst: a_id,
        msg_id: first.msg_id,
        hops: first.hops,
        of: MsgId(of),
        sig: sign(attacker.secret, &Routed::ack_hash(&of)),
    };
    attacker.peer.send(&forged);
    // `/status` is refreshed whenever the overlay handles input, so after these pings it shows
    // the state after the forged ack.
    attacker.settle();
    assert!(counter(&a, "resend_waiting") >= 1, "a forged ack emptied A's resend queue");
    // D never acked: A tries again, and D gets the mention a second time.
    let again = dest.wait_for("a resend of the mention", |m| is_event(m, ev.id));
    // The real ack ends it.
    dest.ack(&again);
    wait_until("A's resend queue to empty after D's own ack", &[&a], || counter(&a, "resend_waiting") == 0);
}

/// True if `a` may hold mail for `v` among the known core nodes `cores` (the ring rule of
/// `app::ring::may_support`: among the first `SUPPORT_SLACK` successors of one of v's points).
fn supports(a: NodeId, v: NodeId, cores: &[NodeId]) -> bool {
    [v.0.wrapping_add(RING_THIRD), v.0.wrapping_add(2 * RING_THIRD)].iter().any(|point| {
        let mut ring: Vec<NodeId> = cores.iter().copied().filter(|c| *c != v).collect();
        ring.sort_by_key(|c| c.0.wrapping_sub(*point));
        ring.iter().take(SUPPORT_SLACK).any(|c| *c == a)
    })
}

/// Guards the origin check of delivered unicasts for mail (`check_routed`, and the mailbox
/// deleting only envelopes held for the authenticated source; checked failing with the origin
/// check disabled): a `MailAck` for every plausible id "from" the victim, signed by the
/// attacker, and the attacker's own genuine one, erase nothing; the victim still gets its mail.
#[test]
fn a_mail_ack_forged_for_a_victim_erases_nothing() {
    let (_dirs, a, _b) = pair("forged-mailack");
    let (a_id, b_id) = (node_of(0), node_of(1));
    let mut attacker = Actor::connect(&a, 8, [0x88; 32]);
    // A victim whose mail A may keep, whether B counts as a core node or not.
    let v = (10..250u8)
        .find(|i| {
            supports(a_id, node_of(*i), &[a_id, b_id, attacker.id, node_of(*i)])
                && supports(a_id, node_of(*i), &[a_id, attacker.id, node_of(*i)])
        })
        .expect("some test user is supported by A");
    let mut victim = Actor::connect(&a, v, [0x7a; 32]);
    let sealed = b"sealed for the victim".to_vec();
    // Depositing mail for another node is what any node may do.
    attacker.send_app(a_id, 1, &AppMsg::Deposit { dst: victim.id.0, sealed: Bytes(sealed.clone()) });
    wait_until("A to keep the envelope", &[&a], || counter(&a, "mailbox_envelopes") == 1);
    let all_ids = AppMsg::MailAck { ids: (0..1_000).collect() };
    attacker.peer.send(&routed(victim.id, a_id, 2, &all_ids, attacker.secret));
    attacker.send_app(a_id, 3, &all_ids);
    attacker.settle();
    assert_eq!(counter(&a, "mailbox_envelopes"), 1, "a mail ack not from the victim erased its mail");
    // The victim asks for its mail and gets the envelope (anything sent before is skipped).
    victim.settle();
    victim.send_app(a_id, 1, &AppMsg::MailReq);
    let mail = victim.wait_for("its mail", |m| matches!(m, AppMsg::Mail { .. }));
    let got = decode_app(mail.payload.as_slice()).expect("decoded above");
    assert!(
        matches!(&got, AppMsg::Mail { envelopes, .. } if envelopes.iter().any(|e| e.sealed.0 == sealed)),
        "{got:?}"
    );
}

/// Guards the origin check (`check_routed`) for requests that draw answers, and the per-source
/// answer budget (`ANSWER_BURST`; each checked failing with its check disabled): sync and fetch
/// requests "from" a victim make A send the victim nothing, and the attacker's own requests are
/// answered at most `ANSWER_BURST` times (plus one per `ANSWER_INTERVAL` elapsed).
#[test]
fn spoofed_sync_requests_draw_nothing_to_the_victim_and_answers_are_rate_limited() {
    let (_dirs, a, _b) = pair("spoofed-sync");
    let a_id = node_of(0);
    let mut victim = Actor::connect(&a, 7, [0x77; 32]);
    let mut attacker = Actor::connect(&a, 8, [0x88; 32]);
    let sync = AppMsg::SyncReq { since: 0, until: now(), limit: 1_000 };
    for k in 0..20 {
        attacker.peer.send(&routed(victim.id, a_id, 100 + k, &sync, attacker.secret));
    }
    let fetch = AppMsg::FetchReq(FetchTarget::Profile(user(0).public_key()));
    attacker.peer.send(&routed(victim.id, a_id, 200, &fetch, attacker.secret));
    attacker.settle();
    let answers_to_victim: Vec<(u64, AppMsg)> = app_msgs(&victim.settle(), victim.id)
        .into_iter()
        .filter(|(_, m)| matches!(m, AppMsg::SyncResp { .. } | AppMsg::FetchResp { .. }))
        .collect();
    assert!(answers_to_victim.is_empty(), "A answered requests the victim never sent: {answers_to_victim:?}");
    // The attacker's own requests: a burst is answered, the rest is not.
    let started = std::time::Instant::now();
    let sent = ANSWER_BURST as u64 + 20;
    for k in 0..sent {
        attacker.send_app(a_id, 1_000 + k, &sync);
    }
    let frames = attacker.settle();
    let mut answered: Vec<u64> = app_msgs(&frames, attacker.id)
        .into_iter()
        .filter(|(_, m)| matches!(m, AppMsg::SyncResp { .. }))
        .map(|(id, _)| id)
        .collect();
    answered.sort_unstable();
    answered.dedup();
    let bound = ANSWER_BURST as u64 + started.elapsed().as_secs() / ANSWER_INTERVAL.as_secs().max(1) + 1;
    eprintln!("{sent} sync requests from one source: {} answered (bound {bound})", answered.len());
    assert!(!answered.is_empty(), "no answer at all: the test is not reaching the answer path");
    assert!(answered.len() as u64 <= bound, "{} answers to one source (bound {bound})", answered.len());
}
