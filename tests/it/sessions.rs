//! Persistent sessions (clean session 0): subscriptions and QoS 1/2 messages survive
//! while the client is away; QoS 0 does not; per-session queue limits drop and count.
//!
//! "The broker has noticed the client left" is read from `$SYS/broker/clients/disconnected`
//! (persistent sessions without a connection) at `--sys-interval 1`, never guessed by a sleep.

use std::time::Duration;

use mq_proto::{Connect, Packet, PubResponse, QoS};

use crate::clients::Mqtt;
use crate::harness::Broker;
use crate::raw::{connect_packet, Raw};

pub fn persistent(client_id: &str) -> Connect {
    Connect {
        clean_start: false,
        ..connect_packet(client_id)
    }
}

/// A client watching one `$SYS` topic.
async fn sys_watcher(broker: &Broker, topic: &str) -> Raw {
    let mut raw = Raw::connect_v311(broker.addr(), "sys-watcher").await;
    raw.subscribe(&[(topic, QoS::AtMostOnce)]).await;
    raw
}

/// Reads until `topic` carries `value`.
pub async fn wait_for_value(raw: &mut Raw, topic: &str, value: &str) {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while tokio::time::Instant::now() < deadline {
        let got = raw.recv_publish().await;
        if &*got.topic == topic {
            if &got.payload[..] == value.as_bytes() {
                return;
            }
            seen.push(String::from_utf8_lossy(&got.payload).into_owned());
        }
    }
    panic!("{topic} never became {value:?}; it was {seen:?}");
}

/// Connects `id` with clean session 0, subscribes, leaves with DISCONNECT, and waits until
/// the broker counts the session as offline.
pub async fn subscribe_and_leave(broker: &Broker, id: &str, filters: &[(&str, QoS)]) {
    let mut sys = sys_watcher(broker, "$SYS/broker/clients/disconnected").await;
    let (mut raw, ack) = Raw::connect(broker.addr(), persistent(id)).await;
    assert!(!ack.session_present, "a new session");
    raw.subscribe(filters).await;
    raw.disconnect().await;
    wait_for_value(&mut sys, "$SYS/broker/clients/disconnected", "1").await;
}

#[tokio::test]
async fn persistent_session_keeps_its_subscriptions_across_reconnect() {
    let broker = Broker::start_with(&["--sys-interval", "1"]);
    subscribe_and_leave(&broker, "keeper", &[("keep/#", QoS::AtLeastOnce)]).await;

    let (mut raw, ack) = Raw::connect(broker.addr(), persistent("keeper")).await;
    assert!(ack.session_present, "[MQTT-3.2.2-2] session present 1");
    let mut publisher = Mqtt::connect(&broker, "pub").await;
    publisher
        .publish(
            "keep/going",
            rumqttc::QoS::AtLeastOnce,
            false,
            "still subscribed",
        )
        .await;
    let got = raw.recv_publish().await;
    assert_eq!(&got.payload[..], b"still subscribed");
}

#[tokio::test]
async fn clean_session_discards_what_a_persistent_session_kept() {
    let broker = Broker::start_with(&["--sys-interval", "1"]);
    subscribe_and_leave(&broker, "fresh", &[("gone/#", QoS::AtLeastOnce)]).await;

    let (mut raw, ack) = Raw::connect(broker.addr(), connect_packet("fresh")).await;
    assert!(
        !ack.session_present,
        "[MQTT-3.2.2-1] clean session: session present 0"
    );
    raw.subscribe(&[("marker", QoS::AtMostOnce)]).await;
    let mut publisher = Mqtt::connect(&broker, "pub").await;
    publisher
        .publish("gone/1", rumqttc::QoS::AtLeastOnce, false, "x")
        .await;
    publisher
        .publish("marker", rumqttc::QoS::AtLeastOnce, false, "m")
        .await;
    assert_eq!(
        &*raw.recv_publish().await.topic,
        "marker",
        "old subscription is gone"
    );
}

#[tokio::test]
async fn qos1_and_qos2_messages_wait_for_an_offline_session_and_qos0_does_not() {
    let broker = Broker::start_with(&["--sys-interval", "1"]);
    subscribe_and_leave(&broker, "away", &[("mail/#", QoS::ExactlyOnce)]).await;

    let mut publisher = Mqtt::connect(&broker, "pub").await;
    publisher
        .publish("mail/0", rumqttc::QoS::AtMostOnce, false, "qos0")
        .await;
    publisher
        .publish("mail/1", rumqttc::QoS::AtLeastOnce, false, "qos1")
        .await;
    publisher
        .publish("mail/2", rumqttc::QoS::ExactlyOnce, false, "qos2")
        .await;

    let (mut raw, ack) = Raw::connect(broker.addr(), persistent("away")).await;
    assert!(ack.session_present);
    let first = raw.recv_publish().await;
    assert_eq!((&*first.topic, first.qos), ("mail/1", QoS::AtLeastOnce));
    assert!(!first.dup, "never sent before, so no DUP");
    raw.puback(first.packet_id.unwrap()).await;
    let second = raw.recv_publish().await;
    assert_eq!((&*second.topic, second.qos), ("mail/2", QoS::ExactlyOnce));
    let id = second.packet_id.unwrap();
    raw.send(&Packet::PubRec(PubResponse::new(id))).await;
    assert_eq!(
        raw.recv_control().await,
        Packet::PubRel(PubResponse::new(id))
    );
    raw.send(&Packet::PubComp(PubResponse::new(id))).await;
    raw.ping().await;
    assert_eq!(raw.stashed(), 0, "QoS 0 is not kept for an offline session");
}

#[tokio::test]
async fn full_offline_queue_drops_the_overflow_delivers_the_rest_and_counts_the_drops() {
    let broker = Broker::start_with(&["--sys-interval", "1", "--max-queued-messages", "3"]);
    subscribe_and_leave(&broker, "slowpoke", &[("load", QoS::AtLeastOnce)]).await;
    let mut dropped = sys_watcher(&broker, "$SYS/broker/publish/messages/dropped").await;

    let mut publisher = Mqtt::connect(&broker, "pub").await;
    for n in 1..=5 {
        publisher
            .publish("load", rumqttc::QoS::AtLeastOnce, false, format!("m{n}"))
            .await;
    }
    wait_for_value(&mut dropped, "$SYS/broker/publish/messages/dropped", "2").await;

    let (mut raw, _) = Raw::connect(broker.addr(), persistent("slowpoke")).await;
    for n in 1..=3 {
        let got = raw.recv_publish().await;
        assert_eq!(got.payload, format!("m{n}").as_bytes());
        raw.puback(got.packet_id.unwrap()).await;
    }
    raw.ping().await;
    assert_eq!(raw.stashed(), 0, "m4 and m5 were dropped");
}
