//! Hand-written MessagePack encoding and decoding of [`Msg`] and [`NodeRecord`], byte for byte
//! the form `rmp_serde` gave them (protocol 3, pinned by tests/vectors/wire-v3.txt). No IO.
//!
//! The form: a struct is an array of its fields in order; a fixed-size id, key or signature and
//! a payload are one `bin`; `Option` is nil or the value; a `Msg` is a one-entry map
//! `{variant name: fields}` except `Join`, `Attach` and `Prune`, which are the bare name; `Role`
//! and `UndeliverableReason` are their names; `GossipKind` and `DeliveryMode` are one integer.
//!
//! Decoding is hostile input and accepts what the serde decoder accepted from any encoder of
//! this protocol, nothing more: integers in any width (checked against the field's range), a
//! unit variant also as `{name: nil}`. It refuses forms no encoder of ours ever wrote (and that
//! `rmp_serde` tolerated): a struct as a map, a variant by number or as a byte string, a fixed
//! byte field as an array of integers, a string where bytes are due. `wire::tests_codec`
//! checks both directions against the serde code on random and mutated frames. Every list is
//! bounded by the bytes left before anything is allocated for it.

use super::msg::{
    DeliveryMode, FindNode, Found, Gossip, GossipKind, Hello, Interest, Msg, NodeRecord, Routed, UndeliverableReason,
};
use super::types::{Addr, Body, Key32, MsgId, NodeId, PeerRef, Role, Sig};
use crate::msgpack::{put_array_len, put_bin, put_bool, put_map_len, put_nil, put_str, put_uint, ReadError, Reader};

type R<T> = Result<T, ReadError>;

// ---------------------------------------------------------------------------------------------
// Encoding

