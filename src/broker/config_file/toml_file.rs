//! mq.toml: one serde model serves the reader and the writer, so the names cannot drift.
//! Values are checked while they are read (serde attaches the span, hence the line);
//! checks across keys use the span of their table.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mq_proto::QoS;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{line_of, ConfigError, Defaults, Loaded, LogConfig, LogDest, LogFormat, LogTypes};
use crate::broker::auth::AuthConfig;
use crate::broker::bridge::{
    BridgeAddress, BridgeConfig, BridgeDirection, BridgeProtocol, BridgeTls, BridgeTopic,
};
use crate::broker::config::{BrokerConfig, ClientIdentity, ListenerConfig, ListenerKind};
use crate::broker::persist::{Durability, PersistenceConfig};
use crate::broker::session::SessionLimits;
use crate::net::tls::TlsSettings;
use crate::net::ws::WsSettings;

/// The whole file. Scalars first: TOML writes plain keys before tables.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(skip_serializing_if = "Option::is_none")]
    sys_interval: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_packet_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum_qos: Option<QosValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connect_timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_connections: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_keepalive: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_topic_alias: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refuse_subscribe: Option<Vec<TopicFilter>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_inflight_messages: Option<NonZeroU16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_queued_messages: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_queued_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_topic_levels: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_subscriptions_per_client: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retain_available: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_size_limit: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_memory: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acl_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_anonymous: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    persistence: Option<PersistenceToml>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<LogToml>,
    #[serde(default, rename = "listener", skip_serializing_if = "Vec::is_empty")]
    listeners: Vec<Spanned<ListenerToml>>,
    #[serde(default, rename = "bridge", skip_serializing_if = "Vec::is_empty")]
    bridges: Vec<Spanned<BridgeToml>>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ListenerToml {
    #[serde(default = "loopback")]
    bind: IpAddr,
    port: u16,
    #[serde(default)]
    protocol: Protocol,
    #[serde(skip_serializing_if = "Option::is_none")]
    certfile: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keyfile: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cafile: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "is_false")]
    require_certificate: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    use_identity_as_username: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    use_subject_as_username: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    alpn: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ws_path: Option<WsPath>,
}

