//! `mq pub` against `mq broker` and Mosquitto.

use super::*;

#[test]
fn messages_arrive_at_every_qos_on_both_brokers() {
    for broker in brokers("messages_arrive_at_every_qos_on_both_brokers") {
        for v in ["31", "311", "5"] {
            let sub =
                Subscriber::start(&broker, &["-V", v, "-t", "q/#", "-q", "2", "-v", "-C", "3"]);
            for qos in ["0", "1", "2"] {
                publish(
                    &broker,
                    &[
                        "-V",
                        v,
                        "-t",
                        &format!("q/{qos}"),
                        "-m",
                        &format!("at {qos}"),
                        "-q",
                        qos,
                    ],
                );
            }
            let (out, stderr) = sub.finish();
            assert!(out.status.success(), "{}: {stderr}", broker.name());
            assert_eq!(
                text(&out.stdout),
                "q/0 at 0\nq/1 at 1\nq/2 at 2\n",
                "{} -V {v}",
                broker.name()
            );
        }
    }
}

#[test]
fn the_message_comes_from_m_f_s_or_n() {
    for broker in brokers("the_message_comes_from_m_f_s_or_n") {
        let file = broker.dir.path().join("payload.bin");
        std::fs::write(&file, b"from a file\nwith two lines").unwrap();
        let sub = Subscriber::start(&broker, &["-t", "src", "-F", "%l:%p", "-C", "4"]);
        publish(&broker, &["-t", "src", "-m", "from -m"]);
        publish(&broker, &["-t", "src", "-f", file.to_str().unwrap()]);
        let mut cmd = mq(&[
            "pub",
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-t",
            "src",
            "-s",
        ]);
        cmd.env_remove("CI");
        let out = run(cmd, Some(b"from stdin\x00\xff"));
        assert!(out.status.success(), "{}", text(&out.stderr));
        publish(&broker, &["-t", "src", "-n"]);
        let (out, stderr) = sub.finish();
        assert!(out.status.success(), "{stderr}");
        assert_eq!(
            out.stdout,
            b"7:from -m\n26:from a file\nwith two lines\n12:from stdin\x00\xff\n0:\n".to_vec(),
            "{}",
            broker.name()
        );
    }
}

#[test]
fn ten_thousand_lines_arrive_complete_and_in_order_at_qos_1() {
    let lines: String = (0..10_000).map(|i| format!("line {i:05}\n")).collect();
    // The subscriber traces every packet (-d), so it is slower than the publisher: let both
    // brokers queue all 10,000 messages for it rather than drop any (Mosquitto keeps 1,000).
    let test = "ten_thousand_lines_arrive_complete_and_in_order_at_qos_1";
    let mut list = vec![mq_broker_with(0, &["--max-queued-messages", "20000"])];
    list.extend(mosquitto(test, "max_queued_messages 20000"));
    for broker in list {
        let sub = Subscriber::start(&broker, &["-t", "lines", "-q", "1", "-C", "10000"]);
        let mut args: Vec<String> = vec!["pub".into()];
        args.extend(broker.args());
        args.extend(["-t", "lines", "-q", "1", "-l"].map(String::from));
        let out = run(
            mq(&args.iter().map(String::as_str).collect::<Vec<_>>()),
            Some(lines.as_bytes()),
        );
        assert!(
            out.status.success(),
            "{}: {}",
            broker.name(),
            text(&out.stderr)
        );
        let (out, stderr) = sub.finish();
        assert!(out.status.success(), "{stderr}");
        assert!(
            text(&out.stdout) == lines,
            "{}: lines lost or out of order",
            broker.name()
        );
    }
}

