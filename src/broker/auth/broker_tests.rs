//! The ACL as the broker state applies it, without sockets: SUBSCRIBE, PUBLISH, delivery,
//! retained messages and Wills.

use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::Instant;

use mq_proto::{
    ByteString, Bytes, Connect, Packet, Properties, ProtocolVersion, Publish, QoS, ReasonCode,
    Subscribe, SubscriptionOptions, Will,
};

use super::{AclFile, Anonymous, FilePolicy};
use crate::broker::config::BrokerConfig;
use crate::broker::session::PeerLimits;
use crate::broker::signals::ConnectionSignals;
use crate::broker::state::{BrokerState, ConnectOutcome};
use crate::broker::store::MemoryStore;

const ACL: &str = "\
topic read public/#
topic write public/in
user alice
topic readwrite alice/#
topic deny alice/secret
topic read $SYS/broker/uptime
pattern read devices/%c/#
";

fn state() -> BrokerState {
    let mut state = BrokerState::new(
        Arc::new(BrokerConfig::default()),
        Box::new(MemoryStore::default()),
    );
    let acl = AclFile::parse(ACL).expect("ACL parses");
    state.set_access(Arc::new(FilePolicy::new(
        None,
        Some(acl),
        Anonymous::Allowed,
    )));
    state
}

fn connect_packet(client_id: &str, username: Option<&str>, protocol: ProtocolVersion) -> Connect {
    Connect {
        protocol,
        clean_start: true,
        keep_alive: 60,
        client_id: client_id.to_string(),
        will: None,
        username: username.map(str::to_string),
        password: None,
        properties: Properties::default(),
    }
}

fn connect(state: &mut BrokerState, packet: &Connect) -> Result<Arc<str>, ReasonCode> {
    let peer = PeerLimits {
        protocol: packet.protocol,
        receive_maximum: u16::MAX,
        maximum_packet_size: usize::MAX,
    };
    let signals = Arc::new(ConnectionSignals::default());
    match state.connect(packet, peer, 1, signals, Instant::now()) {
        ConnectOutcome::Accepted { client_id, .. } => Ok(client_id),
        ConnectOutcome::Refused(code) => Err(code),
    }
}

fn join(state: &mut BrokerState, client_id: &str, username: Option<&str>) -> Arc<str> {
    let packet = connect_packet(client_id, username, ProtocolVersion::V311);
    connect(state, &packet).expect("accepted")
}

fn subscribe(state: &mut BrokerState, client_id: &Arc<str>, filter: &str) -> ReasonCode {
    let subscribe = Subscribe {
        packet_id: NonZeroU16::MIN,
        filters: vec![(
            filter.to_string(),
            SubscriptionOptions::new(QoS::AtLeastOnce),
        )],
        properties: Properties::default(),
    };
    state
        .subscribe(client_id, &subscribe, Instant::now())
        .reason_codes[0]
}

fn publish(topic: &str, qos: QoS, retain: bool) -> Publish {
    Publish {
        dup: false,
        qos,
        retain,
        topic: ByteString::from(topic.to_string()),
        packet_id: (qos != QoS::AtMostOnce).then_some(NonZeroU16::MIN),
        properties: Properties::default(),
        payload: Bytes::from_static(b"x"),
    }
}

fn received(state: &mut BrokerState, client_id: &str) -> Vec<String> {
    let session = state.session_mut(client_id).expect("session");
    let mut topics = Vec::new();
    while let Some(p) = session.next_publish(Instant::now()) {
        topics.push(p.topic.to_string());
    }
    topics
}

#[test]
fn subscriptions_the_acl_refuses_get_not_authorized() {
    let mut state = state();
    let alice = join(&mut state, "a1", Some("alice"));
    assert_eq!(
        subscribe(&mut state, &alice, "alice/#"),
        ReasonCode::GrantedQoS1
    );
    assert_eq!(
        subscribe(&mut state, &alice, "alice/secret"),
        ReasonCode::NotAuthorized
    );
    assert_eq!(
        subscribe(&mut state, &alice, "public/#"),
        ReasonCode::NotAuthorized
    );
    assert_eq!(
        subscribe(&mut state, &alice, "$share/g/alice/x"),
        ReasonCode::GrantedQoS1,
        "a shared subscription is checked by its inner filter"
    );
    let anon = join(&mut state, "anon", None);
    assert_eq!(
        subscribe(&mut state, &anon, "public/#"),
        ReasonCode::GrantedQoS1
    );
    assert_eq!(
        subscribe(&mut state, &anon, "alice/#"),
        ReasonCode::NotAuthorized
    );
}

