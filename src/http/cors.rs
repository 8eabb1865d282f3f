//! CORS for the web build of the client (Fetch standard; original spec §4.1), and Private
//! Network Access (the client talks to a server on a LAN or Tailscale address).
//!
//! A request is cross-origin when it has an `Origin` that is neither `http://<Host>` nor
//! `https://<Host>` (the original's go-json-rest rule). Native apps send no `Origin`.
//!
//! Decisions (differences from the original, all more permissive for the client):
//! - Every answer, errors included, carries the CORS headers, so a browser can read errors.
//!   Cross-origin answers echo the origin with `Access-Control-Allow-Credentials: true`
//!   (works whether or not the browser sends credentials; `*` would not with credentials)
//!   and `Vary: Accept-Encoding, Origin`; same-origin and native answers get
//!   `Access-Control-Allow-Origin: *`, as the original's handlers set.
//! - `Access-Control-Allow-Private-Network: true` is on every answer **including preflights**
//!   (PNA requires it on the preflight; the original only set it on actual answers).
//! - A preflight accepts any syntactically valid requested header (the client itself sends
//!   `Access-Control-Request-Private-Network`, which the original's fixed list rejected) and
//!   echoes them in `Access-Control-Allow-Headers`; it is refused (403 `Invalid Preflight
//!   Request`) only for a method other than GET, POST or OPTIONS, a malformed header name,
//!   or more than [`MAX_HTTP_HEADERS`] requested headers.
//! - An `Origin` that is not visible ASCII is refused (403 `Invalid Origin`): it would be
//!   echoed into a response header.

use super::request::Request;
use super::response::Response;
use crate::limits::MAX_HTTP_HEADERS;

/// Headers the original always allows in a preflight (`S:api_server/api_server.go:410-419`).
const BASE_ALLOWED_HEADERS: [&str; 8] = [
    "Accept",
    "Accept-Encoding",
    "Content-Type",
    "Access-Control-Request-Headers",
    "Access-Control-Request-Method",
    "Origin",
    "Referer",
    "User-Agent",
];

/// Methods a preflight may ask for: the client's POST, and GET for `/status`.
const ALLOWED_METHODS: [&str; 3] = ["GET", "POST", "OPTIONS"];

/// How long a browser may cache a preflight answer, in seconds (the original's value).
const PREFLIGHT_MAX_AGE_S: u32 = 3600;

/// The request's `Origin` cannot be echoed into a header (not visible ASCII).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InvalidOrigin;

/// Whether a request is cross-origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cors {
    /// No `Origin`, or the server's own origin (native apps, curl, same-origin pages).
    SameOrigin,
    /// A page from this origin (visible ASCII, safe to echo).
    CrossOrigin(String),
}

impl Cors {
    /// Classifies `req`.
    ///
    /// # Errors
    /// [`InvalidOrigin`] when the `Origin` is not visible ASCII (the caller answers 403).
    pub fn of(req: &Request) -> Result<Cors, InvalidOrigin> {
        let Some(origin) = req.header("origin") else { return Ok(Cors::SameOrigin) };
        if origin.is_empty() {
            return Ok(Cors::SameOrigin);
        }
        if !origin.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidOrigin);
        }
        let own = req.header("host").is_some_and(|host| {
            ["http://", "https://"].iter().any(|scheme| {
                origin.len() == scheme.len() + host.len()
                    && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
                    && origin[scheme.len()..].eq_ignore_ascii_case(host)
            })
        });
        Ok(if own { Cors::SameOrigin } else { Cors::CrossOrigin(origin.to_string()) })
    }

    /// Adds the headers every answer carries (see the module doc).
    pub fn add_headers(&self, headers: &mut Vec<(&'static str, String)>) {
        match self {
            Cors::SameOrigin => {
                headers.push(("Vary", "Accept-Encoding".to_string()));
                headers.push(("Access-Control-Allow-Origin", "*".to_string()));
            }
            Cors::CrossOrigin(origin) => {
                headers.push(("Vary", "Accept-Encoding, Origin".to_string()));
                headers.push(("Access-Control-Allow-Origin", origin.clone()));
                headers.push(("Access-Control-Allow-Credentials", "true".to_string()));
            }
        }
        headers.push(("Access-Control-Allow-Private-Network", "true".to_string()));
    }
}

/// What a preflight asks for, when `req` is one: `OPTIONS` from another origin with
/// `Access-Control-Request-Method`.
pub(crate) fn is_preflight(req: &Request, cors: &Cors) -> bool {
    req.method == "OPTIONS"
        && matches!(cors, Cors::CrossOrigin(_))
        && req.header("access-control-request-method").is_some()
}

/// Answers a preflight: 200 with an empty body, or 403 `Invalid Preflight Request`.
pub(crate) fn preflight(req: &Request, ctx: &super::response::ReplyCtx) -> Response {
    const INVALID: &str = "Invalid Preflight Request";
    let method = req.header("access-control-request-method").unwrap_or("");
    if !ALLOWED_METHODS.contains(&method) {
        return ctx.error(403, INVALID);
    }
    let mut allowed: Vec<String> = BASE_ALLOWED_HEADERS.iter().map(|h| h.to_string()).collect();
    let requested = req
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("access-control-request-headers"))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty());
    for (i, name) in requested.enumerate() {
        if i >= MAX_HTTP_HEADERS || !is_token(name) {
            return ctx.error(403, INVALID);
        }
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(name)) {
            allowed.push(name.to_string());
        }
    }
    let extra = vec![
        ("Access-Control-Allow-Methods", ALLOWED_METHODS.join(",")),
        ("Access-Control-Allow-Headers", allowed.join(",")),
        ("Access-Control-Max-Age", PREFLIGHT_MAX_AGE_S.to_string()),
    ];
    ctx.render(200, "", Vec::new(), extra)
}

/// An RFC 9110 §5.6.2 token: what a header name must be.
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
