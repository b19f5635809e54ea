//! The redb file: its tables, reading it back at start, and applying the journal's changes
//! in one transaction per batch.
//!
//! Tables (format version 2; version 1 had the same tables without `journal_group`):
//! - `meta`: `format_version` → u32 LE; `journal_group` → u64 LE, the last write-ahead log
//!   group (`wal.rs`) this file holds
//! - `sessions`: client id → session record (expiry, Wills, when it went offline)
//! - `subscriptions`: (client id, filter) → options and Subscription Identifier
//! - `messages`: message id → message record; one row however many sessions hold it
//! - `deliveries`: (client id, seq) → message id, QoS, state (queued or in flight + packet id)
//! - `inbound_qos2`: (client id, packet id) → ()
//! - `retained`: topic → message record

// redb's own error type is large; it only travels on the error path of a commit.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mq_proto::PacketId;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::journal::{Awaiting, Change, SessionMeta};
use super::record::*;
use super::{wal, Recovered, RecoveredSession, StoreError};
use crate::broker::message::{Delivery, Message};
use crate::broker::session::SessionExpiry;

/// The store's file inside the data folder.
pub const STORE_FILE: &str = "mq.redb";

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
const SUBSCRIPTIONS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("subscriptions");
const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");
const DELIVERIES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("deliveries");
const INBOUND_QOS2: TableDefinition<(&str, u16), ()> = TableDefinition::new("inbound_qos2");
const RETAINED: TableDefinition<&str, &[u8]> = TableDefinition::new("retained");

const FORMAT_KEY: &str = "format_version";
const JOURNAL_KEY: &str = "journal_group";

/// Converts between the broker's monotonic clock and the wall clock the store keeps.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    instant: Instant,
    unix_ms: i64,
}

impl Clock {
    fn now() -> Clock {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Clock {
            instant: Instant::now(),
            unix_ms,
        }
    }

    fn to_ms(self, at: Instant) -> i64 {
        if at >= self.instant {
            let ahead = i64::try_from(at.duration_since(self.instant).as_millis()).unwrap_or(0);
            self.unix_ms.saturating_add(ahead)
        } else {
            let behind = i64::try_from(self.instant.duration_since(at).as_millis()).unwrap_or(0);
            self.unix_ms.saturating_sub(behind)
        }
    }

    /// A stored time as an `Instant`; times in the future (the wall clock went back) are now,
    /// times before the monotonic clock can express are its earliest.
    fn to_instant(self, ms: i64) -> Instant {
        let behind = self.unix_ms.saturating_sub(ms).max(0);
        let behind = std::time::Duration::from_millis(u64::try_from(behind).unwrap_or(0));
        self.instant.checked_sub(behind).unwrap_or(self.instant)
    }

    /// A stored due time (in the future or past) as an `Instant`.
    fn due(self, ms: i64) -> Instant {
        if ms > self.unix_ms {
            let ahead = u64::try_from(ms - self.unix_ms).unwrap_or(0);
            self.instant + std::time::Duration::from_millis(ahead)
        } else {
            self.to_instant(ms)
        }
    }
}

/// The open store, owned by the writer thread.
pub struct Store {
    db: Database,
    path: PathBuf,
    clock: Clock,
    /// How many deliveries refer to each stored message; a message goes when its count does.
    refs: HashMap<u64, u32>,
    /// Shared with the write-ahead log, which names messages before the store sees them.
    next_message_id: Arc<AtomicU64>,
    /// The last write-ahead log group this file holds.
    journal_group: u64,
}

/// Turns the journal's changes into a write-ahead log record (`wal.rs`); made by
/// [`Store::recorder`], used by the log's thread.
pub struct Recorder {
    clock: Clock,
    next_message_id: Arc<AtomicU64>,
}

