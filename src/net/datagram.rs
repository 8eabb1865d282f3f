//! The datagram path for eager payloads between core peers (issue 11), pure part: link keys,
//! sealing and opening datagrams, replay window. No IO, no clock; `runtime` does the sockets.
//!
//! After the authenticated TCP handshake each side of a core↔core link offers, over TCP, its UDP
//! port, a random 64-bit link token and a random 32-byte link key (`Msg::Link`). A datagram to a
//! peer is `peer's token ‖ u32 seq ‖ frames ‖ MAC`, where `frames` are zero or more whole wire
//! frames (exactly as on TCP) and MAC is HMAC-SHA256(peer's key, token ‖ seq ‖ frames) truncated
//! to [`MAC_BYTES`]. No frames is a probe: it only proves the path. The receiver maps the token
//! to the connection, checks the MAC, drops replays ([`REPLAY_WINDOW`]) and hands the frames to
//! the overlay as if they came on that connection's TCP stream (same limits, same bans).
//!
//! The TCP stream is not encrypted, so an on-path attacker could read the key; it could equally
//! inject into the TCP stream itself, so the datagram path adds no power an attacker did not have.
//! An off-path attacker cannot forge a datagram (no key) nor reuse one (sequence window).
//! Memory: one [`Link`] (≈ 120 B) per connection, removed with it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::time::Instant;
use crate::wire::{self, ConnId, GossipKind, Msg};

/// Frame bytes carried by one datagram at most: with the 24 B of token, seq and MAC, and 48 B of
/// IPv6 + UDP headers, a datagram fits the IPv6 minimum MTU (1,280 B) and is never fragmented.
pub const MAX_FRAMES_BYTES: usize = 1_200;
/// Token (8) + seq (4) before the frames.
pub const HEAD_BYTES: usize = 12;
/// Truncated HMAC-SHA256 tag after the frames: 96 bits (forging one takes ~2^96 tries).
pub const MAC_BYTES: usize = 12;
/// Largest datagram accepted or sent.
pub const MAX_DATAGRAM_BYTES: usize = HEAD_BYTES + MAX_FRAMES_BYTES + MAC_BYTES;
/// Sequence numbers remembered behind the highest one seen (a 64-bit bitmap per link).
pub const REPLAY_WINDOW: u32 = 64;
/// Probes a link sends again when an authenticated datagram shows the peer at another address
/// than the one probed (the first guess, the TCP address, can be wrong: a node dialling out on
/// loopback or a multi-homed host uses another source IP). Bounds what a peer can make us send.
pub const MAX_REPROBES: u8 = 2;
/// Payload datagrams a link keeps after sending (their frames, ≤ [`MAX_FRAMES_BYTES`] each:
/// ≤ 19 KiB per link, ~8 KiB at a typical 500 B post) so a receiver that saw a gap can ask for
/// them again (`Msg::LinkResend`); each is re-sent once, by TCP.
pub const RESEND_RING: usize = 16;
/// Sequence numbers one `LinkResend` asks for at most (a longer gap is beyond the ring anyway).
pub const MAX_RESEND_ASK: usize = RESEND_RING;
/// A link falls back to TCP once more than one in `FALLBACK_LOSS_DIV` of its payload
/// datagrams was asked for again (12.5 %), counted after [`FALLBACK_MIN_LOST`] losses so a
/// single early loss does not decide it.
pub const FALLBACK_LOSS_DIV: u64 = 8;
/// Losses before the fallback rule applies.
pub const FALLBACK_MIN_LOST: u64 = 4;
/// A fallen-back link tries datagrams again after this long (the loss was a burst, a Wi-Fi
/// handover, a congested uplink: rarely for good); each further fallback of the same link
/// doubles the wait, up to [`FALLBACK_RETRY_MAX_MS`]. The retry starts with fresh loss
/// counts, so a path that is still lossy falls back again after [`FALLBACK_MIN_LOST`] losses.
pub const FALLBACK_RETRY_MS: u64 = 60_000;
/// Longest wait before a retry (a path lossy for good costs at most 4 re-sent datagrams an hour).
pub const FALLBACK_RETRY_MAX_MS: u64 = 16 * 60_000;
/// Tail loss: this long after a link's last payload datagram (nothing sent to that peer
/// since), the link sends one empty datagram. Its sequence number shows the receiver a gap if
/// the last payload was lost, and the receiver asks for it as for any gap; without it a lost
/// last datagram before a quiet spell is never seen missing (in a 2-node network nothing else
/// repairs it). Cost: one 52 B packet (24 B + IPv4/UDP headers) per burst of posts per link,
/// none while posts keep coming faster than this; none after a datagram of IHAVEs only
/// ([`Links::seal_ihaves`]). This wait applies to a lossy link ([`LOSSY_MEMORY_MS`]) and to a
/// peer of an older build; any other link waits [`TAIL_QUIET_MS`] for a TCP frame to carry
/// the tail instead.
pub const TAIL_PROBE_MS: u64 = 1_000;
/// On a link whose peer reads `Msg::LinkSent` and that lost nothing lately, the tail rides on
/// the next TCP frame to that peer at least [`TAIL_RIDE_MS`] after the last datagram (on a
/// quiet link: the idle `Ping` of the dialling side, `PING_IDLE_CORE_MS` after the last
/// traffic and checked every `TICK_CORE_MS`, or the `Pong` answering the peer's), for 12 B
/// (the `LinkSent` frame) in a segment sent anyway; only if no such frame went within this long is the probe
/// datagram sent. So a lost last datagram is asked for within this bound (+ one round trip),
/// and on a quiet clean link the tail costs no packet.
pub const TAIL_QUIET_MS: u64 = 35_000;
/// A tail rides on a TCP frame only this long after the link's last datagram: an earlier
/// frame could overtake a datagram still in flight, and the receiver would ask for it (a
/// needless resend, counted toward the fallback).
pub const TAIL_RIDE_MS: u64 = 1_000;
/// A link whose peer asked for a datagram again (a loss) within this long gets the quick tail
/// probe ([`TAIL_PROBE_MS`]) again: where loss was seen, a repair within a second is worth a
/// packet per burst.
pub const LOSSY_MEMORY_MS: u64 = 10 * 60_000;

