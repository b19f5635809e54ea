//! Will Messages: published on every end of a connection except DISCONNECT.
//! (Takeover and keep-alive timeout are in `lifecycle`.)

use mq_proto::{Packet, QoS};
use rumqttc::LastWill;

use crate::clients::{options, text, Mqtt};
use crate::harness::Broker;
use crate::raw::{connect_packet, will, Raw};

async fn watcher(broker: &Broker) -> Raw {
    let mut raw = Raw::connect_v311(broker.addr(), "watcher").await;
    raw.subscribe(&[("wills/#", QoS::ExactlyOnce)]).await;
    raw
}

async fn client_with_will(broker: &Broker, id: &str, qos: QoS) -> Raw {
    let mut connect = connect_packet(id);
    connect.will = Some(will(&format!("wills/{id}"), &format!("{id} is gone"), qos));
    Raw::connect(broker.addr(), connect).await.0
}

#[tokio::test]
async fn will_is_published_when_the_socket_closes_without_disconnect() {
    let broker = Broker::start();
    let mut watcher = watcher(&broker).await;
    let client = client_with_will(&broker, "dropper", QoS::AtLeastOnce).await;
    drop(client);
    let got = watcher.recv_publish().await;
    assert_eq!(&*got.topic, "wills/dropper");
    assert_eq!(&got.payload[..], b"dropper is gone");
    assert_eq!(got.qos, QoS::AtLeastOnce, "the will's QoS");
}

#[tokio::test]
async fn will_of_a_rumqttc_client_is_published_when_its_connection_dies() {
    let broker = Broker::start();
    let mut watcher = watcher(&broker).await;
    let mut opts = options(&broker, "third-party");
    opts.set_last_will(LastWill::new(
        "wills/third-party",
        "rumqttc lost",
        rumqttc::QoS::ExactlyOnce,
        false,
    ));
    let (client, _) = Mqtt::connect_with(opts).await;
    // Dropping aborts the event loop: the socket closes without DISCONNECT.
    drop(client);
    let got = watcher.recv_publish().await;
    assert_eq!(&got.payload[..], b"rumqttc lost");
    assert_eq!(got.qos, QoS::ExactlyOnce);
}

#[tokio::test]
async fn will_is_published_after_a_protocol_error() {
    let broker = Broker::start();
    let mut watcher = watcher(&broker).await;
    let mut client = client_with_will(&broker, "garbler", QoS::AtMostOnce).await;
    // A PUBLISH with QoS 3 is malformed [MQTT-3.3.1-4].
    client.send_bytes(&[0x36, 0x03, 0x00, 0x01, b'a']).await;
    client.expect_closed_silently().await;
    let got = watcher.recv_publish().await;
    assert_eq!(&got.payload[..], b"garbler is gone");
}

#[tokio::test]
async fn will_with_retain_becomes_the_retained_message_of_its_topic() {
    let broker = Broker::start();
    let mut watcher = watcher(&broker).await;
    let mut connect = connect_packet("retainer");
    let mut w = will("wills/retainer", "offline", QoS::AtLeastOnce);
    w.retain = true;
    connect.will = Some(w);
    let (client, _) = Raw::connect(broker.addr(), connect).await;
    drop(client);
    let live = watcher.recv_publish().await;
    assert!(!live.retain, "forwarded live with RETAIN 0");
    // Whoever subscribes later learns the client is offline.
    let mut late = Mqtt::connect(&broker, "late").await;
    late.subscribe("wills/retainer", rumqttc::QoS::AtLeastOnce)
        .await;
    let got = late.recv().await;
    assert_eq!(text(&got), "offline");
    assert!(got.retain);
}

/// Reads the watcher's messages until `$SYS/broker/clients/connected` says `count`;
/// fails on a will from "polite".
async fn until_connected_count(watcher: &mut Raw, count: &str) {
    loop {
        let got = watcher.recv_publish().await;
        assert_ne!(
            &*got.topic, "wills/polite",
            "[MQTT-3.1.2-10] a will was published after DISCONNECT"
        );
        if &*got.topic == "$SYS/broker/clients/connected" && &got.payload[..] == count.as_bytes() {
            return;
        }
    }
}

#[tokio::test]
async fn no_will_is_published_after_disconnect() {
    let broker = Broker::start_with(&["--sys-interval", "1"]);
    let mut watcher = watcher(&broker).await;
    let client = client_with_will(&broker, "polite", QoS::AtLeastOnce).await;
    watcher
        .subscribe(&[("$SYS/broker/clients/connected", QoS::AtMostOnce)])
        .await;
    until_connected_count(&mut watcher, "2").await;
    client.disconnect().await;
    // The will would be routed in the same step that takes the client out of the
    // connected count, so it would reach the watcher before a $SYS update saying
    // only the watcher is left.
    until_connected_count(&mut watcher, "1").await;
    watcher.send(&Packet::PingReq).await;
    assert_eq!(watcher.recv_control().await, Packet::PingResp);
    while watcher.stashed() > 0 {
        let got = watcher.recv_publish().await;
        assert_ne!(&*got.topic, "wills/polite");
    }
}

#[tokio::test]
async fn no_will_when_a_client_reconnects_as_soon_as_its_disconnect_closed_the_connection() {
    let broker = Broker::start();
    let mut watcher = watcher(&broker).await;
    watcher.subscribe(&[("end", QoS::AtMostOnce)]).await;
    let mut connect = connect_packet("bouncer");
    connect.will = Some(will("wills/bouncer", "should not appear", QoS::AtMostOnce));
    let (mut current, _) = Raw::connect(broker.addr(), connect.clone()).await;
    for _ in 0..50 {
        current
            .send(&Packet::Disconnect(mq_proto::Disconnect::new(
                mq_proto::ReasonCode::Success,
            )))
            .await;
        // The broker closed the connection, so it has handled the DISCONNECT: a takeover by
        // the next connection must not find a Will left to publish.
        current.expect_closed_silently().await;
        current = Raw::connect(broker.addr(), connect.clone()).await.0;
    }
    current
        .publish("end", QoS::AtLeastOnce, false, b"end")
        .await;
    let got = watcher.recv_publish().await;
    assert_eq!(
        (&*got.topic, &got.payload[..]),
        ("end", &b"end"[..]),
        "[MQTT-3.1.2-10] a will was published after DISCONNECT"
    );
}
