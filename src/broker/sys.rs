//! Periodic work: the `$SYS/broker/...` topics, the load averages, and the expiry of
//! offline sessions. The figures are listed once ([`figures`]) and read by both `$SYS` and
//! the metrics endpoint (`metrics.rs`).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mq_proto::{ByteString, Bytes, QoS};
use tokio_util::sync::CancellationToken;

use super::message::Message;
use super::stats::Stats;
use super::Shared;

/// Delayed Wills and offline sessions are checked this often.
const EXPIRY_CHECK: Duration = Duration::from_millis(250);

/// How often the load averages move when `$SYS` is off but the metrics endpoint is on.
const LOAD_PERIOD_WITHOUT_SYS: Duration = Duration::from_secs(10);

pub(crate) async fn housekeeping(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut expiry_tick = tokio::time::interval(EXPIRY_CHECK);
    let sys_period = shared.config.sys_interval;
    let reporting = sys_period.is_some() || shared.config.metrics.is_some();
    let mut report_tick = tokio::time::interval(sys_period.unwrap_or(LOAD_PERIOD_WITHOUT_SYS));
    let mut published = Published::default();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = expiry_tick.tick() => {
                let wakes = shared.state.lock().tick(Instant::now());
                wakes.notify();
            }
            _ = report_tick.tick(), if reporting => {
                let figures = figures(&shared);
                shared.stats.loads.lock().update(Instant::now(), figures.load_counters);
                if sys_period.is_some() {
                    published.publish_changes(&shared, &figures);
                }
            }
        }
    }
}

/// Whether a Prometheus counter only grows or a gauge goes both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
}

/// One figure the broker reports: its `$SYS` topics (none, one, or a current and a legacy
/// name), its metric name, and its value now.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    pub topics: &'static [&'static str],
    pub metric: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub value: u64,
}

/// The broker's figures at one moment.
pub(crate) struct Figures {
    pub uptime: Duration,
    pub list: Vec<Figure>,
    /// The counters the load averages follow.
    pub load_counters: [u64; super::stats::LOAD_MEASURES.len()],
}

pub(crate) const VERSION_TOPIC: &str = "$SYS/broker/version";

/// Every figure now, in Mosquitto's `$SYS` names. Takes the state lock once.
pub(crate) fn figures(shared: &Shared) -> Figures {
    let state = shared.state.lock().figures();
    let stats = &shared.stats;
    let get = Stats::get;
    let n = |v: usize| v as u64;
    let figure = |topics, metric, kind, help, value| Figure {
        topics,
        metric,
        kind,
        help,
        value,
    };
    use Kind::{Counter, Gauge};
    let mut list = vec![
        figure(
            &[
                "$SYS/broker/clients/connected",
                "$SYS/broker/clients/active",
            ],
            "mq_clients_connected",
            Gauge,
            "Clients connected now.",
            n(state.clients_connected),
        ),
        figure(
            &[
                "$SYS/broker/clients/disconnected",
                "$SYS/broker/clients/inactive",
            ],
            "mq_clients_disconnected",
            Gauge,
            "Sessions kept for clients that are not connected.",
            n(state.clients_total.saturating_sub(state.clients_connected)),
        ),
        figure(
            &["$SYS/broker/clients/total"],
            "mq_sessions",
            Gauge,
            "Sessions, of clients connected or not.",
            n(state.clients_total),
        ),
        figure(
            &["$SYS/broker/clients/maximum"],
            "mq_clients_maximum",
            Gauge,
            "Most clients connected at once since the broker started.",
            n(state.clients_maximum),
        ),
        figure(
            &["$SYS/broker/clients/expired"],
            "mq_clients_expired_total",
            Counter,
            "Sessions ended because their expiry interval passed while offline.",
            state.clients_expired,
        ),
        figure(
            &["$SYS/broker/messages/received"],
            "mq_messages_received_total",
            Counter,
            "MQTT packets of any type received.",
            get(&stats.messages_received),
        ),
        figure(
            &["$SYS/broker/messages/sent"],
            "mq_messages_sent_total",
            Counter,
            "MQTT packets of any type sent.",
            get(&stats.messages_sent),
        ),
        figure(
            &[
                "$SYS/broker/store/messages/count",
                "$SYS/broker/messages/stored",
            ],
            "mq_store_messages",
            Gauge,
            "Messages held: retained ones, and those queued or in flight per session.",
            n(state.stored_messages),
        ),
        figure(
            &["$SYS/broker/store/messages/bytes"],
            "mq_store_messages_bytes",
            Gauge,
            "Payload bytes of the messages held.",
            n(state.stored_bytes),
        ),
        figure(
            &["$SYS/broker/publish/messages/received"],
            "mq_publish_messages_received_total",
            Counter,
            "PUBLISH packets received.",
            get(&stats.publish_received),
        ),
        figure(
            &["$SYS/broker/publish/messages/sent"],
            "mq_publish_messages_sent_total",
            Counter,
            "PUBLISH packets sent.",
            get(&stats.publish_sent),
        ),
        figure(
            &["$SYS/broker/publish/messages/dropped"],
            "mq_publish_messages_dropped_total",
            Counter,
            "Messages dropped because a session's queue was full.",
            state.messages_dropped,
        ),
        figure(
            &["$SYS/broker/publish/bytes/received"],
            "mq_publish_bytes_received_total",
            Counter,
            "Payload bytes of the PUBLISH packets received.",
            get(&stats.publish_bytes_received),
        ),
        figure(
            &["$SYS/broker/publish/bytes/sent"],
            "mq_publish_bytes_sent_total",
            Counter,
            "Payload bytes of the PUBLISH packets sent.",
            get(&stats.publish_bytes_sent),
        ),
        figure(
            &["$SYS/broker/bytes/received"],
            "mq_bytes_received_total",
            Counter,
            "Bytes of MQTT packets received.",
            get(&stats.bytes_received),
        ),
        figure(
            &["$SYS/broker/bytes/sent"],
            "mq_bytes_sent_total",
            Counter,
            "Bytes of MQTT packets sent.",
            get(&stats.bytes_sent),
        ),
        figure(
            &["$SYS/broker/subscriptions/count"],
            "mq_subscriptions",
            Gauge,
            "Subscriptions, shared ones included.",
            n(state.subscriptions),
        ),
        figure(
            &["$SYS/broker/shared_subscriptions/count"],
            "mq_shared_subscriptions",
            Gauge,
            "Shared subscriptions ($share/...), one per member.",
            n(state.shared_subscriptions),
        ),
        figure(
            &["$SYS/broker/retained messages/count"],
            "mq_retained_messages",
            Gauge,
            "Retained messages.",
            n(state.retained),
        ),
        figure(
            &[],
            "mq_sockets_opened_total",
            Counter,
            "Sockets accepted, before any limit or handshake.",
            get(&stats.sockets),
        ),
        figure(
            &[],
            "mq_connections_total",
            Counter,
            "Connections accepted (CONNACK 0).",
            get(&stats.connections_total),
        ),
    ];
    if let Some(heap) = heap_in_use() {
        let maximum = stats
            .heap_maximum
            .fetch_max(heap, Ordering::Relaxed)
            .max(heap);
        list.push(figure(
            &["$SYS/broker/heap/current"],
            "mq_heap_bytes",
            Gauge,
            "Heap bytes in use (glibc mallinfo2).",
            heap,
        ));
        list.push(figure(
            &["$SYS/broker/heap/maximum"],
            "mq_heap_maximum_bytes",
            Gauge,
            "The most heap bytes in use seen by a report ($SYS interval or scrape).",
            maximum,
        ));
    }
    Figures {
        uptime: shared.started_at.elapsed(),
        list,
        load_counters: stats.load_counters(state.messages_dropped),
    }
}

