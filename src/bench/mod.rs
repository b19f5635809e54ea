//! `mq bench`: an MQTT load generator in the spirit of emqtt-bench and `mqttx bench`.
//!
//! Built on the project's own codec over tokio `TcpStream`s, with each PUBLISH encoded
//! once and copied per message, and reads and writes in batches, so that the load
//! generator is not what limits a measurement. Every payload carries its publisher, a
//! sequence number and the send time: subscribers count losses, duplicates and
//! reordering per publisher and keep the latencies in an HdrHistogram.
//!
//! The library does not print: [`run`] returns a [`Report`] and updates a [`Progress`]
//! that the command line may show.

mod accounting;
mod connection;
mod payload;
mod report;
mod scenario;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use mq_proto::{DecodeError, ProtocolVersion, QoS, ReasonCode};

pub use accounting::{Latency, Percentiles, SeqBook, SeqTracker, StreamCounts, MAX_TRACKED_SEQ};
pub use payload::{default_filter, expand_topic, Header, PublishTemplate, HEADER_LEN};
pub use report::{ConnectFigures, PublishFigures, ReceiveFigures, Report, RetainedFigures};
pub use scenario::run;

/// What a bench run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// N clients publish; nobody subscribes.
    Pub,
    /// N clients subscribe and count what arrives (from `mq bench pub` elsewhere).
    Sub,
    /// A connection storm, then the connections stay idle.
    Conn,
    /// N publishers, one subscriber on a wildcard filter.
    Fanin,
    /// One publisher, N subscribers.
    Fanout,
    /// Publishers at a fixed rate and one subscriber: the latency percentiles.
    Latency,
    /// Stores retained messages, then times a new subscriber receiving them all.
    Retained,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Pub => "pub",
            Scenario::Sub => "sub",
            Scenario::Conn => "conn",
            Scenario::Fanin => "fanin",
            Scenario::Fanout => "fanout",
            Scenario::Latency => "latency",
            Scenario::Retained => "retained",
        }
    }

    /// Whether a subscriber in this run reads bench payloads from this run's publishers.
    fn tracks_own_publishers(self) -> bool {
        matches!(
            self,
            Scenario::Fanin | Scenario::Fanout | Scenario::Latency | Scenario::Retained
        )
    }
}

/// Everything a run needs; the command line fills it in.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub scenario: Scenario,
    pub broker: SocketAddr,
    /// How the broker was named, for the report.
    pub broker_name: String,
    pub version: ProtocolVersion,
    /// Clients: publishers for pub and fanin, subscribers for sub and fanout,
    /// connections for conn, publishers for latency and retained.
    pub clients: usize,
    /// Messages per publisher (per subscriber for sub); 0 means until `duration` ends.
    pub count: u64,
    /// The longest the load phase may last, whatever `count` says.
    pub duration: Duration,
    pub qos: QoS,
    pub payload_size: usize,
    /// Topic pattern: `%i` client number, `%c` client id, `%n` message number.
    pub topic: String,
    /// Subscription filter for the subscribers (`%i` and `%c` as in `topic`); `None` is
    /// [`default_filter`] of the topic, except for conn, where it means no subscription.
    pub filter: Option<String>,
    /// Messages per second over all publishers; `None` is flat out.
    pub rate: Option<f64>,
    /// QoS 1/2 messages a publisher keeps unacknowledged at most (capped by the broker's
    /// Receive Maximum).
    pub inflight: u16,
    pub client_id_prefix: String,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    pub keep_alive: u16,
    /// Connections being set up at once.
    pub connect_concurrency: usize,
    /// New connections per second at most; `None` is as fast as they complete.
    pub connect_rate: Option<f64>,
    /// The longest the whole connect phase may take.
    pub connect_timeout: Duration,
    /// conn: how long the connections stay open once all are up.
    pub idle: Duration,
    /// After publishing ends, how long subscribers may still wait for the rest.
    pub drain: Duration,
    /// retained: leave the retained messages on the broker instead of clearing them.
    pub keep_retained: bool,
}

impl BenchConfig {
    /// A configuration with the defaults of `mq bench` for `scenario` against `broker`.
    pub fn new(scenario: Scenario, broker: SocketAddr) -> BenchConfig {
        let topic = match scenario {
            Scenario::Retained => "bench/retained/%n",
            _ => "bench/%i",
        };
        BenchConfig {
            scenario,
            broker,
            broker_name: format!("mqtt://{broker}"),
            version: ProtocolVersion::V311,
            clients: 1,
            count: 10_000,
            duration: Duration::from_secs(60),
            qos: QoS::AtMostOnce,
            payload_size: 64,
            topic: topic.to_string(),
            filter: None,
            rate: (scenario == Scenario::Latency).then_some(1000.0),
            inflight: 100,
            client_id_prefix: format!("mq-bench-{}-", std::process::id()),
            username: None,
            password: None,
            keep_alive: 60,
            connect_concurrency: 64,
            connect_rate: None,
            connect_timeout: Duration::from_secs(60),
            idle: Duration::ZERO,
            drain: Duration::from_secs(10),
            keep_retained: false,
        }
    }

