//! Retained Messages: stored, sent to new subscribers with RETAIN 1, forwarded live with
//! RETAIN 0, replaced by newer ones and cleared by an empty payload.

use mq_proto::QoS;

use crate::clients::Mqtt;
use crate::harness::Broker;
use crate::raw::Raw;

#[tokio::test]
async fn retained_message_is_sent_to_a_later_subscriber_with_retain_set() {
    let broker = Broker::start();
    let mut publisher = Mqtt::connect(&broker, "pub").await;
    publisher
        .publish("status/door", rumqttc::QoS::AtLeastOnce, true, "open")
        .await;
    drop(publisher);

    let mut sub = Raw::connect_v311(broker.addr(), "late").await;
    sub.subscribe(&[("status/+", QoS::ExactlyOnce)]).await;
    let got = sub.recv_publish().await;
    assert_eq!(
        (&*got.topic, &got.payload[..]),
        ("status/door", &b"open"[..])
    );
    assert!(
        got.retain,
        "[MQTT-3.3.1-6] sent because it is retained: RETAIN 1"
    );
    assert_eq!(
        got.qos,
        QoS::AtLeastOnce,
        "the lower of message and subscription QoS"
    );
}

#[tokio::test]
async fn live_forwarding_of_a_retained_publish_carries_retain_0() {
    let broker = Broker::start();
    let mut early = Raw::connect_v311(broker.addr(), "early").await;
    early.subscribe(&[("status/#", QoS::AtMostOnce)]).await;
    let mut publisher = Mqtt::connect(&broker, "pub").await;
    publisher
        .publish("status/light", rumqttc::QoS::AtLeastOnce, true, "on")
        .await;
    let live = early.recv_publish().await;
    assert_eq!(&live.payload[..], b"on");
    assert!(
        !live.retain,
        "[MQTT-3.3.1-9] a live message is forwarded with RETAIN 0"
    );

    // Also with rumqttc as the receiver.
    let mut other = Mqtt::connect(&broker, "other").await;
    other.subscribe("status/#", rumqttc::QoS::AtMostOnce).await;
    let stored = other.recv().await;
    assert!(
        stored.retain,
        "the stored copy still goes out with RETAIN 1"
    );
    publisher
        .publish("status/light", rumqttc::QoS::AtLeastOnce, true, "off")
        .await;
    let live = other.recv().await;
    assert_eq!(&live.payload[..], b"off");
    assert!(!live.retain);
}

#[tokio::test]
async fn newer_retained_message_replaces_the_older_and_plain_publishes_do_not() {
    let broker = Broker::start();
    let mut publisher = Mqtt::connect(&broker, "pub").await;
    publisher
        .publish("temp", rumqttc::QoS::AtLeastOnce, true, "20")
        .await;
    publisher
        .publish("temp", rumqttc::QoS::AtLeastOnce, true, "21")
        .await;
    publisher
        .publish("temp", rumqttc::QoS::AtLeastOnce, false, "not kept")
        .await;
    let mut sub = Raw::connect_v311(broker.addr(), "sub").await;
    sub.subscribe(&[("temp", QoS::AtMostOnce)]).await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"21");
    sub.ping().await;
    assert_eq!(sub.stashed(), 0, "one retained message per topic");
}

#[tokio::test]
async fn empty_retained_publish_clears_the_retained_message() {
    let broker = Broker::start();
    let mut publisher = Mqtt::connect(&broker, "pub").await;
    publisher
        .publish("r/gone", rumqttc::QoS::AtLeastOnce, true, "soon gone")
        .await;
    publisher
        .publish("r/gone", rumqttc::QoS::AtLeastOnce, true, "")
        .await;
    publisher
        .publish("r/kept", rumqttc::QoS::AtLeastOnce, true, "kept")
        .await;

    let mut sub = Raw::connect_v311(broker.addr(), "sub").await;
    sub.subscribe(&[("r/#", QoS::AtMostOnce)]).await;
    // Every retained match is queued at SUBSCRIBE, so a leftover "r/gone" would arrive
    // before the PINGRESP that follows.
    let got = sub.recv_publish().await;
    assert_eq!(&*got.topic, "r/kept", "[MQTT-3.3.1-10] r/gone was cleared");
    sub.ping().await;
    assert_eq!(sub.stashed(), 0);

    // The same through rumqttc: subscribed first, a leftover "r/gone" would arrive first.
    let mut other = Mqtt::connect(&broker, "other").await;
    other.subscribe("r/gone", rumqttc::QoS::AtMostOnce).await;
    other.subscribe("r/kept", rumqttc::QoS::AtMostOnce).await;
    assert_eq!(other.recv().await.topic, "r/kept");
}
