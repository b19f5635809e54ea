//! `mq bench`: load an MQTT broker and measure it (see `crate::bench`).
//!
//! Progress bars on a terminal only; when stderr is not a terminal each phase change is
//! one line there instead (`mq bench: idle: 10000 connected`), which scripts can wait for.
//! The report goes to stdout: a table, or one JSON object with `--json`.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mq_proto::{ProtocolVersion, QoS};

use super::exit::{Failure, FailureKind};
use crate::bench::{self, BenchConfig, BenchError, Percentiles, Phase, Progress, Report, Scenario};

const CONNECTION: &str = "Connection";
const AUTHENTICATION: &str = "Authentication";
const LOAD: &str = "Load";
const OUTPUT: &str = "Output";

/// Load an MQTT broker and measure it: throughput, loss, duplicates, reordering, latency
/// percentiles, connect rate.
///
/// Scenarios: `pub` (N publishers), `sub` (N subscribers, for `mq bench pub` elsewhere),
/// `conn` (connection storm, then idle), `fanin` (N publishers, 1 subscriber on a
/// wildcard), `fanout` (1 publisher, N subscribers), `latency` (fixed rate, percentiles),
/// `retained` (store N retained messages, time a new subscriber receiving them all).
///
/// Every run ends at its message count (-n) or its duration, whichever comes first.
/// `-h` is the host, as in mosquitto_pub; help is `--help`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    pub scenario: ScenarioArg,
    /// Broker host.
    #[arg(short = 'h', long, default_value = "localhost", help_heading = CONNECTION)]
    pub host: String,
    /// Broker port.
    #[arg(short = 'p', long, default_value_t = 1883, help_heading = CONNECTION)]
    pub port: u16,
    /// Broker URL instead of -h and -p: mqtt://HOST[:PORT] (plain TCP only).
    #[arg(short = 'L', long, value_name = "URL", conflicts_with_all = ["host", "port"], help_heading = CONNECTION)]
    pub url: Option<String>,
    /// Clients: publishers (pub, fanin, latency, retained), subscribers (sub, fanout),
    /// connections (conn). Default 1; fanin 8, fanout 16, conn 100.
    #[arg(short = 'c', long, value_name = "N", help_heading = LOAD)]
    pub clients: Option<usize>,
    /// Messages per publisher (per subscriber for sub); 0: until the duration ends.
    #[arg(short = 'n', long, default_value_t = 10_000, value_name = "N", help_heading = LOAD)]
    pub count: u64,
    /// Longest the load may run: 30, 30s, 500ms, 2m.
    #[arg(long, default_value = "60s", value_name = "TIME", value_parser = parse_duration, help_heading = LOAD)]
    pub duration: Duration,
    /// Quality of service of publications and subscriptions.
    #[arg(short = 'q', long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2), help_heading = LOAD)]
    pub qos: u8,
    /// Payload size in bytes; at least 28 where a subscriber counts the messages.
    #[arg(short = 's', long = "size", default_value_t = 64, value_name = "BYTES", help_heading = LOAD)]
    pub size: usize,
    /// Topic pattern: %i client number (from 1), %c client id, %n message number.
    /// Default bench/%i (retained: bench/retained/%n).
    #[arg(short = 't', long, value_name = "PATTERN", help_heading = LOAD)]
    pub topic: Option<String>,
    /// Subscribers' topic filter. Default: the topic's levels before the first %, then #
    /// (bench/%i gives bench/#). For conn, each connection subscribes only if given.
    #[arg(long, value_name = "FILTER", help_heading = LOAD)]
    pub filter: Option<String>,
    /// Messages per second over all publishers (default flat out; latency: 1000).
    #[arg(short = 'r', long, value_name = "MSG/S", help_heading = LOAD)]
    pub rate: Option<f64>,
    /// MQTT version: 311 or 5.
    #[arg(short = 'V', long = "protocol-version", default_value = "311", value_parser = parse_version, help_heading = CONNECTION)]
    pub version: ProtocolVersion,
    /// QoS 1/2 messages a publisher may have unacknowledged (capped by the broker's
    /// Receive Maximum).
    #[arg(long, default_value_t = 100, value_name = "N", value_parser = clap::value_parser!(u16).range(1..), help_heading = LOAD)]
    pub inflight: u16,
    /// Client identifier prefix (default mq-bench-PID-).
    #[arg(short = 'i', long = "id-prefix", value_name = "PREFIX", help_heading = CONNECTION)]
    pub id_prefix: Option<String>,
    /// User name.
    #[arg(short = 'u', long, help_heading = AUTHENTICATION)]
    pub username: Option<String>,
    /// Password (or the environment variable MQ_PASSWORD).
    #[arg(short = 'P', long, env = "MQ_PASSWORD", hide_env_values = true, help_heading = AUTHENTICATION)]
    pub password: Option<String>,
    /// Keep alive in seconds; 0 turns it off.
    #[arg(
        short = 'k',
        long = "keepalive",
        default_value_t = 60,
        value_name = "SECS",
        help_heading = CONNECTION,
    )]
    pub keep_alive: u16,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 64, value_name = "N", help_heading = CONNECTION)]
    pub connect_concurrency: usize,
    /// New connections per second at most (default: as fast as they complete).
    #[arg(long, value_name = "N/S", help_heading = CONNECTION)]
    pub connect_rate: Option<f64>,
    /// Longest the connect phase may take.
    #[arg(long, default_value = "60s", value_name = "TIME", value_parser = parse_duration, help_heading = CONNECTION)]
    pub connect_timeout: Duration,
    /// conn: how long the connections stay open once all are up.
    #[arg(long, default_value = "0s", value_name = "TIME", value_parser = parse_duration, help_heading = LOAD)]
    pub idle: Duration,
    /// After publishing ends, the longest subscribers wait for the rest. They stop
    /// earlier once all arrived; at QoS 0 also after 2 s without a message.
    #[arg(long, default_value = "10s", value_name = "TIME", value_parser = parse_duration, help_heading = LOAD)]
    pub drain: Duration,
    /// retained: leave the stored messages on the broker instead of clearing them.
    #[arg(long, help_heading = LOAD)]
    pub keep_retained: bool,
    /// Print the report as one JSON object (times in seconds, latencies in microseconds).
    #[arg(long, help_heading = OUTPUT)]
    pub json: bool,
    /// Worker threads of the load generator (default: one per CPU).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..), help_heading = LOAD)]
    pub threads: Option<u16>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScenarioArg {
    Pub,
    Sub,
    Conn,
    Fanin,
    Fanout,
    Latency,
    Retained,
}

