//! Every way a packet can break the rules, each checked for the exact refusal and for the
//! Reason Code a v5 peer would be told (MQTT 5 section 4.13 and the packet sections).

use mq_proto::{
    decode, peek_header, BytesMut, Codec, DecodeError, Packet, ProtocolVersion, ReasonCode,
    TopicFilterError, PROTOCOL_MAX_PACKET_SIZE,
};
use DecodeError::*;
use ProtocolVersion::{V31, V311, V5};
use ReasonCode::{MalformedPacket, ProtocolError};

// ---------------------------------------------------------------------------------------
// Helpers: packets are built from hand-written pieces, with the Remaining Length computed
// so that each test breaks exactly one rule.

fn varint(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if value == 0 {
            return out;
        }
    }
}

/// A fixed header with a correct Remaining Length, then the body.
fn packet(first: u8, body: &[&[u8]]) -> Vec<u8> {
    let body = body.concat();
    [vec![first], varint(body.len()), body].concat()
}

/// A length-prefixed UTF-8 string or Binary Data field.
fn string(bytes: &[u8]) -> Vec<u8> {
    let len = u16::try_from(bytes.len()).expect("short test strings");
    [&len.to_be_bytes()[..], bytes].concat()
}

/// A v5 property block: its length, then the properties.
fn props(properties: &[&[u8]]) -> Vec<u8> {
    let body = properties.concat();
    [varint(body.len()), body].concat()
}

/// An MQTT 3.1.1 CONNECT with the given flags and payload (Keep Alive 60).
fn connect_v311(flags: u8, payload: &[&[u8]]) -> Vec<u8> {
    let flags = [flags];
    let mut body: Vec<&[u8]> = vec![b"\x00\x04MQTT", &[4], &flags, &[0, 60]];
    body.extend_from_slice(payload);
    packet(0x10, &body)
}

/// An MQTT 5 CONNECT with the given flags, properties and payload.
fn connect_v5(flags: u8, properties: &[&[u8]], payload: &[&[u8]]) -> Vec<u8> {
    let properties = props(properties);
    let flags = [flags];
    let mut body: Vec<&[u8]> = vec![b"\x00\x04MQTT", &[5], &flags, &[0, 60], &properties];
    body.extend_from_slice(payload);
    packet(0x10, &body)
}

/// A v5 QoS 0 PUBLISH to `t` with the given properties.
fn publish_v5_with(properties: &[&[u8]]) -> Vec<u8> {
    packet(0x30, &[&string(b"t"), &props(properties)])
}

fn decode_all(bytes: &[u8], version: ProtocolVersion) -> Result<Option<Packet>, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    decode(&mut buf, version, PROTOCOL_MAX_PACKET_SIZE)
}

/// Asserts that `bytes` is refused in `version` with exactly `expected`, told as `reason`.
#[track_caller]
fn assert_refused(
    bytes: &[u8],
    version: ProtocolVersion,
    expected: DecodeError,
    reason: ReasonCode,
) {
    match decode_all(bytes, version) {
        Err(error) => {
            assert_eq!(error, expected, "refusing {bytes:02X?} in MQTT {version}");
            assert_eq!(error.reason_code(), reason, "reason for {error}");
        }
        Ok(packet) => panic!("{bytes:02X?} was accepted in MQTT {version}: {packet:?}"),
    }
}

#[track_caller]
fn assert_refused_in_every_version(bytes: &[u8], expected: DecodeError, reason: ReasonCode) {
    for version in [V31, V311, V5] {
        assert_refused(bytes, version, expected.clone(), reason);
    }
}

#[track_caller]
fn assert_accepted(bytes: &[u8], version: ProtocolVersion) -> Packet {
    match decode_all(bytes, version) {
        Ok(Some(packet)) => packet,
        other => panic!("{bytes:02X?} should decode in MQTT {version}, got {other:?}"),
    }
}

/// First byte with valid flags, and name, of every packet type but PUBLISH.
const NON_PUBLISH: [(u8, &str); 14] = [
    (0x10, "CONNECT"),
    (0x20, "CONNACK"),
    (0x40, "PUBACK"),
    (0x50, "PUBREC"),
    (0x62, "PUBREL"),
    (0x70, "PUBCOMP"),
    (0x82, "SUBSCRIBE"),
    (0x90, "SUBACK"),
    (0xA2, "UNSUBSCRIBE"),
    (0xB0, "UNSUBACK"),
    (0xC0, "PINGREQ"),
    (0xD0, "PINGRESP"),
    (0xE0, "DISCONNECT"),
    (0xF0, "AUTH"),
];

// ---------------------------------------------------------------------------------------
// Fixed header (section 2.1)

#[test]
fn reserved_packet_type_0_is_refused_from_its_first_byte() {
    assert_refused_in_every_version(&[0x00], ReservedPacketType(0), MalformedPacket);
    assert_refused_in_every_version(&[0x00, 0x00], ReservedPacketType(0), MalformedPacket);
}

#[test]
fn wrong_fixed_header_flags_are_refused_for_every_type_but_publish() {
    for (valid, name) in NON_PUBLISH {
        for flags in 0..16u8 {
            let first = (valid & 0xF0) | flags;
            if first == valid {
                continue;
            }
            let expected = InvalidFixedHeaderFlags {
                packet: name,
                flags,
            };
            // The first byte alone is enough to refuse.
            assert_refused_in_every_version(&[first], expected.clone(), MalformedPacket);
            assert_refused_in_every_version(&[first, 0x00], expected, MalformedPacket);
        }
    }
}

