//! Quality of Service: delivery at every level, the QoS 2 handshake, Packet Identifiers,
//! the inflight window, redelivery after reconnect and ordering.

use std::collections::HashSet;
use std::time::Duration;

use mq_proto::{Bytes, Packet, Properties, PubResponse, Publish, QoS};

use crate::clients::{text, Mqtt};
use crate::harness::Broker;
use crate::raw::{connect_packet, pid, Raw};

fn rumqttc_qos(qos: QoS) -> rumqttc::QoS {
    match qos {
        QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

const LEVELS: [QoS; 3] = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];

#[tokio::test]
async fn every_publish_and_subscription_qos_pair_delivers_at_the_lower_of_the_two() {
    let broker = Broker::start();
    // Receiving side, exact: a raw subscriber per QoS level, each completing its handshakes.
    let mut raw = Raw::connect_v311(broker.addr(), "raw-sub").await;
    raw.subscribe(&[
        ("q/0", QoS::AtMostOnce),
        ("q/1", QoS::AtLeastOnce),
        ("q/2", QoS::ExactlyOnce),
    ])
    .await;
    // And rumqttc receiving at QoS 2, to check a third-party client sees the same.
    let mut sub = Mqtt::connect(&broker, "rumqttc-sub").await;
    sub.subscribe("q/+", rumqttc::QoS::ExactlyOnce).await;
    let mut publisher = Mqtt::connect(&broker, "rumqttc-pub").await;

    for sub_qos in LEVELS {
        for pub_qos in LEVELS {
            let topic = format!("q/{}", sub_qos as u8);
            let payload = format!("pub {pub_qos} sub {sub_qos}");
            publisher
                .publish(&topic, rumqttc_qos(pub_qos), false, payload.clone())
                .await;

            let got = raw.recv_publish().await;
            assert_eq!(
                (&*got.topic, &got.payload[..]),
                (&*topic, payload.as_bytes())
            );
            assert_eq!(got.qos, pub_qos.min(sub_qos), "{payload}");
            assert!(!got.dup && !got.retain);
            match got.qos {
                QoS::AtMostOnce => assert_eq!(got.packet_id, None),
                QoS::AtLeastOnce => raw.puback(got.packet_id.unwrap()).await,
                QoS::ExactlyOnce => {
                    let id = got.packet_id.unwrap();
                    raw.send(&Packet::PubRec(PubResponse::new(id))).await;
                    match raw.recv_control().await {
                        Packet::PubRel(rel) => assert_eq!(rel.packet_id, id),
                        other => panic!("expected PUBREL, got {other:?}"),
                    }
                    raw.send(&Packet::PubComp(PubResponse::new(id))).await;
                }
            }

            let seen = sub.recv().await;
            assert_eq!(text(&seen), payload);
            assert_eq!(seen.qos, rumqttc_qos(pub_qos));
        }
    }
}

#[tokio::test]
async fn qos2_publish_is_routed_once_even_when_resent_before_pubrel() {
    let broker = Broker::start();
    let mut sub = Raw::connect_v311(broker.addr(), "sub").await;
    sub.subscribe(&[("exactly", QoS::ExactlyOnce), ("end", QoS::AtMostOnce)])
        .await;
    let mut publisher = Raw::connect_v311(broker.addr(), "pub").await;
    let publish = Publish {
        dup: false,
        qos: QoS::ExactlyOnce,
        retain: false,
        topic: "exactly".into(),
        packet_id: Some(pid(7)),
        properties: Properties::default(),
        payload: Bytes::from_static(b"once"),
    };
    publisher.send(&Packet::Publish(publish.clone())).await;
    assert_eq!(
        publisher.recv().await,
        Packet::PubRec(PubResponse::new(pid(7)))
    );
    // The PUBREC was "lost": the client sends the PUBLISH again with DUP.
    publisher
        .send(&Packet::Publish(Publish {
            dup: true,
            ..publish
        }))
        .await;
    assert_eq!(
        publisher.recv().await,
        Packet::PubRec(PubResponse::new(pid(7)))
    );
    publisher
        .send(&Packet::PubRel(PubResponse::new(pid(7))))
        .await;
    assert_eq!(
        publisher.recv().await,
        Packet::PubComp(PubResponse::new(pid(7)))
    );
    publisher
        .publish("end", QoS::AtMostOnce, false, b"end")
        .await;

    let got = sub.recv_publish().await;
    assert_eq!(&got.payload[..], b"once");
    let id = got.packet_id.unwrap();
    sub.send(&Packet::PubRec(PubResponse::new(id))).await;
    assert_eq!(
        sub.recv_control().await,
        Packet::PubRel(PubResponse::new(id))
    );
    sub.send(&Packet::PubComp(PubResponse::new(id))).await;
    // The next message is the end marker, not a second copy.
    assert_eq!(&*sub.recv_publish().await.topic, "end");
}

#[tokio::test]
async fn outgoing_packet_ids_are_nonzero_and_never_reuse_one_still_in_flight() {
    let broker = Broker::start();
    let mut sub = Raw::connect_v311(broker.addr(), "sub").await;
    sub.subscribe(&[("ids", QoS::AtLeastOnce)]).await;
    let mut publisher = Mqtt::connect(&broker, "pub").await;

    let mut unacked = HashSet::new();
    for round in 0..30u32 {
        publisher
            .publish("ids", rumqttc::QoS::AtLeastOnce, false, round.to_string())
            .await;
        let got = sub.recv_publish().await;
        assert_eq!(got.payload, round.to_string().as_bytes());
        let id = got.packet_id.expect("QoS 1 carries a Packet Identifier");
        assert!(
            unacked.insert(id),
            "packet id {id} reused while still in flight ({unacked:?})"
        );
        // Acknowledge every other message: ids of acknowledged ones may come back.
        if round % 2 == 0 {
            sub.puback(id).await;
            unacked.remove(&id);
        }
    }
}

#[tokio::test]
async fn inflight_window_holds_back_messages_until_the_subscriber_acknowledges() {
    let broker = Broker::start_with(&["--max-inflight-messages", "2"]);
    let mut sub = Raw::connect_v311(broker.addr(), "slow").await;
    sub.subscribe(&[("window", QoS::AtLeastOnce)]).await;
    let mut publisher = Mqtt::connect(&broker, "pub").await;
    for n in 1..=5 {
        publisher
            .publish("window", rumqttc::QoS::AtLeastOnce, false, format!("m{n}"))
            .await;
    }
    // All five are routed (PUBACKed) by now; only two may be in flight.
    let first = sub.recv_publish().await;
    let second = sub.recv_publish().await;
    assert_eq!(
        (&first.payload[..], &second.payload[..]),
        (&b"m1"[..], &b"m2"[..])
    );
    sub.ping().await;
    sub.expect_quiet(Duration::from_millis(300)).await;

    // One acknowledgement opens one slot.
    sub.puback(first.packet_id.unwrap()).await;
    let third = sub.recv_publish().await;
    assert_eq!(&third.payload[..], b"m3");
    sub.ping().await;
    sub.expect_quiet(Duration::from_millis(300)).await;

    sub.puback(second.packet_id.unwrap()).await;
    sub.puback(third.packet_id.unwrap()).await;
    let fourth = sub.recv_publish().await;
    let fifth = sub.recv_publish().await;
    assert_eq!(
        (&fourth.payload[..], &fifth.payload[..]),
        (&b"m4"[..], &b"m5"[..])
    );
}

#[tokio::test]
async fn unacknowledged_messages_are_resent_with_dup_and_same_ids_after_reconnect() {
    let broker = Broker::start();
    let mut connect = connect_packet("forgetful");
    connect.clean_start = false;
    let (mut sub, _) = Raw::connect(broker.addr(), connect.clone()).await;
    sub.subscribe(&[("redo/1", QoS::AtLeastOnce), ("redo/2", QoS::ExactlyOnce)])
        .await;
    let mut publisher = Mqtt::connect(&broker, "pub").await;
    publisher
        .publish("redo/1", rumqttc::QoS::AtLeastOnce, false, "one")
        .await;
    publisher
        .publish("redo/2", rumqttc::QoS::ExactlyOnce, false, "two")
        .await;
    publisher
        .publish("redo/2", rumqttc::QoS::ExactlyOnce, false, "three")
        .await;

    let one = sub.recv_publish().await;
    let two = sub.recv_publish().await;
    let three = sub.recv_publish().await;
    assert_eq!(
        [&one.payload[..], &two.payload[..], &three.payload[..]],
        [&b"one"[..], b"two", b"three"]
    );
    assert!(!one.dup && !two.dup && !three.dup);
    // "three" is PUBREC'd (so the broker moves on to PUBREL); nothing else is acknowledged.
    let three_id = three.packet_id.unwrap();
    sub.send(&Packet::PubRec(PubResponse::new(three_id))).await;
    assert_eq!(sub.recv().await, Packet::PubRel(PubResponse::new(three_id)));
    drop(sub);

    // [MQTT-4.4.0-1] on reconnect: PUBLISH again with DUP 1 and the same Packet Identifiers,
    // and PUBREL again for the message already received, in the original order.
    let (mut sub, ack) = Raw::connect(broker.addr(), connect.clone()).await;
    assert!(ack.session_present);
    let again_one = sub.recv_publish().await;
    let again_two = sub.recv_publish().await;
    for (again, original) in [(&again_one, &one), (&again_two, &two)] {
        assert!(again.dup, "resent PUBLISH carries DUP: {again:?}");
        assert_eq!(again.packet_id, original.packet_id);
        assert_eq!(again.qos, original.qos);
        assert_eq!(again.payload, original.payload);
    }
    assert_eq!(sub.recv().await, Packet::PubRel(PubResponse::new(three_id)));

    // Finish every exchange; a further reconnect then has nothing to resend.
    sub.puback(one.packet_id.unwrap()).await;
    let two_id = two.packet_id.unwrap();
    sub.send(&Packet::PubRec(PubResponse::new(two_id))).await;
    assert_eq!(sub.recv().await, Packet::PubRel(PubResponse::new(two_id)));
    sub.send(&Packet::PubComp(PubResponse::new(two_id))).await;
    sub.send(&Packet::PubComp(PubResponse::new(three_id))).await;
    sub.ping().await;
    drop(sub);
    let (mut sub, ack) = Raw::connect(broker.addr(), connect).await;
    assert!(ack.session_present);
    sub.ping().await;
    assert_eq!(sub.stashed(), 0, "nothing left to resend");
}

#[tokio::test]
async fn thousand_qos1_messages_from_one_publisher_arrive_in_order() {
    let broker = Broker::start();
    let mut sub = Mqtt::connect(&broker, "sub").await;
    sub.subscribe("ordered", rumqttc::QoS::AtLeastOnce).await;
    let publisher = Mqtt::connect(&broker, "pub").await;
    let sender = publisher.client.clone();
    let send = tokio::spawn(async move {
        for n in 0..1000u32 {
            sender
                .publish("ordered", rumqttc::QoS::AtLeastOnce, false, n.to_string())
                .await
                .expect("publish request");
        }
    });
    for n in 0..1000u32 {
        let got = sub.recv().await;
        assert_eq!(text(&got), n.to_string(), "message {n} out of order");
    }
    send.await.unwrap();
    drop(publisher);
}
