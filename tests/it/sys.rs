//! `$SYS/broker/...` at `--sys-interval 1`: the topics Mosquitto publishes, with values
//! that follow what happened; and the same figures for Prometheus at `--metrics`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use mq_proto::{Properties, ProtocolVersion, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::clients::Mqtt;
use crate::harness::Broker;
use crate::raw::{connect_packet, Raw, PATIENCE};

/// The latest value of every `$SYS` topic a watcher has seen, and how often it came.
struct SysView {
    raw: Raw,
    values: HashMap<String, String>,
    updates: HashMap<String, usize>,
}

impl SysView {
    async fn new(broker: &Broker) -> SysView {
        SysView::at(broker.addr(), "sys-view").await
    }

    async fn at(addr: SocketAddr, client_id: &str) -> SysView {
        let mut raw = Raw::connect_v311(addr, client_id).await;
        raw.subscribe(&[("$SYS/#", QoS::AtMostOnce)]).await;
        SysView {
            raw,
            values: HashMap::new(),
            updates: HashMap::new(),
        }
    }

    fn number(&self, topic: &str) -> Option<u64> {
        self.values.get(topic)?.parse().ok()
    }

    fn float(&self, topic: &str) -> Option<f64> {
        self.values.get(topic)?.parse().ok()
    }

    fn uptime(&self) -> Option<u64> {
        self.values
            .get("$SYS/broker/uptime")?
            .strip_suffix(" seconds")?
            .parse()
            .ok()
    }

    /// Takes in one update.
    async fn read(&mut self) -> mq_proto::Publish {
        let got = self.raw.recv_publish().await;
        let topic = got.topic.to_string();
        *self.updates.entry(topic.clone()).or_default() += 1;
        self.values
            .insert(topic, String::from_utf8_lossy(&got.payload).into_owned());
        got
    }

    /// Reads updates until `done` holds for the values seen; panics after a few intervals.
    async fn until(&mut self, what: &str, done: impl Fn(&SysView) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
        while !done(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "$SYS never showed {what}; last values: {:#?}",
                self.values
            );
            self.read().await;
        }
    }

    /// Reads until the broker has published `intervals` more rounds (by the uptime), so
    /// every value that was going to settle has.
    async fn settle(&mut self, intervals: u64) {
        let target = self.uptime().unwrap_or(0) + intervals;
        self.until("the uptime moving on", |s| s.uptime() >= Some(target))
            .await;
    }
}

#[tokio::test]
async fn sys_topics_report_version_uptime_clients_messages_bytes_and_subscriptions() {
    let broker = Broker::start_with(&["--sys-interval", "1"]);
    let mut sub = Raw::connect_v311(broker.addr(), "sub").await;
    sub.subscribe(&[("data/#", QoS::AtMostOnce)]).await;
    let mut publisher = Mqtt::connect(&broker, "pub").await;
    for n in 0..3 {
        publisher
            .publish("data/x", rumqttc::QoS::AtLeastOnce, false, format!("{n}"))
            .await;
        sub.recv_publish().await;
    }
    let mut sys = SysView::new(&broker).await;
    sys.until("every counter moving", |s| {
        let at_least = |topic: &str, n: u64| s.number(topic).is_some_and(|v| v >= n);
        s.values
            .get("$SYS/broker/version")
            .is_some_and(|v| v.starts_with("mq version "))
            && s
                .values
                .get("$SYS/broker/uptime")
                .and_then(|v| v.strip_suffix(" seconds"))
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|secs| secs >= 1)
            // sub, pub and the watcher
            && at_least("$SYS/broker/clients/connected", 3)
            && at_least("$SYS/broker/clients/total", 3)
            && at_least("$SYS/broker/messages/received", 3)
            && at_least("$SYS/broker/messages/sent", 3)
            && at_least("$SYS/broker/publish/messages/received", 3)
            && at_least("$SYS/broker/publish/messages/sent", 3)
            && at_least("$SYS/broker/publish/bytes/received", 3)
            && at_least("$SYS/broker/publish/bytes/sent", 3)
            && at_least("$SYS/broker/bytes/received", 100)
            && at_least("$SYS/broker/bytes/sent", 100)
            // data/# and $SYS/#
            && at_least("$SYS/broker/subscriptions/count", 2)
            && s.number("$SYS/broker/retained messages/count").is_some()
    })
    .await;

    // Counters follow events: a client leaving lowers the connected count.
    drop(publisher);
    sys.until("the publisher gone", |s| {
        s.number("$SYS/broker/clients/connected") == Some(2)
    })
    .await;
}