impl Recorder {
    /// One group of changes as bytes: each message once, however many deliveries of the
    /// group hold it. Gives each message its store id (`Message::store_id`) on first sight.
    pub fn group(&self, changes: &[Change]) -> Vec<u8> {
        let mut written: HashSet<u64> = HashSet::new();
        let records: Vec<ChangeRecord> = changes
            .iter()
            .map(|change| match change {
                Change::Session(meta) => ChangeRecord::Session {
                    client_id: meta.client_id.to_string(),
                    session: session_record(self.clock, meta),
                },
                Change::SessionGone(client_id) => ChangeRecord::SessionGone {
                    client_id: client_id.to_string(),
                },
                Change::Subscribed {
                    client_id,
                    filter,
                    options,
                    identifier,
                } => ChangeRecord::Subscribed {
                    client_id: client_id.to_string(),
                    filter: filter.clone(),
                    subscription: SubscriptionRecord {
                        options: *options,
                        identifier: *identifier,
                    },
                },
                Change::Unsubscribed { client_id, filter } => ChangeRecord::Unsubscribed {
                    client_id: client_id.to_string(),
                    filter: filter.clone(),
                },
                Change::Queued {
                    client_id,
                    delivery,
                } => {
                    let id = message_id(&delivery.message, &self.next_message_id);
                    ChangeRecord::Queued {
                        client_id: client_id.to_string(),
                        seq: delivery.seq,
                        delivery: delivery_record(delivery, id),
                        message: written
                            .insert(id)
                            .then(|| message_record(self.clock, &delivery.message)),
                    }
                }
                Change::InFlight {
                    client_id,
                    seq,
                    packet_id,
                    awaiting,
                } => ChangeRecord::InFlight {
                    client_id: client_id.to_string(),
                    seq: *seq,
                    state: in_flight_state(*packet_id, *awaiting),
                },
                Change::Done { client_id, seq } => ChangeRecord::Done {
                    client_id: client_id.to_string(),
                    seq: *seq,
                },
                Change::InboundQoS2 {
                    client_id,
                    packet_id,
                } => ChangeRecord::InboundQoS2 {
                    client_id: client_id.to_string(),
                    packet_id: *packet_id,
                },
                Change::Released {
                    client_id,
                    packet_id,
                } => ChangeRecord::Released {
                    client_id: client_id.to_string(),
                    packet_id: *packet_id,
                },
                Change::Retained(message) => {
                    ChangeRecord::Retained(message_record(self.clock, message))
                }
                Change::RetainedCleared(topic) => ChangeRecord::RetainedCleared {
                    topic: topic.to_string(),
                },
            })
            .collect();
        encode_group(&records)
    }
}

/// The message's store id, given now if it has none yet.
fn message_id(message: &Message, next: &AtomicU64) -> u64 {
    *message
        .store_id
        .get_or_init(|| next.fetch_add(1, Ordering::Relaxed))
}

fn delivery_record(delivery: &Delivery, message_id: u64) -> DeliveryRecord {
    DeliveryRecord {
        message_id,
        qos: delivery.qos,
        retain: delivery.retain,
        subscription_identifiers: delivery.subscription_identifiers.clone(),
        share: delivery.share.as_deref().map(str::to_string),
        state: DeliveryState::Queued,
    }
}

fn in_flight_state(packet_id: PacketId, awaiting: Awaiting) -> DeliveryState {
    match awaiting {
        Awaiting::PubAck => DeliveryState::AwaitingPubAck(packet_id),
        Awaiting::PubRec => DeliveryState::AwaitingPubRec(packet_id),
        Awaiting::PubComp => DeliveryState::AwaitingPubComp(packet_id),
    }
}

/// A write-ahead log record's change as the journal made it; `messages` holds the
/// messages met so far in the group.
fn change_from(
    clock: Clock,
    record: ChangeRecord,
    messages: &mut HashMap<u64, Arc<Message>>,
) -> Result<Change, String> {
    Ok(match record {
        ChangeRecord::Session { client_id, session } => {
            Change::Session(Box::new(session_meta(clock, client_id.into(), session)))
        }
        ChangeRecord::SessionGone { client_id } => Change::SessionGone(client_id.into()),
        ChangeRecord::Subscribed {
            client_id,
            filter,
            subscription,
        } => Change::Subscribed {
            client_id: client_id.into(),
            filter,
            options: subscription.options,
            identifier: subscription.identifier,
        },
        ChangeRecord::Unsubscribed { client_id, filter } => Change::Unsubscribed {
            client_id: client_id.into(),
            filter,
        },
        ChangeRecord::Queued {
            client_id,
            seq,
            delivery,
            message,
        } => {
            let id = delivery.message_id;
            let message = match message {
                Some(record) => messages
                    .entry(id)
                    .or_insert_with(|| Arc::new(message_from(record, clock, Some(id))))
                    .clone(),
                None => messages.get(&id).cloned().ok_or_else(|| {
                    format!("a delivery of {client_id:?} refers to message {id}, which its group does not hold")
                })?,
            };
            Change::Queued {
                client_id: client_id.into(),
                delivery: Delivery {
                    message,
                    qos: delivery.qos,
                    retain: delivery.retain,
                    subscription_identifiers: delivery.subscription_identifiers,
                    share: delivery.share.map(Arc::from),
                    seq,
                },
            }
        }
        ChangeRecord::InFlight {
            client_id,
            seq,
            state,
        } => {
            let (packet_id, awaiting) = match state {
                DeliveryState::AwaitingPubAck(id) => (id, Awaiting::PubAck),
                DeliveryState::AwaitingPubRec(id) => (id, Awaiting::PubRec),
                DeliveryState::AwaitingPubComp(id) => (id, Awaiting::PubComp),
                DeliveryState::Queued => {
                    return Err(format!("an in-flight change of {client_id:?} is queued"))
                }
            };
            Change::InFlight {
                client_id: client_id.into(),
                seq,
                packet_id,
                awaiting,
            }
        }
        ChangeRecord::Done { client_id, seq } => Change::Done {
            client_id: client_id.into(),
            seq,
        },
        ChangeRecord::InboundQoS2 {
            client_id,
            packet_id,
        } => Change::InboundQoS2 {
            client_id: client_id.into(),
            packet_id,
        },
        ChangeRecord::Released {
            client_id,
            packet_id,
        } => Change::Released {
            client_id: client_id.into(),
            packet_id,
        },
        ChangeRecord::Retained(record) => {
            Change::Retained(Arc::new(message_from(record, clock, None)))
        }
        ChangeRecord::RetainedCleared { topic } => Change::RetainedCleared(topic.into()),
    })
}

