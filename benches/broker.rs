//! The broker's routing without sockets: matching a Topic Name against 1k, 100k and 1M
//! subscriptions (a fifth of them with wildcards), and `BrokerState::publish` fanning one
//! message out to 1, 16 and 256 sessions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mq::broker::config::BrokerConfig;
use mq::broker::message::Message;
use mq::broker::session::{PeerLimits, SessionLimits};
use mq::broker::state::{BrokerState, ConnectOutcome};
use mq::broker::store::MemoryStore;
use mq::broker::subscriptions::SubscriptionTree;
use mq_proto::{
    ByteString, Bytes, Connect, PacketId, Properties, ProtocolVersion, QoS, Subscribe,
    SubscriptionOptions,
};

/// Subscription `i` of a tree: mostly exact three-level filters, one in twenty with a `+`
/// at the first level, one with a `+` in the middle, one ending in `#`. Only 1000 client
/// identifiers, shared, so the 1M tree stays a few hundred MB.
fn filter(i: usize) -> String {
    let (a, b) = (i / 1000, i % 1000);
    match i % 20 {
        0 => format!("+/{a}/{b}"),
        1 => format!("d/{a}/+/{b}"),
        2 => format!("d/{a}/{b}/#"),
        _ => format!("d/{a}/{b}"),
    }
}

fn tree(size: usize, clients: &[Arc<str>]) -> SubscriptionTree {
    let mut tree = SubscriptionTree::default();
    for i in 0..size {
        tree.insert(
            &filter(i),
            clients[i % clients.len()].clone(),
            SubscriptionOptions::new(QoS::AtMostOnce),
            None,
        );
    }
    tree
}

fn subscription_matching(c: &mut Criterion) {
    let clients: Vec<Arc<str>> = (0..1000).map(|i| Arc::from(format!("c{i}"))).collect();
    let mut group = c.benchmark_group("subscription_match");
    for (size, name) in [(1_000, "1k"), (100_000, "100k"), (1_000_000, "1M")] {
        if size >= 1_000_000 {
            // Building the tree takes seconds and hundreds of MB: few, short samples.
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(3));
        }
        let tree = tree(size, &clients);
        let topics: Vec<String> = (0..4096)
            .map(|_| {
                let i = fastrand::usize(..size);
                format!("d/{}/{}", i / 1000, i % 1000)
            })
            .collect();
        group.throughput(Throughput::Elements(1));
        let mut next = 0;
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                next = (next + 1) % topics.len();
                std::hint::black_box(tree.matches(&topics[next]).sessions.len())
            })
        });
    }
    group.finish();
}

fn connect_packet(client_id: &str) -> Connect {
    Connect {
        protocol: ProtocolVersion::V311,
        clean_start: true,
        keep_alive: 0,
        client_id: client_id.to_string(),
        will: None,
        username: None,
        password: None,
        properties: Properties::default(),
    }
}

/// A state with `sessions` connected sessions, each subscribed to `bench/#`.
fn state_with(sessions: usize) -> (BrokerState, Vec<Arc<str>>) {
    let config = BrokerConfig {
        session_limits: SessionLimits {
            max_inflight: u16::MAX,
            max_queued_messages: 1 << 20,
            max_queued_bytes: 0,
        },
        ..BrokerConfig::default()
    };
    let mut state = BrokerState::new(Arc::new(config), Box::new(MemoryStore::default()));
    let now = Instant::now();
    let peer = PeerLimits {
        protocol: ProtocolVersion::V311,
        receive_maximum: u16::MAX,
        maximum_packet_size: usize::MAX,
    };
    let mut ids = Vec::new();
    for i in 0..sessions {
        let connect = connect_packet(&format!("s{i}"));
        match state.connect(&connect, peer, i as u64, Arc::default(), now) {
            ConnectOutcome::Accepted {
                client_id, wakes, ..
            } => {
                wakes.notify();
                let subscribe = Subscribe {
                    packet_id: PacketId::MIN,
                    filters: vec![(
                        "bench/#".to_string(),
                        SubscriptionOptions::new(QoS::AtMostOnce),
                    )],
                    properties: Properties::default(),
                };
                let _ = state.subscribe(&client_id, &subscribe, now);
                ids.push(client_id);
            }
            ConnectOutcome::Refused(code) => panic!("the bench session was refused: {code}"),
        }
    }
    (state, ids)
}

fn message() -> Arc<Message> {
    Arc::new(Message {
        topic: ByteString::from_static("bench/1"),
        payload: Bytes::from(vec![0u8; 64]),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: None,
        origin: None,
        received_at: Instant::now(),
        store_id: Default::default(),
    })
}

/// Empties every session's queue, as the connection tasks would.
fn drain(state: &mut BrokerState, ids: &[Arc<str>]) {
    let now = Instant::now();
    for id in ids {
        if let Some(session) = state.session_mut(id) {
            while session.next_publish(now).is_some() {}
        }
    }
}

fn router_fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("router_fanout");
    for sessions in [1usize, 16, 256] {
        let (mut state, ids) = state_with(sessions);
        let message = message();
        group.throughput(Throughput::Elements(sessions as u64));
        // Routing alone: match, one Delivery per session, wake-ups. The queues are emptied
        // between batches, outside the measured time.
        group.bench_function(BenchmarkId::new("publish", sessions), |b| {
            b.iter_custom(|iters| {
                let mut measured = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let batch = left.min(256);
                    let began = Instant::now();
                    for _ in 0..batch {
                        state.publish(message.clone()).notify();
                    }
                    measured += began.elapsed();
                    drain(&mut state, &ids);
                    left -= batch;
                }
                measured
            })
        });
        // Routing and what the subscribers' tasks then do under the lock: take each
        // Delivery off its queue as a PUBLISH.
        group.bench_function(BenchmarkId::new("publish_and_dequeue", sessions), |b| {
            b.iter(|| {
                state.publish(message.clone()).notify();
                drain(&mut state, &ids);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, subscription_matching, router_fanout);
criterion_main!(benches);
