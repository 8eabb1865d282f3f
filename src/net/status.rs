//! What the overlay runtime shows in `/status`: the figures gathered from the overlay, the
//! application, the bootstrap peer and the transport's slow-peer counters, and the count of
//! peers that spoke another protocol version. Read-only over the runtime's parts; no IO.

use super::bootstrap::Bootstrap;
use crate::app::App;
use crate::overlay::Overlay;

/// Connections dropped because the peer spoke another protocol version.
#[derive(Debug, Default)]
pub(super) struct OtherProtocol {
    /// How many (for `/status`).
    peers: u64,
    /// The version the last such peer spoke.
    last: Option<u8>,
}

impl OtherProtocol {
    /// A peer spoke another protocol version: its connection is dropped like any undecodable
    /// one (the formats differ), but this is an operator's problem, not an attack, so it is
    /// logged (once per version in a row) and shown in `/status` rather than left in the debug log.
    pub(super) fn note(&mut self, conn: crate::wire::ConnId, got: u8) {
        self.peers += 1;
        if self.last != Some(got) {
            log::warn!(
                "peer on {conn:?} speaks protocol {got}, we speak {}: upgrade one of them",
                crate::wire::PROTOCOL_VERSION
            );
        }
        self.last = Some(got);
    }
}

/// Figures for `/status`.
pub(super) fn network_info(
    overlay: &Overlay,
    app: &App,
    bootstrap: Option<&Bootstrap>,
    other: &OtherProtocol,
    net: super::NetStats,
    datagrams: crate::net::datagram::DatagramStats,
    datagram_links: u64,
) -> crate::http::NetworkInfo {
    let (following, leaves_filtering, leaf_followees) = overlay.interest_sizes();
    crate::http::NetworkInfo {
        role: match overlay.role() {
            crate::wire::Role::Core => "core",
            crate::wire::Role::Leaf => "leaf",
        },
        nodes_known: overlay.directory_len() as u64,
        delivery: overlay.delivery().as_str(),
        delivery_active: overlay.delivery_active().as_str(),
        directory: overlay.directory_mode().as_str(),
        directory_active: overlay.dir_level().as_str(),
        directory_estimate: (overlay.directory_mode() == crate::overlay::DirectoryMode::Auto
            && overlay.role() == crate::wire::Role::Core)
            .then(|| overlay.dir_estimate()),
        ring_known: overlay.dht().map_or(0, |d| d.table().known().len() as u64),
        ring_lookups: overlay.dht().map_or(0, |d| d.stats().lookups),
        ring_found: overlay.dht().map_or(0, |d| d.stats().found),
        following: following as u64,
        leaves_filtering: leaves_filtering as u64,
        leaf_followees: leaf_followees as u64,
        topics: overlay.tree_topics().map(|n| n as u64),
        tree_parents: overlay.tree_parents().map(|n| n as u64),
        topics_wanted: overlay.tree_wanted().map(|n| n as u64),
        auto_level: (overlay.role() == crate::wire::Role::Core
            && overlay.delivery() == crate::wire::DeliveryMode::Auto)
            .then(|| overlay.auto_level().0.as_str()),
        estimated_nodes: overlay.auto_level().1,
        sample: overlay.sample_state().map(|(subscribed, attached, share_bits, s)| crate::http::SampleInfo {
            subscribed,
            attached,
            share_bits,
            entered: s.entered,
            relayed: s.relayed,
            author_gap: s.author_gap,
            over_rate: s.over_rate,
            ineligible: s.ineligible,
        }),
        resend_waiting: app.resend().len() as u64,
        mailbox_envelopes: app.mailbox().len() as u64,
        mail_opened: app.stats().mail_opened,
        events_received: app.stats().stored,
        catchup_from_tree: app.stats().catchup_from_tree,
        catchup_from_author: app.stats().catchup_from_author,
        bootstrap: bootstrap.map(Bootstrap::info),
        dropped: {
            let o = overlay.stats();
            crate::http::DroppedInfo {
                invalid: o.invalid,
                rate_limited: o.rate_dropped,
                author_limited: o.author_dropped,
                admission_limited: o.inject_dropped,
                time_window: o.time_dropped,
                forged: o.forged,
                new_ids_limited: o.prefix_limited,
                gossip_limited: o.gossip_limited,
                interest_limited: o.interest_dropped,
                datagrams: datagrams.dropped,
            }
        },
        transport: crate::http::TransportInfo {
            protocol: crate::wire::PROTOCOL_VERSION,
            other_protocol_peers: other.peers,
            other_protocol: other.last,
            shed: net.shed,
            dropped_full: net.dropped_full,
            slow_disconnects: net.slow_disconnects,
            datagram_links,
            datagrams,
            datagram_send_failed: net.datagram_send_failed,
            stream_bytes_sent: net.bytes_out,
        },
    }
}
