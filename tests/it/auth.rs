//! Password files and ACL files: `mq broker --password-file --acl-file --allow-anonymous`,
//! `mq passwd`, `mq acl check`, and both directions of compatibility with Mosquitto's files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use mq_proto::{Bytes, Connect, Packet, Properties, ProtocolVersion, Publish, QoS, ReasonCode};
use tempfile::TempDir;

use crate::harness::Broker;
use crate::raw::{connect_packet, pid, Next, Raw, PATIENCE};

fn mq() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mq"))
}

fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .expect("cannot run a command")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A password file made by `mq passwd -b`, in a temporary directory.
pub(crate) fn password_file(dir: &TempDir, users: &[(&str, &str)], mosquitto: bool) -> PathBuf {
    let path = dir.path().join("passwords");
    for (i, (user, password)) in users.iter().enumerate() {
        let mut command = mq();
        command.arg("passwd").arg("-b");
        if i == 0 {
            command.arg("-c");
        }
        if mosquitto {
            command.arg("--mosquitto");
        }
        let out = run(command.arg(&path).arg(user).arg(password));
        assert!(out.status.success(), "mq passwd: {out:?}");
    }
    path
}

fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write a test file");
    path
}

fn login(
    client_id: &str,
    user: Option<&str>,
    password: Option<&str>,
    v: ProtocolVersion,
) -> Connect {
    let mut connect = connect_packet(client_id);
    connect.protocol = v;
    connect.username = user.map(str::to_string);
    connect.password = password.map(|p| Bytes::copy_from_slice(p.as_bytes()));
    connect
}

async fn connack(broker: &Broker, connect: Connect) -> ReasonCode {
    Raw::handshake(broker.addr(), connect).await.1.reason_code
}

async fn join(broker: &Broker, client_id: &str, user: Option<&str>, password: Option<&str>) -> Raw {
    Raw::connect(
        broker.addr(),
        login(client_id, user, password, ProtocolVersion::V311),
    )
    .await
    .0
}

/// The bytes of a 3.1.1 CONNECT from "c" with this user name and password.
fn connect_bytes(user: &str, password: &str) -> Vec<u8> {
    let codec = mq_proto::Codec::client(ProtocolVersion::V311, mq_proto::PROTOCOL_MAX_PACKET_SIZE);
    let mut out = mq_proto::BytesMut::new();
    let connect = login("c", Some(user), Some(password), ProtocolVersion::V311);
    codec.encode(&Packet::Connect(Box::new(connect)), &mut out);
    out.to_vec()
}

/// Waits until the broker's log shows `needle` (after a signal, say).
async fn log_shows(broker: &Broker, needle: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !broker.stderr().contains(needle) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the broker log never showed {needle:?}"
        );
        // The log is a pipe read by a thread; there is no event to wait on here.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn anonymous_clients_are_refused_once_a_password_file_is_set() {
    let dir = TempDir::new().expect("temp dir");
    let passwords = password_file(&dir, &[("alice", "secret")], false);
    let broker = Broker::start_with(&["--password-file", passwords.to_str().expect("utf-8")]);
    let v311 = login("anon", None, None, ProtocolVersion::V311);
    assert_eq!(
        connack(&broker, v311).await,
        ReasonCode::NotAuthorized,
        "3.1.1: 5"
    );
    let v5 = login("anon5", None, None, ProtocolVersion::V5);
    assert_eq!(
        connack(&broker, v5).await,
        ReasonCode::NotAuthorized,
        "v5: 0x87"
    );
    let mut alice = join(&broker, "alice", Some("alice"), Some("secret")).await;
    alice.ping().await;
}

#[tokio::test]
async fn allow_anonymous_lets_clients_without_a_user_name_in_beside_a_password_file() {
    let dir = TempDir::new().expect("temp dir");
    let passwords = password_file(&dir, &[("alice", "secret")], false);
    let broker = Broker::start_with(&[
        "--password-file",
        passwords.to_str().expect("utf-8"),
        "--allow-anonymous",
    ]);
    join(&broker, "anon", None, None).await.ping().await;
    let wrong = login("w", Some("alice"), Some("nope"), ProtocolVersion::V311);
    assert_eq!(
        connack(&broker, wrong).await,
        ReasonCode::BadUserNameOrPassword
    );
}

