//! The HTTP/1.1 front: one task per connection on the driver's `LocalExecutor` (no thread
//! per connection). It only moves bytes and keeps deadlines; what to answer is decided by
//! the pure code (`head.rs` for heads, [`super::route`] in the driver for requests, `ws.rs`
//! for websocket frames).
//!
//! Bounds (all in `limits.rs`): [`MAX_HTTP_CONNS`] connections (past it the connection that
//! has waited longest for a request head is evicted, or the new one is closed when none
//! waits), [`MAX_HTTP_HEAD_BYTES`] per head, [`MAX_HTTP_BODY_BYTES`] per body (a larger
//! claim is answered 413 without reading it, then the connection closes after a short,
//! bounded lingering read), and the head, idle, body and write deadlines. Websockets:
//! [`MAX_WS_CONNS`], [`MAX_WS_MESSAGE_BYTES`], [`WS_OUTBOX_CAP`] and the message rate.
//!
//! Requests reach the driver as [`HttpJob`]s on a bounded channel; the driver always
//! answers (it is on the same executor and never drops a job), so there is no timeout on
//! the core and no 503 for a publish that is in fact stored. Websocket traffic reaches it
//! as [`WsIn`] on another bounded channel; the driver answers on each connection's
//! [`WsOut`] queue with `try_send` (full ⇒ it closes that queue and the connection ends).
//!
//! Shutdown: [`HttpFront::stop`] closes the listener and ends every connection task at
//! once; nothing waits on a client.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use crate::reactor::{Async, Timer};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use smol::{LocalExecutor, Task};

use super::deadline::Deadline;
use super::head::{self, Body, Parsed};
use super::ws::{self, Decoder, RateBucket, WsEvent};
use super::{too_busy, Request, Response};
use crate::limits::{
    HTTP_BODY_TIMEOUT, HTTP_HEAD_TIMEOUT, HTTP_IDLE_TIMEOUT, HTTP_LINGER_BYTES, HTTP_LINGER_TIMEOUT,
    HTTP_WRITE_TIMEOUT, MAX_HTTP_CONNS, MAX_WS_CONNS, WS_OUTBOX_CAP, WS_OUTBOX_LOW, WS_PING_INTERVAL,
};

/// Bytes read per `read` call (one stack buffer; heads and bodies grow to their bounds).
const READ_CHUNK: usize = 4096;

/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop never spins.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// `accept` errors meaning "no file descriptor left" (Linux and Android `errno` values).
const EMFILE: i32 = 24;
const ENFILE: i32 = 23;

/// One request for the core, with the way back to the waiting connection.
pub struct HttpJob {
    /// The request, body already read (bounded).
    pub req: Request,
    /// Where the core sends the answer (capacity 1: `try_send` never fails for the first).
    pub reply: async_channel::Sender<Response>,
}

/// A websocket connection's id (unique for the life of the process).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WsConnId(pub u64);

/// What a websocket connection tells the driver.
#[derive(Debug)]
pub enum WsIn {
    /// A websocket was opened; the driver answers on `out` (bounded by [`WS_OUTBOX_CAP`]).
    Opened {
        /// The connection.
        conn: WsConnId,
        /// Its outbound queue: `try_send` only; full ⇒ `close()` it and forget it.
        out: async_channel::Sender<WsOut>,
    },
    /// One complete text message (UTF-8, at most [`crate::limits::MAX_WS_MESSAGE_BYTES`]).
    Message {
        /// The connection.
        conn: WsConnId,
        /// The message.
        msg: String,
    },
    /// The connection's writer sent its queue down to [`crate::limits::WS_OUTBOX_LOW`]
    /// messages: room for the next part of a large answer.
    Drained {
        /// The connection.
        conn: WsConnId,
    },
    /// The connection ended (best effort: a `try_send` to a closed queue also tells).
    Closed {
        /// The connection.
        conn: WsConnId,
    },
}

/// What the driver sends to one websocket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsOut {
    /// A text message.
    Text(String),
}

