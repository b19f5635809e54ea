//! TLS for listeners: rustls with the ring provider, TLS 1.2 and 1.3.
//!
//! A [`ServerTls`] holds the configuration built from PEM files and can rebuild it on
//! request (SIGHUP): new connections get the new certificate, open ones keep theirs.
//! Loading checks what a person gets wrong and names the file: not PEM, no certificate,
//! a key that does not belong to the certificate, an expired certificate. A certificate
//! whose SANs do not cover the host clients will use is only warned about.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::RwLock;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use super::pem::{self, PemError};
use super::x509;

/// The files and choices of one TLS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The server certificate, followed by any intermediates (PEM).
    pub cert: PathBuf,
    /// The server's private key: PKCS#8, PKCS#1 RSA or SEC1 EC (PEM).
    pub key: PathBuf,
    /// CA certificates that client certificates must chain to; `None` asks for none.
    pub client_ca: Option<PathBuf>,
    /// Refuse clients that present no certificate (needs `client_ca`).
    pub require_client_cert: bool,
    /// ALPN protocol names offered, most preferred first; empty for no ALPN.
    pub alpn: Vec<String>,
    /// The host name or address clients will connect to, checked against the SANs.
    pub host: Option<String>,
}

impl TlsSettings {
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> TlsSettings {
        TlsSettings {
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
            require_client_cert: false,
            alpn: Vec::new(),
            host: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("{} is not a valid X.509 certificate: {detail}", path.display())]
    BadCertificate { path: PathBuf, detail: String },
    #[error("the certificate in {} expired on {not_after}; make a new one (`mq certs server`)", path.display())]
    Expired { path: PathBuf, not_after: String },
    #[error("the key in {} does not match the certificate in {} (they are from different pairs)", key.display(), cert.display())]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("cannot use the private key in {}: {detail}", path.display())]
    BadKey { path: PathBuf, detail: String },
    #[error("cannot use the client CA file {}: {detail}", path.display())]
    ClientCa { path: PathBuf, detail: String },
    #[error("requiring client certificates needs a CA file to check them against")]
    RequireWithoutCa,
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The one crypto provider the project uses. Explicit rather than the process default,
/// which is ambiguous when a dependency enables a second provider.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds a server configuration from the settings' files, checking them on the way.
pub fn server_config(settings: &TlsSettings) -> Result<ServerConfig, TlsError> {
    let provider = provider();
    let chain = pem::load_certificates(&settings.cert)?;
    let key = pem::load_private_key(&settings.key)?;
    check_leaf(&settings.cert, &chain[0], settings.host.as_deref())?;
    check_key_matches(&provider, settings, &chain, &key)?;

    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &settings.client_ca {
        Some(ca) => {
            let roots = client_roots(ca)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if settings.require_client_cert {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier.build().map_err(|e| TlsError::ClientCa {
                path: ca.clone(),
                detail: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
        None if settings.require_client_cert => return Err(TlsError::RequireWithoutCa),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::BadKey {
            path: settings.key.clone(),
            detail: e.to_string(),
        })?;
    config.alpn_protocols = settings
        .alpn
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    Ok(config)
}

fn client_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in pem::load_certificates(path)? {
        if let Ok(parsed) = x509::parse(&cert) {
            let (_, not_after) = x509::validity(&parsed);
            if not_after < time::OffsetDateTime::now_utc() {
                warn!(
                    "the CA certificate in {} expired on {}; client certificates it signed will be refused",
                    path.display(),
                    x509::format_date(not_after)
                );
            }
        }
        roots.add(cert).map_err(|e| TlsError::ClientCa {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// Refuses an expired leaf; warns about one not valid yet and SANs that miss `host`.
fn check_leaf(path: &Path, leaf: &CertificateDer<'_>, host: Option<&str>) -> Result<(), TlsError> {
    let cert = x509::parse(leaf).map_err(|detail| TlsError::BadCertificate {
        path: path.to_owned(),
        detail,
    })?;
    let (not_before, not_after) = x509::validity(&cert);
    let now = time::OffsetDateTime::from(SystemTime::now());
    if not_after < now {
        return Err(TlsError::Expired {
            path: path.to_owned(),
            not_after: x509::format_date(not_after),
        });
    }
    if not_before > now {
        warn!(
            "the certificate in {} is not valid before {}; clients will refuse it until then (is the clock right?)",
            path.display(),
            x509::format_date(not_before)
        );
    }
    if let Some(host) = host {
        let sans = x509::subject_alt_names(&cert);
        if sans.is_empty() {
            warn!(
                "the certificate in {} has no subjectAltName; clients check SANs, not the CN, so they will refuse it for {host}",
                path.display()
            );
        } else if !x509::sans_cover(&sans, host) {
            let names: Vec<String> = sans.iter().map(ToString::to_string).collect();
            warn!(
                "no subjectAltName of the certificate in {} covers {host} (it has {}); clients connecting to {host} will refuse it",
                path.display(),
                names.join(", ")
            );
        }
    }
    Ok(())
}

fn check_key_matches(
    provider: &CryptoProvider,
    settings: &TlsSettings,
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
) -> Result<(), TlsError> {
    let signing_key = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| TlsError::BadKey {
            path: settings.key.clone(),
            detail: e.to_string(),
        })?;
    let certified = rustls::sign::CertifiedKey::new(chain.to_vec(), signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(()),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::KeyMismatch {
                cert: settings.cert.clone(),
                key: settings.key.clone(),
            })
        }
        // The provider cannot tell for this key type: the handshake will.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(()),
        Err(e) => Err(TlsError::BadCertificate {
            path: settings.cert.clone(),
            detail: e.to_string(),
        }),
    }
}

/// A listener's TLS configuration, replaceable while connections use the old one.
#[derive(Debug)]
pub struct ServerTls {
    settings: TlsSettings,
    current: RwLock<Arc<ServerConfig>>,
}

impl ServerTls {
    pub fn load(settings: TlsSettings) -> Result<ServerTls, TlsError> {
        let config = server_config(&settings)?;
        Ok(ServerTls {
            settings,
            current: RwLock::new(Arc::new(config)),
        })
    }

    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// An acceptor with the configuration in force now.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.read().clone())
    }

    /// Reads the files again. On failure the old configuration stays in force.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.settings)?;
        *self.current.write() = Arc::new(config);
        info!(
            "reloaded TLS certificate {} and key {}",
            self.settings.cert.display(),
            self.settings.key.display()
        );
        Ok(())
    }
}

/// Which part of a client certificate names the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerName {
    /// The subject's Common Name.
    CommonName,
    /// The whole subject, RFC 2253 style (`CN=client,O=mq`).
    Subject,
}

/// The verified client certificate's name, if the client presented one.
pub fn peer_name<S>(stream: &TlsStream<S>, which: PeerName) -> Option<String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let leaf = stream.get_ref().1.peer_certificates()?.first()?;
    let cert = x509::parse(leaf).ok()?;
    match which {
        PeerName::CommonName => x509::common_name(&cert),
        PeerName::Subject => Some(x509::rfc2253(cert.subject())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::{self, KeyType, OutputFile};

    /// A CA-signed server certificate for localhost in `dir`, valid `days` (negative:
    /// expired that many days ago).
    fn write_pair(dir: &Path, name: &str, days: i64) -> (PathBuf, PathBuf) {
        let ca_key = certs::generate_key(KeyType::EcdsaP256).unwrap();
        let ca_params = certs::ca_params("test CA", 30).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = certs::generate_key(KeyType::EcdsaP256).unwrap();
        let mut params =
            certs::server_params(&["localhost".into(), "127.0.0.1".into()], 1).unwrap();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(days.abs() + 2);
        params.not_after = now + time::Duration::days(days);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let (cert_path, key_path) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        certs::write_files(
            &[
                OutputFile {
                    path: cert_path.clone(),
                    contents: cert.pem(),
                    private: false,
                },
                OutputFile {
                    path: key_path.clone(),
                    contents: key.serialize_pem(),
                    private: true,
                },
            ],
            true,
        )
        .unwrap();
        (cert_path, key_path)
    }

    #[test]
    fn a_matching_pair_loads_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "server", 10);
        let tls = ServerTls::load(TlsSettings::new(&cert, &key)).unwrap();
        let before = tls.acceptor().config().clone();
        write_pair(dir.path(), "server", 10);
        tls.reload().unwrap();
        assert!(!Arc::ptr_eq(&before, tls.acceptor().config()));
    }

    #[test]
    fn a_key_from_another_pair_is_named_as_not_matching() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = write_pair(dir.path(), "a", 10);
        let (_, other_key) = write_pair(dir.path(), "b", 10);
        let err = server_config(&TlsSettings::new(&cert, &other_key)).unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("b.key does not match the certificate in"),
            "{err}"
        );
    }

