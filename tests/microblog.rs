//! Microblogging across real server processes on loopback (issue: "Microblogging across the
//! network, and nothing missed while offline"). Three servers, one per fixture user A, B, C:
//! - every row of the original's §5.1 table: present where it must be, absent where it must
//!   not be, byte-identical content and tags;
//! - a server that was down gets the posts, replies and likes it missed;
//! - its support servers hold its (sealed) mail while both it and the sender are down, also
//!   across a restart of the support server;
//! - replies and likes never reach a server that is not party to them: not by broadcast, not
//!   through catch-up or fetches, not through support servers (the sealed mail on a support
//!   server's disk contains neither the reply's text nor its id).

mod common;

use common::cluster::*;
use common::*;
use nostrp2p::event::{Event, KIND_POST, KIND_REACTION};
use nostrp2p::hex;
use nostrp2p::time::UnixTime;

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn signed(secret: &str, kind: u16, tags: Vec<Vec<String>>, content: &str) -> Event {
    Event::new_signed(&key(secret), UnixTime(now()), kind, tags, content.into(), &[3; 32])
}

fn reply_to(secret: &str, parent: &Event, content: &str) -> Event {
    let tags = vec![
        vec!["e".into(), hex::encode(&parent.id.0), "".into(), "root".into()],
        vec!["p".into(), parent.pubkey.to_hex()],
    ];
    signed(secret, KIND_POST, tags, content)
}

fn like_of(secret: &str, parent: &Event) -> Event {
    let tags = vec![vec!["e".into(), hex::encode(&parent.id.0)], vec!["p".into(), parent.pubkey.to_hex()]];
    signed(secret, KIND_REACTION, tags, "+")
}

struct Three {
    dirs: [TempDir; 3],
    a: Node,
    b: Node,
    c: Node,
}

/// A, B and C, B and C bootstrapping from A, all knowing each other.
fn three(tag: &str) -> Three {
    let dirs =
        [TempDir::new(&format!("{tag}-a")), TempDir::new(&format!("{tag}-b")), TempDir::new(&format!("{tag}-c"))];
    let a = start_node(HEX_A, &dirs[0], None);
    let b = start_node(HEX_B, &dirs[1], Some(overlay_addr(&a)));
    let c = start_node(HEX_C, &dirs[2], Some(overlay_addr(&a)));
    wait_converged(&[&a, &b, &c], 3);
    Three { dirs, a, b, c }
}