/// Why the HTTP front could not start.
#[derive(Debug)]
pub struct BindError {
    /// The address that could not be bound.
    pub addr: SocketAddr,
    /// What the OS said.
    pub cause: io::Error,
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot listen for HTTP on {}: {} (is another server using the port?)", self.addr, self.cause)
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

/// The open connections: a slot each, so that the cap holds and the longest-waiting one
/// can be evicted.
#[derive(Default)]
struct Conns {
    next_id: u64,
    /// Increases each time a connection starts waiting for a head: smaller = waited longer.
    next_wait: u64,
    open: BTreeMap<u64, Slot>,
    websockets: usize,
    stopped: bool,
}

struct Slot {
    /// Dropping it ends the connection's task (its receiver wakes with an error).
    _kill: async_channel::Sender<()>,
    /// `Some(order)` while the connection waits for a request head (evictable).
    waiting: Option<u64>,
}

type Shared = Rc<RefCell<Conns>>;

impl Conns {
    /// Room for one more connection, evicting the one that has waited longest for a head
    /// if the cap is reached; `None` when every connection is busy.
    fn admit(&mut self) -> Option<(u64, async_channel::Receiver<()>)> {
        if self.stopped {
            return None;
        }
        if self.open.len() >= MAX_HTTP_CONNS {
            self.evict_longest_waiting()?;
            log::debug!("HTTP connection cap ({MAX_HTTP_CONNS}) reached: closed the longest-waiting one");
        }
        let (kill, killed) = async_channel::bounded(1);
        self.next_id += 1;
        self.open.insert(self.next_id, Slot { _kill: kill, waiting: None });
        Some((self.next_id, killed))
    }

    /// Ends the connection that has waited longest for a request head, if any waits.
    fn evict_longest_waiting(&mut self) -> Option<()> {
        let oldest = self.open.iter().filter_map(|(id, s)| s.waiting.map(|w| (w, *id))).min()?.1;
        let slot = self.open.remove(&oldest);
        drop(slot); // its kill switch: the task ends at its next poll
        Some(())
    }

    fn set_waiting(&mut self, id: u64, waiting: bool) {
        self.next_wait += 1;
        let order = self.next_wait;
        if let Some(slot) = self.open.get_mut(&id) {
            slot.waiting = waiting.then_some(order);
        }
    }
}

/// Removes a connection's slot when its task ends (or is dropped at shutdown).
struct SlotGuard {
    conns: Shared,
    id: u64,
    websocket: bool,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        // `try_borrow_mut`: at shutdown the table may be mid-clear (then there is nothing to do).
        if let Ok(mut conns) = self.conns.try_borrow_mut() {
            let slot = conns.open.remove(&self.id);
            if self.websocket {
                conns.websockets = conns.websockets.saturating_sub(1);
            }
            drop(conns);
            drop(slot);
        }
    }
}

/// The running front: the listener's task and the connection table.
pub struct HttpFront<'a> {
    ex: &'a LocalExecutor<'static>,
    accept: Option<Task<()>>,
    accepted: async_channel::Receiver<TcpStream>,
    conns: Shared,
    jobs: async_channel::Sender<HttpJob>,
    ws: async_channel::Sender<WsIn>,
    addr: SocketAddr,
}

/// Binds `addr` and starts accepting; accepted sockets wait for [`HttpFront::adopt`].
///
/// # Errors
/// [`BindError`] when the address cannot be bound.
pub fn start<'a>(
    ex: &'a LocalExecutor<'static>,
    addr: SocketAddr,
    jobs: async_channel::Sender<HttpJob>,
    ws: async_channel::Sender<WsIn>,
) -> Result<HttpFront<'a>, BindError> {
    let listener = TcpListener::bind(addr).map_err(|cause| BindError { addr, cause })?;
    let bound = listener.local_addr().unwrap_or(addr);
    // Accepted sockets inherit TCP_NODELAY on Linux: the head and a large body are written
    // separately, and with Nagle on the body would wait for the client's delayed ACK.
    if let Err(e) = rustix::net::sockopt::set_tcp_nodelay(&listener, true) {
        log::warn!("cannot set TCP_NODELAY on the HTTP listener ({e}): answers may be delayed by ~40 ms");
    }
    let listener = Async::new(listener).map_err(|cause| BindError { addr, cause })?;
    let (tx, accepted) = async_channel::bounded(16);
    let conns: Shared = Rc::new(RefCell::new(Conns::default()));
    let table = Rc::clone(&conns);
    let accept = ex.spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => match stream.into_inner() {
                    Ok(stream) => {
                        if tx.send(stream).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => log::debug!("HTTP accept: {e}"),
                },
                Err(e) => {
                    // Out of file descriptors (below the connection cap, e.g. a low
                    // `ulimit -n`): free one held by an idle or slow-head client, so that
                    // such clients cannot lock the owner out this way either.
                    let out_of_fds = matches!(e.raw_os_error(), Some(code) if code == EMFILE || code == ENFILE);
                    if out_of_fds && table.borrow_mut().evict_longest_waiting().is_some() {
                        log::debug!("HTTP accept: out of file descriptors, closed the longest-waiting connection");
                    } else {
                        log::warn!("HTTP accept failed: {e}");
                    }
                    Timer::after(ACCEPT_BACKOFF).await;
                }
            }
        }
    });
    Ok(HttpFront { ex, accept: Some(accept), accepted, conns, jobs, ws, addr: bound })
}

