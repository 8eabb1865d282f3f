//! Every bound and timer of the overlay: one named constant each, with its rationale and memory
//! cost (spec overlay.md §2.7, §2.10). Runtime config may lower a capacity, never raise it.
//!
//! Worst-case overlay heap on a core node ≈ directory (`DIR_CAP` × ~600 B ≈ 12 MiB at 20,000
//! records) + message cache (`MSG_CACHE_CAP` × `MAX_BODY_BYTES` ≈ 128 MiB only if every cached
//! message were maximal; posts are ~1 KB ⇒ ≈ 2 MiB) + seen ids (`SEEN_CAP` × ~110 B ≈ 7 MiB) +
//! connection queues (`MAX_CONNS` × `CONN_QUEUE_CAP` messages).

// ---- HyParView (core membership), paper / iroh-gossip defaults ----
/// Active view size (fanout + 1). HyParView paper p.9; iroh default.
pub const ACTIVE_VIEW: usize = 5;
/// Passive view size. ~30 × 40 B.
pub const PASSIVE_VIEW: usize = 30;
/// Active random walk length (ForwardJoin ttl).
pub const ARWL: u8 = 6;
/// Passive random walk length: at this ttl the joiner is put in the passive view.
pub const PRWL: u8 = 3;
/// Shuffle random walk length.
pub const SHUFFLE_TTL: u8 = 6;
/// Active peers in a shuffle sample.
pub const SHUFFLE_ACTIVE: usize = 3;
/// Passive peers in a shuffle sample.
pub const SHUFFLE_PASSIVE: usize = 4;
/// Shuffle period (iroh: 60 s).
pub const SHUFFLE_INTERVAL_MS: u64 = 60_000;
/// Shuffle period of a calm core: nothing failed around it for `SHUFFLE_CALM_AFTER_MS`. At idle
/// the walks were the largest part of a core's control traffic (`Shuffle` 3.8 of 14 KB/min at
/// 10k); passive views matter when a neighbour is lost, and a loss (or a dead passive entry)
/// brings the fast period back at once.
pub const SHUFFLE_CALM_INTERVAL_MS: u64 = 3 * SHUFFLE_INTERVAL_MS;
/// A core shuffles every `SHUFFLE_INTERVAL_MS` for this long after it started, lost an active
/// neighbour without a `Disconnect`, or failed to dial a passive peer.
pub const SHUFFLE_CALM_AFTER_MS: u64 = 5 * 60_000;
/// Each shuffle period a core with a full active view replaces one link with a random directory
/// core with probability 1/this (heals partitions; costs one link change per 4 min per core).
pub const ACTIVE_REFRESH_ONE_IN: u64 = 4;
/// A full core that refused a low-priority `Neighbor` introduces its sender to the next core it
/// refuses within this long (`membership.rs` `introduce_short`; one slot, ≈ 50 B).
pub const SHORT_HINT_MS: u64 = 10_000;
/// A Neighbor request unanswered this long is given up (WAN/phones; iroh's 500 ms is LAN-tuned).
pub const NEIGHBOR_TIMEOUT_MS: u64 = 5_000;
/// A core whose `Join` its bootstrap contact refused (the contact was still checking its own
/// reachability, up to `REACH_TIMEOUT_MS`) or did not answer sends it again this often ...
pub const JOIN_RETRY_MS: u64 = 2_000;
/// ... at most this many times (one minute: four times the longest reachability check), until
/// a contact accepts. Without it, the cores that joined through such a core formed an island
/// the broadcast never crossed (1k seed 2: three parts for minutes, cores at 476 of 1,000
/// records). Two fields per node, one small frame per retry.
pub const JOIN_RETRIES: u8 = 30;

// ---- leaves and homes ----
/// Homes a leaf keeps (one eager, one lazy).
pub const HOMES: usize = 2;
/// Most homes a record may list.
pub const MAX_HOMES: usize = 3;
/// Leaf slots per core node (Pi-sized; raise via config on a VPS — never above this).
pub const LEAF_SLOTS: usize = 64;
/// Core nodes a leaf remembers as home candidates (~30 × 40 B).
pub const MAX_CANDIDATES: usize = 30;
/// Core nodes offered in an `AttachAck`.
pub const MAX_ALTERNATIVES: usize = 8;

