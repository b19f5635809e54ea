//! The broker's limits, each enforced with the reason code the spec gives it.
//!
//! Limits tested elsewhere, next to the feature they bound:
//! - `--max-connections`: lifecycle.rs `connections_beyond_max_connections_are_closed_at_once`
//! - `--connect-timeout`: lifecycle.rs `socket_that_never_sends_connect_is_closed_after_the_connect_timeout`
//! - `--max-inflight-messages`: qos.rs `inflight_window_holds_back_messages_until_the_subscriber_acknowledges`,
//!   v5.rs (Receive Maximum in CONNACK)
//! - `--max-queued-messages`: sessions.rs `full_offline_queue_drops_the_overflow_delivers_the_rest_and_counts_the_drops`
//! - `--max-packet-size` in 3.1.1 (the connection closes): protocol_errors.rs
//! - `--max-keepalive` for v5 (Server Keep Alive): v5.rs `connack_tells_a_v5_client_the_brokers_limits_and_its_assigned_identifier`

use mq_proto::{Bytes, Connect, Packet, Properties, ProtocolVersion, Publish, QoS, ReasonCode};

use crate::harness::Broker;
use crate::raw::{connect_packet, pid, will, Raw};
use crate::sessions::{persistent, subscribe_and_leave};

fn v5(client_id: &str) -> Connect {
    Connect {
        protocol: ProtocolVersion::V5,
        ..connect_packet(client_id)
    }
}

/// Sends a QoS 1 PUBLISH and returns the PUBACK's reason code.
async fn publish_qos1(raw: &mut Raw, topic: &str) -> ReasonCode {
    raw.send(&Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: topic.into(),
        packet_id: Some(pid(7)),
        properties: Properties::default(),
        payload: Bytes::from_static(b"x"),
    }))
    .await;
    match raw.recv_control().await {
        Packet::PubAck(ack) => {
            assert_eq!(ack.packet_id, pid(7));
            ack.reason_code
        }
        other => panic!("expected PUBACK, got {other:?}"),
    }
}

#[tokio::test]
async fn publish_deeper_than_max_topic_levels_gets_0x90_in_v5_and_reaches_nobody() {
    let broker = Broker::start_with(&["--max-topic-levels", "3"]);
    let mut watcher = Raw::connect_v311(broker.addr(), "watcher").await;
    watcher.subscribe(&[("#", QoS::AtMostOnce)]).await;
    let (mut publisher, _) = Raw::connect(broker.addr(), v5("deep")).await;

    assert_eq!(
        publish_qos1(&mut publisher, "a/b/c/d").await,
        ReasonCode::TopicNameInvalid
    );
    assert_eq!(
        publish_qos1(&mut publisher, "a/b/c").await,
        ReasonCode::Success
    );
    // Routing keeps order: had the deep one been delivered, it would have come first.
    assert_eq!(&*watcher.recv_publish().await.topic, "a/b/c");
    publisher.ping().await;
}

#[tokio::test]
async fn publish_deeper_than_max_topic_levels_from_311_is_acknowledged_and_dropped() {
    let broker = Broker::start_with(&["--max-topic-levels", "3"]);
    let mut watcher = Raw::connect_v311(broker.addr(), "watcher").await;
    watcher.subscribe(&[("#", QoS::AtMostOnce)]).await;
    let mut publisher = Raw::connect_v311(broker.addr(), "deep").await;

    // 3.1.1 has no refusal in PUBACK: the message is acknowledged and goes nowhere.
    assert_eq!(
        publish_qos1(&mut publisher, "a/b/c/d").await,
        ReasonCode::Success
    );
    assert_eq!(
        publish_qos1(&mut publisher, "a/b/c").await,
        ReasonCode::Success
    );
    assert_eq!(&*watcher.recv_publish().await.topic, "a/b/c");
}

#[tokio::test]
async fn subscription_deeper_than_max_topic_levels_gets_0x8f_in_v5_and_0x80_in_311() {
    let broker = Broker::start_with(&["--max-topic-levels", "3"]);
    let filters = [
        ("a/b/c/d", QoS::AtMostOnce),
        ("a/+/#", QoS::AtMostOnce),
        // The share name is not a level of the filter.
        ("$share/g/a/b/c", QoS::AtMostOnce),
        ("$share/g/a/b/c/d", QoS::AtMostOnce),
    ];
    let (mut modern, _) = Raw::connect(broker.addr(), v5("modern")).await;
    assert_eq!(
        modern.subscribe(&filters).await,
        [
            ReasonCode::TopicFilterInvalid,
            ReasonCode::Success,
            ReasonCode::Success,
            ReasonCode::TopicFilterInvalid,
        ]
    );
    let mut old = Raw::connect_v311(broker.addr(), "old").await;
    let codes = old.subscribe(&filters[..2]).await;
    assert_eq!(codes[1], ReasonCode::Success);
    assert_eq!(codes[0] as u8, 0x80, "3.1.1 Failure: {codes:?}");
}

