use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mq_proto::QoS;

use super::*;
use crate::broker::bridge::{BridgeAddress, BridgeDirection, BridgeProtocol};
use crate::broker::config::{ClientIdentity, ListenerConfig, ListenerKind};
use crate::broker::persist::{Durability, PersistenceConfig};

fn defaults() -> Defaults {
    Defaults {
        data_dir: Some(PathBuf::from("/data/mq")),
    }
}

fn toml(text: &str) -> Result<Loaded, ConfigError> {
    parse(Path::new("mq.toml"), text, Format::Toml, &defaults())
}

fn mosquitto(text: &str) -> Result<Loaded, ConfigError> {
    parse(
        Path::new("mosquitto.conf"),
        text,
        Format::Mosquitto,
        &defaults(),
    )
}

fn invalid_at(err: ConfigError) -> (usize, String, String) {
    match err {
        ConfigError::Invalid {
            line, key, message, ..
        } => (line, key, message),
        other => panic!("expected an error with a line, got {other}"),
    }
}

#[test]
fn the_annotated_example_gives_exactly_the_defaults() {
    let example = toml(annotated_example()).unwrap();
    let empty = toml("").unwrap();
    assert_eq!(example, empty);
    let expected = BrokerConfig {
        persistence: Some(PersistenceConfig {
            dir: PathBuf::from("/data/mq"),
            durability: Durability::Sync,
        }),
        ..BrokerConfig::default()
    };
    assert_eq!(empty.broker, expected);
    assert_eq!(empty.log, LogConfig::quiet());
}

#[test]
fn the_annotated_example_shows_every_setting_the_writer_knows() {
    // Every key the writer can emit appears in the example, so it documents them all.
    let mut broker = mosquitto(FULL_MOSQUITTO).unwrap().broker;
    broker.metrics = Some(SocketAddr::from(([127, 0, 0, 1], 9100)));
    broker.refused_filters = vec!["secret/#".into()];
    broker.connect_timeout = Duration::from_secs(3);
    broker.max_topic_levels = 9;
    broker.max_subscriptions_per_client = 9;
    let written = to_toml(&broker, &LogConfig::quiet());
    let example = annotated_example();
    for line in written.lines() {
        let Some((key, _)) = line.split_once(" = ") else {
            continue;
        };
        assert!(
            example.contains(&format!("{key} = ")),
            "the annotated example does not show {key:?}"
        );
    }
}

#[test]
fn toml_sets_every_kind_of_listener() {
    let loaded = toml(
        r#"
[[listener]]
port = 0
[[listener]]
bind = "0.0.0.0"
port = 8883
protocol = "mqtts"
certfile = "s.crt"
keyfile = "s.key"
cafile = "ca.crt"
use_identity_as_username = true
[[listener]]
port = 9001
protocol = "ws"
ws_path = "/mqtt"
[[listener]]
port = 9002
protocol = "wss"
certfile = "s.crt"
keyfile = "s.key"
"#,
    )
    .unwrap();
    let l = &loaded.broker.listeners;
    assert_eq!(l.len(), 4);
    assert_eq!(
        l[0],
        ListenerConfig::tcp(SocketAddr::from(([127, 0, 0, 1], 0)))
    );
    let ListenerKind::Tls { tls, identity } = &l[1].kind else {
        panic!("{l:?}")
    };
    assert_eq!(*identity, ClientIdentity::CommonName);
    assert!(tls.require_client_cert);
    assert_eq!(tls.client_ca.as_deref(), Some(Path::new("ca.crt")));
    assert_eq!(l[1].bind, SocketAddr::from(([0, 0, 0, 0], 8883)));
    assert!(matches!(&l[2].kind, ListenerKind::Ws { ws } if ws.path.as_deref() == Some("/mqtt")));
    assert!(matches!(&l[3].kind, ListenerKind::Wss { .. }));
}

#[test]
fn an_unknown_key_names_its_line_and_the_keys_expected() {
    let (line, key, message) = invalid_at(
        toml("sys_interval = 5\n\n[[listener]]\nport = 1\ncolour = \"red\"\n").unwrap_err(),
    );
    assert_eq!(line, 5);
    assert_eq!(key, "colour");
    assert!(message.contains("unknown field `colour`"), "{message}");
    assert!(message.contains("`port`"), "{message}");
}

