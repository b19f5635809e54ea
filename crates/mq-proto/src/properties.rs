//! MQTT 5 properties (section 2.2.2). MQTT 3.x packets carry none; the model keeps
//! them in every packet so one code path serves all versions.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::DecodeError;
use crate::wire::{binary_len, put_binary, put_varint, varint_len, Reader, VARINT_MAX};

/// Which packet (or part of one) a property block belongs to; decides what is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyContext {
    Connect,
    Will,
    ConnAck,
    Publish,
    /// PUBACK, PUBREC, PUBREL and PUBCOMP.
    PubResponse,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

impl PropertyContext {
    fn name(self) -> &'static str {
        match self {
            PropertyContext::Connect => "CONNECT",
            PropertyContext::Will => "the Will properties",
            PropertyContext::ConnAck => "CONNACK",
            PropertyContext::Publish => "PUBLISH",
            PropertyContext::PubResponse => "PUBACK/PUBREC/PUBREL/PUBCOMP",
            PropertyContext::Subscribe => "SUBSCRIBE",
            PropertyContext::SubAck => "SUBACK",
            PropertyContext::Unsubscribe => "UNSUBSCRIBE",
            PropertyContext::UnsubAck => "UNSUBACK",
            PropertyContext::Disconnect => "DISCONNECT",
            PropertyContext::Auth => "AUTH",
        }
    }
}

/// Every property of MQTT 5; `None`/empty means absent. User Properties keep their order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    pub payload_format_indicator: Option<u8>,
    pub message_expiry_interval: Option<u32>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    pub subscription_identifiers: Vec<u32>,
    pub session_expiry_interval: Option<u32>,
    pub assigned_client_identifier: Option<String>,
    pub server_keep_alive: Option<u16>,
    pub authentication_method: Option<String>,
    pub authentication_data: Option<Bytes>,
    pub request_problem_information: Option<u8>,
    pub will_delay_interval: Option<u32>,
    pub request_response_information: Option<u8>,
    pub response_information: Option<String>,
    pub server_reference: Option<String>,
    pub reason_string: Option<String>,
    pub receive_maximum: Option<u16>,
    pub topic_alias_maximum: Option<u16>,
    pub topic_alias: Option<u16>,
    pub maximum_qos: Option<u8>,
    pub retain_available: Option<u8>,
    pub user_properties: Vec<(String, String)>,
    pub maximum_packet_size: Option<u32>,
    pub wildcard_subscription_available: Option<u8>,
    pub subscription_identifier_available: Option<u8>,
    pub shared_subscription_available: Option<u8>,
}

mod id {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// The spec's name of a property, and the packets it may appear in (table 2-4).
fn describe(identifier: u8) -> Option<(&'static str, &'static [PropertyContext])> {
    use PropertyContext::*;
    const ACKS: &[PropertyContext] = &[ConnAck, PubResponse, SubAck, UnsubAck, Disconnect, Auth];
    const ALL: &[PropertyContext] = &[
        Connect,
        Will,
        ConnAck,
        Publish,
        PubResponse,
        Subscribe,
        SubAck,
        Unsubscribe,
        UnsubAck,
        Disconnect,
        Auth,
    ];
    Some(match identifier {
        id::PAYLOAD_FORMAT_INDICATOR => ("Payload Format Indicator", &[Publish, Will]),
        id::MESSAGE_EXPIRY_INTERVAL => ("Message Expiry Interval", &[Publish, Will]),
        id::CONTENT_TYPE => ("Content Type", &[Publish, Will]),
        id::RESPONSE_TOPIC => ("Response Topic", &[Publish, Will]),
        id::CORRELATION_DATA => ("Correlation Data", &[Publish, Will]),
        id::SUBSCRIPTION_IDENTIFIER => ("Subscription Identifier", &[Publish, Subscribe]),
        id::SESSION_EXPIRY_INTERVAL => ("Session Expiry Interval", &[Connect, ConnAck, Disconnect]),
        id::ASSIGNED_CLIENT_IDENTIFIER => ("Assigned Client Identifier", &[ConnAck]),
        id::SERVER_KEEP_ALIVE => ("Server Keep Alive", &[ConnAck]),
        id::AUTHENTICATION_METHOD => ("Authentication Method", &[Connect, ConnAck, Auth]),
        id::AUTHENTICATION_DATA => ("Authentication Data", &[Connect, ConnAck, Auth]),
        id::REQUEST_PROBLEM_INFORMATION => ("Request Problem Information", &[Connect]),
        id::WILL_DELAY_INTERVAL => ("Will Delay Interval", &[Will]),
        id::REQUEST_RESPONSE_INFORMATION => ("Request Response Information", &[Connect]),
        id::RESPONSE_INFORMATION => ("Response Information", &[ConnAck]),
        id::SERVER_REFERENCE => ("Server Reference", &[ConnAck, Disconnect]),
        id::REASON_STRING => ("Reason String", ACKS),
        id::RECEIVE_MAXIMUM => ("Receive Maximum", &[Connect, ConnAck]),
        id::TOPIC_ALIAS_MAXIMUM => ("Topic Alias Maximum", &[Connect, ConnAck]),
        id::TOPIC_ALIAS => ("Topic Alias", &[Publish]),
        id::MAXIMUM_QOS => ("Maximum QoS", &[ConnAck]),
        id::RETAIN_AVAILABLE => ("Retain Available", &[ConnAck]),
        id::USER_PROPERTY => ("User Property", ALL),
        id::MAXIMUM_PACKET_SIZE => ("Maximum Packet Size", &[Connect, ConnAck]),
        id::WILDCARD_SUBSCRIPTION_AVAILABLE => ("Wildcard Subscription Available", &[ConnAck]),
        id::SUBSCRIPTION_IDENTIFIER_AVAILABLE => ("Subscription Identifier Available", &[ConnAck]),
        id::SHARED_SUBSCRIPTION_AVAILABLE => ("Shared Subscription Available", &[ConnAck]),
        _ => return None,
    })
}

fn set_once<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateProperty(name));
    }
    *slot = Some(value);
    Ok(())
}