#[test]
fn remaining_length_longer_than_four_bytes_is_refused() {
    let too_long = [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F];
    assert_refused_in_every_version(&too_long, VarIntTooLong, MalformedPacket);
    // Four continuation bytes already prove it, before the fifth arrives.
    assert_refused_in_every_version(&too_long[..5], VarIntTooLong, MalformedPacket);
    assert_refused_in_every_version(
        &[0xC0, 0x80, 0x80, 0x80, 0x80],
        VarIntTooLong,
        MalformedPacket,
    );
}

#[test]
fn remaining_length_not_in_its_shortest_form_is_refused() {
    // 0 written in two bytes, 2 written in two bytes, 128 written in three bytes.
    for header in [
        &[0xC0, 0x80, 0x00][..],
        &[0x30, 0x82, 0x00],
        &[0x30, 0x80, 0x81, 0x00],
    ] {
        assert_refused_in_every_version(header, VarIntNotMinimal, MalformedPacket);
    }
}

#[test]
fn largest_remaining_length_is_accepted_as_a_header() {
    let header = peek_header(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F], PROTOCOL_MAX_PACKET_SIZE)
        .expect("a 4-byte Remaining Length is valid")
        .expect("the header is complete");
    assert_eq!(header.remaining_length, 268_435_455);
    assert_eq!(header.header_len, 5);
}

// ---------------------------------------------------------------------------------------
// Maximum packet size: refused from the header alone

#[test]
fn packet_too_large_is_refused_from_the_first_five_bytes() {
    let first_five = [0x30, 0xFF, 0xFF, 0xFF, 0x7F];
    let expected = PacketTooLarge {
        size: 268_435_455 + 5,
        max: 1 << 20,
    };
    assert_eq!(peek_header(&first_five, 1 << 20), Err(expected.clone()));
    assert_eq!(expected.reason_code(), ReasonCode::PacketTooLarge);

    let mut buf = BytesMut::from(&first_five[..]);
    assert_eq!(decode(&mut buf, V5, 1 << 20), Err(expected.clone()));

    let mut codec = Codec::server(1 << 20);
    let mut buf = BytesMut::from(&[0x10, 0xFF, 0xFF, 0xFF, 0x7F][..]);
    assert_eq!(codec.decode(&mut buf), Err(expected));
}

#[test]
fn packet_too_large_counts_the_fixed_header() {
    // PINGREQ is two bytes long: allowed at a maximum of 2, refused at 1.
    assert_eq!(
        decode(&mut BytesMut::from(&[0xC0, 0x00][..]), V311, 2),
        Ok(Some(Packet::PingReq))
    );
    assert_eq!(
        decode(&mut BytesMut::from(&[0xC0, 0x00][..]), V311, 1),
        Err(PacketTooLarge { size: 2, max: 1 })
    );
    // A two-byte Remaining Length: 128 + 3 bytes in all.
    assert_eq!(
        peek_header(&[0x30, 0x80, 0x01], 130),
        Err(PacketTooLarge {
            size: 131,
            max: 130
        })
    );
    assert!(matches!(peek_header(&[0x30, 0x80, 0x01], 131), Ok(Some(_))));
}

// ---------------------------------------------------------------------------------------
// PUBLISH fixed header and variable header (section 3.3)

#[test]
fn qos3_publish_is_refused_from_its_first_byte() {
    for first in [0x36, 0x37, 0x3E, 0x3F] {
        assert_refused_in_every_version(&[first], InvalidQoS, MalformedPacket);
    }
}

#[test]
fn dup_on_a_qos0_publish_is_refused() {
    let bytes = packet(0x38, &[&string(b"t")]);
    assert_refused_in_every_version(&bytes, DupOnQoS0, MalformedPacket);
    assert_refused_in_every_version(&[0x39], DupOnQoS0, MalformedPacket);
}

#[test]
fn qos1_and_qos2_publish_with_packet_id_0_are_refused() {
    for first in [0x32, 0x34] {
        let v3 = packet(first, &[&string(b"t"), &[0, 0]]);
        assert_refused(&v3, V311, PacketIdZero, MalformedPacket);
        let v5 = packet(first, &[&string(b"t"), &[0, 0], &[0]]);
        assert_refused(&v5, V5, PacketIdZero, MalformedPacket);
    }
}

#[test]
fn qos2_publish_without_packet_id_is_refused() {
    let bytes = packet(0x34, &[&string(b"t")]);
    assert_refused(
        &bytes,
        V311,
        Truncated { packet: "PUBLISH" },
        MalformedPacket,
    );
}

#[test]
fn wildcards_in_a_topic_name_are_refused() {
    for topic in ["a/+", "+", "a/#", "#", "a+b", "sport/tennis#"] {
        let bytes = packet(0x30, &[&string(topic.as_bytes())]);
        assert_refused(
            &bytes,
            V311,
            WildcardInTopicName(topic.into()),
            ReasonCode::TopicNameInvalid,
        );
    }
}

#[test]
fn empty_topic_name_is_refused_in_v3() {
    let bytes = packet(0x30, &[&string(b""), b"payload"]);
    assert_refused(&bytes, V311, EmptyTopicName, ProtocolError);
    assert_refused(&bytes, V31, EmptyTopicName, ProtocolError);
}

#[test]
fn empty_topic_name_without_a_topic_alias_is_a_protocol_error_in_v5() {
    // MQTT 5 section 3.3.2.1: "It is a Protocol Error if the Topic Name is zero length and
    // there is no Topic Alias."
    let bytes = packet(0x30, &[&string(b""), &[0]]);
    assert_refused(&bytes, V5, EmptyTopicName, ProtocolError);
}

