//! Hostile input against one broker while a well-behaved client keeps working.
//!
//! A seeded generator (set `MQ_HOSTILE_SEED` to replay another run) sends a few thousand
//! packets on many short connections: random bytes, and valid packets of every type and
//! version with flipped bytes, truncations, forged Remaining Lengths and trailing junk.
//! Meanwhile rumqttc publishes QoS 1 messages to a rumqttc subscriber, which must get
//! every one, in order. Afterwards the broker is alive, serves new clients, and its peak
//! resident memory stayed under a stated bound.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mq_proto::{
    Bytes, BytesMut, Connect, Disconnect, Packet, PacketId, Properties, ProtocolVersion,
    PubResponse, Publish, QoS, ReasonCode, Subscribe, SubscriptionOptions, Unsubscribe, Will,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::clients::{text, Mqtt};
use crate::harness::Broker;

/// Connections opened by the generator, and the packets it sends on each (at most).
const CONNECTIONS: usize = 500;
const PACKETS_PER_CONNECTION: u64 = 10;
/// Hostile connections open at the same time.
const PARALLEL: usize = 24;
/// The broker's peak resident set (VmHWM) must stay below this.
const MEMORY_BOUND_KB: u64 = 200 * 1024;
const DEFAULT_SEED: u64 = 0x6d71_2d68_6f73_7469;

/// xorshift64*: small, seedable, good enough to pick mutations.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Random bytes, `at_least` plus a random count below `extra`.
    fn bytes(&mut self, at_least: u64, extra: u64) -> Vec<u8> {
        let len = at_least + self.below(extra);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

const TOPICS: [&str; 8] = ["h/a", "h/b/c", "h", "$SYS/h", "h/+", "#", "h/#", "+/+"];
const NAMES: [&str; 5] = ["h/a", "h/b/c", "h", "h/d/e/f", "$h"];

fn qos(rng: &mut Rng) -> QoS {
    *rng.pick(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])
}

fn id(rng: &mut Rng) -> PacketId {
    PacketId::new(rng.below(20) as u16 + 1).unwrap()
}

fn properties(rng: &mut Rng, version: ProtocolVersion) -> Properties {
    let mut p = Properties::default();
    if version == ProtocolVersion::V5 && rng.chance(50) {
        p.user_properties = vec![("k".into(), "v".into())];
        p.message_expiry_interval = rng.chance(30).then(|| rng.below(100) as u32);
        p.content_type = rng.chance(30).then(|| "text/plain".into());
        p.correlation_data = rng.chance(30).then(|| Bytes::from_static(b"corr"));
    }
    p
}

fn connect(rng: &mut Rng, version: ProtocolVersion) -> Packet {
    let mut properties = Properties::default();
    if version == ProtocolVersion::V5 {
        properties.session_expiry_interval = rng.chance(50).then(|| rng.below(5) as u32);
        properties.receive_maximum = rng.chance(50).then(|| rng.below(5) as u16 + 1);
    }
    Packet::Connect(Box::new(Connect {
        protocol: version,
        clean_start: rng.chance(70),
        keep_alive: rng.below(3) as u16,
        client_id: format!("h{}", rng.below(200)),
        will: rng.chance(30).then(|| Will {
            topic: (*rng.pick(&NAMES)).into(),
            payload: Bytes::from(rng.bytes(0, 20)),
            qos: qos(rng),
            retain: rng.chance(30),
            properties: Properties::default(),
        }),
        username: rng.chance(20).then(|| "user".into()),
        password: None,
        properties,
    }))
}

/// A well-formed packet of a random type that a client may send.
fn valid_packet(rng: &mut Rng, version: ProtocolVersion) -> Packet {
    match rng.below(10) {
        0 => connect(rng, version),
        1..=3 => {
            let qos = qos(rng);
            Packet::Publish(Publish {
                dup: false,
                qos,
                retain: rng.chance(20),
                topic: (*rng.pick(&NAMES)).into(),
                packet_id: (qos != QoS::AtMostOnce).then(|| id(rng)),
                properties: properties(rng, version),
                payload: Bytes::from(rng.bytes(0, 200)),
            })
        }
        4 => Packet::PubAck(PubResponse::new(id(rng))),
        5 => match rng.below(3) {
            0 => Packet::PubRec(PubResponse::new(id(rng))),
            1 => Packet::PubRel(PubResponse::new(id(rng))),
            _ => Packet::PubComp(PubResponse::new(id(rng))),
        },
        6 => Packet::Subscribe(Subscribe {
            packet_id: id(rng),
            filters: (0..=rng.below(3))
                .map(|_| {
                    (
                        rng.pick(&TOPICS).to_string(),
                        SubscriptionOptions::new(qos(rng)),
                    )
                })
                .collect(),
            properties: Properties::default(),
        }),
        7 => Packet::Unsubscribe(Unsubscribe {
            packet_id: id(rng),
            filters: vec![rng.pick(&TOPICS).to_string()],
            properties: Properties::default(),
        }),
        8 => Packet::PingReq,
        _ => Packet::Disconnect(Disconnect::new(ReasonCode::Success)),
    }
}

fn encode(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
    let mut out = BytesMut::new();
    mq_proto::encode(packet, version, &mut out);
    out.to_vec()
}

