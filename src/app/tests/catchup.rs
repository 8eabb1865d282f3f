//! The follow-mode catch-up (`state/catchup.rs`): whom it asks, in what order and how much,
//! and which answers it keeps. One `App` driven by hand against a context that says where
//! each followed author's tree reaches it.

use super::*;
use crate::app::answer::answer_author;
use crate::app::msg::{decode, encode, AppMsg};
use crate::limits::{CATCHUP_PER_PEER, CATCHUP_SENDS_PER_TICK, CATCHUP_TREE_WAIT};
use crate::testkit::FakeStore;

const ME: NodeId = NodeId(1);
const PARENT: NodeId = NodeId(7);

/// A follow-mode core's view: its followees, where their trees attach, who is reachable.
struct TreeCtx {
    follows: Vec<PublicKey>,
    sources: BTreeMap<PublicKey, TreeSource>,
}

impl Context for TreeCtx {
    fn me(&self) -> NodeId {
        ME
    }
    fn node_at_or_after(&self, _at: u64) -> Option<NodeId> {
        None
    }
    fn node_key(&self, _node: NodeId) -> Option<PublicKey> {
        None
    }
    fn is_reachable(&self, node: NodeId) -> bool {
        node != NodeId(666)
    }
    fn neighbours(&self) -> Vec<NodeId> {
        vec![PARENT, NodeId(8)]
    }
    fn catchup_plan(&self) -> CatchupPlan {
        CatchupPlan::Trees(self.follows.clone())
    }
    fn tree_source(&self, author: &PublicKey) -> TreeSource {
        self.sources.get(author).copied().unwrap_or(TreeSource::Unknown)
    }
}

fn app() -> App {
    App::new(AppConfig { owner: pk_a(), node_secret: node_secret(1), seed: [1; 32] })
}

/// The requests sent: (destination, author asked for).
fn requests(app: &mut App) -> Vec<(NodeId, PublicKey)> {
    asked(std::iter::from_fn(|| app.poll_output()).collect())
}

