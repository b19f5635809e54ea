//! The store writers. With `--persistence sync` two threads share the work: the log thread
//! takes everything the journal holds, appends it to the write-ahead log as one record and
//! syncs it (one `fdatasync` for many clients' changes), then announces the journal position
//! it reached on a watch channel, so connection tasks holding acknowledgements for that
//! position send them (group commit); the store thread applies the same changes to the redb
//! file, one transaction per checkpoint, off the acknowledgements' path. With `periodic`, one
//! thread commits the journal to the redb file every interval.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error};

use super::store::Recorder;
use super::wal::{self, Wal};
use super::{Change, Durability, Journal, Store, StoreError};

/// How often the store thread commits what the log holds into the redb file, so the log
/// (and the replay at the next start) stays short.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// Groups the store thread may lag behind the log thread before the log thread waits for it.
const MAX_GROUPS_BEHIND: usize = 4096;

type Outcome = Result<(), StoreError>;

pub struct Writer {
    threads: Vec<JoinHandle<Outcome>>,
    journal: Journal,
    /// The folder whose write-ahead log files go once everything is in the store.
    log_dir: Option<PathBuf>,
}

fn spawn_thread(
    name: &str,
    failed: &CancellationToken,
    work: impl FnOnce() -> Outcome + Send + 'static,
) -> std::io::Result<JoinHandle<Outcome>> {
    let failed = failed.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let result = work();
            if let Err(e) = &result {
                error!("persistence failed, stopping the broker: {e}");
                failed.cancel();
            }
            result
        })
}

impl Writer {
    /// Starts the writer threads. `committed` receives the journal position each commit
    /// (each log sync, with `sync`) reaches. If writing fails, `failed` is cancelled (the
    /// broker stops: it must not go on acknowledging what it cannot keep) and
    /// [`Writer::finish`] returns the error.
    pub fn spawn(
        mut store: Store,
        journal: Journal,
        durability: Durability,
        committed: watch::Sender<u64>,
        failed: CancellationToken,
    ) -> std::io::Result<Writer> {
        let handle = journal.clone();
        match durability {
            Durability::Periodic(interval) => {
                let thread = spawn_thread("mq-store", &failed, move || {
                    periodic(&mut store, &journal, interval, &committed)
                })?;
                Ok(Writer {
                    threads: vec![thread],
                    journal: handle,
                    log_dir: None,
                })
            }
            Durability::Sync => {
                let dir = store
                    .path()
                    .parent()
                    .map_or_else(|| PathBuf::from("."), PathBuf::from);
                let wal = Wal::create(&dir, store.journal_group() + 1)?;
                let recorder = store.recorder();
                let checkpointed = Arc::new(AtomicU64::new(store.journal_group()));
                let (to_store, from_log) = mpsc::sync_channel(MAX_GROUPS_BEHIND);
                let reached = checkpointed.clone();
                let log_dir = dir.clone();
                let log = spawn_thread("mq-wal", &failed, move || {
                    let mut log = Log {
                        wal,
                        dir: log_dir,
                        recorder,
                        checkpointed: reached,
                    };
                    log.run(&journal, &committed, &to_store)
                })?;
                let checkpoints = spawn_thread("mq-store", &failed, move || {
                    checkpoint(&mut store, &from_log, &checkpointed)
                })?;
                Ok(Writer {
                    threads: vec![log, checkpoints],
                    journal: handle,
                    log_dir: Some(dir),
                })
            }
        }
    }

    /// Commits what is left in the journal, syncs, and stops the threads.
    pub fn finish(self) -> Result<(), StoreError> {
        self.journal.close();
        let mut outcome = Ok(());
        for thread in self.threads {
            let result = match thread.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            if outcome.is_ok() {
                outcome = result;
            }
        }
        if let (Ok(()), Some(dir)) = (&outcome, &self.log_dir) {
            // The store holds every group now.
            wal::remove_all(dir).map_err(|source| StoreError::Log {
                dir: dir.clone(),
                source,
            })?;
        }
        outcome
    }
}

/// What a writer thread did in the last second, logged at debug level: how many commits
/// (syncs), how many changes each carried, and how long they took.
struct Stats {
    what: &'static str,
    since: Option<Instant>,
    commits: u64,
    changes: u64,
    busy: Duration,
    slowest: Duration,
}

