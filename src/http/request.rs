//! The HTTP request as the pure layer sees it: method, path, headers and a bounded body.
//!
//! The front (`front.rs`, with `head.rs`) fills a [`Request`]; nothing here does IO. Header
//! names compare case-insensitively (RFC 9110 §5.1); the body is never longer than
//! [`crate::limits::MAX_HTTP_BODY_BYTES`]: the front sets
//! [`Request::body_too_large`] instead of keeping a longer body.

/// One HTTP request, already read by the transport.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Method as sent (`POST`, `GET`, `OPTIONS`, …); compared case-sensitively (RFC 9110 §9.1).
    pub method: String,
    /// Request target; may include `?query`, which routing ignores.
    pub path: String,
    /// Header lines in arrival order (names in any case).
    pub headers: Vec<(String, String)>,
    /// The body; empty when [`Request::body_too_large`] is set.
    pub body: Vec<u8>,
    /// The body was longer than [`crate::limits::MAX_HTTP_BODY_BYTES`] and was not kept.
    pub body_too_large: bool,
}

impl Request {
    /// The value of the first header named `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
    }

    /// The path without its query string: what routing looks at.
    pub fn route_path(&self) -> &str {
        self.path.split_once('?').map_or(self.path.as_str(), |(p, _)| p)
    }

    /// Whether the client accepts a gzip-encoded answer: some `Accept-Encoding` entry is
    /// `gzip` (or the legacy `x-gzip`) with a quality other than 0 (RFC 9110 §12.5.3). The
    /// original only did a substring test; `gzip;q=0` now means "no".
    pub fn accepts_gzip(&self) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("accept-encoding"))
            .flat_map(|(_, v)| v.split(','))
            .any(|entry| {
                let mut parts = entry.split(';');
                let coding = parts.next().unwrap_or("").trim();
                let named = coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip");
                named && !parts.any(is_zero_quality)
            })
    }

    /// Whether the client asks for a NIP-11 relay information document (`Accept` lists
    /// `application/nostr+json`).
    pub fn accepts_nostr_json(&self) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("accept"))
            .flat_map(|(_, v)| v.split(','))
            .any(|entry| entry.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/nostr+json"))
    }

    /// Whether the declared `Content-Type` is JSON in UTF-8, as the original's
    /// `ContentTypeChecker` demands of every request with a body: media type
    /// `application/json`, and a `charset` parameter, if any, of `UTF-8` (any case).
    pub(crate) fn has_json_content_type(&self) -> bool {
        let Some(ct) = self.header("content-type") else { return false };
        let mut parts = ct.split(';');
        let media = parts.next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("application/json") {
            return false;
        }
        parts.all(|param| match param.split_once('=') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
                value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        })
    }
}

/// `q=0`, `q=0.0`, `q=0.000` (RFC 9110 §12.4.2): "not acceptable".
fn is_zero_quality(param: &str) -> bool {
    match param.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("q") => {
            let v = value.trim();
            v.strip_prefix('0')
                .is_some_and(|rest| rest.is_empty() || rest.trim_start_matches('.').bytes().all(|b| b == b'0'))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(headers: &[(&str, &str)]) -> Request {
        Request {
            method: "POST".into(),
            path: "/req?x=1".into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Request::default()
        }
    }

    #[test]
    fn gzip_acceptance_follows_the_header() {
        assert!(with(&[("Accept-Encoding", "gzip, deflate")]).accepts_gzip());
        assert!(with(&[("accept-encoding", "deflate, GZIP;q=0.5")]).accepts_gzip());
        assert!(with(&[("Accept-Encoding", "x-gzip")]).accepts_gzip());
        assert!(!with(&[("Accept-Encoding", "gzip;q=0")]).accepts_gzip());
        assert!(!with(&[("Accept-Encoding", "gzip; q=0.00")]).accepts_gzip());
        assert!(!with(&[("Accept-Encoding", "deflate, br")]).accepts_gzip());
        assert!(!with(&[]).accepts_gzip());
    }

    #[test]
    fn content_type_must_be_json_in_utf8() {
        assert!(with(&[("Content-Type", "application/json")]).has_json_content_type());
        assert!(with(&[("content-type", "Application/JSON; charset=\"utf-8\"")]).has_json_content_type());
        assert!(!with(&[("Content-Type", "application/json; charset=latin1")]).has_json_content_type());
        assert!(!with(&[("Content-Type", "text/plain")]).has_json_content_type());
        assert!(!with(&[]).has_json_content_type());
    }

    #[test]
    fn routing_ignores_the_query() {
        assert_eq!(with(&[]).route_path(), "/req");
        assert_eq!(with(&[("X", " padded ")]).header("x"), Some("padded"));
    }
}
