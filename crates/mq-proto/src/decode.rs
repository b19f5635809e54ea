//! Strict decoding: bytes in, packets out. Anything the spec does not allow is refused
//! with a [`DecodeError`] that names the rule.

use bytes::{Bytes, BytesMut};

use crate::error::DecodeError;
use crate::packet::*;
use crate::properties::{Properties, PropertyContext};
use crate::reason::ReasonCode;
use crate::topic::{validate_topic_filter, validate_topic_name};
use crate::types::{PacketId, ProtocolVersion, QoS};
use crate::wire::{parse_varint, Reader};

/// The Control Packet types (section 2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Connect = 1,
    ConnAck,
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    PingReq,
    PingResp,
    Disconnect,
    Auth,
}

impl PacketType {
    fn from_nibble(nibble: u8) -> Result<PacketType, DecodeError> {
        use PacketType::*;
        Ok(match nibble {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 => Auth,
            other => return Err(DecodeError::ReservedPacketType(other)),
        })
    }

    pub fn name(self) -> &'static str {
        use PacketType::*;
        match self {
            Connect => "CONNECT",
            ConnAck => "CONNACK",
            Publish => "PUBLISH",
            PubAck => "PUBACK",
            PubRec => "PUBREC",
            PubRel => "PUBREL",
            PubComp => "PUBCOMP",
            Subscribe => "SUBSCRIBE",
            SubAck => "SUBACK",
            Unsubscribe => "UNSUBSCRIBE",
            UnsubAck => "UNSUBACK",
            PingReq => "PINGREQ",
            PingResp => "PINGRESP",
            Disconnect => "DISCONNECT",
            Auth => "AUTH",
        }
    }
}

/// The fixed header of the packet at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    pub packet_type: PacketType,
    pub flags: u8,
    pub remaining_length: usize,
    /// Bytes of the fixed header itself (2 to 5).
    pub header_len: usize,
}

impl FixedHeader {
    pub fn packet_len(&self) -> usize {
        self.header_len + self.remaining_length
    }
}

/// Reads the packet type as soon as one byte is there, checks the flags, and sizes the
/// packet against `max_packet_size` as soon as the Remaining Length is complete: a peer
/// cannot make the receiver buffer more than the limit.
///
/// `Ok(None)` means more bytes are needed before the header is known.
pub fn peek_header(buf: &[u8], max_packet_size: usize) -> Result<Option<FixedHeader>, DecodeError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let packet_type = PacketType::from_nibble(first >> 4)?;
    let flags = first & 0x0F;
    let required_flags = match packet_type {
        PacketType::Publish => None,
        PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => Some(0b0010),
        _ => Some(0),
    };
    if required_flags.is_some_and(|required| required != flags) {
        return Err(DecodeError::InvalidFixedHeaderFlags {
            packet: packet_type.name(),
            flags,
        });
    }
    if packet_type == PacketType::Publish {
        if flags & 0b0110 == 0b0110 {
            return Err(DecodeError::InvalidQoS);
        }
        if flags & 0b1110 == 0b1000 {
            return Err(DecodeError::DupOnQoS0);
        }
    }
    let Some((remaining_length, used)) = parse_varint(&buf[1..])? else {
        return Ok(None);
    };
    let header = FixedHeader {
        packet_type,
        flags,
        remaining_length: remaining_length as usize,
        header_len: 1 + used,
    };
    if header.packet_len() > max_packet_size {
        return Err(DecodeError::PacketTooLarge {
            size: header.packet_len(),
            max: max_packet_size,
        });
    }
    Ok(Some(header))
}

/// Takes one whole packet off the front of `buf`, or returns `Ok(None)` and leaves `buf`
/// alone when it holds only part of one. `version` is the connection's protocol version;
/// a CONNECT carries its own.
pub fn decode(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    max_packet_size: usize,
) -> Result<Option<Packet>, DecodeError> {
    let Some(header) = peek_header(buf, max_packet_size)? else {
        return Ok(None);
    };
    if buf.len() < header.packet_len() {
        return Ok(None);
    }
    let mut packet = buf.split_to(header.packet_len()).freeze();
    let body = packet.split_off(header.header_len);
    decode_body(header, body, version).map(Some)
}