// ---- Plumtree (broadcast) ----
/// Flush delay of IHAVEs for a peer the transport shed an eager push to (`Input::Shed`): that
/// peer expected the payload, so it hears of it soon (spec §2.10: 200 ms; iroh: 5 ms).
pub const IHAVE_LAZY_MS: u64 = 500;
/// Lazy push on a quiet link (issue 11): IHAVEs for a lazy peer ride on the next payload frame
/// to it, else wait this long from the oldest one (plus up to [`IHAVE_QUIET_JITTER_MS`]) and
/// leave as one frame. A lazy link carries no payloads, so this is the usual case: one IHAVE
/// frame per lazy link per period at most, instead of one per 500 ms. When the peer's own
/// IHAVE for the same ids arrives first, ours for them is not sent, and what is left is newer
/// than the peer's frame (its period starts again), so on a link where both sides get every
/// post from elsewhere one side announces per period, in the simulator and in `net3`'s real
/// servers alike (0.05 datagrams per post there; an IHAVE-only datagram arms no tail probe;
/// since the author's copies name their twins, `also.rs`, that link announces nothing of the
/// author's posts at all). Cost: a repair that starts from
/// an IHAVE (the eager copy or its GRAFT was lost, or the eager parent died) starts up to
/// this much later (`tests/sim_lazy.rs`, docs/overlay.md §4).
pub const IHAVE_QUIET_MS: u64 = 2_000;
/// Random extra delay of a quiet IHAVE (0..this), so the two ends of a lazy link do not flush
/// at the same instant (their frames would cross and both be sent in full).
pub const IHAVE_QUIET_JITTER_MS: u64 = 500;
/// A peer's pending IHAVE ids that fill one datagram (36 B each: ≤ 1,080 B of the 1,200 B of
/// frames one datagram carries, `net::datagram::MAX_FRAMES_BYTES`): sent at once when
/// reached (waiting longer would only need a second packet), and the size of a quiet flush's
/// frames, so each goes as one datagram rather than falling back to TCP.
pub const IHAVE_DATAGRAM_IDS: usize = 30;
/// Most peers an eager copy names as its other receivers (`Msg::GossipAlso`, `also.rs`): 9 B
/// each on the wire; a longer list is cut here by the receiver.
pub const ALSO_MAX_NAMED: usize = 8;
/// How long a receiver holds the IHAVEs it skipped because the sender named the peer
/// (`also.rs`): released as ordinary IHAVEs if the sender's link drops within it, so a sender
/// that died between its sends (or after a send its datagram repair had not yet repaired) is
/// covered. A crashed process closes its sockets at once; a host that vanished is seen after
/// [`DEAD_MS`], hence a little more than that.
pub const ALSO_HOLD_MS: u64 = DEAD_MS + 10_000;
/// Most held IHAVEs (`also.rs`; 64 B each ⇒ 64 KiB). Over it the oldest is released as an
/// ordinary IHAVE (today's cost, never a lost repair): reached only above ~5 posts/s sustained
/// for the whole hold.
pub const ALSO_HOLD_CAP: usize = 1_024;
/// First GRAFT after an IHAVE for a missing message (spec §1.5: 1.5 s on 20–150 ms links).
pub const GRAFT_TIMEOUT_1_MS: u64 = 1_500;
/// Retry GRAFT to the next announcer (≈ 1 RTT on slow links).
pub const GRAFT_TIMEOUT_2_MS: u64 = 750;
/// A core node never prunes its eager core links below this many (and re-grafts up to it).
pub const MIN_EAGER_CORE: usize = 3;
/// Tree optimisation: re-parent when an IHAVE shows a path this many hops shorter (paper: 7;
/// spec §1.5 measured 3 as faster at the same RMR).
pub const OPTIMIZATION_THRESHOLD: u16 = 3;
/// Most ids in one IHAVE frame (≈ 40 B each ⇒ ≤ 40 KiB frame).
pub const MAX_IHAVE_BATCH: usize = 1_000;
/// Most (peer, id) IHAVE entries waiting for the next flush (~50 B each ⇒ ≈ 400 KiB).
pub const IHAVE_PENDING_CAP: usize = 8_192;
/// Most missing messages tracked for GRAFT (~300 B each with announcers ⇒ ≈ 1.2 MiB).
pub const MISSING_CAP: usize = 4_096;
/// Announcers remembered per missing message.
pub const MAX_ANNOUNCERS: usize = 4;
/// Messages kept to answer GRAFTs (bodies are shared `Arc`s; ~1 KB per post ⇒ ≈ 2 MiB).
pub const MSG_CACHE_CAP: usize = 2_048;
/// How long a message stays in the GRAFT cache (spec: 10 min).
pub const MSG_CACHE_MS: u64 = 10 * 60_000;
/// Own messages published while unconnected, sent once a peer is up (ids only; bodies stay in
/// the message cache).
pub const UNSENT_OWN_CAP: usize = 64;
/// Ids remembered as seen (count bound; 40 B in the age queue + ≤ 66 B in the hash set, whose
/// table doubles to 131,072 slots at this count ⇒ ≈ 7 MiB).
pub const SEEN_CAP: usize = 65_536;
/// How long an id stays seen (age bound; the event store dedups older ones).
pub const SEEN_MS: u64 = 60 * 60_000;

// ---- directory ----
/// Most directory records (≈ 600 B each incl. delegation ⇒ ≈ 12 MiB).
pub const DIR_CAP: usize = 20_000;
/// Buckets of the anti-entropy digest (256 × u32 ≈ 1.3 KB per digest frame).
pub const DIR_BUCKETS: usize = 256;
/// `Directory::expire` walks the records at most this often (seconds).
pub const DIR_EXPIRE_EVERY_S: u64 = 60;
/// Records per `DirRecords` frame (≈ 300–600 B each ⇒ ≤ 120 KiB frame).
pub const DIR_RECORDS_PER_FRAME: usize = 200;
/// A connection's `DirDigest` is answered at most once per this interval (a link sends one when
/// it comes up; each answer may re-encode up to `DIR_CAP` records ≈ 12 MiB).
pub const DIR_ANSWER_INTERVAL_MS: u64 = 10 * 60_000;
/// Most (node id, seq) pairs in one `DirIds` answer to a digest (≈ 19 B each ⇒ ≈ 78 KB frame, and
/// at most this many records in the `DirRecords` that answer the peer's `DirWant`). Whole
/// buckets of records were sent before: at 10,000 nodes a bucket holds ≈ 39 records (≈ 9 KB), so
/// one missing record cost 9 KB each way; its id costs 19 B. Differing buckets beyond the bound
/// are left to the next exchange (which starts at another bucket, picked by the clock).
pub const DIR_IDS_PER_ANSWER: usize = 4_096;
/// A record is valid this long after it was made (spec: 36 h).
pub const RECORD_TTL_S: u64 = 36 * 3_600;
/// A node re-publishes its record this often (spec: 12 h).
pub const RECORD_REFRESH_MS: u64 = 12 * 3_600 * 1_000;
/// A record counts as *live* while a newer version of it reached this node within this many
/// seconds (local clock, not the record's claims): one refresh interval plus an hour of slack.
/// Another unauthorised key may take a node id only from a record that is not live.
pub const RECORD_LIVE_S: u64 = RECORD_REFRESH_MS / 1_000 + 3_600;
/// When the directory is full, up to this many dead or stale records are evicted in one pass
/// (so a stream of newcomers costs one O(n log n) pass per batch, not per record).
pub const DIR_EVICT_BATCH: usize = DIR_CAP / 64;
/// New node ids one source IP prefix (/24 IPv4, /48 IPv6: what one host or one small network
/// controls) may add to the directory through handshakes in a burst; then one per
/// [`NEW_ID_PREFIX_INTERVAL_MS`]. Bounds a Sybil host (the issue measured 31 → 416 records in
/// 25 s from one host). Large enough for a CGNAT pool of phones attaching at once.
pub const NEW_IDS_PER_PREFIX_BURST: u64 = 32;
/// Refill interval of the per-prefix new-id budget.
pub const NEW_ID_PREFIX_INTERVAL_MS: u64 = 60_000;
/// Prefixes tracked by that budget and by the gossiped new-id budget, each (≈ 48 B each ⇒ ≈ 200
/// KiB per table, two tables); when full, refilled ones go first.
pub const PREFIX_TABLE_CAP: usize = 4_096;

