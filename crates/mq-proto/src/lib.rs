//! MQTT 3.1, 3.1.1 and 5.0 without I/O: bytes in, packets out.
//!
//! The decoder is strict: every refusal is a [`DecodeError`] naming the spec statement
//! it enforces, and [`DecodeError::reason_code`] maps it to the Reason Code a v5 peer is
//! told. Sizes are checked against the maximum packet size from the fixed header alone,
//! before any buffer grows.

// Safe Rust only: a decoder of untrusted bytes has no business with unsafe code.
#![forbid(unsafe_code)]

mod codec;
mod decode;
mod encode;
mod error;
mod packet;
mod properties;
mod reason;
pub mod topic;
mod types;
mod wire;

pub use codec::{Codec, CodecState, Role, PROTOCOL_MAX_PACKET_SIZE};
pub use decode::{decode, decode_body, peek_header, FixedHeader, PacketType};
pub use encode::{encode, encoded_len, publish_encoded_len};
pub use error::DecodeError;
pub use packet::*;
pub use properties::{Properties, PropertyContext};
pub use reason::ReasonCode;
pub use topic::TopicFilterError;
pub use types::{PacketId, ProtocolVersion, QoS};
pub use wire::{parse_varint, put_varint, VARINT_MAX};

pub use bytes::{Bytes, BytesMut};
pub use bytestring::ByteString;
