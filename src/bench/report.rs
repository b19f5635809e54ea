//! The outcome of a run, and its JSON form for scripts.

use std::fmt::Write;
use std::time::Duration;

use mq_proto::{ProtocolVersion, QoS};

use super::accounting::{Percentiles, StreamCounts};
use super::Scenario;

/// The connect phase.
#[derive(Debug, Clone, Default)]
pub struct ConnectFigures {
    pub attempted: u64,
    pub connected: u64,
    pub failed: u64,
    /// From the first TCP connect to the last CONNACK (and SUBACK, for subscribers).
    pub elapsed: Duration,
    /// Per connection: TCP connect to CONNACK (and SUBACK), in microseconds.
    pub latency: Option<Percentiles>,
    /// conn: connections the broker closed while they were idle.
    pub dropped: u64,
    /// The first failure, if any.
    pub first_error: Option<String>,
}

impl ConnectFigures {
    /// Connections per second over the connect phase.
    pub fn rate(&self) -> f64 {
        per_second(self.connected, self.elapsed)
    }
}

/// What the publishers did.
#[derive(Debug, Clone, Default)]
pub struct PublishFigures {
    /// Messages written to the socket.
    pub sent: u64,
    /// Messages the broker acknowledged (PUBACK, PUBCOMP); for QoS 0, those written.
    pub completed: u64,
    /// Acknowledgements with a failure reason code (MQTT 5).
    pub refused: u64,
    /// From the start of publishing to the last publisher done.
    pub elapsed: Duration,
    /// Whether the duration ended publishing before the count did.
    pub stopped_by_time: bool,
}

impl PublishFigures {
    pub fn rate(&self) -> f64 {
        per_second(self.completed, self.elapsed)
    }
}

/// What the subscribers received, added up over all of them.
#[derive(Debug, Clone, Default)]
pub struct ReceiveFigures {
    pub counts: StreamCounts,
    /// Messages the subscribers should have received (completed × subscribers), when the
    /// publishers are part of the run.
    pub expected: Option<u64>,
    /// Messages that were not bench payloads of this run.
    pub foreign: u64,
    /// From the start of publishing to the last message received.
    pub elapsed: Duration,
}

impl ReceiveFigures {
    pub fn rate(&self) -> f64 {
        per_second(self.counts.received, self.elapsed)
    }
}

/// The retained scenario's second half: one new subscriber gets every stored message.
#[derive(Debug, Clone, Default)]
pub struct RetainedFigures {
    pub stored: u64,
    pub delivered: u64,
    /// From SUBSCRIBE sent to the last retained message received.
    pub elapsed: Duration,
    /// Whether the subscriber gave up before all arrived.
    pub complete: bool,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub scenario: Scenario,
    pub broker: String,
    pub version: ProtocolVersion,
    pub qos: QoS,
    pub payload_size: usize,
    pub publishers: usize,
    pub subscribers: usize,
    pub rate_limit: Option<f64>,
    pub connect: ConnectFigures,
    pub publish: Option<PublishFigures>,
    pub receive: Option<ReceiveFigures>,
    /// Publish to receive, over every subscriber, in microseconds.
    pub latency: Option<Percentiles>,
    pub retained: Option<RetainedFigures>,
    /// conn: how long the connections stayed idle.
    pub idle: Option<Duration>,
    /// The whole run.
    pub elapsed: Duration,
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

/// A JSON object written field by field; enough for flat reports without a dependency.
struct Json {
    out: String,
    first: Vec<bool>,
}

impl Json {
    fn new() -> Json {
        Json {
            out: String::from("{"),
            first: vec![true],
        }
    }

    fn key(&mut self, key: &str) {
        if let Some(first) = self.first.last_mut() {
            if !*first {
                self.out.push(',');
            }
            *first = false;
        }
        string(&mut self.out, key);
        self.out.push(':');
    }

    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        string(&mut self.out, value);
    }

    fn num(&mut self, key: &str, value: u64) {
        self.key(key);
        let _ = write!(self.out, "{value}");
    }

    fn float(&mut self, key: &str, value: f64) {
        self.key(key);
        if value.is_finite() {
            let _ = write!(self.out, "{value:.3}");
        } else {
            self.out.push_str("null");
        }
    }

