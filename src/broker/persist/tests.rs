//! Recovery without sockets: drive `BrokerState` as connection tasks would, commit its
//! journal to a store in a temporary folder, open the store again and restore a fresh
//! state from it, as a restart does.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mq_proto::{
    ByteString, Bytes, Connect, Packet, PacketId, Properties, ProtocolVersion, Publish, QoS,
    Subscribe, SubscriptionOptions, Will,
};

use super::record::encode_group;
use super::{inspect, Journal, Store, StoreError};
use crate::broker::config::BrokerConfig;
use crate::broker::session::PeerLimits;
use crate::broker::signals::ConnectionSignals;
use crate::broker::state::{BrokerState, ConnectOutcome, Departure};
use crate::broker::store::MemoryStore;

const PEER: PeerLimits = PeerLimits {
    protocol: ProtocolVersion::V5,
    receive_maximum: u16::MAX,
    maximum_packet_size: usize::MAX,
};

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn new_state(journal: &Journal) -> BrokerState {
    BrokerState::new(
        Arc::new(BrokerConfig::default()),
        Box::new(MemoryStore::default()),
    )
    .with_journal(journal.clone())
}

/// A v5 CONNECT that keeps its session for `expiry` seconds (0xFFFFFFFF: forever).
fn connect(
    state: &mut BrokerState,
    client: &str,
    expiry: u32,
    now: Instant,
) -> (bool, Vec<Packet>) {
    connect_with_will(state, client, expiry, None, now)
}

fn connect_with_will(
    state: &mut BrokerState,
    client: &str,
    expiry: u32,
    will: Option<Will>,
    now: Instant,
) -> (bool, Vec<Packet>) {
    let packet = Connect {
        protocol: ProtocolVersion::V5,
        clean_start: false,
        keep_alive: 60,
        client_id: client.into(),
        will,
        username: None,
        password: None,
        properties: Properties {
            session_expiry_interval: Some(expiry),
            ..Properties::default()
        },
    };
    let signals = Arc::new(ConnectionSignals::default());
    match state.connect(&packet, PEER, 1, signals, now) {
        ConnectOutcome::Accepted {
            session_present,
            resend,
            wakes,
            ..
        } => {
            wakes.notify();
            (session_present, resend)
        }
        ConnectOutcome::Refused(code) => panic!("refused: {code}"),
    }
}

fn subscribe(state: &mut BrokerState, client: &str, filter: &str, qos: QoS, now: Instant) {
    let subscribe = Subscribe {
        packet_id: id(1),
        filters: vec![(filter.into(), SubscriptionOptions::new(qos))],
        properties: Properties::default(),
    };
    state.subscribe(&client.into(), &subscribe, now);
}

fn publish(topic: &str, payload: &str, qos: QoS, packet_id: Option<u16>, retain: bool) -> Publish {
    Publish {
        dup: false,
        qos,
        retain,
        topic: ByteString::from(topic),
        packet_id: packet_id.map(id),
        properties: Properties::default(),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
    }
}

fn client_publish(state: &mut BrokerState, client: &str, p: Publish, now: Instant) {
    let (_, wakes) = state
        .client_publish(&client.into(), &p, None, now)
        .expect("publish accepted");
    wakes.notify();
}

fn commit(store: &mut Store, journal: &Journal) {
    let (changes, _) = journal.take();
    store.commit(changes, true, None).expect("commit");
}

/// Writes what the journal holds to the write-ahead log only, as `--persistence sync` does
/// before the store thread's checkpoint (a crash then leaves it in the log alone).
fn log_only(dir: &Path, store: &Store, journal: &Journal) {
    let mut wal = super::wal::Wal::create(dir, store.journal_group() + 1).expect("new log");
    let (changes, _) = journal.take();
    wal.append(&store.recorder().group(&changes))
        .expect("append");
}

/// Opens the store in `dir` again and restores a fresh state from it, as a restart does.
fn restart(dir: &Path, now: Instant) -> (BrokerState, Store, Journal) {
    let (store, recovered) = Store::open(dir).expect("reopen");
    let journal = Journal::enabled();
    let mut state = new_state(&journal);
    state.restore(recovered, now);
    (state, store, journal)
}

fn payloads(
    state: &mut BrokerState,
    client: &str,
    now: Instant,
) -> Vec<(String, bool, Option<PacketId>)> {
    let session = state.session_mut(client).expect("session");
    std::iter::from_fn(|| session.next_publish(now))
        .map(|p| {
            (
                String::from_utf8_lossy(&p.payload).into_owned(),
                p.dup,
                p.packet_id,
            )
        })
        .collect()
}

