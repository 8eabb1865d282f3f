//! Everything that differs between the places nostrp2p runs: a phone under Termux, a phone
//! inside the APK, a Raspberry Pi (systemd), and a desktop Linux. This is the only module with
//! `cfg(target_os = ...)`; the rest of the crate calls these three functions:
//!
//! - [`init_logging`]: `log` records to logcat (`android_logger`) on a bionic Android build,
//!   to stderr ([`crate::logger`]) everywhere else: svlogd under termux-services, journald
//!   under systemd, the APK's log file. Level from `RUST_LOG` (`info` by default, `debug` with `-d`).
//! - [`default_data_dir`]: where the store lives when `--data-dir` is not given.
//! - [`resolve`]: `host:port` → addresses for `-b`, bounded by a timeout, working without
//!   `/etc/resolv.conf` (Android: Termux keeps it at `$PREFIX/etc/resolv.conf`, an APK has none,
//!   and a static musl binary would otherwise ask 127.0.0.1 and fail with EAI_AGAIN).
//!
//! Decisions are pure functions of their inputs (environment snapshots, file text) and are
//! unit-tested; the public functions only read the environment and files and do the IO.
//! Must not: read the clock or randomness for protocol purposes, touch protocol state.

pub mod dns;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// Public resolvers used when a host has no resolver configuration at all (an APK process):
/// the same defaults Termux writes into `$PREFIX/etc/resolv.conf`. Override with
/// `NOSTRP2P_DNS=ip[,ip]` (the APK's service sets it to the active network's DNS servers).
pub const FALLBACK_NAMESERVERS: [IpAddr; 2] =
    [IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)), IpAddr::V4(Ipv4Addr::new(8, 8, 4, 4))];
/// Longest `host:port` string accepted by [`resolve`] (a 253-byte name, `:`, 5 digits, brackets).
pub const MAX_HOST_PORT_LEN: usize = 262;
/// The system `resolv.conf`; if it exists, the system resolver (libc, nsswitch, /etc/hosts) is used.
const SYSTEM_RESOLV_CONF: &str = "/etc/resolv.conf";

// ---------------------------------------------------------------------------------------------
// Logging

/// Installs the process-wide logger. Call once, first thing in `main`; later calls do nothing.
///
/// Level: `RUST_LOG` if set (`error`..`trace`, `off`), else `debug` when `debug` is true (the
/// `-d` flag), else `info` (see [`crate::logger::level_from`]).
pub fn init_logging(debug: bool) {
    let level = crate::logger::level_from(std::env::var("RUST_LOG").ok().as_deref(), debug);
    install_logger(level);
}

/// Bionic Android build (cross-rs / NDK, or built inside Termux): logcat, `adb logcat -s nostrp2p`.
/// logcat stamps and tags every line itself.
#[cfg(target_os = "android")]
fn install_logger(level: log::LevelFilter) {
    android_logger::init_once(android_logger::Config::default().with_max_level(level).with_tag("nostrp2p"));
    log::set_max_level(level);
}

/// Everywhere else, including the static musl binary in Termux and in the APK: stderr, which
/// svlogd (termux-services), journald (systemd) and the APK's log file keep.
#[cfg(not(target_os = "android"))]
fn install_logger(level: log::LevelFilter) {
    crate::logger::init(level);
}

// ---------------------------------------------------------------------------------------------
// Data directory

/// Where this process runs, as far as the data directory and DNS care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// Inside Termux (`$PREFIX` under `com.termux`, or `TERMUX_VERSION` set).
    Termux,
    /// An Android app process (the APK): `ANDROID_ROOT` set, not Termux.
    AndroidApp,
    /// A systemd service with `StateDirectory=` (the Pi image).
    Systemd,
    /// Anything else: a desktop or server Linux.
    Linux,
}

/// Classifies the host from environment variables (`get` is `std::env::var` in production).
pub fn detect_host(get: &dyn Fn(&str) -> Option<String>) -> Host {
    let termux = get("TERMUX_VERSION").is_some() || get("PREFIX").is_some_and(|p| p.contains("/com.termux/"));
    if termux {
        Host::Termux
    } else if get("ANDROID_ROOT").is_some() || cfg!(target_os = "android") {
        Host::AndroidApp
    } else if get("STATE_DIRECTORY").is_some() {
        Host::Systemd
    } else {
        Host::Linux
    }
}

