//! The message set of the overlay protocol (spec overlay.md §2.9), as plain types; `codec`
//! encodes them (their serde derives exist only in tests, as the oracle `codec` is checked against).
//!
//! Holds no logic beyond the canonical bytes a node record is signed over. Every `Vec` here is
//! bounded only by the frame size on the wire; the overlay clamps lengths when it reads them.
//! Variant names are short because they are written on the wire.

#[cfg(test)]
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::types::{Addr, Body, Key32, MsgId, NodeId, PeerRef, Role, Sig};

/// A signed statement "node `node` (owner `owner`) is reachable like this", spread to every core
/// node (spec §2.3 "Directory"). Newer `seq` wins.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct NodeRecord {
    /// Low 64 bits of `owner` (checked by every receiver).
    pub node: NodeId,
    /// The owner's Nostr pubkey (the user's identity; its secret key is not on the server).
    pub owner: Key32,
    /// The server's own key; signs this record and the connection handshake.
    pub node_key: Key32,
    /// The owner's authorisation of `node_key` (a signed Nostr event, opaque here), or `None` for
    /// a zero-configuration node (trust on first use; see docs/overlay.md "Identity").
    pub delegation: Option<Body>,
    /// Core (reachable at `addr`) or leaf (reachable through `homes`).
    pub role: Role,
    /// Listen address of a core node.
    pub addr: Option<Addr>,
    /// Core nodes a leaf is attached to (≤ `MAX_HOMES`).
    pub homes: Vec<NodeId>,
    /// Version; strictly increasing per node (derived from wall time at creation).
    pub seq: u64,
    /// Unix seconds after which the record is dropped.
    pub expires: u64,
    /// BIP-340 signature by `node_key` over [`NodeRecord::signing_hash`].
    pub sig: Sig,
}

impl NodeRecord {
    /// SHA-256 over a domain tag and every field but `sig` (MessagePack, compact form: a
    /// 9-element array).
    pub fn signing_hash(&self) -> [u8; 32] {
        let mut bytes = Vec::with_capacity(256);
        super::codec::put_record_fields(&mut bytes, self, false);
        let mut h = Sha256::new();
        h.update(b"nostrp2p/node-record/v1");
        h.update(&bytes);
        h.finalize().into()
    }
}

/// First message on every connection, both directions.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct Hello {
    /// The sender's current signed record (identity, key, role, address).
    pub record: NodeRecord,
    /// Fresh random challenge the peer must sign in its `Auth`.
    pub nonce: u64,
}

/// Capability bits a node announces inside its `Hello` nonce (see [`Hello::tag_nonce`]).
/// Bit 0: it understands [`Msg::Interest`] (follower multicast, issue 10).
pub const FEATURE_INTEREST: u8 = 1;
/// Bit 1: it runs the ring directory (`--directory ring`) and understands [`Msg::FindNode`],
/// [`Msg::Found`], [`Msg::Store`] and [`Msg::Neighbours`] (issue 10 part 2).
pub const FEATURE_RING: u8 = 2;
/// Bit 2: it understands [`Msg::Link`] and [`Msg::LinkResend`] (datagram path between core
/// servers, issue 11); a `Link` goes only to a peer that announced it.
pub const FEATURE_DATAGRAM: u8 = 4;