impl HttpFront<'_> {
    /// The bound address (the port is known even when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next accepted connection (the driver awaits this among its wake sources).
    pub async fn accepted(&self) -> Option<TcpStream> {
        self.accepted.recv().await.ok()
    }

    /// Starts serving an accepted connection, within the cap (module doc).
    pub fn adopt(&self, stream: TcpStream) {
        let Some((id, killed)) = self.conns.borrow_mut().admit() else {
            log::debug!("HTTP connection cap ({MAX_HTTP_CONNS}) reached, all busy: closed a new connection");
            return;
        };
        let Ok(stream) = Async::new(stream) else { return };
        let guard = SlotGuard { conns: Rc::clone(&self.conns), id, websocket: false };
        let (jobs, ws) = (self.jobs.clone(), self.ws.clone());
        let task = async move {
            let serve = serve(stream, guard, jobs, ws);
            future::or(serve, async {
                let _ = killed.recv().await;
            })
            .await;
        };
        self.ex.spawn(task).detach();
    }

    /// Stops accepting and ends every connection now (dropping each task's kill switch).
    pub fn stop(mut self) {
        drop(self.accept.take());
        let open = {
            let mut conns = self.conns.borrow_mut();
            conns.stopped = true;
            std::mem::take(&mut conns.open)
        };
        drop(open);
    }
}

/// Why a connection ends early.
enum End {
    /// The client closed, a deadline passed, or a write failed: nothing more to say.
    Quiet,
}

/// Runs `fut` until `deadline` (a [`Timer`] or [`Deadline::expired`]) completes.
async fn before<T, D: std::future::Future>(
    deadline: D,
    fut: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    future::or(fut, async {
        deadline.await;
        Err(io::Error::new(io::ErrorKind::TimedOut, "deadline"))
    })
    .await
}

/// Serves one connection: requests in order (pipelined ones wait their turn), keep-alive,
/// an upgrade to a websocket.
async fn serve(
    stream: Async<TcpStream>,
    guard: SlotGuard,
    jobs: async_channel::Sender<HttpJob>,
    ws_tx: async_channel::Sender<WsIn>,
) {
    let mut buf: Vec<u8> = Vec::new();
    // One deadline for the connection's life, moved per request (not a timer re-armed per
    // request: see `deadline.rs`).
    let mut deadline = Deadline::after(HTTP_HEAD_TIMEOUT);
    let mut first = true;
    loop {
        guard.conns.borrow_mut().set_waiting(guard.id, true);
        if !first {
            deadline.set_after(HTTP_IDLE_TIMEOUT);
        }
        first = false;
        let Ok((head, len)) = read_head(&stream, &mut buf, &mut deadline).await else { return };
        guard.conns.borrow_mut().set_waiting(guard.id, false);
        buf.drain(..len);
        if let Some(key) = head.ws_key.as_deref() {
            let admitted = {
                let mut conns = guard.conns.borrow_mut();
                let room = conns.websockets < MAX_WS_CONNS;
                conns.websockets += usize::from(room);
                room
            };
            if !admitted {
                let resp = head::error_for(&head.req, 503, "too many websocket connections");
                let _ = write_response(&stream, &resp, true, false, false).await;
                return;
            }
            let mut guard = guard;
            guard.websocket = true;
            if write_all(&stream, &head::switching_protocols(key)).await.is_ok() {
                websocket(&stream, buf, WsConnId(guard.id), &ws_tx).await;
            }
            return;
        }
        let mut req = head.req;
        let mut close = !head.keep_alive;
        match head.body {
            Body::Empty => {}
            Body::TooLarge => {
                req.body_too_large = true;
                close = true;
            }
            Body::Length(n) => {
                if head.expects_continue
                    && buf.is_empty()
                    && write_all(&stream, b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err()
                {
                    return;
                }
                let mut timer = Timer::after(HTTP_BODY_TIMEOUT);
                match read_body(&stream, &mut buf, n, &mut timer).await {
                    Ok(()) => req.body = buf.drain(..n).collect(),
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                        let resp = head::error_for(&req, 408, "request body not received in time");
                        let _ = write_response(&stream, &resp, true, head.http10, false).await;
                        return;
                    }
                    Err(_) => return,
                }
            }
        }
        let omit_body = req.method == "HEAD";
        let unread_body = req.body_too_large;
        let resp = ask_core(req, &jobs).await;
        if write_response(&stream, &resp, close, head.http10, omit_body).await.is_err() {
            return;
        }
        if close {
            if unread_body {
                linger(&stream).await;
            }
            return;
        }
    }
}