impl From<ScenarioArg> for Scenario {
    fn from(arg: ScenarioArg) -> Scenario {
        match arg {
            ScenarioArg::Pub => Scenario::Pub,
            ScenarioArg::Sub => Scenario::Sub,
            ScenarioArg::Conn => Scenario::Conn,
            ScenarioArg::Fanin => Scenario::Fanin,
            ScenarioArg::Fanout => Scenario::Fanout,
            ScenarioArg::Latency => Scenario::Latency,
            ScenarioArg::Retained => Scenario::Retained,
        }
    }
}

/// `30`, `30s`, `500ms`, `2m`, `1.5s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (try 30s, 500ms, 2m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("'{unit}' is not a unit of time (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("'{text}' is not a duration"))
}

fn parse_version(text: &str) -> Result<ProtocolVersion, String> {
    match text {
        "31" | "mqttv31" => Ok(ProtocolVersion::V31),
        "311" | "mqttv311" => Ok(ProtocolVersion::V311),
        "5" | "mqttv5" => Ok(ProtocolVersion::V5),
        _ => Err(format!("'{text}' is not an MQTT version (311 or 5)")),
    }
}

/// `mqtt://HOST[:PORT]` into host and port.
fn parse_url(url: &str) -> Result<(String, u16), String> {
    let Some(rest) = url.strip_prefix("mqtt://") else {
        return Err(format!(
            "'{url}': mq bench speaks plain MQTT over TCP only (mqtt://HOST[:PORT])"
        ));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("'{url}': unclosed [ in the host"))?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().map_err(|_| format!("'{url}': bad port"))?,
            None => 1883,
        };
        return Ok((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Ok((
            host.to_string(),
            port.parse().map_err(|_| format!("'{url}': bad port"))?,
        )),
        None if authority.is_empty() => Err(format!("'{url}': no host")),
        None => Ok((authority.to_string(), 1883)),
    }
}

