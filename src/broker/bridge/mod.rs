//! Bridges: the broker as a client of another broker, forwarding topics in, out or both ways
//! with Mosquitto's bridge semantics. Settings come from the config file (`[[bridge]]` in
//! mq.toml, `connection NAME` blocks in a mosquitto.conf).
//!
//! One task per bridge ([`run`]), started by `Broker::run` and stopped with it. Its local
//! side is a session in `BrokerState` ([`local::Local`]); its remote side is a connection
//! of the client layer (`crate::client`, the one `mq pub` and `mq sub` use). Loops are
//! prevented on both sides: the local session's subscriptions are No Local, and the remote
//! is told we are a bridge (protocol level | 0x80 on MQTT 3.x, No Local subscriptions on
//! MQTT 5), so neither side hands a message back to the side it came from.

mod addresses;
mod config;
mod local;
mod topics;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mq_proto::{PacketId, Properties, ReasonCode, RetainHandling};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use addresses::Addresses;
pub use config::{
    BridgeAddress, BridgeConfig, BridgeConfigError, BridgeDirection, BridgeProtocol, BridgeTls,
    BridgeTopic,
};
pub use topics::TopicError;
use topics::{local_name, remote_name};

use super::Shared;
use crate::client::{
    self, Backoff, ClientError, ConnectOptions, Endpoint, Event, OutgoingMessage, Protocol,
    PublishProperties, Scheme, Sent, Subscription, TlsOptions, Update, Will,
};
use local::Local;

/// Messages taken from the local session at a time.
const BATCH: usize = 64;
/// How often a bridge on a secondary address checks whether the first one is back
/// (Mosquitto waits 5 s; a TCP connect to a down host costs little, so sooner is kinder).
const PRIMARY_CHECK: Duration = Duration::from_secs(2);

