//! The runtime's side of an event arriving from the overlay: the overlay's event check
//! (`verify_event`, the only Schnorr check a received event gets), what the application sees
//! of the overlay (`Ctx`), and how an overlay delivery becomes an application input
//! (`delivered`). Pure: no IO, no clock reads.

use crate::app;
use crate::event::Event;
use crate::keys::PublicKey;
use crate::overlay::crypto::{Checked, Rejected};
use crate::overlay::{Delivery, Overlay};
use crate::time::UnixTime;
use crate::wire::{Key32, MsgId, NodeId};

/// What the application layer sees of the overlay (`app::Context`).
pub(super) struct Ctx<'o>(pub(super) &'o Overlay);

impl app::Context for Ctx<'_> {
    fn me(&self) -> NodeId {
        self.0.node_id()
    }

    fn node_at_or_after(&self, at: u64) -> Option<NodeId> {
        self.0.directory().node_at_or_after(at)
    }

    fn node_key(&self, node: NodeId) -> Option<PublicKey> {
        self.0.directory().get(node).map(|e| PublicKey(e.node_key.0))
    }

    fn is_reachable(&self, node: NodeId) -> bool {
        self.0.directory().get(node).is_some()
    }

    fn neighbours(&self) -> Vec<NodeId> {
        self.0.connected_nodes()
    }

    fn catchup_plan(&self) -> app::CatchupPlan {
        if self.0.delivery() != crate::wire::DeliveryMode::Follow {
            return app::CatchupPlan::Peers;
        }
        match self.0.tree_authors() {
            Some(authors) => app::CatchupPlan::Trees(authors.into_iter().map(|k| PublicKey(k.0)).collect()),
            None if self.0.is_deciding() => app::CatchupPlan::Undecided,
            // A leaf: its homes hold what it follows.
            None => app::CatchupPlan::Peers,
        }
    }

    fn follower_multicast(&self) -> bool {
        // `auto` too: a node cannot tell whether the quoted author's node (or its home) has
        // switched; in a small network the copy is one duplicate unicast per repost.
        self.0.delivery() != crate::wire::DeliveryMode::Broadcast
    }

    fn tree_source(&self, author: &PublicKey) -> app::TreeSource {
        match self.0.tree_source(&crate::wire::Key32(author.0)) {
            Some(Some(parent)) => app::TreeSource::Parent(parent),
            Some(None) => app::TreeSource::Root,
            None => app::TreeSource::Unknown,
        }
    }
}

/// The overlay's event check: MessagePack `Event` whose id matches, verified (id hash,
/// signature, time window) by `event::Event::verify`. The verified event travels on with the
/// overlay's delivery to the app and the store: this is the only check a received event gets.
pub(super) fn verify_event(id: &MsgId, body: &[u8], unix_now: u64) -> Result<Checked, Rejected> {
    let ev: Event = crate::event::packed::decode(body).map_err(|_| Rejected::Malformed)?;
    if ev.id.0 != id.0 {
        return Err(Rejected::BadId);
    }
    let author = Key32(ev.pubkey.0);
    match ev.verify(UnixTime(unix_now)) {
        Ok(v) => Ok(Checked { author, event: Some(v) }),
        Err(crate::event::EventError::FromTheFuture { created_at, .. }) => Err(Rejected::FromTheFuture { created_at }),
        Err(crate::event::EventError::IdMismatch { .. }) => Err(Rejected::BadId),
        Err(crate::event::EventError::TooLarge { .. } | crate::event::EventError::TooManyTags) => {
            Err(Rejected::Malformed)
        }
        Err(_) => Err(Rejected::BadSig),
    }
}

