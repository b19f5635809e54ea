//! TLS, WebSocket and `mq certs`: certificates made by `mq certs init` serve `mq broker`'s
//! mqtts, ws and wss listeners, Mosquitto's clients, Python's paho-mqtt over WebSocket,
//! openssl and Debian's Mosquitto broker.
//!
//! Tools that are missing make a test print a notice and return, except under CI (`CI`
//! set), where `.ci/run` installs them and a missing one fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::harness::Broker;

/// How long one client run may take.
const LIMIT: Duration = Duration::from_secs(20);

fn mq(args: &[&str]) -> Output {
    StdCommand::new(env!("CARGO_BIN_EXE_mq"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove(mq_passphrase_env())
        .stdin(Stdio::null())
        .output()
        .expect("cannot run mq")
}

fn mq_passphrase_env() -> &'static str {
    "MQ_CA_PASSPHRASE"
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `mq certs init --dir DIR` into a fresh temporary folder.
pub(crate) fn certs_init(extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary folder");
    let d = dir.path().to_str().expect("utf-8 temp path");
    let out = mq(&[&["certs", "init", "--dir", d], extra].concat());
    assert!(
        out.status.success(),
        "mq certs init failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    dir
}

fn file(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().expect("utf-8 path").to_owned()
}

/// True when `tool` can be run; otherwise a notice, or a panic under CI.
fn have(tool: &str, probe: &[&str], test: &str) -> bool {
    let ok = StdCommand::new(tool)
        .args(probe)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("{test}: {tool} is missing and CI is set (.ci/run installs it)");
        }
        eprintln!("notice: {test} skipped: {tool} not found");
    }
    ok
}

fn have_mosquitto_clients(test: &str) -> bool {
    have("mosquitto_pub", &["--help"], test)
        && have("mosquitto_sub", &["--help"], test)
        && have("stdbuf", &["--version"], test)
}

/// `mosquitto_pub -h localhost -p PORT ARGS...`; its exit status and stderr.
async fn mosquitto_pub(port: u16, args: &[&str]) -> Output {
    let run = Command::new("mosquitto_pub")
        .args(["-h", "localhost", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(LIMIT, run)
        .await
        .unwrap_or_else(|_| panic!("mosquitto_pub {args:?} did not finish"))
        .expect("cannot run mosquitto_pub")
}

/// A `mosquitto_sub -d` that has its SUBACK, and the lines it printed.
struct Sub {
    child: Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    seen: Vec<String>,
}

impl Sub {
    async fn start(port: u16, args: &[&str]) -> Sub {
        // stdbuf -oL: mosquitto_sub buffers a piped stdout, and the test waits on lines.
        let mut child = Command::new("stdbuf")
            .args([
                "-oL",
                "mosquitto_sub",
                "-d",
                "-h",
                "localhost",
                "-p",
                &port.to_string(),
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot run mosquitto_sub");
        let stdout = child.stdout.take().expect("piped");
        let mut sub = Sub {
            child,
            lines: BufReader::new(stdout).lines(),
            seen: Vec::new(),
        };
        sub.until(|line| line.contains("SUBACK")).await;
        sub
    }

    /// Reads lines until one satisfies `want`; panics with the transcript otherwise.
    async fn until(&mut self, want: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line()).await;
            match line {
                Ok(Ok(Some(line))) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
                _ => {
                    let _ = self.child.start_kill();
                    let stderr = match self.child.stderr.take() {
                        Some(mut e) => {
                            let mut s = String::new();
                            let _ = tokio::io::AsyncReadExt::read_to_string(&mut e, &mut s).await;
                            s
                        }
                        None => String::new(),
                    };
                    panic!(
                        "mosquitto_sub ended or stalled; it printed:\n{}\nstderr: {stderr}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }
}

#[test]
fn certs_init_writes_private_keys_and_refuses_to_overwrite() {
    let dir = certs_init(&[]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for (name, mode) in [
            ("ca.key", 0o600),
            ("server.key", 0o600),
            ("client.key", 0o600),
            ("ca.crt", 0o644),
            ("server.crt", 0o644),
            ("client.crt", 0o644),
        ] {
            let meta = std::fs::metadata(dir.path().join(name)).expect(name);
            assert_eq!(meta.permissions().mode() & 0o777, mode, "{name}");
        }
    }
    let d = dir.path().to_str().unwrap();
    let again = mq(&["certs", "init", "--dir", d]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("use --force"),
        "{}",
        text(&again.stderr)
    );
    let forced = mq(&[
        "certs",
        "init",
        "--dir",
        d,
        "--force",
        "--san",
        "broker.example",
    ]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    let printed = text(&forced.stdout);
    assert!(printed.contains(&format!("--tls {d}")), "{printed}");
    assert!(
        printed.contains("mosquitto_pub -h localhost -p 8883 --cafile"),
        "{printed}"
    );

    let shown = mq(&["certs", "show", &file(dir.path(), "server.crt")]);
    let shown = text(&shown.stdout);
    for expected in [
        "DNS:localhost",
        "IP:127.0.0.1",
        "IP:::1",
        "DNS:broker.example",
        "SHA-256:",
        "issuer:   CN=mq CA",
    ] {
        assert!(
            shown.contains(expected),
            "{expected} missing from:\n{shown}"
        );
    }
    let verified = mq(&[
        "certs",
        "verify",
        "--ca",
        &file(dir.path(), "ca.crt"),
        &file(dir.path(), "client.crt"),
    ]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    assert!(text(&verified.stdout).contains("client authentication"));
}

#[test]
fn certificates_from_another_ca_fail_mq_certs_verify_with_exit_code_4() {
    let ours = certs_init(&["--key-type", "ed25519"]);
    let theirs = certs_init(&[]);
    let out = mq(&[
        "certs",
        "verify",
        "--ca",
        &file(ours.path(), "ca.crt"),
        &file(theirs.path(), "server.crt"),
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("not signed by this CA"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn openssl_verifies_every_key_type_mq_certs_makes() {
    if !have(
        "openssl",
        &["version"],
        "openssl_verifies_every_key_type_mq_certs_makes",
    ) {
        return;
    }
    for key_type in ["ecdsa-p256", "ed25519", "rsa2048"] {
        let dir = certs_init(&["--key-type", key_type]);
        let out = StdCommand::new("openssl")
            .args(["verify", "-CAfile", &file(dir.path(), "ca.crt")])
            .args([
                file(dir.path(), "server.crt"),
                file(dir.path(), "client.crt"),
            ])
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{key_type}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        // And the key really is the certificate's: openssl derives the same public key.
        let pubkey = |args: &[&str]| {
            let out = StdCommand::new("openssl")
                .args(args)
                .output()
                .expect("openssl");
            assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
            out.stdout
        };
        assert_eq!(
            pubkey(&[
                "x509",
                "-noout",
                "-pubkey",
                "-in",
                &file(dir.path(), "server.crt")
            ]),
            pubkey(&["pkey", "-pubout", "-in", &file(dir.path(), "server.key")]),
            "{key_type}"
        );
    }
}

#[test]
fn an_encrypted_ca_key_is_readable_by_openssl_and_needed_for_new_certificates() {
    if !have(
        "openssl",
        &["version"],
        "an_encrypted_ca_key_is_readable_by_openssl",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let run = |args: &[&str], passphrase: Option<&str>| {
        let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_mq"));
        cmd.args(args)
            .stdin(Stdio::null())
            .env_remove("MQ_CA_PASSPHRASE");
        if let Some(p) = passphrase {
            cmd.env("MQ_CA_PASSPHRASE", p);
        }
        cmd.output().expect("mq")
    };
    let out = run(
        &["certs", "init", "--dir", d, "--encrypt-ca-key"],
        Some("open sesame"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let key = std::fs::read_to_string(dir.path().join("ca.key")).unwrap();
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{key}"
    );
    let openssl = StdCommand::new("openssl")
        .args([
            "pkey",
            "-noout",
            "-in",
            &file(dir.path(), "ca.key"),
            "-passin",
            "pass:open sesame",
        ])
        .output()
        .unwrap();
    assert!(openssl.status.success(), "{}", text(&openssl.stderr));

    let without = run(&["certs", "client", "device7", "--dir", d], None);
    assert_eq!(without.status.code(), Some(2));
    assert!(
        text(&without.stderr).contains("encrypted"),
        "{}",
        text(&without.stderr)
    );
    let wrong = run(&["certs", "client", "device7", "--dir", d], Some("guess"));
    assert!(
        text(&wrong.stderr).contains("wrong passphrase"),
        "{}",
        text(&wrong.stderr)
    );
    let right = run(
        &["certs", "client", "device7", "--dir", d],
        Some("open sesame"),
    );
    assert!(right.status.success(), "{}", text(&right.stderr));
    let shown = mq(&["certs", "show", &file(dir.path(), "device7.crt")]);
    assert!(
        text(&shown.stdout).contains("subject:  CN=device7,O=mq"),
        "{}",
        text(&shown.stdout)
    );
}

#[test]
fn the_broker_names_a_key_that_does_not_match_its_certificate() {
    let dir = certs_init(&[]);
    let out = mq(&[
        "broker",
        "-p",
        "0",
        "--tls",
        dir.path().to_str().unwrap(),
        "--tls-port",
        "0",
        "--keyfile",
        &file(dir.path(), "client.key"),
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("client.key does not match the certificate in"),
        "{stderr}"
    );

    let out = mq(&[
        "broker",
        "-p",
        "0",
        "--tls",
        dir.path().to_str().unwrap(),
        "--tls-port",
        "0",
        "--certfile",
        &file(dir.path(), "server.key"),
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no certificate found in")
            && text(&out.stderr).contains("(it holds: PRIVATE KEY)"),
        "{}",
        text(&out.stderr)
    );

    let out = mq(&["broker", "-p", "0", "--tls", "/nonexistent/mq-certs"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("mq certs init --dir /nonexistent/mq-certs"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn a_certificate_without_the_host_among_its_sans_is_warned_about() {
    let dir = certs_init(&[]);
    let d = dir.path().to_str().unwrap();
    let out = mq(&[
        "certs",
        "server",
        "--dir",
        d,
        "--force",
        "--no-default-sans",
        "--san",
        "broker.example",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let broker = Broker::start_with(&["--tls", d, "--tls-port", "0"]);
    broker.listener("mqtts");
    // The warning comes through a pipe a thread reads: wait for it rather than race it.
    let stderr = broker
        .wait_for_log("no subjectAltName of the certificate")
        .await;
    assert!(stderr.contains("covers 127.0.0.1"), "{stderr}");
}

#[tokio::test]
async fn mosquitto_clients_exchange_qos1_messages_over_tls() {
    if !have_mosquitto_clients("mosquitto_clients_exchange_qos1_messages_over_tls") {
        return;
    }
    let dir = certs_init(&[]);
    let broker = Broker::start_with(&["--tls", dir.path().to_str().unwrap(), "--tls-port", "0"]);
    let port = broker.listener("mqtts").port();
    let ca = file(dir.path(), "ca.crt");
    let mut sub = Sub::start(
        port,
        &["--cafile", &ca, "-q", "1", "-t", "tls/#", "-C", "2"],
    )
    .await;

    let out = mosquitto_pub(
        port,
        &[
            "--cafile",
            &ca,
            "-q",
            "1",
            "-t",
            "tls/plain",
            "-m",
            "over tls",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let with_cert = [
        "--cafile",
        &ca,
        "--cert",
        &file(dir.path(), "client.crt"),
        "--key",
        &file(dir.path(), "client.key"),
        "-q",
        "1",
        "-t",
        "tls/cert",
        "-m",
        "with a client certificate",
    ];
    let out = mosquitto_pub(port, &with_cert).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    sub.until(|line| line == "over tls").await;
    sub.until(|line| line == "with a client certificate").await;
    assert!(
        sub.seen
            .iter()
            .any(|l| l.contains("received PUBLISH") && l.contains("q1")),
        "{:?}",
        sub.seen
    );
}

#[tokio::test]
async fn mutual_tls_refuses_clients_without_a_certificate_or_from_another_ca() {
    if !have_mosquitto_clients("mutual_tls_refuses_clients_without_a_certificate") {
        return;
    }
    let dir = certs_init(&[]);
    let other = certs_init(&[]);
    let broker = Broker::start_with(&[
        "--tls",
        dir.path().to_str().unwrap(),
        "--tls-port",
        "0",
        "--require-certificate",
    ]);
    let port = broker.listener("mqtts").port();
    let ca = file(dir.path(), "ca.crt");

    let none = mosquitto_pub(port, &["--cafile", &ca, "-q", "1", "-t", "m", "-m", "x"]).await;
    assert!(
        !none.status.success(),
        "a client without a certificate got through"
    );

    let foreign = [
        "--cafile",
        &ca,
        "--cert",
        &file(other.path(), "client.crt"),
        "--key",
        &file(other.path(), "client.key"),
        "-q",
        "1",
        "-t",
        "m",
        "-m",
        "x",
    ];
    let foreign = mosquitto_pub(port, &foreign).await;
    assert!(
        !foreign.status.success(),
        "a certificate from another CA got through"
    );

    let ours = [
        "--cafile",
        &ca,
        "--cert",
        &file(dir.path(), "client.crt"),
        "--key",
        &file(dir.path(), "client.key"),
        "-q",
        "1",
        "-t",
        "m",
        "-m",
        "x",
    ];
    let ours = mosquitto_pub(port, &ours).await;
    assert!(ours.status.success(), "{}", text(&ours.stderr));
    let stderr = broker.stderr();
    assert!(stderr.contains("TLS handshake failed"), "{stderr}");
}

#[tokio::test]
async fn the_certificate_common_name_becomes_the_user_name() {
    if !have_mosquitto_clients("the_certificate_common_name_becomes_the_user_name") {
        return;
    }
    let dir = certs_init(&[]);
    let broker = Broker::start_with(&[
        "--tls",
        dir.path().to_str().unwrap(),
        "--tls-port",
        "0",
        "--use-identity-as-username",
    ]);
    let port = broker.listener("mqtts").port();
    let args = [
        "--cafile",
        &file(dir.path(), "ca.crt"),
        "--cert",
        &file(dir.path(), "client.crt"),
        "--key",
        &file(dir.path(), "client.key"),
        "-u",
        "somebody-else",
        "-t",
        "m",
        "-m",
        "x",
    ];
    let out = mosquitto_pub(port, &args).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let deadline = Instant::now() + LIMIT;
    // The broker logs the connection before it answers; its stderr reaches us through a
    // reader thread, so wait for the line rather than assume it is already there.
    while !broker.stderr().contains(", u'client')") {
        assert!(
            Instant::now() < deadline,
            "no u'client' in:\n{}",
            broker.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!broker.stderr().contains("u'somebody-else'"));
}

/// Python's paho-mqtt, a third-party WebSocket client: subscribe, publish QoS 1 to itself,
/// wait for the message. Prints `OK` on success.
const PAHO_ROUND_TRIP: &str = r#"
import sys, threading, paho.mqtt.client as mqtt
port, path, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
done, result = threading.Event(), {}
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, transport="websockets", protocol=mqtt.MQTTv311)
c.ws_set_options(path=path)
if ca != "-":
    c.tls_set(ca_certs=ca)
def on_connect(c, u, flags, rc, props=None):
    result["connect"] = str(rc)
    c.subscribe("ws/echo", qos=1)
def on_subscribe(c, u, mid, rcs, props=None):
    c.publish("ws/echo", b"\x00binary\xff" * 1000, qos=1)
def on_message(c, u, m):
    result["message"] = (m.qos, len(m.payload))
    done.set()
c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
try:
    c.connect("localhost", port, keepalive=30)
except Exception as e:
    print("CONNECT FAILED", e); sys.exit(3)
c.loop_start()
ok = done.wait(15)
c.loop_stop()
ok = ok and result.get("message") == (1, 8000)
print("OK" if ok else f"FAILED {result}")
sys.exit(0 if ok else 1)
"#;

fn have_paho(test: &str) -> bool {
    let ok = StdCommand::new("python3")
        .args(["-c", "import paho.mqtt.client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("{test}: python3 with paho-mqtt is missing and CI is set (.ci/run installs it)");
        }
        eprintln!("notice: {test} skipped: python3 -c 'import paho.mqtt.client' failed (pip install paho-mqtt)");
    }
    ok
}

async fn paho(port: u16, path: &str, ca: Option<&str>) -> Output {
    let run = Command::new("python3")
        .args([
            "-c",
            PAHO_ROUND_TRIP,
            &port.to_string(),
            path,
            ca.unwrap_or("-"),
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(LIMIT, run)
        .await
        .expect("paho did not finish")
        .expect("cannot run python3")
}

#[tokio::test]
async fn paho_exchanges_qos1_binary_messages_over_ws_and_wss() {
    if !have_paho("paho_exchanges_qos1_binary_messages_over_ws_and_wss") {
        return;
    }
    let dir = certs_init(&[]);
    let broker = Broker::start_with(&[
        "--tls",
        dir.path().to_str().unwrap(),
        "--tls-port",
        "0",
        "--ws-port",
        "0",
        "--wss-port",
        "0",
    ]);
    let ca = file(dir.path(), "ca.crt");
    let ws = paho(broker.listener("ws").port(), "/mqtt", None).await;
    assert_eq!(
        text(&ws.stdout).trim(),
        "OK",
        "ws: {}{}",
        text(&ws.stderr),
        broker.stderr()
    );
    let wss = paho(broker.listener("wss").port(), "/", Some(&ca)).await;
    assert_eq!(
        text(&wss.stdout).trim(),
        "OK",
        "wss: {}{}",
        text(&wss.stderr),
        broker.stderr()
    );
}

#[tokio::test]
async fn a_configured_websocket_path_is_the_only_one_served() {
    let broker = Broker::start_with(&["--ws-port", "0", "--ws-path", "/mqtt"]);
    let addr = broker.listener("ws");
    let upgrade = |path: &str| {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "mqtt".parse().unwrap());
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            tokio_tungstenite::client_async(request, tcp).await
        }
    };
    let (_, response) = upgrade("/mqtt").await.expect("/mqtt is served");
    assert_eq!(response.headers()["Sec-WebSocket-Protocol"], "mqtt");
    match upgrade("/elsewhere").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 404)
        }
        other => panic!("/elsewhere: {other:?}"),
    }
}

/// The server certificate a TLS client sees now, as its SHA-256 fingerprint input (DER).
async fn served_certificate(port: u16, ca: &Path) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake with the broker");
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn sighup_reloads_the_certificate_and_keeps_open_connections() {
    if !have_mosquitto_clients("sighup_reloads_the_certificate_and_keeps_open_connections") {
        return;
    }
    let dir = certs_init(&[]);
    let d = dir.path().to_str().unwrap();
    let broker = Broker::start_with(&["--tls", d, "--tls-port", "0"]);
    let port = broker.listener("mqtts").port();
    let ca = dir.path().join("ca.crt");
    let before = served_certificate(port, &ca).await;
    let mut sub = Sub::start(
        port,
        &[
            "--cafile",
            &file(dir.path(), "ca.crt"),
            "-q",
            "1",
            "-t",
            "reload",
        ],
    )
    .await;

    let out = mq(&["certs", "server", "--dir", d, "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    broker.signal(libc::SIGHUP);
    let deadline = Instant::now() + LIMIT;
    while served_certificate(port, &ca).await == before {
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served:\n{}",
            broker.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = mosquitto_pub(
        port,
        &[
            "--cafile",
            &file(dir.path(), "ca.crt"),
            "-q",
            "1",
            "-t",
            "reload",
            "-m",
            "after reload",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    sub.until(|line| line == "after reload").await;
    assert!(
        broker.stderr().contains("reloaded TLS certificate"),
        "{}",
        broker.stderr()
    );
}

/// A port nobody listens on right now (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test]
async fn mosquitto_the_broker_accepts_the_certificates_mq_certs_makes() {
    let test = "mosquitto_the_broker_accepts_the_certificates_mq_certs_makes";
    if !have_mosquitto_clients(test) {
        return;
    }
    let mosquitto = ["/usr/sbin/mosquitto", "mosquitto"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file() || StdCommand::new(p).arg("-h").output().is_ok());
    let Some(mosquitto) = mosquitto else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: mosquitto is missing under CI"
        );
        eprintln!("notice: {test} skipped: no mosquitto broker");
        return;
    };
    let dir = certs_init(&[]);
    let port = free_port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nuser root\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
            file(dir.path(), "ca.crt"),
            file(dir.path(), "server.crt"),
            file(dir.path(), "server.key")
        ),
    )
    .unwrap();
    let mut child = Command::new(&mosquitto)
        .args(["-c", conf.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot start mosquitto");
    // Mosquitto prints nothing to wait for on stdout; wait until its port answers.
    let deadline = Instant::now() + LIMIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("mosquitto exited with {status}");
        }
        assert!(
            Instant::now() < deadline,
            "mosquitto did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let args = [
        "--cafile",
        &file(dir.path(), "ca.crt"),
        "--cert",
        &file(dir.path(), "client.crt"),
        "--key",
        &file(dir.path(), "client.key"),
        "-q",
        "1",
        "-t",
        "interop",
        "-m",
        "x",
    ];
    let out = mosquitto_pub(port, &args).await;
    let _ = child.start_kill();
    assert!(
        out.status.success(),
        "mosquitto refused mq's certificates: {}",
        text(&out.stderr)
    );
}