// The idle Ping (or its Pong) comes before the probe would: with 2 s for the round trip and a
// late wake.
const _: () =
    assert!(TAIL_QUIET_MS >= crate::overlay::params::PING_IDLE_CORE_MS + crate::overlay::params::TICK_CORE_MS + 2_000);
const _: () = assert!(TAIL_RIDE_MS <= TAIL_PROBE_MS && TAIL_PROBE_MS < TAIL_QUIET_MS);

const _: () = assert!(FALLBACK_RETRY_MS <= FALLBACK_RETRY_MAX_MS);

// A whole datagram plus IPv6 (40 B) and UDP (8 B) headers fits the IPv6 minimum MTU.
const _: () = assert!(MAX_DATAGRAM_BYTES + 48 <= 1280);

/// Why a datagram was dropped (counted; never a ban: anyone can send a UDP packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatagramError {
    /// Shorter than token + seq + MAC.
    TooShort,
    /// Longer than [`MAX_DATAGRAM_BYTES`].
    TooLarge,
    /// No link has this token.
    UnknownToken,
    /// The MAC does not match.
    BadMac,
    /// Sequence number seen before, zero, or too old for the window.
    Replay,
    /// The authenticated frames do not decode (a bug or a broken peer).
    BadFrame,
    /// A frame type that never travels by datagram.
    NotAllowed,
}

