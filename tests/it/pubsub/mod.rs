//! Harness for the `mq pub` / `mq sub` tests: the real `mq broker` on port 0 and a real
//! Mosquitto on a free port, the `mq` binary, and `mosquitto_sub`/`mosquitto_pub` for
//! comparison. Kept in this file so it merges cleanly with the broker tests' harness
//! (`pubsub`, not `clients`: main's tests/it/clients.rs is its rumqttc helper).
//!
//! Mosquitto tests are skipped with a notice when `mosquitto` is not installed, and fail
//! instead when the environment variable CI is set.

#![allow(dead_code)]

mod errors;
mod format;
mod publish;
mod subscribe;
mod tls;
mod websocket;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const MQ: &str = env!("CARGO_BIN_EXE_mq");

/// How long any single command may take before a test gives up on it.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mq,
    Mosquitto,
}

/// A running broker, killed when dropped.
pub struct Broker {
    pub kind: Kind,
    pub port: u16,
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Broker {
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Mq => "mq broker",
            Kind::Mosquitto => "mosquitto",
        }
    }

    /// `-h 127.0.0.1 -p PORT` for the clients.
    pub fn args(&self) -> Vec<String> {
        vec![
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
        ]
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops Mosquitto with SIGTERM, so it saves its persistence file, and waits for it.
    pub fn stop(&mut self) {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        while self.child.try_wait().expect("wait for mosquitto").is_none() {
            assert!(Instant::now() < deadline, "mosquitto ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a stopped Mosquitto again with the same configuration, on the same port.
    pub fn start_again(&mut self) {
        assert_eq!(self.kind, Kind::Mosquitto, "only Mosquitto is restarted");
        let binary = mosquitto_binary().expect("mosquitto binary");
        let conf = self.dir.path().join("mosquitto.conf");
        self.child = spawn_mosquitto(&binary, &conf, self.port)
            .unwrap_or_else(|e| panic!("mosquitto would not start again: {e}"));
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn mq_broker() -> Broker {
    mq_broker_on(0)
}

pub fn mq_broker_on(port: u16) -> Broker {
    mq_broker_with(port, &[])
}

pub fn mq_broker_with(port: u16, extra: &[&str]) -> Broker {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(MQ)
        .args(["broker", "-p", &port.to_string(), "--sys-interval", "0"])
        .args(["--persistence", "off"])
        .args(extra)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mq broker");
    let stdout = child.stdout.take().expect("broker stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the broker's address");
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    Broker {
        kind: Kind::Mq,
        port,
        child,
        dir,
    }
}

fn mosquitto_binary() -> Option<PathBuf> {
    for candidate in ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"] {
        if Path::new(candidate).exists() {
            return Some(candidate.into());
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("mosquitto"))
        .find(|p| p.exists())
}

/// Whether the Mosquitto tools are here; prints a notice (or fails under CI) when not.
pub fn have_mosquitto(test: &str) -> bool {
    if mosquitto_binary().is_some() && which("mosquitto_sub") && which("mosquitto_pub") {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: mosquitto, mosquitto_sub and mosquitto_pub are required in CI");
    }
    eprintln!("notice: {test}: mosquitto is not installed; its half of this test is skipped");
    false
}

/// Whether an optional tool is here; prints a notice (or fails under CI) when not.
pub fn have_tool(test: &str, tool: &str) -> bool {
    if which(tool) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {tool} is required in CI");
    }
    eprintln!("notice: {test}: {tool} is not installed; this part is skipped");
    false
}

pub fn which(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(tool).exists()))
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// Starts Mosquitto with `listener PORT 127.0.0.1`, `allow_anonymous true` and `extra` lines
/// (which may override both by setting their own). `None` when it is not installed.
pub fn mosquitto(test: &str, extra: &str) -> Option<Broker> {
    if !have_mosquitto(test) {
        return None;
    }
    Some(mosquitto_with(extra, None, &[]))
}

/// Starts Mosquitto; `listener` replaces the default listener line (use `{port}`), `{dir}`
/// in `extra` is the broker's directory, and `files` are written there first.
pub fn mosquitto_with(extra: &str, listener: Option<&str>, files: &[(&str, &[u8])]) -> Broker {
    let binary = mosquitto_binary().expect("mosquitto binary");
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, contents) in files {
        std::fs::write(dir.path().join(name), contents).expect("write a broker file");
    }
    let mut last_error = String::new();
    for _attempt in 0..5 {
        let port = free_port();
        let listener_line = listener
            .unwrap_or("listener {port} 127.0.0.1")
            .replace("{port}", &port.to_string());
        let extra = extra.replace("{dir}", &dir.path().display().to_string());
        let anonymous = if extra.contains("allow_anonymous") {
            ""
        } else {
            "allow_anonymous true\n"
        };
        // As root, Mosquitto would switch to its own user, who cannot read our temp files.
        let conf = format!("{listener_line}\n{anonymous}user root\n{extra}\n");
        let conf_path = dir.path().join("mosquitto.conf");
        std::fs::write(&conf_path, conf).expect("write mosquitto.conf");
        match spawn_mosquitto(&binary, &conf_path, port) {
            Ok(child) => {
                return Broker {
                    kind: Kind::Mosquitto,
                    port,
                    child,
                    dir,
                }
            }
            Err(error) => last_error = error,
        }
    }
    panic!("mosquitto would not start: {last_error}");
}

/// Starts Mosquitto with `conf` and waits until it accepts connections on `port`.
fn spawn_mosquitto(binary: &Path, conf: &Path, port: u16) -> Result<Child, String> {
    let mut child = Command::new(binary)
        .arg("-c")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mosquitto");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(child);
        }
        if let Ok(Some(_)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                let _ = s.read_to_string(&mut err);
            }
            return Err(err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("mosquitto did not accept connections in 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The brokers a test runs against: `mq broker` always, Mosquitto when installed.
pub fn brokers(test: &str) -> Vec<Broker> {
    let mut list = vec![mq_broker()];
    list.extend(mosquitto(test, ""));
    list
}

/// `mq` with these arguments.
pub fn mq(args: &[&str]) -> Command {
    let mut cmd = Command::new(MQ);
    cmd.args(args);
    cmd.env_remove("NO_COLOR");
    cmd
}

/// Runs a command to completion (stdin closed unless given), with a time limit.
pub fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    wait_output(child, COMMAND_TIMEOUT)
}

/// Collects a child's output, killing it after `limit`.
pub fn wait_output(mut child: Child, limit: Duration) -> Output {
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut s) = stdout {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut s) = stderr {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().expect("wait after kill");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// `mq pub` on this broker.
pub fn publish(broker: &Broker, extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec!["pub".into()];
    args.extend(broker.args());
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(mq(&refs), None);
    assert!(
        out.status.success(),
        "{}: mq {refs:?} failed: {}",
        broker.name(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A running `mq sub` that has its SUBACK: publish to it, then collect its output.
pub struct Subscriber {
    child: Child,
    stderr_lines: mpsc::Receiver<String>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    stderr_seen: Vec<String>,
}

impl Subscriber {
    /// Starts `mq sub -d ARGS` on the broker and waits until it is subscribed.
    pub fn start(broker: &Broker, extra: &[&str]) -> Subscriber {
        let mut args: Vec<String> = vec!["sub".into(), "-d".into()];
        args.extend(broker.args());
        args.extend(extra.iter().map(|s| s.to_string()));
        Subscriber::start_with(mq(&args.iter().map(String::as_str).collect::<Vec<_>>()))
    }

    pub fn start_with(mut cmd: Command) -> Subscriber {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mq sub");
        let stderr: ChildStderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut sub = Subscriber {
            child,
            stderr_lines: rx,
            stderr_reader: Some(reader),
            stderr_seen: Vec::new(),
        };
        sub.wait_for_stderr("received SUBACK");
        sub
    }

    /// Waits for a stderr line containing `needle` (the -d trace or a notice).
    pub fn wait_for_stderr(&mut self, needle: &str) {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.stderr_seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => {
                    let tail = self.stderr_seen.len().saturating_sub(30);
                    panic!(
                        "mq sub never printed {needle:?}; stderr ends with:\n{}",
                        self.stderr_seen[tail..].join("\n")
                    )
                }
            }
        }
    }

    pub fn stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Waits for the subscriber to exit by itself (-C, -W, ...).
    pub fn finish(mut self) -> (Output, String) {
        let stdout = self.child.stdout.take();
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut s) = stdout {
                let _ = s.read_to_end(&mut buf);
            }
            buf
        });
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if let Some(r) = self.stderr_reader.take() {
            let _ = r.join();
        }
        while let Ok(line) = self.stderr_lines.try_recv() {
            self.stderr_seen.push(line);
        }
        let stderr = self.stderr_seen.join("\n");
        (
            Output {
                status,
                stdout: reader.join().unwrap_or_default(),
                stderr: Vec::new(),
            },
            stderr,
        )
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts an exit code and that stderr mentions every needle.
pub fn assert_fails(out: &Output, code: i32, needles: &[&str]) {
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}; stderr: {stderr}; stdout: {}",
        text(&out.stdout)
    );
    for needle in needles {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    }
}
