//! mosquitto.conf (Mosquitto 2 semantics, see mosquitto.conf(5)): `option value` lines,
//! `listener` and `connection` starting the sections that listener and bridge options
//! apply to, `include_dir` reading more files. Options mq does not support are warnings
//! naming the line; options Mosquitto does not know and malformed values are errors.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use mq_proto::{QoS, PROTOCOL_MAX_PACKET_SIZE};

use super::toml_file::{parse_bridge_address, validate_bridge_pattern};
use super::{ConfigError, Loaded, LogConfig, LogDest, LogFormat, LogTypes, Warning};
use crate::broker::auth::AuthConfig;
use crate::broker::bridge::{
    BridgeConfig, BridgeDirection, BridgeProtocol, BridgeTls, BridgeTopic,
};
use crate::broker::config::{BrokerConfig, ClientIdentity, ListenerConfig, ListenerKind};
use crate::broker::persist::{Durability, PersistenceConfig};
use crate::net::tls::TlsSettings;
use crate::net::ws::WsSettings;

/// How deep `include_dir` may nest before it is taken for a loop.
const MAX_INCLUDE_DEPTH: usize = 8;

/// Mosquitto options mq reads but does not apply: each use is a warning.
const UNSUPPORTED: &[&str] = &[
    // general
    "allow_duplicate_messages",
    "auth_plugin",
    "auth_plugin_deny_special_chars",
    "auto_id_prefix",
    "autosave_on_changes",
    "check_retain_source",
    "clientid_prefixes",
    "global_max_clients",
    "global_max_connections",
    "log_facility",
    "log_timestamp",
    "log_timestamp_format",
    "max_inflight_bytes",
    "persistence_file",
    "persistent_client_expiration",
    "pid_file",
    "plugin",
    "psk_file",
    "queue_qos0_messages",
    "retain_expiry_interval",
    "set_tcp_nodelay",
    "upgrade_outgoing_qos",
    "user",
    "websockets_headers_size",
    "websockets_log_level",
    "enable_control_api",
    // listener
    "accept_protocol_versions",
    "bind_interface",
    "capath",
    "ciphers",
    "ciphers_tls1.3",
    "crlfile",
    "dhparamfile",
    "disable_client_cert_date_checks",
    "enable_proxy_protocol",
    "http_dir",
    "mount_point",
    "psk_hint",
    "socket_domain",
    "tls_engine",
    "tls_engine_kpass_sha1",
    "tls_keyform",
    "use_username_as_clientid",
    "websockets_max_frame_size",
    // bridge
    "bridge_alpn",
    "bridge_attempt_unsubscribe",
    "bridge_bind_address",
    "bridge_identity",
    "bridge_max_packet_size",
    "bridge_outgoing_retain",
    "bridge_psk",
    "bridge_receive_maximum",
    "bridge_reload_type",
    "bridge_require_ocsp",
    "bridge_session_expiry_interval",
    "bridge_tls_version",
    "idle_timeout",
    "local_cleansession",
    "local_clientid",
    "local_password",
    "local_username",
    "notifications_local_only",
    "threshold",
];

/// Listener settings as written; turned into a [`ListenerConfig`] at the end.
#[derive(Debug, Default)]
struct ListenerDraft {
    line: usize,
    path: PathBuf,
    port: Option<u16>,
    address: Option<IpAddr>,
    websockets: bool,
    cafile: Option<PathBuf>,
    certfile: Option<PathBuf>,
    keyfile: Option<PathBuf>,
    require_certificate: bool,
    identity: ClientIdentity,
    max_connections: Option<i64>,
    max_qos: Option<QoS>,
    max_topic_alias: Option<u16>,
    auth: AuthDraft,
    /// A Unix socket listener: warned about and left out.
    skipped: bool,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct AuthDraft {
    allow_anonymous: Option<bool>,
    password_file: Option<PathBuf>,
    acl_file: Option<PathBuf>,
}

struct Reader {
    config: BrokerConfig,
    warnings: Vec<Warning>,
    /// Listener options before the first `listener` line belong to the default listener.
    default_listener: Option<ListenerDraft>,
    listeners: Vec<ListenerDraft>,
    bridges: Vec<(PathBuf, usize, BridgeConfig)>,
    per_listener_settings: bool,
    global_auth: AuthDraft,
    persistence: bool,
    persistence_location: Option<PathBuf>,
    autosave_interval: Option<u64>,
    log_dest: Option<Vec<LogDest>>,
    log_types: Option<LogTypes>,
}

/// The current line, for errors and warnings.
struct At<'a> {
    path: &'a Path,
    line: usize,
    key: &'a str,
}

