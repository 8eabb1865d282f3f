//! Whole-application flows over the in-process `Net`: routing per kind, receiving rules,
//! offline delivery (resend, support servers, restart), catch-up, fetches, and privacy.

use super::*;
use crate::app::answer::{answer_fetch, answer_sync};
use crate::app::msg::{encode, AppMsg};
use crate::app::ring::support_servers;

fn d_secret() -> SecretKey {
    SecretKey::from_bytes([0x11; 32]).expect("valid")
}
fn e_secret() -> SecretKey {
    SecretKey::from_bytes([0x22; 32]).expect("valid")
}

fn abc() -> Net {
    Net::new(&[(pk_a(), 1), (pk_b(), 2), (pk_c(), 3)])
}

fn abcde() -> Net {
    Net::new(&[(pk_a(), 1), (pk_b(), 2), (pk_c(), 3), (d_secret().public_key(), 4), (e_secret().public_key(), 5)])
}

fn holders(net: &Net, ev: &Event) -> Vec<PublicKey> {
    [pk_a(), pk_b(), pk_c()].into_iter().filter(|pk| net.node(pk).store.has(&ev.id)).collect()
}

#[test]
fn every_kind_reaches_exactly_the_nodes_of_the_table() {
    let mut net = abc();
    let rows: [(&str, PublicKey, Vec<PublicKey>); 10] = [
        ("E1", pk_a(), vec![pk_a(), pk_b(), pk_c()]),
        ("E2", pk_b(), vec![pk_a(), pk_b()]),
        ("E3", pk_b(), vec![pk_a(), pk_b()]),
        ("E4", pk_a(), vec![pk_a(), pk_b(), pk_c()]),
        ("E5", pk_b(), vec![pk_b(), pk_c()]),
        ("E6", pk_b(), vec![pk_a(), pk_b(), pk_c()]),
        ("E7", pk_c(), vec![pk_a(), pk_b(), pk_c()]),
        ("E8", pk_a(), vec![pk_a()]),
        ("E14", pk_b(), vec![pk_a(), pk_b(), pk_c()]),
        ("E15", pk_a(), vec![pk_a(), pk_b(), pk_c()]),
    ];
    for (name, author, _) in &rows {
        net.publish(author, verified(name));
    }
    for (name, _, expected) in &rows {
        assert_eq!(&holders(&net, &fixture(name)), expected, "{name}");
    }
    assert!(net.node(&pk_b()).app.resend().is_empty(), "delivered replies leave the queue");
}

#[test]
fn under_follower_multicast_a_repost_or_quote_reaches_the_quoted_author_like_a_reply() {
    // Broadcasts reach nobody here (follow mode, nobody follows the reposters): B's repost
    // (E6) and C's quote repost (E7) of A's post still reach A's node, and nobody else's.
    let mut net = abc();
    net.dir.follow = true;
    net.publish(&pk_b(), verified("E6"));
    net.publish(&pk_c(), verified("E7"));
    net.publish(&pk_a(), verified("E1"));
    assert_eq!(holders(&net, &fixture("E6")), vec![pk_a(), pk_b()]);
    assert_eq!(holders(&net, &fixture("E7")), vec![pk_a(), pk_c()]);
    assert_eq!(holders(&net, &fixture("E1")), vec![pk_a()], "a plain post is not unicast");
    assert!(net.node(&pk_b()).app.resend().is_empty() && net.node(&pk_c()).app.resend().is_empty());
    // With every broadcast reaching everyone, no extra copy is sent.
    let mut net = abc();
    net.publish(&pk_b(), verified("E6"));
    assert!(net.node(&pk_a()).received.is_empty(), "a unicast copy under broadcast delivery");
    assert_eq!(holders(&net, &fixture("E6")), vec![pk_a(), pk_b(), pk_c()]);
}

#[test]
fn an_offline_quoted_author_gets_the_quote_from_its_support_servers() {
    let mut net = abcde();
    net.dir.follow = true;
    net.set_online(&pk_a(), false);
    net.publish(&pk_c(), verified("E7"));
    assert!(!net.node(&pk_a()).store.has(&fixture("E7").id));
    net.set_online(&pk_c(), false);
    net.set_online(&pk_a(), true);
    net.input(pk_a().node_id(), Input::Joined);
    assert!(net.node(&pk_a()).store.has(&fixture("E7").id), "A got the quote while C is offline");
}

