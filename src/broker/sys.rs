//! Periodic work: the `$SYS/broker/...` topics and the expiry of offline sessions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mq_proto::{ByteString, Bytes, QoS};
use tokio_util::sync::CancellationToken;

use super::message::Message;
use super::stats::Stats;
use super::Shared;

/// Delayed Wills and offline sessions are checked this often.
const EXPIRY_CHECK: Duration = Duration::from_millis(250);

pub(crate) async fn housekeeping(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut expiry_tick = tokio::time::interval(EXPIRY_CHECK);
    let sys_period = shared.config.sys_interval;
    let mut sys_tick = tokio::time::interval(sys_period.unwrap_or(Duration::from_secs(3600)));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = expiry_tick.tick() => {
                let wakes = shared.state.lock().tick(Instant::now());
                wakes.notify();
            }
            _ = sys_tick.tick(), if sys_period.is_some() => publish_sys(&shared),
        }
    }
}

/// The `$SYS` topics and their values now, in Mosquitto's names and formats.
pub(crate) fn sys_topics(shared: &Shared) -> Vec<(&'static str, String)> {
    let figures = shared.state.lock().figures();
    let stats = &shared.stats;
    vec![
        (
            "$SYS/broker/version",
            format!("mq version {}", env!("CARGO_PKG_VERSION")),
        ),
        (
            "$SYS/broker/uptime",
            format!("{} seconds", shared.started_at.elapsed().as_secs()),
        ),
        (
            "$SYS/broker/clients/connected",
            figures.clients_connected.to_string(),
        ),
        (
            "$SYS/broker/clients/active",
            figures.clients_connected.to_string(),
        ),
        (
            "$SYS/broker/clients/disconnected",
            (figures.clients_total - figures.clients_connected.min(figures.clients_total))
                .to_string(),
        ),
        (
            "$SYS/broker/clients/inactive",
            (figures.clients_total - figures.clients_connected.min(figures.clients_total))
                .to_string(),
        ),
        (
            "$SYS/broker/clients/total",
            figures.clients_total.to_string(),
        ),
        (
            "$SYS/broker/clients/maximum",
            figures.clients_maximum.to_string(),
        ),
        (
            "$SYS/broker/messages/received",
            Stats::get(&stats.messages_received).to_string(),
        ),
        (
            "$SYS/broker/messages/sent",
            Stats::get(&stats.messages_sent).to_string(),
        ),
        (
            "$SYS/broker/publish/messages/dropped",
            figures.messages_dropped.to_string(),
        ),
        (
            "$SYS/broker/bytes/received",
            Stats::get(&stats.bytes_received).to_string(),
        ),
        (
            "$SYS/broker/bytes/sent",
            Stats::get(&stats.bytes_sent).to_string(),
        ),
        (
            "$SYS/broker/subscriptions/count",
            figures.subscriptions.to_string(),
        ),
        (
            "$SYS/broker/retained messages/count",
            figures.retained.to_string(),
        ),
    ]
}

fn publish_sys(shared: &Shared) {
    let now = Instant::now();
    let topics = sys_topics(shared);
    let mut state = shared.state.lock();
    let mut wakes = Vec::new();
    for (topic, value) in topics {
        let message = Message {
            topic: ByteString::from_static(topic),
            payload: Bytes::from(value),
            qos: QoS::AtMostOnce,
            retain: true,
            properties: None,
            origin: None,
            received_at: now,
            store_id: Default::default(),
        };
        wakes.push(state.publish(Arc::new(message)));
    }
    drop(state);
    for w in wakes {
        w.notify();
    }
}
