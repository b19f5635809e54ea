//! Overload: a flood publisher must not starve a well-behaved client, and `--max-memory`
//! bounds what a flood can make the broker hold.
//!
//! Under the memory limit the broker refuses new messages rather than growing: MQTT 5
//! publishers get PUBACK/PUBREC 0x97 Quota exceeded; MQTT 3 QoS 0 messages are dropped
//! (and counted), and an MQTT 3 QoS 1/2 PUBLISH closes the connection unacknowledged, so the
//! client sends it again once it reconnects instead of believing it delivered.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mq_proto::{BytesMut, Connect, Packet, ProtocolVersion, PubResponse, QoS, ReasonCode};

use crate::clients::{text, Mqtt};
use crate::harness::Broker;
use crate::raw::{connect_packet, pid, publish_packet, Next, Raw, PATIENCE};

const PAYLOAD: usize = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_publisher_does_not_starve_a_well_behaved_qos1_publisher() {
    const PUBLISHES: usize = 50;
    let broker = Broker::start();
    // A subscriber that reads everything, so routing the flood costs the broker real work.
    let mut drain = Raw::connect_v311(broker.addr(), "drain").await;
    drain.subscribe(&[("flood/#", QoS::AtMostOnce)]).await;
    let draining =
        tokio::spawn(async move { while let Next::Packet(_) = drain.next(PATIENCE).await {} });

    // Two flooders write QoS 0 PUBLISHes as fast as the broker takes them.
    let stop = Arc::new(AtomicBool::new(false));
    let mut flooders = Vec::new();
    for n in 0..2 {
        let stop = stop.clone();
        let mut raw = Raw::connect_v311(broker.addr(), &format!("flooder-{n}")).await;
        flooders.push(tokio::spawn(async move {
            let mut batch = BytesMut::new();
            for _ in 0..256 {
                mq_proto::encode(
                    &Packet::Publish(publish_packet(
                        "flood/x",
                        QoS::AtMostOnce,
                        1,
                        false,
                        &[7; 256],
                    )),
                    ProtocolVersion::V311,
                    &mut batch,
                );
            }
            // Bounded: the flood ends when the test does, or after 60 s at most.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::Relaxed) && tokio::time::Instant::now() < deadline {
                raw.send_bytes(&batch).await;
            }
        }));
    }

    let mut polite = Mqtt::connect(&broker, "polite").await;
    polite
        .subscribe("polite/t", rumqttc::QoS::AtLeastOnce)
        .await;
    let mut slowest = Duration::ZERO;
    for n in 0..PUBLISHES {
        let started = tokio::time::Instant::now();
        polite
            .publish("polite/t", rumqttc::QoS::AtLeastOnce, false, n.to_string())
            .await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(text(&polite.recv_on("polite/t").await), n.to_string());
    }
    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        flooder.await.unwrap();
    }
    draining.abort();
    eprintln!("under a flood, the slowest of {PUBLISHES} QoS 1 publishes took {slowest:?}");
    assert!(
        slowest < Duration::from_secs(1),
        "a QoS 1 publish took {slowest:?} while another connection flooded"
    );
}

