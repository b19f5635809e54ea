//! `$SYS/broker/...` at `--sys-interval 1`: the topics Mosquitto publishes, with values
//! that follow what happened.

use std::collections::HashMap;
use std::time::Duration;

use mq_proto::QoS;

use crate::clients::Mqtt;
use crate::harness::Broker;
use crate::raw::Raw;

/// The latest value of every `$SYS` topic a watcher has seen.
struct SysView {
    raw: Raw,
    values: HashMap<String, String>,
}

impl SysView {
    async fn new(broker: &Broker) -> SysView {
        let mut raw = Raw::connect_v311(broker.addr(), "sys-view").await;
        raw.subscribe(&[("$SYS/#", QoS::AtMostOnce)]).await;
        SysView {
            raw,
            values: HashMap::new(),
        }
    }

    fn number(&self, topic: &str) -> Option<u64> {
        self.values.get(topic)?.parse().ok()
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
            let got = self.raw.recv_publish().await;
            self.values.insert(
                got.topic.to_string(),
                String::from_utf8_lossy(&got.payload).into_owned(),
            );
        }
    }

    /// The value of `topic` in the next update of it.
    async fn next_value(&mut self, topic: &str) -> String {
        loop {
            let got = self.raw.recv_publish().await;
            let value = String::from_utf8_lossy(&got.payload).into_owned();
            self.values.insert(got.topic.to_string(), value.clone());
            if &*got.topic == topic {
                return value;
            }
        }
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
    let mut sys = SysView::new(&broker).await;
    const COUNT: &str = "$SYS/broker/retained messages/count";
    // The $SYS topics are retained themselves; wait for a settled count.
    let mut before = sys.next_value(COUNT).await;
    loop {
        let now = sys.next_value(COUNT).await;
        if now == before {
            break;
        }
        before = now;
    }
    let before: u64 = before.parse().expect("a number");

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
