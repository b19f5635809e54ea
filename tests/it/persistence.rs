//! Crash-safe persistence: the broker is killed with SIGKILL at seeded random points while a
//! publisher streams messages to an offline persistent session, and restarted on the same
//! --data folder. Every message the broker acknowledged (PUBACK, PUBREC) must reach the
//! subscriber afterwards, in order per topic; QoS 2 exactly once.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use mq_proto::{Bytes, Packet, Properties, PubResponse, Publish, QoS};

use crate::harness::Broker;
use crate::raw::{connect_packet, pid, publish_packet, Next, Raw};

/// Change it to explore other kill points; a failure prints the seed it ran with.
const SEED: u64 = 0x6d71_7065_7273;
const ROUNDS: usize = 20;
/// The longest a round publishes before the kill.
const MAX_KILL_AFTER_MS: u64 = 60;
const TOPICS: [&str; 3] = ["crash/a", "crash/b", "crash/c/deep"];

fn start(data: &Path) -> Broker {
    let data = data.to_str().expect("temporary folders are UTF-8");
    Broker::start_with(&["--data", data, "--max-queued-messages", "1000000"])
}

fn kill(broker: &mut Broker) {
    broker.signal(libc::SIGKILL);
}

async fn persistent(broker: &Broker, client_id: &str) -> (Raw, bool) {
    let mut connect = connect_packet(client_id);
    connect.clean_start = false;
    let (raw, ack) = Raw::connect(broker.addr(), connect).await;
    (raw, ack.session_present)
}

fn payload(topic: &str, seq: u64) -> Bytes {
    Bytes::from(format!("{topic} {seq}"))
}

fn parse(payload: &[u8]) -> (String, u64) {
    let text = std::str::from_utf8(payload).expect("test payloads are UTF-8");
    let (topic, seq) = text.rsplit_once(' ').expect("payload is 'topic seq'");
    (topic.to_string(), seq.parse().expect("seq is a number"))
}

/// Publishes with up to 16 messages awaiting acknowledgement until the connection dies (the
/// kill); records each message the broker acknowledged (PUBACK, or PUBREC for QoS 2).
async fn publish_until_killed(
    raw: &mut Raw,
    qos: QoS,
    rng: &mut fastrand::Rng,
    next_seq: &mut u64,
    acked: &mut Vec<(String, u64)>,
) {
    let mut outstanding: HashMap<u16, (String, u64)> = HashMap::new();
    let mut next_id: u16 = 1;
    loop {
        while outstanding.len() < 16 {
            let topic = TOPICS[rng.usize(..TOPICS.len())];
            let id = next_id;
            next_id = next_id % 60_000 + 1;
            *next_seq += 1;
            raw.send(&Packet::Publish(Publish {
                dup: false,
                qos,
                retain: false,
                topic: topic.into(),
                packet_id: Some(pid(id)),
                properties: Properties::default(),
                payload: payload(topic, *next_seq),
            }))
            .await;
            outstanding.insert(id, (topic.to_string(), *next_seq));
        }
        match raw.next(Duration::from_secs(5)).await {
            Next::Packet(Packet::PubAck(ack)) if qos == QoS::AtLeastOnce => {
                if let Some(done) = outstanding.remove(&ack.packet_id.get()) {
                    acked.push(done);
                }
            }
            Next::Packet(Packet::PubRec(rec)) if qos == QoS::ExactlyOnce => {
                if let Some(done) = outstanding.remove(&rec.packet_id.get()) {
                    acked.push(done);
                }
                raw.send(&Packet::PubRel(PubResponse::new(rec.packet_id)))
                    .await;
            }
            Next::Packet(Packet::PubComp(_)) => {}
            Next::Packet(other) => panic!("publisher got {other:?}"),
            Next::Closed | Next::Quiet => return,
        }
    }
}

