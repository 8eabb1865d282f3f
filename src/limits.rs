//! Every bound of the server, one named constant each, with the reason and its memory cost.
//!
//! Worst-case heap of a node ≈ store budget (`--store-mib`, default [`DEFAULT_STORE_MIB`]),
//! plus [`HTTP_QUEUE_CAP`] × [`MAX_HTTP_BODY_BYTES`] (≈ 4 MiB) plus HTTP worker stacks.
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

/// HTTP requests waiting for the single-threaded core. A full queue answers 503 at once
/// instead of queueing without bound. Memory ≤ 16 × 256 KiB = 4 MiB.
pub const HTTP_QUEUE_CAP: usize = 16;

/// tiny-http worker threads that read requests and wait for the core's answer.
/// Each costs one thread stack ([`HTTP_THREAD_STACK_BYTES`]).
pub const HTTP_THREADS: usize = 4;

/// Stack size of each HTTP worker thread; they only parse headers and copy bodies.
pub const HTTP_THREAD_STACK_BYTES: usize = 256 * 1024;

/// How long an HTTP worker waits for the core before answering 503.
pub const HTTP_CORE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest number of request header lines accepted (tiny-http has no bound of its own).
pub const MAX_HTTP_HEADERS: usize = 64;

/// An event dated further than this into the future is rejected (clock skew of phones is
/// usually seconds; 15 minutes forgives a badly set clock without letting an event sit at
/// the top of every timeline for days). Old-dated events are accepted: imports and
/// backfills are legitimate and the original propagates any timestamp.
pub const MAX_FUTURE_SKEW: Duration = Duration::from_secs(15 * 60);

/// Default store budget in MiB: fits a Raspberry Pi Zero 2 W (512 MiB RAM) next to the OS
/// with room to spare; ≈ 40,000 typical posts.
pub const DEFAULT_STORE_MIB: u64 = 32;

/// Smallest store budget accepted on the command line.
pub const MIN_STORE_MIB: u64 = 1;

/// Largest store budget accepted on the command line (the in-memory ring holds every
/// stored event, so this is also the ring's RAM ceiling).
pub const MAX_STORE_MIB: u64 = 4096;

/// Bytes each stored event accounts for on top of [`crate::event::Event::approx_size`]: its
/// box, its entries in the `(created_at, id)` map, the id map and the pinned/evictable set,
/// at the fill factors those maps reach. `benches/store.rs` measures the real heap (a counting
/// allocator) at 651 B per typical event against 649 B accounted. Memory: part of the store
/// budget, not extra.
pub const STORE_EVENT_OVERHEAD_BYTES: usize = 256;

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

/// Segment files may take this many times the store budget on disk (plus two segments)
/// before retention re-appends the few live events of the emptiest old segment and deletes
/// it. 2× bounds disk use while keeping write amplification ≤ 1 (the segment compacted is
/// at most half live). Disk only, no memory.
pub const DISK_BUDGET_FACTOR: u64 = 2;

const _: () = assert!(PINNED_SHARE_PERCENT <= 100);
const _: () = assert!(SEGMENT_MIN_BYTES <= SEGMENT_MAX_BYTES);

/// Events answered by one timeline request at most (the client asks for 300 on start).
pub const MAX_REQ_EVENTS: usize = 10_000;

/// The original answers at most this many events to a timeline request that gives no
/// period (`since == 0`); kept for compatibility.
pub const UNPERIODED_REQ_MAX: usize = 50;

/// Largest MessagePack body of one `/req` answer before gzip; the newest events that fit
/// are kept. ≈ 16,000 typical posts, so the client's 300-event first poll never hits it,
/// while a store of big events cannot make one answer huge. Memory: at most this much
/// plus its gzip (smaller) per answer in flight, i.e. ≤ [`HTTP_THREADS`] × 2 × 8 MiB.
pub const MAX_REQ_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// Interval between the periodic statistics lines at info level.
pub const STATS_LOG_INTERVAL: Duration = Duration::from_secs(15 * 60);

const _: () = assert!(MAX_HTTP_BODY_BYTES > MAX_EVENT_BYTES);
const _: () = assert!(MAX_REQ_ANSWER_BYTES > 2 * MAX_EVENT_BYTES);
const _: () = assert!(MIN_STORE_MIB <= DEFAULT_STORE_MIB && DEFAULT_STORE_MIB <= MAX_STORE_MIB);
