//! The integration tests: ONE binary that runs the real `mq` and talks to it over TCP with
//! a raw-bytes client (the project's codec), rumqttc, and Mosquitto's own clients.
//!
//! Every test starts its own broker on port 0, so they run in parallel; waits are on
//! events with timeouts, never fixed sleeps.

mod clients;
mod harness;
mod mosquitto;
mod raw;

mod auth;
mod bench;
mod bridge;
mod config;
mod connect;
mod deps;
mod hostile;
mod interop;
mod lifecycle;
mod limits;
mod overload;
mod persistence;
mod protocol_errors;
mod qos;
mod retained;
mod sessions;
mod shutdown;
mod subscriptions;
mod sys;
mod tls;
mod v5;
mod wills;

/// `mq pub` and `mq sub` against `mq broker` and Mosquitto (own harness in `pubsub/mod.rs`).
mod pubsub;

/// Help, completions, man pages and error messages (insta snapshots; see `cli/mod.rs`).
mod cli;
