//! Tests for `platform` and `platform::dns`: the pure decisions with table inputs, and the DNS
//! client against a fake nameserver on 127.0.0.1 (never any other address).

use super::dns::{self, DnsError};
use super::*;
use std::collections::HashMap;
use std::net::UdpSocket;
use std::time::Instant;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| map.get(k).cloned()
}

#[test]
fn host_detection() {
    assert_eq!(
        detect_host(&env(&[("PREFIX", "/data/data/com.termux/files/usr"), ("ANDROID_ROOT", "/system")])),
        Host::Termux
    );
    assert_eq!(detect_host(&env(&[("TERMUX_VERSION", "0.118.0")])), Host::Termux);
    assert_eq!(detect_host(&env(&[("STATE_DIRECTORY", "/var/lib/nostrp2p")])), Host::Systemd);
    if !cfg!(target_os = "android") {
        assert_eq!(detect_host(&env(&[("ANDROID_ROOT", "/system")])), Host::AndroidApp);
        assert_eq!(detect_host(&env(&[("HOME", "/home/u")])), Host::Linux);
    }
}

#[test]
fn data_dirs() {
    let owner = "f9308a019258c310";
    let termux_home = "/data/data/com.termux/files/home";
    assert_eq!(
        data_dir_for(Host::Termux, &env(&[("HOME", termux_home)]), owner),
        PathBuf::from("/data/data/com.termux/files/home/.local/share/nostrp2p/f9308a019258c310")
    );
    assert_eq!(
        data_dir_for(Host::Linux, &env(&[("HOME", "/home/u"), ("XDG_DATA_HOME", "/x")]), owner),
        PathBuf::from("/x/nostrp2p/f9308a019258c310")
    );
    assert_eq!(
        data_dir_for(Host::Systemd, &env(&[("STATE_DIRECTORY", "/var/lib/nostrp2p:/var/lib/other")]), owner),
        PathBuf::from("/var/lib/nostrp2p/f9308a019258c310")
    );
    assert_eq!(data_dir_for(Host::AndroidApp, &env(&[]), owner), PathBuf::from("nostrp2p/f9308a019258c310"));
    // A hostile owner string cannot escape the base directory.
    assert_eq!(data_dir_for(Host::AndroidApp, &env(&[]), "../../etc"), PathBuf::from("nostrp2p/etc"));
    assert_eq!(data_dir_for(Host::Linux, &env(&[]), "/"), PathBuf::from("nostrp2p/default"));
}

#[test]
fn host_port_splitting() {
    assert_eq!(split_host_port("example.org:20000").unwrap(), ("example.org", 20000));
    assert_eq!(split_host_port("10.1.2.3:1").unwrap(), ("10.1.2.3", 1));
    assert_eq!(split_host_port("[fd7a:115c::1]:20000").unwrap(), ("fd7a:115c::1", 20000));
    for bad in ["example.org", "example.org:", ":20000", "host:0", "host:70000", "fd7a::1:20000", "[::1]20000", "[::1"]
    {
        let err = split_host_port(bad).expect_err(bad);
        assert!(err.to_string().contains(bad), "{err}");
    }
    assert!(split_host_port(&format!("{}:1", "a".repeat(MAX_HOST_PORT_LEN))).is_err());
}

#[test]
fn ip_literals_and_localhost_resolve_offline() {
    let t = Duration::from_millis(1);
    assert_eq!(resolve("127.0.0.1:20000", t).unwrap(), vec!["127.0.0.1:20000".parse().unwrap()]);
    assert_eq!(resolve("[::1]:5", t).unwrap(), vec!["[::1]:5".parse().unwrap()]);
    assert_eq!(resolve("LocalHost:7", t).unwrap().len(), 2);
    assert!(matches!(resolve("nope", t), Err(ResolveError::BadAddress { .. })));
}

#[test]
fn resolver_choice() {
    fn files<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&Path) -> Option<String> + 'a {
        move |p: &Path| pairs.iter().find(|(name, _)| Path::new(name) == p).map(|(_, t)| t.to_string())
    }
    let ns = |ips: &[&str]| {
        ResolverChoice::Nameservers(ips.iter().map(|i| SocketAddr::new(i.parse().unwrap(), 53)).collect())
    };
    let termux = env(&[("PREFIX", "/data/data/com.termux/files/usr")]);
    let termux_conf = ("/data/data/com.termux/files/usr/etc/resolv.conf", "nameserver 9.9.9.9\n");
    if cfg!(target_os = "android") {
        return; // bionic always uses the system resolver
    }
    // Linux with a resolv.conf: the system resolver.
    assert_eq!(
        choose_resolver(&env(&[]), &files(&[("/etc/resolv.conf", "nameserver 127.0.0.53\n")])),
        ResolverChoice::System
    );
    // Termux: its own file.
    assert_eq!(choose_resolver(&termux, &files(&[termux_conf])), ns(&["9.9.9.9"]));
    // APK: nothing at all -> fallback; NOSTRP2P_DNS overrides everything.
    assert_eq!(choose_resolver(&env(&[]), &files(&[])), ns(&["8.8.8.8", "8.8.4.4"]));
    assert_eq!(
        choose_resolver(&env(&[("NOSTRP2P_DNS", "1.1.1.1, junk,2606:4700::1111")]), &files(&[])),
        ns(&["1.1.1.1", "2606:4700::1111"])
    );
    // An empty /etc/resolv.conf is as good as none.
    assert_eq!(choose_resolver(&termux, &files(&[("/etc/resolv.conf", "# empty\n"), termux_conf])), ns(&["9.9.9.9"]));
}

