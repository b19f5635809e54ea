//! The bridge's side in this broker: a session in `BrokerState`, attached like a connection
//! but without a socket. It is subscribed to the outgoing topics (No Local and Retain As
//! Published, as Mosquitto's bridges are), so a message the bridge itself brought in is
//! never offered back to it: that is the local half of loop prevention.

use std::sync::Arc;
use std::time::Instant;

use mq_proto::{
    Connect, Packet, PacketId, Properties, ProtocolVersion, Publish, QoS, ReasonCode,
    RetainHandling, Subscribe, SubscriptionOptions, PROTOCOL_MAX_PACKET_SIZE,
};
use tracing::warn;

use super::config::BridgeConfig;
use crate::broker::message::{kept_properties, Message};
use crate::broker::session::{PeerLimits, Session};
use crate::broker::signals::ConnectionSignals;
use crate::broker::state::{ConnectOutcome, Departure};
use crate::broker::stats::Stats;
use crate::broker::Shared;

pub struct Local {
    shared: Arc<Shared>,
    bridge: Arc<BridgeConfig>,
    client_id: Arc<str>,
    connection_id: u64,
    pub signals: Arc<ConnectionSignals>,
}

impl Local {
    /// Opens (or resumes, with `cleansession false`) the bridge's local session and
    /// subscribes it to the outgoing topics, so messages for the remote queue here (within
    /// the session limits) while the remote broker is away.
    pub fn attach(shared: Arc<Shared>, bridge: Arc<BridgeConfig>) -> Local {
        let client_id: Arc<str> = bridge.local_client_id().into();
        let connection_id = shared.next_connection_id();
        let signals = Arc::new(ConnectionSignals::default());
        let connect = Connect {
            protocol: ProtocolVersion::V5,
            clean_start: bridge.clean_session,
            keep_alive: 0,
            client_id: client_id.to_string(),
            will: None,
            username: None,
            password: None,
            properties: Properties {
                // A persistent bridge session never expires (as in Mosquitto).
                session_expiry_interval: Some(if bridge.clean_session { 0 } else { u32::MAX }),
                ..Properties::default()
            },
        };
        let peer = PeerLimits {
            protocol: ProtocolVersion::V5,
            receive_maximum: u16::MAX,
            maximum_packet_size: PROTOCOL_MAX_PACKET_SIZE,
        };
        let wakes = {
            let mut state = shared.state.lock();
            state.trust_bridge(client_id.clone());
            match state.connect(
                &connect,
                peer,
                connection_id,
                signals.clone(),
                Instant::now(),
            ) {
                ConnectOutcome::Accepted { wakes, .. } => wakes,
                // Only an empty or refused client id is refused, and this one is neither.
                ConnectOutcome::Refused(reason) => {
                    warn!("bridge {}: local session refused: {reason}", bridge.name);
                    Default::default()
                }
            }
        };
        wakes.notify();
        let local = Local {
            shared,
            bridge,
            client_id,
            connection_id,
            signals,
        };
        local.subscribe(RetainHandling::DoNotSend);
        local
    }

    /// Subscribes to every outgoing topic. With `SendAtSubscribe` the retained messages
    /// that match are queued for the remote, as Mosquitto does at each connect.
    pub fn subscribe(&self, retain_handling: RetainHandling) {
        let filters: Vec<(String, SubscriptionOptions)> = self
            .bridge
            .topics
            .iter()
            .filter(|t| t.is_out())
            .map(|t| {
                let options = SubscriptionOptions {
                    qos: t.qos,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling,
                };
                (t.local_filter(), options)
            })
            .collect();
        if filters.is_empty() {
            return;
        }
        let subscribe = Subscribe {
            packet_id: PacketId::MIN,
            filters,
            properties: Properties::default(),
        };
        let ack = self
            .shared
            .state
            .lock()
            .subscribe(&self.client_id, &subscribe, Instant::now());
        if ack.reason_codes.iter().any(|c| c.is_error()) {
            warn!(
                "bridge {}: some outgoing topics were refused here: {:?}",
                self.bridge.name, ack.reason_codes
            );
        }
        self.signals.wake_up();
    }

