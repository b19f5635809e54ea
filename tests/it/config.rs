//! Configuration files: `mq broker -c mq.toml`, an existing mosquitto.conf run unchanged,
//! `--convert`, `--check`, `--print-config`, the log in Mosquitto's words and as JSON.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use mq_proto::{Bytes, Packet, ProtocolVersion, QoS, ReasonCode};
use tempfile::TempDir;

use crate::auth::password_file;
use crate::harness::Broker;
use crate::raw::{connect_packet, publish_packet, Next, Raw, PATIENCE};

/// The exit code of configuration errors (src/cli/exit.rs: usage error).
const CONFIG_ERROR: i32 = 2;

fn mq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mq"))
        .args(args)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("cannot run mq")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &TempDir, name: &str, contents: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).expect("write a test file");
    path
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// A port where nothing listens: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr").port()
}

/// A mosquitto.conf as Mosquitto's documentation writes them: two listeners (one of them
/// WebSocket), a password file, an ACL, persistence and a bridge.
fn documented_mosquitto_conf(dir: &TempDir) -> PathBuf {
    let passwords = password_file(dir, &[("alice", "secret")], true);
    let acl = write(dir, "acl", "user alice\ntopic readwrite sensors/#\n");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data folder");
    let conf = format!(
        "# Mosquitto 2 configuration\n\
         per_listener_settings false\n\
         allow_anonymous false\n\
         password_file {passwords}\n\
         acl_file {acl}\n\
         \n\
         persistence true\n\
         persistence_location {data}/\n\
         \n\
         listener 0 127.0.0.1\n\
         \n\
         listener 0 127.0.0.1\n\
         protocol websockets\n\
         \n\
         connection cloud\n\
         address 127.0.0.1:{port}\n\
         topic sensors/# out 1 \"\" site1/\n\
         restart_timeout 5 30\n",
        passwords = utf8(&passwords),
        acl = utf8(&acl),
        data = utf8(&data),
        port = closed_port(),
    );
    write(dir, "mosquitto.conf", &conf)
}

fn alice(client_id: &str) -> mq_proto::Connect {
    let mut connect = connect_packet(client_id);
    connect.username = Some("alice".into());
    connect.password = Some(Bytes::from_static(b"secret"));
    connect
}

#[tokio::test]
async fn a_documented_mosquitto_conf_runs_unchanged_with_its_passwords_acl_and_store() {
    let dir = TempDir::new().expect("temp dir");
    let conf = documented_mosquitto_conf(&dir);
    let broker = Broker::start_with(&["-c", utf8(&conf)]);

    let (_, anonymous) = Raw::handshake(broker.addr(), connect_packet("anon")).await;
    assert_eq!(anonymous.reason_code, ReasonCode::NotAuthorized);

    let (mut sub, _) = Raw::connect(broker.addr(), alice("sub")).await;
    assert_eq!(
        sub.subscribe(&[
            ("sensors/#", QoS::AtLeastOnce),
            ("secret/#", QoS::AtLeastOnce)
        ])
        .await,
        vec![ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError],
        "the ACL grants sensors/# only"
    );

    // The WebSocket listener takes the same password.
    let ws = broker.listener("ws");
    let url = format!("ws://{ws}");
    let out = mq(&[
        "pub",
        "-L",
        &url,
        "-t",
        "sensors/ws",
        "-m",
        "over ws",
        "-q",
        "1",
        "-u",
        "alice",
        "-P",
        "secret",
    ]);
    assert!(
        out.status.success(),
        "mq pub over ws: {}",
        text(&out.stderr)
    );
    let publish = sub.recv_publish().await;
    assert_eq!(&publish.topic[..], "sensors/ws");
    assert_eq!(&publish.payload[..], b"over ws");

    assert!(
        dir.path().join("data/mq.redb").exists(),
        "persistence_location holds the store"
    );
}

