//! A raw-bytes MQTT client on the project's own codec: exact packets in both directions,
//! and malformed input that no client library would send.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use mq_proto::{
    Bytes, BytesMut, Codec, ConnAck, Connect, Packet, PacketId, Properties, ProtocolVersion,
    PubResponse, Publish, QoS, ReasonCode, Subscribe, SubscriptionOptions, Unsubscribe, Will,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for a packet it expects.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// What the next read brought.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one value per read in a test; boxing buys nothing
pub enum Next {
    Packet(Packet),
    /// The broker closed the connection (end of stream or reset).
    Closed,
    /// Nothing arrived in the time given.
    Quiet,
}

pub struct Raw {
    stream: TcpStream,
    codec: Codec,
    buf: BytesMut,
    /// Publishes that arrived while a helper waited for an acknowledgement.
    stash: VecDeque<Publish>,
}

/// A CONNECT with clean session, keep alive off and no will, in MQTT 3.1.1.
pub fn connect_packet(client_id: &str) -> Connect {
    Connect {
        protocol: ProtocolVersion::V311,
        clean_start: true,
        keep_alive: 0,
        client_id: client_id.to_string(),
        will: None,
        username: None,
        password: None,
        properties: Properties::default(),
    }
}

pub fn will(topic: &str, payload: &str, qos: QoS) -> Will {
    Will {
        topic: topic.into(),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        qos,
        retain: false,
        properties: Properties::default(),
    }
}

pub fn pid(n: u16) -> PacketId {
    PacketId::new(n).expect("packet ids in tests are not 0")
}

/// A PUBLISH of `payload` to `topic`, without properties; it carries packet id `id` when
/// `qos` needs one.
pub fn publish_packet(topic: &str, qos: QoS, id: u16, retain: bool, payload: &[u8]) -> Publish {
    Publish {
        dup: false,
        qos,
        retain,
        topic: topic.into(),
        packet_id: (qos != QoS::AtMostOnce).then(|| pid(id)),
        properties: Properties::default(),
        payload: Bytes::copy_from_slice(payload),
    }
}

/// A SUBSCRIBE with packet id 1 to `filters`, without properties.
pub fn subscribe_packet(filters: &[(&str, QoS)]) -> Subscribe {
    Subscribe {
        packet_id: pid(1),
        filters: filters
            .iter()
            .map(|(f, q)| (f.to_string(), SubscriptionOptions::new(*q)))
            .collect(),
        properties: Properties::default(),
    }
}

impl Raw {
    /// A TCP connection that has sent nothing yet; the codec speaks 3.1.1.
    pub async fn tcp(addr: SocketAddr) -> Raw {
        Raw::tcp_version(addr, ProtocolVersion::V311).await
    }

    pub async fn tcp_version(addr: SocketAddr, version: ProtocolVersion) -> Raw {
        let stream = tokio::time::timeout(PATIENCE, TcpStream::connect(addr))
            .await
            .expect("TCP connect timed out")
            .expect("TCP connect failed");
        stream.set_nodelay(true).expect("set_nodelay");
        Raw {
            stream,
            codec: Codec::client(version, mq_proto::PROTOCOL_MAX_PACKET_SIZE),
            buf: BytesMut::new(),
            stash: VecDeque::new(),
        }
    }

