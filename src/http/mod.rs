//! The client HTTP API as pure functions: [`route`] turns a [`Request`] into a [`Routed`]
//! decision; nothing here touches a socket, a file or a clock (`now` is a parameter).
//!
//! Endpoints (original spec §4, §10; `docs/http-api.md` lists the differences):
//! - `POST /publish` — one signed NIP-01 event (JSON). Accepted events come back as
//!   [`Routed::Publish`]: the driver stores them (on disk) and then renders the answer with
//!   [`publish_done`], so a 200 means "durably stored" (design §7).
//! - `POST /req` — a filter (JSON) → MessagePack `{"Evts":[…]}`, gzip'd when accepted;
//!   a repeated request is answered from [`ReqCache`] while the store is unchanged.
//! - `GET /status` — JSON figures for humans and monitors.
//! - `OPTIONS` preflights for the web build (CORS, Private Network Access).
//! - `GET /` with `Accept: application/nostr+json` — recognised by [`relay_info`] before
//!   routing: the NIP-11 hook (answered like any unknown path until the relay module
//!   provides the document).
//!
//! Order of the generic checks, before any endpoint logic: `Origin` sanity (403) → path
//! (404 `Resource not found`) → preflight → method (405 `Method not allowed`) → body over
//! [`crate::limits::MAX_HTTP_BODY_BYTES`] (413) → `Content-Type` of a non-empty body (415,
//! the original's message). Every error is `{"Error": "…"}` with a 4xx (or 503/507 for a
//! storage problem); there is no 500 and no stack trace.
//!
//! The transport (`front.rs`, on the driver's executor) must: never read a body longer than
//! `MAX_HTTP_BODY_BYTES`, and set [`Request::body_too_large`] instead; copy the headers;
//! send [`Response::headers`] as given (it adds `Content-Length` and owns `Connection`).
//! Request and response heads, and websocket frames, are decided by the pure `head.rs` and
//! `ws.rs`.

use std::fmt;
use std::time::Duration;

use crate::event::VerifiedEvent;
use crate::keys::PublicKey;
use crate::query::EventQuery;
use crate::time::UnixTime;

mod cache;
mod cors;
mod deadline;
pub mod front;
mod head;
mod publish;
mod req;
mod request;
mod response;
mod status;
mod ws;

#[cfg(test)]
mod tests;

pub use cache::ReqCache;
pub use request::Request;
pub use response::{Response, CONTENT_TYPE_JSON, CONTENT_TYPE_MSGPACK};

use cors::Cors;
use response::ReplyCtx;

/// What the API needs to know about this server (fixed at start-up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// The user this server belongs to: by default only their events are accepted.
    pub owner: PublicKey,
    /// `false` answers every `/publish` with 406 `Write is denied` (the original's `-w false`).
    pub writable: bool,
    /// Accept events signed by any key, as the original did for kinds 1, 6 and 7 (off by
    /// default: anyone who reaches the port could otherwise post through this server).
    pub accept_any_author: bool,
    /// Shown by `/status` (e.g. `env!("CARGO_PKG_VERSION")`).
    pub version: &'static str,
}

/// Live figures shown by `GET /status`, gathered by the driver per request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeInfo {
    /// Time since the process started.
    pub uptime: Duration,
    /// The overlay's listen address, if any.
    pub listen: Option<String>,
    /// The HTTP listen address.
    pub http_listen: Option<String>,
    /// The data directory.
    pub data_dir: Option<String>,
    /// Connected overlay peers, once the overlay reports it.
    pub peers: Option<u64>,
    /// Overlay and offline-delivery figures, once the overlay runs.
    pub network: Option<NetworkInfo>,
}

