//! The command line, compatible with the original Go server's flags (original spec §1).
//!
//! Pure: [`parse`] turns arguments into a [`Command`] or a [`CliError`] that says what is
//! wrong and how to fix it; `main` does the printing and exiting.

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::keys::PublicKey;
use crate::limits::{DEFAULT_STORE_MIB, MAX_STORE_MIB, MIN_STORE_MIB};
use crate::wire::DeliveryMode;

/// The original's default overlay address; HTTP listens on its port + 1.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:20000";

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `nostrp2p server ...`
    Server(ServerConfig),
    /// `nostrp2p genkey`
    GenKey,
    /// `nostrp2p authorize-node <nsec-or-hex> <node-key-hex> [days]`: print the owner's signed
    /// authorisation of a server's node key (run where the secret key lives, not on the server).
    AuthorizeNode {
        /// The owner's secret key as given (parsed by `main`, never stored).
        owner_secret: String,
        /// The server's node key (64 hex characters, printed in its log at start).
        node_key: String,
        /// Validity in days.
        days: u64,
    },
    /// `--help` (of the whole program or of a subcommand): print this text.
    Help(&'static str),
    /// `--version`, or no subcommand at all (the original printed its version then).
    Version,
}

/// Settings of `nostrp2p server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The owner: only their events are accepted through `/publish` (unless `accept_any_author`).
    pub owner: PublicKey,
    /// Overlay TCP address (`-l`).
    pub listen: SocketAddr,
    /// HTTP API address: the listen address with port + 1.
    pub http: SocketAddr,
    /// Bootstrap peer `host:port` (`-b`), resolved when the overlay starts.
    pub boot_peer: Option<String>,
    /// `false` answers every `/publish` with 406 (`-w=false`).
    pub writable: bool,
    /// Debug logging (`-d`).
    pub debug: bool,
    /// Where the event log lives; `None` = the platform default for this owner.
    pub data_dir: Option<PathBuf>,
    /// In-memory store budget in MiB.
    pub store_mib: u64,
    /// Accept events of any author through `/publish`, as the original did.
    pub accept_any_author: bool,
    /// `--delivery`: which broadcasts this node's server receives (docs/scaling.md "Delivery").
    pub delivery: DeliveryMode,
    /// `--directory`: broadcast (every core holds every record), ring, or auto (broadcast in a
    /// small network, the ring from `RING_ON_NODES`; docs/scaling.md).
    pub directory: crate::overlay::DirectoryMode,
}

/// Why the command line is not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliError {}

impl From<lexopt::Error> for CliError {
    fn from(e: lexopt::Error) -> CliError {
        CliError(e.to_string())
    }
}

/// Help for the whole program.
pub const HELP: &str = "\
nostrp2p: a peer-to-peer Nostr microblog server for a spare phone or a Raspberry Pi

Usage:
  nostrp2p server -p <npub-or-hex> [options]   run your server
  nostrp2p genkey                              make a new key pair (keep the secret in your client)
  nostrp2p authorize-node <nsec> <node-key-hex> [days]
                                               authorise your server's node key (run it where
                                               your secret key lives, not on the server)
  nostrp2p --version | --help

Run `nostrp2p server --help` for the server's options.
";

/// Help for `nostrp2p authorize-node`.
pub const AUTHORIZE_HELP: &str = "\
Usage: nostrp2p authorize-node <nsec-or-hex> <node-key-hex> [days]

Prints the owner's signed authorisation (a Nostr event) of a server's node key. Run it where
your secret key lives (not on the server) and copy the output to <data dir>/node-auth.json on
the server. The node key is printed in the server's log at start. Without it the server still
works: its node id is then held first-come by its node key (see docs/overlay.md).
";

/// Help for `nostrp2p server`.
pub const SERVER_HELP: &str = "\
Usage: nostrp2p server -p <npub-or-hex> [options]

Options:
  -p, --public-key <KEY>        the owner's public key, npub1... or 64 hex characters (required)
  -l, --listen-addr-port <A:P>  overlay address [default: 127.0.0.1:20000]; the HTTP API for
                                your client listens on port + 1 (use 0.0.0.0 to reach it from
                                your phone, e.g. over Tailscale)
  -b, --boot-peer-addr-port <H:P>  overlay address of a node already in the network
  -w, --writable <true|false>   accept /publish [default: true]; `-w false` makes a read-only node
  -d, --debug                   debug logging (or set RUST_LOG=debug)
  -s, --ssl                     not built in: use `tailscale serve` for HTTPS (see README)
      --data-dir <DIR>          where events are kept [default: per owner, see README]
      --store-mib <N>           memory budget of the event store in MiB [default: 32]
      --accept-any-author       accept events signed by anyone through /publish (the original's
                                behaviour); by default only the owner's events are accepted
      --delivery <broadcast|follow|auto>  which posts reach this server [default: auto]:
                                everyone's (broadcast), only those of the people you follow
                                and those addressed to you (follow), or broadcast until the
                                network has about 1,000 nodes, then follow, with a public
                                sample for those who follow nobody yet (auto; see README)
      --directory <broadcast|ring|auto>  how node records are found [default: auto]: every
                                core holds every record (broadcast), each record is held by
                                3 cores on an id ring and looked up (ring; every node of one
                                network should then use it), or broadcast until the network has
                                about 2,000 nodes, both until about 12,000, then ring (auto;
                                see README)
  -h, --help                    this help