/// Runs one bridge until `shutdown`.
pub(crate) async fn run(shared: Arc<Shared>, bridge: BridgeConfig, shutdown: CancellationToken) {
    let bridge = Arc::new(bridge);
    let mut local = Local::attach(shared.clone(), bridge.clone());
    local.notify_state(false);
    let mut addresses = Addresses::new(bridge.addresses.len(), bridge.round_robin);
    let mut backoff = Backoff::new(
        bridge.restart_base,
        bridge.restart_cap.max(bridge.restart_base),
    );
    let mut try_private = bridge.try_private;
    let mut linked_before = false;
    loop {
        if bridge.clean_session && linked_before {
            // A clean bridge session starts afresh at each connect, here as there: what
            // queued for the remote while it was away is dropped (Mosquitto's
            // local_cleansession, which follows cleansession).
            local = Local::attach(shared.clone(), bridge.clone());
        }
        let options = connect_options(&bridge, &addresses, try_private, &shared);
        let end = link(&local, &bridge, &addresses, options, &shutdown).await;
        match end {
            LinkEnd::Shutdown => break,
            LinkEnd::PrimaryBack => {
                info!(
                    "bridge {}: the first address is back; moving to it",
                    bridge.name
                );
                local.notify_state(false);
                addresses.primary_is_back();
                linked_before = true;
                continue;
            }
            LinkEnd::Kicked => {
                warn!(
                    "bridge {}: a client connected with the bridge's local client id {}; taking it back",
                    bridge.name,
                    bridge.local_client_id()
                );
                local.notify_state(false);
                local = Local::attach(shared.clone(), bridge.clone());
                continue;
            }
            LinkEnd::Lost { connected, error } => {
                if connected {
                    backoff.reset();
                    local.notify_state(false);
                    linked_before = true;
                }
                if try_private && refuses_bridge_flag(&error, bridge.protocol) {
                    info!(
                        "bridge {}: the remote refused the bridge flag in the protocol level; trying without it",
                        bridge.name
                    );
                    try_private = false;
                }
                addresses.failed();
            }
        }
        let delay = backoff.next_delay();
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    local.detach();
}

/// A CONNACK refusing the protocol version: what a broker that does not know the bridge
/// bit answers (Mosquitto then drops `try_private` for the next attempts).
fn refuses_bridge_flag(error: &Option<ClientError>, protocol: BridgeProtocol) -> bool {
    protocol != BridgeProtocol::V5
        && matches!(error, Some(ClientError::ConnAck(reason)) if reason.v3_code == Some(1))
}

/// The client-layer options for the current address.
fn connect_options(
    bridge: &BridgeConfig,
    addresses: &Addresses,
    try_private: bool,
    shared: &Shared,
) -> ConnectOptions {
    let address = &bridge.addresses[addresses.current()];
    let scheme = if bridge.tls.is_some() {
        Scheme::Mqtts
    } else {
        Scheme::Mqtt
    };
    let endpoint = Endpoint::new(scheme, address.host.clone(), address.port);
    let mut options = ConnectOptions::new(endpoint, bridge.remote_client_id.clone());
    if let Some(tls) = &bridge.tls {
        options.tls = TlsOptions {
            cafile: tls.cafile.clone(),
            capath: tls.capath.clone(),
            cert: tls.certfile.clone(),
            key: tls.keyfile.clone(),
            insecure: tls.insecure,
            ..TlsOptions::default()
        };
    }
    options.protocol = match bridge.protocol {
        BridgeProtocol::V31 => Protocol::V31,
        BridgeProtocol::V311 => Protocol::V311,
        BridgeProtocol::V5 => Protocol::V5,
    };
    options.bridge = try_private && bridge.protocol != BridgeProtocol::V5;
    options.keep_alive = u16::try_from(bridge.keep_alive.as_secs()).unwrap_or(u16::MAX);
    options.clean_start = bridge.clean_session;
    if bridge.protocol == BridgeProtocol::V5 && !bridge.clean_session {
        options.session_expiry = Some(u32::MAX);
    }
    options.username = bridge.remote_username.clone();
    options.password = bridge.remote_password.clone();
    if bridge.notifications {
        options.will = Some(Will {
            topic: bridge.notification_topic.clone(),
            payload: Bytes::from_static(b"0"),
            qos: client::QoS::AtLeastOnce,
            retain: true,
        });
    }
    options.max_inflight = shared.config.session_limits.max_inflight.max(1);
    options
}

enum LinkEnd {
    Shutdown,
    Lost {
        connected: bool,
        error: Option<ClientError>,
    },
    /// Connected to a secondary address, and the first one answers again.
    PrimaryBack,
    /// A client took the bridge's local session over.
    Kicked,
}

/// QoS 1/2 messages on their way to the remote, tied to the local Packet Identifiers
/// they were taken under, so the remote's acknowledgements complete the local ones.
#[derive(Default)]
struct InFlight {
    /// Handed to the client layer, waiting for the Packet Identifier it gives them
    /// (`None` for the bridge's own notification).
    unnumbered: VecDeque<Option<PacketId>>,
    /// Remote Packet Identifier to local one.
    remote: HashMap<u16, PacketId>,
}

impl InFlight {
    fn numbered(&mut self, remote_id: u16) {
        if let Some(Some(local_id)) = self.unnumbered.pop_front() {
            self.remote.insert(remote_id, local_id);
        }
    }
}

/// One connection to one remote address, from CONNECT until it ends.
async fn link(
    local: &Local,
    bridge: &BridgeConfig,
    addresses: &Addresses,
    options: ConnectOptions,
    shutdown: &CancellationToken,
) -> LinkEnd {
    let address = options.endpoint.to_string();
    let v5 = options.protocol == Protocol::V5;
    let (client, connection) = match client::connect(&options) {
        Ok(pair) => pair,
        Err(error) => {
            warn!("bridge {}: {address}: {error}", bridge.name);
            return LinkEnd::Lost {
                connected: false,
                error: Some(error),
            };
        }
    };
    info!("bridge {}: connecting to {address}", bridge.name);
    let mut updates = client::drive(connection, false, Backoff::default());
    let mut connected = false;
    let mut pull = false;
    let mut outbox: VecDeque<(Option<PacketId>, OutgoingMessage)> = VecDeque::new();
    let mut in_flight = InFlight::default();
    let primary = &bridge.addresses[0];
    let mut primary_check = tokio::time::interval(PRIMARY_CHECK);
    primary_check.tick().await;
    loop {
        if connected && pull && outbox.is_empty() {
            let batch = local.pull(BATCH);
            pull = batch.len() == BATCH;
            outbox.extend(
                batch
                    .into_iter()
                    .map(|p| (p.packet_id, outgoing(&bridge.topics, p, v5))),
            );
        }
        let next = outbox.front().map(|(_, message)| message.clone());
        tokio::select! {
            // Shutdown first: it also kicks the local session, and is no takeover.
            biased;
            _ = shutdown.cancelled() => {
                if connected {
                    say_goodbye(&client, bridge, &mut updates).await;
                }
                return LinkEnd::Shutdown;
            }
            _ = local.signals.kicked() => return LinkEnd::Kicked,
            update = updates.recv() => {
                let event = match update {
                    Some(Update::Event(event)) => event,
                    Some(Update::Lost { error, .. } | Update::Failed(error)) => {
                        warn!("bridge {}: {address}: {error}", bridge.name);
                        return LinkEnd::Lost { connected, error: Some(error) };
                    }
                    None => return LinkEnd::Lost { connected, error: None },
                };
                match event {
                    Event::Connected { .. } => {
                        info!("bridge {}: connected to {address}", bridge.name);
                        connected = true;
                        if let Err(error) = start(&client, local, bridge, &mut in_flight).await {
                            return LinkEnd::Lost { connected, error: Some(error) };
                        }
                        outbox.extend(
                            local
                                .resend()
                                .into_iter()
                                .map(|p| (p.packet_id, outgoing(&bridge.topics, p, v5))),
                        );
                        pull = true;
                    }
                    Event::Message(message) => {
                        let topic = local_name(&bridge.topics, &message.topic);
                        let properties = message.properties.map(local_properties).unwrap_or_default();
                        local.publish(&topic, message.payload, proto_qos(message.qos), message.retain, properties);
                    }
                    Event::Sent(Sent::Publish(remote_id)) if remote_id != 0 => in_flight.numbered(remote_id),
                    Event::PubAck { pkid, .. } => {
                        if let Some(id) = in_flight.remote.remove(&pkid) {
                            local.puback(id);
                            pull = true;
                        }
                    }
                    Event::PubRec { pkid, reason } => {
                        if let Some(&id) = in_flight.remote.get(&pkid) {
                            let reason = ReasonCode::from_u8(reason.code).unwrap_or(ReasonCode::Success);
                            if reason.is_error() {
                                in_flight.remote.remove(&pkid);
                                pull = true;
                            }
                            local.pubrec(id, reason);
                        }
                    }
                    Event::PubComp { pkid, .. } => {
                        if let Some(id) = in_flight.remote.remove(&pkid) {
                            local.pubcomp(id);
                            pull = true;
                        }
                    }
                    Event::SubAck { codes, .. } => {
                        if codes.iter().any(|c| *c >= 0x80) {
                            warn!("bridge {}: {address} refused some incoming topics (codes {codes:?})", bridge.name);
                        }
                        local.notify_state(true);
                    }
                    _ => {}
                }
            }
            _ = local.signals.woken() => pull = true,
            sent = async {
                match &next {
                    Some(message) => client.publish(message).await,
                    None => std::future::pending().await,
                }
            }, if next.is_some() => {
                if let Err(error) = sent {
                    return LinkEnd::Lost { connected, error: Some(error) };
                }
                if let Some((local_id, message)) = outbox.pop_front() {
                    if message.qos != client::QoS::AtMostOnce {
                        in_flight.unnumbered.push_back(local_id);
                    }
                }
            }
            _ = primary_check.tick(), if connected && addresses.watches_primary() => {
                let probe = tokio::net::TcpStream::connect((primary.host.as_str(), primary.port));
                if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), probe).await {
                    return LinkEnd::PrimaryBack;
                }
            }
        }
    }
}