#[tokio::test]
async fn sys_retained_count_follows_retained_messages() {
    let broker = Broker::start_with(&["--sys-interval", "1"]);
    const COUNT: &str = "$SYS/broker/retained messages/count";
    let mut sys = SysView::new(&broker).await;
    // The $SYS topics are retained themselves; once every one has been published, the
    // count stays put (and, published only on change, is not sent again).
    sys.settle(3).await;
    let before = sys.number(COUNT).expect("a retained count");

    let mut publisher = Mqtt::connect(&broker, "pub").await;
    for topic in ["kept/1", "kept/2"] {
        publisher
            .publish(topic, rumqttc::QoS::AtLeastOnce, true, "x")
            .await;
    }
    sys.until("two more retained messages", |s| {
        s.number(COUNT) == Some(before + 2)
    })
    .await;
    publisher
        .publish("kept/1", rumqttc::QoS::AtLeastOnce, true, "")
        .await;
    sys.until("one retained message cleared", |s| {
        s.number(COUNT) == Some(before + 1)
    })
    .await;
}

#[tokio::test]
async fn sys_values_are_published_on_change_and_retained_for_late_subscribers() {
    let broker = Broker::start_with(&["--sys-interval", "1"]);
    let mut early = SysView::new(&broker).await;
    early.settle(3).await;
    // The version never changes: published once. The uptime changes every interval.
    assert_eq!(early.updates.get("$SYS/broker/version"), Some(&1));
    assert!(early.updates["$SYS/broker/uptime"] >= 3);

    // A client subscribing later gets every value at once, retained.
    let mut late = Raw::connect_v311(broker.addr(), "late").await;
    late.subscribe(&[("$SYS/broker/version", QoS::AtMostOnce)])
        .await;
    let version = late.recv_publish().await;
    assert!(version.retain, "{version:?}");
    assert_eq!(
        &version.payload[..],
        format!("mq version {}", env!("CARGO_PKG_VERSION")).as_bytes()
    );
}

#[tokio::test]
async fn sys_load_averages_rise_with_traffic_and_expired_sessions_are_counted() {
    let broker = Broker::start_with(&["--sys-interval", "1"]);
    let mut sys = SysView::new(&broker).await;
    sys.until("the first load averages", |s| {
        s.float("$SYS/broker/load/publish/received/1min") == Some(0.0)
    })
    .await;

    let mut publisher = Raw::connect_v311(broker.addr(), "pub").await;
    for _ in 0..20 {
        publisher
            .publish("busy", QoS::AtLeastOnce, false, b"0123456789")
            .await;
    }
    // A session that expires one second after its client leaves.
    let mut connect = connect_packet("brief");
    connect.protocol = ProtocolVersion::V5;
    connect.properties = Properties {
        session_expiry_interval: Some(1),
        ..Properties::default()
    };
    let (brief, _) = Raw::connect(broker.addr(), connect).await;
    brief.disconnect().await;

    sys.until("the traffic in the figures", |s| {
        let positive = |topic: &str| s.float(topic).is_some_and(|v| v > 0.0);
        positive("$SYS/broker/load/publish/received/1min")
            && positive("$SYS/broker/load/publish/received/5min")
            && positive("$SYS/broker/load/publish/received/15min")
            && positive("$SYS/broker/load/messages/received/1min")
            && positive("$SYS/broker/load/bytes/received/1min")
            && positive("$SYS/broker/load/connections/1min")
            && positive("$SYS/broker/load/sockets/1min")
            && s.number("$SYS/broker/publish/messages/received") >= Some(20)
            && s.number("$SYS/broker/publish/bytes/received") >= Some(200)
            && s.number("$SYS/broker/clients/expired") == Some(1)
    })
    .await;
    // The shorter the window, the faster an average follows a burst.
    let load = |w: &str| {
        sys.float(&format!("$SYS/broker/load/publish/received/{w}"))
            .expect("a load average")
    };
    assert!(load("1min") >= load("5min") && load("5min") >= load("15min"));
}