fn loopback() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum Protocol {
    #[default]
    Mqtt,
    Mqtts,
    Ws,
    Wss,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PersistenceToml {
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<PersistenceMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    autosave_interval: Option<NonZeroU64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum PersistenceMode {
    Sync,
    Periodic,
    Off,
}

/// Default autosave interval of `mode = "periodic"`, in seconds.
const AUTOSAVE_INTERVAL: u64 = 60;

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct LogToml {
    #[serde(skip_serializing_if = "Option::is_none")]
    dest: Option<Vec<DestName>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    types: Option<Vec<LogTypeName>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<FormatName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum DestName {
    Stderr,
    Stdout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum LogTypeName {
    Error,
    Warning,
    Notice,
    Information,
    Debug,
    Subscribe,
    Unsubscribe,
    All,
    None,
}

impl LogTypeName {
    fn name(self) -> &'static str {
        match self {
            LogTypeName::Error => "error",
            LogTypeName::Warning => "warning",
            LogTypeName::Notice => "notice",
            LogTypeName::Information => "information",
            LogTypeName::Debug => "debug",
            LogTypeName::Subscribe => "subscribe",
            LogTypeName::Unsubscribe => "unsubscribe",
            LogTypeName::All => "all",
            LogTypeName::None => "none",
        }
    }

    fn from_name(name: &str) -> Option<LogTypeName> {
        [
            LogTypeName::Error,
            LogTypeName::Warning,
            LogTypeName::Notice,
            LogTypeName::Information,
            LogTypeName::Debug,
            LogTypeName::Subscribe,
            LogTypeName::Unsubscribe,
            LogTypeName::All,
            LogTypeName::None,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum FormatName {
    Text,
    Json,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct BridgeToml {
    name: String,
    addresses: Vec<AddressValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    round_robin: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<BridgeProtocolName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clean_session: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keepalive_interval: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_clientid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    try_private: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notifications: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restart_timeout: Option<RestartTimeout>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cafile: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capath: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certfile: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keyfile: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    insecure: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    topic: Vec<TopicToml>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum BridgeProtocolName {
    Mqttv31,
    Mqttv311,
    Mqttv50,
}

impl From<BridgeProtocolName> for BridgeProtocol {
    fn from(p: BridgeProtocolName) -> BridgeProtocol {
        match p {
            BridgeProtocolName::Mqttv31 => BridgeProtocol::V31,
            BridgeProtocolName::Mqttv311 => BridgeProtocol::V311,
            BridgeProtocolName::Mqttv50 => BridgeProtocol::V5,
        }
    }
}

impl From<BridgeProtocol> for BridgeProtocolName {
    fn from(p: BridgeProtocol) -> BridgeProtocolName {
        match p {
            BridgeProtocol::V31 => BridgeProtocolName::Mqttv31,
            BridgeProtocol::V311 => BridgeProtocolName::Mqttv311,
            BridgeProtocol::V5 => BridgeProtocolName::Mqttv50,
        }
    }
}

/// `restart_timeout = 10` (a constant delay) or `[BASE, CAP]` (backoff), as Mosquitto.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(untagged)]
enum RestartTimeout {
    Constant(u64),
    Backoff([u64; 2]),
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TopicToml {
    pattern: String,
    #[serde(default = "direction_out")]
    direction: DirectionName,
    #[serde(default)]
    qos: QosValue,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    local_prefix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    remote_prefix: String,
}

fn direction_out() -> DirectionName {
    DirectionName::Out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum DirectionName {
    Out,
    In,
    Both,
}

impl From<DirectionName> for BridgeDirection {
    fn from(d: DirectionName) -> BridgeDirection {
        match d {
            DirectionName::Out => BridgeDirection::Out,
            DirectionName::In => BridgeDirection::In,
            DirectionName::Both => BridgeDirection::Both,
        }
    }
}

impl From<BridgeDirection> for DirectionName {
    fn from(d: BridgeDirection) -> DirectionName {
        match d {
            BridgeDirection::Out => DirectionName::Out,
            BridgeDirection::In => DirectionName::In,
            BridgeDirection::Both => DirectionName::Both,
        }
    }
}

/// A QoS number, refused unless 0, 1 or 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "u8", into = "u8")]
struct QosValue(QoS);

impl Default for QosValue {
    fn default() -> Self {
        QosValue(QoS::AtMostOnce)
    }
}

impl TryFrom<u8> for QosValue {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, String> {
        QoS::from_bits(n)
            .map(QosValue)
            .ok_or_else(|| format!("QoS {n}: expected 0, 1 or 2"))
    }
}

impl From<QosValue> for u8 {
    fn from(q: QosValue) -> u8 {
        q.0 as u8
    }
}

/// A count that must be at least 1.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(try_from = "u16", into = "u16")]
struct NonZeroU16(u16);

impl TryFrom<u16> for NonZeroU16 {
    type Error = &'static str;
    fn try_from(n: u16) -> Result<Self, Self::Error> {
        (n > 0)
            .then_some(NonZeroU16(n))
            .ok_or("expected at least 1")
    }
}

impl From<NonZeroU16> for u16 {
    fn from(n: NonZeroU16) -> u16 {
        n.0
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(try_from = "u64", into = "u64")]
struct NonZeroU64(u64);

impl TryFrom<u64> for NonZeroU64 {
    type Error = &'static str;
    fn try_from(n: u64) -> Result<Self, Self::Error> {
        (n > 0)
            .then_some(NonZeroU64(n))
            .ok_or("expected at least 1")
    }
}

impl From<NonZeroU64> for u64 {
    fn from(n: NonZeroU64) -> u64 {
        n.0
    }
}

/// A Topic Filter, checked as a SUBSCRIBE's would be.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
struct TopicFilter(String);

impl TryFrom<String> for TopicFilter {
    type Error = String;
    fn try_from(filter: String) -> Result<Self, String> {
        mq_proto::topic::validate_topic_filter(&filter)
            .map(|()| TopicFilter(filter.clone()))
            .map_err(|e| format!("{filter:?} is not a valid topic filter: {e}"))
    }
}

impl From<TopicFilter> for String {
    fn from(f: TopicFilter) -> String {
        f.0
    }
}

/// A WebSocket request path: starts with `/`, no spaces.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
struct WsPath(String);

impl TryFrom<String> for WsPath {
    type Error = String;
    fn try_from(path: String) -> Result<Self, String> {
        if path.starts_with('/') && !path.contains(char::is_whitespace) {
            Ok(WsPath(path))
        } else {
            Err(format!(
                "{path:?}: a WebSocket path starts with / and has no spaces"
            ))
        }
    }
}

impl From<WsPath> for String {
    fn from(p: WsPath) -> String {
        p.0
    }
}

/// `host`, `host:port` or `[v6]:port` of a bridge's remote broker.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
struct AddressValue(BridgeAddress);

impl TryFrom<String> for AddressValue {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        parse_bridge_address(&text).map(AddressValue)
    }
}

impl From<AddressValue> for String {
    fn from(a: AddressValue) -> String {
        format_bridge_address(&a.0)
    }
}

/// `host[:port]`; a host with more than one `:` is an IPv6 address (bracketed with a port).
pub(super) fn parse_bridge_address(text: &str) -> Result<BridgeAddress, String> {
    let bad = || format!("{text:?}: expected HOST or HOST:PORT (port 1-65535)");
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(bad()),
        }
    } else if text.matches(':').count() == 1 {
        let (host, port) = text.split_once(':').ok_or_else(bad)?;
        (host, Some(port))
    } else {
        (text, None)
    };
    let port = match port {
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(bad)?,
        None => 1883,
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok(BridgeAddress {
        host: host.to_owned(),
        port,
    })
}

fn format_bridge_address(a: &BridgeAddress) -> String {
    if a.host.contains(':') {
        format!("[{}]:{}", a.host, a.port)
    } else {
        format!("{}:{}", a.host, a.port)
    }
}

/// Reads mq.toml.
pub(super) fn parse(path: &Path, text: &str, defaults: &Defaults) -> Result<Loaded, ConfigError> {
    let file: FileToml = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        invalid(path, text, span, None, e.message().trim_end().to_owned())
    })?;
    resolve(path, text, file, defaults)
}

fn invalid(
    path: &Path,
    text: &str,
    span: Range<usize>,
    key: Option<&str>,
    message: String,
) -> ConfigError {
    let line = line_of(text, span.start);
    let key = match key {
        Some(key) => key.to_owned(),
        None => key_on_line(text, line),
    };
    ConfigError::Invalid {
        path: path.to_owned(),
        line,
        key,
        message,
    }
}

/// The key a line sets (`key = ...`) or the table it opens (`[table]`).
fn key_on_line(text: &str, line: usize) -> String {
    let content = text
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .trim();
    match content.split_once('=') {
        Some((key, _)) => key.trim().to_owned(),
        None => content.trim_matches(|c| c == '[' || c == ']').to_owned(),
    }
}

fn resolve(
    path: &Path,
    text: &str,
    file: FileToml,
    defaults: &Defaults,
) -> Result<Loaded, ConfigError> {
    let base = BrokerConfig::default();
    let limits = SessionLimits::default();
    let mut broker = BrokerConfig {
        session_limits: SessionLimits {
            max_inflight: file
                .max_inflight_messages
                .map_or(limits.max_inflight, |n| n.0),
            max_queued_messages: file
                .max_queued_messages
                .unwrap_or(limits.max_queued_messages),
            max_queued_bytes: file.max_queued_bytes.unwrap_or(limits.max_queued_bytes),
        },
        max_packet_size: file.max_packet_size.unwrap_or(base.max_packet_size),
        maximum_qos: file.maximum_qos.map_or(base.maximum_qos, |q| q.0),
        connect_timeout: file
            .connect_timeout
            .map_or(base.connect_timeout, Duration::from_secs),
        max_connections: file.max_connections.unwrap_or(base.max_connections),
        sys_interval: match file.sys_interval {
            Some(0) => None,
            Some(secs) => Some(Duration::from_secs(secs)),
            None => base.sys_interval,
        },
        auth: AuthConfig {
            password_file: file.password_file,
            acl_file: file.acl_file,
            allow_anonymous: file.allow_anonymous,
        },
        max_keepalive: file.max_keepalive.unwrap_or(base.max_keepalive),
        topic_alias_maximum: file.max_topic_alias.unwrap_or(base.topic_alias_maximum),
        refused_filters: file
            .refuse_subscribe
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.0)
            .collect(),
        max_topic_levels: file.max_topic_levels.unwrap_or(base.max_topic_levels),
        max_subscriptions_per_client: file
            .max_subscriptions_per_client
            .unwrap_or(base.max_subscriptions_per_client),
        metrics: file.metrics,
        max_memory: file.max_memory,
        retain_available: file.retain_available.unwrap_or(base.retain_available),
        message_size_limit: file.message_size_limit.unwrap_or(base.message_size_limit),
        ..base
    };
    broker.persistence = persistence(path, file.persistence.unwrap_or_default(), defaults)?;
    if !file.listeners.is_empty() {
        broker.listeners = file
            .listeners
            .into_iter()
            .map(|l| {
                let span = l.span();
                listener(l.into_inner())
                    .map_err(|(key, message)| invalid(path, text, span, Some(key), message))
            })
            .collect::<Result<_, _>>()?;
    }
    broker.bridges = file
        .bridges
        .into_iter()
        .map(|b| {
            let span = b.span();
            bridge(b.into_inner())
                .map_err(|(key, message)| invalid(path, text, span, Some(key), message))
        })
        .collect::<Result<_, _>>()?;
    Ok(Loaded {
        broker,
        log: log(file.log.unwrap_or_default()),
        warnings: Vec::new(),
    })
}

fn persistence(
    path: &Path,
    p: PersistenceToml,
    defaults: &Defaults,
) -> Result<Option<PersistenceConfig>, ConfigError> {
    let durability = match p.mode.unwrap_or(PersistenceMode::Sync) {
        PersistenceMode::Off => return Ok(None),
        PersistenceMode::Sync => Durability::Sync,
        PersistenceMode::Periodic => Durability::Periodic(Duration::from_secs(
            p.autosave_interval.map_or(AUTOSAVE_INTERVAL, |n| n.0),
        )),
    };
    let dir = p
        .dir
        .or_else(|| defaults.data_dir.clone())
        .ok_or_else(|| ConfigError::Invalid {
            path: path.to_owned(),
            line: 1,
            key: "persistence.dir".to_owned(),
            message: "no data folder: HOME and XDG_DATA_HOME are unset; set dir, or mode = \"off\""
                .to_owned(),
        })?;
    Ok(Some(PersistenceConfig { dir, durability }))
}

type KeyError = (&'static str, String);

fn listener(l: ListenerToml) -> Result<ListenerConfig, KeyError> {
    let bind = SocketAddr::new(l.bind, l.port);
    let tls_keys = l.certfile.is_some()
        || l.keyfile.is_some()
        || l.cafile.is_some()
        || l.require_certificate
        || l.use_identity_as_username
        || l.use_subject_as_username
        || !l.alpn.is_empty()
        || l.tls_host.is_some();
    let is_tls = matches!(l.protocol, Protocol::Mqtts | Protocol::Wss);
    let is_ws = matches!(l.protocol, Protocol::Ws | Protocol::Wss);
    if tls_keys && !is_tls {
        return Err((
            "protocol",
            "TLS settings (certfile, keyfile, cafile, ...) need protocol = \"mqtts\" or \"wss\""
                .to_owned(),
        ));
    }
    if l.ws_path.is_some() && !is_ws {
        return Err(("ws_path", "needs protocol = \"ws\" or \"wss\"".to_owned()));
    }
    if l.use_identity_as_username && l.use_subject_as_username {
        return Err((
            "use_subject_as_username",
            "use_identity_as_username and use_subject_as_username exclude each other".to_owned(),
        ));
    }
    let identity = if l.use_identity_as_username {
        ClientIdentity::CommonName
    } else if l.use_subject_as_username {
        ClientIdentity::Subject
    } else {
        ClientIdentity::None
    };
    let ws = WsSettings {
        path: l.ws_path.map(|p| p.0),
    };
    let tls = || -> Result<TlsSettings, KeyError> {
        let cert = l.certfile.clone().ok_or((
            "certfile",
            "a TLS listener needs certfile and keyfile".to_owned(),
        ))?;
        let key = l.keyfile.clone().ok_or((
            "keyfile",
            "a TLS listener needs certfile and keyfile".to_owned(),
        ))?;
        let require = l.require_certificate || identity != ClientIdentity::None;
        if require && l.cafile.is_none() {
            return Err((
                "cafile",
                "requiring client certificates needs cafile, the CA they must chain to".to_owned(),
            ));
        }
        Ok(TlsSettings {
            cert,
            key,
            client_ca: l.cafile.clone(),
            require_client_cert: require,
            alpn: l.alpn.clone(),
            host: l.tls_host.clone(),
        })
    };
    let kind = match l.protocol {
        Protocol::Mqtt => ListenerKind::Tcp,
        Protocol::Ws => ListenerKind::Ws { ws },
        Protocol::Mqtts => ListenerKind::Tls {
            tls: tls()?,
            identity,
        },
        Protocol::Wss => ListenerKind::Wss {
            tls: tls()?,
            ws,
            identity,
        },
    };
    Ok(ListenerConfig { bind, kind })
}

fn bridge(b: BridgeToml) -> Result<BridgeConfig, KeyError> {
    if b.name.is_empty() || b.name.contains(char::is_whitespace) || b.name.contains('/') {
        return Err((
            "name",
            format!("{:?}: a bridge name is one word without /", b.name),
        ));
    }
    if b.addresses.is_empty() {
        return Err((
            "addresses",
            "a bridge needs at least one address".to_owned(),
        ));
    }
    let mut config = BridgeConfig::new(&b.name, b.addresses.into_iter().map(|a| a.0).collect());
    if let Some(v) = b.round_robin {
        config.round_robin = v;
    }
    if let Some(v) = b.protocol {
        config.protocol = v.into();
    }
    if let Some(v) = b.clean_session {
        config.clean_session = v;
    }
    if let Some(v) = b.keepalive_interval {
        config.keep_alive = Duration::from_secs(v);
    }
    if let Some(v) = b.remote_clientid {
        config.remote_client_id = v;
    }
    config.remote_username = b.remote_username;
    config.remote_password = b.remote_password;
    if let Some(v) = b.try_private {
        config.try_private = v;
    }
    if let Some(v) = b.notifications {
        config.notifications = v;
    }
    if let Some(v) = b.notification_topic {
        mq_proto::topic::validate_topic_name(&v)
            .map_err(|e| ("notification_topic", format!("{v:?}: {e}")))?;
        config.notification_topic = v;
    }
    match b.restart_timeout {
        Some(RestartTimeout::Constant(secs)) => {
            config.restart_base = Duration::from_secs(secs);
            config.restart_cap = Duration::from_secs(secs);
        }
        Some(RestartTimeout::Backoff([base, cap])) => {
            if base > cap {
                return Err((
                    "restart_timeout",
                    format!("[{base}, {cap}]: the base must not exceed the cap"),
                ));
            }
            config.restart_base = Duration::from_secs(base);
            config.restart_cap = Duration::from_secs(cap);
        }
        None => {}
    }
    let insecure = b.insecure.unwrap_or(false);
    if b.cafile.is_some()
        || b.capath.is_some()
        || b.certfile.is_some()
        || b.keyfile.is_some()
        || insecure
    {
        if b.certfile.is_some() != b.keyfile.is_some() {
            return Err((
                "certfile",
                "a bridge client certificate needs both certfile and keyfile".to_owned(),
            ));
        }
        config.tls = Some(BridgeTls {
            cafile: b.cafile,
            capath: b.capath,
            certfile: b.certfile,
            keyfile: b.keyfile,
            insecure,
        });
    }
    config.topics = b
        .topic
        .into_iter()
        .map(|t| {
            validate_bridge_pattern(&t.pattern).map_err(|m| ("topic", m))?;
            Ok(BridgeTopic {
                pattern: t.pattern,
                direction: t.direction.into(),
                qos: t.qos.0,
                local_prefix: t.local_prefix,
                remote_prefix: t.remote_prefix,
            })
        })
        .collect::<Result<_, KeyError>>()?;
    Ok(config)
}

/// A bridge topic pattern is a Topic Filter; empty is allowed with prefixes (Mosquitto's
/// `topic "" out 0 local/full remote/full` maps one exact topic).
pub(super) fn validate_bridge_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Ok(());
    }
    mq_proto::topic::validate_topic_filter(pattern)
        .map_err(|e| format!("{pattern:?} is not a valid topic pattern: {e}"))
}

fn log(l: LogToml) -> LogConfig {
    let quiet = LogConfig::quiet();
    let mut dest: Vec<LogDest> = match l.dest {
        Some(names) => names
            .into_iter()
            .map(|d| match d {
                DestName::Stderr => LogDest::Stderr,
                DestName::Stdout => LogDest::Stdout,
            })
            .collect(),
        None if l.file.is_some() => Vec::new(),
        None => quiet.dest,
    };
    if let Some(file) = l.file {
        dest.push(LogDest::File(file));
    }
    let types = match l.types {
        Some(names) => {
            let mut types = LogTypes::default();
            for name in names {
                types.add(name.name());
            }
            types
        }
        None => quiet.types,
    };
    LogConfig {
        dest,
        types,
        format: match l.format {
            Some(FormatName::Json) => LogFormat::Json,
            Some(FormatName::Text) | None => LogFormat::Text,
        },
    }
}

/// Writes `broker` and `log` as mq.toml: the settings that differ from mq's defaults, and
/// every listener and bridge in full. Reading the text back gives the same configuration.
pub fn to_toml(broker: &BrokerConfig, log: &LogConfig) -> String {
    let base = BrokerConfig::default();
    let limits = SessionLimits::default();
    let differs = |same: bool| !same;
    let mut file = FileToml {
        sys_interval: differs(broker.sys_interval == base.sys_interval)
            .then(|| broker.sys_interval.map_or(0, |d| d.as_secs())),
        max_packet_size: differs(broker.max_packet_size == base.max_packet_size)
            .then_some(broker.max_packet_size),
        maximum_qos: differs(broker.maximum_qos == base.maximum_qos)
            .then_some(QosValue(broker.maximum_qos)),
        connect_timeout: differs(broker.connect_timeout == base.connect_timeout)
            .then_some(broker.connect_timeout.as_secs()),
        max_connections: differs(broker.max_connections == base.max_connections)
            .then_some(broker.max_connections),
        max_keepalive: differs(broker.max_keepalive == base.max_keepalive)
            .then_some(broker.max_keepalive),
        max_topic_alias: differs(broker.topic_alias_maximum == base.topic_alias_maximum)
            .then_some(broker.topic_alias_maximum),
        refuse_subscribe: (!broker.refused_filters.is_empty()).then(|| {
            broker
                .refused_filters
                .iter()
                .cloned()
                .map(TopicFilter)
                .collect()
        }),
        max_inflight_messages: differs(broker.session_limits.max_inflight == limits.max_inflight)
            .then_some(NonZeroU16(broker.session_limits.max_inflight)),
        max_queued_messages: differs(
            broker.session_limits.max_queued_messages == limits.max_queued_messages,
        )
        .then_some(broker.session_limits.max_queued_messages),
        max_queued_bytes: differs(
            broker.session_limits.max_queued_bytes == limits.max_queued_bytes,
        )
        .then_some(broker.session_limits.max_queued_bytes),
        max_topic_levels: differs(broker.max_topic_levels == base.max_topic_levels)
            .then_some(broker.max_topic_levels),
        max_subscriptions_per_client: differs(
            broker.max_subscriptions_per_client == base.max_subscriptions_per_client,
        )
        .then_some(broker.max_subscriptions_per_client),
        retain_available: differs(broker.retain_available == base.retain_available)
            .then_some(broker.retain_available),
        message_size_limit: differs(broker.message_size_limit == base.message_size_limit)
            .then_some(broker.message_size_limit),
        metrics: broker.metrics,
        max_memory: broker.max_memory,
        password_file: broker.auth.password_file.clone(),
        acl_file: broker.auth.acl_file.clone(),
        allow_anonymous: broker.auth.allow_anonymous,
        persistence: Some(match &broker.persistence {
            None => PersistenceToml {
                mode: Some(PersistenceMode::Off),
                ..PersistenceToml::default()
            },
            Some(p) => PersistenceToml {
                mode: Some(match p.durability {
                    Durability::Sync => PersistenceMode::Sync,
                    Durability::Periodic(_) => PersistenceMode::Periodic,
                }),
                dir: Some(p.dir.clone()),
                autosave_interval: match p.durability {
                    Durability::Sync => None,
                    Durability::Periodic(every) => Some(NonZeroU64(every.as_secs().max(1))),
                },
            },
        }),
        log: (*log != LogConfig::quiet()).then(|| log_toml(log)),
        listeners: Vec::new(),
        bridges: Vec::new(),
    };
    if broker.listeners != base.listeners {
        file.listeners = broker
            .listeners
            .iter()
            .map(|l| Spanned::new(0..0, listener_toml(l)))
            .collect();
    }
    file.bridges = broker
        .bridges
        .iter()
        .map(|b| Spanned::new(0..0, bridge_toml(b)))
        .collect();
    // Serialising plain data to TOML fails only for values TOML cannot hold (none here).
    toml::to_string(&file).unwrap_or_else(|e| format!("# cannot write the configuration: {e}\n"))
}

fn listener_toml(l: &ListenerConfig) -> ListenerToml {
    let mut t = ListenerToml {
        bind: l.bind.ip(),
        port: l.bind.port(),
        protocol: Protocol::Mqtt,
        certfile: None,
        keyfile: None,
        cafile: None,
        require_certificate: false,
        use_identity_as_username: false,
        use_subject_as_username: false,
        alpn: Vec::new(),
        tls_host: None,
        ws_path: None,
    };
    let mut set_tls = |tls: &TlsSettings, identity: ClientIdentity| {
        t.certfile = Some(tls.cert.clone());
        t.keyfile = Some(tls.key.clone());
        t.cafile = tls.client_ca.clone();
        t.require_certificate = tls.require_client_cert;
        t.use_identity_as_username = identity == ClientIdentity::CommonName;
        t.use_subject_as_username = identity == ClientIdentity::Subject;
        t.alpn = tls.alpn.clone();
        t.tls_host = tls.host.clone();
    };
    let (protocol, ws) = match &l.kind {
        ListenerKind::Tcp => (Protocol::Mqtt, None),
        ListenerKind::Tls { tls, identity } => {
            set_tls(tls, *identity);
            (Protocol::Mqtts, None)
        }
        ListenerKind::Ws { ws } => (Protocol::Ws, Some(ws)),
        ListenerKind::Wss { tls, ws, identity } => {
            set_tls(tls, *identity);
            (Protocol::Wss, Some(ws))
        }
    };
    t.protocol = protocol;
    t.ws_path = ws.and_then(|ws| ws.path.clone()).map(WsPath);
    t
}

fn bridge_toml(b: &BridgeConfig) -> BridgeToml {
    let tls = b.tls.clone().unwrap_or_default();
    BridgeToml {
        name: b.name.clone(),
        addresses: b.addresses.iter().cloned().map(AddressValue).collect(),
        round_robin: Some(b.round_robin),
        protocol: Some(b.protocol.into()),
        clean_session: Some(b.clean_session),
        keepalive_interval: Some(b.keep_alive.as_secs()),
        remote_clientid: Some(b.remote_client_id.clone()),
        remote_username: b.remote_username.clone(),
        remote_password: b.remote_password.clone(),
        try_private: Some(b.try_private),
        notifications: Some(b.notifications),
        notification_topic: Some(b.notification_topic.clone()),
        restart_timeout: Some(if b.restart_base == b.restart_cap {
            RestartTimeout::Constant(b.restart_base.as_secs())
        } else {
            RestartTimeout::Backoff([b.restart_base.as_secs(), b.restart_cap.as_secs()])
        }),
        cafile: tls.cafile,
        capath: tls.capath,
        certfile: tls.certfile,
        keyfile: tls.keyfile,
        insecure: b.tls.as_ref().map(|t| t.insecure),
        topic: b
            .topics
            .iter()
            .map(|t| TopicToml {
                pattern: t.pattern.clone(),
                direction: t.direction.into(),
                qos: QosValue(t.qos),
                local_prefix: t.local_prefix.clone(),
                remote_prefix: t.remote_prefix.clone(),
            })
            .collect(),
    }
}

fn log_toml(log: &LogConfig) -> LogToml {
    let mut dest = Vec::new();
    let mut file = None;
    for d in &log.dest {
        match d {
            LogDest::Stderr => dest.push(DestName::Stderr),
            LogDest::Stdout => dest.push(DestName::Stdout),
            LogDest::File(path) => file = Some(path.clone()),
        }
    }
    LogToml {
        dest: Some(dest),
        file,
        types: Some(
            log.types
                .names()
                .into_iter()
                .filter_map(LogTypeName::from_name)
                .collect(),
        ),
        format: Some(match log.format {
            LogFormat::Text => FormatName::Text,
            LogFormat::Json => FormatName::Json,
        }),
    }
}
