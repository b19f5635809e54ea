//! Broker settings. Every limit has a documented default close to Mosquitto's.

use std::net::SocketAddr;
use std::time::Duration;

use mq_proto::QoS;

use super::auth::AuthConfig;
use super::session::SessionLimits;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    pub bind: SocketAddr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    pub listeners: Vec<ListenerConfig>,
    pub session_limits: SessionLimits,
    /// Largest packet accepted, fixed header included; larger ones close the connection.
    pub max_packet_size: usize,
    pub maximum_qos: QoS,
    /// How long a new connection may take to send CONNECT.
    pub connect_timeout: Duration,
    pub max_connections: usize,
    /// How often `$SYS` topics are published; `None` turns them off.
    pub sys_interval: Option<Duration>,
    /// Password file, ACL file and who may connect anonymously.
    pub auth: AuthConfig,
    /// Longest Keep Alive granted: v5 clients asking for more (or for none) are told this
    /// as Server Keep Alive; 3.x clients asking for more are refused, as Mosquitto does.
    pub max_keepalive: u16,
    /// Topic Aliases a v5 client may use toward the broker.
    pub topic_alias_maximum: u16,
}

/// 1 MiB: generous for MQTT payloads, small enough that a peer cannot make the broker
/// reserve much memory per connection.
pub const DEFAULT_MAX_PACKET_SIZE: usize = 1024 * 1024;

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listeners: vec![ListenerConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], 1883)),
            }],
            session_limits: SessionLimits::default(),
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            maximum_qos: QoS::ExactlyOnce,
            connect_timeout: Duration::from_secs(10),
            max_connections: usize::MAX,
            sys_interval: Some(Duration::from_secs(10)),
            auth: AuthConfig::default(),
            max_keepalive: u16::MAX,
            topic_alias_maximum: 10,
        }
    }
}