/// Sends `request` to the metrics endpoint and returns the whole response.
async fn http(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect to metrics");
    stream.write_all(request).await.expect("send the request");
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response))
        .await
        .expect("the response in time")
        .expect("read the response");
    String::from_utf8(response).expect("a text response")
}

/// The value of an unlabelled sample in a Prometheus text page.
fn sample(page: &str, name: &str) -> Option<u64> {
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_endpoint_serves_the_sys_figures_as_prometheus_text() {
    let broker = Broker::start_with(&["--metrics", "127.0.0.1:0", "--sys-interval", "0"]);
    let metrics = broker.metrics_addr();
    let mut sub = Raw::connect_v311(broker.addr(), "sub").await;
    sub.subscribe(&[("data/#", QoS::AtMostOnce)]).await;
    let mut publisher = Raw::connect_v311(broker.addr(), "pub").await;
    for _ in 0..3 {
        publisher
            .publish("data/x", QoS::AtLeastOnce, true, b"hello")
            .await;
        sub.recv_publish().await;
    }

    let page = http(metrics, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    let (head, body) = page.split_once("\r\n\r\n").expect("head and body");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{head}"
    );
    for (family, kind) in [
        ("mq_clients_connected", "gauge"),
        ("mq_publish_messages_received_total", "counter"),
        ("mq_bytes_received_total", "counter"),
        ("mq_retained_messages", "gauge"),
        ("mq_load_per_minute", "gauge"),
    ] {
        assert!(
            body.contains(&format!("# TYPE {family} {kind}\n")),
            "{family}: {body}"
        );
        assert!(
            body.contains(&format!("# HELP {family} ")),
            "{family}: {body}"
        );
    }
    assert_eq!(sample(body, "mq_clients_connected"), Some(2), "{body}");
    assert_eq!(sample(body, "mq_subscriptions"), Some(1), "{body}");
    assert_eq!(sample(body, "mq_retained_messages"), Some(1), "{body}");
    assert_eq!(
        sample(body, "mq_publish_messages_received_total"),
        Some(3),
        "{body}"
    );
    assert_eq!(
        sample(body, "mq_publish_bytes_received_total"),
        Some(15),
        "{body}"
    );
    assert!(sample(body, "mq_bytes_received_total") > Some(15), "{body}");
    assert!(body.contains(&format!(
        "mq_info{{version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    )));
}

#[tokio::test]
async fn metrics_endpoint_refuses_other_paths_methods_and_oversized_requests() {
    let mut broker = Broker::start_with(&["--metrics", "127.0.0.1:0"]);
    let metrics = broker.metrics_addr();
    let status = |response: String| response.lines().next().unwrap_or("").to_string();
    assert_eq!(
        status(http(metrics, b"GET / HTTP/1.1\r\n\r\n").await),
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        status(http(metrics, b"DELETE /metrics HTTP/1.1\r\n\r\n").await),
        "HTTP/1.1 405 Method Not Allowed"
    );
    let mut huge = b"GET /metrics HTTP/1.1\r\nX-Filler: ".to_vec();
    huge.resize(64 * 1024, b'a');
    assert_eq!(
        status(http(metrics, &huge).await),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );

    // It stops with the broker.
    broker.signal(libc::SIGTERM);
    assert!(broker.wait_exit(Duration::from_secs(10)).await.is_some());
    assert!(TcpStream::connect(metrics).await.is_err());
}

/// Every `$SYS` topic a broker on `addr` publishes within a few intervals, with the shape
/// of its last value: digits become `N`, and the version's first word (the broker's name)
/// is dropped, so `mosquitto version 2.0.11` and `mq version 0.1.0` both read `version N.N.N`.
async fn sys_shapes(addr: SocketAddr) -> BTreeMap<String, String> {
    let mut view = SysView::at(addr, "sys-lister").await;
    // Topics published only on change all come in the first round; three is ample.
    view.until("three rounds of $SYS", |s| {
        s.updates.get("$SYS/broker/uptime") >= Some(&3)
    })
    .await;
    view.values
        .into_iter()
        .map(|(topic, value)| {
            let value = match topic.as_str() {
                "$SYS/broker/version" => value
                    .split_once(' ')
                    .map_or(value.clone(), |(_, v)| v.to_string()),
                _ => value,
            };
            let mut shape = String::new();
            for c in value.chars() {
                if !c.is_ascii_digit() {
                    shape.push(c);
                } else if !shape.ends_with('N') {
                    shape.push('N');
                }
            }
            (topic, shape)
        })
        .collect()
}

/// Mosquitto topics mq does not publish, and why.
const NOT_APPLICABLE: &[(&str, &str)] = if cfg!(all(target_os = "linux", target_env = "gnu")) {
    &[]
} else {
    &[
        (
            "$SYS/broker/heap/current",
            "read from glibc's mallinfo2, absent here",
        ),
        (
            "$SYS/broker/heap/maximum",
            "read from glibc's mallinfo2, absent here",
        ),
    ]
};

#[tokio::test]
async fn sys_tree_covers_every_topic_mosquitto_publishes_in_the_same_formats() {
    let Some(mosquitto) = crate::pubsub::mosquitto(
        "sys_tree_covers_every_topic_mosquitto_publishes_in_the_same_formats",
        "sys_interval 1",
    ) else {
        return;
    };
    let theirs = sys_shapes(SocketAddr::from(([127, 0, 0, 1], mosquitto.port))).await;
    let broker = Broker::start_with(&["--sys-interval", "1"]);
    let ours = sys_shapes(broker.addr()).await;
    let mut missing = Vec::new();
    let mut different = Vec::new();
    for (topic, shape) in &theirs {
        match ours.get(topic) {
            Some(ours) if ours != shape => different.push((topic, shape, ours)),
            Some(_) => {}
            None if NOT_APPLICABLE.iter().any(|(t, _)| t == topic) => {}
            None => missing.push(topic),
        }
    }
    assert!(
        missing.is_empty() && different.is_empty(),
        "mq lacks {missing:?}; formats differ (topic, Mosquitto, mq): {different:?}\n\
         Mosquitto: {theirs:#?}\nmq: {ours:#?}"
    );
}

#[tokio::test]
async fn clients_cannot_publish_into_the_sys_tree() {
    let broker = Broker::start_with(&["--sys-interval", "1"]);
    let mut connect = connect_packet("forger");
    connect.protocol = ProtocolVersion::V5;
    let (mut forger, _) = Raw::connect(broker.addr(), connect).await;
    forger
        .send(&mq_proto::Packet::Publish(mq_proto::Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "$SYS/broker/version".into(),
            packet_id: Some(crate::raw::pid(1)),
            properties: Properties::default(),
            payload: mq_proto::Bytes::from_static(b"forged"),
        }))
        .await;
    match forger.recv_control().await {
        mq_proto::Packet::PubAck(ack) => {
            assert_eq!(ack.reason_code, mq_proto::ReasonCode::NotAuthorized)
        }
        other => panic!("expected PUBACK, got {other:?}"),
    }
    let mut sys = SysView::new(&broker).await;
    sys.settle(1).await;
    assert_eq!(
        sys.values["$SYS/broker/version"],
        format!("mq version {}", env!("CARGO_PKG_VERSION"))
    );
}