impl At<'_> {
    fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line: self.line,
            key: self.key.to_owned(),
            message: message.into(),
        }
    }

    fn warning(&self, message: impl Into<String>) -> Warning {
        Warning {
            path: self.path.to_owned(),
            line: self.line,
            message: format!("{}: {}", self.key, message.into()),
        }
    }
}

pub(super) fn parse(path: &Path, text: &str) -> Result<Loaded, ConfigError> {
    let mut reader = Reader {
        config: BrokerConfig {
            // Mosquitto's defaults where they differ from mq's own.
            max_packet_size: PROTOCOL_MAX_PACKET_SIZE,
            persistence: None,
            ..BrokerConfig::default()
        },
        warnings: Vec::new(),
        default_listener: None,
        listeners: Vec::new(),
        bridges: Vec::new(),
        per_listener_settings: false,
        global_auth: AuthDraft::default(),
        persistence: false,
        persistence_location: None,
        autosave_interval: None,
        log_dest: None,
        log_types: None,
    };
    reader.read(path, text, 0)?;
    reader.finish(path)
}

fn parse_bool(at: &At, value: &str) -> Result<bool, ConfigError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(at.error(format!("{other:?}: expected true or false"))),
    }
}

fn parse_number<T: std::str::FromStr>(at: &At, value: &str, what: &str) -> Result<T, ConfigError> {
    value
        .parse()
        .map_err(|_| at.error(format!("{value:?}: expected {what}")))
}

fn one_value<'a>(at: &At, values: &[&'a str]) -> Result<&'a str, ConfigError> {
    match values {
        [value] => Ok(value),
        [] => Err(at.error("expected a value")),
        _ => Err(at.error(format!(
            "expected one value, found {}: {}",
            values.len(),
            values.join(" ")
        ))),
    }
}

/// `""` in a line stands for the empty string (bridge topic prefixes).
fn unquote(token: &str) -> &str {
    if token == "\"\"" {
        ""
    } else {
        token
    }
}

