//! One task per network connection: it alone reads and writes its socket. It decodes
//! packets with the strict codec, applies them to the shared state under the lock, and
//! writes what the state hands back. Nothing here awaits while holding the lock.
//!
//! A connection lives in three phases, and only the middle one lasts: CONNECT (reading
//! it, authentication, CONNACK), the session, and the goodbye. The first and last run as
//! boxed futures of their own, so an idle connection's task carries room for neither, and
//! the session phase is one hand-written poll: it waits on its socket, its signals and its
//! keep-alive timer without a waiter future for each (see `poll_event`).

use std::collections::{HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, trace, warn};

use base64::Engine;
use mq_proto::{
    topic::SharedFilter, Auth, ByteString, Bytes, Codec, ConnAck, Connect, DecodeError, Disconnect,
    Packet, PacketId, Properties, ProtocolVersion, Publish, QoS, ReasonCode,
    PROTOCOL_MAX_PACKET_SIZE,
};

use super::auth::{self, scram};
use super::config_file::{SUBSCRIBE_LOG_TARGET, UNSUBSCRIBE_LOG_TARGET};
use super::session::{Awaiting, PeerLimits, Session, SessionExpiry};
use super::signals::ConnectionSignals;
use super::state::{BrokerState, ConnectOutcome, Departure};
use super::stats::{Stats, Tally};
use super::Shared;

/// Stop filling the write buffer past this; the rest waits for the next round.
const WRITE_BATCH_BYTES: usize = 64 * 1024;
/// Read at most this much at a time; packets larger than this arrive over several reads.
const READ_CHUNK: usize = 16 * 1024;
/// What an empty read buffer grows to when bytes arrive.
const READ_START: usize = 4 * 1024;
/// An idle connection gives back a write buffer larger than this (a burst's)...
const WRITE_KEEP: usize = 4 * WRITE_BATCH_BYTES;
/// ...or one no larger than this (control packets', cheap to make again).
const WRITE_SMALL: usize = 1024;
/// The packet type in the first byte of a PUBLISH (its high four bits).
const PUBLISH_TYPE: u8 = 3;
/// After the broker ends a connection it keeps reading (and discarding) this long, so the
/// peer can still read the final CONNACK or DISCONNECT instead of getting a reset.
const CLOSE_LINGER: Duration = Duration::from_millis(500);
/// With `--persistence sync`, at most this many packets wait for the store before the task
/// stops reading from the client (backpressure instead of an unbounded backlog).
const MAX_HELD: usize = 1024;
/// How long a PUBLISH waits, at most, for other connections to handle the bytes they have
/// (see `ConnectionSignals::wait_for_readers`).
const READERS_FIRST_LIMIT: Duration = Duration::from_millis(2);

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
    /// The socket failed; logged, as the peer will not hear of it.
    fn lost(what: &str, e: std::io::Error) -> Close {
        debug!("{what} failed: {e}");
        Close::Lost
    }

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

/// Resolves true once the store has committed what the first held packet waits for; false
/// if the writer has stopped.
type CommitWait = Pin<Box<dyn Future<Output = bool> + Send>>;

struct Connection<S> {
    shared: Arc<Shared>,
    stream: S,
    connection_id: u64,
    codec: Codec,
    read_buf: BytesMut,
    write_buf: BytesMut,
    /// Only for clients that use Topic Aliases (MQTT 5), so the rest carry no room for them.
    aliases: Option<Box<TopicAliases>>,
    /// With `--persistence sync` only, so other connections carry no room for it.
    held: Option<Box<Held>>,
    /// PUBACKs and PUBCOMPs read but not yet applied: they answer nothing, so the ones
    /// of one read are applied under one lock, before any other packet is handled.
    acks: Vec<(PacketId, Awaiting)>,
    /// Traffic counted since the last flush, added to the shared counters in one go.
    tally: Tally,
    /// A connection the current read's PUBLISHes gave something to send, woken once the
    /// read is handled (see the session loop). The others are woken at once.
    deliver_first: Option<Arc<ConnectionSignals>>,
}

/// Packets waiting for the store to commit the changes they acknowledge.
#[derive(Default)]
struct Held {
    /// Each with its journal ticket, in the order they are to be sent.
    packets: VecDeque<(u64, Packet)>,
    /// While packets are held: the wait for the store to commit the first one.
    commit_wait: Option<CommitWait>,
}

