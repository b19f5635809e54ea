//! Hostile clients against one broker, which must stay bounded and keep serving.
//!
//! The first test is a seeded generator (set `MQ_HOSTILE_SEED` to replay another run) that
//! sends a few thousand packets on many short connections: random bytes, and valid packets
//! of every type and version with flipped bytes, truncations, forged Remaining Lengths and
//! trailing junk. Meanwhile rumqttc publishes QoS 1 messages to a rumqttc subscriber, which
//! must get every one, in order. Afterwards the broker is alive, serves new clients, and
//! its peak resident memory stayed under a stated bound.
//!
//! The others are one attack each: a CONNECT trickled byte by byte, thousands of
//! connections that never finish CONNECT, a huge Remaining Length with no body, a client
//! with 100,000 subscriptions, topics with thousands of levels, a million distinct topics,
//! a subscriber that never reads, a reconnect storm on one client identifier, and the QoS 2
//! flow driven out of order. Memory is read from `/proc/PID/status` (VmRSS); bounds are
//! generous and the measured figures are printed.

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
use crate::raw::{connect_packet, pid, publish_packet, Next, Raw, PATIENCE};

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

/// A clean MQTT 5 session with `client_id`, keep alive off.
fn connect_v5(client_id: &str) -> Connect {
    Connect {
        protocol: ProtocolVersion::V5,
        ..connect_packet(client_id)
    }
}

/// Kilobytes from the broker's VmRSS `before` to `after`, never negative.
fn growth_kb(before: u64, after: u64) -> u64 {
    after.saturating_sub(before)
}