";

/// Parses the arguments after the program name.
///
/// # Errors
/// [`CliError`] with a message that names the flag and what to do.
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Command, CliError> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    match p.next()? {
        None => Ok(Command::Version),
        Some(Long("version") | Short('V')) => Ok(Command::Version),
        Some(Long("help") | Short('h')) => Ok(Command::Help(HELP)),
        Some(Value(v)) if v == "server" => parse_server(p),
        Some(Value(v)) if v == "genkey" => match p.next()? {
            None => Ok(Command::GenKey),
            Some(Long("help") | Short('h')) => Ok(Command::Help(
                "Usage: nostrp2p genkey\n\nPrints a new secret key (nsec) and its public key (npub), also in hex.\n",
            )),
            Some(other) => Err(other.unexpected().into()),
        },
        Some(Value(v)) if v == "authorize-node" => {
            let usage = "usage: nostrp2p authorize-node <nsec-or-hex> <node-key-hex> [days, default 365]";
            let mut free = Vec::new();
            while let Some(arg) = p.next()? {
                match arg {
                    Value(v) => free.push(string(v, "authorize-node")?),
                    Long("help") | Short('h') => return Ok(Command::Help(AUTHORIZE_HELP)),
                    other => return Err(CliError(format!("{} ({usage})", other.unexpected()))),
                }
            }
            match free.as_slice() {
                [secret, key] => {
                    Ok(Command::AuthorizeNode { owner_secret: secret.clone(), node_key: key.clone(), days: 365 })
                }
                [secret, key, days] => Ok(Command::AuthorizeNode {
                    owner_secret: secret.clone(),
                    node_key: key.clone(),
                    days: days.parse().map_err(|_| CliError(format!("days {days:?} is not a number ({usage})")))?,
                }),
                _ => Err(CliError(usage.into())),
            }
        }
        Some(Value(v)) if v == "help" => Ok(Command::Help(HELP)),
        Some(Value(v)) => Err(CliError(format!(
            "unknown command {:?}; expected `server` or `genkey` (see `nostrp2p --help`)",
            v.to_string_lossy()
        ))),
        Some(other) => Err(other.unexpected().into()),
    }
}