/// Bit 3: it runs per-author delivery trees and understands [`Msg::Subscribe`],
/// [`Msg::Unsubscribe`], [`Msg::TopicAck`], [`Msg::TopicRedirect`], [`Msg::TopicRefused`],
/// [`Msg::TopicPost`] and [`Msg::TopicFetch`] (issue 10, docs/scaling.md "Per-author trees").
pub const FEATURE_TREES: u8 = 8;
/// Bit 4: it understands [`Msg::DirIds`] and [`Msg::DirWant`] (two-step directory
/// anti-entropy); a `DirDigest` from such a peer is answered with ids, not whole buckets.
pub const FEATURE_DIR_IDS: u8 = 16;
/// Bit 5: it understands [`Msg::GossipAlso`] (an eager copy that names the other peers its
/// sender pushed it to; issue 11, docs/overlay.md §4 "Eager copies that name their twins").
pub const FEATURE_ALSO: u8 = 32;
/// Bit 6: it understands [`Msg::LinkSent`] (the last datagram sequence number, riding on a TCP
/// frame that is sent anyway instead of a tail probe datagram; issue 11, `net::datagram`).
pub const FEATURE_LINK_SENT: u8 = 64;
/// Bit 7 (the last free one): it understands issue 10's reconciliation-by-digest frames:
/// [`Msg::TopicDigest`] and [`Msg::TopicResync`] (it refreshes its tree subscriptions by
/// digest: a child sends each parent one digest of the topics it has there per refresh period
/// instead of the whole `Subscribe` list, and the parent renews them all on a match;
/// docs/scaling.md "Per-author trees", "Refresh by digest"), and [`Msg::RingSync`] and
/// [`Msg::RingHave`] (ring co-holders comparing what they hold by ranges, `overlay::dht_sync`).
pub const FEATURE_DIGESTS: u8 = 128;

/// Marker in the top 16 bits of a nonce that carries capability bits ("np").
const FEATURE_MAGIC: u64 = 0x6E70;

impl Hello {
    /// A nonce announcing `features`: the top 16 bits are a fixed marker, the next 8 the
    /// capability bits, the low 40 bits random. Why in the nonce: the decoder refuses a struct
    /// with an extra field and an unknown `Msg` variant, so a new `Hello` field or frame would
    /// disconnect every peer of the previous build; the nonce is a plain `u64` they sign and
    /// never interpret. 40 random bits still make a replayed `Auth` hopeless (the verifier
    /// picks the nonce). An old peer's random nonce carries the marker by chance once in
    /// 65,536 handshakes; the cost of that is one dropped link that is redialled.
    pub fn tag_nonce(random: u64, features: u8) -> u64 {
        (FEATURE_MAGIC << 48) | (u64::from(features) << 40) | (random & 0xFF_FFFF_FFFF)
    }

    /// The capability bits a peer's nonce announces (none from a peer of an older build).
    pub fn features(nonce: u64) -> u8 {
        if nonce >> 48 == FEATURE_MAGIC {
            ((nonce >> 40) & 0xFF) as u8
        } else {
            0
        }
    }

    /// What `Auth` signs: SHA-256(tag ‖ peer's nonce ‖ signer's node id).
    pub fn auth_hash(peer_nonce: u64, signer: NodeId) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"nostrp2p/auth/v1");
        h.update(peer_nonce.to_be_bytes());
        h.update(signer.0.to_be_bytes());
        h.finalize().into()
    }
}

/// What a broadcast carries (one byte on the wire: 0 = event, 1 = record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
#[cfg_attr(test, serde(into = "u8", try_from = "u8"))]
pub enum GossipKind {
    /// A Nostr event (post, repost, profile); id = event id; checked by the `Verifier`.
    Event,
    /// A MessagePack `NodeRecord`; id = SHA-256 of the body.
    Record,
}

impl From<GossipKind> for u8 {
    fn from(k: GossipKind) -> u8 {
        match k {
            GossipKind::Event => 0,
            GossipKind::Record => 1,
        }
    }
}

impl TryFrom<u8> for GossipKind {
    type Error = String;
    fn try_from(b: u8) -> Result<GossipKind, String> {
        match b {
            0 => Ok(GossipKind::Event),
            1 => Ok(GossipKind::Record),
            other => Err(format!("unknown gossip kind {other}")),
        }
    }
}

/// A broadcast payload on its way down the Plumtree (eager push).
///
/// The id is not on the wire (protocol 3): it is a function of the body (an event's packed form
/// starts with its id, which verification checks against the hash; a record's id is
/// `record_msg_id`), so the receiver derives it before anything else and every eager copy is
/// 34 B shorter. A decoded `Gossip` carries [`MsgId::UNSET`] until the overlay derives it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct Gossip {
    /// Message id (derived from the body by the receiver; never sent).
    #[cfg_attr(test, serde(skip, default = "unset_id"))]
    pub id: MsgId,
    /// Hops from the origin.
    pub round: u16,
    /// Payload type.
    pub kind: GossipKind,
    /// Payload bytes (≤ `MAX_BODY_BYTES`).
    pub body: Body,
}

