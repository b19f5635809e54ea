//! What one bridge is told to do. The config file readers (TOML and mosquitto.conf) fill
//! these; the bridge task reads them. Defaults are Mosquitto's.

use std::path::PathBuf;
use std::time::Duration;

use mq_proto::QoS;

/// One `connection NAME` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// The connection name: part of the default client id and of the notification topic.
    pub name: String,
    /// Remote brokers, tried in order; the next one when a connection fails (`address`).
    pub addresses: Vec<BridgeAddress>,
    /// With `round_robin false` (the default) the bridge returns to the first address when it
    /// is back; with `true` it stays where it is until that one fails.
    pub round_robin: bool,
    pub topics: Vec<BridgeTopic>,
    /// `bridge_protocol_version`.
    pub protocol: BridgeProtocol,
    /// `cleansession`: false keeps the remote session (and its queued QoS 1/2 messages) across reconnects.
    pub clean_session: bool,
    /// `keepalive_interval`.
    pub keep_alive: Duration,
    /// `remote_clientid`; Mosquitto's default is `HOSTNAME.NAME`.
    pub remote_client_id: String,
    pub remote_username: Option<String>,
    pub remote_password: Option<String>,
    /// `try_private`: tell the remote broker it is a bridge (protocol level | 0x80, or MQTT 5
    /// No Local on its subscriptions) so it does not send our own messages back.
    pub try_private: bool,
    /// `notifications`: publish 1/0 (retained) on the notification topic as the link comes and goes.
    pub notifications: bool,
    /// `notification_topic`; default `$SYS/broker/connection/NAME/state`.
    pub notification_topic: String,
    /// `restart_timeout BASE [CAP]`: reconnect backoff.
    pub restart_base: Duration,
    pub restart_cap: Duration,
    /// `bridge_cafile` and friends; `None` for plain TCP.
    pub tls: Option<BridgeTls>,
}

impl BridgeConfig {
    /// A bridge named `name` to `addresses` with Mosquitto's defaults for everything else.
    pub fn new(name: &str, addresses: Vec<BridgeAddress>) -> BridgeConfig {
        let host = hostname();
        BridgeConfig {
            name: name.to_owned(),
            addresses,
            round_robin: false,
            topics: Vec::new(),
            protocol: BridgeProtocol::V311,
            clean_session: false,
            keep_alive: Duration::from_secs(60),
            remote_client_id: format!("{host}.{name}"),
            remote_username: None,
            remote_password: None,
            try_private: true,
            notifications: true,
            notification_topic: format!("$SYS/broker/connection/{name}/state"),
            restart_base: Duration::from_secs(5),
            restart_cap: Duration::from_secs(30),
            tls: None,
        }
    }
}

impl BridgeConfig {
    /// The client id of the bridge's session in this broker (Mosquitto's `local_clientid`
    /// default).
    pub fn local_client_id(&self) -> String {
        format!("local.{}", self.remote_client_id)
    }

    /// Refuses settings the bridge could not run with, naming the bridge.
    pub fn validate(&self) -> Result<(), BridgeConfigError> {
        if self.addresses.is_empty() {
            return Err(BridgeConfigError::NoAddress {
                bridge: self.name.clone(),
            });
        }
        if self.topics.is_empty() {
            return Err(BridgeConfigError::NoTopic {
                bridge: self.name.clone(),
            });
        }
        if self.keep_alive < Duration::from_secs(5) || self.keep_alive.as_secs() > 65535 {
            return Err(BridgeConfigError::KeepAlive {
                bridge: self.name.clone(),
                seconds: self.keep_alive.as_secs(),
            });
        }
        for topic in &self.topics {
            topic.validate(&self.name)?;
        }
        Ok(())
    }
}

/// Why a bridge's settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BridgeConfigError {
    #[error("bridge {bridge}: no address (add `address HOST[:PORT]`)")]
    NoAddress { bridge: String },
    #[error("bridge {bridge}: no topic to bridge (add `topic PATTERN [out|in|both] [QOS]`)")]
    NoTopic { bridge: String },
    #[error("bridge {bridge}: keepalive_interval {seconds} is out of range (5 to 65535 seconds)")]
    KeepAlive { bridge: String, seconds: u64 },
    #[error(transparent)]
    Topic(#[from] super::topics::TopicError),
}

/// The machine's host name, for Mosquitto's default bridge client id.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "mq".to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeAddress {
    pub host: String,
    /// 1883 when the config line gives no port (8883 is not assumed even with TLS, as Mosquitto).
    pub port: u16,
}

/// `topic PATTERN [[[out|in|both] QOS] LOCAL_PREFIX REMOTE_PREFIX]`.
///
/// A message on local topic `LOCAL_PREFIX + t` with `t` matching PATTERN goes out as
/// `REMOTE_PREFIX + t` (direction out), and the reverse for in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeTopic {
    pub pattern: String,
    pub direction: BridgeDirection,
    pub qos: QoS,
    pub local_prefix: String,
    pub remote_prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeDirection {
    /// Local to remote (Mosquitto's default).
    Out,
    /// Remote to local.
    In,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeProtocol {
    V31,
    V311,
    V5,
}

/// `bridge_cafile`, `bridge_capath`, `bridge_certfile`, `bridge_keyfile`, `bridge_insecure`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BridgeTls {
    pub cafile: Option<PathBuf>,
    pub capath: Option<PathBuf>,
    pub certfile: Option<PathBuf>,
    pub keyfile: Option<PathBuf>,
    /// Skip the host name check (never the chain check).
    pub insecure: bool,
}