impl Held {
    /// The first packet, once the store has committed what it waits for.
    fn pop_committed(&mut self, committed: u64) -> Option<Packet> {
        match self.packets.front() {
            Some((ticket, _)) if *ticket <= committed => self.packets.pop_front().map(|(_, p)| p),
            _ => None,
        }
    }
}

impl<S> Drop for Connection<S> {
    fn drop(&mut self) {
        self.tally.flush_into(&self.shared.stats);
        // A task dropped mid-session (`session_over` does this for every other end).
        self.wake_delivery_owed();
    }
}

impl<S> Connection<S> {
    /// Wakes the subscriber the last read gave something to send, if that wake-up is
    /// still owed: however the session ends, its deliveries must not wait for another.
    fn wake_delivery_owed(&mut self) {
        if let Some(subscriber) = self.deliver_first.take() {
            subscriber.wake_up();
        }
    }
}

/// What the session phase keeps of CONNECT and of the handshake.
struct Established {
    client_id: Arc<str>,
    signals: Arc<ConnectionSignals>,
    protocol: ProtocolVersion,
    keep_alive: u16,
    /// A Session Expiry Interval of 0 at CONNECT may not be raised at DISCONNECT [MQTT-3.14.2-2].
    expiry_was_zero: bool,
}

impl Drop for Established {
    /// Nothing waits on a connection that is gone: other publishers for its reading to
    /// end, or for its next poll.
    fn drop(&mut self) {
        self.signals.stop_reading();
    }
}

impl Established {
    /// [MQTT-3.1.2-24] one and a half times the Keep Alive without a packet ends the
    /// connection: the broker's tick kicks it (`BrokerState::tick`).
    fn keep_alive_from(&self, now: std::time::Instant) {
        if self.keep_alive > 0 {
            let grace = Duration::from_millis(u64::from(self.keep_alive) * 1500);
            self.signals.set_keep_alive_deadline(now + grace);
        }
    }
}

/// One read buffer per worker thread, lent to the connection that reads next on it. The
/// broker copies what it keeps of a packet (a message's topic and payload) out of the read
/// buffer, so once a connection has nothing half-read its buffer is usually no longer
/// shared and goes back here: reads reuse one allocation instead of making and freeing a
/// buffer each, and an idle connection still holds none.
mod spare_read_buffer {
    use std::cell::Cell;

    use bytes::BytesMut;

    use super::{READ_CHUNK, READ_START};

    thread_local! {
        static SPARE: Cell<Option<BytesMut>> = const { Cell::new(None) };
    }

    /// The thread's spare buffer, or an empty one (which allocates when reserved).
    pub(super) fn lend() -> BytesMut {
        SPARE.with(Cell::take).unwrap_or_default()
    }

    /// Keeps `buffer` as the thread's spare if it is empty, no longer shared with
    /// anything decoded from it, and not a large packet's; drops it otherwise.
    pub(super) fn give_back(mut buffer: BytesMut) {
        if buffer.is_empty() && buffer.try_reclaim(READ_START) && buffer.capacity() <= READ_CHUNK {
            SPARE.with(|spare| spare.set(Some(buffer)));
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Fills a buffer lent from the spare with one packet and splits it off, as
        /// decoding does; returns the packet and what is left of the buffer.
        fn read_one_packet() -> (bytes::Bytes, BytesMut) {
            let mut buffer = lend();
            buffer.reserve(READ_START);
            buffer.extend_from_slice(b"packet");
            (buffer.split_to(6).freeze(), buffer)
        }

        #[test]
        fn a_buffer_comes_back_once_nothing_decoded_from_it_is_held() {
            let (packet, rest) = read_one_packet();
            let memory = packet.as_ptr();
            drop(packet);
            give_back(rest);
            let again = lend();
            assert_eq!(
                again.as_ptr(),
                memory,
                "the same allocation, from its start"
            );
            assert!(again.capacity() >= READ_START);

            let (packet, rest) = read_one_packet();
            give_back(rest);
            assert_eq!(lend().capacity(), 0, "a buffer still shared is not kept");
            assert_eq!(&packet[..], b"packet");

            let mut large = BytesMut::with_capacity(4 * READ_CHUNK);
            large.extend_from_slice(b"x");
            large.clear();
            give_back(large);
            assert_eq!(lend().capacity(), 0, "a large packet's buffer is not kept");
        }
    }
}

/// What woke the session loop.
enum Event {
    /// Bytes arrived in the read buffer.
    Read,
    /// The session has something to send, or a full batch left more behind.
    Deliveries,
    /// The store committed what the first held packet waits for.
    Committed,
    Closed(Close),
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

/// How a transport waits for bytes without a buffer to put them in, so an idle
/// connection holds no read buffer.
pub(crate) trait WaitReadable {
    /// Ready once a read would find bytes (or the end of the stream); registers the task
    /// otherwise. A transport that cannot tell is always ready, and its connection keeps
    /// its buffer while idle.
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>>;
}

impl WaitReadable for tokio::net::TcpStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        tokio::net::TcpStream::poll_read_ready(self, cx)
    }
}