/// Decodes a packet body whose fixed header is already known.
pub fn decode_body(
    header: FixedHeader,
    body: Bytes,
    version: ProtocolVersion,
) -> Result<Packet, DecodeError> {
    let mut r = Reader::new(body, header.packet_type.name());
    let v5 = version.is_v5();
    let packet = match header.packet_type {
        PacketType::Connect => Packet::Connect(Box::new(connect(&mut r)?)),
        PacketType::ConnAck => Packet::ConnAck(connack(&mut r, v5)?),
        PacketType::Publish => Packet::Publish(publish(&mut r, header.flags, v5)?),
        PacketType::PubAck => Packet::PubAck(pub_response(&mut r, v5, "PUBACK", PUBACK_CODES)?),
        PacketType::PubRec => Packet::PubRec(pub_response(&mut r, v5, "PUBREC", PUBACK_CODES)?),
        PacketType::PubRel => Packet::PubRel(pub_response(&mut r, v5, "PUBREL", PUBREL_CODES)?),
        PacketType::PubComp => Packet::PubComp(pub_response(&mut r, v5, "PUBCOMP", PUBREL_CODES)?),
        PacketType::Subscribe => Packet::Subscribe(subscribe(&mut r, v5)?),
        PacketType::SubAck => Packet::SubAck(suback(&mut r, v5)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(unsubscribe(&mut r, v5)?),
        PacketType::UnsubAck => Packet::UnsubAck(unsuback(&mut r, v5)?),
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => Packet::Disconnect(disconnect(&mut r, v5)?),
        PacketType::Auth => {
            if !v5 {
                return Err(DecodeError::AuthBeforeV5(version));
            }
            Packet::Auth(auth(&mut r)?)
        }
    };
    r.finish()?;
    Ok(packet)
}

fn packet_id(r: &mut Reader) -> Result<PacketId, DecodeError> {
    PacketId::new(r.u16()?).ok_or(DecodeError::PacketIdZero)
}

fn read_properties(
    r: &mut Reader,
    v5: bool,
    context: PropertyContext,
) -> Result<Properties, DecodeError> {
    if v5 {
        Properties::decode(r, context)
    } else {
        Ok(Properties::default())
    }
}

fn reason(
    code: u8,
    allowed: &[ReasonCode],
    packet: &'static str,
) -> Result<ReasonCode, DecodeError> {
    ReasonCode::from_u8(code)
        .filter(|rc| allowed.contains(rc))
        .ok_or(DecodeError::InvalidReasonCode { packet, code })
}

fn connect(r: &mut Reader) -> Result<Connect, DecodeError> {
    let name = r.binary()?;
    let level = r.u8()?;
    let protocol = match (&name[..], level) {
        (b"MQTT", 4) => ProtocolVersion::V311,
        (b"MQTT", 5) => ProtocolVersion::V5,
        (b"MQIsdp", 3) => ProtocolVersion::V31,
        (b"MQTT" | b"MQIsdp", other) => return Err(DecodeError::UnsupportedProtocolLevel(other)),
        (other, _) => {
            return Err(DecodeError::InvalidProtocolName(
                String::from_utf8_lossy(other).into_owned(),
            ))
        }
    };
    let v5 = protocol.is_v5();
    let flags = r.u8()?;
    if flags & 0x01 != 0 {
        return Err(DecodeError::ConnectReservedFlag);
    }
    let clean_start = flags & 0x02 != 0;
    let will_flag = flags & 0x04 != 0;
    let will_qos_bits = (flags >> 3) & 0x03;
    let will_retain = flags & 0x20 != 0;
    let has_password = flags & 0x40 != 0;
    let has_username = flags & 0x80 != 0;
    let will_qos = QoS::from_bits(will_qos_bits).ok_or(DecodeError::InvalidWillQoS)?;
    if !will_flag && will_qos_bits != 0 {
        return Err(DecodeError::WillQoSWithoutWill);
    }
    if !will_flag && will_retain {
        return Err(DecodeError::WillRetainWithoutWill);
    }
    if has_password && !has_username && !v5 {
        return Err(DecodeError::PasswordWithoutUserName);
    }
    let keep_alive = r.u16()?;
    let properties = read_properties(r, v5, PropertyContext::Connect)?;
    let client_id = r.string()?;
    let will = if will_flag {
        let properties = read_properties(r, v5, PropertyContext::Will)?;
        let topic = r.byte_string()?;
        validate_topic_name(&topic)?;
        let payload = r.binary()?;
        Some(Will {
            topic,
            payload,
            qos: will_qos,
            retain: will_retain,
            properties,
        })
    } else {
        None
    };
    let username = if has_username {
        Some(r.string()?)
    } else {
        None
    };
    let password = if has_password {
        Some(r.binary()?)
    } else {
        None
    };
    Ok(Connect {
        protocol,
        clean_start,
        keep_alive,
        client_id,
        will,
        username,
        password,
        properties,
    })
}

const CONNACK_CODES: &[ReasonCode] = &[
    ReasonCode::Success,
    ReasonCode::UnspecifiedError,
    ReasonCode::MalformedPacket,
    ReasonCode::ProtocolError,
    ReasonCode::ImplementationSpecificError,
    ReasonCode::UnsupportedProtocolVersion,
    ReasonCode::ClientIdentifierNotValid,
    ReasonCode::BadUserNameOrPassword,
    ReasonCode::NotAuthorized,
    ReasonCode::ServerUnavailable,
    ReasonCode::ServerBusy,
    ReasonCode::Banned,
    ReasonCode::BadAuthenticationMethod,
    ReasonCode::TopicNameInvalid,
    ReasonCode::PacketTooLarge,
    ReasonCode::QuotaExceeded,
    ReasonCode::PayloadFormatInvalid,
    ReasonCode::RetainNotSupported,
    ReasonCode::QoSNotSupported,
    ReasonCode::UseAnotherServer,
    ReasonCode::ServerMoved,
    ReasonCode::ConnectionRateExceeded,
];

fn connack(r: &mut Reader, v5: bool) -> Result<ConnAck, DecodeError> {
    let flags = r.u8()?;
    if flags & 0xFE != 0 {
        return Err(DecodeError::InvalidFixedHeaderFlags {
            packet: "CONNACK acknowledge flags",
            flags,
        });
    }
    let code = r.u8()?;
    let reason_code = if v5 {
        reason(code, CONNACK_CODES, "CONNACK")?
    } else {
        ReasonCode::from_v3_connack(code).ok_or(DecodeError::InvalidReasonCode {
            packet: "CONNACK",
            code,
        })?
    };
    let properties = read_properties(r, v5, PropertyContext::ConnAck)?;
    Ok(ConnAck {
        session_present: flags & 0x01 != 0,
        reason_code,
        properties,
    })
}

fn publish(r: &mut Reader, flags: u8, v5: bool) -> Result<Publish, DecodeError> {
    let qos = QoS::from_bits((flags >> 1) & 0x03).ok_or(DecodeError::InvalidQoS)?;
    let topic = r.byte_string()?;
    let packet_id = if qos == QoS::AtMostOnce {
        None
    } else {
        Some(packet_id(r)?)
    };
    let properties = read_properties(r, v5, PropertyContext::Publish)?;
    // In MQTT 5 an empty Topic Name is how a Topic Alias is used alone.
    if !(topic.is_empty() && properties.topic_alias.is_some()) {
        validate_topic_name(&topic)?;
    }
    Ok(Publish {
        dup: flags & 0x08 != 0,
        qos,
        retain: flags & 0x01 != 0,
        topic,
        packet_id,
        properties,
        payload: r.rest(),
    })
}

const PUBACK_CODES: &[ReasonCode] = &[
    ReasonCode::Success,
    ReasonCode::NoMatchingSubscribers,
    ReasonCode::UnspecifiedError,
    ReasonCode::ImplementationSpecificError,
    ReasonCode::NotAuthorized,
    ReasonCode::TopicNameInvalid,
    ReasonCode::PacketIdentifierInUse,
    ReasonCode::QuotaExceeded,
    ReasonCode::PayloadFormatInvalid,
];

const PUBREL_CODES: &[ReasonCode] = &[ReasonCode::Success, ReasonCode::PacketIdentifierNotFound];

fn pub_response(
    r: &mut Reader,
    v5: bool,
    packet: &'static str,
    codes: &[ReasonCode],
) -> Result<PubResponse, DecodeError> {
    let packet_id = packet_id(r)?;
    let mut response = PubResponse::new(packet_id);
    if v5 && r.remaining() > 0 {
        response.reason_code = reason(r.u8()?, codes, packet)?;
        if r.remaining() > 0 {
            response.properties = Properties::decode(r, PropertyContext::PubResponse)?;
        }
    }
    Ok(response)
}

fn subscribe(r: &mut Reader, v5: bool) -> Result<Subscribe, DecodeError> {
    let packet_id = packet_id(r)?;
    let properties = read_properties(r, v5, PropertyContext::Subscribe)?;
    let mut filters = Vec::new();
    while r.remaining() > 0 {
        let filter = r.string()?;
        validate_filter(&filter)?;
        let options = r.u8()?;
        let reserved = if v5 { 0xC0 } else { 0xFC };
        if options & reserved != 0 {
            return Err(DecodeError::SubscriptionOptionsReserved);
        }
        let qos = QoS::from_bits(options & 0x03).ok_or(DecodeError::InvalidSubscriptionQoS)?;
        let retain_handling = match (options >> 4) & 0x03 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(DecodeError::InvalidRetainHandling),
        };
        filters.push((
            filter,
            SubscriptionOptions {
                qos,
                no_local: options & 0x04 != 0,
                retain_as_published: options & 0x08 != 0,
                retain_handling,
            },
        ));
    }
    if filters.is_empty() {
        return Err(DecodeError::EmptySubscribe);
    }
    Ok(Subscribe {
        packet_id,
        filters,
        properties,
    })
}

