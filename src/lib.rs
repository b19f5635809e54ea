//! mq: one binary for MQTT. The broker, the clients and the command line share this library.

pub mod bench;
pub mod broker;
pub mod certs;
pub mod cli;
pub mod client;
pub mod net;