#[tokio::test]
async fn a_wrong_password_gets_connack_4_in_3_1_1_and_0x86_in_5() {
    let dir = TempDir::new().expect("temp dir");
    let passwords = password_file(&dir, &[("alice", "secret")], false);
    let broker = Broker::start_with(&["--password-file", passwords.to_str().expect("utf-8")]);
    // On the wire: CONNACK, session present 0, return code 4, then the broker closes.
    let mut raw = Raw::tcp(broker.addr()).await;
    raw.send_bytes(&connect_bytes("alice", "hunter2-not-it"))
        .await;
    assert_eq!(raw.bytes_until_closed().await, vec![0x20, 0x02, 0x00, 0x04]);
    let unknown = login("u", Some("mallory"), Some("secret"), ProtocolVersion::V5);
    assert_eq!(
        connack(&broker, unknown).await,
        ReasonCode::BadUserNameOrPassword
    );
    let wrong = login("w", Some("alice"), Some("wrong"), ProtocolVersion::V5);
    assert_eq!(
        connack(&broker, wrong).await,
        ReasonCode::BadUserNameOrPassword
    );
    let no_password = login("n", Some("alice"), None, ProtocolVersion::V5);
    assert_eq!(
        connack(&broker, no_password).await,
        ReasonCode::BadUserNameOrPassword
    );
    assert!(
        !broker.stderr().contains("hunter2-not-it"),
        "the log must never show a password:\n{}",
        broker.stderr()
    );
}

#[tokio::test]
async fn password_files_made_by_mosquitto_passwd_are_accepted() {
    // Made by Debian's mosquitto_passwd 2.0.11: $7$ for alice, bob and carol, $6$ for dave.
    let fixture = fixture("mosquitto_passwd.txt");
    let broker = Broker::start_with(&["--password-file", fixture.to_str().expect("utf-8")]);
    join(&broker, "a", Some("alice"), Some("wonderland"))
        .await
        .ping()
        .await;
    join(&broker, "b", Some("bob"), Some("secret with spaces"))
        .await
        .ping()
        .await;
    join(&broker, "c", Some("carol"), Some("ünïcødé€"))
        .await
        .ping()
        .await;
    join(&broker, "d", Some("dave"), Some("old style"))
        .await
        .ping()
        .await;
    let wrong = login("w", Some("dave"), Some("new style"), ProtocolVersion::V311);
    assert_eq!(
        connack(&broker, wrong).await,
        ReasonCode::BadUserNameOrPassword
    );
}

#[tokio::test]
async fn a_file_mosquitto_passwd_writes_now_is_accepted_too() {
    if !tool_present(
        "mosquitto_passwd",
        "a_file_mosquitto_passwd_writes_now_is_accepted_too",
    ) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("passwords");
    let made = run(Command::new("mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(&path)
        .args(["erin", "pa:ss word"]));
    assert!(made.status.success(), "{made:?}");
    let broker = Broker::start_with(&["--password-file", path.to_str().expect("utf-8")]);
    join(&broker, "e", Some("erin"), Some("pa:ss word"))
        .await
        .ping()
        .await;
}

/// True when `tool` is on PATH; otherwise a notice (or, with CI set, a failure).
fn tool_present(tool: &str, test: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()));
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{test}: {tool} not found on PATH, and CI is set (install mosquitto)");
        }
        eprintln!("notice: {test} skipped: {tool} not found on PATH");
    }
    found
}

/// A Mosquitto broker on a free loopback port with the given password file; killed on drop.
struct Mosquitto {
    child: std::process::Child,
    port: u16,
    _dir: TempDir,
}

impl Mosquitto {
    async fn start(password_file: &Path) -> Mosquitto {
        let dir = TempDir::new().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = format!(
            "listener {port} 127.0.0.1\npassword_file {}\nallow_anonymous false\npersistence false\n{}",
            password_file.display(),
            // Run as root, Mosquitto would switch to the `mosquitto` user, which cannot
            // read a 0600 file of ours.
            if is_root() { "user root\n" } else { "" }
        );
        let config_path = write(&dir, "mosquitto.conf", &config);
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start mosquitto");
        let broker = Mosquitto {
            child,
            port,
            _dir: dir,
        };
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "mosquitto did not start listening"
            );
            // Nothing to wait on but the port itself.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        broker
    }

    fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) takes no arguments, reads no memory of ours and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[tokio::test]
