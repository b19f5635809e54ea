//! Bridges from `mq broker` to a real Mosquitto, configured as Mosquitto users write them: a
//! `connection` block in a mosquitto.conf given with `mq broker -c`.
//!
//! A test waits for the bridge's notification (`1` retained on
//! `$SYS/broker/connection/NAME/state`, published once the remote acknowledged the
//! bridge's subscriptions) before it relies on the link, never for a fixed time. Skipped
//! with a notice when Mosquitto is not installed (mandatory under CI).

use std::path::Path;

use rumqttc::{MqttOptions, QoS};
use tempfile::TempDir;

use crate::clients::{text, Mqtt};
use crate::harness::Broker;
use crate::pubsub::{self, Broker as Remote};

const STATE: &str = "$SYS/broker/connection/cloud/state";

/// `mq broker -c bridge.conf` with one bridge, `cloud`, to `remote` (quick restarts, so a
/// test does not wait out Mosquitto's 5 s default) and `lines` for the rest.
fn bridged(remote: &Remote, lines: &str) -> (Broker, TempDir) {
    bridged_to(&format!("127.0.0.1:{}", remote.port), lines)
}

fn bridged_to(addresses: &str, lines: &str) -> (Broker, TempDir) {
    let dir = TempDir::new().expect("temp dir");
    let conf = dir.path().join("bridge.conf");
    std::fs::write(
        &conf,
        format!("connection cloud\naddress {addresses}\nrestart_timeout 1\n{lines}\n"),
    )
    .expect("write bridge.conf");
    let broker = Broker::start_with(&["-c", conf.to_str().expect("utf-8 path")]);
    (broker, dir)
}

/// A rumqttc client of the local broker.
async fn local_client(broker: &Broker, id: &str) -> Mqtt {
    Mqtt::connect(broker, id).await
}

/// A rumqttc client of the Mosquitto at `port`.
async fn remote_client(port: u16, id: &str) -> Mqtt {
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    options.set_max_packet_size(1 << 20, 1 << 20);
    Mqtt::connect_with(options).await.0
}

/// Waits until the bridge's state on this side is `want` ("1" up, "0" down).
async fn link_state(watcher: &mut Mqtt, want: &str) {
    loop {
        if text(&watcher.recv_on(STATE).await) == want {
            return;
        }
    }
}

/// A client of the local broker that has seen the bridge come up.
async fn wait_until_linked(broker: &Broker) -> Mqtt {
    let mut watcher = local_client(broker, "watcher").await;
    watcher.subscribe(STATE, QoS::AtLeastOnce).await;
    link_state(&mut watcher, "1").await;
    watcher
}

fn mosquitto(test: &str) -> Option<Remote> {
    pubsub::mosquitto(test, "")
}

#[tokio::test]
async fn a_bridge_out_forwards_local_messages_to_the_remote() {
    let Some(remote) = mosquitto("a_bridge_out_forwards_local_messages_to_the_remote") else {
        return;
    };
    let (broker, _conf) = bridged(&remote, "topic sensors/# out 1");
    let _watcher = wait_until_linked(&broker).await;
    let mut far = remote_client(remote.port, "far").await;
    far.subscribe("sensors/#", QoS::AtLeastOnce).await;
    let mut near = local_client(&broker, "near").await;
    near.publish("sensors/kitchen", QoS::AtLeastOnce, false, "21.5")
        .await;
    near.publish("elsewhere", QoS::AtLeastOnce, false, "stays here")
        .await;
    near.publish("sensors/hall", QoS::AtLeastOnce, false, "19")
        .await;
    let first = far.recv().await;
    let second = far.recv().await;
    assert_eq!(
        [
            (first.topic.as_str(), text(&first)),
            (second.topic.as_str(), text(&second))
        ],
        [
            ("sensors/kitchen", "21.5".to_owned()),
            ("sensors/hall", "19".to_owned())
        ]
    );
    // The remote learns the link's state too, retained.
    let mut observer = remote_client(remote.port, "observer").await;
    observer.subscribe(STATE, QoS::AtLeastOnce).await;
    assert_eq!(text(&observer.recv_on(STATE).await), "1");
}