/// What `/status` shows of the network side: how connected this node is and what it holds
/// for others or waits to deliver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkInfo {
    /// `core` (reachable, relays for others) or `leaf` (behind NAT, attached to homes).
    pub role: &'static str,
    /// Nodes in the directory (this one included).
    pub nodes_known: u64,
    /// `--delivery` as configured: `broadcast`, `follow` or `auto`.
    pub delivery: &'static str,
    /// What it resolves to now (a core node in `auto` by its directory size; a leaf in
    /// `auto` lets its homes decide and shows `auto`).
    pub delivery_active: &'static str,
    /// `--directory` as configured: `broadcast`, `ring` or `auto`.
    pub directory: &'static str,
    /// What it resolves to now: `broadcast`, `both` (`auto` running the ring beside the
    /// broadcast directory) or `ring` (records on the ring only).
    pub directory_active: &'static str,
    /// `auto` on a core: the network size its level was last set from.
    pub directory_estimate: Option<u64>,
    /// Ring directory: cores in this node's ring table.
    pub ring_known: u64,
    /// Ring directory: lookups this node started, and those answered with the record.
    pub ring_lookups: u64,
    /// See `ring_lookups`.
    pub ring_found: u64,
    /// Followees in the interest set (from the owner's newest kind 3).
    pub following: u64,
    /// Leaves attached here that sent their interest set (a core node).
    pub leaves_filtering: u64,
    /// Followees in those leaves' sets, summed.
    pub leaf_followees: u64,
    /// Per-author trees (a core in follow mode): topics held, `None` when not running them.
    pub topics: Option<u64>,
    /// Of those, topics attached to their tree (a parent acked, or this node is the root).
    pub tree_parents: Option<u64>,
    /// Of those, topics this node wants (its owner's and its leaves' followees, its own).
    pub topics_wanted: Option<u64>,
    /// A core in `--delivery auto`: its level (`broadcast`, `preparing`, `both`, `trees`;
    /// docs/scaling.md "Delivery"), `None` otherwise.
    pub auto_level: Option<&'static str>,
    /// The estimated network size that level was set from.
    pub estimated_nodes: u64,
    /// The public sample topic, if this node runs the trees.
    pub sample: Option<SampleInfo>,
    /// Replies/mentions/likes of the owner waiting to be delivered (resend queue).
    pub resend_waiting: u64,
    /// Sealed envelopes held for offline nodes this node supports.
    pub mailbox_envelopes: u64,
    /// Envelopes for this node opened since start.
    pub mail_opened: u64,
    /// Events from other nodes stored since start.
    pub events_received: u64,
    /// Events received in follow-mode catch-up answers from followees' tree parents.
    pub catchup_from_tree: u64,
    /// The same from followees' own servers (the tree parent had nothing).
    pub catchup_from_author: u64,
    /// The `-b` bootstrap peer, if one was given.
    pub bootstrap: Option<BootstrapInfo>,
    /// What the overlay refused or dropped from peers since start.
    pub dropped: DroppedInfo,
    /// Protocol version and the datagram path.
    pub transport: TransportInfo,
}

/// What `/status` shows of the peer transport (`network.transport`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportInfo {
    /// The overlay protocol version this node speaks.
    pub protocol: u8,
    /// Connections dropped since start because the peer spoke another protocol version.
    pub other_protocol_peers: u64,
    /// The version the last such peer spoke.
    pub other_protocol: Option<u8>,
    /// Eager pushes that found no room in a peer's send queue and went as `IHave` instead
    /// (the peer grafts what it misses: a slow link, nothing lost).
    pub shed: u64,
    /// Other frames dropped because a peer's send queue was full.
    pub dropped_full: u64,
    /// Peers disconnected because their socket took nothing for `net::SLOW_PEER_STALL`.
    pub slow_disconnects: u64,
    /// Connections with a datagram link offered (core↔core).
    pub datagram_links: u64,
    /// Datagram counters (sent, received, bytes, lost).
    pub datagrams: crate::net::datagram::DatagramStats,
    /// Datagrams the socket refused to send.
    pub datagram_send_failed: u64,
    /// Bytes of frames queued on stream connections since start (datagrams are counted in
    /// `datagrams`).
    pub stream_bytes_sent: u64,
}

/// What `/status` shows of the overlay's defences: counters since start of what peers sent
/// The public sample topic at a core running the trees (`network.delivery.sample`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampleInfo {
    /// This node subscribes to it (its owner or an `auto` leaf follows nobody).
    pub subscribed: bool,
    /// Attached to the sample tree (a parent acked, or this node is its root).
    pub attached: bool,
    /// Leading zero bits a post's sample hash needs here (share = 2^-bits).
    pub share_bits: u32,
    /// Posts put on the sample here, passed on, and dropped (per-author gap, rate cap, not
    /// eligible).
    pub entered: u64,
    /// See `entered`.
    pub relayed: u64,
    /// See `entered`.
    pub author_gap: u64,
    /// See `entered`.
    pub over_rate: u64,
    /// See `entered`.
    pub ineligible: u64,
}

/// and this node refused or dropped (none of them bans an honest peer; `invalid` bans the
/// connection that sent provably bad data).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DroppedInfo {
    /// Payloads with a bad id or signature.
    pub invalid: u64,
    /// Frames over a connection's rate limit.
    pub rate_limited: u64,
    /// Events over the per-author limit.
    pub author_limited: u64,
    /// New events over their entry link's or IP prefix's admission budget.
    pub admission_limited: u64,
    /// Events and records outside the time window (never a ban).
    pub time_window: u64,
    /// Unicasts and acks not signed by their claimed source.
    pub forged: u64,
    /// Handshakes refused: the IP prefix added too many new node ids lately.
    pub new_ids_limited: u64,
    /// Gossiped records of new node ids over their link's budget.
    pub gossip_limited: u64,
    /// Datagrams dropped: unknown token, bad MAC, replayed, oversized or bad frames (never a ban).
    pub datagrams: u64,
    /// Leaves' interest sets refused: oversized or over their update budget.
    pub interest_limited: u64,
}