#[test]
fn line_topics_take_the_topic_from_each_line() {
    for broker in brokers("line_topics_take_the_topic_from_each_line") {
        let sub = Subscriber::start(&broker, &["-t", "lt/#", "-v", "-C", "3"]);
        let mut args: Vec<String> = vec!["pub".into()];
        args.extend(broker.args());
        args.push("--line-topics".into());
        let out = run(
            mq(&args.iter().map(String::as_str).collect::<Vec<_>>()),
            Some(b"lt/a first message\nlt/b second\nlt/c\n"),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let (out, _) = sub.finish();
        assert_eq!(
            text(&out.stdout),
            "lt/a first message\nlt/b second\nlt/c (null)\n",
            "{}",
            broker.name()
        );
    }
}

#[test]
fn repeat_publishes_the_message_again() {
    for broker in brokers("repeat_publishes_the_message_again") {
        let sub = Subscriber::start(&broker, &["-t", "rep", "-C", "3"]);
        publish(
            &broker,
            &[
                "-t",
                "rep",
                "-m",
                "again",
                "--repeat",
                "3",
                "--repeat-delay",
                "0.05",
                "-q",
                "1",
            ],
        );
        let (out, _) = sub.finish();
        assert_eq!(
            text(&out.stdout),
            "again\nagain\nagain\n",
            "{}",
            broker.name()
        );
    }
}

#[test]
fn retained_messages_reach_later_subscribers() {
    for broker in brokers("retained_messages_reach_later_subscribers") {
        publish(&broker, &["-t", "ret/a", "-m", "kept", "-r", "-q", "1"]);
        let mut args: Vec<String> = vec!["sub".into()];
        args.extend(broker.args());
        args.extend(["-t", "ret/#", "-C", "1", "-F", "%r %t %p"].map(String::from));
        let out = run(
            mq(&args.iter().map(String::as_str).collect::<Vec<_>>()),
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "1 ret/a kept\n", "{}", broker.name());
    }
}

#[test]
fn a_url_gives_host_port_and_topic() {
    for broker in brokers("a_url_gives_host_port_and_topic") {
        let sub = Subscriber::start_with(mq(&[
            "sub",
            "-d",
            "-L",
            &format!("mqtt://127.0.0.1:{}/url/topic", broker.port),
            "-C",
            "1",
            "-v",
        ]));
        let out = run(
            mq(&[
                "pub",
                "-L",
                &format!("mqtt://127.0.0.1:{}/url/topic", broker.port),
                "-m",
                "via url",
            ]),
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let (out, _) = sub.finish();
        assert_eq!(
            text(&out.stdout),
            "url/topic via url\n",
            "{}",
            broker.name()
        );
    }
}

#[test]
fn mqtt5_properties_travel_with_the_message() {
    for broker in brokers("mqtt5_properties_travel_with_the_message") {
        let sub = Subscriber::start(
            &broker,
            &[
                "-V",
                "5",
                "-t",
                "props",
                "-C",
                "1",
                "-F",
                "%C|%P|%R|%D|%F|%E",
            ],
        );
        publish(
            &broker,
            &[
                "-V",
                "5",
                "-t",
                "props",
                "-m",
                "x",
                "-D",
                "publish",
                "content-type",
                "text/plain",
                "-D",
                "publish",
                "user-property",
                "k",
                "v",
                "-D",
                "publish",
                "response-topic",
                "answers",
                "-D",
                "publish",
                "correlation-data",
                "c-1",
                "-D",
                "publish",
                "payload-format-indicator",
                "1",
                "-D",
                "publish",
                "message-expiry-interval",
                "3600",
                "-D",
                "connect",
                "session-expiry-interval",
                "0",
            ],
        );
        let (out, stderr) = sub.finish();
        assert!(out.status.success(), "{stderr}");
        let line = text(&out.stdout);
        // The broker may count the expiry down by a second.
        assert!(
            line.starts_with("text/plain|k:v|answers|c-1|1|3600")
                || line.starts_with("text/plain|k:v|answers|c-1|1|3599"),
            "{}: {line:?}",
            broker.name()
        );
    }
}

#[test]
fn the_will_is_published_when_the_client_dies() {
    for broker in brokers("the_will_is_published_when_the_client_dies") {
        for v in ["31", "311", "5"] {
            let watcher = Subscriber::start(&broker, &["-t", "will/#", "-v", "-C", "1"]);
            let mut doomed = Subscriber::start(
                &broker,
                &[
                    "-V",
                    v,
                    "-t",
                    "nothing",
                    "--will-topic",
                    "will/gone",
                    "--will-payload",
                    "bye",
                    "--will-qos",
                    "1",
                ],
            );
            let _ = doomed.child.kill();
            let _ = doomed.child.wait();
            let (out, stderr) = watcher.finish();
            assert!(out.status.success(), "{stderr}");
            assert_eq!(
                text(&out.stdout),
                "will/gone bye\n",
                "{} -V {v}",
                broker.name()
            );
        }
    }
}

#[test]
fn a_refused_mqtt5_publish_exits_6_and_names_the_reason() {
    if !have_mosquitto("a_refused_mqtt5_publish_exits_6_and_names_the_reason") {
        return;
    }
    // Mosquitto 2.0 answers a QoS 1 publish that the ACL denies with PUBACK 0x87.
    let broker = mosquitto_with(
        "acl_file {dir}/acl",
        None,
        &[("acl", b"topic readwrite open/#\n")],
    );
    let mut args: Vec<String> = vec!["pub".into()];
    args.extend(broker.args());
    args.extend(["-V", "5", "-q", "1", "-t", "closed/x", "-m", "no"].map(String::from));
    let out = run(
        mq(&args.iter().map(String::as_str).collect::<Vec<_>>()),
        None,
    );
    assert_fails(&out, 6, &["refused", "closed/x", "not authorized (0x87)"]);
    // QoS 2 is refused through PUBREC.
    let out = run(
        mq(&[
            "pub",
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-V",
            "5",
            "-q",
            "2",
            "-t",
            "closed/y",
            "-m",
            "no",
        ]),
        None,
    );
    assert_fails(&out, 6, &["not authorized (0x87)"]);
    // Allowed topics still work, and -l carries on past a refused line but still fails.
    let out = run(
        mq(&[
            "pub",
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-V",
            "5",
            "-q",
            "1",
            "--line-topics",
        ]),
        Some(b"open/a fine\nclosed/b refused\nopen/c fine\n"),
    );
    assert_fails(&out, 6, &["closed/b"]);
    publish(
        &broker,
        &["-V", "5", "-q", "1", "-t", "open/ok", "-m", "yes"],
    );
}

#[test]
fn pub_lines_reconnect_and_carry_on_after_the_broker_restarts() {
    // The broker is restarted on the same port, which the test can do with `mq broker`.
    for v in ["31", "311", "5"] {
        let mut broker = mq_broker();
        let port = broker.port.to_string();
        let args = [
            "pub",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-V",
            v,
            "-t",
            "lines",
            "-q",
            "1",
            "-l",
            "-d",
        ];
        let mut child = mq(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let wait_for = |needle: &str| loop {
            let line = rx
                .recv_timeout(COMMAND_TIMEOUT)
                .unwrap_or_else(|_| panic!("-V {v}: no {needle:?}"));
            if line.contains(needle) {
                return;
            }
        };
        stdin.write_all(b"before\n").unwrap();
        wait_for("received PUBACK");
        broker.kill();
        wait_for("reconnecting");
        let broker = mq_broker_on(broker.port);
        wait_for("received CONNACK");
        let sub = Subscriber::start(&broker, &["-t", "lines", "-C", "1"]);
        stdin.write_all(b"after\n").unwrap();
        drop(stdin);
        let out = wait_output(child, COMMAND_TIMEOUT);
        assert!(out.status.success(), "-V {v}: {}", text(&out.stderr));
        let (out, _) = sub.finish();
        assert_eq!(text(&out.stdout), "after\n", "-V {v}");
    }
}

#[test]
fn a_retained_will_stays_for_later_subscribers() {
    for broker in brokers("a_retained_will_stays_for_later_subscribers") {
        let mut doomed = Subscriber::start(
            &broker,
            &[
                "-t",
                "nothing",
                "--will-topic",
                "will/kept",
                "--will-payload",
                "last words",
                "--will-retain",
            ],
        );
        let _ = doomed.child.kill();
        let _ = doomed.child.wait();
        let watcher = Subscriber::start(&broker, &["-t", "will/kept", "-F", "%r %p", "-C", "1"]);
        let (out, _) = watcher.finish();
        assert_eq!(text(&out.stdout), "1 last words\n", "{}", broker.name());
    }
}

#[test]
fn a_publish_over_the_brokers_size_limit_is_refused_with_its_reason() {
    if !have_mosquitto("a_publish_over_the_brokers_size_limit_is_refused_with_its_reason") {
        return;
    }
    // Mosquitto answers with PUBACK 0x95, a code rumqttc cannot decode in a PUBACK; the
    // client layer still reports it in words.
    let broker = mosquitto_with("message_size_limit 10", None, &[]);
    let port = broker.port.to_string();
    let out = run(
        mq(&[
            "pub",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-V",
            "5",
            "-q",
            "1",
            "-t",
            "big",
            "-m",
            "far more than ten bytes",
        ]),
        None,
    );
    assert_fails(&out, 6, &["refused", "packet too large (0x95)"]);
}