/// Append `msg` in its wire form.
pub(crate) fn put_msg(out: &mut Vec<u8>, msg: &Msg) {
    let name = wire_name(msg);
    if matches!(msg, Msg::Join | Msg::Attach | Msg::Prune) {
        put_str(out, name);
        return;
    }
    put_map_len(out, 1);
    put_str(out, name);
    match msg {
        Msg::Join | Msg::Attach | Msg::Prune => {}
        Msg::Hello(h) => {
            put_array_len(out, 2);
            put_record(out, &h.record);
            put_uint(out, h.nonce);
        }
        Msg::Auth(sig) => put_bin(out, &sig.0),
        Msg::Ping(n) | Msg::Pong(n) | Msg::LinkSent(n) => put_uint(out, u64::from(*n)),
        Msg::Link { port, token, key } => {
            put_array_len(out, 3);
            put_uint(out, u64::from(*port));
            put_uint(out, *token);
            put_bin(out, &key.0);
        }
        Msg::LinkResend(seqs) | Msg::DirDigest(seqs) => {
            put_array_len(out, seqs.len());
            for s in seqs {
                put_uint(out, u64::from(*s));
            }
        }
        Msg::ReachCheck(addr) => put_addr(out, addr),
        Msg::ReachResult { ok, addr } => {
            put_array_len(out, 2);
            put_bool(out, *ok);
            put_addr(out, addr);
        }
        Msg::FwdJoin { peer, ttl } => {
            put_array_len(out, 2);
            put_peer(out, peer);
            put_uint(out, u64::from(*ttl));
        }
        Msg::Neighbor { high: b } | Msg::NeighborReply { ok: b } | Msg::Disconnect { alive: b } => {
            put_array_len(out, 1);
            put_bool(out, *b);
        }
        Msg::Shuffle { origin, peers, ttl } => {
            put_array_len(out, 3);
            put_peer(out, origin);
            put_peers(out, peers);
            put_uint(out, u64::from(*ttl));
        }
        Msg::ShuffleReply(peers) => put_peers(out, peers),
        Msg::AttachAck { ok, alternatives } => {
            put_array_len(out, 2);
            put_bool(out, *ok);
            put_peers(out, alternatives);
        }
        Msg::Gossip(g) => put_gossip(out, g),
        Msg::GossipAlso(g, also) => {
            put_array_len(out, 2);
            put_gossip(out, g);
            put_node_ids(out, also);
        }
        Msg::IHave(ids) => {
            put_array_len(out, ids.len());
            for (id, round) in ids {
                put_array_len(out, 2);
                put_bin(out, &id.0);
                put_uint(out, u64::from(*round));
            }
        }
        Msg::Graft { id, round } => {
            put_array_len(out, 2);
            match id {
                Some(id) => put_bin(out, &id.0),
                None => put_nil(out),
            }
            put_uint(out, u64::from(*round));
        }
        Msg::DirRecords(bodies) | Msg::Store(bodies) => {
            put_array_len(out, bodies.len());
            for b in bodies {
                put_bin(out, b.as_slice());
            }
        }
        Msg::Routed(r) => {
            put_array_len(out, 8);
            put_uint(out, r.src.0);
            put_uint(out, r.dst.0);
            put_uint(out, r.msg_id);
            put_uint(out, u64::from(r.ttl));
            put_uint(out, u64::from(r.hops));
            put_uint(out, u64::from(r.attempt));
            put_bin(out, r.payload.as_slice());
            put_bin(out, &r.sig.0);
        }
        Msg::RoutedAck { src, dst, msg_id, hops, of, sig } => {
            put_array_len(out, 6);
            put_uint(out, src.0);
            put_uint(out, dst.0);
            put_uint(out, *msg_id);
            put_uint(out, u64::from(*hops));
            put_bin(out, &of.0);
            put_bin(out, &sig.0);
        }
        Msg::Undeliverable { src, dst, msg_id, reason, of, sig } => {
            put_array_len(out, 6);
            put_uint(out, src.0);
            put_uint(out, dst.0);
            put_uint(out, *msg_id);
            put_str(out, reason_name(*reason));
            put_bin(out, &of.0);
            put_bin(out, &sig.0);
        }
        Msg::Interest(i) => {
            put_array_len(out, 2);
            put_uint(out, u64::from(u8::from(i.mode)));
            put_array_len(out, i.authors.len());
            for a in &i.authors {
                put_bin(out, &a.0);
            }
        }
        Msg::FindNode(f) => {
            put_array_len(out, 3);
            put_uint(out, f.id);
            put_uint(out, f.key.0);
            put_uint(out, u64::from(f.hops));
        }
        Msg::Found(f) => {
            put_array_len(out, 5);
            put_uint(out, f.id);
            put_uint(out, f.key.0);
            put_uint(out, u64::from(f.hops));
            put_opt_body(out, f.record.as_ref());
            put_peers(out, &f.holders);
        }
        Msg::Neighbours { ask, peers } => {
            put_array_len(out, 2);
            put_bool(out, *ask);
            put_peers(out, peers);
        }
        Msg::Subscribe(ids) | Msg::Unsubscribe(ids) | Msg::DirWant(ids) => put_node_ids(out, ids),
        Msg::TopicAck { topic, depth, recent } => {
            put_array_len(out, 3);
            put_uint(out, topic.0);
            match depth {
                Some(d) => put_uint(out, u64::from(*d)),
                None => put_nil(out),
            }
            put_array_len(out, recent.len());
            for id in recent {
                put_bin(out, &id.0);
            }
        }
        Msg::TopicRedirect { topic, to } => {
            put_array_len(out, 2);
            put_uint(out, topic.0);
            put_uint(out, to.0);
        }
        Msg::TopicRefused(topic) => put_uint(out, topic.0),
        Msg::TopicPost { topic, routed, body } => {
            put_array_len(out, 3);
            put_uint(out, topic.0);
            put_bool(out, *routed);
            put_bin(out, body.as_slice());
        }
        Msg::TopicFetch { topic, id } => {
            put_array_len(out, 2);
            put_uint(out, topic.0);
            put_bin(out, &id.0);
        }
        Msg::TopicDigest { count, hash, relisted, check } => {
            put_array_len(out, 4);
            put_uint(out, u64::from(*count));
            put_uint(out, *hash);
            put_bool(out, *relisted);
            put_array_len(out, check.len());
            for (topic, newest) in check {
                put_array_len(out, 2);
                put_uint(out, topic.0);
                put_uint(out, u64::from(*newest));
            }
        }
        Msg::TopicResync(n) => put_uint(out, u64::from(*n)),
        Msg::DirIds(pairs) => put_id_seqs(out, pairs),
        Msg::RingSync { lo, hi, count, fp } => {
            put_array_len(out, 4);
            put_uint(out, lo.0);
            put_uint(out, hi.0);
            put_uint(out, u64::from(*count));
            put_uint(out, *fp);
        }
        Msg::RingHave { lo, hi, ids } => {
            put_array_len(out, 3);
            put_uint(out, lo.0);
            put_uint(out, hi.0);
            put_id_seqs(out, ids);
        }
    }
}