/// Counters of the datagram path (shown in `/status`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DatagramStats {
    /// Datagrams sent (probes included).
    pub sent: u64,
    /// Their bytes (UDP payload).
    pub sent_bytes: u64,
    /// Datagrams accepted.
    pub received: u64,
    /// Their bytes.
    pub received_bytes: u64,
    /// Datagrams dropped (any [`DatagramError`]).
    pub dropped: u64,
    /// Sequence numbers skipped by accepted datagrams and not filled in later (lost, or late
    /// beyond the window).
    pub lost: u64,
    /// Payload datagrams whose frames were re-sent by TCP at the receiver's request.
    pub resent: u64,
    /// Links that fell back to TCP because of loss.
    pub fallbacks: u64,
    /// Fallen-back links that tried datagrams again ([`FALLBACK_RETRY_MS`]).
    pub retries: u64,
    /// Empty datagrams sent after a link's last payload ([`TAIL_PROBE_MS`], [`TAIL_QUIET_MS`]).
    pub tail_probes: u64,
    /// Tails that rode on a TCP frame sent anyway (`Msg::LinkSent`) instead of a probe.
    pub tail_rides: u64,
    /// Empty datagrams sent to prove a path (a link's first probe and re-probes; not the tail
    /// probes): with `tail_probes`, every datagram without frames.
    pub path_probes: u64,
    /// Datagrams sent that carry an event's eager copy (with or without IHAVEs behind it).
    pub payload_datagrams: u64,
    /// Datagrams sent that carry only IHAVEs (a quiet link's lazy push).
    pub ihave_datagrams: u64,
    /// IHAVE frames sent by datagram (riding on a payload or alone).
    pub ihave_frames: u64,
}

/// Accepted sequence numbers of one link: the highest and a bitmap of the 64 before it.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReplayWindow {
    highest: u32,
    bits: u64,
}

impl ReplayWindow {
    /// Whether `seq` is new; does not record it.
    pub fn fresh(&self, seq: u32) -> bool {
        if seq == 0 {
            return false;
        }
        if seq > self.highest {
            return true;
        }
        let back = self.highest - seq;
        back < REPLAY_WINDOW && back > 0 && self.bits & (1u64 << (back - 1)) == 0
    }

    /// Record `seq` (after [`ReplayWindow::fresh`] and the MAC check); returns how many
    /// sequence numbers it skipped (a gap: lost or reordered) or, negative, the one it filled.
    pub fn record(&mut self, seq: u32) -> i64 {
        if seq > self.highest {
            let shift = seq - self.highest;
            let gap = i64::from(shift) - 1;
            self.bits = if shift > REPLAY_WINDOW {
                0
            } else if shift == REPLAY_WINDOW {
                1u64 << (REPLAY_WINDOW - 1)
            } else {
                (self.bits << shift) | (1u64 << (shift - 1))
            };
            if self.highest == 0 {
                // The first datagram of a link: nothing before it was expected.
                self.bits = 0;
                self.highest = seq;
                return i64::from(seq) - 1;
            }
            self.highest = seq;
            gap
        } else {
            let back = self.highest - seq;
            self.bits |= 1u64 << (back - 1);
            -1
        }
    }
}

/// What we send to a peer: its address, token and key, and our next sequence number.
#[derive(Debug, Clone)]
struct Peer {
    addr: SocketAddr,
    token: u64,
    key: [u8; 32],
    next_seq: u32,
    /// Probes sent again after the peer's address changed ([`MAX_REPROBES`] at most).
    reprobes: u8,
}

