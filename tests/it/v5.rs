//! MQTT 5 features, one test or more each: raw v5 clients where the exact packet matters,
//! rumqttc's v5 client where a third-party implementation should agree, and mixed
//! v3.1.1 / v5 traffic.

use std::time::Duration;

use mq_proto::{
    Bytes, Connect, Packet, Properties, ProtocolVersion, PubResponse, Publish, QoS, ReasonCode,
    RetainHandling, Subscribe, SubscriptionOptions,
};

use crate::harness::Broker;
use crate::raw::{connect_packet, pid, publish_packet, will, Next, Raw, PATIENCE};

fn v5(client_id: &str) -> Connect {
    Connect {
        protocol: ProtocolVersion::V5,
        ..connect_packet(client_id)
    }
}

fn v5_with(client_id: &str, properties: Properties) -> Connect {
    Connect {
        properties,
        ..v5(client_id)
    }
}

fn publish(topic: &str, qos: QoS, id: u16, payload: &str, properties: Properties) -> Packet {
    Packet::Publish(Publish {
        properties,
        ..publish_packet(topic, qos, id, false, payload.as_bytes())
    })
}

async fn subscribe_with(
    raw: &mut Raw,
    filter: &str,
    options: SubscriptionOptions,
    properties: Properties,
) -> ReasonCode {
    raw.send(&Packet::Subscribe(Subscribe {
        packet_id: pid(1),
        filters: vec![(filter.to_string(), options)],
        properties,
    }))
    .await;
    match raw.recv().await {
        Packet::SubAck(ack) => ack.reason_codes[0],
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

async fn subscribe(raw: &mut Raw, filter: &str, qos: QoS) -> ReasonCode {
    subscribe_with(
        raw,
        filter,
        SubscriptionOptions::new(qos),
        Properties::default(),
    )
    .await
}

/// Reads packets until a PUBLISH, acknowledging nothing; other packets are returned too.
async fn next_publish(raw: &mut Raw) -> Publish {
    loop {
        match raw.recv().await {
            Packet::Publish(p) => return p,
            Packet::PubAck(_) | Packet::PubRec(_) | Packet::PubComp(_) => {}
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
}

async fn expect_disconnect(raw: &mut Raw) -> ReasonCode {
    loop {
        match raw.next(PATIENCE).await {
            Next::Packet(Packet::Disconnect(d)) => return d.reason_code,
            Next::Packet(_) => {}
            other => panic!("expected DISCONNECT, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn connack_tells_a_v5_client_the_brokers_limits_and_its_assigned_identifier() {
    let broker = Broker::start_with(&["--max-keepalive", "60", "--max-inflight-messages", "7"]);
    let mut connect = v5("");
    connect.keep_alive = 120;
    connect.properties.request_response_information = Some(1);
    let (_raw, ack) = Raw::connect(broker.addr(), connect).await;
    let p = ack.properties;
    assert!(p
        .assigned_client_identifier
        .is_some_and(|id| !id.is_empty()));
    assert_eq!(p.server_keep_alive, Some(60));
    assert_eq!(p.receive_maximum, Some(7));
    assert!(p.topic_alias_maximum.is_some_and(|m| m > 0));
    assert!(p.maximum_packet_size.is_some());
    assert!(p.response_information.is_some());
}

#[tokio::test]
async fn session_expiry_keeps_an_offline_session_only_for_its_interval() {
    let broker = Broker::start();
    let expiring = Properties {
        session_expiry_interval: Some(1),
        ..Properties::default()
    };
    let (mut raw, _) = Raw::connect(broker.addr(), v5_with("exp", expiring.clone())).await;
    subscribe(&mut raw, "exp/t", QoS::AtLeastOnce).await;
    raw.disconnect().await;

    let mut resume = v5_with("exp", expiring.clone());
    resume.clean_start = false;
    let (raw, ack) = Raw::connect(broker.addr(), resume.clone()).await;
    assert!(ack.session_present, "the session outlives the connection");
    raw.disconnect().await;

    // The passing of the interval is what is under test.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_raw, ack) = Raw::connect(broker.addr(), resume).await;
    assert!(
        !ack.session_present,
        "the session expired after 1 s offline"
    );
}

#[tokio::test]
async fn setting_session_expiry_at_disconnect_after_zero_at_connect_is_a_protocol_error() {
    let broker = Broker::start();
    let (mut raw, _) = Raw::connect(broker.addr(), v5("zero")).await;
    let mut disconnect = mq_proto::Disconnect::new(ReasonCode::Success);
    disconnect.properties.session_expiry_interval = Some(60);
    raw.send(&Packet::Disconnect(disconnect)).await;
    assert_eq!(expect_disconnect(&mut raw).await, ReasonCode::ProtocolError);
}

#[tokio::test]
async fn message_expiry_drops_stale_queued_messages_and_forwards_the_remaining_interval() {
    let broker = Broker::start();
    let persistent = Properties {
        session_expiry_interval: Some(300),
        ..Properties::default()
    };
    let (mut sub, _) = Raw::connect(broker.addr(), v5_with("me-sub", persistent.clone())).await;
    subscribe(&mut sub, "me/t", QoS::AtLeastOnce).await;
    sub.disconnect().await;

    let (mut publisher, _) = Raw::connect(broker.addr(), v5("me-pub")).await;
    let expiry = |s| Properties {
        message_expiry_interval: Some(s),
        ..Properties::default()
    };
    publisher
        .send(&publish("me/t", QoS::AtLeastOnce, 1, "stale", expiry(1)))
        .await;
    publisher
        .send(&publish("me/t", QoS::AtLeastOnce, 2, "fresh", expiry(60)))
        .await;
    for _ in 0..2 {
        assert!(matches!(publisher.recv().await, Packet::PubAck(_)));
    }
    tokio::time::sleep(Duration::from_millis(2200)).await;

    let mut resume = v5_with("me-sub", persistent);
    resume.clean_start = false;
    let (mut sub, _) = Raw::connect(broker.addr(), resume).await;
    let got = next_publish(&mut sub).await;
    assert_eq!(
        &got.payload[..],
        b"fresh",
        "the expired message was dropped"
    );
    let remaining = got
        .properties
        .message_expiry_interval
        .expect("interval forwarded");
    assert!(
        (1..60).contains(&remaining),
        "remaining interval {remaining} counts down"
    );
}

#[tokio::test]
async fn will_delay_is_cut_short_when_the_session_ends_first() {
    let broker = Broker::start();
    let (mut watcher, _) = Raw::connect(broker.addr(), v5("wd-watch")).await;
    subscribe(&mut watcher, "wd/will", QoS::AtLeastOnce).await;

    let mut connect = v5_with(
        "wd-client",
        Properties {
            session_expiry_interval: Some(1),
            ..Properties::default()
        },
    );
    let mut delayed = will("wd/will", "gone", QoS::AtLeastOnce);
    delayed.properties.will_delay_interval = Some(30);
    connect.will = Some(delayed);
    let (client, _) = Raw::connect(broker.addr(), connect).await;
    drop(client);

    let started = std::time::Instant::now();
    let got = next_publish(&mut watcher).await;
    assert_eq!(&got.payload[..], b"gone");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the will came with the session's end (1 s), not after its 30 s delay"
    );
    assert_eq!(
        got.properties.will_delay_interval, None,
        "no will-only property in a PUBLISH"
    );
}

#[tokio::test]
async fn a_delayed_will_is_not_sent_when_the_session_resumes_in_time() {
    let broker = Broker::start();
    let (mut watcher, _) = Raw::connect(broker.addr(), v5("wr-watch")).await;
    subscribe(&mut watcher, "wr/will", QoS::AtLeastOnce).await;

    let persistent = Properties {
        session_expiry_interval: Some(60),
        ..Properties::default()
    };
    let mut connect = v5_with("wr-client", persistent);
    let mut delayed = will("wr/will", "gone", QoS::AtLeastOnce);
    delayed.properties.will_delay_interval = Some(2);
    connect.will = Some(delayed);
    let (client, _) = Raw::connect(broker.addr(), connect.clone()).await;
    drop(client);
    connect.clean_start = false;
    connect.will = None;
    let (_client, ack) = Raw::connect(broker.addr(), connect).await;
    assert!(ack.session_present);
    watcher.expect_quiet(Duration::from_secs(3)).await;
}

#[tokio::test]
async fn client_topic_aliases_are_resolved_and_an_alias_above_the_maximum_disconnects() {
    let broker = Broker::start_with(&["--max-topic-alias", "2"]);
    let (mut sub, _) = Raw::connect(broker.addr(), v5("ta-sub")).await;
    subscribe(&mut sub, "ta/#", QoS::AtMostOnce).await;
    let (mut publisher, _) = Raw::connect(broker.addr(), v5("ta-pub")).await;
    let alias = |a| Properties {
        topic_alias: Some(a),
        ..Properties::default()
    };
    publisher
        .send(&publish("ta/one", QoS::AtMostOnce, 0, "set", alias(1)))
        .await;
    publisher
        .send(&publish("", QoS::AtMostOnce, 0, "use", alias(1)))
        .await;
    for expected in ["set", "use"] {
        let got = next_publish(&mut sub).await;
        assert_eq!(&*got.topic, "ta/one");
        assert_eq!(&got.payload[..], expected.as_bytes());
    }
    publisher
        .send(&publish("ta/x", QoS::AtMostOnce, 0, "bad", alias(3)))
        .await;
    assert_eq!(
        expect_disconnect(&mut publisher).await,
        ReasonCode::TopicAliasInvalid
    );
}

#[tokio::test]
async fn the_broker_uses_topic_aliases_toward_a_client_that_allows_them() {
    let broker = Broker::start();
    let allows = Properties {
        topic_alias_maximum: Some(1),
        ..Properties::default()
    };
    let (mut sub, _) = Raw::connect(broker.addr(), v5_with("sa-sub", allows)).await;
    subscribe(&mut sub, "sa/t", QoS::AtMostOnce).await;
    let (mut publisher, _) = Raw::connect(broker.addr(), v5("sa-pub")).await;
    for _ in 0..3 {
        publisher
            .send(&publish(
                "sa/t",
                QoS::AtMostOnce,
                0,
                "x",
                Properties::default(),
            ))
            .await;
    }
    let first = next_publish(&mut sub).await;
    let alias = first
        .properties
        .topic_alias
        .expect("first message sets an alias");
    assert_eq!(&*first.topic, "sa/t");
    for _ in 0..2 {
        let next = next_publish(&mut sub).await;
        assert_eq!(next.properties.topic_alias, Some(alias));
        assert_eq!(&*next.topic, "", "later messages use the alias alone");
    }
}

#[tokio::test]
async fn exceeding_the_brokers_receive_maximum_gets_disconnect_0x93() {
    let broker = Broker::start_with(&["--max-inflight-messages", "3"]);
    let (mut publisher, ack) = Raw::connect(broker.addr(), v5("rm-pub")).await;
    assert_eq!(ack.properties.receive_maximum, Some(3));
    for id in 1..=4 {
        publisher
            .send(&publish(
                "rm/t",
                QoS::ExactlyOnce,
                id,
                "x",
                Properties::default(),
            ))
            .await;
    }
    assert_eq!(
        expect_disconnect(&mut publisher).await,
        ReasonCode::ReceiveMaximumExceeded
    );
}

#[tokio::test]
async fn the_broker_sends_no_more_than_the_clients_receive_maximum_unacknowledged() {
    let broker = Broker::start();
    let small = Properties {
        receive_maximum: Some(2),
        ..Properties::default()
    };
    let (mut sub, _) = Raw::connect(broker.addr(), v5_with("crm-sub", small)).await;
    subscribe(&mut sub, "crm/t", QoS::AtLeastOnce).await;
    let (mut publisher, _) = Raw::connect(broker.addr(), v5("crm-pub")).await;
    for id in 1..=3 {
        publisher
            .send(&publish(
                "crm/t",
                QoS::AtLeastOnce,
                id,
                "x",
                Properties::default(),
            ))
            .await;
    }
    let first = next_publish(&mut sub).await;
    next_publish(&mut sub).await;
    sub.expect_quiet(Duration::from_millis(500)).await;
    sub.send(&Packet::PubAck(PubResponse::new(
        first.packet_id.expect("QoS 1 has an id"),
    )))
    .await;
    next_publish(&mut sub).await;
}

#[tokio::test]
async fn a_message_larger_than_the_clients_maximum_packet_size_is_not_sent() {
    let broker = Broker::start();
    let small = Properties {
        maximum_packet_size: Some(64),
        ..Properties::default()
    };
    let (mut sub, _) = Raw::connect(broker.addr(), v5_with("mps-sub", small)).await;
    subscribe(&mut sub, "mps/t", QoS::AtLeastOnce).await;
    let (mut publisher, _) = Raw::connect(broker.addr(), v5("mps-pub")).await;
    let big = "x".repeat(100);
    publisher
        .send(&publish(
            "mps/t",
            QoS::AtLeastOnce,
            1,
            &big,
            Properties::default(),
        ))
        .await;
    publisher
        .send(&publish(
            "mps/t",
            QoS::AtLeastOnce,
            2,
            "small",
            Properties::default(),
        ))
        .await;
    let got = next_publish(&mut sub).await;
    assert_eq!(
        &got.payload[..],
        b"small",
        "the oversized message was skipped, not sent"
    );
}

#[tokio::test]
async fn no_local_keeps_a_clients_own_messages_from_it() {
    let broker = Broker::start();
    let (mut client, _) = Raw::connect(broker.addr(), v5("nl")).await;
    let options = SubscriptionOptions {
        no_local: true,
        ..SubscriptionOptions::new(QoS::AtMostOnce)
    };
    subscribe_with(&mut client, "nl/t", options, Properties::default()).await;
    client
        .send(&publish(
            "nl/t",
            QoS::AtMostOnce,
            0,
            "mine",
            Properties::default(),
        ))
        .await;
    client.expect_quiet(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn retain_as_published_and_retain_handling_follow_the_subscription_options() {
    let broker = Broker::start();
    let (mut publisher, _) = Raw::connect(broker.addr(), v5("rh-pub")).await;
    publisher
        .publish("rh/t", QoS::AtLeastOnce, true, b"kept")
        .await;

    let (mut sub, _) = Raw::connect(broker.addr(), v5("rh-sub")).await;
    let never = SubscriptionOptions {
        retain_handling: RetainHandling::DoNotSend,
        ..SubscriptionOptions::new(QoS::AtMostOnce)
    };
    subscribe_with(&mut sub, "rh/t", never, Properties::default()).await;
    sub.expect_quiet(Duration::from_millis(300)).await;

    let if_new = SubscriptionOptions {
        retain_handling: RetainHandling::SendAtSubscribeIfNew,
        retain_as_published: true,
        ..SubscriptionOptions::new(QoS::AtMostOnce)
    };
    // Not new (the filter is already subscribed): nothing is sent.
    subscribe_with(&mut sub, "rh/t", if_new, Properties::default()).await;
    sub.expect_quiet(Duration::from_millis(300)).await;
    // New: the retained message comes, and live messages keep their retain flag.
    subscribe_with(&mut sub, "rh/#", if_new, Properties::default()).await;
    let retained = next_publish(&mut sub).await;
    assert!(retained.retain);
    publisher
        .publish("rh/t", QoS::AtMostOnce, true, b"live")
        .await;
    let live = next_publish(&mut sub).await;
    assert!(live.retain, "Retain As Published keeps the flag");
}

#[tokio::test]
async fn one_publish_carries_every_matching_subscription_identifier() {
    let broker = Broker::start();
    let (mut sub, _) = Raw::connect(broker.addr(), v5("sid")).await;
    for (filter, id) in [("sid/+", 1), ("sid/#", 2)] {
        let props = Properties {
            subscription_identifiers: vec![id],
            ..Properties::default()
        };
        subscribe_with(
            &mut sub,
            filter,
            SubscriptionOptions::new(QoS::AtMostOnce),
            props,
        )
        .await;
    }
    sub.send(&publish(
        "sid/x",
        QoS::AtMostOnce,
        0,
        "x",
        Properties::default(),
    ))
    .await;
    let got = next_publish(&mut sub).await;
    let mut ids = got.properties.subscription_identifiers.clone();
    ids.sort_unstable();
    assert_eq!(ids, vec![1, 2]);
    sub.expect_quiet(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_shared_subscription_gives_each_message_to_one_member_in_turn() {
    let broker = Broker::start();
    let mut members = Vec::new();
    for name in ["sh-a", "sh-b"] {
        let (mut raw, _) = Raw::connect(broker.addr(), v5(name)).await;
        subscribe(&mut raw, "$share/g/sh/t", QoS::AtMostOnce).await;
        members.push(raw);
    }
    let (mut publisher, _) = Raw::connect(broker.addr(), v5("sh-pub")).await;
    for n in 0..4 {
        publisher
            .send(&publish(
                "sh/t",
                QoS::AtMostOnce,
                0,
                &n.to_string(),
                Properties::default(),
            ))
            .await;
    }
    for member in &mut members {
        for _ in 0..2 {
            next_publish(member).await;
        }
        member.expect_quiet(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_shared_message_left_unacknowledged_moves_to_another_member() {
    let broker = Broker::start();
    let (mut first, _) = Raw::connect(broker.addr(), v5("shr-a")).await;
    subscribe(&mut first, "$share/g/shr/t", QoS::AtLeastOnce).await;
    let (mut publisher, _) = Raw::connect(broker.addr(), v5("shr-pub")).await;
    publisher
        .send(&publish(
            "shr/t",
            QoS::AtLeastOnce,
            1,
            "m",
            Properties::default(),
        ))
        .await;
    next_publish(&mut first).await;

    let (mut second, _) = Raw::connect(broker.addr(), v5("shr-b")).await;
    subscribe(&mut second, "$share/g/shr/t", QoS::AtLeastOnce).await;
    drop(first);
    let got = next_publish(&mut second).await;
    assert_eq!(&got.payload[..], b"m");
}

#[tokio::test]
async fn request_response_and_application_properties_pass_through_in_order() {
    let broker = Broker::start();
    let (mut sub, _) = Raw::connect(broker.addr(), v5("rr-sub")).await;
    subscribe(&mut sub, "rr/req", QoS::AtMostOnce).await;
    let (mut publisher, _) = Raw::connect(broker.addr(), v5("rr-pub")).await;
    let sent = Properties {
        response_topic: Some("rr/resp".into()),
        correlation_data: Some(Bytes::from_static(b"\x00\x01corr")),
        content_type: Some("text/plain".into()),
        payload_format_indicator: Some(1),
        user_properties: vec![
            ("b".into(), "2".into()),
            ("a".into(), "1".into()),
            ("b".into(), "3".into()),
        ],
        ..Properties::default()
    };
    publisher
        .send(&publish("rr/req", QoS::AtMostOnce, 0, "hi", sent.clone()))
        .await;
    let got = next_publish(&mut sub).await;
    assert_eq!(got.properties, sent);
}

#[tokio::test]
async fn a_payload_that_breaks_its_utf8_format_indicator_is_refused_with_0x99() {
    let broker = Broker::start();
    let (mut publisher, _) = Raw::connect(broker.addr(), v5("pfi")).await;
    let utf8 = Properties {
        payload_format_indicator: Some(1),
        ..Properties::default()
    };
    publisher
        .send(&Packet::Publish(Publish {
            payload: Bytes::from_static(&[0xff, 0xfe]),
            ..match publish("pfi/t", QoS::AtLeastOnce, 9, "", utf8) {
                Packet::Publish(p) => p,
                _ => unreachable!(),
            }
        }))
        .await;
    match publisher.recv().await {
        Packet::PubAck(ack) => assert_eq!(ack.reason_code, ReasonCode::PayloadFormatInvalid),
        other => panic!("expected PUBACK, got {other:?}"),
    }
}

#[tokio::test]
async fn a_v5_publisher_with_properties_reaches_a_v311_subscriber_and_back() {
    let broker = Broker::start();
    let mut old = Raw::connect_v311(broker.addr(), "mix-311").await;
    old.subscribe(&[("mix/#", QoS::AtLeastOnce)]).await;
    let (mut new, _) = Raw::connect(broker.addr(), v5("mix-5")).await;
    subscribe(&mut new, "mix/#", QoS::AtLeastOnce).await;

    let props = Properties {
        user_properties: vec![("k".into(), "v".into())],
        message_expiry_interval: Some(100),
        ..Properties::default()
    };
    new.send(&publish("mix/from5", QoS::AtLeastOnce, 1, "five", props))
        .await;
    let got = old.recv_publish().await;
    assert_eq!(&got.payload[..], b"five");
    assert!(
        got.properties.is_empty(),
        "the v3.1.1 codec would refuse properties"
    );
    let echoed = next_publish(&mut new).await;
    assert_eq!(
        echoed.properties.user_properties,
        vec![("k".to_string(), "v".to_string())]
    );

    old.publish("mix/from311", QoS::AtLeastOnce, false, b"three")
        .await;
    let got = loop {
        let p = next_publish(&mut new).await;
        if &*p.topic == "mix/from311" {
            break p;
        }
    };
    assert_eq!(&got.payload[..], b"three");
}

#[tokio::test]
async fn rumqttc_v5_client_exchanges_user_properties_with_the_broker() {
    use rumqttc::v5::mqttbytes::v5::{Packet as RPacket, PublishProperties};
    use rumqttc::v5::mqttbytes::QoS as RQoS;
    use rumqttc::v5::{AsyncClient, Event, MqttOptions};

    let broker = Broker::start();
    let mut options = MqttOptions::new("rumqttc-v5", "127.0.0.1", broker.port());
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    client
        .subscribe("rv5/t", RQoS::AtLeastOnce)
        .await
        .expect("queue subscribe");
    let properties = PublishProperties {
        user_properties: vec![("trace".into(), "42".into())],
        content_type: Some("application/json".into()),
        ..PublishProperties::default()
    };
    let mut published = false;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let event = tokio::time::timeout_at(deadline, eventloop.poll())
            .await
            .expect("rumqttc received the message in time")
            .expect("rumqttc event loop error");
        match event {
            Event::Incoming(RPacket::SubAck(_)) if !published => {
                client
                    .publish_with_properties(
                        "rv5/t",
                        RQoS::AtLeastOnce,
                        false,
                        "{}",
                        properties.clone(),
                    )
                    .await
                    .expect("queue publish");
                published = true;
            }
            Event::Incoming(RPacket::Publish(p)) => {
                let got = p.properties.expect("properties forwarded");
                assert_eq!(got.user_properties, properties.user_properties);
                assert_eq!(got.content_type, properties.content_type);
                break;
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_refused_filter_gets_suback_0x80_in_311_and_in_5() {
    let broker = Broker::start_with(&["--refuse-subscribe", "test/nosubscribe"]);
    let mut old = Raw::connect_v311(broker.addr(), "rf-311").await;
    let codes = old
        .subscribe(&[
            ("test/nosubscribe", QoS::AtLeastOnce),
            ("test/ok", QoS::AtLeastOnce),
        ])
        .await;
    assert_eq!(
        codes,
        vec![ReasonCode::UnspecifiedError, ReasonCode::GrantedQoS1]
    );
    let (mut new, _) = Raw::connect(broker.addr(), v5("rf-5")).await;
    assert_eq!(
        subscribe(&mut new, "test/nosubscribe", QoS::AtMostOnce).await,
        ReasonCode::UnspecifiedError
    );
}
