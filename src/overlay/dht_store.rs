//! The ring directory's records at their holders: `Store` frames kept or refused, the owner's
//! store of its own record, handoffs when the table changes, and forgetting records this node
//! neither holds nor uses (see `dht.rs` for the rules). A child of `dht`.

use std::collections::BTreeMap;

use super::Back;
use crate::overlay::dir_admit::Refused;
use crate::overlay::directory::Merge;
use crate::overlay::params::*;
use crate::overlay::ring::Holders;
use crate::overlay::Overlay;
use crate::wire::{Body, ConnId, Msg, NodeId};

impl Overlay {
    /// Records offered for us to hold.
    ///
    /// A record that is new here and came first-hand (from its own node, or from one of the
    /// homes it names) is passed on to the key's other holders by our table: the sender chose
    /// the holders from one lookup's answer, made on a table that may still have been filling,
    /// and a holder it missed kept an older copy for good (traced in `tests/sim_ring.rs` seed 5:
    /// a holder answered with the `Core` record a leaf had shown in its handshake while still
    /// checking its reachability, so acks to that leaf had no route). Records handed off by a
    /// holder are not passed on: their sender hands them to the holders its own table adds.
    pub(in crate::overlay) fn on_store(&mut self, conn: ConnId, records: Vec<Body>) {
        let unix = self.unix_now();
        let sender = self.conns.get(&conn).and_then(|c| c.peer);
        let mut pass_on: BTreeMap<NodeId, Vec<Body>> = BTreeMap::new();
        for body in records {
            let Ok(rec) = crate::wire::decode_record(body.as_slice()) else { return self.ban_conn(conn) };
            let holder = self.dht.as_ref().is_some_and(|d| d.table.stores(rec.node));
            if !holder {
                if let Some(d) = self.dht.as_mut() {
                    d.stats.stores_not_holder += 1;
                }
                continue;
            }
            if rec.node == self.me || self.dir.seq_of(rec.node).is_some_and(|s| s >= rec.seq) {
                continue;
            }
            if rec.expires < unix {
                self.stats.time_dropped += 1;
                continue;
            }
            let authorised = match self.admit_gossiped_record(conn, &rec) {
                Ok(authorised) => authorised,
                Err(Refused::Dropped) => continue,
                Err(Refused::Forged) => return self.ban_conn(conn),
            };
            match self.dir.merge(&rec, body.clone(), authorised, unix) {
                Merge::Conflict => self.stats.id_conflicts += 1,
                Merge::Full => self.stats.dir_full += 1,
                Merge::New | Merge::Updated => {
                    let Some(d) = self.dht.as_mut() else { continue };
                    d.stats.stores_kept += 1;
                    let first_hand = sender.is_some_and(|s| s == rec.node || rec.homes.contains(&s));
                    if first_hand {
                        for h in d.table.holder_set(rec.node).iter() {
                            if h != self.me && Some(h) != sender && h != rec.node {
                                pass_on.entry(h).or_default().push(body.clone());
                            }
                        }
                    }
                }
                Merge::Stale => {}
            }
        }
        for (node, batch) in pass_on {
            self.send_store_batches(node, batch);
        }
    }

    /// A record is due at its holders (ours, or an attached leaf's): store it there instead of
    /// broadcasting it. A leaf's is checked again until a read-back finds it (`RING_CONFIRM_MS`).
    pub(in crate::overlay) fn ring_publish(&mut self, node: NodeId) {
        self.ring_lookup(node, Back::Store);
        let now = self.now;
        let Some(d) = self.dht.as_mut() else { return };
        if node != self.me && !d.confirm.iter().any(|(k, _, _)| *k == node) && d.confirm.len() < RING_CONFIRM_CAP {
            d.confirm.push((node, now.plus_ms(RING_CONFIRM_MS), 2 * RING_CONFIRM_MS));
        }
    }

    /// A read-back found `key`'s current record at its first holder: no more checks before the
    /// periodic one.
    pub(in crate::overlay) fn ring_confirmed(&mut self, key: NodeId) {
        if let Some(d) = self.dht.as_mut() {
            d.confirm.retain(|(k, _, _)| *k != key);
        }
    }

