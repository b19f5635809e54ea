//! mq: one binary for MQTT. The broker, the clients and the command line share this library.

// Safe Rust only: what reads the network, files and the store needs no unsafe code. The
// one exception (`sys.rs`, the allocator's statistics) is allowed where it stands.
#![deny(unsafe_code)]

pub mod bench;
pub mod broker;
pub mod certs;
pub mod cli;
pub mod client;
pub mod net;