/// TLS may hold decrypted bytes the socket no longer shows.
impl<S> WaitReadable for tokio_rustls::server::TlsStream<S> {
    fn poll_read_ready(&self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A WebSocket message may hold bytes the socket no longer shows.
impl<S> WaitReadable for crate::net::ws::WsStream<S> {
    fn poll_read_ready(&self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// What only the CONNECT phase needs.
struct Arrival {
    peer: SocketAddr,
    /// The user name the client's TLS certificate gives (`use_identity_as_username`,
    /// `use_subject_as_username`); it replaces the one in CONNECT.
    identity: Option<String>,
    /// The broker's shutdown; once the session runs, shutdown comes as a kick instead.
    shutdown: CancellationToken,
}

/// Serves one accepted connection until it closes.
///
/// Not an `async fn`: the arguments of one would stay in its future for the connection's
/// whole life. Here what the CONNECT phase alone needs goes into a box that phase frees.
pub(crate) fn serve<S>(
    stream: S,
    peer: SocketAddr,
    identity: Option<String>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send
where
    S: AsyncRead + AsyncWrite + WaitReadable + Unpin + Send,
{
    let connection_id = shared.next_connection_id();
    let max_packet_size = shared.config.max_packet_size;
    let connection = Connection {
        shared,
        stream,
        connection_id,
        codec: Codec::server(max_packet_size),
        read_buf: BytesMut::new(),
        write_buf: BytesMut::new(),
        aliases: None,
        held: None,
        acks: Vec::new(),
        tally: Tally::default(),
        deliver_first: None,
    };
    let arrival = Box::new(Arrival {
        peer,
        identity,
        shutdown,
    });
    // An `async` block, not an `async fn` taking the connection: that would keep a second
    // copy of it, the argument beside the binding it is moved into.
    let mut connection = connection;
    async move {
        let Some(session) = Box::pin(connection.establish(arrival)).await else {
            return;
        };
        let close = connection.session_loop(&session).await;
        connection.session_over(&session);
        Box::pin(connection.end_session(session, close)).await;
    }
}

impl<S: AsyncRead + AsyncWrite + WaitReadable + Unpin + Send> Connection<S> {
    /// Reads CONNECT and answers it. `None` if the connection ended instead (refused,
    /// timed out, or the broker is shutting down); it is closed then.
    async fn establish(&mut self, arrival: Box<Arrival>) -> Option<Established> {
        let Arrival {
            peer,
            identity,
            shutdown,
        } = *arrival;
        let connect_timeout = self.shared.config.connect_timeout;
        let connect = tokio::select! {
            _ = shutdown.cancelled() => return None,
            result = tokio::time::timeout(connect_timeout, self.read_connect()) => match result {
                Ok(Ok(connect)) => connect,
                Ok(Err(close)) => {
                    debug!(%peer, ?close, "connection closed before CONNECT completed");
                    self.refuse_connect(peer, close).await;
                    return None;
                }
                Err(_) => {
                    debug!(%peer, "no CONNECT within {connect_timeout:?}; closing");
                    return None;
                }
            },
        };
        let session = self.accept_connect(peer, identity, connect).await?;
        // Shutdown reaches a running session as a kick (see `Broker::run`), which only
        // finds connections linked before it: a later one sees the cancellation here.
        if shutdown.is_cancelled() {
            session.signals.kick(ReasonCode::ServerShuttingDown);
        }
        Some(session)
    }

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
                Ok(Some(packet)) => {
                    self.tally.received(&packet);
                    return Ok(packet);
                }
                Ok(None) => {}
                Err(e) => return Err(Close::ProtocolError(e)),
            }
            poll_fn(|cx| self.poll_read(cx)).await?;
        }
    }
    /// MQTT 5 enhanced authentication (section 4.12) with SCRAM-SHA-256: AUTH 0x18 with
    /// the server's first message, the client's final message back, and the server's proof
    /// for CONNACK. Runs under the connect timeout.
    async fn enhanced_auth(
        &mut self,
        peer: SocketAddr,
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
                self.shared.auth_failures.record_failure(peer.ip(), now);
                Err(ReasonCode::BadUserNameOrPassword)
            }
            Err(_) => Err(ReasonCode::ProtocolError),
        }
    }