/// One connection's datagram link.
#[derive(Debug, Clone)]
struct Link {
    /// Our token and key (what the peer seals with).
    token: u64,
    key: [u8; 32],
    window: ReplayWindow,
    /// The peer's offer, once received.
    peer: Option<Peer>,
    /// A valid datagram from the peer arrived: the path from the peer to us works.
    heard: bool,
    /// The peer told us (an empty `Msg::LinkResend` by TCP) that our datagrams reach it: the
    /// path from us to the peer works. Payloads go by datagram only with both (a path open one
    /// way only would otherwise swallow our posts without a gap the peer could see).
    confirmed: bool,
    /// Our payload datagrams to the peer, newest last ([`RESEND_RING`]): seq and frames.
    ring: std::collections::VecDeque<(u32, Vec<u8>)>,
    /// Payload datagrams sent, and how many of them the peer asked for again.
    payloads: u64,
    asked: u64,
    /// Too lossy: payloads go by TCP until this time ([`FALLBACK_RETRY_MS`]).
    fallen_back: Option<Instant>,
    /// Fallbacks of this link so far (doubles the next retry's wait).
    fallbacks: u32,
    /// When the tail probe is due: set by a payload datagram, cleared by any later datagram
    /// but one of IHAVEs only, and by a TCP frame that carried the tail ([`Links::tail_ride`]).
    tail_at: Option<Instant>,
    /// When the last datagram of any kind was sealed (a tail rides only [`TAIL_RIDE_MS`] later).
    last_sealed: Instant,
    /// The peer reads `Msg::LinkSent` ([`Links::ride_tails`]).
    rides: bool,
    /// Until when the link counts as lossy ([`LOSSY_MEMORY_MS`] after the peer's last ask).
    lossy_until: Option<Instant>,
    /// Where the last one came from (see [`Links::learn`]): it can arrive before the peer's
    /// offer (UDP overtakes the TCP stream), and then it is the address the offer goes to.
    from: Option<SocketAddr>,
}

/// The datagram links of all connections.
#[derive(Debug, Default)]
pub struct Links {
    by_conn: BTreeMap<ConnId, Link>,
    /// Peer offers that came before ours (our role was still undecided): one per connection.
    early: BTreeMap<ConnId, Peer>,
    by_token: BTreeMap<u64, ConnId>,
    /// Gaps seen by the last [`Links::open`]: the sequence numbers to ask its peer for.
    asks: Option<(ConnId, Vec<u32>)>,
    /// The last [`Links::open`] was the first datagram heard on this connection: tell the peer.
    confirm: Option<ConnId>,
    stats: DatagramStats,
    /// The time of the last [`Links::tick`] (the runtime ticks on every wake).
    now: Instant,
}

fn mac(key: &[u8; 32], head: &[u8], frames: &[u8]) -> [u8; MAC_BYTES] {
    let mut out = [0u8; MAC_BYTES];
    // HMAC accepts keys of any length: `new_from_slice` cannot fail here.
    if let Ok(mut m) = Hmac::<Sha256>::new_from_slice(key) {
        m.update(head);
        m.update(frames);
        out.copy_from_slice(&m.finalize().into_bytes()[..MAC_BYTES]);
    }
    out
}

/// `token ‖ seq ‖ frames ‖ MAC`.
pub fn seal(token: u64, key: &[u8; 32], seq: u32, frames: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(HEAD_BYTES + frames.len() + MAC_BYTES);
    d.extend_from_slice(&token.to_be_bytes());
    d.extend_from_slice(&seq.to_be_bytes());
    let tag = mac(key, &d, frames);
    d.extend_from_slice(frames);
    d.extend_from_slice(&tag);
    d
}

/// Constant-time comparison of two MACs.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The messages of authenticated frames; only eager event payloads and IHAVEs travel this way.
///
/// # Errors
/// [`DatagramError::BadFrame`] or [`DatagramError::NotAllowed`].
pub fn decode_frames(mut frames: &[u8]) -> Result<Vec<Msg>, DatagramError> {
    let mut out = Vec::new();
    while !frames.is_empty() {
        let (msg, used) = wire::decode_frame(frames).map_err(|_| DatagramError::BadFrame)?;
        if !allowed(&msg) {
            return Err(DatagramError::NotAllowed);
        }
        out.push(msg);
        frames = frames.get(used..).unwrap_or_default();
    }
    Ok(out)
}

/// Frames that may go by datagram: an event's eager copy and IHAVEs (losing one costs only a
/// repair). Everything else (handshake, membership, records, unicasts) stays on TCP.
pub fn allowed(msg: &Msg) -> bool {
    matches!(msg, Msg::Gossip(g) | Msg::GossipAlso(g, _) if g.kind == GossipKind::Event) || matches!(msg, Msg::IHave(_))
}

