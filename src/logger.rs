//! The one small stderr logger (`log` facade), filtered by `RUST_LOG` or `-d`.
//!
//! Lines look like `2026-11-21T17:18:23Z INFO  nostrp2p::driver: message` on a terminal, and
//! without the time otherwise: service managers (systemd's journal, termux-services' svlogd)
//! keep stderr and stamp each line themselves, so this is where users look.
//! On Android the platform module installs `android_logger` instead.

use std::io::{IsTerminal, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use log::{Level, LevelFilter, Log, Metadata, Record};

struct StderrLogger {
    level: LevelFilter,
    /// Stamp lines with the time only on a terminal: svlogd (Termux) and journald (systemd)
    /// stamp every line themselves.
    timestamps: bool,
}

impl Log for StderrLogger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= self.level && (m.level() <= Level::Info || m.target().starts_with("nostrp2p"))
    }

    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let line = if self.timestamps {
            let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            format!("{} {:<5} {}: {}\n", utc(secs), r.level(), r.target(), r.args())
        } else {
            format!("{:<5} {}: {}\n", r.level(), r.target(), r.args())
        };
        // One write per line so lines from HTTP threads never interleave; a closed stderr is ignored.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Level from `RUST_LOG` (`error`, `warn`, `info`, `debug`, `trace`, `off`), else debug when
/// `debug`, else info.
pub fn level_from(rust_log: Option<&str>, debug: bool) -> LevelFilter {
    match rust_log.map(|s| s.trim().to_ascii_lowercase()) {
        Some(s) if s.parse::<LevelFilter>().is_ok() => s.parse().unwrap_or(LevelFilter::Info),
        _ if debug => LevelFilter::Debug,
        _ => LevelFilter::Info,
    }
}

/// Installs the stderr logger. Calling it twice keeps the first.
pub fn init(level: LevelFilter) {
    let timestamps = std::io::stderr().is_terminal();
    if log::set_boxed_logger(Box::new(StderrLogger { level, timestamps })).is_ok() {
        log::set_max_level(level);
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (proleptic Gregorian, UTC).
pub fn utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_717_000_000), "2024-05-29T16:26:40Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn level_selection() {
        assert_eq!(level_from(None, false), LevelFilter::Info);
        assert_eq!(level_from(None, true), LevelFilter::Debug);
        assert_eq!(level_from(Some("warn"), true), LevelFilter::Warn);
        assert_eq!(level_from(Some("nonsense"), false), LevelFilter::Info);
    }
}