#[tokio::test]
async fn a_connect_trickled_byte_by_byte_is_closed_at_the_connect_timeout() {
    let broker = Broker::start_with(&["--connect-timeout", "1"]);
    let connect = Packet::Connect(Box::new(connect_packet(&"s".repeat(200))));
    let bytes = encode(&connect, ProtocolVersion::V311);
    let mut slow = Raw::tcp(broker.addr()).await;
    // One byte every 50 ms: the whole CONNECT would take over 10 s. A byte must not
    // restart the clock, so the broker closes long before the last one.
    let mut sent = 0;
    loop {
        assert!(
            sent < bytes.len() - 1,
            "the broker waited for {sent} trickled bytes of a {}-byte CONNECT",
            bytes.len()
        );
        slow.send_bytes(&bytes[sent..=sent]).await;
        sent += 1;
        match slow.next(Duration::from_millis(50)).await {
            Next::Quiet => {}
            Next::Closed => break,
            Next::Packet(p) => panic!("the broker answered a partial CONNECT with {p:?}"),
        }
    }
    eprintln!(
        "slowloris: closed after {sent} of {} bytes, 50 ms apart",
        bytes.len()
    );
    Raw::connect_v311(broker.addr(), "prompt")
        .await
        .ping()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_half_open_connections_stay_cheap_and_a_good_client_is_served() {
    const HALF_OPEN: usize = 2000;
    let broker = Broker::start_with(&["--connect-timeout", "5"]);
    let files_before = broker.open_files();
    let before = broker.memory_kb("VmRSS");
    let mut idle = Vec::with_capacity(HALF_OPEN);
    for n in 0..HALF_OPEN {
        let mut stream = TcpStream::connect(broker.addr())
            .await
            .expect("TCP connect");
        // Half start a CONNECT and never finish it, half send nothing at all.
        if n % 2 == 0 {
            stream.write_all(&[0x10, 0x20, 0x00]).await.expect("write");
        }
        idle.push(stream);
    }

    // A good client gets through the crowd and completes a QoS 1 round trip.
    let mut good = Mqtt::connect(&broker, "good").await;
    good.subscribe("good/t", rumqttc::QoS::AtLeastOnce).await;
    good.publish("good/t", rumqttc::QoS::AtLeastOnce, false, "through")
        .await;
    assert_eq!(text(&good.recv_on("good/t").await), "through");
    let during = broker.memory_kb("VmRSS");
    let per_connection = growth_kb(before, during) * 1024 / HALF_OPEN as u64;
    eprintln!(
        "half-open: {HALF_OPEN} connections, VmRSS {before} -> {during} kB, \
         {per_connection} bytes each"
    );
    assert!(
        per_connection < 64 * 1024,
        "a half-open connection costs {per_connection} bytes"
    );

    // Every one of them is closed at the connect timeout.
    for (n, stream) in idle.iter_mut().enumerate() {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(PATIENCE * 3, stream.read(&mut byte)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "half-open connection {n} was not closed: {read:?}"
        );
    }
    drop(idle);
    good.publish("good/t", rumqttc::QoS::AtLeastOnce, false, "after")
        .await;
    assert_eq!(text(&good.recv_on("good/t").await), "after");
    // The closed connections' sockets are gone from the broker (the good client's is new).
    broker
        .wait_for_open_files(|files| files <= files_before + 1)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_remaining_lengths_announced_without_a_body_reserve_no_memory() {
    const CONNECTIONS: usize = 300;
    // Just under the default --max-packet-size (1 MiB), so the size check lets it through.
    const ANNOUNCED: u32 = 1_048_000;
    let broker = Broker::start();
    let before = broker.memory_kb("VmRSS");
    let mut header = BytesMut::from(&[0x30][..]);
    mq_proto::put_varint(&mut header, ANNOUNCED);
    header.extend_from_slice(&[0x00, 0x01, b't', b'x', b'y']);
    let mut announcers = Vec::with_capacity(CONNECTIONS);
    for n in 0..CONNECTIONS {
        let mut raw = Raw::connect_v311(broker.addr(), &format!("announcer-{n}")).await;
        raw.send_bytes(&header).await;
        announcers.push(raw);
    }
    let mut bystander = Raw::connect_v311(broker.addr(), "bystander").await;
    bystander.ping().await;
    let after = broker.memory_kb("VmRSS");
    let growth = growth_kb(before, after);
    eprintln!(
        "{CONNECTIONS} connections announcing {ANNOUNCED} bytes each: VmRSS {before} -> {after} kB"
    );
    // Reserving what was announced would be 300 MB; the read buffers grow with what arrives.
    let bound = CONNECTIONS as u64 * u64::from(ANNOUNCED) / 8 / 1024;
    assert!(growth < bound, "VmRSS grew {growth} kB (bound {bound} kB)");
    drop(announcers);
    bystander.ping().await;
}

#[tokio::test]
async fn a_hundred_thousand_subscriptions_from_one_client_stop_at_the_limit() {
    const BATCHES: usize = 100;
    const PER_BATCH: usize = 1000;
    let broker = Broker::start();
    let (mut hoarder, _) = Raw::connect(broker.addr(), connect_v5("hoarder")).await;
    let (mut granted, mut refused) = (0, 0);
    for batch in 0..BATCHES {
        let filters: Vec<String> = (0..PER_BATCH)
            .map(|i| format!("hoard/{batch}/{i}"))
            .collect();
        let filters: Vec<(&str, QoS)> = filters
            .iter()
            .map(|f| (f.as_str(), QoS::AtMostOnce))
            .collect();
        for code in hoarder.subscribe(&filters).await {
            match code {
                ReasonCode::Success => granted += 1,
                ReasonCode::QuotaExceeded => refused += 1,
                other => panic!("SUBACK {other:?}"),
            }
        }
    }
    eprintln!("100,000 subscriptions asked: {granted} granted, {refused} refused");
    assert_eq!(
        granted,
        mq::broker::config::DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT
    );
    assert_eq!(granted + refused, BATCHES * PER_BATCH);
    // What was granted works, and the broker serves others.
    hoarder
        .publish("hoard/0/0", QoS::AtLeastOnce, false, b"kept")
        .await;
    assert_eq!(&hoarder.recv_publish().await.payload[..], b"kept");
    Raw::connect_v311(broker.addr(), "other").await.ping().await;
}

#[tokio::test]
async fn topics_with_tens_of_thousands_of_levels_do_not_bring_the_broker_down() {
    let broker = Broker::start();
    let mut bystander = Raw::connect_v311(broker.addr(), "bystander").await;
    bystander.subscribe(&[("alive", QoS::AtMostOnce)]).await;
    // 65,535 empty levels: the longest string MQTT can carry, nothing but separators.
    let deep_name = "/".repeat(65_534);
    let deep_filter = format!("{}#", "+/".repeat(30_000));
    let mut deep = Raw::connect_v311(broker.addr(), "deep").await;
    let codes = deep
        .subscribe(&[
            (deep_name.as_str(), QoS::AtMostOnce),
            (deep_filter.as_str(), QoS::AtMostOnce),
        ])
        .await;
    // Refused by the level limit, or taken: either way the broker must route and remove them.
    let granted = codes.iter().filter(|c| **c == ReasonCode::Success).count();
    deep.publish(&deep_name, QoS::AtLeastOnce, false, b"deep")
        .await;
    for _ in 0..granted.min(1) {
        assert_eq!(&deep.recv_publish().await.payload[..], b"deep");
    }
    deep.unsubscribe(&[&deep_name, &deep_filter]).await;
    drop(deep);

    let mut newcomer = Raw::connect_v311(broker.addr(), "newcomer").await;
    newcomer
        .publish("alive", QoS::AtLeastOnce, false, b"yes")
        .await;
    assert_eq!(&bystander.recv_publish().await.payload[..], b"yes");
    assert!(
        !broker.stderr().contains("panicked"),
        "a broker task panicked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_distinct_retained_topics_take_bounded_time_and_memory() {
    const TOPICS: usize = 1_000_000;
    let broker = Broker::start();
    let before = broker.memory_kb("VmRSS");
    let started = tokio::time::Instant::now();
    let mut sprayer = Raw::connect_v311(broker.addr(), "sprayer").await;
    let mut batch = BytesMut::new();
    for n in 0..TOPICS {
        let topic = format!("m/{}/{}", n / 1000, n % 1000);
        mq_proto::encode(
            &Packet::Publish(publish_packet(&topic, QoS::AtMostOnce, 1, true, b"x")),
            ProtocolVersion::V311,
            &mut batch,
        );
        if batch.len() >= 64 * 1024 {
            sprayer.send_bytes(&batch).await;
            batch.clear();
        }
    }
    sprayer.send_bytes(&batch).await;
    // Packets are handled in order: the PINGRESP comes after the last PUBLISH is stored.
    sprayer.send(&Packet::PingReq).await;
    match sprayer.next(Duration::from_secs(120)).await {
        Next::Packet(Packet::PingResp) => {}
        other => panic!("a million retained PUBLISHes not stored within 120 s: {other:?}"),
    }
    let elapsed = started.elapsed();
    let after = broker.memory_kb("VmRSS");
    let per_topic = growth_kb(before, after) * 1024 / TOPICS as u64;
    eprintln!(
        "{TOPICS} retained topics in {elapsed:?}: VmRSS {before} -> {after} kB, {per_topic} bytes per topic"
    );
    assert!(per_topic < 1024, "{per_topic} bytes per retained topic");

    let mut late = Raw::connect_v311(broker.addr(), "late").await;
    late.subscribe(&[("m/999/999", QoS::AtMostOnce)]).await;
    let got = late.recv_publish().await;
    assert!(got.retain && &got.payload[..] == b"x");
}

/// Reads `$SYS/broker/publish/messages/dropped` until it reaches `at_least`.
async fn wait_for_dropped(watcher: &mut Raw, at_least: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + PATIENCE * 2;
    let mut last = 0;
    while tokio::time::Instant::now() < deadline {
        let got = watcher.recv_publish().await;
        if &*got.topic == "$SYS/broker/publish/messages/dropped" {
            last = String::from_utf8_lossy(&got.payload).parse().unwrap_or(0);
            if last >= at_least {
                return last;
            }
        }
    }
    panic!("messages dropped reached only {last}, expected at least {at_least}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_is_held_to_its_queue_limit_and_others_are_unaffected() {
    const MESSAGES: usize = 2000;
    const PAYLOAD: usize = 64 * 1024;
    const QUEUE: usize = 100;
    let broker = Broker::start_with(&[
        "--max-queued-messages",
        &QUEUE.to_string(),
        "--sys-interval",
        "1",
    ]);
    let mut stalled = Raw::connect_v311(broker.addr(), "stalled").await;
    stalled.subscribe(&[("flood", QoS::AtLeastOnce)]).await;
    let mut steady = Raw::connect_v311(broker.addr(), "steady").await;
    steady.subscribe(&[("flood", QoS::AtLeastOnce)]).await;
    let before = broker.memory_kb("VmRSS");

    // The publisher stays within half a queue of what the steady subscriber has read: what
    // is under test is that the stalled one does not hold it up, not how fast this test's
    // own reader runs on a loaded machine (it could otherwise fall a queue behind and see
    // drops that are the broker keeping its limit).
    let (progress, mut read_so_far) = tokio::sync::watch::channel(0usize);
    let reader = tokio::spawn(async move {
        for expected in 0..MESSAGES {
            let got = steady.recv_publish().await;
            steady.puback(got.packet_id.expect("QoS 1")).await;
            let n = u32::from_be_bytes(got.payload[..4].try_into().unwrap());
            assert_eq!(
                n as usize, expected,
                "the steady subscriber lost or reordered"
            );
            progress.send_replace(expected + 1);
        }
    });
    let mut publisher = Raw::connect_v311(broker.addr(), "publisher").await;
    let mut payload = vec![0u8; PAYLOAD];
    for n in 0..MESSAGES as u32 {
        let lead_limit = n as usize - (n as usize).min(QUEUE / 2);
        tokio::time::timeout(PATIENCE, read_so_far.wait_for(|read| *read >= lead_limit))
            .await
            .expect("the steady subscriber stopped receiving")
            .expect("the reader ended early");
        payload[..4].copy_from_slice(&n.to_be_bytes());
        publisher
            .publish("flood", QoS::AtLeastOnce, false, &payload)
            .await;
    }
    tokio::time::timeout(PATIENCE * 4, reader)
        .await
        .expect("the steady subscriber fell behind")
        .unwrap();
    let peak = broker.memory_kb("VmHWM");
    let growth = growth_kb(before, peak);
    let sent_kb = (MESSAGES * PAYLOAD / 1024) as u64;
    eprintln!(
        "never-reading subscriber: {sent_kb} kB published, VmRSS {before} kB -> peak {peak} kB"
    );
    // What the stalled subscriber may hold: its queue, its in-flight window and what its
    // socket buffers took; far less than the flood.
    assert!(
        growth < sent_kb / 3,
        "the broker grew {growth} kB for a {sent_kb} kB flood"
    );
    let mut watcher = Raw::connect_v311(broker.addr(), "watcher").await;
    watcher
        .subscribe(&[("$SYS/broker/publish/messages/dropped", QoS::AtMostOnce)])
        .await;
    // Everything beyond the queue, the in-flight window (20) and the socket's buffers.
    let dropped = wait_for_dropped(&mut watcher, (MESSAGES - QUEUE - 20 - 200) as u64).await;
    eprintln!("dropped for the stalled subscriber: {dropped}");
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_storm_on_one_client_id_leaks_neither_connections_nor_memory() {
    const STORM: usize = 1000;
    const WARM_UP: usize = 50;
    let broker = Broker::start();
    let mut watcher = Raw::connect_v311(broker.addr(), "watcher").await;
    watcher.subscribe(&[("storm/will", QoS::AtMostOnce)]).await;
    let storm = |count: usize| {
        let addr = broker.addr();
        async move {
            // Each new connection takes over the one before, which is still open.
            let mut previous: Option<Raw> = None;
            for n in 0..count {
                let mut connect = connect_packet("stormy");
                connect.clean_start = n % 2 == 0;
                connect.will = Some(crate::raw::will("storm/will", "gone", QoS::AtMostOnce));
                let (raw, _) = Raw::connect(addr, connect).await;
                previous = Some(raw);
            }
            if let Some(last) = previous {
                last.disconnect().await;
            }
        }
    };
    let files_before = broker.open_files();
    storm(WARM_UP).await;
    watcher.ping().await;
    let before = broker.memory_kb("VmRSS");

    storm(STORM).await;
    // Every taken-over connection published its Will (the last one said DISCONNECT).
    let mut wills = 0;
    while wills < WARM_UP - 1 + STORM - 1 {
        assert_eq!(&watcher.recv_publish().await.topic[..], "storm/will");
        wills += 1;
    }
    broker
        .wait_for_open_files(|files| files <= files_before)
        .await;
    let after = broker.memory_kb("VmRSS");
    eprintln!("reconnect storm of {STORM}: VmRSS {before} -> {after} kB");
    assert!(
        growth_kb(before, after) < 8 * 1024,
        "VmRSS grew {} kB over {STORM} takeovers",
        growth_kb(before, after)
    );
    watcher.ping().await;
}

#[tokio::test]
async fn pubrel_for_unknown_ids_replays_and_reused_packet_ids_are_answered_without_harm() {
    let broker = Broker::start();
    let mut watcher = Raw::connect_v311(broker.addr(), "watcher").await;
    watcher.subscribe(&[("replay", QoS::AtMostOnce)]).await;
    let (mut client, _) = Raw::connect(broker.addr(), connect_v5("replayer")).await;
    let not_found = |id| PubResponse::with_reason(pid(id), ReasonCode::PacketIdentifierNotFound);

    // A PUBREL for an identifier never used: PUBCOMP 0x92, and the connection stays.
    client.send(&Packet::PubRel(PubResponse::new(pid(9)))).await;
    assert_eq!(client.recv().await, Packet::PubComp(not_found(9)));

    // A QoS 2 message, completed; its PUBREL replayed is answered 0x92, not routed again.
    let qos2 = |payload: &'static [u8]| {
        Packet::Publish(Publish {
            packet_id: Some(pid(7)),
            ..publish_packet("replay", QoS::ExactlyOnce, 1, false, payload)
        })
    };
    for (payload, replays) in [(&b"one"[..], 3), (&b"two"[..], 1)] {
        // The same Packet Identifier again once the first flow is complete: a new message.
        client.send(&qos2(payload)).await;
        assert_eq!(
            client.recv().await,
            Packet::PubRec(PubResponse::new(pid(7)))
        );
        client.send(&Packet::PubRel(PubResponse::new(pid(7)))).await;
        assert_eq!(
            client.recv().await,
            Packet::PubComp(PubResponse::new(pid(7)))
        );
        for _ in 0..replays {
            client.send(&Packet::PubRel(PubResponse::new(pid(7)))).await;
            assert_eq!(client.recv().await, Packet::PubComp(not_found(7)));
        }
    }
    // QoS 1 reuses an identifier at once: every PUBLISH is a new message.
    for _ in 0..2 {
        client
            .publish("replay", QoS::AtLeastOnce, false, b"three")
            .await;
    }
    // 3.1.1 has no reason codes: an unknown PUBREL still gets its PUBCOMP.
    let mut old = Raw::connect_v311(broker.addr(), "old-replayer").await;
    old.send(&Packet::PubRel(PubResponse::new(pid(3)))).await;
    assert_eq!(old.recv().await, Packet::PubComp(PubResponse::new(pid(3))));

    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(watcher.recv_publish().await.payload);
    }
    assert_eq!(got, [&b"one"[..], b"two", b"three", b"three"]);
    watcher.expect_quiet(Duration::from_millis(200)).await;
}