#[tokio::test]
async fn will_topic_deeper_than_max_topic_levels_refuses_the_connect_with_0x90() {
    let broker = Broker::start_with(&["--max-topic-levels", "2"]);
    let mut connect = v5("deep-will");
    connect.will = Some(will("a/b/c", "gone", QoS::AtMostOnce));
    let (_, ack) = Raw::handshake(broker.addr(), connect).await;
    assert_eq!(ack.reason_code, ReasonCode::TopicNameInvalid);

    let mut connect = v5("shallow-will");
    connect.will = Some(will("a/b", "gone", QoS::AtMostOnce));
    Raw::connect(broker.addr(), connect).await;
}

#[tokio::test]
async fn subscriptions_beyond_max_subscriptions_get_0x97_in_v5_and_0x80_in_311() {
    let broker = Broker::start_with(&["--max-subscriptions", "2"]);
    let (mut modern, _) = Raw::connect(broker.addr(), v5("modern")).await;
    assert_eq!(
        modern
            .subscribe(&[
                ("a", QoS::AtMostOnce),
                ("b", QoS::AtMostOnce),
                ("c", QoS::AtMostOnce),
            ])
            .await,
        [
            ReasonCode::Success,
            ReasonCode::Success,
            ReasonCode::QuotaExceeded
        ]
    );
    // Changing a subscription it holds is not a new one.
    assert_eq!(
        modern.subscribe(&[("a", QoS::AtLeastOnce)]).await,
        [ReasonCode::GrantedQoS1]
    );
    // Giving one up makes room.
    modern.unsubscribe(&["b"]).await;
    assert_eq!(
        modern.subscribe(&[("c", QoS::AtMostOnce)]).await,
        [ReasonCode::Success]
    );

    let mut old = Raw::connect_v311(broker.addr(), "old").await;
    let codes = old
        .subscribe(&[
            ("a", QoS::AtMostOnce),
            ("b", QoS::AtMostOnce),
            ("c", QoS::AtMostOnce),
        ])
        .await;
    assert_eq!(&codes[..2], [ReasonCode::Success, ReasonCode::Success]);
    assert_eq!(codes[2] as u8, 0x80, "3.1.1 Failure: {codes:?}");
}

#[tokio::test]
async fn offline_queue_beyond_max_queued_bytes_drops_the_overflow() {
    let broker = Broker::start_with(&["--sys-interval", "1", "--max-queued-bytes", "10"]);
    subscribe_and_leave(&broker, "slowpoke", &[("load", QoS::AtLeastOnce)]).await;
    let mut publisher = Raw::connect_v311(broker.addr(), "pub").await;
    // Four payloads of 4 bytes: the third would make 12 bytes, over the 10 allowed.
    for n in 1..=4 {
        publisher
            .publish(
                "load",
                QoS::AtLeastOnce,
                false,
                format!("m{n}..").as_bytes(),
            )
            .await;
    }
    let (mut raw, ack) = Raw::connect(broker.addr(), persistent("slowpoke")).await;
    assert!(ack.session_present);
    for n in 1..=2 {
        let got = raw.recv_publish().await;
        assert_eq!(got.payload, format!("m{n}..").as_bytes());
        raw.puback(got.packet_id.expect("QoS 1")).await;
    }
    raw.ping().await;
    assert_eq!(raw.stashed(), 0, "m3 and m4 were dropped");
}

#[tokio::test]
async fn keep_alive_above_max_keepalive_refuses_a_311_client() {
    let broker = Broker::start_with(&["--max-keepalive", "60"]);
    let mut connect = connect_packet("sleepy");
    connect.keep_alive = 61;
    let (_, ack) = Raw::handshake(broker.addr(), connect).await;
    // CONNACK 2, identifier rejected: the refusal Mosquitto gives for this.
    assert_eq!(ack.reason_code, ReasonCode::ClientIdentifierNotValid);

    let mut connect = connect_packet("awake");
    connect.keep_alive = 60;
    Raw::connect(broker.addr(), connect).await;
}

#[tokio::test]
async fn packet_over_max_packet_size_gets_disconnect_0x95_in_v5() {
    let broker = Broker::start_with(&["--max-packet-size", "1024"]);
    let (mut raw, ack) = Raw::connect(broker.addr(), v5("big")).await;
    // CONNACK tells a v5 client the limit, so it has no excuse.
    assert_eq!(ack.properties.maximum_packet_size, Some(1024));
    raw.send(&Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "big".into(),
        packet_id: None,
        properties: Properties::default(),
        payload: Bytes::from(vec![b'x'; 2000]),
    }))
    .await;
    let last = raw.expect_closed().await;
    assert!(
        matches!(
            last.as_slice(),
            [Packet::Disconnect(d)] if d.reason_code == ReasonCode::PacketTooLarge
        ),
        "{last:?}"
    );
}