/// A subscriber that takes QoS 1 messages on `topic` and never reads them, so the broker
/// must hold every one.
async fn stalled_subscriber(broker: &Broker, topic: &str) -> Raw {
    let mut stalled = Raw::connect_v311(broker.addr(), "stalled").await;
    stalled.subscribe(&[(topic, QoS::AtLeastOnce)]).await;
    stalled
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_beyond_max_memory_get_quota_exceeded_and_rss_stays_bounded() {
    const LIMIT: usize = 16 << 20;
    const MESSAGES: usize = 4000; // 250 MiB tried against a 16 MiB limit
    let broker = Broker::start_with(&[
        "--max-memory",
        &LIMIT.to_string(),
        "--max-queued-messages",
        "100000",
    ]);
    let stalled = stalled_subscriber(&broker, "big").await;
    let before = broker.memory_kb("VmRSS");
    let v5 = Connect {
        protocol: ProtocolVersion::V5,
        ..connect_packet("flooder")
    };
    let (mut flooder, _) = Raw::connect(broker.addr(), v5).await;
    let payload = vec![1u8; PAYLOAD];
    let (mut accepted, mut refused) = (0, 0);
    for n in 0..MESSAGES {
        let id = (n % 60_000) as u16 + 1;
        flooder
            .send(&Packet::Publish(publish_packet(
                "big",
                QoS::AtLeastOnce,
                id,
                false,
                &payload,
            )))
            .await;
        match flooder.recv_control().await {
            Packet::PubAck(ack) if ack.reason_code == ReasonCode::Success => accepted += 1,
            Packet::PubAck(ack) if ack.reason_code == ReasonCode::QuotaExceeded => refused += 1,
            other => panic!("expected PUBACK, got {other:?}"),
        }
    }
    let peak = broker.memory_kb("VmHWM");
    let growth = peak.saturating_sub(before);
    eprintln!(
        "--max-memory {LIMIT}: {accepted} of {MESSAGES} x {PAYLOAD} B accepted, {refused} refused; \
         VmRSS {before} kB -> peak {peak} kB"
    );
    // Accepted messages fill the limit and not much more (one message may cross it).
    assert!(accepted >= LIMIT / PAYLOAD / 2, "only {accepted} accepted");
    assert!(accepted <= LIMIT / PAYLOAD + 1, "{accepted} accepted");
    assert_eq!(accepted + refused, MESSAGES);
    // The flood tried 250 MiB; the broker held the limit plus its buffers.
    assert!(
        growth < 3 * (LIMIT as u64 / 1024),
        "VmRSS grew {growth} kB against a {LIMIT}-byte limit"
    );

    // When the stalled subscriber goes, its messages go, and publishes are accepted again.
    drop(stalled);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        flooder
            .send(&Packet::Publish(publish_packet(
                "big",
                QoS::AtLeastOnce,
                1,
                false,
                b"small",
            )))
            .await;
        match flooder.recv_control().await {
            Packet::PubAck(ack) if ack.reason_code == ReasonCode::Success => break,
            Packet::PubAck(ack) if ack.reason_code == ReasonCode::QuotaExceeded => assert!(
                tokio::time::Instant::now() < deadline,
                "memory was not given back after the subscriber left"
            ),
            other => panic!("expected PUBACK, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_max_memory_mqtt3_drops_qos0_and_closes_on_qos1_without_acknowledging() {
    const LIMIT: usize = 4 << 20;
    let broker = Broker::start_with(&[
        "--max-memory",
        &LIMIT.to_string(),
        "--max-queued-messages",
        "100000",
    ]);
    let _stalled = stalled_subscriber(&broker, "big").await;
    let mut flooder = Raw::connect_v311(broker.addr(), "flooder").await;
    let payload = vec![1u8; PAYLOAD];
    let mut acknowledged = 0;
    let closed_at = loop {
        assert!(
            acknowledged <= LIMIT / PAYLOAD + 1,
            "{acknowledged} messages acknowledged past the limit"
        );
        flooder
            .send(&Packet::Publish(publish_packet(
                "big",
                QoS::AtLeastOnce,
                9,
                false,
                &payload,
            )))
            .await;
        match flooder.next(PATIENCE).await {
            Next::Packet(Packet::PubAck(ack)) => {
                assert_eq!(ack, PubResponse::new(pid(9)));
                acknowledged += 1;
            }
            Next::Closed => break acknowledged,
            other => panic!("expected PUBACK or a close, got {other:?}"),
        }
    };
    eprintln!("MQTT 3 flooder closed after {closed_at} acknowledged messages");

    // QoS 0 over the limit is dropped: the connection stays.
    let mut light = Raw::connect_v311(broker.addr(), "light").await;
    light
        .send(&Packet::Publish(publish_packet(
            "big",
            QoS::AtMostOnce,
            1,
            false,
            &payload,
        )))
        .await;
    light.ping().await;
}
