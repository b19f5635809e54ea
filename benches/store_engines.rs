//! Which embedded store should hold the broker's sessions? This measures the two candidates,
//! redb and fjall, on the broker's own write pattern: 16 clients each waiting for the
//! acknowledgement of a few ~100-byte records, one writer that group-commits whatever has
//! arrived into one durable transaction (fsync) and then releases the waiting clients, and
//! records deleted again shortly after (a queue: messages are delivered and acknowledged).
//!
//! `cargo bench --bench store_engines` (bounded: each case stops after `RECORDS` records or
//! `LIMIT`, whichever comes first). The figures and the choice are in ARCHITECTURE.md.

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const PRODUCERS: usize = 16;
const RECORD_BYTES: usize = 100;
const RECORDS: usize = 40_000;
const LIMIT: Duration = Duration::from_secs(4);

type Error = Box<dyn std::error::Error + Send + Sync>;

trait Engine: Send {
    /// Writes `puts` and removes `dels` in one durable commit.
    fn commit(&mut self, puts: &[(Vec<u8>, Vec<u8>)], dels: &[Vec<u8>]) -> Result<(), Error>;
}

struct Redb {
    db: redb::Database,
}

const QUEUE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("queue");

impl Redb {
    fn open(dir: &Path) -> Result<Redb, Error> {
        let db = redb::Database::create(dir.join("bench.redb"))?;
        Ok(Redb { db })
    }
}

impl Engine for Redb {
    fn commit(&mut self, puts: &[(Vec<u8>, Vec<u8>)], dels: &[Vec<u8>]) -> Result<(), Error> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(redb::Durability::Immediate);
        {
            let mut table = txn.open_table(QUEUE)?;
            for (k, v) in puts {
                table.insert(k.as_slice(), v.as_slice())?;
            }
            for k in dels {
                table.remove(k.as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}

struct Fjall {
    keyspace: fjall::Keyspace,
    queue: fjall::PartitionHandle,
}

impl Fjall {
    fn open(dir: &Path) -> Result<Fjall, Error> {
        let keyspace = fjall::Config::new(dir.join("bench.fjall")).open()?;
        let queue = keyspace.open_partition("queue", fjall::PartitionCreateOptions::default())?;
        Ok(Fjall { keyspace, queue })
    }
}

impl Engine for Fjall {
    fn commit(&mut self, puts: &[(Vec<u8>, Vec<u8>)], dels: &[Vec<u8>]) -> Result<(), Error> {
        let mut batch = self
            .keyspace
            .batch()
            .durability(Some(fjall::PersistMode::SyncAll));
        for (k, v) in puts {
            batch.insert(&self.queue, k.as_slice(), v.as_slice());
        }
        for k in dels {
            batch.remove(&self.queue, k.as_slice());
        }
        batch.commit()?;
        Ok(())
    }
}

struct Figures {
    records: usize,
    commits: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn print(&mut self, name: &str) {
        self.latencies.sort();
        let at = |q: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * q) as usize;
            self.latencies.get(i).copied().unwrap_or_default()
        };
        println!(
            "{name:<34} {:>8.0} records/s  {:>6.0} commits/s  {:>6.1} records/commit  ack p50 {:>7.2?}  p99 {:>7.2?}",
            self.records as f64 / self.elapsed.as_secs_f64(),
            self.commits as f64 / self.elapsed.as_secs_f64(),
            self.records as f64 / self.commits.max(1) as f64,
            at(0.5),
            at(0.99),
        );
    }
}

/// One record from one producer, and where to tell it the record is durable.
struct Pending {
    key: Vec<u8>,
    value: Vec<u8>,
    sent: Instant,
    done: mpsc::Sender<Duration>,
}

/// 16 producers, each with `window` records awaiting acknowledgement; one writer commits
/// what has arrived, at most `max_batch` records per commit.
fn run(mut engine: Box<dyn Engine>, window: usize, max_batch: usize) -> Result<Figures, Error> {
    let (to_writer, inbox) = mpsc::sync_channel::<Pending>(PRODUCERS * window);
    let started = Instant::now();
    let per_producer = RECORDS / PRODUCERS;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let to_writer = to_writer.clone();
        let stop = stop.clone();
        producers.push(thread::spawn(move || {
            let (done, acks) = mpsc::channel();
            let mut latencies = Vec::with_capacity(per_producer);
            let mut outstanding = 0;
            for seq in 0..per_producer as u64 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                if outstanding == window {
                    let Ok(latency) = acks.recv() else { break };
                    latencies.push(latency);
                    outstanding -= 1;
                }
                let mut key = format!("client-{p:02}").into_bytes();
                key.extend_from_slice(&seq.to_be_bytes());
                let record = Pending {
                    key,
                    value: vec![(seq % 251) as u8; RECORD_BYTES],
                    sent: Instant::now(),
                    done: done.clone(),
                };
                if to_writer.send(record).is_err() {
                    break;
                }
                outstanding += 1;
            }
            drop(done);
            latencies.extend(acks.iter().take(outstanding));
            latencies
        }));
    }
    drop(to_writer);

    let mut commits = 0;
    let mut records = 0;
    // Records written two commits ago are "delivered and acknowledged": removed again.
    let mut older: Vec<Vec<u8>> = Vec::new();
    let mut old: Vec<Vec<u8>> = Vec::new();
    while let Ok(first) = inbox.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match inbox.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let puts: Vec<_> = batch
            .iter()
            .map(|r| (r.key.clone(), r.value.clone()))
            .collect();
        engine.commit(&puts, &older)?;
        commits += 1;
        records += batch.len();
        older = std::mem::replace(&mut old, puts.into_iter().map(|(k, _)| k).collect());
        for record in batch {
            let _ = record.done.send(record.sent.elapsed());
        }
        if started.elapsed() > LIMIT {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let elapsed = started.elapsed();
    let mut latencies = Vec::new();
    for producer in producers {
        latencies.extend(producer.join().map_err(|_| "a producer panicked")?);
    }
    Ok(Figures {
        records,
        commits,
        elapsed,
        latencies,
    })
}

fn main() -> Result<(), Error> {
    println!(
        "{PRODUCERS} producers, {RECORD_BYTES}-byte records, every commit durable (fsync); each case stops after {RECORDS} records or {LIMIT:?}"
    );
    type Open = fn(&Path) -> Result<Box<dyn Engine>, Error>;
    let engines: [(&str, Open); 2] = [
        ("redb", |d| Ok(Box::new(Redb::open(d)?))),
        ("fjall", |d| Ok(Box::new(Fjall::open(d)?))),
    ];
    let cases = [
        ("group commit, window 8", 8, usize::MAX),
        ("group commit, window 1", 1, usize::MAX),
        ("one record per commit, window 1", 1, 1),
    ];
    for (case, window, max_batch) in cases {
        for (name, open) in engines {
            let dir = tempfile::tempdir()?;
            let engine = open(dir.path())?;
            run(engine, window, max_batch)?.print(&format!("{name}, {case}"));
        }
    }
    Ok(())
}