/// What a fresh link does once connected, as Mosquitto's `bridge__on_connect`: tell both
/// sides the link is up (here: after the SUBACK when there is a SUBSCRIBE), subscribe to the incoming topics there (and drop outgoing-only
/// ones a persistent remote session may still hold), and queue the retained messages of
/// the outgoing topics.
async fn start(
    client: &client::Client,
    local: &Local,
    bridge: &BridgeConfig,
    in_flight: &mut InFlight,
) -> Result<(), ClientError> {
    if bridge.notifications {
        client
            .publish(&OutgoingMessage {
                topic: bridge.notification_topic.clone(),
                payload: Bytes::from_static(b"1"),
                qos: client::QoS::AtLeastOnce,
                retain: true,
                properties: PublishProperties::default(),
            })
            .await?;
        in_flight.unnumbered.push_back(None);
    }
    let incoming: Vec<Subscription> = bridge
        .topics
        .iter()
        .filter(|t| t.is_in())
        .map(|t| Subscription {
            filter: t.remote_filter(),
            qos: client_qos(t.qos),
            // MQTT 5: what the bridge publishes there must not come back to it.
            no_local: true,
            retain_as_published: true,
            retain_handling: client::RetainHandling::OnSubscribe,
        })
        .collect();
    if incoming.is_empty() {
        local.notify_state(true);
    } else {
        // The link is announced up here once the remote has acknowledged the
        // subscriptions (SUBACK), so whoever waits for `1` can rely on them.
        client.subscribe(&incoming, &Default::default()).await?;
    }
    for topic in bridge.topics.iter().filter(|t| !t.is_in()) {
        let filter = topic.remote_filter();
        if !incoming.iter().any(|s| s.filter == filter) {
            client.unsubscribe(&filter, &[]).await?;
        }
    }
    local.subscribe(RetainHandling::SendAtSubscribe);
    Ok(())
}

