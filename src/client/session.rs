//! One connection through rumqttc, with MQTT 3.1.1 and 5 behind one set of types.
//!
//! [`connect`] gives a [`Client`] handle (publish, subscribe, ...) and a [`Connection`] to
//! poll for [`Event`]s. Polling after an error reconnects. Unlike plain rumqttc, publishes that
//! were not acknowledged when a connection broke are sent again after a reconnect, even when
//! the new session is clean, so a long `mq pub -l` carries on without losing lines.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5 as m5;
use rumqttc::v5::mqttbytes::QoS as QoS5;

use super::error::{ClientError, Reason};
use super::options::{ConnectOptions, Protocol, QoS};
use super::properties::{PublishProperties, SubscribeProperties};
use super::tls;

/// A message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// MQTT 5 only.
    pub properties: PublishProperties,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    /// Packet Identifier (0 for QoS 0).
    pub pkid: u16,
    /// MQTT 5 properties; `None` when the message carried none (or on MQTT 3.1.1).
    pub properties: Option<PublishProperties>,
}

/// Retain Handling (MQTT 5 subscription option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetainHandling {
    /// 0: send retained messages at every subscribe.
    #[default]
    OnSubscribe,
    /// 1: only when the subscription is new.
    OnNewSubscribe,
    /// 2: never.
    Never,
}

/// One Topic Filter with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub filter: String,
    pub qos: QoS,
    /// MQTT 5: do not send my own publications back.
    pub no_local: bool,
    /// MQTT 5: keep the retain flag as published.
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
}

impl Subscription {
    pub fn new(filter: impl Into<String>, qos: QoS) -> Subscription {
        Subscription {
            filter: filter.into(),
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::OnSubscribe,
        }
    }
}

/// A packet the client wrote, for traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Connect,
    Publish(u16),
    Subscribe(u16),
    Unsubscribe(u16),
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    PingReq,
    PingResp,
    Disconnect,
    /// Waiting for an acknowledgement before the next publish can go.
    AwaitAck(u16),
}

/// What happened on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// CONNACK with success. Comes again after each reconnect.
    Connected {
        session_present: bool,
    },
    Message(Message),
    /// A QoS 1 publish was acknowledged; `reason.is_failure()` when the broker refused it (MQTT 5).
    PubAck {
        pkid: u16,
        reason: Reason,
    },
    /// First half of a QoS 2 acknowledgement; a failure reason ends the exchange.
    PubRec {
        pkid: u16,
        reason: Reason,
    },
    /// A QoS 2 publish was completed.
    PubComp {
        pkid: u16,
        reason: Reason,
    },
    /// One code per filter: 0-2 granted QoS, 0x80 and above refused.
    SubAck {
        pkid: u16,
        codes: Vec<u8>,
        reason_string: Option<String>,
    },
    UnsubAck {
        pkid: u16,
        codes: Vec<u8>,
    },
    PingResp,
    Sent(Sent),
    /// Any other packet, named.
    Other(&'static str),
}

impl Event {
    /// One line for a packet trace (`-d`), in the spirit of mosquitto's debug output.
    pub fn trace(&self, client_id: &str) -> String {
        match self {
            Event::Connected { session_present } => format!(
                "Client {client_id} received CONNACK (session present: {})",
                u8::from(*session_present)
            ),
            Event::Message(m) => format!(
                "Client {client_id} received PUBLISH (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
                u8::from(m.dup),
                m.qos.as_u8(),
                u8::from(m.retain),
                m.pkid,
                m.topic,
                m.payload.len()
            ),
            Event::PubAck { pkid, reason } => {
                format!(
                    "Client {client_id} received PUBACK (Mid: {pkid}, RC:{})",
                    reason.code
                )
            }
            Event::PubRec { pkid, reason } => {
                format!(
                    "Client {client_id} received PUBREC (Mid: {pkid}, RC:{})",
                    reason.code
                )
            }
            Event::PubComp { pkid, reason } => {
                format!(
                    "Client {client_id} received PUBCOMP (Mid: {pkid}, RC:{})",
                    reason.code
                )
            }
            Event::SubAck { pkid, codes, .. } => {
                format!("Client {client_id} received SUBACK (Mid: {pkid}, codes: {codes:?})")
            }
            Event::UnsubAck { pkid, .. } => {
                format!("Client {client_id} received UNSUBACK (Mid: {pkid})")
            }
            Event::PingResp => format!("Client {client_id} received PINGRESP"),
            Event::Other(name) => format!("Client {client_id} received {name}"),
            Event::Sent(sent) => {
                let what = match sent {
                    Sent::Connect => "CONNECT".to_owned(),
                    Sent::Publish(id) => format!("PUBLISH (m{id})"),
                    Sent::Subscribe(id) => format!("SUBSCRIBE (Mid: {id})"),
                    Sent::Unsubscribe(id) => format!("UNSUBSCRIBE (Mid: {id})"),
                    Sent::PubAck(id) => format!("PUBACK (Mid: {id})"),
                    Sent::PubRec(id) => format!("PUBREC (Mid: {id})"),
                    Sent::PubRel(id) => format!("PUBREL (Mid: {id})"),
                    Sent::PubComp(id) => format!("PUBCOMP (Mid: {id})"),
                    Sent::PingReq => "PINGREQ".to_owned(),
                    Sent::PingResp => "PINGRESP".to_owned(),
                    Sent::Disconnect => "DISCONNECT".to_owned(),
                    Sent::AwaitAck(id) => {
                        return format!("Client {client_id} waiting for an ack for m{id}")
                    }
                };
                format!("Client {client_id} sending {what}")
            }
        }
    }
}

