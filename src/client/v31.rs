//! MQTT 3.1 (`MQIsdp`, protocol level 3), which rumqttc does not speak, built on the
//! project's own codec (`mq-proto`); also MQTT 3.1.1 for a bridge that announces itself
//! with bit 0x80 of the protocol level (Mosquitto's `try_private`), which rumqttc cannot
//! send. TCP and TLS; no WebSocket. It yields the same [`Event`]s as the rumqttc
//! connections, so `mq pub`/`mq sub` and bridges treat all versions alike.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::num::NonZeroU16;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use mq_proto::{Codec, Packet, ProtocolVersion, ReasonCode};
use rumqttc::tokio_rustls::{self, rustls::pki_types::ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::error::{ClientError, Reason};
use super::options::{ConnectOptions, Protocol, QoS};
use super::session::{Event, Message, OutgoingMessage, Sent, Subscription};

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// What the [`Handle`] asks the connection to do.
pub(crate) enum Request {
    Publish(OutgoingMessage),
    Subscribe(Vec<Subscription>),
    Unsubscribe(String),
    Disconnect,
}

/// The client side of an MQTT 3.1 connection.
#[derive(Clone)]
pub(crate) struct Handle {
    tx: mpsc::Sender<Request>,
}

impl Handle {
    pub(crate) fn try_send(&self, request: Request) -> Result<(), String> {
        self.tx.try_send(request).map_err(|e| e.to_string())
    }

    pub(crate) async fn send(&self, request: Request) -> Result<(), ()> {
        self.tx.send(request).await.map_err(|_| ())
    }
}

/// An unacknowledged outgoing publish, and how far its handshake got.
struct Unacked {
    message: OutgoingMessage,
    released: bool,
}

pub(crate) struct Connection {
    opts: ConnectOptions,
    tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    rx: mpsc::Receiver<Request>,
    stream: Option<Pin<Box<dyn Stream>>>,
    codec: Codec,
    buf: BytesMut,
    events: VecDeque<Event>,
    last_id: u16,
    unacked: BTreeMap<u16, Unacked>,
    incoming_qos2: HashSet<u16>,
    next_ping: Instant,
    awaiting_pingresp: bool,
    closed: bool,
    addr: String,
    version: ProtocolVersion,
}

pub(crate) fn new(
    opts: &ConnectOptions,
    tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
) -> Result<(Handle, Connection), ClientError> {
    if opts.endpoint.scheme.is_websocket() {
        return Err(ClientError::InvalidOption(if opts.bridge {
            "a bridge announcing itself (try_private) over MQTT 3.x runs over TCP and TLS only, not WebSocket".into()
        } else {
            "MQTT 3.1 (-V 31) runs over TCP and TLS only, not WebSocket".into()
        }));
    }
    let version = match opts.protocol {
        Protocol::V311 => ProtocolVersion::V311,
        _ => ProtocolVersion::V31,
    };
    let (tx, rx) = mpsc::channel(opts.request_capacity.max(1));
    Ok((
        Handle { tx },
        Connection {
            opts: opts.clone(),
            tls,
            rx,
            stream: None,
            codec: Codec::client(version, mq_proto::PROTOCOL_MAX_PACKET_SIZE),
            buf: BytesMut::with_capacity(8192),
            events: VecDeque::new(),
            last_id: 0,
            unacked: BTreeMap::new(),
            incoming_qos2: HashSet::new(),
            next_ping: Instant::now(),
            awaiting_pingresp: false,
            closed: false,
            addr: opts.endpoint.authority(),
            version,
        },
    ))
}

/// Sets bit 0x80 of the protocol level in an encoded CONNECT: Mosquitto's sign that the
/// client is a bridge, so it does not send the bridge's own messages back and keeps their
/// retain flag.
fn mark_bridge(connect: &mut [u8]) {
    // The fixed header: the packet type, then a Remaining Length of 1 to 4 bytes whose
    // last byte has no continuation bit; then the protocol name as a length and bytes.
    let Some(length_bytes) = connect.iter().skip(1).position(|b| b & 0x80 == 0) else {
        return;
    };
    let name_at = 2 + length_bytes;
    let Some(&[high, low]) = connect.get(name_at..name_at + 2) else {
        return;
    };
    let level_at = name_at + 2 + usize::from(u16::from_be_bytes([high, low]));
    if let Some(level) = connect.get_mut(level_at) {
        *level |= 0x80;
    }
}

fn pqos(q: QoS) -> mq_proto::QoS {
    match q {
        QoS::AtMostOnce => mq_proto::QoS::AtMostOnce,
        QoS::AtLeastOnce => mq_proto::QoS::AtLeastOnce,
        QoS::ExactlyOnce => mq_proto::QoS::ExactlyOnce,
    }
}

fn id(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN)
}

