//! Traffic counters and their load averages.
//!
//! Connection tasks count into a [`Tally`] of plain integers as packets pass and add it to
//! the shared atomic [`Stats`] once per round of their loop, so the publish path costs a
//! few integer additions and no lock; `$SYS` and the metrics endpoint read the atomics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mq_proto::Packet;
use parking_lot::Mutex;

#[derive(Debug, Default)]
pub struct Stats {
    /// MQTT packets of any type, as Mosquitto's `messages/received`.
    pub messages_received: AtomicU64,
    pub messages_sent: AtomicU64,
    /// PUBLISH packets and their payload bytes.
    pub publish_received: AtomicU64,
    pub publish_sent: AtomicU64,
    pub publish_bytes_received: AtomicU64,
    pub publish_bytes_sent: AtomicU64,
    /// Bytes on the wire (MQTT packets, below TLS and WebSocket framing).
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    /// Sockets accepted, before any limit or handshake.
    pub sockets: AtomicU64,
    /// CONNECTs accepted.
    pub connections_total: AtomicU64,
    /// The most heap in use seen by any report (`$SYS/broker/heap/maximum`).
    pub heap_maximum: AtomicU64,
    /// The load averages as of the last `$SYS` interval.
    pub loads: Mutex<Loads>,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// The counters the load averages follow, in [`LOAD_MEASURES`] order.
    pub fn load_counters(&self, messages_dropped: u64) -> [u64; LOAD_MEASURES.len()] {
        let get = Stats::get;
        [
            get(&self.messages_received),
            get(&self.messages_sent),
            messages_dropped,
            get(&self.publish_received),
            get(&self.publish_sent),
            get(&self.bytes_received),
            get(&self.bytes_sent),
            get(&self.sockets),
            get(&self.connections_total),
        ]
    }
}

/// One connection's counts since it last added them to [`Stats`]. 32-bit: a connection
/// adds them at every turn of its loop, far below 4 GiB, and every connection's task
/// carries one (saturating, should a turn ever count more).
#[derive(Debug, Default)]
pub struct Tally {
    messages_received: u32,
    messages_sent: u32,
    publish_received: u32,
    publish_sent: u32,
    publish_bytes_received: u32,
    publish_bytes_sent: u32,
    bytes_received: u32,
    bytes_sent: u32,
}

fn count(counter: &mut u32, n: usize) {
    *counter = counter.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
}

impl Tally {
    pub fn received(&mut self, packet: &Packet) {
        count(&mut self.messages_received, 1);
        if let Packet::Publish(publish) = packet {
            count(&mut self.publish_received, 1);
            count(&mut self.publish_bytes_received, publish.payload.len());
        }
    }

    pub fn sent(&mut self, packet: &Packet) {
        count(&mut self.messages_sent, 1);
        if let Packet::Publish(publish) = packet {
            count(&mut self.publish_sent, 1);
            count(&mut self.publish_bytes_sent, publish.payload.len());
        }
    }

    pub fn bytes_received(&mut self, n: usize) {
        count(&mut self.bytes_received, n);
    }

    pub fn bytes_sent(&mut self, n: usize) {
        count(&mut self.bytes_sent, n);
    }

    /// Adds what was counted to `stats` and starts again from zero.
    pub fn flush_into(&mut self, stats: &Stats) {
        let pairs = [
            (&mut self.messages_received, &stats.messages_received),
            (&mut self.messages_sent, &stats.messages_sent),
            (&mut self.publish_received, &stats.publish_received),
            (&mut self.publish_sent, &stats.publish_sent),
            (
                &mut self.publish_bytes_received,
                &stats.publish_bytes_received,
            ),
            (&mut self.publish_bytes_sent, &stats.publish_bytes_sent),
            (&mut self.bytes_received, &stats.bytes_received),
            (&mut self.bytes_sent, &stats.bytes_sent),
        ];
        for (local, shared) in pairs {
            if *local > 0 {
                Stats::add(shared, u64::from(std::mem::take(local)));
            }
        }
    }
}

/// What the load averages measure, as named under `$SYS/broker/load/`.
pub const LOAD_MEASURES: [&str; 9] = [
    "messages/received",
    "messages/sent",
    "publish/dropped",
    "publish/received",
    "publish/sent",
    "bytes/received",
    "bytes/sent",
    "sockets",
    "connections",
];

/// The averaging windows, in minutes.
pub const LOAD_WINDOWS: [u32; 3] = [1, 5, 15];

