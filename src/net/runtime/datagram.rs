//! The datagram path's hooks in the runtime (issue 11): offering links, probes, datagrams in
//! and out, loss repair by TCP. The pure part (sealing, windows, rings) is `net::datagram`.

use std::net::{SocketAddr, UdpSocket};

use crate::reactor::Async;

use super::{to_socket, OverlayRuntime};
use crate::net::datagram::{self, Links};
use crate::net::state::random_bytes;
use crate::overlay::Input;
use crate::wire::{ConnId, Key32, Msg};

/// The runtime's datagram state.
#[derive(Default)]
pub(super) struct Datagrams {
    /// Datagram links of core↔core connections (`net::datagram`).
    pub(super) links: Links,
    /// Frames waiting to leave by datagram at the end of this drain, per connection (at most
    /// `datagram::MAX_FRAMES_BYTES` each).
    out: std::collections::BTreeMap<ConnId, Queued>,
    /// Our UDP port, if the socket could be bound.
    port: Option<u16>,
    /// Test hook (debug builds only, `NOSTRP2P_TEST_DROP_DATAGRAMS=N`): every Nth payload
    /// datagram is dropped instead of sent, to test loss repair between real servers. 0: off.
    drop_every: u32,
    drop_count: u32,
}

/// Frames queued for one peer's next datagram, and what they are (for the counters).
#[derive(Default)]
pub(super) struct Queued {
    frames: Vec<u8>,
    /// An event's eager copy is among them.
    gossip: bool,
    /// IHAVE frames among them.
    ihaves: u64,
}

impl Datagrams {
    /// Bind the overlay's UDP socket on the TCP listener's address (one port number for a
    /// firewall); without it (port taken, no UDP) every frame goes by TCP as before.
    pub(super) fn bind(local: SocketAddr, net: &mut super::Net<'_>) -> Datagrams {
        let port = match Async::<UdpSocket>::bind(local) {
            Ok(sock) => {
                net.listen_udp(sock);
                Some(local.port())
            }
            Err(e) => {
                log::warn!("no datagram path: cannot bind udp {local}: {e}");
                None
            }
        };
        Datagrams { port, drop_every: test_drop_every(), ..Datagrams::default() }
    }
}

