//! The MQTT broker: listeners, one task per connection, and the shared state they act on.
//! See ARCHITECTURE.md for the life of one PUBLISH.

pub mod auth;
pub mod bridge;
pub mod config;
pub mod config_file;
mod connection;
mod listener;
pub mod memory;
pub mod message;
mod metrics;
pub mod persist;
pub mod retained;
pub mod session;
mod signals;
pub mod state;
mod stats;
pub mod store;
pub mod subscriptions;
mod sys;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use mq_proto::ReasonCode;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

pub use config::{BrokerConfig, ListenerConfig};
pub use listener::Reloader;
use listener::{Listener, Transport};
use persist::{Durability, Journal, StoreError};
use state::BrokerState;
use stats::Stats;
use store::MemoryStore;

/// How long shutdown waits for connections to say goodbye.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot listen on {addr}: {source} (is another broker running there? pick another port with -p)")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("{0}")]
    Access(#[from] auth::AuthLoadError),
    #[error("listener {addr}: {source}")]
    Tls {
        addr: SocketAddr,
        source: crate::net::tls::TlsError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start the store writer: {0}")]
    Writer(io::Error),
    #[error(transparent)]
    Bridge(#[from] bridge::BridgeConfigError),
}

/// What every connection task shares.
pub(crate) struct Shared {
    config: Arc<BrokerConfig>,
    state: Mutex<BrokerState>,
    stats: Stats,
    started_at: Instant,
    connection_ids: AtomicU64,
    /// Failed logins per source address; outlives reloads of the access rules.
    auth_failures: auth::FailureLimiter,
    /// With `--persistence sync`: how far the store has committed the journal. Connection
    /// tasks hold acknowledgements until it reaches their ticket.
    committed: Option<watch::Receiver<u64>>,
}

impl Shared {
    fn next_connection_id(&self) -> u64 {
        self.connection_ids.fetch_add(1, Ordering::Relaxed)
    }
}

/// A broker whose listeners are bound; [`Broker::run`] serves them.
pub struct Broker {
    shared: Arc<Shared>,
    listeners: Vec<Listener>,
    writer: Option<persist::writer::Writer>,
    /// Cancelled by the store writer if a commit fails.
    store_failed: CancellationToken,
    restored_sessions: usize,
    /// The Prometheus endpoint's socket (`--metrics`).
    metrics: Option<TcpListener>,
}

impl Broker {
    pub async fn bind(config: BrokerConfig) -> Result<Broker, BrokerError> {
        for bridge in &config.bridges {
            bridge.validate()?;
        }
        let mut listeners = Vec::new();
        for listener in &config.listeners {
            let transport = Transport::load(listener).map_err(|source| BrokerError::Tls {
                addr: listener.bind,
                source,
            })?;
            let bound =
                TcpListener::bind(listener.bind)
                    .await
                    .map_err(|source| BrokerError::Bind {
                        addr: listener.bind,
                        source,
                    })?;
            listeners.push(Listener {
                tcp: bound,
                transport,
                scheme: listener.scheme(),
            });
        }
        let metrics = match config.metrics {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| BrokerError::Bind { addr, source })?,
            ),
            None => None,
        };
        let config = Arc::new(config);
        let mut state = BrokerState::new(config.clone(), Box::new(MemoryStore::default()));
        state.set_access(auth::login::load_at_start(&config)?);
        let store_failed = CancellationToken::new();
        let mut writer = None;
        let mut committed = None;
        let mut restored_sessions = 0;
        if let Some(persistence) = &config.persistence {
            let dir = persistence.dir.clone();
            let (store, recovered) =
                tokio::task::spawn_blocking(move || persist::Store::open(&dir))
                    .await
                    .map_err(|e| BrokerError::Writer(io::Error::other(e)))??;
            let journal = Journal::enabled();
            state = state.with_journal(journal.clone());
            restored_sessions = state.restore(recovered, Instant::now());
            info!(
                "store {}: {restored_sessions} sessions restored",
                store.path().display()
            );
            let (tx, rx) = watch::channel(0);
            if persistence.durability == Durability::Sync {
                committed = Some(rx);
            }
            writer = Some(
                persist::writer::Writer::spawn(
                    store,
                    journal,
                    persistence.durability,
                    tx,
                    store_failed.clone(),
                )
                .map_err(BrokerError::Writer)?,
            );
        }
        Ok(Broker {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(state),
                stats: Stats::default(),
                started_at: Instant::now(),
                connection_ids: AtomicU64::new(1),
                auth_failures: auth::FailureLimiter::default(),
                committed,
            }),
            listeners,
            writer,
            store_failed,
            restored_sessions,
            metrics,
        })
    }

    /// A handle that reloads the password and ACL files (on SIGHUP).
    pub fn access_reloader(&self) -> auth::AccessReloader {
        auth::AccessReloader::new(self.shared.clone())
    }

    /// Sessions read back from the store at start.
    pub fn restored_sessions(&self) -> usize {
        self.restored_sessions
    }

    /// The addresses actually bound (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.tcp.local_addr().ok())
            .collect()
    }

    /// Where the Prometheus endpoint listens (port 0 resolved), with `--metrics`.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// One URL per listener, in configuration order: `mqtt://127.0.0.1:1883`,
    /// `mqtts://…`, `ws://…`, `wss://…`.
    pub fn urls(&self) -> Vec<String> {
        self.listeners
            .iter()
            .filter_map(|l| Some(format!("{}://{}", l.scheme, l.tcp.local_addr().ok()?)))
            .collect()
    }

    /// A handle that reloads the TLS listeners' certificates and keys (on SIGHUP).
    pub fn reloader(&self) -> Reloader {
        Reloader::new(
            self.listeners
                .iter()
                .filter_map(|l| l.transport.tls().cloned())
                .collect(),
        )
    }

    /// Serves until `shutdown` is cancelled, then closes every connection (v5 clients are
    /// told 0x8B), waits for them (at most the grace period), and commits what is left to
    /// the store. A store failure stops the broker the same way and is returned.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), BrokerError> {
        let store_failed = self.store_failed.clone();
        let watch_store = {
            let shutdown = shutdown.clone();
            async move {
                store_failed.cancelled().await;
                shutdown.cancel();
            }
        };
        let watcher = tokio::spawn(watch_store);
        let tracker = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(
            self.shared
                .config
                .max_connections
                .min(Semaphore::MAX_PERMITS),
        ));
        for listener in self.listeners {
            tracker.spawn(accept_loop(
                listener,
                self.shared.clone(),
                permits.clone(),
                tracker.clone(),
                shutdown.clone(),
            ));
        }
        tracker.spawn(sys::housekeeping(self.shared.clone(), shutdown.clone()));
        if let Some(listener) = self.metrics {
            tracker.spawn(metrics::serve(
                listener,
                self.shared.clone(),
                tracker.clone(),
                shutdown.clone(),
            ));
        }
        for bridge in &self.shared.config.bridges {
            tracker.spawn(bridge::run(
                self.shared.clone(),
                bridge.clone(),
                shutdown.clone(),
            ));
        }
        shutdown.cancelled().await;
        // Connections in their session phase wait on their signals, not on the token; a
        // connection linked after this sees the token cancelled (`connection::establish`).
        self.shared
            .state
            .lock()
            .kick_all(ReasonCode::ServerShuttingDown);
        tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
            .await
            .is_err()
        {
            warn!("some connections did not close within {SHUTDOWN_GRACE:?}");
        }
        watcher.abort();
        match self.writer {
            Some(writer) => tokio::task::spawn_blocking(move || writer.finish())
                .await
                .map_err(|e| BrokerError::Writer(io::Error::other(e)))?
                .map_err(BrokerError::Store),
            None => Ok(()),
        }
    }
}

async fn accept_loop(
    listener: Listener,
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.tcp.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                Stats::add(&shared.stats.sockets, 1);
                pair
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            debug!(%peer, "max_connections reached; closing new connection");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let transport = listener.transport.clone();
        // Made here, not inside an async block awaiting it: such a block keeps room for its
        // captures beside the future it awaits, for the connection's whole life.
        let serving =
            listener::serve_connection(stream, peer, transport, shared.clone(), shutdown.clone());
        tracker.spawn(serving.map(move |()| drop(permit)));
    }
}
