//! `nostrp2p`: parse arguments, set up logging, run the driver (`driver::serve`).
//!
//! Exit codes: 0 after a clean stop (SIGINT/SIGTERM), 1 for a fault while running (the
//! message says what failed), 2 for a bad command line.

use std::process::ExitCode;

use nostrp2p::cli::{self, Command, ServerConfig};
use nostrp2p::driver::{self, VERSION};
use nostrp2p::keys::SecretKey;
use nostrp2p::platform;

fn main() -> ExitCode {
    match cli::parse(std::env::args_os().skip(1)) {
        Err(e) => {
            eprintln!("nostrp2p: {e}");
            ExitCode::from(2)
        }
        Ok(Command::Version) => {
            println!("nostrp2p {VERSION}");
            ExitCode::SUCCESS
        }
        Ok(Command::Help(text)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Ok(Command::GenKey) => genkey(),
        Ok(Command::AuthorizeNode { owner_secret, node_key, days }) => authorize_node(&owner_secret, &node_key, days),
        Ok(Command::Server(cfg)) => server(cfg),
    }
}

/// Prints a new key pair in the original's exact layout (original spec §1.2).
fn genkey() -> ExitCode {
    let key = loop {
        let mut bytes = [0u8; 32];
        if let Err(e) = getrandom::fill(&mut bytes) {
            eprintln!("nostrp2p: the system random source failed: {e}");
            return ExitCode::FAILURE;
        }
        // Fails only for zero or ≥ the curve order (probability ≈ 2^-128): draw again.
        if let Ok(k) = SecretKey::from_bytes(bytes) {
            break k;
        }
    };
    let pk = key.public_key();
    print!(
        "Secret Key:\n{}\nSecret Key (In Hex Representation): \n{}\nPublic Key:\n{}\nPublic key (In Hex Representation): \n{}\n\nPlease keep the secret key secret.\nThe key is used only at NostrP2P client as your identity.\n",
        key.to_nsec(),
        key.to_hex(),
        pk.to_npub(),
        pk.to_hex()
    );
    ExitCode::SUCCESS
}

/// Prints the owner's authorisation of a node key (docs/overlay.md "Identity").
fn authorize_node(secret: &str, node_key: &str, days: u64) -> ExitCode {
    let (Ok(key), Ok(node)) = (SecretKey::parse(secret), nostrp2p::hex::decode_array::<32>(node_key.trim())) else {
        eprintln!("nostrp2p: expected an nsec (or 64 hex) secret key and a 64-hex node key");
        return ExitCode::from(2);
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let node = nostrp2p::wire::Key32(node);
    match nostrp2p::overlay::crypto::make_delegation(key.to_bytes(), &node, now, now + days * 86_400) {
        Some(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("nostrp2p: invalid secret key");
            ExitCode::from(2)
        }
    }
}

fn server(cfg: ServerConfig) -> ExitCode {
    platform::init_logging(cfg.debug);
    let data_dir =
        cfg.data_dir.clone().unwrap_or_else(|| platform::default_data_dir(&cfg.owner.node_id().to_dir_name()));
    match driver::serve(cfg, data_dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            eprintln!("nostrp2p: {e}");
            ExitCode::FAILURE
        }
    }
}
