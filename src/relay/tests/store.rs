//! The relay over the real store: NIP-09 deletion, replaceable and addressable events.

use super::*;
use crate::store::{Store, StoreConfig};

struct Dir(std::path::PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let path = std::env::temp_dir().join(format!("nostrp2p-relay-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Dir(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(dir: &Dir) -> Store {
    let cfg = StoreConfig { budget_bytes: 8 * 1024 * 1024, owner: owner().public_key() };
    Store::open(&dir.0, cfg).expect("store opens").0
}

/// Publishes as the driver would: handle, store, answer.
fn publish(r: &mut Relay, store: &mut Store, ev: &Event) -> String {
    let h = r.handle_message(C, event_msg(ev).as_bytes(), store, T0, WALL);
    match h.accepted {
        Some(Accepted::Store(v)) => {
            let outcome = store.insert(v);
            stored_ok(&ev.id, &outcome)
        }
        _ => h.replies.concat(),
    }
}

#[test]
fn a_deleted_event_is_no_longer_served_nor_accepted_again() {
    let dir = Dir::new("delete");
    let mut store = open(&dir);
    let mut r = relay();
    let post = signed(&owner(), WALL.0 - 10, KIND_POST, &[], "oops");
    assert_eq!(publish(&mut r, &mut store, &post), msg::ok(&post.id, true, ""));
    let del = signed(&owner(), WALL.0, 5, &[&["e", &hexid(&post)]], "typo");
    assert_eq!(publish(&mut r, &mut store, &del), msg::ok(&del.id, true, ""));
    send(&mut r, &store, "[\"REQ\",\"s\",{}]");
    assert_eq!(event_ids(&drain(&mut r, &store)), vec![hexid(&del)], "the deletion is served, the post is not");
    assert_eq!(publish(&mut r, &mut store, &post), msg::ok(&post.id, false, "blocked: its author deleted this event"));
}

#[test]
fn only_the_latest_replaceable_and_addressable_versions_are_served() {
    let dir = Dir::new("replace");
    let mut store = open(&dir);
    let mut r = relay();
    let p1 = signed(&owner(), WALL.0 - 30, 0, &[], "{\"name\":\"a\"}");
    let p2 = signed(&owner(), WALL.0 - 20, 0, &[], "{\"name\":\"b\"}");
    let l1 = signed(&owner(), WALL.0 - 30, 10_002, &[&["r", "ws://x"]], "");
    let l2 = signed(&owner(), WALL.0 - 20, 10_002, &[&["r", "ws://y"]], "");
    let a1 = signed(&owner(), WALL.0 - 30, 30_078, &[&["d", "app"]], "1");
    let a2 = signed(&owner(), WALL.0 - 20, 30_078, &[&["d", "app"]], "2");
    for ev in [&p2, &p1, &l1, &l2, &a2] {
        assert!(publish(&mut r, &mut store, ev).contains(",true,"), "kind {}", ev.kind);
    }
    assert_eq!(
        publish(&mut r, &mut store, &a1),
        msg::ok(&a1.id, true, "duplicate: a newer version of this event is stored")
    );
    send(&mut r, &store, "[\"REQ\",\"s\",{}]");
    let mut got = event_ids(&drain(&mut r, &store));
    got.sort();
    let mut want = vec![hexid(&p2), hexid(&l2), hexid(&a2)];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn an_older_replaceable_version_is_not_sent_live() {
    let dir = Dir::new("live-replace");
    let mut store = open(&dir);
    let mut r = relay();
    send(&mut r, &store, "[\"REQ\",\"s\",{\"kinds\":[0]}]");
    let new = signed(&owner(), WALL.0 - 10, 0, &[], "{\"name\":\"new\"}");
    let old = signed(&owner(), WALL.0 - 20, 0, &[], "{\"name\":\"old\"}");
    publish(&mut r, &mut store, &new);
    assert_eq!(r.handle_new_event(&new, &store, WALL).len(), 1);
    publish(&mut r, &mut store, &old);
    assert!(r.handle_new_event(&old, &store, WALL).is_empty(), "a late older profile is not news");
}
