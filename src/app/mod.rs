//! The microblog application layer: which events go where (spec §5.1), offline delivery
//! (resend queue, support servers with sealed mail, catch-up sync) and requests between nodes
//! (profiles, follow lists, posts). A sans-IO state machine: `handle_input` / `handle_timeout`
//! in, `poll_output` / `poll_timeout` out; time ([`UnixTime`]) and randomness (a seed) are
//! inputs; the overlay is reached only through the small [`Context`] trait and the store only
//! through [`EventQuery`] (reads) and [`Output::Store`] (writes).
//!
//! Exchanges between nodes (payloads of overlay unicasts, [`msg::AppMsg`]):
//! * `Event` — a reply, mention or like to a recipient's node; a failure goes to the resend
//!   queue ([`resend`]) and a sealed copy ([`seal`]) is deposited (`Deposit`) at the
//!   recipient's two support servers ([`ring`]), which keep it in their [`mailbox`].
//! * `MailReq` → `Mail{envelopes, more}` → `MailAck{ids}` — a node that (re)joins asks its
//!   support servers for its mail; they also push it when they see it, with backoff.
//! * `SyncReq{since, until, limit}` → `SyncResp{events, more}` — catch-up of broadcasts missed
//!   while offline, paged newest first; answers carry broadcast-class events only.
//! * `AuthorSyncReq{author, since, until, limit}` → `AuthorSyncResp{author, events}` — a
//!   follow-mode core's catch-up (`state/catchup.rs`): per followed author, asked of the
//!   author's tree parent, then of the author's own server if the parent had nothing.
//! * `FetchReq(target)` → `FetchResp{target, events}` — a profile, follow list or post this
//!   node's client asked for and the store lacks; rate-limited and answered from the store.
//!
//! Invariants: every queue and table is bounded by a constant in [`crate::limits`]; bad input
//! from a peer is counted in [`AppStats`] and dropped, never a panic; anything whose order
//! reaches an output lives in a `BTreeMap`, `Vec` or `VecDeque`.

pub mod answer;
pub mod classify;
mod entropy;
pub mod follows;
mod limit;
pub mod mailbox;
pub mod msg;
pub mod persist;
pub mod resend;
pub mod ring;
pub mod seal;
mod state;

#[cfg(test)]
mod tests;

use std::fmt;

pub use self::entropy::Entropy;
pub use self::msg::FetchTarget;
pub use self::state::{App, AppStats};
use crate::event::VerifiedEvent;
use crate::keys::{NodeId, PublicKey, SecretKey};

/// What the application needs to know about the overlay. The driver implements it from the
/// overlay's directory and connections; tests implement it with a small map.
pub trait Context {
    /// This node's id.
    fn me(&self) -> NodeId;
    /// The smallest known node id ≥ `at` (known = in the directory, online or not).
    fn node_at_or_after(&self, at: u64) -> Option<NodeId>;
    /// The node key (x-only secp256k1, from the directory record) of `node`.
    fn node_key(&self, node: NodeId) -> Option<PublicKey>;
    /// True if `node` is believed reachable now (has a directory record and a route).
    fn is_reachable(&self, node: NodeId) -> bool;
    /// Nodes this node is connected to now (catch-up partners), in a stable order.
    fn neighbours(&self) -> Vec<NodeId>;
    /// How this node catches up after (re)joining. The default: from random neighbours.
    fn catchup_plan(&self) -> CatchupPlan {
        CatchupPlan::Peers
    }
    /// True if broadcasts may not reach every node (`--delivery follow` or `auto`: follower
    /// multicast is on, or may be somewhere in the network), so a repost or quote repost
    /// published here also goes to the quoted author's node (`classify::quoted_author`). The
    /// default: false (everyone gets every broadcast).
    fn follower_multicast(&self) -> bool {
        false
    }
    /// Where `author`'s delivery tree reaches this node (follow mode). The default: unknown.
    fn tree_source(&self, author: &PublicKey) -> TreeSource {
        let _ = author;
        TreeSource::Unknown
    }
}

/// How a (re)joining node catches up on the broadcasts it missed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatchupPlan {
    /// Ask [`crate::limits::SYNC_PEERS`] random neighbours for everything since it was last
    /// up (broadcast delivery, and leaves: their homes hold what they follow).
    Peers,
    /// Not known yet (the node's role is being decided): ask again shortly.
    Undecided,
    /// A follow-mode core: ask each of these followed authors' trees (issue 10).
    Trees(Vec<PublicKey>),
}

/// Where a followed author's delivery tree reaches this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeSource {
    /// Not attached to the tree yet.
    Unknown,
    /// Attached below this parent.
    Parent(NodeId),
    /// This node is the tree's root (no parent to ask).
    Root,
}

/// How the application is set up.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// The owner's Nostr key (whose replies, mentions and likes this node keeps).
    pub owner: PublicKey,
    /// This server's node key, the one its directory record advertises; sealed mail for this
    /// node is opened with it.
    pub node_secret: SecretKey,
    /// 32 random bytes from the OS (`getrandom`) at start; tests use a fixed value.
    pub seed: [u8; 32],
}

/// Something that happened.
#[derive(Clone, Debug)]
pub enum Input {
    /// The owner published this event; it is already stored.
    Published(VerifiedEvent),
    /// The overlay delivered a broadcast event (already validated).
    Broadcast(VerifiedEvent),
    /// The overlay delivered a unicast payload from node `src`.
    Unicast {
        /// Origin node.
        src: NodeId,
        /// Encoded [`msg::AppMsg`].
        payload: Vec<u8>,
    },
    /// The overlay's outcome of an [`Output::Unicast`].
    UnicastDone {
        /// The id of the `Output::Unicast`.
        msg_id: u64,
        /// Its destination.
        dst: NodeId,
        /// Acknowledged by the destination node.
        ok: bool,
    },
    /// `node` was seen online (a message from it, a fresh directory record, a new link).
    NodeUp(NodeId),
    /// This node (re)joined the overlay (first link up after having none).
    Joined,
    /// The store has no answer for something the owner's client asked for.
    LocalMiss {
        /// What is missing.
        target: FetchTarget,
        /// The author, when known (a post id alone does not say whose it is).
        author: Option<PublicKey>,
    },
}

/// Something to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Broadcast this event to every node (overlay `Input::Publish`).
    Broadcast(VerifiedEvent),
    /// Send `payload` to node `dst` (overlay `Input::Unicast` with this `msg_id`); the
    /// outcome comes back as [`Input::UnicastDone`].
    Unicast {
        /// Destination.
        dst: NodeId,
        /// Caller id for `UnicastDone`.
        msg_id: u64,
        /// Encoded [`msg::AppMsg`].
        payload: Vec<u8>,
    },
    /// Insert this event into the store (a duplicate is harmless).
    Store(VerifiedEvent),
}

/// Why persisted application state could not be read back. The driver logs it and starts
/// with an empty queue or mailbox (senders retry; nothing is corrupted further).
#[derive(Debug)]
pub enum SnapshotError {
    /// Not a MessagePack snapshot.
    Malformed(rmp_serde::decode::Error),
    /// Written by another version.
    Version(u16),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Malformed(_) => f.write_str("application snapshot is malformed"),
            SnapshotError::Version(v) => write!(f, "application snapshot has unknown version {v}"),
        }
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SnapshotError::Malformed(e) => Some(e),
            SnapshotError::Version(_) => None,
        }
    }
}
