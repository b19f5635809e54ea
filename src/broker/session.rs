//! The Session state machine (MQTT section 4.1): subscriptions, the queue of messages
//! waiting to be sent, the outbound QoS 1/2 messages in flight and the inbound QoS 2
//! Packet Identifiers awaiting PUBREL. No I/O and no clock: `now` is an argument.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mq_proto::{
    publish_encoded_len, Packet, PacketId, ProtocolVersion, PubResponse, Publish, QoS, ReasonCode,
    SubscriptionOptions, Will,
};

use super::message::Delivery;
pub use super::persist::journal::Awaiting;
use super::persist::journal::{Change, Journal, SessionMeta};

mod filters;
pub use filters::Subscriptions;

/// Per-session limits; see the slow-consumer policy in ARCHITECTURE.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Outbound QoS 1/2 messages sent but not yet acknowledged.
    pub max_inflight: u16,
    /// Messages waiting to be sent (not counting those in flight).
    pub max_queued_messages: usize,
    /// Payload bytes waiting to be sent; 0 means no byte limit.
    pub max_queued_bytes: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            max_inflight: 20,
            max_queued_messages: 1000,
            max_queued_bytes: 0,
        }
    }
}

/// What the connected client accepts, from its CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerLimits {
    pub protocol: ProtocolVersion,
    /// Receive Maximum: QoS 1/2 messages it takes at once.
    pub receive_maximum: u16,
    /// Maximum Packet Size: larger messages are not sent to it ([MQTT-3.1.2-24]).
    pub maximum_packet_size: usize,
}

/// When an offline session ends: never for MQTT 3.x persistent sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionExpiry {
    /// Ends when the network connection closes (clean session, or Session Expiry 0).
    OnDisconnect,
    After(Duration),
    Never,
}

impl SessionExpiry {
    /// From an MQTT 5 Session Expiry Interval in seconds (0xFFFFFFFF means never).
    pub fn from_interval(seconds: u32) -> SessionExpiry {
        match seconds {
            0 => SessionExpiry::OnDisconnect,
            u32::MAX => SessionExpiry::Never,
            s => SessionExpiry::After(Duration::from_secs(s.into())),
        }
    }
}

#[derive(Debug, Clone)]
struct Inflight {
    delivery: Delivery,
    state: Awaiting,
}

/// The outbound QoS 1/2 messages in flight, in the order they were first sent (a resend
/// keeps that order) and found by Packet Identifier: an acknowledgement costs the same
/// whatever the depth of the window (up to 65,535) and the order acknowledgements come in.
#[derive(Debug, Default)]
struct InflightWindow {
    /// Send order. A message acknowledged before older ones leaves a hole (`None`): holes
    /// at the front are trimmed at once, the others when they outnumber the messages.
    order: VecDeque<Option<(PacketId, Inflight)>>,
    /// The send number of the front of `order`.
    first: u64,
    /// The send number of each identifier in flight. The broker assigns them, so no
    /// client can choose keys that collide: a plain multiplicative hash will do.
    slots: rustc_hash::FxHashMap<PacketId, u64>,
}

impl InflightWindow {
    fn len(&self) -> usize {
        self.slots.len()
    }

    fn contains(&self, id: PacketId) -> bool {
        self.slots.contains_key(&id)
    }

    /// Adds a message sent under `id`, which must not be in flight already.
    fn push(&mut self, id: PacketId, inflight: Inflight) {
        debug_assert!(!self.contains(id), "packet id {id} is in flight twice");
        self.slots.insert(id, self.first + self.order.len() as u64);
        self.order.push_back(Some((id, inflight)));
    }

    fn index(&self, id: PacketId) -> Option<usize> {
        let number = self.slots.get(&id)?;
        usize::try_from(number - self.first).ok()
    }

    fn get(&self, id: PacketId) -> Option<&Inflight> {
        let (_, inflight) = self.order.get(self.index(id)?)?.as_ref()?;
        Some(inflight)
    }

    fn get_mut(&mut self, id: PacketId) -> Option<&mut Inflight> {
        let index = self.index(id)?;
        let (_, inflight) = self.order.get_mut(index)?.as_mut()?;
        Some(inflight)
    }

    fn remove(&mut self, id: PacketId) -> Option<Inflight> {
        let index = self.index(id)?;
        self.slots.remove(&id);
        let (_, inflight) = self.order.get_mut(index)?.take()?;
        while matches!(self.order.front(), Some(None)) {
            self.order.pop_front();
            self.first += 1;
        }
        // One message never acknowledged must not make the holes behind it grow without
        // bound; compacting once they outnumber the messages costs O(1) per removal.
        if self.order.len() > 2 * self.slots.len() + 16 {
            self.compact();
        }
        Some(inflight)
    }

    /// Drops the holes and numbers the messages afresh.
    fn compact(&mut self) {
        self.order.retain(Option::is_some);
        for (number, (id, _)) in (self.first..).zip(self.order.iter().flatten()) {
            self.slots.insert(*id, number);
        }
    }