#[tokio::test]
async fn a_bridge_in_brings_remote_messages_here() {
    let Some(remote) = mosquitto("a_bridge_in_brings_remote_messages_here") else {
        return;
    };
    let (broker, _conf) = bridged(&remote, "topic alerts/+ in 1");
    let _watcher = wait_until_linked(&broker).await;
    let mut near = local_client(&broker, "near").await;
    near.subscribe("#", QoS::AtLeastOnce).await;
    let mut far = remote_client(remote.port, "far").await;
    far.publish("other", QoS::AtLeastOnce, false, "not bridged")
        .await;
    far.publish("alerts/fire", QoS::AtLeastOnce, false, "hall")
        .await;
    let message = near.recv().await;
    assert_eq!(
        (message.topic.as_str(), text(&message).as_str()),
        ("alerts/fire", "hall")
    );
}

#[tokio::test]
async fn prefixes_are_swapped_on_the_way_out_and_on_the_way_in() {
    let Some(remote) = mosquitto("prefixes_are_swapped_on_the_way_out_and_on_the_way_in") else {
        return;
    };
    let (broker, _conf) = bridged(
        &remote,
        "topic # out 1 site/out/ cloud/site1/\ntopic cmd/# in 1 site/ cloud/site1/",
    );
    let _watcher = wait_until_linked(&broker).await;
    let mut far = remote_client(remote.port, "far").await;
    far.subscribe("cloud/#", QoS::AtLeastOnce).await;
    let mut near = local_client(&broker, "near").await;
    near.subscribe("site/cmd/#", QoS::AtLeastOnce).await;

    near.publish("site/out/temp/1", QoS::AtLeastOnce, false, "20")
        .await;
    assert_eq!(far.recv().await.topic, "cloud/site1/temp/1");
    far.publish("cloud/site1/cmd/reboot", QoS::AtLeastOnce, false, "now")
        .await;
    assert_eq!(near.recv().await.topic, "site/cmd/reboot");
}