/// Heap bytes in use: allocated chunks in every arena plus mmapped blocks. glibc
/// walks its free lists for this, which is cheap at a reporting interval; other platforms
/// report no heap figures.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap_in_use() -> Option<u64> {
    // SAFETY: mallinfo2 takes no arguments and only reads the allocator's own statistics.
    #[allow(unsafe_code)]
    let info = unsafe { libc::mallinfo2() };
    u64::try_from(info.uordblks.saturating_add(info.hblkhd)).ok()
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap_in_use() -> Option<u64> {
    None
}

/// The `$SYS` topics and their values, in Mosquitto's names and formats.
pub(crate) fn sys_values(shared: &Shared, figures: &Figures) -> Vec<(String, String)> {
    let mut values = vec![
        (
            VERSION_TOPIC.to_string(),
            format!("mq version {}", env!("CARGO_PKG_VERSION")),
        ),
        (
            "$SYS/broker/uptime".to_string(),
            format!("{} seconds", figures.uptime.as_secs()),
        ),
    ];
    for figure in &figures.list {
        for topic in figure.topics {
            values.push((topic.to_string(), figure.value.to_string()));
        }
    }
    for (measure, minutes, average) in shared.stats.loads.lock().iter() {
        values.push((
            format!("$SYS/broker/load/{measure}/{minutes}min"),
            format!("{average:.2}"),
        ));
    }
    values
}

/// What each `$SYS` topic was last published with. As Mosquitto does, a topic is published
/// (retained) only when its value changes: the version once, the uptime every interval.
#[derive(Default)]
struct Published {
    values: HashMap<String, String>,
}

impl Published {
    fn publish_changes(&mut self, shared: &Shared, figures: &Figures) {
        let now = Instant::now();
        let changed: Vec<(String, String)> = sys_values(shared, figures)
            .into_iter()
            .filter(|(topic, value)| self.values.get(topic) != Some(value))
            .collect();
        if changed.is_empty() {
            return;
        }
        let mut wakes = Vec::with_capacity(changed.len());
        let mut state = shared.state.lock();
        for (topic, value) in changed {
            let message = Message {
                topic: ByteString::from(topic.as_str()),
                payload: Bytes::from(value.clone().into_bytes()),
                // Each value is superseded by the next interval's: a retransmission
                // would only deliver an older one, and offline sessions need not queue them.
                qos: QoS::AtMostOnce,
                retain: true,
                properties: None,
                origin: None,
                received_at: now,
                store_id: Default::default(),
            };
            wakes.push(state.publish(Arc::new(message)));
            self.values.insert(topic, value);
        }
        drop(state);
        for w in wakes {
            w.notify();
        }
    }
}
