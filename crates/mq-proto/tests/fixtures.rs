//! Byte fixtures written out by hand from the packet layouts of the MQTT 3.1.1 and 5.0
//! specifications (chapter 3 of each). Every fixture is checked both ways: decoding the
//! bytes gives the expected packet, and encoding the packet gives back exactly the bytes.

use std::num::NonZeroU16;

use mq_proto::{
    decode, encode, encoded_len, Auth, Bytes, BytesMut, Codec, CodecState, ConnAck, Connect,
    Disconnect, Packet, PacketId, Properties, ProtocolVersion, PubResponse, Publish, QoS,
    ReasonCode, RetainHandling, SubAck, Subscribe, SubscriptionOptions, UnsubAck, Unsubscribe,
    Will, PROTOCOL_MAX_PACKET_SIZE,
};
use ProtocolVersion::{V31, V311, V5};

/// Joins hand-written pieces (header bytes, string literals, lengths) into one packet.
fn wire(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn id(value: u16) -> PacketId {
    NonZeroU16::new(value).expect("fixtures use non-zero packet identifiers")
}

/// Decodes `bytes` as one packet of `version`, compares it with `expected`, then encodes
/// `expected` and compares the result with `bytes`.
fn assert_fixture(bytes: &[u8], version: ProtocolVersion, expected: Packet) {
    let mut buf = BytesMut::from(bytes);
    let decoded = decode(&mut buf, version, PROTOCOL_MAX_PACKET_SIZE);
    assert_eq!(decoded, Ok(Some(expected.clone())), "decoding {bytes:02X?}");
    assert!(buf.is_empty(), "decode left {} bytes behind", buf.len());

    let mut out = BytesMut::new();
    encode(&expected, version, &mut out);
    assert_eq!(&out[..], bytes, "encoding {expected:?}");
    assert_eq!(encoded_len(&expected, version), bytes.len());
}

/// For fixtures that hold in every protocol version.
fn assert_fixture_in_every_version(bytes: &[u8], expected: Packet) {
    for version in [V31, V311, V5] {
        assert_fixture(bytes, version, expected.clone());
    }
}

fn user_property(key: &str, value: &str) -> (String, String) {
    (key.to_string(), value.to_string())
}

// ---------------------------------------------------------------------------------------
// CONNECT (MQTT 3.1.1 section 3.1, MQTT 5 section 3.1)

#[test]
fn v311_connect_with_will_user_name_and_password() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x10, 44],                   // CONNECT, Remaining Length 44
        &[0x00, 0x04], b"MQTT", &[4], // Protocol Name, Protocol Level 4
        &[0xEE], // User Name, Password, Will Retain, Will QoS 1, Will Flag, Clean Session
        &[0x00, 0x3C], // Keep Alive 60
        &[0x00, 0x08], b"client-1", // Client Identifier
        &[0x00, 0x06], b"will/t", // Will Topic
        &[0x00, 0x03], b"bye", // Will Message
        &[0x00, 0x04], b"user", // User Name
        &[0x00, 0x03], &[0x01, 0x02, 0xFF], // Password (binary)
    ]);
    let expected = Connect {
        protocol: V311,
        clean_start: true,
        keep_alive: 60,
        client_id: "client-1".into(),
        will: Some(Will {
            topic: "will/t".into(),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Properties::default(),
        }),
        username: Some("user".into()),
        password: Some(Bytes::from_static(&[0x01, 0x02, 0xFF])),
        properties: Properties::default(),
    };
    assert_fixture(&bytes, V311, Packet::Connect(Box::new(expected)));
}

#[test]
fn v311_connect_with_only_a_client_identifier() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x10, 13],
        &[0x00, 0x04], b"MQTT", &[4],
        &[0x00], // no flags: a persistent session
        &[0x00, 0x00], // Keep Alive off
        &[0x00, 0x01], b"c",
    ]);
    let expected = Connect {
        protocol: V311,
        clean_start: false,
        keep_alive: 0,
        client_id: "c".into(),
        will: None,
        username: None,
        password: None,
        properties: Properties::default(),
    };
    assert_fixture(&bytes, V311, Packet::Connect(Box::new(expected)));
}

