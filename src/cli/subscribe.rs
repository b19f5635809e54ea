//! `mq sub`: subscribe and print messages (mosquitto_sub), or JSON lines with `--json`.

pub mod format;

use std::io::IsTerminal;
use std::time::Duration;

use base64::Engine as _;
use clap::Args;
use colored::Colorize;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use self::format::{FormatOptions, Received};
use super::connection_args::{failure, ConnectionArgs};
use super::exit::{Failure, FailureKind};
use crate::client::{
    self, Backoff, Event, Message, OutgoingMessage, PublishProperties, QoS, RetainHandling, Sent,
    Subscription, Update,
};

const SUBSCRIPTION: &str = "Subscription";
const OUTPUT: &str = "Output";

/// Subscribe to topics and print the messages (a drop-in for mosquitto_sub).
///
/// Output: the payload (default), `topic payload` (-v), a -F format, or one JSON object per
/// line (--json, safe for binary payloads). Reconnects and resubscribes after a lost
/// connection. MQTT 3.1, 3.1.1 and 5 (-V 31, 311, 5).
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct SubscribeArgs {
    /// Topic filter to subscribe to; may be repeated.
    #[arg(short = 't', long = "topic", value_name = "FILTER", help_heading = SUBSCRIPTION)]
    pub topics: Vec<String>,
    /// Do not print messages whose topic matches this filter; may be repeated.
    #[arg(short = 'T', long = "filter-out", value_name = "FILTER", help_heading = SUBSCRIPTION)]
    pub filter_out: Vec<String>,
    /// QoS of the subscriptions.
    #[arg(short = 'q', long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2), help_heading = SUBSCRIPTION)]
    pub qos: u8,
    /// Print the topic before the payload.
    #[arg(short = 'v', long, help_heading = OUTPUT)]
    pub verbose: bool,
    /// Do not end each message with a newline.
    #[arg(short = 'N', help_heading = OUTPUT)]
    pub no_eol: bool,
    /// Print each message with this format (mosquitto_sub's %-codes, @-time codes, \-escapes).
    #[arg(short = 'F', value_name = "FORMAT", conflicts_with = "json", help_heading = OUTPUT)]
    pub format: Option<String>,
    /// Exit after this many messages.
    #[arg(short = 'C', value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..), help_heading = OUTPUT)]
    pub count: Option<u64>,
    /// Exit with code 7 if this many seconds pass first (before -C is reached).
    #[arg(short = 'W', value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..), help_heading = OUTPUT)]
    pub timeout: Option<u64>,
    /// Exit once the subscriptions are acknowledged.
    #[arg(short = 'E', help_heading = OUTPUT)]
    pub exit_after_subscribe: bool,
    /// Do not print retained (stale) messages.
    #[arg(short = 'R', conflicts_with = "retained_only", help_heading = OUTPUT)]
    pub no_retained: bool,
    /// Print only retained messages; exit at the first message that is not retained.
    #[arg(long, help_heading = OUTPUT)]
    pub retained_only: bool,
    /// Clear each retained message received (publish an empty retained message to its topic).
    #[arg(long, help_heading = SUBSCRIPTION)]
    pub remove_retained: bool,
    /// With --remove-retained: print what would be cleared, clear nothing.
    #[arg(long, requires = "remove_retained", help_heading = SUBSCRIPTION)]
    pub dry_run: bool,
    /// Unsubscribe from this filter after subscribing (for persistent sessions); may be repeated.
    #[arg(short = 'U', long = "unsubscribe", value_name = "FILTER", help_heading = SUBSCRIPTION)]
    pub unsubscribe: Vec<String>,
    /// Pretty-print JSON (-F %j/%J, --json).
    #[arg(long, help_heading = OUTPUT)]
    pub pretty: bool,
    /// One JSON object per line: topic, qos, retain, properties, received, payload
    /// (text if UTF-8, else base64 with "encoding":"base64").
    #[arg(long, help_heading = OUTPUT)]
    pub json: bool,
    /// MQTT 5 No Local: do not receive my own publications.
    #[arg(long = "nl", help_heading = SUBSCRIPTION)]
    pub no_local: bool,
    /// MQTT 5 Retain As Published: keep the retain flag of forwarded messages.
    #[arg(long = "rap", help_heading = SUBSCRIPTION)]
    pub retain_as_published: bool,
    /// MQTT 5 Retain Handling: 0 send retained on subscribe, 1 only for new subscriptions, 2 never.
    #[arg(long = "rh", value_name = "0|1|2", value_parser = clap::value_parser!(u8).range(0..=2), help_heading = SUBSCRIPTION)]
    pub retain_handling: Option<u8>,
    /// MQTT 5 Subscription Identifier for these subscriptions (1-268435455).
    #[arg(long = "sub-id", value_name = "ID", value_parser = clap::value_parser!(u32).range(1..=268_435_455), help_heading = SUBSCRIPTION)]
    pub subscription_identifier: Option<u32>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// How messages are printed.
enum Output {
    Payload {
        eol: bool,
    },
    Verbose {
        eol: bool,
        colour: bool,
    },
    Format {
        format: Vec<u8>,
        opts: FormatOptions,
    },
    Json {
        pretty: bool,
    },
}

#[derive(Serialize)]
struct JsonMessage<'a> {
    topic: &'a str,
    qos: u8,
    retain: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<JsonProperties<'a>>,
    received: String,
    payload: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
}