#[derive(Clone)]
enum ClientInner {
    V31(super::v31::Handle),
    V3(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

/// A handle to send requests on the connection. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: ClientInner,
}

enum ConnectionInner {
    V31(Box<super::v31::Connection>),
    V3 {
        eventloop: Box<rumqttc::EventLoop>,
        saved: VecDeque<rumqttc::Request>,
    },
    V5 {
        eventloop: Box<rumqttc::v5::EventLoop>,
        saved: VecDeque<rumqttc::v5::Request>,
    },
}

/// The connection's event loop. Poll it continuously; a poll after an error reconnects.
pub struct Connection {
    inner: ConnectionInner,
    addr: String,
    host: String,
    connected: bool,
}

fn qos3(q: QoS) -> rumqttc::QoS {
    match q {
        QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos5(q: QoS) -> QoS5 {
    match q {
        QoS::AtMostOnce => QoS5::AtMostOnce,
        QoS::AtLeastOnce => QoS5::AtLeastOnce,
        QoS::ExactlyOnce => QoS5::ExactlyOnce,
    }
}

fn from_qos3(q: rumqttc::QoS) -> QoS {
    match q {
        rumqttc::QoS::AtMostOnce => QoS::AtMostOnce,
        rumqttc::QoS::AtLeastOnce => QoS::AtLeastOnce,
        rumqttc::QoS::ExactlyOnce => QoS::ExactlyOnce,
    }
}

fn from_qos5(q: QoS5) -> QoS {
    match q {
        QoS5::AtMostOnce => QoS::AtMostOnce,
        QoS5::AtLeastOnce => QoS::AtLeastOnce,
        QoS5::ExactlyOnce => QoS::ExactlyOnce,
    }
}

/// The largest packet MQTT allows; rumqttc's default (10 KiB) would refuse ordinary payloads.
const MAX_PACKET: u32 = 268_435_455;

fn publish_props5(p: &PublishProperties) -> Option<m5::PublishProperties> {
    if p.is_empty() {
        return None;
    }
    Some(m5::PublishProperties {
        payload_format_indicator: p.payload_format_indicator,
        message_expiry_interval: p.message_expiry_interval,
        topic_alias: p.topic_alias,
        response_topic: p.response_topic.clone(),
        correlation_data: p.correlation_data.clone(),
        user_properties: p.user_properties.clone(),
        subscription_identifiers: Vec::new(),
        content_type: p.content_type.clone(),
    })
}

fn from_publish_props5(p: Option<m5::PublishProperties>) -> Option<PublishProperties> {
    let p = p?;
    let props = PublishProperties {
        payload_format_indicator: p.payload_format_indicator,
        message_expiry_interval: p.message_expiry_interval,
        topic_alias: p.topic_alias,
        response_topic: p.response_topic,
        correlation_data: p.correlation_data,
        user_properties: p.user_properties,
        subscription_identifiers: p
            .subscription_identifiers
            .into_iter()
            .map(|id| u32::try_from(id).unwrap_or(u32::MAX))
            .collect(),
        content_type: p.content_type,
    };
    (!props.is_empty()).then_some(props)
}

fn transport(opts: &ConnectOptions) -> Result<rumqttc::Transport, ClientError> {
    let scheme = opts.endpoint.scheme;
    let tls = if scheme.is_tls() {
        let config = tls::client_config(&opts.tls)?;
        Some(rumqttc::TlsConfiguration::Rustls(Arc::new(config)))
    } else {
        None
    };
    Ok(match (scheme.is_websocket(), tls) {
        (false, None) => rumqttc::Transport::Tcp,
        (false, Some(tls)) => rumqttc::Transport::Tls(tls),
        (true, None) => rumqttc::Transport::Ws,
        (true, Some(tls)) => rumqttc::Transport::Wss(tls),
    })
}

fn network_options(opts: &ConnectOptions) -> rumqttc::NetworkOptions {
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(opts.nodelay);
    net.set_connection_timeout(opts.connect_timeout.as_secs().max(1));
    net
}

/// Prepares a connection; nothing touches the network until the first [`Connection::poll`].
pub fn connect(opts: &ConnectOptions) -> Result<(Client, Connection), ClientError> {
    opts.validate()?;
    let transport = transport(opts)?;
    let broker = if opts.endpoint.scheme.is_websocket() {
        opts.endpoint.websocket_url()
    } else {
        opts.endpoint.host.clone()
    };
    let port = opts.endpoint.port;
    let cap = opts.request_capacity.max(1);
    let (client, inner) = match (opts.protocol, opts.bridge) {
        // rumqttc speaks neither MQTT 3.1 nor a bridge's protocol level with bit 0x80.
        (Protocol::V31, _) | (Protocol::V311, true) => {
            let tls = match transport {
                rumqttc::Transport::Tls(rumqttc::TlsConfiguration::Rustls(config)) => Some(config),
                _ => None,
            };
            let (handle, connection) = super::v31::new(opts, tls)?;
            (
                ClientInner::V31(handle),
                ConnectionInner::V31(Box::new(connection)),
            )
        }
        (Protocol::V311, false) => {
            let mut o = rumqttc::MqttOptions::new(opts.client_id.clone(), broker, port);
            o.set_transport(transport)
                .set_keep_alive(Duration::from_secs(u64::from(opts.keep_alive)))
                .set_clean_session(opts.clean_start)
                .set_inflight(opts.max_inflight)
                .set_request_channel_capacity(cap)
                .set_max_packet_size(MAX_PACKET as usize, MAX_PACKET as usize);
            if let Some(user) = &opts.username {
                o.set_credentials(user.clone(), opts.password.clone().unwrap_or_default());
            }
            if let Some(will) = &opts.will {
                o.set_last_will(rumqttc::LastWill::new(
                    will.topic.clone(),
                    will.payload.clone(),
                    qos3(will.qos),
                    will.retain,
                ));
            }
            let (client, mut eventloop) = rumqttc::AsyncClient::new(o, cap);
            eventloop.set_network_options(network_options(opts));
            (
                ClientInner::V3(client),
                ConnectionInner::V3 {
                    eventloop: Box::new(eventloop),
                    saved: VecDeque::new(),
                },
            )
        }
        (Protocol::V5, _) => {
            let mut o = rumqttc::v5::MqttOptions::new(opts.client_id.clone(), broker, port);
            let cp = &opts.properties.connect;
            o.set_transport(transport)
                .set_keep_alive(Duration::from_secs(u64::from(opts.keep_alive)))
                .set_clean_start(opts.clean_start)
                .set_outgoing_inflight_upper_limit(opts.max_inflight)
                .set_request_channel_capacity(cap)
                .set_connection_timeout(opts.connect_timeout.as_secs().max(1))
                .set_network_options(network_options(opts));
            o.set_connect_properties(m5::ConnectProperties {
                session_expiry_interval: opts.session_expiry.or(cp.session_expiry_interval),
                receive_maximum: cp.receive_maximum,
                max_packet_size: Some(cp.maximum_packet_size.unwrap_or(MAX_PACKET)),
                topic_alias_max: cp.topic_alias_maximum,
                request_response_info: cp.request_response_information,
                request_problem_info: cp.request_problem_information,
                user_properties: cp.user_properties.clone(),
                authentication_method: cp.authentication_method.clone(),
                authentication_data: cp.authentication_data.clone(),
            });
            if let Some(user) = &opts.username {
                o.set_credentials(user.clone(), opts.password.clone().unwrap_or_default());
            }
            if let Some(will) = &opts.will {
                let wp = &opts.properties.will;
                let props =
                    (wp.will_delay_interval.is_some() || !wp.publish.is_empty()).then(|| {
                        m5::LastWillProperties {
                            delay_interval: wp.will_delay_interval,
                            payload_format_indicator: wp.publish.payload_format_indicator,
                            message_expiry_interval: wp.publish.message_expiry_interval,
                            content_type: wp.publish.content_type.clone(),
                            response_topic: wp.publish.response_topic.clone(),
                            correlation_data: wp.publish.correlation_data.clone(),
                            user_properties: wp.publish.user_properties.clone(),
                        }
                    });
                o.set_last_will(m5::LastWill::new(
                    will.topic.clone(),
                    will.payload.clone(),
                    qos5(will.qos),
                    will.retain,
                    props,
                ));
            }
            let (client, eventloop) = rumqttc::v5::AsyncClient::new(o, cap);
            (
                ClientInner::V5(client),
                ConnectionInner::V5 {
                    eventloop: Box::new(eventloop),
                    saved: VecDeque::new(),
                },
            )
        }
    };
    Ok((
        Client { inner: client },
        Connection {
            inner,
            addr: opts.endpoint.authority(),
            host: opts.endpoint.host.clone(),
            connected: false,
        },
    ))
}

fn closed() -> ClientError {
    ClientError::ConnectionLost {
        addr: "the broker".into(),
        message: "the connection is closed".into(),
    }
}

impl Client {
    /// Queues a publish without waiting; fails if the request queue is full.
    pub fn try_publish(&self, m: &OutgoingMessage) -> Result<(), ClientError> {
        let result = match &self.inner {
            ClientInner::V31(h) => h.try_send(super::v31::Request::Publish(m.clone())),
            ClientInner::V3(c) => c
                .try_publish(m.topic.clone(), qos3(m.qos), m.retain, m.payload.clone())
                .map_err(|e| e.to_string()),
            ClientInner::V5(c) => match publish_props5(&m.properties) {
                Some(props) => c.try_publish_with_properties(
                    m.topic.clone(),
                    qos5(m.qos),
                    m.retain,
                    m.payload.clone(),
                    props,
                ),
                None => c.try_publish(m.topic.clone(), qos5(m.qos), m.retain, m.payload.clone()),
            }
            .map_err(|e| e.to_string()),
        };
        result.map_err(|message| ClientError::ConnectionLost {
            addr: "the broker".into(),
            message: format!("cannot queue the publish: {message}"),
        })
    }

    /// Queues a publish, waiting for room in the request queue. Keep polling the
    /// [`Connection`] in another task meanwhile.
    pub async fn publish(&self, m: &OutgoingMessage) -> Result<(), ClientError> {
        match &self.inner {
            ClientInner::V31(h) => h
                .send(super::v31::Request::Publish(m.clone()))
                .await
                .map_err(|_| closed()),
            ClientInner::V3(c) => c
                .publish(m.topic.clone(), qos3(m.qos), m.retain, m.payload.clone())
                .await
                .map_err(|_| closed()),
            ClientInner::V5(c) => match publish_props5(&m.properties) {
                Some(props) => c
                    .publish_with_properties(
                        m.topic.clone(),
                        qos5(m.qos),
                        m.retain,
                        m.payload.clone(),
                        props,
                    )
                    .await
                    .map_err(|_| closed()),
                None => c
                    .publish(m.topic.clone(), qos5(m.qos), m.retain, m.payload.clone())
                    .await
                    .map_err(|_| closed()),
            },
        }
    }

    /// Subscribes to all filters in one SUBSCRIBE packet.
    pub async fn subscribe(
        &self,
        subs: &[Subscription],
        props: &SubscribeProperties,
    ) -> Result<(), ClientError> {
        match &self.inner {
            ClientInner::V31(h) => h
                .send(super::v31::Request::Subscribe(subs.to_vec()))
                .await
                .map_err(|_| closed()),
            ClientInner::V3(c) => c
                .subscribe_many(
                    subs.iter()
                        .map(|s| rumqttc::SubscribeFilter::new(s.filter.clone(), qos3(s.qos))),
                )
                .await
                .map_err(|_| closed()),
            ClientInner::V5(c) => {
                let filters: Vec<m5::Filter> = subs
                    .iter()
                    .map(|s| m5::Filter {
                        path: s.filter.clone(),
                        qos: qos5(s.qos),
                        nolocal: s.no_local,
                        preserve_retain: s.retain_as_published,
                        retain_forward_rule: match s.retain_handling {
                            RetainHandling::OnSubscribe => m5::RetainForwardRule::OnEverySubscribe,
                            RetainHandling::OnNewSubscribe => m5::RetainForwardRule::OnNewSubscribe,
                            RetainHandling::Never => m5::RetainForwardRule::Never,
                        },
                    })
                    .collect();
                if props.subscription_identifier.is_some() || !props.user_properties.is_empty() {
                    let props = m5::SubscribeProperties {
                        id: props.subscription_identifier.map(|id| id as usize),
                        user_properties: props.user_properties.clone(),
                    };
                    c.subscribe_many_with_properties(filters, props).await
                } else {
                    c.subscribe_many(filters).await
                }
                .map_err(|_| closed())
            }
        }
    }

    pub async fn unsubscribe(
        &self,
        filter: &str,
        user_properties: &[(String, String)],
    ) -> Result<(), ClientError> {
        match &self.inner {
            ClientInner::V31(h) => h
                .send(super::v31::Request::Unsubscribe(filter.to_owned()))
                .await
                .map_err(|_| closed()),
            ClientInner::V3(c) => c.unsubscribe(filter).await.map_err(|_| closed()),
            ClientInner::V5(c) if !user_properties.is_empty() => {
                let props = m5::UnsubscribeProperties {
                    user_properties: user_properties.to_vec(),
                };
                c.unsubscribe_with_properties(filter, props)
                    .await
                    .map_err(|_| closed())
            }
            ClientInner::V5(c) => c.unsubscribe(filter).await.map_err(|_| closed()),
        }
    }

    /// Queues a DISCONNECT; the connection reports `Event::Sent(Sent::Disconnect)` once written.
    pub async fn disconnect(&self) -> Result<(), ClientError> {
        match &self.inner {
            ClientInner::V31(h) => h
                .send(super::v31::Request::Disconnect)
                .await
                .map_err(|_| closed()),
            ClientInner::V3(c) => c.disconnect().await.map_err(|_| closed()),
            ClientInner::V5(c) => c.disconnect().await.map_err(|_| closed()),
        }
    }
}

impl Connection {
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// `host:port` of the broker, for messages.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The next event. After an error the connection is down; polling again reconnects.
    pub async fn poll(&mut self) -> Result<Event, ClientError> {
        let was_connected = self.connected;
        let result = match &mut self.inner {
            ConnectionInner::V31(connection) => connection.poll().await,
            ConnectionInner::V3 { eventloop, saved } => match eventloop.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(ack))) => {
                    // Publishes that were in flight when the last connection broke go first.
                    while let Some(request) = saved.pop_back() {
                        eventloop.pending.push_front(request);
                    }
                    Ok(Event::Connected {
                        session_present: ack.session_present,
                    })
                }
                Ok(event) => Ok(event3(event)),
                Err(e) => {
                    saved.extend(eventloop.pending.drain(..));
                    Err(self::error3(e, &self.addr, &self.host, was_connected))
                }
            },
            ConnectionInner::V5 { eventloop, saved } => match eventloop.poll().await {
                Ok(rumqttc::v5::Event::Incoming(m5::Packet::ConnAck(ack))) => {
                    while let Some(request) = saved.pop_back() {
                        eventloop.pending.push_front(request);
                    }
                    Ok(Event::Connected {
                        session_present: ack.session_present,
                    })
                }
                Ok(event) => Ok(event5(event)),
                Err(e) => {
                    saved.extend(eventloop.pending.drain(..));
                    Err(self::error5(e, &self.addr, &self.host, was_connected))
                }
            },
        };
        match &result {
            Ok(Event::Connected { .. }) => self.connected = true,
            Err(_) => self.connected = false,
            Ok(_) => {}
        }
        result
    }
}