#[test]
fn a_bad_value_names_its_line_key_and_what_was_expected() {
    let (line, key, message) =
        invalid_at(toml("max_packet_size = 10\nmaximum_qos = 3\n").unwrap_err());
    assert_eq!((line, key.as_str()), (2, "maximum_qos"));
    assert!(message.contains("expected 0, 1 or 2"), "{message}");

    let (line, key, message) = invalid_at(toml("\nsys_interval = \"often\"\n").unwrap_err());
    assert_eq!((line, key.as_str()), (2, "sys_interval"));
    assert!(message.contains("expected"), "{message}");

    let (line, key, _) =
        invalid_at(toml("[[listener]]\nport = 1\nprotocol = \"mqtts\"\n").unwrap_err());
    assert_eq!(key, "certfile");
    assert!(line <= 3, "{line}");

    let (_, key, message) = invalid_at(toml("refuse_subscribe = [\"a/#/b\"]").unwrap_err());
    assert_eq!(key, "refuse_subscribe");
    assert!(message.contains("not a valid topic filter"), "{message}");
}

#[test]
fn toml_bridges_fill_the_bridge_settings() {
    let loaded = toml(
        r#"
[[bridge]]
name = "cloud"
addresses = ["remote.example:1884", "backup.example", "[::1]:1885"]
protocol = "mqttv50"
restart_timeout = 7
cafile = "ca.pem"
[[bridge.topic]]
pattern = "sensors/#"
direction = "both"
qos = 1
remote_prefix = "site/"
"#,
    )
    .unwrap();
    let b = &loaded.broker.bridges[0];
    assert_eq!(b.name, "cloud");
    assert_eq!(
        b.addresses,
        vec![
            BridgeAddress {
                host: "remote.example".into(),
                port: 1884
            },
            BridgeAddress {
                host: "backup.example".into(),
                port: 1883
            },
            BridgeAddress {
                host: "::1".into(),
                port: 1885
            },
        ]
    );
    assert_eq!(b.protocol, BridgeProtocol::V5);
    assert_eq!(
        (b.restart_base, b.restart_cap),
        (Duration::from_secs(7), Duration::from_secs(7))
    );
    assert_eq!(
        b.tls.as_ref().unwrap().cafile.as_deref(),
        Some(Path::new("ca.pem"))
    );
    assert_eq!(b.topics[0].direction, BridgeDirection::Both);
    assert_eq!(b.topics[0].qos, QoS::AtLeastOnce);
    assert_eq!(b.topics[0].remote_prefix, "site/");
    assert!(b.notification_topic.ends_with("/cloud/state"));
}

/// A configuration in the style of mosquitto.conf(5), with every option mq applies.
const FULL_MOSQUITTO: &str = "\
# Global
per_listener_settings false
allow_anonymous false
password_file /etc/mosquitto/passwd
acl_file /etc/mosquitto/acl
persistence true
persistence_location /var/lib/mosquitto/
autosave_interval 300
max_inflight_messages 10
max_queued_messages 500
max_queued_bytes 100000
message_size_limit 65536
max_packet_size 131072
max_keepalive 120
memory_limit 1000000
retain_available false
sys_interval 30
log_dest stdout
log_dest file /var/log/mosquitto/mosquitto.log
log_type error
log_type notice
log_type subscribe

listener 1883 127.0.0.1
max_connections 100

listener 8883
cafile /etc/mosquitto/ca.crt
certfile /etc/mosquitto/server.crt
keyfile /etc/mosquitto/server.key
require_certificate true
use_identity_as_username true
tls_version tlsv1.2

listener 9001
protocol websockets
max_qos 1

connection cloud
address remote.example:1884 backup.example
topic sensors/# out 1 local/ remote/
topic cmd/# in 2
topic \"\" both 0 a/b c/d
bridge_protocol_version mqttv50
cleansession true
keepalive_interval 30
remote_clientid edge-1
remote_username bridge
remote_password secret
try_private false
notifications false
notification_topic bridges/cloud
restart_timeout 2 20
round_robin true
bridge_cafile /etc/ssl/ca.pem
bridge_certfile /etc/ssl/c.pem
bridge_keyfile /etc/ssl/c.key
bridge_insecure true
";

