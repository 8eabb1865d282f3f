//! What the overlay runtime keeps in the data dir besides the store: the node key
//! (`node.key`, created on first start: zero configuration), the owner's optional
//! authorisation of it (`node-auth.json`, docs/overlay.md "Identity") and the application's
//! resend queue and mailbox snapshots, and (ring directory) the records this core holds. Plain file IO at start and at persist time; decides
//! nothing about the protocol. Every write is atomic (temporary file, fsync, rename).

use std::path::Path;

use super::runtime::OverlayError;
use crate::app::{persist, App};
use crate::keys::PublicKey;
use crate::overlay::params::RING_FILE_MAX_BYTES;
use crate::overlay::Overlay;
use crate::time::UnixTime;
use crate::wire::{Body, Key32};

/// File holding the node key (64 hex characters), created on first start.
pub const NODE_KEY_FILE: &str = "node.key";
/// The ring records this core holds (`--directory ring`), kept across restarts
/// (`overlay::dht_persist`).
pub const RING_FILE: &str = "ring-records.bin";
/// Optional file with the owner's signed authorisation of the node key (a Nostr event, JSON).
pub const NODE_AUTH_FILE: &str = "node-auth.json";

/// Fresh randomness (node key, seeds) from the OS.
pub(super) fn random_bytes<const N: usize>() -> Result<[u8; N], OverlayError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| OverlayError::Random(e.to_string()))?;
    Ok(b)
}

/// Load the node key, or create and store a new one (zero configuration).
///
/// The new key is written atomically (temporary file, fsync, rename, directory fsync), so a
/// power cut never leaves a half-written key. An empty file (left by older versions after a
/// power cut during the first start) counts as missing; any other unreadable content is an
/// error for a human to look at, because a new key would change the node's identity.
pub(super) fn node_key(data_dir: &Path) -> Result<[u8; 32], OverlayError> {
    let path = data_dir.join(NODE_KEY_FILE);
    let existing = match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().is_empty() => {
            log::warn!("{} is empty (interrupted first start?): making a new node key", path.display());
            None
        }
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(OverlayError::NodeKey(path, e)),
    };
    if let Some(s) = existing {
        return crate::hex::decode_array::<32>(s.trim()).map_err(|e| {
            OverlayError::NodeKey(path.clone(), std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
        });
    }
    let key: [u8; 32] = random_bytes()?;
    std::fs::create_dir_all(data_dir).map_err(|e| OverlayError::NodeKey(path.clone(), e))?;
    persist::write_atomic(&path, crate::hex::encode(&key).as_bytes())
        .map_err(|e| OverlayError::NodeKey(path.clone(), e))?;
    restrict(&path);
    log::info!("created node key {}", path.display());
    Ok(key)
}

#[cfg(unix)]
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}
#[cfg(not(unix))]
fn restrict(_path: &Path) {}

/// The owner's authorisation of this node key from [`NODE_AUTH_FILE`], if there is a valid,
/// unexpired one; otherwise logs how to make one and returns `None` (first-come node id).
pub(super) fn load_delegation(owner: PublicKey, secret: [u8; 32], data_dir: &Path, unix: UnixTime) -> Option<Body> {
    match std::fs::read(data_dir.join(NODE_AUTH_FILE)) {
        Ok(bytes) => {
            let node_pub = crate::overlay::crypto::public_of(secret);
            let ok = node_pub
                .is_some_and(|k| crate::overlay::crypto::check_delegation_event(&Key32(owner.0), &k, &bytes, unix.0));
            if ok {
                log::info!("node key authorised by the owner ({NODE_AUTH_FILE})");
                Some(Body::from_slice(&bytes))
            } else {
                log::warn!("{NODE_AUTH_FILE} is not a valid, unexpired authorisation of this node key: ignored");
                None
            }
        }
        Err(_) => {
            let node_pub =
                crate::overlay::crypto::public_of(secret).map(|k| crate::hex::encode(&k.0)).unwrap_or_default();
            log::info!(
                "no {NODE_AUTH_FILE}: node key {node_pub} is unauthorised (first-come node id). To authorise it, run \
                 `nostrp2p authorize-node <your nsec> {node_pub}` where your secret key lives and save the output as \
                 {} (docs/overlay.md)",
                data_dir.join(NODE_AUTH_FILE).display()
            );
            None
        }
    }
}

