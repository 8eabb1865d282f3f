//! `nostrp2p` binary entry point (skeleton).
fn main() {}