fn engine(path: &Path) -> impl Fn(redb::Error) -> StoreError + '_ {
    move |e| match e {
        redb::Error::DatabaseAlreadyOpen => StoreError::InUse {
            path: path.to_path_buf(),
        },
        redb::Error::Corrupted(detail) => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail,
        },
        other => StoreError::Engine {
            path: path.to_path_buf(),
            source: Box::new(other),
        },
    }
}

fn corrupt(path: &Path, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// redb's page cache. Its default (1 GiB) keeps every page written since the start in
/// memory: with a million queued messages that was most of the broker's RSS. The broker
/// reads the store only at start; writes touch the right edge of a few B-trees, which
/// this holds many times over.
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Opens the redb file, mapping "not a redb file" and "in use" to their own errors.
fn open_db(path: &Path, create: bool) -> Result<Database, StoreError> {
    let mut builder = redb::Builder::new();
    builder.set_cache_size(CACHE_BYTES);
    let opened = if create {
        builder.create(path)
    } else {
        builder.open(path)
    };
    opened.map_err(|e| match e {
        redb::DatabaseError::UpgradeRequired(v) => corrupt(
            path,
            format!("not a store this mq can read (redb file format {v})"),
        ),
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::NotFound =>
        {
            StoreError::Missing {
                path: path.to_path_buf(),
            }
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            corrupt(path, "the file ends early (truncated?)")
        }
        other => engine(path)(other.into()),
    })
}

/// Reads the format version; `None` for a store that has never been written to.
fn format_version(db: &Database, path: &Path) -> Result<Option<u32>, StoreError> {
    let err = engine(path);
    let txn = db.begin_read().map_err(|e| err(e.into()))?;
    let meta = match txn.open_table(META) {
        Ok(meta) => meta,
        Err(redb::TableError::TableDoesNotExist(_)) => {
            let tables = txn.list_tables().map_err(|e| err(e.into()))?.count();
            if tables > 0 {
                return Err(corrupt(path, "it has tables but no format version"));
            }
            return Ok(None);
        }
        Err(e) => return Err(err(e.into())),
    };
    let Some(value) = meta.get(FORMAT_KEY).map_err(|e| err(e.into()))? else {
        return Err(corrupt(path, "the format version is missing"));
    };
    let bytes: [u8; 4] = value
        .value()
        .try_into()
        .map_err(|_| corrupt(path, "the format version is not 4 bytes"))?;
    let found = u32::from_le_bytes(bytes);
    if found > FORMAT_VERSION {
        return Err(StoreError::NewerFormat {
            path: path.to_path_buf(),
            found,
            supported: FORMAT_VERSION,
        });
    }
    if found == 0 {
        return Err(corrupt(path, "format version 0"));
    }
    Ok(Some(found))
}

/// The last write-ahead log group the file holds (0: none yet).
fn journal_group(db: &Database, path: &Path) -> Result<u64, StoreError> {
    let err = engine(path);
    let txn = db.begin_read().map_err(|e| err(e.into()))?;
    let meta = txn.open_table(META).map_err(|e| err(e.into()))?;
    let Some(value) = meta.get(JOURNAL_KEY).map_err(|e| err(e.into()))? else {
        return Ok(0);
    };
    let bytes: [u8; 8] = value
        .value()
        .try_into()
        .map_err(|_| corrupt(path, "the journal group is not 8 bytes"))?;
    Ok(u64::from_le_bytes(bytes))
}

/// The write-ahead log's groups in `dir` that the file does not hold yet, as changes.
fn unapplied(
    dir: &Path,
    path: &Path,
    clock: Clock,
    applied: u64,
) -> Result<(Vec<Change>, u64), StoreError> {
    let groups = wal::read(dir).map_err(|detail| corrupt(path, detail))?;
    let mut changes = Vec::new();
    let mut last = applied;
    for (group, body) in groups {
        if group <= applied {
            continue;
        }
        let bad =
            |detail: String| corrupt(path, format!("write-ahead log group {group}: {detail}"));
        let records = decode_group(&body).map_err(|e| bad(e.to_string()))?;
        let mut messages = HashMap::new();
        for record in records {
            changes.push(change_from(clock, record, &mut messages).map_err(bad)?);
        }
        last = group;
    }
    Ok((changes, last))
}

impl Store {
    /// Opens (or creates) the store in `dir` and reads back everything it holds, with
    /// what the write-ahead log holds beyond it (applied, and the log removed). Messages
    /// no delivery refers to any more are removed.
    pub fn open(dir: &Path) -> Result<(Store, Recovered), StoreError> {
        guarded(dir, || Store::open_unguarded(dir))
    }

    fn open_unguarded(dir: &Path) -> Result<(Store, Recovered), StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
            dir: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(STORE_FILE);
        let db = open_db(&path, true)?;
        let err = engine(&path);
        if format_version(&db, &path)? != Some(FORMAT_VERSION) {
            // New, or an older version this one reads as it is: from now on it may have a
            // write-ahead log beside it, which an older mq would not read.
            let txn = db.begin_write().map_err(|e| err(e.into()))?;
            {
                let mut meta = txn.open_table(META).map_err(|e| err(e.into()))?;
                meta.insert(FORMAT_KEY, FORMAT_VERSION.to_le_bytes().as_slice())
                    .map_err(|e| err(e.into()))?;
                txn.open_table(SESSIONS).map_err(|e| err(e.into()))?;
                txn.open_table(SUBSCRIPTIONS).map_err(|e| err(e.into()))?;
                txn.open_table(MESSAGES).map_err(|e| err(e.into()))?;
                txn.open_table(DELIVERIES).map_err(|e| err(e.into()))?;
                txn.open_table(INBOUND_QOS2).map_err(|e| err(e.into()))?;
                txn.open_table(RETAINED).map_err(|e| err(e.into()))?;
            }
            txn.commit().map_err(|e| err(e.into()))?;
        }
        let clock = Clock::now();
        let mut store = Store::recover(db, &path, clock)?;
        wal::remove_all(dir).map_err(|source| StoreError::Folder {
            dir: dir.to_path_buf(),
            source,
        })?;
        let loaded = load(&store.db, &path, clock)?;
        let db = store.db;
        if !loaded.orphans.is_empty() {
            let txn = db.begin_write().map_err(|e| err(e.into()))?;
            {
                let mut messages = txn.open_table(MESSAGES).map_err(|e| err(e.into()))?;
                for id in &loaded.orphans {
                    messages.remove(id).map_err(|e| err(e.into()))?;
                }
            }
            txn.commit().map_err(|e| err(e.into()))?;
        }
        store = Store {
            db,
            path: path.clone(),
            clock,
            refs: loaded.refs,
            next_message_id: Arc::new(AtomicU64::new(loaded.next_message_id)),
            journal_group: store.journal_group,
        };
        Ok((store, loaded.recovered))
    }

    /// The store on `db` with the write-ahead log's unapplied groups committed into it.
    fn recover(db: Database, path: &Path, clock: Clock) -> Result<Store, StoreError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let applied = journal_group(&db, path)?;
        let loaded = load(&db, path, clock)?;
        let mut store = Store {
            db,
            path: path.to_path_buf(),
            clock,
            refs: loaded.refs,
            next_message_id: Arc::new(AtomicU64::new(loaded.next_message_id)),
            journal_group: applied,
        };
        let (changes, last) = unapplied(dir, path, clock, applied)?;
        if last > applied {
            store.commit(changes, true, Some(last))?;
        }
        Ok(store)
    }

    /// Turns changes into write-ahead log records for this store.
    pub fn recorder(&self) -> Recorder {
        Recorder {
            clock: self.clock,
            next_message_id: self.next_message_id.clone(),
        }
    }

    /// The last write-ahead log group the store holds.
    pub fn journal_group(&self) -> u64 {
        self.journal_group
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies `changes` in order as one transaction; with `sync` the commit is on disk
    /// when this returns. `journal_group`: the last write-ahead log group they include.
    pub fn commit(
        &mut self,
        changes: Vec<Change>,
        sync: bool,
        journal_group: Option<u64>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = engine(&path);
        let mut txn = self.db.begin_write().map_err(|e| err(e.into()))?;
        txn.set_durability(if sync {
            redb::Durability::Immediate
        } else {
            redb::Durability::Eventual
        });
        {
            let mut tables = Tables {
                sessions: txn.open_table(SESSIONS).map_err(|e| err(e.into()))?,
                subscriptions: txn.open_table(SUBSCRIPTIONS).map_err(|e| err(e.into()))?,
                messages: txn.open_table(MESSAGES).map_err(|e| err(e.into()))?,
                deliveries: txn.open_table(DELIVERIES).map_err(|e| err(e.into()))?,
                inbound: txn.open_table(INBOUND_QOS2).map_err(|e| err(e.into()))?,
                retained: txn.open_table(RETAINED).map_err(|e| err(e.into()))?,
            };
            for change in changes {
                self.apply(&mut tables, change).map_err(&err)?;
            }
        }
        if let Some(group) = journal_group {
            let mut meta = txn.open_table(META).map_err(|e| err(e.into()))?;
            meta.insert(JOURNAL_KEY, group.to_le_bytes().as_slice())
                .map_err(|e| err(e.into()))?;
        }
        txn.commit().map_err(|e| err(e.into()))?;
        if let Some(group) = journal_group {
            self.journal_group = group;
        }
        Ok(())
    }

    fn apply(&mut self, t: &mut Tables<'_>, change: Change) -> Result<(), redb::Error> {
        match change {
            Change::Session(meta) => {
                let record = session_record(self.clock, &meta);
                t.sessions
                    .insert(&*meta.client_id, encode_session(&record).as_slice())?;
            }
            Change::SessionGone(client_id) => self.remove_session(t, &client_id)?,
            Change::Subscribed {
                client_id,
                filter,
                options,
                identifier,
            } => {
                let record = encode_subscription(&SubscriptionRecord {
                    options,
                    identifier,
                });
                t.subscriptions
                    .insert((&*client_id, filter.as_str()), record.as_slice())?;
            }
            Change::Unsubscribed { client_id, filter } => {
                t.subscriptions.remove((&*client_id, filter.as_str()))?;
            }
            Change::Queued {
                client_id,
                delivery,
            } => {
                let message = &delivery.message;
                let id = message_id(message, &self.next_message_id);
                let count = self.refs.entry(id).or_insert(0);
                if *count == 0 {
                    let record = encode_message(&message_record(self.clock, message));
                    t.messages.insert(id, record.as_slice())?;
                }
                if let Some(count) = self.refs.get_mut(&id) {
                    *count += 1;
                }
                let record = encode_delivery(&delivery_record(&delivery, id));
                let replaced = t
                    .deliveries
                    .insert((&*client_id, delivery.seq), record.as_slice())?
                    .map(|old| delivery_message_id(old.value()));
                if let Some(Ok(old)) = replaced {
                    self.release(t, old)?;
                }
            }
            Change::InFlight {
                client_id,
                seq,
                packet_id,
                awaiting,
            } => {
                let current = t
                    .deliveries
                    .get((&*client_id, seq))?
                    .map(|v| decode_delivery(v.value()));
                match current {
                    Some(Ok(mut record)) => {
                        record.state = in_flight_state(packet_id, awaiting);
                        t.deliveries
                            .insert((&*client_id, seq), encode_delivery(&record).as_slice())?;
                    }
                    Some(Err(e)) => return Err(redb::Error::Corrupted(e.to_string())),
                    None => {
                        tracing::debug!("{client_id}: in-flight change for unknown delivery {seq}")
                    }
                }
            }
            Change::Done { client_id, seq } => {
                let removed = t
                    .deliveries
                    .remove((&*client_id, seq))?
                    .map(|old| delivery_message_id(old.value()));
                if let Some(Ok(id)) = removed {
                    self.release(t, id)?;
                }
            }
            Change::InboundQoS2 {
                client_id,
                packet_id,
            } => {
                t.inbound.insert((&*client_id, packet_id.get()), ())?;
            }
            Change::Released {
                client_id,
                packet_id,
            } => {
                t.inbound.remove((&*client_id, packet_id.get()))?;
            }
            Change::Retained(message) => {
                let record = encode_message(&message_record(self.clock, &message));
                t.retained.insert(&*message.topic, record.as_slice())?;
            }
            Change::RetainedCleared(topic) => {
                t.retained.remove(&*topic)?;
            }
        }
        Ok(())
    }

    /// One delivery less refers to message `id`; the last one takes the message with it.
    fn release(&mut self, t: &mut Tables<'_>, id: u64) -> Result<(), redb::Error> {
        if let Some(count) = self.refs.get_mut(&id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.refs.remove(&id);
                t.messages.remove(id)?;
            }
        }
        Ok(())
    }

    fn remove_session(&mut self, t: &mut Tables<'_>, client_id: &str) -> Result<(), redb::Error> {
        t.sessions.remove(client_id)?;
        let mut filters: Vec<String> = Vec::new();
        for entry in t.subscriptions.range((client_id, "")..)? {
            let (k, _) = entry?;
            let (owner, filter) = k.value();
            if owner != client_id {
                break;
            }
            filters.push(filter.to_string());
        }
        for filter in filters {
            t.subscriptions.remove((client_id, filter.as_str()))?;
        }
        let deliveries: Vec<(u64, Result<u64, RecordError>)> = t
            .deliveries
            .range((client_id, 0)..=(client_id, u64::MAX))?
            .map(|entry| entry.map(|(k, v)| (k.value().1, delivery_message_id(v.value()))))
            .collect::<Result<_, _>>()?;
        for (seq, id) in deliveries {
            t.deliveries.remove((client_id, seq))?;
            if let Ok(id) = id {
                self.release(t, id)?;
            }
        }
        let ids: Vec<u16> = t
            .inbound
            .range((client_id, 0)..=(client_id, u16::MAX))?
            .map(|entry| entry.map(|(k, _)| k.value().1))
            .collect::<Result<_, _>>()?;
        for id in ids {
            t.inbound.remove((client_id, id))?;
        }
        Ok(())
    }
}