    /// The messages in flight, oldest first.
    fn iter(&self) -> impl Iterator<Item = (PacketId, &Inflight)> {
        self.order
            .iter()
            .flatten()
            .map(|(id, inflight)| (*id, inflight))
    }

    /// Takes out the messages `take` selects, oldest first.
    fn take_where(&mut self, mut take: impl FnMut(&Inflight) -> bool) -> Vec<Inflight> {
        let mut taken = Vec::new();
        for entry in self.order.iter_mut() {
            if entry.as_ref().is_some_and(|(_, inflight)| take(inflight)) {
                if let Some((id, inflight)) = entry.take() {
                    self.slots.remove(&id);
                    taken.push(inflight);
                }
            }
        }
        self.compact();
        taken
    }
}

/// What happened to a message offered to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Queued,
    /// Dropped under the slow-consumer policy (queue full) and counted.
    Dropped,
    /// QoS 0 for an offline session: not kept, as MQTT allows.
    Discarded,
}

/// The outcome of a PUBLISH with QoS 2 from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundQoS2 {
    /// First time this Packet Identifier arrives: route the message.
    New,
    /// A resend of a message already routed: acknowledge, do not route again.
    Duplicate,
}

#[derive(Debug)]
pub struct Session {
    pub client_id: Arc<str>,
    pub subscriptions: Subscriptions,
    /// Boxed, as the pending Will: most sessions have neither, and every session would
    /// otherwise carry the room for two (some 400 bytes each).
    pub will: Option<Box<Will>>,
    /// A Will waiting out its Will Delay Interval after the connection ended.
    pub pending_will: Option<Box<(Will, Instant)>>,
    pub expiry: SessionExpiry,
    /// When the last connection closed; `None` while connected.
    pub disconnected_at: Option<Instant>,
    /// The user name of the last CONNECT, which selects the client's ACL rules.
    pub username: Option<Arc<str>>,
    limits: SessionLimits,
    /// How many may be in flight on the current connection (Receive Maximum, capped by limits).
    send_window: u16,
    peer: PeerLimits,
    queue: VecDeque<Delivery>,
    queued_bytes: usize,
    /// This and the inbound QoS 2 identifiers are boxed and made when first needed: an idle
    /// session, or one that only sees QoS 0, would otherwise carry some 140 bytes of empty
    /// collections. Once made they stay, so steady QoS 1/2 traffic allocates nothing more.
    inflight: Option<Box<InflightWindow>>,
    #[allow(clippy::box_collection)]
    inbound_qos2: Option<Box<HashSet<PacketId>>>,
    next_packet_id: u16,
    dropped: u64,
    /// Names the next delivery queued, so the store can refer to it.
    next_seq: u64,
    /// Whether changes go to the journal: a session that outlives its connection, with
    /// persistence on.
    durable: bool,
    journal: Journal,
}

impl Session {
    pub fn new(client_id: Arc<str>, expiry: SessionExpiry, limits: SessionLimits) -> Session {
        Session {
            client_id,
            subscriptions: Subscriptions::default(),
            will: None,
            pending_will: None,
            expiry,
            disconnected_at: None,
            username: None,
            limits,
            send_window: limits.max_inflight,
            peer: PeerLimits {
                protocol: ProtocolVersion::V311,
                receive_maximum: u16::MAX,
                maximum_packet_size: usize::MAX,
            },
            queue: VecDeque::new(),
            queued_bytes: 0,
            inflight: None,
            inbound_qos2: None,
            next_packet_id: 1,
            dropped: 0,
            next_seq: 1,
            durable: false,
            journal: Journal::disabled(),
        }
    }

    /// The protocol version of the last connection.
    pub fn protocol(&self) -> ProtocolVersion {
        self.peer.protocol
    }

    /// Records `change` in the journal if this session is durable.
    fn record(&self, change: impl FnOnce() -> Change) {
        if self.durable {
            self.journal.push(change());
        }
    }

    pub fn is_durable(&self) -> bool {
        self.durable
    }

    /// Starts or stops writing this session to the store. Starting writes it whole (its
    /// fields, subscriptions, queue, in-flight messages and inbound QoS 2 identifiers);
    /// stopping removes it from the store.
    pub fn set_durable(&mut self, journal: &Journal, durable: bool) {
        let durable = durable && journal.is_enabled();
        if durable == self.durable {
            return;
        }
        if !durable {
            self.record(|| Change::SessionGone(self.client_id.clone()));
            self.durable = false;
            return;
        }
        self.durable = true;
        self.journal = journal.clone();
        self.record_meta();
        for (filter, options, identifier) in self.subscriptions.iter() {
            self.record(|| Change::Subscribed {
                client_id: self.client_id.clone(),
                filter: filter.to_string(),
                options,
                identifier,
            });
        }
        for (id, inflight) in self.inflight() {
            self.record(|| Change::Queued {
                client_id: self.client_id.clone(),
                delivery: inflight.delivery.clone(),
            });
            self.record(|| Change::InFlight {
                client_id: self.client_id.clone(),
                seq: inflight.delivery.seq,
                packet_id: id,
                awaiting: inflight.state,
            });
        }
        for delivery in self.queue.iter().filter(|d| d.qos != QoS::AtMostOnce) {
            self.record(|| Change::Queued {
                client_id: self.client_id.clone(),
                delivery: delivery.clone(),
            });
        }
        for id in self.inbound_qos2.iter().flat_map(|ids| ids.iter()) {
            self.record(|| Change::InboundQoS2 {
                client_id: self.client_id.clone(),
                packet_id: *id,
            });
        }
    }