fn sent3(o: rumqttc::Outgoing) -> Sent {
    use rumqttc::Outgoing as O;
    match o {
        O::Publish(id) => Sent::Publish(id),
        O::Subscribe(id) => Sent::Subscribe(id),
        O::Unsubscribe(id) => Sent::Unsubscribe(id),
        O::PubAck(id) => Sent::PubAck(id),
        O::PubRec(id) => Sent::PubRec(id),
        O::PubRel(id) => Sent::PubRel(id),
        O::PubComp(id) => Sent::PubComp(id),
        O::PingReq => Sent::PingReq,
        O::PingResp => Sent::PingResp,
        O::Disconnect => Sent::Disconnect,
        O::AwaitAck(id) => Sent::AwaitAck(id),
    }
}

fn event3(e: rumqttc::Event) -> Event {
    use rumqttc::Packet as P;
    match e {
        rumqttc::Event::Outgoing(o) => Event::Sent(sent3(o)),
        rumqttc::Event::Incoming(p) => match p {
            P::ConnAck(ack) => Event::Connected {
                session_present: ack.session_present,
            },
            P::Publish(p) => Event::Message(Message {
                topic: String::from_utf8_lossy(p.topic.as_bytes()).into_owned(),
                payload: p.payload,
                qos: from_qos3(p.qos),
                retain: p.retain,
                dup: p.dup,
                pkid: p.pkid,
                properties: None,
            }),
            P::PubAck(a) => Event::PubAck {
                pkid: a.pkid,
                reason: Reason::v5(0),
            },
            P::PubRec(a) => Event::PubRec {
                pkid: a.pkid,
                reason: Reason::v5(0),
            },
            P::PubComp(a) => Event::PubComp {
                pkid: a.pkid,
                reason: Reason::v5(0),
            },
            P::SubAck(a) => Event::SubAck {
                pkid: a.pkid,
                codes: a
                    .return_codes
                    .iter()
                    .map(|c| match c {
                        rumqttc::SubscribeReasonCode::Success(q) => from_qos3(*q).as_u8(),
                        rumqttc::SubscribeReasonCode::Failure => 0x80,
                    })
                    .collect(),
                reason_string: None,
            },
            P::UnsubAck(a) => Event::UnsubAck {
                pkid: a.pkid,
                codes: Vec::new(),
            },
            P::PingResp => Event::PingResp,
            P::Connect(_) => Event::Other("CONNECT"),
            P::PubRel(_) => Event::Other("PUBREL"),
            P::Subscribe(_) => Event::Other("SUBSCRIBE"),
            P::Unsubscribe(_) => Event::Other("UNSUBSCRIBE"),
            P::PingReq => Event::Other("PINGREQ"),
            P::Disconnect => Event::Other("DISCONNECT"),
        },
    }
}