#[test]
fn topic_alias_cannot_stand_in_for_a_topic_in_v3() {
    // In 3.1.1 the byte after the topic is the payload, never a property block.
    let bytes = packet(0x30, &[&string(b""), &[3, 0x23, 0x00, 0x01]]);
    assert_refused(&bytes, V311, EmptyTopicName, ProtocolError);
}

// ---------------------------------------------------------------------------------------
// Packet Identifiers (section 2.2.1 / 2.3.1)

#[test]
fn packet_id_0_is_refused_in_every_packet_that_carries_one() {
    let v3 = [
        packet(0x40, &[&[0, 0]]),                      // PUBACK
        packet(0x50, &[&[0, 0]]),                      // PUBREC
        packet(0x62, &[&[0, 0]]),                      // PUBREL
        packet(0x70, &[&[0, 0]]),                      // PUBCOMP
        packet(0x82, &[&[0, 0], &string(b"t"), &[0]]), // SUBSCRIBE
        packet(0x90, &[&[0, 0], &[0]]),                // SUBACK
        packet(0xA2, &[&[0, 0], &string(b"t")]),       // UNSUBSCRIBE
        packet(0xB0, &[&[0, 0]]),                      // UNSUBACK
    ];
    for bytes in v3 {
        assert_refused(&bytes, V311, PacketIdZero, MalformedPacket);
    }
    let v5 = [
        packet(0x40, &[&[0, 0], &[0x10]]), // PUBACK with a reason
        packet(0x82, &[&[0, 0], &[0], &string(b"t"), &[0]]), // SUBSCRIBE
        packet(0xB0, &[&[0, 0], &[0], &[0]]), // UNSUBACK
    ];
    for bytes in v5 {
        assert_refused(&bytes, V5, PacketIdZero, MalformedPacket);
    }
}

// ---------------------------------------------------------------------------------------
// UTF-8 Encoded Strings (section 1.5.4)

#[test]
fn ill_formed_utf8_is_refused() {
    let ill_formed: [&[u8]; 5] = [
        b"a\xFFb",           // never valid in UTF-8
        b"\xC0\xAF",         // overlong encoding of '/'
        b"\xED\xA0\x80",     // UTF-16 surrogate half U+D800
        b"\xF4\x90\x80\x80", // beyond U+10FFFF
        b"ab\xE6\x97",       // a character cut short
    ];
    for text in ill_formed {
        let topic = packet(0x30, &[&string(text)]);
        assert_refused(&topic, V311, InvalidUtf8, MalformedPacket);
        let client_id = connect_v311(0x02, &[&string(text)]);
        assert_refused(&client_id, V311, InvalidUtf8, MalformedPacket);
        let filter = packet(0x82, &[&[0, 1], &string(text), &[0]]);
        assert_refused(&filter, V311, InvalidUtf8, MalformedPacket);
        let content_type = publish_v5_with(&[&[0x03], &string(text)]);
        assert_refused(&content_type, V5, InvalidUtf8, MalformedPacket);
    }
}

#[test]
fn null_character_in_a_string_is_refused() {
    let topic = packet(0x30, &[&string(b"a\0b")]);
    assert_refused(&topic, V311, NullCharacter, MalformedPacket);
    let user_name = connect_v311(0x82, &[&string(b"c"), &string(b"us\0er")]);
    assert_refused(&user_name, V311, NullCharacter, MalformedPacket);
    let will_topic = connect_v311(0x06, &[&string(b"c"), &string(b"\0"), &string(b"m")]);
    assert_refused(&will_topic, V311, NullCharacter, MalformedPacket);
    let user_property = publish_v5_with(&[&[0x26], &string(b"k\0"), &string(b"v")]);
    assert_refused(&user_property, V5, NullCharacter, MalformedPacket);
}

#[test]
fn noncharacters_and_the_byte_order_mark_are_accepted() {
    // [MQTT-1.5.4-3]: U+FEFF is not skipped or stripped; U+FFFF is well-formed UTF-8.
    for text in ["\u{FEFF}t", "t\u{FFFF}", "\u{1F600}"] {
        let bytes = packet(0x30, &[&string(text.as_bytes())]);
        let Packet::Publish(publish) = assert_accepted(&bytes, V311) else {
            panic!("expected a PUBLISH");
        };
        assert_eq!(&publish.topic[..], text);
    }
}

#[test]
fn password_may_be_any_binary_data() {
    let bytes = connect_v311(0xC2, &[&string(b"c"), &string(b"u"), &string(b"\0\xFF")]);
    let Packet::Connect(connect) = assert_accepted(&bytes, V311) else {
        panic!("expected a CONNECT");
    };
    assert_eq!(connect.password.as_deref(), Some(&b"\0\xFF"[..]));
}

// ---------------------------------------------------------------------------------------
// Topic Filters (section 4.7)

#[test]
fn malformed_topic_filters_are_refused_in_subscribe_and_unsubscribe() {
    use TopicFilterError::*;
    let cases = [
        ("a/#/b", MisplacedMultiLevelWildcard),
        ("a#", MisplacedMultiLevelWildcard),
        ("#/", MisplacedMultiLevelWildcard),
        ("a+", MisplacedSingleLevelWildcard),
        ("a/+b/c", MisplacedSingleLevelWildcard),
        ("", Empty),
        ("$share/g", InvalidSharedSubscription),
        ("$share//a", InvalidSharedSubscription),
        ("$share/g/", InvalidSharedSubscription),
        ("$share/g+/a", InvalidSharedSubscription),
        ("$share/#/a", InvalidSharedSubscription),
        ("$share/g/a/#/b", MisplacedMultiLevelWildcard),
    ];
    for (filter, error) in cases {
        let expected = InvalidTopicFilter {
            filter: filter.into(),
            error,
        };
        let subscribe = packet(0x82, &[&[0, 1], &string(filter.as_bytes()), &[1]]);
        assert_refused(&subscribe, V311, expected.clone(), MalformedPacket);
        let subscribe = packet(0x82, &[&[0, 1], &[0], &string(filter.as_bytes()), &[1]]);
        assert_refused(&subscribe, V5, expected.clone(), MalformedPacket);
        let unsubscribe = packet(0xA2, &[&[0, 1], &string(filter.as_bytes())]);
        assert_refused(&unsubscribe, V311, expected, MalformedPacket);
    }
}

