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
    let value = json!({
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
            "delivery": { "setting": n.delivery, "active": n.delivery_active, "following": n.following, "leaves_filtering": n.leaves_filtering, "leaf_followees": n.leaf_followees, "topics": n.topics, "topics_attached": n.tree_parents, "topics_wanted": n.topics_wanted },
            "directory": { "setting": n.directory, "ring_known": n.ring_known, "ring_lookups": n.ring_lookups, "ring_found": n.ring_found },
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
            "transport": {
                "protocol": n.transport.protocol,
                "other_protocol_peers": n.transport.other_protocol_peers,
                "other_protocol": n.transport.other_protocol,
                "shed": n.transport.shed,
                "dropped_full": n.transport.dropped_full,
                "slow_disconnects": n.transport.slow_disconnects,
                "datagram_links": n.transport.datagram_links,
                "datagrams_sent": n.transport.datagrams.sent,
                "datagram_bytes_sent": n.transport.datagrams.sent_bytes,
                "datagrams_received": n.transport.datagrams.received,
                "datagram_bytes_received": n.transport.datagrams.received_bytes,
                "datagrams_lost": n.transport.datagrams.lost,
                "datagrams_resent": n.transport.datagrams.resent,
                "datagram_fallbacks": n.transport.datagrams.fallbacks,
                "datagram_retries": n.transport.datagrams.retries,
                "datagram_tail_probes": n.transport.datagrams.tail_probes,
                "datagram_send_failed": n.transport.datagram_send_failed,
            },
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
    pretty(&value).into_bytes()
}

/// `Value`'s alternate Display is serde_json's pretty printer (two spaces) and cannot fail.
fn pretty(v: &Value) -> String {
    format!("{v:#}")
}