#[test]
fn a_mosquitto_conf_gives_the_same_settings_in_mq() {
    let loaded = mosquitto(FULL_MOSQUITTO).unwrap();
    let c = &loaded.broker;
    assert_eq!(c.auth.allow_anonymous, Some(false));
    assert_eq!(
        c.auth.password_file.as_deref(),
        Some(Path::new("/etc/mosquitto/passwd"))
    );
    assert_eq!(
        c.auth.acl_file.as_deref(),
        Some(Path::new("/etc/mosquitto/acl"))
    );
    let p = c.persistence.as_ref().unwrap();
    assert_eq!(p.dir, Path::new("/var/lib/mosquitto/"));
    assert_eq!(p.durability, Durability::Periodic(Duration::from_secs(300)));
    assert_eq!(c.session_limits.max_inflight, 10);
    assert_eq!(c.session_limits.max_queued_messages, 500);
    assert_eq!(c.session_limits.max_queued_bytes, 100_000);
    assert_eq!(c.message_size_limit, 65536);
    assert_eq!(c.max_packet_size, 131_072);
    assert_eq!(c.max_keepalive, 120);
    assert_eq!(c.max_memory, Some(1_000_000));
    assert!(!c.retain_available);
    assert_eq!(c.sys_interval, Some(Duration::from_secs(30)));
    assert_eq!(c.max_connections, 100);
    assert_eq!(c.maximum_qos, QoS::AtLeastOnce);
    assert_eq!(c.listeners.len(), 3);
    assert_eq!(
        c.listeners[0],
        ListenerConfig::tcp(SocketAddr::from(([127, 0, 0, 1], 1883)))
    );
    let ListenerKind::Tls { tls, identity } = &c.listeners[1].kind else {
        panic!("{:?}", c.listeners)
    };
    assert_eq!(c.listeners[1].bind, SocketAddr::from(([0, 0, 0, 0], 8883)));
    assert!(tls.require_client_cert);
    assert_eq!(*identity, ClientIdentity::CommonName);
    assert!(matches!(c.listeners[2].kind, ListenerKind::Ws { .. }));
    assert_eq!(
        loaded.log.dest,
        vec![
            LogDest::Stdout,
            LogDest::File("/var/log/mosquitto/mosquitto.log".into())
        ]
    );
    assert_eq!(
        loaded.log.types,
        LogTypes::from_names(&["error", "notice", "subscribe"])
    );

    let b = &c.bridges[0];
    assert_eq!(b.name, "cloud");
    assert_eq!(b.addresses.len(), 2);
    assert_eq!(b.addresses[0].port, 1884);
    assert_eq!(b.addresses[1].port, 1883);
    assert_eq!(b.topics.len(), 3);
    assert_eq!(b.topics[0].local_prefix, "local/");
    assert_eq!(b.topics[1].direction, BridgeDirection::In);
    assert_eq!(b.topics[1].qos, QoS::ExactlyOnce);
    assert_eq!(b.topics[2].pattern, "");
    assert_eq!(b.topics[2].remote_prefix, "c/d");
    assert_eq!(b.protocol, BridgeProtocol::V5);
    assert!(b.clean_session && b.round_robin);
    assert!(!b.try_private && !b.notifications);
    assert_eq!(b.keep_alive, Duration::from_secs(30));
    assert_eq!(b.remote_client_id, "edge-1");
    assert_eq!(b.remote_username.as_deref(), Some("bridge"));
    assert_eq!(b.remote_password.as_deref(), Some("secret"));
    assert_eq!(b.notification_topic, "bridges/cloud");
    assert_eq!(
        (b.restart_base, b.restart_cap),
        (Duration::from_secs(2), Duration::from_secs(20))
    );
    let tls = b.tls.as_ref().unwrap();
    assert!(tls.insecure);
    assert_eq!(tls.keyfile.as_deref(), Some(Path::new("/etc/ssl/c.key")));

    let warned: Vec<&str> = loaded.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(loaded.warnings.len(), 1, "{warned:?}");
    assert_eq!(loaded.warnings[0].line, 33);
    assert!(warned[0].starts_with("tls_version"), "{warned:?}");
}

#[test]
fn converting_a_mosquitto_conf_to_toml_keeps_every_setting() {
    let loaded = mosquitto(FULL_MOSQUITTO).unwrap();
    let text = to_toml(&loaded.broker, &loaded.log);
    let back = toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back.broker, loaded.broker, "{text}");
    assert_eq!(back.log, loaded.log, "{text}");
}

