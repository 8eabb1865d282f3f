//! Every bound of the server, one named constant each, with the reason and its memory cost.
//!
//! Worst-case heap of a node ≈ store budget (`--store-mib`, default [`DEFAULT_STORE_MIB`]),
//! plus the HTTP front: [`MAX_HTTP_CONNS`] connections, each holding at most a head, a body
//! and an answer (see each constant), and the websocket queues.
//!
//! Runtime configuration may lower a limit, never raise it past these.

use std::time::Duration;

/// Largest canonical NIP-01 serialization of an event we accept (id preimage). Posts are
/// ≈ 0.5–1 KiB; a follow list of 1,500 follows is ≈ 110 KiB, so 128 KiB keeps big follow
/// lists working while bounding what one event can cost. Larger events are rejected, never
/// truncated.
pub const MAX_EVENT_BYTES: usize = 128 * 1024;

/// Largest number of tags in one event (a 1,500-follow list has 1,500 `p` tags).
pub const MAX_TAGS: usize = 4096;

/// Largest number of elements in one tag (NIP-10 uses 4, NIP-02 uses 4).
pub const MAX_TAG_ELEMS: usize = 16;

/// Largest HTTP request body read. JSON escaping can make an event's JSON up to 2× its
/// canonical form; bodies are read through `take(MAX_HTTP_BODY_BYTES + 1)` and a longer one
/// is answered 413 without being kept.
pub const MAX_HTTP_BODY_BYTES: usize = 2 * MAX_EVENT_BYTES;

/// HTTP requests waiting for the single-threaded core. Connection tasks wait for room
/// (backpressure, bounded by [`MAX_HTTP_CONNS`]); the core drains the whole queue per wake.
/// Memory ≤ 16 × 256 KiB = 4 MiB.
pub const HTTP_QUEUE_CAP: usize = 16;

/// Largest number of request header lines accepted (the head parser's fixed array, ≈ 2 KiB
/// of stack per parse); more is answered 431.
pub const MAX_HTTP_HEADERS: usize = 64;

/// Open HTTP connections (websockets included). Past it a new connection evicts the one
/// that has waited longest for a request head (an idle or slow-head client), or is closed
/// at once when every connection is busy, so idle and slow-header clients cannot lock the
/// owner out. Far below the Pi unit's `LimitNOFILE=1024`. Memory per idle connection ≈ 11 KiB
/// (measured: task, its read chunk, the first read buffer, the socket); per busy one ≤ [`MAX_HTTP_HEAD_BYTES`] + [`MAX_HTTP_BODY_BYTES`]
/// + its answer, so all of them reading bodies ≤ 256 × 272 KiB ≈ 68 MiB.
pub const MAX_HTTP_CONNS: usize = 256;

/// Largest request head (request line and header lines). Browsers send 0.5–2 KiB. Longer
/// heads are answered 431 and the connection closed; nothing longer is ever buffered.
/// Memory: one buffer of at most this size per connection reading a head.
pub const MAX_HTTP_HEAD_BYTES: usize = 16 * 1024;

