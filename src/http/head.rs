//! Request heads and response heads as pure functions: bytes in, a decision out. The
//! connection tasks (`front.rs`) only move bytes; every "what does this client get" lives here.
//!
//! - [`parse_head`] turns the bytes of a connection into a [`Head`] (the request without
//!   its body, plus what to do next: read a body of a known length, upgrade to a websocket)
//!   or into an error answer (400, 411, 426, 431, 505), always with CORS headers.
//! - [`serialize_head`] writes the status line and headers of an answer.
//!
//! Bounds: a head is at most [`MAX_HTTP_HEAD_BYTES`] with at most [`MAX_HTTP_HEADERS`]
//! lines; a body claim is never used to allocate, only compared with
//! [`MAX_HTTP_BODY_BYTES`]. Request bodies must carry `Content-Length` (`Transfer-Encoding`
//! is answered 411: no client of this API sends chunked bodies).

use super::cors::Cors;
use super::request::Request;
use super::response::{ReplyCtx, Response};
use crate::limits::{MAX_HTTP_BODY_BYTES, MAX_HTTP_HEADERS, MAX_HTTP_HEAD_BYTES};

/// What the bytes read so far on a connection amount to.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// No complete head yet, and the buffer is within bounds: read more.
    Partial,
    /// A complete head of `len` bytes (the body, if any, follows it in the buffer).
    Complete {
        /// The request and what comes after its head.
        head: Head,
        /// Bytes of the buffer taken by the head.
        len: usize,
    },
    /// Send this answer, then close the connection.
    Reject(Response),
}

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct Head {
    /// The request, with an empty body.
    pub req: Request,
    /// What follows the head.
    pub body: Body,
    /// Whether the connection may serve another request after this one.
    pub keep_alive: bool,
    /// HTTP/1.0 (answers then say `Connection: keep-alive` when kept open).
    pub http10: bool,
    /// The client waits for `100 Continue` before sending its body.
    pub expects_continue: bool,
    /// A valid websocket upgrade: the `Sec-WebSocket-Key` to answer.
    pub ws_key: Option<String>,
}

/// The body announced by a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// No body (no `Content-Length`, or 0).
    Empty,
    /// Exactly this many bytes, at most [`MAX_HTTP_BODY_BYTES`].
    Length(usize),
    /// More than [`MAX_HTTP_BODY_BYTES`]: not read; the request is routed with
    /// [`Request::body_too_large`] and the connection closed after the answer.
    TooLarge,
}

/// Where a head ends in `buf` (`\r\n\r\n`, or a bare `\n\n` that httparse also accepts),
/// looking only from `from` on (minus 3 bytes of overlap) so that a head arriving byte by
/// byte is scanned once, not once per byte.
pub(crate) fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    for i in from.saturating_sub(3)..buf.len() {
        if buf[i] != b'\n' {
            continue;
        }
        match (buf.get(i + 1), buf.get(i + 2)) {
            (Some(b'\n'), _) => return Some(i + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(i + 3),
            _ => {}
        }
    }
    None
}