    #[test]
    fn an_expired_certificate_is_refused_with_its_date() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "old", -1);
        let err = server_config(&TlsSettings::new(&cert, &key)).unwrap_err();
        assert!(matches!(err, TlsError::Expired { .. }), "{err}");
        assert!(err.to_string().contains("old.crt expired on"), "{err}");
    }

    #[test]
    fn a_failed_reload_keeps_the_configuration_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "server", 10);
        let tls = ServerTls::load(TlsSettings::new(&cert, &key)).unwrap();
        let before = tls.acceptor().config().clone();
        std::fs::write(&cert, "not a certificate").unwrap();
        assert!(matches!(
            tls.reload(),
            Err(TlsError::Pem(PemError::NotPem { .. }))
        ));
        assert!(Arc::ptr_eq(&before, tls.acceptor().config()));
    }

    #[test]
    fn requiring_client_certificates_needs_a_ca() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "server", 10);
        let mut settings = TlsSettings::new(&cert, &key);
        settings.require_client_cert = true;
        assert!(matches!(
            server_config(&settings),
            Err(TlsError::RequireWithoutCa)
        ));
        settings.client_ca = Some(cert.clone());
        // A leaf is no CA, but webpki accepts any certificate as a trust anchor.
        assert!(server_config(&settings).is_ok());
    }
}