#[test]
fn a_reply_arriving_by_broadcast_is_not_kept() {
    let mut net = abc();
    net.input(pk_c().node_id(), Input::Broadcast(verified("E2")));
    net.input(pk_c().node_id(), Input::Broadcast(verified("E8")));
    assert!(net.node(&pk_c()).store.events.is_empty());
    assert_eq!(net.node(&pk_c()).app.stats().refused_events, 2);
}

#[test]
fn a_unicast_event_is_kept_only_by_a_recipient() {
    let mut net = abc();
    let to_a = |name: &str| Input::Unicast { src: pk_b().node_id(), payload: encode(&AppMsg::Event(fixture(name))) };
    net.input(pk_a().node_id(), to_a("E5"));
    net.input(pk_a().node_id(), to_a("E1"));
    net.input(pk_a().node_id(), to_a("E9"));
    net.input(pk_a().node_id(), Input::Unicast { src: pk_b().node_id(), payload: vec![0xc1, 0x00] });
    let a = net.node(&pk_a());
    assert!(a.store.events.is_empty());
    assert_eq!((a.app.stats().refused_events, a.app.stats().invalid_events, a.app.stats().malformed), (2, 1, 1));
    net.input(pk_a().node_id(), to_a("E2"));
    assert!(net.node(&pk_a()).store.has(&fixture("E2").id));
}

#[test]
fn an_offline_recipient_gets_a_reply_from_its_support_servers() {
    let mut net = abcde();
    let supporters = support_servers(&Ctx { me: pk_b().node_id(), dir: &net.dir }, pk_a().node_id());
    assert_eq!(supporters.len(), 2);
    net.set_online(&pk_a(), false);
    net.publish(&pk_b(), verified("E2"));
    assert!(!net.node(&pk_a()).store.has(&fixture("E2").id));
    let kept: usize = supporters.iter().map(|s| net.nodes[s].app.mailbox().count_for(pk_a().node_id())).sum();
    assert_eq!(kept, 2, "one sealed copy at each support server");
    // B goes away too; A comes back and asks its support servers.
    net.set_online(&pk_b(), false);
    net.set_online(&pk_a(), true);
    net.input(pk_a().node_id(), Input::Joined);
    assert!(net.node(&pk_a()).store.has(&fixture("E2").id), "A got the reply while B is offline");
    for s in supporters.iter().filter(|s| **s != pk_b().node_id()) {
        assert_eq!(net.nodes[s].app.mailbox().count_for(pk_a().node_id()), 0, "acked mail is deleted");
    }
}

#[test]
fn privacy_support_servers_and_bystanders_never_see_a_reply_or_a_like() {
    let mut net = abcde();
    net.set_online(&pk_a(), false);
    net.publish(&pk_b(), verified("E2"));
    net.publish(&pk_b(), verified("E3"));
    net.set_online(&pk_a(), true);
    net.input(pk_a().node_id(), Input::Joined);
    let (reply, like) = (fixture("E2"), fixture("E3"));
    for (id, n) in &net.nodes {
        if *id == pk_a().node_id() || *id == pk_b().node_id() {
            continue;
        }
        assert!(!n.store.has(&reply.id) && !n.store.has(&like.id), "node {id} stored a private event");
        for bytes in n.received.iter().chain([&n.app.snapshot_mailbox(), &n.app.snapshot_outbox()]) {
            assert!(!contains(bytes, reply.content.as_bytes()), "node {id} saw the reply's content");
            assert!(!contains(bytes, &reply.id.0[..8]) && !contains(bytes, &like.id.0[..8]), "node {id} saw an id");
        }
    }
    assert!(net.node(&pk_a()).store.has(&like.id));
}

#[test]
fn a_reply_is_delivered_directly_when_the_recipient_is_seen_again() {
    let mut net = abc();
    net.set_online(&pk_a(), false);
    net.publish(&pk_b(), verified("E2"));
    assert_eq!(net.node(&pk_b()).app.resend().len(), 1);
    net.set_online(&pk_a(), true);
    net.now = UnixTime(NOW.0 + 20);
    net.input(pk_b().node_id(), Input::NodeUp(pk_a().node_id()));
    assert!(net.node(&pk_a()).store.has(&fixture("E2").id));
    assert!(net.node(&pk_b()).app.resend().is_empty());
}

