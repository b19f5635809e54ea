//! `mq sub -F` against `mosquitto_sub -F`: the same format on the same messages must give
//! the same bytes. Time codes are left out (or masked in %j/%J), since two runs differ in time.

use super::*;

/// Formats compared byte for byte. Every %-code, the flags (-, 0, width, precision) and
/// every \-escape appear; @@ is the one @-code that does not depend on the clock.
const FORMATS: &[&str] = &[
    "%t",
    "%p",
    "%t %p",
    "%q %r %l %m",
    "100%% sure",
    "%x|%X",
    "[%10t][%-10t][%.2t][%5.2t][%-5.2t][%010t]",
    "[%8p][%-8p][%08p][%.3p][%-08p]",
    "[%6x][%-6X][%06x][%20X]",
    "[%05l][%-5l][%5l][%5m][%-3q][%3r]",
    "%C|%P|%R|%D|%F|%A|%S",
    "[%12C][%-12C][%.4C][%3F][%-3F][%03F][%4A][%4S]",
    "[%20R][%-20R][%.3R]",
    "\\t%t\\n%p\\\\\\a\\e\\r\\v\\0end",
    "@@ %t @@",
    "%j",
    "%J",
];

/// Messages as (topic, payload, extra `mq pub` flags), published retained so that both
/// subscribers see the same messages in the same order without racing the publisher.
fn seed(broker: &Broker) -> usize {
    let messages: Vec<(&str, &[u8], Vec<&str>)> = vec![
        (
            "fmt/a",
            b"hello world",
            vec![
                "-D",
                "publish",
                "content-type",
                "text/plain",
                "-D",
                "publish",
                "user-property",
                "k1",
                "v1",
                "-D",
                "publish",
                "user-property",
                "k2",
                "v 2",
                "-D",
                "publish",
                "response-topic",
                "reply/here",
                "-D",
                "publish",
                "correlation-data",
                "corr-7",
                "-D",
                "publish",
                "payload-format-indicator",
                "1",
            ],
        ),
        (
            "fmt/json",
            b"{\"n\": 1, \"s\": \"x\\ty\", \"a\": [true, null, 2.5]}",
            vec![],
        ),
        ("fmt/bin", b"\x01\xff\x00z\"\\\n", vec![]),
        ("fmt/long/topic/name/here", b"x", vec![]),
    ];
    for (topic, payload, extra) in &messages {
        let file = broker.dir.path().join("payload");
        std::fs::write(&file, payload).unwrap();
        let mut args = vec![
            "-V",
            "5",
            "-t",
            topic,
            "-f",
            file.to_str().unwrap(),
            "-r",
            "-q",
            "1",
        ];
        args.extend(extra.iter().copied());
        publish(broker, &args);
    }
    messages.len()
}

