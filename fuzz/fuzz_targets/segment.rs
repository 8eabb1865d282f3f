//! Fuzz target: a store segment file as recovery scans it. See `nostrp2p::fuzzing::segment` for the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nostrp2p::fuzzing::segment(data));