/// A byte property that may only be 0 or 1.
fn flag(value: u8, name: &'static str) -> Result<u8, DecodeError> {
    if value > 1 {
        return Err(DecodeError::InvalidPropertyValue {
            property: name,
            value: value.into(),
        });
    }
    Ok(value)
}

/// A two- or four-byte property for which 0 is a Protocol Error.
fn nonzero<T: Into<u32> + Copy + PartialEq + Default>(
    value: T,
    name: &'static str,
) -> Result<T, DecodeError> {
    if value == T::default() {
        return Err(DecodeError::InvalidPropertyValue {
            property: name,
            value: 0,
        });
    }
    Ok(value)
}

impl Properties {
    pub fn is_empty(&self) -> bool {
        *self == Properties::default()
    }

    /// Reads a property block (its length, then the properties) for `context`.
    pub(crate) fn decode(r: &mut Reader, context: PropertyContext) -> Result<Self, DecodeError> {
        let len = r.varint()? as usize;
        let mut r = r.sub_reader(len)?;
        let mut p = Properties::default();
        while r.remaining() > 0 {
            let identifier = r.varint()?;
            let identifier =
                u8::try_from(identifier).map_err(|_| DecodeError::UnknownProperty(0xFF))?;
            let (name, allowed) =
                describe(identifier).ok_or(DecodeError::UnknownProperty(identifier))?;
            if !allowed.contains(&context) {
                return Err(DecodeError::PropertyNotAllowed {
                    property: name,
                    context: context.name(),
                });
            }
            match identifier {
                id::PAYLOAD_FORMAT_INDICATOR => {
                    let v = flag(r.u8()?, name)?;
                    set_once(&mut p.payload_format_indicator, v, name)?
                }
                id::MESSAGE_EXPIRY_INTERVAL => {
                    set_once(&mut p.message_expiry_interval, r.u32()?, name)?
                }
                id::CONTENT_TYPE => set_once(&mut p.content_type, r.string()?, name)?,
                id::RESPONSE_TOPIC => {
                    let topic = r.string()?;
                    crate::topic::validate_topic_name(&topic)?;
                    set_once(&mut p.response_topic, topic, name)?
                }
                id::CORRELATION_DATA => set_once(&mut p.correlation_data, r.binary()?, name)?,
                id::SUBSCRIPTION_IDENTIFIER => {
                    let v = nonzero(r.varint()?, name)?;
                    if context == PropertyContext::Subscribe
                        && !p.subscription_identifiers.is_empty()
                    {
                        return Err(DecodeError::DuplicateProperty(name));
                    }
                    p.subscription_identifiers.push(v)
                }
                id::SESSION_EXPIRY_INTERVAL => {
                    set_once(&mut p.session_expiry_interval, r.u32()?, name)?
                }
                id::ASSIGNED_CLIENT_IDENTIFIER => {
                    set_once(&mut p.assigned_client_identifier, r.string()?, name)?
                }
                id::SERVER_KEEP_ALIVE => set_once(&mut p.server_keep_alive, r.u16()?, name)?,
                id::AUTHENTICATION_METHOD => {
                    set_once(&mut p.authentication_method, r.string()?, name)?
                }
                id::AUTHENTICATION_DATA => set_once(&mut p.authentication_data, r.binary()?, name)?,
                id::REQUEST_PROBLEM_INFORMATION => {
                    let v = flag(r.u8()?, name)?;
                    set_once(&mut p.request_problem_information, v, name)?
                }
                id::WILL_DELAY_INTERVAL => set_once(&mut p.will_delay_interval, r.u32()?, name)?,
                id::REQUEST_RESPONSE_INFORMATION => {
                    let v = flag(r.u8()?, name)?;
                    set_once(&mut p.request_response_information, v, name)?
                }
                id::RESPONSE_INFORMATION => {
                    set_once(&mut p.response_information, r.string()?, name)?
                }
                id::SERVER_REFERENCE => set_once(&mut p.server_reference, r.string()?, name)?,
                id::REASON_STRING => set_once(&mut p.reason_string, r.string()?, name)?,
                id::RECEIVE_MAXIMUM => {
                    let v = nonzero(r.u16()?, name)?;
                    set_once(&mut p.receive_maximum, v, name)?
                }
                id::TOPIC_ALIAS_MAXIMUM => set_once(&mut p.topic_alias_maximum, r.u16()?, name)?,
                id::TOPIC_ALIAS => {
                    let v = nonzero(r.u16()?, name)?;
                    set_once(&mut p.topic_alias, v, name)?
                }
                id::MAXIMUM_QOS => {
                    let v = flag(r.u8()?, name)?;
                    set_once(&mut p.maximum_qos, v, name)?
                }
                id::RETAIN_AVAILABLE => {
                    let v = flag(r.u8()?, name)?;
                    set_once(&mut p.retain_available, v, name)?
                }
                id::USER_PROPERTY => {
                    let key = r.string()?;
                    let value = r.string()?;
                    p.user_properties.push((key, value))
                }
                id::MAXIMUM_PACKET_SIZE => {
                    let v = nonzero(r.u32()?, name)?;
                    set_once(&mut p.maximum_packet_size, v, name)?
                }
                id::WILDCARD_SUBSCRIPTION_AVAILABLE => {
                    let v = flag(r.u8()?, name)?;
                    set_once(&mut p.wildcard_subscription_available, v, name)?
                }
                id::SUBSCRIPTION_IDENTIFIER_AVAILABLE => {
                    let v = flag(r.u8()?, name)?;
                    set_once(&mut p.subscription_identifier_available, v, name)?
                }
                id::SHARED_SUBSCRIPTION_AVAILABLE => {
                    let v = flag(r.u8()?, name)?;
                    set_once(&mut p.shared_subscription_available, v, name)?
                }
                _ => return Err(DecodeError::UnknownProperty(identifier)),
            }
        }
        Ok(p)
    }