#[test]
fn v311_connect_with_an_empty_client_identifier() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x10, 12],
        &[0x00, 0x04], b"MQTT", &[4],
        &[0x02],
        &[0x00, 0x0A],
        &[0x00, 0x00], // zero-length Client Identifier [MQTT-3.1.3-6]
    ]);
    let expected = Connect {
        protocol: V311,
        clean_start: true,
        keep_alive: 10,
        client_id: String::new(),
        will: None,
        username: None,
        password: None,
        properties: Properties::default(),
    };
    assert_fixture(&bytes, V311, Packet::Connect(Box::new(expected)));
}

#[test]
fn v31_connect_names_the_protocol_mqisdp_at_level_3() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x10, 23],
        &[0x00, 0x06], b"MQIsdp", &[3],
        &[0xC2], // User Name, Password, Clean Session
        &[0x00, 0x0A],
        &[0x00, 0x03], b"c31",
        &[0x00, 0x01], b"u",
        &[0x00, 0x01], b"p",
    ]);
    let expected = Connect {
        protocol: V31,
        clean_start: true,
        keep_alive: 10,
        client_id: "c31".into(),
        will: None,
        username: Some("u".into()),
        password: Some(Bytes::from_static(b"p")),
        properties: Properties::default(),
    };
    // The CONNECT carries its own version, whatever the caller assumes.
    for assumed in [V31, V311, V5] {
        assert_fixture(&bytes, assumed, Packet::Connect(Box::new(expected.clone())));
    }
}

#[rustfmt::skip]
fn v5_connect_bytes() -> Vec<u8> {
    wire(&[
        &[0x10, 81],
        &[0x00, 0x04], b"MQTT", &[5],
        &[0xB6], // User Name, Will Retain, Will QoS 2, Will Flag, Clean Start
        &[0x00, 0x1E], // Keep Alive 30
        &[27], // Property Length
        &[0x11, 0x00, 0x00, 0x0E, 0x10], // Session Expiry Interval 3600
        &[0x17, 0x00], // Request Problem Information 0
        &[0x19, 0x01], // Request Response Information 1
        &[0x21, 0x00, 0x14], // Receive Maximum 20
        &[0x22, 0x00, 0x0A], // Topic Alias Maximum 10
        &[0x26, 0x00, 0x01], b"k", &[0x00, 0x01], b"v", // User Property
        &[0x27, 0x00, 0x01, 0x00, 0x00], // Maximum Packet Size 65536
        &[0x00, 0x08], b"v5client", // Client Identifier
        &[14], // Will Property Length
        &[0x01, 0x01], // Payload Format Indicator: UTF-8
        &[0x03, 0x00, 0x04], b"text", // Content Type
        &[0x18, 0x00, 0x00, 0x00, 0x05], // Will Delay Interval 5
        &[0x00, 0x03], b"lwt", // Will Topic
        &[0x00, 0x04], b"gone", // Will Payload
        &[0x00, 0x05], b"alice", // User Name
    ])
}

fn v5_connect() -> Connect {
    Connect {
        protocol: V5,
        clean_start: true,
        keep_alive: 30,
        client_id: "v5client".into(),
        will: Some(Will {
            topic: "lwt".into(),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::ExactlyOnce,
            retain: true,
            properties: Properties {
                payload_format_indicator: Some(1),
                content_type: Some("text".into()),
                will_delay_interval: Some(5),
                ..Properties::default()
            },
        }),
        username: Some("alice".into()),
        password: None,
        properties: Properties {
            session_expiry_interval: Some(3600),
            request_problem_information: Some(0),
            request_response_information: Some(1),
            receive_maximum: Some(20),
            topic_alias_maximum: Some(10),
            user_properties: vec![user_property("k", "v")],
            maximum_packet_size: Some(65536),
            ..Properties::default()
        },
    }
}

#[test]
fn v5_connect_with_properties_and_will_properties() {
    assert_fixture(
        &v5_connect_bytes(),
        V5,
        Packet::Connect(Box::new(v5_connect())),
    );
}

#[test]
fn v5_connect_with_authentication_method_and_data() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x10, 32],
        &[0x00, 0x04], b"MQTT", &[5],
        &[0x02],
        &[0x00, 0x00],
        &[14],
        &[0x15, 0x00, 0x05], b"SCRAM",
        &[0x16, 0x00, 0x03, 0x01, 0x02, 0x03],
        &[0x00, 0x05], b"alice",
    ]);
    let expected = Connect {
        protocol: V5,
        clean_start: true,
        keep_alive: 0,
        client_id: "alice".into(),
        will: None,
        username: None,
        password: None,
        properties: Properties {
            authentication_method: Some("SCRAM".into()),
            authentication_data: Some(Bytes::from_static(&[1, 2, 3])),
            ..Properties::default()
        },
    };
    assert_fixture(&bytes, V5, Packet::Connect(Box::new(expected)));
}