/// Receives until `expected` distinct messages arrived and then nothing more for a while,
/// completing each QoS flow; returns every PUBLISH payload in arrival order.
async fn drain(raw: &mut Raw, expected: usize) -> Vec<(String, u64, bool)> {
    let mut got = Vec::new();
    let mut distinct = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let wait = if distinct.len() >= expected {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(5)
        };
        match raw.next(wait).await {
            Next::Packet(Packet::Publish(p)) => {
                let (topic, seq) = parse(&p.payload);
                assert_eq!(*p.topic, *topic, "payload names its topic");
                distinct.insert((topic.clone(), seq));
                got.push((topic, seq, p.dup));
                let id = p.packet_id.expect("QoS 1/2 has an id");
                let reply = match p.qos {
                    QoS::AtLeastOnce => Packet::PubAck(PubResponse::new(id)),
                    _ => Packet::PubRec(PubResponse::new(id)),
                };
                raw.send(&reply).await;
            }
            Next::Packet(Packet::PubRel(rel)) => {
                raw.send(&Packet::PubComp(PubResponse::new(rel.packet_id)))
                    .await;
            }
            Next::Packet(other) => panic!("subscriber got {other:?}"),
            Next::Quiet if distinct.len() >= expected => return got,
            Next::Quiet => panic!(
                "only {} of at least {expected} messages arrived",
                distinct.len()
            ),
            Next::Closed => panic!("the broker closed the subscriber's connection"),
        }
        assert!(Instant::now() < deadline, "draining took over a minute");
    }
}