#[test]
fn convert_writes_mq_toml_that_check_accepts() {
    let dir = TempDir::new().expect("temp dir");
    let conf = documented_mosquitto_conf(&dir);
    let out = mq(&["broker", "--convert", utf8(&conf)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let toml = text(&out.stdout);
    assert!(toml.contains("[[bridge]]"), "{toml}");
    assert!(toml.contains("protocol = \"ws\""), "{toml}");
    let converted = write(&dir, "mq.toml", &toml);
    let check = mq(&["broker", "--check", "-c", utf8(&converted)]);
    assert!(check.status.success(), "{}\n{toml}", text(&check.stderr));
    assert!(text(&check.stdout).contains("configuration OK (2 listeners, 1 bridges"));
}

#[test]
fn an_unknown_toml_key_is_a_config_error_naming_file_line_and_key() {
    let dir = TempDir::new().expect("temp dir");
    let file = write(
        &dir,
        "mq.toml",
        "sys_interval = 5\n\n[[listener]]\nport = 0\ncolour = \"red\"\n",
    );
    let out = mq(&["broker", "-c", utf8(&file)]);
    assert_eq!(out.status.code(), Some(CONFIG_ERROR));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:5: colour: unknown field `colour`",
            utf8(&file)
        )),
        "{stderr}"
    );
    assert!(stderr.contains("expected one of"), "{stderr}");
}

#[test]
fn a_malformed_mosquitto_line_is_a_config_error_naming_the_line() {
    let dir = TempDir::new().expect("temp dir");
    let file = write(
        &dir,
        "mosquitto.conf",
        "listener 0 127.0.0.1\nallow_anonymous perhaps\n",
    );
    let out = mq(&["broker", "-c", utf8(&file)]);
    assert_eq!(out.status.code(), Some(CONFIG_ERROR));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("mosquitto.conf:2: allow_anonymous: \"perhaps\": expected true or false"),
        "{stderr}"
    );
}

