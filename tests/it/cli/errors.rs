//! The messages of common mistakes, as the real binary prints them: each says what happened
//! and what to do next. Ports and temporary folders are redacted from the snapshots.

use std::path::Path;

use crate::harness::Broker;
use crate::pubsub::{free_port, mq, run, text};

/// Runs `mq ARGS` and renders the command, its exit code and its stderr for a snapshot,
/// with each `(from, to)` replaced (ports, temporary folders).
fn mistake(args: &[&str], redact: &[(&str, &str)]) -> String {
    let out = run(mq(args), None);
    let mut shown = format!(
        "$ mq {}\nexit code: {}\n{}",
        args.join(" "),
        out.status.code().map_or("none".into(), |c| c.to_string()),
        text(&out.stderr)
    );
    for (from, to) in redact {
        shown = shown.replace(from, to);
    }
    shown
}

/// `mistake` for `mq pub OPTIONS -t t -m m`, the command most mistakes are made with.
fn publish_mistake(options: &[&str], redact: &[(&str, &str)]) -> String {
    let mut args = vec!["pub"];
    args.extend_from_slice(options);
    args.extend_from_slice(&["-t", "t", "-m", "m"]);
    mistake(&args, redact)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `mq certs init --dir DIR`: a CA and the certificates the broker and clients use.
fn certs(dir: &Path) {
    let out = run(mq(&["certs", "init", "--dir", path(dir)]), None);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn mistakes_made_before_any_broker_answers() {
    let port = free_port().to_string();
    let redact = [(port.as_str(), "[PORT]")];
    insta::assert_snapshot!(
        "no_broker_listening",
        publish_mistake(&["-p", &port], &redact)
    );
    insta::assert_snapshot!(
        "invalid_topic_filter",
        mistake(&["sub", "-p", &port, "-t", "vdm/#/engineOff"], &redact)
    );
    insta::assert_snapshot!(
        "wildcard_in_a_topic_name",
        mistake(
            &["pub", "-p", &port, "-t", "vdm/+/engineOff", "-m", "m"],
            &redact
        )
    );
    insta::assert_snapshot!(
        "qos_out_of_range",
        mistake(&["pub", "-t", "t", "-q", "3", "-m", "m"], &[])
    );
    insta::assert_snapshot!("missing_message", mistake(&["pub", "-t", "t"], &[]));
    insta::assert_snapshot!(
        "broker_password_file_missing",
        mistake(
            &[
                "broker",
                "-p",
                "0",
                "--persistence",
                "off",
                "--password-file",
                "no-such.pw"
            ],
            &[]
        )
    );
}

#[test]
fn a_port_in_use_says_to_pick_another() {
    let broker = Broker::start();
    let port = broker.port().to_string();
    insta::assert_snapshot!(
        "port_in_use",
        mistake(
            &["broker", "-p", &port, "--persistence", "off"],
            &[(&port, "[PORT]")]
        )
    );
}

#[test]
fn a_wrong_password_and_a_missing_one_say_which_flags_give_them() {
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("users.pw");
    let out = run(
        mq(&["passwd", "-b", "-c", path(&passwords), "alice", "s3cret"]),
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let broker = Broker::start_with(&["--password-file", path(&passwords)]);
    let port = broker.port().to_string();
    let redact = [(port.as_str(), "[PORT]")];
    insta::assert_snapshot!(
        "wrong_password",
        mistake(
            &["pub", "-p", &port, "-t", "t", "-m", "m", "-u", "alice", "-P", "wrong"],
            &redact
        )
    );
    insta::assert_snapshot!("no_user_name", publish_mistake(&["-p", &port], &redact));
}

#[test]
fn tls_mistakes_name_the_cause_and_the_fix() {
    let ours = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    certs(ours.path());
    certs(other.path());
    let broker = Broker::start_with(&["--tls", path(ours.path()), "--tls-port", "0"]);
    let plain = broker.port().to_string();
    let tls = broker.listener("mqtts").port().to_string();
    let ca = ours.path().join("ca.crt");
    let other_ca = other.path().join("ca.crt");
    let redact = [
        (plain.as_str(), "[PORT]"),
        (tls.as_str(), "[TLS-PORT]"),
        (path(ours.path()), "[CERTS]"),
        (path(other.path()), "[OTHER-CERTS]"),
    ];
    insta::assert_snapshot!(
        "tls_unknown_ca",
        publish_mistake(&["-p", &tls, "--cafile", path(&other_ca)], &redact)
    );
    insta::assert_snapshot!(
        "tls_to_a_plain_port",
        publish_mistake(&["-p", &plain, "--cafile", path(&ca)], &redact)
    );
    insta::assert_snapshot!(
        "plain_mqtt_to_a_tls_port",
        publish_mistake(&["-p", &tls], &redact)
    );
}

#[test]
fn a_certificate_for_another_host_lists_the_names_it_has() {
    let dir = tempfile::tempdir().unwrap();
    certs(dir.path());
    let d = path(dir.path());
    let out = run(
        mq(&[
            "certs",
            "server",
            "--dir",
            d,
            "--no-default-sans",
            "--san",
            "broker.example",
            "--force",
        ]),
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let broker = Broker::start_with(&["--tls", d, "--tls-port", "0"]);
    let tls = broker.listener("mqtts").port().to_string();
    let ca = dir.path().join("ca.crt");
    insta::assert_snapshot!(
        "tls_host_name_mismatch",
        publish_mistake(
            &["-h", "127.0.0.1", "-p", &tls, "--cafile", path(&ca)],
            &[(tls.as_str(), "[TLS-PORT]"), (d, "[CERTS]")]
        )
    );
}

#[test]
fn a_bad_config_line_is_named_by_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("mq.toml");
    std::fs::write(&toml, "sys_interval = 10\nmax_packet_size = \"big\"\n").unwrap();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(&conf, "listener 1883\nallow_anonymus true\n").unwrap();
    let redact = [(path(dir.path()), "[DIR]")];
    insta::assert_snapshot!(
        "config_bad_value",
        mistake(&["broker", "-c", path(&toml), "--check"], &redact)
    );
    insta::assert_snapshot!(
        "config_unknown_mosquitto_option",
        mistake(&["broker", "-c", path(&conf), "--check"], &redact)
    );
}
