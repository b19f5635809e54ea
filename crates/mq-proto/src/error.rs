//! Why a packet was refused. Each refusal names the spec statement it enforces, and
//! [`DecodeError::reason_code`] is the one place that maps refusals to Reason Codes.

use crate::reason::ReasonCode;
use crate::topic::TopicFilterError;

/// A packet the codec refuses, or a packet that breaks the order of a connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("[MQTT-1.5.5-1] Remaining Length or Variable Byte Integer longer than 4 bytes")]
    VarIntTooLong,
    #[error("[MQTT-1.5.5-1] Variable Byte Integer not encoded in the minimum number of bytes")]
    VarIntNotMinimal,
    #[error("packet of {size} bytes is larger than the maximum packet size of {max} bytes")]
    PacketTooLarge { size: usize, max: usize },
    #[error("[MQTT-2.1.3-1] packet type {0} is reserved")]
    ReservedPacketType(u8),
    #[error("[MQTT-2.2.2-2] invalid fixed header flags 0x{flags:X} for {packet}")]
    InvalidFixedHeaderFlags { packet: &'static str, flags: u8 },
    #[error("[MQTT-3.3.1-4] PUBLISH with QoS 3")]
    InvalidQoS,
    #[error("[MQTT-3.3.1-2] DUP flag set on a QoS 0 PUBLISH")]
    DupOnQoS0,
    #[error("[MQTT-2.3.1-1] Packet Identifier 0")]
    PacketIdZero,
    #[error("[MQTT-1.5.3-1] string is not well-formed UTF-8")]
    InvalidUtf8,
    #[error("[MQTT-1.5.3-2] string contains the null character U+0000")]
    NullCharacter,
    #[error("[MQTT-3.3.2-2] Topic Name {0:?} contains a wildcard")]
    WildcardInTopicName(String),
    #[error("[MQTT-4.7.3-1] Topic Name is empty")]
    EmptyTopicName,
    #[error("Topic Filter {filter:?} is malformed: {error}")]
    InvalidTopicFilter {
        filter: String,
        error: TopicFilterError,
    },
    #[error("[MQTT-3.1.2-1] protocol name {0:?} is neither MQTT nor MQIsdp")]
    InvalidProtocolName(String),
    #[error("[MQTT-3.1.2-2] protocol level {0} is not supported (3, 4 and 5 are)")]
    UnsupportedProtocolLevel(u8),
    #[error("[MQTT-3.1.2-3] reserved CONNECT flag is set")]
    ConnectReservedFlag,
    #[error("[MQTT-3.1.2-13] Will QoS is not 0 although the Will Flag is 0")]
    WillQoSWithoutWill,
    #[error("[MQTT-3.1.2-15] Will Retain is set although the Will Flag is 0")]
    WillRetainWithoutWill,
    #[error("[MQTT-3.1.2-14] Will QoS 3")]
    InvalidWillQoS,
    #[error("[MQTT-3.1.2-22] password present without a user name")]
    PasswordWithoutUserName,
    #[error("[MQTT-3.8.3-3] SUBSCRIBE carries no Topic Filter")]
    EmptySubscribe,
    #[error("[MQTT-3.10.3-2] UNSUBSCRIBE carries no Topic Filter")]
    EmptyUnsubscribe,
    #[error("[MQTT-3.8.3-5] reserved bits set in the subscription options")]
    SubscriptionOptionsReserved,
    #[error("[MQTT-3.8.3-5] Retain Handling 3 is reserved")]
    InvalidRetainHandling,
    #[error("[MQTT-3-8.3-4] subscription options ask for Maximum QoS 3")]
    InvalidSubscriptionQoS,
    #[error("[MQTT-3.9.3-2] SUBACK return code 0x{0:02X} is reserved")]
    InvalidSubAckCode(u8),
    #[error("{packet} ends before its contents do")]
    Truncated { packet: &'static str },
    #[error("{packet} has {extra} bytes after its contents")]
    TrailingBytes { packet: &'static str, extra: usize },
    #[error("property identifier 0x{0:02X} is not defined")]
    UnknownProperty(u8),
    #[error("[MQTT-2.2.2-2] property {property} is not allowed in {context}")]
    PropertyNotAllowed {
        property: &'static str,
        context: &'static str,
    },
    #[error("property {0} appears more than once")]
    DuplicateProperty(&'static str),
    #[error("property {property} has the invalid value {value}")]
    InvalidPropertyValue { property: &'static str, value: u32 },
    #[error("reason code 0x{code:02X} is not valid in {packet}")]
    InvalidReasonCode { packet: &'static str, code: u8 },
    #[error("[MQTT-3.1.0-1] the first packet is {0}, not CONNECT")]
    FirstPacketNotConnect(&'static str),
    #[error("[MQTT-3.1.0-2] a second CONNECT on the same connection")]
    SecondConnect,
    #[error("{packet} is never sent to a {receiver}")]
    WrongDirection {
        packet: &'static str,
        receiver: &'static str,
    },
    #[error("[MQTT-2.1.2-1] AUTH does not exist in MQTT {0}")]
    AuthBeforeV5(crate::ProtocolVersion),
}

impl DecodeError {
    /// The Reason Code a v5 peer is told before the connection closes.
    pub fn reason_code(&self) -> ReasonCode {
        use DecodeError::*;
        match self {
            PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            UnsupportedProtocolLevel(_) => ReasonCode::UnsupportedProtocolVersion,
            WildcardInTopicName(_) => ReasonCode::TopicNameInvalid,
            // MQTT 5 sections 3.3.2.1, 3.8.3, 3.8.3.1 and 3.10.3 name these a Protocol Error.
            EmptyTopicName
            | EmptySubscribe
            | EmptyUnsubscribe
            | DuplicateProperty(_)
            | InvalidPropertyValue { .. }
            | FirstPacketNotConnect(_)
            | SecondConnect
            | WrongDirection { .. }
            | AuthBeforeV5(_)
            | InvalidRetainHandling
            | InvalidSubscriptionQoS => ReasonCode::ProtocolError,
            _ => ReasonCode::MalformedPacket,
        }
    }
}