/// What the application gets of an overlay delivery. A broadcast comes with the event the
/// overlay verified (`verify_event`): it is handed on as is, never checked a second time.
pub(super) fn delivered(d: Delivery) -> Option<app::Input> {
    match d {
        Delivery::Broadcast { event: Some(ev), .. } => Some(app::Input::Broadcast(*ev)),
        // Only a `Crypto` whose payloads are not Nostr events delivers none (not this one).
        Delivery::Broadcast { id, event: None, .. } => {
            log::error!("broadcast {id} delivered without its verified event: dropped");
            None
        }
        Delivery::Unicast { src, payload, .. } => {
            Some(app::Input::Unicast { src, payload: payload.as_slice().to_vec() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{App, AppConfig};
    use crate::keys::SecretKey;
    use crate::overlay::crypto::{Crypto, SchnorrCrypto};
    use crate::overlay::params::LEAF_SLOTS;
    use crate::overlay::{Config, Input, Output, RoleChoice};
    use crate::time::{Instant, Now};
    use crate::wire::Body;
    use crate::wire::{Addr, ConnId, Gossip, GossipKind, Hello, Msg, NodeRecord, Role, Sig};

    const UNIX: u64 = 1_700_000_000;

    fn key(b: u8) -> SecretKey {
        SecretKey::from_bytes([b; 32]).expect("valid test key")
    }

    /// A server's overlay (real Schnorr, the server's event check) with a leaf of `peer_owner`
    /// authenticated on inbound connection 1, the way `tests/common/raw.rs` does it over TCP.
    fn overlay_with_leaf(peer_owner: &SecretKey, clock: Now) -> Overlay {
        let crypto = SchnorrCrypto::new([7; 32], verify_event).expect("node key");
        let cfg = Config {
            owner: Key32(key(1).public_key().0),
            delegation: None,
            listen: Some(Addr::v4([127, 0, 0, 1], 7000)),
            bootstrap: vec![],
            role: RoleChoice::Core,
            leaf_slots: LEAF_SLOTS,
            seed: 1,
            delivery: crate::wire::DeliveryMode::Auto,
            directory: crate::overlay::DirectoryMode::Broadcast,
        };
        let mut o = Overlay::new(cfg, Box::new(crypto), clock);
        let conn = ConnId(1);
        o.handle_input(Input::Accepted { conn, remote: Addr::v4([127, 0, 0, 2], 5000) }, clock);
        let mut nonce = None;
        while let Some(out) = o.poll_output() {
            if let Output::Send { msg: Msg::Hello(h), .. } = out {
                nonce = Some(h.nonce);
            }
        }
        let mut peer = SchnorrCrypto::new([8; 32], verify_event).expect("peer key");
        let owner = Key32(peer_owner.public_key().0);
        let node = NodeId::of_pubkey(&owner.0);
        let mut record = NodeRecord {
            node,
            owner,
            node_key: peer.node_key(),
            delegation: None,
            role: Role::Leaf,
            addr: None,
            homes: vec![],
            seq: UNIX * 1000,
            expires: UNIX + 3_600,
            sig: Sig([0; 64]),
        };
        record.sig = peer.sign(&record.signing_hash());
        o.handle_input(Input::Frame { conn, msg: Msg::Hello(Box::new(Hello { record, nonce: 9 })) }, clock);
        let auth = peer.sign(&Hello::auth_hash(nonce.expect("the server's Hello"), node));
        o.handle_input(Input::Frame { conn, msg: Msg::Auth(auth) }, clock);
        while o.poll_output().is_some() {}
        assert_eq!(o.connected_nodes(), vec![node], "handshake");
        o
    }

    /// The receive path from the wire to the store: overlay (`verify_event`), then what the
    /// runtime hands the app, then the app's decision to store. One Schnorr check per event.
    #[test]
    fn a_received_event_is_verified_exactly_once_on_its_way_to_the_store() {
        let clock = Now::new(Instant(0), UnixTime(UNIX));
        let author = key(3);
        let mut o = overlay_with_leaf(&author, clock);
        let mut app = App::new(AppConfig { owner: key(1).public_key(), node_secret: key(7), seed: [5; 32] });
        let store = crate::testkit::FakeStore::default();
        let ev = Event::new_signed(&author, UnixTime(UNIX), 1, vec![], "once".into(), &[0; 32]);
        let body = Body::from_slice(&crate::event::packed::encode(&ev));
        let gossip = Gossip { id: MsgId(ev.id.0), round: 1, kind: GossipKind::Event, body };
        // Through the codec: the id is not on the wire (protocol 3), the overlay derives it.
        let frame = crate::wire::encode_frame(&Msg::Gossip(gossip)).expect("encodes");
        let (msg, _) = crate::wire::decode_frame(&frame).expect("decodes");

        crate::keys::VERIFY_CALLS.with(|c| c.set(0));
        o.handle_input(Input::Frame { conn: ConnId(1), msg }, clock);
        let mut inputs = Vec::new();
        while let Some(out) = o.poll_output() {
            if let Output::Deliver(d) = out {
                inputs.extend(delivered(d));
            }
        }
        assert_eq!(inputs.len(), 1, "one delivery");
        for input in inputs {
            app.handle_input(input, UnixTime(UNIX), &Ctx(&o), &store);
        }
        let stored: Vec<_> =
            std::iter::from_fn(|| app.poll_output()).filter(|out| matches!(out, app::Output::Store(_))).collect();
        assert!(matches!(stored.as_slice(), [app::Output::Store(v)] if v.id == ev.id), "stored once: {stored:?}");
        assert_eq!(crate::keys::VERIFY_CALLS.with(|c| c.get()), 1, "Schnorr checks for one received event");
    }

    /// Hostile: a gossip body whose id cannot be derived (not a packed event), or whose claimed
    /// id is not its hash, is invalid: the sender is dropped and nothing is delivered.
    #[test]
    fn gossip_without_a_derivable_or_true_id_is_refused() {
        let clock = Now::new(Instant(0), UnixTime(UNIX));
        let author = key(3);
        let ev = Event::new_signed(&author, UnixTime(UNIX), 1, vec![], "real".into(), &[0; 32]);
        let mut forged = crate::event::packed::encode(&ev);
        let last = forged.len() - 70;
        forged[last] ^= 1; // content changed, claimed id kept
        for body in [b"garbage".to_vec(), forged] {
            let mut o = overlay_with_leaf(&author, clock);
            let g = Gossip { id: MsgId(ev.id.0), round: 1, kind: GossipKind::Event, body: Body::from_slice(&body) };
            let frame = crate::wire::encode_frame(&Msg::Gossip(g)).expect("encodes");
            let (msg, _) = crate::wire::decode_frame(&frame).expect("decodes");
            o.handle_input(Input::Frame { conn: ConnId(1), msg }, clock);
            let delivered =
                std::iter::from_fn(|| o.poll_output()).filter(|out| matches!(out, Output::Deliver(_))).count();
            assert_eq!(delivered, 0);
            assert!(o.connected_nodes().is_empty(), "the sender of an invalid event is dropped");
        }
    }
}