/// A persistent subscriber with one message in flight, two queued (one at QoS 2), a
/// publisher with an unreleased QoS 2 message, and a retained message.
fn scene(state: &mut BrokerState, now: Instant) {
    connect(state, "sub", u32::MAX, now);
    subscribe(state, "sub", "t/#", QoS::ExactlyOnce, now);
    connect(state, "pub", u32::MAX, now);
    for (i, payload) in ["a", "b", "c"].into_iter().enumerate() {
        let p = publish("t/1", payload, QoS::AtLeastOnce, Some(i as u16 + 1), false);
        client_publish(state, "pub", p, now);
    }
    client_publish(
        state,
        "pub",
        publish("t/2", "d", QoS::ExactlyOnce, Some(9), false),
        now,
    );
    client_publish(
        state,
        "pub",
        publish("r/1", "kept", QoS::AtLeastOnce, Some(10), true),
        now,
    );
    let session = state.session_mut("sub").unwrap();
    let first = session.next_publish(now).unwrap();
    let second = session.next_publish(now).unwrap();
    assert!(session.on_puback(first.packet_id.unwrap()));
    assert_eq!(&second.payload[..], b"b");
    state
        .disconnected("sub", 1, Departure::Graceful, now)
        .notify();
}

#[test]
fn restart_brings_back_queue_inflight_inbound_qos2_and_retained() {
    let dir = tempfile::tempdir().unwrap();
    let now = Instant::now();
    let (mut store, recovered) = Store::open(dir.path()).unwrap();
    assert!(recovered.sessions.is_empty());
    let journal = Journal::enabled();
    let mut state = new_state(&journal);
    scene(&mut state, now);
    commit(&mut store, &journal);
    drop(store);

    let later = Instant::now();
    let (mut state, _store, _journal) = restart(dir.path(), later);
    let (present, resend) = connect(&mut state, "sub", u32::MAX, later);
    assert!(present, "the session survived the restart");
    match resend.as_slice() {
        [Packet::Publish(p)] => {
            assert!(p.dup, "in-flight message is sent again with DUP");
            assert_eq!(p.packet_id, Some(id(2)), "under the same packet id");
            assert_eq!(&p.payload[..], b"b");
        }
        other => panic!("expected one PUBLISH to resend, got {other:?}"),
    }
    let next: Vec<_> = payloads(&mut state, "sub", later)
        .into_iter()
        .map(|(p, dup, _)| (p, dup))
        .collect();
    assert_eq!(next, [("c".to_string(), false), ("d".to_string(), false)]);

    // The publisher's QoS 2 message 9 was received but not released: a resend is a duplicate.
    connect(&mut state, "pub", u32::MAX, later);
    client_publish(
        &mut state,
        "pub",
        publish("t/2", "d", QoS::ExactlyOnce, Some(9), false),
        later,
    );
    assert!(
        payloads(&mut state, "sub", later).is_empty(),
        "the resent QoS 2 message was not routed twice"
    );

    // The retained message is served to a new subscriber.
    connect(&mut state, "late", u32::MAX, later);
    subscribe(&mut state, "late", "r/#", QoS::AtLeastOnce, later);
    let retained: Vec<_> = payloads(&mut state, "late", later)
        .into_iter()
        .map(|(p, _, _)| p)
        .collect();
    assert_eq!(retained, ["kept"]);
}

/// Ten persistent sessions subscribed to `t` and gone, then one QoS 1 message to `t`.
fn one_message_for_ten_absent_sessions(state: &mut BrokerState, now: Instant) {
    for i in 0..10 {
        let client = format!("sub{i}");
        connect(state, &client, u32::MAX, now);
        subscribe(state, &client, "t", QoS::AtLeastOnce, now);
        state
            .disconnected(&client, 1, Departure::Graceful, now)
            .notify();
    }
    connect(state, "pub", 0, now);
    client_publish(
        state,
        "pub",
        publish("t", "x", QoS::AtLeastOnce, Some(1), false),
        now,
    );
}

