//! Fuzz target: a /publish body (event JSON). See `nostrp2p::fuzzing::event_json` for the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nostrp2p::fuzzing::event_json(data));