#[test]
fn v5_connect_may_carry_a_password_without_a_user_name() {
    // MQTT 5 section 3.1.2.9 lifts the 3.1.1 rule [MQTT-3.1.2-22].
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x10, 20],
        &[0x00, 0x04], b"MQTT", &[5],
        &[0x42], // Password, Clean Start
        &[0x00, 0x00],
        &[0],
        &[0x00, 0x01], b"c",
        &[0x00, 0x04], b"t0k3",
    ]);
    let expected = Connect {
        protocol: V5,
        clean_start: true,
        keep_alive: 0,
        client_id: "c".into(),
        will: None,
        username: None,
        password: Some(Bytes::from_static(b"t0k3")),
        properties: Properties::default(),
    };
    assert_fixture(&bytes, V5, Packet::Connect(Box::new(expected)));
}

#[test]
fn v5_properties_decode_in_any_order() {
    // The encoder writes properties in identifier order; a peer may send any order.
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x10, 27],
        &[0x00, 0x04], b"MQTT", &[5],
        &[0x02],
        &[0x00, 0x00],
        &[13],
        &[0x27, 0x00, 0x00, 0x10, 0x00], // Maximum Packet Size 4096
        &[0x21, 0x00, 0x05], // Receive Maximum 5
        &[0x11, 0x00, 0x00, 0x00, 0x3C], // Session Expiry Interval 60
        &[0x00, 0x01], b"c",
    ]);
    let mut buf = BytesMut::from(&bytes[..]);
    let Ok(Some(Packet::Connect(connect))) = decode(&mut buf, V5, PROTOCOL_MAX_PACKET_SIZE) else {
        panic!("the CONNECT should decode");
    };
    assert_eq!(connect.properties.maximum_packet_size, Some(4096));
    assert_eq!(connect.properties.receive_maximum, Some(5));
    assert_eq!(connect.properties.session_expiry_interval, Some(60));
}

#[test]
fn server_codec_takes_its_version_from_the_connect() {
    let mut codec = Codec::server(PROTOCOL_MAX_PACKET_SIZE);
    assert_eq!(codec.state(), CodecState::ExpectConnect);
    let mut buf = BytesMut::from(&v5_connect_bytes()[..]);
    // A v5-only packet in the same read: an AUTH with Reason Code Continue Authentication.
    buf.extend_from_slice(&[0xF0, 0x02, 0x18, 0x00]);
    assert_eq!(
        codec.decode(&mut buf),
        Ok(Some(Packet::Connect(Box::new(v5_connect()))))
    );
    assert_eq!(codec.state(), CodecState::Connected(V5));
    assert_eq!(
        codec.decode(&mut buf),
        Ok(Some(Packet::Auth(Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: Properties::default(),
        })))
    );
    assert_eq!(codec.decode(&mut buf), Ok(None));
}

// ---------------------------------------------------------------------------------------
// CONNACK

fn connack(session_present: bool, reason_code: ReasonCode) -> Packet {
    Packet::ConnAck(ConnAck {
        session_present,
        reason_code,
        properties: Properties::default(),
    })
}

#[test]
fn v3_connack_accepted() {
    assert_fixture(
        &[0x20, 0x02, 0x00, 0x00],
        V311,
        connack(false, ReasonCode::Success),
    );
    assert_fixture(
        &[0x20, 0x02, 0x00, 0x00],
        V31,
        connack(false, ReasonCode::Success),
    );
}

#[test]
fn v3_connack_with_session_present() {
    assert_fixture(
        &[0x20, 0x02, 0x01, 0x00],
        V311,
        connack(true, ReasonCode::Success),
    );
}

#[test]
fn v3_connack_return_codes_map_to_reason_codes() {
    // MQTT 3.1.1 table 3.1, and their MQTT 5 counterparts (MQTT 5 section 3.2.2.2).
    let table = [
        (0x01, ReasonCode::UnsupportedProtocolVersion),
        (0x02, ReasonCode::ClientIdentifierNotValid),
        (0x03, ReasonCode::ServerUnavailable),
        (0x04, ReasonCode::BadUserNameOrPassword),
        (0x05, ReasonCode::NotAuthorized),
    ];
    for (code, reason) in table {
        assert_fixture(&[0x20, 0x02, 0x00, code], V311, connack(false, reason));
    }
}