impl Links {
    /// Counters.
    pub fn stats(&self) -> DatagramStats {
        self.stats
    }

    /// True once we offered a link on `conn`.
    pub fn offered(&self, conn: ConnId) -> bool {
        self.by_conn.contains_key(&conn)
    }

    /// Make our side of `conn`'s link with a fresh random token and key (the caller sends them
    /// to the peer in `Msg::Link`). `false` if the token collides (try another) or `conn`
    /// already has one.
    pub fn offer(&mut self, conn: ConnId, token: u64, key: [u8; 32]) -> bool {
        if self.by_conn.contains_key(&conn) || self.by_token.contains_key(&token) {
            return false;
        }
        self.by_token.insert(token, conn);
        self.by_conn.insert(
            conn,
            Link {
                token,
                key,
                window: ReplayWindow::default(),
                peer: None,
                heard: false,
                confirmed: false,
                from: None,
                ring: std::collections::VecDeque::new(),
                payloads: 0,
                asked: 0,
                fallen_back: None,
                fallbacks: 0,
                tail_at: None,
                last_sealed: Instant(0),
                rides: false,
                lossy_until: None,
            },
        );
        true
    }

    /// The peer's offer for `conn`: returns the probe datagram to send it (proves the path in
    /// that direction). Without our own offer yet it is kept until [`Links::offer`] (then
    /// [`Links::early_probe`] gives the probe). Ignored (`None`) if the peer already offered:
    /// one offer per connection, so a peer cannot make us send it a stream of probes.
    pub fn accept(
        &mut self,
        conn: ConnId,
        addr: SocketAddr,
        token: u64,
        key: [u8; 32],
    ) -> Option<(SocketAddr, Vec<u8>)> {
        let mut peer = Peer { addr, token, key, next_seq: 1, reprobes: 0 };
        let Some(link) = self.by_conn.get_mut(&conn) else {
            self.early.entry(conn).or_insert(peer);
            return None;
        };
        if link.peer.is_some() {
            return None;
        }
        // The peer's datagram came first: it showed where the peer is.
        peer.addr = link.from.unwrap_or(addr);
        link.peer = Some(peer);
        self.seal_for(conn, &[], true)
    }

    /// After [`Links::offer`]: the probe for a peer offer that came first, if one did.
    pub fn early_probe(&mut self, conn: ConnId) -> Option<(SocketAddr, Vec<u8>)> {
        let mut peer = self.early.remove(&conn)?;
        let link = self.by_conn.get_mut(&conn)?;
        peer.addr = link.from.unwrap_or(peer.addr);
        link.peer = Some(peer);
        self.seal_for(conn, &[], true)
    }

    /// Whether payloads for `conn` go by datagram: the peer offered, we heard from it, and it
    /// confirmed hearing us (the path works both ways).
    pub fn usable(&self, conn: ConnId) -> bool {
        self.by_conn.get(&conn).is_some_and(|l| l.heard && l.confirmed && l.fallen_back.is_none() && l.peer.is_some())
    }

    /// Seal `frames` for `conn`'s peer: where to send it and the datagram; `None` if the link
    /// is not usable (`probe` skips the "heard" and "confirmed" conditions) or its sequence
    /// numbers ran out.
    pub fn seal_for(&mut self, conn: ConnId, frames: &[u8], probe: bool) -> Option<(SocketAddr, Vec<u8>)> {
        let link = self.by_conn.get_mut(&conn)?;
        if !(probe || (link.heard && link.confirmed)) || frames.len() > MAX_FRAMES_BYTES {
            return None;
        }
        let peer = link.peer.as_mut()?;
        let seq = peer.next_seq;
        peer.next_seq = seq.checked_add(1)?;
        let d = seal(peer.token, &peer.key, seq, frames);
        let addr = peer.addr;
        link.tail_at = None;
        link.last_sealed = self.now;
        if !frames.is_empty() {
            let lossy = link.lossy_until.is_some_and(|t| t > self.now);
            let wait = if link.rides && !lossy { TAIL_QUIET_MS } else { TAIL_PROBE_MS };
            link.tail_at = Some(self.now.plus_ms(wait));
            link.payloads += 1;
            if link.ring.len() == RESEND_RING {
                link.ring.pop_front();
            }
            link.ring.push_back((seq, frames.to_vec()));
        }
        self.stats.sent += 1;
        self.stats.sent_bytes += d.len() as u64;
        if frames.is_empty() && probe {
            self.stats.path_probes += 1;
        }
        Some((addr, d))
    }