#[tokio::test]
async fn unsupported_mosquitto_options_are_warnings_with_their_line() {
    let dir = TempDir::new().expect("temp dir");
    let file = write(
        &dir,
        "mosquitto.conf",
        "listener 0 127.0.0.1\nallow_anonymous true\nmount_point site/\n",
    );
    let check = mq(&["broker", "--check", "-c", utf8(&file)]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(text(&check.stderr).contains("mosquitto.conf:3: mount_point: not supported by mq"));

    let broker = Broker::start_with(&["-c", utf8(&file)]);
    broker
        .wait_for_log("mosquitto.conf:3: mount_point: not supported by mq")
        .await;
}

#[test]
fn check_fails_when_a_named_file_is_missing_and_passes_when_it_is_there() {
    let dir = TempDir::new().expect("temp dir");
    let missing = dir.path().join("passwd");
    let file = write(
        &dir,
        "mq.toml",
        &format!(
            "password_file = \"{}\"\n[persistence]\nmode = \"off\"\n",
            utf8(&missing)
        ),
    );
    let out = mq(&["broker", "--check", "-c", utf8(&file)]);
    assert_eq!(out.status.code(), Some(CONFIG_ERROR));
    assert!(
        text(&out.stderr).contains("password file"),
        "{}",
        text(&out.stderr)
    );

    password_file(&dir, &[("alice", "secret")], false);
    std::fs::rename(dir.path().join("passwords"), &missing).expect("move");
    let out = mq(&["broker", "--check", "-c", utf8(&file)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn print_config_is_a_valid_mq_toml() {
    let dir = TempDir::new().expect("temp dir");
    let out = mq(&["broker", "--print-config"]);
    assert!(out.status.success());
    let example = write(&dir, "mq.toml", &text(&out.stdout));
    let check = mq(&["broker", "--check", "-c", utf8(&example)]);
    assert!(check.status.success(), "{}", text(&check.stderr));
}

#[tokio::test]
async fn connections_are_logged_in_mosquittos_words() {
    let broker = Broker::start();
    let raw = Raw::connect_v311(broker.addr(), "worded").await;
    raw.disconnect().await;
    let port = broker.port();
    let log = broker.wait_for_log("Client worded disconnected.").await;
    assert!(
        log.contains("New connection from 127.0.0.1:")
            && log.contains(&format!(" on port {port}.")),
        "{log}"
    );
    assert!(
        log.contains("New client connected from 127.0.0.1:")
            && log.contains(" as worded (p2, c1, k0)."),
        "{log}"
    );
}

#[tokio::test]
async fn log_format_json_writes_one_json_object_per_line() {
    let broker = Broker::start_with(&["--log-format", "json"]);
    Raw::connect_v311(broker.addr(), "json-client")
        .await
        .disconnect()
        .await;
    let log = broker
        .wait_for_log("Client json-client disconnected.")
        .await;
    let mut messages = Vec::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
        messages.push(value["fields"]["message"].as_str().unwrap_or("").to_owned());
    }
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("New client connected from")),
        "{messages:?}"
    );
}

#[tokio::test]
async fn log_dest_file_and_log_type_from_a_mosquitto_conf() {
    let dir = TempDir::new().expect("temp dir");
    let log_file = dir.path().join("mq.log");
    let conf = write(
        &dir,
        "mosquitto.conf",
        &format!(
            "listener 0 127.0.0.1\nallow_anonymous true\nlog_dest file {}\nlog_type notice\nlog_type subscribe\n",
            utf8(&log_file)
        ),
    );
    let broker = Broker::start_with(&["-c", utf8(&conf)]);
    let mut raw = Raw::connect_v311(broker.addr(), "to-file").await;
    raw.subscribe(&[("logged/#", QoS::AtLeastOnce)]).await;
    raw.disconnect().await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let logged = std::fs::read_to_string(&log_file).unwrap_or_default();
        if logged.contains("Client to-file disconnected.") {
            assert!(logged.contains("New client connected from"), "{logged}");
            assert!(logged.contains("to-file 1 logged/#"), "{logged}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the log file never showed the disconnection:\n{logged}"
        );
        // A file has no event to wait on.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn message_size_limit_drops_larger_payloads_and_says_quota_exceeded_in_v5() {
    let dir = TempDir::new().expect("temp dir");
    let conf = write(
        &dir,
        "mosquitto.conf",
        "listener 0 127.0.0.1\nallow_anonymous true\nmessage_size_limit 10\n",
    );
    let broker = Broker::start_with(&["-c", utf8(&conf)]);
    let mut sub = Raw::connect_v311(broker.addr(), "watcher").await;
    sub.subscribe(&[("size/#", QoS::AtMostOnce)]).await;

    let mut v5 = connect_packet("big5");
    v5.protocol = ProtocolVersion::V5;
    let (mut publisher, _) = Raw::connect(broker.addr(), v5).await;
    publisher
        .send(&Packet::Publish(publish_packet(
            "size/big",
            QoS::AtLeastOnce,
            7,
            false,
            &[0; 11],
        )))
        .await;
    match publisher.recv().await {
        Packet::PubAck(ack) => assert_eq!(ack.reason_code, ReasonCode::QuotaExceeded),
        other => panic!("expected PUBACK 0x97, got {other:?}"),
    }
    // The connection stays and a payload at the limit goes through.
    publisher
        .publish("size/fits", QoS::AtLeastOnce, false, &[1; 10])
        .await;
    let delivered = sub.recv_publish().await;
    assert_eq!(
        &delivered.topic[..],
        "size/fits",
        "the large one was dropped"
    );
}

#[tokio::test]
async fn retain_available_false_refuses_retained_publishes_with_0x9a() {
    let dir = TempDir::new().expect("temp dir");
    let conf = write(&dir, "mq.toml", "retain_available = false\n");
    let broker = Broker::start_with(&["-c", utf8(&conf)]);
    let mut v5 = connect_packet("retainer");
    v5.protocol = ProtocolVersion::V5;
    let (mut raw, ack) = Raw::connect(broker.addr(), v5).await;
    assert_eq!(ack.properties.retain_available, Some(0));
    raw.publish("plain", QoS::AtLeastOnce, false, b"ok").await;
    raw.send(&Packet::Publish(publish_packet(
        "kept",
        QoS::AtMostOnce,
        7,
        true,
        b"no",
    )))
    .await;
    match raw.next(PATIENCE).await {
        Next::Packet(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, ReasonCode::RetainNotSupported)
        }
        other => panic!("expected DISCONNECT 0x9A, got {other:?}"),
    }
}
