//! Encoding: packets out as bytes, in the form the connection's protocol version expects.
//! MQTT 3.x output leaves out properties and maps reason codes to 3.x return codes.

use bytes::{BufMut, BytesMut};

use crate::packet::*;
use crate::properties::Properties;
use crate::reason::ReasonCode;
use crate::types::{ProtocolVersion, QoS};
use crate::wire::{binary_len, put_binary, put_varint, varint_len};

/// Appends the encoding of `packet` to `out`.
pub fn encode(packet: &Packet, version: ProtocolVersion, out: &mut BytesMut) {
    let v5 = version.is_v5();
    match packet {
        Packet::Connect(p) => connect(p, out),
        Packet::ConnAck(p) => connack(p, v5, out),
        Packet::Publish(p) => publish(p, v5, out),
        Packet::PubAck(p) => pub_response(0x40, p, v5, out),
        Packet::PubRec(p) => pub_response(0x50, p, v5, out),
        Packet::PubRel(p) => pub_response(0x62, p, v5, out),
        Packet::PubComp(p) => pub_response(0x70, p, v5, out),
        Packet::Subscribe(p) => subscribe(p, v5, out),
        Packet::SubAck(p) => suback(p, v5, out),
        Packet::Unsubscribe(p) => unsubscribe(p, v5, out),
        Packet::UnsubAck(p) => unsuback(p, v5, out),
        Packet::PingReq => out.put_slice(&[0xC0, 0]),
        Packet::PingResp => out.put_slice(&[0xD0, 0]),
        Packet::Disconnect(p) => reason_only(0xE0, p.reason_code, &p.properties, v5, out),
        Packet::Auth(p) => reason_only(0xF0, p.reason_code, &p.properties, true, out),
    }
}

/// The size `packet` takes on the wire, so a sender can respect a peer's Maximum Packet Size.
pub fn encoded_len(packet: &Packet, version: ProtocolVersion) -> usize {
    if let Packet::Publish(p) = packet {
        return publish_encoded_len(p, version);
    }
    let mut out = BytesMut::new();
    encode(packet, version, &mut out);
    out.len()
}

/// The size of a PUBLISH on the wire, computed without encoding it (the hot path checks
/// every outgoing message against the peer's Maximum Packet Size).
pub fn publish_encoded_len(publish: &Publish, version: ProtocolVersion) -> usize {
    let remaining = publish_remaining_len(publish, version.is_v5());
    1 + varint_len(remaining as u32) + remaining
}

fn header(out: &mut BytesMut, first: u8, remaining: usize) {
    out.reserve(5 + remaining);
    out.put_u8(first);
    put_varint(out, remaining as u32);
}

fn props_len(properties: &Properties, v5: bool) -> usize {
    if v5 {
        properties.encoded_len()
    } else {
        0
    }
}

fn put_props(out: &mut BytesMut, properties: &Properties, v5: bool) {
    if v5 {
        properties.encode(out);
    }
}

fn connect(p: &Connect, out: &mut BytesMut) {
    let v5 = p.protocol.is_v5();
    let name = p.protocol.protocol_name().as_bytes();
    let mut remaining = binary_len(name) + 1 + 1 + 2 + props_len(&p.properties, v5);
    remaining += binary_len(p.client_id.as_bytes());
    let mut flags = 0u8;
    if p.clean_start {
        flags |= 0x02;
    }
    if let Some(will) = &p.will {
        flags |= 0x04 | (will.qos as u8) << 3;
        if will.retain {
            flags |= 0x20;
        }
        remaining += props_len(&will.properties, v5)
            + binary_len(will.topic.as_bytes())
            + binary_len(&will.payload);
    }
    if let Some(username) = &p.username {
        flags |= 0x80;
        remaining += binary_len(username.as_bytes());
    }
    if let Some(password) = &p.password {
        flags |= 0x40;
        remaining += binary_len(password);
    }
    header(out, 0x10, remaining);
    put_binary(out, name);
    out.put_u8(p.protocol.level());
    out.put_u8(flags);
    out.put_u16(p.keep_alive);
    put_props(out, &p.properties, v5);
    put_binary(out, p.client_id.as_bytes());
    if let Some(will) = &p.will {
        put_props(out, &will.properties, v5);
        put_binary(out, will.topic.as_bytes());
        put_binary(out, &will.payload);
    }
    if let Some(username) = &p.username {
        put_binary(out, username.as_bytes());
    }
    if let Some(password) = &p.password {
        put_binary(out, password);
    }
}