#[test]
fn v5_connack_with_server_properties() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x20, 29],
        &[0x00], // no session present
        &[0x00], // Success
        &[26],
        &[0x12, 0x00, 0x04], b"auto", // Assigned Client Identifier
        &[0x13, 0x00, 0x3C], // Server Keep Alive 60
        &[0x21, 0x00, 0x0A], // Receive Maximum 10
        &[0x22, 0x00, 0x05], // Topic Alias Maximum 5
        &[0x24, 0x01], // Maximum QoS 1
        &[0x25, 0x00], // Retain Available 0
        &[0x28, 0x01], // Wildcard Subscription Available
        &[0x29, 0x00], // Subscription Identifiers Available 0
        &[0x2A, 0x01], // Shared Subscription Available
    ]);
    let expected = ConnAck {
        session_present: false,
        reason_code: ReasonCode::Success,
        properties: Properties {
            assigned_client_identifier: Some("auto".into()),
            server_keep_alive: Some(60),
            receive_maximum: Some(10),
            topic_alias_maximum: Some(5),
            maximum_qos: Some(1),
            retain_available: Some(0),
            wildcard_subscription_available: Some(1),
            subscription_identifier_available: Some(0),
            shared_subscription_available: Some(1),
            ..Properties::default()
        },
    };
    assert_fixture(&bytes, V5, Packet::ConnAck(expected));
}

#[test]
fn v5_connack_refusal_without_properties() {
    assert_fixture(
        &[0x20, 0x03, 0x00, 0x87, 0x00],
        V5,
        connack(false, ReasonCode::NotAuthorized),
    );
}

#[test]
fn v5_connack_redirecting_to_another_server() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x20, 20],
        &[0x00, 0x9C], // Use another server
        &[17],
        &[0x1C, 0x00, 0x06], b"host:1", // Server Reference
        &[0x1F, 0x00, 0x05], b"moved", // Reason String
    ]);
    let expected = ConnAck {
        session_present: false,
        reason_code: ReasonCode::UseAnotherServer,
        properties: Properties {
            server_reference: Some("host:1".into()),
            reason_string: Some("moved".into()),
            ..Properties::default()
        },
    };
    assert_fixture(&bytes, V5, Packet::ConnAck(expected));
}

// ---------------------------------------------------------------------------------------
// PUBLISH

fn publish(
    qos: QoS,
    packet_id: Option<u16>,
    topic: &'static str,
    payload: &'static [u8],
) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.into(),
        packet_id: packet_id.map(id),
        properties: Properties::default(),
        payload: Bytes::from_static(payload),
    }
}

#[test]
fn v3_publish_qos0() {
    let bytes = wire(&[&[0x30, 7], &[0x00, 0x03], b"a/b", b"hi"]);
    let expected = publish(QoS::AtMostOnce, None, "a/b", b"hi");
    assert_fixture(&bytes, V311, Packet::Publish(expected.clone()));
    assert_fixture(&bytes, V31, Packet::Publish(expected));
}

#[test]
fn v3_publish_qos0_retained_with_an_empty_payload() {
    // An empty retained message clears the retained message of its topic.
    let bytes = wire(&[&[0x31, 5], &[0x00, 0x03], b"a/b"]);
    let mut expected = publish(QoS::AtMostOnce, None, "a/b", b"");
    expected.retain = true;
    assert_fixture(&bytes, V311, Packet::Publish(expected));
}

#[test]
fn v3_publish_qos1() {
    let bytes = wire(&[&[0x32, 8], &[0x00, 0x03], b"a/b", &[0x00, 0x0A], b"x"]);
    let expected = publish(QoS::AtLeastOnce, Some(10), "a/b", b"x");
    assert_fixture(&bytes, V311, Packet::Publish(expected));
}

#[test]
fn v3_publish_qos2_redelivered_and_retained() {
    let bytes = wire(&[&[0x3D, 7], &[0x00, 0x03], b"a/b", &[0x12, 0x34]]);
    let mut expected = publish(QoS::ExactlyOnce, Some(0x1234), "a/b", b"");
    expected.dup = true;
    expected.retain = true;
    assert_fixture(&bytes, V311, Packet::Publish(expected));
}