fn put_id_seqs(out: &mut Vec<u8>, pairs: &[(NodeId, u64)]) {
    put_array_len(out, pairs.len());
    for (node, seq) in pairs {
        put_array_len(out, 2);
        put_uint(out, node.0);
        put_uint(out, *seq);
    }
}

/// Append a node record: its ten fields, or the first nine (what its signature covers).
pub(crate) fn put_record_fields(out: &mut Vec<u8>, r: &NodeRecord, with_sig: bool) {
    put_array_len(out, if with_sig { 10 } else { 9 });
    put_uint(out, r.node.0);
    put_bin(out, &r.owner.0);
    put_bin(out, &r.node_key.0);
    put_opt_body(out, r.delegation.as_ref());
    put_str(out, role_name(r.role));
    match &r.addr {
        Some(a) => put_addr(out, a),
        None => put_nil(out),
    }
    put_node_ids(out, &r.homes);
    put_uint(out, r.seq);
    put_uint(out, r.expires);
    if with_sig {
        put_bin(out, &r.sig.0);
    }
}

fn put_record(out: &mut Vec<u8>, r: &NodeRecord) {
    put_record_fields(out, r, true);
}

fn put_addr(out: &mut Vec<u8>, a: &Addr) {
    put_array_len(out, 2);
    put_bin(out, &a.ip);
    put_uint(out, u64::from(a.port));
}

fn put_peer(out: &mut Vec<u8>, p: &PeerRef) {
    put_array_len(out, 2);
    put_uint(out, p.node.0);
    put_addr(out, &p.addr);
}

fn put_peers(out: &mut Vec<u8>, peers: &[PeerRef]) {
    put_array_len(out, peers.len());
    for p in peers {
        put_peer(out, p);
    }
}

fn put_gossip(out: &mut Vec<u8>, g: &Gossip) {
    put_array_len(out, 3);
    put_uint(out, u64::from(g.round));
    put_uint(out, u64::from(u8::from(g.kind)));
    put_bin(out, g.body.as_slice());
}

fn put_node_ids(out: &mut Vec<u8>, ids: &[NodeId]) {
    put_array_len(out, ids.len());
    for id in ids {
        put_uint(out, id.0);
    }
}

fn put_opt_body(out: &mut Vec<u8>, b: Option<&Body>) {
    match b {
        Some(b) => put_bin(out, b.as_slice()),
        None => put_nil(out),
    }
}

/// The name `rmp_serde` wrote for each variant (short for the frequent ones).
fn wire_name(msg: &Msg) -> &'static str {
    match msg {
        Msg::Ping(_) => "P",
        Msg::Pong(_) => "Q",
        Msg::Gossip(_) => "G",
        Msg::IHave(_) => "I",
        Msg::GossipAlso(..) => "GA",
        Msg::TopicDigest { .. } => "TD",
        Msg::TopicResync(_) => "TR",
        // Every other variant is written under its own name (what `Msg::name` returns).
        other => other.name(),
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Core => "Core",
        Role::Leaf => "Leaf",
    }
}

const REASONS: [(UndeliverableReason, &str); 5] = [
    (UndeliverableReason::Unknown, "Unknown"),
    (UndeliverableReason::TtlExpired, "TtlExpired"),
    (UndeliverableReason::NotAttached, "NotAttached"),
    (UndeliverableReason::NoRoute, "NoRoute"),
    (UndeliverableReason::UnknownSource, "UnknownSource"),
];