fn connack(p: &ConnAck, v5: bool, out: &mut BytesMut) {
    header(out, 0x20, 2 + props_len(&p.properties, v5));
    out.put_u8(u8::from(p.session_present));
    out.put_u8(if v5 {
        p.reason_code as u8
    } else {
        p.reason_code.to_v3_connack()
    });
    put_props(out, &p.properties, v5);
}

fn publish_remaining_len(p: &Publish, v5: bool) -> usize {
    let id_len = if p.qos == QoS::AtMostOnce { 0 } else { 2 };
    binary_len(p.topic.as_bytes()) + id_len + props_len(&p.properties, v5) + p.payload.len()
}

fn publish(p: &Publish, v5: bool, out: &mut BytesMut) {
    let mut first = 0x30 | (p.qos as u8) << 1;
    if p.dup {
        first |= 0x08;
    }
    if p.retain {
        first |= 0x01;
    }
    header(out, first, publish_remaining_len(p, v5));
    put_binary(out, p.topic.as_bytes());
    if p.qos != QoS::AtMostOnce {
        // A QoS 1/2 PUBLISH without an identifier is a caller bug; 0 makes the peer refuse it.
        out.put_u16(p.packet_id.map_or(0, |id| id.get()));
    }
    put_props(out, &p.properties, v5);
    out.put_slice(&p.payload);
}

fn pub_response(first: u8, p: &PubResponse, v5: bool, out: &mut BytesMut) {
    // The reason code and properties may be left out when they say nothing (section 3.4.2.1).
    let with_props = v5 && !p.properties.is_empty();
    let with_reason = v5 && (with_props || p.reason_code != ReasonCode::Success);
    let remaining = 2
        + usize::from(with_reason)
        + if with_props {
            p.properties.encoded_len()
        } else {
            0
        };
    header(out, first, remaining);
    out.put_u16(p.packet_id.get());
    if with_reason {
        out.put_u8(p.reason_code as u8);
    }
    if with_props {
        p.properties.encode(out);
    }
}

fn subscribe(p: &Subscribe, v5: bool, out: &mut BytesMut) {
    let filters: usize = p
        .filters
        .iter()
        .map(|(filter, _)| binary_len(filter.as_bytes()) + 1)
        .sum();
    header(out, 0x82, 2 + props_len(&p.properties, v5) + filters);
    out.put_u16(p.packet_id.get());
    put_props(out, &p.properties, v5);
    for (filter, options) in &p.filters {
        put_binary(out, filter.as_bytes());
        let mut byte = options.qos as u8;
        if v5 {
            byte |= u8::from(options.no_local) << 2
                | u8::from(options.retain_as_published) << 3
                | (options.retain_handling as u8) << 4;
        }
        out.put_u8(byte);
    }
}

fn suback(p: &SubAck, v5: bool, out: &mut BytesMut) {
    header(
        out,
        0x90,
        2 + props_len(&p.properties, v5) + p.reason_codes.len(),
    );
    out.put_u16(p.packet_id.get());
    put_props(out, &p.properties, v5);
    for code in &p.reason_codes {
        out.put_u8(if v5 || !code.is_error() {
            *code as u8
        } else {
            0x80
        });
    }
}

fn unsubscribe(p: &Unsubscribe, v5: bool, out: &mut BytesMut) {
    let filters: usize = p.filters.iter().map(|f| binary_len(f.as_bytes())).sum();
    header(out, 0xA2, 2 + props_len(&p.properties, v5) + filters);
    out.put_u16(p.packet_id.get());
    put_props(out, &p.properties, v5);
    for filter in &p.filters {
        put_binary(out, filter.as_bytes());
    }
}

fn unsuback(p: &UnsubAck, v5: bool, out: &mut BytesMut) {
    let codes = if v5 { p.reason_codes.len() } else { 0 };
    header(out, 0xB0, 2 + props_len(&p.properties, v5) + codes);
    out.put_u16(p.packet_id.get());
    if v5 {
        p.properties.encode(out);
        for code in &p.reason_codes {
            out.put_u8(*code as u8);
        }
    }
}

/// DISCONNECT and AUTH: empty when the reason is Success and there are no properties.
fn reason_only(first: u8, code: ReasonCode, properties: &Properties, v5: bool, out: &mut BytesMut) {
    if !v5 || (code == ReasonCode::Success && properties.is_empty()) {
        header(out, first, 0);
        return;
    }
    header(out, first, 1 + properties.encoded_len());
    out.put_u8(code as u8);
    properties.encode(out);
}