#[test]
fn v3_publish_with_a_two_byte_remaining_length() {
    let payload = [0xA5u8; 200];
    let bytes = wire(&[&[0x30, 0xCD, 0x01], &[0x00, 0x03], b"a/b", &payload]);
    let mut expected = publish(QoS::AtMostOnce, None, "a/b", b"");
    expected.payload = Bytes::copy_from_slice(&payload);
    assert_fixture(&bytes, V311, Packet::Publish(expected));
}

#[test]
fn v3_publish_topic_may_be_multibyte_utf8() {
    let bytes = wire(&[&[0x30, 8], &[0x00, 0x06], "é/日".as_bytes()]);
    let expected = publish(QoS::AtMostOnce, None, "é/日", b"");
    assert_fixture(&bytes, V311, Packet::Publish(expected));
}

#[test]
fn v5_publish_qos0_without_properties() {
    let bytes = wire(&[&[0x30, 8], &[0x00, 0x03], b"a/b", &[0x00], b"hi"]);
    let expected = publish(QoS::AtMostOnce, None, "a/b", b"hi");
    assert_fixture(&bytes, V5, Packet::Publish(expected));
}

#[test]
fn v5_publish_qos1_with_properties() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x32, 56],
        &[0x00, 0x03], b"a/b",
        &[0x00, 0x07], // Packet Identifier
        &[46], // Property Length
        &[0x01, 0x01], // Payload Format Indicator
        &[0x02, 0x00, 0x00, 0x00, 0x3C], // Message Expiry Interval 60
        &[0x03, 0x00, 0x0A], b"text/plain", // Content Type
        &[0x08, 0x00, 0x05], b"reply", // Response Topic
        &[0x09, 0x00, 0x02, 0xBE, 0xEF], // Correlation Data
        &[0x0B, 0x81, 0x01], // Subscription Identifier 129 (two-byte varint)
        &[0x23, 0x00, 0x02], // Topic Alias 2
        &[0x26, 0x00, 0x01], b"a", &[0x00, 0x01], b"b", // User Property
        b"{}", // Payload
    ]);
    let mut expected = publish(QoS::AtLeastOnce, Some(7), "a/b", b"{}");
    expected.properties = Properties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(60),
        content_type: Some("text/plain".into()),
        response_topic: Some("reply".into()),
        correlation_data: Some(Bytes::from_static(&[0xBE, 0xEF])),
        subscription_identifiers: vec![129],
        topic_alias: Some(2),
        user_properties: vec![user_property("a", "b")],
        ..Properties::default()
    };
    assert_fixture(&bytes, V5, Packet::Publish(expected));
}

#[test]
fn v5_publish_qos2_using_a_topic_alias_alone() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x34, 9],
        &[0x00, 0x00], // empty Topic Name: the alias stands for it
        &[0x00, 0x09],
        &[3],
        &[0x23, 0x00, 0x05], // Topic Alias 5
        b"z",
    ]);
    let mut expected = publish(QoS::ExactlyOnce, Some(9), "", b"z");
    expected.properties.topic_alias = Some(5);
    assert_fixture(&bytes, V5, Packet::Publish(expected));
}

#[test]
fn v5_publish_with_several_subscription_identifiers_and_user_properties_in_order() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x30, 25],
        &[0x00, 0x01], b"t",
        &[21],
        &[0x0B, 0x01], // Subscription Identifier 1
        &[0x0B, 0xFF, 0xFF, 0xFF, 0x7F], // Subscription Identifier 268,435,455
        &[0x26, 0x00, 0x01], b"k", &[0x00, 0x01], b"2",
        &[0x26, 0x00, 0x01], b"k", &[0x00, 0x01], b"1",
    ]);
    let mut expected = publish(QoS::AtMostOnce, None, "t", b"");
    expected.properties.subscription_identifiers = vec![1, 268_435_455];
    expected.properties.user_properties = vec![user_property("k", "2"), user_property("k", "1")];
    assert_fixture(&bytes, V5, Packet::Publish(expected));
}

// ---------------------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP

/// Wraps a [`PubResponse`] as one of the four packets that carry it.
type PubResponsePacket = fn(PubResponse) -> Packet;

/// First byte and constructor of each publish response.
fn pub_responses() -> [(u8, PubResponsePacket); 4] {
    [
        (0x40, Packet::PubAck),
        (0x50, Packet::PubRec),
        (0x62, Packet::PubRel),
        (0x70, Packet::PubComp),
    ]
}

