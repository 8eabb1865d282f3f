//! Fuzz target: an overlay frame from a peer. See `nostrp2p::fuzzing::frame` for the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nostrp2p::fuzzing::frame(data));