    /// Publishes a message into this broker as the bridge: its subscribers get it, the
    /// bridge's own subscriptions do not (No Local).
    pub fn publish(
        &self,
        topic: &str,
        payload: bytes::Bytes,
        qos: QoS,
        retain: bool,
        properties: Properties,
    ) {
        let message = Message {
            topic: topic.into(),
            payload,
            qos,
            retain,
            properties: kept_properties(properties),
            origin: Some(self.client_id.clone()),
            received_at: Instant::now(),
            store_id: Default::default(),
        };
        let wakes = self.shared.state.lock().publish(Arc::new(message));
        wakes.notify();
        Stats::add(&self.shared.stats.messages_received, 1);
    }

    /// Publishes the link's state, retained, on the notification topic.
    pub fn notify_state(&self, up: bool) {
        if self.bridge.notifications {
            let payload = bytes::Bytes::from_static(if up { b"1" } else { b"0" });
            let topic = self.bridge.notification_topic.clone();
            self.publish(
                &topic,
                payload,
                QoS::AtLeastOnce,
                true,
                Properties::default(),
            );
        }
    }

    /// The messages in flight to the remote when the last link broke, in their order: they
    /// go again on the new link. Those the remote had already received (PUBREC) are done.
    pub fn resend(&self) -> Vec<Publish> {
        let peer = PeerLimits {
            protocol: ProtocolVersion::V5,
            receive_maximum: u16::MAX,
            maximum_packet_size: PROTOCOL_MAX_PACKET_SIZE,
        };
        let mut state = self.shared.state.lock();
        let Some(session) = state.session_mut(&self.client_id) else {
            return Vec::new();
        };
        let mut again = Vec::new();
        for packet in session.attach(peer, Instant::now()) {
            match packet {
                Packet::Publish(publish) => again.push(publish),
                Packet::PubRel(rel) => {
                    session.on_pubcomp(rel.packet_id);
                }
                _ => {}
            }
        }
        again
    }

    /// Takes up to `max` messages the session may send now (QoS 1/2 ones move in flight).
    pub fn pull(&self, max: usize) -> Vec<Publish> {
        let mut state = self.shared.state.lock();
        if self.signals.is_kicked() {
            return Vec::new();
        }
        let Some(session) = state.session_mut(&self.client_id) else {
            return Vec::new();
        };
        let now = Instant::now();
        let batch: Vec<Publish> = std::iter::from_fn(|| session.next_publish(now))
            .take(max)
            .collect();
        drop(state);
        Stats::add(&self.shared.stats.messages_sent, batch.len() as u64);
        batch
    }

    /// The remote's PUBACK for the message this session sent under `id`.
    pub fn puback(&self, id: PacketId) {
        self.with_session(|session| {
            session.on_puback(id);
        });
    }

    /// The remote's PUBREC: a failure reason ends the exchange.
    pub fn pubrec(&self, id: PacketId, reason: ReasonCode) {
        self.with_session(|session| {
            session.on_pubrec(id, reason);
        });
    }

    /// The remote's PUBCOMP.
    pub fn pubcomp(&self, id: PacketId) {
        self.with_session(|session| {
            session.on_pubcomp(id);
        });
    }

    fn with_session(&self, f: impl FnOnce(&mut Session)) {
        if let Some(session) = self.shared.state.lock().session_mut(&self.client_id) {
            f(session);
        }
    }

    /// Leaves the broker: a persistent session stays with what it holds.
    pub fn detach(self) {
        let wakes = self.shared.state.lock().disconnected(
            &self.client_id,
            self.connection_id,
            Departure::Graceful,
            Instant::now(),
        );
        wakes.notify();
    }
}