    /// The filter subscribers use.
    pub fn subscription_filter(&self) -> String {
        self.filter
            .clone()
            .unwrap_or_else(|| default_filter(&self.topic))
    }

    /// Refuses settings that cannot give a meaningful run.
    pub fn validate(&self) -> Result<(), BenchError> {
        let fail = |why: String| Err(BenchError::Config(why));
        if self.clients == 0 {
            return fail("at least one client is needed (-c)".into());
        }
        if self.clients > u32::MAX as usize {
            return fail("too many clients".into());
        }
        let needs_header = !matches!(self.scenario, Scenario::Pub | Scenario::Conn);
        if needs_header && self.payload_size < HEADER_LEN {
            return fail(format!(
                "the payload must have at least {HEADER_LEN} bytes (-s) to carry the sequence number and send time"
            ));
        }
        if self.payload_size > 256 * 1024 * 1024 {
            return fail("the payload is larger than MQTT allows (-s)".into());
        }
        if self.count == 0 && self.duration.is_zero() {
            return fail("a run needs a message count (-n) or a duration".into());
        }
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                return fail("the rate must be a positive number of messages per second".into());
            }
        }
        if let Some(rate) = self.connect_rate {
            if !(rate.is_finite() && rate > 0.0) {
                return fail("the connect rate must be positive".into());
            }
        }
        if self.inflight == 0 {
            return fail("--inflight must be at least 1".into());
        }
        if self.connect_concurrency == 0 {
            return fail("--connect-concurrency must be at least 1".into());
        }
        if self.topic.is_empty() || self.topic.contains(['+', '#']) {
            return fail(format!("'{}' is not a topic name pattern (-t)", self.topic));
        }
        if let Some(filter) = &self.filter {
            if let Err(e) = mq_proto::topic::validate_topic_filter(filter) {
                return fail(format!("'{filter}' is not a topic filter: {e}"));
            }
        }
        if self.scenario == Scenario::Retained {
            if self.qos == QoS::AtMostOnce {
                // QoS 0 gives no acknowledgement that tells when all are stored.
                return fail("the retained scenario needs QoS 1 or 2 (-q)".into());
            }
            if !self.topic.contains("%n") {
                return fail(
                    "the retained scenario needs %n in the topic (-t), one topic per message"
                        .into(),
                );
            }
            if self.count == 0 {
                return fail("the retained scenario needs a message count (-n)".into());
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Config(String),
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("the broker refused client {client_id}: {reason}")]
    Refused {
        client_id: String,
        reason: ReasonCode,
    },
    #[error("the broker refused the subscription to '{filter}': {reason}")]
    SubscribeRefused { filter: String, reason: ReasonCode },
    #[error("the broker closed the connection")]
    Closed,
    #[error("the broker sent DISCONNECT: {0}")]
    Disconnected(ReasonCode),
    #[error("network error: {0}")]
    Io(io::Error),
    #[error("the broker sent a malformed packet: {0}")]
    Protocol(DecodeError),
    #[error("expected {expected} from the broker, got {got}")]
    Unexpected {
        expected: &'static str,
        got: &'static str,
    },
    #[error("timed out {0}")]
    Timeout(&'static str),
    #[error("a bench task failed: {0}")]
    Task(String),
}

/// What a run is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Connecting = 0,
    Publishing = 1,
    Draining = 2,
    Idle = 3,
    Subscribing = 4,
    Done = 5,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::Publishing => "publishing",
            Phase::Draining => "draining",
            Phase::Idle => "idle",
            Phase::Subscribing => "receiving retained",
            Phase::Done => "done",
        }
    }

    fn from_u8(value: u8) -> Phase {
        match value {
            0 => Phase::Connecting,
            1 => Phase::Publishing,
            2 => Phase::Draining,
            3 => Phase::Idle,
            4 => Phase::Subscribing,
            _ => Phase::Done,
        }
    }
}

/// Live counters of a run, for a progress display. Tasks add to them in batches.
#[derive(Debug, Default)]
pub struct Progress {
    phase: AtomicU8,
    /// Connections up.
    pub connected: AtomicU64,
    /// Connections that failed.
    pub failed: AtomicU64,
    /// Connections the run will open.
    pub connections_planned: AtomicU64,
    /// Messages written by publishers.
    pub sent: AtomicU64,
    /// Messages received by subscribers.
    pub received: AtomicU64,
    /// Messages the run means to send (0 when only the duration bounds it).
    pub messages_planned: AtomicU64,
}

impl Progress {
    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }

    fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }
}