#[test]
fn a_message_for_many_sessions_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let now = Instant::now();
    let (mut store, _) = Store::open(dir.path()).unwrap();
    let journal = Journal::enabled();
    let mut state = new_state(&journal);
    one_message_for_ten_absent_sessions(&mut state, now);
    commit(&mut store, &journal);
    drop(store);
    let summary = inspect(dir.path()).unwrap();
    assert_eq!(summary.queued, 10);
    assert_eq!(summary.stored_messages, 1, "one payload for ten deliveries");

    // As the sessions take and acknowledge it, the last acknowledgement removes it.
    let (mut state, mut store, journal) = restart(dir.path(), now);
    for i in 0..10 {
        let client = format!("sub{i}");
        connect(&mut state, &client, u32::MAX, now);
        let session = state.session_mut(&client).unwrap();
        let p = session.next_publish(now).unwrap();
        assert!(session.on_puback(p.packet_id.unwrap()));
    }
    commit(&mut store, &journal);
    drop(store);
    let summary = inspect(dir.path()).unwrap();
    assert_eq!((summary.queued, summary.stored_messages), (0, 0));
}

#[test]
fn what_only_the_write_ahead_log_holds_is_back_after_a_restart_with_each_payload_once() {
    let dir = tempfile::tempdir().unwrap();
    let now = Instant::now();
    let (store, _) = Store::open(dir.path()).unwrap();
    let journal = Journal::enabled();
    let mut state = new_state(&journal);
    one_message_for_ten_absent_sessions(&mut state, now);
    log_only(dir.path(), &store, &journal);
    drop(store);

    let summary = inspect(dir.path()).unwrap();
    assert_eq!((summary.sessions, summary.queued), (10, 10), "{summary:?}");
    assert_eq!(summary.stored_messages, 1, "one payload for ten deliveries");

    let (mut state, store, _journal) = restart(dir.path(), now);
    assert!(
        super::wal::files(dir.path()).unwrap().is_empty(),
        "the log is gone once the store holds it"
    );
    assert!(store.journal_group() >= 1);
    let mut payloads_at = std::collections::HashSet::new();
    for i in 0..10 {
        let client = format!("sub{i}");
        let (present, _) = connect(&mut state, &client, u32::MAX, now);
        assert!(present);
        let p = state
            .session_mut(&client)
            .unwrap()
            .next_publish(now)
            .unwrap();
        assert_eq!(&p.payload[..], b"x");
        payloads_at.insert(p.payload.as_ptr());
    }
    assert_eq!(
        payloads_at.len(),
        1,
        "ten sessions share one payload in memory"
    );
}

#[test]
fn a_torn_write_at_the_end_of_the_log_is_dropped_and_damage_before_it_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut wal = super::wal::Wal::create(dir.path(), 1).unwrap();
    wal.append(&encode_group(&[])).unwrap();
    wal.append(&encode_group(&[])).unwrap();
    let (_, path) = super::wal::files(dir.path()).unwrap().remove(0);
    let mut bytes = std::fs::read(&path).unwrap();
    assert_eq!(super::wal::read(dir.path()).unwrap().len(), 2);

    // The second record half written: the log ends after the first.
    let second = 20 + encode_group(&[]).len();
    bytes[second + 22] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(super::wal::read(dir.path()).unwrap().len(), 1);

    // The same damage with a later log file after it is an error.
    let mut later = super::wal::Wal::create(dir.path(), 3).unwrap();
    later.append(&encode_group(&[])).unwrap();
    let err = super::wal::read(dir.path()).unwrap_err();
    assert!(err.contains("damaged"), "{err}");
}

#[test]
fn expired_sessions_and_messages_are_dropped_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let now = Instant::now();
    let (mut store, _) = Store::open(dir.path()).unwrap();
    let journal = Journal::enabled();
    let mut state = new_state(&journal);
    connect(&mut state, "short", 5, now);
    state
        .disconnected("short", 1, Departure::Graceful, now)
        .notify();
    connect(&mut state, "keeper", u32::MAX, now);
    subscribe(&mut state, "keeper", "t", QoS::AtLeastOnce, now);
    state
        .disconnected("keeper", 1, Departure::Graceful, now)
        .notify();
    connect(&mut state, "pub", 0, now);
    let mut expiring = publish("t", "stale", QoS::AtLeastOnce, Some(1), false);
    expiring.properties.message_expiry_interval = Some(5);
    client_publish(&mut state, "pub", expiring, now);
    client_publish(
        &mut state,
        "pub",
        publish("t", "fresh", QoS::AtLeastOnce, Some(2), false),
        now,
    );
    commit(&mut store, &journal);
    drop(store);

    let later = Instant::now() + Duration::from_secs(10);
    let (mut state, mut store, journal) = restart(dir.path(), later);
    state.tick(later).notify();
    assert!(
        state.session_mut("short").is_none(),
        "expired session is gone"
    );
    connect(&mut state, "keeper", u32::MAX, later);
    let got: Vec<_> = payloads(&mut state, "keeper", later)
        .into_iter()
        .map(|(p, _, _)| p)
        .collect();
    assert_eq!(got, ["fresh"], "the expired message was dropped");
    commit(&mut store, &journal);
    drop(store);
    assert_eq!(inspect(dir.path()).unwrap().sessions, 1);
}