#[test]
fn a_bad_filter_after_a_good_one_is_still_refused() {
    let bytes = packet(
        0x82,
        &[&[0, 1], &string(b"a/b"), &[0], &string(b"a/#/b"), &[0]],
    );
    assert_refused(
        &bytes,
        V311,
        InvalidTopicFilter {
            filter: "a/#/b".into(),
            error: TopicFilterError::MisplacedMultiLevelWildcard,
        },
        MalformedPacket,
    );
}

// ---------------------------------------------------------------------------------------
// CONNECT (section 3.1)

#[test]
fn connect_reserved_flag_is_refused() {
    let bytes = connect_v311(0x03, &[&string(b"c")]);
    assert_refused(&bytes, V311, ConnectReservedFlag, MalformedPacket);
    let bytes = connect_v5(0x01, &[], &[&string(b"c")]);
    assert_refused(&bytes, V5, ConnectReservedFlag, MalformedPacket);
}

#[test]
fn will_qos_without_the_will_flag_is_refused() {
    for flags in [0x0A, 0x12] {
        let bytes = connect_v311(flags, &[&string(b"c")]);
        assert_refused(&bytes, V311, WillQoSWithoutWill, MalformedPacket);
    }
}

#[test]
fn will_retain_without_the_will_flag_is_refused() {
    let bytes = connect_v311(0x22, &[&string(b"c")]);
    assert_refused(&bytes, V311, WillRetainWithoutWill, MalformedPacket);
    let bytes = connect_v5(0x22, &[], &[&string(b"c")]);
    assert_refused(&bytes, V5, WillRetainWithoutWill, MalformedPacket);
}

#[test]
fn will_qos_3_is_refused() {
    let will = [&string(b"c")[..], &string(b"w"), &string(b"m")];
    let bytes = connect_v311(0x1E, &will);
    assert_refused(&bytes, V311, InvalidWillQoS, MalformedPacket);
}

#[test]
fn password_without_user_name_is_refused_before_v5() {
    let payload = [&string(b"c")[..], &string(b"secret")];
    let bytes = connect_v311(0x42, &payload);
    assert_refused(&bytes, V311, PasswordWithoutUserName, MalformedPacket);
    let v31 = packet(
        0x10,
        &[
            b"\x00\x06MQIsdp",
            &[3],
            &[0x42],
            &[0, 60],
            &payload.concat(),
        ],
    );
    assert_refused(&v31, V31, PasswordWithoutUserName, MalformedPacket);
}

#[test]
fn password_without_user_name_is_allowed_in_v5() {
    let bytes = connect_v5(0x42, &[], &[&string(b"c"), &string(b"secret")]);
    let Packet::Connect(connect) = assert_accepted(&bytes, V5) else {
        panic!("expected a CONNECT");
    };
    assert_eq!(connect.username, None);
    assert_eq!(connect.password.as_deref(), Some(&b"secret"[..]));
}

#[test]
fn unknown_protocol_name_is_refused() {
    for name in [&b"MQTX"[..], b"mqtt", b"MQIsdP", b"", b"MQTT\0"] {
        let bytes = packet(
            0x10,
            &[&string(name), &[4], &[0x02], &[0, 60], &string(b"c")],
        );
        assert_refused(
            &bytes,
            V311,
            InvalidProtocolName(String::from_utf8_lossy(name).into_owned()),
            MalformedPacket,
        );
    }
}

#[test]
fn unsupported_protocol_level_is_refused_as_unsupported_protocol_version() {
    for (name, level) in [
        (&b"MQTT"[..], 6),
        (b"MQTT", 3),
        (b"MQTT", 0),
        (b"MQTT", 255),
        (b"MQIsdp", 4),
        (b"MQIsdp", 5),
    ] {
        let bytes = packet(
            0x10,
            &[&string(name), &[level], &[0x02], &[0, 60], &string(b"c")],
        );
        assert_refused_in_every_version(
            &bytes,
            UnsupportedProtocolLevel(level),
            ReasonCode::UnsupportedProtocolVersion,
        );
    }
}

#[test]
fn connect_with_trailing_bytes_after_the_payload_is_refused() {
    let bytes = connect_v311(0x02, &[&string(b"c"), b"xy"]);
    assert_refused(
        &bytes,
        V311,
        TrailingBytes {
            packet: "CONNECT",
            extra: 2,
        },
        MalformedPacket,
    );
}

#[test]
fn connect_missing_the_user_name_its_flag_announces_is_refused() {
    let bytes = connect_v311(0x82, &[&string(b"c")]);
    assert_refused(
        &bytes,
        V311,
        Truncated { packet: "CONNECT" },
        MalformedPacket,
    );
}

#[test]
fn will_topic_must_be_a_valid_topic_name() {
    let bytes = connect_v311(0x06, &[&string(b"c"), &string(b"a/+"), &string(b"m")]);
    assert_refused(
        &bytes,
        V311,
        WildcardInTopicName("a/+".into()),
        ReasonCode::TopicNameInvalid,
    );
}

