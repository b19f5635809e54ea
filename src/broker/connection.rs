//! One task per network connection: it alone reads and writes its socket. It decodes
//! packets with the strict codec, applies them to the shared state under the lock, and
//! writes what the state hands back. Nothing here awaits while holding the lock.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, trace, warn};

use base64::Engine;
use mq_proto::{
    topic::SharedFilter, Auth, ByteString, Bytes, Codec, ConnAck, Connect, DecodeError, Disconnect,
    Packet, PacketId, Properties, ProtocolVersion, Publish, QoS, ReasonCode,
    PROTOCOL_MAX_PACKET_SIZE,
};

use super::auth::{self, scram};
use super::session::{Awaiting, PeerLimits, Session, SessionExpiry};
use super::signals::ConnectionSignals;
use super::state::{BrokerState, ConnectOutcome, Departure};
use super::stats::Stats;
use super::Shared;

/// Stop filling the write buffer past this; the rest waits for the next round.
const WRITE_BATCH_BYTES: usize = 64 * 1024;
/// Read at most this much at a time; packets larger than this arrive over several reads.
const READ_CHUNK: usize = 16 * 1024;
/// After the broker ends a connection it keeps reading (and discarding) this long, so the
/// peer can still read the final CONNACK or DISCONNECT instead of getting a reset.
const CLOSE_LINGER: Duration = Duration::from_millis(500);
/// With `--persistence sync`, at most this many packets wait for the store before the task
/// stops reading from the client (backpressure instead of an unbounded backlog).
const MAX_HELD: usize = 1024;

/// Why a connection ends.
#[derive(Debug)]
enum Close {
    /// The client sent DISCONNECT.
    ClientDisconnect(Departure),
    /// The socket closed or failed without DISCONNECT.
    Lost,
    ProtocolError(DecodeError),
    /// A v5 rule broken above the codec, with the reason the client is told.
    Refused(ReasonCode, &'static str),
    KeepAliveTimeout,
    /// Another connection took the session, or the broker is shutting down.
    Kicked(ReasonCode),
}

impl Close {
    fn departure(&self) -> Departure {
        match self {
            Close::ClientDisconnect(departure) => *departure,
            // The Will of a taken-over session was already published by the takeover.
            Close::Kicked(_) => Departure::Graceful,
            _ => Departure::PublishWill,
        }
    }

