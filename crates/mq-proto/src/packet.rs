//! The packet model: one type per Control Packet, shaped for MQTT 5 and used for 3.x too
//! (3.x packets leave properties empty and reason codes at their 3.x equivalents).

use bytes::Bytes;
use bytestring::ByteString;

use crate::properties::Properties;
use crate::reason::ReasonCode;
use crate::types::{PacketId, ProtocolVersion, QoS};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Connect(Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(PubResponse),
    PubRec(PubResponse),
    PubRel(PubResponse),
    PubComp(PubResponse),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

impl Packet {
    /// The packet's name as the spec writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Packet::Connect(_) => "CONNECT",
            Packet::ConnAck(_) => "CONNACK",
            Packet::Publish(_) => "PUBLISH",
            Packet::PubAck(_) => "PUBACK",
            Packet::PubRec(_) => "PUBREC",
            Packet::PubRel(_) => "PUBREL",
            Packet::PubComp(_) => "PUBCOMP",
            Packet::Subscribe(_) => "SUBSCRIBE",
            Packet::SubAck(_) => "SUBACK",
            Packet::Unsubscribe(_) => "UNSUBSCRIBE",
            Packet::UnsubAck(_) => "UNSUBACK",
            Packet::PingReq => "PINGREQ",
            Packet::PingResp => "PINGRESP",
            Packet::Disconnect(_) => "DISCONNECT",
            Packet::Auth(_) => "AUTH",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub protocol: ProtocolVersion,
    /// Clean Session in 3.x, Clean Start in 5.
    pub clean_start: bool,
    /// Seconds; 0 turns keep alive off.
    pub keep_alive: u16,
    pub client_id: String,
    pub will: Option<Will>,
    pub username: Option<String>,
    pub password: Option<Bytes>,
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    pub topic: ByteString,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    pub session_present: bool,
    pub reason_code: ReasonCode,
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// Shares the receive buffer: decoding a PUBLISH copies nothing.
    pub topic: ByteString,
    /// `Some` exactly when `qos` is 1 or 2.
    pub packet_id: Option<PacketId>,
    pub properties: Properties,
    pub payload: Bytes,
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP: a Packet Identifier and, in 5, a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubResponse {
    pub packet_id: PacketId,
    pub reason_code: ReasonCode,
    pub properties: Properties,
}

impl PubResponse {
    pub fn new(packet_id: PacketId) -> PubResponse {
        PubResponse::with_reason(packet_id, ReasonCode::Success)
    }

    pub fn with_reason(packet_id: PacketId, reason_code: ReasonCode) -> PubResponse {
        PubResponse {
            packet_id,
            reason_code,
            properties: Properties::default(),
        }
    }
}

/// Retain Handling option of a subscription (MQTT 5 section 3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetainHandling {
    #[default]
    SendAtSubscribe = 0,
    SendAtSubscribeIfNew = 1,
    DoNotSend = 2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionOptions {
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    pub fn new(qos: QoS) -> SubscriptionOptions {
        SubscriptionOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub packet_id: PacketId,
    pub filters: Vec<(String, SubscriptionOptions)>,
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    pub packet_id: PacketId,
    /// One per filter: Granted QoS 0-2 or a failure (0x80 in 3.1.1).
    pub reason_codes: Vec<ReasonCode>,
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub packet_id: PacketId,
    pub filters: Vec<String>,
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    pub packet_id: PacketId,
    /// One per filter in MQTT 5; always empty in 3.x, which has no payload.
    pub reason_codes: Vec<ReasonCode>,
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    pub reason_code: ReasonCode,
    pub properties: Properties,
}

impl Disconnect {
    pub fn new(reason_code: ReasonCode) -> Disconnect {
        Disconnect {
            reason_code,
            properties: Properties::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub reason_code: ReasonCode,
    pub properties: Properties,
}