#[cfg(test)]
fn unset_id() -> MsgId {
    MsgId::UNSET
}

/// A unicast payload routed by directory lookup (spec §2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct Routed {
    /// Origin node.
    pub src: NodeId,
    /// Destination node.
    pub dst: NodeId,
    /// Origin-chosen id, echoed in the ack.
    pub msg_id: u64,
    /// Remaining hops; dropped at 0.
    pub ttl: u8,
    /// Hops taken so far.
    pub hops: u8,
    /// Origin's attempt number (a retry picks another home of a leaf destination).
    pub attempt: u8,
    /// Application payload (≤ `MAX_BODY_BYTES`).
    pub payload: Body,
    /// BIP-340 signature by `src`'s node key over [`Routed::signing_hash`]: the destination
    /// (or the home that hands it to a leaf destination) knows who really sent it.
    pub sig: Sig,
}

impl Routed {
    /// What the origin signs: SHA-256(tag ‖ src ‖ dst ‖ msg_id ‖ u32 payload length ‖ payload),
    /// integers big-endian. `ttl`, `hops` and `attempt` change on the way and are not signed.
    pub fn signing_hash(src: NodeId, dst: NodeId, msg_id: u64, payload: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"nostrp2p/routed/v2");
        h.update(src.0.to_be_bytes());
        h.update(dst.0.to_be_bytes());
        h.update(msg_id.to_be_bytes());
        h.update((payload.len() as u32).to_be_bytes());
        h.update(payload);
        h.finalize().into()
    }

    /// What the destination signs in its `RoutedAck`: SHA-256(tag ‖ the unicast's
    /// [`Routed::signing_hash`]), so an ack confirms exactly one payload and cannot be replayed
    /// for another message that reuses the id.
    pub fn ack_hash(routed_hash: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"nostrp2p/routed-ack/v2");
        h.update(routed_hash);
        h.finalize().into()
    }
}

impl Routed {
    /// What a node that gives up on a unicast signs in its `Undeliverable`: SHA-256(tag ‖
    /// reporter ‖ the unicast's [`Routed::signing_hash`] ‖ reason code), so a report names one
    /// payload and one reason and only the reporter's key can make it.
    pub fn undeliverable_hash(reporter: NodeId, routed_hash: &[u8; 32], reason: UndeliverableReason) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"nostrp2p/undeliverable/v2");
        h.update(reporter.0.to_be_bytes());
        h.update(routed_hash);
        h.update([reason.code()]);
        h.finalize().into()
    }
}

/// Why a unicast did not arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub enum UndeliverableReason {
    /// No directory record for the destination.
    Unknown,
    /// The hop limit ran out.
    TtlExpired,
    /// The destination is a leaf that is no longer attached here and has no other reachable home.
    NotAttached,
    /// A next hop could not be reached.
    NoRoute,
    /// The node that would deliver it does not (yet) know the origin's node key, so it cannot
    /// check the signature (a record still spreading; the origin retries).
    UnknownSource,
}

impl UndeliverableReason {
    /// The reason's byte in [`Routed::undeliverable_hash`] (fixed: part of what is signed).
    pub fn code(self) -> u8 {
        match self {
            UndeliverableReason::Unknown => 0,
            UndeliverableReason::TtlExpired => 1,
            UndeliverableReason::NotAttached => 2,
            UndeliverableReason::NoRoute => 3,
            UndeliverableReason::UnknownSource => 4,
        }
    }
}

