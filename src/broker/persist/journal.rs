//! The journal: the ordered list of changes the protocol logic made to durable state,
//! waiting for the store writer. `BrokerState` and `Session` only append to it (no I/O, no
//! clock), which keeps them testable without a disk; the writer takes everything appended
//! so far, commits it as one transaction, and announces the sequence number it reached.

use std::sync::Arc;
use std::time::Instant;

use mq_proto::{ByteString, PacketId, SubscriptionOptions, Will};
use parking_lot::{Condvar, Mutex};

use crate::broker::message::{Delivery, Message};
use crate::broker::session::SessionExpiry;

/// Where an in-flight message stands, as the journal tells it; the variants are the
/// packets' names as the spec writes them.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaiting {
    PubAck,
    PubRec,
    PubComp,
}

/// A session's own fields (not its subscriptions or messages).
#[derive(Debug, Clone)]
pub struct SessionMeta {
    pub client_id: Arc<str>,
    pub expiry: SessionExpiry,
    pub disconnected_at: Option<Instant>,
    pub will: Option<Will>,
    pub pending_will: Option<(Will, Instant)>,
}

/// One change to durable state. Deliveries are named by their session and sequence number.
#[derive(Debug, Clone)]
pub enum Change {
    /// The session exists with these fields (created or changed).
    Session(Box<SessionMeta>),
    /// The session is gone with everything it held.
    SessionGone(Arc<str>),
    Subscribed {
        client_id: Arc<str>,
        filter: String,
        options: SubscriptionOptions,
        identifier: Option<u32>,
    },
    Unsubscribed {
        client_id: Arc<str>,
        filter: String,
    },
    /// A QoS 1/2 message joined the session's queue (`delivery.seq` names it).
    Queued {
        client_id: Arc<str>,
        delivery: Delivery,
    },
    /// A queued message was sent under `packet_id`, or its in-flight state moved on.
    InFlight {
        client_id: Arc<str>,
        seq: u64,
        packet_id: PacketId,
        awaiting: Awaiting,
    },
    /// The delivery is finished: acknowledged, expired, dropped or handed to another session.
    Done {
        client_id: Arc<str>,
        seq: u64,
    },
    /// A QoS 2 PUBLISH from the client was received: its Packet Identifier is held until PUBREL.
    InboundQoS2 {
        client_id: Arc<str>,
        packet_id: PacketId,
    },
    /// PUBREL from the client released the identifier.
    Released {
        client_id: Arc<str>,
        packet_id: PacketId,
    },
    Retained(Arc<Message>),
    RetainedCleared(ByteString),
}

#[derive(Debug, Default)]
struct Buffer {
    changes: Vec<Change>,
    /// How many changes were ever appended: the ticket a waiting acknowledgement holds.
    seq: u64,
    closed: bool,
}

#[derive(Debug, Default)]
struct Inner {
    buffer: Mutex<Buffer>,
    /// Wakes the writer when the buffer stops being empty, or at close.
    ready: Condvar,
}

/// A handle to the journal; a disabled one (persistence off) ignores every change.
#[derive(Debug, Clone, Default)]
pub struct Journal(Option<Arc<Inner>>);

/// Past this many waiting changes the writer is woken even in periodic mode, so the
/// journal cannot grow without bound between saves.
pub const EARLY_COMMIT_CHANGES: usize = 100_000;

impl Journal {
    pub fn enabled() -> Journal {
        Journal(Some(Arc::default()))
    }

    pub fn disabled() -> Journal {
        Journal(None)
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    pub fn push(&self, change: Change) {
        let Some(inner) = &self.0 else { return };
        let mut buffer = inner.buffer.lock();
        let was_empty = buffer.changes.is_empty();
        buffer.changes.push(change);
        buffer.seq += 1;
        if was_empty || buffer.changes.len() == EARLY_COMMIT_CHANGES {
            inner.ready.notify_one();
        }
    }

    /// The sequence number of the last change appended; an acknowledgement that depends
    /// on the changes so far may go out once the writer has committed this far.
    pub fn seq(&self) -> u64 {
        self.0.as_ref().map_or(0, |inner| inner.buffer.lock().seq)
    }

    pub fn len(&self) -> usize {
        self.0
            .as_ref()
            .map_or(0, |inner| inner.buffer.lock().changes.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Everything appended so far and the sequence number it reaches.
    pub fn take(&self) -> (Vec<Change>, u64) {
        let Some(inner) = &self.0 else {
            return (Vec::new(), 0);
        };
        let mut buffer = inner.buffer.lock();
        (std::mem::take(&mut buffer.changes), buffer.seq)
    }

    /// Waits until there is something to take (or `until` passes, or the journal is
    /// closed); true if the journal is closed.
    pub fn wait(&self, until: Option<Instant>, wake_early: bool) -> bool {
        let Some(inner) = &self.0 else { return true };
        let mut buffer = inner.buffer.lock();
        loop {
            if buffer.closed {
                return true;
            }
            let enough = if wake_early {
                !buffer.changes.is_empty()
            } else {
                buffer.changes.len() >= EARLY_COMMIT_CHANGES
            };
            if enough {
                return false;
            }
            match until {
                Some(deadline) => {
                    if inner.ready.wait_until(&mut buffer, deadline).timed_out() {
                        return buffer.closed;
                    }
                }
                None => inner.ready.wait(&mut buffer),
            }
        }
    }

    /// No more changes will come that matter: the writer commits what is left and stops.
    pub fn close(&self) {
        if let Some(inner) = &self.0 {
            inner.buffer.lock().closed = true;
            inner.ready.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gone(id: &str) -> Change {
        Change::SessionGone(id.into())
    }

    #[test]
    fn a_disabled_journal_keeps_nothing() {
        let journal = Journal::disabled();
        journal.push(gone("a"));
        assert_eq!(journal.seq(), 0);
        assert!(journal.take().0.is_empty());
    }

    #[test]
    fn take_returns_changes_in_order_with_the_sequence_reached() {
        let journal = Journal::enabled();
        journal.push(gone("a"));
        journal.push(gone("b"));
        let (changes, seq) = journal.take();
        assert_eq!(seq, 2);
        let ids: Vec<_> = changes
            .iter()
            .map(|c| match c {
                Change::SessionGone(id) => id.to_string(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(ids, ["a", "b"]);
        journal.push(gone("c"));
        assert_eq!(journal.take().1, 3, "the sequence keeps counting");
    }

    #[test]
    fn wait_returns_at_once_when_changes_wait_or_the_journal_is_closed() {
        let journal = Journal::enabled();
        journal.push(gone("a"));
        assert!(!journal.wait(None, true));
        journal.take();
        journal.close();
        assert!(journal.wait(None, true));
    }
}
