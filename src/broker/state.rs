//! The broker's shared state and the protocol rules that act on it: connecting and
//! taking over sessions, routing a PUBLISH to every matching session, retained messages,
//! subscriptions and wills. Synchronous and socket-free; connection tasks call it under
//! one lock and do the I/O themselves.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use mq_proto::{
    topic::SharedFilter, Connect, Packet, PacketId, ProtocolVersion, PubResponse, Publish, QoS,
    ReasonCode, RetainHandling, SubAck, Subscribe, UnsubAck, Unsubscribe, Will,
};

use tracing::info;

use super::auth::{Access, AccessControl, AllowAll, Client};
use super::config::BrokerConfig;
use super::memory::MemoryLimit;
use super::message::{Delivery, Message};
use super::persist::journal::{Change, Journal};
use super::persist::Recovered;
use super::retained::RetainedStore;
use super::session::{Enqueued, InboundQoS2, PeerLimits, Session, SessionExpiry};
use super::signals::ConnectionSignals;
use super::store::{Due, SessionStore};
use super::subscriptions::SubscriptionTree;
use super::subscriptions::{GroupMatch, Match};

/// The connection currently attached to a session.
#[derive(Debug, Clone)]
struct Link {
    connection_id: u64,
    signals: Arc<ConnectionSignals>,
}

/// Connections to wake because their session has something new to send.
#[derive(Debug, Default)]
#[must_use = "woken connections must be notified after the state lock is released"]
pub struct Wakes(Vec<Arc<ConnectionSignals>>);

impl Wakes {
    /// Wakes each connection once, however often it was pushed.
    pub fn notify(self) {
        if let Some(last) = self.notify_all_but_last() {
            last.wake_up();
        }
    }

    /// Wakes each connection once but the last, which it returns for the caller to wake
    /// (see `ConnectionSignals::wake_up_then`).
    pub fn notify_all_but_last(mut self) -> Option<Arc<ConnectionSignals>> {
        // Sorting, not a search per push: one PUBLISH to n sessions stays O(n log n).
        self.0.sort_unstable_by_key(Arc::as_ptr);
        self.0.dedup_by(|a, b| Arc::ptr_eq(a, b));
        let last = self.0.pop();
        for signals in self.0 {
            signals.wake_up();
        }
        last
    }

    fn push(&mut self, signals: &Arc<ConnectionSignals>) {
        self.0.push(signals.clone());
    }

    fn extend(&mut self, mut other: Wakes) {
        self.0.append(&mut other.0);
    }
}

/// The result of a CONNECT.
#[derive(Debug)]
pub enum ConnectOutcome {
    Accepted {
        client_id: Arc<str>,
        session_present: bool,
        /// The identifier the broker chose for a client that sent an empty one.
        assigned_client_id: bool,
        /// Messages to send again before anything new ([MQTT-4.4.0-1]).
        resend: Vec<Packet>,
        wakes: Wakes,
    },
    Refused(ReasonCode),
}

/// How a connection ended, which decides the fate of its Will.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// DISCONNECT with reason 0x00: the Will is discarded.
    Graceful,
    /// Socket error, keep alive timeout, protocol error, DISCONNECT 0x04: the Will is published.
    PublishWill,
}

/// Counters the `$SYS` tree reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateFigures {
    pub clients_connected: usize,
    pub clients_total: usize,
    pub clients_maximum: usize,
    pub subscriptions: usize,
    pub shared_subscriptions: usize,
    pub retained: usize,
    pub messages_dropped: u64,
    /// Sessions ended because their Session Expiry Interval passed while offline.
    pub clients_expired: u64,
    /// Messages held: retained ones, and those queued or in flight per session (a message
    /// held for several sessions counts once for each).
    pub stored_messages: usize,
    /// Payload bytes of `stored_messages`.
    pub stored_bytes: usize,
}