#[test]
fn mosquitto_2_defaults_apply() {
    // No listener: the local default listener, anonymous clients allowed there only.
    let none = mosquitto("").unwrap();
    assert_eq!(none.broker.listeners, BrokerConfig::default().listeners);
    assert_eq!(none.broker.auth.allow_anonymous, None);
    assert_eq!(none.broker.persistence, None);
    assert_eq!(
        none.broker.max_packet_size,
        mq_proto::PROTOCOL_MAX_PACKET_SIZE
    );
    assert_eq!(
        none.log.types,
        LogTypes::from_names(&["error", "warning", "notice", "information"])
    );
    // A listener: anonymous clients refused unless allowed, every interface bound.
    let one = mosquitto("listener 1883\n").unwrap();
    assert_eq!(one.broker.auth.allow_anonymous, Some(false));
    assert_eq!(
        one.broker.listeners[0].bind,
        SocketAddr::from(([0, 0, 0, 0], 1883))
    );
    // `persistence true` alone: the current folder, every change saved.
    let p = mosquitto("persistence true\n")
        .unwrap()
        .broker
        .persistence
        .unwrap();
    assert_eq!(
        (p.dir, p.durability),
        (PathBuf::from("."), Durability::Sync)
    );
}

#[test]
fn unsupported_mosquitto_options_warn_with_their_line() {
    let loaded =
        mosquitto("listener 1883\nmount_point site/\n\nlog_dest syslog\nauth_opt_x 1\n").unwrap();
    let lines: Vec<usize> = loaded.warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, vec![2, 4, 5]);
    assert!(loaded.warnings[0]
        .to_string()
        .starts_with("mosquitto.conf:2: mount_point"));
}

#[test]
fn malformed_mosquitto_lines_are_errors_naming_the_line() {
    let cases = [
        (
            "listener 1883\nallow_anonymous maybe\n",
            2,
            "allow_anonymous",
        ),
        ("\n\nno_such_option 1\n", 3, "no_such_option"),
        ("listener port\n", 1, "listener"),
        ("address a:1\n", 1, "address"),
        ("connection x\naddress a:99999\n", 2, "address"),
        ("connection x\naddress a\ntopic t sideways\n", 3, "topic"),
        ("connection x\n", 1, "connection"),
        ("max_packet_size 10\n", 1, "max_packet_size"),
        ("log_type loud\n", 1, "log_type"),
    ];
    for (text, line, key) in cases {
        let (got_line, got_key, message) = invalid_at(mosquitto(text).unwrap_err());
        assert_eq!(
            (got_line, got_key.as_str()),
            (line, key),
            "{text:?}: {message}"
        );
    }
}

#[test]
fn per_listener_auth_that_differs_is_applied_strictly_with_a_warning() {
    let loaded = mosquitto(
        "per_listener_settings true\nlistener 1883 127.0.0.1\nallow_anonymous true\n\
         listener 8883\npassword_file /p\nallow_anonymous false\n",
    )
    .unwrap();
    assert_eq!(loaded.broker.auth.allow_anonymous, Some(false));
    assert_eq!(
        loaded.broker.auth.password_file.as_deref(),
        Some(Path::new("/p"))
    );
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0]
        .message
        .starts_with("per_listener_settings"));
}

#[test]
fn include_dir_reads_its_conf_files_in_order_and_names_them_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.conf"), "sys_interval 7\n").unwrap();
    std::fs::write(
        dir.path().join("a.conf"),
        "sys_interval 5\nmax_keepalive 9\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("ignored.txt"), "garbage\n").unwrap();
    let text = format!("include_dir {}\n", dir.path().display());
    let loaded = mosquitto(&text).unwrap();
    assert_eq!(loaded.broker.sys_interval, Some(Duration::from_secs(7)));
    assert_eq!(loaded.broker.max_keepalive, 9);

    std::fs::write(dir.path().join("c.conf"), "\nbogus 1\n").unwrap();
    let err = mosquitto(&text).unwrap_err().to_string();
    assert!(err.contains("c.conf:2: bogus"), "{err}");
}

#[test]
fn the_format_is_detected_from_the_name_or_the_content() {
    assert_eq!(
        detect_format(Path::new("a.toml"), "listener 1"),
        Format::Toml
    );
    assert_eq!(
        detect_format(Path::new("a.conf"), "x = 1"),
        Format::Mosquitto
    );
    assert_eq!(
        detect_format(Path::new("cfg"), "# c\nlistener 1883\n"),
        Format::Mosquitto
    );
    assert_eq!(
        detect_format(Path::new("cfg"), "# c\nsys_interval = 1\n"),
        Format::Toml
    );
    assert_eq!(
        detect_format(Path::new("cfg"), "[[listener]]\n"),
        Format::Toml
    );
}