fn reason_name(r: UndeliverableReason) -> &'static str {
    REASONS.iter().find(|(x, _)| *x == r).map_or("Unknown", |(_, n)| n)
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Read one `Msg`.
pub(crate) fn read_msg(r: &mut Reader<'_>) -> R<Msg> {
    let at = r.at();
    if r.at_str() {
        // A unit variant by its bare name.
        let name = r.str()?;
        return unit_variant(name).ok_or(Reader::invalid(at, "not a unit variant of Msg"));
    }
    if r.map_len()? != 1 {
        return Err(Reader::invalid(at, "a message map with other than one entry"));
    }
    let name_at = r.at();
    let name = r.str()?;
    if let Some(unit) = unit_variant(name) {
        // `{name: nil}`: the serde decoder's other form of a unit variant.
        if !r.nil() {
            return Err(Reader::invalid(r.at(), "a unit variant with a value"));
        }
        return Ok(unit);
    }
    Ok(match name {
        b"Hello" => {
            r.fields(2)?;
            let record = read_record(r)?;
            Msg::Hello(Box::new(Hello { record, nonce: r.uint()? }))
        }
        b"Auth" => Msg::Auth(Sig(r.bin_array()?)),
        b"P" => Msg::Ping(r.uint()?),
        b"Q" => Msg::Pong(r.uint()?),
        b"Link" => {
            r.fields(3)?;
            Msg::Link { port: r.uint()?, token: r.uint()?, key: Key32(r.bin_array()?) }
        }
        b"LinkResend" => Msg::LinkResend(read_list(r, |r| r.uint())?),
        b"LinkSent" => Msg::LinkSent(r.uint()?),
        b"ReachCheck" => Msg::ReachCheck(read_addr(r)?),
        b"ReachResult" => {
            r.fields(2)?;
            Msg::ReachResult { ok: r.bool()?, addr: read_addr(r)? }
        }
        b"FwdJoin" => {
            r.fields(2)?;
            Msg::FwdJoin { peer: read_peer(r)?, ttl: r.uint()? }
        }
        b"Neighbor" => Msg::Neighbor { high: read_one_bool(r)? },
        b"NeighborReply" => Msg::NeighborReply { ok: read_one_bool(r)? },
        b"Disconnect" => Msg::Disconnect { alive: read_one_bool(r)? },
        b"Shuffle" => {
            r.fields(3)?;
            Msg::Shuffle { origin: read_peer(r)?, peers: read_list(r, read_peer)?, ttl: r.uint()? }
        }
        b"ShuffleReply" => Msg::ShuffleReply(read_list(r, read_peer)?),
        b"AttachAck" => {
            r.fields(2)?;
            Msg::AttachAck { ok: r.bool()?, alternatives: read_list(r, read_peer)? }
        }
        b"G" => Msg::Gossip(read_gossip(r)?),
        b"GA" => {
            r.fields(2)?;
            Msg::GossipAlso(read_gossip(r)?, read_node_ids(r)?)
        }
        b"I" => Msg::IHave(read_list(r, |r| {
            r.fields(2)?;
            Ok((MsgId(r.bin_array()?), r.uint()?))
        })?),
        b"Graft" => {
            r.fields(2)?;
            let id = if r.nil() { None } else { Some(MsgId(r.bin_array()?)) };
            Msg::Graft { id, round: r.uint()? }
        }
        b"DirDigest" => Msg::DirDigest(read_list(r, |r| r.uint())?),
        b"DirRecords" => Msg::DirRecords(read_list(r, read_body)?),
        b"Routed" => {
            r.fields(8)?;
            Msg::Routed(Routed {
                src: NodeId(r.uint()?),
                dst: NodeId(r.uint()?),
                msg_id: r.uint()?,
                ttl: r.uint()?,
                hops: r.uint()?,
                attempt: r.uint()?,
                payload: read_body(r)?,
                sig: Sig(r.bin_array()?),
            })
        }
        b"RoutedAck" => {
            r.fields(6)?;
            Msg::RoutedAck {
                src: NodeId(r.uint()?),
                dst: NodeId(r.uint()?),
                msg_id: r.uint()?,
                hops: r.uint()?,
                of: MsgId(r.bin_array()?),
                sig: Sig(r.bin_array()?),
            }
        }
        b"Undeliverable" => {
            r.fields(6)?;
            Msg::Undeliverable {
                src: NodeId(r.uint()?),
                dst: NodeId(r.uint()?),
                msg_id: r.uint()?,
                reason: read_reason(r)?,
                of: MsgId(r.bin_array()?),
                sig: Sig(r.bin_array()?),
            }
        }
        b"Interest" => {
            r.fields(2)?;
            let mode = read_delivery_mode(r)?;
            Msg::Interest(Interest { mode, authors: read_list(r, |r| Ok(Key32(r.bin_array()?)))? })
        }
        b"FindNode" => {
            r.fields(3)?;
            Msg::FindNode(FindNode { id: r.uint()?, key: NodeId(r.uint()?), hops: r.uint()? })
        }
        b"Found" => {
            r.fields(5)?;
            Msg::Found(Found {
                id: r.uint()?,
                key: NodeId(r.uint()?),
                hops: r.uint()?,
                record: read_opt_body(r)?,
                holders: read_list(r, read_peer)?,
            })
        }
        b"Store" => Msg::Store(read_list(r, read_body)?),
        b"Neighbours" => {
            r.fields(2)?;
            Msg::Neighbours { ask: r.bool()?, peers: read_list(r, read_peer)? }
        }
        b"Subscribe" => Msg::Subscribe(read_node_ids(r)?),
        b"Unsubscribe" => Msg::Unsubscribe(read_node_ids(r)?),
        b"TopicAck" => {
            r.fields(3)?;
            let topic = NodeId(r.uint()?);
            let depth = if r.nil() { None } else { Some(r.uint()?) };
            Msg::TopicAck { topic, depth, recent: read_list(r, |r| Ok(MsgId(r.bin_array()?)))? }
        }
        b"TopicRedirect" => {
            r.fields(2)?;
            Msg::TopicRedirect { topic: NodeId(r.uint()?), to: NodeId(r.uint()?) }
        }
        b"TopicRefused" => Msg::TopicRefused(NodeId(r.uint()?)),
        b"TopicPost" => {
            r.fields(3)?;
            Msg::TopicPost { topic: NodeId(r.uint()?), routed: r.bool()?, body: read_body(r)? }
        }
        b"TopicFetch" => {
            r.fields(2)?;
            Msg::TopicFetch { topic: NodeId(r.uint()?), id: MsgId(r.bin_array()?) }
        }
        b"DirIds" => Msg::DirIds(read_id_seqs(r)?),
        b"DirWant" => Msg::DirWant(read_node_ids(r)?),
        b"TD" => {
            r.fields(4)?;
            let (count, hash, relisted) = (r.uint()?, r.uint()?, r.bool()?);
            let check = read_list(r, |r| {
                r.fields(2)?;
                Ok((NodeId(r.uint()?), r.uint()?))
            })?;
            Msg::TopicDigest { count, hash, relisted, check }
        }
        b"TR" => Msg::TopicResync(r.uint()?),
        b"RingSync" => {
            r.fields(4)?;
            Msg::RingSync { lo: NodeId(r.uint()?), hi: NodeId(r.uint()?), count: r.uint()?, fp: r.uint()? }
        }
        b"RingHave" => {
            r.fields(3)?;
            Msg::RingHave { lo: NodeId(r.uint()?), hi: NodeId(r.uint()?), ids: read_id_seqs(r)? }
        }
        _ => return Err(Reader::invalid(name_at, "an unknown message name")),
    })
}