pub struct BrokerState {
    config: Arc<BrokerConfig>,
    sessions: Box<dyn SessionStore>,
    links: HashMap<Arc<str>, Link>,
    subscriptions: SubscriptionTree,
    retained: RetainedStore,
    clients_maximum: usize,
    messages_dropped: u64,
    clients_expired: u64,
    /// Round-robin position per shared subscription group.
    share_cursors: HashMap<Arc<str>, usize>,
    /// Who may publish, subscribe and receive what; replaced on reload.
    access: Arc<dyn AccessControl>,
    /// Where changes to durable state are recorded for the store (disabled: memory only).
    journal: Journal,
    /// The local sessions of bridges: as in Mosquitto, the access rules do not apply to them.
    bridges: HashSet<Arc<str>>,
    /// Bytes held by messages, against `--max-memory`.
    memory: MemoryLimit,
}

/// Is `topic` in the `$SYS` tree, which only the broker writes (as in Mosquitto)? As there,
/// a bridge's state topic is the exception: a bridge from another broker publishes its
/// `1` there and leaves its `0` there as its Will.
fn is_sys(topic: &str) -> bool {
    topic
        .strip_prefix("$SYS")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        && !mq_proto::topic::matches("$SYS/broker/connection/+/state", topic)
}

/// Why a PUBLISH from a client ends its connection (MQTT 5 reason codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishRefused(pub ReasonCode);

impl PublishRefused {
    /// The reason in words, for the log.
    pub fn why(self) -> &'static str {
        match self.0 {
            ReasonCode::QuotaExceeded => {
                "the broker holds --max-memory bytes of messages; an MQTT 3 client cannot be told so per message"
            }
            _ => "more QoS 2 messages unreleased than Receive Maximum allows",
        }
    }
}

/// The acknowledgement that refuses `publish` with `code` (v5 only); none for QoS 0.
fn refused_ack(publish: &Publish, code: ReasonCode) -> Option<Packet> {
    let refused = |id| PubResponse::with_reason(id, code);
    match (publish.qos, publish.packet_id) {
        (QoS::AtLeastOnce, Some(id)) => Some(Packet::PubAck(refused(id))),
        (QoS::ExactlyOnce, Some(id)) => Some(Packet::PubRec(refused(id))),
        _ => None,
    }
}

impl BrokerState {
    pub fn new(config: Arc<BrokerConfig>, sessions: Box<dyn SessionStore>) -> BrokerState {
        BrokerState {
            sessions,
            links: HashMap::new(),
            subscriptions: SubscriptionTree::default(),
            retained: RetainedStore::default(),
            clients_maximum: 0,
            messages_dropped: 0,
            clients_expired: 0,
            share_cursors: HashMap::new(),
            access: Arc::new(AllowAll),
            journal: Journal::disabled(),
            bridges: HashSet::new(),
            memory: MemoryLimit::new(config.max_memory),
            config,
        }
    }

    /// Marks `client_id` as a bridge's local session, exempt from the access rules.
    pub fn trust_bridge(&mut self, client_id: Arc<str>) {
        self.bridges.insert(client_id);
    }

