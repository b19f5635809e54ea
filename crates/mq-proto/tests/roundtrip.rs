//! Property tests: every valid packet survives encode then decode, every proper prefix of
//! an encoding asks for more bytes, streams of packets come back in order however they are
//! split, and topic matching agrees with a naive reference matcher.
//!
//! The strategies build only valid packets: MQTT 3.x packets carry no properties and only
//! the reason codes 3.x can express; MQTT 5 packets carry any properties their packet
//! allows (MQTT 5 table 2-4) and any reason code their packet's table lists.

use std::num::NonZeroU16;

use mq_proto::topic::{matches, validate_topic_filter, validate_topic_name};
use mq_proto::{
    decode, encode, encoded_len, peek_header, Auth, Bytes, BytesMut, Codec, ConnAck, Connect,
    Disconnect, Packet, PacketId, Properties, PropertyContext, ProtocolVersion, PubResponse,
    Publish, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, SubscriptionOptions, UnsubAck,
    Unsubscribe, Will, PROTOCOL_MAX_PACKET_SIZE, VARINT_MAX,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;
use proptest::test_runner::FileFailurePersistence;
use PropertyContext as Ctx;
use ProtocolVersion::{V31, V311, V5};

// ---------------------------------------------------------------------------------------
// Values

/// Any UTF-8 string the spec allows: every Unicode scalar value but U+0000.
fn text() -> impl Strategy<Value = String> {
    vec(any::<char>().prop_filter("no U+0000", |c| *c != '\0'), 0..8)
        .prop_map(|chars| chars.into_iter().collect())
}

fn binary() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..12).prop_map(Bytes::from)
}

/// Mostly small payloads, sometimes one that needs a two-byte Remaining Length.
fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        9 => binary(),
        1 => vec(any::<u8>(), 100..2000).prop_map(Bytes::from),
    ]
}

fn packet_id() -> impl Strategy<Value = PacketId> {
    (1..=u16::MAX).prop_map(|id| NonZeroU16::new(id).expect("range starts at 1"))
}

fn qos() -> impl Strategy<Value = QoS> {
    select(vec![QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])
}

/// One level of a Topic Name: a few interesting fixed ones, or any text without `/`,
/// wildcards or U+0000.
fn name_level() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec!["a", "b", "", "$SYS", "sport", "é", "日本"]).prop_map(String::from),
        text().prop_map(|level| level.replace(['/', '+', '#'], "")),
    ]
}

fn topic_name() -> impl Strategy<Value = String> {
    vec(name_level(), 1..5)
        .prop_map(|levels| levels.join("/"))
        .prop_filter("Topic Names are not empty", |name| !name.is_empty())
}

/// A valid Topic Filter: levels or `+`, perhaps a final `#`, perhaps shared.
fn topic_filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![3 => name_level(), 1 => Just("+".to_string())];
    let share_name = "[a-z0-9]{1,6}";
    (
        vec(level, 0..4),
        any::<bool>(),
        option::weighted(0.2, share_name),
    )
        .prop_map(|(mut levels, multi_level, share)| {
            if multi_level || levels.is_empty() {
                levels.push("#".into());
            }
            let filter = levels.join("/");
            match share {
                Some(share) if !filter.is_empty() => format!("$share/{share}/{filter}"),
                _ => filter,
            }
        })
        .prop_filter("Topic Filters are not empty", |filter| !filter.is_empty())
}

fn reason(codes: &'static [u8]) -> impl Strategy<Value = ReasonCode> {
    select(codes).prop_map(|code| ReasonCode::from_u8(code).expect("codes from the spec tables"))
}

// Reason codes each packet may carry, copied from the MQTT 5 tables (sections 3.2.2.2,
// 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1, 3.15.2.1).
const CONNACK_CODES: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
const PUBACK_CODES: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL_CODES: &[u8] = &[0x00, 0x92];
const SUBACK_CODES: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
const UNSUBACK_CODES: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
const DISCONNECT_CODES: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];
const AUTH_CODES: &[u8] = &[0x00, 0x18, 0x19];
/// The reasons an MQTT 3.x CONNACK return code can carry (3.1.1 table 3.1).
const V3_CONNACK_CODES: &[u8] = &[0x00, 0x84, 0x85, 0x88, 0x86, 0x87];
/// The return codes of an MQTT 3.1.1 SUBACK: granted QoS 0-2, or failure.
const V3_SUBACK_CODES: &[u8] = &[0x00, 0x01, 0x02, 0x80];

