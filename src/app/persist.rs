//! The only IO of the application layer: writing a snapshot file atomically and reading it
//! back. Thin functions for the driver; every decision stays in the pure code.
//!
//! `write_atomic`: write `<name>.tmp`, fsync it, rename it over `<name>`, fsync the directory.
//! A crash at any point leaves either the old file or the new one, never a torn one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use crate::limits::MAX_SNAPSHOT_BYTES;

/// File name of the resend queue + catch-up cursor snapshot in the data directory.
pub const OUTBOX_FILE: &str = "app-outbox.mpk";
/// File name of the support server's mailbox snapshot in the data directory.
pub const MAILBOX_FILE: &str = "app-mailbox.mpk";

/// Replaces `path` with `bytes` atomically and durably.
///
/// # Errors
/// The IO error of the step that failed (the old file is then still intact).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = Path::new(&tmp);
    {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The contents of `path`, or `None` if it does not exist.
///
/// # Errors
/// Any other IO error, or `InvalidData` if the file is larger than [`MAX_SNAPSHOT_BYTES`].
pub fn read_snapshot(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut buf = Vec::new();
    f.take(MAX_SNAPSHOT_BYTES as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > MAX_SNAPSHOT_BYTES {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "snapshot file is larger than the limit"));
    }
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_back_and_replace() {
        let dir = std::env::temp_dir().join(format!("nostrp2p-app-persist-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(OUTBOX_FILE);
        assert_eq!(read_snapshot(&path).expect("read missing"), None);
        write_atomic(&path, b"first").expect("write");
        write_atomic(&path, b"second, longer").expect("replace");
        assert_eq!(read_snapshot(&path).expect("read").as_deref(), Some(&b"second, longer"[..]));
        assert!(!dir.join("app-outbox.mpk.tmp").exists(), "no temp file left behind");
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}
