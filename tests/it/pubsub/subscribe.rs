//! `mq sub` against `mq broker` and Mosquitto.

use super::*;

fn sub_args(broker: &Broker, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["sub".into()];
    args.extend(broker.args());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn run_sub(broker: &Broker, extra: &[&str]) -> Output {
    let args = sub_args(broker, extra);
    run(
        mq(&args.iter().map(String::as_str).collect::<Vec<_>>()),
        None,
    )
}

#[test]
fn count_exits_0_after_that_many_messages() {
    for broker in brokers("count_exits_0_after_that_many_messages") {
        let sub = Subscriber::start(&broker, &["-t", "c/#", "-C", "2", "-v"]);
        for i in 0..3 {
            publish(&broker, &["-t", &format!("c/{i}"), "-m", "m", "-q", "1"]);
        }
        let (out, stderr) = sub.finish();
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert_eq!(text(&out.stdout), "c/0 m\nc/1 m\n", "{}", broker.name());
    }
}

#[test]
fn a_timeout_without_enough_messages_exits_7() {
    for broker in brokers("a_timeout_without_enough_messages_exits_7") {
        let out = run_sub(&broker, &["-t", "silent", "-W", "1"]);
        assert_fails(&out, 7, &["timed out"]);
        // -C reached before -W is a success.
        publish(&broker, &["-t", "w/r", "-m", "here", "-r"]);
        let out = run_sub(&broker, &["-t", "w/r", "-W", "5", "-C", "1"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "here\n");
        // Fewer than -C before -W: timeout.
        let out = run_sub(&broker, &["-t", "w/r", "-W", "1", "-C", "2"]);
        assert_fails(&out, 7, &["timed out"]);
        assert_eq!(text(&out.stdout), "here\n", "{}", broker.name());
    }
}

#[test]
fn exit_after_subscribe_leaves_at_the_suback() {
    for broker in brokers("exit_after_subscribe_leaves_at_the_suback") {
        let out = run_sub(&broker, &["-t", "e", "-E"]);
        assert!(
            out.status.success(),
            "{}: {}",
            broker.name(),
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn remove_retained_clears_what_it_sees_and_dry_run_does_not() {
    for broker in brokers("remove_retained_clears_what_it_sees_and_dry_run_does_not") {
        for i in 0..3 {
            publish(
                &broker,
                &["-t", &format!("rr/{i}"), "-m", "old", "-r", "-q", "1"],
            );
        }
        let out = run_sub(
            &broker,
            &[
                "-t",
                "rr/#",
                "--remove-retained",
                "--dry-run",
                "-C",
                "3",
                "-v",
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "rr/0 old\nrr/1 old\nrr/2 old\n");
        assert!(text(&out.stderr).contains("would remove the retained message on \"rr/1\""));
        let out = run_sub(&broker, &["-t", "rr/#", "--remove-retained", "-C", "3"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        // Nothing retained is left: -E... a fresh subscriber sees nothing within its wait.
        publish(&broker, &["-t", "rr/marker", "-m", "live"]);
        let out = run_sub(&broker, &["-t", "rr/#", "-W", "1", "-v"]);
        assert_fails(&out, 7, &[]);
        assert_eq!(
            text(&out.stdout),
            "",
            "{}: retained messages survived",
            broker.name()
        );
    }
}

#[test]
fn remove_retained_clears_more_messages_than_the_request_queue_holds() {
    // 500 clears: five times the client's request queue, which once made the clear fail.
    let lines: String = (0..500).map(|i| format!("many/{i} x\n")).collect();
    for broker in brokers("remove_retained_clears_more_messages_than_the_request_queue_holds") {
        let mut args = vec!["pub".to_string()];
        args.extend(broker.args());
        args.extend(["--line-topics", "-r", "-q", "1"].map(String::from));
        let out = run(
            mq(&args.iter().map(String::as_str).collect::<Vec<_>>()),
            Some(lines.as_bytes()),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = run_sub(&broker, &["-t", "many/#", "--remove-retained", "-C", "500"]);
        assert!(
            out.status.success(),
            "{}: {}",
            broker.name(),
            text(&out.stderr)
        );
        let out = run_sub(&broker, &["-t", "many/#", "--retained-only", "-W", "1"]);
        assert_fails(&out, 7, &[]);
        assert_eq!(
            text(&out.stdout),
            "",
            "{}: retained messages survived",
            broker.name()
        );
    }
}

#[test]
fn retained_only_stops_at_the_first_live_message_and_r_skips_retained() {
    for broker in brokers("retained_only_stops_at_the_first_live_message_and_r_skips_retained") {
        publish(&broker, &["-t", "ro/kept", "-m", "stale", "-r"]);
        let sub = Subscriber::start(&broker, &["-t", "ro/#", "--retained-only", "-v"]);
        publish(&broker, &["-t", "ro/live", "-m", "fresh"]);
        let (out, stderr) = sub.finish();
        assert!(out.status.success(), "{stderr}");
        assert_eq!(text(&out.stdout), "ro/kept stale\n", "{}", broker.name());

        let sub = Subscriber::start(&broker, &["-t", "ro/#", "-R", "-v", "-C", "1"]);
        publish(&broker, &["-t", "ro/live", "-m", "fresh"]);
        let (out, _) = sub.finish();
        assert_eq!(text(&out.stdout), "ro/live fresh\n", "{}", broker.name());
    }
}

#[test]
fn filter_out_and_no_eol_and_several_topics() {
    for broker in brokers("filter_out_and_no_eol_and_several_topics") {
        let sub = Subscriber::start(
            &broker,
            &["-t", "a/#", "-t", "b", "-T", "a/secret/#", "-N", "-C", "2"],
        );
        publish(&broker, &["-t", "a/secret/x", "-m", "hidden"]);
        publish(&broker, &["-t", "a/open", "-m", "one"]);
        publish(&broker, &["-t", "b", "-m", "two"]);
        let (out, _) = sub.finish();
        assert_eq!(text(&out.stdout), "onetwo", "{}", broker.name());
    }
}

#[test]
fn unsubscribe_drops_a_subscription_of_a_persistent_session() {
    for broker in brokers("unsubscribe_drops_a_subscription_of_a_persistent_session") {
        // A persistent session subscribed to two filters...
        let out = run_sub(
            &broker,
            &[
                "-i",
                "unsub-test",
                "-c",
                "-q",
                "1",
                "-t",
                "u/a",
                "-t",
                "u/b",
                "-E",
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        // ...drops one with -U (and -t on the other).
        let out = run_sub(
            &broker,
            &[
                "-i",
                "unsub-test",
                "-c",
                "-q",
                "1",
                "-t",
                "u/b",
                "-U",
                "u/a",
                "-E",
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        publish(&broker, &["-t", "u/a", "-m", "dropped", "-q", "1"]);
        publish(&broker, &["-t", "u/b", "-m", "kept", "-q", "1"]);
        let out = run_sub(
            &broker,
            &[
                "-i",
                "unsub-test",
                "-c",
                "-q",
                "1",
                "-t",
                "u/b",
                "-C",
                "1",
                "-v",
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "u/b kept\n", "{}", broker.name());
    }
}

#[test]
fn a_persistent_session_gets_what_was_sent_while_away() {
    for broker in brokers("a_persistent_session_gets_what_was_sent_while_away") {
        for v in ["31", "311", "5"] {
            let id = format!("away-{v}");
            let out = run_sub(
                &broker,
                &[
                    "-V", v, "-i", &id, "-c", "-q", "1", "-t", "away", "-E", "-k", "30",
                ],
            );
            assert!(out.status.success(), "{}", text(&out.stderr));
            publish(&broker, &["-t", "away", "-m", "queued", "-q", "1"]);
            let out = run_sub(
                &broker,
                &["-V", v, "-i", &id, "-c", "-q", "1", "-t", "away", "-C", "1"],
            );
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert_eq!(text(&out.stdout), "queued\n", "{} -V {v}", broker.name());
        }
        // -x on MQTT 5 sets the session expiry explicitly.
        let out = run_sub(
            &broker,
            &[
                "-V", "5", "-i", "away-x", "-c", "-x", "60", "-q", "1", "-t", "away", "-E",
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
}

#[test]
fn json_lines_are_safe_for_binary_payloads() {
    for broker in brokers("json_lines_are_safe_for_binary_payloads") {
        let bytes: Vec<u8> = (0..=255u8).collect();
        let file = broker.dir.path().join("binary");
        std::fs::write(&file, &bytes).unwrap();
        let sub = Subscriber::start(
            &broker,
            &["-V", "5", "-t", "bin/#", "--json", "-C", "2", "-q", "1"],
        );
        publish(
            &broker,
            &["-t", "bin/raw", "-f", file.to_str().unwrap(), "-q", "1"],
        );
        publish(
            &broker,
            &[
                "-V",
                "5",
                "-t",
                "bin/text",
                "-m",
                "plain \"text\"",
                "-D",
                "publish",
                "user-property",
                "k",
                "v",
            ],
        );
        let (out, stderr) = sub.finish();
        assert!(out.status.success(), "{stderr}");
        let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
        assert_eq!(lines.len(), 2, "{}: {lines:?}", broker.name());
        let raw = json_fields(lines[0]);
        assert_eq!(raw.get("topic").map(String::as_str), Some("\"bin/raw\""));
        assert_eq!(raw.get("encoding").map(String::as_str), Some("\"base64\""));
        assert_eq!(raw.get("qos").map(String::as_str), Some("1"));
        let payload = raw.get("payload").unwrap().trim_matches('"').to_owned();
        assert_eq!(base64_decode(&payload), bytes, "{}", broker.name());
        assert!(
            lines[1].contains("\"payload\":\"plain \\\"text\\\"\""),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].contains("\"user_properties\":[[\"k\",\"v\"]]"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains("\"received\":\""), "{}", lines[1]);
        assert!(!lines[1].contains("encoding"), "{}", lines[1]);
    }
}

/// Top-level fields of a flat JSON object, values as raw JSON text (enough for these lines).
fn json_fields(line: &str) -> std::collections::HashMap<String, String> {
    let mut fields = std::collections::HashMap::new();
    let body = line.trim().trim_start_matches('{').trim_end_matches('}');
    let mut rest = body;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('"') else { break };
        let key = after[..end].to_owned();
        let value_part = &after[end + 2..];
        let (value, tail) = if value_part.starts_with('"') {
            let mut i = 1;
            let b = value_part.as_bytes();
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            (
                &value_part[..=i.min(b.len() - 1)],
                &value_part[(i + 1).min(b.len())..],
            )
        } else if value_part.starts_with('{') || value_part.starts_with('[') {
            let close = if value_part.starts_with('{') {
                '}'
            } else {
                ']'
            };
            let i = value_part.find(close).unwrap_or(value_part.len() - 1);
            (&value_part[..=i], &value_part[i + 1..])
        } else {
            let i = value_part.find(',').unwrap_or(value_part.len());
            (&value_part[..i], &value_part[i..])
        };
        fields.insert(key, value.to_owned());
        rest = tail.trim_start_matches(',');
    }
    fields
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("valid base64")
}

#[test]
fn mqtt5_subscription_options_are_honoured() {
    for broker in brokers("mqtt5_subscription_options_are_honoured") {
        publish(&broker, &["-t", "so/kept", "-m", "stale", "-r"]);
        // --rh 2: no retained messages at subscribe time.
        let sub = Subscriber::start(
            &broker,
            &["-V", "5", "-t", "so/#", "--rh", "2", "-v", "-C", "1"],
        );
        publish(&broker, &["-t", "so/live", "-m", "fresh"]);
        let (out, _) = sub.finish();
        assert_eq!(
            text(&out.stdout),
            "so/live fresh\n",
            "{} --rh 2",
            broker.name()
        );
        // --rap: a retained publish is forwarded with its retain flag.
        let sub = Subscriber::start(
            &broker,
            &[
                "-V", "5", "-t", "so/rap", "--rap", "--rh", "2", "-F", "%r %p", "-C", "1",
            ],
        );
        publish(&broker, &["-t", "so/rap", "-m", "flagged", "-r"]);
        let (out, _) = sub.finish();
        assert_eq!(text(&out.stdout), "1 flagged\n", "{} --rap", broker.name());
        // --nl is accepted and the subscription works for other clients' messages.
        let sub = Subscriber::start(&broker, &["-V", "5", "-t", "so/nl", "--nl", "-C", "1"]);
        publish(&broker, &["-t", "so/nl", "-m", "from another client"]);
        let (out, _) = sub.finish();
        assert_eq!(
            text(&out.stdout),
            "from another client\n",
            "{} --nl",
            broker.name()
        );
        // These are MQTT 5 options.
        let out = run_sub(&broker, &["-t", "so/x", "--nl", "-E"]);
        assert_fails(&out, 2, &["-V 5"]);
    }
}

#[test]
fn a_subscription_identifier_comes_back_with_the_message() {
    // mq broker does not send Subscription Identifiers yet; Mosquitto does.
    let Some(broker) = mosquitto("a_subscription_identifier_comes_back_with_the_message", "")
    else {
        return;
    };
    let sub = Subscriber::start(
        &broker,
        &[
            "-V", "5", "-t", "sid", "--sub-id", "42", "-F", "%S %p", "-C", "1",
        ],
    );
    publish(&broker, &["-t", "sid", "-m", "tagged"]);
    let (out, _) = sub.finish();
    assert_eq!(text(&out.stdout), "42 tagged\n");
}

/// A one-connection MQTT 3.1.1 / 5 "broker" that accepts CONNECT and refuses every
/// subscription with `code`. Mosquitto 2.0.11 cannot be made to refuse one: it grants
/// subscriptions its ACL denies and filters at delivery instead.
fn refusing_broker(code: u8) -> u16 {
    use std::io::Read;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let read_packet = |s: &mut TcpStream| -> Option<(u8, Vec<u8>)> {
            let mut head = [0u8; 1];
            s.read_exact(&mut head).ok()?;
            let (mut len, mut shift) = (0usize, 0);
            loop {
                let mut b = [0u8; 1];
                s.read_exact(&mut b).ok()?;
                len |= usize::from(b[0] & 0x7f) << shift;
                shift += 7;
                if b[0] & 0x80 == 0 {
                    break;
                }
            }
            let mut body = vec![0u8; len];
            s.read_exact(&mut body).ok()?;
            Some((head[0], body))
        };
        let Some((_, connect)) = read_packet(&mut s) else {
            return;
        };
        // Protocol level sits after the protocol name "MQTT" (2 + 4 bytes).
        let v5 = connect.get(6) == Some(&5);
        let _ = s.write_all(if v5 {
            &[0x20, 3, 0, 0, 0]
        } else {
            &[0x20, 2, 0, 0]
        });
        while let Some((kind, body)) = read_packet(&mut s) {
            if kind >> 4 == 8 && body.len() >= 2 {
                let suback: Vec<u8> = if v5 {
                    vec![0x90, 4, body[0], body[1], 0, code]
                } else {
                    vec![0x90, 3, body[0], body[1], 0x80]
                };
                let _ = s.write_all(&suback);
            }
        }
    });
    port
}

#[test]
fn all_denied_subscriptions_exit_6_and_say_why() {
    for (v, words) in [
        ("311", "unspecified error (0x80)"),
        ("5", "not authorized (0x87)"),
    ] {
        let port = refusing_broker(0x87).to_string();
        let out = run(
            mq(&[
                "sub",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-V",
                v,
                "-t",
                "closed/#",
            ]),
            None,
        );
        assert_fails(&out, 6, &["denied", words]);
    }
}

#[test]
fn a_closed_pipe_ends_the_subscriber_quietly() {
    for broker in brokers("a_closed_pipe_ends_the_subscriber_quietly") {
        let mut sub = Subscriber::start(&broker, &["-t", "pipe"]);
        let stdout = sub.stdout().unwrap();
        publish(&broker, &["-t", "pipe", "-m", "first"]);
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "first\n");
        drop(reader); // like `| head -1`
        publish(&broker, &["-t", "pipe", "-m", "second"]);
        publish(&broker, &["-t", "pipe", "-m", "third"]);
        let (out, stderr) = sub.finish();
        assert_eq!(out.status.code(), Some(0), "{}: {stderr}", broker.name());
        assert!(!stderr.contains("mq:"), "{stderr}");
    }
}

#[test]
fn the_subscriber_reconnects_and_subscribes_again_after_a_loss() {
    for v in ["31", "311", "5"] {
        let mut broker = mq_broker();
        let mut sub = Subscriber::start(&broker, &["-V", v, "-t", "again", "-C", "1", "-q", "1"]);
        broker.kill();
        sub.wait_for_stderr("reconnecting");
        let broker = mq_broker_on(broker.port);
        sub.wait_for_stderr("received SUBACK");
        publish(&broker, &["-t", "again", "-m", "back", "-q", "1"]);
        let (out, stderr) = sub.finish();
        assert!(out.status.success(), "-V {v}: {stderr}");
        assert_eq!(text(&out.stdout), "back\n", "-V {v}");
        assert_eq!(
            stderr.matches("reconnecting").count(),
            1,
            "one notice per loss: {stderr}"
        );
    }
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    for broker in brokers("colour_only_on_a_terminal_and_never_with_no_color") {
        publish(&broker, &["-t", "col", "-m", "plain", "-r"]);
        // Piped: no escape codes, even with -v.
        let out = run_sub(&broker, &["-t", "col", "-v", "-C", "1"]);
        assert_eq!(text(&out.stdout), "col plain\n", "{}", broker.name());
        if !have_tool(
            "colour_only_on_a_terminal_and_never_with_no_color",
            "script",
        ) {
            continue;
        }
        // On a terminal (script(1) gives it one): the topic is coloured, unless NO_COLOR.
        let line = format!("{MQ} sub -h 127.0.0.1 -p {} -t col -v -C 1", broker.port);
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"])
            .env_remove("NO_COLOR");
        let out = run(cmd, None);
        assert!(
            text(&out.stdout).contains("\x1b["),
            "no colour on a TTY: {:?}",
            text(&out.stdout)
        );
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"]).env("NO_COLOR", "1");
        let out = run(cmd, None);
        assert!(
            !text(&out.stdout).contains("\x1b["),
            "colour despite NO_COLOR: {:?}",
            text(&out.stdout)
        );
        assert!(text(&out.stdout).contains("col plain"));
    }
}

#[test]
fn pretty_json_spans_lines_and_still_parses() {
    for broker in brokers("pretty_json_spans_lines_and_still_parses") {
        publish(&broker, &["-t", "pj", "-m", "x", "-r"]);
        let out = run_sub(&broker, &["-t", "pj", "--json", "--pretty", "-C", "1"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let body = text(&out.stdout);
        assert!(body.lines().count() > 3, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(v["topic"], "pj");
        assert_eq!(v["retain"], true);
    }
}