impl Stats {
    fn new(what: &'static str) -> Stats {
        Stats {
            what,
            since: None,
            commits: 0,
            changes: 0,
            busy: Duration::ZERO,
            slowest: Duration::ZERO,
        }
    }

    fn record(&mut self, changes: usize, took: Duration) {
        let now = Instant::now();
        let since = *self.since.get_or_insert(now);
        self.commits += 1;
        self.changes += changes as u64;
        self.busy += took;
        self.slowest = self.slowest.max(took);
        if now.duration_since(since) >= Duration::from_secs(1) {
            debug!(
                "store: {} {} in {:?}, {:.1} changes each, {:?} each, slowest {:?}",
                self.commits,
                self.what,
                now.duration_since(since),
                self.changes as f64 / self.commits as f64,
                self.busy / u32::try_from(self.commits).unwrap_or(u32::MAX),
                self.slowest
            );
            *self = Stats {
                since: Some(now),
                ..Stats::new(self.what)
            };
        }
    }
}

fn periodic(
    store: &mut Store,
    journal: &Journal,
    interval: Duration,
    committed: &watch::Sender<u64>,
) -> Outcome {
    let mut stats = Stats::new("commits");
    loop {
        let closed = journal.wait(Some(Instant::now() + interval), false);
        let (changes, seq) = journal.take();
        if !changes.is_empty() {
            let count = changes.len();
            let started = Instant::now();
            store.commit(changes, true, None)?;
            stats.record(count, started.elapsed());
        }
        committed.send_replace(seq);
        if closed && journal.is_empty() {
            return Ok(());
        }
    }
}

/// The log thread's side of `--persistence sync`.
struct Log {
    wal: Wal,
    dir: PathBuf,
    recorder: Recorder,
    /// The last group the store thread has committed.
    checkpointed: Arc<AtomicU64>,
}

impl Log {
    fn run(
        &mut self,
        journal: &Journal,
        committed: &watch::Sender<u64>,
        to_store: &mpsc::SyncSender<(u64, Vec<Change>)>,
    ) -> Outcome {
        let mut stats = Stats::new("log syncs");
        loop {
            let closed = journal.wait(None, true);
            let (changes, seq) = journal.take();
            if !changes.is_empty() {
                let count = changes.len();
                let started = Instant::now();
                let body = self.recorder.group(&changes);
                let group = self.wal.append(&body).map_err(|e| self.failed(e))?;
                stats.record(count, started.elapsed());
                committed.send_replace(seq);
                self.wal
                    .checkpointed(self.checkpointed.load(Ordering::Acquire))
                    .map_err(|e| self.failed(e))?;
                if to_store.send((group, changes)).is_err() {
                    // The store thread stopped on an error, which it reports.
                    return Ok(());
                }
            } else {
                committed.send_replace(seq);
            }
            if closed && journal.is_empty() {
                return Ok(());
            }
        }
    }

    fn failed(&self, source: std::io::Error) -> StoreError {
        StoreError::Log {
            dir: self.dir.clone(),
            source,
        }
    }
}

/// The store thread's side of `--persistence sync`: every [`CHECKPOINT_INTERVAL`] (or
/// sooner when many changes wait), what the log thread passed on goes into the redb file
/// as one transaction, which records the last log group it holds.
fn checkpoint(
    store: &mut Store,
    from_log: &mpsc::Receiver<(u64, Vec<Change>)>,
    checkpointed: &AtomicU64,
) -> Outcome {
    let mut stats = Stats::new("checkpoints");
    let mut pending: Vec<Change> = Vec::new();
    let mut last_group = None;
    let mut due = Instant::now() + CHECKPOINT_INTERVAL;
    loop {
        let open = match from_log.recv_timeout(due.saturating_duration_since(Instant::now())) {
            Ok((group, mut changes)) => {
                pending.append(&mut changes);
                last_group = Some(group);
                true
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => false,
        };
        let now = Instant::now();
        if open && now < due && pending.len() < super::journal::EARLY_COMMIT_CHANGES {
            continue;
        }
        if let Some(group) = last_group.take() {
            let count = pending.len();
            store.commit(std::mem::take(&mut pending), true, Some(group))?;
            checkpointed.store(group, Ordering::Release);
            stats.record(count, now.elapsed());
        }
        if !open {
            return Ok(());
        }
        due = Instant::now() + CHECKPOINT_INTERVAL;
    }
}
