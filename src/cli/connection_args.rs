//! The connection flags `mq pub` and `mq sub` share, with mosquitto's names, and their
//! resolution (with an optional profile from the config file) into [`ConnectOptions`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use clap::Args;

use super::exit::{Failure, FailureKind};
use crate::client::profile::{ConfigFile, Profile};
use crate::client::{
    BrokerUrl, ClientError, ConnectOptions, Endpoint, ErrorKind, Protocol, QoS, Scheme, TlsOptions,
    TlsVersion, Will,
};

/// Connection options. `-h` is the broker host, as in mosquitto: help is `--help` only.
#[derive(Debug, Clone, Default, Args)]
pub struct ConnectionArgs {
    /// Broker host [default: localhost]. (-h is the host, as in mosquitto; help is --help.)
    #[arg(short = 'h', long, help_heading = "Connection")]
    pub host: Option<String>,
    /// Broker port [default: 1883, 8883 with TLS].
    #[arg(short = 'p', long, help_heading = "Connection")]
    pub port: Option<u16>,
    /// Broker URL: mqtt://, mqtts://, ws:// or wss://[user[:password]@]host[:port][/topic].
    #[arg(short = 'L', long = "url", value_name = "URL", conflicts_with_all = ["host", "port"], help_heading = "Connection")]
    pub url: Option<String>,
    /// Client id [default: mq-pub-/mq-sub- and random letters].
    #[arg(
        short = 'i',
        long = "id",
        value_name = "ID",
        help_heading = "Connection"
    )]
    pub id: Option<String>,
    /// Client id prefix; the process id is appended (as mosquitto).
    #[arg(
        short = 'I',
        long = "id-prefix",
        value_name = "PREFIX",
        conflicts_with = "id",
        help_heading = "Connection"
    )]
    pub id_prefix: Option<String>,
    /// Keep Alive in seconds, 5-65535 [default: 60].
    #[arg(
        short = 'k',
        long = "keepalive",
        value_name = "SECS",
        help_heading = "Connection"
    )]
    pub keepalive: Option<u16>,
    /// Persistent session: no clean session / clean start (needs -i).
    #[arg(
        short = 'c',
        long = "disable-clean-session",
        help_heading = "Connection"
    )]
    pub no_clean_session: bool,
    /// Session Expiry Interval in seconds (MQTT 5); -1 or ∞ for never [default with -c: never].
    #[arg(
        short = 'x',
        long = "session-expiry-interval",
        value_name = "SECS",
        allow_hyphen_values = true,
        help_heading = "Connection"
    )]
    pub session_expiry: Option<String>,
    /// MQTT version: 31, 311 or 5 (mqttv31, mqttv311, mqttv5) [default: 311]. 3.1 has no WebSocket.
    #[arg(
        short = 'V',
        long = "protocol-version",
        value_name = "VERSION",
        help_heading = "Connection"
    )]
    pub protocol: Option<String>,
    /// MQTT 5 property for a packet: -D COMMAND PROPERTY VALUE (user-property takes NAME VALUE).
    /// COMMAND is connect, publish, subscribe, unsubscribe or will.
    #[arg(short = 'D', long = "property", num_args = 3..=4, value_names = ["COMMAND", "PROPERTY", "VALUE"], action = clap::ArgAction::Append, help_heading = "Connection")]
    pub property: Vec<String>,
    /// Bind the outgoing connection to this local address (not available: see --help).
    #[arg(short = 'A', value_name = "ADDRESS", help_heading = "Connection")]
    pub bind_address: Option<String>,
    /// Disable Nagle's algorithm (send small packets at once).
    #[arg(long, help_heading = "Connection")]
    pub nodelay: bool,
    /// Seconds to wait for the connection (TCP, TLS and CONNACK) [default: 10].
    #[arg(long, value_name = "SECS", help_heading = "Connection")]
    pub connect_timeout: Option<u64>,
    /// Take defaults from this profile of the config file ($XDG_CONFIG_HOME/mq/config.toml or
    /// ~/.config/mq/config.toml); flags given here still win.
    #[arg(long, value_name = "NAME", help_heading = "Connection")]
    pub profile: Option<String>,

    /// User name.
    #[arg(short = 'u', long = "username", help_heading = "Authentication")]
    pub username: Option<String>,
    /// Password (visible to other users in the process list: prefer the options below).
    #[arg(
        short = 'P',
        long = "pw",
        value_name = "PASSWORD",
        help_heading = "Authentication"
    )]
    pub password: Option<String>,
    /// Ask for the password on the terminal, without echo.
    #[arg(long, conflicts_with_all = ["password", "pw_file", "pw_env"], help_heading = "Authentication")]
    pub pw_prompt: bool,
    /// Read the password from the first line of this file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["password", "pw_env"], help_heading = "Authentication")]
    pub pw_file: Option<PathBuf>,
    /// Read the password from this environment variable.
    #[arg(
        long,
        value_name = "VAR",
        conflicts_with = "password",
        help_heading = "Authentication"
    )]
    pub pw_env: Option<String>,

    /// Will topic: the broker publishes the Will there if the connection dies.
    #[arg(long, value_name = "TOPIC", help_heading = "Will")]
    pub will_topic: Option<String>,
    /// Will payload.
    #[arg(
        long,
        value_name = "PAYLOAD",
        requires = "will_topic",
        help_heading = "Will"
    )]
    pub will_payload: Option<String>,
    /// Will QoS.
    #[arg(long, value_name = "QOS", value_parser = clap::value_parser!(u8).range(0..=2), requires = "will_topic", help_heading = "Will")]
    pub will_qos: Option<u8>,
    /// Retain the Will.
    #[arg(long, requires = "will_topic", help_heading = "Will")]
    pub will_retain: bool,

    /// Trust the CA certificates in this PEM file (turns TLS on).
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    pub cafile: Option<PathBuf>,
    /// Trust the CA certificates (*.pem, *.crt) in this directory (turns TLS on).
    #[arg(long, value_name = "DIR", help_heading = "TLS")]
    pub capath: Option<PathBuf>,
    /// Client certificate (PEM), with --key.
    #[arg(long, value_name = "FILE", requires = "key", help_heading = "TLS")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM), with --cert.
    #[arg(long, value_name = "FILE", requires = "cert", help_heading = "TLS")]
    pub key: Option<PathBuf>,
    /// Do not check the server certificate's host name (the chain is still checked).
    #[arg(long, help_heading = "TLS")]
    pub insecure: bool,
    /// TLS version: tlsv1.2 or tlsv1.3 [default: both].
    #[arg(long, value_name = "VERSION", help_heading = "TLS")]
    pub tls_version: Option<String>,
    /// ALPN protocol to offer; may be repeated.
    #[arg(long, value_name = "PROTOCOL", help_heading = "TLS")]
    pub tls_alpn: Vec<String>,
    /// Use TLS with the system's trusted CAs (also the default for mqtts:// and wss://).
    #[arg(long, help_heading = "TLS")]
    pub tls_use_os_certs: bool,

    /// Print a trace of the MQTT packets on stderr.
    #[arg(short = 'd', long = "debug", help_heading = "Output")]
    pub debug: bool,
    /// Print no errors or notices (the exit code still tells).
    #[arg(long, help_heading = "Output")]
    pub quiet: bool,

    /// Print help (-h is the host, as in mosquitto).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// The connection options, plus what the command needs beside them.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub options: ConnectOptions,
    /// The topic from an `mqtt(s)://host/topic` URL.
    pub url_topic: Option<String>,
    pub debug: bool,
    pub quiet: bool,
}