#[test]
fn resolv_conf_parsing() {
    let text = "# generated\nsearch lan\nnameserver 8.8.8.8 # google\nnameserver  2001:4860:4860::8888\n\
                nameserver fe80::1%wlan0\nnameserver 8.8.8.8\n;nameserver 1.2.3.4\nnameserver 9.9.9.9\nnameserver 1.1.1.1\n";
    let got: Vec<String> = dns::parse_resolv_conf(text).iter().map(ToString::to_string).collect();
    assert_eq!(got, ["8.8.8.8", "2001:4860:4860::8888", "9.9.9.9"]);
    assert!(dns::parse_resolv_conf("").is_empty());
}

#[test]
fn query_encoding() {
    let q = dns::encode_query(0xBEEF, "ab.c.", dns::QTYPE_AAAA).unwrap();
    assert_eq!(q, [0xBE, 0xEF, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, b'a', b'b', 1, b'c', 0, 0, 28, 0, 1]);
    for bad in ["", ".", "a..b", &"x".repeat(64), &["abc"; 70].join(".")] {
        assert!(matches!(dns::encode_query(1, bad, dns::QTYPE_A), Err(DnsError::BadName { .. })), "{bad}");
    }
}

/// A response to `query` carrying a CNAME (compressed name) and then the given addresses.
fn answer(query: &[u8], rcode: u8, addrs: &[IpAddr]) -> Vec<u8> {
    let mut r = query.to_vec();
    r[2] = 0x81; // QR=1, RD=1
    r[3] = 0x80 | rcode; // RA=1
    r[7] = 1 + addrs.len() as u8; // ANCOUNT
                                  // CNAME: name = pointer to the question (offset 12), rdata = "x" + pointer to offset 12.
    r.extend_from_slice(&[0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, b'x', 0xC0, 12]);
    for ip in addrs {
        let (t, data) = match ip {
            IpAddr::V4(v4) => (dns::QTYPE_A, v4.octets().to_vec()),
            IpAddr::V6(v6) => (dns::QTYPE_AAAA, v6.octets().to_vec()),
        };
        r.extend_from_slice(&[0xC0, 12]);
        r.extend_from_slice(&t.to_be_bytes());
        r.extend_from_slice(&[0, 1, 0, 0, 0, 60, 0, data.len() as u8]);
        r.extend_from_slice(&data);
    }
    r
}

#[test]
fn response_parsing() {
    let q = dns::encode_query(7, "peer.example", dns::QTYPE_A).unwrap();
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    assert_eq!(dns::parse_response(&answer(&q, 0, &[ip]), 7).unwrap(), Some(vec![ip]));
    assert_eq!(dns::parse_response(&answer(&q, 0, &[ip]), 8).unwrap(), None, "other id");
    assert_eq!(dns::parse_response(&q, 7).unwrap(), None, "a query is not a response");
    assert!(matches!(dns::parse_response(&answer(&q, 3, &[]), 7), Err(DnsError::Rcode(3))));
    // Every truncation of a valid response is an error or a shorter answer, never a panic.
    let full = answer(&q, 0, &[ip, "2001:db8::7".parse().unwrap()]);
    for n in 0..full.len() {
        let _ = dns::parse_response(&full[..n], 7);
    }
    // A compression pointer loop is rejected.
    let mut looped = answer(&q, 0, &[ip]);
    looped[12] = 0xC0;
    looped[13] = 12;
    assert!(matches!(dns::parse_response(&looped, 7), Err(DnsError::Malformed(_))));
}

/// A fake nameserver on 127.0.0.1 that answers `n` datagrams with `addrs`, or never answers.
fn fake_nameserver(addrs: Vec<IpAddr>, n: usize) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let at = sock.local_addr().unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        for _ in 0..n {
            let Ok((len, from)) = sock.recv_from(&mut buf) else {
                return;
            };
            let q = &buf[..len];
            let qtype = u16::from_be_bytes([q[len - 4], q[len - 3]]);
            let want: Vec<IpAddr> = addrs.iter().copied().filter(|a| a.is_ipv4() == (qtype == dns::QTYPE_A)).collect();
            sock.send_to(&answer(q, 0, &want), from).unwrap();
        }
    });
    at
}

#[test]
fn dns_client_against_fake_nameserver() {
    let v4: IpAddr = "192.0.2.1".parse().unwrap();
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    let server = fake_nameserver(vec![v4, v6], 2);
    let got = resolve_with(&[server], "peer.example", 20000, Duration::from_secs(3)).unwrap();
    assert_eq!(got, vec![SocketAddr::new(v4, 20000), SocketAddr::new(v6, 20000)]);
}

#[test]
fn dns_client_times_out_then_tries_next_server() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap(); // bound, never answers
    let silent_at = silent.local_addr().unwrap();
    let start = Instant::now();
    let err = resolve_with(&[silent_at], "peer.example", 1, Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err, ResolveError::Dns { source: DnsError::Timeout, .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2), "bounded by the timeout");
    assert!(err.to_string().contains(&silent_at.to_string()), "{err}");

    let good = fake_nameserver(vec!["192.0.2.2".parse().unwrap()], 2);
    let got = resolve_with(&[silent_at, good], "peer.example", 2, Duration::from_secs(2)).unwrap();
    assert_eq!(got, vec!["192.0.2.2:2".parse().unwrap()]);
}