    /// A state whose durable changes go to `journal`.
    pub fn with_journal(mut self, journal: Journal) -> BrokerState {
        self.journal = journal;
        self
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The journal position the changes made so far reach: an acknowledgement that
    /// depends on them waits until the store has committed this far.
    pub fn ticket(&self) -> u64 {
        self.journal.seq()
    }

    /// Takes in what the store held at start: retained messages and sessions, offline.
    /// Sessions that were connected when the broker stopped are offline from `now`, and
    /// their Wills are due as for any connection that ended without DISCONNECT. Messages
    /// that expired meanwhile are dropped. Returns how many sessions came back.
    pub fn restore(&mut self, recovered: Recovered, now: Instant) -> usize {
        for message in recovered.retained {
            if !message.is_expired(now) {
                self.retained.update(&message);
            }
        }
        let count = recovered.sessions.len();
        for r in recovered.sessions {
            let (queue, expired): (Vec<_>, Vec<_>) = r
                .queue
                .into_iter()
                .partition(|d| !d.message.is_expired(now));
            let mut session = Session::restore(
                r.client_id.clone(),
                r.expiry,
                self.config.session_limits,
                &self.journal,
                r.disconnected_at.unwrap_or(now),
                queue,
                r.inflight,
                r.inbound_qos2,
            );
            for delivery in expired {
                self.journal.push(Change::Done {
                    client_id: r.client_id.clone(),
                    seq: delivery.seq,
                });
            }
            for (filter, options, identifier) in r.subscriptions {
                self.subscriptions
                    .insert(&filter, r.client_id.clone(), options, identifier);
                session.subscriptions.insert(&filter, options, identifier);
            }
            session.pending_will = r
                .pending_will
                .or_else(|| {
                    r.will.map(|will| {
                        let delay = will.properties.will_delay_interval.unwrap_or(0);
                        (will, now + std::time::Duration::from_secs(delay.into()))
                    })
                })
                .map(Box::new);
            if r.disconnected_at.is_none() {
                session.record_meta();
            }
            self.sessions.insert(session);
        }
        count
    }

    /// A v5 DISCONNECT changed the Session Expiry Interval.
    pub fn set_session_expiry(&mut self, client_id: &str, expiry: SessionExpiry) {
        if let Some(session) = self.sessions.get_mut(client_id) {
            session.expiry = expiry;
            session.set_durable(&self.journal, expiry != SessionExpiry::OnDisconnect);
            session.record_meta();
        }
    }

    /// The access policy in force (clone it to check credentials off the lock).
    pub fn access(&self) -> Arc<dyn AccessControl> {
        self.access.clone()
    }

    /// Puts a new access policy in force, for every check from now on.
    pub fn set_access(&mut self, access: Arc<dyn AccessControl>) {
        self.access = access;
    }

    /// May the session `client_id` read or write `topic`?
    fn may(&self, client_id: &str, topic: &str, access: Access) -> bool {
        let session = self.sessions.get(client_id);
        let client = Client {
            client_id,
            username: session.and_then(|s| s.username.as_deref()),
        };
        self.access.authorize(&client, topic, access)
    }

    /// The figures `$SYS` and the metrics endpoint report. Walks the sessions once
    /// (O(sessions), not O(messages)): call it at the reporting interval, not per packet.
    pub fn figures(&self) -> StateFigures {
        let (queued, queued_bytes) = self
            .sessions
            .iter()
            .map(Session::held)
            .fold((0, 0), |(n, b), (sn, sb)| (n + sn, b + sb));
        StateFigures {
            clients_connected: self.links.len(),
            clients_total: self.sessions.len(),
            clients_maximum: self.clients_maximum,
            subscriptions: self.subscriptions.len(),
            shared_subscriptions: self.subscriptions.shared_len(),
            retained: self.retained.len(),
            messages_dropped: self.messages_dropped,
            clients_expired: self.clients_expired,
            stored_messages: self.retained.len() + queued,
            stored_bytes: self.retained.payload_bytes() + queued_bytes,
        }
    }

    /// Accepts or refuses a CONNECT, taking over any connection with the same identifier.
    pub fn connect(
        &mut self,
        connect: &Connect,
        peer: PeerLimits,
        connection_id: u64,
        signals: Arc<ConnectionSignals>,
        now: Instant,
    ) -> ConnectOutcome {
        let mut assigned_client_id = false;
        let client_id: Arc<str> = if connect.client_id.is_empty() {
            match connect.protocol {
                // MQTT 3.1 requires 1-23 characters; 3.1.1 allows an empty one only with a clean session.
                ProtocolVersion::V31 => {
                    return ConnectOutcome::Refused(ReasonCode::ClientIdentifierNotValid)
                }
                ProtocolVersion::V311 if !connect.clean_start => {
                    return ConnectOutcome::Refused(ReasonCode::ClientIdentifierNotValid)
                }
                _ => {
                    assigned_client_id = true;
                    self.unused_client_id().into()
                }
            }
        } else {
            connect.client_id.as_str().into()
        };

        if let Some(will) = &connect.will {
            if self.too_deep(&will.topic) {
                info!(
                    "{client_id}: refused: its Will Topic has more than {} levels",
                    self.config.max_topic_levels
                );
                return ConnectOutcome::Refused(ReasonCode::TopicNameInvalid);
            }
            let client = Client {
                client_id: &client_id,
                username: connect.username.as_deref(),
            };
            if is_sys(&will.topic) || !self.access.authorize(&client, &will.topic, Access::Write) {
                info!(
                    "{client_id}: refused: it may not write its Will Topic '{}' ($SYS, or the ACL)",
                    will.topic
                );
                return ConnectOutcome::Refused(ReasonCode::NotAuthorized);
            }
        }
        let mut wakes = Wakes::default();
        if let Some(old) = self.links.get(&client_id) {
            // [MQTT-3.1.4-3] the existing connection goes; it did not DISCONNECT, so its
            // Will takes the same path as on any other unannounced end.
            old.signals.kick(ReasonCode::SessionTakenOver);
            let old_id = old.connection_id;
            wakes.extend(self.disconnected(&client_id, old_id, Departure::PublishWill, now));
        }
        // A Will still waiting out its delay: a resumed session cancels it, a clean start
        // ends the old session and so publishes it ([MQTT-3.1.3-9]).
        let pending = self
            .sessions
            .get_mut(&client_id)
            .and_then(|s| s.pending_will.take());
        if let Some((will, _)) = pending.map(|pending| *pending) {
            if connect.clean_start {
                wakes.extend(self.publish_will(&will, &client_id, now));
            }
        }

        let expiry = match connect.protocol {
            ProtocolVersion::V5 => SessionExpiry::from_interval(
                connect.properties.session_expiry_interval.unwrap_or(0),
            ),
            _ if connect.clean_start => SessionExpiry::OnDisconnect,
            _ => SessionExpiry::Never,
        };
        let existing = if connect.clean_start {
            wakes.extend(self.discard_session(&client_id));
            None
        } else {
            self.sessions.get_mut(&client_id)
        };
        let session_present = existing.is_some();
        if !session_present {
            self.sessions.insert(Session::new(
                client_id.clone(),
                expiry,
                self.config.session_limits,
            ));
        }
        let Some(session) = self.sessions.get_mut(&client_id) else {
            return ConnectOutcome::Refused(ReasonCode::ServerUnavailable);
        };
        session.expiry = expiry;
        session.will = connect.will.clone().map(Box::new);
        session.username = connect.username.as_deref().map(Arc::from);
        let resend = session.attach(peer, now);
        session.set_durable(&self.journal, expiry != SessionExpiry::OnDisconnect);
        session.record_meta();
        self.links.insert(
            client_id.clone(),
            Link {
                connection_id,
                signals,
            },
        );
        self.clients_maximum = self.clients_maximum.max(self.links.len());
        ConnectOutcome::Accepted {
            client_id,
            session_present,
            assigned_client_id,
            resend,
            wakes,
        }
    }

    fn unused_client_id(&self) -> String {
        loop {
            let id = format!("mq-{:016x}", fastrand::u64(..));
            if self.sessions.get(&id).is_none() {
                return id;
            }
        }
    }

    /// Ends a session: its subscriptions go, and shared-subscription messages it had not
    /// received move to another member of their group.
    fn discard_session(&mut self, client_id: &str) -> Wakes {
        let Some(mut session) = self.sessions.remove(client_id) else {
            return Wakes::default();
        };
        session.set_durable(&self.journal, false);
        for filter in session.subscriptions.keys() {
            self.subscriptions.remove(filter, client_id);
        }
        self.redistribute(session.take_shared(), client_id)
    }

    /// Hands shared-subscription messages to another member of their group.
    fn redistribute(&mut self, deliveries: Vec<Delivery>, leaving: &str) -> Wakes {
        let mut wakes = Wakes::default();
        for delivery in deliveries {
            let Some(key) = delivery.share.clone() else {
                continue;
            };
            let group = self
                .subscriptions
                .matches(&delivery.message.topic)
                .groups
                .into_iter()
                .find(|g| g.key == key);
            if let Some(mut group) = group {
                group.members.retain(|(id, _)| &**id != leaving);
                self.deliver_to_group(&delivery.message, group, &mut wakes);
            }
        }
        wakes
    }

    /// Tells every connected client's task to go (shutdown).
    pub fn kick_all(&self, reason: ReasonCode) {
        for link in self.links.values() {
            link.signals.kick(reason);
        }
    }

    /// The connection `connection_id` of `client_id` has ended. Nothing happens if another
    /// connection has taken the session over meanwhile.
    pub fn disconnected(
        &mut self,
        client_id: &str,
        connection_id: u64,
        departure: Departure,
        now: Instant,
    ) -> Wakes {
        let mut wakes = Wakes::default();
        match self.links.get(client_id) {
            Some(link) if link.connection_id == connection_id => {}
            _ => return wakes,
        }
        self.links.remove(client_id);
        let Some(session) = self.sessions.get_mut(client_id) else {
            return wakes;
        };
        session.detach(now);
        let will = session
            .will
            .take()
            .filter(|_| departure == Departure::PublishWill);
        let ends = session.expiry == SessionExpiry::OnDisconnect;
        let shared = session.take_shared();
        if let Some(will) = will {
            let delay = will.properties.will_delay_interval.unwrap_or(0);
            if delay == 0 || ends {
                wakes.extend(self.publish_will(&will, client_id, now));
            } else {
                let due = now + std::time::Duration::from_secs(delay.into());
                if let Some(session) = self.sessions.get_mut(client_id) {
                    session.pending_will = Some(Box::new((*will, due)));
                }
            }
        }
        wakes.extend(self.redistribute(shared, client_id));
        if ends {
            wakes.extend(self.discard_session(client_id));
        } else if let Some(session) = self.sessions.get(client_id) {
            session.record_meta();
        }
        wakes
    }

    fn publish_will(&mut self, will: &Will, client_id: &str, now: Instant) -> Wakes {
        let message = Message::from_will(will, Some(client_id.into()), now);
        self.publish(Arc::new(message))
    }

    /// Routes a message to every session with a matching subscription, once per session.
    pub fn publish(&mut self, message: Arc<Message>) -> Wakes {
        let mut wakes = Wakes::default();
        if message.retain {
            self.retained.update(&message);
            // $SYS topics are rewritten every interval and mean nothing after a restart.
            if self.journal.is_enabled() && !message.topic.starts_with("$SYS/") {
                self.journal.push(if message.payload.is_empty() {
                    Change::RetainedCleared(message.topic.clone())
                } else {
                    Change::Retained(message.clone())
                });
            }
        }
        let matches = self.subscriptions.matches(&message.topic);
        for (client_id, found) in matches.sessions {
            if found.no_local && message.origin.as_deref() == Some(&*client_id) {
                continue;
            }
            self.deliver(&message, &client_id, found, None, &mut wakes);
        }
        for group in matches.groups {
            self.deliver_to_group(&message, group, &mut wakes);
        }
        wakes
    }

    /// One member of a shared subscription group gets the message: the next connected one
    /// in turn, or the next one at all when none is connected.
    fn deliver_to_group(&mut self, message: &Arc<Message>, group: GroupMatch, wakes: &mut Wakes) {
        let count = group.members.len();
        if count == 0 {
            return;
        }
        let cursor = self.share_cursors.entry(group.key.clone()).or_insert(0);
        let start = *cursor;
        let chosen = (0..count)
            .map(|offset| (start + offset) % count)
            .find(|&i| self.links.contains_key(&group.members[i].0))
            .unwrap_or(start % count);
        *cursor = (chosen + 1) % count;
        let (client_id, found) = group.members[chosen].clone();
        self.deliver(message, &client_id, found, Some(group.key), wakes)
    }

    fn deliver(
        &mut self,
        message: &Arc<Message>,
        client_id: &Arc<str>,
        found: Match,
        share: Option<Arc<str>>,
        wakes: &mut Wakes,
    ) {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        let client = Client {
            client_id,
            username: session.username.as_deref(),
        };
        if !self.access.authorize(&client, &message.topic, Access::Read)
            && !self.bridges.contains(client_id)
        {
            return;
        }
        let delivery = Delivery {
            message: message.clone(),
            qos: message.qos.min(found.qos),
            // [MQTT-3.3.1-9] forwarded messages carry retain 0 unless Retain As Published.
            retain: message.retain && found.retain_as_published,
            subscription_identifiers: found.subscription_identifiers,
            share,
            seq: 0,
        };
        match session.enqueue(delivery) {
            Enqueued::Queued => {
                if let Some(link) = self.links.get(client_id) {
                    wakes.push(&link.signals);
                }
            }
            Enqueued::Dropped => self.messages_dropped += 1,
            Enqueued::Discarded => {}
        }
    }

    fn is_v5(&self, client_id: &str) -> bool {
        self.sessions
            .get(client_id)
            .is_some_and(|s| s.protocol() == ProtocolVersion::V5)
    }

    /// Handles a PUBLISH from `client_id`; returns the acknowledgement to send, if any.
    /// `receive_maximum` is what the broker told a v5 client in CONNACK; a client with
    /// more QoS 2 messages unreleased gets DISCONNECT 0x93 ([MQTT-3.3.4-9]).
    pub fn client_publish(
        &mut self,
        client_id: &Arc<str>,
        publish: &Publish,
        receive_maximum: Option<u16>,
        now: Instant,
    ) -> Result<(Option<Packet>, Wakes), PublishRefused> {
        // A refused PUBLISH is dropped; 3.1.1 has no way to say so and still gets its
        // acknowledgement, v5 gets the reason: 0x90 for a topic deeper than the broker
        // takes (MQTT 5 section 3.4.2.1), 0x87 when the ACL denies it.
        let refusal = if self.too_deep(&publish.topic) {
            info!(
                "{client_id}: PUBLISH to a topic of more than {} levels refused",
                self.config.max_topic_levels
            );
            Some(ReasonCode::TopicNameInvalid)
        } else if is_sys(&publish.topic) {
            info!(
                "{client_id}: PUBLISH to '{}' refused: the $SYS tree is the broker's",
                publish.topic
            );
            Some(ReasonCode::NotAuthorized)
        } else if !self.may(client_id, &publish.topic, Access::Write) {
            info!(
                "{client_id}: PUBLISH to '{}' denied by the ACL",
                publish.topic
            );
            Some(ReasonCode::NotAuthorized)
        } else {
            None
        };
        let allowed = refusal.is_none();
        if let Some(reason) = refusal {
            if self.is_v5(client_id) {
                return Ok((refused_ack(publish, reason), Wakes::default()));
            }
        }
        // Over --max-memory nothing new is kept, except an empty retained message, which
        // only frees memory. QoS 0 is dropped and counted; v5 QoS 1/2 is refused with 0x97
        // Quota exceeded; a 3.x client cannot be refused one message, so its connection
        // closes unacknowledged and the message comes again once it reconnects.
        let frees_memory = publish.retain && publish.payload.is_empty();
        if allowed && !frees_memory && self.memory.is_exceeded() {
            self.messages_dropped += 1;
            if publish.qos == QoS::AtMostOnce || self.is_v5(client_id) {
                return Ok((
                    refused_ack(publish, ReasonCode::QuotaExceeded),
                    Wakes::default(),
                ));
            }
            return Err(PublishRefused(ReasonCode::QuotaExceeded));
        }
        let route = |state: &mut BrokerState| {
            if !allowed {
                return Wakes::default();
            }
            let payload = state.memory.payload(&publish.topic, &publish.payload);
            let message = Message::with_payload(publish, payload, Some(client_id.clone()), now);
            state.publish(Arc::new(message))
        };
        Ok(match (publish.qos, publish.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => {
                let wakes = route(self);
                (Some(Packet::PubAck(PubResponse::new(id))), wakes)
            }
            (QoS::ExactlyOnce, Some(id)) => {
                let Some(session) = self.sessions.get_mut(client_id) else {
                    return Err(PublishRefused(ReasonCode::UnspecifiedError));
                };
                let limit = receive_maximum.map_or(usize::MAX, usize::from);
                let wakes = match session.on_inbound_qos2(id) {
                    InboundQoS2::New if session.inbound_qos2_len() > limit => {
                        return Err(PublishRefused(ReasonCode::ReceiveMaximumExceeded))
                    }
                    InboundQoS2::New => route(self),
                    InboundQoS2::Duplicate => Wakes::default(),
                };
                (Some(Packet::PubRec(PubResponse::new(id))), wakes)
            }
            _ => (None, route(self)),
        })
    }

    pub fn subscribe(
        &mut self,
        client_id: &Arc<str>,
        subscribe: &Subscribe,
        now: Instant,
    ) -> SubAck {
        let identifier = subscribe
            .properties
            .subscription_identifiers
            .first()
            .copied();
        let mut reason_codes = Vec::with_capacity(subscribe.filters.len());
        for (filter, options) in &subscribe.filters {
            if self.refuses(filter) {
                reason_codes.push(ReasonCode::UnspecifiedError);
                continue;
            }
            let unshared = match SharedFilter::parse(filter) {
                Some(Ok(shared)) => shared.filter,
                _ => filter.as_str(),
            };
            // 0x8F Topic Filter invalid; 3.1.1 clients see 0x80 Failure.
            if self.too_deep(unshared) {
                info!(
                    "{client_id}: SUBSCRIBE to a filter of more than {} levels refused",
                    self.config.max_topic_levels
                );
                reason_codes.push(ReasonCode::TopicFilterInvalid);
                continue;
            }
            // Retained messages are not sent for a shared subscription (MQTT 5 section 4.8.2).
            let shared = SharedFilter::parse(filter).is_some();
            let Some(session) = self.sessions.get_mut(client_id) else {
                reason_codes.push(ReasonCode::UnspecifiedError);
                continue;
            };
            let username = session.username.clone();
            let client = Client {
                client_id,
                username: username.as_deref(),
            };
            // 0x87 Not authorized; 3.1.1 clients see 0x80 Failure.
            if !self.access.authorize_subscription(&client, unshared)
                && !self.bridges.contains(client_id)
            {
                info!("{client_id}: SUBSCRIBE to '{filter}' denied by the ACL");
                reason_codes.push(ReasonCode::NotAuthorized);
                continue;
            }
            // 0x97 Quota exceeded; replacing a subscription the session holds is always allowed.
            if session.subscriptions.len() >= self.config.max_subscriptions_per_client
                && !session.subscriptions.contains_key(filter.as_str())
            {
                info!(
                    "{client_id}: SUBSCRIBE to '{filter}' refused: it holds {} subscriptions already",
                    session.subscriptions.len()
                );
                reason_codes.push(ReasonCode::QuotaExceeded);
                continue;
            }
            let mut options = *options;
            options.qos = options.qos.min(self.config.maximum_qos);
            let is_new = self
                .subscriptions
                .insert(filter, client_id.clone(), options, identifier);
            session.subscribed(filter, options, identifier);
            let send_retained = match options.retain_handling {
                RetainHandling::SendAtSubscribe => true,
                RetainHandling::SendAtSubscribeIfNew => is_new,
                RetainHandling::DoNotSend => false,
            };
            if send_retained && !shared {
                for message in self.retained.matching(filter, now) {
                    if !self.access.authorize(&client, &message.topic, Access::Read)
                        && !self.bridges.contains(client_id)
                    {
                        continue;
                    }
                    let delivery = Delivery {
                        qos: message.qos.min(options.qos),
                        message,
                        retain: true,
                        subscription_identifiers: identifier.into_iter().collect(),
                        share: None,
                        seq: 0,
                    };
                    if session.enqueue(delivery) == Enqueued::Dropped {
                        self.messages_dropped += 1;
                    }
                }
            }
            reason_codes.push(match options.qos {
                QoS::AtMostOnce => ReasonCode::Success,
                QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
                QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
            });
        }
        SubAck {
            packet_id: subscribe.packet_id,
            reason_codes,
            properties: Default::default(),
        }
    }

    /// Does a Topic Name or Topic Filter have more levels than the broker takes?
    fn too_deep(&self, topic: &str) -> bool {
        let limit = self.config.max_topic_levels;
        // N bytes hold at most N + 1 levels: most topics need no counting.
        topic.len() >= limit && topic.bytes().filter(|&b| b == b'/').count() >= limit
    }

    /// Is `filter` on the operator's list of refused subscriptions?
    fn refuses(&self, filter: &str) -> bool {
        self.config
            .refused_filters
            .iter()
            .any(|refused| refused == filter || mq_proto::topic::matches(refused, filter))
    }

    pub fn unsubscribe(&mut self, client_id: &Arc<str>, unsubscribe: &Unsubscribe) -> UnsubAck {
        let reason_codes = unsubscribe
            .filters
            .iter()
            .map(|filter| {
                if let Some(session) = self.sessions.get_mut(client_id) {
                    session.unsubscribed(filter);
                }
                if self.subscriptions.remove(filter, client_id) {
                    ReasonCode::Success
                } else {
                    ReasonCode::NoSubscriptionExisted
                }
            })
            .collect();
        UnsubAck {
            packet_id: unsubscribe.packet_id,
            reason_codes,
            properties: Default::default(),
        }
    }

    pub fn session_mut(&mut self, client_id: &str) -> Option<&mut Session> {
        self.sessions.get_mut(client_id)
    }

    /// PUBREL from the client; answers PUBCOMP.
    pub fn client_pubrel(&mut self, client_id: &str, id: PacketId) -> PubResponse {
        match self.sessions.get_mut(client_id) {
            Some(session) => session.on_pubrel(id),
            None => PubResponse::with_reason(id, ReasonCode::PacketIdentifierNotFound),
        }
    }

    /// Timed work: publishes Wills whose delay has passed and ends offline sessions whose
    /// expiry has passed (publishing their pending Will first).
    pub fn tick(&mut self, now: Instant) -> Wakes {
        // [MQTT-3.1.2-24] a connection silent for 1.5 times its Keep Alive is closed.
        for link in self.links.values() {
            if link.signals.keep_alive_expired(now) {
                link.signals.kick(ReasonCode::KeepAliveTimeout);
            }
        }
        let mut wakes = Wakes::default();
        let Due { wills, expired } = self.sessions.due(now);
        for client_id in wills.iter().chain(&expired) {
            let pending = self.sessions.get_mut(client_id).and_then(|s| {
                let pending = s.pending_will.take();
                s.record_meta();
                pending
            });
            if let Some((will, _)) = pending.map(|pending| *pending) {
                wakes.extend(self.publish_will(&will, client_id, now));
            }
        }
        self.clients_expired += expired.len() as u64;
        for client_id in &expired {
            wakes.extend(self.discard_session(client_id));
        }
        wakes
    }
}
