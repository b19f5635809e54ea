//! Protocol errors close only the connection that made them: the broker answers 3.1.1
//! with a bare close, and a bystander connected before, and a client connecting after,
//! are served as if nothing happened.

use mq_proto::{BytesMut, Packet, QoS};

use crate::harness::Broker;
use crate::raw::{connect_packet, Raw};

/// Whether the offending bytes follow a CONNECT or open the connection.
#[derive(Clone, Copy)]
enum Sent {
    AfterConnect,
    AsFirstPacket,
}

/// Sends `bytes`, expects the connection to close without an answer, and checks that the
/// broker still serves others.
async fn closes_only_that_connection(broker_args: &[&str], sent: Sent, bytes: &[u8]) {
    let broker = Broker::start_with(broker_args);
    let mut bystander = Raw::connect_v311(broker.addr(), "bystander").await;
    bystander.subscribe(&[("alive", QoS::AtMostOnce)]).await;

    let mut offender = match sent {
        Sent::AfterConnect => Raw::connect_v311(broker.addr(), "offender").await,
        Sent::AsFirstPacket => Raw::tcp(broker.addr()).await,
    };
    offender.send_bytes(bytes).await;
    offender.expect_closed_silently().await;

    bystander.ping().await;
    let mut newcomer = Raw::connect_v311(broker.addr(), "newcomer").await;
    newcomer
        .publish("alive", QoS::AtLeastOnce, false, b"still serving")
        .await;
    assert_eq!(
        &bystander.recv_publish().await.payload[..],
        b"still serving"
    );
}

#[tokio::test]
async fn packet_before_connect_closes_only_that_connection() {
    // [MQTT-3.1.0-1] PINGREQ as the first packet.
    closes_only_that_connection(&[], Sent::AsFirstPacket, &[0xC0, 0x00]).await;
}

#[tokio::test]
async fn subscribe_before_connect_closes_only_that_connection() {
    let subscribe = [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00];
    closes_only_that_connection(&[], Sent::AsFirstPacket, &subscribe).await;
}

#[tokio::test]
async fn second_connect_closes_only_that_connection() {
    let mut connect = BytesMut::new();
    mq_proto::encode(
        &Packet::Connect(Box::new(connect_packet("offender"))),
        mq_proto::ProtocolVersion::V311,
        &mut connect,
    );
    // [MQTT-3.1.0-2]
    closes_only_that_connection(&[], Sent::AfterConnect, &connect).await;
}

#[tokio::test]
async fn subscribe_with_reserved_flags_0_closes_only_that_connection() {
    // [MQTT-3.8.1-1] SUBSCRIBE must have flags 0010.
    let subscribe = [0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00];
    closes_only_that_connection(&[], Sent::AfterConnect, &subscribe).await;
}

#[tokio::test]
async fn pubrel_with_reserved_flags_0_closes_only_that_connection() {
    // [MQTT-3.6.1-1] PUBREL must have flags 0010.
    closes_only_that_connection(&[], Sent::AfterConnect, &[0x60, 0x02, 0x00, 0x01]).await;
}

#[tokio::test]
async fn publish_with_qos_3_closes_only_that_connection() {
    // [MQTT-3.3.1-4]
    let publish = [0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01];
    closes_only_that_connection(&[], Sent::AfterConnect, &publish).await;
}

#[tokio::test]
async fn publish_with_packet_id_0_closes_only_that_connection() {
    // [MQTT-2.3.1-1] QoS 1 PUBLISH with Packet Identifier 0.
    let publish = [0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x00];
    closes_only_that_connection(&[], Sent::AfterConnect, &publish).await;
}

#[tokio::test]
async fn subscribe_with_packet_id_0_closes_only_that_connection() {
    let subscribe = [0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b'a', 0x00];
    closes_only_that_connection(&[], Sent::AfterConnect, &subscribe).await;
}

