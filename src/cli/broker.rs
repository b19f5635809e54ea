//! `mq broker`: run an MQTT broker.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tokio_util::sync::CancellationToken;

use super::exit::{Failure, FailureKind};
use super::listeners::ListenerArgs;
use crate::broker::auth::AccessReloader;
use crate::broker::config::ListenerKind;
use crate::broker::config_file::{self, LogFormat};
use crate::broker::persist::{self, Durability, PersistenceConfig, StoreError};
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
    /// Configuration file: mq's TOML (see --print-config) or an existing mosquitto.conf.
    /// Flags given on the command line override it.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    #[arg(help_heading = "Configuration")]
    pub config: Option<PathBuf>,
    /// Check the configuration (and the password, ACL and certificate files it names),
    /// print its warnings, and exit without starting: 0 if it is usable, 2 if not.
    #[arg(long)]
    #[arg(help_heading = "Configuration")]
    pub check: bool,
    /// Print an annotated mq.toml with every setting and its default, then exit.
    #[arg(long)]
    #[arg(help_heading = "Configuration")]
    pub print_config: bool,
    /// Print FILE (a mosquitto.conf, or mq.toml) as mq.toml, then exit; what cannot be
    /// converted is a warning on stderr naming its line.
    #[arg(long, value_name = "FILE")]
    #[arg(help_heading = "Configuration")]
    pub convert: Option<PathBuf>,
    /// Log lines as text for people, or one JSON object per line for log shippers.
    #[arg(long, value_enum, value_name = "FORMAT")]
    #[arg(help_heading = "Logging")]
    pub log_format: Option<LogFormatArg>,
    /// Port of the first plain MQTT listener; 0 picks a free one [default: 1883].
    #[arg(short, long)]
    #[arg(help_heading = "Listeners")]
    pub port: Option<u16>,
    /// Address of the first plain MQTT listener [default: 127.0.0.1].
    #[arg(long)]
    #[arg(help_heading = "Listeners")]
    pub bind: Option<IpAddr>,
    #[command(flatten)]
    pub listeners: ListenerArgs,
    /// More log output: -v connections, -vv packets, -vvv everything (or set RUST_LOG).
    #[arg(short, long, action = clap::ArgAction::Count)]
    #[arg(help_heading = "Logging")]
    pub verbose: u8,
    /// Seconds between $SYS updates; 0 turns them off [default: 10].
    #[arg(long, value_name = "SECS")]
    #[arg(help_heading = "Monitoring")]
    pub sys_interval: Option<u64>,
    /// Largest packet accepted, in bytes; larger ones close the connection [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    #[arg(help_heading = "Limits")]
    pub max_packet_size: Option<usize>,
    /// QoS 1 and 2 messages in flight to one client at a time [default: 20].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    #[arg(help_heading = "Limits")]
    pub max_inflight_messages: Option<u16>,
    /// Messages queued per session beyond those in flight; more are dropped (QoS 0 first)
    /// and counted [default: 1000].
    #[arg(long, value_name = "N")]
    #[arg(help_heading = "Limits")]
    pub max_queued_messages: Option<usize>,
    /// Payload bytes queued per session; 0 for no byte limit [default: 0].
    #[arg(long, value_name = "BYTES")]
    #[arg(help_heading = "Limits")]
    pub max_queued_bytes: Option<usize>,
    /// Bytes of queued, in-flight and retained messages the broker may hold; beyond it new
    /// publishes are refused (MQTT 5: 0x97 Quota exceeded; MQTT 3: QoS 0 dropped, QoS 1/2
    /// close the connection unacknowledged) [default: no limit].
    #[arg(long, value_name = "BYTES")]
    #[arg(help_heading = "Limits")]
    pub max_memory: Option<u64>,
    /// Seconds a new connection has to send CONNECT [default: 10].
    #[arg(long, value_name = "SECS")]
    #[arg(help_heading = "Limits")]
    pub connect_timeout: Option<u64>,
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
    /// told this as Server Keep Alive; 3.x clients asking for more are refused [default: 65535].
    #[arg(long, value_name = "SECS")]
    #[arg(help_heading = "Limits")]
    pub max_keepalive: Option<u16>,
    /// Topic aliases an MQTT 5 client may set toward the broker; 0 turns them off [default: 10].
    #[arg(long, value_name = "N")]
    #[arg(help_heading = "Limits")]
    pub max_topic_alias: Option<u16>,
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
    /// (a crash loses up to one interval, as Mosquitto's autosave); off: memory only
    /// [default: sync].
    #[arg(long, value_enum)]
    #[arg(help_heading = "Persistence")]
    pub persistence: Option<PersistenceMode>,
    /// Seconds between saves with --persistence periodic [default: 60].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    #[arg(help_heading = "Persistence")]
    pub autosave_interval: Option<u64>,
    /// Serve the broker's figures (those of $SYS) for Prometheus at http://ADDR/metrics,
    /// e.g. 127.0.0.1:9100.
    #[arg(long, value_name = "ADDR")]
    #[arg(help_heading = "Monitoring")]
    pub metrics: Option<SocketAddr>,
    /// Most levels in a topic name or filter: deeper PUBLISHes are refused (MQTT 5 0x90) and
    /// deeper subscriptions get SUBACK 0x8F (0x80 in 3.1.1) [default: 128].
    #[arg(long, value_name = "N", value_parser = parse_at_least_one)]
    #[arg(help_heading = "Limits")]
    pub max_topic_levels: Option<usize>,
    /// Most subscriptions one client may hold; more get SUBACK 0x97 Quota exceeded (0x80 in
    /// 3.1.1) [default: 10000].
    #[arg(long, value_name = "N")]
    #[arg(help_heading = "Limits")]
    pub max_subscriptions: Option<usize>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl BrokerArgs {
    /// What the reader needs from outside the file: the data folder (--data, else the
    /// per-user one).
    fn file_defaults(&self) -> config_file::Defaults {
        // With --persistence off no folder is used, so a missing HOME must not be an error.
        let off = self.persistence == Some(PersistenceMode::Off);
        config_file::Defaults {
            data_dir: self
                .data
                .clone()
                .or_else(default_data_dir)
                .or_else(|| off.then(PathBuf::new)),
        }
    }

    /// The configuration file (or mq's defaults without one), before the flags.
    fn load_file(&self) -> Result<config_file::Loaded, Failure> {
        let defaults = self.file_defaults();
        let loaded = match &self.config {
            Some(path) => config_file::load(path, &defaults),
            None => config_file::parse(
                std::path::Path::new("(defaults)"),
                "",
                config_file::Format::Toml,
                &defaults,
            ),
        };
        loaded.map_err(config_failure)
    }

    /// The file's settings with the flags given on the command line on top.
    fn apply_flags(&self, config: &mut BrokerConfig) -> Result<(), Failure> {
        if self.port.is_some() || self.bind.is_some() {
            // -p and --bind move the first plain MQTT listener (the default one without a file).
            match config
                .listeners
                .iter_mut()
                .find(|l| l.kind == ListenerKind::Tcp)
            {
                Some(listener) => {
                    if let Some(port) = self.port {
                        listener.bind.set_port(port);
                    }
                    if let Some(ip) = self.bind {
                        listener.bind.set_ip(ip);
                    }
                }
                None => config.listeners.insert(
                    0,
                    ListenerConfig::tcp(SocketAddr::new(
                        self.bind.unwrap_or(IpAddr::from([127, 0, 0, 1])),
                        self.port.unwrap_or(1883),
                    )),
                ),
            }
        }
        let limits = &mut config.session_limits;
        set(&mut limits.max_inflight, self.max_inflight_messages);
        set(&mut limits.max_queued_messages, self.max_queued_messages);
        set(&mut limits.max_queued_bytes, self.max_queued_bytes);
        set(&mut config.max_packet_size, self.max_packet_size);
        set(
            &mut config.connect_timeout,
            self.connect_timeout.map(Duration::from_secs),
        );
        set(&mut config.max_connections, self.max_connections);
        if self.max_memory.is_some() {
            config.max_memory = self.max_memory;
        }
        if let Some(secs) = self.sys_interval {
            config.sys_interval = (secs > 0).then(|| Duration::from_secs(secs));
        }
        if self.password_file.is_some() {
            config.auth.password_file = self.password_file.clone();
        }
        if self.acl_file.is_some() {
            config.auth.acl_file = self.acl_file.clone();
        }
        if self.allow_anonymous.is_some() {
            config.auth.allow_anonymous = self.allow_anonymous;
        }
        set(&mut config.max_keepalive, self.max_keepalive);
        set(&mut config.topic_alias_maximum, self.max_topic_alias);
        if self.metrics.is_some() {
            config.metrics = self.metrics;
        }
        set(&mut config.max_topic_levels, self.max_topic_levels);
        set(
            &mut config.max_subscriptions_per_client,
            self.max_subscriptions,
        );
        config
            .refused_filters
            .extend(self.refuse_subscribe.iter().cloned());
        config.persistence = self.persistence(config.persistence.take())?;
        config.listeners.extend(
            self.listeners
                .listeners(self.bind.unwrap_or(IpAddr::from([127, 0, 0, 1])))?,
        );
        Ok(())
    }

    /// The file's persistence with --persistence, --data and --autosave-interval on top.
    fn persistence(
        &self,
        file: Option<PersistenceConfig>,
    ) -> Result<Option<PersistenceConfig>, Failure> {
        if self.persistence.is_none() && self.data.is_none() && self.autosave_interval.is_none() {
            return Ok(file);
        }
        let file_mode = match file.as_ref().map(|p| p.durability) {
            None => PersistenceMode::Off,
            Some(Durability::Sync) => PersistenceMode::Sync,
            Some(Durability::Periodic(_)) => PersistenceMode::Periodic,
        };
        let durability = match self.persistence.unwrap_or(file_mode) {
            PersistenceMode::Off => return Ok(None),
            PersistenceMode::Sync => Durability::Sync,
            PersistenceMode::Periodic => {
                let file_every = match file.as_ref().map(|p| p.durability) {
                    Some(Durability::Periodic(every)) => Some(every),
                    _ => None,
                };
                Durability::Periodic(
                    self.autosave_interval
                        .map(Duration::from_secs)
                        .or(file_every)
                        .unwrap_or(Duration::from_secs(60)),
                )
            }
        };
        let dir = match self.data.clone().or(file.map(|p| p.dir)) {
            Some(dir) => dir,
            None => default_data_dir().ok_or_else(|| {
                Failure::new(
                    FailureKind::Usage,
                    "no data folder: HOME and XDG_DATA_HOME are unset; pass --data DIR or --persistence off",
                )
            })?,
        };
        Ok(Some(PersistenceConfig { dir, durability }))
    }

    /// The configuration in force: the file, then the flags.
    fn config(&self) -> Result<config_file::Loaded, Failure> {
        let mut loaded = self.load_file()?;
        self.apply_flags(&mut loaded.broker)?;
        if let Some(format) = self.log_format {
            loaded.log.format = match format {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            };
        }
        Ok(loaded)
    }
}