fn event5(e: rumqttc::v5::Event) -> Event {
    use m5::Packet as P;
    match e {
        rumqttc::v5::Event::Outgoing(o) => Event::Sent(sent3(o)),
        rumqttc::v5::Event::Incoming(p) => match p {
            P::ConnAck(ack) => Event::Connected {
                session_present: ack.session_present,
            },
            P::Publish(p) => Event::Message(Message {
                topic: String::from_utf8_lossy(&p.topic).into_owned(),
                payload: p.payload,
                qos: from_qos5(p.qos),
                retain: p.retain,
                dup: p.dup,
                pkid: p.pkid,
                properties: from_publish_props5(p.properties),
            }),
            P::PubAck(a) => Event::PubAck {
                pkid: a.pkid,
                reason: Reason::v5(puback_code(a.reason))
                    .with_string(a.properties.and_then(|p| p.reason_string)),
            },
            P::PubRec(a) => Event::PubRec {
                pkid: a.pkid,
                reason: Reason::v5(pubrec_code(a.reason))
                    .with_string(a.properties.and_then(|p| p.reason_string)),
            },
            P::PubComp(a) => Event::PubComp {
                pkid: a.pkid,
                reason: Reason::v5(match a.reason {
                    m5::PubCompReason::Success => 0,
                    m5::PubCompReason::PacketIdentifierNotFound => 0x92,
                }),
            },
            P::SubAck(a) => Event::SubAck {
                pkid: a.pkid,
                codes: a.return_codes.iter().map(|c| suback_code(*c)).collect(),
                reason_string: a.properties.and_then(|p| p.reason_string),
            },
            P::UnsubAck(a) => Event::UnsubAck {
                pkid: a.pkid,
                codes: a.reasons.iter().map(|r| unsuback_code(*r)).collect(),
            },
            P::PingResp(_) => Event::PingResp,
            P::Disconnect(_) => Event::Other("DISCONNECT"),
            P::Connect(..) => Event::Other("CONNECT"),
            P::PubRel(_) => Event::Other("PUBREL"),
            P::Subscribe(_) => Event::Other("SUBSCRIBE"),
            P::Unsubscribe(_) => Event::Other("UNSUBSCRIBE"),
            P::PingReq(_) => Event::Other("PINGREQ"),
            P::Auth(_) => Event::Other("AUTH"),
        },
    }
}

