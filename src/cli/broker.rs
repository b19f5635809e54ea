//! `mq broker`: run an MQTT broker.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tokio_util::sync::CancellationToken;

use super::exit::{Failure, FailureKind};
use super::listeners::ListenerArgs;
use crate::broker::auth::{AccessReloader, AuthConfig};
use crate::broker::config::DEFAULT_MAX_PACKET_SIZE;
use crate::broker::persist::{self, Durability, PersistenceConfig, StoreError};
use crate::broker::session::SessionLimits;
use crate::broker::{Broker, BrokerConfig, BrokerError, ListenerConfig, Reloader};

/// Run an MQTT 3.1/3.1.1/5.0 broker. With no options it listens on mqtt://127.0.0.1:1883.
///
/// Prints one line per listener with its URL (`mqtt://ADDRESS:PORT`) once it is bound;
/// port 0 picks a free port. Stops cleanly on Ctrl-C or SIGTERM.
///
/// Sessions, queued and in-flight QoS 1/2 messages and retained messages are kept in a store
/// in the data folder (--data; by default $XDG_DATA_HOME/mq, else ~/.local/share/mq), printed
/// at start. With --persistence sync (the default) a PUBACK, PUBREC or SUBACK goes out only
/// once the change is on disk, so nothing acknowledged is lost to a crash or kill -9.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Port to listen on; 0 picks a free one.
    #[arg(short, long, default_value_t = 1883)]
    #[arg(help_heading = "Listeners")]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    #[arg(help_heading = "Listeners")]
    pub bind: IpAddr,
    #[command(flatten)]
    pub listeners: ListenerArgs,
    /// More log output: -v connections, -vv packets, -vvv everything (or set RUST_LOG).
    #[arg(short, long, action = clap::ArgAction::Count)]
    #[arg(help_heading = "Logging")]
    pub verbose: u8,
    /// Seconds between $SYS updates; 0 turns them off.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    #[arg(help_heading = "Monitoring")]
    pub sys_interval: u64,
    /// Largest packet accepted, in bytes; larger ones close the connection.
    #[arg(long, default_value_t = DEFAULT_MAX_PACKET_SIZE, value_name = "BYTES")]
    #[arg(help_heading = "Limits")]
    pub max_packet_size: usize,
    /// QoS 1 and 2 messages in flight to one client at a time.
    #[arg(long, default_value_t = SessionLimits::default().max_inflight, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..))]
    #[arg(help_heading = "Limits")]
    pub max_inflight_messages: u16,
    /// Messages queued per session beyond those in flight; more are dropped (QoS 0 first) and counted.
    #[arg(long, default_value_t = SessionLimits::default().max_queued_messages, value_name = "N")]
    #[arg(help_heading = "Limits")]
    pub max_queued_messages: usize,
    /// Payload bytes queued per session; 0 for no byte limit.
    #[arg(long, default_value_t = 0, value_name = "BYTES")]
    #[arg(help_heading = "Limits")]
    pub max_queued_bytes: usize,
    /// Seconds a new connection has to send CONNECT.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    #[arg(help_heading = "Limits")]
    pub connect_timeout: u64,
    /// Most simultaneous connections; further ones are closed at once.
    #[arg(long, value_name = "N")]
    #[arg(help_heading = "Limits")]
    pub max_connections: Option<usize>,
    /// Password file (`user:hash` lines from `mq passwd` or mosquitto_passwd): clients must
    /// give a user name and its password, unless --allow-anonymous. Reloaded on SIGHUP.
    #[arg(long, value_name = "FILE")]
    #[arg(help_heading = "Authentication")]
    pub password_file: Option<PathBuf>,
    /// ACL file in Mosquitto's syntax: who may publish, subscribe to and receive which
    /// topics (try rules with `mq acl check`). Reloaded on SIGHUP.
    #[arg(long, value_name = "FILE")]
    #[arg(help_heading = "Authentication")]
    pub acl_file: Option<PathBuf>,
    /// Let clients connect without a user name. Without this flag they may only when every
    /// listener is on loopback and there is no password file; `--allow-anonymous false`
    /// refuses them everywhere.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    #[arg(help_heading = "Authentication")]
    pub allow_anonymous: Option<bool>,
    /// Longest keep alive allowed, in seconds: MQTT 5 clients asking for more (or none) are
    /// told this as Server Keep Alive; 3.x clients asking for more are refused.
    #[arg(long, default_value_t = u16::MAX, value_name = "SECS")]
    #[arg(help_heading = "Limits")]
    pub max_keepalive: u16,
    /// Topic aliases an MQTT 5 client may set toward the broker; 0 turns them off.
    #[arg(long, default_value_t = 10, value_name = "N")]
    #[arg(help_heading = "Limits")]
    pub max_topic_alias: u16,
    /// Refuse subscriptions to this topic filter, or to filters it matches, with SUBACK
    /// 0x80 "unspecified error" (repeatable).
    #[arg(long, value_name = "FILTER", value_parser = parse_topic_filter)]
    #[arg(help_heading = "Limits")]
    pub refuse_subscribe: Vec<String>,
    /// Folder for the store [default: $XDG_DATA_HOME/mq, else ~/.local/share/mq].
    #[arg(long, value_name = "DIR")]
    #[arg(help_heading = "Persistence")]
    pub data: Option<PathBuf>,
    /// sync: acknowledge only what is on disk; periodic: save every --autosave-interval
    /// (a crash loses up to one interval, as Mosquitto's autosave); off: memory only.
    #[arg(long, value_enum, default_value_t = PersistenceMode::Sync)]
    #[arg(help_heading = "Persistence")]
    pub persistence: PersistenceMode,
    /// Seconds between saves with --persistence periodic.
    #[arg(long, default_value_t = 60, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    #[arg(help_heading = "Persistence")]
    pub autosave_interval: u64,
    /// Report what the store in DIR holds (format version, sessions, queued messages,
    /// retained messages), checking every record, then exit. Changes nothing.
    #[arg(long, value_name = "DIR")]
    #[arg(help_heading = "Persistence")]
    pub check_store: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PersistenceMode {
    Sync,
    Periodic,
    Off,
}

