//! Mosquitto's own clients against `mq broker`: what people run from a shell must work.
//! Skipped with a notice when mosquitto-clients is missing; mandatory when `CI` is set.

use crate::harness::Broker;
use crate::mosquitto::{publish, tools_present, Received, Sub};

macro_rules! require_tools {
    ($name:literal) => {
        if !tools_present($name) {
            return;
        }
    };
}

fn message(topic: &str, qos: u8, retain: bool, payload: &str) -> Received {
    Received {
        topic: topic.into(),
        qos,
        retain,
        dup: false,
        payload: payload.into(),
    }
}

#[tokio::test]
async fn mosquitto_clients_exchange_messages_at_qos_0_1_and_2() {
    require_tools!("mosquitto_clients_exchange_messages_at_qos_0_1_and_2");
    let broker = Broker::start();
    let mut sub = Sub::start(&broker, &["-t", "interop/qos", "-q", "2"]).await;
    for qos in ["0", "1", "2"] {
        let payload = format!("hello at qos {qos}");
        publish(&broker, &["-t", "interop/qos", "-q", qos, "-m", &payload]).await;
        let got = sub.recv().await;
        assert_eq!(
            got,
            message("interop/qos", qos.parse().unwrap(), false, &payload)
        );
    }
}

#[tokio::test]
async fn mosquitto_sub_receives_through_wildcards() {
    require_tools!("mosquitto_sub_receives_through_wildcards");
    let broker = Broker::start();
    let mut sub = Sub::start(&broker, &["-t", "home/+/temp", "-t", "alarm/#", "-q", "1"]).await;
    for topic in [
        "home/kitchen/temp",
        "home/kitchen/humidity",
        "alarm/fire/floor1",
        "alarm",
    ] {
        publish(&broker, &["-t", topic, "-q", "1", "-m", topic]).await;
    }
    assert_eq!(sub.recv().await.topic, "home/kitchen/temp");
    assert_eq!(sub.recv().await.topic, "alarm/fire/floor1");
    assert_eq!(
        sub.recv().await.topic,
        "alarm",
        "alarm/# matches its parent level"
    );
}

#[tokio::test]
async fn mosquitto_pub_sets_and_clears_a_retained_message() {
    require_tools!("mosquitto_pub_sets_and_clears_a_retained_message");
    let broker = Broker::start();
    publish(&broker, &["-t", "state/lamp", "-q", "1", "-r", "-m", "on"]).await;
    let mut sub = Sub::start(&broker, &["-t", "state/#", "-q", "1"]).await;
    assert_eq!(sub.recv().await, message("state/lamp", 1, true, "on"));

    // A live retained publish reaches the existing subscriber with retain 0.
    publish(&broker, &["-t", "state/lamp", "-q", "1", "-r", "-m", "off"]).await;
    assert_eq!(sub.recv().await, message("state/lamp", 1, false, "off"));
    drop(sub);

    // -r -n: an empty retained message clears it; a new subscriber then sees only the marker.
    publish(&broker, &["-t", "state/lamp", "-q", "1", "-r", "-n"]).await;
    publish(&broker, &["-t", "state/marker", "-q", "1", "-r", "-m", "m"]).await;
    let mut sub = Sub::start(&broker, &["-t", "state/#", "-q", "1"]).await;
    assert_eq!(sub.recv().await, message("state/marker", 1, true, "m"));
}

#[tokio::test]
async fn will_of_a_killed_mosquitto_sub_is_published() {
    require_tools!("will_of_a_killed_mosquitto_sub_is_published");
    let broker = Broker::start();
    let mut watcher = Sub::start(&broker, &["-t", "lwt/#", "-q", "1"]).await;
    let mut doomed = Sub::start(
        &broker,
        &[
            "-t",
            "whatever",
            "-i",
            "doomed",
            "--will-topic",
            "lwt/doomed",
            "--will-payload",
            "doomed died",
            "--will-qos",
            "1",
        ],
    )
    .await;
    // SIGKILL: no DISCONNECT, the kernel just closes the socket.
    doomed.kill().await;
    assert_eq!(
        watcher.recv().await,
        message("lwt/doomed", 1, false, "doomed died")
    );
}

#[tokio::test]
async fn persistent_mosquitto_sub_receives_what_was_published_while_it_was_stopped() {
    require_tools!("persistent_mosquitto_sub_receives_what_was_published_while_it_was_stopped");
    let broker = Broker::start();
    let args = ["-c", "-i", "durable", "-q", "1", "-t", "queue/jobs"];
    let sub = Sub::start(&broker, &args).await;
    sub.terminate().await;

    publish(&broker, &["-t", "queue/jobs", "-q", "1", "-m", "job 1"]).await;
    publish(&broker, &["-t", "queue/jobs", "-q", "1", "-m", "job 2"]).await;

    let mut sub = Sub::start(&broker, &args).await;
    for job in ["job 1", "job 2"] {
        // DUP is not the point here: a copy sent while the first run was leaving may come
        // back as a resend.
        let got = Received {
            dup: false,
            ..sub.recv().await
        };
        assert_eq!(got, message("queue/jobs", 1, false, job));
    }
}