/// What `/status` shows of the `-b` bootstrap peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootstrapInfo {
    /// The address dialled last (or the first one resolved); `None` while the name does not resolve.
    pub addr: Option<std::net::SocketAddr>,
    /// `connecting`, `failed` or `joined`.
    pub state: &'static str,
    /// Why the last attempt failed (with `failed`).
    pub cause: Option<&'static str>,
    /// Dials made to it so far.
    pub attempts: u64,
}

/// What the driver must do with a request.
#[derive(Debug)]
pub enum Routed {
    /// Send this answer.
    Reply(Response),
    /// Send this (empty) answer, and ask the network for what was missing: the client asks
    /// again later (it polls), and by then the answer may be stored.
    ReplyAndFetch {
        /// The answer to send now.
        reply: Response,
        /// What the store did not have.
        miss: Miss,
    },
    /// Store `event` (durably), then send [`publish_done`]`(done, outcome)`; also hand the
    /// event to the overlay (broadcast or unicast by kind) once stored.
    Publish {
        /// The accepted event (id, signature, time, owner and kind checks passed).
        event: VerifiedEvent,
        /// How to render the answer once the outcome is known.
        done: PublishCtx,
    },
}

/// A `/req` lookup that found nothing locally (original spec §4.3 b–d, §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Miss {
    /// No kind 0 of this author.
    Profile(PublicKey),
    /// No kind 3 of this author.
    FollowList(PublicKey),
    /// No post with this id by this author.
    Post {
        /// The post's id.
        id: crate::event::EventId,
        /// Its author, as the request said.
        author: PublicKey,
    },
}

/// Carries the request's CORS/gzip decisions from [`route`] to [`publish_done`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishCtx(ReplyCtx);

/// A NIP-11 relay information request (`GET /` with `Accept: application/nostr+json`)?
/// The driver asks this before [`route`]; the answer carries the request's CORS/gzip
/// decisions (`None` also for an `Origin` that [`route`] refuses).
pub fn relay_info(req: &Request) -> Option<InfoCtx> {
    if req.route_path() != "/" || req.method != "GET" || !req.accepts_nostr_json() {
        return None;
    }
    Some(InfoCtx(ReplyCtx { cors: Cors::of(req).ok()?, gzip: req.accepts_gzip() }))
}

/// Carries the request's CORS/gzip decisions to the NIP-11 answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoCtx(ReplyCtx);

impl InfoCtx {
    /// Renders a NIP-11 document (JSON bytes) with the request's CORS headers (NIP-11 asks
    /// for `Access-Control-Allow-Origin`, which every answer carries).
    pub fn render(&self, document: Vec<u8>) -> Response {
        self.0.render(200, "application/nostr+json", document, Vec::new())
    }
}

/// The answer to a NIP-11 request while this node has no relay document: the same 404 as
/// any unknown path (what `GET /` always answered).
pub fn no_relay_info(ctx: &InfoCtx) -> Response {
    ctx.0.error(404, "Resource not found")
}

/// Why an accepted event could not be stored (the driver maps its store error to one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreFailure {
    /// The disk is full (`ENOSPC`): 507 Insufficient Storage.
    NoSpace(String),
    /// Any other storage error: 503, the client may retry later.
    Io(String),
}

impl fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreFailure::NoSpace(why) => write!(f, "storage failed, disk full: {why}"),
            StoreFailure::Io(why) => write!(f, "storage failed: {why}"),
        }
    }
}

/// An answer to refuse with: a 4xx status and the `{"Error": …}` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reject {
    /// HTTP status.
    pub status: u16,
    /// Human-readable reason (the original's wording where it had one).
    pub msg: String,
}

impl Reject {
    pub(crate) fn new(status: u16, msg: impl Into<String>) -> Reject {
        Reject { status, msg: msg.into() }
    }
}

/// The endpoints and the one method each accepts (besides CORS preflights).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Publish,
    Req,
    Status,
}

impl Endpoint {
    fn of(path: &str) -> Option<Endpoint> {
        match path {
            "/publish" => Some(Endpoint::Publish),
            "/req" => Some(Endpoint::Req),
            "/status" => Some(Endpoint::Status),
            _ => None,
        }
    }

