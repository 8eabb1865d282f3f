//! The messages, outputs and counters of the per-author trees (`topic.rs`): plain values, no
//! logic. Split out to keep `topic.rs` to the state machine.

use crate::wire::{MsgId, NodeId};

/// Tree control messages between cores (the sender is the connection they arrive on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicMsg {
    /// Keep (or make) the sender a child for these topics (≤ `TOPIC_BATCH`).
    Subscribe {
        /// Topic keys.
        topics: Vec<NodeId>,
    },
    /// Stop being the sender's parent for these topics.
    Unsubscribe {
        /// Topic keys.
        topics: Vec<NodeId>,
    },
    /// Parent → child: the parent's depth (0 at the root; `None`: its path is broken) and the
    /// ids of its latest posts on the topic (the tree's IHAVE).
    Ack {
        /// Topic key.
        topic: NodeId,
        /// Sender's depth in the tree.
        depth: Option<u8>,
        /// Latest post ids, newest first, ≤ `TOPIC_RECENT`.
        recent: Vec<MsgId>,
    },
    /// "I am full: subscribe to this child of mine instead" (SplitStream push-down).
    Redirect {
        /// Topic key.
        topic: NodeId,
        /// One of the sender's children.
        to: NodeId,
    },
    /// The subscription was refused (caps, or the sender is no routing step and we are not in
    /// the tree); the subscriber tries again along the ring later.
    Refused {
        /// Topic key.
        topic: NodeId,
    },
    /// Child → parent, the periodic refresh to a parent that speaks digests: the topics the
    /// sender has there as a count and [`topic_digest`](super::topic::topic_digest) sum,
    /// instead of the list (`topic_digest.rs`).
    Digest {
        /// Topics the sender has with the receiver.
        count: u32,
        /// Wrapping sum of `topic_mix` over them.
        hash: u64,
        /// The sender has just re-sent its whole list (answering a `Resync`).
        relisted: bool,
        /// Topics the sender passed a post up on since its last digest, with the
        /// little-endian first 4 bytes of its newest id (≤ `TOPIC_BATCH` are read).
        check: Vec<(NodeId, u32)>,
    },
    /// Parent → child: the digest did not match; re-send the list and a `relisted` digest.
    Resync {
        /// Entries the parent holds for the child.
        held: u32,
    },
}

/// What the caller does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicOut {
    /// Send a control message.
    Send {
        /// Peer.
        to: NodeId,
        /// Message.
        msg: TopicMsg,
    },
    /// Send the post with this id (its body is in the caller's message cache).
    Post {
        /// Peer.
        to: NodeId,
        /// Topic key.
        topic: NodeId,
        /// Post id.
        id: MsgId,
        /// True while the post is still on its way to the tree (routed toward the root).
        routed: bool,
    },
    /// This node relayed the post (it was on the path of the author's tree) before anyone
    /// here wanted the topic, so it was passed on without being delivered: deliver it now
    /// (from the caller's message cache).
    Relayed {
        /// Topic key.
        topic: NodeId,
        /// Post id.
        id: MsgId,
    },
    /// A parent announced a post this node may lack: fetch it from there if the store lacks it.
    Want {
        /// Peer to ask.
        from: NodeId,
        /// Topic key.
        topic: NodeId,
        /// Post id.
        id: MsgId,
    },
}

/// What became of a post handed to [`TopicTable::handle_post`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostVerdict {
    /// New here: forwarded over the tree (deliver it locally if wanted).
    Fresh,
    /// Already seen on this topic: nothing sent.
    Duplicate,
    /// Not in the tree: routed one hop toward the root.
    Routed,
    /// This node is the root and nobody subscribed: dropped.
    NoTree,
    /// A tree copy from a node that is neither parent nor child: dropped and counted.
    Stray,
}

/// Rejections and drops, for `/status` and the simulator (never a ban: all of these can
/// happen to honest peers during churn).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicStats {
    /// Subscriptions refused because the peer holds `TOPIC_SUBS_PER_PEER` entries.
    pub refused_peer_cap: u64,
    /// Subscriptions refused because the node holds `TOPIC_CAP` topics.
    pub refused_topic_cap: u64,
    /// Subscriptions refused: sender no routing step and this node not in the tree.
    pub refused_not_on_path: u64,
    /// Topics beyond `TOPIC_BATCH` in one frame, ignored.
    pub batch_overflow: u64,
    /// Subscribers pushed down to a child (this node was full).
    pub redirected: u64,
    /// `Ack`/`Redirect`/`Refused` from a node that is not our parent for the topic.
    pub stray_control: u64,
    /// Root claims (`depth: 0`) from a node that cannot own the key as far as we know.
    pub false_root: u64,
    /// Parent pointers found looping (depth cap) and cut.
    pub loops_cut: u64,
    /// Redirect chains given up (`TOPIC_MAX_REDIRECTS`).
    pub redirects_exhausted: u64,
    /// Tree copies of posts from non-neighbours, dropped.
    pub stray_posts: u64,
    /// Outputs dropped because the outbox was full.
    pub outbox_dropped: u64,
    /// Posts passed up to a parent whose ack did not list them.
    pub pushed_up: u64,
    /// Periodic refreshes not acked: the child was told our newest id lately
    /// (`TOPIC_QUIET_ACK_MAX_MS`).
    pub acks_saved: u64,
    /// Refresh digests that matched (every entry of that child renewed at once).
    pub digests_matched: u64,
    /// Refresh digests that did not match the entries held for their sender.
    pub digests_mismatched: u64,
    /// `Resync`s sent (a mismatch, at most once per `TOPIC_RESYNC_GAP_MS` per child).
    pub resyncs_asked: u64,
    /// Mismatches not answered with a `Resync` (asked lately, or too many entry-less peers).
    pub resyncs_limited: u64,
    /// `Resync`s answered with the whole list (child side).
    pub resyncs_answered: u64,
    /// Child entries dropped because the child's re-sent list no longer named them.
    pub relist_dropped: u64,
    /// Acks sent on a matching digest: a post arrived since the child was last told.
    pub news_acks: u64,
    /// Acks sent for a digest's check item whose newest id differs from ours.
    pub check_acks: u64,
}