/// The per-user data folder (XDG Base Directory): `$XDG_DATA_HOME/mq`, else
/// `$HOME/.local/share/mq`.
fn default_data_dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    std::env::var_os("XDG_DATA_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".local/share"))
        })
        .map(|base| base.join("mq"))
}

impl BrokerArgs {
    fn persistence(&self) -> Result<Option<PersistenceConfig>, Failure> {
        let durability = match self.persistence {
            PersistenceMode::Off => return Ok(None),
            PersistenceMode::Sync => Durability::Sync,
            PersistenceMode::Periodic => {
                Durability::Periodic(Duration::from_secs(self.autosave_interval))
            }
        };
        let dir = match &self.data {
            Some(dir) => dir.clone(),
            None => default_data_dir().ok_or_else(|| {
                Failure::new(
                    FailureKind::Usage,
                    "no data folder: HOME and XDG_DATA_HOME are unset; pass --data DIR or --persistence off",
                )
            })?,
        };
        Ok(Some(PersistenceConfig { dir, durability }))
    }

    fn config(&self) -> Result<BrokerConfig, Failure> {
        Ok(BrokerConfig {
            listeners: vec![ListenerConfig::tcp(SocketAddr::new(self.bind, self.port))],
            session_limits: SessionLimits {
                max_inflight: self.max_inflight_messages,
                max_queued_messages: self.max_queued_messages,
                max_queued_bytes: self.max_queued_bytes,
            },
            max_packet_size: self.max_packet_size,
            connect_timeout: Duration::from_secs(self.connect_timeout),
            max_connections: self.max_connections.unwrap_or(usize::MAX),
            sys_interval: (self.sys_interval > 0).then(|| Duration::from_secs(self.sys_interval)),
            auth: AuthConfig {
                password_file: self.password_file.clone(),
                acl_file: self.acl_file.clone(),
                allow_anonymous: self.allow_anonymous,
            },
            max_keepalive: self.max_keepalive,
            topic_alias_maximum: self.max_topic_alias,
            refused_filters: self.refuse_subscribe.clone(),
            persistence: self.persistence()?,
            ..BrokerConfig::default()
        })
    }
}

fn parse_topic_filter(filter: &str) -> Result<String, String> {
    mq_proto::topic::validate_topic_filter(filter)
        .map(|()| filter.to_string())
        .map_err(|e| format!("not a valid topic filter: {e}"))
}

fn store_failure(e: StoreError) -> Failure {
    Failure::new(FailureKind::General, e.to_string())
}

