//! CONNECT and CONNACK: return codes, client identifiers, MQTT 3.1.

use mq_proto::{Packet, Properties, ProtocolVersion, QoS, ReasonCode};

use crate::harness::Broker;
use crate::raw::{connect_packet, Raw};

/// CONNECT of MQTT 3.1.1 with protocol level `level`, clean session, client id "x".
fn connect_with_level(level: u8) -> Vec<u8> {
    let mut packet = vec![0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', level, 0x02, 0, 60];
    packet.extend_from_slice(&[0, 1, b'x']);
    packet
}

#[tokio::test]
async fn unsupported_protocol_level_gets_connack_1_and_the_connection_closes() {
    let broker = Broker::start();
    let mut raw = Raw::tcp(broker.addr()).await;
    raw.send_bytes(&connect_with_level(6)).await;
    // [MQTT-3.1.2-2] CONNACK with return code 0x01, then the server closes the connection.
    assert_eq!(raw.bytes_until_closed().await, vec![0x20, 0x02, 0x00, 0x01]);
}

#[tokio::test]
async fn empty_client_id_with_clean_session_is_given_an_identifier_of_its_own() {
    let broker = Broker::start();
    let (mut first, ack) = Raw::connect(broker.addr(), connect_packet("")).await;
    assert!(!ack.session_present);
    let (mut second, _) = Raw::connect(broker.addr(), connect_packet("")).await;
    // Each got its own identifier: the second did not take the first one's session over.
    first.subscribe(&[("empty/ids", QoS::AtLeastOnce)]).await;
    second
        .publish("empty/ids", QoS::AtLeastOnce, false, b"both alive")
        .await;
    let got = first.recv_publish().await;
    assert_eq!(&got.payload[..], b"both alive");
    second.ping().await;
}

#[tokio::test]
async fn empty_client_id_of_a_v5_client_is_assigned_and_reported_in_connack() {
    let broker = Broker::start();
    let mut connect = connect_packet("");
    connect.protocol = ProtocolVersion::V5;
    let (_raw, ack) = Raw::connect(broker.addr(), connect).await;
    let assigned = ack
        .properties
        .assigned_client_identifier
        .expect("CONNACK carries an Assigned Client Identifier");
    assert!(!assigned.is_empty());
}

#[tokio::test]
async fn empty_client_id_without_clean_session_gets_connack_2_and_the_connection_closes() {
    let broker = Broker::start();
    let mut connect = connect_packet("");
    connect.clean_start = false;
    let mut raw = Raw::tcp(broker.addr()).await;
    raw.send(&Packet::Connect(Box::new(connect))).await;
    // [MQTT-3.1.3-8] CONNACK 0x02 (identifier rejected), then close.
    assert_eq!(raw.bytes_until_closed().await, vec![0x20, 0x02, 0x00, 0x02]);
}

#[tokio::test]
async fn mqtt_3_1_client_connects_and_exchanges_messages() {
    let broker = Broker::start();
    let mut connect = connect_packet("old-timer");
    connect.protocol = ProtocolVersion::V31;
    let mut raw = Raw::tcp_version(broker.addr(), ProtocolVersion::V31).await;
    raw.send(&Packet::Connect(Box::new(connect))).await;
    // Protocol name MQIsdp, level 3: accepted.
    match raw.recv().await {
        Packet::ConnAck(ack) => assert_eq!(ack.reason_code, ReasonCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    let granted = raw.subscribe(&[("legacy/+", QoS::ExactlyOnce)]).await;
    assert_eq!(granted, vec![ReasonCode::GrantedQoS2]);
    raw.publish("legacy/t", QoS::AtLeastOnce, false, b"from 3.1")
        .await;
    let got = raw.recv_publish().await;
    assert_eq!(&*got.topic, "legacy/t");
    assert_eq!(&got.payload[..], b"from 3.1");
    assert_eq!(got.qos, QoS::AtLeastOnce);
}

#[tokio::test]
async fn mqtt_3_1_client_with_empty_id_is_refused_with_connack_2() {
    let broker = Broker::start();
    let mut connect = connect_packet("");
    connect.protocol = ProtocolVersion::V31;
    connect.properties = Properties::default();
    let mut raw = Raw::tcp_version(broker.addr(), ProtocolVersion::V31).await;
    raw.send(&Packet::Connect(Box::new(connect))).await;
    // MQTT 3.1 requires 1 to 23 characters even with a clean session.
    assert_eq!(raw.bytes_until_closed().await, vec![0x20, 0x02, 0x00, 0x02]);
}
