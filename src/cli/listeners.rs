//! `mq broker`'s quick-start flags for TLS and WebSocket listeners, turned into listener
//! configurations. `mq certs init` makes the files `--tls` reads.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use clap::Args;

use super::certs::{default_dir, CA_CERT, SERVER_CERT, SERVER_KEY};
use super::exit::{Failure, FailureKind};
use crate::broker::config::{ClientIdentity, ListenerConfig, ListenerKind};
use crate::net::tls::TlsSettings;
use crate::net::ws::WsSettings;

/// Where the TLS and WebSocket listeners are, beside `mq broker -p`/`--bind`.
const LISTENERS: &str = "Listeners";
/// The files and checks of the TLS listeners.
const TLS: &str = "TLS";

#[derive(Debug, Clone, Default, Args)]
pub struct ListenerArgs {
    /// Add a TLS listener (mqtts) with DIR's ca.crt, server.crt and server.key, as made by
    /// `mq certs init`; without DIR, the folder `mq certs` uses by default.
    #[arg(long, value_name = "DIR", num_args = 0..=1, help_heading = LISTENERS)]
    pub tls: Option<Option<PathBuf>>,
    /// Port of the TLS listener; 0 picks a free one.
    #[arg(long, default_value_t = 8883, value_name = "PORT", help_heading = LISTENERS)]
    pub tls_port: u16,
    /// Add a WebSocket listener (ws://) on this port; 0 picks a free one.
    #[arg(long, value_name = "PORT", help_heading = LISTENERS)]
    pub ws_port: Option<u16>,
    /// Add a secure WebSocket listener (wss://) on this port, with the TLS files.
    #[arg(long, value_name = "PORT", help_heading = LISTENERS)]
    pub wss_port: Option<u16>,
    /// Serve WebSocket only at this path (MQTT.js uses /mqtt); by default any path is
    /// accepted, as Mosquitto does.
    #[arg(long, value_name = "PATH", value_parser = parse_ws_path, help_heading = LISTENERS)]
    pub ws_path: Option<String>,
    /// Server certificate chain (PEM) instead of DIR/server.crt. Reloaded on SIGHUP.
    #[arg(long, value_name = "FILE", help_heading = TLS)]
    pub certfile: Option<PathBuf>,
    /// Server private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC) instead of DIR/server.key.
    #[arg(long, value_name = "FILE", help_heading = TLS)]
    pub keyfile: Option<PathBuf>,
    /// CA that client certificates must chain to, instead of DIR/ca.crt. With it, clients
    /// may present a certificate; with --require-certificate they must.
    #[arg(long, value_name = "FILE", help_heading = TLS)]
    pub cafile: Option<PathBuf>,
    /// Refuse TLS clients that do not present a certificate signed by the CA.
    #[arg(long, help_heading = TLS)]
    pub require_certificate: bool,
    /// The client certificate's Common Name is the client's user name, and no password is
    /// asked (implies --require-certificate).
    #[arg(long, conflicts_with = "use_subject_as_username", help_heading = TLS)]
    pub use_identity_as_username: bool,
    /// The client certificate's whole subject (`CN=client,O=mq`) is the user name
    /// (implies --require-certificate).
    #[arg(long, help_heading = TLS)]
    pub use_subject_as_username: bool,
    /// ALPN protocol name the TLS listeners offer (repeatable), e.g. `mqtt`.
    #[arg(long = "tls-alpn", value_name = "PROTOCOL", help_heading = TLS)]
    pub alpn: Vec<String>,
}

fn parse_ws_path(path: &str) -> Result<String, String> {
    if path.starts_with('/') && !path.contains(char::is_whitespace) {
        Ok(path.to_owned())
    } else {
        Err("a WebSocket path starts with / and has no spaces".into())
    }
}

impl ListenerArgs {
    fn identity(&self) -> ClientIdentity {
        if self.use_identity_as_username {
            ClientIdentity::CommonName
        } else if self.use_subject_as_username {
            ClientIdentity::Subject
        } else {
            ClientIdentity::None
        }
    }

    fn wants_tls(&self) -> bool {
        self.tls.is_some() || self.wss_port.is_some()
    }

    /// The TLS files: flags first, then the `--tls` folder, then `mq certs`' folder.
    fn tls_settings(&self) -> Result<TlsSettings, Failure> {
        let dir = match &self.tls {
            Some(Some(dir)) => Some(dir.clone()),
            _ => None,
        };
        let needs_dir = self.certfile.is_none()
            || self.keyfile.is_none()
            || (self.cafile.is_none() && self.requires_certificate());
        let dir = match dir {
            Some(dir) => dir,
            None if needs_dir => default_dir().ok_or_else(|| {
                Failure::new(
                    FailureKind::Usage,
                    "no home folder for the default certificates: give --tls DIR",
                )
            })?,
            None => PathBuf::new(),
        };
        let in_dir = |name: &str| dir.join(name);
        let cert = self.certfile.clone().unwrap_or_else(|| in_dir(SERVER_CERT));
        if !cert.exists() && self.certfile.is_none() {
            return Err(no_certificates(&dir));
        }
        let client_ca = match &self.cafile {
            Some(ca) => Some(ca.clone()),
            None if self.requires_certificate() => Some(in_dir(CA_CERT)),
            None => None,
        };
        Ok(TlsSettings {
            cert,
            key: self.keyfile.clone().unwrap_or_else(|| in_dir(SERVER_KEY)),
            client_ca,
            require_client_cert: self.requires_certificate(),
            alpn: self.alpn.clone(),
            host: None,
        })
    }

