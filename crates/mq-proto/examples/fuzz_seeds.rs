//! Writes the seed inputs of the fuzz targets in `fuzz/`: small valid packets of every type
//! in every protocol version, whole client sessions, and topic filter/name pairs.
//!
//! Run from the repository root after the packet model changes:
//!
//! ```text
//! cargo run -p mq-proto --example fuzz_seeds -- fuzz/seeds
//! ```

use std::collections::BTreeMap;
use std::num::NonZeroU16;
use std::path::Path;

use mq_proto::*;

fn id(value: u16) -> PacketId {
    NonZeroU16::new(value).unwrap_or(NonZeroU16::MIN)
}

fn v5_only<T: Default>(version: ProtocolVersion, value: T) -> T {
    if version.is_v5() {
        value
    } else {
        T::default()
    }
}

fn connect(version: ProtocolVersion) -> Packet {
    Packet::Connect(Box::new(Connect {
        protocol: version,
        clean_start: true,
        keep_alive: 60,
        client_id: "seed".into(),
        will: Some(Will {
            topic: "will/t".into(),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: v5_only(
                version,
                Properties {
                    will_delay_interval: Some(5),
                    payload_format_indicator: Some(1),
                    ..Properties::default()
                },
            ),
        }),
        username: Some("user".into()),
        password: Some(Bytes::from_static(b"pass")),
        properties: v5_only(
            version,
            Properties {
                session_expiry_interval: Some(3600),
                receive_maximum: Some(20),
                topic_alias_maximum: Some(10),
                user_properties: vec![("k".into(), "v".into())],
                ..Properties::default()
            },
        ),
    }))
}

fn publish(version: ProtocolVersion, qos: QoS, properties: Properties) -> Packet {
    Packet::Publish(Publish {
        dup: qos != QoS::AtMostOnce,
        qos,
        retain: qos == QoS::AtMostOnce,
        topic: "a/b".into(),
        packet_id: (qos != QoS::AtMostOnce).then(|| id(7)),
        properties: v5_only(version, properties),
        payload: Bytes::from_static(b"hello"),
    })
}

fn reason(version: ProtocolVersion, v5: ReasonCode) -> ReasonCode {
    if version.is_v5() {
        v5
    } else {
        ReasonCode::Success
    }
}

/// Named packets of `version`: every type, some with properties.
fn packets(version: ProtocolVersion) -> Vec<(&'static str, Packet)> {
    let reason_string = Properties {
        reason_string: Some("why".into()),
        ..Properties::default()
    };
    let response = |code| PubResponse {
        packet_id: id(7),
        reason_code: reason(version, code),
        properties: v5_only(version, reason_string.clone()),
    };
    let options = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        no_local: version.is_v5(),
        retain_as_published: version.is_v5(),
        retain_handling: v5_only(version, RetainHandling::DoNotSend),
    };
    let mut packets = vec![
        ("connect", connect(version)),
        (
            "connack",
            Packet::ConnAck(ConnAck {
                session_present: true,
                reason_code: ReasonCode::Success,
                properties: v5_only(
                    version,
                    Properties {
                        assigned_client_identifier: Some("auto".into()),
                        maximum_qos: Some(1),
                        ..Properties::default()
                    },
                ),
            }),
        ),
        (
            "publish-qos0",
            publish(version, QoS::AtMostOnce, Properties::default()),
        ),
        (
            "publish-qos1",
            publish(
                version,
                QoS::AtLeastOnce,
                Properties {
                    message_expiry_interval: Some(60),
                    content_type: Some("text/plain".into()),
                    response_topic: Some("reply".into()),
                    correlation_data: Some(Bytes::from_static(&[1, 2])),
                    subscription_identifiers: vec![1, 200],
                    ..Properties::default()
                },
            ),
        ),
        (
            "publish-qos2",
            publish(
                version,
                QoS::ExactlyOnce,
                Properties {
                    topic_alias: Some(3),
                    ..Properties::default()
                },
            ),
        ),
        (
            "puback",
            Packet::PubAck(response(ReasonCode::NoMatchingSubscribers)),
        ),
        (
            "pubrec",
            Packet::PubRec(response(ReasonCode::QuotaExceeded)),
        ),
        (
            "pubrel",
            Packet::PubRel(response(ReasonCode::PacketIdentifierNotFound)),
        ),
        ("pubcomp", Packet::PubComp(PubResponse::new(id(7)))),
        (
            "subscribe",
            Packet::Subscribe(Subscribe {
                packet_id: id(8),
                filters: vec![
                    ("a/+".into(), options),
                    (
                        "$share/g/b/#".into(),
                        SubscriptionOptions::new(QoS::ExactlyOnce),
                    ),
                ],
                properties: v5_only(
                    version,
                    Properties {
                        subscription_identifiers: vec![5],
                        ..Properties::default()
                    },
                ),
            }),
        ),
        (
            "suback",
            Packet::SubAck(SubAck {
                packet_id: id(8),
                reason_codes: vec![ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError],
                properties: v5_only(version, reason_string.clone()),
            }),
        ),
        (
            "unsubscribe",
            Packet::Unsubscribe(Unsubscribe {
                packet_id: id(9),
                filters: vec!["a/+".into(), "#".into()],
                properties: Properties::default(),
            }),
        ),
        (
            "unsuback",
            Packet::UnsubAck(UnsubAck {
                packet_id: id(9),
                reason_codes: v5_only(
                    version,
                    vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
                ),
                properties: Properties::default(),
            }),
        ),
        ("pingreq", Packet::PingReq),
        ("pingresp", Packet::PingResp),
        (
            "disconnect",
            Packet::Disconnect(Disconnect {
                reason_code: reason(version, ReasonCode::DisconnectWithWillMessage),
                properties: v5_only(
                    version,
                    Properties {
                        session_expiry_interval: Some(0),
                        ..Properties::default()
                    },
                ),
            }),
        ),
    ];
    if version.is_v5() {
        packets.push((
            "auth",
            Packet::Auth(Auth {
                reason_code: ReasonCode::ContinueAuthentication,
                properties: Properties {
                    authentication_method: Some("SCRAM".into()),
                    authentication_data: Some(Bytes::from_static(&[1, 2, 3])),
                    ..Properties::default()
                },
            }),
        ));
    }
    packets
}