// ---------------------------------------------------------------------------------------
// Properties (MQTT 5 section 2.2.2, table 2-4)

/// One property and its value.
#[derive(Debug, Clone)]
enum Prop {
    PayloadFormatIndicator(u8),
    MessageExpiryInterval(u32),
    ContentType(String),
    ResponseTopic(String),
    CorrelationData(Bytes),
    SubscriptionIdentifier(u32),
    SessionExpiryInterval(u32),
    AssignedClientIdentifier(String),
    ServerKeepAlive(u16),
    AuthenticationMethod(String),
    AuthenticationData(Bytes),
    RequestProblemInformation(u8),
    WillDelayInterval(u32),
    RequestResponseInformation(u8),
    ResponseInformation(String),
    ServerReference(String),
    ReasonString(String),
    ReceiveMaximum(u16),
    TopicAliasMaximum(u16),
    TopicAlias(u16),
    MaximumQoS(u8),
    RetainAvailable(u8),
    UserProperty(String, String),
    MaximumPacketSize(u32),
    WildcardSubscriptionAvailable(u8),
    SubscriptionIdentifierAvailable(u8),
    SharedSubscriptionAvailable(u8),
}

/// The properties allowed in `context`, each with the values the spec allows.
fn prop(context: Ctx) -> BoxedStrategy<Prop> {
    use Ctx::*;
    let flag = || 0..=1u8;
    let table: Vec<(&[Ctx], BoxedStrategy<Prop>)> = vec![
        (
            &[Publish, Will],
            flag().prop_map(Prop::PayloadFormatIndicator).boxed(),
        ),
        (
            &[Publish, Will],
            any::<u32>().prop_map(Prop::MessageExpiryInterval).boxed(),
        ),
        (&[Publish, Will], text().prop_map(Prop::ContentType).boxed()),
        (
            &[Publish, Will],
            topic_name().prop_map(Prop::ResponseTopic).boxed(),
        ),
        (
            &[Publish, Will],
            binary().prop_map(Prop::CorrelationData).boxed(),
        ),
        (
            &[Publish, Subscribe],
            (1..=VARINT_MAX)
                .prop_map(Prop::SubscriptionIdentifier)
                .boxed(),
        ),
        (
            &[Connect, ConnAck, Disconnect],
            any::<u32>().prop_map(Prop::SessionExpiryInterval).boxed(),
        ),
        (
            &[ConnAck],
            text().prop_map(Prop::AssignedClientIdentifier).boxed(),
        ),
        (
            &[ConnAck],
            any::<u16>().prop_map(Prop::ServerKeepAlive).boxed(),
        ),
        (
            &[Connect, ConnAck, Auth],
            text().prop_map(Prop::AuthenticationMethod).boxed(),
        ),
        (
            &[Connect, ConnAck, Auth],
            binary().prop_map(Prop::AuthenticationData).boxed(),
        ),
        (
            &[Connect],
            flag().prop_map(Prop::RequestProblemInformation).boxed(),
        ),
        (
            &[Will],
            any::<u32>().prop_map(Prop::WillDelayInterval).boxed(),
        ),
        (
            &[Connect],
            flag().prop_map(Prop::RequestResponseInformation).boxed(),
        ),
        (
            &[ConnAck],
            text().prop_map(Prop::ResponseInformation).boxed(),
        ),
        (
            &[ConnAck, Disconnect],
            text().prop_map(Prop::ServerReference).boxed(),
        ),
        (
            &[ConnAck, PubResponse, SubAck, UnsubAck, Disconnect, Auth],
            text().prop_map(Prop::ReasonString).boxed(),
        ),
        (
            &[Connect, ConnAck],
            (1..=u16::MAX).prop_map(Prop::ReceiveMaximum).boxed(),
        ),
        (
            &[Connect, ConnAck],
            any::<u16>().prop_map(Prop::TopicAliasMaximum).boxed(),
        ),
        (
            &[Publish],
            (1..=u16::MAX).prop_map(Prop::TopicAlias).boxed(),
        ),
        (&[ConnAck], flag().prop_map(Prop::MaximumQoS).boxed()),
        (&[ConnAck], flag().prop_map(Prop::RetainAvailable).boxed()),
        (
            &[
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
            ],
            (text(), text())
                .prop_map(|(key, value)| Prop::UserProperty(key, value))
                .boxed(),
        ),
        (
            &[Connect, ConnAck],
            (1..=u32::MAX).prop_map(Prop::MaximumPacketSize).boxed(),
        ),
        (
            &[ConnAck],
            flag().prop_map(Prop::WildcardSubscriptionAvailable).boxed(),
        ),
        (
            &[ConnAck],
            flag()
                .prop_map(Prop::SubscriptionIdentifierAvailable)
                .boxed(),
        ),
        (
            &[ConnAck],
            flag().prop_map(Prop::SharedSubscriptionAvailable).boxed(),
        ),
    ];
    let allowed: Vec<_> = table
        .into_iter()
        .filter(|(contexts, _)| contexts.contains(&context))
        .map(|(_, strategy)| strategy)
        .collect();
    Union::new(allowed).boxed()
}

