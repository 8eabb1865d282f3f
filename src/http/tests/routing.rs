//! Paths, methods, CORS (preflights and real requests), `/status`, the busy answer, and
//! the promise that no input produces a 5xx.

use super::*;

const WEB_ORIGIN: &str = "http://localhost:8080";

fn preflight(requested_headers: &str, method: &str) -> Request {
    let mut headers = vec![
        ("Host".to_string(), "192.168.1.10:20001".to_string()),
        ("Origin".to_string(), WEB_ORIGIN.to_string()),
        ("Access-Control-Request-Method".to_string(), method.to_string()),
        ("Access-Control-Request-Private-Network".to_string(), "true".to_string()),
    ];
    if !requested_headers.is_empty() {
        headers.push(("Access-Control-Request-Headers".to_string(), requested_headers.to_string()));
    }
    Request { method: "OPTIONS".into(), path: "/req".into(), headers, ..Request::default() }
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405() {
    let store = FakeStore::default();
    let resp = reply(route_with(&post("/nope", "{}"), &store, &cfg()));
    assert_eq!(resp.status, 404);
    assert_eq!(resp.body, b"{\n  \"Error\": \"Resource not found\"\n}");
    assert_eq!(error_of(route_with(&post("/publish/", "{}"), &store, &cfg())).0, 404);
    let mut get_req = post("/req", "");
    get_req.method = "GET".into();
    let resp = reply(route_with(&get_req, &store, &cfg()));
    assert_eq!(resp.status, 405);
    assert_eq!(resp.header("Allow"), Some("POST, OPTIONS"));
    assert_eq!(error_of(route_with(&get_req, &store, &cfg())), (405, "Method not allowed".into()));
    assert_eq!(error_of(route_with(&post("/status", ""), &store, &cfg())).0, 405);
    // A non-preflight OPTIONS goes to the router, like the original.
    let mut options = post("/publish", "");
    options.method = "OPTIONS".into();
    assert_eq!(error_of(route_with(&options, &store, &cfg())).0, 405);
}

#[test]
fn the_query_string_is_ignored() {
    let resp = reply(route_with(&post("/req?t=1", "{}"), &FakeStore::default(), &cfg()));
    assert_eq!((resp.status, resp.body), (200, unhex("81a44576747390")));
}

#[test]
fn preflight_accepts_the_clients_headers_and_any_other() {
    let requested = "content-type,access-control-request-private-network,X-Custom";
    let resp = reply(route_with(&preflight(requested, "POST"), &FakeStore::default(), &cfg()));
    assert_eq!(resp.status, 200);
    assert!(resp.body.is_empty());
    assert_eq!(resp.header("Access-Control-Allow-Origin"), Some(WEB_ORIGIN));
    assert_eq!(resp.header("Access-Control-Allow-Credentials"), Some("true"));
    assert_eq!(resp.header("Access-Control-Allow-Methods"), Some("GET,POST,OPTIONS"));
    assert_eq!(resp.header("Access-Control-Max-Age"), Some("3600"));
    assert_eq!(resp.header("Access-Control-Allow-Private-Network"), Some("true"));
    assert_eq!(resp.header("Content-Encoding"), None);
    assert_eq!(
        resp.header("Access-Control-Allow-Headers"),
        Some(
            "Accept,Accept-Encoding,Content-Type,Access-Control-Request-Headers,Access-Control-Request-Method,\
             Origin,Referer,User-Agent,access-control-request-private-network,X-Custom"
        )
    );
    let plain = reply(route_with(&preflight("", "GET"), &FakeStore::default(), &cfg()));
    assert_eq!(plain.status, 200);
}

#[test]
fn preflight_refuses_other_methods_and_malformed_headers() {
    let store = FakeStore::default();
    let forbidden = (403, "Invalid Preflight Request".to_string());
    assert_eq!(error_of(route_with(&preflight("", "DELETE"), &store, &cfg())), forbidden);
    assert_eq!(error_of(route_with(&preflight("content-type, bad header", "POST"), &store, &cfg())), forbidden);
    let many = vec!["x-h"; crate::limits::MAX_HTTP_HEADERS + 1].join(",");
    assert_eq!(error_of(route_with(&preflight(&many, "POST"), &store, &cfg())), forbidden);
    let resp = reply(route_with(&preflight("", "PUT"), &store, &cfg()));
    assert_eq!(resp.header("Access-Control-Allow-Origin"), Some(WEB_ORIGIN), "the browser can read the refusal");
    let mut elsewhere = preflight("", "POST");
    elsewhere.path = "/other".into();
    assert_eq!(error_of(route_with(&elsewhere, &store, &cfg())).0, 404);
}

#[test]
fn real_cross_origin_requests_get_cors_headers_even_on_errors() {
    let store = fake_store([event("E1")]);
    let req = with_header(post("/req", r#"{"kinds":[40000],"since":-1,"until":-1,"limit":300}"#), "Origin", WEB_ORIGIN);
    let resp = reply(route_with(&req, &store, &cfg()));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Access-Control-Allow-Origin"), Some(WEB_ORIGIN));
    assert_eq!(resp.header("Access-Control-Allow-Credentials"), Some("true"));
    assert_eq!(resp.header("Access-Control-Allow-Private-Network"), Some("true"));
    assert_eq!(resp.header("Vary"), Some("Accept-Encoding, Origin"));
    let err = reply(route_with(&with_header(post("/publish", fixture("E9")), "Origin", WEB_ORIGIN), &store, &cfg()));
    assert_eq!(err.status, 400);
    assert_eq!(err.header("Access-Control-Allow-Origin"), Some(WEB_ORIGIN));

    let same = with_header(post("/req", "{}"), "Origin", "http://192.168.1.10:20001");
    let resp = reply(route_with(&same, &store, &cfg()));
    assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(resp.header("Access-Control-Allow-Credentials"), None);

    let bad_origin = with_header(post("/req", "{}"), "Origin", "http://a b");
    assert_eq!(error_of(route_with(&bad_origin, &store, &cfg())), (403, "Invalid Origin".into()));
}

#[test]
fn status_shows_version_owner_uptime_and_store() {
    let mut req = post("/status", "");
    req.method = "GET".into();
    let info = NodeInfo {
        uptime: std::time::Duration::from_secs(90),
        http_listen: Some("127.0.0.1:20001".into()),
        ..NodeInfo::default()
    };
    let resp = reply(route(&req, &fake_store([]), &cfg(), &info, NOW, &mut ReqCache::new()));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Content-Type"), Some(CONTENT_TYPE_JSON));
    assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
    let text = String::from_utf8(resp.body).expect("utf8");
    assert!(text.starts_with("{\n  \""), "indented: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(v["version"], "test-version");
    assert_eq!(v["owner_hex"], A_HEX);
    assert_eq!(v["owner_npub"], "npub1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmus6gq266");
    assert_eq!(v["node_id"], "8601f113bce036f9");
    assert_eq!(v["uptime_s"], 90);
    assert_eq!(v["now"], NOW.0);
    assert_eq!(v["writable"], true);
    assert_eq!(v["http_listen"], "127.0.0.1:20001");
    assert!(v["peers"].is_null());
    let s = &v["store"];
    assert_eq!(
        (s["events"].as_u64(), s["bytes"].as_u64(), s["budget_bytes"].as_u64()),
        (Some(3), Some(1234), Some(33_554_432))
    );
    assert_eq!((s["evicted"].as_u64(), s["pinned"].as_u64()), (Some(5), Some(2)));
    assert_eq!((s["segments"].as_u64(), s["disk_bytes"].as_u64()), (Some(1), Some(4096)));
}

#[test]
fn busy_answer_is_a_503_with_cors() {
    let req = with_header(post("/req", "{}"), "Origin", WEB_ORIGIN);
    let resp = too_busy(&req);
    assert_eq!(resp.status, 503);
    assert_eq!(resp.header("Retry-After"), Some("1"));
    assert_eq!(resp.header("Access-Control-Allow-Origin"), Some(WEB_ORIGIN));
    assert_eq!(resp.body, b"{\n  \"Error\": \"server busy, try again\"\n}");
}

/// Nothing a client can send yields a 5xx (the original answered many with a 500 and a
/// stack trace).
#[test]
fn no_input_produces_a_server_error() {
    let store = fake_store(["E1", "E4", "E8"].map(event));
    let e1 = fixture("E1");
    let bodies = [
        "",
        " ",
        "{",
        "[]",
        "null",
        "1",
        "\"x\"",
        "{}",
        "{\"kinds\":[1]}",
        "{\"kinds\":[0]}",
        "{\"kinds\":[3]}",
        "{\"kinds\":[1],\"ids\":[\"\"],\"authors\":[\"\"]}",
        "{\"kinds\":[40000],\"limit\":-9223372036854775808}",
        "{\"kinds\":[40000],\"since\":9223372036854775807,\"until\":-9223372036854775808}",
        "{\"kinds\":[40000],\"since\":1e300,\"limit\":1e300}",
        "{\"kind\":99999}",
        "\u{0}\u{1}",
    ];
    let mangled = [
        e1.replace("\"tags\":[]", "\"tags\":[[]]"),
        e1.replace("\"tags\":[]", "\"tags\":\"x\""),
        e1.replace("\"kind\":1", "\"kind\":-1"),
        e1.replace("\"created_at\":1717000000", "\"created_at\":18446744073709551615"),
        e1.replace("\"content\":\"hello nostrp2p\"", "\"content\":null"),
        e1.replace(E1_ID, ""),
    ];
    let configs = [cfg(), HttpConfig { accept_any_author: true, ..cfg() }, HttpConfig { writable: false, ..cfg() }];
    for path in ["/publish", "/req", "/status", "/", ""] {
        for body in bodies.iter().copied().chain(mangled.iter().map(String::as_str)) {
            for method in ["POST", "GET", "OPTIONS", "post"] {
                for c in &configs {
                    let mut req = post(path, body);
                    req.method = method.into();
                    let status = match route_with(&req, &store, c) {
                        Routed::Reply(resp) | Routed::ReplyAndFetch { reply: resp, .. } => resp.status,
                        Routed::Publish { .. } => 200,
                    };
                    assert!(status < 500, "{method} {path} {body:?} → {status}");
                }
            }
        }
    }
}