fn validate_filter(filter: &str) -> Result<(), DecodeError> {
    validate_topic_filter(filter).map_err(|error| DecodeError::InvalidTopicFilter {
        filter: filter.to_string(),
        error,
    })
}

const SUBACK_CODES: &[ReasonCode] = &[
    ReasonCode::Success,
    ReasonCode::GrantedQoS1,
    ReasonCode::GrantedQoS2,
    ReasonCode::UnspecifiedError,
    ReasonCode::ImplementationSpecificError,
    ReasonCode::NotAuthorized,
    ReasonCode::TopicFilterInvalid,
    ReasonCode::PacketIdentifierInUse,
    ReasonCode::QuotaExceeded,
    ReasonCode::SharedSubscriptionsNotSupported,
    ReasonCode::SubscriptionIdentifiersNotSupported,
    ReasonCode::WildcardSubscriptionsNotSupported,
];

fn suback(r: &mut Reader, v5: bool) -> Result<SubAck, DecodeError> {
    let packet_id = packet_id(r)?;
    let properties = read_properties(r, v5, PropertyContext::SubAck)?;
    let mut reason_codes = Vec::with_capacity(r.remaining());
    while r.remaining() > 0 {
        let code = r.u8()?;
        reason_codes.push(if v5 {
            reason(code, SUBACK_CODES, "SUBACK")?
        } else {
            match code {
                0 => ReasonCode::Success,
                1 => ReasonCode::GrantedQoS1,
                2 => ReasonCode::GrantedQoS2,
                0x80 => ReasonCode::UnspecifiedError,
                other => return Err(DecodeError::InvalidSubAckCode(other)),
            }
        });
    }
    Ok(SubAck {
        packet_id,
        reason_codes,
        properties,
    })
}