    /// Adds or replaces a subscription.
    pub fn subscribed(
        &mut self,
        filter: &str,
        options: SubscriptionOptions,
        identifier: Option<u32>,
    ) {
        self.subscriptions.insert(filter, options, identifier);
        self.record(|| Change::Subscribed {
            client_id: self.client_id.clone(),
            filter: filter.to_string(),
            options,
            identifier,
        });
    }

    pub fn unsubscribed(&mut self, filter: &str) {
        if self.subscriptions.remove(filter) {
            self.record(|| Change::Unsubscribed {
                client_id: self.client_id.clone(),
                filter: filter.to_string(),
            });
        }
    }

    /// Records the session's own fields (expiry, Will, when it went offline).
    pub fn record_meta(&self) {
        self.record(|| Change::Session(Box::new(self.meta())));
    }

    pub fn meta(&self) -> SessionMeta {
        SessionMeta {
            client_id: self.client_id.clone(),
            expiry: self.expiry,
            disconnected_at: self.disconnected_at,
            will: self.will.as_deref().cloned(),
            pending_will: self.pending_will.as_deref().cloned(),
        }
    }

    /// A session read back from the store: its queue (oldest first), its in-flight
    /// messages in the order they were sent, its inbound QoS 2 identifiers. It is offline
    /// and durable; nothing is journaled for what it already holds.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn restore(
        client_id: Arc<str>,
        expiry: SessionExpiry,
        limits: SessionLimits,
        journal: &Journal,
        disconnected_at: Instant,
        queue: Vec<Delivery>,
        inflight: Vec<(PacketId, Awaiting, Delivery)>,
        inbound_qos2: Vec<PacketId>,
    ) -> Session {
        let mut session = Session::new(client_id, expiry, limits);
        session.durable = journal.is_enabled();
        session.journal = journal.clone();
        session.disconnected_at = Some(disconnected_at);
        let mut max_seq = 0;
        for delivery in &queue {
            max_seq = max_seq.max(delivery.seq);
            session.queued_bytes += delivery.message.payload.len();
        }
        session.queue = queue.into();
        for (id, state, delivery) in inflight {
            max_seq = max_seq.max(delivery.seq);
            session
                .inflight_window()
                .push(id, Inflight { delivery, state });
        }
        session.next_seq = max_seq + 1;
        if !inbound_qos2.is_empty() {
            session.inbound_qos2 = Some(Box::new(inbound_qos2.into_iter().collect()));
        }
        session
    }

    pub fn is_connected(&self) -> bool {
        self.disconnected_at.is_none()
    }

    pub fn queued_len(&self) -> usize {
        self.queue.len()
    }

    pub fn inflight_len(&self) -> usize {
        self.inflight.as_ref().map_or(0, |window| window.len())
    }

    /// The messages in flight, oldest first.
    fn inflight(&self) -> impl Iterator<Item = (PacketId, &Inflight)> {
        self.inflight.iter().flat_map(|window| window.iter())
    }

    /// The in-flight window, made on first use.
    fn inflight_window(&mut self) -> &mut InflightWindow {
        self.inflight.get_or_insert_with(Box::default)
    }

    /// Messages queued or in flight, and their payload bytes.
    pub fn held(&self) -> (usize, usize) {
        let inflight_bytes: usize = self
            .inflight()
            .map(|(_, i)| i.delivery.message.payload.len())
            .sum();
        (
            self.queue.len() + self.inflight_len(),
            self.queued_bytes + inflight_bytes,
        )
    }

    /// Messages dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn has_expired(&self, now: Instant) -> bool {
        match (self.expiry, self.disconnected_at) {
            (SessionExpiry::After(interval), Some(at)) => {
                now.saturating_duration_since(at) >= interval
            }
            _ => false,
        }
    }

    /// Offers a message. A full queue drops QoS 0 first: the newest QoS 0 message, else the
    /// oldest queued QoS 0 message to make room for QoS 1/2, else the new message.
    pub fn enqueue(&mut self, mut delivery: Delivery) -> Enqueued {
        if delivery.qos == QoS::AtMostOnce && !self.is_connected() {
            return Enqueued::Discarded;
        }
        let size = delivery.message.payload.len();
        while self.is_full(size) {
            let oldest_qos0 = self.queue.iter().position(|d| d.qos == QoS::AtMostOnce);
            match oldest_qos0 {
                Some(index) if delivery.qos != QoS::AtMostOnce => {
                    if let Some(evicted) = self.queue.remove(index) {
                        self.queued_bytes -= evicted.message.payload.len();
                    }
                    self.dropped += 1;
                }
                _ => {
                    self.dropped += 1;
                    return Enqueued::Dropped;
                }
            }
        }
        self.queued_bytes += size;
        delivery.seq = self.next_seq;
        self.next_seq += 1;
        if delivery.qos != QoS::AtMostOnce {
            self.record(|| Change::Queued {
                client_id: self.client_id.clone(),
                delivery: delivery.clone(),
            });
        }
        self.queue.push_back(delivery);
        Enqueued::Queued
    }

    fn is_full(&self, incoming_bytes: usize) -> bool {
        self.queue.len() >= self.limits.max_queued_messages
            || (self.limits.max_queued_bytes > 0
                && self.queued_bytes + incoming_bytes > self.limits.max_queued_bytes
                && !self.queue.is_empty())
    }

    /// Is there something to send that the send window allows?
    pub fn has_sendable(&self) -> bool {
        match self.queue.front() {
            Some(d) if d.qos == QoS::AtMostOnce => true,
            Some(_) => self.inflight_len() < usize::from(self.send_window),
            None => false,
        }
    }

    /// The next PUBLISH to send, if the window allows: QoS 1/2 messages take a Packet
    /// Identifier and move in flight. Expired messages and messages larger than the
    /// client's Maximum Packet Size are dropped on the way, as if sent ([MQTT-3.1.2-25]).
    pub fn next_publish(&mut self, now: Instant) -> Option<Publish> {
        while self.has_sendable() {
            let delivery = self.queue.pop_front()?;
            self.queued_bytes -= delivery.message.payload.len();
            if delivery.message.is_expired(now) {
                self.done(&delivery);
                continue;
            }
            let mut publish = publish_packet(&delivery, None, false, now);
            if publish_encoded_len(&publish, self.peer.protocol) > self.peer.maximum_packet_size {
                self.dropped += 1;
                self.done(&delivery);
                continue;
            }
            if delivery.qos != QoS::AtMostOnce {
                let id = self.allocate_packet_id()?;
                let state = if delivery.qos == QoS::AtLeastOnce {
                    Awaiting::PubAck
                } else {
                    Awaiting::PubRec
                };
                self.record(|| Change::InFlight {
                    client_id: self.client_id.clone(),
                    seq: delivery.seq,
                    packet_id: id,
                    awaiting: state,
                });
                self.inflight_window()
                    .push(id, Inflight { delivery, state });
                publish.packet_id = Some(id);
            }
            return Some(publish);
        }
        None
    }

    /// Records that a QoS 1/2 delivery is finished with.
    fn done(&self, delivery: &Delivery) {
        if delivery.qos != QoS::AtMostOnce {
            self.record(|| Change::Done {
                client_id: self.client_id.clone(),
                seq: delivery.seq,
            });
        }
    }

    /// Takes the message in flight under `id` out if it awaits `state`, recording that it
    /// is finished.
    fn finish_inflight(&mut self, id: PacketId, state: Awaiting) -> bool {
        if self.awaiting(id) != Some(state) {
            return false;
        }
        match self.inflight.as_mut().and_then(|window| window.remove(id)) {
            Some(inflight) => {
                self.done(&inflight.delivery);
                true
            }
            None => false,
        }
    }

    fn allocate_packet_id(&mut self) -> Option<PacketId> {
        for _ in 0..=u16::MAX {
            let candidate = PacketId::new(self.next_packet_id);
            self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
            if let Some(id) = candidate {
                if !self
                    .inflight
                    .as_ref()
                    .is_some_and(|window| window.contains(id))
                {
                    return Some(id);
                }
            }
        }
        None
    }

    /// What the message in flight under `id` waits for.
    fn awaiting(&self, id: PacketId) -> Option<Awaiting> {
        self.inflight
            .as_ref()?
            .get(id)
            .map(|inflight| inflight.state)
    }

    /// PUBACK from the client: the QoS 1 message is done. False if nothing awaited it.
    pub fn on_puback(&mut self, id: PacketId) -> bool {
        self.finish_inflight(id, Awaiting::PubAck)
    }

    /// PUBREC from the client: answer with PUBREL (also for an unknown identifier, so the
    /// client can finish; MQTT 5 says which with the reason code).
    pub fn on_pubrec(&mut self, id: PacketId, reason: ReasonCode) -> Option<PubResponse> {
        match self.awaiting(id) {
            Some(Awaiting::PubRec) if reason.is_error() => {
                // A failed PUBREC ends the exchange (MQTT 5 section 4.3.3).
                self.finish_inflight(id, Awaiting::PubRec);
                None
            }
            Some(Awaiting::PubRec) => {
                let inflight = self.inflight.as_mut()?.get_mut(id)?;
                inflight.state = Awaiting::PubComp;
                let seq = inflight.delivery.seq;
                self.record(|| Change::InFlight {
                    client_id: self.client_id.clone(),
                    seq,
                    packet_id: id,
                    awaiting: Awaiting::PubComp,
                });
                Some(PubResponse::new(id))
            }
            Some(Awaiting::PubComp) => Some(PubResponse::new(id)),
            Some(Awaiting::PubAck) | None => Some(PubResponse::with_reason(
                id,
                ReasonCode::PacketIdentifierNotFound,
            )),
        }
    }

    /// PUBCOMP from the client: the QoS 2 message is done.
    pub fn on_pubcomp(&mut self, id: PacketId) -> bool {
        self.finish_inflight(id, Awaiting::PubComp)
    }

    /// A QoS 2 PUBLISH from the client (method B of the spec: keep the identifier until
    /// PUBREL, route only the first copy).
    pub fn on_inbound_qos2(&mut self, id: PacketId) -> InboundQoS2 {
        if self
            .inbound_qos2
            .get_or_insert_with(Box::default)
            .insert(id)
        {
            self.record(|| Change::InboundQoS2 {
                client_id: self.client_id.clone(),
                packet_id: id,
            });
            InboundQoS2::New
        } else {
            InboundQoS2::Duplicate
        }
    }

    /// PUBREL from the client: forget the identifier and answer PUBCOMP.
    pub fn on_pubrel(&mut self, id: PacketId) -> PubResponse {
        if self
            .inbound_qos2
            .as_mut()
            .is_some_and(|ids| ids.remove(&id))
        {
            self.record(|| Change::Released {
                client_id: self.client_id.clone(),
                packet_id: id,
            });
            PubResponse::new(id)
        } else {
            PubResponse::with_reason(id, ReasonCode::PacketIdentifierNotFound)
        }
    }

    /// A connection takes the session: sets its send window and returns what must be sent
    /// again first, in the original order: PUBLISH with DUP for unacknowledged messages,
    /// PUBREL for those already received by the client ([MQTT-4.4.0-1]).
    pub fn attach(&mut self, peer: PeerLimits, now: Instant) -> Vec<Packet> {
        self.disconnected_at = None;
        self.peer = peer;
        self.send_window = peer.receive_maximum.min(self.limits.max_inflight).max(1);
        self.inflight()
            .map(|(id, inflight)| match inflight.state {
                Awaiting::PubComp => Packet::PubRel(PubResponse::new(id)),
                _ => Packet::Publish(publish_packet(&inflight.delivery, Some(id), true, now)),
            })
            .collect()
    }

    /// QoS 2 messages from the client awaiting PUBREL: what its Receive Maximum counts.
    pub fn inbound_qos2_len(&self) -> usize {
        self.inbound_qos2.as_ref().map_or(0, |ids| ids.len())
    }

    /// Takes back the shared-subscription messages the client has not yet received, so
    /// another member of the group can have them. A message the client acknowledged with
    /// PUBREC has arrived and stays.
    pub fn take_shared(&mut self) -> Vec<Delivery> {
        let mut taken: Vec<Delivery> = self
            .inflight
            .as_mut()
            .map(|window| {
                window.take_where(|inflight| {
                    inflight.delivery.share.is_some() && inflight.state != Awaiting::PubComp
                })
            })
            .unwrap_or_default()
            .into_iter()
            .map(|inflight| inflight.delivery)
            .collect();
        let mut kept = VecDeque::with_capacity(self.queue.len());
        for delivery in std::mem::take(&mut self.queue) {
            if delivery.share.is_some() {
                self.queued_bytes -= delivery.message.payload.len();
                taken.push(delivery);
            } else {
                kept.push_back(delivery);
            }
        }
        self.queue = kept;
        for delivery in &taken {
            self.done(delivery);
        }
        taken
    }

    pub fn detach(&mut self, now: Instant) {
        self.disconnected_at = Some(now);
    }
}

