//! Bridges: the broker as a client of another broker, forwarding topics in, out or both ways
//! with Mosquitto's bridge semantics. Settings come from the config file (`[[bridge]]` in
//! mq.toml, `connection NAME` blocks in a mosquitto.conf).

mod config;

pub use config::{
    BridgeAddress, BridgeConfig, BridgeDirection, BridgeProtocol, BridgeTls, BridgeTopic,
};