impl OverlayRuntime<'_> {
    /// After a wake: offer links on connections that became eligible (the role is often
    /// decided on a timer, after the handshakes), and send what is queued.
    pub(super) fn datagram_wake(&mut self) {
        if self.dg.port.is_some() && self.overlay.role() == crate::wire::Role::Core && !self.overlay.is_deciding() {
            for conn in self.net.conn_ids() {
                self.maybe_offer(conn);
            }
            self.flush_datagrams();
        }
        // Tail probes and fallback retries (`datagram::TAIL_PROBE_MS`, `FALLBACK_RETRY_MS`).
        for (to, probe) in self.dg.links.tick(self.clock.mono) {
            self.net.send_datagram(to, &probe);
        }
    }

    /// The peer asks for datagrams it lost: re-sent by TCP, only what we sent this peer, each
    /// once (no amplification).
    pub(super) fn on_link_resend(&mut self, conn: ConnId, seqs: &[u32]) {
        for frames in self.dg.links.resend(conn, seqs) {
            for msg in datagram::decode_frames(&frames).unwrap_or_default() {
                let _ = self.net.send(conn, &msg);
            }
        }
    }

    /// The peer's last datagram sequence number (`Msg::LinkSent`, riding on its idle Ping or
    /// Pong): if datagrams before it never came, ask for them by TCP as for a gap.
    pub(super) fn on_link_sent(&mut self, conn: ConnId, seq: u32) {
        if let Some(seqs) = self.dg.links.on_sent(conn, seq) {
            log::debug!("datagram link {conn:?}: the peer's last {} datagram(s) never came: asking by TCP", seqs.len());
            let _ = self.net.send(conn, &Msg::LinkResend(seqs));
        }
    }

    /// A frame is about to leave for `conn` by TCP: an armed tail goes with it (`Msg::LinkSent`
    /// queued first, so the writer puts both in one segment) instead of a probe datagram later
    /// (`datagram::TAIL_QUIET_MS`).
    pub(super) fn ride_tail(&mut self, conn: ConnId) {
        if let Some(seq) = self.dg.links.tail_ride(conn) {
            if self.net.send(conn, &Msg::LinkSent(seq)) != super::SendOutcome::Full {
                log::debug!("datagram link {conn:?}: tail {seq} rides on a TCP frame");
                self.dg.links.rode(conn);
            }
        }
    }

    /// `msg` for `conn` leaves by datagram if it may and the link works; `false`: send by TCP.
    pub(super) fn try_datagram(&mut self, conn: ConnId, msg: &Msg) -> bool {
        datagram::allowed(msg) && self.dg.links.usable(conn) && self.queue_datagram(conn, msg)
    }

    /// Offer a datagram link on `conn` once it is authenticated and this node is core (once;
    /// checked on every frame, since the role is decided after the first handshakes). A leaf
    /// (behind NAT) never offers, so a link only forms between two core nodes: a datagram goes
    /// only to a peer that offered one.
    pub(super) fn maybe_offer(&mut self, conn: ConnId) {
        let Some(port) = self.dg.port else { return };
        if self.dg.links.offered(conn)
            || self.overlay.role() != crate::wire::Role::Core
            || self.overlay.is_deciding()
            || self.overlay.up_peer_role(conn).is_none()
            || self.overlay.up_peer_features(conn) & crate::wire::FEATURE_DATAGRAM == 0
        {
            return;
        }
        let (Ok(t), Ok(key)) = (random_bytes::<8>(), random_bytes::<32>()) else { return };
        let token = u64::from_be_bytes(t);
        if self.dg.links.offer(conn, token, key) {
            if self.overlay.up_peer_features(conn) & crate::wire::FEATURE_LINK_SENT != 0 {
                self.dg.links.ride_tails(conn);
            }
            let _ = self.net.send(conn, &Msg::Link { port, token, key: Key32(key) });
            if let Some((to, probe)) = self.dg.links.early_probe(conn) {
                self.net.send_datagram(to, &probe);
            }
        }
    }

    /// The peer's datagram offer: datagrams to it go to its TCP address's IP and this port.
    /// One probe proves the path to it (sent now, not in answer to a datagram: a datagram is
    /// never answered with a datagram, so the path cannot reflect or amplify).
    pub(super) fn on_link(&mut self, conn: ConnId, port: u16, token: u64, key: [u8; 32]) {
        // The advertised listen IP (a node dialling out may use another source address, e.g.
        // 127.0.0.1 on loopback), else the connection's remote IP.
        let ip = match self.overlay.up_peer_listen(conn) {
            Some(a) => to_socket(a).ip(),
            None => match self.net.peer_addr(conn) {
                Some(p) => p.ip(),
                None => return,
            },
        };
        if port == 0 || ip.is_unspecified() {
            return;
        }
        let to = SocketAddr::new(ip, port);
        if let Some((to, probe)) = self.dg.links.accept(conn, to, token, key) {
            log::debug!("datagram link offered on {conn:?}: probing {to}");
            self.net.send_datagram(to, &probe);
        }
    }

    /// A datagram: checked by `Links::open`, then its frames go to the overlay exactly as if
    /// they had come on that connection's TCP stream. Anything wrong is counted and dropped.
    pub(super) fn on_datagram(&mut self, d: &[u8], from: SocketAddr) {
        let (conn, frames) = match self.dg.links.open(d) {
            Ok(x) => x,
            Err(e) => return log::debug!("datagram from {from} dropped: {e:?}"),
        };
        if let Some((to, probe)) = self.dg.links.learn(conn, from) {
            log::debug!("datagram link {conn:?}: the peer is at {from}, probing it there");
            self.net.send_datagram(to, &probe);
        }
        if let Some(c) = self.dg.links.take_confirm() {
            // Our peer's datagrams reach us: it may send its payloads this way now.
            let _ = self.net.send(c, &Msg::LinkResend(Vec::new()));
        }
        if let Some((c, seqs)) = self.dg.links.take_asks() {
            log::debug!("datagram link {c:?}: asking for {} lost datagram(s) by TCP", seqs.len());
            let _ = self.net.send(c, &Msg::LinkResend(seqs));
        }
        match datagram::decode_frames(frames) {
            Ok(msgs) => {
                log::trace!("datagram from {from} on {conn:?}: {} frames", msgs.len());
                for msg in msgs {
                    self.overlay.handle_input(Input::Frame { conn, msg }, self.clock);
                }
            }
            Err(e) => {
                log::debug!("datagram on {conn:?} refused: {e:?}");
                self.dg.links.count_bad_frames();
            }
        }
    }

    /// Add `msg` to `conn`'s datagram; `false` if it does not fit one (it goes by TCP).
    pub(super) fn queue_datagram(&mut self, conn: ConnId, msg: &Msg) -> bool {
        let Ok(frame) = crate::wire::encode_frame(msg) else { return false };
        if frame.len() > datagram::MAX_FRAMES_BYTES {
            return false;
        }
        let pending = self.dg.out.entry(conn).or_default();
        if pending.frames.len() + frame.len() > datagram::MAX_FRAMES_BYTES {
            let full = std::mem::take(pending);
            self.send_payload(conn, &full);
        }
        let pending = self.dg.out.entry(conn).or_default();
        pending.frames.extend_from_slice(&frame);
        match msg {
            Msg::IHave(_) => pending.ihaves += 1,
            _ => pending.gossip = true,
        }
        true
    }

    /// Send what this drain queued for datagrams (one datagram per peer, usually).
    pub(super) fn flush_datagrams(&mut self) {
        for (conn, queued) in std::mem::take(&mut self.dg.out) {
            self.send_payload(conn, &queued);
        }
    }

    /// One payload datagram to `conn`'s peer; by TCP if the link stopped being usable since
    /// the frames were queued (it fell back). The test hook may drop it after sealing (as the
    /// network would: it is in the resend ring and counted as sent).
    pub(super) fn send_payload(&mut self, conn: ConnId, queued: &Queued) {
        let sealed = if queued.gossip {
            self.dg.links.seal_for(conn, &queued.frames, false)
        } else {
            self.dg.links.seal_ihaves(conn, &queued.frames)
        };
        let Some((to, d)) = sealed else {
            for msg in datagram::decode_frames(&queued.frames).unwrap_or_default() {
                let _ = self.net.send(conn, &msg);
            }
            return;
        };
        self.dg.links.count_kinds(queued.gossip, queued.ihaves);
        log::debug!(
            "datagram to {to} on {conn:?}: {} B, eager copy {}, {} IHAVE frames",
            d.len(),
            queued.gossip,
            queued.ihaves
        );
        if self.dg.drop_every > 0 {
            self.dg.drop_count += 1;
            if self.dg.drop_count % self.dg.drop_every == 0 {
                return;
            }
        }
        self.net.send_datagram(to, &d);
    }
}

/// `NOSTRP2P_TEST_DROP_DATAGRAMS` in a debug build (tests); always 0 in a release build.
fn test_drop_every() -> u32 {
    if cfg!(debug_assertions) {
        std::env::var("NOSTRP2P_TEST_DROP_DATAGRAMS").ok().and_then(|v| v.parse().ok()).unwrap_or(0)
    } else {
        0
    }
}
