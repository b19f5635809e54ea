//! `mq pub`: publish one message, a file, stdin, or stdin line by line (mosquitto_pub).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use clap::{ArgGroup, Args};
use tokio::sync::mpsc;

use super::connection_args::{failure, ConnectionArgs};
use super::exit::{Failure, FailureKind};
use crate::client::{
    self, Backoff, ClientError, Event, OutgoingMessage, PublishProperties, QoS, Sent, Update,
};

const MESSAGE: &str = "Message";

/// Publish MQTT messages (a drop-in for mosquitto_pub).
///
/// Give the message with exactly one of -m, -f, -s, -l, -n or --line-topics.
/// Exits with 6 when the broker refuses a publish (MQTT 5 PUBACK/PUBREC reason 0x80 or above).
/// MQTT 3.1, 3.1.1 and 5 (-V 31, 311, 5).
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
#[command(group(ArgGroup::new("payload_source").required(true).args(["message", "file", "stdin_file", "stdin_line", "null_message", "line_topics"])))]
pub struct PublishArgs {
    /// Topic to publish to (or give it in the -L URL).
    #[arg(short = 't', long, help_heading = MESSAGE)]
    pub topic: Option<String>,
    /// The message payload.
    #[arg(short = 'm', long, value_name = "MESSAGE", help_heading = MESSAGE)]
    pub message: Option<String>,
    /// Send the contents of a file as the message.
    #[arg(short = 'f', long, value_name = "FILE", help_heading = MESSAGE)]
    pub file: Option<PathBuf>,
    /// Read the message from stdin, all of it as one message.
    #[arg(short = 's', long = "stdin-file", help_heading = MESSAGE)]
    pub stdin_file: bool,
    /// Read stdin and send one message per line, on one connection; reconnects after a drop.
    #[arg(short = 'l', long = "stdin-line", help_heading = MESSAGE)]
    pub stdin_line: bool,
    /// Send an empty (null) message.
    #[arg(short = 'n', long = "null-message", help_heading = MESSAGE)]
    pub null_message: bool,
    /// Like -l, but each line is `TOPIC PAYLOAD` (split at the first space).
    #[arg(long, help_heading = MESSAGE)]
    pub line_topics: bool,
    /// QoS of the messages.
    #[arg(short = 'q', long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2), help_heading = MESSAGE)]
    pub qos: u8,
    /// Retain the message.
    #[arg(short = 'r', long, help_heading = MESSAGE)]
    pub retain: bool,
    /// Publish the message this many times.
    #[arg(long, value_name = "COUNT", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..), help_heading = MESSAGE)]
    pub repeat: u64,
    /// Seconds to wait between repeats (fractions allowed).
    #[arg(long, value_name = "SECS", default_value_t = 0.0, help_heading = MESSAGE)]
    pub repeat_delay: f64,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// What to send.
enum Source {
    /// One payload, sent `repeat` times.
    Fixed { payload: Bytes, repeat: u64 },
    /// Lines from stdin; with `topics`, each line starts with its topic.
    Lines {
        rx: mpsc::Receiver<Vec<u8>>,
        topics: bool,
    },
}

fn read_stdin_lines() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(1024);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    if tx.blocking_send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

pub fn run(args: PublishArgs) -> Result<(), Failure> {
    let resolved = args.connection.resolve("pub")?;
    let topic = args.topic.clone().or(resolved.url_topic.clone());
    if topic.is_none() && !args.line_topics {
        return Err(Failure::new(
            FailureKind::Usage,
            "no topic: give one with -t (or in the -L URL)",
        ));
    }
    if let Some(t) = &topic {
        mq_proto::topic::validate_topic_name(t).map_err(|e| {
            Failure::new(
                FailureKind::Usage,
                format!(
                    "-t {t:?}: not a valid topic name: {e}; a message goes to one topic \
                     (wildcards are for mq sub)"
                ),
            )
        })?;
    }
    if !(args.repeat_delay.is_finite() && args.repeat_delay >= 0.0) {
        return Err(Failure::new(
            FailureKind::Usage,
            "--repeat-delay must be zero or more seconds",
        ));
    }
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
    let source = if args.stdin_line || args.line_topics {
        None
    } else {
        let payload = if let Some(m) = &args.message {
            Bytes::from(m.clone().into_bytes())
        } else if let Some(path) = &args.file {
            Bytes::from(std::fs::read(path).map_err(|e| {
                Failure::new(FailureKind::Usage, format!("-f {}: {e}", path.display()))
            })?)
        } else if args.stdin_file {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Failure::new(FailureKind::General, format!("reading stdin: {e}")))?;
            Bytes::from(buf)
        } else {
            Bytes::new()
        };
        Some(payload)
    };
    let quiet = resolved.quiet;
    let result = runtime.block_on(async move {
        let source = match source {
            Some(payload) => Source::Fixed {
                payload,
                repeat: args.repeat,
            },
            None => Source::Lines {
                rx: read_stdin_lines(),
                topics: args.line_topics,
            },
        };
        publish(&args, resolved, topic, source).await
    });
    match result {
        Err(f) if quiet => Err(Failure::new(f.kind, "")),
        other => other,
    }
}