/// On shutdown: tell the remote the link is down, then DISCONNECT (which discards the
/// Will), waiting a moment for both to be written.
async fn say_goodbye(
    client: &client::Client,
    bridge: &BridgeConfig,
    updates: &mut tokio::sync::mpsc::Receiver<Update>,
) {
    let goodbye = async {
        if bridge.notifications {
            let down = OutgoingMessage {
                topic: bridge.notification_topic.clone(),
                payload: Bytes::from_static(b"0"),
                qos: client::QoS::AtLeastOnce,
                retain: true,
                properties: PublishProperties::default(),
            };
            client.publish(&down).await?;
        }
        client.disconnect().await?;
        while let Some(update) = updates.recv().await {
            if let Update::Event(Event::Sent(Sent::Disconnect)) = update {
                break;
            }
        }
        Ok::<(), ClientError>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), goodbye).await;
}

/// A message taken from the local session, as it goes to the remote.
fn outgoing(topics: &[BridgeTopic], publish: mq_proto::Publish, v5: bool) -> OutgoingMessage {
    let properties = if v5 {
        let p = publish.properties;
        PublishProperties {
            payload_format_indicator: p.payload_format_indicator,
            message_expiry_interval: p.message_expiry_interval,
            response_topic: p.response_topic,
            correlation_data: p.correlation_data,
            user_properties: p.user_properties,
            content_type: p.content_type,
            ..PublishProperties::default()
        }
    } else {
        PublishProperties::default()
    };
    OutgoingMessage {
        topic: remote_name(topics, &publish.topic),
        payload: publish.payload,
        qos: client_qos(publish.qos),
        retain: publish.retain,
        properties,
    }
}

/// The application properties of a message from the remote (MQTT 5).
fn local_properties(p: PublishProperties) -> Properties {
    Properties {
        payload_format_indicator: p.payload_format_indicator,
        message_expiry_interval: p.message_expiry_interval,
        content_type: p.content_type,
        response_topic: p.response_topic,
        correlation_data: p.correlation_data,
        user_properties: p.user_properties,
        ..Properties::default()
    }
}

fn client_qos(qos: mq_proto::QoS) -> client::QoS {
    match qos {
        mq_proto::QoS::AtMostOnce => client::QoS::AtMostOnce,
        mq_proto::QoS::AtLeastOnce => client::QoS::AtLeastOnce,
        mq_proto::QoS::ExactlyOnce => client::QoS::ExactlyOnce,
    }
}

fn proto_qos(qos: client::QoS) -> mq_proto::QoS {
    match qos {
        client::QoS::AtMostOnce => mq_proto::QoS::AtMostOnce,
        client::QoS::AtLeastOnce => mq_proto::QoS::AtLeastOnce,
        client::QoS::ExactlyOnce => mq_proto::QoS::ExactlyOnce,
    }
}