/// One overlay message. See spec §2.9 for the protocol each group belongs to. The wire carries
/// the variant name: the most frequent ones (gossip, IHAVE, ping/pong) have one-letter wire names.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub enum Msg {
    // --- session ---
    /// Handshake, both directions.
    Hello(Box<Hello>),
    /// Signature by the node key over `Hello::auth_hash(peer_nonce, my_id)`.
    Auth(Sig),
    /// Liveness probe (sent only by the dialling side of an idle link).
    #[cfg_attr(test, serde(rename = "P"))]
    Ping(u32),
    /// Answer to `Ping`.
    #[cfg_attr(test, serde(rename = "Q"))]
    Pong(u32),
    /// Datagram link offer on an authenticated core↔core connection (issue 11, `net::datagram`):
    /// the sender's UDP port, and the token and key the peer seals datagrams to it with.
    /// Handled by the transport, never by the overlay.
    Link {
        /// UDP port on the connection's IP.
        port: u16,
        /// Random token naming this link in every datagram.
        token: u64,
        /// Random HMAC key.
        key: Key32,
    },
    /// Datagram sequence numbers of this link the sender of this frame never received (a gap
    /// before a later datagram, issue 11): the peer re-sends their frames by TCP. At most
    /// `net::datagram::MAX_RESEND_ASK` numbers; handled by the transport, never by the overlay.
    /// Empty: "your datagrams reach me" (sent once, when the first one arrives); only then does
    /// the peer send payloads by datagram.
    LinkResend(Vec<u32>),
    /// "Dial me back at this address" (reachability check, spec §2.1).
    ReachCheck(Addr),
    /// Result of a `ReachCheck`, with the address the checker used.
    ReachResult {
        /// Dial-back succeeded.
        ok: bool,
        /// Address dialled (observed IP when the claimed one was a wildcard).
        addr: Addr,
    },
    // --- core membership (HyParView) ---
    /// A new core node asks its contact to join the active views.
    Join,
    /// Random walk carrying a joiner.
    FwdJoin {
        /// The joiner.
        peer: PeerRef,
        /// Remaining walk length.
        ttl: u8,
    },
    /// Ask to become an active neighbour.
    Neighbor {
        /// Sender has no active peers: may not be refused.
        high: bool,
    },
    /// Answer to `Neighbor`.
    NeighborReply {
        /// Accepted.
        ok: bool,
    },
    /// Leave the receiver's active view.
    Disconnect {
        /// Sender stays up (receiver keeps it in the passive view).
        alive: bool,
    },
    /// Passive-view exchange (random walk).
    Shuffle {
        /// Who started it (gets the reply).
        origin: PeerRef,
        /// Sample of the origin's views.
        peers: Vec<PeerRef>,
        /// Remaining walk length.
        ttl: u8,
    },
    /// Answer to `Shuffle`.
    ShuffleReply(Vec<PeerRef>),
    // --- leaf attachment ---
    /// A leaf asks a core node to be its home.
    Attach,
    /// Answer to `Attach`, with other core nodes to try.
    AttachAck {
        /// Accepted.
        ok: bool,
        /// Other core nodes (≤ `MAX_ALTERNATIVES`).
        alternatives: Vec<PeerRef>,
    },
    // --- broadcast (Plumtree) ---
    /// Eager push of a payload.
    #[cfg_attr(test, serde(rename = "G"))]
    Gossip(Gossip),
    /// Lazy push: ids (and rounds) the sender has.
    #[cfg_attr(test, serde(rename = "I"))]
    IHave(Vec<(MsgId, u16)>),
    /// Make the link eager again, and send this message if given.
    Graft {
        /// Missing message.
        id: Option<MsgId>,
        /// Round of the IHAVE that announced it.
        round: u16,
    },
    /// Make the link lazy.
    Prune,
    // --- directory anti-entropy ---
    /// XOR-of-hash per id bucket (`DIR_BUCKETS` entries).
    DirDigest(Vec<u32>),
    /// Encoded `NodeRecord`s the peer may lack.
    DirRecords(Vec<Body>),
    // --- unicast ---
    /// Payload for one node.
    Routed(Routed),
    /// Delivery confirmation, routed back to the origin.
    RoutedAck {
        /// The destination that confirms (sender of the ack).
        src: NodeId,
        /// The origin of the unicast.
        dst: NodeId,
        /// The unicast's id.
        msg_id: u64,
        /// Hops the unicast took.
        hops: u8,
        /// [`Routed::signing_hash`] of the unicast it confirms (lets a leaf's home check the
        /// signature for the leaf, which holds no directory; the origin compares it).
        of: MsgId,
        /// Signature by `src`'s node key over [`Routed::ack_hash`] of `of`.
        sig: Sig,
    },
    /// Delivery failed, routed back to the origin.
    Undeliverable {
        /// Node that gave up (the signer).
        src: NodeId,
        /// The origin of the unicast.
        dst: NodeId,
        /// The unicast's id.
        msg_id: u64,
        /// Why.
        reason: UndeliverableReason,
        /// [`Routed::signing_hash`] of the unicast it reports on (the origin compares it).
        of: MsgId,
        /// Signature by `src`'s node key over [`Routed::undeliverable_hash`].
        sig: Sig,
    },
    // --- follower multicast (issue 10; new variants go at the end) ---
    /// A leaf tells a home which broadcasts it wants; replaces the previous one. Sent only to
    /// peers whose `Hello` announced [`FEATURE_INTEREST`].
    Interest(Interest),
    // --- ring directory (issue 10 part 2; docs/scaling.md "Directory"). Sent only to peers
    // whose `Hello` announced [`FEATURE_RING`]; nothing here is signed on its own: a record
    // carries its owner's signature, and every claim about other cores is verified by a
    // handshake before it enters a table. ---
    /// A lookup routed greedily around the ring towards the owner of `key`; each hop remembers
    /// where it came from and answers with [`Msg::Found`] on the way back.
    FindNode(FindNode),
    /// Answer to a [`Msg::FindNode`], carried back hop by hop.
    Found(Found),
    /// Encoded `NodeRecord`s for the receiver to hold as one of their replicas (a record's
    /// refresh by its owner or home, or a range handoff when the ring changes); at most
    /// `RING_STORE_PER_FRAME`.
    Store(Vec<Body>),
    /// Stabilisation: the sender's successors and predecessors (at most `RING_NEIGHBOURS_MAX`,
    /// claims until verified); `ask` asks for the receiver's lists in return.
    Neighbours {
        /// The receiver should answer with its own lists (`ask: false`).
        ask: bool,
        /// The sender's ring neighbours.
        peers: Vec<PeerRef>,
    },
    // --- per-author trees (issue 10; docs/scaling.md "Per-author trees"). Sent only to peers
    // whose `Hello` announced [`FEATURE_TREES`]; the sender of each is the connection it
    // arrives on, never a field. Lists are clamped by the receiver (`TOPIC_BATCH`,
    // `TOPIC_RECENT`), so an oversized one costs the sender, not us. ---
    /// Keep (or make) the sender a child in these topics' trees; also the periodic refresh
    /// batch (at most `TOPIC_BATCH` topics are read).
    Subscribe(Vec<NodeId>),
    /// Stop being the sender's parent for these topics (at most `TOPIC_BATCH` are read).
    Unsubscribe(Vec<NodeId>),
    /// Parent → child: the parent's depth (0 at the root; `None`: its path is broken) and the
    /// ids of its latest posts on the topic (at most `TOPIC_RECENT` are read).
    TopicAck {
        /// Topic key (`topic_of(author)`).
        topic: NodeId,
        /// Sender's depth in the tree.
        depth: Option<u8>,
        /// Latest post ids, newest first.
        recent: Vec<MsgId>,
    },
    /// "I am full: subscribe to this child of mine instead" (SplitStream push-down).
    TopicRedirect {
        /// Topic key.
        topic: NodeId,
        /// One of the sender's children.
        to: NodeId,
    },
    /// The subscription to this topic was refused; the subscriber retries along the ring.
    TopicRefused(NodeId),
    /// A post (an event; its id is derived from the body as for `Gossip`) on its author's tree:
    /// `routed` while it still travels toward the tree along the ring.
    TopicPost {
        /// Topic key; the receiver checks it is `topic_of` the verified author.
        topic: NodeId,
        /// Still on its way to the tree.
        routed: bool,
        /// The event (≤ `MAX_BODY_BYTES`).
        body: Body,
    },
    /// A child asks its parent for a post the parent's `TopicAck` announced and it lacks; the
    /// answer is a `TopicPost`.
    TopicFetch {
        /// Topic key.
        topic: NodeId,
        /// Post id.
        id: MsgId,
    },
    // --- two-step directory anti-entropy (issue 8/10 at 10k nodes). Sent only to peers whose
    // `Hello` announced [`FEATURE_DIR_IDS`]. ---
    /// Answer to a [`Msg::DirDigest`]: (node id, seq) of the sender's records in the buckets
    /// where the digests differ, at most `DIR_IDS_PER_ANSWER`, instead of the records.
    DirIds(Vec<(NodeId, u64)>),
    /// The ids from the last [`Msg::DirIds`] the sender lacks (or holds older) and will take;
    /// answered with [`Msg::DirRecords`], never more records than that `DirIds` offered.
    DirWant(Vec<NodeId>),
    // --- issue 11 (packets per post). Sent only to peers whose `Hello` announced
    // [`FEATURE_ALSO`]. ---
    /// An eager copy (as [`Msg::Gossip`]) and the other peers its sender pushed the same
    /// message to in the same wake (at most `ALSO_MAX_NAMED` are read): the receiver does not
    /// announce it lazily to those while the sender's link stays up (overlay `also.rs`).
    #[cfg_attr(test, serde(rename = "GA"))]
    GossipAlso(Gossip, Vec<NodeId>),
    // --- issue 11 (tail loss without a packet of its own). Sent only to peers whose `Hello`
    // announced [`FEATURE_LINK_SENT`]. ---
    /// The highest datagram sequence number the sender sealed on this connection's link: it
    /// rides on a TCP frame sent anyway (the idle `Ping`, its `Pong`), and a receiver that never
    /// got the datagrams up to it asks for them (`LinkResend`) as for any gap. Handled by the
    /// transport, never by the overlay.
    LinkSent(u32),
    // --- issue 10 (tree control per link, not per topic). Sent only to peers whose `Hello`
    // announced [`FEATURE_DIGESTS`] (and [`FEATURE_TREES`]); the sender is the connection.
    // ---
    /// Child → parent, once per refresh period: the topics the sender has with the receiver as
    /// parent, as a count and the wrapping sum of a 64-bit mix of each key (`topic_digest`),
    /// instead of the whole `Subscribe` list. A match renews every entry; a mismatch is
    /// answered with [`Msg::TopicResync`]. `relisted`: the sender has just re-sent the whole
    /// list (answering a resync), so entries it did not list may go. `check`: topics the
    /// sender passed a post up on since its last digest, with the first 4 bytes of its newest
    /// id; the parent acks those whose newest differs (at most `TOPIC_BATCH` are read).
    #[cfg_attr(test, serde(rename = "TD"))]
    TopicDigest {
        /// Topics the sender has with the receiver (a claim: compared, never allocated for).
        count: u32,
        /// Wrapping sum of `topic_mix(key)` over those topics.
        hash: u64,
        /// The sender re-sent its whole list just before this digest.
        relisted: bool,
        /// (topic, little-endian first 4 bytes of the sender's newest id on it).
        check: Vec<(NodeId, u32)>,
    },
    /// Parent → child: the child's digest did not match the entries held here (`u32`: how many
    /// the parent holds for it); the child re-sends its list (`Subscribe`) and a `relisted`
    /// digest. Sent at most once per `TOPIC_RESYNC_GAP_MS` per child.
    #[cfg_attr(test, serde(rename = "TR"))]
    TopicResync(u32),
    // --- ring co-holder reconciliation (issue 10, "reconciliation by ranges"). Sent only to
    // ring peers whose `Hello` announced [`FEATURE_DIGESTS`]; the sender is the connection. ---
    /// "Of the records both of us hold by my ring table, with keys in the clockwise arc
    /// (`lo`, `hi`] (`lo == hi`: the whole ring), I hold `count`, whose fingerprint is `fp`."
    RingSync {
        /// Arc start (exclusive).
        lo: NodeId,
        /// Arc end (inclusive).
        hi: NodeId,
        /// Records in the arc.
        count: u32,
        /// Sum of the records' (id, seq) hashes (`overlay::dht_sync::fingerprint`).
        fp: u64,
    },
    /// Answer to a [`Msg::RingSync`] whose fingerprint differed: (id, seq) of the sender's
    /// records in (`lo`, `hi`] both hold, clockwise from `lo`, at most `RING_SYNC_IDS_MAX`; when
    /// the list was cut there, `hi` is its last key (the asker goes on from it).
    RingHave {
        /// Arc start (exclusive), as asked.
        lo: NodeId,
        /// Arc end (inclusive): as asked, or the last listed key.
        hi: NodeId,
        /// (node id, record seq), clockwise from `lo`.
        ids: Vec<(NodeId, u64)>,
    },
}