fn unsubscribe(r: &mut Reader, v5: bool) -> Result<Unsubscribe, DecodeError> {
    let packet_id = packet_id(r)?;
    let properties = read_properties(r, v5, PropertyContext::Unsubscribe)?;
    let mut filters = Vec::new();
    while r.remaining() > 0 {
        let filter = r.string()?;
        validate_filter(&filter)?;
        filters.push(filter);
    }
    if filters.is_empty() {
        return Err(DecodeError::EmptyUnsubscribe);
    }
    Ok(Unsubscribe {
        packet_id,
        filters,
        properties,
    })
}

const UNSUBACK_CODES: &[ReasonCode] = &[
    ReasonCode::Success,
    ReasonCode::NoSubscriptionExisted,
    ReasonCode::UnspecifiedError,
    ReasonCode::ImplementationSpecificError,
    ReasonCode::NotAuthorized,
    ReasonCode::TopicFilterInvalid,
    ReasonCode::PacketIdentifierInUse,
];

fn unsuback(r: &mut Reader, v5: bool) -> Result<UnsubAck, DecodeError> {
    let packet_id = packet_id(r)?;
    let mut ack = UnsubAck {
        packet_id,
        reason_codes: Vec::new(),
        properties: Properties::default(),
    };
    if v5 {
        ack.properties = Properties::decode(r, PropertyContext::UnsubAck)?;
        while r.remaining() > 0 {
            ack.reason_codes
                .push(reason(r.u8()?, UNSUBACK_CODES, "UNSUBACK")?);
        }
    }
    Ok(ack)
}