/// Turns a client-layer error into a failure with the right exit code.
pub fn failure(e: ClientError) -> Failure {
    let kind = match e.kind() {
        ErrorKind::Config => FailureKind::Usage,
        ErrorKind::Network => FailureKind::Network,
        ErrorKind::Tls => FailureKind::Tls,
        ErrorKind::ConnectionRefused => FailureKind::ConnectionRefused,
        ErrorKind::Protocol => FailureKind::General,
    };
    Failure::new(kind, e.to_string())
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::new(FailureKind::Usage, message)
}

/// `$XDG_CONFIG_HOME/mq/config.toml`, else `$HOME/.config/mq/config.toml`.
pub fn config_path() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("mq").join("config.toml"));
    }
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty())?;
    Some(
        PathBuf::from(home)
            .join(".config")
            .join("mq")
            .join("config.toml"),
    )
}

fn expand_home(path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    path.to_owned()
}

fn load_profile(name: Option<&str>) -> Result<Profile, Failure> {
    let Some(path) = config_path() else {
        return match name {
            Some(_) => Err(usage("--profile: neither XDG_CONFIG_HOME nor HOME is set")),
            None => Ok(Profile::default()),
        };
    };
    if !path.exists() {
        return match name {
            Some(name) => Err(usage(format!(
                "--profile {name}: there is no config file {}",
                path.display()
            ))),
            None => Ok(Profile::default()),
        };
    }
    let file = ConfigFile::load(&path).map_err(failure)?;
    match name.or(file.default_profile.as_deref()) {
        Some(name) => file.profile(name, &path).cloned().map_err(failure),
        None => Ok(Profile::default()),
    }
}