/// Both ways: a message published on either side reaches the other exactly once and never
/// comes back. Echoes would travel ahead of the closing markers on the same paths, so a
/// side that has its marker from the other side has seen any echo there was.
async fn no_loop_both_ways(test: &str, protocol: &str) {
    let Some(remote) = mosquitto(test) else {
        return;
    };
    let (broker, _conf) = bridged(
        &remote,
        &format!("bridge_protocol_version {protocol}\ntopic chat/# both 1"),
    );
    let _watcher = wait_until_linked(&broker).await;
    let mut near = local_client(&broker, "near").await;
    near.subscribe("chat/#", QoS::AtLeastOnce).await;
    let mut far = remote_client(remote.port, "far").await;
    far.subscribe("chat/#", QoS::AtLeastOnce).await;

    near.publish("chat/from-here", QoS::AtLeastOnce, false, "L")
        .await;
    far.publish("chat/from-there", QoS::AtLeastOnce, false, "R")
        .await;
    let mut seen_here = vec![text(&near.recv().await), text(&near.recv().await)];
    let mut seen_there = vec![text(&far.recv().await), text(&far.recv().await)];
    near.publish("chat/end-here", QoS::AtLeastOnce, false, "end L")
        .await;
    far.publish("chat/end-there", QoS::AtLeastOnce, false, "end R")
        .await;
    while !seen_here.contains(&"end R".to_owned()) {
        seen_here.push(text(&near.recv().await));
    }
    while !seen_there.contains(&"end L".to_owned()) {
        seen_there.push(text(&far.recv().await));
    }
    for (side, seen) in [("here", &seen_here), ("there", &seen_there)] {
        for message in ["L", "R"] {
            let copies = seen.iter().filter(|m| *m == message).count();
            assert_eq!(
                copies, 1,
                "{side} over {protocol}: {message} came {copies} times: {seen:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_bridge_both_ways_over_mqtt_311_delivers_each_message_once() {
    no_loop_both_ways(
        "a_bridge_both_ways_over_mqtt_311_delivers_each_message_once",
        "mqttv311",
    )
    .await;
}

#[tokio::test]
async fn a_bridge_both_ways_over_mqtt_5_delivers_each_message_once() {
    no_loop_both_ways(
        "a_bridge_both_ways_over_mqtt_5_delivers_each_message_once",
        "mqttv50",
    )
    .await;
}

#[tokio::test]
async fn a_bridge_both_ways_over_mqtt_31_delivers_each_message_once() {
    no_loop_both_ways(
        "a_bridge_both_ways_over_mqtt_31_delivers_each_message_once",
        "mqttv31",
    )
    .await;
}

/// The receiving client on the remote: a persistent session, so Mosquitto queues for it
/// while it is away.
fn keeper(port: u16) -> MqttOptions {
    let mut options = MqttOptions::new("keeper", "127.0.0.1", port);
    options.set_clean_session(false);
    options
}

/// A Mosquitto that keeps sessions across its restart, where `keeper` subscribed to
/// `orders/#` and left.
async fn remote_keeping_orders() -> Remote {
    let remote =
        pubsub::mosquitto_with("persistence true\npersistence_location {dir}/\n", None, &[]);
    let (mut far, _) = Mqtt::connect_with(keeper(remote.port)).await;
    far.subscribe("orders/#", QoS::AtLeastOnce).await;
    drop(far);
    remote
}

#[tokio::test]
async fn qos1_messages_published_while_the_remote_is_down_arrive_after_it_returns() {
    let test = "qos1_messages_published_while_the_remote_is_down_arrive_after_it_returns";
    if !pubsub::have_mosquitto(test) {
        return;
    }
    let mut remote = remote_keeping_orders().await;
    let (broker, _conf) = bridged(&remote, "topic orders/# out 1");
    let mut watcher = wait_until_linked(&broker).await;

    remote.stop();
    link_state(&mut watcher, "0").await;
    let mut near = local_client(&broker, "near").await;
    for n in 1..=3 {
        near.publish("orders/new", QoS::AtLeastOnce, false, format!("order {n}"))
            .await;
    }
    remote.start_again();
    link_state(&mut watcher, "1").await;

    let (mut far, _) = Mqtt::connect_with(keeper(remote.port)).await;
    let received: Vec<String> = [far.recv().await, far.recv().await, far.recv().await]
        .iter()
        .map(text)
        .collect();
    assert_eq!(received, ["order 1", "order 2", "order 3"]);
}

#[tokio::test]
async fn the_bridge_fails_over_to_the_next_address() {
    let Some(remote) = mosquitto("the_bridge_fails_over_to_the_next_address") else {
        return;
    };
    let nobody = pubsub::free_port();
    let (broker, _conf) = bridged_to(
        &format!("127.0.0.1:{nobody} 127.0.0.1:{}", remote.port),
        "topic t out 1",
    );
    let _watcher = wait_until_linked(&broker).await;
    let mut far = remote_client(remote.port, "far").await;
    far.subscribe("t", QoS::AtLeastOnce).await;
    local_client(&broker, "near")
        .await
        .publish("t", QoS::AtLeastOnce, false, "via the second address")
        .await;
    assert_eq!(text(&far.recv().await), "via the second address");
}

#[tokio::test]
async fn a_bridge_reaches_the_remote_over_tls() {
    let test = "a_bridge_reaches_the_remote_over_tls";
    if !pubsub::have_mosquitto(test) {
        return;
    }
    let certs = crate::tls::certs_init(&[]);
    let file = |name: &str| certs.path().join(name).display().to_string();
    let tls_port = pubsub::free_port();
    // A plain listener for the test's clients, a TLS one for the bridge.
    let remote = pubsub::mosquitto_with(
        &format!(
            "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
            file("ca.crt"),
            file("server.crt"),
            file("server.key")
        ),
        None,
        &[],
    );
    let (broker, _conf) = bridged_to(
        &format!("localhost:{tls_port}"),
        &format!(
            "bridge_cafile {}\ntopic secure/# both 1",
            Path::new(&file("ca.crt")).display()
        ),
    );
    let _watcher = wait_until_linked(&broker).await;
    let mut far = remote_client(remote.port, "far").await;
    far.subscribe("secure/#", QoS::AtLeastOnce).await;
    let mut near = local_client(&broker, "near").await;
    near.subscribe("secure/in", QoS::AtLeastOnce).await;
    near.publish("secure/out", QoS::AtLeastOnce, false, "sealed")
        .await;
    assert_eq!(text(&far.recv_on("secure/out").await), "sealed");
    far.publish("secure/in", QoS::AtLeastOnce, false, "reply")
        .await;
    assert_eq!(text(&near.recv_on("secure/in").await), "reply");
}

#[tokio::test]
async fn a_remote_that_refuses_the_bridge_flag_is_bridged_without_it() {
    // mq broker itself does not take bit 0x80 of the protocol level: it answers
    // "unacceptable protocol version", and the bridge tries again without the bit.
    let remote = Broker::start();
    let (broker, _conf) = bridged_to(&remote.addr().to_string(), "topic t out 1");
    let _watcher = wait_until_linked(&broker).await;
    let mut far = Mqtt::connect(&remote, "far").await;
    far.subscribe("t", QoS::AtLeastOnce).await;
    local_client(&broker, "near")
        .await
        .publish("t", QoS::AtLeastOnce, false, "to another mq")
        .await;
    assert_eq!(text(&far.recv().await), "to another mq");
    assert!(
        broker.stderr().contains("trying without it"),
        "{}",
        broker.stderr()
    );
}

#[tokio::test]
async fn without_round_robin_the_bridge_returns_to_the_first_address_once_it_is_back() {
    let test = "without_round_robin_the_bridge_returns_to_the_first_address_once_it_is_back";
    let Some(mut primary) = mosquitto(test) else {
        return;
    };
    let Some(secondary) = mosquitto(test) else {
        return;
    };
    primary.stop();
    let (broker, _conf) = bridged_to(
        &format!("127.0.0.1:{} 127.0.0.1:{}", primary.port, secondary.port),
        "topic t out 1",
    );
    let mut watcher = wait_until_linked(&broker).await;
    primary.start_again();
    // The bridge checks every 2 s whether the first address answers, then moves there.
    link_state(&mut watcher, "0").await;
    link_state(&mut watcher, "1").await;
    let mut far = remote_client(primary.port, "far").await;
    far.subscribe("t", QoS::AtLeastOnce).await;
    local_client(&broker, "near")
        .await
        .publish("t", QoS::AtLeastOnce, false, "back home")
        .await;
    assert_eq!(text(&far.recv().await), "back home");
}

#[tokio::test]
async fn a_clean_session_bridge_drops_what_was_published_while_the_remote_was_away() {
    let test = "a_clean_session_bridge_drops_what_was_published_while_the_remote_was_away";
    if !pubsub::have_mosquitto(test) {
        return;
    }
    let mut remote = remote_keeping_orders().await;
    let (broker, _conf) = bridged(&remote, "cleansession true\ntopic orders/# out 1");
    let mut watcher = wait_until_linked(&broker).await;

    remote.stop();
    link_state(&mut watcher, "0").await;
    let mut near = local_client(&broker, "near").await;
    near.publish("orders/new", QoS::AtLeastOnce, false, "while away")
        .await;
    remote.start_again();
    link_state(&mut watcher, "1").await;
    near.publish("orders/new", QoS::AtLeastOnce, false, "after the return")
        .await;

    let (mut far, _) = Mqtt::connect_with(keeper(remote.port)).await;
    assert_eq!(text(&far.recv().await), "after the return");
}