impl Reader {
    fn read(&mut self, path: &Path, text: &str, depth: usize) -> Result<(), ConfigError> {
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut tokens = line.split_whitespace();
            let Some(key) = tokens.next() else { continue };
            let values: Vec<&str> = tokens.collect();
            let at = At {
                path,
                line: index + 1,
                key,
            };
            self.option(&at, &values, depth)?;
        }
        Ok(())
    }

    /// The listener that listener options on this line apply to.
    fn listener(&mut self, at: &At) -> &mut ListenerDraft {
        if self.listeners.is_empty() {
            self.default_listener.get_or_insert_with(|| ListenerDraft {
                line: at.line,
                path: at.path.to_owned(),
                ..ListenerDraft::default()
            })
        } else {
            let last = self.listeners.len() - 1;
            &mut self.listeners[last]
        }
    }

    fn bridge(&mut self, at: &At) -> Result<&mut BridgeConfig, ConfigError> {
        match self.bridges.last_mut() {
            Some((_, _, bridge)) => Ok(bridge),
            None => Err(at.error("a bridge option needs a `connection NAME` line before it")),
        }
    }

    /// allow_anonymous, password_file and acl_file: per listener with per_listener_settings.
    fn auth(&mut self, at: &At) -> &mut AuthDraft {
        if self.per_listener_settings {
            &mut self.listener(at).auth
        } else {
            &mut self.global_auth
        }
    }

    fn option(&mut self, at: &At, values: &[&str], depth: usize) -> Result<(), ConfigError> {
        let key = at.key;
        if UNSUPPORTED.contains(&key)
            || key.starts_with("auth_opt_")
            || key.starts_with("plugin_opt_")
        {
            self.warnings
                .push(at.warning("not supported by mq; ignored"));
            return Ok(());
        }
        match key {
            "listener" => {
                let (port, address) = match values {
                    [port] => (*port, None),
                    [port, address] => (*port, Some(*address)),
                    _ => return Err(at.error("expected PORT [BIND_ADDRESS]")),
                };
                let port: u16 = parse_number(at, port, "a port number 0-65535")?;
                let mut draft = ListenerDraft {
                    line: at.line,
                    path: at.path.to_owned(),
                    port: Some(port),
                    ..ListenerDraft::default()
                };
                match address {
                    Some(address) if address.starts_with('/') => {
                        self.warnings.push(at.warning(
                            "Unix socket listeners are not supported by mq; this listener is left out",
                        ));
                        draft.skipped = true;
                    }
                    Some(address) => draft.address = Some(resolve(at, address)?),
                    None => {}
                }
                self.listeners.push(draft);
            }
            "port" => {
                let port: u16 = parse_number(at, one_value(at, values)?, "a port number")?;
                let draft = self
                    .default_listener
                    .get_or_insert_with(ListenerDraft::default);
                draft.port = Some(port);
                draft.line = at.line;
                draft.path = at.path.to_owned();
            }
            "bind_address" => {
                let address = resolve(at, one_value(at, values)?)?;
                let draft = self
                    .default_listener
                    .get_or_insert_with(ListenerDraft::default);
                draft.address = Some(address);
                draft.line = at.line;
                draft.path = at.path.to_owned();
            }
            "protocol" => {
                let websockets = match one_value(at, values)? {
                    "mqtt" => false,
                    "websockets" => true,
                    other => {
                        return Err(at.error(format!("{other:?}: expected mqtt or websockets")))
                    }
                };
                self.listener(at).websockets = websockets;
            }
            "cafile" => self.listener(at).cafile = Some(PathBuf::from(one_value(at, values)?)),
            "certfile" => self.listener(at).certfile = Some(PathBuf::from(one_value(at, values)?)),
            "keyfile" => self.listener(at).keyfile = Some(PathBuf::from(one_value(at, values)?)),
            "require_certificate" => {
                self.listener(at).require_certificate = parse_bool(at, one_value(at, values)?)?
            }
            "use_identity_as_username" => {
                if parse_bool(at, one_value(at, values)?)? {
                    self.listener(at).identity = ClientIdentity::CommonName;
                }
            }
            "use_subject_as_username" => {
                if parse_bool(at, one_value(at, values)?)? {
                    self.listener(at).identity = ClientIdentity::Subject;
                }
            }
            "tls_version" => {
                let version = one_value(at, values)?;
                if !matches!(version, "tlsv1.3" | "tlsv1.2" | "tlsv1.1") {
                    return Err(
                        at.error(format!("{version:?}: expected tlsv1.3, tlsv1.2 or tlsv1.1"))
                    );
                }
                self.warnings.push(at.warning(
                    "mq offers TLS 1.2 and 1.3 on every TLS listener (never 1.1); not restricted",
                ));
            }
            "max_connections" => {
                let n: i64 = parse_number(at, one_value(at, values)?, "a number (-1: no limit)")?;
                self.listener(at).max_connections = Some(n);
            }
            "max_qos" => {
                let n: u8 = parse_number(at, one_value(at, values)?, "0, 1 or 2")?;
                let qos = QoS::from_bits(n).ok_or_else(|| at.error("expected 0, 1 or 2"))?;
                self.listener(at).max_qos = Some(qos);
            }
            "max_topic_alias" => {
                let n: u16 = parse_number(at, one_value(at, values)?, "a number 0-65535")?;
                self.listener(at).max_topic_alias = Some(n);
            }
            "per_listener_settings" => {
                self.per_listener_settings = parse_bool(at, one_value(at, values)?)?;
            }
            "allow_anonymous" => {
                let allow = parse_bool(at, one_value(at, values)?)?;
                self.auth(at).allow_anonymous = Some(allow);
            }
            "password_file" => {
                let file = PathBuf::from(one_value(at, values)?);
                self.auth(at).password_file = Some(file);
            }
            "acl_file" => {
                let file = PathBuf::from(one_value(at, values)?);
                self.auth(at).acl_file = Some(file);
            }
            "persistence" => self.persistence = parse_bool(at, one_value(at, values)?)?,
            "persistence_location" => {
                self.persistence_location = Some(PathBuf::from(one_value(at, values)?))
            }
            "autosave_interval" => {
                let secs: u64 = parse_number(at, one_value(at, values)?, "seconds")?;
                if secs == 0 {
                    self.warnings.push(at.warning(
                        "0 (save only at exit) is not supported by mq; every change is saved at once instead",
                    ));
                    self.autosave_interval = None;
                } else {
                    self.autosave_interval = Some(secs);
                }
            }
            "max_inflight_messages" => {
                let n: u16 = parse_number(at, one_value(at, values)?, "a number 0-65535")?;
                // Mosquitto: 0 means no limit; mq's window is at most 65535.
                self.config.session_limits.max_inflight = if n == 0 { u16::MAX } else { n };
            }
            "max_queued_messages" => {
                let n: usize = parse_number(at, one_value(at, values)?, "a number")?;
                // Mosquitto: 0 means no limit.
                self.config.session_limits.max_queued_messages =
                    if n == 0 { usize::MAX } else { n };
            }
            "max_queued_bytes" => {
                self.config.session_limits.max_queued_bytes =
                    parse_number(at, one_value(at, values)?, "bytes (0: no limit)")?;
            }
            "message_size_limit" => {
                self.config.message_size_limit =
                    parse_number(at, one_value(at, values)?, "bytes (0: no limit)")?;
            }
            "max_packet_size" => {
                let n: usize = parse_number(at, one_value(at, values)?, "bytes")?;
                if !(20..=PROTOCOL_MAX_PACKET_SIZE).contains(&n) {
                    return Err(at.error(format!(
                        "{n}: expected 20 to {PROTOCOL_MAX_PACKET_SIZE} bytes"
                    )));
                }
                self.config.max_packet_size = n;
            }
            "max_keepalive" => {
                self.config.max_keepalive =
                    parse_number(at, one_value(at, values)?, "seconds 0-65535")?;
            }
            "memory_limit" => {
                let n: u64 = parse_number(at, one_value(at, values)?, "bytes (0: no limit)")?;
                self.config.max_memory = (n > 0).then_some(n);
            }
            "retain_available" => {
                self.config.retain_available = parse_bool(at, one_value(at, values)?)?
            }
            "sys_interval" => {
                let secs: u64 = parse_number(at, one_value(at, values)?, "seconds (0: off)")?;
                self.config.sys_interval = (secs > 0).then(|| Duration::from_secs(secs));
            }
            "allow_zero_length_clientid" => {
                if !parse_bool(at, one_value(at, values)?)? {
                    self.warnings.push(at.warning(
                        "false is not supported by mq: clients with an empty client id get one assigned",
                    ));
                }
            }
            "connection_messages" => {
                if !parse_bool(at, one_value(at, values)?)? {
                    self.warnings.push(at.warning(
                        "false is not supported by mq: connections are logged at log_type notice",
                    ));
                }
            }
            "log_dest" => self.log_dest(at, values)?,
            "log_type" => {
                let name = one_value(at, values)?;
                let types = self.log_types.get_or_insert_with(LogTypes::default);
                if !types.add(name) {
                    if name == "websockets" {
                        self.warnings
                            .push(at.warning("websockets: not supported by mq; ignored"));
                    } else {
                        return Err(at.error(format!(
                            "{name:?}: expected one of {}",
                            super::LOG_TYPE_NAMES.join(", ")
                        )));
                    }
                }
            }
            "include_dir" => self.include_dir(at, one_value(at, values)?, depth)?,
            "connection" => {
                let name = one_value(at, values)?;
                if name.contains('/') {
                    return Err(at.error(format!("{name:?}: a connection name has no /")));
                }
                self.bridges.push((
                    at.path.to_owned(),
                    at.line,
                    BridgeConfig::new(name, Vec::new()),
                ));
            }
            "address" | "addresses" => {
                if values.is_empty() {
                    return Err(at.error("expected HOST[:PORT] ..."));
                }
                let addresses = values
                    .iter()
                    .map(|v| parse_bridge_address(v).map_err(|m| at.error(m)))
                    .collect::<Result<Vec<_>, _>>()?;
                self.bridge(at)?.addresses.extend(addresses);
            }
            "topic" => {
                let topic = bridge_topic(at, values)?;
                self.bridge(at)?.topics.push(topic);
            }
            "bridge_protocol_version" => {
                let protocol = match one_value(at, values)? {
                    "mqttv31" => BridgeProtocol::V31,
                    "mqttv311" => BridgeProtocol::V311,
                    "mqttv50" => BridgeProtocol::V5,
                    other => {
                        return Err(
                            at.error(format!("{other:?}: expected mqttv31, mqttv311 or mqttv50"))
                        )
                    }
                };
                self.bridge(at)?.protocol = protocol;
            }
            "cleansession" => {
                let v = parse_bool(at, one_value(at, values)?)?;
                self.bridge(at)?.clean_session = v;
            }
            "keepalive_interval" => {
                let secs: u64 = parse_number(at, one_value(at, values)?, "seconds")?;
                self.bridge(at)?.keep_alive = Duration::from_secs(secs);
            }
            "remote_clientid" | "clientid" => {
                let id = one_value(at, values)?.to_owned();
                self.bridge(at)?.remote_client_id = id;
            }
            "remote_username" | "username" => {
                let user = one_value(at, values)?.to_owned();
                self.bridge(at)?.remote_username = Some(user);
            }
            "remote_password" | "password" => {
                let password = one_value(at, values)?.to_owned();
                self.bridge(at)?.remote_password = Some(password);
            }
            "try_private" => {
                let v = parse_bool(at, one_value(at, values)?)?;
                self.bridge(at)?.try_private = v;
            }
            "notifications" => {
                let v = parse_bool(at, one_value(at, values)?)?;
                self.bridge(at)?.notifications = v;
            }
            "notification_topic" => {
                let topic = one_value(at, values)?;
                mq_proto::topic::validate_topic_name(topic)
                    .map_err(|e| at.error(format!("{topic:?}: {e}")))?;
                self.bridge(at)?.notification_topic = topic.to_owned();
            }
            "restart_timeout" => {
                let (base, cap) = match values {
                    [constant] => {
                        let secs: u64 = parse_number(at, constant, "seconds")?;
                        (secs, secs)
                    }
                    [base, cap] => (
                        parse_number(at, base, "seconds")?,
                        parse_number(at, cap, "seconds")?,
                    ),
                    _ => return Err(at.error("expected SECONDS or BASE CAP")),
                };
                if base > cap {
                    return Err(at.error(format!("{base} {cap}: the base must not exceed the cap")));
                }
                let bridge = self.bridge(at)?;
                bridge.restart_base = Duration::from_secs(base);
                bridge.restart_cap = Duration::from_secs(cap);
            }
            "round_robin" => {
                let v = parse_bool(at, one_value(at, values)?)?;
                self.bridge(at)?.round_robin = v;
            }
            "start_type" => {
                let kind = one_value(at, values)?;
                self.bridge(at)?;
                if kind != "automatic" {
                    self.warnings
                        .push(at.warning(format!("{kind}: mq starts every bridge automatically")));
                }
            }
            "bridge_cafile" | "bridge_capath" | "bridge_certfile" | "bridge_keyfile" => {
                let file = PathBuf::from(one_value(at, values)?);
                let tls = self.bridge(at)?.tls.get_or_insert_with(BridgeTls::default);
                match key {
                    "bridge_cafile" => tls.cafile = Some(file),
                    "bridge_capath" => tls.capath = Some(file),
                    "bridge_certfile" => tls.certfile = Some(file),
                    _ => tls.keyfile = Some(file),
                }
            }
            "bridge_insecure" => {
                let insecure = parse_bool(at, one_value(at, values)?)?;
                let tls = self.bridge(at)?.tls.get_or_insert_with(BridgeTls::default);
                tls.insecure = insecure;
            }
            _ => return Err(at.error("unknown option (not a mosquitto.conf option)")),
        }
        Ok(())
    }

    fn log_dest(&mut self, at: &At, values: &[&str]) -> Result<(), ConfigError> {
        let dest = self.log_dest.get_or_insert_with(Vec::new);
        match values {
            ["stderr"] => dest.push(LogDest::Stderr),
            ["stdout"] => dest.push(LogDest::Stdout),
            ["file", path] => {
                if dest.iter().any(|d| matches!(d, LogDest::File(_))) {
                    self.warnings.push(
                        at.warning("mq writes one log file; this one replaces the one before"),
                    );
                    dest.retain(|d| !matches!(d, LogDest::File(_)));
                }
                dest.push(LogDest::File(PathBuf::from(path)));
            }
            ["none"] => dest.clear(),
            ["syslog"] | ["topic"] | ["dlt"] => {
                self.warnings
                    .push(at.warning(format!("{}: not supported by mq; ignored", values[0])));
            }
            _ => {
                return Err(
                    at.error("expected stderr, stdout, file PATH, syslog, topic, dlt or none")
                )
            }
        }
        Ok(())
    }

    /// Every `*.conf` in `dir`, in alphabetical order, as Mosquitto reads them.
    fn include_dir(&mut self, at: &At, dir: &str, depth: usize) -> Result<(), ConfigError> {
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(at.error(format!(
                "{dir}: included more than {MAX_INCLUDE_DEPTH} levels deep (a loop?)"
            )));
        }
        let entries = std::fs::read_dir(dir)
            .map_err(|e| at.error(format!("cannot read the folder {dir}: {e}")))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "conf") && p.is_file())
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
                path: file.clone(),
                source,
            })?;
            self.read(&file, &text, depth + 1)?;
        }
        Ok(())
    }

    fn finish(mut self, path: &Path) -> Result<Loaded, ConfigError> {
        let mut drafts: Vec<ListenerDraft> = Vec::new();
        if let Some(default) = self.default_listener.take() {
            if default.port.is_some() || default.address.is_some() {
                drafts.push(default);
            } else {
                // Mosquitto's default listener exists only with `port` (or bind_address).
                self.warnings.push(Warning {
                    path: default.path.clone(),
                    line: default.line,
                    message: "listener option before any `listener` or `port` line: it applies to no listener; ignored".to_owned(),
                });
            }
        }
        drafts.extend(std::mem::take(&mut self.listeners));
        let configured_listener = !drafts.is_empty();
        drafts.retain(|d| !d.skipped);

        self.config.auth = self.auth_config(&drafts, configured_listener);
        if !drafts.is_empty() {
            let mut limit: Option<usize> = None;
            let mut limits_set = 0;
            for d in &drafts {
                if let Some(n) = d.max_connections.filter(|&n| n > 0) {
                    limit = Some(limit.unwrap_or(0).saturating_add(n as usize));
                    limits_set += 1;
                }
            }
            if limits_set > 1 {
                self.warnings.push(Warning {
                    path: path.to_owned(),
                    line: drafts[0].line,
                    message: "max_connections: mq limits connections for the whole broker; using the sum of the listeners' limits".to_owned(),
                });
            }
            self.config.max_connections = limit.unwrap_or(usize::MAX);
            self.apply_listener_wide(&drafts, path);
            self.config.listeners = drafts
                .iter()
                .map(listener_config)
                .collect::<Result<_, _>>()?;
        }

        self.config.persistence = self.persistence.then(|| PersistenceConfig {
            dir: self
                .persistence_location
                .clone()
                .unwrap_or_else(|| PathBuf::from(".")),
            durability: match self.autosave_interval {
                Some(secs) => Durability::Periodic(Duration::from_secs(secs)),
                None => Durability::Sync,
            },
        });

        for (file, line, bridge) in &self.bridges {
            if bridge.addresses.is_empty() {
                return Err(ConfigError::Invalid {
                    path: file.clone(),
                    line: *line,
                    key: "connection".to_owned(),
                    message: format!("bridge {} has no address line", bridge.name),
                });
            }
        }
        self.config.bridges = self.bridges.into_iter().map(|(_, _, b)| b).collect();

        let log = LogConfig {
            dest: self.log_dest.unwrap_or_else(|| vec![LogDest::Stderr]),
            // Mosquitto's default log types.
            types: self.log_types.unwrap_or_else(|| {
                LogTypes::from_names(&["error", "warning", "notice", "information"])
            }),
            format: LogFormat::Text,
        };
        Ok(Loaded {
            broker: self.config,
            log,
            warnings: self.warnings,
        })
    }

    /// max_qos and max_topic_alias are per listener in Mosquitto and broker-wide in mq.
    fn apply_listener_wide(&mut self, drafts: &[ListenerDraft], path: &Path) {
        let mut warn_differs = |key: &str, line: usize| {
            self.warnings.push(Warning {
                path: path.to_owned(),
                line,
                message: format!(
                    "{key}: mq applies one value to every listener; using the lowest given"
                ),
            });
        };
        let qos: Vec<(usize, QoS)> = drafts
            .iter()
            .filter_map(|d| d.max_qos.map(|q| (d.line, q)))
            .collect();
        if let Some(&(line, _)) = qos.get(1).filter(|_| qos.iter().any(|q| q.1 != qos[0].1)) {
            warn_differs("max_qos", line);
        }
        if let Some(min) = qos.iter().map(|q| q.1).min() {
            self.config.maximum_qos = min;
        }
        let alias: Vec<(usize, u16)> = drafts
            .iter()
            .filter_map(|d| d.max_topic_alias.map(|a| (d.line, a)))
            .collect();
        if let Some(&(line, _)) = alias
            .get(1)
            .filter(|_| alias.iter().any(|a| a.1 != alias[0].1))
        {
            warn_differs("max_topic_alias", line);
        }
        if let Some(min) = alias.iter().map(|a| a.1).min() {
            self.config.topic_alias_maximum = min;
        }
    }

    /// Mosquitto 2: with a listener configured, anonymous clients are refused unless
    /// allow_anonymous is true; with none, only local clients may connect, anonymously.
    /// With per_listener_settings mq still applies one policy: the listeners' settings
    /// when they agree, otherwise the strictest, with a warning.
    fn auth_config(&mut self, drafts: &[ListenerDraft], configured_listener: bool) -> AuthConfig {
        let chosen = if self.per_listener_settings {
            let mut chosen = self.global_auth.clone();
            let mut differs = None;
            for d in drafts {
                if d.auth != drafts[0].auth {
                    differs = Some(d);
                }
            }
            if let Some(first) = drafts.first() {
                chosen = first.auth.clone();
            }
            if let Some(d) = differs {
                self.warnings.push(Warning {
                    path: d.path.clone(),
                    line: d.line,
                    message: "per_listener_settings: mq applies one allow_anonymous, password_file and acl_file to every listener; \
                              using the first password_file and acl_file given, and anonymous access only if every listener allows it".to_owned(),
                });
                chosen.password_file = drafts.iter().find_map(|d| d.auth.password_file.clone());
                chosen.acl_file = drafts.iter().find_map(|d| d.auth.acl_file.clone());
                chosen.allow_anonymous =
                    Some(drafts.iter().all(|d| d.auth.allow_anonymous == Some(true)));
            }
            chosen
        } else {
            self.global_auth.clone()
        };
        AuthConfig {
            password_file: chosen.password_file,
            acl_file: chosen.acl_file,
            allow_anonymous: match chosen.allow_anonymous {
                Some(allow) => Some(allow),
                None if configured_listener => Some(false),
                None => None,
            },
        }
    }
}