impl Connection {
    fn lost(&self, message: impl Into<String>) -> ClientError {
        ClientError::ConnectionLost {
            addr: self.addr.clone(),
            message: message.into(),
        }
    }

    fn keep_alive(&self) -> Duration {
        Duration::from_secs(u64::from(self.opts.keep_alive.max(1)))
    }

    fn next_id(&mut self) -> u16 {
        loop {
            self.last_id = self.last_id.checked_add(1).unwrap_or(1);
            if !self.unacked.contains_key(&self.last_id) {
                return self.last_id;
            }
        }
    }

    async fn write(&mut self, packet: &Packet) -> Result<(), ClientError> {
        let mut out = BytesMut::new();
        self.codec.encode(packet, &mut out);
        self.write_bytes(&out).await
    }

    async fn write_bytes(&mut self, out: &[u8]) -> Result<(), ClientError> {
        let result = match self.stream.as_mut() {
            Some(stream) => match stream.write_all(out).await {
                Ok(()) => stream.flush().await,
                Err(e) => Err(e),
            },
            None => return Err(self.lost("not connected")),
        };
        result.map_err(|e| self.drop_connection(e))?;
        self.next_ping = Instant::now() + self.keep_alive();
        Ok(())
    }

    fn drop_connection(&mut self, e: std::io::Error) -> ClientError {
        let was_connected = self.stream.is_some();
        self.stream = None;
        self.buf.clear();
        super::session::io_error_pub(&e, &self.addr, &self.opts.endpoint.host, was_connected)
    }

    fn publish_packet(message: &OutgoingMessage, packet_id: u16, dup: bool) -> Packet {
        Packet::Publish(mq_proto::Publish {
            dup,
            qos: pqos(message.qos),
            retain: message.retain,
            topic: message.topic.as_str().into(),
            packet_id: (message.qos != QoS::AtMostOnce).then(|| id(packet_id)),
            properties: Default::default(),
            payload: message.payload.clone(),
        })
    }

