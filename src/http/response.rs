//! Rendering answers: status, headers and body, with the original's JSON shapes, gzip when
//! the request accepts it, and the CORS headers every answer carries.
//!
//! Shapes kept byte for byte from the Go server (original spec §4.1, §4.5): JSON bodies are
//! indented with two spaces and have no trailing newline (`{\n  "Status": "SUCCESS"\n}`),
//! typed `application/json; charset=utf-8`; errors are `{"Error": "<message>"}`.
//! Every answer carries `Vary: Accept-Encoding` and, when the request accepts gzip and the
//! body is not empty, a gzip body with `Content-Encoding: gzip` — and only then (fix of
//! the original's bug 8.1 #7, which labelled raw MessagePack as gzip).
//! Nothing here can panic or fail: a gzip failure (impossible into a `Vec`) sends the body
//! uncompressed and unlabelled.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::cors::Cors;

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

    /// Any answer: the common headers, then `extra`; the body gzip'd when accepted.
    pub fn render(
        &self,
        status: u16,
        content_type: &str,
        body: Vec<u8>,
        extra: Vec<(&'static str, String)>,
    ) -> Response {
        let mut headers = Vec::with_capacity(8 + extra.len());
        if !body.is_empty() {
            headers.push(("Content-Type", content_type.to_string()));
        }
        let body = match (self.gzip && !body.is_empty()).then(|| gzip(&body)).flatten() {
            Some(compressed) => {
                headers.push(("Content-Encoding", "gzip".to_string()));
                compressed
            }
            None => body,
        };
        self.cors.add_headers(&mut headers);
        headers.extend(extra);
        Response { status, headers, body }
    }
}

/// `{\n  "<key>": "<value>"\n}`: Go's `json.MarshalIndent(v, "", "  ")` of a one-field struct.
pub(crate) fn json_object(key: &str, value: &str) -> String {
    // `Value`'s Display escapes the string as JSON and cannot fail.
    format!("{{\n  \"{key}\": {}\n}}", serde_json::Value::String(value.to_string()))
}

/// gzip of `body` at the default level (what Go's gzip middleware uses). `None` only if
/// the encoder fails, which writing into a `Vec` does not.
fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 3 + 64), Compression::default());
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
    fn gzip_only_when_accepted_and_not_empty() {
        let plain = ReplyCtx { cors: Cors::SameOrigin, gzip: false }.success();
        assert_eq!(plain.header("Content-Encoding"), None);
        let gz = ReplyCtx { cors: Cors::SameOrigin, gzip: true }.success();
        assert_eq!(gz.header("Content-Encoding"), Some("gzip"));
        assert_eq!(&gz.body[..2], &[0x1f, 0x8b]);
        let empty = ReplyCtx { cors: Cors::SameOrigin, gzip: true }.render(200, CONTENT_TYPE_JSON, Vec::new(), vec![]);
        assert_eq!(empty.header("Content-Encoding"), None);
        assert_eq!(empty.header("Content-Type"), None);
    }
}
