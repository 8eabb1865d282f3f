//! Rendering answers: status, headers and body, with the original's JSON shapes, gzip when
//! the request accepts it, and the CORS headers every answer carries.
//!
//! Shapes kept byte for byte from the Go server (original spec §4.1, §4.5): JSON bodies are
//! indented with two spaces and have no trailing newline (`{\n  "Status": "SUCCESS"\n}`),
//! typed `application/json; charset=utf-8`; errors are `{"Error": "<message>"}`.
//! Every answer carries `Vary: Accept-Encoding` and, when the request accepts gzip and the
//! body is at least [`GZIP_MIN_BODY_BYTES`] long, a gzip body with `Content-Encoding: gzip`
//! — and only then (fix of the original's bug 8.1 #7, which labelled raw MessagePack as
//! gzip). Shorter bodies go uncompressed (the original gzip'd even `{"Status": "SUCCESS"}`
//! into a longer body); HTTP clients, the Flutter client's included, read both.
//! Nothing here can panic or fail: a gzip failure (impossible into a `Vec`) sends the body
//! uncompressed and unlabelled.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::cache::Encoded;
use super::cors::Cors;
use crate::limits::GZIP_MIN_BODY_BYTES;

/// Deflate level of gzip'd answers. Go's middleware used 6 (the default); 1 gives nearly the
/// same size on a timeline of posts (each event's keys, ids and signatures do not repeat
/// beyond what level 1 already finds) for much less CPU (figures in `benches/server.rs`).
const GZIP_LEVEL: u32 = 1;

/// `Content-Type` of JSON answers, as the original sends it.
pub const CONTENT_TYPE_JSON: &str = "application/json; charset=utf-8";

/// `Content-Type` of `/req` answers (MessagePack), as the original sends it.
pub const CONTENT_TYPE_MSGPACK: &str = "application/octet-stream";

/// One HTTP answer, ready for the transport. The transport adds `Content-Length` (or
/// chunking) and owns `Connection`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header lines, in order; names are fixed strings, values are visible ASCII.
    pub headers: Vec<(&'static str, String)>,
    /// The body exactly as sent (already gzip-compressed when `Content-Encoding: gzip` is set).
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// How every answer to one request is decorated: CORS headers and gzip. Decided once from
/// the request, before routing, so that errors carry the same headers as successes (a
/// browser can only read an error's JSON when the CORS headers are there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReplyCtx {
    /// Whether and how the request is cross-origin.
    pub cors: Cors,
    /// The request accepts a gzip-encoded body.
    pub gzip: bool,
}

impl ReplyCtx {
    /// `{"Error": msg}` with `status`.
    pub fn error(&self, status: u16, msg: &str) -> Response {
        // A rejection of client input: debug level (STYLE.md), never the event's content.
        log::debug!("http {status}: {msg}");
        self.render(status, CONTENT_TYPE_JSON, json_object("Error", msg).into_bytes(), Vec::new())
    }

    /// The original's success body `{\n  "Status": "SUCCESS"\n}`, 200.
    pub fn success(&self) -> Response {
        self.render(200, CONTENT_TYPE_JSON, json_object("Status", "SUCCESS").into_bytes(), Vec::new())
    }

    /// Any answer: the common headers, then `extra`; the body gzip'd when accepted and at
    /// least [`GZIP_MIN_BODY_BYTES`] long.
    pub fn render(
        &self,
        status: u16,
        content_type: &str,
        body: Vec<u8>,
        extra: Vec<(&'static str, String)>,
    ) -> Response {
        self.render_encoded(status, content_type, self.encode(body), extra)
    }

    /// The body as it will be sent to this request: gzip'd when accepted and worth it.
    pub fn encode(&self, body: Vec<u8>) -> Encoded {
        match (self.gzip && body.len() >= GZIP_MIN_BODY_BYTES).then(|| gzip(&body)).flatten() {
            Some(compressed) => Encoded { body: compressed, gzipped: true },
            None => Encoded { body, gzipped: false },
        }
    }

    /// [`ReplyCtx::render`] of a body already encoded (by [`ReplyCtx::encode`] or the cache).
    pub fn render_encoded(
        &self,
        status: u16,
        content_type: &str,
        body: Encoded,
        extra: Vec<(&'static str, String)>,
    ) -> Response {
        let mut headers = Vec::with_capacity(8 + extra.len());
        if !body.body.is_empty() {
            headers.push(("Content-Type", content_type.to_string()));
        }
        if body.gzipped {
            headers.push(("Content-Encoding", "gzip".to_string()));
        }
        self.cors.add_headers(&mut headers);
        headers.extend(extra);
        Response { status, headers, body: body.body }
    }
}

/// `{\n  "<key>": "<value>"\n}`: Go's `json.MarshalIndent(v, "", "  ")` of a one-field struct.
pub(crate) fn json_object(key: &str, value: &str) -> String {
    // `Value`'s Display escapes the string as JSON and cannot fail.
    format!("{{\n  \"{key}\": {}\n}}", serde_json::Value::String(value.to_string()))
}

/// gzip of `body` at [`GZIP_LEVEL`]. `None` only if the encoder fails, which writing into
/// a `Vec` does not.
fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 3 + 64), Compression::new(GZIP_LEVEL));
    enc.write_all(body).ok()?;
    enc.finish().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_are_indented_like_go() {
        assert_eq!(json_object("Status", "SUCCESS"), "{\n  \"Status\": \"SUCCESS\"\n}");
        assert_eq!(json_object("Error", "a \"b\"\n"), "{\n  \"Error\": \"a \\\"b\\\"\\n\"\n}");
    }

    #[test]
    fn gzip_only_when_accepted_and_worth_it() {
        let ctx = |gzip| ReplyCtx { cors: Cors::SameOrigin, gzip };
        let big = vec![b'a'; GZIP_MIN_BODY_BYTES];
        let plain = ctx(false).render(200, CONTENT_TYPE_JSON, big.clone(), vec![]);
        assert_eq!(plain.header("Content-Encoding"), None);
        assert_eq!(plain.body, big);
        let gz = ctx(true).render(200, CONTENT_TYPE_JSON, big.clone(), vec![]);
        assert_eq!(gz.header("Content-Encoding"), Some("gzip"));
        assert_eq!(&gz.body[..2], &[0x1f, 0x8b]);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz.body[..]), &mut out).expect("gzip");
        assert_eq!(out, big);
        // A tiny body goes as it is: gzip would only make it longer and cost a deflate state.
        let tiny = ctx(true).success();
        assert_eq!(tiny.header("Content-Encoding"), None);
        assert_eq!(tiny.body, b"{\n  \"Status\": \"SUCCESS\"\n}");
        let short = ctx(true).render(200, CONTENT_TYPE_JSON, big[1..].to_vec(), vec![]);
        assert_eq!(short.header("Content-Encoding"), None);
        let empty = ctx(true).render(200, CONTENT_TYPE_JSON, Vec::new(), vec![]);
        assert_eq!(empty.header("Content-Encoding"), None);
        assert_eq!(empty.header("Content-Type"), None);
    }
}
