//! `--max-memory`: the bytes of application messages the broker holds, and the limit on them.
//!
//! A message's payload is copied out of the read buffer once (see `Message::from_publish`);
//! with a limit set, that copy is charged to a shared counter and the charge is returned
//! when the last `Bytes` of it is dropped, wherever that happens: a retained message
//! replaced, a queued QoS 0 message sent, an in-flight one acknowledged, a session
//! discarded. The counter is therefore exact for what messages hold, however many sessions
//! share one, and needs no bookkeeping at each of those places.

use std::mem::size_of;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mq_proto::Bytes;

use super::message::Message;

/// What one message is charged besides its payload and topic: the `Message` itself and
/// its share of the `Arc` and of a `Delivery`, so that floods of tiny messages count too.
const PER_MESSAGE_OVERHEAD: u64 = size_of::<Message>() as u64 + 64;

/// The message bytes held now, and the limit on them.
#[derive(Debug, Default)]
pub struct MemoryLimit {
    limit: Option<u64>,
    held: Arc<AtomicU64>,
}

impl MemoryLimit {
    /// `None`: no limit, and nothing is counted (payloads are plain copies).
    pub fn new(limit: Option<u64>) -> MemoryLimit {
        MemoryLimit {
            limit,
            held: Arc::default(),
        }
    }

    /// Bytes held by the messages alive now (0 when there is no limit).
    fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// True when the messages held have reached the limit: new publishes are refused.
    pub fn is_exceeded(&self) -> bool {
        self.limit.is_some_and(|limit| self.held() >= limit)
    }

    /// A copy of `payload` for a new message on `topic`, charged until it is dropped.
    pub fn payload(&self, topic: &str, payload: &[u8]) -> Bytes {
        if self.limit.is_none() {
            return Bytes::copy_from_slice(payload);
        }
        let charge = (payload.len() + topic.len()) as u64 + PER_MESSAGE_OVERHEAD;
        self.held.fetch_add(charge, Ordering::Relaxed);
        Bytes::from_owner(Charged {
            data: payload.into(),
            charge,
            held: self.held.clone(),
        })
    }
}

/// A payload that gives its charge back when the last reference to it goes.
struct Charged {
    data: Box<[u8]>,
    charge: u64,
    held: Arc<AtomicU64>,
}

impl AsRef<[u8]> for Charged {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Charged {
    fn drop(&mut self) {
        self.held.fetch_sub(self.charge, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_is_charged_until_its_last_clone_is_dropped() {
        let memory = MemoryLimit::new(Some(1_000_000));
        let payload = memory.payload("t", b"hello");
        let charge = 5 + 1 + PER_MESSAGE_OVERHEAD;
        assert_eq!(memory.held(), charge);
        let shared = payload.clone();
        drop(payload);
        assert_eq!(memory.held(), charge, "a clone still holds the bytes");
        assert_eq!(&shared[..], b"hello");
        drop(shared);
        assert_eq!(memory.held(), 0);
    }

    #[test]
    fn the_limit_is_exceeded_once_the_held_bytes_reach_it() {
        let memory = MemoryLimit::new(Some(2 * PER_MESSAGE_OVERHEAD + 200));
        let first = memory.payload("", &[0; 100]);
        assert!(!memory.is_exceeded());
        let second = memory.payload("", &[0; 100]);
        assert!(memory.is_exceeded());
        drop(first);
        assert!(!memory.is_exceeded());
        drop(second);
    }

    #[test]
    fn without_a_limit_nothing_is_counted_or_refused() {
        let memory = MemoryLimit::new(None);
        let payload = memory.payload("t", &[1; 4096]);
        assert_eq!(memory.held(), 0);
        assert!(!memory.is_exceeded());
        assert_eq!(payload.len(), 4096);
    }
}
