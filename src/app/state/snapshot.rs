//! Persistence of the application state: the resend queue with the catch-up cursor
//! ("outbox") and the support server's mailbox, as versioned MessagePack snapshots with dirty
//! flags. The driver writes them with `app::persist::write_atomic`.

use serde::{Deserialize, Serialize};

use super::App;
use crate::app::mailbox::Mailbox;
use crate::app::msg::Bytes;
use crate::app::resend::ResendQueue;
use crate::app::SnapshotError;
use crate::time::UnixTime;

const OUTBOX_SNAPSHOT_VERSION: u16 = 1;

#[derive(Serialize, Deserialize)]
struct OutboxSnap {
    v: u16,
    resend: Bytes,
    last_heard: u64,
}

impl App {
    /// True when the resend queue or the catch-up cursor changed since the last save.
    pub fn outbox_dirty(&self) -> bool {
        self.outbox_dirty
    }

    /// Bytes of the resend queue and catch-up cursor, for [`super::persist::write_atomic`].
    pub fn snapshot_outbox(&self) -> Vec<u8> {
        let snap = OutboxSnap {
            v: OUTBOX_SNAPSHOT_VERSION,
            resend: Bytes(self.resend.snapshot()),
            last_heard: self.last_heard.0,
        };
        rmp_serde::to_vec(&snap).unwrap_or_default()
    }

    /// The snapshot taken last was written durably.
    pub fn mark_outbox_saved(&mut self) {
        self.outbox_dirty = false;
        self.saved_heard = self.last_heard;
    }

    /// Restores the resend queue and cursor saved by [`App::snapshot_outbox`].
    ///
    /// # Errors
    /// [`SnapshotError`] if the bytes are not such a snapshot; the state is then unchanged.
    pub fn restore_outbox(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let snap: OutboxSnap = crate::msgpack::from_slice(bytes).map_err(SnapshotError::Malformed)?;
        if snap.v != OUTBOX_SNAPSHOT_VERSION {
            return Err(SnapshotError::Version(snap.v));
        }
        self.resend = ResendQueue::from_snapshot(&snap.resend.0)?;
        self.last_heard = UnixTime(snap.last_heard);
        self.saved_heard = self.last_heard;
        Ok(())
    }

    /// True when the mailbox changed since the last save.
    pub fn mailbox_dirty(&self) -> bool {
        self.mailbox_dirty
    }

    /// Bytes of the mailbox.
    pub fn snapshot_mailbox(&self) -> Vec<u8> {
        self.mailbox.snapshot()
    }

    /// The snapshot taken last was written durably.
    pub fn mark_mailbox_saved(&mut self) {
        self.mailbox_dirty = false;
    }

    /// Restores the mailbox saved by [`App::snapshot_mailbox`]; hand-overs are due at `now`.
    ///
    /// # Errors
    /// [`SnapshotError`] if the bytes are not such a snapshot; the state is then unchanged.
    pub fn restore_mailbox(&mut self, bytes: &[u8], now: UnixTime) -> Result<(), SnapshotError> {
        self.mailbox = Mailbox::from_snapshot(bytes, now)?;
        Ok(())
    }
}