#[test]
fn the_resend_queue_retries_by_itself_and_survives_a_restart() {
    let mut net = abc();
    net.set_online(&pk_a(), false);
    net.publish(&pk_b(), verified("E2"));
    net.advance_to(UnixTime(NOW.0 + 3 * 3600));
    let b = net.node(&pk_b());
    let failures = b.app.resend().get(&(pk_a().node_id(), fixture("E2").id)).expect("queued").failures;
    assert!((7..=9).contains(&failures), "retried with backoff: {failures}");
    assert!(b.app.outbox_dirty());
    // Restart B from its snapshot, then A returns.
    let snap = b.app.snapshot_outbox();
    let mut fresh = App::new(AppConfig { owner: pk_b(), node_secret: node_secret(2), seed: [42; 32] });
    fresh.restore_outbox(&snap).expect("restores");
    assert_eq!(fresh.resend().len(), 1);
    assert!(fresh.restore_outbox(b"junk").is_err());
    net.nodes.get_mut(&pk_b().node_id()).expect("B").app = fresh;
    net.set_online(&pk_a(), true);
    net.input(pk_b().node_id(), Input::Joined);
    assert!(net.node(&pk_a()).store.has(&fixture("E2").id));
}

#[test]
fn a_node_off_for_an_hour_catches_up_on_the_posts_of_that_hour_only() {
    let mut net = abc();
    let b = user(B_SECRET);
    let t0 = NOW.0 - 2 * 3600;
    net.now = UnixTime(t0);
    net.publish(&pk_b(), signed(&b, t0, 1, &[], "before"));
    net.set_online(&pk_c(), false);
    let mut missed = Vec::new();
    for i in 1..=6 {
        net.now = UnixTime(t0 + i * 600);
        let post = signed(&b, net.now.0, 1, &[], &format!("missed {i}"));
        missed.push(post.id);
        net.publish(&pk_b(), post);
    }
    let reply = signed(&b, t0 + 1000, 1, &[&["p", &pk_a().to_hex()]], "private to A");
    net.publish(&pk_b(), reply.clone());
    net.now = UnixTime(t0 + 3700);
    net.set_online(&pk_c(), true);
    net.input(pk_c().node_id(), Input::Joined);
    let c = net.node(&pk_c());
    for id in &missed {
        assert!(c.store.has(id), "missed post {id} caught up");
    }
    assert!(!c.store.has(&reply.id), "a reply never comes through sync");
    assert!(c.received.iter().all(|m| !contains(m, b"private to A")));
    assert_eq!(c.app.last_heard(), UnixTime(t0 + 3700));
}

#[test]
fn sync_answers_only_broadcast_class_events_and_pages_backwards() {
    let store = FakeStore::with((1..=16).filter(|i| *i != 9).map(|i| fixture(&format!("E{i}"))));
    let mut store = store;
    store.events.sort_by_key(|e| (e.created_at, e.id));
    let (page, more) = answer_sync(&store, UnixTime(0), NOW, 500);
    let kinds: Vec<(u16, bool)> = page.iter().map(|e| (e.kind, e.tags.iter().any(|t| t[0] == "p"))).collect();
    // E11 is a deletion of a post (NIP-09): it travels where the post went, by broadcast.
    assert_eq!(page.len(), 9, "E1 E4 E6 E7 E10 E11 E12 E14 E15: {kinds:?}");
    for name in ["E2", "E3", "E5", "E8", "E13", "E16"] {
        assert!(page.iter().all(|e| e.id != fixture(name).id), "{name} must not be synced");
    }
    assert_eq!(more, None);
    let (first, more) = answer_sync(&store, UnixTime(0), NOW, 3);
    assert_eq!(first.len(), 3);
    let resume = more.expect("more to come");
    assert!(resume < NOW && resume == first[0].created_at);
    let (second, _) = answer_sync(&store, UnixTime(0), resume, 3);
    assert!(second.iter().all(|e| e.created_at <= resume));
}