const DISCONNECT_CODES: &[ReasonCode] = &[
    ReasonCode::Success,
    ReasonCode::DisconnectWithWillMessage,
    ReasonCode::UnspecifiedError,
    ReasonCode::MalformedPacket,
    ReasonCode::ProtocolError,
    ReasonCode::ImplementationSpecificError,
    ReasonCode::NotAuthorized,
    ReasonCode::ServerBusy,
    ReasonCode::ServerShuttingDown,
    ReasonCode::KeepAliveTimeout,
    ReasonCode::SessionTakenOver,
    ReasonCode::TopicFilterInvalid,
    ReasonCode::TopicNameInvalid,
    ReasonCode::ReceiveMaximumExceeded,
    ReasonCode::TopicAliasInvalid,
    ReasonCode::PacketTooLarge,
    ReasonCode::MessageRateTooHigh,
    ReasonCode::QuotaExceeded,
    ReasonCode::AdministrativeAction,
    ReasonCode::PayloadFormatInvalid,
    ReasonCode::RetainNotSupported,
    ReasonCode::QoSNotSupported,
    ReasonCode::UseAnotherServer,
    ReasonCode::ServerMoved,
    ReasonCode::SharedSubscriptionsNotSupported,
    ReasonCode::ConnectionRateExceeded,
    ReasonCode::MaximumConnectTime,
    ReasonCode::SubscriptionIdentifiersNotSupported,
    ReasonCode::WildcardSubscriptionsNotSupported,
];

fn disconnect(r: &mut Reader, v5: bool) -> Result<Disconnect, DecodeError> {
    let mut packet = Disconnect::new(ReasonCode::Success);
    if v5 && r.remaining() > 0 {
        packet.reason_code = reason(r.u8()?, DISCONNECT_CODES, "DISCONNECT")?;
        if r.remaining() > 0 {
            packet.properties = Properties::decode(r, PropertyContext::Disconnect)?;
        }
    }
    Ok(packet)
}

const AUTH_CODES: &[ReasonCode] = &[
    ReasonCode::Success,
    ReasonCode::ContinueAuthentication,
    ReasonCode::ReAuthenticate,
];

fn auth(r: &mut Reader) -> Result<Auth, DecodeError> {
    let mut packet = Auth {
        reason_code: ReasonCode::Success,
        properties: Properties::default(),
    };
    if r.remaining() > 0 {
        packet.reason_code = reason(r.u8()?, AUTH_CODES, "AUTH")?;
        if r.remaining() > 0 {
            packet.properties = Properties::decode(r, PropertyContext::Auth)?;
        }
    }
    Ok(packet)
}