/// Decides what the bytes `buf` of a connection are (module doc). `buf` holds at most
/// [`MAX_HTTP_HEAD_BYTES`] plus one read; the caller stops reading once it is past that.
pub(crate) fn parse_head(buf: &[u8], scanned: usize) -> Parsed {
    let Some(end) = head_end(buf, scanned) else {
        if buf.len() >= MAX_HTTP_HEAD_BYTES {
            return Parsed::Reject(bare_error(431, &format!("request head longer than {MAX_HTTP_HEAD_BYTES} bytes")));
        }
        return Parsed::Partial;
    };
    if end > MAX_HTTP_HEAD_BYTES {
        return Parsed::Reject(bare_error(431, &format!("request head longer than {MAX_HTTP_HEAD_BYTES} bytes")));
    }
    let mut slots = [httparse::EMPTY_HEADER; MAX_HTTP_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    match parsed.parse(&buf[..end]) {
        Ok(httparse::Status::Complete(len)) => decide(&parsed, len),
        Ok(httparse::Status::Partial) => Parsed::Reject(bare_error(400, "malformed request head")),
        Err(httparse::Error::TooManyHeaders) => {
            // Find the Origin by a plain line scan, so that a page can read the refusal.
            let cors = origin_of(&buf[..end]);
            let ctx = ReplyCtx { cors, gzip: false };
            Parsed::Reject(ctx.error(431, &format!("more than {MAX_HTTP_HEADERS} header lines")))
        }
        Err(e) => Parsed::Reject(bare_error(400, &format!("malformed request head: {e}"))),
    }
}

fn decide(parsed: &httparse::Request<'_, '_>, len: usize) -> Parsed {
    let (Some(method), Some(path), Some(version)) = (parsed.method, parsed.path, parsed.version) else {
        return Parsed::Reject(bare_error(400, "malformed request line"));
    };
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).trim().to_string()))
        .collect();
    let req = Request { method: method.to_string(), path: path.to_string(), headers, ..Request::default() };
    let ctx = ReplyCtx { cors: Cors::of(&req).unwrap_or(Cors::SameOrigin), gzip: false };
    let http10 = version == 0;
    let tokens = |name: &str| -> Vec<String> {
        req.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .collect()
    };
    let connection = tokens("connection");
    let keep_alive =
        if http10 { connection.iter().any(|t| t == "keep-alive") } else { !connection.iter().any(|t| t == "close") };
    if req.header("transfer-encoding").is_some() {
        return Parsed::Reject(ctx.error(411, "send the body with Content-Length (chunked bodies are not accepted)"));
    }
    let lengths: Vec<&str> =
        req.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.as_str()).collect();
    let body = match lengths.as_slice() {
        [] => Body::Empty,
        [one] => match content_length(one) {
            Some(0) => Body::Empty,
            Some(n) if n <= MAX_HTTP_BODY_BYTES as u64 => Body::Length(n as usize),
            Some(_) => Body::TooLarge,
            None => return Parsed::Reject(ctx.error(400, "invalid Content-Length")),
        },
        _ => return Parsed::Reject(ctx.error(400, "more than one Content-Length")),
    };
    let expects_continue = req.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let wants_ws = tokens("upgrade").iter().any(|t| t == "websocket") && connection.iter().any(|t| t == "upgrade");
    let ws_key = if wants_ws {
        if method != "GET" || http10 || body != Body::Empty {
            return Parsed::Reject(ctx.error(400, "a websocket upgrade is a GET without a body"));
        }
        if req.header("sec-websocket-version") != Some("13") {
            let mut resp = ctx.error(426, "websocket version 13 required");
            resp.headers.push(("Sec-WebSocket-Version", "13".to_string()));
            return Parsed::Reject(resp);
        }
        match req.header("sec-websocket-key") {
            Some(key) if super::ws::valid_key(key) => Some(key.to_string()),
            _ => return Parsed::Reject(ctx.error(400, "missing or invalid Sec-WebSocket-Key")),
        }
    } else {
        None
    };
    let head = Head { req, body, keep_alive, http10, expects_continue, ws_key };
    Parsed::Complete { head, len }
}

/// A `Content-Length` value: ASCII digits only (no sign, no spaces inside), any size up to
/// u64 (a larger claim is simply "too large", never an allocation).
fn content_length(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(v.parse::<u64>().unwrap_or(u64::MAX))
}

/// The CORS decision for a head too big to parse fully: its `Origin` (and `Host`) lines,
/// found by a bounded line scan, else `*`.
fn origin_of(head: &[u8]) -> Cors {
    let headers = head
        .split(|&b| b == b'\n')
        .skip(1)
        .filter_map(|line| {
            let line = std::str::from_utf8(line).ok()?;
            let (k, v) = line.split_once(':')?;
            let k = k.trim();
            (k.eq_ignore_ascii_case("origin") || k.eq_ignore_ascii_case("host"))
                .then(|| (k.to_string(), v.trim().to_string()))
        })
        .take(4)
        .collect();
    Cors::of(&Request { headers, ..Request::default() }).unwrap_or(Cors::SameOrigin)
}

/// An error answer for a request whose headers could not be read: CORS `*` (no origin to
/// echo), so a page can still read it.
pub(crate) fn bare_error(status: u16, msg: &str) -> Response {
    ReplyCtx { cors: Cors::SameOrigin, gzip: false }.error(status, msg)
}

/// An error answer for a request whose head was read.
pub(crate) fn error_for(req: &Request, status: u16, msg: &str) -> Response {
    ReplyCtx { cors: Cors::of(req).unwrap_or(Cors::SameOrigin), gzip: false }.error(status, msg)
}

/// The status line and headers of `resp`, with `Content-Length` and, when the connection
/// closes after it, `Connection: close` (for HTTP/1.0, `Connection: keep-alive` when kept).
pub(crate) fn serialize_head(resp: &Response, close: bool, http10: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let version = if http10 { "HTTP/1.0" } else { "HTTP/1.1" };
    out.extend_from_slice(format!("{version} {} {}\r\n", resp.status, reason(resp.status)).as_bytes());
    for (name, value) in &resp.headers {
        // Values are built by this crate (visible ASCII); a CR or LF would split the head.
        if value.bytes().any(|b| b == b'\r' || b == b'\n') {
            log::debug!("dropped invalid response header {name}");
            continue;
        }
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n", resp.body.len()).as_bytes());
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The `101 Switching Protocols` answer to a websocket upgrade (RFC 6455 §4.2.2).
pub(crate) fn switching_protocols(ws_key: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        super::ws::accept_key(ws_key)
    )
    .into_bytes()
}

/// RFC 9110 §15 reason phrases for the statuses this server sends.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "",
    }
}

#[cfg(test)]
#[path = "tests/head.rs"]
mod tests;