#[test]
fn fetch_answers_follow_privacy() {
    let store = FakeStore::with(["E1", "E2", "E4", "E8"].iter().map(|n| fixture(n)));
    let a = pk_a();
    assert_eq!(answer_fetch(&store, &a, &FetchTarget::Profile(a)).map(|e| e.id), Some(fixture("E4").id));
    assert_eq!(answer_fetch(&store, &a, &FetchTarget::FollowList(a)).map(|e| e.id), Some(fixture("E8").id));
    assert_eq!(answer_fetch(&store, &pk_c(), &FetchTarget::FollowList(a)), None, "only the owner's node");
    assert_eq!(answer_fetch(&store, &a, &FetchTarget::Post(fixture("E1").id)).map(|e| e.id), Some(fixture("E1").id));
    assert_eq!(answer_fetch(&store, &a, &FetchTarget::Post(fixture("E2").id)), None, "a reply is not served by id");
}

#[test]
fn a_strangers_profile_is_fetched_once_an_hour_and_cached() {
    let mut net = abc();
    net.nodes.get_mut(&pk_b().node_id()).expect("B").store.insert(fixture("E14"));
    let miss = Input::LocalMiss { target: FetchTarget::Profile(pk_b()), author: None };
    net.input(pk_a().node_id(), miss.clone());
    assert!(net.node(&pk_a()).store.has(&fixture("E14").id));
    let sent = net.node(&pk_b()).received.len();
    net.input(pk_a().node_id(), miss.clone());
    assert_eq!(net.node(&pk_b()).received.len(), sent, "rate-limited");
    assert_eq!(net.node(&pk_a()).app.stats().fetch_limited, 1);
    net.now = UnixTime(NOW.0 + 3601);
    net.input(pk_a().node_id(), miss);
    assert_eq!(net.node(&pk_b()).received.len(), sent + 1, "asked again after an hour");
}

#[test]
fn a_profile_is_fetched_from_support_servers_when_the_author_is_offline() {
    let mut net = abcde();
    for n in net.nodes.values_mut() {
        n.store.insert(fixture("E14"));
    }
    net.nodes.get_mut(&pk_a().node_id()).expect("A").store = FakeStore::default();
    net.set_online(&pk_b(), false);
    net.input(pk_a().node_id(), Input::LocalMiss { target: FetchTarget::Profile(pk_b()), author: None });
    assert!(net.node(&pk_a()).store.has(&fixture("E14").id));
}

#[test]
fn follow_lists_come_only_from_their_owner_and_unasked_answers_are_refused() {
    let mut net = abc();
    net.publish(&pk_a(), verified("E8"));
    net.input(pk_c().node_id(), Input::LocalMiss { target: FetchTarget::FollowList(pk_a()), author: None });
    assert!(net.node(&pk_c()).store.has(&fixture("E8").id));
    let unasked = AppMsg::FetchResp { target: FetchTarget::Profile(pk_a()), events: vec![fixture("E4")] };
    net.input(pk_b().node_id(), Input::Unicast { src: pk_a().node_id(), payload: encode(&unasked) });
    assert!(!net.node(&pk_b()).store.has(&fixture("E4").id));
}

#[test]
fn an_idle_app_wants_no_timeout() {
    let net = abc();
    assert_eq!(net.node(&pk_a()).app.poll_timeout(), None);
}

#[test]
fn a_deposit_for_a_node_this_one_does_not_support_is_refused() {
    let mut net = abcde();
    let a = pk_a().node_id();
    let ctx_dir = net.dir.clone();
    let supporters = support_servers(&Ctx { me: a, dir: &ctx_dir }, a);
    let outsider = *net.nodes.keys().find(|n| **n != a && !supporters.contains(n)).expect("a non-supporter");
    let m = encode(&AppMsg::Deposit { dst: a.0, sealed: crate::app::msg::Bytes(vec![7; 200]) });
    net.input(outsider, Input::Unicast { src: pk_b().node_id(), payload: m.clone() });
    assert_eq!(net.nodes[&outsider].app.mailbox().len(), 0);
    assert_eq!(net.nodes[&outsider].app.stats().deposits_refused, 1);
    net.set_online(&pk_a(), false);
    net.input(supporters[0], Input::Unicast { src: pk_b().node_id(), payload: m });
    assert_eq!(net.nodes[&supporters[0]].app.mailbox().len(), 1);
    assert!(net.nodes[&supporters[0]].app.mailbox_dirty());
}