/// New node ids one source IP prefix may add to the directory through *gossiped* records
/// (`DirRecords` answers and record broadcasts it relays) in a burst; then one per
/// [`GOSSIP_NEW_ID_INTERVAL_MS`]. Records of ids we already hold (refreshes) are free. Covers a
/// thousand nodes joining at once behind one relay link; one connected core node can no longer
/// mint directory entries as fast as it signs them (see `dir_admit.rs`). Over it: dropped,
/// counted in `gossip_limited`, never a ban (an honest relay forwards others' records).
pub const GOSSIP_NEW_IDS_BURST: u64 = 1_000;
/// Refill interval of the gossiped new-id budget: 10 per minute, 14,400 per day per prefix
/// (≈ 7× the daily joins and returns of a 20,000-node network with 10 % churn a day).
pub const GOSSIP_NEW_ID_INTERVAL_MS: u64 = 6_000;
/// Node ids remembered as refused over their prefix's new-id budget, with that prefix, so a
/// link from another prefix relaying the same id vouches for it (`dir_admit.rs`): 8 B id + 8 B
/// prefix in a hash map (≈ 40 B with its table) + 8 B in the age queue (up to twice the cap)
/// ⇒ ≈ 250 KiB when full; oldest forgotten first (forgotten ids come back by anti-entropy).
pub const DIR_REFUSED_CAP: usize = 4_096;
/// A connection we dialled to one of our configured bootstrap peers may add this many new ids
/// on top (once per connection): a joining node legitimately learns the whole directory from
/// its first digest exchange with the contact its operator chose.
pub const DIR_CATCHUP_NEW_IDS: u32 = DIR_CAP as u32;

/// A changed record waits this long before it is published (coalesces bursts of changes).
pub const RECORD_DEBOUNCE_MS: u64 = 3_000;

// ---- unicast ----
/// Hop limit of a unicast: leaf → home → destination's home → leaf.
pub const UNICAST_TTL: u8 = 3;
/// Wait for an ack this long before the next attempt.
pub const UNICAST_TIMEOUT_MS: u64 = 10_000;
/// Attempts (through different homes) before reporting failure to the app, whose resend queue
/// takes over (original: 5 min × 2^n).
pub const UNICAST_ATTEMPTS: u8 = 3;
/// Unicasts awaiting an ack (each holds its payload: ≈ 256 × 1 KB).
pub const PENDING_UNICAST_CAP: usize = 256;
/// Routes a home remembers of its leaves' unicasts (payload hash, destination, the hop it was
/// handed to), oldest forgotten first, to check a failure report as the origin would (a leaf
/// has no directory). 1,024 × 48 B ≈ 48 KB; scanned only when a report for a leaf arrives.
/// A report whose route was forgotten is dropped: the leaf's timeout retries.
pub const LEAF_ROUTES_CAP: usize = 1_024;

// ---- connections, liveness ----
/// Most connections (active 5 + leaves 64 + on-demand 16 + handshakes/probes).
pub const MAX_CONNS: usize = 128;
/// Slots beyond `MAX_CONNS` that only reachability probes (dial-backs) may take: a probe
/// lives a handshake long, and a prober whose slots were full answered "unreachable" without
/// dialling (at 100k simulated nodes a reachable newcomer became a leaf, and the nodes
/// bootstrapping through it never joined).
pub const PROBE_RESERVE_CONNS: usize = 4;
/// On-demand connections (unicast targets, shuffle replies) kept beyond the views.
pub const ONDEMAND_CAP: usize = 16;
/// An on-demand connection idle this long is closed.
pub const ONDEMAND_IDLE_MS: u64 = 5 * 60_000;
/// A spare (second) connection to an already connected node closes after this much idle.
pub const SPARE_IDLE_MS: u64 = 10_000;
/// Messages queued on a connection before its handshake completes.
pub const CONN_QUEUE_CAP: usize = 64;
/// A handshake not finished within this is abandoned (mesh: 10 s).
pub const HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
/// A core node's dialling side pings after this much silence.
pub const PING_IDLE_CORE_MS: u64 = 30_000;
/// A leaf pings its homes after this much silence: coarse, to let a phone's radio sleep; NAT
/// mappings of idle TCP usually outlive 2 minutes.
pub const PING_IDLE_LEAF_MS: u64 = 60_000;
/// A link silent this long is dead (> 3 leaf ping periods).
pub const DEAD_MS: u64 = 190_000;
/// Housekeeping period of a core node (pings, repairs, expiry).
pub const TICK_CORE_MS: u64 = 1_000;
/// Housekeeping period of a leaf (its GRAFT/IHAVE timers still fire on time).
pub const TICK_LEAF_MS: u64 = 5_000;
/// The dial-back check must answer within this, or the node becomes a leaf.
pub const REACH_TIMEOUT_MS: u64 = 15_000;
/// Reconnect backoff base (mesh: 2 s × 1.5^n, ±50 %, cap 6 min).
pub const BACKOFF_BASE_MS: u64 = 2_000;
/// Reconnect backoff cap.
pub const BACKOFF_MAX_MS: u64 = 6 * 60_000;
/// Outputs buffered between two `poll_output` drains; beyond it sends are dropped and counted.
pub const OUTBOX_CAP: usize = 16_384;