fn puback_code(r: m5::PubAckReason) -> u8 {
    use m5::PubAckReason as R;
    match r {
        R::Success => 0x00,
        R::NoMatchingSubscribers => 0x10,
        R::UnspecifiedError => 0x80,
        R::ImplementationSpecificError => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicNameInvalid => 0x90,
        R::PacketIdentifierInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
    }
}

fn pubrec_code(r: m5::PubRecReason) -> u8 {
    use m5::PubRecReason as R;
    match r {
        R::Success => 0x00,
        R::NoMatchingSubscribers => 0x10,
        R::UnspecifiedError => 0x80,
        R::ImplementationSpecificError => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicNameInvalid => 0x90,
        R::PacketIdentifierInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
    }
}

fn suback_code(c: m5::SubscribeReasonCode) -> u8 {
    use m5::SubscribeReasonCode as C;
    match c {
        C::Success(q) => from_qos5(q).as_u8(),
        C::Failure | C::Unspecified => 0x80,
        C::ImplementationSpecific => 0x83,
        C::NotAuthorized => 0x87,
        C::TopicFilterInvalid => 0x8F,
        C::PkidInUse => 0x91,
        C::QuotaExceeded => 0x97,
        C::SharedSubscriptionsNotSupported => 0x9E,
        C::SubscriptionIdNotSupported => 0xA1,
        C::WildcardSubscriptionsNotSupported => 0xA2,
    }
}