    fn method(self) -> &'static str {
        match self {
            Endpoint::Publish | Endpoint::Req => "POST",
            Endpoint::Status => "GET",
        }
    }
}

/// Decides what to answer to `req` (module doc for the order of checks). `cache` keeps
/// recent `/req` answers while the store is unchanged (see `cache.rs`).
pub fn route(
    req: &Request,
    store: &impl EventQuery,
    cfg: &HttpConfig,
    info: &NodeInfo,
    now: UnixTime,
    cache: &mut ReqCache,
) -> Routed {
    let gzip = req.accepts_gzip();
    let Ok(cors) = Cors::of(req) else {
        return Routed::Reply(ReplyCtx { cors: Cors::SameOrigin, gzip }.error(403, "Invalid Origin"));
    };
    let ctx = ReplyCtx { cors, gzip };
    let Some(endpoint) = Endpoint::of(req.route_path()) else {
        return Routed::Reply(ctx.error(404, "Resource not found"));
    };
    if cors::is_preflight(req, &ctx.cors) {
        return Routed::Reply(cors::preflight(req, &ctx));
    }
    if req.method != endpoint.method() {
        let mut resp = ctx.error(405, "Method not allowed");
        resp.headers.push(("Allow", format!("{}, OPTIONS", endpoint.method())));
        return Routed::Reply(resp);
    }
    if req.body_too_large {
        let msg = format!("request body is larger than {} bytes", crate::limits::MAX_HTTP_BODY_BYTES);
        return Routed::Reply(ctx.error(413, &msg));
    }
    if !req.body.is_empty() && !req.has_json_content_type() {
        return Routed::Reply(ctx.error(415, "Bad Content-Type or charset, expected 'application/json'"));
    }
    match endpoint {
        Endpoint::Publish => match publish::check(req, cfg, now) {
            Ok(event) => Routed::Publish { event, done: PublishCtx(ctx) },
            Err(r) => Routed::Reply(ctx.error(r.status, &r.msg)),
        },
        Endpoint::Req => match answer_req(req, store, &ctx, cache) {
            (reply, None) => Routed::Reply(reply),
            (reply, Some(miss)) => Routed::ReplyAndFetch { reply, miss },
        },
        Endpoint::Status => {
            let body = status::render(cfg, info, store.stats(), now);
            Routed::Reply(ctx.render(200, CONTENT_TYPE_JSON, body, Vec::new()))
        }
    }
}

/// A `/req` answer: from the cache when the same request was answered under the same store
/// generation, else selected, encoded and (when it is a plain 200) cached.
fn answer_req(
    req: &Request,
    store: &impl EventQuery,
    ctx: &ReplyCtx,
    cache: &mut ReqCache,
) -> (Response, Option<Miss>) {
    let generation = store.generation();
    if let Some(hit) = generation.and_then(|g| cache.get(g, &req.body, ctx.gzip)) {
        return (ctx.render_encoded(200, CONTENT_TYPE_MSGPACK, hit, Vec::new()), None);
    }
    let selected = req::parse_filter(&req.body).and_then(|filter| req::select(&filter, store));
    match selected {
        Ok((events, sig, miss)) => {
            let encoded = ctx.encode(req::render(&events, sig));
            // A miss also asks the network: answer it afresh every time.
            if let (Some(g), None) = (generation, &miss) {
                cache.put(g, &req.body, ctx.gzip, &encoded);
            }
            (ctx.render_encoded(200, CONTENT_TYPE_MSGPACK, encoded, Vec::new()), miss)
        }
        Err(r) => (ctx.error(r.status, &r.msg), None),
    }
}

/// The answer to a `/publish` once the driver tried to store the event: 200 with the
/// original's `{"Status": "SUCCESS"}` (also for an event already stored: publishing is
/// idempotent), 507 when the disk is full, 503 for other storage errors.
pub fn publish_done(ctx: PublishCtx, outcome: Result<(), StoreFailure>) -> Response {
    let PublishCtx(ctx) = ctx;
    match outcome {
        Ok(()) => ctx.success(),
        Err(f @ StoreFailure::NoSpace(_)) => ctx.error(507, &f.to_string()),
        Err(f @ StoreFailure::Io(_)) => ctx.error(503, &f.to_string()),
    }
}

/// 503 for a request the core could not take (it is shutting down), with the request's
/// CORS/gzip headers and `Retry-After: 1`.
pub fn too_busy(req: &Request) -> Response {
    let ctx = ReplyCtx { cors: Cors::of(req).unwrap_or(Cors::SameOrigin), gzip: req.accepts_gzip() };
    let mut resp = ctx.error(503, "server busy, try again");
    resp.headers.push(("Retry-After", "1".to_string()));
    resp
}
