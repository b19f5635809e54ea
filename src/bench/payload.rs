//! The bench payload and pre-encoded PUBLISH packets.
//!
//! Every payload starts with a header: a magic number, the run, the publisher, the
//! publisher's sequence number and the send time. The rest is filler up to the payload
//! size. A PUBLISH is encoded once per publisher by the project's codec; each message is
//! then a copy of those bytes with the packet identifier and the header written in.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};
use mq_proto::{
    encode, peek_header, ByteString, Bytes, Packet, PacketId, Properties, ProtocolVersion, Publish,
    QoS,
};

/// "MQB" and the header's version.
const MAGIC: [u8; 4] = *b"MQB\x01";

/// Bytes of the header at the front of every bench payload.
pub const HEADER_LEN: usize = 28;

/// What a bench payload says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Chosen at random per `mq bench` run, so two runs on one broker stay apart.
    pub run: u32,
    pub publisher: u32,
    pub seq: u64,
    /// Microseconds since the Unix epoch when the message was written to the socket
    /// buffer; the wall clock, so a subscriber in another process on the same machine can
    /// take the latency too.
    pub sent_at_us: u64,
}

impl Header {
    pub fn write(&self, out: &mut [u8]) {
        if out.len() < HEADER_LEN {
            return;
        }
        out[0..4].copy_from_slice(&MAGIC);
        out[4..8].copy_from_slice(&self.run.to_be_bytes());
        out[8..12].copy_from_slice(&self.publisher.to_be_bytes());
        out[12..20].copy_from_slice(&self.seq.to_be_bytes());
        out[20..28].copy_from_slice(&self.sent_at_us.to_be_bytes());
    }

    /// The header of a bench payload; `None` for anything else.
    pub fn read(payload: &[u8]) -> Option<Header> {
        let header = payload.get(..HEADER_LEN)?;
        if header[0..4] != MAGIC {
            return None;
        }
        let u32_at =
            |i: usize| u32::from_be_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let u64_at = |i: usize| (u64::from(u32_at(i)) << 32) | u64::from(u32_at(i + 4));
        Some(Header {
            run: u32_at(4),
            publisher: u32_at(8),
            seq: u64_at(12),
            sent_at_us: u64_at(20),
        })
    }
}

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// One PUBLISH, encoded once, to be copied for each message.
#[derive(Debug, Clone)]
pub struct PublishTemplate {
    bytes: Vec<u8>,
    /// Where the Packet Identifier sits (QoS 1 and 2 only).
    packet_id_at: Option<usize>,
    payload_at: usize,
    payload_len: usize,
}

impl PublishTemplate {
    pub fn new(
        topic: &str,
        qos: QoS,
        retain: bool,
        payload_len: usize,
        version: ProtocolVersion,
    ) -> PublishTemplate {
        let publish = Publish {
            dup: false,
            qos,
            retain,
            topic: ByteString::from(topic),
            packet_id: (qos != QoS::AtMostOnce).then_some(PacketId::MIN),
            properties: Properties::default(),
            payload: Bytes::from(vec![0u8; payload_len]),
        };
        let mut out = BytesMut::new();
        encode(&Packet::Publish(publish), version, &mut out);
        // The encoder wrote it, so its header parses; a header length of 0 cannot happen.
        let header_len = peek_header(&out, usize::MAX)
            .ok()
            .flatten()
            .map_or(0, |h| h.header_len);
        let packet_id_at = (qos != QoS::AtMostOnce).then_some(header_len + 2 + topic.len());
        PublishTemplate {
            payload_at: out.len() - payload_len,
            bytes: out.to_vec(),
            packet_id_at,
            payload_len,
        }
    }

    /// The size of one encoded message.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends one message: the template with `packet_id` and `header` written in (the
    /// header only if the payload has room for it).
    pub fn write(&self, out: &mut BytesMut, packet_id: Option<PacketId>, header: &Header) {
        let base = out.len();
        out.put_slice(&self.bytes);
        if let (Some(at), Some(id)) = (self.packet_id_at, packet_id) {
            out[base + at..base + at + 2].copy_from_slice(&id.get().to_be_bytes());
        }
        if self.payload_len >= HEADER_LEN {
            let start = base + self.payload_at;
            header.write(&mut out[start..start + HEADER_LEN]);
        }
    }
}

/// Packet Identifiers for one connection's outgoing QoS 1/2 messages: the next free one,
/// never one still in flight.
#[derive(Debug, Clone)]
pub struct PacketIds {
    in_use: Vec<u64>,
    next: u16,
    used: usize,
}

impl Default for PacketIds {
    fn default() -> Self {
        PacketIds {
            in_use: vec![0; 1024],
            next: 1,
            used: 0,
        }
    }
}