fn parse_server(mut p: lexopt::Parser) -> Result<Command, CliError> {
    use lexopt::prelude::*;
    let mut owner = None;
    let mut listen = DEFAULT_LISTEN.to_string();
    let mut boot_peer = None;
    let mut writable = true;
    let mut debug = false;
    let mut data_dir = None;
    let mut store_mib = DEFAULT_STORE_MIB;
    let mut accept_any_author = false;
    let mut delivery = DeliveryMode::Auto;
    let mut directory = crate::overlay::DirectoryMode::Auto;
    while let Some(arg) = p.next()? {
        match arg {
            Short('p') | Long("public-key") => {
                let v = string(p.value()?, "--public-key")?;
                owner = Some(PublicKey::parse(&v).map_err(|e| {
                    CliError(format!("--public-key {v:?} is not a public key: {e}. Give your npub1... key (from `nostrp2p genkey` or your client) or its 64-character hex form"))
                })?);
            }
            Short('l') | Long("listen-addr-port") => listen = string(p.value()?, "--listen-addr-port")?,
            Short('b') | Long("boot-peer-addr-port") => {
                let v = string(p.value()?, "--boot-peer-addr-port")?;
                check_host_port(&v)?;
                boot_peer = Some(v);
            }
            Short('w') | Long("writable") => writable = bool_flag(&mut p, "--writable")?,
            Short('d') | Long("debug") => debug = bool_flag(&mut p, "--debug")?,
            Short('s') | Long("ssl") => {
                if bool_flag(&mut p, "--ssl")? {
                    return Err(CliError(
                        "--ssl is not built into nostrp2p. For HTTPS, keep the server on plain HTTP and run \
                         `tailscale serve --bg <http-port>` on the same machine; \
                         your client then uses https://<machine>.<tailnet>.ts.net (see README, \"Point the client at your server over Tailscale\")"
                            .into(),
                    ));
                }
            }
            Long("data-dir") => data_dir = Some(PathBuf::from(p.value()?)),
            Long("store-mib") => {
                let v = string(p.value()?, "--store-mib")?;
                store_mib =
                    v.parse::<u64>().ok().filter(|n| (MIN_STORE_MIB..=MAX_STORE_MIB).contains(n)).ok_or_else(|| {
                        CliError(format!(
                            "--store-mib {v:?}: expected a whole number from {MIN_STORE_MIB} to {MAX_STORE_MIB}"
                        ))
                    })?;
            }
            Long("accept-any-author") => accept_any_author = bool_flag(&mut p, "--accept-any-author")?,
            Long("delivery") => {
                let v = string(p.value()?, "--delivery")?;
                delivery = DeliveryMode::from_name(&v)
                    .ok_or_else(|| CliError(format!("--delivery {v:?}: expected broadcast, follow or auto")))?;
            }
            Long("directory") => {
                let v = string(p.value()?, "--directory")?;
                directory = crate::overlay::DirectoryMode::from_name(&v)
                    .ok_or_else(|| CliError(format!("--directory {v:?}: expected broadcast, ring or auto")))?;
            }
            Short('h') | Long("help") => return Ok(Command::Help(SERVER_HELP)),
            other => return Err(CliError(format!("{} (see `nostrp2p server --help`)", other.unexpected()))),
        }
    }
    let owner = owner.ok_or_else(|| {
        CliError(
            "the owner's public key is required: nostrp2p server -p <npub1...>. \
             Make one with `nostrp2p genkey` or copy it from your client's settings"
                .into(),
        )
    })?;
    let listen: SocketAddr = listen.parse().map_err(|_| {
        CliError(format!(
            "--listen-addr-port {listen:?} is not an IP:port address, e.g. 127.0.0.1:20000 or 0.0.0.0:20000"
        ))
    })?;
    let http_port = listen.port().checked_add(1).filter(|_| listen.port() != 0).ok_or_else(|| {
        CliError(format!(
            "--listen-addr-port {listen}: the HTTP API needs port + 1, so the port must be between 1 and 65534"
        ))
    })?;
    let http = SocketAddr::new(listen.ip(), http_port);
    Ok(Command::Server(ServerConfig {
        owner,
        listen,
        http,
        boot_peer,
        writable,
        debug,
        data_dir,
        store_mib,
        accept_any_author,
        delivery,
        directory,
    }))
}

fn string(v: OsString, flag: &str) -> Result<String, CliError> {
    v.into_string().map_err(|v| CliError(format!("{flag} {v:?} is not valid UTF-8")))
}

/// A boolean flag: `-w`, `-w=false`, `--writable=false`, and `-w false` / `--writable false`
/// (cobra only took the `=` form; both work here).
fn bool_flag(p: &mut lexopt::Parser, flag: &str) -> Result<bool, CliError> {
    let value = match p.optional_value() {
        Some(v) => Some(string(v, flag)?),
        None => {
            let next = p.try_raw_args().and_then(|mut raw| {
                raw.next_if(|a| matches!(a.to_str().map(str::to_ascii_lowercase).as_deref(), Some("true" | "false")))
            });
            next.map(|v| string(v, flag)).transpose()?
        }
    };
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(CliError(format!("{flag} takes true or false, not {:?}", value.unwrap_or_default()))),
    }
}