fn unsuback_code(r: m5::UnsubAckReason) -> u8 {
    use m5::UnsubAckReason as R;
    match r {
        R::Success => 0x00,
        R::NoSubscriptionExisted => 0x11,
        R::UnspecifiedError => 0x80,
        R::ImplementationSpecificError => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicFilterInvalid => 0x8F,
        R::PacketIdentifierInUse => 0x91,
    }
}

fn connack_code5(c: m5::ConnectReturnCode) -> u8 {
    use m5::ConnectReturnCode as C;
    match c {
        C::Success => 0x00,
        C::RefusedProtocolVersion | C::UnsupportedProtocolVersion => 0x84,
        C::BadClientId | C::ClientIdentifierNotValid => 0x85,
        C::ServiceUnavailable | C::ServerUnavailable => 0x88,
        C::UnspecifiedError => 0x80,
        C::MalformedPacket => 0x81,
        C::ProtocolError => 0x82,
        C::ImplementationSpecificError => 0x83,
        C::BadUserNamePassword => 0x86,
        C::NotAuthorized => 0x87,
        C::ServerBusy => 0x89,
        C::Banned => 0x8A,
        C::BadAuthenticationMethod => 0x8C,
        C::TopicNameInvalid => 0x90,
        C::PacketTooLarge => 0x95,
        C::QuotaExceeded => 0x97,
        C::PayloadFormatInvalid => 0x99,
        C::RetainNotSupported => 0x9A,
        C::QoSNotSupported => 0x9B,
        C::UseAnotherServer => 0x9C,
        C::ServerMoved => 0x9D,
        C::ConnectionRateExceeded => 0x9F,
    }
}