    fn bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
    }

    fn null(&mut self, key: &str) {
        self.key(key);
        self.out.push_str("null");
    }

    fn secs(&mut self, key: &str, value: Duration) {
        self.float(key, value.as_secs_f64());
    }

    fn open(&mut self, key: &str) {
        self.key(key);
        self.out.push('{');
        self.first.push(true);
    }

    fn close(&mut self) {
        self.out.push('}');
        self.first.pop();
    }

    fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

fn string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn percentiles(json: &mut Json, key: &str, p: Option<&Percentiles>) {
    let Some(p) = p else {
        json.null(key);
        return;
    };
    json.open(key);
    json.num("count", p.count);
    json.num("min", p.min);
    json.float("mean", p.mean);
    json.num("p50", p.p50);
    json.num("p90", p.p90);
    json.num("p99", p.p99);
    json.num("p99_9", p.p999);
    json.num("max", p.max);
    json.close();
}

impl Report {
    /// One JSON object on one line. Times are in seconds, latencies in microseconds.
    pub fn to_json(&self) -> String {
        let mut json = Json::new();
        json.str("scenario", self.scenario.name());
        json.str("broker", &self.broker);
        json.str("protocol", &self.version.to_string());
        json.num("qos", self.qos as u64);
        json.num("payload_size", self.payload_size as u64);
        json.num("publishers", self.publishers as u64);
        json.num("subscribers", self.subscribers as u64);
        match self.rate_limit {
            Some(rate) => json.float("rate_limit", rate),
            None => json.null("rate_limit"),
        }
        json.secs("elapsed_s", self.elapsed);

        let c = &self.connect;
        json.open("connect");
        json.num("attempted", c.attempted);
        json.num("connected", c.connected);
        json.num("failed", c.failed);
        json.num("dropped", c.dropped);
        json.secs("elapsed_s", c.elapsed);
        json.float("rate_per_s", c.rate());
        percentiles(&mut json, "latency_us", c.latency.as_ref());
        match &c.first_error {
            Some(e) => json.str("first_error", e),
            None => json.null("first_error"),
        }
        json.close();

        match &self.publish {
            Some(p) => {
                json.open("publish");
                json.num("sent", p.sent);
                json.num("completed", p.completed);
                json.num("refused", p.refused);
                json.secs("elapsed_s", p.elapsed);
                json.float("rate_per_s", p.rate());
                json.bool("stopped_by_time", p.stopped_by_time);
                json.close();
            }
            None => json.null("publish"),
        }

        match &self.receive {
            Some(r) => {
                json.open("receive");
                json.num("received", r.counts.received);
                match r.expected {
                    Some(expected) => json.num("expected", expected),
                    None => json.null("expected"),
                }
                json.num("lost", r.counts.lost);
                json.num("duplicates", r.counts.duplicates);
                json.num("reordered", r.counts.reordered);
                json.num("untracked", r.counts.untracked);
                json.num("foreign", r.foreign);
                json.secs("elapsed_s", r.elapsed);
                json.float("rate_per_s", r.rate());
                json.close();
            }
            None => json.null("receive"),
        }

        percentiles(&mut json, "latency_us", self.latency.as_ref());

        match &self.retained {
            Some(r) => {
                json.open("retained");
                json.num("stored", r.stored);
                json.num("delivered", r.delivered);
                json.secs("elapsed_s", r.elapsed);
                json.bool("complete", r.complete);
                json.close();
            }
            None => json.null("retained"),
        }
        match self.idle {
            Some(idle) => json.secs("idle_s", idle),
            None => json.null("idle_s"),
        }
        json.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        string(&mut out, "a\"b\\c\nd\u{1}");
        assert_eq!(out, r#""a\"b\\c\nd\u0001""#);
    }

    #[test]
    fn nested_objects_separate_their_fields() {
        let mut json = Json::new();
        json.num("a", 1);
        json.open("b");
        json.num("c", 2);
        json.bool("d", true);
        json.close();
        json.null("e");
        assert_eq!(json.finish(), r#"{"a":1,"b":{"c":2,"d":true},"e":null}"#);
    }
}