async fn files_written_by_mq_passwd_mosquitto_work_in_mosquitto() {
    if !tool_present(
        "mosquitto",
        "files_written_by_mq_passwd_mosquitto_work_in_mosquitto",
    ) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let passwords = password_file(&dir, &[("alice", "secret"), ("bob", "s3cret!")], true);
    let text = std::fs::read_to_string(&passwords).expect("read");
    assert!(text.lines().all(|l| l.contains(":$7$")), "{text}");
    let mosquitto = Mosquitto::start(&passwords).await;
    let ok = Raw::handshake(
        mosquitto.addr(),
        login("a", Some("alice"), Some("secret"), ProtocolVersion::V311),
    )
    .await
    .1;
    assert_eq!(ok.reason_code, ReasonCode::Success);
    let ok = Raw::handshake(
        mosquitto.addr(),
        login("b", Some("bob"), Some("s3cret!"), ProtocolVersion::V311),
    )
    .await
    .1;
    assert_eq!(ok.reason_code, ReasonCode::Success);
    let refused = Raw::handshake(
        mosquitto.addr(),
        login("c", Some("alice"), Some("wrong"), ProtocolVersion::V311),
    )
    .await
    .1;
    assert_ne!(refused.reason_code, ReasonCode::Success);
}

const ACL: &str = "\
# anonymous clients
topic read public/#

user alice
topic readwrite alice/#
topic deny alice/secret
topic write inbox/#
topic read $SYS/broker/uptime

user bob
topic read alice/#
topic read inbox/#

pattern readwrite devices/%c/#
pattern read users/%u/#
";

