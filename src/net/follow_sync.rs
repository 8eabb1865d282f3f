//! Follow-set sync: the overlay's interest set follows the owner's newest follow list (kind 3)
//! in the store. Checked on every drain of the runtime, so the unchanged case must stay one
//! index lookup; the list is decoded only when its id changed. Also a home's store lookup for
//! its leaves' new follows ([`backfill_leaves`]). Owns no IO.

use crate::app;
use crate::event::EventId;
use crate::keys::PublicKey;
use crate::overlay::{Input, Overlay};
use crate::store::Store;
use crate::time::Now;
use crate::wire::Key32;

/// Which follow list the overlay's interest set was last derived from.
pub(super) struct FollowSync {
    /// The owner (whose newest follow list sets the overlay's interest set).
    owner: PublicKey,
    /// Id of the follow list the interest set was last derived from.
    follow_list: Option<EventId>,
}

impl FollowSync {
    pub(super) fn new(owner: PublicKey) -> FollowSync {
        FollowSync { owner, follow_list: None }
    }

    /// Hand the overlay the owner's followees when their newest follow list changed (at start,
    /// and after each new kind 3): a leaf tells its homes, an unfollow unsubscribes. Runs on
    /// every drain, so the unchanged case is one index lookup; the list is decoded on change.
    pub(super) fn sync(&mut self, store: &Store, overlay: &mut Overlay, clock: Now) {
        use crate::query::EventQuery;
        let id = store.latest_replaceable_id(&self.owner, crate::event::KIND_FOLLOW_LIST);
        if id == self.follow_list {
            return;
        }
        self.follow_list = id;
        let list = store.latest_replaceable(&self.owner, crate::event::KIND_FOLLOW_LIST);
        let authors = list.as_deref().map(app::follows::followees).unwrap_or_default();
        log::info!("following {} authors (delivery {:?})", authors.len(), overlay.delivery());
        let keys = authors.into_iter().map(|k| Key32(k.0)).collect();
        overlay.handle_input(Input::SetInterest(keys), clock);
    }
}

/// Home: for each leaf update the overlay queued (`Overlay::take_leaf_backfill`), the newest
/// stored broadcast-class posts of each newly followed author (≤ `LEAF_BACKFILL_POSTS` each,
/// dated within `LEAF_BACKFILL_WINDOW_S`), handed back as `Input::LeafBackfill`. True if any
/// update was handled. The scan per author is bounded (`SYNC_SCAN_EVENTS`; other authors'
/// events are skipped without decoding).
pub(super) fn backfill_leaves(store: &Store, overlay: &mut Overlay, clock: Now) -> bool {
    use crate::overlay::params::{LEAF_BACKFILL_POSTS, LEAF_BACKFILL_WINDOW_S};
    use crate::query::EventQuery;
    let mut any = false;
    while let Some((leaf, authors)) = overlay.take_leaf_backfill() {
        any = true;
        let until = clock.wall;
        let since = crate::time::UnixTime(until.0.saturating_sub(LEAF_BACKFILL_WINDOW_S));
        let mut bodies = Vec::new();
        for a in authors {
            let author = PublicKey(a.0);
            let pre = |pk: &PublicKey, _kind: u16| *pk == author;
            let found = store
                .newest_first_where(since, until, &pre)
                .take(crate::limits::SYNC_SCAN_EVENTS)
                .flatten()
                .filter(|e| app::classify::is_broadcast_class(e))
                .take(LEAF_BACKFILL_POSTS);
            bodies.extend(found.map(|e| crate::wire::Body::from_slice(&crate::event::packed::encode(&e))));
        }
        log::debug!("leaf {leaf} follows new authors: pushing {} recent posts", bodies.len());
        overlay.handle_input(Input::LeafBackfill { leaf, bodies }, clock);
    }
    any
}