#[test]
fn v3_publish_responses_carry_only_the_packet_identifier() {
    for (first, packet) in pub_responses() {
        let bytes = [first, 0x02, 0x00, 0x01];
        assert_fixture(&bytes, V311, packet(PubResponse::new(id(1))));
        assert_fixture(&bytes, V31, packet(PubResponse::new(id(1))));
    }
}

#[test]
fn v5_publish_responses_leave_out_a_success_reason_without_properties() {
    for (first, packet) in pub_responses() {
        let bytes = [first, 0x02, 0xAB, 0xCD];
        assert_fixture(&bytes, V5, packet(PubResponse::new(id(0xABCD))));
    }
}

#[test]
fn v5_publish_responses_with_a_reason_code_and_no_properties() {
    let cases = [
        (0x40, ReasonCode::NoMatchingSubscribers),
        (0x50, ReasonCode::QuotaExceeded),
        (0x62, ReasonCode::PacketIdentifierNotFound),
        (0x70, ReasonCode::PacketIdentifierNotFound),
    ];
    for ((first, packet), (expected_first, reason)) in pub_responses().into_iter().zip(cases) {
        assert_eq!(first, expected_first);
        let bytes = [first, 0x03, 0x00, 0x02, reason as u8];
        assert_fixture(&bytes, V5, packet(PubResponse::with_reason(id(2), reason)));
    }
}

#[test]
fn v5_publish_responses_with_a_reason_code_and_properties() {
    for (first, packet) in pub_responses() {
        #[rustfmt::skip]
        let bytes = wire(&[
            &[first, 16],
            &[0x00, 0x03],
            &[0x00], // Success, written because properties follow
            &[12],
            &[0x1F, 0x00, 0x02], b"ok", // Reason String
            &[0x26, 0x00, 0x01], b"k", &[0x00, 0x01], b"v",
        ]);
        let mut expected = PubResponse::new(id(3));
        expected.properties.reason_string = Some("ok".into());
        expected.properties.user_properties = vec![user_property("k", "v")];
        assert_fixture(&bytes, V5, packet(expected));
    }
}

#[test]
fn v5_publish_response_with_an_explicit_success_and_no_properties_decodes_as_the_short_form() {
    // Section 3.4.2.1: Remaining Length 3 means a reason code without a property length.
    let mut buf = BytesMut::from(&[0x40, 0x03, 0x00, 0x01, 0x00][..]);
    assert_eq!(
        decode(&mut buf, V5, PROTOCOL_MAX_PACKET_SIZE),
        Ok(Some(Packet::PubAck(PubResponse::new(id(1)))))
    );
}

// ---------------------------------------------------------------------------------------
// SUBSCRIBE, SUBACK

#[test]
fn v3_subscribe_with_two_filters() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x82, 14],
        &[0x00, 0x0A],
        &[0x00, 0x03], b"a/b", &[0x01],
        &[0x00, 0x03], b"c/#", &[0x02],
    ]);
    let expected = Subscribe {
        packet_id: id(10),
        filters: vec![
            ("a/b".into(), SubscriptionOptions::new(QoS::AtLeastOnce)),
            ("c/#".into(), SubscriptionOptions::new(QoS::ExactlyOnce)),
        ],
        properties: Properties::default(),
    };
    assert_fixture(&bytes, V311, Packet::Subscribe(expected.clone()));
    assert_fixture(&bytes, V31, Packet::Subscribe(expected));
}

#[test]
fn v5_subscribe_with_subscription_options_and_properties() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x82, 31],
        &[0x00, 0x0B],
        &[9],
        &[0x0B, 0x05], // Subscription Identifier 5
        &[0x26, 0x00, 0x01], b"k", &[0x00, 0x01], b"v",
        &[0x00, 0x03], b"a/+",
        &[0x1D], // Retain Handling 1, Retain As Published, No Local, QoS 1
        &[0x00, 0x0A], b"$share/g/x",
        &[0x22], // Retain Handling 2, QoS 2
    ]);
    let expected = Subscribe {
        packet_id: id(11),
        filters: vec![
            (
                "a/+".into(),
                SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::SendAtSubscribeIfNew,
                },
            ),
            (
                "$share/g/x".into(),
                SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    no_local: false,
                    retain_as_published: false,
                    retain_handling: RetainHandling::DoNotSend,
                },
            ),
        ],
        properties: Properties {
            subscription_identifiers: vec![5],
            user_properties: vec![user_property("k", "v")],
            ..Properties::default()
        },
    };
    assert_fixture(&bytes, V5, Packet::Subscribe(expected));
}

