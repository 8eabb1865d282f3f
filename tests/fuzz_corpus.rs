//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/*`: seeds, and every crash
//! a fuzzer found, once fixed) through the same entry points as the `cargo fuzz` targets, so a
//! regression fails a plain `cargo test`. The seeds are written by the ignored test below
//! from real encoded values plus edge cases: `cargo test --test fuzz_corpus -- --ignored`.

use std::fs;
use std::path::{Path, PathBuf};

use nostrp2p::app::msg::{encode as encode_app, AppMsg, Envelope};
use nostrp2p::event::json::to_client_json;
use nostrp2p::fuzzing;
use nostrp2p::store::log::{encode_record, MAGIC};
use nostrp2p::testkit::{fixture, fixture_json, unhex};

const TARGETS: [&str; 5] = ["frame", "event_json", "req", "segment", "app_msg"];

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("corpus").join(target)
}

#[test]
fn every_corpus_file_replays_without_a_finding() {
    for target in TARGETS {
        let run = fuzzing::by_name(target).expect("an entry point per target");
        let mut files: Vec<PathBuf> = fs::read_dir(corpus_dir(target))
            .unwrap_or_else(|e| panic!("fuzz/corpus/{target}: {e}"))
            .map(|e| e.expect("corpus entry").path())
            .collect();
        files.sort();
        assert!(files.len() >= 3, "{target}: a seed corpus is committed");
        for file in files {
            let bytes = fs::read(&file).expect("read corpus file");
            let outcome = std::panic::catch_unwind(|| run(&bytes));
            assert!(outcome.is_ok(), "{target}: {} is a finding again", file.display());
        }
    }
}

/// The golden frames of wire v3 (one per message type).
fn golden_frames() -> Vec<Vec<u8>> {
    let text = include_str!("vectors/wire-v3.txt");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .map(|(_, hex)| unhex(hex.trim()))
        .collect()
}

fn seeds() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let names = ["E1", "E2", "E4", "E8", "E12", "E15"];
    let events: Vec<_> = names.iter().map(|n| fixture(n)).collect();

    let mut frame = golden_frames();
    frame.push(vec![0, 0, 0, 0]);
    frame.push(vec![0xff, 0xff, 0xff, 0xff, 2]);

    let mut event_json: Vec<Vec<u8>> = names.iter().map(|n| fixture_json(n).as_bytes().to_vec()).collect();
    event_json.push(to_client_json(&events[0]).into_bytes());
    event_json.push(br#"{"id":"","tags":null,"content":"\ud800"}"#.to_vec());
    event_json.push(b"[]".to_vec());

    let req: Vec<Vec<u8>> = [
        r#"{"kinds":[40000],"since":-1,"until":-1,"limit":50}"#,
        r#"{"kinds":[40000],"since":1717000000,"until":1717999999,"limit":10000}"#,
        r#"{"kinds":[0],"authors":["e7c2f6e1a1a0b5f0e6c9f8f0a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9"]}"#,
        r#"{"ids":["00"],"kinds":[1,6,7]}"#,
        r#"{"KINDS":[40000],"limit":1e300,"since":-9.5e18}"#,
        "[1,2,3]",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();

    let mut good = MAGIC.to_vec();
    for ev in &events {
        encode_record(ev, &mut good).expect("encode record");
    }
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 16] {
        *b ^= 0xa5;
    }
    let torn = good[..good.len() - 7].to_vec();
    let segment = vec![good, flipped, torn, MAGIC[..3].to_vec(), b"GARBAGE!GARBAGE!".to_vec()];

    let app_msg = vec![
        encode_app(&AppMsg::Event(events[1].clone())),
        encode_app(&AppMsg::MailReq),
        encode_app(&AppMsg::MailAck { ids: vec![1, 2, 3, u64::MAX] }),
        encode_app(&AppMsg::Mail {
            envelopes: vec![Envelope { id: 7, sealed: nostrp2p::app::msg::Bytes(vec![1, 2, 3]) }],
            more: true,
        }),
        encode_app(&AppMsg::SyncReq { since: 1_717_000_000, until: 1_717_100_000, limit: 500 }),
    ];

    vec![("frame", frame), ("event_json", event_json), ("req", req), ("segment", segment), ("app_msg", app_msg)]
}

#[test]
#[ignore = "writes the seed corpus: cargo test --test fuzz_corpus -- --ignored"]
fn write_seed_corpus() {
    for (target, inputs) in seeds() {
        let dir = corpus_dir(target);
        fs::create_dir_all(&dir).expect("mkdir");
        for (i, bytes) in inputs.iter().enumerate() {
            fs::write(dir.join(format!("seed-{i:02}")), bytes).expect("write seed");
        }
    }
}