/// Collects properties into the model; a property given twice keeps its last value, except
/// the ones the spec lets repeat.
fn collect(context: Ctx, props: Vec<Prop>) -> Properties {
    let mut p = Properties::default();
    for prop in props {
        match prop {
            Prop::PayloadFormatIndicator(v) => p.payload_format_indicator = Some(v),
            Prop::MessageExpiryInterval(v) => p.message_expiry_interval = Some(v),
            Prop::ContentType(v) => p.content_type = Some(v),
            Prop::ResponseTopic(v) => p.response_topic = Some(v),
            Prop::CorrelationData(v) => p.correlation_data = Some(v),
            Prop::SubscriptionIdentifier(v) => {
                // A SUBSCRIBE carries at most one (MQTT 5 section 3.8.2.1.2).
                if context == Ctx::Subscribe {
                    p.subscription_identifiers.clear();
                }
                p.subscription_identifiers.push(v)
            }
            Prop::SessionExpiryInterval(v) => p.session_expiry_interval = Some(v),
            Prop::AssignedClientIdentifier(v) => p.assigned_client_identifier = Some(v),
            Prop::ServerKeepAlive(v) => p.server_keep_alive = Some(v),
            Prop::AuthenticationMethod(v) => p.authentication_method = Some(v),
            Prop::AuthenticationData(v) => p.authentication_data = Some(v),
            Prop::RequestProblemInformation(v) => p.request_problem_information = Some(v),
            Prop::WillDelayInterval(v) => p.will_delay_interval = Some(v),
            Prop::RequestResponseInformation(v) => p.request_response_information = Some(v),
            Prop::ResponseInformation(v) => p.response_information = Some(v),
            Prop::ServerReference(v) => p.server_reference = Some(v),
            Prop::ReasonString(v) => p.reason_string = Some(v),
            Prop::ReceiveMaximum(v) => p.receive_maximum = Some(v),
            Prop::TopicAliasMaximum(v) => p.topic_alias_maximum = Some(v),
            Prop::TopicAlias(v) => p.topic_alias = Some(v),
            Prop::MaximumQoS(v) => p.maximum_qos = Some(v),
            Prop::RetainAvailable(v) => p.retain_available = Some(v),
            Prop::UserProperty(key, value) => p.user_properties.push((key, value)),
            Prop::MaximumPacketSize(v) => p.maximum_packet_size = Some(v),
            Prop::WildcardSubscriptionAvailable(v) => p.wildcard_subscription_available = Some(v),
            Prop::SubscriptionIdentifierAvailable(v) => {
                p.subscription_identifier_available = Some(v)
            }
            Prop::SharedSubscriptionAvailable(v) => p.shared_subscription_available = Some(v),
        }
    }
    p
}

/// Properties for `context`: always empty before MQTT 5.
fn properties(context: Ctx, version: ProtocolVersion) -> BoxedStrategy<Properties> {
    if !version.is_v5() {
        return Just(Properties::default()).boxed();
    }
    vec(prop(context), 0..5)
        .prop_map(move |props| collect(context, props))
        .boxed()
}

// ---------------------------------------------------------------------------------------
// Packets