/// Reads until `buf` holds a complete head; answers and fails on a refusal, a deadline or
/// a closed connection.
async fn read_head(
    stream: &Async<TcpStream>,
    buf: &mut Vec<u8>,
    deadline: &mut Deadline,
) -> Result<(head::Head, usize), End> {
    let mut scanned = 0;
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        if !buf.is_empty() {
            match head::parse_head(buf, scanned) {
                Parsed::Partial => scanned = buf.len(),
                Parsed::Complete { head, len } => return Ok((head, len)),
                Parsed::Reject(resp) => {
                    if write_response(stream, &resp, true, false, false).await.is_ok() {
                        linger(stream).await;
                    }
                    return Err(End::Quiet);
                }
            }
        }
        match before(deadline.expired(), (&*stream).read(&mut chunk)).await {
            Ok(0) => return Err(End::Quiet),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::TimedOut && !buf.is_empty() => {
                let resp = head::bare_error(408, "request head not received in time");
                let _ = write_response(stream, &resp, true, false, false).await;
                return Err(End::Quiet);
            }
            Err(_) => return Err(End::Quiet),
        }
    }
}

/// Reads until `buf` holds `n` body bytes (`n` ≤ the body bound, checked by the head).
async fn read_body(stream: &Async<TcpStream>, buf: &mut Vec<u8>, n: usize, timer: &mut Timer) -> io::Result<()> {
    let mut chunk = [0u8; READ_CHUNK];
    while buf.len() < n {
        let want = (n - buf.len()).min(READ_CHUNK);
        match before(&mut *timer, (&*stream).read(&mut chunk[..want])).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            got => buf.extend_from_slice(&chunk[..got]),
        }
    }
    Ok(())
}

/// Hands the request to the core and waits for its answer. The core always answers; only
/// a core that is gone (shutting down) makes this a 503.
async fn ask_core(req: Request, jobs: &async_channel::Sender<HttpJob>) -> Response {
    let probe = Request { headers: req.headers.clone(), ..Request::default() };
    let (reply, answer) = async_channel::bounded(1);
    if jobs.send(HttpJob { req, reply }).await.is_err() {
        return too_busy(&probe);
    }
    answer.recv().await.unwrap_or_else(|_| too_busy(&probe))
}

async fn write_all(stream: &Async<TcpStream>, bytes: &[u8]) -> io::Result<()> {
    let mut timer = Timer::after(HTTP_WRITE_TIMEOUT);
    before(&mut timer, (&*stream).write_all(bytes)).await
}

async fn write_response(
    stream: &Async<TcpStream>,
    resp: &Response,
    close: bool,
    http10: bool,
    omit_body: bool,
) -> io::Result<()> {
    let mut out = head::serialize_head(resp, close, http10);
    let body: &[u8] = if omit_body { &[] } else { &resp.body };
    let mut timer = Timer::after(HTTP_WRITE_TIMEOUT);
    if body.len() <= 16 * 1024 {
        out.extend_from_slice(body);
        before(&mut timer, (&*stream).write_all(&out)).await
    } else {
        before(&mut timer, (&*stream).write_all(&out)).await?;
        before(&mut timer, (&*stream).write_all(body)).await
    }
}

/// After an answer to a request whose rest was not read: stop sending, then read and drop
/// what the client already sent (bounded in bytes and time), so that closing does not
/// reset the connection before the client reads the answer.
async fn linger(stream: &Async<TcpStream>) {
    let _ = stream.get_ref().shutdown(Shutdown::Write);
    let mut timer = Timer::after(HTTP_LINGER_TIMEOUT);
    let mut chunk = [0u8; READ_CHUNK];
    let mut dropped = 0;
    while dropped < HTTP_LINGER_BYTES {
        match before(&mut timer, (&*stream).read(&mut chunk)).await {
            Ok(n) if n > 0 => dropped += n,
            _ => return,
        }
    }
}