    fn reason_code(&self) -> Option<ReasonCode> {
        match self {
            Close::ProtocolError(e) => Some(e.reason_code()),
            Close::Refused(code, _) => Some(*code),
            Close::KeepAliveTimeout => Some(ReasonCode::KeepAliveTimeout),
            Close::Kicked(code) => Some(*code),
            Close::ClientDisconnect(_) | Close::Lost => None,
        }
    }
}

struct Connection<S> {
    shared: Arc<Shared>,
    stream: S,
    peer: SocketAddr,
    connection_id: u64,
    codec: Codec,
    read_buf: BytesMut,
    write_buf: BytesMut,
    aliases: TopicAliases,
    /// The user name the client's TLS certificate gives (`use_identity_as_username`,
    /// `use_subject_as_username`); it replaces the one in CONNECT.
    identity: Option<String>,
    /// Packets waiting for the store to commit the changes they acknowledge, each with its
    /// journal ticket, in the order they are to be sent.
    held: VecDeque<(u64, Packet)>,
    /// PUBACKs and PUBCOMPs read but not yet applied: they answer nothing, so the ones
    /// of one read are applied under one lock, before any other packet is handled.
    acks: Vec<(PacketId, Awaiting)>,
}

/// Topic Aliases live as long as one network connection (MQTT 5 section 3.3.2.3.4).
#[derive(Debug, Default)]
struct TopicAliases {
    /// Set by the client, up to the broker's Topic Alias Maximum.
    inbound: HashMap<u16, ByteString>,
    /// Chosen by the broker, up to the client's Topic Alias Maximum.
    outbound: HashMap<ByteString, u16>,
    outbound_maximum: u16,
}

impl TopicAliases {
    /// Replaces a full topic the client has an alias for by the alias, and hands out new
    /// aliases while the client allows more.
    fn apply_outbound(&mut self, publish: &mut Publish) {
        if self.outbound_maximum == 0 {
            return;
        }
        if let Some(alias) = self.outbound.get(&publish.topic) {
            publish.properties.topic_alias = Some(*alias);
            publish.topic = ByteString::new();
        } else if self.outbound.len() < usize::from(self.outbound_maximum) {
            let alias = self.outbound.len() as u16 + 1;
            self.outbound.insert(publish.topic.clone(), alias);
            publish.properties.topic_alias = Some(alias);
        }
    }
}

/// Serves one accepted connection until it closes.
pub(crate) async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    identity: Option<String>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let connection_id = shared.next_connection_id();
    let max_packet_size = shared.config.max_packet_size;
    let mut connection = Connection {
        shared,
        stream,
        peer,
        connection_id,
        codec: Codec::server(max_packet_size),
        read_buf: BytesMut::new(),
        write_buf: BytesMut::new(),
        aliases: TopicAliases::default(),
        identity,
        held: VecDeque::new(),
        acks: Vec::new(),
    };
    let connect_timeout = connection.shared.config.connect_timeout;
    let connect = tokio::select! {
        _ = shutdown.cancelled() => return,
        result = tokio::time::timeout(connect_timeout, connection.read_connect()) => match result {
            Ok(Ok(connect)) => connect,
            Ok(Err(close)) => {
                debug!(%peer, ?close, "connection closed before CONNECT completed");
                return connection.refuse_connect(close).await;
            }
            Err(_) => {
                debug!(%peer, "no CONNECT within {connect_timeout:?}; closing");
                return;
            }
        },
    };
    connection.run_session(*connect, shutdown).await;
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Reads until one whole packet has arrived; the codec insists the first is CONNECT.
    async fn read_connect(&mut self) -> Result<Box<Connect>, Close> {
        match self.read_packet().await? {
            Packet::Connect(connect) => Ok(connect),
            other => Err(Close::Refused(ReasonCode::ProtocolError, other.name())),
        }
    }

    /// Reads until the next whole packet has arrived.
    async fn read_packet(&mut self) -> Result<Packet, Close> {
        loop {
            match self.codec.decode(&mut self.read_buf) {
                Ok(Some(packet)) => return Ok(packet),
                Ok(None) => {}
                Err(e) => return Err(Close::ProtocolError(e)),
            }
            if !self.read_more().await? {
                return Err(Close::Lost);
            }
        }
    }