#[derive(Serialize)]
struct JsonProperties<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_format_indicator: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_expiry_interval: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_topic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_data_encoding: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    user_properties: Vec<(&'a str, &'a str)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscription_identifiers: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic_alias: Option<u16>,
}

/// Text if the bytes are UTF-8, else base64 and the word saying so.
fn text_or_base64(bytes: &[u8]) -> (String, Option<&'static str>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), None),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(bytes),
            Some("base64"),
        ),
    }
}

fn json_properties(p: &PublishProperties) -> JsonProperties<'_> {
    let (correlation_data, correlation_data_encoding) = match &p.correlation_data {
        Some(d) => {
            let (text, enc) = text_or_base64(d);
            (Some(text), enc)
        }
        None => (None, None),
    };
    JsonProperties {
        payload_format_indicator: p.payload_format_indicator,
        message_expiry_interval: p.message_expiry_interval,
        content_type: p.content_type.as_deref(),
        response_topic: p.response_topic.as_deref(),
        correlation_data,
        correlation_data_encoding,
        user_properties: p
            .user_properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        subscription_identifiers: p.subscription_identifiers.clone(),
        topic_alias: p.topic_alias,
    }
}

/// One `--json` line (without the newline).
pub fn json_line(msg: &Message, received: &Received, pretty: bool) -> Vec<u8> {
    let (payload, encoding) = text_or_base64(&msg.payload);
    let value = JsonMessage {
        topic: &msg.topic,
        qos: msg.qos.as_u8(),
        retain: msg.retain,
        properties: msg.properties.as_ref().map(json_properties),
        received: received
            .0
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        payload,
        encoding,
    };
    let result = if pretty {
        serde_json::to_vec_pretty(&value)
    } else {
        serde_json::to_vec(&value)
    };
    result.unwrap_or_default()
}

impl Output {
    fn render(&self, msg: &Message) -> Vec<u8> {
        let received = Received::now();
        match self {
            Output::Payload { eol } => {
                // mosquitto_sub prints nothing at all for an empty payload.
                if msg.payload.is_empty() {
                    return Vec::new();
                }
                let mut out = msg.payload.to_vec();
                if *eol {
                    out.push(b'\n');
                }
                out
            }
            Output::Verbose { eol, colour } => {
                let mut out = Vec::with_capacity(msg.topic.len() + msg.payload.len() + 2);
                if *colour {
                    out.extend_from_slice(msg.topic.cyan().bold().to_string().as_bytes());
                } else {
                    out.extend_from_slice(msg.topic.as_bytes());
                }
                if msg.payload.is_empty() {
                    if !*eol {
                        return Vec::new();
                    }
                    out.extend_from_slice(b" (null)");
                } else {
                    out.push(b' ');
                    out.extend_from_slice(&msg.payload);
                }
                if *eol {
                    out.push(b'\n');
                }
                out
            }
            Output::Format { format, opts } => {
                format::format_message(format, msg, &received, *opts, &mut std::io::stderr())
            }
            Output::Json { pretty } => {
                let mut out = json_line(msg, &received, *pretty);
                out.push(b'\n');
                out
            }
        }
    }
}