impl PacketIds {
    /// The next free identifier; `None` when all 65,535 are in flight.
    pub fn take(&mut self) -> Option<PacketId> {
        if self.used >= usize::from(u16::MAX) {
            return None;
        }
        loop {
            let candidate = self.next;
            self.next = self.next.checked_add(1).unwrap_or(1);
            let (word, bit) = (usize::from(candidate / 64), 1u64 << (candidate % 64));
            if let Some(id) = PacketId::new(candidate) {
                if self.in_use[word] & bit == 0 {
                    self.in_use[word] |= bit;
                    self.used += 1;
                    return Some(id);
                }
            }
        }
    }

    /// Frees `id`; false if it was not in flight.
    pub fn release(&mut self, id: PacketId) -> bool {
        let value = id.get();
        let (word, bit) = (usize::from(value / 64), 1u64 << (value % 64));
        if self.in_use[word] & bit == 0 {
            return false;
        }
        self.in_use[word] &= !bit;
        self.used -= 1;
        true
    }

    pub fn in_flight(&self) -> usize {
        self.used
    }
}

/// A topic pattern: `%i` is the client's number (from 1), `%c` its client identifier,
/// `%n` the message's sequence number.
pub fn expand_topic(pattern: &str, index: usize, client_id: &str, seq: Option<u64>) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('i') => out.push_str(&index.to_string()),
            Some('c') => out.push_str(client_id),
            Some('n') => match seq {
                Some(seq) => out.push_str(&seq.to_string()),
                None => out.push_str("%n"),
            },
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Whether the pattern has a different topic for every message.
pub fn varies_per_message(pattern: &str) -> bool {
    pattern.contains("%n")
}

/// The filter that catches everything a pattern publishes to: the levels before the first
/// one with a `%` variable, then `#` (`bench/%i` → `bench/#`); a pattern without
/// variables is its own filter.
pub fn default_filter(pattern: &str) -> String {
    if !pattern.contains('%') {
        return pattern.to_string();
    }
    let fixed: Vec<&str> = pattern
        .split('/')
        .take_while(|l| !l.contains('%'))
        .collect();
    if fixed.is_empty() {
        "#".to_string()
    } else {
        format!("{}/#", fixed.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mq_proto::{Codec, PROTOCOL_MAX_PACKET_SIZE};

    fn decode_one(bytes: &mut BytesMut, version: ProtocolVersion) -> Publish {
        let mut codec = Codec::client(version, PROTOCOL_MAX_PACKET_SIZE);
        match codec.decode(bytes) {
            Ok(Some(Packet::Publish(p))) => p,
            other => panic!("not a PUBLISH: {other:?}"),
        }
    }

    #[test]
    fn a_template_message_decodes_with_its_packet_id_and_header() {
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let template = PublishTemplate::new("bench/7", qos, false, 64, version);
                let header = Header {
                    run: 9,
                    publisher: 7,
                    seq: 123_456_789_012,
                    sent_at_us: 1_700_000_000_000_000,
                };
                let id = PacketId::new(513);
                let mut out = BytesMut::new();
                template.write(&mut out, id, &header);
                assert_eq!(out.len(), template.len());
                let publish = decode_one(&mut out, version);
                assert_eq!(&*publish.topic, "bench/7");
                assert_eq!(publish.payload.len(), 64);
                assert_eq!(publish.qos, qos);
                if qos != QoS::AtMostOnce {
                    assert_eq!(publish.packet_id, id);
                }
                assert_eq!(Header::read(&publish.payload), Some(header));
            }
        }
    }

    #[test]
    fn a_payload_without_the_magic_is_not_a_bench_payload() {
        assert_eq!(Header::read(&[0u8; 64]), None);
        assert_eq!(Header::read(b"MQB\x01short"), None);
    }

    #[test]
    fn packet_ids_skip_those_in_flight_and_wrap() {
        let mut ids = PacketIds::default();
        let first = ids.take().unwrap();
        assert_eq!(first.get(), 1);
        ids.next = u16::MAX;
        assert_eq!(ids.take().unwrap().get(), u16::MAX);
        assert_eq!(ids.take().unwrap().get(), 2, "1 is still in flight");
        assert!(ids.release(first));
        assert!(!ids.release(first));
        assert_eq!(ids.in_flight(), 2);
    }

    #[test]
    fn all_ids_in_flight_means_none_is_free() {
        let mut ids = PacketIds::default();
        for _ in 0..u16::MAX {
            assert!(ids.take().is_some());
        }
        assert_eq!(ids.take(), None);
    }

    #[test]
    fn topic_patterns_expand_and_give_their_filter() {
        assert_eq!(expand_topic("bench/%i/%c", 3, "x", None), "bench/3/x");
        assert_eq!(expand_topic("r/%n", 1, "x", Some(42)), "r/42");
        assert_eq!(expand_topic("100%%/%q", 1, "x", None), "100%/%q");
        assert_eq!(default_filter("bench/%i"), "bench/#");
        assert_eq!(default_filter("a/b/%n/c"), "a/b/#");
        assert_eq!(default_filter("%i/x"), "#");
        assert_eq!(default_filter("fixed/topic"), "fixed/topic");
        assert!(varies_per_message("r/%n"));
    }
}