#[test]
fn a_session_connected_at_the_crash_publishes_its_will_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let now = Instant::now();
    let (mut store, _) = Store::open(dir.path()).unwrap();
    let journal = Journal::enabled();
    let mut state = new_state(&journal);
    connect(&mut state, "watcher", u32::MAX, now);
    subscribe(&mut state, "watcher", "status/#", QoS::AtLeastOnce, now);
    state
        .disconnected("watcher", 1, Departure::Graceful, now)
        .notify();
    let will = Will {
        topic: ByteString::from_static("status/device"),
        payload: Bytes::from_static(b"lost"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Properties::default(),
    };
    connect_with_will(&mut state, "device", u32::MAX, Some(will), now);
    commit(&mut store, &journal);
    drop(store);

    let later = Instant::now();
    let (mut state, _store, _journal) = restart(dir.path(), later);
    state.tick(later).notify();
    connect(&mut state, "watcher", u32::MAX, later);
    let got: Vec<_> = payloads(&mut state, "watcher", later)
        .into_iter()
        .map(|(p, _, _)| p)
        .collect();
    assert_eq!(got, ["lost"]);
}

#[test]
fn a_clean_session_leaves_nothing_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let now = Instant::now();
    let (mut store, _) = Store::open(dir.path()).unwrap();
    let journal = Journal::enabled();
    let mut state = new_state(&journal);
    connect(&mut state, "temp", 0, now);
    subscribe(&mut state, "temp", "t", QoS::AtLeastOnce, now);
    client_publish(
        &mut state,
        "temp",
        publish("t", "x", QoS::AtLeastOnce, Some(1), false),
        now,
    );
    assert!(
        journal.is_empty(),
        "nothing of a clean session is journaled"
    );
    state
        .disconnected("temp", 1, Departure::Graceful, now)
        .notify();
    commit(&mut store, &journal);
    drop(store);
    assert_eq!(inspect(dir.path()).unwrap().sessions, 0);
}

// ---------------------------------------------------------------------------------------
// Format versions, golden files and damage.

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1")
}

fn golden_v2_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v2")
}

/// Regenerates tests/fixtures/store-v2 (see `write_golden_store`): the scene's sessions in
/// the redb file, its messages only in the write-ahead log, as a crash between a log sync
/// and the next checkpoint leaves them.
#[test]
#[ignore]
fn write_golden_store_v2() {
    let dir = tempfile::tempdir().unwrap();
    let now = Instant::now();
    let (mut store, _) = Store::open(dir.path()).unwrap();
    let journal = Journal::enabled();
    let mut state = new_state(&journal);
    connect(&mut state, "sub", u32::MAX, now);
    subscribe(&mut state, "sub", "t/#", QoS::ExactlyOnce, now);
    commit(&mut store, &journal);
    scene(&mut state, now);
    log_only(dir.path(), &store, &journal);
    drop(store);
    super::store::compact(dir.path()).unwrap();
    let golden = golden_v2_dir();
    std::fs::create_dir_all(&golden).unwrap();
    std::fs::copy(
        dir.path().join(super::STORE_FILE),
        golden.join(super::STORE_FILE),
    )
    .unwrap();
    for (_, path) in super::wal::files(dir.path()).unwrap() {
        // Only the records: the file's sparse tail is not worth committing.
        let records = super::wal::read(dir.path()).unwrap();
        let used: usize = records.iter().map(|(_, body)| 20 + body.len()).sum();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(golden.join(path.file_name().unwrap()), &bytes[..used]).unwrap();
    }
}

#[test]
fn the_version_2_golden_store_and_its_log_still_load() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(golden_v2_dir()).expect("tests/fixtures/store-v2 is committed") {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    assert_the_golden_scene_loads(dir.path(), 2);
}