fn session_record(clock: Clock, meta: &SessionMeta) -> SessionRecord {
    SessionRecord {
        expiry: match meta.expiry {
            SessionExpiry::OnDisconnect => ExpiryRecord::OnDisconnect,
            SessionExpiry::After(d) => ExpiryRecord::AfterSecs(d.as_secs()),
            SessionExpiry::Never => ExpiryRecord::Never,
        },
        disconnected_at_ms: meta.disconnected_at.map(|at| clock.to_ms(at)),
        will: meta.will.clone(),
        pending_will: meta
            .pending_will
            .as_ref()
            .map(|(will, due)| (will.clone(), clock.to_ms(*due))),
    }
}

fn session_meta(clock: Clock, client_id: Arc<str>, r: SessionRecord) -> SessionMeta {
    SessionMeta {
        client_id,
        expiry: match r.expiry {
            ExpiryRecord::OnDisconnect => SessionExpiry::OnDisconnect,
            ExpiryRecord::AfterSecs(s) => SessionExpiry::After(std::time::Duration::from_secs(s)),
            ExpiryRecord::Never => SessionExpiry::Never,
        },
        disconnected_at: r.disconnected_at_ms.map(|ms| clock.to_instant(ms)),
        will: r.will,
        pending_will: r.pending_will.map(|(w, due)| (w, clock.due(due))),
    }
}

