//! Follow-set sync: the overlay's interest set follows the owner's newest follow list (kind 3)
//! in the store. Checked on every drain of the runtime, so the unchanged case must stay one
//! index lookup; the list is decoded only when its id changed. Owns no IO.

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