/// Exponentially decaying averages of per-minute rates over 1, 5 and 15 minutes, updated at
/// each `$SYS` interval as Mosquitto computes them: the rate over the last interval is
/// `delta × 60 / seconds`, and each average moves towards it by `1 - exp(-seconds / window)`.
#[derive(Debug, Default)]
pub struct Loads {
    last: Option<(Instant, [u64; LOAD_MEASURES.len()])>,
    /// Per measure, per window.
    averages: [[f64; LOAD_WINDOWS.len()]; LOAD_MEASURES.len()],
}

impl Loads {
    /// Takes in the counters at `now`. The first call only records them: every average
    /// starts at 0, as Mosquitto's first publication does.
    pub fn update(&mut self, now: Instant, counters: [u64; LOAD_MEASURES.len()]) {
        if let Some((then, previous)) = self.last {
            let seconds = now.saturating_duration_since(then).as_secs_f64();
            if seconds <= 0.0 {
                return;
            }
            for (measure, averages) in self.averages.iter_mut().enumerate() {
                let delta = counters[measure].saturating_sub(previous[measure]);
                let rate = delta as f64 * 60.0 / seconds;
                for (average, minutes) in averages.iter_mut().zip(LOAD_WINDOWS) {
                    let decay = (-seconds / (60.0 * f64::from(minutes))).exp();
                    *average = rate + decay * (*average - rate);
                }
            }
        }
        self.last = Some((now, counters));
    }

    /// Every average with its measure and window in minutes.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u32, f64)> + '_ {
        LOAD_MEASURES
            .iter()
            .zip(&self.averages)
            .flat_map(|(measure, averages)| {
                LOAD_WINDOWS
                    .iter()
                    .zip(averages)
                    .map(move |(minutes, average)| (*measure, *minutes, *average))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn average(loads: &Loads, measure: &str, minutes: u32) -> f64 {
        loads
            .iter()
            .find(|(m, w, _)| *m == measure && *w == minutes)
            .map(|(_, _, v)| v)
            .expect("a known measure")
    }

    #[test]
    fn load_averages_approach_a_steady_rate_faster_over_shorter_windows() {
        let mut loads = Loads::default();
        let start = Instant::now();
        let mut counters = [0u64; LOAD_MEASURES.len()];
        loads.update(start, counters);
        assert_eq!(average(&loads, "messages/received", 1), 0.0);
        // 120 messages every 10 s: a steady 720 per minute.
        for tick in 1..=6u32 {
            counters[0] += 120;
            loads.update(start + Duration::from_secs(10 * u64::from(tick)), counters);
        }
        let one = average(&loads, "messages/received", 1);
        let five = average(&loads, "messages/received", 5);
        let fifteen = average(&loads, "messages/received", 15);
        // After one minute the 1-minute average has covered 1 - 1/e of the way.
        let expected_one = 720.0 * (1.0 - (-1.0f64).exp());
        assert!((one - expected_one).abs() < 1e-6, "{one} vs {expected_one}");
        assert!(one > five && five > fifteen && fifteen > 0.0);
        assert_eq!(average(&loads, "messages/sent", 1), 0.0);
    }

    #[test]
    fn load_averages_decay_once_traffic_stops() {
        let mut loads = Loads::default();
        let start = Instant::now();
        let mut counters = [0u64; LOAD_MEASURES.len()];
        loads.update(start, counters);
        counters[5] = 6000;
        loads.update(start + Duration::from_secs(60), counters);
        let busy = average(&loads, "bytes/received", 1);
        loads.update(start + Duration::from_secs(120), counters);
        let quiet = average(&loads, "bytes/received", 1);
        assert!((quiet - busy * (-1.0f64).exp()).abs() < 1e-9);
    }

    #[test]
    fn a_tally_adds_packets_and_payload_bytes_once() {
        let stats = Stats::default();
        let mut tally = Tally::default();
        let publish = Packet::Publish(mq_proto::Publish {
            dup: false,
            qos: mq_proto::QoS::AtMostOnce,
            retain: false,
            topic: mq_proto::ByteString::from_static("t"),
            packet_id: None,
            properties: Default::default(),
            payload: mq_proto::Bytes::from_static(b"hello"),
        });
        tally.received(&publish);
        tally.received(&Packet::PingReq);
        tally.sent(&publish);
        tally.flush_into(&stats);
        tally.flush_into(&stats);
        assert_eq!(Stats::get(&stats.messages_received), 2);
        assert_eq!(Stats::get(&stats.publish_received), 1);
        assert_eq!(Stats::get(&stats.publish_bytes_received), 5);
        assert_eq!(Stats::get(&stats.messages_sent), 1);
        assert_eq!(Stats::get(&stats.publish_bytes_sent), 5);
    }
}