    /// Count what a payload datagram just sealed by [`Links::seal_for`] carried: an eager
    /// copy or not, and how many IHAVE frames (`/status`, `net3`'s per-kind figures).
    pub fn count_kinds(&mut self, gossip: bool, ihaves: u64) {
        if gossip {
            self.stats.payload_datagrams += 1;
        } else if ihaves > 0 {
            self.stats.ihave_datagrams += 1;
        }
        self.stats.ihave_frames += ihaves;
    }

    /// Seal IHAVE frames only (no eager copy) for `conn`'s peer; `None` as for
    /// [`Links::seal_for`]. Unlike a payload it arms no tail probe and leaves a payload's
    /// armed one in place: a lost IHAVE datagram costs nothing unless an eager copy was lost
    /// too (whose own probe stays), and the next datagram's gap still shows it (it is in the
    /// resend ring). A quiet lazy link thus costs one packet per IHAVE period, not two.
    pub fn seal_ihaves(&mut self, conn: ConnId, frames: &[u8]) -> Option<(SocketAddr, Vec<u8>)> {
        let tail = self.by_conn.get(&conn)?.tail_at;
        let sealed = self.seal_for(conn, frames, false);
        if let Some(link) = self.by_conn.get_mut(&conn) {
            link.tail_at = tail;
        }
        sealed
    }

    /// The peer on `conn` reads `Msg::LinkSent` (it announced `FEATURE_LINK_SENT`): our tails
    /// may ride on TCP frames to it ([`TAIL_QUIET_MS`]).
    pub fn ride_tails(&mut self, conn: ConnId) {
        if let Some(link) = self.by_conn.get_mut(&conn) {
            link.rides = true;
        }
    }

    /// A frame is about to go to `conn`'s peer by TCP: if a tail is armed on a link that rides
    /// and the last datagram left at least [`TAIL_RIDE_MS`] ago, the sequence number to send
    /// with it (`Msg::LinkSent`, in the same write, so in the same segment). `None`: nothing to
    /// add. The tail stays armed until [`Links::rode`] says the frame was queued.
    pub fn tail_ride(&self, conn: ConnId) -> Option<u32> {
        let link = self.by_conn.get(&conn)?;
        if !link.rides || link.tail_at.is_none() || self.now < link.last_sealed.plus_ms(TAIL_RIDE_MS) {
            return None;
        }
        link.peer.as_ref()?.next_seq.checked_sub(1)
    }

    /// The `LinkSent` of [`Links::tail_ride`] was queued on the TCP stream (which delivers it
    /// while the connection lives): the tail probe is disarmed. Not called when the send queue
    /// had no room for it, so the probe still comes.
    pub fn rode(&mut self, conn: ConnId) {
        if let Some(link) = self.by_conn.get_mut(&conn) {
            if link.tail_at.take().is_some() {
                self.stats.tail_rides += 1;
            }
        }
    }

    /// The peer on `conn` says (`Msg::LinkSent`) that `seq` is the last datagram it sealed for
    /// us: those after the highest we got never came. Returns them to ask for (the newest
    /// [`MAX_RESEND_ASK`], as for a gap) and takes `seq` as received (its frames come by TCP,
    /// so a later datagram does not ask for them again). `None` if nothing is missing or no
    /// datagram of the peer ever arrived (its payloads go by datagram only after that).
    pub fn on_sent(&mut self, conn: ConnId, seq: u32) -> Option<Vec<u32>> {
        let link = self.by_conn.get_mut(&conn)?;
        let before = link.window.highest;
        if before == 0 || seq <= before {
            return None;
        }
        link.window.record(seq);
        self.stats.lost += u64::from(seq - before);
        let first = (before + 1).max(seq.saturating_sub(MAX_RESEND_ASK as u32 - 1));
        Some((first..=seq).collect())
    }