/// Reads the app's persisted resend queue and mailbox; a damaged file is logged and ignored
/// (senders retry, so nothing is lost for good).
pub(super) fn restore_app(app: &mut App, data_dir: &Path, unix: UnixTime) {
    let outbox = data_dir.join(persist::OUTBOX_FILE);
    match persist::read_snapshot(&outbox) {
        Ok(Some(bytes)) => {
            if let Err(e) = app.restore_outbox(&bytes) {
                log::warn!("{}: {e}; starting with an empty resend queue", outbox.display());
            }
        }
        Ok(None) => {}
        Err(e) => log::warn!("cannot read {}: {e}; starting with an empty resend queue", outbox.display()),
    }
    let mailbox = data_dir.join(persist::MAILBOX_FILE);
    match persist::read_snapshot(&mailbox) {
        Ok(Some(bytes)) => {
            if let Err(e) = app.restore_mailbox(&bytes, unix) {
                log::warn!("{}: {e}; starting with an empty mailbox", mailbox.display());
            }
        }
        Ok(None) => {}
        Err(e) => log::warn!("cannot read {}: {e}; starting with an empty mailbox", mailbox.display()),
    }
}

/// Takes back the ring records held before a restart. A missing file is the first start; a
/// damaged, oversized or unreadable one is logged and ignored (the records come back by
/// handoff and the owners' read-back checks), never trusted: every record is verified again.
pub(super) fn restore_ring(overlay: &mut Overlay, data_dir: &Path) {
    use std::io::Read;
    let path = data_dir.join(RING_FILE);
    let mut bytes = Vec::new();
    let read = std::fs::File::open(&path)
        .and_then(|f| f.take(RING_FILE_MAX_BYTES as u64 + 1).read_to_end(&mut bytes).map(|_| ()));
    match read {
        Ok(()) => match overlay.ring_restore(&bytes) {
            Ok(r) => log::info!("{}: {} ring records taken back, {} dropped", path.display(), r.kept, r.dropped),
            Err(e) => log::warn!("{}: {e}; ignored, starting without held ring records", path.display()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => log::warn!("cannot read {}: {e}; starting without held ring records", path.display()),
    }
}

/// Writes the ring records this core holds if they changed (the caller rate-limits).
pub(super) fn save_ring(overlay: &mut Overlay, data_dir: &Path) {
    let Some((bytes, digest)) = overlay.ring_snapshot() else { return };
    match persist::write_atomic(&data_dir.join(RING_FILE), &bytes) {
        Ok(()) => overlay.ring_saved(digest),
        Err(e) => log::error!("cannot save the held ring records in {}: {e}", data_dir.display()),
    }
}

/// Writes the app's resend queue and mailbox if they changed (the caller rate-limits).
pub(super) fn save_app(app: &mut App, data_dir: &Path) {
    if app.outbox_dirty() {
        match persist::write_atomic(&data_dir.join(persist::OUTBOX_FILE), &app.snapshot_outbox()) {
            Ok(()) => app.mark_outbox_saved(),
            Err(e) => log::error!("cannot save the resend queue in {}: {e}", data_dir.display()),
        }
    }
    if app.mailbox_dirty() {
        match persist::write_atomic(&data_dir.join(persist::MAILBOX_FILE), &app.snapshot_mailbox()) {
            Ok(()) => app.mark_mailbox_saved(),
            Err(e) => log::error!("cannot save the support-server mailbox in {}: {e}", data_dir.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("nostrp2p-nodekey-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    #[test]
    fn node_key_is_created_once_and_survives_an_empty_file_but_not_garbage() {
        let dir = temp("a");
        let first = node_key(&dir).expect("created");
        assert_eq!(node_key(&dir).expect("read back"), first, "the same key on the next start");
        // An empty file (power cut during an old version's first start) is replaced.
        std::fs::write(dir.join(NODE_KEY_FILE), b"").expect("truncate");
        let second = node_key(&dir).expect("re-created");
        assert_ne!(second, first);
        assert_eq!(node_key(&dir).expect("read back"), second);
        // Garbage is a fault for a human: a new key would silently change the node's identity.
        std::fs::write(dir.join(NODE_KEY_FILE), b"not hex").expect("garbage");
        assert!(matches!(node_key(&dir), Err(OverlayError::NodeKey(..))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