/// A flag given on the command line replaces the file's value.
fn set<T>(target: &mut T, flag: Option<T>) {
    if let Some(value) = flag {
        *target = value;
    }
}

fn config_failure(e: config_file::ConfigError) -> Failure {
    Failure::new(FailureKind::Usage, e.to_string())
}

/// `--convert FILE`: the file as mq.toml on stdout, its warnings on stderr.
fn convert(path: &std::path::Path, defaults: &config_file::Defaults) -> Result<(), Failure> {
    let loaded = config_file::load(path, defaults).map_err(config_failure)?;
    for warning in &loaded.warnings {
        eprintln!("mq: warning: {warning}");
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "# mq.toml converted from {} by `mq broker --convert`",
        path.display()
    );
    let _ = write!(out, "{}", config_file::to_toml(&loaded.broker, &loaded.log));
    Ok(())
}

/// `--check`: the configuration and the files it names, without starting.
fn check(args: &BrokerArgs) -> Result<(), Failure> {
    let loaded = args.config()?;
    let name = args
        .config
        .as_deref()
        .unwrap_or(std::path::Path::new("(command line)"));
    for warning in &loaded.warnings {
        eprintln!("mq: warning: {warning}");
    }
    config_file::check_files(name, &loaded.broker).map_err(config_failure)?;
    println!(
        "{}: configuration OK ({} listeners, {} bridges, {} warnings)",
        name.display(),
        loaded.broker.listeners.len(),
        loaded.broker.bridges.len(),
        loaded.warnings.len()
    );
    Ok(())
}

