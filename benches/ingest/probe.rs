//! The ingest benchmark's probes (`benches/ingest.rs`): how the server spent a round
//! (`/proc` counters: wakes, preemptions, steal), the raw verify rate in the server's wake
//! pattern (a thread that sleeps between rounds), and callgrind instruction counts (the
//! server's per stored event, and one check's, counted in a child run of this benchmark).

use std::time::{Duration, Instant};

use super::common::raw::now;
use super::{key, thread_cpu_seconds, WAIT};
use nostrp2p::event::Event;
use nostrp2p::keys;
use nostrp2p::time::UnixTime;

/// Set (to `raw` or `full`) in the benchmark's own child run under callgrind to count the
/// instructions of one verify: the child signs `IR_SAMPLE` events and checks them
/// `BENCH_INGEST_IR_REPEAT` times; two runs' difference is the checks' cost.
pub const IR_CHILD: &str = "BENCH_INGEST_IR_CHILD";
/// Events the instruction-count child signs (and checks, per repeat).
const IR_SAMPLE: usize = 100;
/// Repeats of the checks in the counted child run (the other run does none).
const IR_REPEAT: usize = 10;

pub fn ir_child(mode: &str, repeat: usize) {
    let events: Vec<Event> = (0..IR_SAMPLE)
        .map(|i| {
            let content = format!("ingest post {i}: the quick brown fox jumps over the lazy dog");
            Event::new_signed(&key(0x53, i as u64 % 40), UnixTime(now()), 1, vec![], content, &[0; 32])
        })
        .collect();
    let parsed: Vec<_> = events.iter().map(|e| (e.pubkey.to_xonly().expect("valid key"), e.id.0, e.sig.0)).collect();
    let t = UnixTime(now());
    let mut ok = 0;
    for _ in 0..repeat {
        ok += match mode {
            "raw" => parsed.iter().filter(|(pk, id, sig)| keys::verify(pk, id, sig)).count(),
            _ => events.iter().filter(|e| (*e).clone().verify(t).is_ok()).count(),
        };
    }
    assert_eq!(ok, repeat * IR_SAMPLE, "every check passes");
}

/// Instructions (callgrind `Ir`) of one check of `mode`, from two runs of this benchmark's
/// binary under callgrind (with and without `IR_REPEAT` rounds of checks).
fn instructions_per_check(dir: &std::path::Path, mode: &str) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let run = |repeat: usize| -> Option<f64> {
        let out = dir.join(format!("ir-{mode}-{repeat}.out"));
        let ok = std::process::Command::new("valgrind")
            .args(["--tool=callgrind", "-q"])
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(&exe)
            .env(IR_CHILD, mode)
            .env("BENCH_INGEST_IR_REPEAT", repeat.to_string())
            .status()
            .ok()?
            .success();
        if !ok {
            return None;
        }
        callgrind_total(&std::fs::read_to_string(out).ok()?)
    };
    Some((run(IR_REPEAT)? - run(0)?) / (IR_REPEAT * IR_SAMPLE) as f64)
}