/// [`io_error`] for the MQTT 3.1 connection.
pub(crate) fn io_error_pub(
    e: &std::io::Error,
    addr: &str,
    host: &str,
    connected: bool,
) -> ClientError {
    io_error(e, addr, host, connected)
}

/// Reads an I/O error: refused, unresolvable, TLS, or lost.
fn io_error(e: &std::io::Error, addr: &str, host: &str, connected: bool) -> ClientError {
    use std::io::ErrorKind as K;
    if let Some(tls) = tls::find_rustls_error(e) {
        return ClientError::Tls {
            addr: addr.to_owned(),
            failure: tls::classify(tls),
        };
    }
    let text = e.to_string();
    if text.contains("tls handshake eof") {
        return ClientError::Tls {
            addr: addr.to_owned(),
            failure: super::error::TlsFailure::NotTls,
        };
    }
    if text.contains("lookup address") || text.contains("Name or service not known") {
        return ClientError::Resolve {
            host: host.to_owned(),
            message: text,
        };
    }
    match e.kind() {
        K::ConnectionRefused if !connected => ClientError::ConnectionRefused {
            addr: addr.to_owned(),
        },
        K::TimedOut if !connected => ClientError::ConnectTimeout {
            addr: addr.to_owned(),
        },
        K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
            ClientError::ConnectionLost {
                addr: addr.to_owned(),
                message: if connected {
                    "the broker closed the connection".into()
                } else {
                    "the broker closed the connection before answering CONNECT".into()
                },
            }
        }
        _ if connected => ClientError::ConnectionLost {
            addr: addr.to_owned(),
            message: text,
        },
        _ => ClientError::Unreachable {
            addr: addr.to_owned(),
            message: text,
        },
    }
}

fn tls_error(e: &rumqttc::TlsError, addr: &str, host: &str, connected: bool) -> ClientError {
    match e {
        rumqttc::TlsError::TLS(tls) => ClientError::Tls {
            addr: addr.to_owned(),
            failure: tls::classify(tls),
        },
        rumqttc::TlsError::Io(io) => io_error(io, addr, host, connected),
        rumqttc::TlsError::DNSName(_) => {
            ClientError::InvalidOption(format!("{host:?} is not a host name TLS can check"))
        }
        other => ClientError::TlsSetup(other.to_string()),
    }
}

/// A protocol error; before the CONNACK it means the port does not speak plain MQTT.
fn protocol_error(addr: &str, message: String, connected: bool) -> ClientError {
    let addr = addr.to_owned();
    if connected {
        ClientError::Protocol { addr, message }
    } else {
        ClientError::NotMqtt { addr, message }
    }
}

fn lost(addr: &str, message: impl Into<String>) -> ClientError {
    ClientError::ConnectionLost {
        addr: addr.to_owned(),
        message: message.into(),
    }
}

fn websocket_error(
    e: &(dyn std::error::Error + 'static),
    addr: &str,
    host: &str,
    connected: bool,
) -> ClientError {
    if let Some(tls) = tls::find_rustls_error(e) {
        return ClientError::Tls {
            addr: addr.to_owned(),
            failure: tls::classify(tls),
        };
    }
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return io_error(io, addr, host, connected);
        }
        source = err.source();
    }
    ClientError::WebSocket {
        addr: addr.to_owned(),
        message: e.to_string(),
    }
}