/// What a client sends a server: CONNECT first, then the client-to-server packets.
fn session(version: ProtocolVersion) -> Vec<u8> {
    let client_sends = [
        "connect",
        "publish-qos0",
        "publish-qos1",
        "publish-qos2",
        "puback",
        "pubrec",
        "pubrel",
        "pubcomp",
        "subscribe",
        "unsubscribe",
        "pingreq",
        "auth",
        "disconnect",
    ];
    let mut out = BytesMut::new();
    for (name, packet) in packets(version) {
        if client_sends.contains(&name) {
            encode(&packet, version, &mut out);
        }
    }
    out.to_vec()
}

const TOPIC_PAIRS: &[(&str, &str)] = &[
    ("sport/tennis/player1/#", "sport/tennis/player1/ranking"),
    ("sport/#", "sport"),
    ("sport/tennis/+", "sport/tennis/player1"),
    ("sport/+", "sport/"),
    ("+/+", "/finance"),
    ("+", "/finance"),
    ("#", "$SYS/monitor/Clients"),
    ("$SYS/+/Clients", "$SYS/monitor/Clients"),
    ("$share/g/a/+", "a/b"),
    ("a/+/c", "a//c"),
    ("a/#/b", "a/x/b"),
    ("é/+/日本", "é/x/日本"),
];

fn main() -> std::io::Result<()> {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/seeds".into());
    let root = Path::new(&root);

    // Keyed by content so that packets identical across versions are written once.
    let mut decode_seeds: BTreeMap<Vec<u8>, String> = BTreeMap::new();
    for version in [
        ProtocolVersion::V31,
        ProtocolVersion::V311,
        ProtocolVersion::V5,
    ] {
        let tag = match version {
            ProtocolVersion::V31 => "v31",
            ProtocolVersion::V311 => "v311",
            ProtocolVersion::V5 => "v5",
        };
        for (name, packet) in packets(version) {
            let mut out = BytesMut::new();
            encode(&packet, version, &mut out);
            // Only CONNECT tells 3.1 from 3.1.1 on the wire.
            let tag = if version.is_v5() || name == "connect" {
                tag
            } else {
                "v3"
            };
            decode_seeds
                .entry(out.to_vec())
                .or_insert_with(|| format!("{tag}-{name}"));
        }
        decode_seeds.insert(session(version), format!("{tag}-session"));
    }
    let dir = root.join("decode");
    std::fs::create_dir_all(&dir)?;
    for (bytes, name) in &decode_seeds {
        std::fs::write(dir.join(format!("{name}.bin")), bytes)?;
    }

    let dir = root.join("topic");
    std::fs::create_dir_all(&dir)?;
    for (i, (filter, name)) in TOPIC_PAIRS.iter().enumerate() {
        let seed = [filter.as_bytes(), b"\0", name.as_bytes()].concat();
        std::fs::write(dir.join(format!("pair-{i:02}.bin")), seed)?;
    }
    Ok(())
}