fn parse_at_least_one(n: &str) -> Result<usize, String> {
    match n.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
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
    if args.print_config {
        print!("{}", config_file::annotated_example());
        return Ok(());
    }
    if let Some(path) = &args.convert {
        return convert(path, &args.file_defaults());
    }
    if args.check {
        return check(&args);
    }
    let loaded = args.config()?;
    super::logging::init(&loaded.log, args.verbose)?;
    // Into the log when it takes warnings; never dropped because it does not.
    let log_takes_warnings = loaded.log.types.warning && !loaded.log.dest.is_empty();
    for warning in &loaded.warnings {
        if log_takes_warnings {
            tracing::warn!("{warning}");
        } else {
            eprintln!("mq: warning: {warning}");
        }
    }
    let config = loaded.broker;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                FailureKind::General,
                format!("cannot start the runtime: {e}"),
            )
        })?;
    runtime.block_on(async {
        let persistence = config.persistence.clone();
        let broker = Broker::bind(config).await.map_err(|e| {
            let kind = match e {
                BrokerError::Access(_) => FailureKind::Usage,
                BrokerError::Bridge(_) => FailureKind::Usage,
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
            if let Some(addr) = broker.metrics_addr() {
                let _ = writeln!(out, "mq broker metrics on http://{addr}/metrics");
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
                    let _ = writeln!(out, "mq broker data in memory only (persistence off)");
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        broker: BrokerArgs,
    }

    fn config(args: &[&str]) -> BrokerConfig {
        let cli = Cli::try_parse_from(std::iter::once("mq").chain(args.iter().copied())).unwrap();
        cli.broker.config().unwrap().broker
    }

    #[test]
    fn flags_given_override_the_file_and_the_rest_comes_from_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mq.toml");
        std::fs::write(
            &file,
            "max_queued_messages = 3\nmax_keepalive = 9\n[persistence]\nmode = \"periodic\"\n\
             dir = \"/srv/mq\"\nautosave_interval = 5\n\
             [[listener]]\nbind = \"0.0.0.0\"\nport = 1884\n[[listener]]\nport = 9001\nprotocol = \"ws\"\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let from_file = config(&["-c", path]);
        assert_eq!(from_file.session_limits.max_queued_messages, 3);
        assert_eq!(
            from_file.persistence,
            Some(PersistenceConfig {
                dir: "/srv/mq".into(),
                durability: Durability::Periodic(Duration::from_secs(5)),
            })
        );

        let c = config(&[
            "-c",
            path,
            "--max-queued-messages",
            "7",
            "-p",
            "0",
            "--data",
            "/d",
        ]);
        assert_eq!(c.session_limits.max_queued_messages, 7);
        assert_eq!(c.max_keepalive, 9);
        assert_eq!(c.listeners[0].bind, SocketAddr::from(([0, 0, 0, 0], 0)));
        assert_eq!(
            c.listeners[1].bind.port(),
            9001,
            "-p moves the first mqtt listener only"
        );
        let p = c.persistence.unwrap();
        assert_eq!(p.dir, std::path::Path::new("/d"));
        assert_eq!(p.durability, Durability::Periodic(Duration::from_secs(5)));

        assert_eq!(
            config(&["-c", path, "--persistence", "off"]).persistence,
            None
        );
    }

    #[test]
    fn without_a_file_the_defaults_are_mqs() {
        let c = config(&["--data", "/d"]);
        assert_eq!(c.listeners, BrokerConfig::default().listeners);
        assert_eq!(c.persistence.unwrap().durability, Durability::Sync);
    }
}
