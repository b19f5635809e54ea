//! The store writer: one thread that owns the redb file. It takes everything the journal
//! holds, commits it as one transaction (one fsync for many clients' changes), and then
//! announces the journal position it reached on a watch channel; connection tasks holding
//! acknowledgements for that position send them then (group commit).

use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error};

use super::{Durability, Journal, Store, StoreError};

pub struct Writer {
    thread: JoinHandle<Result<(), StoreError>>,
    journal: Journal,
}

impl Writer {
    /// Starts the writer thread. `committed` receives the journal position each commit
    /// reaches. If a commit fails, `failed` is cancelled (the broker stops: it must not go
    /// on acknowledging what it cannot keep) and [`Writer::finish`] returns the error.
    pub fn spawn(
        mut store: Store,
        journal: Journal,
        durability: Durability,
        committed: watch::Sender<u64>,
        failed: CancellationToken,
    ) -> std::io::Result<Writer> {
        let handle = journal.clone();
        let thread = std::thread::Builder::new()
            .name("mq-store".into())
            .spawn(move || {
                let result = run(&mut store, &journal, durability, &committed);
                if let Err(e) = &result {
                    error!("persistence failed, stopping the broker: {e}");
                    failed.cancel();
                }
                result
            })?;
        Ok(Writer {
            thread,
            journal: handle,
        })
    }

    /// Commits what is left in the journal, syncs, and stops the thread.
    pub fn finish(self) -> Result<(), StoreError> {
        self.journal.close();
        match self.thread.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

fn run(
    store: &mut Store,
    journal: &Journal,
    durability: Durability,
    committed: &watch::Sender<u64>,
) -> Result<(), StoreError> {
    loop {
        let closed = match durability {
            Durability::Sync => journal.wait(None, true),
            Durability::Periodic(interval) => journal.wait(Some(Instant::now() + interval), false),
        };
        let (changes, seq) = journal.take();
        if !changes.is_empty() {
            let count = changes.len();
            let started = Instant::now();
            store.commit(changes, true)?;
            debug!(
                "store: committed {count} changes up to {seq} in {:?}",
                started.elapsed()
            );
        }
        committed.send_replace(seq);
        if closed && journal.is_empty() {
            return Ok(());
        }
    }
}