/// A routed ring lookup (see [`Msg::FindNode`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct FindNode {
    /// Chosen by the sender of this hop (each hop picks its own), echoed in the `Found`.
    pub id: u64,
    /// The node id looked up.
    pub key: NodeId,
    /// Hops taken so far (a hop at `RING_LOOKUP_MAX_HOPS` answers instead of forwarding).
    pub hops: u8,
}

/// A lookup's answer (see [`Msg::Found`]). Everything but `record` is a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct Found {
    /// The `FindNode::id` of the hop it answers.
    pub id: u64,
    /// The node id looked up.
    pub key: NodeId,
    /// Hops the lookup took to the answering core.
    pub hops: u8,
    /// The key's encoded `NodeRecord`, if the answering core holds it (signed by its node).
    pub record: Option<Body>,
    /// The cores that should hold the key's record, as the answering core sees them (at most
    /// `RING_REPLICAS`): where the record's owner stores it.
    pub holders: Vec<PeerRef>,
}

/// How a node wants broadcasts delivered (`--delivery`; one byte on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
#[cfg_attr(test, serde(into = "u8", try_from = "u8"))]
pub enum DeliveryMode {
    /// Everything (today's broadcast).
    Broadcast,
    /// Only the followees' broadcasts and what is addressed to the owner.
    Follow,
    /// Broadcast while the network is small, follow past `AUTO_FOLLOW_MIN_NODES` (the home
    /// judges, from its estimated network size; `overlay/sample.rs` has the steps).
    Auto,
}