#[test]
fn v3_suback_grants_and_refuses() {
    let bytes = [0x90, 0x06, 0x00, 0x0A, 0x00, 0x01, 0x02, 0x80];
    let expected = SubAck {
        packet_id: id(10),
        reason_codes: vec![
            ReasonCode::Success,
            ReasonCode::GrantedQoS1,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
        ],
        properties: Properties::default(),
    };
    assert_fixture(&bytes, V311, Packet::SubAck(expected));
}

#[test]
fn v3_suback_reports_any_v5_failure_as_0x80() {
    let expected = SubAck {
        packet_id: id(1),
        reason_codes: vec![ReasonCode::NotAuthorized],
        properties: Properties::default(),
    };
    let mut out = BytesMut::new();
    encode(&Packet::SubAck(expected), V311, &mut out);
    assert_eq!(&out[..], &[0x90, 0x03, 0x00, 0x01, 0x80]);
}

#[test]
fn v5_suback_with_reason_codes_and_a_reason_string() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0x90, 18],
        &[0x00, 0x0B],
        &[6],
        &[0x1F, 0x00, 0x03], b"why",
        &[0x00, 0x01, 0x02, 0x80, 0x87, 0x8F, 0x9E, 0xA1, 0xA2],
    ]);
    let expected = SubAck {
        packet_id: id(11),
        reason_codes: vec![
            ReasonCode::Success,
            ReasonCode::GrantedQoS1,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
            ReasonCode::NotAuthorized,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::SharedSubscriptionsNotSupported,
            ReasonCode::SubscriptionIdentifiersNotSupported,
            ReasonCode::WildcardSubscriptionsNotSupported,
        ],
        properties: Properties {
            reason_string: Some("why".into()),
            ..Properties::default()
        },
    };
    assert_fixture(&bytes, V5, Packet::SubAck(expected));
}

// ---------------------------------------------------------------------------------------
// UNSUBSCRIBE, UNSUBACK

#[test]
fn v3_unsubscribe_with_two_filters() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0xA2, 10],
        &[0x00, 0x0C],
        &[0x00, 0x03], b"a/b",
        &[0x00, 0x01], b"#",
    ]);
    let expected = Unsubscribe {
        packet_id: id(12),
        filters: vec!["a/b".into(), "#".into()],
        properties: Properties::default(),
    };
    assert_fixture(&bytes, V311, Packet::Unsubscribe(expected));
}

#[test]
fn v5_unsubscribe_with_a_user_property() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0xA2, 17],
        &[0x00, 0x0C],
        &[7],
        &[0x26, 0x00, 0x01], b"k", &[0x00, 0x01], b"v",
        &[0x00, 0x05], b"a/+/#",
    ]);
    let expected = Unsubscribe {
        packet_id: id(12),
        filters: vec!["a/+/#".into()],
        properties: Properties {
            user_properties: vec![user_property("k", "v")],
            ..Properties::default()
        },
    };
    assert_fixture(&bytes, V5, Packet::Unsubscribe(expected));
}

#[test]
fn v3_unsuback_carries_only_the_packet_identifier() {
    let expected = UnsubAck {
        packet_id: id(12),
        reason_codes: Vec::new(),
        properties: Properties::default(),
    };
    assert_fixture(&[0xB0, 0x02, 0x00, 0x0C], V311, Packet::UnsubAck(expected));
}

#[test]
fn v5_unsuback_with_a_reason_code_per_filter() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0xB0, 11],
        &[0x00, 0x0C],
        &[6],
        &[0x1F, 0x00, 0x03], b"why",
        &[0x00, 0x11], // Success, No subscription existed
    ]);
    let expected = UnsubAck {
        packet_id: id(12),
        reason_codes: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
        properties: Properties {
            reason_string: Some("why".into()),
            ..Properties::default()
        },
    };
    assert_fixture(&bytes, V5, Packet::UnsubAck(expected));
}

// ---------------------------------------------------------------------------------------
// PINGREQ, PINGRESP, DISCONNECT, AUTH

