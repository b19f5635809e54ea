//! Mosquitto's own clients, `mosquitto_pub` and `mosquitto_sub`, and the `mosquitto`
//! broker, as child processes.
//!
//! When the tools are missing a test prints a notice and returns early; with `CI` set in
//! the environment a missing tool fails the test instead (`.ci/run` installs them).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::harness::Broker;
use crate::raw::PATIENCE;

/// `mosquitto_sub` writes its debug lines through a buffered stdout; `stdbuf -oL` makes
/// them arrive line by line, so a test can wait for "Subscribed" instead of sleeping.
const TOOLS: [&str; 3] = ["mosquitto_pub", "mosquitto_sub", "stdbuf"];

pub fn on_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// True when the tools are here. Otherwise prints a notice and returns false, or panics
/// when the environment variable `CI` is set.
pub fn tools_present(test: &str) -> bool {
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|tool| on_path(tool).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {missing:?} not found on PATH, and CI is set: the interop tests are mandatory there (install mosquitto-clients)");
    }
    eprintln!("notice: {test} skipped: {missing:?} not found on PATH (install mosquitto-clients to run it)");
    false
}

/// One message as `mosquitto_sub -d` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub topic: String,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    pub payload: String,
}

/// A running `mosquitto_sub -d`, killed on drop.
pub struct Sub {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// Messages that arrived before the test asked for them (e.g. before SUBACK).
    pending: VecDeque<Received>,
    /// The header of a PUBLISH whose payload line comes next.
    header: Option<Received>,
    subscribed: bool,
    /// Everything it printed, for failure messages.
    transcript: Vec<String>,
}

impl Sub {
    /// Starts `mosquitto_sub -d -h 127.0.0.1 -p PORT ARGS...` and waits for its SUBACK.
    pub async fn start(broker: &Broker, args: &[&str]) -> Sub {
        let mut child = Command::new("stdbuf")
            .arg("-oL")
            .arg("mosquitto_sub")
            .args(["-d", "-h", "127.0.0.1", "-p", &broker.port().to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot start mosquitto_sub");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut sub = Sub {
            child,
            lines: BufReader::new(stdout).lines(),
            pending: VecDeque::new(),
            header: None,
            subscribed: false,
            transcript: Vec::new(),
        };
        while !sub.subscribed {
            sub.read_line().await;
        }
        sub
    }

    /// Reads one line and files it; panics if the process ends or stays silent.
    async fn read_line(&mut self) {
        let line = match tokio::time::timeout(PATIENCE, self.lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(_) => panic!(
                "mosquitto_sub ended; it printed:\n{}",
                self.transcript.join("\n")
            ),
            Err(_) => panic!(
                "mosquitto_sub printed nothing for {PATIENCE:?}; so far:\n{}",
                self.transcript.join("\n")
            ),
        };
        self.transcript.push(line.clone());
        if line.starts_with("Subscribed (mid") {
            self.subscribed = true;
        } else if line.starts_with("Client ") {
            if let Some(header) = parse_publish_header(&line) {
                self.header = Some(header);
            }
        } else if let Some(mut message) = self.header.take() {
            message.payload = line;
            self.pending.push_back(message);
        }
    }

    /// The next message.
    pub async fn recv(&mut self) -> Received {
        loop {
            if let Some(message) = self.pending.pop_front() {
                return message;
            }
            self.read_line().await;
        }
    }

    /// SIGKILL: the process gets no chance to send DISCONNECT.
    pub async fn kill(&mut self) {
        self.child.start_kill().expect("cannot kill mosquitto_sub");
        let _ = tokio::time::timeout(PATIENCE, self.child.wait()).await;
    }

    /// SIGTERM: mosquitto_sub disconnects cleanly and exits.
    pub async fn terminate(mut self) {
        let pid = self.child.id().expect("mosquitto_sub is running");
        // SAFETY: kill(2) takes two integers and touches no memory of ours; the pid is our
        // own child, not yet waited for, so it cannot have been reused by another process.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("mosquitto_sub did not exit after SIGTERM")
            .expect("wait for mosquitto_sub");
        assert!(
            status.success() || status.code().is_none(),
            "mosquitto_sub exited with {status}; it printed:\n{}",
            self.transcript.join("\n")
        );
    }
}

/// `Client ID received PUBLISH (d0, q1, r0, m1, 'a/b', ... (5 bytes))`
fn parse_publish_header(line: &str) -> Option<Received> {
    let rest = line.split_once(" received PUBLISH (")?.1;
    let mut flags = rest.splitn(5, ", ");
    let dup = flags.next()? == "d1";
    let qos = flags.next()?.strip_prefix('q')?.parse().ok()?;
    let retain = flags.next()? == "r1";
    let _mid = flags.next()?;
    let tail = flags.next()?;
    let topic_end = tail.rfind("', ... (")?;
    let topic = tail.strip_prefix('\'')?.get(..topic_end - 1)?.to_string();
    Some(Received {
        topic,
        qos,
        retain,
        dup,
        payload: String::new(),
    })
}

/// Runs `mosquitto_pub -h 127.0.0.1 -p PORT ARGS...` to completion and insists on success.
pub async fn publish(broker: &Broker, args: &[&str]) {
    let output = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(PATIENCE, output)
        .await
        .unwrap_or_else(|_| panic!("mosquitto_pub {args:?} did not finish"))
        .expect("cannot run mosquitto_pub");
    assert!(
        output.status.success(),
        "mosquitto_pub {args:?} failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn publish_headers_of_mosquitto_sub_parse() {
    let parsed = parse_publish_header(
        "Client (null) received PUBLISH (d1, q2, r1, m7, 'a/b c', ... (5 bytes))",
    )
    .unwrap();
    assert_eq!(
        parsed,
        Received {
            topic: "a/b c".into(),
            qos: 2,
            retain: true,
            dup: true,
            payload: String::new()
        }
    );
}

/// A Mosquitto broker on a free loopback port; killed on drop.
pub struct Mosquitto {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts `mosquitto` with a listener on a free loopback port and `config`'s lines.
    pub async fn start(config: &str) -> Mosquitto {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = format!(
            "listener {port} 127.0.0.1\n{config}{}",
            // Run as root, Mosquitto would switch to the `mosquitto` user, which cannot
            // read a 0600 file of ours.
            if is_root() { "user root\n" } else { "" }
        );
        let config_path = dir.path().join("mosquitto.conf");
        std::fs::write(&config_path, config).expect("write mosquitto.conf");
        let child = std::process::Command::new("mosquitto")
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
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        broker
    }

    pub fn addr(&self) -> std::net::SocketAddr {
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