// ---- wall clock (issue 8 item 3) ----
/// A wall clock that moved this much more (or less) than the monotonic clock since the last
/// check was stepped (NTP after a Pi's boot without RTC, a phone waking from suspend): our
/// record is re-signed so its expiry and sequence follow the corrected time.
pub const CLOCK_STEP_S: u64 = 30;
/// How often the (mono, wall) reference pair is renewed when no step was seen (absorbs NTP's
/// slow slewing, ≤ 0.5 ms/s, so it never adds up to a false step).
pub const CLOCK_REF_MS: u64 = 60_000;
/// Events dated beyond the receiver's window (`limits::MAX_FUTURE_SKEW`) by at most this much
/// are held, not dropped, and re-checked when they fall inside it: with honest clocks skewed by
/// ±10 min, author and receiver can be 20 min apart, 5 min beyond the 15-min window.
pub const FUTURE_HOLD_S: u64 = 15 * 60;
/// Events held for later (each keeps its body: ≤ 64 × `MAX_BODY_BYTES` ≈ 8.3 MiB worst case,
/// ≈ 64 KiB for 1 KB posts); the oldest is dropped (and counted) when full.
pub const FUTURE_HOLD_CAP: usize = 64;

// ---- abuse resistance (spec §2.7) ----
/// Frames per second per connection (sustained): a flood guard, 5× the frames an honest core
/// link carries at 200 posts/s network-wide (one payload per post at most, plus batched IHAVEs).
pub const CONN_MSGS_PER_S: u64 = 1_000;
/// Frames burst per connection (directory catch-up on a new link is bursty).
pub const CONN_MSGS_BURST: u64 = 4_000;
/// Payload messages (events, unicasts) per second per connection: a flood guard bounding the
/// verification work one link can cause (≈ 500 Schnorr checks/s), not a throughput limit. Every
/// post crosses every core tree link, so this must exceed the network's total post rate (it was
/// 20 and capped the whole network at ~20–25 posts/s). Over it: dropped, never a violation.
pub const CONN_PAYLOAD_PER_S: u64 = 500;
/// Payload burst per connection.
pub const CONN_PAYLOAD_BURST: u64 = 1_000;
/// Frame-rate violations on one connection before it is closed (and, unless it is one of our
/// relay links, its node banned for `BAN_FLOOD_MS`).
pub const RATE_VIOLATIONS_MAX: u32 = 200;
/// New events per second a non-relay link (leaf, on-demand, young inbound) may bring in besides
/// its owner's own posts (`admission.rs`); one 40-B bucket per connection.
pub const INJECT_PER_S: u64 = 2;
/// Burst of the above.
pub const INJECT_BURST: u64 = 20;
/// New events per second all non-relay links from one IP prefix (v4 /24, v6 /48) may bring in
/// together: opening more connections, or more node ids, from one network does not add budget.
pub const INJECT_PREFIX_PER_S: u64 = 5;
/// Burst of the above.
pub const INJECT_PREFIX_BURST: u64 = 50;
/// Prefixes tracked (~64 B each ⇒ ≈ 64 KiB); the fullest (least active) bucket is forgotten.
pub const PREFIX_CAP: usize = 1_024;
/// An inbound link in our active view becomes a relay link after this long (a link we dialled
/// is one at once): a stranger cannot skip entry admission by sending `Join` and flooding.
pub const RELAY_TRUST_MS: u64 = 60_000;
/// Broadcast events per author per minute, enforced by every node (excess never propagates).
pub const AUTHOR_PER_MIN: u64 = 30;
/// Per-author burst.
pub const AUTHOR_BURST: u64 = 60;
/// Authors tracked by the limiter (~64 B each ⇒ ≈ 256 KiB); the fullest buckets are evicted.
pub const AUTHOR_CAP: usize = 4_096;
/// First ban for an invalid signature (doubles per repeat).
pub const BAN_INVALID_MS: u64 = 60 * 60_000;
/// Longest ban.
pub const BAN_MAX_MS: u64 = 7 * 24 * 3_600 * 1_000;
/// Ban after rate violations.
pub const BAN_FLOOD_MS: u64 = 10 * 60_000;
/// Banned nodes remembered (~40 B each).
pub const BANS_CAP: usize = 1_024;