    /// After [`Links::open`]: the sequence numbers a gap before that datagram skipped, to ask
    /// its peer for by `Msg::LinkResend` (at most [`MAX_RESEND_ASK`]).
    pub fn take_asks(&mut self) -> Option<(ConnId, Vec<u32>)> {
        self.asks.take()
    }

    /// After [`Links::open`]: the connection whose peer we just heard for the first time, to
    /// tell it by TCP (an empty `Msg::LinkResend`) that its datagrams reach us.
    pub fn take_confirm(&mut self) -> Option<ConnId> {
        self.confirm.take()
    }

    /// The peer on `conn` asks for `seqs` again: the frames of those still in the ring, each
    /// given once (then forgotten, so asking twice gets nothing: no amplification), to re-send
    /// by TCP. Counts toward the link's fallback to TCP; unknown numbers are ignored.
    pub fn resend(&mut self, conn: ConnId, seqs: &[u32]) -> Vec<Vec<u8>> {
        let Some(link) = self.by_conn.get_mut(&conn) else { return Vec::new() };
        if seqs.is_empty() {
            // Asking for nothing: the peer hears our datagrams (see `take_confirm`).
            link.confirmed = true;
            return Vec::new();
        }
        let mut out = Vec::new();
        for seq in seqs.iter().take(MAX_RESEND_ASK) {
            if let Some(i) = link.ring.iter().position(|(s, _)| s == seq) {
                if let Some((_, frames)) = link.ring.remove(i) {
                    out.push(frames);
                }
            }
        }
        link.asked += out.len() as u64;
        self.stats.resent += out.len() as u64;
        if !out.is_empty() {
            link.lossy_until = Some(self.now.plus_ms(LOSSY_MEMORY_MS));
        }
        if link.fallen_back.is_none()
            && link.asked >= FALLBACK_MIN_LOST
            && link.asked * FALLBACK_LOSS_DIV > link.payloads
        {
            let wait = FALLBACK_RETRY_MS.saturating_mul(1 << link.fallbacks.min(8)).min(FALLBACK_RETRY_MAX_MS);
            link.fallbacks = link.fallbacks.saturating_add(1);
            link.fallen_back = Some(self.now.plus_ms(wait));
            link.tail_at = None;
            self.stats.fallbacks += 1;
        }
        out
    }

    /// The time is `now` (the runtime calls this first on every wake, so a payload sealed in
    /// that wake dates its tail probe from when it was sent). Never goes back.
    pub fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// The time passes to `now` (call on every wake, after sending): fallen-back links whose wait is over use
    /// datagrams again, with fresh loss counts; returns the tail probes due
    /// ([`TAIL_PROBE_MS`]), each an empty datagram to send.
    pub fn tick(&mut self, now: Instant) -> Vec<(SocketAddr, Vec<u8>)> {
        self.now = self.now.max(now);
        let now = self.now;
        let mut due = Vec::new();
        for (conn, link) in &mut self.by_conn {
            if link.fallen_back.is_some_and(|t| t <= now) {
                link.fallen_back = None;
                link.payloads = 0;
                link.asked = 0;
                self.stats.retries += 1;
            }
            if link.tail_at.is_some_and(|t| t <= now) {
                due.push(*conn);
            }
        }
        let mut out = Vec::new();
        for conn in due {
            if let Some(d) = self.seal_for(conn, &[], false) {
                self.stats.tail_probes += 1;
                out.push(d);
            } else if let Some(l) = self.by_conn.get_mut(&conn) {
                l.tail_at = None;
            }
        }
        out
    }

