//! How connections end: session takeover, keep alive, connect timeout.

use std::time::Duration;

use mq_proto::{Packet, ProtocolVersion, QoS, ReasonCode};

use crate::harness::Broker;
use crate::raw::{connect_packet, will, Raw};

/// A subscriber to `filter` that receives at QoS 1.
async fn observer(broker: &Broker, filter: &str) -> Raw {
    let mut raw = Raw::connect_v311(broker.addr(), "observer").await;
    raw.subscribe(&[(filter, QoS::AtLeastOnce)]).await;
    raw
}

#[tokio::test]
async fn second_connection_with_the_same_id_closes_the_first_and_publishes_its_will() {
    let broker = Broker::start();
    let mut watcher = observer(&broker, "wills/#").await;
    let mut connect = connect_packet("twin");
    connect.will = Some(will(
        "wills/twin",
        "first connection gone",
        QoS::AtLeastOnce,
    ));
    let (mut first, _) = Raw::connect(broker.addr(), connect).await;

    let (mut second, ack) = Raw::connect(broker.addr(), connect_packet("twin")).await;
    assert!(!ack.session_present);

    // [MQTT-3.1.4-3] the first connection is closed; 3.1.1 closes without a packet.
    first.expect_closed_silently().await;
    let got = watcher.recv_publish().await;
    assert_eq!(&*got.topic, "wills/twin");
    assert_eq!(&got.payload[..], b"first connection gone");
    // The new connection is the one being served.
    second.ping().await;
}

#[tokio::test]
async fn v5_connection_taken_over_is_told_session_taken_over() {
    let broker = Broker::start();
    let mut connect = connect_packet("twin5");
    connect.protocol = ProtocolVersion::V5;
    let (mut first, _) = Raw::connect(broker.addr(), connect.clone()).await;
    let (mut second, _) = Raw::connect(broker.addr(), connect).await;
    let sent = first.expect_closed().await;
    match &sent[..] {
        [Packet::Disconnect(d)] => assert_eq!(d.reason_code, ReasonCode::SessionTakenOver),
        other => panic!("expected DISCONNECT 0x8E, got {other:?}"),
    }
    second.ping().await;
}

#[tokio::test]
async fn silent_client_is_disconnected_after_one_and_a_half_keep_alives_and_its_will_published() {
    let broker = Broker::start();
    let mut watcher = observer(&broker, "wills/#").await;
    let mut connect = connect_packet("sleeper");
    connect.keep_alive = 1;
    connect.will = Some(will("wills/sleeper", "timed out", QoS::AtLeastOnce));
    let (mut sleeper, _) = Raw::connect(broker.addr(), connect).await;

    // It sends nothing more: after 1.5 s the broker closes it and publishes the will.
    sleeper.expect_closed_silently().await;
    let got = watcher.recv_publish().await;
    assert_eq!(&*got.topic, "wills/sleeper");
    assert_eq!(&got.payload[..], b"timed out");
}

#[tokio::test]
async fn client_quiet_longer_than_keep_alive_but_under_one_and_a_half_times_stays_connected() {
    let broker = Broker::start();
    let mut watcher = observer(&broker, "wills/#").await;
    let mut connect = connect_packet("slow-pinger");
    connect.keep_alive = 2;
    connect.will = Some(will("wills/slow-pinger", "timed out", QoS::AtLeastOnce));
    let (mut slow, _) = Raw::connect(broker.addr(), connect).await;

    // The silence is what is under test: 2.5 s is past the keep alive (2 s) and inside
    // the 1.5x grace (3 s) [MQTT-3.1.2-24].
    tokio::time::sleep(Duration::from_millis(2500)).await;
    slow.ping().await;
    watcher.ping().await;
    assert_eq!(watcher.stashed(), 0, "no will while the client is alive");

    // Silent from now on: the broker gives up and publishes the will.
    slow.expect_closed_silently().await;
    let got = watcher.recv_publish().await;
    assert_eq!(&*got.topic, "wills/slow-pinger");
}

#[tokio::test]
async fn socket_that_never_sends_connect_is_closed_after_the_connect_timeout() {
    let broker = Broker::start_with(&["--connect-timeout", "1"]);
    let mut idle = Raw::tcp(broker.addr()).await;
    idle.expect_closed_silently().await;

    // Half a CONNECT is no better than none.
    let mut partial = Raw::tcp(broker.addr()).await;
    partial.send_bytes(&[0x10, 13, 0, 4, b'M', b'Q']).await;
    partial.expect_closed_silently().await;

    // The broker still accepts a client that does connect.
    Raw::connect_v311(broker.addr(), "prompt")
        .await
        .ping()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn persistent_session_taken_over_under_load_loses_no_qos1_message() {
    const MESSAGES: u32 = 5000;
    let broker = Broker::start_with(&["--max-queued-messages", "100000"]);
    let mut connect = connect_packet("busy");
    connect.clean_start = false;
    let (mut sub, _) = Raw::connect(broker.addr(), connect.clone()).await;
    sub.subscribe(&[("load", QoS::AtLeastOnce)]).await;
    let publisher = crate::clients::Mqtt::connect(&broker, "pub").await;
    let client = publisher.client.clone();
    let flood = tokio::spawn(async move {
        for n in 0..MESSAGES {
            client
                .publish("load", rumqttc::QoS::AtLeastOnce, false, n.to_string())
                .await
                .expect("publish request");
        }
        client
            .publish("load", rumqttc::QoS::AtLeastOnce, false, "end")
            .await
            .expect("publish request");
    });

    // Midway through the stream a new connection takes the session over. Whatever the
    // old connection had in flight is resent; nothing may be left behind with it.
    let mut seen = std::collections::HashSet::new();
    let mut taken_over = false;
    loop {
        let got = sub.recv_publish().await;
        sub.puback(got.packet_id.expect("QoS 1")).await;
        let text = String::from_utf8_lossy(&got.payload).into_owned();
        if text == "end" {
            break;
        }
        seen.insert(text.parse::<u32>().expect("a number"));
        if seen.len() == MESSAGES as usize / 3 && !taken_over {
            taken_over = true;
            sub = Raw::connect(broker.addr(), connect.clone()).await.0;
        }
    }
    flood.await.unwrap();
    let missing: Vec<u32> = (0..MESSAGES).filter(|n| !seen.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "QoS 1 messages lost at the takeover: {missing:?}"
    );
    drop(publisher);
}

#[tokio::test]
async fn connections_beyond_max_connections_are_closed_at_once() {
    let broker = Broker::start_with(&["--max-connections", "2"]);
    let mut first = Raw::connect_v311(broker.addr(), "first").await;
    let second = Raw::connect_v311(broker.addr(), "second").await;
    let mut third = Raw::tcp(broker.addr()).await;
    third.expect_closed_silently().await;
    first.ping().await;

    // A freed slot is usable again.
    drop(second);
    let connect = connect_packet("fourth");
    let deadline = tokio::time::Instant::now() + crate::raw::PATIENCE;
    let mut refused = 0;
    loop {
        // The slot is free once the broker has seen the close; until then it refuses.
        let mut raw = Raw::tcp(broker.addr()).await;
        raw.send(&Packet::Connect(Box::new(connect.clone()))).await;
        match raw.next(crate::raw::PATIENCE).await {
            crate::raw::Next::Packet(Packet::ConnAck(ack)) => {
                assert_eq!(ack.reason_code, ReasonCode::Success);
                break;
            }
            crate::raw::Next::Closed if tokio::time::Instant::now() < deadline => refused += 1,
            other => panic!("no slot freed ({refused} refusals): {other:?}"),
        }
    }
}