impl DeliveryMode {
    /// Every mode, in wire order.
    pub const ALL: [DeliveryMode; 3] = [DeliveryMode::Broadcast, DeliveryMode::Follow, DeliveryMode::Auto];

    /// The name `--delivery` takes and `/status` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Broadcast => "broadcast",
            DeliveryMode::Follow => "follow",
            DeliveryMode::Auto => "auto",
        }
    }

    /// The mode named `name` (see [`DeliveryMode::as_str`]).
    pub fn from_name(name: &str) -> Option<DeliveryMode> {
        DeliveryMode::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

impl From<DeliveryMode> for u8 {
    fn from(m: DeliveryMode) -> u8 {
        match m {
            DeliveryMode::Broadcast => 0,
            DeliveryMode::Follow => 1,
            DeliveryMode::Auto => 2,
        }
    }
}

impl TryFrom<u8> for DeliveryMode {
    type Error = String;
    fn try_from(b: u8) -> Result<DeliveryMode, String> {
        match b {
            0 => Ok(DeliveryMode::Broadcast),
            1 => Ok(DeliveryMode::Follow),
            2 => Ok(DeliveryMode::Auto),
            other => Err(format!("unknown delivery mode {other}")),
        }
    }
}

/// A leaf's interest set: its mode and the authors its owner follows (sorted, distinct, at
/// most `MAX_INTEREST_AUTHORS`; a longer list is refused whole by the home).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct Interest {
    /// The leaf's `--delivery` setting.
    pub mode: DeliveryMode,
    /// Followed authors (Nostr pubkeys).
    pub authors: Vec<Key32>,
}