// ---- ring directory (issue 10 part 2; docs/scaling.md "Directory"; `ring.rs`) ----
/// Successors and predecessors each core keeps on the id ring (16 B each ⇒ 2 × 8 × 16 = 256 B).
/// More than `RING_REPLICAS`, so a replica set with distinct network prefixes can still be
/// found when neighbours share a prefix, and a failed successor is replaced without a lookup.
pub const RING_SUCCESSORS: usize = 8;
/// Core nodes holding each node's record: the first successors of its id with pairwise
/// distinct IP prefixes (/24, /48). Three copies survive two simultaneous failures.
pub const RING_REPLICAS: usize = 3;
/// Finger slots: finger i is the first known core at or after `me + 2^i` (64 × 24 B ≈ 1.5 KB;
/// only ≈ log2(cores) of them are distinct, the rest repeat the successor).
pub const RING_FINGERS: usize = 64;
/// Candidates from one peer's neighbour list that are worth a handshake (the rest of a long,
/// possibly invented list is ignored).
pub const RING_VERIFY_PER_LIST: usize = RING_SUCCESSORS;
/// Lookup results cached per node (≈ 64 B each ⇒ ≈ 64 KiB).
pub const LOOKUP_CACHE_CAP: usize = 1_024;
/// A cached lookup result is used this long (a core's address rarely changes; a leaf's homes
/// do, and a stale entry costs one failed attempt and a fresh lookup).
pub const LOOKUP_CACHE_MS: u64 = 10 * 60_000;
/// Peers in one `Neighbours` frame: a core's successors and predecessors (a longer list is
/// refused whole, counted in `ring_dropped`; ≈ 30 B each ⇒ ≤ 0.5 KB per frame).
pub const RING_NEIGHBOURS_MAX: usize = 2 * RING_SUCCESSORS;
/// Records in one `Store` frame (≤ 32 × ~200 B ≈ 6.4 KB; a range handoff sends several). A
/// longer list is refused whole.
pub const RING_STORE_PER_FRAME: usize = 32;
/// A lookup that has taken this many hops is answered where it is (greedy routing needs
/// ≈ ½·log2(cores) hops, 14 at 10^5 cores; the bound only cuts a hostile or broken walk).
pub const RING_LOOKUP_MAX_HOPS: u8 = 32;
/// Lookups a core is waiting on (its own and those it forwarded; ≈ 64 B each ⇒ 16 KB). When
/// full, new ones are dropped (counted in `ring_dropped`) until answers or timeouts free room.
pub const RING_PENDING_CAP: usize = 256;
/// A lookup with no answer after this long is forgotten (the unicast waiting on it times out
/// on its own; ≈ 14 hops × 150 ms ≪ this).
pub const RING_LOOKUP_TIMEOUT_MS: u64 = 10_000;
/// One stabilise round (lists to the nearest successor and predecessor) and one finger lookup
/// per this interval: ≈ 4–5 KB/min per core (docs/scaling.md).
pub const RING_ROUND_MS: u64 = 60_000;
/// Unchanged neighbour lists are sent to a neighbour in full only every this many rounds
/// (empty in between; ≈ 0.7 KB saved per skipped list, both ways: `dht.rs` `ring_lists_for`).
pub const RING_LISTS_RESEND_ROUNDS: u32 = 5;
/// While our table changed within this long, or a neighbour's own lists just came in full,
/// our lists go in full every round: a table still converging needs every chance to hear of
/// (and verify) the cores near it (`tests/sim_ring.rs` lost unicasts without it). No memory.
pub const RING_LISTS_SETTLE_MS: u64 = 5 * RING_ROUND_MS;
/// Unicasts and acks a core holds while it looks their destination (or source) up (≤ 64 ×
/// `MAX_BODY_BYTES` ≈ 4.3 MB worst case, a few KB in practice); when full, the newest is refused.
pub const RING_PARKED_CAP: usize = 64;
/// A core looks its own id and its attached leaves' ids up this often and re-stores a record at
/// the holders if the answer lacks it or holds an older version (the owner's read-back check;
/// ≤ 1 + `LEAF_SLOTS` lookups per interval).
pub const RING_READBACK_MS: u64 = 30 * 60_000;
/// The first read-back check after start (the table has had a few rounds to fill by then).
pub const RING_FIRST_READBACK_MS: u64 = 5 * RING_ROUND_MS;
/// A leaf's record stored by its home is checked again this long after the store, then after
/// twice as long each time, until a read-back finds it at its first holder or the wait reaches
/// `RING_READBACK_MS` (the periodic check takes over). Traced at 30k simulated nodes: a home's
/// store lookup for a leaf that had just attached got no answer (joins still under way), and
/// the leaf's record was at no holder until the next read-back, 30 min later; unicasts from and
/// to the leaf failed meanwhile (`Unknown` / `UnknownSource`).
pub const RING_CONFIRM_MS: u64 = RING_ROUND_MS;
/// Records awaiting that check at one home: its leaves (a leaf no longer attached is dropped).
pub const RING_CONFIRM_CAP: usize = LEAF_SLOTS;
/// Held ring records written to the data dir's `ring-records.bin` (`dht_persist.rs`): a core
/// holds ≈ 3 × records / cores (136 mean, 259 max at 10k in the simulator), so this is ten
/// times the largest seen; more are left out of the file (they come back by handoff).
pub const RING_PERSIST_CAP: usize = 4_096;
/// A record longer than this is not written, and a file naming one is rejected (a record
/// with its owner's delegation is ≈ 0.4–1 KB).
pub const RING_FILE_RECORD_MAX_BYTES: usize = 2_048;
/// Largest ring record file read back at start (≈ 8.2 MiB, read once into memory).
pub const RING_FILE_MAX_BYTES: usize = 44 + RING_PERSIST_CAP * (4 + RING_FILE_RECORD_MAX_BYTES);
/// Each ring core compares what it holds with each connected co-holder this often
/// (`dht_sync.rs`: one `RingSync` of ≈ 40 B per co-holder when nothing differs).
pub const RING_SYNC_MS: u64 = 5 * RING_ROUND_MS;
/// Co-holders a core syncs with per period (the cores its held records share; with distinct
/// prefixes they are its next `RING_REPLICAS - 1` successors and predecessors, a few more
/// where neighbours share a prefix).
pub const RING_SYNC_PEERS_MAX: usize = 4 * RING_REPLICAS;
/// (id, seq) pairs in one `RingHave` (17 B each ≈ 4.4 KB): a longer arc is cut there and the
/// asker goes on from the last key listed.
pub const RING_SYNC_IDS_MAX: usize = 256;
/// Arcs one sync may go through per period (`RING_SYNC_IDS_MAX` records each): a core holds
/// ≈ 3 × nodes / cores records, ≈ 30 at 10 % cores, so one arc is the rule.
pub const RING_SYNC_STEPS: u8 = 8;
/// `RingSync`s taken per peer per `RING_ROUND_MS` (matching or answered); more are counted and
/// dropped unread (never a ban): a peer cannot make us walk our records more often than this.
pub const RING_SYNC_ANSWERS_PER_ROUND: u8 = RING_SYNC_STEPS;
/// Lookups one peer may hand us per second after a burst of `RING_FIND_BURST` (a core
/// forwarding for many origins sends a few per second; a flood is dropped, never banned).
pub const RING_FIND_PER_S: u64 = 20;
/// See `RING_FIND_PER_S`.
pub const RING_FIND_BURST: u64 = 100;