/// A `listener`/`bind_address` host: an IP address or a name resolved now.
fn resolve(at: &At, host: &str) -> Result<IpAddr, ConfigError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    (host, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .map(|a| a.ip())
        .ok_or_else(|| {
            at.error(format!(
                "{host:?}: not an address, and the name does not resolve"
            ))
        })
}

fn listener_config(d: &ListenerDraft) -> Result<ListenerConfig, ConfigError> {
    // Mosquitto binds every interface when a listener names no address.
    let ip = d.address.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let bind = SocketAddr::new(ip, d.port.unwrap_or(1883));
    let at = At {
        path: &d.path,
        line: d.line,
        key: "listener",
    };
    let tls = match (&d.certfile, &d.keyfile) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            let require = d.require_certificate || d.identity != ClientIdentity::None;
            if require && d.cafile.is_none() {
                return Err(at.error(
                    "require_certificate needs cafile, the CA client certificates must chain to",
                ));
            }
            Some(TlsSettings {
                cert: cert.clone(),
                key: key.clone(),
                // Mosquitto checks client certificates only when it requires them.
                client_ca: if require { d.cafile.clone() } else { None },
                require_client_cert: require,
                alpn: Vec::new(),
                host: None,
            })
        }
        _ => return Err(at.error("a TLS listener needs both certfile and keyfile")),
    };
    let ws = WsSettings::default();
    let kind = match (tls, d.websockets) {
        (None, false) => ListenerKind::Tcp,
        (None, true) => ListenerKind::Ws { ws },
        (Some(tls), false) => ListenerKind::Tls {
            tls,
            identity: d.identity,
        },
        (Some(tls), true) => ListenerKind::Wss {
            tls,
            ws,
            identity: d.identity,
        },
    };
    Ok(ListenerConfig { bind, kind })
}