/// A valid packet, or one bent in one of several ways.
fn hostile_packet(rng: &mut Rng, version: ProtocolVersion) -> Vec<u8> {
    if rng.chance(10) {
        return rng.bytes(1, 64);
    }
    let mut bytes = encode(&valid_packet(rng, version), version);
    match rng.below(6) {
        // Unchanged: some valid traffic keeps connections going deeper.
        0 => {}
        1 => {
            for _ in 0..=rng.below(3) {
                let at = rng.below(bytes.len() as u64) as usize;
                bytes[at] ^= 1 << rng.below(8);
            }
        }
        2 => {
            let at = rng.below(bytes.len() as u64) as usize;
            bytes.truncate(at.max(1));
        }
        3 => {
            // Forge the Remaining Length: up to 5 bytes, maybe not minimal, maybe huge.
            let header_end = 1 + bytes[1..].iter().take_while(|b| *b & 0x80 != 0).count() + 1;
            let forged = rng.bytes(1, 5);
            bytes.splice(1..header_end.min(bytes.len()), forged);
        }
        4 => {
            let junk = rng.bytes(1, 16);
            bytes.extend(junk);
        }
        _ => {
            // A fixed header with other flags.
            bytes[0] = (bytes[0] & 0xF0) | (rng.next() as u8 & 0x0F);
        }
    }
    bytes
}

/// One short hostile connection: maybe a valid CONNECT, then bent packets; reads what
/// comes back for a moment, then hangs up.
async fn hostile_connection(addr: std::net::SocketAddr, mut rng: Rng, sent: Arc<AtomicU64>) {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return;
    };
    let version = *rng.pick(&[
        ProtocolVersion::V31,
        ProtocolVersion::V311,
        ProtocolVersion::V5,
    ]);
    let mut wire = Vec::new();
    if rng.chance(60) {
        wire.extend(encode(&connect(&mut rng, version), version));
        sent.fetch_add(1, Ordering::Relaxed);
    }
    let count = rng.below(PACKETS_PER_CONNECTION) + 1;
    for _ in 0..count {
        wire.extend(hostile_packet(&mut rng, version));
    }
    sent.fetch_add(count, Ordering::Relaxed);
    if rng.chance(50) {
        let _ = stream.write_all(&wire).await;
    } else {
        // Dribble it in pieces, so packets straddle reads.
        for chunk in wire.chunks(rng.below(16) as usize + 1) {
            if stream.write_all(chunk).await.is_err() {
                break;
            }
        }
    }
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(30), async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_input_on_many_connections_leaves_a_well_behaved_client_untouched() {
    let seed = std::env::var("MQ_HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    eprintln!("hostile input seed: {seed} (set MQ_HOSTILE_SEED to replay)");
    let broker = Broker::start_with(&["--connect-timeout", "2"]);
    let addr = broker.addr();

    let mut sub = Mqtt::connect(&broker, "steady-subscriber-0b1e").await;
    sub.subscribe("steady/stream", rumqttc::QoS::AtLeastOnce)
        .await;
    let mut publisher = Mqtt::connect(&broker, "steady-publisher-0b1e").await;

    // The attack, in the background.
    let done = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let attack = {
        let done = done.clone();
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut rng = Rng(seed | 1);
            let permits = Arc::new(Semaphore::new(PARALLEL));
            let mut tasks = Vec::with_capacity(CONNECTIONS);
            for _ in 0..CONNECTIONS {
                let permit = permits.clone().acquire_owned().await.unwrap();
                let conn_rng = Rng(rng.next() | 1);
                let sent = sent.clone();
                tasks.push(tokio::spawn(async move {
                    hostile_connection(addr, conn_rng, sent).await;
                    drop(permit);
                }));
            }
            for task in tasks {
                task.await.expect("hostile connection task");
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    // The well-behaved pair, throughout the attack and a little after it.
    let receiver = tokio::spawn(async move {
        let mut expected = 0u64;
        loop {
            let got = sub.recv_on("steady/stream").await;
            if text(&got) == "end" {
                return expected;
            }
            assert_eq!(
                text(&got),
                expected.to_string(),
                "steady message lost or reordered"
            );
            expected += 1;
        }
    });
    let mut published = 0u64;
    let mut peak_rss_kb = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done.load(Ordering::SeqCst) || published < 100 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the attack did not finish within 20 s ({} packets sent)",
            sent.load(Ordering::Relaxed)
        );
        publisher
            .publish(
                "steady/stream",
                rumqttc::QoS::AtLeastOnce,
                false,
                published.to_string(),
            )
            .await;
        published += 1;
        peak_rss_kb = peak_rss_kb.max(broker.memory_kb("VmRSS"));
        // Pacing, not synchronisation: spread the steady messages over the attack.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    attack.await.unwrap();
    publisher
        .publish("steady/stream", rumqttc::QoS::AtLeastOnce, false, "end")
        .await;
    let received = tokio::time::timeout(Duration::from_secs(10), receiver)
        .await
        .expect("the steady subscriber did not finish")
        .expect("steady subscriber");
    assert_eq!(received, published, "every steady message arrived");

    let total = sent.load(Ordering::Relaxed);
    assert!(total >= 2000, "the generator sent only {total} packets");
    let mut broker = broker;
    assert!(broker.exit_status().is_none(), "the broker died");
    assert!(
        !broker.stderr().contains("panicked"),
        "a broker task panicked"
    );
    let hwm = broker.memory_kb("VmHWM");
    eprintln!(
        "hostile: {total} packets on {CONNECTIONS} connections, {published} steady messages, \
         VmRSS peak sampled {peak_rss_kb} kB, VmHWM {hwm} kB"
    );
    assert!(
        hwm < MEMORY_BOUND_KB,
        "broker peak RSS {hwm} kB exceeds {MEMORY_BOUND_KB} kB"
    );
    // Still serving newcomers.
    let mut late = Mqtt::connect(&broker, "late-comer").await;
    late.publish("steady/after", rumqttc::QoS::ExactlyOnce, false, "ok")
        .await;
}