// ---- follower multicast (interest.rs; docs/scaling.md "Delivery") ----
/// Followed authors a leaf's interest set holds (kind 3 order; the rest are not subscribed).
/// 32 B each: 32 KB per leaf at the leaf, and at a home ≤ `LEAF_SLOTS` × this × 32 B = 2 MiB.
/// An `Interest` frame of this size is ≈ 34 KB (< `MAX_FRAME_BYTES`).
pub const MAX_INTEREST_AUTHORS: usize = crate::limits::MAX_FOLLOWEES;
/// `p` tags of an event the home→leaf filter looks at (the rest do not make it travel).
pub const MAX_AUDIENCE_PTAGS: usize = 32;
/// A leaf sends its set to a home at most this often (changes in between are coalesced).
pub const INTEREST_SEND_INTERVAL_MS: u64 = 15_000;
/// A home accepts a leaf's updates at one per this interval after a burst of
/// `INTEREST_UPDATE_BURST` (an honest leaf sends at most one per `INTEREST_SEND_INTERVAL_MS`).
pub const INTEREST_UPDATE_INTERVAL_MS: u64 = 10_000;
/// See `INTEREST_UPDATE_INTERVAL_MS`.
pub const INTEREST_UPDATE_BURST: u64 = 4;
/// Newly followed authors per leaf update whose recent posts a home pushes to the leaf
/// (a leaf's new follows reach its homes up to `INTEREST_SEND_INTERVAL_MS` late; posts of the
/// new followee the home stored in between would be missed otherwise). The rest are fetched
/// on demand. Updates are rate-limited per leaf (`INTEREST_UPDATE_*`).
pub const LEAF_BACKFILL_AUTHORS: usize = 32;
/// Recent posts per newly followed author pushed (the newest, within `LEAF_BACKFILL_WINDOW_S`).
pub const LEAF_BACKFILL_POSTS: usize = 4;
/// How far back a pushed post may be dated: the interest delay, generously (10 min).
pub const LEAF_BACKFILL_WINDOW_S: u64 = 600;
/// Bytes of events pushed per leaf update at most (≈ 8 × a leaf outbox's share).
pub const LEAF_BACKFILL_BYTES: usize = 256 * 1024;
/// Leaf updates waiting for the driver's store lookup (≤ 16 × 32 keys × 32 B = 16 KB);
/// past it the oldest is dropped (counted in `interest_dropped`).
pub const LEAF_BACKFILL_QUEUE: usize = 16;
/// `T` of `--delivery auto` (`sample.rs`): a core runs the trees from T/2 estimated nodes, its
/// leaves get follow delivery from T, and it publishes on the trees only from 2T. Under
/// broadcast a leaf receives every post of every node, ≈ N × 10 posts/day × ~500 B =
/// 5 MB/day at N = 1,000 — the goal.
pub const AUTO_FOLLOW_MIN_NODES: usize = 1_000;
/// A level of `auto` (`sample.rs`) is left only when the estimate falls under this many
/// quarters of its entry size (3/4): hysteresis, so an estimate wobbling around a boundary
/// does not switch the trees on and off.
pub const AUTO_DOWN_NUM: u64 = 3;
/// The estimated network size is recomputed at most this often (the ring estimate walks the
/// held records: O(records × successors)).
pub const AUTO_ESTIMATE_MS: u64 = 30_000;

