//! Crash-safe persistence: sessions, subscriptions, queued and in-flight QoS 1/2 messages,
//! inbound QoS 2 identifiers, retained messages and Wills, in an embedded store (redb;
//! ARCHITECTURE.md says why).
//!
//! The protocol logic never does I/O: `BrokerState` and `Session` append [`Change`]s to the
//! [`Journal`]; one writer thread ([`writer`]) takes everything appended so far, commits it as
//! one transaction and announces how far it got, so acknowledgements held for durability
//! are released in groups (group commit).

pub mod journal;
pub mod record;
mod store;
mod wal;
pub mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mq_proto::{PacketId, SubscriptionOptions, Will};

pub use journal::{Change, Journal};
pub use store::{inspect, Store, StoreSummary, STORE_FILE};

#[cfg(test)]
mod tests;

use super::message::{Delivery, Message};
use super::session::{Awaiting, SessionExpiry};

/// When the broker's state reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// PUBACK, PUBREC and SUBACK (and everything after them on that connection) go out only
    /// once the change is committed and synced. Nothing acknowledged is lost.
    Sync,
    /// Changes are committed every interval (and when many are waiting), as Mosquitto's
    /// `autosave_interval` does: a crash loses up to one interval of acknowledged messages.
    Periodic(Duration),
}

/// Where and how the broker keeps its state; `None` in [`super::BrokerConfig`] keeps it in
/// memory only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistenceConfig {
    pub dir: PathBuf,
    pub durability: Durability,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot use the data folder {dir}: {source}")]
    Folder {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the store {path} is in use by another process (another mq broker with the same --data?)"
    )]
    InUse { path: PathBuf },
    #[error("the store {path} was written by a newer mq (format version {found}; this mq reads up to {supported}); use that version, or another --data folder")]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("the store {path} is damaged: {detail}; nothing was changed. Move it away to start with an empty store")]
    Corrupt { path: PathBuf, detail: String },
    #[error("cannot write the write-ahead log in {dir}: {source}; check that the disk has room and the folder is writable")]
    Log {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("no store at {path}")]
    Missing { path: PathBuf },
    #[error("store {path}: {source}")]
    Engine {
        path: PathBuf,
        source: Box<redb::Error>,
    },
}

/// A session as the store held it, ready for `BrokerState::restore`.
#[derive(Debug)]
pub struct RecoveredSession {
    pub client_id: Arc<str>,
    pub expiry: SessionExpiry,
    /// `None`: it was connected when the broker stopped.
    pub disconnected_at: Option<Instant>,
    pub will: Option<Will>,
    pub pending_will: Option<(Will, Instant)>,
    pub subscriptions: Vec<(String, SubscriptionOptions, Option<u32>)>,
    /// Oldest first.
    pub queue: Vec<Delivery>,
    /// In the order they were first sent.
    pub inflight: Vec<(PacketId, Awaiting, Delivery)>,
    pub inbound_qos2: Vec<PacketId>,
}

/// Everything the store held.
#[derive(Debug, Default)]
pub struct Recovered {
    pub sessions: Vec<RecoveredSession>,
    pub retained: Vec<Arc<Message>>,
}