    /// The leaves' records whose check is due are looked up again (each store lookup stores
    /// the record where the answer lacks it); a leaf no longer attached is dropped, and so is
    /// a record whose next wait would reach `RING_READBACK_MS`.
    pub(in crate::overlay) fn ring_confirm_due(&mut self) {
        let now = self.now;
        let leaves = &self.leaves;
        let Some(d) = self.dht.as_mut() else { return };
        let mut due = Vec::new();
        d.confirm.retain_mut(|(key, at, wait)| {
            if !leaves.contains(key) {
                return false;
            }
            if now < *at {
                return true;
            }
            due.push(*key);
            *at = now.plus_ms(*wait);
            *wait *= 2;
            *wait <= RING_READBACK_MS
        });
        for key in due {
            self.ring_lookup(key, Back::Store);
        }
    }

    /// The records this node holds (its own among them), with their holders by the current
    /// table (taken before a table change, for `handoff_changed`). Records it only caches
    /// (lookup results, connected peers) are not its to hand off: their holders' own tables
    /// decide. Handing off every record whose holder set changed was 19,795 `Store` frames in
    /// 10 idle minutes at 10k nodes (15 KB/min per core, half the idle control traffic). The
    /// misses this first cost in `tests/sim_ring.rs` were records that reached their holders
    /// only by such handoffs; they now reach them first-hand (`on_store` passes a first-hand
    /// store on; a record answered here is stored at the others: `deliver_found`).
    pub(in crate::overlay) fn holder_sets(&self) -> Vec<(NodeId, Holders)> {
        let Some(d) = self.dht.as_ref() else { return Vec::new() };
        self.dir
            .iter()
            .map(|(key, _)| (*key, d.table.holder_set(*key)))
            .filter(|(_, hs)| hs.contains(&self.me))
            .collect()
    }

    /// The table changed: each record we held goes to the cores that hold it now by our table
    /// and did not before, and to nobody else. At 10k nodes, re-sending every record to all its
    /// holders whenever a core left the table was 204,000 `Store` frames (65 MB) in 10 idle
    /// minutes; at 1k this cut `Store` from 0.85 to ≈ 0.1 KB/min per core.
    pub(in crate::overlay) fn handoff_changed(&mut self, before: Vec<(NodeId, Holders)>) {
        let Some(d) = self.dht.as_ref() else { return };
        let mut per: BTreeMap<NodeId, Vec<Body>> = BTreeMap::new();
        for (key, old) in before {
            let Some(e) = self.dir.get(key) else { continue };
            for h in d.table.holder_set(key).iter() {
                if h != self.me && h != key && !old.contains(&h) {
                    per.entry(h).or_default().push(e.body.clone());
                }
            }
        }
        for (node, batch) in per {
            self.send_store_batches(node, batch);
        }
    }

    pub(in crate::overlay) fn send_store_batches(&mut self, node: NodeId, batch: Vec<Body>) {
        for chunk in batch.chunks(RING_STORE_PER_FRAME) {
            if let Some(d) = self.dht.as_mut() {
                d.stats.stores_sent += chunk.len() as u64;
            }
            self.ring_send(node, Msg::Store(chunk.to_vec()));
        }
    }

    /// Forget records this node neither holds nor uses: not a holder, not connected, and
    /// not looked up within `LOOKUP_CACHE_MS` (the directory doubles as the lookup cache).
    /// Once per ring round (`ring_tick`).
    pub(in crate::overlay) fn ring_forget(&mut self) {
        let Some(d) = self.dht.as_ref() else { return };
        let unix = self.unix_now();
        let drop: Vec<NodeId> = self
            .dir
            .iter()
            .filter(|(k, e)| {
                // The holder check last: it is the one that costs.
                **k != self.me
                    && unix.saturating_sub(e.refreshed) * 1000 >= LOOKUP_CACHE_MS
                    && !self.by_node.contains_key(k)
                    && !d.table.stores(**k)
            })
            .map(|(k, _)| *k)
            .collect();
        for k in drop {
            self.dir.remove(k);
        }
    }
}