fn check_host_port(v: &str) -> Result<(), CliError> {
    let bad = || {
        CliError(format!("--boot-peer-addr-port {v:?} is not host:port, e.g. 203.0.113.5:20000 or node.example:20000"))
    };
    let (host, port) = v.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NPUB_A: &str = "npub1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmus6gq266";
    const HEX_A: &str = "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9";

    fn run(args: &str) -> Result<Command, CliError> {
        parse(args.split_whitespace().map(OsString::from))
    }

    fn server(args: &str) -> ServerConfig {
        match run(args) {
            Ok(Command::Server(c)) => c,
            other => panic!("{args}: {other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_original() {
        let c = server(&format!("server -p {NPUB_A}"));
        assert_eq!(c.owner, PublicKey::parse(HEX_A).expect("hex"));
        assert_eq!(c.listen.to_string(), "127.0.0.1:20000");
        assert_eq!(c.http.to_string(), "127.0.0.1:20001");
        assert!(c.writable && !c.debug && !c.accept_any_author);
        assert_eq!(c.boot_peer, None);
        assert_eq!(c.store_mib, DEFAULT_STORE_MIB);
        assert_eq!(c.delivery, DeliveryMode::Auto);
        assert_eq!(c.directory, crate::overlay::DirectoryMode::Auto);
    }

    #[test]
    fn directory_takes_three_words() {
        use crate::overlay::DirectoryMode;
        for m in [DirectoryMode::Broadcast, DirectoryMode::Ring, DirectoryMode::Auto] {
            assert_eq!(server(&format!("server -p {NPUB_A} --directory {}", m.as_str())).directory, m);
        }
        let e = run(&format!("server -p {NPUB_A} --directory dht")).expect_err("bad mode").0;
        assert!(e.contains("broadcast, ring or auto"), "{e}");
    }

    #[test]
    fn delivery_takes_three_words() {
        for (w, m) in
            [("broadcast", DeliveryMode::Broadcast), ("follow", DeliveryMode::Follow), ("auto", DeliveryMode::Auto)]
        {
            assert_eq!(server(&format!("server -p {NPUB_A} --delivery {w}")).delivery, m);
        }
        let e = run(&format!("server -p {NPUB_A} --delivery everyone")).expect_err("bad mode").0;
        assert!(e.contains("broadcast, follow or auto"), "{e}");
    }

    #[test]
    fn all_flags_long_and_short() {
        let c =
            server(&format!("server -l 0.0.0.0:20002 -b 10.0.0.1:20000 -p {HEX_A} -d --data-dir /tmp/x --store-mib 8"));
        assert_eq!(c.http.to_string(), "0.0.0.0:20003");
        assert_eq!(c.boot_peer.as_deref(), Some("10.0.0.1:20000"));
        assert!(c.debug);
        assert_eq!(c.data_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(c.store_mib, 8);
        let c = server(&format!(
            "server --listen-addr-port [::1]:30000 --boot-peer-addr-port peer.example:1 --public-key {NPUB_A}"
        ));
        assert_eq!(c.http.to_string(), "[::1]:30001");
    }

    #[test]
    fn writable_false_in_every_spelling() {
        for f in ["-w=false", "--writable=false", "-w false", "--writable false", "-wfalse", "-w FALSE"] {
            assert!(!server(&format!("server -p {NPUB_A} {f}")).writable, "{f}");
        }
        for f in ["-w", "-w=true", "--writable true", ""] {
            assert!(server(&format!("server -p {NPUB_A} {f}")).writable, "{f}");
        }
        // `-w` followed by another flag does not swallow it.
        assert!(server(&format!("server -w -d -p {NPUB_A}")).debug);
        assert!(run(&format!("server -p {NPUB_A} -w=maybe")).is_err());
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = run("server").expect_err("no key").0;
        assert!(e.contains("public key is required") && e.contains("genkey"), "{e}");
        let e = run("server -p npub1nope").expect_err("bad key").0;
        assert!(e.contains("not a public key"), "{e}");
        let e = run("server -p f9308a01").expect_err("short hex").0;
        assert!(e.contains("not a public key"), "{e}");
        let e = run(&format!("server -p {NPUB_A} -s")).expect_err("ssl").0;
        assert!(e.contains("tailscale serve"), "{e}");
        let e = run(&format!("server -p {NPUB_A} -l 127.0.0.1:65535")).expect_err("port").0;
        assert!(e.contains("port + 1"), "{e}");
        let e = run(&format!("server -p {NPUB_A} -l localhost")).expect_err("addr").0;
        assert!(e.contains("IP:port"), "{e}");
        let e = run(&format!("server -p {NPUB_A} -b nohost")).expect_err("boot").0;
        assert!(e.contains("host:port"), "{e}");
        let e = run(&format!("server -p {NPUB_A} --store-mib 0")).expect_err("mib").0;
        assert!(e.contains("--store-mib"), "{e}");
        let e = run(&format!("server -p {NPUB_A} --frobnicate")).expect_err("unknown").0;
        assert!(e.contains("frobnicate") && e.contains("--help"), "{e}");
        assert!(run("serve").expect_err("typo").0.contains("unknown command"));
        assert!(run(&format!("server -p {NPUB_A} -s=false")).is_ok());
    }

    #[test]
    fn other_commands() {
        assert_eq!(run("").expect("empty"), Command::Version);
        assert_eq!(run("--version").expect("v"), Command::Version);
        assert_eq!(run("genkey").expect("genkey"), Command::GenKey);
        assert_eq!(run("--help").expect("help"), Command::Help(HELP));
        assert_eq!(run("server --help").expect("help"), Command::Help(SERVER_HELP));
        assert!(run("genkey extra").is_err());
    }
}