/// Both golden stores hold `scene`: its counts, the in-flight message resent with DUP, then
/// the queued ones, in order.
fn assert_the_golden_scene_loads(dir: &Path, format_version: u32) {
    let summary = inspect(dir).unwrap();
    assert_eq!(summary.format_version, format_version);
    assert_eq!(
        (
            summary.sessions,
            summary.subscriptions,
            summary.queued,
            summary.inflight
        ),
        (2, 1, 2, 1)
    );
    assert_eq!((summary.inbound_qos2, summary.retained), (1, 1));

    let now = Instant::now();
    let (mut state, _store, _journal) = restart(dir, now);
    let (present, resend) = connect(&mut state, "sub", u32::MAX, now);
    assert!(present);
    assert!(matches!(resend.as_slice(), [Packet::Publish(p)] if p.dup && &p.payload[..] == b"b"));
    let got: Vec<_> = payloads(&mut state, "sub", now)
        .into_iter()
        .map(|(p, _, _)| p)
        .collect();
    assert_eq!(got, ["c", "d"]);
}

/// Regenerates tests/fixtures/store-v1 with this build (run by hand when a new format
/// version is added: `cargo test --lib write_golden_store -- --ignored`). Never rewrite the
/// fixture of a released version: it is what older brokers left on disk.
#[test]
#[ignore]
fn write_golden_store() {
    let dir = tempfile::tempdir().unwrap();
    let now = Instant::now();
    let (mut store, _) = Store::open(dir.path()).unwrap();
    let journal = Journal::enabled();
    let mut state = new_state(&journal);
    scene(&mut state, now);
    commit(&mut store, &journal);
    drop(store);
    super::store::compact(dir.path()).unwrap();
    let golden = golden_dir();
    std::fs::create_dir_all(&golden).unwrap();
    std::fs::copy(
        dir.path().join(super::STORE_FILE),
        golden.join(super::STORE_FILE),
    )
    .unwrap();
}

/// A copy of the golden store, so the test never changes the committed file.
fn golden_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        golden_dir().join(super::STORE_FILE),
        dir.path().join(super::STORE_FILE),
    )
    .expect("tests/fixtures/store-v1/mq.redb is committed");
    dir
}

#[test]
fn the_version_1_golden_store_still_loads() {
    let dir = golden_copy();
    assert_the_golden_scene_loads(dir.path(), 1);
}

#[test]
fn a_store_from_a_newer_version_is_refused_with_both_versions_named() {
    let dir = golden_copy();
    super::store::poke_raw(dir.path(), "meta", "format_version", &3u32.to_le_bytes()).unwrap();
    let err = Store::open(dir.path()).err().expect("refused");
    assert!(
        matches!(
            err,
            StoreError::NewerFormat {
                found: 3,
                supported: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("newer mq"), "{err}");
    assert!(inspect(dir.path()).is_err());
}

#[test]
fn a_damaged_record_is_an_error_that_names_it() {
    let dir = golden_copy();
    super::store::poke_raw(dir.path(), "sessions", "sub", b"S\x07garbage").unwrap();
    let err = Store::open(dir.path()).err().expect("refused");
    let text = err.to_string();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{text}");
    assert!(text.contains("session record \"sub\""), "{text}");
}

#[test]
fn a_file_that_is_not_a_store_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut noise = vec![0u8; 64 * 1024];
    let mut x: u32 = 12345;
    for b in noise.iter_mut() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    std::fs::write(dir.path().join(super::STORE_FILE), &noise).unwrap();
    assert!(Store::open(dir.path()).is_err());
    assert!(inspect(dir.path()).is_err());
}

#[test]
fn a_truncated_store_is_an_error_not_a_panic() {
    let dir = golden_copy();
    let path = dir.path().join(super::STORE_FILE);
    let bytes = std::fs::read(&path).unwrap();
    for keep in [bytes.len() / 2, 4096, 100] {
        std::fs::write(&path, &bytes[..keep]).unwrap();
        let result = std::panic::catch_unwind(|| Store::open(dir.path()).map(|_| ()));
        match result {
            Ok(Ok(())) => panic!("a store truncated to {keep} bytes opened as if whole"),
            Ok(Err(e)) => assert!(matches!(e, StoreError::Corrupt { .. }), "{e}"),
            Err(_) => panic!("opening a store truncated to {keep} bytes panicked"),
        }
    }
}

#[test]
fn check_store_on_a_missing_folder_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let err = inspect(&dir.path().join("nothing")).unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }), "{err}");
}