fn publish_packet(
    delivery: &Delivery,
    packet_id: Option<PacketId>,
    dup: bool,
    now: Instant,
) -> Publish {
    let message = &delivery.message;
    let mut properties = message.forwarded_properties(now);
    properties.subscription_identifiers = delivery.subscription_identifiers.clone();
    Publish {
        dup,
        qos: delivery.qos,
        retain: delivery.retain,
        topic: message.topic.clone(),
        packet_id,
        properties,
        payload: message.payload.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::message::Message;
    use mq_proto::{ByteString, Bytes};

    fn delivery(qos: QoS, payload: &'static str) -> Delivery {
        Delivery {
            message: Arc::new(Message {
                topic: ByteString::from_static("t"),
                payload: Bytes::from_static(payload.as_bytes()),
                qos,
                retain: false,
                properties: None,
                origin: None,
                received_at: Instant::now(),
                store_id: Default::default(),
            }),
            qos,
            retain: false,
            subscription_identifiers: Vec::new(),
            share: None,
            seq: 0,
        }
    }

    fn session(limits: SessionLimits) -> Session {
        Session::new("c".into(), SessionExpiry::Never, limits)
    }

    const PEER: PeerLimits = PeerLimits {
        protocol: ProtocolVersion::V5,
        receive_maximum: u16::MAX,
        maximum_packet_size: usize::MAX,
    };

    fn id(n: u16) -> PacketId {
        PacketId::new(n).unwrap()
    }

    #[test]
    fn qos1_message_leaves_flight_when_puback_arrives() {
        let mut s = session(SessionLimits::default());
        s.enqueue(delivery(QoS::AtLeastOnce, "a"));
        let publish = s.next_publish(Instant::now()).unwrap();
        assert_eq!(publish.packet_id, Some(id(1)));
        assert_eq!(s.inflight_len(), 1);
        assert!(s.on_puback(id(1)));
        assert_eq!(s.inflight_len(), 0);
        assert!(!s.on_puback(id(1)), "a second PUBACK acknowledges nothing");
    }

    #[test]
    fn qos2_message_is_released_once_pubrec_arrives_and_done_at_pubcomp() {
        let mut s = session(SessionLimits::default());
        s.enqueue(delivery(QoS::ExactlyOnce, "a"));
        let publish = s.next_publish(Instant::now()).unwrap();
        let pid = publish.packet_id.unwrap();
        assert!(!s.on_puback(pid), "PUBACK does not finish QoS 2");
        assert_eq!(
            s.on_pubrec(pid, ReasonCode::Success),
            Some(PubResponse::new(pid))
        );
        assert!(s.on_pubcomp(pid));
        assert_eq!(s.inflight_len(), 0);
    }

    #[test]
    fn send_window_holds_back_qos1_but_not_qos0() {
        let mut s = session(SessionLimits {
            max_inflight: 1,
            ..SessionLimits::default()
        });
        s.enqueue(delivery(QoS::AtLeastOnce, "1"));
        s.enqueue(delivery(QoS::AtLeastOnce, "2"));
        assert!(s.next_publish(Instant::now()).is_some());
        assert!(
            s.next_publish(Instant::now()).is_none(),
            "window of one is full"
        );
        assert!(s.on_puback(id(1)));
        assert_eq!(&s.next_publish(Instant::now()).unwrap().payload[..], b"2");
        s.enqueue(delivery(QoS::AtMostOnce, "0"));
        assert!(
            s.next_publish(Instant::now()).is_some(),
            "QoS 0 needs no window"
        );
    }

    #[test]
    fn reattach_resends_unacknowledged_messages_with_dup_in_order() {
        let mut s = session(SessionLimits::default());
        for p in ["1", "2", "3"] {
            s.enqueue(delivery(QoS::ExactlyOnce, p));
        }
        let first = s.next_publish(Instant::now()).unwrap();
        let second = s.next_publish(Instant::now()).unwrap();
        s.on_pubrec(first.packet_id.unwrap(), ReasonCode::Success);
        s.detach(Instant::now());
        let resend = s.attach(PEER, Instant::now());
        assert_eq!(
            resend,
            vec![
                Packet::PubRel(PubResponse::new(first.packet_id.unwrap())),
                Packet::Publish(Publish {
                    dup: true,
                    ..second
                }),
            ]
        );
        assert_eq!(&s.next_publish(Instant::now()).unwrap().payload[..], b"3");
    }

    #[test]
    fn offline_session_discards_qos0_and_queues_qos1() {
        let mut s = session(SessionLimits::default());
        s.detach(Instant::now());
        assert_eq!(
            s.enqueue(delivery(QoS::AtMostOnce, "x")),
            Enqueued::Discarded
        );
        assert_eq!(s.enqueue(delivery(QoS::AtLeastOnce, "y")), Enqueued::Queued);
        assert_eq!(s.queued_len(), 1);
    }

    #[test]
    fn full_queue_drops_qos0_first_and_counts_every_drop() {
        let mut s = session(SessionLimits {
            max_queued_messages: 2,
            ..SessionLimits::default()
        });
        s.enqueue(delivery(QoS::AtMostOnce, "q0"));
        s.enqueue(delivery(QoS::AtLeastOnce, "a"));
        assert_eq!(s.enqueue(delivery(QoS::AtLeastOnce, "b")), Enqueued::Queued);
        assert_eq!(s.dropped(), 1, "the QoS 0 message made room");
        assert_eq!(
            s.enqueue(delivery(QoS::AtLeastOnce, "c")),
            Enqueued::Dropped
        );
        assert_eq!(s.enqueue(delivery(QoS::AtMostOnce, "d")), Enqueued::Dropped);
        assert_eq!(s.dropped(), 3);
        let payloads: Vec<_> = std::iter::from_fn(|| s.next_publish(Instant::now()))
            .map(|p| p.payload)
            .collect();
        assert_eq!(payloads, vec![Bytes::from("a"), Bytes::from("b")]);
    }

    #[test]
    fn byte_limit_holds_the_queue_to_its_payload_budget() {
        let mut s = session(SessionLimits {
            max_queued_bytes: 4,
            ..SessionLimits::default()
        });
        assert_eq!(
            s.enqueue(delivery(QoS::AtLeastOnce, "abc")),
            Enqueued::Queued
        );
        assert_eq!(
            s.enqueue(delivery(QoS::AtLeastOnce, "de")),
            Enqueued::Dropped
        );
        assert_eq!(s.enqueue(delivery(QoS::AtLeastOnce, "f")), Enqueued::Queued);
    }

    #[test]
    fn inbound_qos2_routes_the_first_copy_only_until_pubrel() {
        let mut s = session(SessionLimits::default());
        assert_eq!(s.on_inbound_qos2(id(7)), InboundQoS2::New);
        assert_eq!(s.on_inbound_qos2(id(7)), InboundQoS2::Duplicate);
        assert_eq!(s.on_pubrel(id(7)), PubResponse::new(id(7)));
        assert_eq!(
            s.on_pubrel(id(7)).reason_code,
            ReasonCode::PacketIdentifierNotFound
        );
        assert_eq!(
            s.on_inbound_qos2(id(7)),
            InboundQoS2::New,
            "the id is free again"
        );
    }

    #[test]
    fn packet_ids_skip_those_still_in_flight_and_wrap_past_65535() {
        let mut s = session(SessionLimits {
            max_inflight: u16::MAX,
            max_queued_messages: 10,
            ..SessionLimits::default()
        });
        s.next_packet_id = u16::MAX;
        s.enqueue(delivery(QoS::AtLeastOnce, "a"));
        s.enqueue(delivery(QoS::AtLeastOnce, "b"));
        assert_eq!(
            s.next_publish(Instant::now()).unwrap().packet_id,
            Some(id(u16::MAX))
        );
        assert_eq!(
            s.next_publish(Instant::now()).unwrap().packet_id,
            Some(id(1))
        );
        s.next_packet_id = u16::MAX;
        s.enqueue(delivery(QoS::AtLeastOnce, "c"));
        assert_eq!(
            s.next_publish(Instant::now()).unwrap().packet_id,
            Some(id(2))
        );
    }

    /// Sends `n` QoS `qos` messages named "0", "1", ... and returns their Packet Identifiers.
    fn send_many(s: &mut Session, qos: QoS, n: usize) -> Vec<PacketId> {
        for i in 0..n {
            let payload: &'static str = Box::leak(i.to_string().into_boxed_str());
            s.enqueue(delivery(qos, payload));
        }
        std::iter::from_fn(|| s.next_publish(Instant::now()))
            .map(|p| p.packet_id.unwrap())
            .collect()
    }

    /// The Packet Identifiers a reconnecting client is sent again, in order.
    fn resent_ids(s: &mut Session) -> Vec<PacketId> {
        s.detach(Instant::now());
        s.attach(PEER, Instant::now())
            .into_iter()
            .map(|packet| match packet {
                Packet::Publish(p) => p.packet_id.unwrap(),
                Packet::PubRel(r) => r.packet_id,
                other => panic!("resent {other:?}"),
            })
            .collect()
    }

    #[test]
    fn out_of_order_acknowledgements_leave_the_rest_in_flight_in_send_order() {
        let mut s = session(SessionLimits {
            max_queued_messages: 100,
            ..SessionLimits::default()
        });
        let ids = send_many(&mut s, QoS::AtLeastOnce, 5);
        assert!(s.on_puback(ids[3]));
        assert!(s.on_puback(ids[1]));
        assert!(!s.on_puback(ids[1]), "already acknowledged");
        assert!(s.on_puback(ids[0]));
        assert_eq!(s.inflight_len(), 2);
        assert_eq!(resent_ids(&mut s), vec![ids[2], ids[4]]);
    }

    #[test]
    fn qos2_acknowledgements_out_of_order_keep_each_message_in_its_own_state() {
        let mut s = session(SessionLimits::default());
        let ids = send_many(&mut s, QoS::ExactlyOnce, 3);
        assert_eq!(
            s.on_pubrec(ids[2], ReasonCode::Success),
            Some(PubResponse::new(ids[2]))
        );
        assert!(
            !s.on_pubcomp(ids[0]),
            "PUBCOMP before PUBREC finishes nothing"
        );
        assert_eq!(
            s.on_pubrec(ids[2], ReasonCode::Success),
            Some(PubResponse::new(ids[2])),
            "a repeated PUBREC is answered again"
        );
        assert!(s.on_pubcomp(ids[2]));
        assert_eq!(
            s.on_pubrec(ids[2], ReasonCode::Success)
                .unwrap()
                .reason_code,
            ReasonCode::PacketIdentifierNotFound
        );
        assert_eq!(resent_ids(&mut s), vec![ids[0], ids[1]]);
    }

    #[test]
    fn an_acknowledged_packet_id_is_taken_again_while_others_stay_in_flight() {
        let mut s = session(SessionLimits {
            max_inflight: u16::MAX,
            max_queued_messages: 10,
            ..SessionLimits::default()
        });
        let ids = send_many(&mut s, QoS::AtLeastOnce, 3);
        assert!(s.on_puback(ids[1]));
        s.next_packet_id = ids[0].get();
        let again = send_many(&mut s, QoS::AtLeastOnce, 1);
        assert_eq!(again, vec![ids[1]], "ids 1 and 3 are in flight, 2 is free");
        assert!(s.on_puback(ids[1]));
        assert_eq!(resent_ids(&mut s), vec![ids[0], ids[2]]);
    }

    #[test]
    fn one_message_never_acknowledged_does_not_make_the_window_grow() {
        let mut s = session(SessionLimits {
            max_inflight: 8,
            max_queued_messages: 10,
            ..SessionLimits::default()
        });
        let stuck = send_many(&mut s, QoS::AtLeastOnce, 1)[0];
        for _ in 0..10_000 {
            for id in send_many(&mut s, QoS::AtLeastOnce, 1) {
                assert!(s.on_puback(id));
            }
        }
        assert_eq!(s.inflight_len(), 1);
        let window = |s: &Session| s.inflight.as_ref().unwrap().order.len();
        assert!(window(&s) <= 2 + 16, "holes are compacted away");
        assert!(s.on_puback(stuck));
        assert_eq!(window(&s), 0);
    }

    /// Random sends and acknowledgements against a plain list of what is in flight.
    #[test]
    fn the_window_agrees_with_a_plain_list_under_random_acknowledgements() {
        let mut rng = fastrand::Rng::with_seed(9);
        let mut s = session(SessionLimits {
            max_inflight: 64,
            max_queued_messages: 1000,
            ..SessionLimits::default()
        });
        // (id, awaiting) in send order.
        let mut model: Vec<(PacketId, Awaiting)> = Vec::new();
        for _ in 0..5_000 {
            // Below the window of 64, so every message sent goes in flight at once.
            if (rng.u8(..3) == 0 && model.len() < 60) || model.is_empty() {
                let qos = if rng.bool() {
                    QoS::AtLeastOnce
                } else {
                    QoS::ExactlyOnce
                };
                for id in send_many(&mut s, qos, rng.usize(1..4)) {
                    assert!(model.iter().all(|(used, _)| *used != id), "{id} reused");
                    let awaiting = if qos == QoS::AtLeastOnce {
                        Awaiting::PubAck
                    } else {
                        Awaiting::PubRec
                    };
                    model.push((id, awaiting));
                }
                continue;
            }
            let index = rng.usize(..model.len());
            let (id, awaiting) = model[index];
            match awaiting {
                Awaiting::PubAck => {
                    assert!(s.on_puback(id));
                    model.remove(index);
                }
                Awaiting::PubRec => {
                    assert_eq!(
                        s.on_pubrec(id, ReasonCode::Success),
                        Some(PubResponse::new(id))
                    );
                    model[index].1 = Awaiting::PubComp;
                }
                Awaiting::PubComp => {
                    assert!(s.on_pubcomp(id));
                    model.remove(index);
                }
            }
            assert_eq!(s.inflight_len(), model.len());
        }
        let expected: Vec<PacketId> = model.iter().map(|(id, _)| *id).collect();
        assert_eq!(resent_ids(&mut s), expected);
    }

    /// The store keeps a session for every client, idle or not, so its size is paid once
    /// per client: 424 bytes before the QoS 1/2 state and the subscriptions moved out of line.
    #[test]
    fn a_session_stays_within_its_size_budget() {
        assert!(std::mem::size_of::<Session>() <= 232);
    }

    #[test]
    fn a_session_made_durable_writes_each_subscription_with_its_identifier() {
        let mut s = session(SessionLimits::default());
        s.subscribed("a/+", SubscriptionOptions::new(QoS::AtLeastOnce), Some(5));
        s.subscribed("b/#", SubscriptionOptions::new(QoS::AtMostOnce), Some(6));
        s.subscribed("b/#", SubscriptionOptions::new(QoS::ExactlyOnce), None);
        s.subscribed("c", SubscriptionOptions::new(QoS::AtMostOnce), None);
        s.unsubscribed("c");
        let journal = Journal::enabled();
        s.set_durable(&journal, true);
        let mut written: Vec<_> = journal
            .take()
            .0
            .into_iter()
            .filter_map(|change| match change {
                Change::Subscribed {
                    filter,
                    options,
                    identifier,
                    ..
                } => Some((filter, options.qos, identifier)),
                _ => None,
            })
            .collect();
        written.sort();
        assert_eq!(
            written,
            vec![
                ("a/+".to_string(), QoS::AtLeastOnce, Some(5)),
                ("b/#".to_string(), QoS::ExactlyOnce, None),
            ]
        );
    }

    #[test]
    fn an_idle_session_holds_no_room_for_qos_1_and_2_state() {
        let mut s = session(SessionLimits::default());
        s.subscribed("t", SubscriptionOptions::new(QoS::ExactlyOnce), None);
        s.enqueue(delivery(QoS::AtMostOnce, "a"));
        s.next_publish(Instant::now());
        assert_eq!(
            s.on_pubrel(id(1)).reason_code,
            ReasonCode::PacketIdentifierNotFound
        );
        assert!(!s.on_puback(id(1)));
        assert!(s.inflight.is_none() && s.inbound_qos2.is_none());
    }

    #[test]
    fn session_expires_only_after_its_interval_offline() {
        let now = Instant::now();
        let mut s = Session::new(
            "c".into(),
            SessionExpiry::After(Duration::from_secs(10)),
            SessionLimits::default(),
        );
        assert!(!s.has_expired(now + Duration::from_secs(60)), "connected");
        s.detach(now);
        assert!(!s.has_expired(now + Duration::from_secs(9)));
        assert!(s.has_expired(now + Duration::from_secs(10)));
    }
}