#[test]
fn deliveries_skip_subscribers_without_read_access() {
    let mut state = state();
    let alice = join(&mut state, "a1", Some("alice"));
    let anon = join(&mut state, "anon", None);
    assert_eq!(
        subscribe(&mut state, &alice, "alice/#"),
        ReasonCode::GrantedQoS1
    );
    // Subscribing to `#` is allowed (some topics are readable); deliveries are filtered.
    assert_eq!(subscribe(&mut state, &anon, "#"), ReasonCode::GrantedQoS1);
    for topic in ["alice/x", "alice/secret", "public/news"] {
        let now = Instant::now();
        let message = crate::broker::message::Message::from_publish(
            &publish(topic, QoS::AtMostOnce, false),
            None,
            now,
        );
        state.publish(Arc::new(message)).notify();
    }
    assert_eq!(received(&mut state, "a1"), ["alice/x"]);
    assert_eq!(received(&mut state, "anon"), ["public/news"]);
}

#[test]
fn denied_publishes_are_dropped_acknowledged_in_3_1_1_and_refused_in_5() {
    let mut state = state();
    let anon = join(&mut state, "anon", None);
    assert_eq!(
        subscribe(&mut state, &anon, "public/#"),
        ReasonCode::GrantedQoS1
    );
    let v311 = join(&mut state, "old", None);
    let (ack, _) = state
        .client_publish(
            &v311,
            &publish("public/news", QoS::AtLeastOnce, false),
            None,
            Instant::now(),
        )
        .expect("not a protocol error");
    match ack {
        Some(Packet::PubAck(ack)) => assert_eq!(ack.reason_code, ReasonCode::Success),
        other => panic!("{other:?}"),
    }
    let v5 = connect(
        &mut state,
        &connect_packet("new", None, ProtocolVersion::V5),
    )
    .expect("accepted");
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let (ack, _) = state
            .client_publish(
                &v5,
                &publish("public/news", qos, false),
                None,
                Instant::now(),
            )
            .expect("not a protocol error");
        match ack {
            Some(Packet::PubAck(r) | Packet::PubRec(r)) => {
                assert_eq!(r.reason_code, ReasonCode::NotAuthorized)
            }
            other => panic!("{other:?}"),
        }
    }
    let (_, wakes) = state
        .client_publish(
            &v5,
            &publish("public/in", QoS::AtLeastOnce, false),
            None,
            Instant::now(),
        )
        .expect("allowed");
    wakes.notify();
    assert_eq!(received(&mut state, "anon"), ["public/in"]);
}

#[test]
fn retained_messages_are_sent_only_where_readable() {
    let mut state = state();
    for topic in ["alice/x", "alice/secret"] {
        let message = crate::broker::message::Message::from_publish(
            &publish(topic, QoS::AtMostOnce, true),
            None,
            Instant::now(),
        );
        state.publish(Arc::new(message)).notify();
    }
    let bob = join(&mut state, "dev1", Some("alice"));
    assert_eq!(
        subscribe(&mut state, &bob, "alice/+"),
        ReasonCode::GrantedQoS1
    );
    assert_eq!(received(&mut state, "dev1"), ["alice/x"]);
}

#[test]
fn sys_topics_reach_only_clients_granted_them() {
    let mut state = state();
    let alice = join(&mut state, "a1", Some("alice"));
    let anon = join(&mut state, "anon", None);
    assert_eq!(
        subscribe(&mut state, &alice, "$SYS/#"),
        ReasonCode::GrantedQoS1
    );
    assert_eq!(
        subscribe(&mut state, &anon, "$SYS/#"),
        ReasonCode::NotAuthorized
    );
    for topic in ["$SYS/broker/uptime", "$SYS/broker/version"] {
        let message = crate::broker::message::Message::from_publish(
            &publish(topic, QoS::AtMostOnce, false),
            None,
            Instant::now(),
        );
        state.publish(Arc::new(message)).notify();
    }
    assert_eq!(received(&mut state, "a1"), ["$SYS/broker/uptime"]);
}

#[test]
fn a_will_the_client_may_not_write_refuses_the_connection() {
    let mut state = state();
    let mut packet = connect_packet("a1", Some("alice"), ProtocolVersion::V5);
    packet.will = Some(Will {
        topic: ByteString::from_static("public/in"),
        payload: Bytes::new(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Properties::default(),
    });
    assert_eq!(connect(&mut state, &packet), Err(ReasonCode::NotAuthorized));
    packet.username = None;
    assert!(connect(&mut state, &packet).is_ok());
}

#[test]
fn patterns_follow_the_client_id_at_delivery() {
    let mut state = state();
    let dev = join(&mut state, "dev7", None);
    assert_eq!(
        subscribe(&mut state, &dev, "devices/+/cmd"),
        ReasonCode::GrantedQoS1
    );
    for topic in ["devices/dev7/cmd", "devices/dev8/cmd"] {
        let message = crate::broker::message::Message::from_publish(
            &publish(topic, QoS::AtMostOnce, false),
            None,
            Instant::now(),
        );
        state.publish(Arc::new(message)).notify();
    }
    assert_eq!(received(&mut state, "dev7"), ["devices/dev7/cmd"]);
}