#[tokio::test]
async fn publish_to_a_wildcard_topic_name_closes_only_that_connection() {
    // [MQTT-3.3.2-2] a Topic Name has no wildcards.
    let publish = [0x30, 0x05, 0x00, 0x03, b'a', b'/', b'+'];
    closes_only_that_connection(&[], Sent::AfterConnect, &publish).await;
}

#[tokio::test]
async fn publish_to_hash_topic_name_closes_only_that_connection() {
    let publish = [0x30, 0x04, 0x00, 0x01, b'#', b'x'];
    closes_only_that_connection(&[], Sent::AfterConnect, &publish).await;
}

#[tokio::test]
async fn publish_with_invalid_utf8_topic_closes_only_that_connection() {
    // [MQTT-1.5.3-1] 0xC3 0x28 is not UTF-8.
    let publish = [0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, b'x'];
    closes_only_that_connection(&[], Sent::AfterConnect, &publish).await;
}

#[tokio::test]
async fn subscribe_with_invalid_utf8_filter_closes_only_that_connection() {
    let subscribe = [0x82, 0x07, 0x00, 0x01, 0x00, 0x02, 0xFF, 0xFE, 0x00];
    closes_only_that_connection(&[], Sent::AfterConnect, &subscribe).await;
}

#[tokio::test]
async fn subscribe_with_a_malformed_filter_closes_only_that_connection() {
    // [MQTT-4.7.1-2] "#" must be the last level: "a/#/b" is not a Topic Filter.
    let subscribe = [
        0x82, 0x0A, 0x00, 0x01, 0x00, 0x05, b'a', b'/', b'#', b'/', b'b', 0x00,
    ];
    closes_only_that_connection(&[], Sent::AfterConnect, &subscribe).await;
}

#[tokio::test]
async fn oversized_remaining_length_closes_the_connection_before_any_body_arrives() {
    // 268 MB announced, nothing sent after it: the broker must not wait for the body
    // (keep alive is off, so only the size check can close this connection).
    let announce = [0x30, 0xFF, 0xFF, 0xFF, 0x7F];
    closes_only_that_connection(
        &["--max-packet-size", "1024"],
        Sent::AfterConnect,
        &announce,
    )
    .await;
}

#[tokio::test]
async fn oversized_first_packet_closes_the_connection_before_any_body_arrives() {
    let announce = [0x10, 0x80, 0x80, 0x40];
    closes_only_that_connection(
        &["--max-packet-size", "1024"],
        Sent::AsFirstPacket,
        &announce,
    )
    .await;
}

#[tokio::test]
async fn remaining_length_over_four_bytes_closes_only_that_connection() {
    // [MQTT-1.5.5-1] a fifth continuation byte.
    let publish = [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
    closes_only_that_connection(&[], Sent::AfterConnect, &publish).await;
}

/// A QoS 0 PUBLISH to "big" whose whole packet is `size` bytes (size between 131 and 16386).
fn publish_of_size(size: usize) -> Vec<u8> {
    let remaining = size - 3; // type byte + two Remaining Length bytes
    let payload = remaining - 5; // topic length + "big"
    let mut packet = vec![
        0x30,
        (remaining % 128) as u8 | 0x80,
        (remaining / 128) as u8,
    ];
    packet.extend_from_slice(&[0x00, 0x03, b'b', b'i', b'g']);
    packet.resize(packet.len() + payload, b'.');
    assert_eq!(packet.len(), size);
    packet
}

#[tokio::test]
async fn packet_of_exactly_the_maximum_size_passes_and_one_byte_more_closes() {
    let broker = Broker::start_with(&["--max-packet-size", "1024"]);
    let mut sub = Raw::connect_v311(broker.addr(), "sub").await;
    sub.subscribe(&[("big", QoS::AtMostOnce)]).await;
    let mut publisher = Raw::connect_v311(broker.addr(), "pub").await;
    publisher.send_bytes(&publish_of_size(1024)).await;
    publisher.ping().await;
    assert_eq!(sub.recv_publish().await.payload.len(), 1024 - 8);

    publisher.send_bytes(&publish_of_size(1025)).await;
    publisher.expect_closed_silently().await;
    sub.ping().await;
}