/// The data directory to use when `--data-dir` is not given: one per owner, so two servers for
/// two owners never share a store. `owner_hex16` is the first 16 hex digits of the owner's key.
///
/// - systemd (`StateDirectory=nostrp2p`, the Pi image): `$STATE_DIRECTORY/<owner>`
/// - Termux and Linux: `$XDG_DATA_HOME/nostrp2p/<owner>`, else `$HOME/.local/share/nostrp2p/<owner>`
///   (Termux: `/data/data/com.termux/files/home/.local/share/nostrp2p/<owner>`)
/// - an APK process: the working directory, which the service sets to the app's private
///   `filesDir` (and it passes `--data-dir` anyway): `./nostrp2p/<owner>`
pub fn default_data_dir(owner_hex16: &str) -> PathBuf {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    data_dir_for(detect_host(&get), &get, owner_hex16)
}

/// The pure part of [`default_data_dir`].
pub fn data_dir_for(host: Host, get: &dyn Fn(&str) -> Option<String>, owner_hex16: &str) -> PathBuf {
    let owner = sanitize_component(owner_hex16);
    let base = match host {
        // systemd may pass several directories separated by ':'; ours is the first.
        Host::Systemd => get("STATE_DIRECTORY").map(|d| PathBuf::from(d.split(':').next().unwrap_or(&d))),
        Host::Termux | Host::Linux => get("XDG_DATA_HOME")
            .map(|d| Path::new(&d).join("nostrp2p"))
            .or_else(|| get("HOME").map(|h| Path::new(&h).join(".local/share/nostrp2p"))),
        Host::AndroidApp => None,
    };
    base.unwrap_or_else(|| PathBuf::from("nostrp2p")).join(owner)
}

/// Keeps only `[0-9a-zA-Z]` so a key prefix can never climb out of the base directory.
fn sanitize_component(s: &str) -> String {
    let clean: String = s.chars().filter(char::is_ascii_alphanumeric).take(64).collect();
    if clean.is_empty() {
        "default".to_owned()
    } else {
        clean
    }
}

// ---------------------------------------------------------------------------------------------
// Name resolution

/// Why `host:port` gave no address.
#[derive(Debug)]
pub enum ResolveError {
    /// The text is not `host:port`, `ipv4:port` or `[ipv6]:port`.
    BadAddress {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The system resolver (libc, `/etc/resolv.conf`) failed.
    System {
        /// The host that was looked up.
        host: String,
        /// The libc error.
        source: io::Error,
    },
    /// Our own DNS client (used without `/etc/resolv.conf`) failed.
    Dns {
        /// The host that was looked up.
        host: String,
        /// Which nameservers were asked.
        servers: Vec<SocketAddr>,
        /// Why it failed.
        source: dns::DnsError,
    },
    /// The lookup did not finish within the timeout.
    Timeout {
        /// The host that was looked up.
        host: String,
        /// The timeout.
        after: Duration,
    },
    /// The lookup worked but the name has no IPv4 or IPv6 address.
    NoAddress {
        /// The host that was looked up.
        host: String,
    },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::BadAddress { input, reason } => {
                write!(f, "bad address {input:?}: {reason} (want host:port)")
            }
            ResolveError::System { host, source } => write!(f, "cannot resolve {host}: {source}"),
            ResolveError::Dns { host, servers, source } => {
                write!(f, "cannot resolve {host} via ")?;
                for (i, s) in servers.iter().enumerate() {
                    write!(f, "{}{s}", if i > 0 { ", " } else { "" })?;
                }
                write!(f, ": {source} (set NOSTRP2P_DNS=ip to choose a nameserver)")
            }
            ResolveError::Timeout { host, after } => {
                write!(f, "cannot resolve {host}: no answer within {after:?}")
            }
            ResolveError::NoAddress { host } => {
                write!(f, "cannot resolve {host}: it has no IPv4 or IPv6 address")
            }
        }
    }
}

impl std::error::Error for ResolveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ResolveError::System { source, .. } => Some(source),
            ResolveError::Dns { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Splits `host:port` / `[v6]:port` into host and port.
///
/// # Errors
/// [`ResolveError::BadAddress`] when the port is missing or not a number in 1..=65535, or the
/// text is too long.
pub fn split_host_port(input: &str) -> Result<(&str, u16), ResolveError> {
    let bad = |reason| ResolveError::BadAddress { input: input.to_owned(), reason };
    if input.len() > MAX_HOST_PORT_LEN {
        return Err(bad("too long"));
    }
    let (host, port) = if let Some(rest) = input.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("missing ']'"))?;
        (host, after.strip_prefix(':').ok_or_else(|| bad("missing :port"))?)
    } else {
        let (host, port) = input.rsplit_once(':').ok_or_else(|| bad("missing :port"))?;
        if host.contains(':') {
            return Err(bad("IPv6 addresses need brackets: [addr]:port"));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(bad("empty host"));
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok((host, p)),
        _ => Err(bad("port is not a number in 1..65535")),
    }
}

