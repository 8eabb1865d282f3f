//! The driver's websocket side: each connection's NIP-01 messages go through the sans-IO
//! [`Relay`]; published events take the `/publish` path (stored, made durable by the same
//! group commit, then routed by the application); every newly stored event is offered to the
//! live subscriptions. Answers go out on each connection's bounded queue without waiting:
//! a full queue closes that client only.
//!
//! Pacing: a `REQ`'s stored results are moved from the relay's backlog into the queue only
//! while the queue holds fewer than [`WS_OUTBOX_FILL`] messages; the connection's writer
//! says [`WsIn::Drained`] when it has sent the queue down to [`WS_OUTBOX_LOW`], and the next
//! part follows. So a large answer never overruns [`WS_OUTBOX_CAP`] by itself: the other
//! half of the queue is room for live events and `OK`s.

use std::collections::BTreeMap;

use super::Node;
use crate::event::{Event, EventId};
use crate::http::front::{WsConnId, WsIn, WsOut};
use crate::limits::WS_OUTBOX_FILL;
#[cfg(doc)]
use crate::limits::{WS_OUTBOX_CAP, WS_OUTBOX_LOW};
use crate::relay::{self, kinds, Accepted, ConnId, Relay};

/// An `OK` waiting for the group commit: connection, event id and the answer if the fsync
/// succeeds.
pub(super) type PendingOk = (WsConnId, EventId, String);

impl Node {
    /// One websocket event from the front.
    pub(super) fn handle_ws(&mut self, msg: WsIn) {
        match msg {
            WsIn::Opened { conn, out } => {
                let challenge = challenge_bytes(conn);
                match self.relay.open(ConnId(conn.0), challenge, self.clock.now()) {
                    Ok(hello) => {
                        self.websockets.insert(conn, out);
                        self.ws_send(conn, hello);
                    }
                    Err(e) => {
                        log::debug!("websocket {}: refused: {e}", conn.0);
                        let _ = out.try_send(WsOut::Text(relay::msg::notice(&format!("error: {e}"))));
                        out.close();
                    }
                }
            }
            WsIn::Closed { conn } => {
                self.websockets.remove(&conn);
                self.relay.close(ConnId(conn.0));
            }
            WsIn::Drained { conn } => self.pump(conn),
            WsIn::Message { conn, msg } => {
                let (now, wall) = (self.clock.now(), self.clock.unix_now());
                let handled = self.relay.handle_message(ConnId(conn.0), msg.as_bytes(), &self.store, now, wall);
                for reply in handled.replies {
                    self.ws_send(conn, reply);
                }
                match handled.accepted {
                    None => {}
                    Some(Accepted::Ephemeral(ev)) => self.fan_out(ev.as_event()),
                    Some(Accepted::Store(ev)) => {
                        let id = ev.id;
                        let copy = ev.clone();
                        let outcome = self.store.insert(ev);
                        if let Err(e) = &outcome {
                            log::error!("could not store websocket event {id}: {e}");
                        }
                        if matches!(outcome, Ok(crate::store::Inserted::New { .. })) {
                            self.published.push(copy);
                        }
                        self.ws_oks.push((conn, id, relay::stored_ok(&id, &outcome)));
                    }
                }
                self.pump(conn);
            }
        }
    }

    /// Moves `conn`'s pending `REQ` results into its queue while it is under
    /// [`WS_OUTBOX_FILL`].
    pub(super) fn pump(&mut self, conn: WsConnId) {
        loop {
            let Some(out) = self.websockets.get(&conn) else { return };
            if out.len() >= WS_OUTBOX_FILL {
                return;
            }
            let Some(msg) = self.relay.poll_message(ConnId(conn.0), &self.store) else { return };
            self.ws_send(conn, msg);
        }
    }

    /// Sends the live `EVENT`s for a newly stored (or ephemeral) event.
    pub(super) fn fan_out(&mut self, ev: &Event) {
        let wall = self.clock.unix_now();
        for (conn, msg) in self.relay.handle_new_event(ev, &self.store, wall) {
            self.ws_send(WsConnId(conn.0), msg);
        }
    }

    /// Answers the websocket `EVENT`s of this commit: their `OK`s if the fsync succeeded,
    /// `OK false` `error:` if it did not (nothing the client believes stored is lost).
    pub(super) fn answer_ws_oks(&mut self, synced: bool) {
        for (conn, id, ok) in std::mem::take(&mut self.ws_oks) {
            let msg =
                if synced { ok } else { relay::msg::ok(&id, false, "error: this node could not store the event") };
            self.ws_send(conn, msg);
        }
    }

    /// Whether an owner's newly stored event may be routed to other nodes.
    pub(super) fn may_leave(&self, ev: &Event) -> bool {
        kinds::may_leave_node(ev, self.clock.unix_now())
    }

    pub(super) fn ws_send(&mut self, conn: WsConnId, text: String) {
        if !queue_ws(&mut self.websockets, conn, text) {
            self.relay.close(ConnId(conn.0));
        }
    }
}

/// A fresh NIP-42 challenge. `getrandom` does not fail on Linux or Android once the kernel's
/// pool is ready; if it ever does, the connection number and time still make the challenge
/// unique per connection (what NIP-42 needs against replay), only guessable.
fn challenge_bytes(conn: WsConnId) -> [u8; 16] {
    let mut b = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut b) {
        log::warn!("no random bytes for a NIP-42 challenge ({e}); using connection number and time");
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        b[..8].copy_from_slice(&conn.0.to_le_bytes());
        b[8..].copy_from_slice(&(t as u64).to_le_bytes());
    }
    b
}

/// The relay a node starts with.
pub(super) fn new_relay(cfg: &crate::cli::ServerConfig) -> Relay {
    Relay::new(relay::RelayConfig {
        owner: cfg.owner,
        writable: cfg.writable,
        accept_any_author: cfg.accept_any_author,
    })
}

/// The NIP-11 document of this node.
pub(super) fn info_document(cfg: &crate::cli::ServerConfig) -> String {
    let npub = cfg.owner.to_npub();
    let short = npub.get(..16).unwrap_or(&npub);
    relay::info::render(&relay::info::InfoConfig {
        name: format!("nostrp2p node of {short}…"),
        owner: cfg.owner,
        writable: cfg.writable,
        accept_any_author: cfg.accept_any_author,
    })
}

/// Queues `text` for websocket `conn` without waiting: a full queue closes that client (it
/// does not read what it asked for; its task sends close 1008 and ends), a closed one is
/// forgotten. Returns whether the message was queued.
pub(super) fn queue_ws(
    websockets: &mut BTreeMap<WsConnId, async_channel::Sender<WsOut>>,
    conn: WsConnId,
    text: String,
) -> bool {
    let Some(out) = websockets.get(&conn) else { return false };
    match out.try_send(WsOut::Text(text)) {
        Ok(()) => true,
        Err(async_channel::TrySendError::Full(_)) => {
            log::debug!("websocket {}: outbound queue full, closing it", conn.0);
            out.close();
            websockets.remove(&conn);
            false
        }
        Err(async_channel::TrySendError::Closed(_)) => {
            websockets.remove(&conn);
            false
        }
    }
}