#[test]
fn mail_is_pushed_when_the_node_is_seen_and_bad_envelopes_are_counted_and_acked() {
    let mut net = abcde();
    let a = pk_a().node_id();
    let supporters = support_servers(&Ctx { me: a, dir: &net.dir.clone() }, a);
    net.set_online(&pk_a(), false);
    let junk = encode(&AppMsg::Deposit { dst: a.0, sealed: crate::app::msg::Bytes(vec![7; 200]) });
    net.input(supporters[0], Input::Unicast { src: pk_b().node_id(), payload: junk });
    net.set_online(&pk_a(), true);
    net.input(supporters[0], Input::NodeUp(a));
    assert_eq!(net.node(&pk_a()).app.stats().mail_bad, 1);
    assert_eq!(net.nodes[&supporters[0]].app.mailbox().len(), 0, "acked even though it did not open");
}

#[test]
fn a_support_server_keeps_retrying_the_hand_over_by_itself() {
    let mut net = abcde();
    net.set_online(&pk_a(), false);
    net.publish(&pk_b(), verified("E2"));
    net.set_online(&pk_b(), false);
    net.advance_to(UnixTime(NOW.0 + 600));
    net.set_online(&pk_a(), true);
    // No Joined, no MailReq: the support servers' backoff timer finds A.
    net.advance_to(UnixTime(NOW.0 + 6 * 3600));
    assert!(net.node(&pk_a()).store.has(&fixture("E2").id));
}

#[test]
fn a_long_absence_is_caught_up_page_by_page_without_dropping_events() {
    let mut net = abc();
    let b = user(B_SECRET);
    let t0 = NOW.0 - 3 * 3600;
    net.now = UnixTime(t0);
    net.publish(&pk_b(), signed(&b, t0, 1, &[], "heard"));
    net.set_online(&pk_c(), false);
    let mut ids = Vec::new();
    for i in 0..1200u64 {
        net.now = UnixTime(t0 + 1 + i * 5);
        let post = signed(&b, net.now.0, 1, &[], &format!("post number {i} with some words in it"));
        ids.push(post.id);
        net.publish(&pk_b(), post);
    }
    net.now = UnixTime(t0 + 7000);
    net.set_online(&pk_c(), true);
    net.input(pk_c().node_id(), Input::Joined);
    let c = net.node(&pk_c());
    let missing = ids.iter().filter(|id| !c.store.has(id)).count();
    assert_eq!(missing, 0, "every post of the absence arrived");
    assert_eq!(c.app.stats().dropped_sends, 0);
    assert!(c.received.len() >= 3, "more than one page was needed");
}

#[test]
fn answers_are_rate_limited_per_authenticated_source() {
    // A peer asking again and again (a SyncResp is up to ~128 KiB) gets a bounded number of
    // answers; another peer is still answered; the first is answered again after a while.
    use crate::app::msg::{encode, AppMsg};
    use crate::limits::{ANSWER_BURST, ANSWER_INTERVAL};
    let store = FakeStore::with((1..=16).map(|i| fixture(&format!("E{i}"))));
    let dir = ring_dir(&[1, 2, 3]);
    let mut app = App::new(AppConfig { owner: pk_a(), node_secret: node_secret(1), seed: [1; 32] });
    let ask = |app: &mut App, src: u64, now: UnixTime| {
        let payload = encode(&AppMsg::SyncReq { since: 0, until: NOW.0, limit: 500 });
        app.handle_input(Input::Unicast { src: NodeId(src), payload }, now, &Ctx { me: NodeId(1), dir: &dir }, &store);
        let out: Vec<Output> = std::iter::from_fn(|| app.poll_output()).collect();
        out.iter().filter(|o| matches!(o, Output::Unicast { dst, .. } if *dst == NodeId(src))).count()
    };
    let answered: usize = (0..100).map(|_| ask(&mut app, 2, NOW)).sum();
    assert_eq!(answered, ANSWER_BURST as usize, "a burst, then nothing");
    assert_eq!(ask(&mut app, 3, NOW), 1, "another source is still answered");
    let later = UnixTime(NOW.0 + ANSWER_INTERVAL.as_secs());
    assert_eq!(ask(&mut app, 2, later), 1, "and the first again once its budget refilled");
    assert!(app.stats().answers_limited >= 100 - ANSWER_BURST as u64);
}