    async fn open(&mut self) -> Result<Event, ClientError> {
        let host = self.opts.endpoint.host.clone();
        let port = self.opts.endpoint.port;
        let timeout = self.opts.connect_timeout;
        let addr = self.addr.clone();
        let connect = async {
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| super::session::io_error_pub(&e, &addr, &host, false))?;
            let _ = tcp.set_nodelay(self.opts.nodelay);
            let stream: Pin<Box<dyn Stream>> = match &self.tls {
                None => Box::pin(tcp),
                Some(config) => {
                    let name = ServerName::try_from(host.clone()).map_err(|_| {
                        ClientError::InvalidOption(format!(
                            "{host:?} is not a host name TLS can check"
                        ))
                    })?;
                    let tls = tokio_rustls::TlsConnector::from(config.clone())
                        .connect(name, tcp)
                        .await
                        .map_err(|e| super::session::io_error_pub(&e, &addr, &host, false))?;
                    Box::pin(tls)
                }
            };
            Ok::<_, ClientError>(stream)
        };
        let stream = match tokio::time::timeout(timeout, connect).await {
            Ok(result) => result?,
            Err(_) => return Err(ClientError::ConnectTimeout { addr }),
        };
        self.stream = Some(stream);
        self.buf.clear();
        self.awaiting_pingresp = false;
        let will = self.opts.will.as_ref().map(|w| mq_proto::Will {
            topic: w.topic.as_str().into(),
            payload: w.payload.clone(),
            qos: pqos(w.qos),
            retain: w.retain,
            properties: Default::default(),
        });
        let connect = Packet::Connect(Box::new(mq_proto::Connect {
            protocol: self.version,
            clean_start: self.opts.clean_start,
            keep_alive: self.opts.keep_alive,
            client_id: self.opts.client_id.clone(),
            will,
            username: self.opts.username.clone(),
            password: self.opts.password.clone().map(|p| p.into_bytes().into()),
            properties: Default::default(),
        }));
        let mut encoded = BytesMut::new();
        self.codec.encode(&connect, &mut encoded);
        if self.opts.bridge {
            mark_bridge(&mut encoded);
        }
        self.write_bytes(&encoded).await?;
        let connack = tokio::time::timeout(timeout, self.read_packet()).await;
        let ack = match connack {
            Err(_) => {
                return Err(ClientError::ConnectTimeout {
                    addr: self.addr.clone(),
                })
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Packet::ConnAck(ack))) => ack,
            Ok(Ok(other)) => {
                self.stream = None;
                return Err(ClientError::Protocol {
                    addr: self.addr.clone(),
                    message: format!("expected CONNACK, got {}", other.name()),
                });
            }
        };
        if ack.reason_code != ReasonCode::Success {
            self.stream = None;
            return Err(ClientError::ConnAck(Reason::v3_connack(
                ack.reason_code.to_v3_connack(),
            )));
        }
        // Publishes the last connection left unacknowledged go again, in order.
        let resend: Vec<(u16, OutgoingMessage, bool)> = self
            .unacked
            .iter()
            .map(|(id, u)| (*id, u.message.clone(), u.released))
            .collect();
        for (packet_id, message, released) in resend {
            let packet = if released {
                Packet::PubRel(mq_proto::PubResponse::new(id(packet_id)))
            } else {
                Self::publish_packet(&message, packet_id, true)
            };
            self.write(&packet).await?;
        }
        Ok(Event::Connected {
            session_present: ack.session_present,
        })
    }

    /// Reads until one whole packet is decoded.
    async fn read_packet(&mut self) -> Result<Packet, ClientError> {
        loop {
            match self.codec.decode(&mut self.buf) {
                Ok(Some(packet)) => return Ok(packet),
                Ok(None) => {}
                Err(e) => {
                    self.stream = None;
                    return Err(ClientError::Protocol {
                        addr: self.addr.clone(),
                        message: e.to_string(),
                    });
                }
            }
            let Some(stream) = self.stream.as_mut() else {
                return Err(self.lost("not connected"));
            };
            match stream.read_buf(&mut self.buf).await {
                Ok(0) => {
                    self.stream = None;
                    return Err(self.lost("the broker closed the connection"));
                }
                Ok(_) => {}
                Err(e) => return Err(self.drop_connection(e)),
            }
        }
    }

    async fn handle_request(&mut self, request: Request) -> Result<(), ClientError> {
        match request {
            Request::Publish(message) => {
                let packet_id = if message.qos == QoS::AtMostOnce {
                    0
                } else {
                    self.next_id()
                };
                let packet = Self::publish_packet(&message, packet_id, false);
                if packet_id != 0 {
                    self.unacked.insert(
                        packet_id,
                        Unacked {
                            message,
                            released: false,
                        },
                    );
                }
                self.write(&packet).await?;
                self.events.push_back(Event::Sent(Sent::Publish(packet_id)));
            }
            Request::Subscribe(subs) => {
                let packet_id = self.next_id();
                let filters = subs
                    .iter()
                    .map(|s| {
                        (
                            s.filter.clone(),
                            mq_proto::SubscriptionOptions::new(pqos(s.qos)),
                        )
                    })
                    .collect();
                self.write(&Packet::Subscribe(mq_proto::Subscribe {
                    packet_id: id(packet_id),
                    filters,
                    properties: Default::default(),
                }))
                .await?;
                self.events
                    .push_back(Event::Sent(Sent::Subscribe(packet_id)));
            }
            Request::Unsubscribe(filter) => {
                let packet_id = self.next_id();
                self.write(&Packet::Unsubscribe(mq_proto::Unsubscribe {
                    packet_id: id(packet_id),
                    filters: vec![filter],
                    properties: Default::default(),
                }))
                .await?;
                self.events
                    .push_back(Event::Sent(Sent::Unsubscribe(packet_id)));
            }
            Request::Disconnect => {
                self.write(&Packet::Disconnect(mq_proto::Disconnect::new(
                    ReasonCode::Success,
                )))
                .await?;
                if let Some(mut stream) = self.stream.take() {
                    let _ = stream.shutdown().await;
                }
                self.closed = true;
                self.events.push_back(Event::Sent(Sent::Disconnect));
            }
        }
        Ok(())
    }

    async fn handle_packet(&mut self, packet: Packet) -> Result<(), ClientError> {
        match packet {
            Packet::Publish(p) => {
                let pkid = p.packet_id.map_or(0, NonZeroU16::get);
                let qos = match p.qos {
                    mq_proto::QoS::AtMostOnce => QoS::AtMostOnce,
                    mq_proto::QoS::AtLeastOnce => QoS::AtLeastOnce,
                    mq_proto::QoS::ExactlyOnce => QoS::ExactlyOnce,
                };
                // A QoS 2 message the broker sends again before PUBREL is not new.
                let fresh = qos != QoS::ExactlyOnce || self.incoming_qos2.insert(pkid);
                if fresh {
                    self.events.push_back(Event::Message(Message {
                        topic: p.topic.to_string(),
                        payload: p.payload,
                        qos,
                        retain: p.retain,
                        dup: p.dup,
                        pkid,
                        properties: None,
                    }));
                }
                match qos {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => {
                        self.write(&Packet::PubAck(mq_proto::PubResponse::new(id(pkid))))
                            .await?;
                        self.events.push_back(Event::Sent(Sent::PubAck(pkid)));
                    }
                    QoS::ExactlyOnce => {
                        self.write(&Packet::PubRec(mq_proto::PubResponse::new(id(pkid))))
                            .await?;
                        self.events.push_back(Event::Sent(Sent::PubRec(pkid)));
                    }
                }
            }
            Packet::PubRel(r) => {
                let pkid = r.packet_id.get();
                self.incoming_qos2.remove(&pkid);
                self.write(&Packet::PubComp(mq_proto::PubResponse::new(r.packet_id)))
                    .await?;
                self.events.push_back(Event::Sent(Sent::PubComp(pkid)));
            }
            Packet::PubAck(r) => {
                let pkid = r.packet_id.get();
                self.unacked.remove(&pkid);
                self.events.push_back(Event::PubAck {
                    pkid,
                    reason: Reason::v5(0),
                });
            }
            Packet::PubRec(r) => {
                let pkid = r.packet_id.get();
                if let Some(u) = self.unacked.get_mut(&pkid) {
                    u.released = true;
                }
                self.events.push_back(Event::PubRec {
                    pkid,
                    reason: Reason::v5(0),
                });
                self.write(&Packet::PubRel(mq_proto::PubResponse::new(r.packet_id)))
                    .await?;
                self.events.push_back(Event::Sent(Sent::PubRel(pkid)));
            }
            Packet::PubComp(r) => {
                let pkid = r.packet_id.get();
                self.unacked.remove(&pkid);
                self.events.push_back(Event::PubComp {
                    pkid,
                    reason: Reason::v5(0),
                });
            }
            Packet::SubAck(a) => self.events.push_back(Event::SubAck {
                pkid: a.packet_id.get(),
                codes: a.reason_codes.iter().map(|c| *c as u8).collect(),
                reason_string: None,
            }),
            Packet::UnsubAck(a) => self.events.push_back(Event::UnsubAck {
                pkid: a.packet_id.get(),
                codes: Vec::new(),
            }),
            Packet::PingResp => {
                self.awaiting_pingresp = false;
                self.events.push_back(Event::PingResp);
            }
            other => self.events.push_back(Event::Other(other.name())),
        }
        Ok(())
    }

    pub(crate) async fn poll(&mut self) -> Result<Event, ClientError> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(event);
            }
            if self.closed {
                return std::future::pending().await;
            }
            if self.stream.is_none() {
                let event = self.open().await?;
                self.next_ping = Instant::now() + self.keep_alive();
                return Ok(event);
            }
            let window_open = self.unacked.len() < usize::from(self.opts.max_inflight);
            let Some(stream) = self.stream.as_mut() else {
                continue;
            };
            tokio::select! {
                request = self.rx.recv(), if window_open => match request {
                    Some(request) => self.handle_request(request).await?,
                    None => {
                        self.closed = true;
                        return Err(self.lost("the client stopped"));
                    }
                },
                read = stream.read_buf(&mut self.buf) => match read {
                    Ok(0) => {
                        self.stream = None;
                        return Err(self.lost("the broker closed the connection"));
                    }
                    Ok(_) => loop {
                        match self.codec.decode(&mut self.buf) {
                            Ok(Some(packet)) => self.handle_packet(packet).await?,
                            Ok(None) => break,
                            Err(e) => {
                                self.stream = None;
                                return Err(ClientError::Protocol {
                                    addr: self.addr.clone(),
                                    message: e.to_string(),
                                });
                            }
                        }
                    },
                    Err(e) => return Err(self.drop_connection(e)),
                },
                _ = tokio::time::sleep_until(self.next_ping) => {
                    if self.awaiting_pingresp {
                        self.stream = None;
                        return Err(self.lost("the broker stopped answering (no PINGRESP within the keep alive)"));
                    }
                    self.awaiting_pingresp = true;
                    self.write(&Packet::PingReq).await?;
                    self.events.push_back(Event::Sent(Sent::PingReq));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bridge_connect_carries_bit_0x80_in_the_protocol_level_and_nothing_else_changes() {
        for (version, level) in [(ProtocolVersion::V31, 3u8), (ProtocolVersion::V311, 4)] {
            // A client id long enough for a two-byte Remaining Length.
            let connect = Packet::Connect(Box::new(mq_proto::Connect {
                protocol: version,
                clean_start: false,
                keep_alive: 60,
                client_id: "c".repeat(200),
                will: None,
                username: Some("bridge".into()),
                password: None,
                properties: Default::default(),
            }));
            let mut plain = BytesMut::new();
            Codec::client(version, mq_proto::PROTOCOL_MAX_PACKET_SIZE).encode(&connect, &mut plain);
            let mut marked = plain.clone();
            mark_bridge(&mut marked);
            let changed: Vec<usize> = (0..plain.len())
                .filter(|&i| plain[i] != marked[i])
                .collect();
            assert_eq!(changed.len(), 1, "{version:?}");
            assert_eq!(plain[changed[0]], level);
            assert_eq!(marked[changed[0]], level | 0x80);
        }
    }
}