#[test]
fn pingreq_is_two_bytes_in_every_version() {
    assert_fixture_in_every_version(&[0xC0, 0x00], Packet::PingReq);
}

#[test]
fn pingresp_is_two_bytes_in_every_version() {
    assert_fixture_in_every_version(&[0xD0, 0x00], Packet::PingResp);
}

#[test]
fn v3_disconnect_is_two_bytes() {
    let expected = Packet::Disconnect(Disconnect::new(ReasonCode::Success));
    assert_fixture(&[0xE0, 0x00], V311, expected.clone());
    assert_fixture(&[0xE0, 0x00], V31, expected);
}

#[test]
fn v5_disconnect_leaves_out_a_normal_reason_without_properties() {
    let expected = Packet::Disconnect(Disconnect::new(ReasonCode::Success));
    assert_fixture(&[0xE0, 0x00], V5, expected);
}

#[test]
fn v5_disconnect_with_will_message() {
    let expected = Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWillMessage));
    assert_fixture(&[0xE0, 0x02, 0x04, 0x00], V5, expected.clone());
    // Section 3.14.2.2: with a Remaining Length of 1 the property length is left out.
    let mut buf = BytesMut::from(&[0xE0, 0x01, 0x04][..]);
    assert_eq!(
        decode(&mut buf, V5, PROTOCOL_MAX_PACKET_SIZE),
        Ok(Some(expected))
    );
}

#[test]
fn v5_disconnect_with_properties() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0xE0, 21],
        &[0x9C], // Use another server
        &[19],
        &[0x11, 0x00, 0x00, 0x00, 0x00], // Session Expiry Interval 0
        &[0x1C, 0x00, 0x05], b"other", // Server Reference
        &[0x1F, 0x00, 0x03], b"bye", // Reason String
    ]);
    let expected = Disconnect {
        reason_code: ReasonCode::UseAnotherServer,
        properties: Properties {
            session_expiry_interval: Some(0),
            server_reference: Some("other".into()),
            reason_string: Some("bye".into()),
            ..Properties::default()
        },
    };
    assert_fixture(&bytes, V5, Packet::Disconnect(expected));
}

#[test]
fn v5_auth_success_is_two_bytes() {
    let expected = Auth {
        reason_code: ReasonCode::Success,
        properties: Properties::default(),
    };
    assert_fixture(&[0xF0, 0x00], V5, Packet::Auth(expected));
}

#[test]
fn v5_auth_continuing_an_exchange() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0xF0, 16],
        &[0x18], // Continue authentication
        &[14],
        &[0x15, 0x00, 0x05], b"SCRAM", // Authentication Method
        &[0x16, 0x00, 0x03, 0x01, 0x02, 0x03], // Authentication Data
    ]);
    let expected = Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: Properties {
            authentication_method: Some("SCRAM".into()),
            authentication_data: Some(Bytes::from_static(&[1, 2, 3])),
            ..Properties::default()
        },
    };
    assert_fixture(&bytes, V5, Packet::Auth(expected));
}

#[test]
fn v5_auth_asking_for_re_authentication() {
    #[rustfmt::skip]
    let bytes = wire(&[
        &[0xF0, 10],
        &[0x19], // Re-authenticate
        &[8],
        &[0x15, 0x00, 0x05], b"SCRAM",
    ]);
    let expected = Auth {
        reason_code: ReasonCode::ReAuthenticate,
        properties: Properties {
            authentication_method: Some("SCRAM".into()),
            ..Properties::default()
        },
    };
    assert_fixture(&bytes, V5, Packet::Auth(expected));
}

#[test]
fn several_packets_in_one_buffer_decode_one_at_a_time() {
    let mut buf = BytesMut::from(&[0xC0, 0x00, 0x40, 0x02, 0x00, 0x05, 0xD0][..]);
    let max = PROTOCOL_MAX_PACKET_SIZE;
    assert_eq!(decode(&mut buf, V311, max), Ok(Some(Packet::PingReq)));
    assert_eq!(
        decode(&mut buf, V311, max),
        Ok(Some(Packet::PubAck(PubResponse::new(id(5)))))
    );
    assert_eq!(decode(&mut buf, V311, max), Ok(None));
    assert_eq!(&buf[..], &[0xD0], "a partial packet stays in the buffer");
    buf.extend_from_slice(&[0x00]);
    assert_eq!(decode(&mut buf, V311, max), Ok(Some(Packet::PingResp)));
}
