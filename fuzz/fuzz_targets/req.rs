//! Fuzz target: a /req body through the whole route. See `nostrp2p::fuzzing::req` for the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nostrp2p::fuzzing::req(data));