/// [`WS_PING_INTERVAL`], or `NOSTRP2P_TEST_WS_PING_MS` when set (tests only).
fn ping_interval() -> Duration {
    std::env::var("NOSTRP2P_TEST_WS_PING_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(WS_PING_INTERVAL, Duration::from_millis)
}

/// A websocket session: frames in → [`WsIn`] to the driver; [`WsOut`] and control frames
/// out. Ends on a close, a protocol error, a closed outbound queue or a failed write.
async fn websocket(stream: &Async<TcpStream>, mut buf: Vec<u8>, conn: WsConnId, to_core: &async_channel::Sender<WsIn>) {
    let (out, from_core) = async_channel::bounded::<WsOut>(WS_OUTBOX_CAP);
    if to_core.send(WsIn::Opened { conn, out }).await.is_err() {
        return;
    }
    log::debug!("websocket {} opened", conn.0);
    // Control frames from the reader to the writer (a pong, the final close).
    let (ctl_tx, ctl_rx) = async_channel::bounded::<Vec<u8>>(4);
    let reader = async {
        let mut decoder = Decoder::default();
        let mut rate = RateBucket::default();
        let origin = std::time::Instant::now();
        let mut chunk = [0u8; READ_CHUNK];
        let ping_every = ping_interval();
        // Moved on every read, armed about once per interval (see `deadline.rs`).
        let mut ping_at = Deadline::after(ping_every);
        let mut pinged = false;
        loop {
            let event = match decoder.decode(&mut buf) {
                Ok(Some(event)) => event,
                Ok(None) => {
                    let read = future::or(async { Some((&*stream).read(&mut chunk).await) }, async {
                        ping_at.expired().await;
                        None
                    });
                    match read.await {
                        Some(Ok(n)) if n > 0 => {
                            ping_at.set_after(ping_every);
                            pinged = false;
                            buf.extend_from_slice(&chunk[..n]);
                            continue;
                        }
                        Some(_) => return None,
                        // Silent since the ping: the client is gone (or cannot answer).
                        None if pinged => {
                            log::debug!("websocket {}: no answer to a ping, closing", conn.0);
                            return Some(ws::CLOSE_GOING_AWAY);
                        }
                        None => {
                            ping_at.set_after(ping_every);
                            pinged = true;
                            if ctl_tx.send(ws::ping_frame()).await.is_err() {
                                return None;
                            }
                            continue;
                        }
                    }
                }
                Err(e) => {
                    log::debug!("websocket {}: {e}", conn.0);
                    return Some(e.close_code());
                }
            };
            let now_ms = u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX);
            if let Err(wait) = rate.take(now_ms) {
                Timer::after(wait).await;
                let _ = rate.take(now_ms.saturating_add(u64::try_from(wait.as_millis()).unwrap_or(0)));
            }
            match event {
                WsEvent::Text(msg) => {
                    if to_core.send(WsIn::Message { conn, msg }).await.is_err() {
                        return Some(ws::CLOSE_GOING_AWAY);
                    }
                }
                WsEvent::Ping(payload) => {
                    if ctl_tx.send(ws::pong_frame(&payload)).await.is_err() {
                        return None;
                    }
                }
                WsEvent::Close => return Some(ws::CLOSE_NORMAL),
            }
        }
    };
    let writer = async {
        loop {
            let next = future::or(async { ctl_rx.recv().await.ok() }, async {
                from_core.recv().await.ok().map(|WsOut::Text(t)| ws::text_frame(&t))
            })
            .await;
            // Closed by the driver: the queue was full (this client does not keep up) or
            // the core forgot the connection. Close now, without draining the queue.
            let Some(frame) = next.filter(|_| !from_core.is_closed()) else { return Some(ws::CLOSE_POLICY) };
            // Sent down to the low mark (one message at a time, so it is met exactly once
            // per drain): the driver may queue the next part of a large answer.
            if from_core.len() == WS_OUTBOX_LOW && to_core.send(WsIn::Drained { conn }).await.is_err() {
                return Some(ws::CLOSE_GOING_AWAY);
            }
            if write_all(stream, &frame).await.is_err() {
                return None;
            }
        }
    };
    let close_code = future::or(reader, writer).await;
    if let Some(code) = close_code {
        // Best effort: pending pongs are dropped; the close frame says why.
        let _ = write_all(stream, &ws::close_frame(code)).await;
    }
    let _ = to_core.send(WsIn::Closed { conn }).await;
    log::debug!("websocket {} closed", conn.0);
}