fn asked(outs: Vec<Output>) -> Vec<(NodeId, PublicKey)> {
    outs.into_iter()
        .filter_map(|o| match o {
            Output::Unicast { dst, payload, .. } => match decode(&payload) {
                Ok(AppMsg::AuthorSyncReq { author, .. }) => Some((dst, author)),
                Ok(AppMsg::SyncReq { .. }) => panic!("a follow-mode core asked random neighbours"),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Hands `app` an answer from `src`: (events stored, requests sent next).
fn answer(
    app: &mut App,
    ctx: &TreeCtx,
    src: NodeId,
    author: PublicKey,
    events: Vec<Event>,
    now: UnixTime,
) -> (usize, Vec<(NodeId, PublicKey)>) {
    let payload = encode(&AppMsg::AuthorSyncResp { author, events });
    app.handle_input(Input::Unicast { src, payload }, now, ctx, &FakeStore::default());
    let outs: Vec<Output> = std::iter::from_fn(|| app.poll_output()).collect();
    (outs.iter().filter(|o| matches!(o, Output::Store(_))).count(), asked(outs))
}

#[test]
fn catchup_asks_the_tree_parent_then_the_authors_server_and_keeps_only_what_it_asked() {
    let (b, c) = (user(B_SECRET), user(C_SECRET));
    let ctx = TreeCtx {
        follows: vec![pk_b(), pk_c()],
        sources: [(pk_b(), TreeSource::Parent(PARENT))].into_iter().collect(),
    };
    let mut app = app();
    app.handle_input(Input::Joined, NOW, &ctx, &FakeStore::default());
    assert_eq!(requests(&mut app), vec![(PARENT, pk_b())], "B's tree is attached, C's is not yet");

    // C's tree never attaches: after the wait, C's own server is asked.
    let later = NOW.saturating_add(CATCHUP_TREE_WAIT);
    app.handle_timeout(later, &ctx, &FakeStore::default());
    assert_eq!(requests(&mut app), vec![(pk_c().node_id(), pk_c())]);

    // Someone not asked answers for B (asked of its parent) and for C: nothing kept.
    let b_forged = signed(&b, NOW.0 - 70, 1, &[], "B, from a stranger");
    assert_eq!(answer(&mut app, &ctx, NodeId(9), pk_b(), vec![b_forged.as_event().clone()], later).0, 0);
    let c_post = signed(&c, NOW.0 - 60, 1, &[], "C posted");
    assert_eq!(answer(&mut app, &ctx, NodeId(9), pk_c(), vec![c_post.as_event().clone()], later).0, 0);
    // The parent answers for B with nothing (a relay): B's own server is asked.
    assert_eq!(answer(&mut app, &ctx, PARENT, pk_b(), vec![], later), (0, vec![(pk_b().node_id(), pk_b())]));
    // B's server answers with B's post, and with what it must not slip in: C's post, B's
    // reply (not broadcast-class), B's post from before the window.
    let good = signed(&b, NOW.0 - 60, 1, &[], "B posted");
    let other = signed(&c, NOW.0 - 50, 1, &[], "C again");
    let reply = signed(&b, NOW.0 - 40, 1, &[&["p", &pk_a().to_hex()]], "a reply");
    let old = signed(&b, NOW.0 - 10 * 24 * 3600, 1, &[], "long ago");
    let evs = [good, other, reply, old].iter().map(|e| e.as_event().clone()).collect();
    assert_eq!(answer(&mut app, &ctx, pk_b().node_id(), pk_b(), evs, later), (1, vec![]));
    assert_eq!(app.stats().catchup_from_author, 1);
    assert_eq!(app.stats().catchup_from_tree, 0);
    assert!(app.stats().refused_events >= 4);
    // Answered: a second copy of the same answer is not expected any more.
    let again = signed(&b, NOW.0 - 30, 1, &[], "B again");
    assert_eq!(answer(&mut app, &ctx, pk_b().node_id(), pk_b(), vec![again.as_event().clone()], later).0, 0);
}

#[test]
fn a_parent_that_stores_the_author_answers_and_the_authors_server_is_not_asked() {
    let b = user(B_SECRET);
    let ctx = TreeCtx { follows: vec![pk_b()], sources: [(pk_b(), TreeSource::Parent(PARENT))].into_iter().collect() };
    let mut app = app();
    app.handle_input(Input::Joined, NOW, &ctx, &FakeStore::default());
    assert_eq!(requests(&mut app), vec![(PARENT, pk_b())]);
    let post = signed(&b, NOW.0 - 60, 1, &[], "B posted");
    assert_eq!(answer(&mut app, &ctx, PARENT, pk_b(), vec![post.as_event().clone()], NOW), (1, vec![]));
    assert_eq!(app.stats().catchup_from_tree, 1);
    app.handle_timeout(NOW.saturating_add(CATCHUP_TREE_WAIT), &ctx, &FakeStore::default());
    assert!(requests(&mut app).is_empty(), "done: nobody else is asked");
}

#[test]
fn a_catchup_is_paced_and_spares_each_parent_answer_budget() {
    let follows: Vec<PublicKey> = (10..70u8).map(|i| node_secret(i).public_key()).collect();
    let sources = follows.iter().map(|a| (*a, TreeSource::Parent(PARENT))).collect();
    let ctx = TreeCtx { follows: follows.clone(), sources };
    let mut app = app();
    app.handle_input(Input::Joined, NOW, &ctx, &FakeStore::default());
    let mut sent = requests(&mut app);
    assert_eq!(sent.len(), CATCHUP_SENDS_PER_TICK, "the first second sends one batch only");
    let mut t = NOW;
    for _ in 0..20 {
        t = t.saturating_add(std::time::Duration::from_secs(1));
        app.handle_timeout(t, &ctx, &FakeStore::default());
        let batch = requests(&mut app);
        assert!(batch.len() <= CATCHUP_SENDS_PER_TICK);
        sent.extend(batch);
    }
    assert_eq!(sent.len(), follows.len(), "every author asked once");
    let to_parent = sent.iter().filter(|(d, _)| *d == PARENT).count();
    assert_eq!(to_parent, CATCHUP_PER_PEER as usize, "the rest go to the authors' own servers");
    assert!(sent.iter().filter(|(d, _)| *d != PARENT).all(|(d, a)| *d == a.node_id()));
}

#[test]
fn an_author_answer_holds_only_that_authors_broadcasts_in_the_window() {
    let (b, c) = (user(B_SECRET), user(C_SECRET));
    let mut evs: Vec<Event> = (0..150).map(|i| signed(&b, NOW.0 - 1000 + i, 1, &[], "b").as_event().clone()).collect();
    evs.push(signed(&c, NOW.0 - 10, 1, &[], "c").as_event().clone());
    evs.push(signed(&b, NOW.0 - 5, 1, &[&["p", &pk_a().to_hex()]], "reply").as_event().clone());
    let mut store = FakeStore::with(evs);
    store.events.sort_by_key(|e| (e.created_at, e.id));
    let page = answer_author(&store, &pk_b(), UnixTime(0), NOW, u32::MAX);
    assert_eq!(page.len(), crate::limits::CATCHUP_PAGE_EVENTS, "clamped");
    assert!(page.iter().all(|e| e.pubkey == pk_b() && e.tags.is_empty()));
    assert_eq!(page[0].created_at, UnixTime(NOW.0 - 1000 + 149), "newest first");
    assert!(answer_author(&store, &pk_b(), NOW, UnixTime(0), 10).is_empty(), "an empty window");
}
