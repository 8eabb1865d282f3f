//! A tiny stub DNS client (RFC 1035 over UDP, A and AAAA only) for hosts without a usable
//! `/etc/resolv.conf`: Android (Termux keeps its file at `$PREFIX/etc/resolv.conf`, an APK has
//! none, and a static musl binary then asks 127.0.0.1, where nothing listens).
//!
//! Owns: the wire format (pure: [`encode_query`], [`parse_response`]), `resolv.conf` parsing
//! ([`parse_resolv_conf`]) and one bounded exchange with a list of nameservers ([`query`]).
//! Must not: recurse, follow CNAMEs itself (recursive resolvers put the final A/AAAA records in
//! the answer section), cache, or retry beyond the given deadline.
//! Invariants: every read of a response is bounds-checked (a hostile reply is an error, never a
//! panic); name compression pointers are followed at most [`MAX_POINTER_HOPS`] times.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Nameservers taken from a `resolv.conf` (glibc's and musl's MAXNS is also 3).
pub const MAX_NAMESERVERS: usize = 3;
/// Addresses kept from one answer; the rest are ignored (we dial one peer, not a pool).
pub const MAX_ADDRS: usize = 16;
/// Longest host name in presentation form (RFC 1035 §2.3.4: 255 octets on the wire).
pub const MAX_NAME_LEN: usize = 253;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Receive buffer: the classic 512-byte UDP limit plus room for resolvers that send up to the
/// EDNS "flag day" size even though we do not ask for EDNS. 1.2 KiB on the stack.
pub const MAX_RESPONSE_BYTES: usize = 1232;
/// Compression pointers followed while skipping one name; more means a loop.
pub const MAX_POINTER_HOPS: usize = 16;
/// Resource records looked at in one answer section.
pub const MAX_ANSWER_RECORDS: usize = 64;
/// The DNS port.
pub const DNS_PORT: u16 = 53;

/// Record type A (RFC 1035 §3.2.2).
pub const QTYPE_A: u16 = 1;
/// Record type AAAA (RFC 3596 §2.1).
pub const QTYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const HEADER_LEN: usize = 12;

/// Why a DNS exchange gave no address.
#[derive(Debug)]
pub enum DnsError {
    /// The name cannot be put in a query (empty label, label > 63, name > 253 bytes).
    BadName {
        /// The offending name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A response could not be parsed.
    Malformed(&'static str),
    /// The server answered with a non-zero RCODE (3 = NXDOMAIN: the name does not exist).
    Rcode(u8),
    /// No nameserver answered before the deadline.
    Timeout,
    /// A socket operation failed.
    Io(io::Error),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::BadName { name, reason } => write!(f, "cannot query name {name:?}: {reason}"),
            DnsError::Malformed(what) => write!(f, "malformed DNS response: {what}"),
            DnsError::Rcode(3) => write!(f, "no such host (NXDOMAIN)"),
            DnsError::Rcode(code) => write!(f, "nameserver answered with error code {code}"),
            DnsError::Timeout => write!(f, "no nameserver answered in time"),
            DnsError::Io(e) => write!(f, "DNS socket error: {e}"),
        }
    }
}

impl std::error::Error for DnsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DnsError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Nameserver addresses from the text of a `resolv.conf`, in file order, at most
/// [`MAX_NAMESERVERS`]. Comments (`#`, `;`), other options and unparsable lines are skipped;
/// a zone suffix (`fe80::1%wlan0`) makes the entry unusable here and it is skipped too.
pub fn parse_resolv_conf(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        if let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) {
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
        if out.len() == MAX_NAMESERVERS {
            break;
        }
    }
    out
}

/// A standard query (RD set) for `name` with record type `qtype`.
///
/// # Errors
/// [`DnsError::BadName`] if `name` is empty, too long, or has an empty or over-long label.
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, DnsError> {
    let bad = |reason| DnsError::BadName { name: name.to_owned(), reason };
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Err(bad("empty name"));
    }
    if trimmed.len() > MAX_NAME_LEN {
        return Err(bad("longer than 253 bytes"));
    }
    let mut q = Vec::with_capacity(HEADER_LEN + trimmed.len() + 6);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // QR=0, OPCODE=0, RD=1
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QDCOUNT=1, AN/NS/ARCOUNT=0
    for label in trimmed.split('.') {
        if label.is_empty() {
            return Err(bad("empty label"));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(bad("label longer than 63 bytes"));
        }
        q.push(label.len() as u8); // fits: checked above
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(q)
}

/// Reads a big-endian u16 at `at`.
fn be16(buf: &[u8], at: usize) -> Result<u16, DnsError> {
    match buf.get(at..at + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(DnsError::Malformed("truncated")),
    }
}

/// Returns the offset just past the (possibly compressed) name starting at `at`.
fn skip_name(buf: &[u8], mut at: usize) -> Result<usize, DnsError> {
    let mut end_after_pointer = None;
    for _ in 0..MAX_POINTER_HOPS {
        loop {
            let len = *buf.get(at).ok_or(DnsError::Malformed("name runs past the end"))? as usize;
            match len & 0xC0 {
                0x00 if len == 0 => return Ok(end_after_pointer.unwrap_or(at + 1)),
                0x00 => at += 1 + len,
                0xC0 => {
                    let ptr = (be16(buf, at)? & 0x3FFF) as usize;
                    end_after_pointer.get_or_insert(at + 2);
                    at = ptr;
                    break; // count one hop
                }
                _ => return Err(DnsError::Malformed("unknown label type")),
            }
        }
    }
    Err(DnsError::Malformed("too many compression pointers"))
}