fn connect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let will = (
        topic_name(),
        binary(),
        qos(),
        any::<bool>(),
        properties(Ctx::Will, version),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| Will {
            topic: topic.into(),
            payload,
            qos,
            retain,
            properties,
        });
    (
        any::<bool>(),
        any::<u16>(),
        text(),
        option::of(will),
        option::of(text()),
        option::of(binary()),
        properties(Ctx::Connect, version),
    )
        .prop_map(
            move |(clean_start, keep_alive, client_id, will, username, password, properties)| {
                // Before MQTT 5 a password needs a user name [MQTT-3.1.2-22].
                let password = if version.is_v5() || username.is_some() {
                    password
                } else {
                    None
                };
                Packet::Connect(Box::new(Connect {
                    protocol: version,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties,
                }))
            },
        )
}

fn connack(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let codes = if version.is_v5() {
        CONNACK_CODES
    } else {
        V3_CONNACK_CODES
    };
    (
        any::<bool>(),
        reason(codes),
        properties(Ctx::ConnAck, version),
    )
        .prop_map(|(session_present, reason_code, properties)| {
            Packet::ConnAck(ConnAck {
                session_present,
                reason_code,
                properties,
            })
        })
}

fn publish(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic_name(),
        packet_id(),
        properties(Ctx::Publish, version),
        payload(),
        any::<bool>(),
    )
        .prop_map(
            |(qos, dup, retain, topic, id, properties, payload, alias_alone)| {
                let at_most_once = qos == QoS::AtMostOnce;
                // With a Topic Alias the Topic Name may be left empty (section 3.3.2.3.4).
                let topic = if alias_alone && properties.topic_alias.is_some() {
                    String::new()
                } else {
                    topic
                };
                Packet::Publish(Publish {
                    dup: dup && !at_most_once,
                    qos,
                    retain,
                    topic: topic.into(),
                    packet_id: (!at_most_once).then_some(id),
                    properties,
                    payload,
                })
            },
        )
}

fn pub_response(
    version: ProtocolVersion,
    codes: &'static [u8],
    wrap: fn(PubResponse) -> Packet,
) -> impl Strategy<Value = Packet> {
    let codes = if version.is_v5() { codes } else { &[0x00] };
    (
        packet_id(),
        reason(codes),
        properties(Ctx::PubResponse, version),
    )
        .prop_map(move |(packet_id, reason_code, properties)| {
            wrap(PubResponse {
                packet_id,
                reason_code,
                properties,
            })
        })
}

fn subscription_options(version: ProtocolVersion) -> BoxedStrategy<SubscriptionOptions> {
    if !version.is_v5() {
        return qos().prop_map(SubscriptionOptions::new).boxed();
    }
    let retain_handling = select(vec![
        RetainHandling::SendAtSubscribe,
        RetainHandling::SendAtSubscribeIfNew,
        RetainHandling::DoNotSend,
    ]);
    (qos(), any::<bool>(), any::<bool>(), retain_handling)
        .prop_map(
            |(qos, no_local, retain_as_published, retain_handling)| SubscriptionOptions {
                qos,
                no_local,
                retain_as_published,
                retain_handling,
            },
        )
        .boxed()
}

fn subscribe(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        vec((topic_filter(), subscription_options(version)), 1..4),
        properties(Ctx::Subscribe, version),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                filters,
                properties,
            })
        })
}

fn suback(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let codes = if version.is_v5() {
        SUBACK_CODES
    } else {
        V3_SUBACK_CODES
    };
    (
        packet_id(),
        vec(reason(codes), 1..5),
        properties(Ctx::SubAck, version),
    )
        .prop_map(|(packet_id, reason_codes, properties)| {
            Packet::SubAck(SubAck {
                packet_id,
                reason_codes,
                properties,
            })
        })
}

fn unsubscribe(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        vec(topic_filter(), 1..4),
        properties(Ctx::Unsubscribe, version),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters,
                properties,
            })
        })
}

fn unsuback(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    // MQTT 3.x UNSUBACK has no payload: no reason codes at all.
    let count = if version.is_v5() { 1..5 } else { 0..1 };
    (
        packet_id(),
        vec(reason(UNSUBACK_CODES), count),
        properties(Ctx::UnsubAck, version),
    )
        .prop_map(|(packet_id, reason_codes, properties)| {
            Packet::UnsubAck(UnsubAck {
                packet_id,
                reason_codes,
                properties,
            })
        })
}