fn unit_variant(name: &[u8]) -> Option<Msg> {
    match name {
        b"Join" => Some(Msg::Join),
        b"Attach" => Some(Msg::Attach),
        b"Prune" => Some(Msg::Prune),
        _ => None,
    }
}

/// Read one node record (what a `Hello` carries, and a directory body).
pub(crate) fn read_record(r: &mut Reader<'_>) -> R<NodeRecord> {
    r.fields(10)?;
    Ok(NodeRecord {
        node: NodeId(r.uint()?),
        owner: Key32(r.bin_array()?),
        node_key: Key32(r.bin_array()?),
        delegation: read_opt_body(r)?,
        role: read_role(r)?,
        addr: if r.nil() { None } else { Some(read_addr(r)?) },
        homes: read_node_ids(r)?,
        seq: r.uint()?,
        expires: r.uint()?,
        sig: Sig(r.bin_array()?),
    })
}

/// A list whose elements `item` reads. Room is reserved only for what the input can hold
/// (`array_len` checked the count against the bytes left), and at most
/// `limits::MSGPACK_PREALLOC_BYTES` of it.
fn read_list<'a, T>(r: &mut Reader<'a>, item: impl Fn(&mut Reader<'a>) -> R<T>) -> R<Vec<T>> {
    let n = r.array_len()?;
    let mut out = Vec::with_capacity(crate::msgpack::prealloc::<T>(n));
    for _ in 0..n {
        out.push(item(r)?);
    }
    Ok(out)
}