pub fn run(args: SubscribeArgs) -> Result<(), Failure> {
    let resolved = args.connection.resolve("sub")?;
    let quiet = resolved.quiet;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                FailureKind::General,
                format!("cannot start the runtime: {e}"),
            )
        })?;
    let result = runtime.block_on(subscribe(&args, resolved));
    match result {
        Err(f) if quiet => Err(Failure::new(f.kind, "")),
        other => other,
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::new(FailureKind::Usage, message)
}

/// Why the loop below ended.
enum Finish {
    Done,
    /// The reader went away (`| head`): leave quietly.
    PipeClosed,
}

async fn subscribe(
    args: &SubscribeArgs,
    resolved: super::connection_args::Resolved,
) -> Result<(), Failure> {
    let opts = &resolved.options;
    let debug = resolved.debug;
    let quiet = resolved.quiet;
    let client_id = opts.client_id.clone();
    let v5 = opts.protocol == client::Protocol::V5;

    let mut filters = args.topics.clone();
    if let Some(t) = &resolved.url_topic {
        filters.push(t.clone());
    }
    if filters.is_empty() {
        return Err(usage(
            "no topic: give at least one -t filter (or a topic in the -L URL)",
        ));
    }
    for f in filters
        .iter()
        .chain(&args.filter_out)
        .chain(&args.unsubscribe)
    {
        mq_proto::topic::validate_topic_filter(f).map_err(|e| {
            usage(format!(
                "{f:?} is not a valid topic filter: {e}; '+' matches one whole level and \
                     '#' all the levels after it, as in vdm/+/engineOff or sensors/#"
            ))
        })?;
    }
    if !v5
        && (args.no_local
            || args.retain_as_published
            || args.retain_handling.is_some()
            || args.subscription_identifier.is_some())
    {
        return Err(usage(
            "--nl, --rap, --rh and --sub-id are MQTT 5 subscription options: add -V 5",
        ));
    }
    if let Some(f) = &args.format {
        format::check_format(f.as_bytes()).map_err(|e| usage(format!("-F {f:?}: {e}")))?;
    }
    let qos = QoS::from_u8(args.qos).unwrap_or(QoS::AtMostOnce);
    let subscriptions: Vec<Subscription> = filters
        .iter()
        .map(|f| Subscription {
            filter: f.clone(),
            qos,
            no_local: args.no_local,
            retain_as_published: args.retain_as_published,
            retain_handling: match args.retain_handling {
                Some(1) => RetainHandling::OnNewSubscribe,
                Some(2) => RetainHandling::Never,
                _ => RetainHandling::OnSubscribe,
            },
        })
        .collect();
    let mut sub_props = opts.properties.subscribe.clone();
    if let Some(id) = args.subscription_identifier {
        sub_props.subscription_identifier = Some(id);
    }
    let unsub_props = opts.properties.unsubscribe_user_properties.clone();

    let stdout_tty = std::io::stdout().is_terminal();
    let colour = stdout_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    colored::control::set_override(colour);
    let eol = !args.no_eol;
    let output = if let Some(f) = &args.format {
        Output::Format {
            format: f.as_bytes().to_vec(),
            opts: FormatOptions {
                pretty: args.pretty,
                eol,
            },
        }
    } else if args.json {
        Output::Json {
            pretty: args.pretty,
        }
    } else if args.verbose {
        Output::Verbose { eol, colour }
    } else {
        Output::Payload { eol }
    };

    let (client, connection) = client::connect(opts).map_err(failure)?;
    let mut updates = client::drive(connection, true, Backoff::default());
    if debug {
        eprintln!("{}", Event::Sent(Sent::Connect).trace(&client_id));
    }

    let deadline = args
        .timeout
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut stdout = std::io::stdout().lock();
    let mut received: u64 = 0;
    let mut processing = true;
    let mut removals_outstanding: usize = 0;
    let removals = removal_counter(args.remove_retained && !args.dry_run && !quiet);
    let removals_to_send = removal_sender(&client);
    let mut disconnecting = false;
    let mut lost_notice_shown = false;
    let mut connected = false;
    let mut finish_requested = false;
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());

    let finish = loop {
        if finish_requested && removals_outstanding == 0 && !disconnecting {
            disconnecting = true;
            if !connected || client.disconnect().await.is_err() {
                break Finish::Done;
            }
        }
        let timeout = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = timeout, if !finish_requested => {
                let _ = client.disconnect().await;
                return Err(Failure::new(
                    FailureKind::Timeout,
                    format!("timed out after {} s (-W)", args.timeout.unwrap_or(0)),
                ));
            }
            _ = &mut ctrl_c, if !finish_requested => {
                processing = false;
                finish_requested = true;
            }
            update = updates.recv() => {
                let Some(update) = update else {
                    return Err(Failure::new(FailureKind::General, "the connection task stopped"));
                };
                match update {
                    Update::Event(event) => {
                        if debug {
                            eprintln!("{}", event.trace(&client_id));
                        }
                        match event {
                            Event::Connected { .. } => {
                                connected = true;
                                if lost_notice_shown && !quiet {
                                    eprintln!("mq sub: reconnected to {}; subscribing again", opts.endpoint.authority());
                                }
                                lost_notice_shown = false;
                                client.subscribe(&subscriptions, &sub_props).await.map_err(failure)?;
                                for f in &args.unsubscribe {
                                    client.unsubscribe(f, &unsub_props).await.map_err(failure)?;
                                }
                            }
                            Event::SubAck { codes, reason_string, .. } => {
                                if !codes.is_empty() && codes.iter().all(|c| *c >= 0x80) {
                                    let reason = client::Reason::v5(codes[0]).with_string(reason_string);
                                    let _ = client.disconnect().await;
                                    return Err(Failure::new(
                                        FailureKind::Refused,
                                        format!("all subscription requests were denied: {reason}"),
                                    ));
                                }
                                for (filter, code) in filters.iter().zip(&codes) {
                                    if *code >= 0x80 && !quiet {
                                        eprintln!("mq sub: subscription to {filter:?} denied: {}", client::Reason::v5(*code));
                                    }
                                }
                                if args.exit_after_subscribe {
                                    finish_requested = true;
                                }
                            }
                            Event::PubAck { .. } | Event::PubComp { .. } if removals_outstanding > 0 => {
                                removals_outstanding -= 1;
                                if let Some(bar) = &removals {
                                    bar.inc(1);
                                }
                            }
                            Event::Sent(Sent::Disconnect) => break Finish::Done,
                            Event::Message(msg) => {
                                if !processing {
                                    continue;
                                }
                                if args.retained_only && !msg.retain {
                                    processing = false;
                                    finish_requested = true;
                                    continue;
                                }
                                if msg.retain && args.no_retained {
                                    continue;
                                }
                                if args.filter_out.iter().any(|f| mq_proto::topic::matches(f, &msg.topic)) {
                                    continue;
                                }
                                if args.remove_retained && msg.retain {
                                    if args.dry_run {
                                        if !quiet {
                                            eprintln!("mq sub: would remove the retained message on {:?}", msg.topic);
                                        }
                                    } else if !msg.payload.is_empty() {
                                        removals_outstanding += 1;
                                        let _ = removals_to_send.send(msg.topic.clone());
                                    }
                                }
                                let bytes = output.render(&msg);
                                if !bytes.is_empty() {
                                    if let Err(e) = format::write_all(&mut stdout, &bytes) {
                                        if e.kind() == std::io::ErrorKind::BrokenPipe {
                                            break Finish::PipeClosed;
                                        }
                                        return Err(Failure::new(FailureKind::General, format!("writing to stdout: {e}")));
                                    }
                                }
                                received += 1;
                                if args.count.is_some_and(|c| received >= c) {
                                    processing = false;
                                    finish_requested = true;
                                }
                            }
                            _ => {}
                        }
                    }
                    Update::Lost { error, retry_in } => {
                        connected = false;
                        if disconnecting {
                            break Finish::Done;
                        }
                        if !lost_notice_shown && !quiet {
                            eprintln!(
                                "mq sub: {error}; reconnecting (first try in {:.1} s)",
                                retry_in.as_secs_f64()
                            );
                        }
                        lost_notice_shown = true;
                    }
                    Update::Failed(error) => {
                        if disconnecting {
                            break Finish::Done;
                        }
                        return Err(failure(error));
                    }
                }
            }
        }
    };
    if let Some(bar) = removals {
        bar.finish_and_clear();
        eprintln!("mq sub: removed {} retained messages", bar.position());
    }
    match finish {
        Finish::Done | Finish::PipeClosed => Ok(()),
    }
}