/// Where a name lookup should go, decided from what exists on this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolverChoice {
    /// libc's resolver: `/etc/resolv.conf` exists (Pi, desktop Linux, bionic builds).
    System,
    /// Our own stub client, asking these nameservers.
    Nameservers(Vec<SocketAddr>),
}

/// Chooses the resolver. `NOSTRP2P_DNS` (comma-separated IPs) wins; then `/etc/resolv.conf`
/// (system resolver); then `$PREFIX/etc/resolv.conf` (Termux); then [`FALLBACK_NAMESERVERS`].
/// `read` returns a file's text, `get` an environment variable.
pub fn choose_resolver(get: &dyn Fn(&str) -> Option<String>, read: &dyn Fn(&Path) -> Option<String>) -> ResolverChoice {
    let with_port = |ips: Vec<IpAddr>| ips.into_iter().map(|ip| SocketAddr::new(ip, dns::DNS_PORT)).collect::<Vec<_>>();
    if let Some(list) = get("NOSTRP2P_DNS") {
        let ips: Vec<IpAddr> =
            list.split(',').filter_map(|s| s.trim().parse().ok()).take(dns::MAX_NAMESERVERS).collect();
        if !ips.is_empty() {
            return ResolverChoice::Nameservers(with_port(ips));
        }
    }
    // Bionic uses Android's resolver daemon and needs no file at all.
    if cfg!(target_os = "android")
        || read(Path::new(SYSTEM_RESOLV_CONF)).is_some_and(|t| !dns::parse_resolv_conf(&t).is_empty())
    {
        return ResolverChoice::System;
    }
    if let Some(prefix) = get("PREFIX") {
        if let Some(text) = read(&Path::new(&prefix).join("etc/resolv.conf")) {
            let ips = dns::parse_resolv_conf(&text);
            if !ips.is_empty() {
                return ResolverChoice::Nameservers(with_port(ips));
            }
        }
    }
    ResolverChoice::Nameservers(with_port(FALLBACK_NAMESERVERS.to_vec()))
}

/// Resolves `host:port` (an IP literal, `localhost`, or a DNS name) within `timeout`.
/// IP literals never touch the network. Names go to the system resolver when
/// `/etc/resolv.conf` exists, else to our own DNS client (see [`choose_resolver`]).
///
/// Blocks the calling thread for up to `timeout`: from async code, call it through
/// `smol::unblock(move || platform::resolve(&peer, timeout))`.
///
/// # Errors
/// See [`ResolveError`]; each variant says what failed and why.
pub fn resolve(host_port: &str, timeout: Duration) -> Result<Vec<SocketAddr>, ResolveError> {
    let (host, port) = split_host_port(host_port)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(vec![
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port),
        ]);
    }
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let addrs = match choose_resolver(&get, &read) {
        ResolverChoice::System => resolve_system(host, port, timeout)?,
        ResolverChoice::Nameservers(servers) => resolve_with(&servers, host, port, timeout)?,
    };
    if addrs.is_empty() {
        return Err(ResolveError::NoAddress { host: host.to_owned() });
    }
    Ok(addrs)
}

/// Resolves `host` through our DNS client against `servers` (also used by tests with a fake
/// nameserver on 127.0.0.1).
///
/// # Errors
/// [`ResolveError::Dns`] with the servers asked and the cause.
pub fn resolve_with(
    servers: &[SocketAddr],
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, ResolveError> {
    match dns::query(servers, host, timeout) {
        Ok(ips) => Ok(ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect()),
        Err(source) => Err(ResolveError::Dns { host: host.to_owned(), servers: servers.to_vec(), source }),
    }
}

/// libc's `getaddrinfo` has no timeout, so it runs on a helper thread that we stop waiting for
/// after `timeout` (the thread then finishes on its own and its answer is dropped).
fn resolve_system(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, ResolveError> {
    let (tx, rx) = mpsc::sync_channel(1);
    let name = host.to_owned();
    let spawned = std::thread::Builder::new().name("resolve".into()).spawn(move || {
        let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Iterator::collect::<Vec<_>>));
    });
    if let Err(source) = spawned {
        return Err(ResolveError::System { host: host.to_owned(), source });
    }
    match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(source)) => Err(ResolveError::System { host: host.to_owned(), source }),
        Err(_) => Err(ResolveError::Timeout { host: host.to_owned(), after: timeout }),
    }
}

#[cfg(test)]
mod tests;