    /// Reads what the socket has into the read buffer, reserving no more than the pending
    /// packet needs; `Close::Lost` at end of stream. When nothing is half-read and nothing
    /// has arrived, the buffer goes back to the thread's spare: an idle connection holds
    /// none.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Close>> {
        if self.read_buf.is_empty() {
            match self.stream.poll_read_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Close::lost("read", e))),
                Poll::Pending => {
                    spare_read_buffer::give_back(std::mem::take(&mut self.read_buf));
                    return Poll::Pending;
                }
            }
            if self.read_buf.capacity() == 0 {
                self.read_buf = spare_read_buffer::lend();
            }
        }
        let needed = self.codec.bytes_needed(&self.read_buf).unwrap_or(0);
        self.read_buf.reserve(needed.clamp(READ_START, READ_CHUNK));
        match tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.read_buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(0)) => Poll::Ready(Err(Close::Lost)),
            Poll::Ready(Ok(n)) => {
                self.tally.bytes_received(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(Close::lost("read", e))),
        }
    }

    /// Writes the write buffer out and flushes the stream (TLS and WebSocket streams hold
    /// written bytes until flushed; TCP's flush is free).
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Close>> {
        while self.write_buf.has_remaining() {
            match Pin::new(&mut self.stream).poll_write(cx, &self.write_buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(Close::Lost)),
                Poll::Ready(Ok(n)) => {
                    self.tally.bytes_sent(n);
                    self.write_buf.advance(n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Close::lost("write", e))),
            }
        }
        Pin::new(&mut self.stream)
            .poll_flush(cx)
            .map_err(|e| Close::lost("write", e))
    }

    async fn flush(&mut self) -> Result<(), Close> {
        let result = poll_fn(|cx| self.poll_write(cx)).await;
        self.tally.flush_into(&self.shared.stats);
        result
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
        self.tally.sent(packet);
        self.codec.encode(packet, &mut self.write_buf);
    }

    /// Sends `packet` once the store has committed the journal up to `ticket`, and after
    /// every packet held before it: an acknowledgement never overtakes the durability of
    /// what it acknowledges, nor an earlier acknowledgement.
    fn send_after(&mut self, ticket: u64, packet: Packet) {
        if self.held_count() == 0 && ticket <= self.committed() {
            self.send(&packet);
        } else {
            let held = self.held.get_or_insert_with(Box::default);
            held.packets.push_back((ticket, packet));
        }
    }

    /// Moves the held packets whose changes are now committed into the write buffer.
    fn release_held(&mut self) {
        let committed = self.committed();
        while let Some(packet) = self.held.as_mut().and_then(|h| h.pop_committed(committed)) {
            self.send(&packet);
        }
    }

    /// How far the store has committed the journal; everything, without sync persistence.
    fn committed(&self) -> u64 {
        self.shared
            .committed
            .as_ref()
            .map_or(u64::MAX, |committed| *committed.borrow())
    }

    fn held_count(&self) -> usize {
        self.held.as_ref().map_or(0, |held| held.packets.len())
    }

    /// Ready once the store has committed what the first held packet waits for (true), or
    /// its writer has stopped (false). Pending with nothing held.
    fn poll_commit(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let Some(held) = &mut self.held else {
            return Poll::Pending;
        };
        let (Some(&(ticket, _)), Some(committed)) = (held.packets.front(), &self.shared.committed)
        else {
            return Poll::Pending;
        };
        let wait = held.commit_wait.get_or_insert_with(|| {
            let mut committed = committed.clone();
            Box::pin(async move {
                loop {
                    if *committed.borrow_and_update() >= ticket {
                        return true;
                    }
                    if committed.changed().await.is_err() {
                        return false;
                    }
                }
            })
        });
        let ready = wait.as_mut().poll(cx);
        if ready.is_ready() {
            held.commit_wait = None;
        }
        ready
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
    async fn refuse_connect(&mut self, peer: SocketAddr, close: Close) {
        if let Close::ProtocolError(DecodeError::UnsupportedProtocolLevel(level)) = close {
            // [MQTT-3.1.2-2] CONNACK 0x01 in the 3.1.1 format, which every version can read.
            info!(%peer, "refused protocol level {level}");
            self.send(&Packet::ConnAck(ConnAck {
                session_present: false,
                reason_code: ReasonCode::UnsupportedProtocolVersion,
                properties: Properties::default(),
            }));
            let _ = self.flush().await;
        } else if let Close::ProtocolError(e) = &close {
            info!(%peer, "closing connection: {e}");
        }
        self.close_lingering().await;
    }

    /// Checks a CONNECT (keep alive, Will, authentication), links the session and queues
    /// CONNACK; `None` if it was refused, and the connection closed.
    async fn accept_connect(
        &mut self,
        peer: SocketAddr,
        identity: Option<String>,
        mut connect: Box<Connect>,
    ) -> Option<Established> {
        // A name from the client's certificate replaces the user name; no password is needed.
        let certificate = match identity {
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
                info!(%peer, "refused keep alive {} above max_keepalive {max_keepalive}", connect.keep_alive);
                return self.refuse(ReasonCode::ClientIdentifierNotValid).await;
            }
        }
        // [MQTT-3.2.2-?] Retain Available 0: a Will that would be retained is refused with 0x9A.
        let retained_will = connect.will.as_ref().is_some_and(|w| w.retain);
        if retained_will && !self.shared.config.retain_available {
            info!(%peer, "refused a retained Will: retain_available is false");
            return self.refuse(ReasonCode::RetainNotSupported).await;
        }
        let mut proven = certificate;
        let mut auth_reply = None;
        if let Some(method) = connect.properties.authentication_method.clone() {
            let limit = self.shared.config.connect_timeout;
            let outcome = tokio::time::timeout(limit, self.enhanced_auth(peer, &method, &connect))
                .await
                .unwrap_or(Err(ReasonCode::UnspecifiedError));
            match outcome {
                Ok(server_final) => {
                    proven = true;
                    auth_reply = Some((method, server_final));
                }
                Err(reason_code) => {
                    info!(%peer, client_id = %connect.client_id, "refused {method} authentication: {reason_code}");
                    return self.refuse(reason_code).await;
                }
            }
        }
        // A user name proven by a TLS certificate or by SCRAM needs no password check.
        if let Err(refusal) = auth::login::check(&self.shared, peer, &connect, proven).await {
            info!(
                %peer,
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
        let outbound_aliases = connect.properties.topic_alias_maximum.unwrap_or(0);
        if outbound_aliases > 0 {
            self.aliases = Some(Box::new(TopicAliases {
                outbound_maximum: outbound_aliases,
                ..TopicAliases::default()
            }));
        }
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
                info!(%peer, client_id = %connect.client_id, "refused connection: {reason_code}");
                return self.refuse(reason_code).await;
            }
        };
        wakes.notify();
        Stats::add(&self.shared.stats.connections_total, 1);
        info!(
            "New client connected from {} as {} (p{}, c{}, k{}{}).",
            peer,
            client_id,
            // Mosquitto's protocol numbers: 1 for 3.1, 2 for 3.1.1, 5 for 5.0.
            match version {
                ProtocolVersion::V31 => 1,
                ProtocolVersion::V311 => 2,
                ProtocolVersion::V5 => 5,
            },
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
        Some(Established {
            client_id,
            signals,
            protocol: version,
            keep_alive: connect.keep_alive,
            expiry_was_zero: connect.properties.session_expiry_interval.unwrap_or(0) == 0,
        })
    }

    /// Unlinks the session (publishing the Will if the ending calls for it), says why to a
    /// v5 client, and closes.
    async fn end_session(&mut self, session: Established, close: Close) {
        let client_id = &session.client_id;
        self.settle_acks(client_id);
        // Settle the session (and the Will) before the socket closes: a client that sees the
        // close after its DISCONNECT and reconnects at once must not find the old connection
        // still linked, or the takeover would publish the Will it just discarded.
        let wakes = self.shared.state.lock().disconnected(
            client_id,
            self.connection_id,
            close.departure(),
            std::time::Instant::now(),
        );
        wakes.notify();
        if let Some(reason) = close
            .reason_code()
            .filter(|_| session.protocol == ProtocolVersion::V5)
        {
            self.send(&Packet::Disconnect(Disconnect::new(reason)));
        }
        // Bounded: a peer that stopped reading would hold the flush forever.
        let _ = tokio::time::timeout(CLOSE_LINGER, self.flush()).await;
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

    /// CONNACK with a failure reason, then close. Returns `None`: no session.
    async fn refuse(&mut self, reason_code: ReasonCode) -> Option<Established> {
        self.send(&Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code,
            properties: Properties::default(),
        }));
        let _ = self.flush().await;
        self.close_lingering().await;
        None
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
            retain_available: (!config.retain_available).then_some(0),
            server_keep_alive,
            // Request/response: a topic prefix meant for this client alone.
            response_information: wants_response_information
                .then(|| format!("mq/response/{client_id}")),
            ..Properties::default()
        }
    }

    async fn session_loop(&mut self, session: &Established) -> Close {
        let client_id = &session.client_id;
        session.keep_alive_from(std::time::Instant::now());
        let mut pull = true;
        loop {
            // Deliveries wait while acknowledgements are held, so they cannot pile up behind them.
            let more = if pull && self.held_count() == 0 {
                pull = false;
                self.pull_deliveries(client_id, &session.signals)
            } else {
                self.settle_acks(client_id);
                false
            };
            // What this turn counted reaches the shared counters before the task may sleep.
            self.tally.flush_into(&self.shared.stats);
            let event = poll_fn(|cx| {
                session.signals.poll_begins();
                let event = self.poll_event(cx, session, more);
                if event.is_pending() {
                    session.signals.read_all();
                }
                event
            })
            .await;
            match event {
                Event::Read => {}
                Event::Deliveries => {
                    pull = true;
                    continue;
                }
                Event::Committed => {
                    self.release_held();
                    continue;
                }
                Event::Closed(close) => return close,
            }
            let mut yielded = false;
            let mut received = false;
            loop {
                // Before routing the first PUBLISH of this read, let every other connection
                // with bytes waiting run: a SUBSCRIBE that reached the broker just before
                // this PUBLISH on another connection then takes effect first, as in a
                // single-threaded broker. It also keeps a flooding publisher from starving
                // the others. Only when there are any: a lone publisher goes straight on
                // (a yield per message woke another worker thread every time). Done before
                // decoding, so the task does not hold a packet while it waits.
                if !yielded
                    && self
                        .read_buf
                        .first()
                        .is_some_and(|b| b >> 4 == PUBLISH_TYPE)
                {
                    yielded = true;
                    if session.signals.others_reading() {
                        // Boxed: rare, and the idle connection's future stays small.
                        Box::pin(session.signals.wait_for_readers(READERS_FIRST_LIMIT)).await;
                    }
                }
                match self.codec.decode(&mut self.read_buf) {
                    Ok(Some(packet)) => {
                        self.tally.received(&packet);
                        received = true;
                        match self.handle(session, packet) {
                            Ok(wants_pull) => pull |= wants_pull,
                            Err(close) => return close,
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return Close::ProtocolError(e),
                }
            }
            if received {
                session.keep_alive_from(std::time::Instant::now());
            }
        }
    }

    /// The session loop has ended, by any of its returns (a kick is seen before the
    /// subscriber the last read woke is): the wake-up that subscriber is owed goes out, and
    /// no other connection waits for this one. Now, not after the goodbye (`Established`'s
    /// drop is for a task dropped mid-session).
    fn session_over(&mut self, session: &Established) {
        self.wake_delivery_owed();
        session.signals.stop_reading();
    }

    /// Wakes the subscriber the last read gave something to send, if any. If this
    /// connection has an acknowledgement to send after it, and the subscriber is idle,
    /// it wakes `then` once it has run; true then.
    fn wake_subscriber_then(&mut self, then: &std::task::Waker) -> bool {
        let Some(subscriber) = self.deliver_first.take() else {
            return false;
        };
        if self.write_buf.is_empty() {
            subscriber.wake_up();
            return false;
        }
        subscriber.wake_up_then(then)
    }

    /// What the session loop waits for, in order: a kick (takeover, shutdown, or the
    /// keep-alive deadline passed); the subscriber the last read woke, once; the write
    /// buffer going out (nothing is read while it cannot: a peer that stops reading stops
    /// being read from); the store committing held acknowledgements; bytes from the peer;
    /// a wake-up from the shared state; more deliveries (`more`).
    fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
        session: &Established,
        more: bool,
    ) -> Poll<Event> {
        match session.signals.poll_kicked(cx) {
            Poll::Ready(ReasonCode::KeepAliveTimeout) => {
                return Poll::Ready(Event::Closed(Close::KeepAliveTimeout))
            }
            Poll::Ready(reason) => return Poll::Ready(Event::Closed(Close::Kicked(reason))),
            Poll::Pending => {}
        }
        // Deliver, then acknowledge, as Mosquitto does: the subscriber the last read woke
        // waits in this worker's queue and writes before this task's PUBACK goes out, so
        // the acknowledgement's write is not in every delivery's latency. Its next poll
        // wakes this task.
        if self.wake_subscriber_then(cx.waker()) {
            return Poll::Pending;
        }
        match self.poll_write(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(close)) => return Poll::Ready(Event::Closed(close)),
            Poll::Pending => return Poll::Pending,
        }
        match self.poll_commit(cx) {
            Poll::Ready(true) => return Poll::Ready(Event::Committed),
            Poll::Ready(false) => {
                // The writer stopped: the broker is shutting down or the store failed.
                return Poll::Ready(Event::Closed(Close::Kicked(ReasonCode::ServerShuttingDown)));
            }
            Poll::Pending => {}
        }
        if self.held_count() < MAX_HELD {
            let readiness = session.signals.readiness_waker();
            match self.poll_read(&mut Context::from_waker(&readiness)) {
                Poll::Ready(Ok(())) => {
                    session.signals.reading();
                    return Poll::Ready(Event::Read);
                }
                Poll::Ready(Err(close)) => return Poll::Ready(Event::Closed(close)),
                Poll::Pending => {}
            }
        }
        if more || session.signals.take_woken() {
            return Poll::Ready(Event::Deliveries);
        }
        // Idle, everything written. A small buffer goes back (it is cheap to make again,
        // and ten thousand idle connections each keeping one add up), and so does a burst's.
        // A stream's stays: giving it back at every pause would allocate it again (past
        // glibc's mmap threshold, map and fault it in) for every message.
        let capacity = self.write_buf.capacity();
        if capacity <= WRITE_SMALL || capacity > WRITE_KEEP {
            self.write_buf = BytesMut::new();
        }
        Poll::Pending
    }

    /// Moves what the session may send now into the write buffer; true if a full batch
    /// may have left more behind.
    fn pull_deliveries(&mut self, client_id: &str, signals: &ConnectionSignals) -> bool {
        let mut acks = std::mem::take(&mut self.acks);
        let (batch, ticket) = self.locked(|state| {
            let mut batch: Vec<Publish> = Vec::new();
            let session = state.session_mut(client_id);
            let Some(session) = apply_acks(session, client_id, &mut acks) else {
                return batch;
            };
            // A connection taken over must not pull from the session its successor now owns:
            // what it took would sit in flight, sent to a dead socket and not resent.
            if signals.is_kicked() {
                return batch;
            }
            // Most pulls after an acknowledgement find nothing queued: spare them the clock.
            if session.queued_len() == 0 {
                return batch;
            }
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
        // A QoS 1/2 PUBLISH goes out once its Packet Identifier is committed, so a restart
        // resends it with the same identifier and DUP rather than as a new message.
        for mut publish in batch {
            if let Some(aliases) = &mut self.aliases {
                aliases.apply_outbound(&mut publish);
            }
            self.send_after(ticket, Packet::Publish(publish));
        }
        self.write_buf.len() >= WRITE_BATCH_BYTES
    }

    /// Applies one packet; returns whether the session may now have more to send.
    fn handle(&mut self, session: &Established, packet: Packet) -> Result<bool, Close> {
        let client_id = &session.client_id;
        trace!(client_id = %client_id, "received {}", packet.name());
        if !matches!(packet, Packet::PubAck(_) | Packet::PubComp(_)) {
            self.settle_acks(client_id);
        }
        match packet {
            Packet::Publish(mut publish) => {
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
                if publish.retain && !self.shared.config.retain_available {
                    return Err(Close::Refused(
                        ReasonCode::RetainNotSupported,
                        "retained messages are not available (retain_available false)",
                    ));
                }
                let size_limit = self.shared.config.message_size_limit;
                if size_limit > 0 && publish.payload.len() > size_limit {
                    return Ok(self.drop_too_large(client_id, &publish));
                }
                let receive_maximum = (session.protocol == ProtocolVersion::V5)
                    .then_some(self.shared.config.session_limits.max_inflight);
                let now = std::time::Instant::now();
                let (result, ticket) = self.locked(|state| {
                    state.client_publish(client_id, &publish, receive_maximum, now)
                });
                let (ack, wakes) =
                    result.map_err(|refused| Close::Refused(refused.0, refused.why()))?;
                if let Some(last) = wakes.notify_all_but_last() {
                    if let Some(earlier) = self.deliver_first.replace(last) {
                        earlier.wake_up();
                    }
                }
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
                if no_local_shared && session.protocol == ProtocolVersion::V5 {
                    return Err(Close::Refused(
                        ReasonCode::ProtocolError,
                        "No Local on a shared subscription [MQTT-3.8.3-4]",
                    ));
                }
                // Mosquitto's `log_type subscribe` line: client id, QoS, filter.
                if tracing::enabled!(target: SUBSCRIBE_LOG_TARGET, tracing::Level::INFO) {
                    for (filter, options) in &subscribe.filters {
                        info!(target: SUBSCRIBE_LOG_TARGET, "{client_id} {} {filter}", options.qos as u8);
                    }
                }
                let (ack, ticket) = self.locked(|state| {
                    state.subscribe(client_id, &subscribe, std::time::Instant::now())
                });
                self.send_after(ticket, Packet::SubAck(ack));
                Ok(true)
            }
            Packet::Unsubscribe(unsubscribe) => {
                if tracing::enabled!(target: UNSUBSCRIBE_LOG_TARGET, tracing::Level::INFO) {
                    for filter in &unsubscribe.filters {
                        info!(target: UNSUBSCRIBE_LOG_TARGET, "{client_id} {filter}");
                    }
                }
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
                    if session.expiry_was_zero && interval != 0 {
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
            match self.aliases.as_ref().and_then(|a| a.inbound.get(&alias)) {
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
            self.aliases
                .get_or_insert_with(Box::default)
                .inbound
                .insert(alias, topic);
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
        self.refuse_publish(id, publish.qos, ReasonCode::PayloadFormatInvalid);
        Ok(false)
    }

    /// A payload over `message_size_limit` is dropped, as Mosquitto does, and the
    /// connection stays. QoS 1/2 are answered with 0x97 Quota exceeded ("an administrative
    /// limit"; a plain acknowledgement in 3.x): Mosquitto's 0x95 is not a valid PUBACK or
    /// PUBREC reason code, and strict clients refuse it.
    fn drop_too_large(&mut self, client_id: &str, publish: &Publish) -> bool {
        debug!(
            "Dropped too large PUBLISH from {client_id} (q{}, r{}, '{}', ... ({} bytes))",
            publish.qos as u8,
            u8::from(publish.retain),
            publish.topic,
            publish.payload.len()
        );
        if let Some(id) = publish.packet_id {
            self.refuse_publish(id, publish.qos, ReasonCode::QuotaExceeded);
        }
        false
    }

    /// PUBACK (QoS 1) or PUBREC (QoS 2) with a failure reason code.
    fn refuse_publish(&mut self, id: mq_proto::PacketId, qos: QoS, reason: ReasonCode) {
        let ack = mq_proto::PubResponse::with_reason(id, reason);
        self.send_after(
            0,
            if qos == QoS::AtLeastOnce {
                Packet::PubAck(ack)
            } else {
                Packet::PubRec(ack)
            },
        );
    }

    /// Applies the PUBACKs and PUBCOMPs read so far, under one lock.
    fn settle_acks(&mut self, client_id: &str) {
        if self.acks.is_empty() {
            return;
        }
        let mut acks = std::mem::take(&mut self.acks);
        self.locked(|state| {
            apply_acks(state.session_mut(client_id), client_id, &mut acks);
        });
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

/// Applies PUBACKs and PUBCOMPs to the client's session in the order they came, empties
/// `acks`, and gives the session back for more work under the same lookup.
fn apply_acks<'a>(
    session: Option<&'a mut Session>,
    client_id: &str,
    acks: &mut Vec<(PacketId, Awaiting)>,
) -> Option<&'a mut Session> {
    let acks = acks.drain(..);
    let session = session?;
    for (id, awaiting) in acks {
        let known = match awaiting {
            Awaiting::PubAck => session.on_puback(id),
            _ => session.on_pubcomp(id),
        };
        if !known {
            debug!("{client_id}: {awaiting:?} answered by unknown packet id {id}");
        }
    }
    Some(session)
}