/// Replaces the time in `"tst":"..."` so JSON lines from two runs compare.
fn mask_time(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("\"tst\":") {
        let (head, tail) = rest.split_at(i + 6);
        out.push_str(head);
        let tail = tail.trim_start_matches('\t');
        let end = tail[1..].find('"').map_or(tail.len(), |e| e + 2);
        out.push_str("\"TIME\"");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out.into_bytes()
}

/// Same JSON values in the same order (layout and key order aside).
fn same_json_lines(a: &[u8], b: &[u8]) -> bool {
    let values = |bytes: &[u8]| -> Option<Vec<serde_json::Value>> {
        serde_json::Deserializer::from_slice(bytes)
            .into_iter::<serde_json::Value>()
            .collect::<Result<Vec<_>, _>>()
            .ok()
    };
    match (values(a), values(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[test]
fn format_output_is_byte_for_byte_the_same_as_mosquitto_sub() {
    if !have_mosquitto("format_output_is_byte_for_byte_the_same_as_mosquitto_sub") {
        return;
    }
    for broker in brokers("format_output_is_byte_for_byte_the_same_as_mosquitto_sub") {
        let count = seed(&broker).to_string();
        let port = broker.port.to_string();
        for format in FORMATS {
            for extra in [&[][..], &["-N"][..], &["--pretty"][..]] {
                if extra == ["--pretty"] && !format.contains('j') && !format.contains('J') {
                    continue;
                }
                let mut theirs = Command::new("mosquitto_sub");
                theirs.args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-V",
                    "mqttv5",
                    "-q",
                    "1",
                    "-t",
                    "fmt/#",
                ]);
                theirs.args(["-C", &count, "-F", format]).args(extra);
                let theirs = run(theirs, None);
                assert!(
                    theirs.status.success(),
                    "mosquitto_sub: {}",
                    text(&theirs.stderr)
                );
                let mut args = vec![
                    "sub",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-V",
                    "5",
                    "-q",
                    "1",
                    "-t",
                    "fmt/#",
                ];
                args.extend(["-C", &count, "-F", format]);
                args.extend(extra.iter().copied());
                let ours = run(mq(&args), None);
                assert!(ours.status.success(), "mq sub: {}", text(&ours.stderr));
                let (t, o) = (mask_time(&theirs.stdout), mask_time(&ours.stdout));
                // rumqttc hands properties over decoded, not in wire order; %j/%J print them in
                // the order rumqttc encodes (which Mosquitto keeps when relaying `mq pub`).
                // `mq broker` re-encodes in another order, so there the JSON is compared as JSON.
                let same =
                    if broker.kind == Kind::Mq && (format.contains('j') || format.contains('J')) {
                        same_json_lines(&t, &o)
                    } else {
                        t == o
                    };
                assert!(
                    same,
                    "{}: -F {format:?} {extra:?} differs\nmosquitto_sub: {:?}\nmq sub:        {:?}",
                    broker.name(),
                    text(&t),
                    text(&o)
                );
            }
        }
    }
}

#[test]
fn formats_mosquitto_sub_refuses_are_refused_too() {
    let test = "formats_mosquitto_sub_refuses_are_refused_too";
    let check_theirs = have_mosquitto(test);
    for format in [
        "%",
        "trailing %-",
        "%5",
        "%.",
        "%z",
        "\\q",
        "trailing \\",
        "trailing @",
    ] {
        // Refused before connecting, so no broker is needed.
        let ours = run(mq(&["sub", "-p", "1", "-t", "x", "-F", format]), None);
        assert_fails(&ours, 2, &["-F"]);
        if check_theirs {
            let mut theirs = Command::new("mosquitto_sub");
            theirs.args(["-p", "1", "-t", "x", "-F", format]);
            let theirs = run(theirs, None);
            assert!(
                !theirs.status.success(),
                "mosquitto_sub accepted {format:?}"
            );
        }
    }
}

#[test]
fn verbose_and_plain_output_match_mosquitto_sub() {
    if !have_mosquitto("verbose_and_plain_output_match_mosquitto_sub") {
        return;
    }
    for broker in brokers("verbose_and_plain_output_match_mosquitto_sub") {
        let count = seed(&broker).to_string();
        let port = broker.port.to_string();
        for extra in [&["-v"][..], &[][..], &["-v", "-N"][..]] {
            let mut theirs = Command::new("mosquitto_sub");
            theirs
                .args(["-h", "127.0.0.1", "-p", &port, "-t", "fmt/#", "-C", &count])
                .args(extra);
            let theirs = run(theirs, None);
            let mut args = vec![
                "sub",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-t",
                "fmt/#",
                "-C",
                &count,
            ];
            args.extend(extra.iter().copied());
            let ours = run(mq(&args), None);
            assert_eq!(
                text(&ours.stdout),
                text(&theirs.stdout),
                "{} {extra:?}",
                broker.name()
            );
        }
    }
}

#[test]
fn time_codes_print_the_receive_time() {
    for broker in brokers("time_codes_print_the_receive_time") {
        publish(&broker, &["-t", "time", "-m", "t", "-r"]);
        let mut cmd = mq(&[
            "sub",
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-t",
            "time",
            "-C",
            "1",
        ]);
        cmd.args(["-F", "@Y-@m-@dT@H:@M:@S.@N|%I|%U|@s|@@"])
            .env("TZ", "UTC");
        let out = run(cmd, None);
        let line = text(&out.stdout);
        let parts: Vec<&str> = line.trim_end().split('|').collect();
        assert_eq!(parts.len(), 5, "{line}");
        assert_eq!(
            parts[0].len(),
            "2024-01-01T00:00:00.123456789".len(),
            "{line}"
        );
        assert!(parts[1].ends_with("+0000"), "{line}");
        let (secs, nanos) = parts[2].split_once('.').unwrap();
        assert_eq!(nanos.len(), 9);
        assert_eq!(secs, parts[3], "%U and @s agree on the second: {line}");
        assert_eq!(parts[4], "@");
    }
}