/// The `totals:` instruction count of one callgrind output file (its `summary:` line is 0
/// when the dump was taken with the instrumentation switched off).
fn callgrind_total(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix("totals:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Runs `callgrind_control <args> <pid>` (the server runs under callgrind).
pub fn callgrind_control(args: &[&str], pid: u32) {
    let ok = std::process::Command::new("callgrind_control")
        .args(args)
        .arg(pid.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("  (callgrind_control {args:?} failed)");
    }
}

/// Prints the server's instructions per stored event (dumped after the measured rounds) next to
/// those of one raw Schnorr check and one `Event::verify`: a count that does not depend on the
/// machine's load, so it tells the code's cost from the machine's.
pub fn report_instructions(cg_out: &std::path::Path, stored: usize) {
    let dir = cg_out.parent().unwrap_or(cg_out);
    let name = cg_out.file_name().and_then(|n| n.to_str()).unwrap_or("callgrind.out").to_owned();
    // `callgrind_control -d` returns before the dump is written: wait for its `totals:`.
    let dumped = |dir: &std::path::Path| -> f64 {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(&name)))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter_map(|t| callgrind_total(&t))
            .sum()
    };
    let deadline = Instant::now() + WAIT;
    let mut server = dumped(dir);
    while server == 0.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        server = dumped(dir);
    }
    let per_event = server / stored.max(1) as f64;
    println!("instructions (callgrind Ir), independent of the machine's load:");
    println!("  server: {server:.0} over the measured rounds = {per_event:.0} per stored event");
    for mode in ["raw", "full"] {
        match instructions_per_check(dir, mode) {
            Some(ir) => println!(
                "  one {} check: {ir:.0} = {:.0} % of the server's instructions per event",
                if mode == "raw" { "raw Schnorr" } else { "Event::verify" },
                100.0 * ir / per_event
            ),
            None => println!("  ({mode} check: valgrind run failed)"),
        }
    }
}

/// A thread that sleeps between the rounds, like the server's loop thread, and after each
/// round verifies as many events back to back: the raw rate in the server's wake pattern.
pub struct ShapedVerifier {
    go: std::sync::mpsc::Sender<usize>,
    rate: std::sync::mpsc::Receiver<f64>,
}

impl ShapedVerifier {
    pub fn start(events: &[Event]) -> ShapedVerifier {
        let parsed: Vec<_> =
            events.iter().take(2_000).map(|e| (e.pubkey.to_xonly().expect("valid key"), e.id.0, e.sig.0)).collect();
        let (go, go_rx) = std::sync::mpsc::channel::<usize>();
        let (rate_tx, rate) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut next = 0;
            while let Ok(n) = go_rx.recv() {
                let c = thread_cpu_seconds();
                let mut ok = 0;
                for _ in 0..n {
                    let (pk, id, sig) = &parsed[next % parsed.len()];
                    ok += usize::from(keys::verify(pk, id, sig));
                    next += 1;
                }
                let _ = rate_tx.send(ok as f64 / (thread_cpu_seconds() - c));
            }
        });
        ShapedVerifier { go, rate }
    }

    /// Verifies `n` events on the sleeping thread; its rate per CPU-second.
    pub fn round(&self, n: usize) -> f64 {
        if n == 0 || self.go.send(n).is_err() {
            return f64::NAN;
        }
        self.rate.recv().unwrap_or(f64::NAN)
    }
}

/// The server's counters that tell how it spent a round (differences of two readings).
#[derive(Default)]
pub struct Probe {
    /// Voluntary context switches of the loop's thread: how often it slept and was woken.
    pub wakes: u64,
    /// Involuntary ones: preempted.
    pub preempted: u64,
    /// Ticks the hypervisor ran something else on the machine's vCPUs (`/proc/stat`).
    pub steal: u64,
}

impl Probe {
    pub fn read(pid: u32) -> Probe {
        let field = |text: &str, key: &str| -> u64 {
            text.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
        };
        let status = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/status")).unwrap_or_default();
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let steal = stat.lines().next().and_then(|l| l.split_whitespace().nth(8)).and_then(|v| v.parse().ok());
        Probe {
            wakes: field(&status, "voluntary_ctxt_switches:"),
            preempted: field(&status, "nonvoluntary_ctxt_switches:"),
            steal: steal.unwrap_or(0),
        }
    }

    pub fn minus(&self, o: &Probe) -> Probe {
        Probe {
            wakes: self.wakes.saturating_sub(o.wakes),
            preempted: self.preempted.saturating_sub(o.preempted),
            steal: self.steal.saturating_sub(o.steal),
        }
    }

    pub fn plus(&self, o: &Probe) -> Probe {
        Probe { wakes: self.wakes + o.wakes, preempted: self.preempted + o.preempted, steal: self.steal + o.steal }
    }
}
