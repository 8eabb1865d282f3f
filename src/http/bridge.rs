//! The only blocking code: tiny-http's threads hand each request to the single-threaded core
//! through a bounded channel and wait for its answer.
//!
//! A full queue answers 503 at once (the core is never awaited by more than
//! [`HTTP_QUEUE_CAP`] requests); a core that does not answer within [`HTTP_CORE_TIMEOUT`]
//! also yields 503. Bodies are read through `take(MAX_HTTP_BODY_BYTES + 1)`, so an
//! oversized body is flagged without being kept (tiny-http still reads and discards the rest
//! of a `Content-Length` body before the next request on that connection, so an oversized
//! upload costs its sender bandwidth and one worker's time, not our memory). Routing and rendering are not here: they
//! are the pure functions of this module's parent.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::http::{too_busy, Request, Response};
use crate::limits::{
    HTTP_CORE_TIMEOUT, HTTP_QUEUE_CAP, HTTP_THREADS, HTTP_THREAD_STACK_BYTES, MAX_HTTP_BODY_BYTES, MAX_HTTP_HEADERS,
};

/// One request for the core, with the way back to the waiting HTTP thread.
pub struct HttpJob {
    /// The request, body already read (bounded).
    pub req: Request,
    /// Where the core sends the answer (capacity 1: sending never blocks the core).
    pub reply: SyncSender<Response>,
}

/// The running HTTP front: tiny-http's listener and [`HTTP_THREADS`] worker threads.
pub struct HttpFront {
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    addr: SocketAddr,
}

/// Why the HTTP front could not start.
#[derive(Debug)]
pub struct BindError {
    /// The address that could not be bound.
    pub addr: SocketAddr,
    /// What the OS or tiny-http said.
    pub cause: String,
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot listen for HTTP on {}: {} (is another server using the port?)", self.addr, self.cause)
    }
}

impl std::error::Error for BindError {}

/// Binds `addr` and starts the worker threads, which send jobs to `jobs`.
///
/// # Errors
/// [`BindError`] when the address cannot be bound or a thread cannot be started.
pub fn start(addr: SocketAddr, jobs: async_channel::Sender<HttpJob>) -> Result<HttpFront, BindError> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| BindError { addr, cause: e.to_string() })?;
    // Accepted sockets inherit TCP_NODELAY on Linux. tiny-http writes the head and a body
    // larger than its 1 KiB buffer separately; with Nagle on, the body then waits for the
    // client's delayed ACK (40 ms on Linux) on every `/req` answer.
    if let Err(e) = rustix::net::sockopt::set_tcp_nodelay(&listener, true) {
        log::warn!("cannot set TCP_NODELAY on the HTTP listener ({e}): answers may be delayed by ~40 ms");
    }
    let server =
        tiny_http::Server::from_listener(listener, None).map_err(|e| BindError { addr, cause: e.to_string() })?;
    let bound = server.server_addr().to_ip().unwrap_or(addr);
    let server = Arc::new(server);
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::with_capacity(HTTP_THREADS);
    for i in 0..HTTP_THREADS {
        let (server, stop, jobs) = (Arc::clone(&server), Arc::clone(&stop), jobs.clone());
        let handle = std::thread::Builder::new()
            .name(format!("http-{i}"))
            .stack_size(HTTP_THREAD_STACK_BYTES)
            .spawn(move || worker(&server, &stop, &jobs))
            .map_err(|e| BindError { addr, cause: format!("cannot start HTTP thread: {e}") })?;
        workers.push(handle);
    }
    Ok(HttpFront { server, stop, workers, addr: bound })
}

impl HttpFront {
    /// The bound address (the port is known even when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets each worker finish its current request, and joins them.
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for _ in 0..self.workers.len() {
            self.server.unblock();
        }
        for w in self.workers {
            let _ = w.join();
        }
    }
}

fn worker(server: &tiny_http::Server, stop: &AtomicBool, jobs: &async_channel::Sender<HttpJob>) {
    loop {
        let rq = match server.recv() {
            Ok(rq) => rq,
            Err(_) if stop.load(Ordering::SeqCst) => return,
            Err(e) => {
                log::debug!("HTTP connection error: {e}");
                continue;
            }
        };
        serve(rq, jobs);
    }
}

fn serve(mut rq: tiny_http::Request, jobs: &async_channel::Sender<HttpJob>) {
    if rq.headers().len() > MAX_HTTP_HEADERS {
        let resp = error_response(431, &format!("more than {MAX_HTTP_HEADERS} header lines"));
        return respond(rq, resp);
    }
    let headers = rq.headers().iter().map(|h| (h.field.as_str().to_string(), h.value.as_str().to_string())).collect();
    let mut body = Vec::new();
    let read = rq.as_reader().take(MAX_HTTP_BODY_BYTES as u64 + 1).read_to_end(&mut body);
    if let Err(e) = read {
        log::debug!("HTTP body read failed: {e}");
        return respond(rq, error_response(400, &format!("could not read the request body: {e}")));
    }
    let body_too_large = body.len() > MAX_HTTP_BODY_BYTES;
    if body_too_large {
        body = Vec::new();
    }
    let req =
        Request { method: rq.method().as_str().to_string(), path: rq.url().to_string(), headers, body, body_too_large };
    // Enough of the request to answer 503 with the right CORS and gzip headers if the core
    // cannot take it.
    let probe = Request { headers: req.headers.clone(), ..Request::default() };
    let (tx, rx) = mpsc::sync_channel(1);
    let resp = match jobs.try_send(HttpJob { req, reply: tx }) {
        Err(async_channel::TrySendError::Full(_)) => {
            log::warn!("HTTP queue full ({HTTP_QUEUE_CAP} waiting): answered 503");
            too_busy(&probe)
        }
        Err(async_channel::TrySendError::Closed(_)) => too_busy(&probe),
        Ok(()) => match rx.recv_timeout(HTTP_CORE_TIMEOUT) {
            Ok(resp) => resp,
            Err(RecvTimeoutError::Timeout) => {
                log::warn!("core did not answer an HTTP request within {HTTP_CORE_TIMEOUT:?}: answered 503");
                too_busy(&probe)
            }
            Err(RecvTimeoutError::Disconnected) => too_busy(&probe),
        },
    };
    respond(rq, resp);
}

fn error_response(status: u16, msg: &str) -> Response {
    let body = serde_json::to_vec_pretty(&serde_json::json!({ "Error": msg })).unwrap_or_default();
    Response { status, headers: vec![("Content-Type", "application/json; charset=utf-8".into())], body }
}

fn respond(rq: tiny_http::Request, resp: Response) {
    let len = resp.body.len();
    let mut out = tiny_http::Response::new(
        tiny_http::StatusCode(resp.status),
        Vec::with_capacity(resp.headers.len()),
        std::io::Cursor::new(resp.body),
        Some(len),
        None,
    );
    for (name, value) in &resp.headers {
        match tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            Ok(h) => out.add_header(h),
            Err(()) => log::debug!("dropped invalid response header {name}"),
        }
    }
    if let Err(e) = rq.respond(out) {
        log::debug!("HTTP client went away before the answer: {e}");
    }
}