fn message_record(clock: Clock, message: &Message) -> MessageRecord {
    MessageRecord {
        topic: message.topic.clone(),
        payload: message.payload.clone(),
        qos: message.qos,
        retain: message.retain,
        properties: message.properties.clone(),
        origin: message.origin.as_deref().map(str::to_string),
        received_at_ms: clock.to_ms(message.received_at),
    }
}

struct Tables<'txn> {
    sessions: redb::Table<'txn, &'static str, &'static [u8]>,
    subscriptions: redb::Table<'txn, (&'static str, &'static str), &'static [u8]>,
    messages: redb::Table<'txn, u64, &'static [u8]>,
    deliveries: redb::Table<'txn, (&'static str, u64), &'static [u8]>,
    inbound: redb::Table<'txn, (&'static str, u16), ()>,
    retained: redb::Table<'txn, &'static str, &'static [u8]>,
}

struct Loaded {
    recovered: Recovered,
    refs: HashMap<u64, u32>,
    next_message_id: u64,
    /// Stored messages no delivery refers to.
    orphans: Vec<u64>,
}

fn message_from(record: MessageRecord, clock: Clock, id: Option<u64>) -> Message {
    let store_id = std::sync::OnceLock::new();
    if let Some(id) = id {
        let _ = store_id.set(id);
    }
    Message {
        topic: record.topic,
        payload: record.payload,
        qos: record.qos,
        retain: record.retain,
        properties: record.properties,
        origin: record.origin.map(Arc::from),
        received_at: clock.to_instant(record.received_at_ms),
        store_id,
    }
}

