//! `GET /status`: a small JSON page for humans and monitors (not in the original).
//!
//! Shows what the node is, who it serves and how full its store is; never secrets or event
//! content. Keys are sorted (serde_json's map order); new fields may be added, none removed.

use serde_json::{json, Value};

use super::{HttpConfig, NodeInfo};
use crate::query::StoreStats;
use crate::time::UnixTime;

/// The `/status` body, pretty-printed like every JSON answer (two-space indent).
pub(crate) fn render(cfg: &HttpConfig, info: &NodeInfo, stats: StoreStats, now: UnixTime) -> Vec<u8> {
    let mut value = json!({
        "version": cfg.version,
        "owner_npub": cfg.owner.to_npub(),
        "owner_hex": cfg.owner.to_hex(),
        "node_id": cfg.owner.node_id().to_string(),
        "uptime_s": info.uptime.as_secs(),
        "now": now.0,
        "writable": cfg.writable,
        "accept_any_author": cfg.accept_any_author,
        "listen": info.listen,
        "http_listen": info.http_listen,
        "data_dir": info.data_dir,
        "peers": info.peers,
        "network": info.network.map(|n| json!({
            "role": n.role,
            "nodes_known": n.nodes_known,
            "delivery": { "setting": n.delivery, "active": n.delivery_active, "following": n.following, "leaves_filtering": n.leaves_filtering, "leaf_followees": n.leaf_followees, "topics": n.topics, "topics_attached": n.tree_parents, "topics_wanted": n.topics_wanted, "catchup_from_tree": n.catchup_from_tree, "catchup_from_author": n.catchup_from_author },
            "directory": { "setting": n.directory, "active": n.directory_active, "estimated_nodes": n.directory_estimate, "ring_known": n.ring_known, "ring_lookups": n.ring_lookups, "ring_found": n.ring_found },
            "resend_waiting": n.resend_waiting,
            "mailbox_envelopes": n.mailbox_envelopes,
            "mail_opened": n.mail_opened,
            "events_received": n.events_received,
            "dropped": {
                "invalid": n.dropped.invalid,
                "rate_limited": n.dropped.rate_limited,
                "author_limited": n.dropped.author_limited,
                "admission_limited": n.dropped.admission_limited,
                "time_window": n.dropped.time_window,
                "forged": n.dropped.forged,
                "new_ids_limited": n.dropped.new_ids_limited,
                "gossip_limited": n.dropped.gossip_limited,
                "datagrams": n.dropped.datagrams,
                "interest_limited": n.dropped.interest_limited,
            },
            "transport": transport(&n.transport),
        })),
        "bootstrap": info.network.and_then(|n| n.bootstrap).map(|b| json!({
            "addr": b.addr.map(|a| a.to_string()),
            "state": match b.cause {
                Some(cause) => format!("{}: {cause}", b.state),
                None => b.state.to_owned(),
            },
            "attempts": b.attempts,
        })),
        "store": {
            "events": stats.events,
            "bytes": stats.bytes,
            "budget_bytes": stats.budget_bytes,
            "evicted": stats.evicted,
            "pinned": stats.pinned,
            "segments": stats.segments,
            "disk_bytes": stats.disk_bytes,
        },
    });
    // Added outside `json!` (the macro's recursion limit is reached by the literal above).
    if let Some(n) = info.network {
        value["network"]["transport"]["stream_bytes_sent"] = json!(n.transport.stream_bytes_sent);
        value["network"]["delivery"]["auto_level"] = json!(n.auto_level);
        value["network"]["delivery"]["estimated_nodes"] = json!(n.estimated_nodes);
        value["network"]["delivery"]["sample"] = json!(n.sample.map(|s| json!({
            "subscribed": s.subscribed,
            "attached": s.attached,
            "share_bits": s.share_bits,
            "entered": s.entered,
            "relayed": s.relayed,
            "author_gap": s.author_gap,
            "over_rate": s.over_rate,
            "ineligible": s.ineligible,
        })));
    }
    pretty(&value).into_bytes()
}

/// `Value`'s alternate Display is serde_json's pretty printer (two spaces) and cannot fail.
fn pretty(v: &Value) -> String {
    format!("{v:#}")
}

/// `network.transport`: its own `json!` so that the `/status` literal stays within the
/// macro's recursion limit.
fn transport(t: &crate::http::TransportInfo) -> Value {
    json!({
        "protocol": t.protocol,
        "other_protocol_peers": t.other_protocol_peers,
        "other_protocol": t.other_protocol,
        "shed": t.shed,
        "dropped_full": t.dropped_full,
        "slow_disconnects": t.slow_disconnects,
        "datagram_links": t.datagram_links,
        "datagrams_sent": t.datagrams.sent,
        "datagram_bytes_sent": t.datagrams.sent_bytes,
        "datagrams_received": t.datagrams.received,
        "datagram_bytes_received": t.datagrams.received_bytes,
        "datagrams_lost": t.datagrams.lost,
        "datagrams_resent": t.datagrams.resent,
        "datagram_fallbacks": t.datagrams.fallbacks,
        "datagram_retries": t.datagrams.retries,
        "datagram_tail_probes": t.datagrams.tail_probes,
        "datagram_tail_rides": t.datagrams.tail_rides,
        "datagrams_by_kind": datagram_kinds(&t.datagrams),
        "datagram_send_failed": t.datagram_send_failed,
    })
}

/// What the datagrams sent carried (`network.transport.datagrams_by_kind`).
fn datagram_kinds(d: &crate::net::datagram::DatagramStats) -> serde_json::Value {
    json!({
        "payload": d.payload_datagrams,
        "ihave_only": d.ihave_datagrams,
        "tail_probes": d.tail_probes,
        "path_probes": d.path_probes,
        "ihave_frames": d.ihave_frames,
    })
}