async fn survives_sigkill(qos: QoS) {
    let data = tempfile::tempdir().expect("temporary folder");
    let mut rng = fastrand::Rng::with_seed(SEED ^ qos as u64);
    let started = Instant::now();

    let mut broker = start(data.path());
    let (mut sub, present) = persistent(&broker, "crash-sub").await;
    assert!(!present);
    sub.subscribe(&[("crash/#", qos)]).await;
    sub.disconnect().await;
    let publisher_id = format!("crash-pub-{}", qos as u8);

    let mut acked = Vec::new();
    let mut next_seq = 0;
    for round in 0..ROUNDS {
        let kill_after = Duration::from_millis(rng.u64(0..=MAX_KILL_AFTER_MS));
        let mut publisher = Raw::connect_v311(broker.addr(), &publisher_id).await;
        let before = acked.len();
        tokio::select! {
            _ = publish_until_killed(&mut publisher, qos, &mut rng, &mut next_seq, &mut acked) => {}
            _ = tokio::time::sleep(kill_after) => {}
        }
        kill(&mut broker);
        assert!(
            broker.wait_exit(Duration::from_secs(5)).await.is_some(),
            "SIGKILL ends the broker"
        );
        eprintln!(
            "round {round}: killed after {kill_after:?}, {} acknowledged",
            acked.len() - before
        );
        broker = start(data.path());
    }
    assert!(
        acked.len() > ROUNDS,
        "the rounds acknowledged too little to test anything ({})",
        acked.len()
    );

    let (mut sub, present) = persistent(&broker, "crash-sub").await;
    assert!(present, "the subscriber's session survived {ROUNDS} kills");
    let got = drain(&mut sub, acked.len()).await;

    // Every acknowledged message arrived.
    let received: std::collections::HashSet<_> =
        got.iter().map(|(t, s, _)| (t.clone(), *s)).collect();
    let missing: Vec<_> = acked.iter().filter(|m| !received.contains(m)).collect();
    assert!(
        missing.is_empty(),
        "seed {SEED:#x}: {} acknowledged messages lost, first {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // In order per topic (the first arrival of each), and duplicates only where allowed.
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for (topic, seq, dup) in &got {
        if !seen.insert((topic.clone(), *seq)) {
            assert_eq!(qos, QoS::AtLeastOnce, "QoS 2 delivered {topic} {seq} twice");
            continue;
        }
        let _ = dup;
        let previous = last.insert(topic, *seq).unwrap_or(0);
        assert!(
            *seq > previous,
            "seed {SEED:#x}: {topic} {seq} arrived after {previous}"
        );
    }
    eprintln!(
        "{qos}: {ROUNDS} kills, {} acknowledged, {} delivered ({} distinct) in {:?}",
        acked.len(),
        got.len(),
        seen.len(),
        started.elapsed()
    );
}

#[tokio::test]
async fn every_puback_survives_sigkill_and_restart_in_order() {
    survives_sigkill(QoS::AtLeastOnce).await;
}

#[tokio::test]
async fn every_pubrec_survives_sigkill_and_restart_exactly_once() {
    survives_sigkill(QoS::ExactlyOnce).await;
}

#[tokio::test]
async fn retained_messages_and_subscriptions_survive_sigkill() {
    let data = tempfile::tempdir().expect("temporary folder");
    let mut broker = start(data.path());
    let mut publisher = Raw::connect_v311(broker.addr(), "retainer").await;
    publisher
        .publish("state/lamp", QoS::AtLeastOnce, true, b"on")
        .await;
    publisher
        .publish("state/door", QoS::ExactlyOnce, true, b"closed")
        .await;
    publisher
        .publish("state/door", QoS::AtLeastOnce, true, b"open")
        .await;
    kill(&mut broker);
    broker.wait_exit(Duration::from_secs(5)).await;

    let broker = start(data.path());
    let mut reader = Raw::connect_v311(broker.addr(), "reader").await;
    reader.subscribe(&[("state/#", QoS::AtLeastOnce)]).await;
    let mut got = BTreeMap::new();
    for _ in 0..2 {
        let p = reader.recv_publish().await;
        assert!(p.retain, "served as retained");
        got.insert(p.topic.to_string(), p.payload.to_vec());
    }
    assert_eq!(got["state/lamp"], b"on");
    assert_eq!(
        got["state/door"], b"open",
        "the newest retained message wins"
    );
}

#[tokio::test]
async fn check_store_reports_what_the_store_holds() {
    let data = tempfile::tempdir().expect("temporary folder");
    let mut broker = start(data.path());
    let (mut sub, _) = persistent(&broker, "offline").await;
    sub.subscribe(&[("q/#", QoS::AtLeastOnce)]).await;
    sub.disconnect().await;
    let mut publisher = Raw::connect_v311(broker.addr(), "p").await;
    for _ in 0..3 {
        publisher
            .publish("q/1", QoS::AtLeastOnce, false, b"x")
            .await;
    }
    publisher
        .publish("r", QoS::AtLeastOnce, true, b"kept")
        .await;
    kill(&mut broker);
    broker.wait_exit(Duration::from_secs(5)).await;

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mq"))
        .args(["broker", "--check-store"])
        .arg(data.path())
        .output()
        .expect("run mq broker --check-store");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "format version 2",
        "sessions: 1",
        "queued messages: 3",
        "retained messages: 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }

    // A damaged file is reported, with a non-zero exit, not a panic.
    std::fs::write(
        data.path().join("mq.redb"),
        b"not a store at all, just text",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mq"))
        .args(["broker", "--check-store"])
        .arg(data.path())
        .output()
        .expect("run mq broker --check-store");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("mq.redb"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Memory with one million queued 100-byte messages across 1,000 offline sessions: run by
/// hand (`cargo test --release --test it -- --ignored --nocapture million`); the figure is
/// in BENCHMARKS.md.
#[tokio::test]
#[ignore]
async fn million_queued_messages_memory() {
    let data = tempfile::tempdir().expect("temporary folder");
    let persistence = std::env::var("MQ_MILLION_PERSISTENCE").unwrap_or_else(|_| "sync".into());
    let dir = data.path().to_str().unwrap().to_string();
    let broker = Broker::start_with(&[
        "--data",
        &dir,
        "--persistence",
        &persistence,
        "--max-queued-messages",
        "2000",
    ]);
    const SESSIONS: usize = 1000;
    const PER_SESSION: usize = 1000;
    for i in 0..SESSIONS {
        let (mut sub, _) = persistent(&broker, &format!("m{i}")).await;
        sub.subscribe(&[(&format!("m/{i}"), QoS::AtLeastOnce)])
            .await;
        sub.disconnect().await;
    }
    let baseline = broker.memory_kb("VmRSS");
    let started = Instant::now();
    let mut publisher = Raw::connect_v311(broker.addr(), "million-pub").await;
    let body = vec![b'x'; 100];
    let mut id: u16 = 0;
    let mut waiting = 0;
    for n in 0..SESSIONS * PER_SESSION {
        id = id % 60_000 + 1;
        let topic = format!("m/{}", n % SESSIONS);
        publisher
            .send(&Packet::Publish(publish_packet(
                &topic,
                QoS::AtLeastOnce,
                id,
                false,
                &body,
            )))
            .await;
        waiting += 1;
        while waiting >= 500 {
            match publisher.recv().await {
                Packet::PubAck(_) => waiting -= 1,
                other => panic!("got {other:?}"),
            }
        }
    }
    while waiting > 0 {
        if let Packet::PubAck(_) = publisher.recv().await {
            waiting -= 1;
        }
    }
    let elapsed = started.elapsed();
    let rss = broker.memory_kb("VmRSS");
    let peak = broker.memory_kb("VmHWM");
    let file = std::fs::metadata(data.path().join("mq.redb"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "{} messages queued for {SESSIONS} offline sessions ({persistence}) in {elapsed:?}: RSS {} MiB (baseline {} MiB, peak {} MiB), store file {} MiB",
        SESSIONS * PER_SESSION,
        rss / 1024,
        baseline / 1024,
        peak / 1024,
        file / (1024 * 1024)
    );
}

/// Durable QoS 1 throughput (`--persistence sync`: write-ahead log with group commit)
/// against memory only, periodic saves, and Mosquitto with persistence on (when
/// installed), with 16 publishers each keeping 16 messages unacknowledged, 100-byte
/// payloads, to one offline persistent subscriber (so every message is queued durably).
/// Bounded: 3 s per broker and round; `MQ_THROUGHPUT_ROUNDS` rounds (default 1), the
/// brokers taking turns within each. Run by hand (`cargo test --release --test it --
/// --ignored --nocapture throughput`); the figures are in BENCHMARKS.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn durable_qos1_throughput_against_memory_only() {
    let rounds: usize = std::env::var("MQ_THROUGHPUT_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let with_mosquitto = crate::mosquitto::on_path("mosquitto").is_some();
    for round in 1..=rounds {
        println!("round {round} of {rounds}");
        for mode in ["off", "sync", "periodic"] {
            let data = tempfile::tempdir().expect("temporary folder");
            let dir = data.path().to_str().unwrap().to_string();
            let broker = Broker::start_with(&[
                "--data",
                &dir,
                "--persistence",
                mode,
                "--max-queued-messages",
                "10000000",
                // Debug level: the store threads log their syncs and commits per second.
                "-v",
            ]);
            let report = durable_qos1_load(broker.addr()).await;
            println!("mq broker --persistence {mode:<8} {report}");
            for line in broker.stderr().lines().filter(|l| l.contains("store: ")) {
                println!("    {}", line.split("store: ").nth(1).unwrap_or(line));
            }
        }
        if with_mosquitto {
            let data = tempfile::tempdir().expect("temporary folder");
            let mosquitto = crate::mosquitto::Mosquitto::start(&format!(
                "allow_anonymous true\npersistence true\npersistence_location {}/\n\
                 max_queued_messages 10000000\nmax_inflight_messages 0\n",
                data.path().display()
            ))
            .await;
            let report = durable_qos1_load(mosquitto.addr()).await;
            println!("mosquitto, persistence true       {report}");
        } else {
            println!("mosquitto not on PATH: its row is left out");
        }
    }
}

/// The load of [`durable_qos1_throughput_against_memory_only`] on the broker at `addr`:
/// PUBACKed messages per second and PUBACK latency percentiles, as one line.
async fn durable_qos1_load(addr: std::net::SocketAddr) -> String {
    const PUBLISHERS: usize = 16;
    const WINDOW: usize = 16;
    const RUN: Duration = Duration::from_secs(3);
    let (mut sub, _) = {
        let mut connect = connect_packet("throughput-sub");
        connect.clean_start = false;
        let (raw, ack) = Raw::connect(addr, connect).await;
        (raw, ack.session_present)
    };
    sub.subscribe(&[("load/#", QoS::AtLeastOnce)]).await;
    sub.disconnect().await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..PUBLISHERS {
        tasks.push(tokio::spawn(async move {
            let mut raw = Raw::connect_v311(addr, &format!("load-{p}")).await;
            let topic = format!("load/{p}");
            let body = Bytes::from(vec![b'x'; 100]);
            let (mut acked, mut waiting, mut id) = (0u64, 0usize, 0u16);
            let mut latencies = Vec::new();
            let mut sent_at = std::collections::VecDeque::new();
            while started.elapsed() < RUN {
                while waiting < WINDOW {
                    id = id % 60_000 + 1;
                    // The shared body, not a copy per message: this loop is timed.
                    raw.send(&Packet::Publish(Publish {
                        payload: body.clone(),
                        ..publish_packet(&topic, QoS::AtLeastOnce, id, false, &[])
                    }))
                    .await;
                    sent_at.push_back(Instant::now());
                    waiting += 1;
                }
                if let Packet::PubAck(_) = raw.recv().await {
                    waiting -= 1;
                    acked += 1;
                    if let Some(at) = sent_at.pop_front() {
                        latencies.push(at.elapsed());
                    }
                }
            }
            (acked, latencies)
        }));
    }
    let mut total = 0;
    let mut latencies = Vec::new();
    for task in tasks {
        let (acked, mut l) = task.await.expect("publisher task");
        total += acked;
        latencies.append(&mut l);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    format!(
        "{PUBLISHERS} publishers x {WINDOW} in flight: {:>7.0} PUBACKed msg/s, PUBACK latency p50 {:?} p99 {:?}",
        total as f64 / elapsed.as_secs_f64(),
        at(0.5),
        at(0.99)
    )
}