/// Reads every table and checks every record; any record that does not decode, or a
/// delivery whose message is missing, makes the whole store an error (never a silent loss).
fn load(db: &Database, path: &Path, clock: Clock) -> Result<Loaded, StoreError> {
    let err = engine(path);
    let txn = db.begin_read().map_err(|e| err(e.into()))?;
    let bad = |table: &str, key: String, e: RecordError| {
        corrupt(path, format!("{table} record {key:?}: {e}"))
    };

    let mut messages: HashMap<u64, Arc<Message>> = HashMap::new();
    let mut next_message_id = 1;
    {
        let table = txn.open_table(MESSAGES).map_err(|e| err(e.into()))?;
        for entry in table.iter().map_err(|e| err(e.into()))? {
            let (k, v) = entry.map_err(|e| err(e.into()))?;
            let id = k.value();
            let record =
                decode_message(v.value()).map_err(|e| bad("message", id.to_string(), e))?;
            messages.insert(id, Arc::new(message_from(record, clock, Some(id))));
            next_message_id = next_message_id.max(id + 1);
        }
    }

    let mut sessions: BTreeMap<String, RecoveredSession> = BTreeMap::new();
    {
        let table = txn.open_table(SESSIONS).map_err(|e| err(e.into()))?;
        for entry in table.iter().map_err(|e| err(e.into()))? {
            let (k, v) = entry.map_err(|e| err(e.into()))?;
            let client_id = k.value().to_string();
            let r = decode_session(v.value()).map_err(|e| bad("session", client_id.clone(), e))?;
            let meta = session_meta(clock, client_id.as_str().into(), r);
            sessions.insert(
                client_id,
                RecoveredSession {
                    client_id: meta.client_id,
                    expiry: meta.expiry,
                    disconnected_at: meta.disconnected_at,
                    will: meta.will,
                    pending_will: meta.pending_will,
                    subscriptions: Vec::new(),
                    queue: Vec::new(),
                    inflight: Vec::new(),
                    inbound_qos2: Vec::new(),
                },
            );
        }
    }

    {
        let table = txn.open_table(SUBSCRIPTIONS).map_err(|e| err(e.into()))?;
        for entry in table.iter().map_err(|e| err(e.into()))? {
            let (k, v) = entry.map_err(|e| err(e.into()))?;
            let (client_id, filter) = k.value();
            let key = format!("{client_id} {filter}");
            let r = decode_subscription(v.value()).map_err(|e| bad("subscription", key, e))?;
            match sessions.get_mut(client_id) {
                Some(s) => s
                    .subscriptions
                    .push((filter.to_string(), r.options, r.identifier)),
                None => {
                    return Err(corrupt(
                        path,
                        format!("subscription {filter:?} of unknown session {client_id:?}"),
                    ))
                }
            }
        }
    }

    let mut refs: HashMap<u64, u32> = HashMap::new();
    {
        let table = txn.open_table(DELIVERIES).map_err(|e| err(e.into()))?;
        for entry in table.iter().map_err(|e| err(e.into()))? {
            let (k, v) = entry.map_err(|e| err(e.into()))?;
            let (client_id, seq) = k.value();
            let key = format!("{client_id} {seq}");
            let r = decode_delivery(v.value()).map_err(|e| bad("delivery", key.clone(), e))?;
            let Some(message) = messages.get(&r.message_id) else {
                return Err(corrupt(
                    path,
                    format!("delivery {key} refers to missing message {}", r.message_id),
                ));
            };
            let Some(session) = sessions.get_mut(client_id) else {
                return Err(corrupt(path, format!("delivery {key} of unknown session")));
            };
            *refs.entry(r.message_id).or_insert(0) += 1;
            let delivery = Delivery {
                message: message.clone(),
                qos: r.qos,
                retain: r.retain,
                subscription_identifiers: r.subscription_identifiers,
                share: r.share.map(Arc::from),
                seq,
            };
            let inflight = |id: PacketId, awaiting| (id, awaiting, delivery.clone());
            match r.state {
                DeliveryState::Queued => session.queue.push(delivery),
                DeliveryState::AwaitingPubAck(id) => {
                    session.inflight.push(inflight(id, Awaiting::PubAck))
                }
                DeliveryState::AwaitingPubRec(id) => {
                    session.inflight.push(inflight(id, Awaiting::PubRec))
                }
                DeliveryState::AwaitingPubComp(id) => {
                    session.inflight.push(inflight(id, Awaiting::PubComp))
                }
            }
        }
    }

    {
        let table = txn.open_table(INBOUND_QOS2).map_err(|e| err(e.into()))?;
        for entry in table.iter().map_err(|e| err(e.into()))? {
            let (k, _) = entry.map_err(|e| err(e.into()))?;
            let (client_id, raw) = k.value();
            let (Some(session), Some(id)) = (sessions.get_mut(client_id), PacketId::new(raw))
            else {
                return Err(corrupt(
                    path,
                    format!("inbound QoS 2 id {raw} of {client_id:?} has no session or is 0"),
                ));
            };
            session.inbound_qos2.push(id);
        }
    }

    let mut retained = Vec::new();
    {
        let table = txn.open_table(RETAINED).map_err(|e| err(e.into()))?;
        for entry in table.iter().map_err(|e| err(e.into()))? {
            let (k, v) = entry.map_err(|e| err(e.into()))?;
            let topic = k.value().to_string();
            let r = decode_message(v.value()).map_err(|e| bad("retained", topic, e))?;
            retained.push(Arc::new(message_from(r, clock, None)));
        }
    }

    let orphans = messages
        .keys()
        .filter(|id| !refs.contains_key(id))
        .copied()
        .collect();
    Ok(Loaded {
        recovered: Recovered {
            sessions: sessions.into_values().collect(),
            retained,
        },
        refs,
        next_message_id,
        orphans,
    })
}

