//! Broker settings. Every limit has a documented default close to Mosquitto's.

use std::net::SocketAddr;
use std::time::Duration;

use mq_proto::QoS;

use super::auth::AuthConfig;
use super::bridge::BridgeConfig;
use super::persist::PersistenceConfig;
use super::session::SessionLimits;
use crate::net::tls::{PeerName, TlsSettings};
use crate::net::ws::WsSettings;

/// One listener: where it binds and what it speaks on top of TCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    pub bind: SocketAddr,
    pub kind: ListenerKind,
}

impl ListenerConfig {
    /// Plain MQTT over TCP.
    pub fn tcp(bind: SocketAddr) -> ListenerConfig {
        ListenerConfig {
            bind,
            kind: ListenerKind::Tcp,
        }
    }

    /// The URL scheme clients use for this listener.
    pub fn scheme(&self) -> &'static str {
        match self.kind {
            ListenerKind::Tcp => "mqtt",
            ListenerKind::Tls { .. } => "mqtts",
            ListenerKind::Ws { .. } => "ws",
            ListenerKind::Wss { .. } => "wss",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerKind {
    Tcp,
    Tls {
        tls: TlsSettings,
        identity: ClientIdentity,
    },
    Ws {
        ws: WsSettings,
    },
    /// TLS first, then the WebSocket upgrade inside it.
    Wss {
        tls: TlsSettings,
        ws: WsSettings,
        identity: ClientIdentity,
    },
}

/// Whether a TLS client's certificate names it, as Mosquitto's `use_identity_as_username`
/// and `use_subject_as_username`: the name replaces the CONNECT user name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientIdentity {
    /// The certificate (if any) plays no part in the user name.
    #[default]
    None,
    /// The certificate's subject Common Name is the user name.
    CommonName,
    /// The whole subject (`CN=client,O=mq`, RFC 2253 order) is the user name.
    Subject,
}

impl ClientIdentity {
    pub fn peer_name(self) -> Option<PeerName> {
        match self {
            ClientIdentity::None => None,
            ClientIdentity::CommonName => Some(PeerName::CommonName),
            ClientIdentity::Subject => Some(PeerName::Subject),
        }
    }
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
    /// Topic Filters no client may subscribe to (or filters matching them), answered with
    /// SUBACK 0x80 "unspecified error" in every version: the broker does not say why.
    pub refused_filters: Vec<String>,
    /// Where sessions and retained messages are kept across restarts; `None`: memory only.
    pub persistence: Option<PersistenceConfig>,
    /// Connections to other brokers (`[[bridge]]` / `connection NAME`).
    pub bridges: Vec<BridgeConfig>,
    /// Most levels in a Topic Name or Topic Filter; deeper ones are refused.
    pub max_topic_levels: usize,
    /// Most subscriptions one session may hold; more are refused (SUBACK 0x97 Quota exceeded in v5, 0x80 before).
    pub max_subscriptions_per_client: usize,
    /// Where the Prometheus text endpoint listens (`--metrics ADDR`); `None`: no endpoint.
    pub metrics: Option<SocketAddr>,
    /// Bytes of queued and retained messages the broker may hold; beyond it new publishes are
    /// refused with Quota exceeded instead of the process growing. `None`: no limit.
    pub max_memory: Option<u64>,
    /// Mosquitto's `retain_available`: false refuses retained publishes (v5: 0x9A Retain not
    /// supported, with Retain Available 0 in CONNACK; 3.x: the connection is closed).
    pub retain_available: bool,
    /// Mosquitto's `message_size_limit`: largest payload accepted, in bytes; 0 for no limit.
    /// Larger publishes are dropped (v5: refused with 0x95 Packet too large).
    pub message_size_limit: usize,
}

/// 1 MiB: generous for MQTT payloads, small enough that a peer cannot make the broker
/// reserve much memory per connection.
pub const DEFAULT_MAX_PACKET_SIZE: usize = 1024 * 1024;

/// Far deeper than any real topic tree, shallow enough that matching stays cheap.
pub const DEFAULT_MAX_TOPIC_LEVELS: usize = 128;

/// Far more than any real client holds; bounds what one client can make the broker keep.
pub const DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT: usize = 10_000;

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listeners: vec![ListenerConfig::tcp(SocketAddr::from((
                [127, 0, 0, 1],
                1883,
            )))],
            session_limits: SessionLimits::default(),
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            maximum_qos: QoS::ExactlyOnce,
            connect_timeout: Duration::from_secs(10),
            max_connections: usize::MAX,
            sys_interval: Some(Duration::from_secs(10)),
            auth: AuthConfig::default(),
            max_keepalive: u16::MAX,
            topic_alias_maximum: 10,
            refused_filters: Vec::new(),
            persistence: None,
            bridges: Vec::new(),
            max_topic_levels: DEFAULT_MAX_TOPIC_LEVELS,
            max_subscriptions_per_client: DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT,
            metrics: None,
            max_memory: None,
            retain_available: true,
            message_size_limit: 0,
        }
    }
}
