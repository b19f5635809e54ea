//! Connection options shared by `mq pub`, `mq sub`, `mq bench` and bridges.

use std::time::Duration;

use bytes::Bytes;

use super::endpoint::Endpoint;
use super::error::ClientError;
use super::properties::Properties;
use super::tls::TlsOptions;

/// The MQTT protocol version to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// MQTT 3.1 (`MQIsdp`): rumqttc cannot speak it; served by the project's own codec.
    V31,
    V311,
    V5,
}

impl Protocol {
    /// mosquitto's `-V` spellings: `31`/`mqttv31`, `311`/`mqttv311`, `5`/`mqttv5`.
    pub fn parse(s: &str) -> Result<Protocol, ClientError> {
        match s.to_ascii_lowercase().as_str() {
            "31" | "mqttv31" | "3.1" => Ok(Protocol::V31),
            "311" | "mqttv311" | "3.1.1" => Ok(Protocol::V311),
            "5" | "mqttv5" | "5.0" => Ok(Protocol::V5),
            _ => Err(ClientError::InvalidOption(format!(
                "-V {s}: expected 31, 311 or 5 (mqttv31, mqttv311, mqttv5)"
            ))),
        }
    }
}

/// Quality of Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum QoS {
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    pub fn from_u8(value: u8) -> Option<QoS> {
        match value {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }

    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// The Will the broker publishes if the connection dies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
}

/// Everything needed to open a connection. Build it, then call [`super::connect`].
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub endpoint: Endpoint,
    /// Used when the endpoint's scheme is mqtts:// or wss://.
    pub tls: TlsOptions,
    pub protocol: Protocol,
    pub client_id: String,
    /// Keep Alive in seconds.
    pub keep_alive: u16,
    /// Clean session (3.1.1) / Clean Start (5).
    pub clean_start: bool,
    /// Session Expiry Interval (MQTT 5), in seconds.
    pub session_expiry: Option<u32>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub will: Option<Will>,
    /// `-D` properties; CONNECT and Will properties are used here, the others by the caller.
    pub properties: Properties,
    pub nodelay: bool,
    pub connect_timeout: Duration,
    /// Most QoS 1/2 publishes in flight at once.
    pub max_inflight: u16,
    /// Capacity of the request queue between the caller and the connection.
    pub request_capacity: usize,
    /// Announce a bridge (Mosquitto's `try_private`): on MQTT 3.x the protocol level gets
    /// bit 0x80, which rumqttc cannot send, so that path runs on the project's codec.
    pub bridge: bool,
}

impl ConnectOptions {
    pub fn new(endpoint: Endpoint, client_id: impl Into<String>) -> ConnectOptions {
        ConnectOptions {
            endpoint,
            tls: TlsOptions::default(),
            protocol: Protocol::V311,
            client_id: client_id.into(),
            keep_alive: 60,
            clean_start: true,
            session_expiry: None,
            username: None,
            password: None,
            will: None,
            properties: Properties::default(),
            nodelay: false,
            connect_timeout: Duration::from_secs(10),
            max_inflight: 20,
            request_capacity: 100,
            bridge: false,
        }
    }

    /// Checks what the client library would otherwise panic or misbehave on.
    pub fn validate(&self) -> Result<(), ClientError> {
        if self.keep_alive < 5 {
            return Err(ClientError::InvalidOption(format!(
                "-k {}: the keep alive must be between 5 and 65535 seconds",
                self.keep_alive
            )));
        }
        if self.client_id.is_empty() && !self.clean_start {
            return Err(ClientError::InvalidOption(
                "a persistent session (-c) needs a client id (-i)".into(),
            ));
        }
        if self.client_id.len() > 65535 {
            return Err(ClientError::InvalidOption(
                "the client id is too long".into(),
            ));
        }
        if self.max_inflight == 0 {
            return Err(ClientError::InvalidOption(
                "at least one message must be allowed in flight".into(),
            ));
        }
        if self.protocol != Protocol::V5 {
            let p = &self.properties;
            if p.connect != Default::default()
                || p.will != Default::default()
                || !p.publish.is_empty()
                || p.subscribe != Default::default()
                || !p.unsubscribe_user_properties.is_empty()
            {
                return Err(ClientError::InvalidOption(
                    "-D properties need MQTT 5 (-V 5)".into(),
                ));
            }
            if self.session_expiry.is_some() {
                return Err(ClientError::InvalidOption(
                    "-x (session expiry) needs MQTT 5 (-V 5)".into(),
                ));
            }
        }
        if let Some(will) = &self.will {
            if will.topic.is_empty() || will.topic.contains(['+', '#']) {
                return Err(ClientError::InvalidOption(format!(
                    "--will-topic {:?}: not a valid topic name",
                    will.topic
                )));
            }
        }
        Ok(())
    }
}