// ---------------------------------------------------------------------------------------
// CONNACK (section 3.2)

#[test]
fn connack_reserved_acknowledge_flags_are_refused() {
    for flags in [0x02, 0x80, 0xFF] {
        let bytes = packet(0x20, &[&[flags, 0]]);
        assert_refused(
            &bytes,
            V311,
            InvalidFixedHeaderFlags {
                packet: "CONNACK acknowledge flags",
                flags,
            },
            MalformedPacket,
        );
    }
}

#[test]
fn v3_connack_return_codes_above_5_are_refused() {
    for code in [6, 0x80, 0xFF] {
        let bytes = packet(0x20, &[&[0, code]]);
        assert_refused(
            &bytes,
            V311,
            InvalidReasonCode {
                packet: "CONNACK",
                code,
            },
            MalformedPacket,
        );
    }
}

#[test]
fn v5_connack_without_a_property_length_is_refused() {
    let bytes = packet(0x20, &[&[0, 0]]);
    assert_refused(&bytes, V5, Truncated { packet: "CONNACK" }, MalformedPacket);
}

// ---------------------------------------------------------------------------------------
// SUBSCRIBE and UNSUBSCRIBE payloads (sections 3.8, 3.10)

#[test]
fn subscribe_with_no_filters_is_a_protocol_error() {
    assert_refused(
        &packet(0x82, &[&[0, 1]]),
        V311,
        EmptySubscribe,
        ProtocolError,
    );
    assert_refused(
        &packet(0x82, &[&[0, 1], &[0]]),
        V5,
        EmptySubscribe,
        ProtocolError,
    );
}

#[test]
fn unsubscribe_with_no_filters_is_a_protocol_error() {
    assert_refused(
        &packet(0xA2, &[&[0, 1]]),
        V311,
        EmptyUnsubscribe,
        ProtocolError,
    );
    assert_refused(
        &packet(0xA2, &[&[0, 1], &[0]]),
        V5,
        EmptyUnsubscribe,
        ProtocolError,
    );
}

#[test]
fn reserved_subscription_option_bits_are_refused_in_v3() {
    // In 3.1.1 only the two QoS bits exist (section 3.8.3.1).
    for options in [0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFC] {
        let bytes = packet(0x82, &[&[0, 1], &string(b"t"), &[options]]);
        assert_refused(&bytes, V311, SubscriptionOptionsReserved, MalformedPacket);
        assert_refused(&bytes, V31, SubscriptionOptionsReserved, MalformedPacket);
    }
}

#[test]
fn reserved_subscription_option_bits_are_refused_in_v5() {
    for options in [0x40, 0x80, 0xC1] {
        let bytes = packet(0x82, &[&[0, 1], &[0], &string(b"t"), &[options]]);
        assert_refused(&bytes, V5, SubscriptionOptionsReserved, MalformedPacket);
    }
}

#[test]
fn retain_handling_3_is_a_protocol_error() {
    let bytes = packet(0x82, &[&[0, 1], &[0], &string(b"t"), &[0x30]]);
    assert_refused(&bytes, V5, InvalidRetainHandling, ProtocolError);
}

#[test]
fn subscription_maximum_qos_3_is_refused() {
    // 3.1.1 [MQTT-3-8.3-4] calls it malformed; MQTT 5 section 3.8.3.1 a Protocol Error.
    let v3 = packet(0x82, &[&[0, 1], &string(b"t"), &[0x03]]);
    assert_refused(&v3, V311, InvalidSubscriptionQoS, ProtocolError);
    let v5 = packet(0x82, &[&[0, 1], &[0], &string(b"t"), &[0x03]]);
    assert_refused(&v5, V5, InvalidSubscriptionQoS, ProtocolError);
}

#[test]
fn subscribe_filter_without_its_options_byte_is_refused() {
    let bytes = packet(0x82, &[&[0, 1], &string(b"t")]);
    assert_refused(
        &bytes,
        V311,
        Truncated {
            packet: "SUBSCRIBE",
        },
        MalformedPacket,
    );
}

// ---------------------------------------------------------------------------------------
// Truncated packets and trailing bytes

#[test]
fn packets_shorter_than_their_contents_are_refused_as_truncated() {
    let cases: [(ProtocolVersion, Vec<u8>, &str); 11] = [
        (V311, packet(0x10, &[b"\x00\x04MQTT", &[4]]), "CONNECT"),
        (V311, packet(0x20, &[&[0]]), "CONNACK"),
        (V311, packet(0x30, &[&[0, 5], b"abc"]), "PUBLISH"),
        (V311, packet(0x32, &[&string(b"t"), &[0]]), "PUBLISH"),
        (V311, packet(0x40, &[&[0]]), "PUBACK"),
        (V311, packet(0x50, &[]), "PUBREC"),
        (V311, packet(0x62, &[&[0]]), "PUBREL"),
        (V311, packet(0x70, &[&[0]]), "PUBCOMP"),
        (V311, packet(0x90, &[&[0]]), "SUBACK"),
        (V311, packet(0xB0, &[&[0]]), "UNSUBACK"),
        (
            V5,
            packet(0x30, &[&string(b"t"), &[5, 0x02, 0, 0]]),
            "PUBLISH",
        ),
    ];
    for (version, bytes, name) in cases {
        assert_refused(&bytes, version, Truncated { packet: name }, MalformedPacket);
    }
}