/// The A/AAAA addresses in a response to query `id`.
///
/// Returns `Ok(None)` if `buf` is a response to some other query (a stale or spoofed datagram:
/// keep waiting), `Ok(Some(addrs))` otherwise; `addrs` may be empty (the name exists but has no
/// record of the asked type).
///
/// # Errors
/// [`DnsError::Rcode`] for an error answer, [`DnsError::Malformed`] for bytes that do not parse.
pub fn parse_response(buf: &[u8], id: u16) -> Result<Option<Vec<IpAddr>>, DnsError> {
    if buf.len() < HEADER_LEN {
        return Err(DnsError::Malformed("shorter than a header"));
    }
    if be16(buf, 0)? != id || buf[2] & 0x80 == 0 {
        return Ok(None); // not our answer
    }
    let rcode = buf[3] & 0x0F;
    if rcode != 0 {
        return Err(DnsError::Rcode(rcode));
    }
    let qdcount = be16(buf, 4)? as usize;
    let ancount = (be16(buf, 6)? as usize).min(MAX_ANSWER_RECORDS);
    let mut at = HEADER_LEN;
    for _ in 0..qdcount.min(4) {
        at = skip_name(buf, at)? + 4; // QTYPE, QCLASS
    }
    let mut addrs = Vec::new();
    for _ in 0..ancount {
        at = skip_name(buf, at)?;
        let rtype = be16(buf, at)?;
        let class = be16(buf, at + 2)?;
        let rdlen = be16(buf, at + 8)? as usize;
        let rdata = buf.get(at + 10..at + 10 + rdlen).ok_or(DnsError::Malformed("record data runs past the end"))?;
        at += 10 + rdlen;
        if class != CLASS_IN || addrs.len() == MAX_ADDRS {
            continue;
        }
        match (rtype, rdata.len()) {
            (QTYPE_A, 4) => addrs.push(IpAddr::V4(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]))),
            (QTYPE_AAAA, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(rdata);
                addrs.push(IpAddr::V6(Ipv6Addr::from(b)));
            }
            _ => {} // CNAME and others: the final A/AAAA records follow in the same section
        }
    }
    Ok(Some(addrs))
}

/// Asks each nameserver in turn for the A and AAAA records of `name`, sharing `timeout` between
/// them, and returns the addresses of the first server that answers both queries (IPv4 first).
///
/// # Errors
/// [`DnsError::Timeout`] if nobody answered in time, [`DnsError::Rcode`] if the last server
/// that answered said no, [`DnsError::BadName`] for an unqueryable name.
pub fn query(servers: &[SocketAddr], name: &str, timeout: Duration) -> Result<Vec<IpAddr>, DnsError> {
    let deadline = Instant::now() + timeout;
    let mut last_err = DnsError::Timeout;
    for (i, server) in servers.iter().enumerate() {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        // Give each remaining server an equal share of the remaining time.
        let share = (deadline - now) / (servers.len() - i) as u32;
        match query_one(*server, name, now + share) {
            Ok(addrs) => return Ok(addrs),
            Err(e @ DnsError::BadName { .. }) => return Err(e),
            Err(e) => {
                log::debug!("dns: {server} for {name}: {e}");
                last_err = e;
            }
        }
    }
    Err(last_err)
}

/// One A + one AAAA query to `server`, both in flight at once on one socket.
fn query_one(server: SocketAddr, name: &str, deadline: Instant) -> Result<Vec<IpAddr>, DnsError> {
    let mut ids = [0u8; 2];
    // A fixed id would make spoofing easier; if the OS has no randomness, the time will do.
    if getrandom::fill(&mut ids).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        ids = (nanos as u16).to_be_bytes();
    }
    let id_a = u16::from_be_bytes(ids);
    let id_aaaa = id_a.wrapping_add(1);
    let bind: SocketAddr =
        if server.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let sock = UdpSocket::bind(bind).map_err(DnsError::Io)?;
    sock.connect(server).map_err(DnsError::Io)?;
    sock.send(&encode_query(id_a, name, QTYPE_A)?).map_err(DnsError::Io)?;
    sock.send(&encode_query(id_aaaa, name, QTYPE_AAAA)?).map_err(DnsError::Io)?;

    let (mut v4, mut v6): (Option<Vec<IpAddr>>, Option<Vec<IpAddr>>) = (None, None);
    let mut buf = [0u8; MAX_RESPONSE_BYTES];
    while v4.is_none() || v6.is_none() {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        sock.set_read_timeout(Some(deadline - now)).map_err(DnsError::Io)?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => break,
            // ICMP port unreachable: nothing listens there. Try the next server.
            Err(e) => return Err(DnsError::Io(e)),
        };
        let reply = &buf[..n];
        if v4.is_none() {
            if let Some(a) = parse_response(reply, id_a)? {
                v4 = Some(a);
                continue;
            }
        }
        if v6.is_none() {
            if let Some(a) = parse_response(reply, id_aaaa)? {
                v6 = Some(a);
            }
        }
    }
    match (v4, v6) {
        (None, None) => Err(DnsError::Timeout),
        // One family answered and the other timed out: use what we have.
        (a, b) => {
            let mut all = a.unwrap_or_default();
            all.extend(b.unwrap_or_default());
            all.truncate(MAX_ADDRS);
            Ok(all)
        }
    }
}