impl Msg {
    /// The variant's name (for counters and logs).
    pub fn name(&self) -> &'static str {
        match self {
            Msg::Hello(_) => "Hello",
            Msg::Auth(_) => "Auth",
            Msg::Ping(_) => "Ping",
            Msg::Pong(_) => "Pong",
            Msg::Link { .. } => "Link",
            Msg::LinkResend(_) => "LinkResend",
            Msg::LinkSent(_) => "LinkSent",
            Msg::ReachCheck(_) => "ReachCheck",
            Msg::ReachResult { .. } => "ReachResult",
            Msg::Join => "Join",
            Msg::FwdJoin { .. } => "FwdJoin",
            Msg::Neighbor { .. } => "Neighbor",
            Msg::NeighborReply { .. } => "NeighborReply",
            Msg::Disconnect { .. } => "Disconnect",
            Msg::Shuffle { .. } => "Shuffle",
            Msg::ShuffleReply(_) => "ShuffleReply",
            Msg::Attach => "Attach",
            Msg::AttachAck { .. } => "AttachAck",
            Msg::Gossip(g) if g.kind == GossipKind::Event => "Gossip(event)",
            Msg::Gossip(_) => "Gossip(record)",
            Msg::IHave(_) => "IHave",
            Msg::Graft { .. } => "Graft",
            Msg::Prune => "Prune",
            Msg::DirDigest(_) => "DirDigest",
            Msg::DirRecords(_) => "DirRecords",
            Msg::Routed(_) => "Routed",
            Msg::RoutedAck { .. } => "RoutedAck",
            Msg::Undeliverable { .. } => "Undeliverable",
            Msg::Interest(_) => "Interest",
            Msg::FindNode(_) => "FindNode",
            Msg::Found(_) => "Found",
            Msg::Store(_) => "Store",
            Msg::Neighbours { .. } => "Neighbours",
            Msg::Subscribe(_) => "Subscribe",
            Msg::Unsubscribe(_) => "Unsubscribe",
            Msg::TopicAck { .. } => "TopicAck",
            Msg::TopicRedirect { .. } => "TopicRedirect",
            Msg::TopicRefused(_) => "TopicRefused",
            Msg::TopicPost { .. } => "TopicPost",
            Msg::TopicFetch { .. } => "TopicFetch",
            Msg::DirIds(_) => "DirIds",
            Msg::DirWant(_) => "DirWant",
            Msg::RingSync { .. } => "RingSync",
            Msg::RingHave { .. } => "RingHave",
            Msg::GossipAlso(g, _) if g.kind == GossipKind::Event => "GossipAlso(event)",
            Msg::GossipAlso(..) => "GossipAlso(record)",
            Msg::TopicDigest { .. } => "TopicDigest",
            Msg::TopicResync(_) => "TopicResync",
        }
    }
    /// True for the ring directory's frames (sent only to peers that announced [`FEATURE_RING`]).
    pub fn is_ring(&self) -> bool {
        matches!(
            self,
            Msg::FindNode(_)
                | Msg::Found(_)
                | Msg::Store(_)
                | Msg::Neighbours { .. }
                | Msg::RingSync { .. }
                | Msg::RingHave { .. }
        )
    }
    /// True for the per-author trees' frames (sent only to peers that announced
    /// [`FEATURE_TREES`]).
    pub fn is_tree(&self) -> bool {
        matches!(
            self,
            Msg::Subscribe(_)
                | Msg::Unsubscribe(_)
                | Msg::TopicAck { .. }
                | Msg::TopicRedirect { .. }
                | Msg::TopicRefused(_)
                | Msg::TopicPost { .. }
                | Msg::TopicFetch { .. }
                | Msg::TopicDigest { .. }
                | Msg::TopicResync(_)
        )
    }
    /// True for messages that carry application payload (counted as payload bytes, not control).
    pub fn is_payload(&self) -> bool {
        matches!(self, Msg::Gossip(g) | Msg::GossipAlso(g, _) if g.kind == GossipKind::Event)
            || matches!(self, Msg::Routed(_) | Msg::TopicPost { .. })
    }
}