/// What `mq broker --check-store` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSummary {
    pub path: PathBuf,
    pub format_version: u32,
    pub file_bytes: u64,
    pub sessions: usize,
    pub subscriptions: usize,
    pub queued: usize,
    pub inflight: usize,
    /// Distinct messages stored (each payload once).
    pub stored_messages: u64,
    pub inbound_qos2: usize,
    pub retained: usize,
    pub pending_wills: usize,
}

/// redb asserts on some damaged files (a truncated one, for instance) instead of returning
/// an error; reading a store must end in a clear error, never a crash.
fn guarded<T>(dir: &Path, read: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the store engine gave up reading it".into());
        Err(corrupt(&dir.join(STORE_FILE), detail))
    })
}

/// Reads the store in `dir` without changing it, checking every record.
pub fn inspect(dir: &Path) -> Result<StoreSummary, StoreError> {
    guarded(dir, || inspect_unguarded(dir))
}

fn inspect_unguarded(dir: &Path) -> Result<StoreSummary, StoreError> {
    let path = dir.join(STORE_FILE);
    if !path.exists() {
        return Err(StoreError::Missing { path });
    }
    let db = open_db(&path, false)?;
    let format_version = format_version(&db, &path)?.unwrap_or(FORMAT_VERSION);
    let clock = Clock::now();
    let err = engine(&path);
    let applied = journal_group(&db, &path)?;
    let db = if wal::read(dir)
        .map_err(|detail| corrupt(&path, detail))?
        .iter()
        .any(|(group, _)| *group > applied)
    {
        // What the broker would see at its next start: the write-ahead log applied, here
        // to a copy in memory, so the file is not changed.
        drop(db);
        let bytes = std::fs::read(&path).map_err(|source| StoreError::Folder {
            dir: dir.to_path_buf(),
            source,
        })?;
        let copy = redb::backends::InMemoryBackend::new();
        let copied = redb::StorageBackend::set_len(&copy, bytes.len() as u64)
            .and_then(|()| redb::StorageBackend::write(&copy, 0, &bytes));
        copied.map_err(|e| err(e.into()))?;
        let db = redb::Builder::new()
            .create_with_backend(copy)
            .map_err(|e| err(e.into()))?;
        Store::recover(db, &path, clock)?.db
    } else {
        db
    };
    let loaded = load(&db, &path, clock)?;
    let count = || -> Result<u64, redb::Error> {
        let txn = db.begin_read()?;
        let messages = txn.open_table(MESSAGES)?;
        Ok(messages.len()?)
    };
    let stored_messages = count().map_err(err)?;
    let sessions = &loaded.recovered.sessions;
    Ok(StoreSummary {
        file_bytes: std::fs::metadata(&path).map_or(0, |m| m.len()),
        path,
        format_version,
        sessions: sessions.len(),
        subscriptions: sessions.iter().map(|s| s.subscriptions.len()).sum(),
        queued: sessions.iter().map(|s| s.queue.len()).sum(),
        inflight: sessions.iter().map(|s| s.inflight.len()).sum(),
        stored_messages,
        inbound_qos2: sessions.iter().map(|s| s.inbound_qos2.len()).sum(),
        retained: loaded.recovered.retained.len(),
        pending_wills: sessions
            .iter()
            .filter(|s| s.pending_will.is_some() || s.will.is_some())
            .count(),
    })
}

/// Writes `value` under `key` in table `table` as raw bytes, past every check: for tests
/// that damage a store on purpose.
#[cfg(test)]
pub(crate) fn poke_raw(
    dir: &Path,
    table: &str,
    key: &str,
    value: &[u8],
) -> Result<(), redb::Error> {
    let db = Database::create(dir.join(STORE_FILE))?;
    let txn = db.begin_write()?;
    {
        let definition: TableDefinition<&str, &[u8]> = TableDefinition::new(table);
        let mut t = txn.open_table(definition)?;
        t.insert(key, value)?;
    }
    txn.commit()?;
    Ok(())
}

/// Shrinks the file to what it holds (for the small golden store under tests/fixtures).
#[cfg(test)]
pub(crate) fn compact(dir: &Path) -> Result<(), redb::Error> {
    let mut db = Database::create(dir.join(STORE_FILE))?;
    db.compact()?;
    Ok(())
}