/// A request head must arrive within this once its connection is waiting for one (first
/// request), else the connection is closed (slow-header clients). No memory.
pub const HTTP_HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A kept-alive connection may wait this long for its next request before it is closed.
/// No memory beyond an idle connection's.
pub const HTTP_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole body must arrive within this after its head: 256 KiB at ≥ 9 KB/s (a slow phone
/// link) fits; a stalled client is answered 408 and closed. No memory.
pub const HTTP_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer must be written within this (8 MiB at ≥ 140 KB/s; gzip'd answers are smaller),
/// else the connection is closed. No memory beyond the answer.
pub const HTTP_WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// After answering a request whose body is not read (413, 411), the front reads and
/// discards at most this much of what the client already sent, through a fixed 4 KiB
/// buffer, so that the client's TCP stack does not reset the connection before the client
/// reads the answer (RFC 9112 §9.6, nginx's `lingering_close`). Never sized by the claim.
pub const HTTP_LINGER_BYTES: usize = 1024 * 1024;

/// The lingering close above stops after this long whatever the client sends. No memory.
pub const HTTP_LINGER_TIMEOUT: Duration = Duration::from_secs(2);

/// Open websocket connections (they count against [`MAX_HTTP_CONNS`] too). Past it an
/// upgrade is answered 503, so websockets alone cannot take every connection slot. The
/// relay keeps state for exactly these ([`RELAY_MAX_CONNS`]): an admitted websocket is
/// always served (it was 192 here against 128 there, and clients 129–192 got a `101` and
/// then a close 1008). Memory per idle websocket ≈ 30 KiB (release build, `cargo bench
/// --bench relay_ws`: the task and its read buffers, and the outbound queue's slots, which
/// `async-channel` allocates up front): ≈ 3.9 MB at the cap.
pub const MAX_WS_CONNS: usize = 128;

/// Largest websocket message (after reassembly of fragments): a maximal event's JSON
/// (escaping can double it) inside `["EVENT",{…}]`. Longer ⇒ close 1009, and nothing past
/// the frame header is read. Memory: at most this per websocket receiving a message.
pub const MAX_WS_MESSAGE_BYTES: usize = 2 * MAX_EVENT_BYTES + 4096;

/// Messages queued from the core to one websocket. Full ⇒ that client is closed (it does not
/// read fast enough), the core never waits. Memory: 512 × 32 B of slots allocated with the
/// queue, plus the queued messages (≈ 1 KiB per typical event, ≤ [`MAX_WS_MESSAGE_BYTES`]).
pub const WS_OUTBOX_CAP: usize = 512;

/// The driver moves a `REQ`'s stored results into a websocket's queue only while it holds
/// fewer than this (half of [`WS_OUTBOX_CAP`]): a large answer is paced by the client's
/// reading, and the other half is room for live events and `OK`s. No memory of its own.
pub const WS_OUTBOX_FILL: usize = WS_OUTBOX_CAP / 2;

/// The connection's writer tells the driver when it has sent its queue down to this many
/// messages, and the driver queues the next part of the answer. No memory.
pub const WS_OUTBOX_LOW: usize = WS_OUTBOX_CAP / 8;

/// A websocket silent this long gets a ping; silent for another interval after the ping, it
/// is closed (1001) and its slot freed: a vanished phone does not hold a slot forever.
/// Clients answer pings by themselves (RFC 6455 §5.5.2). Tests shorten it with the
/// environment variable `NOSTRP2P_TEST_WS_PING_MS` (read when a websocket opens; not for production).
/// No memory.
pub const WS_PING_INTERVAL: Duration = Duration::from_secs(60);

/// Websocket messages waiting for the core, all connections together. Connection tasks
/// wait for room (backpressure, each holds one message). Memory ≤ 64 × [`MAX_WS_MESSAGE_BYTES`].
pub const WS_INBOX_CAP: usize = 64;

/// Sustained inbound websocket messages per second per connection (pings included). Past
/// the burst the connection's reads pause until a token is due: the client is slowed by
/// TCP backpressure, never disconnected for it. No memory.
pub const WS_MSGS_PER_SEC: u32 = 20;

/// Messages a websocket may send back to back before [`WS_MSGS_PER_SEC`] applies (a client
/// opening a dozen subscriptions at start). No memory.
pub const WS_MSG_BURST: u32 = 50;

/// An event dated further than this into the future is rejected (clock skew of phones is
/// usually seconds; 15 minutes forgives a badly set clock without letting an event sit at
/// the top of every timeline for days). Old-dated events are accepted: imports and
/// backfills are legitimate and the original propagates any timestamp.
pub const MAX_FUTURE_SKEW: Duration = Duration::from_secs(15 * 60);

/// Parsed public keys a verifying thread remembers (`keys::parsed`): turning an x-only key
/// into a curve point costs a square root (≈ 4 µs, a tenth of an event check) and a node
/// checks the same authors' events again and again. Two-way set-associative with a fixed
/// slot array: a flood of fresh keys only evicts, it never grows anything, and a key that
/// is not on the curve is never kept. Memory: 1,024 × 97 B ≈ 97 KiB per thread that verifies
/// events (the server's driver thread), allocated on its first check.
pub const PARSED_KEY_CACHE: usize = 1024;

/// Default store budget in MiB: fits a Raspberry Pi Zero 2 W (512 MiB RAM) next to the OS
/// with room to spare; ≈ 48,000 typical posts.
pub const DEFAULT_STORE_MIB: u64 = 32;

/// An event stored more than this after its `created_at` is a "late arrival": the timeline
/// window also answers it by arrival time, so the client's next poll shows it.
pub const LATE_AFTER: Duration = Duration::from_secs(1);

/// The late-arrival part of a timeline window starts this much before the client's `since`:
/// a phone whose clock runs ahead of the server asks for a window the server has not fully
/// lived yet, and arrivals at its edge would otherwise fall between two polls. Answering an
/// event twice is harmless (the client dedups by id).
pub const LATE_WINDOW_SLACK: Duration = Duration::from_secs(60);

/// Late arrivals remembered (memory only): 4,096 × 40 B ≈ 160 KiB. Far more than arrive
/// between two of the client's 10-second polls, even after a day offline.
pub const LATE_ARRIVALS_CAP: usize = 4096;

/// Smallest store budget accepted on the command line.
pub const MIN_STORE_MIB: u64 = 1;

/// Largest store budget accepted on the command line (the in-memory ring holds every
/// stored event, so this is also the ring's RAM ceiling).
pub const MAX_STORE_MIB: u64 = 4096;

/// Bytes each stored event accounts for on top of its packed bytes (`store::compact`, the
/// event's one allocation): malloc's header and rounding, its 72-byte slot in the
/// `(created_at, id)` map and its id-index entry (8-byte prefixes), at the fill factors those
/// maps reach. The map is a `store::timeline::Timeline` of 64-entry chunks, at least half full
/// in any insert/remove order: `tests/store_heap.rs` measures 104 B per event beyond the packed
/// bytes in time order and at most 130 B in hostile orders (the `BTreeMap` before it filled
/// its nodes to ≈ 55 % in time order), so 164 B keeps a margin for the worst order.
/// `benches/store.rs` measured 413 B per typical event (≈ 249 B packed) with the `BTreeMap`,
/// against 533 B when each event was a decoded `Event`. Memory: part of the store budget.
pub const STORE_EVENT_OVERHEAD_BYTES: usize = 164;

/// Share of the store budget that pinned events (the owner's own, each author's latest
/// profile, the owner's follow list) may take. Past it the oldest pinned events become
/// ordinary ones (evicted oldest first), except the owner's latest profile and follow list.
/// Half of the 32 MiB default keeps ≈ 15,000 own posts or ≈ 20,000 profiles. No extra memory.
pub const PINNED_SHARE_PERCENT: u64 = 50;

/// Largest size of one log segment file before the log moves on to a new one. Retention
/// deletes whole segments, so this is the granularity of disk reclamation; 4 MiB keeps the
/// file count small (≈ 16 for the default budget). Recovery reads one segment at a time,
/// so this is also the recovery read buffer (4 MiB, freed after start-up).
pub const SEGMENT_MAX_BYTES: u64 = 4 * 1024 * 1024;

/// Smallest segment size used for small budgets (a segment is `budget / 8` clamped to
/// [`SEGMENT_MIN_BYTES`]..=[`SEGMENT_MAX_BYTES`]), so that retention can still free space
/// in steps smaller than the budget. A record larger than a segment gets a segment alone.
pub const SEGMENT_MIN_BYTES: u64 = 256 * 1024;

/// Largest log record payload (postcard of an event) accepted when reading the log back:
/// postcard is never larger than the canonical JSON plus the binary id and signature, so
/// anything longer is corruption. One record buffer of this size is reused for writing.
pub const MAX_RECORD_BYTES: usize = MAX_EVENT_BYTES + 1024;

/// Disk bytes the store's `quarantine/` directory may hold: copies of damaged log bytes that
/// recovery cut out of a segment (for a human to inspect; never read back). When a new damaged
/// range would not fit, it is left in place in its segment instead (recovery skips it again on
/// every start, and nothing is deleted without a copy). Disk only; no memory is held.
pub const QUARANTINE_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Checksum work (bytes hashed) recovery may spend, per segment, looking for the next good
/// record after damage. Real damage costs a few KiB (candidates are rare: a random length
/// field is in range once in ~30,000 offsets); bytes crafted to look like many long records
/// could cost `segment × MAX_RECORD_BYTES`. Past the budget the rest of the segment counts
/// as one damaged range. 256 MiB ≈ 0.3 s of CRC-32 on a Pi 4. No memory.
pub const RESYNC_MAX_CRC_BYTES: u64 = 256 * 1024 * 1024;

/// Segment files may take this many times the store budget on disk (plus two segments)
/// before retention re-appends the few live events of the emptiest old segment and deletes
/// it. 2× bounds disk use while keeping write amplification ≤ 1 (the segment compacted is
/// at most half live). Disk only, no memory.
pub const DISK_BUDGET_FACTOR: u64 = 2;

const _: () = assert!(PINNED_SHARE_PERCENT <= 100);
const _: () = assert!(PARSED_KEY_CACHE >= 2 && PARSED_KEY_CACHE % 2 == 0);
const _: () = assert!(SEGMENT_MIN_BYTES <= SEGMENT_MAX_BYTES);

/// Events answered by one timeline request at most (the client asks for 300 on start).
pub const MAX_REQ_EVENTS: usize = 10_000;

/// The original answers at most this many events to a timeline request that gives no
/// period (`since == 0`); kept for compatibility.
pub const UNPERIODED_REQ_MAX: usize = 50;

/// Largest MessagePack body of one `/req` answer before gzip; the newest events that fit
/// are kept. ≈ 16,000 typical posts, so the client's 300-event first poll never hits it,
/// while a store of big events cannot make one answer huge. Memory: at most this much
/// plus its gzip (smaller) per answer being written (the core renders one at a time; each
/// connection writes its own within [`HTTP_WRITE_TIMEOUT`]).
pub const MAX_REQ_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// Bodies shorter than this are sent uncompressed even when the client accepts gzip: gzip
/// adds 18 bytes of header and trailer and deflate finds little to remove in a short body
/// (`{"Status": "SUCCESS"}` grows from 25 to 43 bytes), while each compression costs a fresh
/// ~300 KB deflate state. No memory.
pub const GZIP_MIN_BODY_BYTES: usize = 256;

/// Compressed `/req` answers kept for a repeated identical request while the store has not
/// changed (the client repeats its first poll until it gets events; several devices of the
/// owner ask the same). Memory: at most [`REQ_CACHE_BYTES`] of bodies plus this many keys of
/// at most [`REQ_CACHE_MAX_KEY_BYTES`].
pub const REQ_CACHE_ENTRIES: usize = 4;

/// Bytes of answer bodies the `/req` cache holds at most in all; a larger answer is not cached.
/// A 300-event first poll is ≈ 30 KB gzip'd.
pub const REQ_CACHE_BYTES: usize = 256 * 1024;

/// Longest request body (filter JSON) the `/req` cache keys on; longer requests are answered
/// without it (the client's filters are under 100 bytes).
pub const REQ_CACHE_MAX_KEY_BYTES: usize = 512;

/// Events received from the network are readable at once and made durable by one fsync at
/// most this long after the first of them arrived (or sooner, with the next owner publish's
/// group commit). Acknowledged to nobody, so a power cut loses at most this window, which the
/// catch-up after restart asks for again (its window starts `SYNC_MARGIN` before the last
/// event heard). No memory cost. Tests may override it with `NOSTRP2P_TEST_NET_SYNC_MS`.
pub const NET_SYNC_DELAY: Duration = Duration::from_secs(1);

/// Capacity the overlay runtime keeps, across wakes, in its buffer of events newly stored
/// from the network (handed to the live subscriptions after each wake). One wake takes at
/// most ~257 transport events; keeping the capacity avoids re-growing the vector (and
/// faulting fresh zeroed pages) on every wake of a flood; above it the buffer shrinks back.
/// Memory: 512 × `size_of::<Event>()` (≈ 200 B) ≈ 100 KiB.
pub const STORED_BUF_KEEP: usize = 512;

/// Interval between the periodic statistics lines at info level.
pub const STATS_LOG_INTERVAL: Duration = Duration::from_secs(15 * 60);

const _: () = assert!(MAX_HTTP_BODY_BYTES > MAX_EVENT_BYTES);
const _: () = assert!(MAX_WS_CONNS < MAX_HTTP_CONNS);
const _: () = assert!(WS_OUTBOX_LOW < WS_OUTBOX_FILL && WS_OUTBOX_FILL < WS_OUTBOX_CAP);
const _: () = assert!(MAX_WS_MESSAGE_BYTES > MAX_HTTP_BODY_BYTES);
const _: () = assert!(HTTP_LINGER_BYTES > MAX_HTTP_BODY_BYTES);
const _: () = assert!(MAX_REQ_ANSWER_BYTES > 2 * MAX_EVENT_BYTES);
const _: () = assert!(MIN_STORE_MIB <= DEFAULT_STORE_MIB && DEFAULT_STORE_MIB <= MAX_STORE_MIB);

// ---- Microblog application layer (`src/app`): routing, offline delivery, requests. ----

/// Largest encoded application message (one overlay unicast payload). Must not exceed the
/// overlay's own unicast body limit (`wire::MAX_BODY_BYTES` = event limit + 4 KiB), so the
/// same figure is used: one maximal event plus room for the envelope. Checked before any
/// decoding, so a hostile length prefix never allocates. Memory: one message at a time.
pub const MAX_APP_MSG_BYTES: usize = MAX_EVENT_BYTES + 4 * 1024;

/// Entries (destination node, event) in the resend queue. A reply to a thread of 20 people
/// makes 19 entries; 4,096 is a week of heavy use towards offline peers. Full ⇒ the oldest
/// entry is dropped (logged). Memory ≈ 4,096 × ~120 B ≈ 0.5 MiB; snapshot ≈ 60 B per entry.
pub const RESEND_CAP: usize = 4096;

/// First retry delay after a failed delivery; it doubles per failure (fixes the original's
/// XOR schedule, spec §5.3). No memory.
pub const RESEND_BASE_DELAY: Duration = Duration::from_secs(60);

/// Longest delay between two retries: a phone that is on for a few hours a day is still
/// reached the same day. No memory.
pub const RESEND_MAX_DELAY: Duration = Duration::from_secs(6 * 3600);

/// How long an undelivered event is retried (and how long support servers keep sealed mail):
/// a week covers a phone left off over a long holiday weekend. No memory beyond the caps.
pub const OFFLINE_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// Sealed envelopes a support server keeps for one destination node. Full ⇒ that node's
/// oldest envelope goes. Bounds a single chatty sender's share too.
pub const MAILBOX_PER_DEST_COUNT: usize = 1024;

/// Bytes of sealed envelopes kept for one destination node (≈ 1,000 replies or likes).
pub const MAILBOX_PER_DEST_BYTES: usize = 1024 * 1024;

/// Bytes of sealed envelopes kept for all destinations together. Full ⇒ the oldest envelope
/// of the destination holding the most bytes goes. Memory ≤ 16 MiB + ~100 B per envelope;
/// the mailbox snapshot on disk is about the same size.
pub const MAILBOX_TOTAL_BYTES: usize = 16 * 1024 * 1024;

/// Bytes of envelopes handed over in one `Mail` message; the rest follows after the `MailAck`.
/// Leaves 8 KiB of [`MAX_APP_MSG_BYTES`] for the framing.
pub const MAIL_BATCH_BYTES: usize = MAX_APP_MSG_BYTES - 8 * 1024;

/// Largest sealed envelope accepted: one maximal event plus the seal's 60 bytes must fit one
/// `Mail` message.
pub const MAX_SEALED_BYTES: usize = MAIL_BATCH_BYTES;

/// Neighbours asked for a catch-up sync after (re)joining (spec overlay.md §2.6).
pub const SYNC_PEERS: usize = 2;

/// Events per catch-up page at most (requester's `limit`; answers are clamped to it).
pub const SYNC_PAGE_EVENTS: usize = 500;

/// Bytes of events in one catch-up page (the page must fit one unicast message).
pub const SYNC_PAGE_BYTES: usize = MAX_APP_MSG_BYTES - 8 * 1024;

/// Stored events a sync answer scans at most (replies and likes in the window are skipped,
/// never sent). Bounds the work of one answer; the resume point says where to go on.
pub const SYNC_SCAN_EVENTS: usize = 2000;

/// Pages one catch-up session asks for at most (≈ 10,000 events): an hour offline is one or
/// two pages; this bounds a week-long absence.
pub const SYNC_MAX_PAGES: u32 = 20;

/// The catch-up window starts this long before the last broadcast this node heard, to cover
/// propagation delay and authors' clocks running slow. Duplicates are dropped by the store.
pub const SYNC_MARGIN: Duration = Duration::from_secs(10 * 60);

/// The catch-up window never reaches back further than this (a fresh node, or one off for a
/// month, gets the last three days, like the original's share request, spec §3 kind 40000).
pub const SYNC_MAX_LOOKBACK: Duration = Duration::from_secs(3 * 24 * 3600);

/// A catch-up session with no answer for this long is abandoned.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

/// Followed authors a follow-mode core catches up on per (re)join (issue 10, docs/scaling.md
/// "Catch-up by followees"): one request each to the author's tree parent, and one to the
/// author's own server if the parent had nothing. The first ones in key order; the others
/// get only what the trees bring from then on. Memory: ≤ 200 entries × ≈ 64 B = 13 KB while
/// a catch-up runs.
pub const CATCHUP_AUTHORS: usize = 200;

/// Catch-up requests sent per second at most (200 authors: ≥ 20 s; pacing, so a restart
/// does not burst 200 requests at a few parents).
pub const CATCHUP_SENDS_PER_TICK: usize = 10;

/// Requests one peer gets from one catch-up at most: half its answer budget
/// ([`ANSWER_BURST`]), so the answers are not rate-limited away. Authors past it are asked
/// of their own servers.
pub const CATCHUP_PER_PEER: u32 = ANSWER_BURST / 2;

/// How long an author's catch-up waits for its tree to attach before asking the author's own
/// server instead.
pub const CATCHUP_TREE_WAIT: Duration = Duration::from_secs(30);

/// A follow-mode catch-up ends this long after the (re)join, answered or not.
pub const CATCHUP_TIMEOUT: Duration = Duration::from_secs(3 * 60);

/// Events of one author in one catch-up answer at most (newest first, within
/// [`SYNC_PAGE_BYTES`]); an author who posted more while this node was away leaves the older
/// ones to on-demand fetches. Answers are clamped to it.
pub const CATCHUP_PAGE_EVENTS: usize = 100;

/// The persisted catch-up cursor is rewritten only when it moved this much (SD cards wear).
pub const SYNC_CURSOR_STEP: Duration = Duration::from_secs(5 * 60);

/// One request per (kind, target) to other nodes per this interval (the original intended
/// 1 h: `NoResendReqSendIntervalSec`, spec §5.2).
pub const FETCH_INTERVAL: Duration = Duration::from_secs(3600);

/// An answer to a fetch is accepted this long after the request.
pub const FETCH_ANSWER_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Remembered fetch targets (rate-limit table). Full of targets asked within
/// [`FETCH_INTERVAL`] ⇒ new fetches are refused until one ages out. Memory ≈ 1,024 × 80 B.
pub const FETCH_TABLE_CAP: usize = 1024;

/// Application unicasts awaiting `UnicastDone` at once (the overlay holds 256 pending
/// unicasts; half is left for answers and acks). Memory ≈ 128 × 64 B.
pub const APP_INFLIGHT_CAP: usize = 128;

/// A unicast whose `UnicastDone` never came is treated as failed after this long.
pub const APP_INFLIGHT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Outputs waiting for the driver; past it they are counted and dropped. The driver drains
/// after every call, and one call emits at most a sync page ([`SYNC_PAGE_EVENTS`] stores), a
/// mail batch (≤ [`MAIL_BATCH_BYTES`] / ~300 B per sealed event ≈ 400 stores) or one pump
/// ([`APP_INFLIGHT_CAP`] sends), so this is a safety net, never a working limit. Memory is
/// that of the messages behind the outputs (≤ [`APP_INFLIGHT_CAP`] × one event when a pump
/// resends).
pub const APP_OUTBOX_CAP: usize = 2048;

/// The driver writes a dirty application snapshot at most this often (and at shutdown), so
/// a burst of deposits costs one write. Losing the last minute on a crash loses nothing for
/// good: senders keep their own resend queue.
pub const APP_PERSIST_INTERVAL: Duration = Duration::from_secs(60);

/// The driver writes the ring records this core holds (`ring-records.bin`) at most this often
/// when they changed, and at shutdown. A crash loses at most these minutes of stores, which
/// the owners' read-back checks and handoffs bring back.
pub const RING_PERSIST_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Largest snapshot file read back at start-up (the mailbox at its cap plus overhead).
pub const MAX_SNAPSHOT_BYTES: usize = MAILBOX_TOTAL_BYTES + 4 * 1024 * 1024;

const _: () = assert!(MAX_SEALED_BYTES + 1024 <= MAIL_BATCH_BYTES + 8 * 1024);
const _: () = assert!(MAILBOX_PER_DEST_BYTES <= MAILBOX_TOTAL_BYTES);
const _: () = assert!(SYNC_PAGE_EVENTS <= SYNC_SCAN_EVENTS);
const _: () = assert!(CATCHUP_PAGE_EVENTS <= SYNC_PAGE_EVENTS && CATCHUP_PER_PEER >= 1);
const _: () = assert!(SYNC_PAGE_EVENTS + APP_INFLIGHT_CAP < APP_OUTBOX_CAP);

// ---- NIP-01 relay protocol over websocket (`src/relay`). ----

/// Deletion targets (NIP-09 `e` ids and `a` coordinates) the store remembers, so a deleted
/// event is never accepted or served again. Oldest forgotten first. Each is a fixed-size key
/// (a coordinate's `d` is hashed): memory ≈ 65,536 × ~200 B ≈ 13 MiB at worst.
pub const TOMBSTONES_CAP: usize = 65_536;

/// Records the tombstone file (`store/tombstones`, 79 B each) may hold before it is rewritten
/// from memory: twice [`TOMBSTONES_CAP`], ≈ 10 MiB of disk at worst (one small append per
/// deletion otherwise).
pub const TOMBSTONE_FILE_MAX_RECORDS: u64 = 2 * TOMBSTONES_CAP as u64;

/// Largest websocket text message read from a client: one maximal event in JSON (escaping
/// can double it, as for [`MAX_HTTP_BODY_BYTES`]) plus the `["EVENT",…]` frame. Longer ones
/// are answered with a `NOTICE` and not parsed. Memory: one message per connection at a time.
pub const RELAY_MAX_MESSAGE_BYTES: usize = MAX_HTTP_BODY_BYTES + 1024;

/// Open subscriptions per connection (a client such as Amethyst uses ≈ 10). The next `REQ`
/// with a new id is answered `CLOSED` with `error:`.
pub const RELAY_MAX_SUBS: usize = 20;

/// Filters in one `REQ`; more are answered `CLOSED` with `invalid:`.
pub const RELAY_MAX_FILTERS: usize = 10;

/// Longest subscription id in bytes (NIP-01: "max length 64 chars").
pub const RELAY_MAX_SUB_ID_BYTES: usize = 64;

/// Values in one filter field (`ids`, `authors`, `kinds`, one `#x`): a timeline of a
/// 1,500-follow list sends 1,500 authors.
pub const RELAY_MAX_FILTER_VALUES: usize = 2048;

/// Longest tag value in a `#x` filter (a `d` value, a hashtag, a URL).
pub const RELAY_MAX_TAG_VALUE_BYTES: usize = 256;

/// Bytes of filter values (32 per id or author, 8 per kind, length + 24 per tag value) one
/// connection may hold in its open subscriptions: a 1,500-author timeline (48 KiB) fits.
/// Past it the `REQ` is answered `CLOSED` with `error:`. Memory ≤ 64 KiB per connection.
pub const RELAY_MAX_CONN_FILTER_BYTES: usize = 64 * 1024;

/// Events answered to a filter without a `limit`.
pub const RELAY_DEFAULT_LIMIT: usize = 300;

/// Largest `limit` honoured, and the most stored events one `REQ` answers in all (filters
/// together). Queued as ids (40 B each) and rendered one at a time.
pub const RELAY_MAX_LIMIT: usize = 1000;

/// Stored events one filter examines at most while looking for matches (newest first). A
/// filter matching little in a big store stops here and answers what it found (bounded CPU:
/// ≈ 50,000 × 0.1 µs; only events whose author and kind match are decoded from the store's
/// packed form). The 32 MiB default store holds ≈ 80,000 posts.
pub const RELAY_SCAN_MAX: usize = 50_000;

/// Stored events waiting to be sent to one connection (ids, 40 B each): at most 80 KiB.
pub const RELAY_MAX_BACKLOG: usize = 2 * RELAY_MAX_LIMIT;

/// Client messages per second one connection may send on average (a token bucket)...
pub const RELAY_RATE_PER_SEC: u32 = 20;

/// ... and in a burst. Past it `EVENT` is answered `OK false` `rate-limited:`, `REQ` `CLOSED`
/// `rate-limited:`, anything else a `NOTICE`. No memory beyond two integers.
pub const RELAY_RATE_BURST: u32 = 100;

/// Websocket connections the relay keeps state for: every one the HTTP front admits.
/// Memory per connection ≤ [`RELAY_MAX_CONN_FILTER_BYTES`] + backlog + a few hundred bytes.
pub const RELAY_MAX_CONNS: usize = MAX_WS_CONNS;

/// A NIP-42 `AUTH` event must be dated within this of the relay's clock (either side).
pub const RELAY_AUTH_WINDOW: Duration = Duration::from_secs(10 * 60);

const _: () = assert!(RELAY_DEFAULT_LIMIT <= RELAY_MAX_LIMIT);
const _: () = assert!(RELAY_MAX_LIMIT <= RELAY_MAX_BACKLOG);
const _: () = assert!(RELAY_MAX_MESSAGE_BYTES > MAX_HTTP_BODY_BYTES);

/// Requests (`SyncReq`, `FetchReq`) one authenticated source node may have answered in a burst.
/// A catch-up pages through at most `SYNC_MAX_PAGES` (20) answers and a few fetches follow, so
/// an honest peer never meets it; a `SyncResp` is up to ~128 KiB, so this caps what one peer can
/// make a node send at once (≈ 5 MiB) and, with [`ANSWER_INTERVAL`], over time (≈ 64 KiB/s).
/// Sources are authenticated end to end by their node key (the overlay checks every unicast's
/// signature), so answers cannot be reflected to a third party.
pub const ANSWER_BURST: u32 = 40;

/// One more answer per source is allowed per this interval once the burst is spent.
pub const ANSWER_INTERVAL: Duration = Duration::from_secs(2);

/// Sources tracked by the answer limiter (≈ 32 B each ⇒ ≈ 32 KiB). When full, a source whose
/// budget has refilled is forgotten first (it loses nothing), else the one closest to refilled.
pub const ANSWER_SOURCES_CAP: usize = 1024;

/// Followees of the owner that follower multicast subscribes to (the first ones of their
/// newest kind 3, in tag order): 32 B each ⇒ 32 KB here, and ≤ 64 leaves × 32 KB = 2 MiB at a
/// home (`overlay::params::MAX_INTEREST_AUTHORS`, the same number). NIP-02 lists rarely exceed
/// it; a longer one subscribes to its first 1,000 (the rest are fetched on demand).
pub const MAX_FOLLOWEES: usize = 1_000;

/// Readiness events the server's reactor takes per `epoll_wait` (12–16 B each ⇒ ≤ 1 KiB, kept
/// for the process's life); more ready sources are taken by the next wait, at once.
pub const REACTOR_EVENTS_PER_WAIT: usize = 64;

/// The longest single `epoll_wait` of the reactor even with no timer due (it simply waits
/// again): keeps the timeout far from any overflow in the kernel's conversion.
pub const REACTOR_MAX_WAIT: Duration = Duration::from_secs(3600);

/// Room reserved up front for a MessagePack list read from a peer (`msgpack::prealloc`): at
/// most this many bytes of elements, whatever count the list header claims (the header is
/// already checked against the bytes left; this caps the transient reservation of a list of
/// large elements, e.g. 256 Ki announced `PeerRef`s ⇒ 8 MiB, to 64 KiB; longer lists grow).
pub const MSGPACK_PREALLOC_BYTES: usize = 64 * 1024;