impl BenchArgs {
    fn config(&self, broker: SocketAddr, broker_name: String) -> BenchConfig {
        let scenario = Scenario::from(self.scenario);
        let mut config = BenchConfig::new(scenario, broker);
        config.broker_name = broker_name;
        config.version = self.version;
        config.clients = self.clients.unwrap_or(match scenario {
            Scenario::Fanin => 8,
            Scenario::Fanout => 16,
            Scenario::Conn => 100,
            _ => 1,
        });
        config.count = self.count;
        config.duration = self.duration;
        config.qos = match self.qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        };
        config.payload_size = self.size;
        if let Some(topic) = &self.topic {
            config.topic = topic.clone();
        }
        config.filter = self.filter.clone();
        if self.rate.is_some() {
            config.rate = self.rate;
        }
        config.inflight = self.inflight;
        if let Some(prefix) = &self.id_prefix {
            config.client_id_prefix = prefix.clone();
        }
        config.username = self.username.clone();
        config.password = self.password.clone().map(String::into_bytes);
        config.keep_alive = self.keep_alive;
        config.connect_concurrency = self.connect_concurrency;
        config.connect_rate = self.connect_rate;
        config.connect_timeout = self.connect_timeout;
        config.idle = self.idle;
        config.drain = self.drain;
        config.keep_retained = self.keep_retained;
        config
    }
}

fn failure(e: BenchError) -> Failure {
    let kind = match &e {
        BenchError::Config(_) => FailureKind::Usage,
        BenchError::Connect { .. } | BenchError::Io(_) | BenchError::Closed => FailureKind::Network,
        BenchError::Refused { .. } => FailureKind::ConnectionRefused,
        BenchError::SubscribeRefused { .. } => FailureKind::Refused,
        BenchError::Timeout(_) => FailureKind::Timeout,
        _ => FailureKind::General,
    };
    Failure::new(kind, e.to_string())
}

pub fn run(args: BenchArgs) -> Result<(), Failure> {
    let (host, port) = match &args.url {
        Some(url) => parse_url(url).map_err(|e| Failure::new(FailureKind::Usage, e))?,
        None => (args.host.clone(), args.port),
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        builder.worker_threads(usize::from(threads));
    }
    let runtime = builder.enable_all().build().map_err(|e| {
        Failure::new(
            FailureKind::General,
            format!("cannot start the runtime: {e}"),
        )
    })?;
    runtime.block_on(async {
        let broker = tokio::net::lookup_host((host.as_str(), port))
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| {
                Failure::new(
                    FailureKind::Network,
                    format!("cannot resolve the broker host '{host}'"),
                )
            })?;
        let config = args.config(broker, format!("mqtt://{host}:{port}"));
        config.validate().map_err(failure)?;
        let progress = Arc::new(Progress::default());
        let display = tokio::spawn(show_progress(progress.clone()));
        let result = bench::run(config, progress).await;
        let _ = display.await;
        let report = result.map_err(failure)?;
        let text = if args.json {
            report.to_json() + "\n"
        } else {
            table(&report)
        };
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        Ok(())
    })
}