    /// MQTT 5 enhanced authentication (section 4.12) with SCRAM-SHA-256: AUTH 0x18 with
    /// the server's first message, the client's final message back, and the server's proof
    /// for CONNACK. Runs under the connect timeout.
    async fn enhanced_auth(
        &mut self,
        method: &str,
        connect: &Connect,
    ) -> Result<Bytes, ReasonCode> {
        if method != scram::METHOD {
            return Err(ReasonCode::BadAuthenticationMethod);
        }
        let data = connect
            .properties
            .authentication_data
            .clone()
            .unwrap_or_default();
        let first = scram::ClientFirst::parse(&data).map_err(|_| ReasonCode::ProtocolError)?;
        if connect
            .username
            .as_ref()
            .is_some_and(|u| *u != first.username)
        {
            return Err(ReasonCode::BadUserNameOrPassword);
        }
        let access = self.shared.state.lock().access();
        let credentials = access
            .scram_credentials(&first.username)
            .ok_or(ReasonCode::BadUserNameOrPassword)?;
        let mut nonce = [0u8; 18];
        getrandom::getrandom(&mut nonce).map_err(|_| ReasonCode::ServerUnavailable)?;
        let nonce = base64::engine::general_purpose::STANDARD.encode(nonce);
        let (exchange, server_first) = scram::ServerExchange::start(&first, credentials, &nonce);
        self.send(&Packet::Auth(Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: Properties {
                authentication_method: Some(method.to_string()),
                authentication_data: Some(Bytes::from(server_first)),
                ..Properties::default()
            },
        }));
        self.flush()
            .await
            .map_err(|_| ReasonCode::UnspecifiedError)?;
        let reply = match self.read_packet().await {
            Ok(Packet::Auth(reply)) => reply,
            _ => return Err(ReasonCode::ProtocolError),
        };
        if reply.reason_code != ReasonCode::ContinueAuthentication
            || reply.properties.authentication_method.as_deref() != Some(method)
        {
            return Err(ReasonCode::ProtocolError);
        }
        let client_final = reply.properties.authentication_data.unwrap_or_default();
        match exchange.finish(&client_final) {
            Ok(server_final) => Ok(Bytes::from(server_final)),
            Err(scram::ScramError::WrongProof) => {
                let now = std::time::Instant::now();
                self.shared
                    .auth_failures
                    .record_failure(self.peer.ip(), now);
                Err(ReasonCode::BadUserNameOrPassword)
            }
            Err(_) => Err(ReasonCode::ProtocolError),
        }
    }

    /// Reads what the socket has, reserving no more than the pending packet needs.
    /// Returns false at end of stream.
    async fn read_more(&mut self) -> Result<bool, Close> {
        let needed = self.codec.bytes_needed(&self.read_buf).unwrap_or(0);
        self.read_buf.reserve(needed.clamp(512, READ_CHUNK));
        match self.stream.read_buf(&mut self.read_buf).await {
            Ok(0) => Ok(false),
            Ok(n) => {
                Stats::add(&self.shared.stats.bytes_received, n as u64);
                Ok(true)
            }
            Err(e) => {
                debug!(peer = %self.peer, "read failed: {e}");
                Err(Close::Lost)
            }
        }
    }

    async fn flush(&mut self) -> Result<(), Close> {
        if self.write_buf.is_empty() {
            return Ok(());
        }
        // TLS and WebSocket streams hold written bytes until flushed; TCP's flush is free.
        let result = match self.stream.write_all(&self.write_buf).await {
            Ok(()) => self.stream.flush().await,
            Err(e) => Err(e),
        };
        Stats::add(&self.shared.stats.bytes_sent, self.write_buf.len() as u64);
        self.write_buf.clear();
        // Give back a buffer grown by a burst rather than keep it for an idle connection.
        if self.write_buf.capacity() > 4 * WRITE_BATCH_BYTES {
            self.write_buf = BytesMut::new();
        }
        result.map_err(|e| {
            debug!(peer = %self.peer, "write failed: {e}");
            Close::Lost
        })
    }

    /// Sends FIN, then drains what the peer still sends until it closes or the linger
    /// time ends: closing with unread data would reset the connection and could destroy
    /// the last packet before the peer reads it.
    async fn close_lingering(&mut self) {
        let _ = self.stream.shutdown().await;
        let mut sink = [0u8; 1024];
        let drain = async {
            while let Ok(n) = self.stream.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_LINGER, drain).await;
    }

    fn send(&mut self, packet: &Packet) {
        self.codec.encode(packet, &mut self.write_buf);
    }

    /// How far the store has committed the journal; everything, without sync persistence.
    fn committed(&self) -> u64 {
        self.shared
            .committed
            .as_ref()
            .map_or(u64::MAX, |committed| *committed.borrow())
    }

    /// Sends `packet` once the store has committed the journal up to `ticket`, and after
    /// every packet held before it: an acknowledgement never overtakes the durability of
    /// what it acknowledges, nor an earlier acknowledgement.
    fn send_after(&mut self, ticket: u64, packet: Packet) {
        if self.held.is_empty() && ticket <= self.committed() {
            self.send(&packet);
        } else {
            self.held.push_back((ticket, packet));
        }
    }

    /// Moves the held packets whose changes are now committed into the write buffer.
    fn release_held(&mut self) {
        let committed = self.committed();
        while self
            .held
            .front()
            .is_some_and(|(ticket, _)| *ticket <= committed)
        {
            if let Some((_, packet)) = self.held.pop_front() {
                self.send(&packet);
            }
        }
    }

    /// Runs `f` on the state under its lock and returns its result with the journal ticket
    /// the changes so far reach (0 when nothing waits for the store).
    fn locked<T>(&self, f: impl FnOnce(&mut BrokerState) -> T) -> (T, u64) {
        let mut state = self.shared.state.lock();
        let out = f(&mut state);
        let ticket = if self.shared.committed.is_some() {
            state.ticket()
        } else {
            0
        };
        (out, ticket)
    }

    /// A CONNECT that never became a session: answer what the spec asks, then close.
    async fn refuse_connect(mut self, close: Close) {
        if let Close::ProtocolError(DecodeError::UnsupportedProtocolLevel(level)) = close {
            // [MQTT-3.1.2-2] CONNACK 0x01 in the 3.1.1 format, which every version can read.
            info!(peer = %self.peer, "refused protocol level {level}");
            self.send(&Packet::ConnAck(ConnAck {
                session_present: false,
                reason_code: ReasonCode::UnsupportedProtocolVersion,
                properties: Properties::default(),
            }));
            let _ = self.flush().await;
        } else if let Close::ProtocolError(e) = &close {
            info!(peer = %self.peer, "closing connection: {e}");
        }
        self.close_lingering().await;
    }

    async fn run_session(&mut self, mut connect: Connect, shutdown: CancellationToken) {
        // A name from the client's certificate replaces the user name; no password is needed.
        let certificate = match self.identity.take() {
            Some(name) => {
                connect.username = Some(name);
                true
            }
            None => false,
        };
        let version = connect.protocol;
        let max_keepalive = self.shared.config.max_keepalive;
        let mut server_keep_alive = None;
        let unlimited = max_keepalive == u16::MAX;
        if connect.keep_alive > max_keepalive || (connect.keep_alive == 0 && !unlimited) {
            if version == ProtocolVersion::V5 {
                server_keep_alive = Some(max_keepalive);
                connect.keep_alive = max_keepalive;
            } else if connect.keep_alive > max_keepalive {
                info!(peer = %self.peer, "refused keep alive {} above max_keepalive {max_keepalive}", connect.keep_alive);
                return self.refuse(ReasonCode::ClientIdentifierNotValid).await;
            }
        }
        let mut proven = certificate;
        let mut auth_reply = None;
        if let Some(method) = connect.properties.authentication_method.clone() {
            let limit = self.shared.config.connect_timeout;
            let outcome = tokio::time::timeout(limit, self.enhanced_auth(&method, &connect))
                .await
                .unwrap_or(Err(ReasonCode::UnspecifiedError));
            match outcome {
                Ok(server_final) => {
                    proven = true;
                    auth_reply = Some((method, server_final));
                }
                Err(reason_code) => {
                    info!(peer = %self.peer, client_id = %connect.client_id, "refused {method} authentication: {reason_code}");
                    return self.refuse(reason_code).await;
                }
            }
        }
        // A user name proven by a TLS certificate or by SCRAM needs no password check.
        if let Err(refusal) = auth::login::check(&self.shared, self.peer, &connect, proven).await {
            info!(
                peer = %self.peer,
                client_id = %connect.client_id,
                username = ?connect.username,
                "refused connection: {refusal}"
            );
            return self.refuse(refusal.reason_code()).await;
        }
        let peer_limits = PeerLimits {
            protocol: version,
            receive_maximum: connect.properties.receive_maximum.unwrap_or(u16::MAX),
            maximum_packet_size: connect
                .properties
                .maximum_packet_size
                .map_or(PROTOCOL_MAX_PACKET_SIZE, |size| size as usize),
        };
        self.aliases.outbound_maximum = connect.properties.topic_alias_maximum.unwrap_or(0);
        let signals = Arc::new(ConnectionSignals::default());
        let now = std::time::Instant::now();
        let (outcome, ticket) = self.locked(|state| {
            state.connect(
                &connect,
                peer_limits,
                self.connection_id,
                signals.clone(),
                now,
            )
        });
        let (client_id, session_present, assigned, resend, wakes) = match outcome {
            ConnectOutcome::Accepted {
                client_id,
                session_present,
                assigned_client_id,
                resend,
                wakes,
            } => (
                client_id,
                session_present,
                assigned_client_id,
                resend,
                wakes,
            ),
            ConnectOutcome::Refused(reason_code) => {
                info!(peer = %self.peer, client_id = %connect.client_id, "refused connection: {reason_code}");
                return self.refuse(reason_code).await;
            }
        };
        wakes.notify();
        Stats::add(&self.shared.stats.connections_total, 1);
        info!(
            "New client connected from {} as {} (p{}, c{}, k{}{}).",
            self.peer,
            client_id,
            version.level(),
            u8::from(connect.clean_start),
            connect.keep_alive,
            connect
                .username
                .as_ref()
                .map(|u| format!(", u'{u}'"))
                .unwrap_or_default()
        );

        let mut properties =
            self.connack_properties(&client_id, assigned, server_keep_alive, &connect);
        if let Some((method, server_final)) = auth_reply {
            properties.authentication_method = Some(method);
            properties.authentication_data = Some(server_final);
        }
        self.send_after(
            ticket,
            Packet::ConnAck(ConnAck {
                session_present,
                reason_code: ReasonCode::Success,
                properties,
            }),
        );
        for packet in resend {
            self.send_after(ticket, packet);
        }
        let close = self
            .session_loop(&client_id, &connect, &signals, shutdown)
            .await;
        self.settle_acks(&client_id);
        // Settle the session (and the Will) before the socket closes: a client that sees the
        // close after its DISCONNECT and reconnects at once must not find the old connection
        // still linked, or the takeover would publish the Will it just discarded.
        let wakes = self.shared.state.lock().disconnected(
            &client_id,
            self.connection_id,
            close.departure(),
            std::time::Instant::now(),
        );
        wakes.notify();
        if let Some(reason) = close
            .reason_code()
            .filter(|_| version == ProtocolVersion::V5)
        {
            self.send(&Packet::Disconnect(Disconnect::new(reason)));
            let _ = self.flush().await;
        }
        self.close_lingering().await;
        match &close {
            Close::ClientDisconnect(_) => info!("Client {client_id} disconnected."),
            Close::ProtocolError(e) => {
                info!("Client {client_id} disconnected due to protocol error: {e}")
            }
            Close::Refused(code, why) => info!("Client {client_id} disconnected: {why} ({code})"),
            Close::KeepAliveTimeout => {
                info!("Client {client_id} has exceeded timeout, disconnecting.")
            }
            Close::Kicked(ReasonCode::SessionTakenOver) => {
                info!("Client {client_id} already connected, closing old connection.")
            }
            Close::Kicked(_) => {}
            Close::Lost => info!("Client {client_id} closed its connection."),
        }
    }

    /// CONNACK with a failure reason, then close.
    async fn refuse(&mut self, reason_code: ReasonCode) {
        self.send(&Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code,
            properties: Properties::default(),
        }));
        let _ = self.flush().await;
        self.close_lingering().await;
    }

    /// What a v5 client learns of the broker in CONNACK (ignored for 3.x by the encoder).
    fn connack_properties(
        &self,
        client_id: &str,
        assigned: bool,
        server_keep_alive: Option<u16>,
        connect: &Connect,
    ) -> Properties {
        let config = &self.shared.config;
        let wants_response_information = connect.properties.request_response_information == Some(1);
        Properties {
            assigned_client_identifier: assigned.then(|| client_id.to_string()),
            maximum_packet_size: u32::try_from(config.max_packet_size).ok(),
            maximum_qos: (config.maximum_qos != QoS::ExactlyOnce)
                .then_some(config.maximum_qos as u8),
            receive_maximum: Some(config.session_limits.max_inflight),
            topic_alias_maximum: Some(config.topic_alias_maximum).filter(|max| *max > 0),
            server_keep_alive,
            // Request/response: a topic prefix meant for this client alone.
            response_information: wants_response_information
                .then(|| format!("mq/response/{client_id}")),
            ..Properties::default()
        }
    }

    async fn session_loop(
        &mut self,
        client_id: &Arc<str>,
        connect: &Connect,
        signals: &ConnectionSignals,
        shutdown: CancellationToken,
    ) -> Close {
        // [MQTT-3.1.2-24] one and a half times the Keep Alive without a packet ends the connection.
        let keep_alive = (connect.keep_alive > 0)
            .then(|| Duration::from_millis(u64::from(connect.keep_alive) * 1500));
        let far_future = Instant::now() + Duration::from_secs(365 * 24 * 3600);
        let mut deadline = keep_alive.map_or(far_future, |k| Instant::now() + k);
        let mut pull = true;
        // Wakes this task when the store commits, while packets are held for it.
        let mut store_progress = self.shared.committed.clone();
        loop {
            // Deliveries wait while acknowledgements are held, so they cannot pile up behind them.
            let more = if pull && self.held.is_empty() {
                pull = false;
                self.pull_deliveries(client_id, signals)
            } else {
                self.settle_acks(client_id);
                false
            };
            tokio::select! {
                result = self.flush() => if let Err(close) = result {
                    return close;
                },
                // A peer that stops reading must not pin this task: shutdown and takeover still end it.
                _ = shutdown.cancelled() => return Close::Kicked(ReasonCode::ServerShuttingDown),
                reason = signals.kicked() => return Close::Kicked(reason),
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Close::Kicked(ReasonCode::ServerShuttingDown),
                reason = signals.kicked() => return Close::Kicked(reason),
                progress = committed_changed(&mut store_progress), if !self.held.is_empty() => {
                    if !progress {
                        // The writer stopped: the broker is shutting down or the store failed.
                        return Close::Kicked(ReasonCode::ServerShuttingDown);
                    }
                    self.release_held();
                    continue;
                }
                read = self.read_more(), if self.held.len() < MAX_HELD => match read {
                    Ok(true) => {}
                    Ok(false) => return Close::Lost,
                    Err(close) => return close,
                },
                _ = sleep_until(deadline) => return Close::KeepAliveTimeout,
                _ = signals.woken() => {
                    pull = true;
                    continue;
                }
                // More is waiting than one batch held; reads above still come first.
                _ = std::future::ready(()), if more => {
                    pull = true;
                    continue;
                }
            }
            let mut yielded = false;
            loop {
                match self.codec.decode(&mut self.read_buf) {
                    Ok(Some(packet)) => {
                        // Before routing the first PUBLISH of this read, let every other
                        // ready connection run: a SUBSCRIBE that reached the broker just
                        // before this PUBLISH on another connection then takes effect
                        // first, as in a single-threaded broker. It also keeps a flooding
                        // publisher from starving the others.
                        if !yielded && matches!(packet, Packet::Publish(_)) {
                            yielded = true;
                            tokio::task::yield_now().await;
                        }
                        if let Some(k) = keep_alive {
                            deadline = Instant::now() + k;
                        }
                        match self.handle(client_id, connect, packet) {
                            Ok(wants_pull) => pull |= wants_pull,
                            Err(close) => return close,
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return Close::ProtocolError(e),
                }
            }
        }
    }

    /// Moves what the session may send now into the write buffer; true if a full batch
    /// may have left more behind.
    fn pull_deliveries(&mut self, client_id: &str, signals: &ConnectionSignals) -> bool {
        let mut acks = std::mem::take(&mut self.acks);
        let (batch, ticket) = self.locked(|state| {
            apply_acks(state, client_id, &mut acks);
            let mut batch: Vec<Publish> = Vec::new();
            // A connection taken over must not pull from the session its successor now owns:
            // what it took would sit in flight, sent to a dead socket and not resent.
            if signals.is_kicked() {
                return batch;
            }
            let Some(session) = state.session_mut(client_id) else {
                return batch;
            };
            let now = std::time::Instant::now();
            let mut bytes = 0;
            while bytes < WRITE_BATCH_BYTES {
                let Some(publish) = session.next_publish(now) else {
                    break;
                };
                bytes += publish.payload.len() + publish.topic.len();
                batch.push(publish);
            }
            batch
        });
        self.acks = acks;
        Stats::add(&self.shared.stats.messages_sent, batch.len() as u64);
        // A QoS 1/2 PUBLISH goes out once its Packet Identifier is committed, so a restart
        // resends it with the same identifier and DUP rather than as a new message.
        for mut publish in batch {
            self.aliases.apply_outbound(&mut publish);
            self.send_after(ticket, Packet::Publish(publish));
        }
        self.write_buf.len() >= WRITE_BATCH_BYTES
    }

    /// Applies one packet; returns whether the session may now have more to send.
    fn handle(
        &mut self,
        client_id: &Arc<str>,
        connect: &Connect,
        packet: Packet,
    ) -> Result<bool, Close> {
        trace!(client_id = %client_id, "received {}", packet.name());
        if !matches!(packet, Packet::PubAck(_) | Packet::PubComp(_)) {
            self.settle_acks(client_id);
        }
        let now = std::time::Instant::now();
        match packet {
            Packet::Publish(mut publish) => {
                Stats::add(&self.shared.stats.messages_received, 1);
                self.resolve_topic_alias(&mut publish)?;
                if !publish.properties.subscription_identifiers.is_empty() {
                    return Err(Close::Refused(
                        ReasonCode::ProtocolError,
                        "a client PUBLISH must not carry Subscription Identifiers",
                    ));
                }
                if publish.qos > self.shared.config.maximum_qos {
                    return Err(Close::Refused(
                        ReasonCode::QoSNotSupported,
                        "QoS above the maximum",
                    ));
                }
                if publish.properties.payload_format_indicator == Some(1)
                    && std::str::from_utf8(&publish.payload).is_err()
                {
                    return self.refuse_payload_format(&publish);
                }
                let receive_maximum = (connect.protocol == ProtocolVersion::V5)
                    .then_some(self.shared.config.session_limits.max_inflight);
                let (result, ticket) = self.locked(|state| {
                    state.client_publish(client_id, &publish, receive_maximum, now)
                });
                let (ack, wakes) = result.map_err(|refused| {
                    Close::Refused(
                        refused.0,
                        "more QoS 2 messages unreleased than Receive Maximum allows",
                    )
                })?;
                wakes.notify();
                if let Some(ack) = ack {
                    self.send_after(ticket, ack);
                }
                Ok(false)
            }
            Packet::PubAck(ack) => {
                self.acks.push((ack.packet_id, Awaiting::PubAck));
                Ok(true)
            }
            Packet::PubRec(rec) => {
                let (reply, ticket) =
                    self.with_session(client_id, |s| s.on_pubrec(rec.packet_id, rec.reason_code));
                if let Some(rel) = reply {
                    self.send_after(ticket, Packet::PubRel(rel));
                }
                Ok(true)
            }
            Packet::PubComp(comp) => {
                self.acks.push((comp.packet_id, Awaiting::PubComp));
                Ok(true)
            }
            Packet::PubRel(rel) => {
                // PUBCOMP waits until the identifier's release is committed: a restart that
                // still held it would take the client's next message under it for a duplicate.
                let (comp, ticket) =
                    self.locked(|state| state.client_pubrel(client_id, rel.packet_id));
                self.send_after(ticket, Packet::PubComp(comp));
                Ok(false)
            }
            Packet::Subscribe(subscribe) => {
                let no_local_shared = subscribe.filters.iter().any(|(filter, options)| {
                    options.no_local && SharedFilter::parse(filter).is_some()
                });
                if no_local_shared && connect.protocol == ProtocolVersion::V5 {
                    return Err(Close::Refused(
                        ReasonCode::ProtocolError,
                        "No Local on a shared subscription [MQTT-3.8.3-4]",
                    ));
                }
                let (ack, ticket) =
                    self.locked(|state| state.subscribe(client_id, &subscribe, now));
                self.send_after(ticket, Packet::SubAck(ack));
                Ok(true)
            }
            Packet::Unsubscribe(unsubscribe) => {
                let (ack, ticket) = self.locked(|state| state.unsubscribe(client_id, &unsubscribe));
                self.send_after(ticket, Packet::UnsubAck(ack));
                Ok(false)
            }
            Packet::PingReq => {
                self.send_after(0, Packet::PingResp);
                Ok(false)
            }
            Packet::Disconnect(disconnect) => {
                if let Some(interval) = disconnect.properties.session_expiry_interval {
                    let was_zero = connect.properties.session_expiry_interval.unwrap_or(0) == 0;
                    if was_zero && interval != 0 {
                        // [MQTT-3.14.2-2]
                        return Err(Close::Refused(
                            ReasonCode::ProtocolError,
                            "session expiry set at DISCONNECT after 0 at CONNECT",
                        ));
                    }
                    let expiry = SessionExpiry::from_interval(interval);
                    self.locked(|state| state.set_session_expiry(client_id, expiry));
                }
                Err(Close::ClientDisconnect(
                    if disconnect.reason_code == ReasonCode::DisconnectWithWillMessage {
                        Departure::PublishWill
                    } else {
                        Departure::Graceful
                    },
                ))
            }
            Packet::Auth(_) => Err(Close::Refused(
                ReasonCode::BadAuthenticationMethod,
                "no enhanced authentication method is configured",
            )),
            // The server codec refuses these before they get here.
            Packet::Connect(_)
            | Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp => {
                warn!("{client_id}: unexpected {} passed the codec", packet.name());
                Err(Close::Refused(
                    ReasonCode::ProtocolError,
                    "unexpected packet",
                ))
            }
        }
    }

    /// Replaces a Topic Alias by its topic, remembering new ones ([MQTT-3.3.2-7..12]).
    fn resolve_topic_alias(&mut self, publish: &mut Publish) -> Result<(), Close> {
        let Some(alias) = publish.properties.topic_alias.take() else {
            return Ok(());
        };
        if alias > self.shared.config.topic_alias_maximum {
            return Err(Close::Refused(
                ReasonCode::TopicAliasInvalid,
                "topic alias above the Topic Alias Maximum",
            ));
        }
        if publish.topic.is_empty() {
            match self.aliases.inbound.get(&alias) {
                Some(topic) => publish.topic = topic.clone(),
                None => {
                    return Err(Close::Refused(
                        ReasonCode::ProtocolError,
                        "unknown topic alias",
                    ))
                }
            }
        } else {
            // Copy: the map outlives the receive buffer the topic points into.
            let topic = ByteString::from(&*publish.topic);
            self.aliases.inbound.insert(alias, topic);
        }
        Ok(())
    }

    /// A payload that is not UTF-8 although its Payload Format Indicator says it is: the
    /// broker checks what it is promised (MQTT 5 section 3.3.2.3.2) and refuses it.
    fn refuse_payload_format(&mut self, publish: &Publish) -> Result<bool, Close> {
        let Some(id) = publish.packet_id else {
            return Err(Close::Refused(
                ReasonCode::PayloadFormatInvalid,
                "payload is not UTF-8 although its format indicator says so",
            ));
        };
        let ack = mq_proto::PubResponse::with_reason(id, ReasonCode::PayloadFormatInvalid);
        self.send_after(
            0,
            if publish.qos == QoS::AtLeastOnce {
                Packet::PubAck(ack)
            } else {
                Packet::PubRec(ack)
            },
        );
        Ok(false)
    }

    /// Applies the PUBACKs and PUBCOMPs read so far, under one lock.
    fn settle_acks(&mut self, client_id: &str) {
        if self.acks.is_empty() {
            return;
        }
        let mut acks = std::mem::take(&mut self.acks);
        self.locked(|state| apply_acks(state, client_id, &mut acks));
        self.acks = acks;
    }

    /// Runs `f` on the client's session; returns its result and the journal ticket.
    fn with_session<T: Default>(
        &self,
        client_id: &str,
        f: impl FnOnce(&mut Session) -> T,
    ) -> (T, u64) {
        self.locked(|state| state.session_mut(client_id).map(f).unwrap_or_default())
    }
}

/// Applies PUBACKs and PUBCOMPs to the client's session in the order they came, and
/// empties `acks`.
fn apply_acks(state: &mut BrokerState, client_id: &str, acks: &mut Vec<(PacketId, Awaiting)>) {
    let Some(session) = state.session_mut(client_id) else {
        acks.clear();
        return;
    };
    for (id, awaiting) in acks.drain(..) {
        let known = match awaiting {
            Awaiting::PubAck => session.on_puback(id),
            _ => session.on_pubcomp(id),
        };
        if !known {
            debug!("{client_id}: {awaiting:?} answered by unknown packet id {id}");
        }
    }
}

/// Waits for the store to commit more of the journal; false if the writer has stopped.
/// Without sync persistence nothing is ever held, so this is never polled.
async fn committed_changed(committed: &mut Option<tokio::sync::watch::Receiver<u64>>) -> bool {
    match committed {
        Some(committed) => committed.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}
