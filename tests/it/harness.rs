//! The real `mq broker` as a child process on a free port.
//!
//! The broker prints `mq broker listening on mqtt://ADDRESS:PORT` once bound; the harness
//! waits for that line (never for a fixed time) and kills the process on drop. Its stderr
//! is kept and printed when a test fails, so a failure shows the broker's side too.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the broker may take to print its address.
const STARTUP: Duration = Duration::from_secs(10);
/// The most broker stderr kept for a failure message.
const STDERR_KEPT: usize = 64 * 1024;

pub struct Broker {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    /// The stdout lines after the first `mqtt://` one: the other listeners' URLs.
    more_lines: Mutex<(Option<mpsc::Receiver<String>>, Vec<String>)>,
    /// The broker's own XDG_DATA_HOME: a config file without a store setting uses the
    /// default data folder, which must never be the user's (shared, locked, maybe newer).
    _data_home: tempfile::TempDir,
}

impl Broker {
    /// `mq broker -p 0 --bind 127.0.0.1 -v --persistence off`.
    pub fn start() -> Broker {
        Broker::start_with(&[])
    }

    /// The default broker plus `extra` command-line arguments. Unless `extra` names
    /// `--data`, `--persistence` or a config file (`-c`), the broker keeps its state in memory only: tests must
    /// not share (and lock) the per-user data folder.
    pub fn start_with(extra: &[&str]) -> Broker {
        let chooses_store = extra.iter().any(|a| {
            a.starts_with("--data")
                || a.starts_with("--persistence")
                || a.starts_with("--check-store")
                // A config file chooses its own store.
                || *a == "-c"
                || a.starts_with("--config")
        });
        let memory_only: &[&str] = if chooses_store {
            &[]
        } else {
            &["--persistence", "off"]
        };
        let data_home = tempfile::tempdir().expect("a temporary data home");
        let mut child = Command::new(env!("CARGO_BIN_EXE_mq"))
            .args(["broker", "-p", "0", "--bind", "127.0.0.1", "-v"])
            .args(memory_only)
            .args(extra)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .env("XDG_DATA_HOME", data_home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start the mq binary");

        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr is piped");
        let kept = stderr.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                kept.push_str(&String::from_utf8_lossy(&chunk[..n]));
                if kept.len() > STDERR_KEPT {
                    let mut cut = kept.len() - STDERR_KEPT / 2;
                    while !kept.is_char_boundary(cut) {
                        cut += 1;
                    }
                    kept.replace_range(..cut, "[...]\n");
                }
            }
        });

        let (lines_tx, lines_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });

        let mut broker = Broker {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
            more_lines: Mutex::new((None, Vec::new())),
            _data_home: data_home,
        };
        let deadline = Instant::now() + STARTUP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("mq broker listening on mqtt://") {
                        broker.addr = url.trim().parse().unwrap_or_else(|e| {
                            panic!("broker printed an address that does not parse: {line:?}: {e}")
                        });
                        broker.more_lines = Mutex::new((Some(lines_rx), Vec::new()));
                        return broker;
                    }
                }
                Err(_) => panic!(
                    "the broker did not print its address within {STARTUP:?} (args {extra:?}); stderr:\n{}",
                    broker.stderr()
                ),
            }
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the listener the broker printed as `SCHEME://ADDRESS:PORT` (`mqtts`,
    /// `ws`, `wss`), for brokers started with more listeners than the TCP one.
    pub fn listener(&self, scheme: &str) -> SocketAddr {
        let prefix = format!("mq broker listening on {scheme}://");
        self.printed(&prefix, |rest| rest.trim().parse().ok())
    }

    /// The address of the metrics endpoint, printed as `http://ADDRESS:PORT/metrics`.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.printed("mq broker metrics on http://", |rest| {
            rest.trim().strip_suffix("/metrics")?.parse().ok()
        })
    }

    /// What `parse` makes of the rest of the first stdout line that starts with `prefix`.
    fn printed<T>(&self, prefix: &str, parse: impl Fn(&str) -> Option<T>) -> T {
        let parse = |line: &str| -> Option<T> { parse(line.strip_prefix(prefix)?) };
        let mut more = self.more_lines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = more.1.iter().find_map(|line| parse(line)) {
            return found;
        }
        let deadline = Instant::now() + STARTUP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = more.0.as_ref().and_then(|rx| rx.recv_timeout(left).ok());
            let Some(line) = line else {
                panic!(
                    "the broker printed no line starting {prefix:?}; stderr:\n{}",
                    self.stderr()
                );
            };
            if let Some(found) = parse(&line) {
                return found;
            }
            more.1.push(line);
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the broker's stderr shows `needle`; returns all of it.
    pub async fn wait_for_log(&self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + crate::raw::PATIENCE;
        loop {
            let log = self.stderr();
            if log.contains(needle) {
                return log;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the broker log never showed {needle:?}:\n{log}"
            );
            // The log is a pipe read by a thread; there is no event to wait on here.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What the broker wrote to stderr so far (the tail, if it wrote a lot).
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `None` while the process runs, its exit status once it has ended.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child
            .try_wait()
            .expect("cannot poll the broker process")
    }

    /// Sends a signal to the broker process.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.pid()).expect("pid fits pid_t");
        // SAFETY: kill(2) takes two integers and touches no memory of ours; the pid is our
        // own child, not yet waited for, so it cannot have been reused by another process.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
    }

    /// Waits for the process to exit; `None` if it is still running after `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            // Polling a child's exit status has no event to wait on without reaping it elsewhere.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many file descriptors the broker has open (each connection holds one).
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("cannot list the broker's /proc fd folder")
            .count()
    }

    /// Waits until the broker's open file count satisfies `ok` (connections are closed by
    /// their own tasks, a moment after the peer sees the close).
    pub async fn wait_for_open_files(&self, ok: impl Fn(usize) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let files = self.open_files();
            if ok(files) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the broker still has {files} files open"
            );
            // Polling /proc: there is no event to wait on.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A line from /proc/PID/status in kB, e.g. `VmRSS` or `VmHWM` (the peak).
    pub fn memory_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("cannot read the broker's /proc status");
        status
            .lines()
            .find_map(|line| {
                let rest = line.strip_prefix(field)?.strip_prefix(':')?;
                rest.trim().trim_end_matches("kB").trim().parse().ok()
            })
            .unwrap_or_else(|| panic!("no {field} in /proc/{}/status", self.pid()))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- mq broker stderr (port {}) ----\n{}\n---- end of broker stderr ----",
                self.addr.port(),
                self.stderr()
            );
        }
    }
}