/// Sends the clears of `--remove-retained` from a task of its own: each waits for room in
/// the client's request queue, and the command's loop must keep reading the messages that
/// arrive meanwhile, or the connection task would stop and the queue never drain. (A failed
/// send means the connection is gone, which the loop learns from its updates.)
fn removal_sender(client: &client::Client) -> tokio::sync::mpsc::UnboundedSender<String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let client = client.clone();
    tokio::spawn(async move {
        while let Some(topic) = rx.recv().await {
            let clear = OutgoingMessage {
                topic,
                payload: bytes::Bytes::new(),
                qos: qos_of_removal(),
                retain: true,
                properties: PublishProperties::default(),
            };
            if client.publish(&clear).await.is_err() {
                return;
            }
        }
    });
    tx
}

/// A running count of cleared retained messages on a terminal (stderr), since clearing a
/// large tree takes a while and prints nothing else; `None` when piped.
fn removal_counter(wanted: bool) -> Option<ProgressBar> {
    (wanted && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new_spinner();
        let style = ProgressStyle::with_template(
            "{spinner} removing retained messages: {pos} cleared ({per_sec})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    })
}

/// Retained messages are cleared at QoS 1, as mosquitto_sub does, so the clear is acknowledged
/// before the command exits.
fn qos_of_removal() -> QoS {
    QoS::AtLeastOnce
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn json_lines_carry_binary_payloads_as_base64() {
        let msg = Message {
            topic: "t".into(),
            payload: Bytes::from_static(&[0, 159, 146, 150]),
            qos: QoS::AtMostOnce,
            retain: false,
            dup: false,
            pkid: 0,
            properties: None,
        };
        let line = json_line(&msg, &Received::now(), false);
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["encoding"], "base64");
        assert_eq!(v["payload"], "AJ+Slg==");
        assert_eq!(v["topic"], "t");
        assert!(v.get("properties").is_none());
    }

    #[test]
    fn json_lines_keep_text_as_text() {
        let msg = Message {
            topic: "t".into(),
            payload: Bytes::from_static(b"hello"),
            qos: QoS::AtLeastOnce,
            retain: true,
            dup: false,
            pkid: 1,
            properties: Some(PublishProperties {
                user_properties: vec![("k".into(), "v".into())],
                ..PublishProperties::default()
            }),
        };
        let line = json_line(&msg, &Received::now(), false);
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["payload"], "hello");
        assert!(v.get("encoding").is_none());
        assert_eq!(v["retain"], true);
        assert_eq!(v["properties"]["user_properties"][0][1], "v");
    }
}