    /// Sends `connect` and returns the CONNACK, whatever its code.
    pub async fn handshake(addr: SocketAddr, connect: Connect) -> (Raw, ConnAck) {
        let mut raw = Raw::tcp_version(addr, connect.protocol).await;
        raw.send(&Packet::Connect(Box::new(connect))).await;
        match raw.recv().await {
            Packet::ConnAck(ack) => (raw, ack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connects and insists on CONNACK 0.
    pub async fn connect(addr: SocketAddr, connect: Connect) -> (Raw, ConnAck) {
        let (raw, ack) = Raw::handshake(addr, connect).await;
        assert_eq!(ack.reason_code, ReasonCode::Success, "CONNACK refused");
        (raw, ack)
    }

    /// A clean 3.1.1 session with `client_id`, keep alive off.
    pub async fn connect_v311(addr: SocketAddr, client_id: &str) -> Raw {
        Raw::connect(addr, connect_packet(client_id)).await.0
    }

    pub async fn send(&mut self, packet: &Packet) {
        let mut out = BytesMut::new();
        self.codec.encode(packet, &mut out);
        self.send_bytes(&out).await;
    }

    /// Writes bytes as they are. A write to a connection the broker already closed is not
    /// an error here: the test then looks at how the connection ended.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// The next packet, the end of the connection, or `Quiet` after `wait`.
    pub async fn next(&mut self, wait: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.codec.decode(&mut self.buf) {
                Ok(Some(packet)) => return Next::Packet(packet),
                Ok(None) => {}
                Err(e) => panic!("the broker sent a packet our codec refuses: {e}"),
            }
            self.buf.reserve(4096);
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return Next::Quiet,
                Ok(Ok(0)) | Ok(Err(_)) => return Next::Closed,
                Ok(Ok(_)) => {}
            }
        }
    }

    /// The next packet; panics if the connection closes or nothing comes in time.
    pub async fn recv(&mut self) -> Packet {
        match self.next(PATIENCE).await {
            Next::Packet(packet) => packet,
            other => panic!("expected a packet, got {other:?}"),
        }
    }

    /// The next PUBLISH, including one a helper set aside.
    pub async fn recv_publish(&mut self) -> Publish {
        if let Some(publish) = self.stash.pop_front() {
            return publish;
        }
        match self.recv().await {
            Packet::Publish(publish) => publish,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Waits until the broker closes the connection; returns what it sent before.
    pub async fn expect_closed(&mut self) -> Vec<Packet> {
        let mut before = Vec::new();
        loop {
            match self.next(PATIENCE).await {
                Next::Packet(packet) => before.push(packet),
                Next::Closed => return before,
                Next::Quiet => panic!(
                    "the broker did not close the connection within {PATIENCE:?} (it sent {before:?})"
                ),
            }
        }
    }

    /// Every byte the broker sends until it closes the connection, undecoded.
    pub async fn bytes_until_closed(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.buf);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            bytes.reserve(4096);
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut bytes)).await {
                Err(_) => panic!(
                    "the broker did not close the connection within {PATIENCE:?} (it sent {:02X?})",
                    &bytes[..]
                ),
                Ok(Ok(0)) | Ok(Err(_)) => return bytes.to_vec(),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Asserts that the broker closes the connection without sending anything first,
    /// as MQTT 3.1.1 asks after a protocol error.
    pub async fn expect_closed_silently(&mut self) {
        let sent = self.expect_closed().await;
        assert!(
            sent.is_empty(),
            "expected a bare close, the broker sent {sent:?}"
        );
    }

    /// Asserts that nothing arrives for `wait`: for checks that something does NOT happen.
    pub async fn expect_quiet(&mut self, wait: Duration) {
        assert!(
            self.stash.is_empty(),
            "expected nothing, but publishes arrived: {:?}",
            self.stash
        );
        match self.next(wait).await {
            Next::Quiet => {}
            other => panic!("expected nothing for {wait:?}, got {other:?}"),
        }
    }

    /// The next packet that is not a PUBLISH; publishes arriving first are kept for
    /// [`Raw::recv_publish`].
    pub async fn recv_control(&mut self) -> Packet {
        loop {
            match self.recv().await {
                Packet::Publish(p) => self.stash.push_back(p),
                other => return other,
            }
        }
    }

    /// Publishes received but not yet taken.
    pub fn stashed(&self) -> usize {
        self.stash.len()
    }

    /// PINGREQ, then PINGRESP: proves the connection is still served.
    pub async fn ping(&mut self) {
        self.send(&Packet::PingReq).await;
        match self.recv_control().await {
            Packet::PingResp => {}
            other => panic!("expected PINGRESP, got {other:?}"),
        }
    }

    /// SUBSCRIBE with packet id 1 and the given filters; returns the SUBACK codes.
    pub async fn subscribe(&mut self, filters: &[(&str, QoS)]) -> Vec<ReasonCode> {
        self.send(&Packet::Subscribe(subscribe_packet(filters)))
            .await;
        match self.recv_control().await {
            Packet::SubAck(ack) => {
                assert_eq!(ack.packet_id, pid(1));
                ack.reason_codes
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    pub async fn unsubscribe(&mut self, filters: &[&str]) {
        self.send(&Packet::Unsubscribe(Unsubscribe {
            packet_id: pid(2),
            filters: filters.iter().map(|f| f.to_string()).collect(),
            properties: Properties::default(),
        }))
        .await;
        match self.recv_control().await {
            Packet::UnsubAck(ack) => assert_eq!(ack.packet_id, pid(2)),
            other => panic!("expected UNSUBACK, got {other:?}"),
        }
    }

    /// Publishes and completes the QoS flow as the sender (PUBACK, or PUBREC/PUBREL/PUBCOMP).
    pub async fn publish(&mut self, topic: &str, qos: QoS, retain: bool, payload: &[u8]) {
        let packet = publish_packet(topic, qos, 100, retain, payload);
        let packet_id = packet.packet_id;
        self.send(&Packet::Publish(packet)).await;
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => match self.recv_control().await {
                Packet::PubAck(ack) => assert_eq!(Some(ack.packet_id), packet_id),
                other => panic!("expected PUBACK, got {other:?}"),
            },
            QoS::ExactlyOnce => {
                match self.recv_control().await {
                    Packet::PubRec(rec) => assert_eq!(Some(rec.packet_id), packet_id),
                    other => panic!("expected PUBREC, got {other:?}"),
                }
                let id = packet_id.expect("QoS 2 has an id");
                self.send(&Packet::PubRel(PubResponse::new(id))).await;
                match self.recv_control().await {
                    Packet::PubComp(comp) => assert_eq!(comp.packet_id, id),
                    other => panic!("expected PUBCOMP, got {other:?}"),
                }
            }
        }
    }

    pub async fn puback(&mut self, id: PacketId) {
        self.send(&Packet::PubAck(PubResponse::new(id))).await;
    }

    pub async fn disconnect(mut self) {
        self.send(&Packet::Disconnect(mq_proto::Disconnect::new(
            ReasonCode::Success,
        )))
        .await;
        let _ = self.stream.shutdown().await;
    }
}