fn read_id_seqs(r: &mut Reader<'_>) -> R<Vec<(NodeId, u64)>> {
    read_list(r, |r| {
        r.fields(2)?;
        Ok((NodeId(r.uint()?), r.uint()?))
    })
}

fn read_node_ids(r: &mut Reader<'_>) -> R<Vec<NodeId>> {
    read_list(r, |r| Ok(NodeId(r.uint()?)))
}

fn read_one_bool(r: &mut Reader<'_>) -> R<bool> {
    r.fields(1)?;
    r.bool()
}

fn read_body(r: &mut Reader<'_>) -> R<Body> {
    Ok(Body::from_slice(r.bin()?))
}

fn read_opt_body(r: &mut Reader<'_>) -> R<Option<Body>> {
    if r.nil() {
        Ok(None)
    } else {
        read_body(r).map(Some)
    }
}

fn read_addr(r: &mut Reader<'_>) -> R<Addr> {
    r.fields(2)?;
    Ok(Addr { ip: r.bin_array()?, port: r.uint()? })
}

fn read_peer(r: &mut Reader<'_>) -> R<PeerRef> {
    r.fields(2)?;
    Ok(PeerRef { node: NodeId(r.uint()?), addr: read_addr(r)? })
}

/// A unit enum value by name: the bare string, or `{name: nil}`.
fn read_unit_name<'a>(r: &mut Reader<'a>) -> R<&'a [u8]> {
    if r.at_str() {
        return r.str();
    }
    let at = r.at();
    if r.map_len()? != 1 {
        return Err(Reader::invalid(at, "an enum map with other than one entry"));
    }
    let name = r.str()?;
    if !r.nil() {
        return Err(Reader::invalid(r.at(), "a unit variant with a value"));
    }
    Ok(name)
}

fn read_role(r: &mut Reader<'_>) -> R<Role> {
    let at = r.at();
    match read_unit_name(r)? {
        b"Core" => Ok(Role::Core),
        b"Leaf" => Ok(Role::Leaf),
        _ => Err(Reader::invalid(at, "an unknown role")),
    }
}

fn read_reason(r: &mut Reader<'_>) -> R<UndeliverableReason> {
    let at = r.at();
    let name = read_unit_name(r)?;
    REASONS.iter().find(|(_, n)| n.as_bytes() == name).map(|(x, _)| *x).ok_or(Reader::invalid(at, "an unknown reason"))
}

fn read_gossip(r: &mut Reader<'_>) -> R<Gossip> {
    r.fields(3)?;
    let round = r.uint()?;
    let kind = read_gossip_kind(r)?;
    Ok(Gossip { id: MsgId::UNSET, round, kind, body: read_body(r)? })
}

fn read_gossip_kind(r: &mut Reader<'_>) -> R<GossipKind> {
    let at = r.at();
    GossipKind::try_from(r.uint::<u8>()?).map_err(|_| Reader::invalid(at, "an unknown gossip kind"))
}

fn read_delivery_mode(r: &mut Reader<'_>) -> R<DeliveryMode> {
    let at = r.at();
    DeliveryMode::try_from(r.uint::<u8>()?).map_err(|_| Reader::invalid(at, "an unknown delivery mode"))
}