/// `T` of `--directory auto` (`dir_auto.rs`): a core also runs the ring directory from T
/// estimated nodes. Below it nothing changes from `--directory broadcast`, whose record
/// refreshes cost a core ≈ 1.4 KB/min per 1,000 nodes (≈ 2.8 at 2,000), while the ring's own
/// upkeep is ≈ 15–19 KB/min per core at 1k–100k nodes (docs/scaling.md "Directory").
pub const RING_ON_NODES: u64 = 2_000;
/// A core in `--directory auto` stops broadcasting its own and its leaves' records from this
/// many times `RING_ON_NODES` (12,000 by default, under `DIR_CAP`): 6 × ¾ = 4.5 > 4, so a
/// ring-only core and a core not yet running the ring need estimates more than 4× apart
/// (checked at compile time in `dir_auto.rs`).
pub const RING_ONLY_FACTOR: u64 = 6;
const _: () = assert!(RING_ON_NODES * RING_ONLY_FACTOR < DIR_CAP as u64);
/// A core in `--directory auto` at `Both` goes by its broadcast directory's size (an exact
/// count of the nodes that still broadcast, below `DIR_CAP`) unless the ring's estimate is
/// more than this many percent of it: then the directory undercounts, since nodes went
/// ring-only and withhold their records from the broadcast (a core that restarts into a
/// ring-only network holds a small fraction). The ring's estimate is ±16 % per core at 40
/// held records but 2× off at worst (`sample.rs` test; 20,103 for 10,000 in `overlay_bench`):
/// with the larger of the two, 20 % of a 10k network's cores went ring-only and the others'
/// directories held their records unevenly (directory anti-entropy 15.7 KB/min per core);
/// at 150 %, 4 %.
pub const DIR_AUTO_RING_OVERRULES_PCT: u64 = 300;
/// A core in `--directory auto` goes ring-only only once its estimate has stayed at or above
/// `RING_ONLY_FACTOR` × T this long (it goes to `both` at once): while a core joins, its
/// broadcast directory is still filling and the ring's estimate overrules it for a few
/// minutes; cores that went ring-only then stayed so (6 % of a 10k network, `overlay_bench`).
/// `both` is the safe level (it broadcasts and stores), so waiting costs nothing but upkeep.
pub const DIR_RING_ONLY_HOLD_MS: u64 = 10 * 60_000;
/// A core in `--directory auto` whose active view holds at least this many cores, all running
/// the ring, runs it too whatever its directory's size (`dir_switch.rs`).
pub const DIR_AUTO_RING_PEERS: usize = 3;

/// Post ids a tree-running core remembers as taken from a tree and not relayed on the core
/// Plumtree (32 B each ⇒ 8 KB): covers the seconds between a tree copy and a Plumtree copy.
pub const TREE_TOOK_CAP: usize = 256;

// ---- the public sample topic (sample.rs; docs/scaling.md "The global timeline in follow mode") ----
/// Target size of the whole network's sample: ≈ 1 post a minute. At ≈ 660 B per post received
/// over a tree that is ≈ 1 MB/day for a core or leaf that reads it, whatever the network size.
pub const SAMPLE_POSTS_PER_DAY: u64 = 1_440;
/// Posts per node per day assumed when scaling the sample share (the figure).
pub const ASSUMED_POSTS_PER_NODE_DAY: u64 = 10;
/// A sample tree member accepts posts eligible with this many fewer bits than its own
/// estimate asks for (2: a node whose estimate is up to 4× smaller put it on).
pub const SAMPLE_SLACK_BITS: u32 = 2;
/// Sample posts a node enters or passes on per minute at most (4× the target), then dropped
/// and counted: the sample's volume is bounded whatever spammers grind. Worst case ≈ 5,760
/// posts/day × 660 B ≈ 3.8 MB/day per member.
pub const SAMPLE_PER_MIN: u64 = 4;
/// Burst of the sample's rate budget.
pub const SAMPLE_BURST: u64 = 16;
/// One sample post per author per this long at each node (a ground id buys an author one
/// slot per 10 min, not its whole per-author rate).
pub const SAMPLE_AUTHOR_GAP_MS: u64 = 10 * 60_000;
/// Authors remembered for the gap (≈ 48 B each ⇒ 3 KB). The rate budget lets at most
/// `SAMPLE_BURST` + `SAMPLE_PER_MIN` × 10 = 56 through per gap, so the cap is never reached.
pub const SAMPLE_AUTHORS_CAP: usize = 64;
const _: () = assert!(SAMPLE_BURST + SAMPLE_PER_MIN * (SAMPLE_AUTHOR_GAP_MS / 60_000) <= SAMPLE_AUTHORS_CAP as u64);
const _: () = assert!(INTEREST_SEND_INTERVAL_MS >= INTEREST_UPDATE_INTERVAL_MS);