fn error3(e: rumqttc::ConnectionError, addr: &str, host: &str, connected: bool) -> ClientError {
    use rumqttc::ConnectionError as E;
    match e {
        E::Io(io) => io_error(&io, addr, host, connected),
        E::Tls(tls) => tls_error(&tls, addr, host, connected),
        E::ConnectionRefused(code) => ClientError::ConnAck(Reason::v3_connack(code as u8)),
        E::NetworkTimeout | E::FlushTimeout if !connected => ClientError::ConnectTimeout {
            addr: addr.to_owned(),
        },
        E::NetworkTimeout | E::FlushTimeout => lost(addr, "timed out"),
        E::MqttState(state) => state3(state, addr, host, connected),
        E::Websocket(ws) => websocket_error(&ws, addr, host, connected),
        E::RequestsDone => lost(addr, "the client stopped"),
        other => protocol_error(addr, other.to_string(), connected),
    }
}

fn state3(e: rumqttc::StateError, addr: &str, host: &str, connected: bool) -> ClientError {
    use rumqttc::StateError as S;
    match e {
        S::Io(io) => io_error(&io, addr, host, connected),
        S::AwaitPingResp => lost(
            addr,
            "the broker stopped answering (no PINGRESP within the keep alive)",
        ),
        S::ConnectionAborted => lost(addr, "the broker closed the connection"),
        S::Deserialization(rumqttc::Error::Io(io)) => io_error(&io, addr, host, connected),
        other => protocol_error(addr, other.to_string(), connected),
    }
}

fn error5(e: rumqttc::v5::ConnectionError, addr: &str, host: &str, connected: bool) -> ClientError {
    use rumqttc::v5::ConnectionError as E;
    match e {
        E::Io(io) => io_error(&io, addr, host, connected),
        E::Tls(tls) => tls_error(&tls, addr, host, connected),
        E::ConnectionRefused(code) => ClientError::ConnAck(Reason::v5(connack_code5(code))),
        E::Timeout(_) if !connected => ClientError::ConnectTimeout {
            addr: addr.to_owned(),
        },
        E::Timeout(_) => lost(addr, "timed out"),
        E::MqttState(state) => state5(state, addr, host, connected),
        E::Websocket(ws) => websocket_error(&ws, addr, host, connected),
        E::RequestsDone => lost(addr, "the client stopped"),
        other => protocol_error(addr, other.to_string(), connected),
    }
}

fn state5(e: rumqttc::v5::StateError, addr: &str, host: &str, connected: bool) -> ClientError {
    use rumqttc::v5::StateError as S;
    match e {
        S::Io(io) => io_error(&io, addr, host, connected),
        S::AwaitPingResp => lost(
            addr,
            "the broker stopped answering (no PINGRESP within the keep alive)",
        ),
        S::ConnectionAborted => lost(addr, "the broker closed the connection"),
        S::ServerDisconnect {
            reason_code,
            reason_string,
        } => {
            ClientError::ServerDisconnect(Reason::v5(reason_code as u8).with_string(reason_string))
        }
        S::ConnFail { reason } => ClientError::ConnAck(Reason::v5(connack_code5(reason))),
        S::Deserialization(rumqttc::v5::mqttbytes::Error::Io(io)) => {
            io_error(&io, addr, host, connected)
        }
        S::Deserialization(rumqttc::v5::mqttbytes::Error::InvalidConnectReturnCode(code)) => {
            // rumqttc rejects acknowledgement codes it does not know (Mosquitto answers an
            // oversized publish with 0x95 in PUBACK); report the code itself.
            ClientError::UnreadableReason {
                reason: Reason::v5(code),
            }
        }
        other => protocol_error(addr, other.to_string(), connected),
    }
}

/// What a driven connection reports.
#[derive(Debug)]
pub enum Update {
    Event(Event),
    /// The connection broke; it is tried again after `retry_in`.
    Lost {
        error: ClientError,
        retry_in: Duration,
    },
    /// The connection failed for good; nothing follows.
    Failed(ClientError),
}

/// Polls the connection on its own task and sends what happens. With `reconnect`, a connection
/// that was up once is tried again with backoff after transient errors (network, broker gone);
/// a first connection that fails, or any error that a retry cannot fix, ends it with `Failed`.
/// Dropping the receiver stops the task at its next event.
pub fn drive(
    mut connection: Connection,
    reconnect: bool,
    mut backoff: super::Backoff,
) -> tokio::sync::mpsc::Receiver<Update> {
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(async move {
        let mut ever_connected = false;
        loop {
            match connection.poll().await {
                Ok(event) => {
                    if matches!(event, Event::Connected { .. }) {
                        ever_connected = true;
                        backoff.reset();
                    }
                    if tx.send(Update::Event(event)).await.is_err() {
                        return;
                    }
                }
                Err(error) if reconnect && ever_connected && error.is_transient() => {
                    let retry_in = backoff.next_delay();
                    if tx.send(Update::Lost { error, retry_in }).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(retry_in).await;
                }
                Err(error) => {
                    let _ = tx.send(Update::Failed(error)).await;
                    return;
                }
            }
        }
    });
    rx
}