    /// When [`Links::tick`] has work next: a tail probe or the end of a fallback.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.by_conn.values().flat_map(|l| [l.tail_at, l.fallen_back]).flatten().min()
    }

    /// Check a received datagram: the connection it belongs to and its frames (empty for a
    /// probe). Every error is counted in `stats().dropped`.
    ///
    /// # Errors
    /// Why it was dropped.
    pub fn open<'d>(&mut self, d: &'d [u8]) -> Result<(ConnId, &'d [u8]), DatagramError> {
        let r = self.open_inner(d);
        match r {
            Ok(_) => {
                self.stats.received += 1;
                self.stats.received_bytes += d.len() as u64;
            }
            Err(_) => self.stats.dropped += 1,
        }
        r
    }

    /// After [`Links::open`] accepted a datagram of `conn` from `from`: the peer is there (the
    /// datagram is authenticated and fresh, so only the peer, or someone on its path, sent it),
    /// so later datagrams go to `from`. If that is not where our probe went, the probe was
    /// probably lost: returns one more probe to `from` (at most [`MAX_REPROBES`] per link), so
    /// the peer hears us too. A link whose guess was right never sends one.
    pub fn learn(&mut self, conn: ConnId, from: SocketAddr) -> Option<(SocketAddr, Vec<u8>)> {
        let link = self.by_conn.get_mut(&conn)?;
        link.from = Some(from);
        let peer = link.peer.as_mut()?;
        if peer.addr == from {
            return None;
        }
        peer.addr = from;
        if peer.reprobes >= MAX_REPROBES {
            return None;
        }
        peer.reprobes += 1;
        self.seal_for(conn, &[], true)
    }

    /// Count a datagram that opened but whose frames were refused.
    pub fn count_bad_frames(&mut self) {
        self.stats.dropped += 1;
    }

    fn open_inner<'d>(&mut self, d: &'d [u8]) -> Result<(ConnId, &'d [u8]), DatagramError> {
        if d.len() > MAX_DATAGRAM_BYTES {
            return Err(DatagramError::TooLarge);
        }
        if d.len() < HEAD_BYTES + MAC_BYTES {
            return Err(DatagramError::TooShort);
        }
        let (head, rest) = d.split_at(HEAD_BYTES);
        let (frames, tag) = rest.split_at(rest.len() - MAC_BYTES);
        let mut t = [0u8; 8];
        t.copy_from_slice(&head[..8]);
        let mut s = [0u8; 4];
        s.copy_from_slice(&head[8..]);
        let (token, seq) = (u64::from_be_bytes(t), u32::from_be_bytes(s));
        let conn = *self.by_token.get(&token).ok_or(DatagramError::UnknownToken)?;
        let link = self.by_conn.get_mut(&conn).ok_or(DatagramError::UnknownToken)?;
        if !same(&mac(&link.key, head, frames), tag) {
            return Err(DatagramError::BadMac);
        }
        if !link.window.fresh(seq) {
            return Err(DatagramError::Replay);
        }
        let before = link.window.highest;
        let gap = link.window.record(seq);
        if gap > 0 && before > 0 {
            // The newest ones: older ones of a long gap have left the sender's ring.
            let first = (before + 1).max(seq.saturating_sub(MAX_RESEND_ASK as u32));
            let missing = (first..seq).collect();
            self.asks = Some((conn, missing));
        }
        if gap > 0 {
            self.stats.lost += gap as u64;
        } else if gap < 0 {
            self.stats.lost = self.stats.lost.saturating_sub(1);
        }
        if !link.heard {
            link.heard = true;
            self.confirm = Some(conn);
        }
        Ok((conn, frames))
    }

    /// Forget `conn`'s link (the connection closed).
    pub fn remove(&mut self, conn: ConnId) {
        self.early.remove(&conn);
        if let Some(l) = self.by_conn.remove(&conn) {
            self.by_token.remove(&l.token);
        }
    }

    /// Links open.
    pub fn len(&self) -> usize {
        self.by_conn.len()
    }

    /// True if no link is open.
    pub fn is_empty(&self) -> bool {
        self.by_conn.is_empty()
    }
}

#[cfg(test)]
mod tests;