    /// Writes the property block: its length, then each property present.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        let len = self.body_len();
        put_varint(out, len as u32);
        self.encode_body(out);
    }

    /// Size of the whole block, length prefix included.
    pub(crate) fn encoded_len(&self) -> usize {
        let body = self.body_len();
        varint_len(body as u32) + body
    }

    fn body_len(&self) -> usize {
        let mut scratch = Sizer(0);
        self.visit(&mut scratch);
        scratch.0
    }

    fn encode_body(&self, out: &mut BytesMut) {
        self.visit(&mut Writer(out));
    }

    /// Walks every present property once; sizing and writing share this one walk so they
    /// cannot disagree.
    fn visit(&self, v: &mut impl Visitor) {
        if let Some(x) = self.payload_format_indicator {
            v.byte(id::PAYLOAD_FORMAT_INDICATOR, x);
        }
        if let Some(x) = self.message_expiry_interval {
            v.four(id::MESSAGE_EXPIRY_INTERVAL, x);
        }
        if let Some(x) = &self.content_type {
            v.binary(id::CONTENT_TYPE, x.as_bytes());
        }
        if let Some(x) = &self.response_topic {
            v.binary(id::RESPONSE_TOPIC, x.as_bytes());
        }
        if let Some(x) = &self.correlation_data {
            v.binary(id::CORRELATION_DATA, x);
        }
        for x in &self.subscription_identifiers {
            v.varint(id::SUBSCRIPTION_IDENTIFIER, (*x).min(VARINT_MAX));
        }
        if let Some(x) = self.session_expiry_interval {
            v.four(id::SESSION_EXPIRY_INTERVAL, x);
        }
        if let Some(x) = &self.assigned_client_identifier {
            v.binary(id::ASSIGNED_CLIENT_IDENTIFIER, x.as_bytes());
        }
        if let Some(x) = self.server_keep_alive {
            v.two(id::SERVER_KEEP_ALIVE, x);
        }
        if let Some(x) = &self.authentication_method {
            v.binary(id::AUTHENTICATION_METHOD, x.as_bytes());
        }
        if let Some(x) = &self.authentication_data {
            v.binary(id::AUTHENTICATION_DATA, x);
        }
        if let Some(x) = self.request_problem_information {
            v.byte(id::REQUEST_PROBLEM_INFORMATION, x);
        }
        if let Some(x) = self.will_delay_interval {
            v.four(id::WILL_DELAY_INTERVAL, x);
        }
        if let Some(x) = self.request_response_information {
            v.byte(id::REQUEST_RESPONSE_INFORMATION, x);
        }
        if let Some(x) = &self.response_information {
            v.binary(id::RESPONSE_INFORMATION, x.as_bytes());
        }
        if let Some(x) = &self.server_reference {
            v.binary(id::SERVER_REFERENCE, x.as_bytes());
        }
        if let Some(x) = &self.reason_string {
            v.binary(id::REASON_STRING, x.as_bytes());
        }
        if let Some(x) = self.receive_maximum {
            v.two(id::RECEIVE_MAXIMUM, x);
        }
        if let Some(x) = self.topic_alias_maximum {
            v.two(id::TOPIC_ALIAS_MAXIMUM, x);
        }
        if let Some(x) = self.topic_alias {
            v.two(id::TOPIC_ALIAS, x);
        }
        if let Some(x) = self.maximum_qos {
            v.byte(id::MAXIMUM_QOS, x);
        }
        if let Some(x) = self.retain_available {
            v.byte(id::RETAIN_AVAILABLE, x);
        }
        for (key, value) in &self.user_properties {
            v.pair(id::USER_PROPERTY, key.as_bytes(), value.as_bytes());
        }
        if let Some(x) = self.maximum_packet_size {
            v.four(id::MAXIMUM_PACKET_SIZE, x);
        }
        if let Some(x) = self.wildcard_subscription_available {
            v.byte(id::WILDCARD_SUBSCRIPTION_AVAILABLE, x);
        }
        if let Some(x) = self.subscription_identifier_available {
            v.byte(id::SUBSCRIPTION_IDENTIFIER_AVAILABLE, x);
        }
        if let Some(x) = self.shared_subscription_available {
            v.byte(id::SHARED_SUBSCRIPTION_AVAILABLE, x);
        }
    }
}

