//! The broker's configuration files: mq's own TOML (`mq broker -c mq.toml`) and Mosquitto's
//! `mosquitto.conf`, both read into one [`BrokerConfig`] (plus the log settings), and the
//! TOML written back out for `mq broker --convert` and `--print-config`.
//!
//! Every error names the file, the line and the key; an option mq does not support is a
//! [`Warning`] with its line, never silently dropped.

mod mosquitto;
mod toml_file;

use std::fmt;
use std::path::{Path, PathBuf};

use super::auth::{acl, password_file};
use super::config::{BrokerConfig, ListenerKind};
use crate::net::tls::TlsSettings;

pub use toml_file::to_toml;

/// What a configuration file says: the broker's settings and where its log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub broker: BrokerConfig,
    pub log: LogConfig,
    /// Options read but not applied (unsupported, or applied differently than written).
    pub warnings: Vec<Warning>,
}

/// The two file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Mosquitto,
}

/// What the reader cannot know itself.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// The per-user data folder, where the store goes when a TOML file names none.
    pub data_dir: Option<PathBuf>,
}

/// Where log lines go and which ones (`[log]` in TOML, `log_dest`/`log_type` in Mosquitto).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub dest: Vec<LogDest>,
    pub types: LogTypes,
    pub format: LogFormat,
}

impl LogConfig {
    /// mq's quiet default: errors and warnings on stderr.
    pub fn quiet() -> LogConfig {
        LogConfig {
            dest: vec![LogDest::Stderr],
            types: LogTypes::from_names(&["error", "warning"]),
            format: LogFormat::Text,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig::quiet()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDest {
    Stderr,
    Stdout,
    File(PathBuf),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One line per event, for people.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Mosquitto's `log_type`s: which kinds of line are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogTypes {
    pub error: bool,
    pub warning: bool,
    /// Connections and disconnections (Mosquitto's `notice`).
    pub notice: bool,
    pub information: bool,
    pub debug: bool,
    /// One line per SUBSCRIBE / UNSUBSCRIBE.
    pub subscribe: bool,
    pub unsubscribe: bool,
}

/// Every `log_type` name, in the order the annotated example lists them.
pub const LOG_TYPE_NAMES: &[&str] = &[
    "error",
    "warning",
    "notice",
    "information",
    "debug",
    "subscribe",
    "unsubscribe",
    "all",
    "none",
];

impl LogTypes {
    /// The types named (see [`LOG_TYPE_NAMES`]); unknown names are left to the caller.
    pub fn from_names(names: &[&str]) -> LogTypes {
        let mut types = LogTypes::default();
        for name in names {
            types.add(name);
        }
        types
    }

    /// Adds one type by name; false for a name that is not a log type.
    pub fn add(&mut self, name: &str) -> bool {
        match name {
            "error" => self.error = true,
            "warning" => self.warning = true,
            "notice" => self.notice = true,
            "information" => self.information = true,
            "debug" => self.debug = true,
            "subscribe" => self.subscribe = true,
            "unsubscribe" => self.unsubscribe = true,
            "all" => {
                *self = LogTypes {
                    error: true,
                    warning: true,
                    notice: true,
                    information: true,
                    debug: true,
                    subscribe: true,
                    unsubscribe: true,
                }
            }
            "none" => *self = LogTypes::default(),
            _ => return false,
        }
        true
    }

    /// The names of the types that are on, shortest form (`all`, `none` when they apply).
    pub fn names(&self) -> Vec<&'static str> {
        let mut all = LogTypes::default();
        all.add("all");
        if *self == all {
            return vec!["all"];
        }
        let flags = [
            ("error", self.error),
            ("warning", self.warning),
            ("notice", self.notice),
            ("information", self.information),
            ("debug", self.debug),
            ("subscribe", self.subscribe),
            ("unsubscribe", self.unsubscribe),
        ];
        let names: Vec<&'static str> = flags
            .iter()
            .filter(|(_, on)| *on)
            .map(|(name, _)| *name)
            .collect();
        if names.is_empty() {
            vec!["none"]
        } else {
            names
        }
    }
}

/// The tracing targets of the lines `log_type subscribe` / `unsubscribe` switch on.
pub const SUBSCRIBE_LOG_TARGET: &str = "mq::subscribe";
pub const UNSUBSCRIBE_LOG_TARGET: &str = "mq::unsubscribe";

/// An option that was read but is not applied as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A line that does not parse or a value that is not allowed.
    #[error("{}:{line}: {key}: {message} (`mq broker --print-config` shows every setting with its default)", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    /// A file the configuration names cannot be used (`--check`).
    #[error("{}: {what} {file}: {message}", path.display(), file = file.display())]
    File {
        path: PathBuf,
        what: &'static str,
        file: PathBuf,
        message: String,
    },
    /// Bridge settings the broker would refuse at start (`--check`).
    #[error("{}: {source}", path.display())]
    Bridge {
        path: PathBuf,
        source: crate::broker::bridge::BridgeConfigError,
    },
}

/// Which reader a file needs: `.toml` files are TOML, `.conf` files and anything that reads
/// like Mosquitto's `key value` lines (no `=`, no `[table]`) are mosquitto.conf.
pub fn detect_format(path: &Path, text: &str) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => return Format::Toml,
        Some("conf") => return Format::Mosquitto,
        _ => {}
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'));
    match first {
        Some(line) if line.starts_with('[') || line.contains('=') => Format::Toml,
        Some(_) => Format::Mosquitto,
        None => Format::Toml,
    }
}