/// `topic PATTERN [[[out|in|both] QOS] LOCAL_PREFIX REMOTE_PREFIX]`.
fn bridge_topic(at: &At, values: &[&str]) -> Result<BridgeTopic, ConfigError> {
    if values.is_empty() || values.len() > 5 || values.len() == 4 {
        return Err(at.error("expected PATTERN [[[out|in|both] QOS] LOCAL_PREFIX REMOTE_PREFIX]"));
    }
    let pattern = unquote(values[0]);
    let direction = match values.get(1).copied() {
        None | Some("out") => BridgeDirection::Out,
        Some("in") => BridgeDirection::In,
        Some("both") => BridgeDirection::Both,
        Some(other) => return Err(at.error(format!("{other:?}: expected out, in or both"))),
    };
    let qos = match values.get(2) {
        None => QoS::AtMostOnce,
        Some(n) => n
            .parse::<u8>()
            .ok()
            .and_then(QoS::from_bits)
            .ok_or_else(|| at.error(format!("{n:?}: expected QoS 0, 1 or 2")))?,
    };
    let local_prefix = values.get(3).map_or("", |v| unquote(v)).to_owned();
    let remote_prefix = values.get(4).map_or("", |v| unquote(v)).to_owned();
    if pattern.is_empty() && local_prefix.is_empty() && remote_prefix.is_empty() {
        return Err(at.error("an empty pattern needs a local or remote prefix"));
    }
    validate_bridge_pattern(pattern).map_err(|m| at.error(m))?;
    Ok(BridgeTopic {
        pattern: pattern.to_owned(),
        direction,
        qos,
        local_prefix,
        remote_prefix,
    })
}