trait Visitor {
    fn byte(&mut self, id: u8, value: u8);
    fn two(&mut self, id: u8, value: u16);
    fn four(&mut self, id: u8, value: u32);
    fn varint(&mut self, id: u8, value: u32);
    fn binary(&mut self, id: u8, value: &[u8]);
    fn pair(&mut self, id: u8, key: &[u8], value: &[u8]);
}

struct Sizer(usize);

impl Visitor for Sizer {
    fn byte(&mut self, _: u8, _: u8) {
        self.0 += 2;
    }
    fn two(&mut self, _: u8, _: u16) {
        self.0 += 3;
    }
    fn four(&mut self, _: u8, _: u32) {
        self.0 += 5;
    }
    fn varint(&mut self, _: u8, value: u32) {
        self.0 += 1 + varint_len(value);
    }
    fn binary(&mut self, _: u8, value: &[u8]) {
        self.0 += 1 + binary_len(value);
    }
    fn pair(&mut self, _: u8, key: &[u8], value: &[u8]) {
        self.0 += 1 + binary_len(key) + binary_len(value);
    }
}

struct Writer<'a>(&'a mut BytesMut);

impl Visitor for Writer<'_> {
    fn byte(&mut self, id: u8, value: u8) {
        self.0.put_u8(id);
        self.0.put_u8(value);
    }
    fn two(&mut self, id: u8, value: u16) {
        self.0.put_u8(id);
        self.0.put_u16(value);
    }
    fn four(&mut self, id: u8, value: u32) {
        self.0.put_u8(id);
        self.0.put_u32(value);
    }
    fn varint(&mut self, id: u8, value: u32) {
        self.0.put_u8(id);
        put_varint(self.0, value);
    }
    fn binary(&mut self, id: u8, value: &[u8]) {
        self.0.put_u8(id);
        put_binary(self.0, value);
    }
    fn pair(&mut self, id: u8, key: &[u8], value: &[u8]) {
        self.0.put_u8(id);
        put_binary(self.0, key);
        put_binary(self.0, value);
    }
}