    fn requires_certificate(&self) -> bool {
        self.require_certificate || self.identity() != ClientIdentity::None
    }

    /// The listeners these flags add after the plain TCP one, in the order their URL
    /// lines are printed: mqtts, ws, wss.
    pub fn listeners(&self, bind: IpAddr) -> Result<Vec<ListenerConfig>, Failure> {
        let tls_only = self.certfile.is_some()
            || self.keyfile.is_some()
            || self.cafile.is_some()
            || self.requires_certificate()
            || !self.alpn.is_empty();
        if tls_only && !self.wants_tls() {
            return Err(Failure::new(
                FailureKind::Usage,
                "TLS options need a TLS listener: add --tls [DIR] or --wss-port PORT",
            ));
        }
        if self.ws_path.is_some() && self.ws_port.is_none() && self.wss_port.is_none() {
            return Err(Failure::new(
                FailureKind::Usage,
                "--ws-path needs a WebSocket listener: add --ws-port or --wss-port",
            ));
        }
        let ws = WsSettings {
            path: self.ws_path.clone(),
        };
        let identity = self.identity();
        let tls = self.wants_tls().then(|| self.tls_settings()).transpose()?;
        let mut listeners = Vec::new();
        if let (Some(tls), Some(_)) = (&tls, &self.tls) {
            listeners.push(ListenerConfig {
                bind: SocketAddr::new(bind, self.tls_port),
                kind: ListenerKind::Tls {
                    tls: tls.clone(),
                    identity,
                },
            });
        }
        if let Some(port) = self.ws_port {
            listeners.push(ListenerConfig {
                bind: SocketAddr::new(bind, port),
                kind: ListenerKind::Ws { ws: ws.clone() },
            });
        }
        if let (Some(tls), Some(port)) = (tls, self.wss_port) {
            listeners.push(ListenerConfig {
                bind: SocketAddr::new(bind, port),
                kind: ListenerKind::Wss { tls, ws, identity },
            });
        }
        Ok(listeners)
    }
}

fn no_certificates(dir: &Path) -> Failure {
    let hint = if default_dir().as_deref() == Some(dir) {
        "mq certs init".to_owned()
    } else {
        format!("mq certs init --dir {}", dir.display())
    };
    Failure::new(
        FailureKind::Usage,
        format!(
            "no {} in {}: make the certificates with `{hint}`, or give --certfile and --keyfile",
            SERVER_CERT,
            dir.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        listeners: ListenerArgs,
    }

    fn parse(args: &[&str]) -> ListenerArgs {
        Cli::try_parse_from(std::iter::once("mq").chain(args.iter().copied()))
            .unwrap()
            .listeners
    }

    fn localhost() -> IpAddr {
        IpAddr::from([127, 0, 0, 1])
    }

    #[test]
    fn no_flags_add_no_listener() {
        assert!(parse(&[]).listeners(localhost()).unwrap().is_empty());
    }

    #[test]
    fn ws_alone_needs_no_certificates_and_accepts_any_path() {
        let listeners = parse(&["--ws-port", "0"]).listeners(localhost()).unwrap();
        assert_eq!(listeners.len(), 1);
        assert_eq!(
            listeners[0].kind,
            ListenerKind::Ws {
                ws: WsSettings { path: None }
            }
        );
    }

    #[test]
    fn tls_dir_gives_the_files_and_requiring_certificates_adds_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SERVER_CERT), "x").unwrap();
        let d = dir.path().to_str().unwrap();
        let listeners = parse(&["--tls", d, "--wss-port", "0", "--use-identity-as-username"])
            .listeners(localhost())
            .unwrap();
        assert_eq!(listeners.len(), 2);
        let ListenerKind::Tls { tls, identity } = &listeners[0].kind else {
            panic!("{listeners:?}")
        };
        assert_eq!(listeners[0].bind.port(), 8883);
        assert_eq!(*identity, ClientIdentity::CommonName);
        assert_eq!(tls.key, dir.path().join(SERVER_KEY));
        assert_eq!(
            tls.client_ca.as_deref(),
            Some(dir.path().join(CA_CERT).as_path())
        );
        assert!(tls.require_client_cert);
        assert!(matches!(listeners[1].kind, ListenerKind::Wss { .. }));
    }

    #[test]
    fn a_missing_certificate_folder_says_how_to_make_one() {
        let err = parse(&["--tls", "/nonexistent/mq-certs"])
            .listeners(localhost())
            .unwrap_err();
        assert_eq!(err.kind, FailureKind::Usage);
        assert!(
            err.message
                .contains("mq certs init --dir /nonexistent/mq-certs"),
            "{}",
            err.message
        );
    }

    #[test]
    fn tls_options_without_a_tls_listener_are_a_usage_error() {
        let err = parse(&["--require-certificate"])
            .listeners(localhost())
            .unwrap_err();
        assert_eq!(err.kind, FailureKind::Usage);
        let err = parse(&["--ws-path", "/mqtt"])
            .listeners(localhost())
            .unwrap_err();
        assert_eq!(err.kind, FailureKind::Usage);
    }
}
