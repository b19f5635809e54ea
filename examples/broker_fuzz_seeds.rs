//! Writes the seed inputs of the broker's fuzz targets in `fuzz/broker/`: password files
//! with a hash of every kind, ACL files with client, topic and filter, one store record
//! of every kind and state, and config files in both formats.
//!
//! Run from the repository root after a file format changes:
//!
//! ```text
//! cargo run --example broker_fuzz_seeds -- fuzz/broker/seeds
//! ```

use std::num::NonZeroU16;
use std::path::Path;

use mq::broker::auth::password_file::{HashScheme, PasswordHash};
use mq::broker::persist::record::samples::{message, subscription, will};
use mq::broker::persist::record::*;
use mq_proto::QoS;

/// Seeds are small: hashes with few iterations keep the fuzzer fast.
fn password_files() -> Result<Vec<(&'static str, String)>, Box<dyn std::error::Error>> {
    let hash = |scheme| PasswordHash::new(b"secret", scheme).map(|h| h.to_string());
    let argon2 = hash(HashScheme::Argon2id)?;
    let pbkdf2 = hash(HashScheme::MosquittoPbkdf2 { iterations: 2 })?;
    let scram = hash(HashScheme::ScramSha256 { iterations: 2 })?;
    // `mosquitto_passwd -H sha512`: Mosquitto 1.x's $6$ (salted SHA-512).
    let sha512 = "$6$7Mb5anNWZcKClTNe$1UjjoVs6GPnVXNqXTxxfWQOOf14QSoipWiap0ia6m2xp+rzsXneBWEyhhoyqPFFXW2sG1a6C3/IrwY4H3YzL3g==";
    Ok(vec![
        ("argon2", format!("alice:{argon2}\n")),
        ("pbkdf2", format!("# users\n\nbob:{pbkdf2}\r\n")),
        ("scram", format!("carol:{scram}\n")),
        ("sha512", format!("dave:{sha512}\n")),
        (
            "mixed",
            format!(" alice : {argon2}\n# comment\nbob:{pbkdf2}\ndave:{sha512}\n"),
        ),
    ])
}

/// `ACL NUL client-id NUL user-name NUL topic NUL filter`, as the `acl` target splits it.
const ACL_FILES: &[(&str, &str)] = &[
    (
        "mosquitto",
        "topic read public/#\nuser alice\ntopic readwrite alice/#\ntopic deny alice/secret\npattern readwrite devices/%c/#\n\0dev1\0alice\0alice/secret\0alice/+",
    ),
    (
        "patterns",
        "pattern read users/%u/#\npattern deny users/%u/private/#\npattern write clients/%c\n\0c1\0bob\0users/bob/private/x\0users/bob/#",
    ),
    (
        "dollar",
        "topic read $SYS/#\ntopic read #\nuser admin\ntopic deny +/secret\n\0\0\0$SYS/broker/uptime\0$SYS/+/uptime",
    ),
    (
        "anonymous",
        "# only anonymous rules\ntopic a/b\ntopic write c/+/d\n\0anon\0\0a/b\0a/#",
    ),
];

/// A mosquitto.conf with global options, listeners of every kind and a bridge.
const MOSQUITTO_CONF: &str = "\
per_listener_settings false
allow_anonymous false
password_file /etc/mosquitto/passwd
persistence true
persistence_location /var/lib/mosquitto/
max_inflight_messages 10
max_queued_messages 500
memory_limit 1000000
sys_interval 30
log_dest stdout
log_type error

listener 1883 127.0.0.1
max_connections 100

listener 8883
cafile ca.crt
certfile server.crt
keyfile server.key
require_certificate true
use_identity_as_username true

listener 9001
protocol websockets

connection cloud
address remote.example:1884
topic sensors/# out 1 local/ remote/
remote_clientid edge-1
";

fn id(value: u16) -> NonZeroU16 {
    NonZeroU16::new(value).unwrap_or(NonZeroU16::MIN)
}

fn delivery(state: DeliveryState) -> DeliveryRecord {
    DeliveryRecord {
        message_id: 42,
        qos: QoS::AtLeastOnce,
        retain: false,
        subscription_identifiers: vec![1, 268_435_455],
        share: Some("$share/g/t".into()),
        state,
    }
}

fn records() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        (
            "session-bare".into(),
            encode_session(&SessionRecord {
                expiry: ExpiryRecord::OnDisconnect,
                disconnected_at_ms: None,
                will: None,
                pending_will: None,
            }),
        ),
        (
            "session-wills".into(),
            encode_session(&SessionRecord {
                expiry: ExpiryRecord::AfterSecs(3600),
                disconnected_at_ms: Some(1_700_000_000_000),
                will: Some(will()),
                pending_will: Some((will(), 1_700_000_030_000)),
            }),
        ),
        ("subscription".into(), encode_subscription(&subscription())),
        ("message".into(), encode_message(&message())),
    ];
    let states = [
        ("queued", DeliveryState::Queued),
        ("puback", DeliveryState::AwaitingPubAck(id(1))),
        ("pubrec", DeliveryState::AwaitingPubRec(id(2))),
        ("pubcomp", DeliveryState::AwaitingPubComp(id(65535))),
    ];
    for (name, state) in states {
        out.push((
            format!("delivery-{name}"),
            encode_delivery(&delivery(state)),
        ));
    }
    // A write-ahead log group: one change of each kind that carries a record.
    let client_id = "c1".to_string();
    let group = vec![
        ChangeRecord::SessionGone {
            client_id: "old".into(),
        },
        ChangeRecord::Unsubscribed {
            client_id: client_id.clone(),
            filter: "a/+".into(),
        },
        ChangeRecord::InFlight {
            client_id: client_id.clone(),
            seq: 3,
            state: DeliveryState::AwaitingPubRec(id(9)),
        },
        ChangeRecord::Done {
            client_id: client_id.clone(),
            seq: 2,
        },
        ChangeRecord::InboundQoS2 {
            client_id: client_id.clone(),
            packet_id: id(4),
        },
        ChangeRecord::Queued {
            client_id,
            seq: 1,
            delivery: delivery(DeliveryState::Queued),
            message: Some(message()),
        },
        ChangeRecord::Retained(message()),
    ];
    out.push(("group".into(), encode_group(&group)));
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/broker/seeds".into());
    let root = Path::new(&root);
    let write = |target: &str, name: &str, bytes: &[u8]| -> std::io::Result<()> {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), bytes)
    };
    for (name, text) in password_files()? {
        write("password_file", &format!("{name}.txt"), text.as_bytes())?;
    }
    for (name, text) in ACL_FILES {
        write("acl", &format!("{name}.txt"), text.as_bytes())?;
    }
    for (name, bytes) in records() {
        write("record", &format!("{name}.bin"), &bytes)?;
    }
    // The first byte picks the reader: even for TOML, odd for mosquitto.conf.
    let toml = mq::broker::config_file::annotated_example();
    write(
        "config",
        "mq-example.toml",
        &[b"\0", toml.as_bytes()].concat(),
    )?;
    write(
        "config",
        "mosquitto.conf",
        &[b"\x01", MOSQUITTO_CONF.as_bytes()].concat(),
    )?;
    Ok(())
}
