//! nostrp2p: a peer-to-peer Nostr microblog server (skeleton; filled in by the following commits).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod overlay;
pub mod wire;
