//! `mq bench` against `mq broker`: the report shows every message arrived once.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::Broker;

/// The longest one bench run may take here; the run itself stops at `--duration`.
const LIMIT: Duration = Duration::from_secs(60);

/// Runs `mq bench ARGS --json` and returns its output once it exits.
fn bench(broker: &Broker, args: &[&str]) -> Output {
    let port = broker.port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mq"))
        .arg("bench")
        .args(args)
        .args(["-h", "127.0.0.1", "-p", &port, "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start mq bench");
    let deadline = Instant::now() + LIMIT;
    loop {
        match child.try_wait().expect("cannot poll mq bench") {
            Some(_) => break,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                panic!("mq bench {args:?} still ran after {LIMIT:?}");
            }
            // A child's exit has no event to wait on here without a runtime.
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    child
        .wait_with_output()
        .expect("cannot read mq bench output")
}

/// The number after `"key":` inside the last object `"section":{...}` of the report
/// (the last `latency_us` is the run's; the first is inside `connect`).
fn field(json: &str, section: &str, key: &str) -> u64 {
    let start = json
        .rfind(&format!("\"{section}\":{{"))
        .unwrap_or_else(|| panic!("no {section} in {json}"));
    let object = &json[start..];
    let object = &object[..object.find('}').unwrap_or(object.len())];
    let at = object
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {section}.{key} in {json}"));
    let digits: String = object[at + key.len() + 3..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{section}.{key} is not a number in {json}"))
}

#[test]
fn bench_fanin_reports_every_message_received_once() {
    // The queue must hold a whole burst: the default 1000 would drop (and count) some.
    let broker = Broker::start_with(&["--max-queued-messages", "100000"]);
    for qos in ["1", "2"] {
        let output = bench(
            &broker,
            &[
                "fanin",
                "-c",
                "4",
                "-n",
                "500",
                "-q",
                qos,
                "-s",
                "64",
                "--duration",
                "30s",
            ],
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "mq bench failed: {}\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let json = stdout.trim();
        assert!(json.starts_with("{\"scenario\":\"fanin\""), "{json}");
        assert_eq!(field(json, "publish", "completed"), 2000, "{json}");
        assert_eq!(field(json, "receive", "received"), 2000, "{json}");
        assert_eq!(field(json, "receive", "expected"), 2000, "{json}");
        assert_eq!(field(json, "receive", "lost"), 0, "{json}");
        assert_eq!(field(json, "receive", "duplicates"), 0, "{json}");
        assert_eq!(field(json, "receive", "reordered"), 0, "{json}");
        assert_eq!(field(json, "latency_us", "count"), 2000, "{json}");
    }
}

#[test]
fn bench_refuses_a_payload_too_small_for_its_header() {
    let broker = Broker::start();
    let output = bench(&broker, &["fanin", "-s", "8"]);
    assert_eq!(output.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&output.stderr).contains("at least 28 bytes"));
}