fn read_password_file(path: &Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("--pw-file {}: {e}", path.display())))?;
    Ok(text.lines().next().unwrap_or("").to_owned())
}

fn parse_session_expiry(s: &str) -> Result<u32, Failure> {
    match s {
        "-1" | "∞" => Ok(u32::MAX),
        _ => s.parse().map_err(|_| {
            usage(format!(
                "-x {s}: expected seconds (0-4294967295), or -1 / ∞ for a session that never expires"
            ))
        }),
    }
}

impl ConnectionArgs {
    /// Merges flags, URL and profile into connection options. `command` ("pub", "sub") names
    /// the default client id.
    pub fn resolve(&self, command: &str) -> Result<Resolved, Failure> {
        if let Some(addr) = &self.bind_address {
            return Err(usage(format!(
                "-A {addr}: binding the outgoing connection to a local address is not possible: \
                 the client library (rumqttc 0.25) can only bind to a network interface by name"
            )));
        }
        let profile = load_profile(self.profile.as_deref())?;

        // Where: -L, else -h/-p, else the profile's url, else its host/port.
        let url = match (&self.url, self.host.is_some() || self.port.is_some()) {
            (Some(url), _) => Some(url.clone()),
            (None, true) => None,
            (None, false) => profile.url.clone(),
        };
        let (mut endpoint, url_user, url_pass, url_topic) = match url {
            Some(url) => {
                let parsed = BrokerUrl::parse(&url).map_err(failure)?;
                (
                    parsed.endpoint,
                    parsed.username,
                    parsed.password,
                    parsed.topic,
                )
            }
            None => {
                let host = self
                    .host
                    .clone()
                    .or(profile.host.clone())
                    .unwrap_or_else(|| "localhost".to_owned());
                (Endpoint::new(Scheme::Mqtt, host, 0), None, None, None)
            }
        };

        let tls_version = self.tls_version.clone().or(profile.tls_version.clone());
        let tls = TlsOptions {
            cafile: self
                .cafile
                .clone()
                .or(profile.cafile.clone())
                .map(|p| expand_home(&p)),
            capath: self
                .capath
                .clone()
                .or(profile.capath.clone())
                .map(|p| expand_home(&p)),
            cert: self
                .cert
                .clone()
                .or(profile.cert.clone())
                .map(|p| expand_home(&p)),
            key: self
                .key
                .clone()
                .or(profile.key.clone())
                .map(|p| expand_home(&p)),
            insecure: self.insecure || profile.insecure.unwrap_or(false),
            version: tls_version
                .as_deref()
                .map(TlsVersion::parse)
                .transpose()
                .map_err(failure)?,
            alpn: if self.tls_alpn.is_empty() {
                profile.tls_alpn.clone().unwrap_or_default()
            } else {
                self.tls_alpn.clone()
            },
        };
        if tls.requested() || self.tls_use_os_certs {
            endpoint.scheme = endpoint.scheme.with_tls();
        }
        if endpoint.port == 0 {
            endpoint.port = self
                .port
                .or(profile.port)
                .unwrap_or(endpoint.scheme.default_port());
        }

        let protocol = match self.protocol.as_deref().or(profile.protocol.as_deref()) {
            Some(v) => Protocol::parse(v).map_err(failure)?,
            None => Protocol::V311,
        };

        let client_id = match (&self.id, &self.id_prefix) {
            (Some(id), _) => id.clone(),
            (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
            (None, None) => match (&profile.client_id, &profile.id_prefix) {
                (Some(id), _) => id.clone(),
                (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
                (None, None) => {
                    let tail: String = std::iter::repeat_with(fastrand::alphanumeric)
                        .take(10)
                        .collect();
                    format!("mq-{command}-{tail}")
                }
            },
        };
        if self.no_clean_session
            && self.id.is_none()
            && self.id_prefix.is_none()
            && profile.client_id.is_none()
        {
            return Err(usage(
                "-c (persistent session) needs a client id: give one with -i",
            ));
        }

        let username = self
            .username
            .clone()
            .or(url_user)
            .or(profile.username.clone());
        let password = if let Some(p) = &self.password {
            Some(p.clone())
        } else if self.pw_prompt {
            if username.is_none() {
                return Err(usage("--pw-prompt needs a user name (-u)"));
            }
            Some(
                rpassword::prompt_password("Password: ")
                    .map_err(|e| usage(format!("--pw-prompt: cannot read a password: {e}")))?,
            )
        } else if let Some(path) = &self.pw_file {
            Some(read_password_file(path)?)
        } else if let Some(var) = &self.pw_env {
            Some(std::env::var(var).map_err(|_| {
                usage(format!(
                    "--pw-env {var}: the environment variable is not set"
                ))
            })?)
        } else if let Some(p) = url_pass {
            Some(p)
        } else if let Some(p) = &profile.password {
            Some(p.clone())
        } else if let Some(path) = &profile.password_file {
            Some(read_password_file(&expand_home(path))?)
        } else if let Some(var) = &profile.password_env {
            Some(std::env::var(var).map_err(|_| {
                usage(format!(
                    "the profile's password_env {var}: the environment variable is not set"
                ))
            })?)
        } else {
            None
        };
        if password.is_some() && username.is_none() {
            return Err(usage("a password needs a user name (-u)"));
        }

        let will = self.will_topic.as_ref().map(|topic| Will {
            topic: topic.clone(),
            payload: Bytes::from(self.will_payload.clone().unwrap_or_default().into_bytes()),
            qos: QoS::from_u8(self.will_qos.unwrap_or(0)).unwrap_or(QoS::AtMostOnce),
            retain: self.will_retain,
        });

        let mut properties = crate::client::Properties::default();
        // clap hands the -D values over flat; user-property is the one taking two values.
        let mut rest = self.property.as_slice();
        while !rest.is_empty() {
            let take = if rest.get(1).is_some_and(|p| p == "user-property") {
                4
            } else {
                3
            };
            if rest.len() < take {
                return Err(usage(format!(
                    "-D {}: needs COMMAND PROPERTY VALUE",
                    rest.join(" ")
                )));
            }
            let (group, tail) = rest.split_at(take);
            properties
                .add(&group[0], &group[1], &group[2..])
                .map_err(failure)?;
            rest = tail;
        }

        let session_expiry = match &self.session_expiry {
            Some(s) => Some(parse_session_expiry(s)?),
            None if self.no_clean_session && protocol == Protocol::V5 => Some(u32::MAX),
            None => None,
        };

        let mut options = ConnectOptions::new(endpoint, client_id);
        options.tls = tls;
        options.protocol = protocol;
        options.keep_alive = self.keepalive.or(profile.keepalive).unwrap_or(60);
        options.clean_start = !self.no_clean_session;
        options.session_expiry = session_expiry;
        options.username = username;
        options.password = password;
        options.will = will;
        options.properties = properties;
        options.nodelay = self.nodelay || profile.nodelay.unwrap_or(false);
        options.connect_timeout = Duration::from_secs(self.connect_timeout.unwrap_or(10).max(1));
        options.validate().map_err(failure)?;
        Ok(Resolved {
            options,
            url_topic,
            debug: self.debug,
            quiet: self.quiet,
        })
    }
}