fn disconnect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let codes = if version.is_v5() {
        DISCONNECT_CODES
    } else {
        &[0x00]
    };
    (reason(codes), properties(Ctx::Disconnect, version)).prop_map(|(reason_code, properties)| {
        Packet::Disconnect(Disconnect {
            reason_code,
            properties,
        })
    })
}

fn auth() -> impl Strategy<Value = Packet> {
    (reason(AUTH_CODES), properties(Ctx::Auth, V5)).prop_map(|(reason_code, properties)| {
        Packet::Auth(Auth {
            reason_code,
            properties,
        })
    })
}

/// Packets a client sends to a server.
fn client_packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let mut choices = vec![
        publish(version).boxed(),
        pub_response(version, PUBACK_CODES, Packet::PubAck).boxed(),
        pub_response(version, PUBACK_CODES, Packet::PubRec).boxed(),
        pub_response(version, PUBREL_CODES, Packet::PubRel).boxed(),
        pub_response(version, PUBREL_CODES, Packet::PubComp).boxed(),
        subscribe(version).boxed(),
        unsubscribe(version).boxed(),
        Just(Packet::PingReq).boxed(),
        disconnect(version).boxed(),
    ];
    if version.is_v5() {
        choices.push(auth().boxed());
    }
    Union::new(choices).boxed()
}

/// Packets a server sends to a client.
fn server_packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let mut choices = vec![
        connack(version).boxed(),
        publish(version).boxed(),
        pub_response(version, PUBACK_CODES, Packet::PubAck).boxed(),
        pub_response(version, PUBACK_CODES, Packet::PubRec).boxed(),
        pub_response(version, PUBREL_CODES, Packet::PubRel).boxed(),
        pub_response(version, PUBREL_CODES, Packet::PubComp).boxed(),
        suback(version).boxed(),
        unsuback(version).boxed(),
        Just(Packet::PingResp).boxed(),
    ];
    if version.is_v5() {
        choices.push(disconnect(version).boxed());
        choices.push(auth().boxed());
    }
    Union::new(choices).boxed()
}

/// Any packet of `version`.
fn any_packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    prop_oneof![
        1 => connect(version),
        8 => client_packet(version),
        8 => server_packet(version),
    ]
    .boxed()
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    select(vec![V31, V311, V5])
}

fn versioned_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    version().prop_flat_map(|version| (Just(version), any_packet(version)))
}

fn versioned_packets() -> impl Strategy<Value = (ProtocolVersion, Vec<Packet>)> {
    version().prop_flat_map(|version| (Just(version), vec(any_packet(version), 1..6)))
}

/// `cases` per property; failures are kept in `crates/mq-proto/proptest-regressions/`
/// (cargo runs tests from the package root) and replayed first on every run.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/roundtrip.txt",
        ))),
        ..ProptestConfig::default()
    }
}

fn to_bytes(packet: &Packet, version: ProtocolVersion) -> BytesMut {
    let mut out = BytesMut::new();
    encode(packet, version, &mut out);
    out
}

