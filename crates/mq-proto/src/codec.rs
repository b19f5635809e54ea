//! The per-connection codec: packet order rules on top of [`decode`](crate::decode()).
//! It knows which side it serves and which protocol version the CONNECT chose.

use bytes::BytesMut;

use crate::decode::{decode_body, peek_header, PacketType};
use crate::encode::encode;
use crate::error::DecodeError;
use crate::packet::Packet;
use crate::types::ProtocolVersion;

/// The Maximum Packet Size the protocol allows: a 4-byte Remaining Length plus 5 header bytes.
pub const PROTOCOL_MAX_PACKET_SIZE: usize = 268_435_455 + 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Server,
    Client,
}

/// Where a connection stands, named for what it expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecState {
    ExpectConnect,
    Connected(ProtocolVersion),
}

#[derive(Debug, Clone)]
pub struct Codec {
    role: Role,
    state: CodecState,
    max_packet_size: usize,
}

impl Codec {
    /// A server-side codec: the first packet must be CONNECT, and it fixes the version.
    pub fn server(max_packet_size: usize) -> Codec {
        Codec {
            role: Role::Server,
            state: CodecState::ExpectConnect,
            max_packet_size,
        }
    }

    /// A client-side codec for a connection that will speak `version`.
    pub fn client(version: ProtocolVersion, max_packet_size: usize) -> Codec {
        Codec {
            role: Role::Client,
            state: CodecState::Connected(version),
            max_packet_size,
        }
    }

    pub fn state(&self) -> CodecState {
        self.state
    }

    pub fn version(&self) -> Option<ProtocolVersion> {
        match self.state {
            CodecState::Connected(version) => Some(version),
            CodecState::ExpectConnect => None,
        }
    }

    pub fn max_packet_size(&self) -> usize {
        self.max_packet_size
    }

    /// Takes the next whole packet off `buf`. `Ok(None)`: not enough bytes yet, and the
    /// caller may read at most [`Codec::bytes_needed`] more before a packet completes.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        let Some(header) = peek_header(buf, self.max_packet_size)? else {
            if let Some(&first) = buf.first() {
                self.check_order(first >> 4)?;
            }
            return Ok(None);
        };
        self.check_order(header.packet_type as u8)?;
        if buf.len() < header.packet_len() {
            return Ok(None);
        }
        let mut packet = buf.split_to(header.packet_len()).freeze();
        let body = packet.split_off(header.header_len);
        let version = match self.state {
            CodecState::Connected(version) => version,
            // Only a CONNECT gets here, and it carries its own version.
            CodecState::ExpectConnect => ProtocolVersion::V311,
        };
        let packet = decode_body(header, body, version)?;
        if let Packet::Connect(connect) = &packet {
            self.state = CodecState::Connected(connect.protocol);
        }
        Ok(Some(packet))
    }

    /// How many bytes the packet at the front of `buf` still lacks, when its header is known.
    pub fn bytes_needed(&self, buf: &[u8]) -> Option<usize> {
        let header = peek_header(buf, self.max_packet_size).ok()??;
        Some(header.packet_len().saturating_sub(buf.len()))
    }

    pub fn encode(&self, packet: &Packet, out: &mut BytesMut) {
        encode(packet, self.version().unwrap_or(ProtocolVersion::V311), out)
    }

    fn check_order(&self, type_nibble: u8) -> Result<(), DecodeError> {
        let is_connect = type_nibble == PacketType::Connect as u8;
        let name = packet_name(type_nibble);
        match (self.role, self.state) {
            (Role::Server, CodecState::ExpectConnect) if !is_connect => {
                Err(DecodeError::FirstPacketNotConnect(name))
            }
            (Role::Server, CodecState::Connected(_)) if is_connect => {
                Err(DecodeError::SecondConnect)
            }
            (Role::Server, _) if server_never_receives(type_nibble) => {
                Err(DecodeError::WrongDirection {
                    packet: name,
                    receiver: "server",
                })
            }
            (Role::Client, _) if client_never_receives(type_nibble) => {
                Err(DecodeError::WrongDirection {
                    packet: name,
                    receiver: "client",
                })
            }
            _ => Ok(()),
        }
    }
}

fn packet_name(type_nibble: u8) -> &'static str {
    const NAMES: [&str; 16] = [
        "reserved packet type 0",
        "CONNECT",
        "CONNACK",
        "PUBLISH",
        "PUBACK",
        "PUBREC",
        "PUBREL",
        "PUBCOMP",
        "SUBSCRIBE",
        "SUBACK",
        "UNSUBSCRIBE",
        "UNSUBACK",
        "PINGREQ",
        "PINGRESP",
        "DISCONNECT",
        "AUTH",
    ];
    NAMES[usize::from(type_nibble & 0x0F)]
}

fn server_never_receives(type_nibble: u8) -> bool {
    [
        PacketType::ConnAck,
        PacketType::SubAck,
        PacketType::UnsubAck,
        PacketType::PingResp,
    ]
    .iter()
    .any(|t| *t as u8 == type_nibble)
}

fn client_never_receives(type_nibble: u8) -> bool {
    [
        PacketType::Connect,
        PacketType::Subscribe,
        PacketType::Unsubscribe,
        PacketType::PingReq,
    ]
    .iter()
    .any(|t| *t as u8 == type_nibble)
}
