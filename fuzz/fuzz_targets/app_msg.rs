//! Fuzz target: an application message (unicast payload). See `nostrp2p::fuzzing::app_message` for the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nostrp2p::fuzzing::app_message(data));