// ---------------------------------------------------------------------------------------
// Properties of the codec

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn every_packet_decodes_back_to_itself((version, packet) in versioned_packet()) {
        let mut buf = to_bytes(&packet, version);
        prop_assert_eq!(encoded_len(&packet, version), buf.len());
        let decoded = decode(&mut buf, version, PROTOCOL_MAX_PACKET_SIZE);
        prop_assert_eq!(decoded, Ok(Some(packet)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn every_proper_prefix_asks_for_more_bytes_and_leaves_the_buffer_alone(
        (version, packet) in versioned_packet()
    ) {
        let encoded = to_bytes(&packet, version);
        for len in 0..encoded.len() {
            let mut buf = BytesMut::from(&encoded[..len]);
            prop_assert_eq!(decode(&mut buf, version, PROTOCOL_MAX_PACKET_SIZE), Ok(None));
            prop_assert_eq!(&buf[..], &encoded[..len]);
            // Once the header is complete it announces the whole packet's length.
            if let Some(header) = peek_header(&buf, PROTOCOL_MAX_PACKET_SIZE).unwrap_or(None) {
                prop_assert_eq!(header.packet_len(), encoded.len());
            }
        }
    }

    #[test]
    fn packets_in_one_buffer_decode_back_in_order((version, packets) in versioned_packets()) {
        let mut buf = BytesMut::new();
        for packet in &packets {
            encode(packet, version, &mut buf);
        }
        for packet in &packets {
            let decoded = decode(&mut buf, version, PROTOCOL_MAX_PACKET_SIZE);
            prop_assert_eq!(decoded, Ok(Some(packet.clone())));
        }
        prop_assert_eq!(decode(&mut buf, version, PROTOCOL_MAX_PACKET_SIZE), Ok(None));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn a_stream_split_anywhere_decodes_to_the_same_packets(
        (version, packets) in versioned_packets(),
        cuts in vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut stream = BytesMut::new();
        for packet in &packets {
            encode(packet, version, &mut stream);
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(stream.len() + 1)).collect();
        cuts.push(stream.len());
        cuts.sort_unstable();
        let mut buf = BytesMut::new();
        let mut decoded = Vec::new();
        let mut start = 0;
        for cut in cuts {
            buf.extend_from_slice(&stream[start..cut]);
            start = cut;
            while let Some(packet) = decode(&mut buf, version, PROTOCOL_MAX_PACKET_SIZE)
                .map_err(|error| TestCaseError::fail(error.to_string()))?
            {
                decoded.push(packet);
            }
        }
        prop_assert_eq!(decoded, packets);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn a_server_codec_decodes_a_client_session(
        (connect, packets) in version().prop_flat_map(|version| {
            (connect(version), vec(client_packet(version), 0..6))
        })
    ) {
        let Packet::Connect(c) = &connect else { unreachable!("connect() builds CONNECTs") };
        let version = c.protocol;
        let mut stream = to_bytes(&connect, version);
        for packet in &packets {
            encode(packet, version, &mut stream);
        }
        let mut codec = Codec::server(PROTOCOL_MAX_PACKET_SIZE);
        prop_assert_eq!(codec.decode(&mut stream), Ok(Some(connect)));
        prop_assert_eq!(codec.version(), Some(version));
        for packet in packets {
            prop_assert_eq!(codec.bytes_needed(&stream), Some(0));
            prop_assert_eq!(codec.decode(&mut stream), Ok(Some(packet)));
        }
        prop_assert_eq!(codec.decode(&mut stream), Ok(None));
    }

    #[test]
    fn a_client_codec_decodes_a_server_session(
        (version, packets) in version().prop_flat_map(|version| {
            (Just(version), vec(server_packet(version), 1..6))
        })
    ) {
        let mut stream = BytesMut::new();
        let mut codec = Codec::client(version, PROTOCOL_MAX_PACKET_SIZE);
        for packet in &packets {
            codec.encode(packet, &mut stream);
        }
        for packet in packets {
            prop_assert_eq!(codec.decode(&mut stream), Ok(Some(packet)));
        }
        prop_assert_eq!(codec.decode(&mut stream), Ok(None));
    }

    #[test]
    fn generated_topic_names_and_filters_are_valid(name in topic_name(), filter in topic_filter()) {
        prop_assert_eq!(validate_topic_name(&name), Ok(()));
        prop_assert_eq!(validate_topic_filter(&filter), Ok(()));
    }

    /// Arbitrary bytes never panic the decoder, and whatever decodes survives a round trip.
    #[test]
    fn arbitrary_bytes_decode_to_an_error_or_a_packet_that_round_trips(
        version in version(),
        bytes in vec(any::<u8>(), 0..64),
    ) {
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(packet)) = decode(&mut buf, version, PROTOCOL_MAX_PACKET_SIZE) {
            let mut again = to_bytes(&packet, version);
            prop_assert_eq!(decode(&mut again, version, PROTOCOL_MAX_PACKET_SIZE), Ok(Some(packet)));
        }
    }
}

#[test]
fn remaining_lengths_at_every_varint_boundary_round_trip() {
    // Section 1.5.5: 1 byte up to 127, 2 up to 16,383, 3 up to 2,097,151, then 4.
    for (remaining, header_len) in [
        (127, 2),
        (128, 3),
        (16_383, 3),
        (16_384, 4),
        (2_097_151, 4),
        (2_097_152, 5),
    ] {
        // A QoS 0 PUBLISH to "t": 3 bytes of topic, the rest payload.
        let packet = Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "t".into(),
            packet_id: None,
            properties: Properties::default(),
            payload: Bytes::from(vec![0x5A; remaining - 3]),
        });
        let mut buf = to_bytes(&packet, V311);
        assert_eq!(buf.len(), header_len + remaining);
        let header = peek_header(&buf, PROTOCOL_MAX_PACKET_SIZE)
            .expect("a valid header")
            .expect("a complete header");
        assert_eq!(
            (header.header_len, header.remaining_length),
            (header_len, remaining)
        );
        for len in [header_len - 1, header_len, buf.len() - 1] {
            let mut prefix = BytesMut::from(&buf[..len]);
            assert_eq!(
                decode(&mut prefix, V311, PROTOCOL_MAX_PACKET_SIZE),
                Ok(None)
            );
        }
        assert_eq!(
            decode(&mut buf, V311, PROTOCOL_MAX_PACKET_SIZE),
            Ok(Some(packet))
        );
    }
}

// ---------------------------------------------------------------------------------------
// Topic matching against a naive reference

/// Reference semantics of section 4.7, written independently of the codec: a filter
/// without `#` matches names with as many levels, each equal or matched by `+`; a filter
/// ending in `#` matches names with at least the levels before it (so `a/#` matches `a`).
/// Filters starting with a wildcard never match names starting with `$` [MQTT-4.7.2-1].
fn reference_matches(filter: &str, name: &str) -> bool {
    let filter: Vec<&str> = filter.split('/').collect();
    let name: Vec<&str> = name.split('/').collect();
    if name[0].starts_with('$') && (filter[0] == "+" || filter[0] == "#") {
        return false;
    }
    let (fixed, multi_level) = match filter.split_last() {
        Some((&"#", before)) => (before, true),
        _ => (&filter[..], false),
    };
    let enough_levels = if multi_level {
        name.len() >= fixed.len()
    } else {
        name.len() == fixed.len()
    };
    enough_levels
        && fixed
            .iter()
            .zip(&name)
            .all(|(filter_level, name_level)| *filter_level == "+" || filter_level == name_level)
}

fn small_name() -> impl Strategy<Value = String> {
    vec(select(vec!["a", "b", "", "$x"]), 1..5)
        .prop_map(|levels| levels.join("/"))
        .prop_filter("Topic Names are not empty", |name| !name.is_empty())
}

fn small_filter() -> impl Strategy<Value = String> {
    vec(select(vec!["a", "b", "", "$x", "+", "#"]), 1..5)
        .prop_filter("'#' only as the last level", |levels| {
            !levels[..levels.len() - 1].contains(&"#")
        })
        .prop_map(|levels| levels.join("/"))
        .prop_filter("Topic Filters are not empty", |filter| !filter.is_empty())
}

proptest! {
    #![proptest_config(config(4096))]

    #[test]
    fn topic_matching_agrees_with_the_reference(filter in small_filter(), name in small_name()) {
        prop_assert_eq!(validate_topic_filter(&filter), Ok(()));
        prop_assert_eq!(
            matches(&filter, &name),
            reference_matches(&filter, &name),
            "filter {:?} name {:?}", filter, name
        );
    }
}

#[test]
fn reference_matcher_follows_the_examples_of_section_4_7() {
    let cases = [
        ("sport/tennis/player1/#", "sport/tennis/player1", true),
        (
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking",
            true,
        ),
        (
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon",
            true,
        ),
        ("sport/#", "sport", true),
        ("sport/tennis/+", "sport/tennis/player1", true),
        ("sport/tennis/+", "sport/tennis/player1/ranking", false),
        ("sport/+", "sport", false),
        ("sport/+", "sport/", true),
        ("+/+", "/finance", true),
        ("/+", "/finance", true),
        ("+", "/finance", false),
        ("#", "$SYS/monitor/Clients", false),
        ("+/monitor/Clients", "$SYS/monitor/Clients", false),
        ("$SYS/#", "$SYS/monitor/Clients", true),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
    ];
    for (filter, name, expected) in cases {
        assert_eq!(reference_matches(filter, name), expected, "{filter} {name}");
        assert_eq!(matches(filter, name), expected, "{filter} {name}");
    }
}
