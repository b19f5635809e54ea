//! mq: one binary for MQTT. The broker, the clients and the command line share this library.

pub mod broker;
pub mod cli;
pub mod client;