fn acl_broker(dir: &TempDir, acl: &str, extra: &[&str]) -> Broker {
    let passwords = password_file(dir, &[("alice", "a"), ("bob", "b")], true);
    let acl = write(dir, "acl", acl);
    let mut args = vec![
        "--password-file".to_string(),
        passwords.to_string_lossy().into_owned(),
        "--acl-file".to_string(),
        acl.to_string_lossy().into_owned(),
        "--allow-anonymous".to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Broker::start_with(&args)
}

#[tokio::test]
async fn acl_read_write_and_deny_rules_decide_who_gets_what() {
    let dir = TempDir::new().expect("temp dir");
    let broker = acl_broker(&dir, ACL, &[]);
    let mut alice = join(&broker, "alice-1", Some("alice"), Some("a")).await;
    let mut bob = join(&broker, "bob-1", Some("bob"), Some("b")).await;
    let mut anon = join(&broker, "anon-1", None, None).await;

    assert_eq!(
        bob.subscribe(&[
            ("alice/#", QoS::AtLeastOnce),
            ("inbox/#", QoS::AtLeastOnce),
            ("public/#", QoS::AtLeastOnce)
        ])
        .await,
        [
            ReasonCode::GrantedQoS1,
            ReasonCode::GrantedQoS1,
            ReasonCode::UnspecifiedError
        ],
        "3.1.1 refuses a filter with 0x80"
    );
    assert_eq!(
        alice.subscribe(&[("inbox/#", QoS::AtLeastOnce)]).await,
        [ReasonCode::UnspecifiedError],
        "write-only for alice"
    );
    assert_eq!(
        anon.subscribe(&[("#", QoS::AtLeastOnce)]).await,
        [ReasonCode::GrantedQoS1]
    );

    // alice writes her topics; bob reads them; the denied one reaches nobody.
    alice
        .publish("alice/secret", QoS::AtLeastOnce, false, b"hidden")
        .await;
    alice
        .publish("alice/news", QoS::AtLeastOnce, false, b"hello")
        .await;
    let got = bob.recv_publish().await;
    assert_eq!(
        (&*got.topic, &got.payload[..]),
        ("alice/news", &b"hello"[..])
    );
    // bob may not write: 3.1.1 still gets its PUBACK, and nobody receives the message.
    bob.publish("inbox/alice", QoS::AtLeastOnce, false, b"from bob")
        .await;
    alice
        .publish("inbox/bob", QoS::AtLeastOnce, false, b"from alice")
        .await;
    let got = bob.recv_publish().await;
    assert_eq!(&*got.topic, "inbox/bob");
    // The anonymous `#` subscriber reads only public/#: nothing above reached it.
    alice
        .publish("public/x", QoS::AtLeastOnce, false, b"denied for alice")
        .await;
    anon.expect_quiet(Duration::from_millis(300)).await;
    bob.expect_quiet(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn a_denied_v5_publish_is_answered_0x87() {
    let dir = TempDir::new().expect("temp dir");
    let broker = acl_broker(&dir, ACL, &[]);
    let (mut bob, _) = Raw::connect(
        broker.addr(),
        login("bob-5", Some("bob"), Some("b"), ProtocolVersion::V5),
    )
    .await;
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        bob.send(&Packet::Publish(Publish {
            dup: false,
            qos,
            retain: false,
            topic: "alice/x".into(),
            packet_id: Some(pid(7)),
            properties: Default::default(),
            payload: Bytes::from_static(b"no"),
        }))
        .await;
        match bob.recv_control().await {
            Packet::PubAck(r) | Packet::PubRec(r) => {
                assert_eq!(r.reason_code, ReasonCode::NotAuthorized)
            }
            other => panic!("expected PUBACK/PUBREC, got {other:?}"),
        }
    }
    let codes = bob.subscribe(&[("public/#", QoS::AtMostOnce)]).await;
    assert_eq!(codes, [ReasonCode::NotAuthorized]);
}

#[tokio::test]
async fn patterns_substitute_the_client_id_and_the_user_name() {
    let dir = TempDir::new().expect("temp dir");
    let broker = acl_broker(&dir, ACL, &[]);
    let mut dev = join(&broker, "dev7", None, None).await;
    let mut bob = join(&broker, "bob-2", Some("bob"), Some("b")).await;
    assert_eq!(
        dev.subscribe(&[
            ("devices/dev7/#", QoS::AtLeastOnce),
            ("devices/dev8/#", QoS::AtLeastOnce)
        ])
        .await,
        [ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError]
    );
    assert_eq!(
        bob.subscribe(&[
            ("users/bob/#", QoS::AtLeastOnce),
            ("users/alice/#", QoS::AtLeastOnce)
        ])
        .await,
        [ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError]
    );
    // %c: dev7 writes under its own client id and reads it back.
    dev.publish("devices/dev7/state", QoS::AtLeastOnce, false, b"on")
        .await;
    assert_eq!(&*dev.recv_publish().await.topic, "devices/dev7/state");
    // bob's client id is bob-2, so devices/bob-2/# is his; users/bob/# he may only read.
    bob.publish("users/bob/inbox", QoS::AtLeastOnce, false, b"self")
        .await;
    bob.expect_quiet(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn sys_topics_are_readable_only_where_granted() {
    let dir = TempDir::new().expect("temp dir");
    let broker = acl_broker(&dir, ACL, &["--sys-interval", "1"]);
    let mut alice = join(&broker, "alice-3", Some("alice"), Some("a")).await;
    let mut bob = join(&broker, "bob-3", Some("bob"), Some("b")).await;
    assert_eq!(
        alice
            .subscribe(&[("$SYS/broker/uptime", QoS::AtMostOnce)])
            .await,
        [ReasonCode::Success]
    );
    assert_eq!(
        bob.subscribe(&[("$SYS/#", QoS::AtMostOnce)]).await,
        [ReasonCode::UnspecifiedError]
    );
    assert_eq!(
        alice.recv_publish().await.topic.to_string(),
        "$SYS/broker/uptime"
    );
    assert_eq!(
        alice
            .subscribe(&[("$SYS/broker/version", QoS::AtMostOnce)])
            .await,
        [ReasonCode::UnspecifiedError]
    );
}

/// Paho's 3.1.1 test_subscribe_failure: an anonymous client subscribing to
/// test/nosubscribe must get SUBACK 0x80, everything else stays open.
#[tokio::test]
async fn the_paho_acl_refuses_test_nosubscribe_with_0x80() {
    let acl = fixture("paho.acl");
    let broker = Broker::start_with(&["--acl-file", acl.to_str().expect("utf-8")]);
    let mut raw = Raw::connect_v311(broker.addr(), "myclientid").await;
    // SUBSCRIBE, packet id 2, "test/nosubscribe" QoS 2: SUBACK must carry 0x80.
    let mut subscribe = vec![0x82, 21, 0, 2, 0, 16];
    subscribe.extend_from_slice(b"test/nosubscribe");
    subscribe.push(2);
    raw.send_bytes(&subscribe).await;
    match raw.next(PATIENCE).await {
        Next::Packet(Packet::SubAck(ack)) => {
            assert_eq!(ack.packet_id, pid(2));
            assert_eq!(
                ack.reason_codes,
                [ReasonCode::UnspecifiedError],
                "0x80 on the wire"
            );
        }
        other => panic!("expected SUBACK, got {other:?}"),
    }
    assert_eq!(
        raw.subscribe(&[("TopicA/#", QoS::ExactlyOnce), ("#", QoS::AtMostOnce)])
            .await,
        [ReasonCode::GrantedQoS2, ReasonCode::Success]
    );
    raw.publish("TopicA/B", QoS::AtLeastOnce, false, b"ok")
        .await;
    assert_eq!(&*raw.recv_publish().await.topic, "TopicA/B");
}

#[tokio::test]
async fn sighup_reloads_both_files_and_keeps_connections() {
    let dir = TempDir::new().expect("temp dir");
    let broker = acl_broker(&dir, "topic read public/#\n", &[]);
    let mut before = join(&broker, "before", None, None).await;
    assert_eq!(
        before.subscribe(&[("news/#", QoS::AtMostOnce)]).await,
        [ReasonCode::UnspecifiedError]
    );
    let refused = login("c", Some("carol"), Some("c"), ProtocolVersion::V311);
    assert_eq!(
        connack(&broker, refused).await,
        ReasonCode::BadUserNameOrPassword
    );

    // New rules and a new user.
    write(&dir, "acl", "topic read news/#\ntopic write news/#\n");
    let out = run(mq()
        .args(["passwd", "-b"])
        .arg(dir.path().join("passwords"))
        .args(["carol", "c"]));
    assert!(out.status.success(), "{out:?}");
    broker.signal(libc::SIGHUP);
    log_shows(&broker, "reloaded the password and ACL files").await;

    // The connection from before the reload is still there and follows the new rules.
    assert_eq!(
        before.subscribe(&[("news/#", QoS::AtMostOnce)]).await,
        [ReasonCode::Success]
    );
    join(&broker, "c", Some("carol"), Some("c"))
        .await
        .ping()
        .await;

    // A file that does not parse leaves the rules in force, and the log says why.
    write(&dir, "acl", "topic read news/#\nnonsense here\n");
    broker.signal(libc::SIGHUP);
    log_shows(&broker, "line 2: unknown keyword 'nonsense'").await;
    before
        .publish("news/today", QoS::AtMostOnce, false, b"still open")
        .await;
    assert_eq!(&*before.recv_publish().await.topic, "news/today");
}

#[tokio::test]
async fn a_broker_with_a_broken_acl_file_does_not_start_and_names_the_line() {
    let dir = TempDir::new().expect("temp dir");
    let acl = write(&dir, "acl", "topic read a\ntopic sometimes b\n");
    let out = run(mq().args(["broker", "-p", "0", "--acl-file"]).arg(&acl));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
}

#[test]
fn mq_acl_check_names_the_deciding_rule_and_exits_8_when_denied() {
    let acl = fixture("paho.acl");
    let out = run(mq().args(["acl", "check"]).arg(&acl).args([
        "-",
        "myclientid",
        "test/nosubscribe",
        "read",
    ]));
    assert_eq!(out.status.code(), Some(8), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("denied by "), "{stdout}");
    assert!(
        stdout.contains("paho.acl:7: topic deny test/nosubscribe"),
        "{stdout}"
    );
    let out = run(mq()
        .args(["acl", "check"])
        .arg(&acl)
        .args(["-", "c", "any/topic", "write"]));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("paho.acl:6:"));
}

#[test]
fn mq_passwd_verify_reads_the_password_from_stdin() {
    let dir = TempDir::new().expect("temp dir");
    let path = password_file(&dir, &[("alice", "secret")], false);
    let verify = |password: &str| {
        use std::io::Write;
        let mut child = mq()
            .args(["passwd", "verify"])
            .arg(&path)
            .arg("alice")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(format!("{password}\n").as_bytes())
            .expect("write");
        drop(stdin);
        child.wait().expect("wait").code()
    };
    assert_eq!(verify("secret"), Some(0));
    assert_eq!(verify("wrong"), Some(8));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "password files are private");
    }
}

/// The client side of SCRAM-SHA-256 (RFC 5802 section 3), written from the RFC rather than
/// from the broker's code, so the two check each other.
mod scram_client {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    pub const CLIENT_NONCE: &str = "fyko+d2lbbFgONRv9qkxdawL";

    pub fn first(user: &str) -> String {
        format!("n,,n={user},r={CLIENT_NONCE}")
    }

    /// `client-final-message` for `server_first`, and the server signature to expect.
    pub fn finish(user: &str, password: &str, server_first: &str) -> (String, String) {
        let mut nonce = "";
        let mut salt = Vec::new();
        let mut iterations = 0;
        for attribute in server_first.split(',') {
            match attribute.split_once('=') {
                Some(("r", v)) => nonce = v,
                Some(("s", v)) => salt = B64.decode(v).expect("salt is base64"),
                Some(("i", v)) => iterations = v.parse().expect("iteration count"),
                _ => {}
            }
        }
        assert!(
            nonce.starts_with(CLIENT_NONCE),
            "the server nonce extends ours"
        );
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key = Sha256::digest(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("n={user},r={CLIENT_NONCE},{server_first},{without_proof}");
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hmac(&salted, b"Server Key");
        let server_signature = hmac(&server_key, auth_message.as_bytes());
        (
            format!("{without_proof},p={}", B64.encode(proof)),
            format!("v={}", B64.encode(server_signature)),
        )
    }
}

/// CONNECT with Authentication Method SCRAM-SHA-256, the AUTH round, and the CONNACK.
async fn scram_login(
    broker: &Broker,
    user: &str,
    password: &str,
) -> (ReasonCode, Option<Bytes>, Option<String>) {
    let mut connect = connect_packet("scram-client");
    connect.protocol = ProtocolVersion::V5;
    connect.properties.authentication_method = Some("SCRAM-SHA-256".into());
    connect.properties.authentication_data = Some(Bytes::from(scram_client::first(user)));
    let mut raw = Raw::tcp_version(broker.addr(), ProtocolVersion::V5).await;
    raw.send(&Packet::Connect(Box::new(connect))).await;
    let challenge = match raw.recv().await {
        Packet::Auth(auth) => auth,
        Packet::ConnAck(ack) => return (ack.reason_code, None, None),
        other => panic!("expected AUTH, got {other:?}"),
    };
    assert_eq!(challenge.reason_code, ReasonCode::ContinueAuthentication);
    let server_first = String::from_utf8(
        challenge
            .properties
            .authentication_data
            .expect("server-first")
            .to_vec(),
    )
    .expect("server-first is text");
    let (client_final, expected_signature) = scram_client::finish(user, password, &server_first);
    raw.send(&Packet::Auth(mq_proto::Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: Properties {
            authentication_method: Some("SCRAM-SHA-256".into()),
            authentication_data: Some(Bytes::from(client_final)),
            ..Properties::default()
        },
    }))
    .await;
    match raw.recv().await {
        Packet::ConnAck(ack) => (
            ack.reason_code,
            ack.properties.authentication_data,
            Some(expected_signature),
        ),
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

#[tokio::test]
async fn scram_sha_256_enhanced_authentication_logs_in_and_proves_the_server() {
    let dir = TempDir::new().expect("temp dir");
    let file = dir.path().join("scram.pw");
    let out = run(mq()
        .args(["passwd", "-c", "-b", "-H", "scram-sha-256"])
        .arg(&file)
        .args(["sam", "s3cret"]));
    assert!(out.status.success(), "mq passwd: {out:?}");
    let path = file.to_str().expect("utf-8 path");
    let broker = Broker::start_with(&["--password-file", path]);

    let (code, server_final, expected) = scram_login(&broker, "sam", "s3cret").await;
    assert_eq!(code, ReasonCode::Success);
    let server_final =
        String::from_utf8(server_final.expect("server-final in CONNACK").to_vec()).expect("text");
    assert_eq!(
        Some(server_final),
        expected,
        "the broker proves it knows the credentials"
    );

    let (code, _, _) = scram_login(&broker, "sam", "wrong").await;
    assert_eq!(code, ReasonCode::BadUserNameOrPassword);

    // The same SCRAM entry also checks a plain CONNECT password.
    assert_eq!(
        login_code(&broker, "sam", "s3cret").await,
        ReasonCode::Success
    );
}

async fn login_code(broker: &Broker, user: &str, password: &str) -> ReasonCode {
    let connect = login(
        "scram-plain",
        Some(user),
        Some(password),
        ProtocolVersion::V5,
    );
    connack(broker, connect).await
}

#[tokio::test]
async fn an_unknown_authentication_method_is_refused_with_0x8c() {
    let broker = Broker::start();
    let mut connect = connect_packet("bad-method");
    connect.protocol = ProtocolVersion::V5;
    connect.properties.authentication_method = Some("KERBEROS".into());
    assert_eq!(
        connack(&broker, connect).await,
        ReasonCode::BadAuthenticationMethod
    );
}