#[test]
fn property_value_cut_short_by_its_property_length_is_refused() {
    // The block says 3 bytes, but a Message Expiry Interval needs 5.
    let bytes = packet(0x30, &[&string(b"t"), &[3, 0x02, 0, 0, 0, 60]]);
    assert_refused(&bytes, V5, Truncated { packet: "PUBLISH" }, MalformedPacket);
}

#[test]
fn bytes_after_a_packets_contents_are_refused() {
    let cases: [(ProtocolVersion, Vec<u8>, &str, usize); 8] = [
        (V311, packet(0x20, &[&[0, 0, 0]]), "CONNACK", 1),
        (V311, packet(0x40, &[&[0, 1, 0]]), "PUBACK", 1),
        (V311, packet(0x62, &[&[0, 1, 0, 0]]), "PUBREL", 2),
        (V311, packet(0xB0, &[&[0, 1, 0]]), "UNSUBACK", 1),
        (V311, packet(0xC0, &[&[0]]), "PINGREQ", 1),
        (V5, packet(0xD0, &[&[0]]), "PINGRESP", 1),
        (V311, packet(0xE0, &[&[0]]), "DISCONNECT", 1),
        (V5, packet(0x40, &[&[0, 1, 0, 0, 0]]), "PUBACK", 1),
    ];
    for (version, bytes, name, extra) in cases {
        assert_refused(
            &bytes,
            version,
            TrailingBytes {
                packet: name,
                extra,
            },
            MalformedPacket,
        );
    }
}

// ---------------------------------------------------------------------------------------
// Properties (MQTT 5 section 2.2.2)

#[test]
fn unknown_property_identifiers_are_refused() {
    for identifier in [0x00, 0x04, 0x05, 0x0A, 0x2B, 0x7F] {
        let bytes = publish_v5_with(&[&[identifier, 0]]);
        assert_refused(&bytes, V5, UnknownProperty(identifier), MalformedPacket);
    }
}

#[test]
fn property_identifier_in_a_longer_varint_than_needed_is_refused() {
    let bytes = publish_v5_with(&[&[0x81, 0x00, 0x01]]);
    assert_refused(&bytes, V5, VarIntNotMinimal, MalformedPacket);
}

#[test]
fn properties_are_refused_in_packets_they_do_not_belong_to() {
    let session_expiry: &[u8] = &[0x11, 0, 0, 0, 10];
    assert_refused(
        &publish_v5_with(&[session_expiry]),
        V5,
        PropertyNotAllowed {
            property: "Session Expiry Interval",
            context: "PUBLISH",
        },
        MalformedPacket,
    );
    let topic_alias: &[u8] = &[0x23, 0, 1];
    let will = props(&[topic_alias]);
    let in_will = connect_v5(
        0x06,
        &[],
        &[&string(b"c"), &will, &string(b"w"), &string(b"m")],
    );
    assert_refused(
        &in_will,
        V5,
        PropertyNotAllowed {
            property: "Topic Alias",
            context: "the Will properties",
        },
        MalformedPacket,
    );
    let will_delay: &[u8] = &[0x18, 0, 0, 0, 1];
    assert_refused(
        &connect_v5(0x02, &[will_delay], &[&string(b"c")]),
        V5,
        PropertyNotAllowed {
            property: "Will Delay Interval",
            context: "CONNECT",
        },
        MalformedPacket,
    );
    let reason_string = [&[0x1F][..], &string(b"no")].concat();
    assert_refused(
        &packet(
            0x82,
            &[&[0, 1], &props(&[&reason_string]), &string(b"t"), &[0]],
        ),
        V5,
        PropertyNotAllowed {
            property: "Reason String",
            context: "SUBSCRIBE",
        },
        MalformedPacket,
    );
    let subscription_id: &[u8] = &[0x0B, 1];
    assert_refused(
        &packet(0xA2, &[&[0, 1], &props(&[subscription_id]), &string(b"t")]),
        V5,
        PropertyNotAllowed {
            property: "Subscription Identifier",
            context: "UNSUBSCRIBE",
        },
        MalformedPacket,
    );
    let maximum_qos: &[u8] = &[0x24, 1];
    assert_refused(
        &packet(0xE0, &[&[0], &props(&[maximum_qos])]),
        V5,
        PropertyNotAllowed {
            property: "Maximum QoS",
            context: "DISCONNECT",
        },
        MalformedPacket,
    );
}

#[test]
fn a_property_given_twice_is_a_protocol_error() {
    let payload_format: &[u8] = &[0x01, 1];
    assert_refused(
        &publish_v5_with(&[payload_format, payload_format]),
        V5,
        DuplicateProperty("Payload Format Indicator"),
        ProtocolError,
    );
    let receive_maximum: &[u8] = &[0x21, 0, 5];
    assert_refused(
        &connect_v5(0x02, &[receive_maximum, receive_maximum], &[&string(b"c")]),
        V5,
        DuplicateProperty("Receive Maximum"),
        ProtocolError,
    );
    let reason_string = [&[0x1F][..], &string(b"no")].concat();
    assert_refused(
        &packet(
            0x40,
            &[&[0, 1, 0x80], &props(&[&reason_string, &reason_string])],
        ),
        V5,
        DuplicateProperty("Reason String"),
        ProtocolError,
    );
    // A SUBSCRIBE names at most one Subscription Identifier (section 3.8.2.1.2).
    let subscription_id: &[u8] = &[0x0B, 1];
    assert_refused(
        &packet(
            0x82,
            &[
                &[0, 1],
                &props(&[subscription_id, subscription_id]),
                &string(b"t"),
                &[0],
            ],
        ),
        V5,
        DuplicateProperty("Subscription Identifier"),
        ProtocolError,
    );
}