/// `--check-store DIR`: what the store holds, for people.
fn check_store(dir: &std::path::Path) -> Result<(), Failure> {
    let summary = persist::inspect(dir).map_err(store_failure)?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "store {} (format version {}, {} bytes): every record reads back\n\
         sessions: {}\n\
         subscriptions: {}\n\
         queued messages: {} (in flight: {})\n\
         stored messages (each payload once): {}\n\
         inbound QoS 2 packet ids awaiting PUBREL: {}\n\
         retained messages: {}\n\
         sessions with a will: {}",
        summary.path.display(),
        summary.format_version,
        summary.file_bytes,
        summary.sessions,
        summary.subscriptions,
        summary.queued + summary.inflight,
        summary.inflight,
        summary.stored_messages,
        summary.inbound_qos2,
        summary.retained,
        summary.pending_wills,
    );
    Ok(())
}

pub fn run(args: BrokerArgs) -> Result<(), Failure> {
    if let Some(dir) = &args.check_store {
        return check_store(dir);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                FailureKind::General,
                format!("cannot start the runtime: {e}"),
            )
        })?;
    let mut config = args.config()?;
    config
        .listeners
        .extend(args.listeners.listeners(args.bind)?);
    runtime.block_on(async {
        let persistence = config.persistence.clone();
        let broker = Broker::bind(config).await.map_err(|e| {
            let kind = match e {
                BrokerError::Access(_) => FailureKind::Usage,
                BrokerError::Tls { .. } => FailureKind::Tls,
                BrokerError::Store(_) | BrokerError::Writer(_) => FailureKind::General,
                _ => FailureKind::Network,
            };
            Failure::new(kind, e.to_string())
        })?;
        // Before the addresses are printed: from then on a SIGHUP must reload, and a
        // SIGTERM or SIGINT stop cleanly, rather than kill the process.
        #[cfg(unix)]
        let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let stop = StopSignals::install();
        {
            let mut out = std::io::stdout().lock();
            // The addresses first: scripts and tests read the first line for the port.
            for url in broker.urls() {
                let _ = writeln!(out, "mq broker listening on {url}");
            }
            match &persistence {
                Some(p) => {
                    let mode = match p.durability {
                        Durability::Sync => "sync".to_string(),
                        Durability::Periodic(every) => {
                            format!("periodic, every {}s", every.as_secs())
                        }
                    };
                    let _ = writeln!(
                        out,
                        "mq broker data in {} (persistence {mode}; {} sessions restored)",
                        p.dir.display(),
                        broker.restored_sessions()
                    );
                }
                None => {
                    let _ = writeln!(out, "mq broker data in memory only (--persistence off)");
                }
            }
            let _ = out.flush();
        }
        let shutdown = CancellationToken::new();
        tokio::spawn(stop.cancel_on_signal(shutdown.clone()));
        #[cfg(unix)]
        if let Some(hangup) = hangup {
            tokio::spawn(reload_on_hangup(
                hangup,
                broker.access_reloader(),
                broker.reloader(),
            ));
        }
        broker
            .run(shutdown)
            .await
            .map_err(|e| Failure::new(FailureKind::General, e.to_string()))
    })
}

/// Each SIGHUP reloads the password and ACL files and the TLS certificates and keys; open
/// connections stay, and files that do not load leave what was in force (the reloaders
/// log why).
#[cfg(unix)]
async fn reload_on_hangup(
    mut hangup: tokio::signal::unix::Signal,
    access: AccessReloader,
    tls: Reloader,
) {
    while hangup.recv().await.is_some() {
        let access = access.clone();
        let tls = tls.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = access.reload();
            tls.reload_tls();
        })
        .await;
    }
}

/// SIGTERM and SIGINT (Ctrl-C), registered before the broker announces itself so that an
/// early signal already means a clean stop.
struct StopSignals {
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn install() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            StopSignals {
                terminate: signal(SignalKind::terminate()).ok(),
                interrupt: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    async fn cancel_on_signal(self, shutdown: CancellationToken) {
        #[cfg(unix)]
        {
            let terminate = async {
                match self.terminate {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let interrupt = async {
                match self.interrupt {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            };
            tokio::select! {
                _ = terminate => {}
                _ = interrupt => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        shutdown.cancel();
    }
}