#[test]
fn every_kind_goes_where_the_original_sends_it_and_nowhere_else() {
    let t = three("mb-kinds");
    let (a, b, c) = (&t.a, &t.b, &t.c);
    // A: post, profile, follow list, reply to self. B: reply to A, like of A's post, mention
    // of C, repost, profile. C: quote repost of A's post.
    for name in ["E1", "E4", "E8", "E15"] {
        publish_json(a, fixture(name));
    }
    for name in ["E2", "E3", "E5", "E6", "E14"] {
        publish_json(b, fixture(name));
    }
    publish_json(c, fixture("E7"));

    let rows: [(&str, [bool; 3]); 10] = [
        ("E1", [true; 3]),            // post: broadcast
        ("E4", [true; 3]),            // A's profile: broadcast
        ("E6", [true; 3]),            // repost: broadcast
        ("E7", [true; 3]),            // quote repost: broadcast
        ("E14", [true; 3]),           // B's profile: broadcast
        ("E15", [true; 3]),           // reply to one's own post: broadcast (original quirk)
        ("E2", [true, true, false]),  // B's reply to A: A and B only
        ("E3", [true, true, false]),  // B's like of A's post: A (and B) only
        ("E5", [false, true, true]),  // B's mention of C: B and C only
        ("E8", [true, false, false]), // A's follow list: stays on A
    ];
    let nodes = [a, b, c];
    wait_until("every event where it belongs", &nodes, || {
        rows.iter().all(|(name, want)| {
            let id = hex::encode(&fixture_event(name).id.0);
            nodes.iter().zip(want).all(|(n, w)| !w || ids(n).contains(&id))
        })
    });
    // Byte-identical content and tags (and signature) wherever present.
    for n in nodes {
        for e in timeline(n) {
            let name = rows.iter().map(|(name, _)| *name).find(|name| fixture_event(name).id == e.id);
            let name = name.unwrap_or_else(|| panic!("unexpected event {:?} on {}", e.id, n.http));
            assert_eq!(e, fixture_event(name), "{name} on {} differs from what was published", n.http);
        }
    }
    // Absent where it must not be (everything that must arrive has arrived by now).
    for (name, want) in rows {
        let id = hex::encode(&fixture_event(name).id.0);
        for (n, w) in nodes.iter().zip(want) {
            assert_eq!(ids(n).contains(&id), w, "{name} on {}", n.http);
        }
    }
    // A profile lookup answers the latest profile on every node (kind 0, Sig nil).
    for n in nodes {
        let r = n.client().post("/req", format!(r#"{{"authors":["{HEX_B}"],"kinds":[0]}}"#).as_bytes());
        let got = nostrp2p::event::msgpack::decode_events(&r.decoded_body()).expect("answer");
        assert_eq!(got.len(), 1, "B's profile on {}", n.http);
        assert_eq!(got[0].event.content, fixture_event("E14").content);
    }

    // Fetch by id never leaks a reply: a fourth server D joins late and its client asks for
    // B's reply E2 and B's public repost E6 by id. Both are fetched from B's server in that
    // order; once E6 is on D, B has answered about E2 too, and it must have refused.
    let d_dir = TempDir::new("mb-kinds-d");
    let d_owner = key("00000000000000000000000000000000000000000000000000000000000000d4").public_key().to_hex();
    let d = start_node(&d_owner, &d_dir, Some(overlay_addr(a)));
    wait_converged(&[a, b, c, &d], 4);
    let lookup = |name: &str| {
        let e = fixture_event(name);
        let body = format!(r#"{{"ids":["{}"],"authors":["{}"],"kinds":[1]}}"#, hex::encode(&e.id.0), e.pubkey.to_hex());
        let r = d.client().post("/req", body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    };
    lookup("E2");
    lookup("E6");
    wait_until("B's repost fetched by id onto D", &[&d, b], || has(&d, &fixture_event("E6")));
    assert!(!has(&d, &fixture_event("E2")), "a reply was handed out to a server not party to it");
    assert!(!has(c, &fixture_event("E2")));

    // D's client asks for B's profile, which D has never seen (it predates D): the first
    // answer is empty, D fetches it from B's server, and a later ask answers it.
    let profile_of_b = || {
        let r = d.client().post("/req", format!(r#"{{"authors":["{HEX_B}"],"kinds":[0]}}"#).as_bytes());
        nostrp2p::event::msgpack::decode_events(&r.decoded_body()).expect("answer")
    };
    wait_until("B's profile fetched onto D", &[&d, b], || {
        // Lookups answer with `Sig` nil, so compare what the client reads.
        let want = fixture_event("E14");
        profile_of_b().first().is_some_and(|w| w.event.id == want.id && w.event.content == want.content)
    });
}

#[test]
fn a_server_that_was_down_gets_what_it_missed() {
    let t = three("mb-down");
    // A's post, before A goes down (everyone has it).
    let a_post = signed(SECRET_A, KIND_POST, vec![], "A's post before going offline");
    publish(&t.a, &a_post);
    wait_until("A's post everywhere", &[&t.a, &t.b, &t.c], || has(&t.b, &a_post) && has(&t.c, &a_post));
    let a_opts = t.a.opts.clone();
    assert!(t.a.terminate().success());

    // While A is down: B and C post, B replies to A's post, C likes it, C mentions A.
    let b_post = signed(SECRET_B, KIND_POST, vec![], "B posts while A is away");
    let c_post = signed(SECRET_C, KIND_POST, vec![], "C posts while A is away");
    let reply = reply_to(SECRET_B, &a_post, "B replies while A is away");
    let like = like_of(SECRET_C, &a_post);
    let mention = signed(SECRET_C, KIND_POST, vec![vec!["p".into(), HEX_A.into()]], "hey A, you there?");
    publish(&t.b, &b_post);
    publish(&t.c, &c_post);
    publish(&t.b, &reply);
    publish(&t.c, &like);
    publish(&t.c, &mention);

    // A comes back on the same address and data dir.
    let a = Node::start(a_opts);
    let all = [&a, &t.b, &t.c];
    wait_until("A to catch up on posts, replies, likes and mentions", &all, || {
        let have = ids(&a);
        [&b_post, &c_post, &reply, &like, &mention].iter().all(|e| have.contains(&hex::encode(&e.id.0)))
    });
    // Privacy held meanwhile: the reply and the like are on A and their authors only.
    assert!(!has(&t.c, &reply), "B's reply to A reached C");
    assert!(!has(&t.b, &like), "C's like of A's post reached B");
    assert!(!has(&t.b, &mention), "C's mention of A reached B");
}

#[test]
fn support_servers_hold_sealed_mail_across_their_own_restart() {
    let t = three("mb-mail");
    let (a_opts, b_opts, c_opts) = (t.a.opts.clone(), t.b.opts.clone(), t.c.opts.clone());
    let a_post = signed(SECRET_A, KIND_POST, vec![], "A's post");
    publish(&t.a, &a_post);
    wait_until("A's post on B", &[&t.a, &t.b], || has(&t.b, &a_post));
    assert!(t.a.terminate().success());

    // B replies while A is down: B's direct delivery fails, so B leaves sealed copies with
    // A's support servers. On the id ring of A, B and C those are C and B.
    let secret_text = "this reply is for A's eyes only";
    let reply = reply_to(SECRET_B, &a_post, secret_text);
    publish(&t.b, &reply);
    let mailbox = |n: &Node| status(n)["network"]["mailbox_envelopes"].as_u64().unwrap_or(0);
    wait_until("C to hold sealed mail for A", &[&t.b, &t.c], || mailbox(&t.c) >= 1);

    // Privacy on the support server: not stored, not shown, and neither the text nor the id
    // is anywhere on its disk.
    assert!(!has(&t.c, &reply));
    let c_dir = t.dirs[2].path();
    assert!(!dir_contains(c_dir, secret_text.as_bytes()), "reply text on the support server's disk");
    assert!(!dir_contains(c_dir, &reply.id.0), "reply id on the support server's disk");
    assert!(!dir_contains(c_dir, hex::encode(&reply.id.0).as_bytes()));

    // The sender goes away too, and the support server restarts (its mailbox is persisted).
    assert!(t.b.terminate().success());
    assert!(t.c.terminate().success());
    let c = Node::start(c_opts);
    wait_until("C's mailbox restored", &[&c], || mailbox(&c) >= 1);

    // A comes back while B is still down: only C can hand the reply over.
    let a = Node::start(a_opts);
    wait_until("A to get its mail from the support server", &[&a, &c], || has(&a, &reply));
    let got = timeline(&a).into_iter().find(|e| e.id == reply.id).expect("reply on A");
    assert_eq!(got, reply, "the reply arrives byte-identical");
    // Collected mail is deleted from the support server.
    wait_until("C's mailbox emptied after A's ack", &[&a, &c], || mailbox(&c) == 0);
    // The sender comes back; its own copy of the reply is still there.
    let b = Node::start(b_opts);
    wait_until("B back in the network", &[&a, &b, &c], || peers(&b) >= 1);
    assert!(has(&b, &reply));
}