/// A progress bar on a terminal; elsewhere one stderr line per phase.
async fn show_progress(progress: Arc<Progress>) {
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template(
            "{spinner} {prefix:>18} [{bar:30}] {pos}/{len} {msg} ({elapsed})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        bar
    });
    let mut last_phase = None;
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    let mut last_received = 0;
    loop {
        ticker.tick().await;
        let phase = progress.phase();
        let connected = Progress::get(&progress.connected);
        if last_phase != Some(phase) {
            last_phase = Some(phase);
            if bar.is_none() {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "mq bench: {}: {connected} connected", phase.name());
            }
        }
        if phase == Phase::Done {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            return;
        }
        let Some(bar) = &bar else { continue };
        bar.set_prefix(phase.name());
        let received = Progress::get(&progress.received);
        let rate = (received - last_received.min(received)) * 5;
        last_received = received;
        match phase {
            Phase::Connecting | Phase::Idle => {
                bar.set_length(Progress::get(&progress.connections_planned));
                bar.set_position(connected + Progress::get(&progress.failed));
                bar.set_message(format!("{} failed", Progress::get(&progress.failed)));
            }
            _ => {
                bar.set_length(Progress::get(&progress.messages_planned));
                bar.set_position(Progress::get(&progress.sent));
                bar.set_message(format!("sent; received {received} ({rate}/s)"));
            }
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn micros(us: u64) -> String {
    if us >= 10_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else if us >= 1000 {
        format!("{:.2} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}

fn percentiles_line(p: &Percentiles) -> String {
    format!(
        "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  ({} samples)",
        micros(p.p50),
        micros(p.p90),
        micros(p.p99),
        micros(p.p999),
        micros(p.max),
        p.count
    )
}

/// The report for people: one row per part of the run.
fn table(report: &Report) -> String {
    let mut rows: Vec<(&str, String)> = Vec::new();
    rows.push((
        "scenario",
        format!(
            "{} against {} (MQTT {}, QoS {}, {} B payload{})",
            report.scenario.name(),
            report.broker,
            report.version,
            report.qos,
            report.payload_size,
            report
                .rate_limit
                .map(|r| format!(", {r} msg/s"))
                .unwrap_or_default()
        ),
    ));
    let clients = if report.scenario == Scenario::Conn {
        format!("{} connections", report.connect.attempted)
    } else {
        format!(
            "{} publisher{}, {} subscriber{}",
            report.publishers,
            plural(report.publishers),
            report.subscribers,
            plural(report.subscribers)
        )
    };
    rows.push(("clients", clients));
    let c = &report.connect;
    let mut connect = format!(
        "{}/{} in {:.3} s ({:.0} conn/s)",
        c.connected,
        c.attempted,
        c.elapsed.as_secs_f64(),
        c.rate()
    );
    if let Some(p) = &c.latency {
        let _ = write!(
            connect,
            "; each p50 {}, p99 {}",
            micros(p.p50),
            micros(p.p99)
        );
    }
    if c.failed > 0 {
        let _ = write!(
            connect,
            "; {} failed: {}",
            c.failed,
            c.first_error.as_deref().unwrap_or("")
        );
    }
    rows.push(("connect", connect));
    if let Some(idle) = report.idle {
        rows.push((
            "idle",
            format!(
                "{:.1} s; {} dropped by the broker",
                idle.as_secs_f64(),
                c.dropped
            ),
        ));
    }
    if let Some(p) = &report.publish {
        rows.push((
            "publish",
            format!(
                "{} sent, {} completed{} in {:.3} s: {:.0} msg/s{}",
                p.sent,
                p.completed,
                if p.refused > 0 {
                    format!(", {} refused", p.refused)
                } else {
                    String::new()
                },
                p.elapsed.as_secs_f64(),
                p.rate(),
                if p.stopped_by_time {
                    " (stopped by the duration)"
                } else {
                    ""
                }
            ),
        ));
    }
    if let Some(r) = &report.retained {
        rows.push((
            "retained",
            format!(
                "{} of {} delivered to a new subscriber in {:.3} s{}",
                r.delivered,
                r.stored,
                r.elapsed.as_secs_f64(),
                if r.complete { "" } else { " (incomplete)" }
            ),
        ));
    }
    if let Some(r) = &report.receive {
        let expected = r.expected.map(|e| format!(" of {e}")).unwrap_or_default();
        rows.push((
            "receive",
            format!(
                "{}{expected} in {:.3} s: {:.0} msg/s",
                r.counts.received,
                r.elapsed.as_secs_f64(),
                r.rate()
            ),
        ));
        let mut integrity = format!(
            "lost {}, duplicates {}, reordered {}",
            r.counts.lost, r.counts.duplicates, r.counts.reordered
        );
        if r.foreign > 0 || r.counts.untracked > 0 {
            let _ = write!(
                integrity,
                ", foreign {}, untracked {}",
                r.foreign, r.counts.untracked
            );
        }
        rows.push(("integrity", integrity));
    }
    if let Some(p) = &report.latency {
        rows.push(("latency", percentiles_line(p)));
    }
    rows.push(("elapsed", format!("{:.3} s", report.elapsed.as_secs_f64())));
    let mut out = String::new();
    for (label, value) in rows {
        let _ = writeln!(out, "{label:<10} {value}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_common_units() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn urls_give_host_and_port() {
        assert_eq!(parse_url("mqtt://h:1884"), Ok(("h".into(), 1884)));
        assert_eq!(parse_url("mqtt://h"), Ok(("h".into(), 1883)));
        assert_eq!(parse_url("mqtt://[::1]:9"), Ok(("::1".into(), 9)));
        assert_eq!(parse_url("mqtt://u:p@h:2/x"), Ok(("h".into(), 2)));
        assert!(parse_url("mqtts://h").is_err());
        assert!(parse_url("mqtt://").is_err());
    }

    #[test]
    fn versions_take_mosquitto_spellings() {
        assert_eq!(parse_version("5"), Ok(ProtocolVersion::V5));
        assert_eq!(parse_version("mqttv311"), Ok(ProtocolVersion::V311));
        assert!(parse_version("4").is_err());
    }
}