struct Progress {
    /// Submitted and not yet completed.
    outstanding: usize,
    /// Topics of submitted publishes not yet seen on the wire, in order.
    unsent_topics: VecDeque<String>,
    /// Packet Identifier to topic, for messages about refused publishes.
    inflight: HashMap<u16, String>,
    refused: Option<String>,
}

impl Progress {
    fn complete(&mut self, pkid: u16, reason: &client::Reason, quiet: bool) {
        self.outstanding = self.outstanding.saturating_sub(1);
        let topic = self.inflight.remove(&pkid).unwrap_or_default();
        if reason.is_failure() {
            let text = format!("the broker refused the publish to {topic:?}: {reason}");
            if !quiet {
                eprintln!("mq pub: {text}");
            }
            self.refused.get_or_insert(text);
        }
    }
}

async fn publish(
    args: &PublishArgs,
    resolved: super::connection_args::Resolved,
    topic: Option<String>,
    mut source: Source,
) -> Result<(), Failure> {
    let opts = resolved.options;
    let client_id = opts.client_id.clone();
    let debug = resolved.debug;
    let quiet = resolved.quiet;
    let qos = QoS::from_u8(args.qos).unwrap_or(QoS::AtMostOnce);
    let window = opts.request_capacity.saturating_sub(10).max(1);
    let line_mode = matches!(source, Source::Lines { .. });
    let (client, connection) = client::connect(&opts).map_err(failure)?;
    let mut updates = client::drive(connection, line_mode, Backoff::default());
    if debug {
        eprintln!("{}", Event::Sent(Sent::Connect).trace(&client_id));
    }

    let properties: PublishProperties = opts.properties.publish.clone();
    let make = |topic: String, payload: Bytes| OutgoingMessage {
        topic,
        payload,
        qos,
        retain: args.retain,
        properties: properties.clone(),
    };
    let mut progress = Progress {
        outstanding: 0,
        unsent_topics: VecDeque::new(),
        inflight: HashMap::new(),
        refused: None,
    };
    let mut connected = false;
    let mut sent_count: u64 = 0;
    let mut input_done = false;
    let mut disconnecting = false;
    let mut lost_notice_shown = false;
    let repeat_delay = Duration::from_secs_f64(args.repeat_delay);
    let mut next_repeat_at = tokio::time::Instant::now();

    loop {
        // Everything sent and acknowledged: say goodbye.
        if input_done && progress.outstanding == 0 && connected && !disconnecting {
            disconnecting = true;
            client.disconnect().await.map_err(failure)?;
        }
        let want_line = connected && !input_done && !disconnecting && progress.outstanding < window;
        let fixed_ready = match &source {
            Source::Fixed { repeat, .. } => {
                want_line && progress.outstanding == 0 && sent_count < *repeat
            }
            Source::Lines { .. } => false,
        };
        tokio::select! {
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
                                if lost_notice_shown && !quiet {
                                    eprintln!("mq pub: reconnected to {}", opts.endpoint.authority());
                                }
                                lost_notice_shown = false;
                                connected = true;
                            }
                            Event::Sent(Sent::Publish(pkid)) => {
                                if pkid == 0 {
                                    progress.unsent_topics.pop_front();
                                    progress.outstanding = progress.outstanding.saturating_sub(1);
                                } else if !progress.inflight.contains_key(&pkid) {
                                    let topic = progress.unsent_topics.pop_front().unwrap_or_default();
                                    progress.inflight.insert(pkid, topic);
                                }
                            }
                            Event::Sent(Sent::Disconnect) => break,
                            Event::PubAck { pkid, reason } => progress.complete(pkid, &reason, quiet),
                            Event::PubRec { pkid, reason } if reason.is_failure() => {
                                progress.complete(pkid, &reason, quiet)
                            }
                            Event::PubComp { pkid, reason } => progress.complete(pkid, &reason, quiet),
                            _ => {}
                        }
                    }
                    Update::Lost { error, retry_in } => {
                        connected = false;
                        if disconnecting {
                            break;
                        }
                        if !lost_notice_shown && !quiet {
                            eprintln!(
                                "mq pub: {error}; reconnecting (first try in {:.1} s)",
                                retry_in.as_secs_f64()
                            );
                        }
                        lost_notice_shown = true;
                    }
                    Update::Failed(error) => {
                        if disconnecting {
                            break;
                        }
                        if let ClientError::UnreadableReason { reason } = &error {
                            return Err(Failure::new(
                                FailureKind::Refused,
                                format!("the broker refused a publish: {reason}"),
                            ));
                        }
                        return Err(failure(error));
                    }
                }
            }
            _ = tokio::time::sleep_until(next_repeat_at), if fixed_ready => {
                if let Source::Fixed { payload, repeat } = &source {
                    let t = topic.clone().unwrap_or_default();
                    progress.unsent_topics.push_back(t.clone());
                    progress.outstanding += 1;
                    client.try_publish(&make(t, payload.clone())).map_err(failure)?;
                    sent_count += 1;
                    if sent_count >= *repeat {
                        input_done = true;
                    }
                    next_repeat_at = tokio::time::Instant::now() + repeat_delay;
                }
            }
            line = next_line(&mut source), if want_line && !fixed_ready && line_mode => {
                match line {
                    None => input_done = true,
                    Some(line) => {
                        let (t, payload) = match (&source, &topic) {
                            (Source::Lines { topics: true, .. }, _) => split_topic_line(line),
                            (_, Some(t)) => (t.clone(), Bytes::from(line)),
                            (_, None) => continue,
                        };
                        if let Err(e) = mq_proto::topic::validate_topic_name(&t) {
                            if !quiet {
                                eprintln!("mq pub: skipping a line: {t:?} is not a valid topic name: {e}");
                            }
                            progress.refused.get_or_insert_with(|| format!("{t:?} is not a valid topic name"));
                            continue;
                        }
                        progress.unsent_topics.push_back(t.clone());
                        progress.outstanding += 1;
                        client.try_publish(&make(t, payload)).map_err(failure)?;
                    }
                }
            }
        }
    }
    match progress.refused {
        Some(text) => Err(Failure::new(FailureKind::Refused, text)),
        None => Ok(()),
    }
}

async fn next_line(source: &mut Source) -> Option<Vec<u8>> {
    match source {
        Source::Lines { rx, .. } => rx.recv().await,
        Source::Fixed { .. } => std::future::pending().await,
    }
}

fn split_topic_line(line: Vec<u8>) -> (String, Bytes) {
    let (topic, payload) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (line[..i].to_vec(), line[i + 1..].to_vec()),
        None => (line, Vec::new()),
    };
    (
        String::from_utf8_lossy(&topic).into_owned(),
        Bytes::from(payload),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_line_splits_at_the_first_space() {
        let (t, p) = split_topic_line(b"a/b hello world".to_vec());
        assert_eq!(t, "a/b");
        assert_eq!(&p[..], b"hello world");
        let (t, p) = split_topic_line(b"only".to_vec());
        assert_eq!(t, "only");
        assert!(p.is_empty());
    }
}