#[test]
fn repeatable_properties_may_be_given_twice() {
    let user: Vec<u8> = [&[0x26][..], &string(b"k"), &string(b"v")].concat();
    let subscription_id: &[u8] = &[0x0B, 1];
    let bytes = publish_v5_with(&[&user, &user, subscription_id, subscription_id]);
    let Packet::Publish(publish) = assert_accepted(&bytes, V5) else {
        panic!("expected a PUBLISH");
    };
    assert_eq!(publish.properties.user_properties.len(), 2);
    assert_eq!(publish.properties.subscription_identifiers, vec![1, 1]);
}

#[test]
fn invalid_property_values_are_a_protocol_error() {
    let invalid = |property, value| InvalidPropertyValue { property, value };
    let in_connect = |property: &[u8]| connect_v5(0x02, &[property], &[&string(b"c")]);
    let in_connack = |property: &[u8]| packet(0x20, &[&[0, 0], &props(&[property])]);
    let cases = [
        (in_connect(&[0x21, 0, 0]), invalid("Receive Maximum", 0)),
        (in_connack(&[0x21, 0, 0]), invalid("Receive Maximum", 0)),
        (
            in_connect(&[0x27, 0, 0, 0, 0]),
            invalid("Maximum Packet Size", 0),
        ),
        (
            in_connect(&[0x17, 2]),
            invalid("Request Problem Information", 2),
        ),
        (
            in_connect(&[0x19, 2]),
            invalid("Request Response Information", 2),
        ),
        (
            publish_v5_with(&[&[0x01, 2]]),
            invalid("Payload Format Indicator", 2),
        ),
        (
            publish_v5_with(&[&[0x01, 0xFF]]),
            invalid("Payload Format Indicator", 255),
        ),
        (publish_v5_with(&[&[0x23, 0, 0]]), invalid("Topic Alias", 0)),
        (
            publish_v5_with(&[&[0x0B, 0]]),
            invalid("Subscription Identifier", 0),
        ),
        (in_connack(&[0x24, 2]), invalid("Maximum QoS", 2)),
        (in_connack(&[0x25, 2]), invalid("Retain Available", 2)),
        (
            in_connack(&[0x28, 2]),
            invalid("Wildcard Subscription Available", 2),
        ),
        (
            in_connack(&[0x29, 2]),
            invalid("Subscription Identifier Available", 2),
        ),
        (
            in_connack(&[0x2A, 2]),
            invalid("Shared Subscription Available", 2),
        ),
    ];
    for (bytes, expected) in cases {
        assert_refused(&bytes, V5, expected, ProtocolError);
    }
}

#[test]
fn subscription_identifier_longer_than_four_bytes_is_refused() {
    let bytes = publish_v5_with(&[&[0x0B, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]]);
    assert_refused(&bytes, V5, VarIntTooLong, MalformedPacket);
}

#[test]
fn response_topic_must_be_a_valid_topic_name() {
    let response_topic = [&[0x08][..], &string(b"reply/#")].concat();
    assert_refused(
        &publish_v5_with(&[&response_topic]),
        V5,
        WildcardInTopicName("reply/#".into()),
        ReasonCode::TopicNameInvalid,
    );
}

#[test]
fn property_length_running_past_the_packet_is_refused() {
    let bytes = packet(0x30, &[&string(b"t"), &[10, 0x01, 1]]);
    assert_refused(&bytes, V5, Truncated { packet: "PUBLISH" }, MalformedPacket);
}

// ---------------------------------------------------------------------------------------
// Reason codes (MQTT 5 section 2.4 and each packet's table)

#[test]
fn reason_codes_not_defined_for_a_packet_are_refused() {
    let invalid = |packet: &'static str, code: u8| InvalidReasonCode { packet, code };
    let cases = [
        (packet(0x20, &[&[0, 0x04], &[0]]), invalid("CONNACK", 0x04)),
        (packet(0x20, &[&[0, 0x8E], &[0]]), invalid("CONNACK", 0x8E)),
        (packet(0x40, &[&[0, 1, 0x92]]), invalid("PUBACK", 0x92)),
        (packet(0x50, &[&[0, 1, 0x01]]), invalid("PUBREC", 0x01)),
        (packet(0x62, &[&[0, 1, 0x10]]), invalid("PUBREL", 0x10)),
        (packet(0x70, &[&[0, 1, 0x80]]), invalid("PUBCOMP", 0x80)),
        (
            packet(0x90, &[&[0, 1], &[0], &[0x03]]),
            invalid("SUBACK", 0x03),
        ),
        (
            packet(0x90, &[&[0, 1], &[0], &[0x11]]),
            invalid("SUBACK", 0x11),
        ),
        (
            packet(0xB0, &[&[0, 1], &[0], &[0x01]]),
            invalid("UNSUBACK", 0x01),
        ),
        (packet(0xE0, &[&[0x01]]), invalid("DISCONNECT", 0x01)),
        (packet(0xE0, &[&[0x18]]), invalid("DISCONNECT", 0x18)),
        (packet(0xF0, &[&[0x01]]), invalid("AUTH", 0x01)),
        (packet(0xF0, &[&[0x80]]), invalid("AUTH", 0x80)),
        (packet(0xF0, &[&[0xFF]]), invalid("AUTH", 0xFF)),
    ];
    for (bytes, expected) in cases {
        assert_refused(&bytes, V5, expected, MalformedPacket);
    }
}

#[test]
fn v3_suback_return_codes_other_than_0_1_2_and_0x80_are_refused() {
    for code in [0x03, 0x81, 0x87, 0xFF] {
        let bytes = packet(0x90, &[&[0, 1], &[0, code]]);
        assert_refused(&bytes, V311, InvalidSubAckCode(code), MalformedPacket);
    }
}

