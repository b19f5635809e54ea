//! The redb file: its tables, reading it back at start, and applying the journal's changes
//! in one transaction per batch.
//!
//! Tables (format version 1):
//! - `meta`: `format_version` → u32 LE
//! - `sessions`: client id → session record (expiry, Wills, when it went offline)
//! - `subscriptions`: (client id, filter) → options and Subscription Identifier
//! - `messages`: message id → message record; one row however many sessions hold it
//! - `deliveries`: (client id, seq) → message id, QoS, state (queued or in flight + packet id)
//! - `inbound_qos2`: (client id, packet id) → ()
//! - `retained`: topic → message record

// redb's own error type is large; it only travels on the error path of a commit.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mq_proto::PacketId;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::journal::{Awaiting, Change, SessionMeta};
use super::record::*;
use super::{Recovered, RecoveredSession, StoreError};
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

/// Converts between the broker's monotonic clock and the wall clock the store keeps.
#[derive(Debug, Clone, Copy)]
struct Clock {
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
    next_message_id: u64,
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

/// Opens the redb file, mapping "not a redb file" and "in use" to their own errors.
fn open_db(path: &Path, create: bool) -> Result<Database, StoreError> {
    let opened = if create {
        Database::create(path)
    } else {
        Database::open(path)
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

impl Store {
    /// Opens (or creates) the store in `dir` and reads back everything it holds. Messages
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
        if format_version(&db, &path)?.is_none() {
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
        let loaded = load(&db, &path, clock)?;
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
        let store = Store {
            db,
            path: path.clone(),
            clock,
            refs: loaded.refs,
            next_message_id: loaded.next_message_id,
        };
        Ok((store, loaded.recovered))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies `changes` in order as one transaction; with `sync` the commit is on disk
    /// when this returns.
    pub fn commit(&mut self, changes: Vec<Change>, sync: bool) -> Result<(), StoreError> {
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
        txn.commit().map_err(|e| err(e.into()))?;
        Ok(())
    }

    fn apply(&mut self, t: &mut Tables<'_>, change: Change) -> Result<(), redb::Error> {
        match change {
            Change::Session(meta) => {
                let record = self.session_record(&meta);
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
                let next = &mut self.next_message_id;
                let id = *message.store_id.get_or_init(|| {
                    let id = *next;
                    *next += 1;
                    id
                });
                let count = self.refs.entry(id).or_insert(0);
                if *count == 0 {
                    let record = encode_message(&self.message_record(message));
                    t.messages.insert(id, record.as_slice())?;
                }
                if let Some(count) = self.refs.get_mut(&id) {
                    *count += 1;
                }
                let record = encode_delivery(&DeliveryRecord {
                    message_id: id,
                    qos: delivery.qos,
                    retain: delivery.retain,
                    subscription_identifiers: delivery.subscription_identifiers.clone(),
                    share: delivery.share.as_deref().map(str::to_string),
                    state: DeliveryState::Queued,
                });
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
                        record.state = match awaiting {
                            Awaiting::PubAck => DeliveryState::AwaitingPubAck(packet_id),
                            Awaiting::PubRec => DeliveryState::AwaitingPubRec(packet_id),
                            Awaiting::PubComp => DeliveryState::AwaitingPubComp(packet_id),
                        };
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
                let record = encode_message(&self.message_record(&message));
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

    fn session_record(&self, meta: &SessionMeta) -> SessionRecord {
        SessionRecord {
            expiry: match meta.expiry {
                SessionExpiry::OnDisconnect => ExpiryRecord::OnDisconnect,
                SessionExpiry::After(d) => ExpiryRecord::AfterSecs(d.as_secs()),
                SessionExpiry::Never => ExpiryRecord::Never,
            },
            disconnected_at_ms: meta.disconnected_at.map(|at| self.clock.to_ms(at)),
            will: meta.will.clone(),
            pending_will: meta
                .pending_will
                .as_ref()
                .map(|(will, due)| (will.clone(), self.clock.to_ms(*due))),
        }
    }

    fn message_record(&self, message: &Message) -> MessageRecord {
        MessageRecord {
            topic: message.topic.clone(),
            payload: message.payload.clone(),
            qos: message.qos,
            retain: message.retain,
            properties: message.properties.clone(),
            origin: message.origin.as_deref().map(str::to_string),
            received_at_ms: self.clock.to_ms(message.received_at),
        }
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
            sessions.insert(
                client_id.clone(),
                RecoveredSession {
                    client_id: client_id.into(),
                    expiry: match r.expiry {
                        ExpiryRecord::OnDisconnect => SessionExpiry::OnDisconnect,
                        ExpiryRecord::AfterSecs(s) => {
                            SessionExpiry::After(std::time::Duration::from_secs(s))
                        }
                        ExpiryRecord::Never => SessionExpiry::Never,
                    },
                    disconnected_at: r.disconnected_at_ms.map(|ms| clock.to_instant(ms)),
                    will: r.will,
                    pending_will: r.pending_will.map(|(w, due)| (w, clock.due(due))),
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
    let loaded = load(&db, &path, Clock::now())?;
    let err = engine(&path);
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
