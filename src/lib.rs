//! nostrp2p: a peer-to-peer Nostr microblog server for spare phones and single-board computers.
//!
//! Architecture (see README "Design notes"): decide in pure code, move bytes in thin code.
//! ```text
//! main.rs   args → Config, logger, platform init → driver::serve (LocalExecutor on reactor/)
//! driver    the only place that touches sockets, files, clocks, randomness and signals
//!  ├─ http/     pure route(request, &Store, now) → reply; front.rs: HTTP/1.1 + websocket tasks on the executor
//!  ├─ relay/    NIP-01 relay protocol per websocket connection (sans-IO; docs/relay.md)
//!  ├─ store/    fixed-capacity event ring + indexes, NIP-09 tombstones, crash-safe segment log
//!  └─ event/    NIP-01 events, canonical form, client MessagePack layout
//! reactor/  the loop thread's own epoll reactor: sockets, timers, block_on (Linux/Android)
//! keys, hex, time, limits   values and bounds shared by everything above
//! ```
//! Invariants: nothing below the driver reads a clock or a random source; every queue,
//! cache and buffer is bounded by a constant in [`limits`]; bad input is rejected with an
//! error value, never a panic.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod cli;
pub mod driver;
pub mod event;
#[cfg(feature = "sim")]
#[doc(hidden)]
pub mod fuzzing;
pub mod hex;
pub mod http;
pub mod keys;
pub mod limits;
pub mod logger;
pub mod msgpack;
pub mod net;
pub mod overlay;
pub mod platform;
pub mod query;
pub mod reactor;
pub mod relay;
pub mod store;
#[cfg(any(test, feature = "sim"))]
pub mod testkit;
pub mod time;
pub mod wire;