// ---------------------------------------------------------------------------------------
// AUTH before MQTT 5

#[test]
fn auth_is_refused_before_v5() {
    assert_refused(&[0xF0, 0x00], V311, AuthBeforeV5(V311), ProtocolError);
    assert_refused(&[0xF0, 0x00], V31, AuthBeforeV5(V31), ProtocolError);
}

// ---------------------------------------------------------------------------------------
// Packet order and direction (Codec)

fn v311_connect() -> Vec<u8> {
    connect_v311(0x02, &[&string(b"c")])
}

/// A server codec that has accepted a CONNECT of `version`.
fn connected_server(connect: &[u8]) -> Codec {
    let mut codec = Codec::server(PROTOCOL_MAX_PACKET_SIZE);
    let mut buf = BytesMut::from(connect);
    assert!(matches!(
        codec.decode(&mut buf),
        Ok(Some(Packet::Connect(_)))
    ));
    assert!(buf.is_empty());
    codec
}

#[track_caller]
fn assert_codec_refuses(
    codec: &mut Codec,
    bytes: &[u8],
    expected: DecodeError,
    reason: ReasonCode,
) {
    let error = codec
        .decode(&mut BytesMut::from(bytes))
        .expect_err("the codec should refuse");
    assert_eq!(error, expected, "refusing {bytes:02X?}");
    assert_eq!(error.reason_code(), reason);
}

#[test]
fn server_refuses_a_first_packet_other_than_connect_from_its_first_byte() {
    for (first, name) in NON_PUBLISH.into_iter().chain([(0x30, "PUBLISH")]) {
        if name == "CONNECT" {
            continue;
        }
        let mut codec = Codec::server(PROTOCOL_MAX_PACKET_SIZE);
        assert_codec_refuses(
            &mut codec,
            &[first],
            FirstPacketNotConnect(name),
            ProtocolError,
        );
    }
}

#[test]
fn server_refuses_a_whole_pingreq_before_connect() {
    let mut codec = Codec::server(PROTOCOL_MAX_PACKET_SIZE);
    assert_codec_refuses(
        &mut codec,
        &[0xC0, 0x00],
        FirstPacketNotConnect("PINGREQ"),
        ProtocolError,
    );
}

#[test]
fn server_refuses_a_second_connect() {
    let mut codec = connected_server(&v311_connect());
    assert_codec_refuses(&mut codec, &v311_connect(), SecondConnect, ProtocolError);
    assert_codec_refuses(&mut codec, &[0x10], SecondConnect, ProtocolError);
}

#[test]
fn server_refuses_packets_only_a_server_sends() {
    for (bytes, name) in [
        (&[0x20, 0x02, 0x00, 0x00][..], "CONNACK"),
        (&[0x90, 0x03, 0x00, 0x01, 0x00], "SUBACK"),
        (&[0xB0, 0x02, 0x00, 0x01], "UNSUBACK"),
        (&[0xD0, 0x00], "PINGRESP"),
    ] {
        let mut codec = connected_server(&v311_connect());
        let expected = WrongDirection {
            packet: name,
            receiver: "server",
        };
        assert_codec_refuses(&mut codec, bytes, expected.clone(), ProtocolError);
        // Known from the first byte.
        assert_codec_refuses(&mut codec, &bytes[..1], expected, ProtocolError);
    }
}

#[test]
fn client_refuses_packets_only_a_client_sends() {
    for (bytes, name) in [
        (v311_connect(), "CONNECT"),
        (packet(0x82, &[&[0, 1], &string(b"t"), &[0]]), "SUBSCRIBE"),
        (packet(0xA2, &[&[0, 1], &string(b"t")]), "UNSUBSCRIBE"),
        (vec![0xC0, 0x00], "PINGREQ"),
    ] {
        let mut codec = Codec::client(V311, PROTOCOL_MAX_PACKET_SIZE);
        let expected = WrongDirection {
            packet: name,
            receiver: "client",
        };
        assert_codec_refuses(&mut codec, &bytes, expected, ProtocolError);
    }
}

#[test]
fn server_refuses_auth_on_a_v311_connection() {
    let mut codec = connected_server(&v311_connect());
    assert_codec_refuses(&mut codec, &[0xF0, 0x00], AuthBeforeV5(V311), ProtocolError);
}

#[test]
fn server_refuses_auth_on_a_v31_connection() {
    let connect = packet(
        0x10,
        &[b"\x00\x06MQIsdp", &[3], &[0x02], &[0, 60], &string(b"c")],
    );
    let mut codec = connected_server(&connect);
    assert_codec_refuses(&mut codec, &[0xF0, 0x00], AuthBeforeV5(V31), ProtocolError);
}

#[test]
fn server_refuses_v5_properties_on_a_v311_connection() {
    // After a 3.1.1 CONNECT, a PUBACK with a reason code is three bytes too many.
    let mut codec = connected_server(&v311_connect());
    assert_codec_refuses(
        &mut codec,
        &[0x40, 0x03, 0x00, 0x01, 0x10],
        TrailingBytes {
            packet: "PUBACK",
            extra: 1,
        },
        MalformedPacket,
    );
}

#[test]
fn a_refused_connect_leaves_the_server_expecting_connect() {
    let mut codec = Codec::server(PROTOCOL_MAX_PACKET_SIZE);
    let bad = connect_v311(0x03, &[&string(b"c")]);
    assert_codec_refuses(&mut codec, &bad, ConnectReservedFlag, MalformedPacket);
    assert_eq!(codec.version(), None);
}