/// Reads `path` in the format it is written in.
pub fn load(path: &Path, defaults: &Defaults) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text, detect_format(path, &text), defaults)
}

/// Parses `text` (read from `path`, which errors name) as `format`.
pub fn parse(
    path: &Path,
    text: &str,
    format: Format,
    defaults: &Defaults,
) -> Result<Loaded, ConfigError> {
    match format {
        Format::Toml => toml_file::parse(path, text, defaults),
        Format::Mosquitto => mosquitto::parse(path, text),
    }
}

/// mq.toml with every setting, its default and what it means: `mq broker --print-config`.
/// Parsing it gives exactly the defaults (a test keeps it so).
pub fn annotated_example() -> &'static str {
    include_str!("mq.example.toml")
}

/// `mq broker --check`: the files the configuration names exist and parse (password file,
/// ACL file, TLS certificates and keys, bridge CA files).
pub fn check_files(path: &Path, config: &BrokerConfig) -> Result<(), ConfigError> {
    let file_error = |what: &'static str, file: &Path, message: String| ConfigError::File {
        path: path.to_owned(),
        what,
        file: file.to_owned(),
        message,
    };
    if let Some(file) = &config.auth.password_file {
        password_file::PasswordFile::load(file)
            .map_err(|e| file_error("password file", file, e.to_string()))?;
    }
    if let Some(file) = &config.auth.acl_file {
        acl::AclFile::load(file).map_err(|e| file_error("ACL file", file, e.to_string()))?;
    }
    for listener in &config.listeners {
        let tls: Option<&TlsSettings> = match &listener.kind {
            ListenerKind::Tls { tls, .. } | ListenerKind::Wss { tls, .. } => Some(tls),
            ListenerKind::Tcp | ListenerKind::Ws { .. } => None,
        };
        if let Some(tls) = tls {
            crate::net::tls::ServerTls::load(tls.clone())
                .map_err(|e| file_error("TLS certificate", &tls.cert, e.to_string()))?;
        }
    }
    for bridge in &config.bridges {
        bridge.validate().map_err(|source| ConfigError::Bridge {
            path: path.to_owned(),
            source,
        })?;
        let Some(tls) = &bridge.tls else { continue };
        for file in [&tls.cafile, &tls.certfile, &tls.keyfile]
            .into_iter()
            .flatten()
        {
            std::fs::metadata(file)
                .map_err(|e| file_error("bridge TLS file", file, e.to_string()))?;
        }
        if let Some(dir) = &tls.capath {
            if !dir.is_dir() {
                return Err(file_error(
                    "bridge CA folder",
                    dir,
                    "is not a folder".to_owned(),
                ));
            }
        }
    }
    Ok(())
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests;
