//! One bench client's connection: a tokio `TcpStream`, the project's codec and two
//! buffers. Writes are batched (whatever the buffer holds goes in one write) and reads
//! take what the socket has; [`BenchConnection::pump`] does both without splitting the
//! stream, so one task owns each connection.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use mq_proto::{
    Codec, ConnAck, Connect, Packet, PacketId, Properties, ProtocolVersion, QoS, ReasonCode,
    Subscribe, SubscriptionOptions, PROTOCOL_MAX_PACKET_SIZE,
};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use super::BenchError;

/// Read this much at a time at most, unless told otherwise.
const READ_CHUNK: usize = 64 * 1024;

/// How a bench client introduces itself.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub client_id: String,
    pub version: ProtocolVersion,
    pub keep_alive: u16,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

#[derive(Debug)]
pub struct BenchConnection {
    stream: TcpStream,
    codec: Codec,
    rbuf: BytesMut,
    /// What to send next; [`BenchConnection::pump`] writes it out.
    pub wbuf: BytesMut,
    pub client_id: String,
    /// The broker's Receive Maximum (MQTT 5), or 65,535.
    pub receive_maximum: u16,
    keep_alive: Option<Duration>,
    last_write: Instant,
    read_chunk: usize,
}

impl BenchConnection {
    /// TCP connect, CONNECT, and wait for a successful CONNACK, all before `deadline`.
    pub async fn open(
        addr: SocketAddr,
        spec: &ClientSpec,
        deadline: Instant,
    ) -> Result<BenchConnection, BenchError> {
        let stream = match timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(BenchError::Connect { addr, source }),
            Err(_) => return Err(BenchError::Timeout("connecting")),
        };
        // Latency would suffer from Nagle's algorithm; batching is done here instead.
        stream.set_nodelay(true).map_err(BenchError::Io)?;
        let mut connection = BenchConnection {
            stream,
            codec: Codec::client(spec.version, PROTOCOL_MAX_PACKET_SIZE),
            rbuf: BytesMut::with_capacity(512),
            wbuf: BytesMut::with_capacity(512),
            client_id: spec.client_id.clone(),
            receive_maximum: u16::MAX,
            keep_alive: (spec.keep_alive > 0)
                .then(|| Duration::from_secs(u64::from(spec.keep_alive))),
            last_write: Instant::now(),
            read_chunk: 1024,
        };
        connection.send(&Packet::Connect(Box::new(Connect {
            protocol: spec.version,
            clean_start: true,
            keep_alive: spec.keep_alive,
            client_id: spec.client_id.clone(),
            will: None,
            username: spec.username.clone(),
            password: spec.password.clone().map(Into::into),
            properties: Properties::default(),
        })));
        match connection
            .next_packet(deadline, "waiting for CONNACK")
            .await?
        {
            Packet::ConnAck(ConnAck {
                reason_code,
                properties,
                ..
            }) => {
                if reason_code.is_error() {
                    return Err(BenchError::Refused {
                        client_id: spec.client_id.clone(),
                        reason: reason_code,
                    });
                }
                if let Some(max) = properties.receive_maximum {
                    connection.receive_maximum = max;
                }
                connection.read_chunk = READ_CHUNK;
                Ok(connection)
            }
            other => Err(BenchError::Unexpected {
                expected: "CONNACK",
                got: other.name(),
            }),
        }
    }

    /// SUBSCRIBE to one filter and wait for a SUBACK that grants it.
    pub async fn subscribe(
        &mut self,
        filter: &str,
        qos: QoS,
        deadline: Instant,
    ) -> Result<QoS, BenchError> {
        let packet_id = PacketId::MIN;
        self.send(&Packet::Subscribe(Subscribe {
            packet_id,
            filters: vec![(filter.to_string(), SubscriptionOptions::new(qos))],
            properties: Properties::default(),
        }));
        loop {
            match self.next_packet(deadline, "waiting for SUBACK").await? {
                Packet::SubAck(ack) if ack.packet_id == packet_id => {
                    return match ack.reason_codes.first() {
                        Some(ReasonCode::Success) => Ok(QoS::AtMostOnce),
                        Some(ReasonCode::GrantedQoS1) => Ok(QoS::AtLeastOnce),
                        Some(ReasonCode::GrantedQoS2) => Ok(QoS::ExactlyOnce),
                        Some(code) => Err(BenchError::SubscribeRefused {
                            filter: filter.to_string(),
                            reason: *code,
                        }),
                        None => Err(BenchError::SubscribeRefused {
                            filter: filter.to_string(),
                            reason: ReasonCode::UnspecifiedError,
                        }),
                    };
                }
                // Retained messages may come before the SUBACK; a subscriber that needs them
                // subscribes with `send_subscribe` and reads them itself.
                Packet::Publish(_) | Packet::PingResp => {}
                other => {
                    return Err(BenchError::Unexpected {
                        expected: "SUBACK",
                        got: other.name(),
                    })
                }
            }
        }
    }

    /// Queues a SUBSCRIBE without waiting for its SUBACK.
    pub fn send_subscribe(&mut self, filter: &str, qos: QoS) {
        self.send(&Packet::Subscribe(Subscribe {
            packet_id: PacketId::MIN,
            filters: vec![(filter.to_string(), SubscriptionOptions::new(qos))],
            properties: Properties::default(),
        }));
    }

    /// Reads at most `bytes` at a time: an idle connection among thousands needs little.
    pub fn set_read_chunk(&mut self, bytes: usize) {
        self.read_chunk = bytes.max(64);
    }

    /// Queues a packet; it goes out with the next write.
    pub fn send(&mut self, packet: &Packet) {
        self.codec.encode(packet, &mut self.wbuf);
    }

    /// The next whole packet already received, if any.
    pub fn decode(&mut self) -> Result<Option<Packet>, BenchError> {
        self.codec
            .decode(&mut self.rbuf)
            .map_err(BenchError::Protocol)
    }

    /// Writes what is queued and waits for the next packet, before `deadline`.
    pub async fn next_packet(
        &mut self,
        deadline: Instant,
        waiting_for: &'static str,
    ) -> Result<Packet, BenchError> {
        loop {
            if let Some(packet) = self.decode()? {
                return Ok(packet);
            }
            if Instant::now() >= deadline {
                return Err(BenchError::Timeout(waiting_for));
            }
            self.pump(Some(deadline)).await?;
        }
    }

    /// Writes what it can of the queue and reads what has arrived. Waits until one of the
    /// two makes progress or `wake_at` passes. Sends PINGREQ when the keep alive asks for
    /// one, so an idle or receive-only client stays connected.
    pub async fn pump(&mut self, wake_at: Option<Instant>) -> Result<(), BenchError> {
        let mut wake_at = wake_at;
        if let Some(keep_alive) = self.keep_alive {
            let ping_at = self.last_write + keep_alive / 2;
            if Instant::now() >= ping_at && self.wbuf.is_empty() {
                self.send(&Packet::PingReq);
            }
            wake_at = Some(wake_at.map_or(ping_at, |w| w.min(ping_at)));
        }
        loop {
            let interest = if self.wbuf.is_empty() {
                Interest::READABLE
            } else {
                Interest::READABLE | Interest::WRITABLE
            };
            let ready = match wake_at {
                Some(at) => match timeout_at(at, self.stream.ready(interest)).await {
                    Ok(ready) => ready.map_err(BenchError::Io)?,
                    Err(_) => return Ok(()),
                },
                None => self.stream.ready(interest).await.map_err(BenchError::Io)?,
            };
            let mut progressed = false;
            if ready.is_writable() && !self.wbuf.is_empty() {
                match self.stream.try_write(&self.wbuf) {
                    Ok(n) => {
                        self.wbuf.advance(n);
                        self.last_write = Instant::now();
                        progressed = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(BenchError::Io(e)),
                }
            }
            if ready.is_readable() {
                if self.rbuf.capacity() - self.rbuf.len() < self.read_chunk / 4 {
                    self.rbuf.reserve(self.read_chunk);
                }
                match self.stream.try_read_buf(&mut self.rbuf) {
                    Ok(0) => return Err(BenchError::Closed),
                    Ok(_) => progressed = true,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(BenchError::Io(e)),
                }
            }
            if progressed {
                return Ok(());
            }
        }
    }

    /// Writes everything queued, before `deadline`.
    pub async fn flush(&mut self, deadline: Instant) -> Result<(), BenchError> {
        while !self.wbuf.is_empty() {
            if Instant::now() >= deadline {
                return Err(BenchError::Timeout("writing"));
            }
            self.pump(Some(deadline)).await?;
        }
        Ok(())
    }

    /// DISCONNECT, then close; errors are of no interest any more.
    pub async fn close(mut self, deadline: Instant) {
        self.send(&Packet::Disconnect(mq_proto::Disconnect::new(
            ReasonCode::Success,
        )));
        let _ = self.flush(deadline).await;
        let _ = timeout_at(deadline, self.stream.shutdown()).await;
    }
}