// ---- per-author delivery trees among cores (topic.rs; docs/scaling.md "Per-author trees") ----
/// Children a core keeps per topic; a full node pushes a newcomer down to one of its children
/// (SplitStream). 16 × 32 B per child entry. Also the most eager copies a core uploads per
/// post it relays: 16 × ≈ 500 B = 8 KB per post.
pub const TOPIC_CHILDREN: usize = 16;
/// Topics a core holds state for (its own and its leaves' followees, and those it relays).
/// ≈ 750 B each worst case (16 children, 4 recent ids, map entry) ⇒ ≈ 24 MiB at the cap; a
/// realistic core (a few thousand topics, 1–3 children each) holds ≈ 1 MiB.
pub const TOPIC_CAP: usize = 32_768;
/// Child entries one peer may hold at a core, over all topics (a subscriber flood from one
/// peer fills this, never the node: `TOPIC_CAP` / this = 4 such peers).
pub const TOPIC_SUBS_PER_PEER: usize = 8_192;
/// Topics in one `Subscribe`/`Unsubscribe` batch (8 B each ⇒ ≤ 8 KB frame); the rest of a longer
/// batch is ignored and counted.
pub const TOPIC_BATCH: usize = 1_024;
/// Soft state: a subscriber refreshes its subscriptions with each parent this often: one
/// digest frame per parent (≈ 26 B, whatever the topics; `topic_digest.rs`) if the parent
/// announced `FEATURE_DIGESTS`, else the whole list in one batched frame (≈ 9 B per topic
/// per period; acked only when the parent has news, see `TOPIC_QUIET_ACK_MAX_MS`).
pub const TOPIC_REFRESH_MS: u64 = 5 * 60_000;
/// A child not refreshed for this long is forgotten (three missed refreshes).
pub const TOPIC_CHILD_TTL_MS: u64 = 3 * TOPIC_REFRESH_MS;
/// A parent answers a child's periodic list refresh (a child without digests) with an ack only
/// if its newest post id (or its depth) changed since its last ack to that child, or that ack
/// is this old: in steady state
/// the acks, ≈ 90 % of idle tree control, go away (docs/scaling.md "Per-author trees"). A
/// post the parent lacks and a child holds then goes up with the author's next post or within
/// this period, instead of within one refresh. 16 B per child entry (the id's 4-byte prefix
/// and the instant).
pub const TOPIC_QUIET_ACK_MAX_MS: u64 = 6 * TOPIC_REFRESH_MS;
/// A `Subscribe` from a child arriving sooner than this after its previous one is not a
/// periodic refresh (a child still waiting for its first ack re-sends after
/// `TOPIC_ACK_TIMEOUT_MS`): it is always acked.
pub const TOPIC_REFRESH_MIN_GAP_MS: u64 = TOPIC_REFRESH_MS / 2;
/// A subscription not acknowledged this long is sent again along the ring (the chain up to the
/// root is ≈ 7 hops × ≤ 300 ms at 100k nodes).
pub const TOPIC_ACK_TIMEOUT_MS: u64 = 10_000;
/// Waiting subscriptions are scanned for a retry at most this many times per
/// `TOPIC_ACK_TIMEOUT_MS` (a scan visits every topic; a retry is at most a quarter late).
pub const TOPIC_RETRY_SCANS: u64 = 4;
/// Redirects (push-downs) followed in a row for one topic before giving up until the next
/// refresh (each is one hop down a full tree: 16^8 subscribers are far beyond any author).
pub const TOPIC_MAX_REDIRECTS: u8 = 8;
/// A depth at or beyond this means the parent pointers loop (each trip round a loop adds one):
/// the node drops its parent and joins again along the ring. Real trees are ≤ ≈ 12 deep.
pub const TOPIC_MAX_DEPTH: u8 = 32;
/// Ids of the latest posts a tree node remembers per topic and announces in each ack (the
/// IHAVE of the tree: a child that missed one fetches it). 4 × 32 B per topic.
pub const TOPIC_RECENT: usize = 4;
/// A tree member passes its parent the recent posts the parent's ack does not list at most
/// this often per topic (≤ `TOPIC_RECENT` posts ≈ 2 KB per period; one `Option<Instant>`,
/// 16 B, per topic).
pub const TOPIC_PUSH_UP_MS: u64 = 10_000;
/// Outputs waiting to be drained; past it the oldest control output is dropped and counted (a
/// refresh repairs the state). ≈ 64 B each ⇒ ≈ 4 MiB.
pub const TOPIC_OUTBOX_CAP: usize = 65_536;
/// A parent asks a child whose refresh digest did not match to re-send its list
/// (`TopicResync`) at most this often: a peer that mismatches on purpose sends its whole list
/// at most twice per `TOPIC_REFRESH_MS`, what a peer without digests sends anyway, and gets
/// no renewal from the digests in between (one `Option<Instant>` per child peer).
pub const TOPIC_RESYNC_GAP_MS: u64 = TOPIC_REFRESH_MS / 2;
/// Peers holding no child entry here that we asked to resync, remembered for
/// `TOPIC_RESYNC_GAP_MS` so they are not asked again at once (a parent that forgot its
/// children asks each of them once); past this many (≈ 48 B each ⇒ 48 KB) such a peer is not
/// asked and its next digest tries again.
pub const TOPIC_RESYNC_PEERS: usize = 1_024;
/// A topic with a new post is remembered for this many of our refresh periods (at least one
/// whole period; ≤ `TOPIC_CAP` entries of ≈ 40 B): each child's next refresh digest, due
/// within one `TOPIC_REFRESH_MS`, is answered with an ack for it if the child was not told its
/// newest id (the repair of a copy lost on the way down).
pub const TOPIC_NEWS_KEEP_REFRESHES: u32 = 2;
const _: () = assert!(TOPIC_SUBS_PER_PEER < TOPIC_CAP && TOPIC_CHILD_TTL_MS > TOPIC_REFRESH_MS);
const _: () = assert!(TOPIC_REFRESH_MIN_GAP_MS > TOPIC_ACK_TIMEOUT_MS && TOPIC_QUIET_ACK_MAX_MS > TOPIC_REFRESH_MS);
const _: () = assert!(TOPIC_NEWS_KEEP_REFRESHES >= 2 && TOPIC_RESYNC_GAP_MS > TOPIC_ACK_TIMEOUT_MS);
/// With `--directory broadcast` the trees' ring is rebuilt from the directory's live cores this
/// often, and on the next tick whenever the directory's size changed (`RingTable::converged`,
/// O(cores): ≈ 1 ms at 20,000 records; ≈ 2 KB of table).
pub const TREE_RING_REBUILD_MS: u64 = 30_000;
/// While the trees' ring knows fewer cores than this, a grown directory rebuilds it at the
/// next tick (a node starting up); past it only the period does.
pub const TREE_RING_EARLY_CORES: usize = 8;
/// A core found unreachable, or not speaking the trees, is left out of that ring this long.
pub const TREE_DOWN_MS: u64 = 60_000;
/// At most this many such cores are remembered (≈ 40 B each ⇒ 10 KB); the oldest id goes first.
pub const TREE_DOWN_CAP: usize = 256;
