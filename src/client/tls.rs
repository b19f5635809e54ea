//! TLS client configuration from mosquitto-style options (--cafile, --capath, --cert, --key,
//! --insecure, --tls-version, --tls-alpn), and the reading of rustls errors back into causes.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::error::{ClientError, TlsFailure};

/// The TLS versions a user can pin with --tls-version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// Parses mosquitto's spellings: `tlsv1.2`, `tlsv1.3` (and `1.2`, `1.3`).
    pub fn parse(s: &str) -> Result<TlsVersion, ClientError> {
        match s.to_ascii_lowercase().trim_start_matches("tlsv") {
            "1.2" => Ok(TlsVersion::Tls12),
            "1.3" => Ok(TlsVersion::Tls13),
            "1" | "1.0" | "1.1" => Err(ClientError::InvalidOption(format!(
                "--tls-version {s}: TLS 1.0 and 1.1 are not supported (rustls speaks TLS 1.2 and 1.3)"
            ))),
            _ => Err(ClientError::InvalidOption(format!(
                "--tls-version {s}: expected tlsv1.2 or tlsv1.3"
            ))),
        }
    }
}

/// TLS options as the user gave them. All empty means: system roots, no client certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    pub cafile: Option<PathBuf>,
    /// A directory whose `*.pem`/`*.crt` files are trusted CAs.
    pub capath: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Do not check that the certificate names the host (the chain is still checked), as mosquitto.
    pub insecure: bool,
    pub version: Option<TlsVersion>,
    pub alpn: Vec<String>,
}

impl TlsOptions {
    /// Whether any option asks for TLS on its own (mosquitto turns TLS on for these).
    pub fn requested(&self) -> bool {
        self.cafile.is_some()
            || self.capath.is_some()
            || self.cert.is_some()
            || self.insecure
            || self.version.is_some()
            || !self.alpn.is_empty()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| pem_error(path, e))?;
    let certs = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(ClientError::Pem {
            path: path.to_owned(),
            message: "no PEM certificate found".into(),
        });
    }
    Ok(certs)
}

fn pem_error(path: &Path, e: rustls::pki_types::pem::Error) -> ClientError {
    match e {
        rustls::pki_types::pem::Error::Io(source) => ClientError::ReadFile {
            path: path.to_owned(),
            source,
        },
        rustls::pki_types::pem::Error::NoItemsFound => ClientError::Pem {
            path: path.to_owned(),
            message: "no PEM item of the expected kind found".into(),
        },
        other => ClientError::Pem {
            path: path.to_owned(),
            message: format!("not valid PEM: {other:?}"),
        },
    }
}

fn root_store(opts: &TlsOptions) -> Result<RootCertStore, ClientError> {
    let mut roots = RootCertStore::empty();
    let mut add = |cert: CertificateDer<'static>, origin: &Path| {
        roots.add(cert).map_err(|e| ClientError::Pem {
            path: origin.to_owned(),
            message: format!("not a usable CA certificate: {e}"),
        })
    };
    if let Some(cafile) = &opts.cafile {
        for cert in load_certs(cafile)? {
            add(cert, cafile)?;
        }
    }
    if let Some(capath) = &opts.capath {
        let entries = std::fs::read_dir(capath).map_err(|source| ClientError::ReadFile {
            path: capath.clone(),
            source,
        })?;
        let mut found = false;
        for entry in entries.flatten() {
            let path = entry.path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            let hashed = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.len() > 9 && n.as_bytes()[8] == b'.');
            if !(matches!(ext, "pem" | "crt") || hashed) || !path.is_file() {
                continue;
            }
            if let Ok(certs) = load_certs(&path) {
                for cert in certs {
                    add(cert, &path)?;
                    found = true;
                }
            }
        }
        if !found {
            return Err(ClientError::Pem {
                path: capath.clone(),
                message: "no CA certificate (*.pem, *.crt) in this directory".into(),
            });
        }
    }
    if opts.cafile.is_none() && opts.capath.is_none() {
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            // A system store may hold a certificate webpki cannot parse; skip it as browsers do.
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err(ClientError::TlsSetup(
                "no trusted CA certificates found on this system; give one with --cafile".into(),
            ));
        }
    }
    Ok(roots)
}

/// Builds the rustls configuration for these options.
pub fn client_config(opts: &TlsOptions) -> Result<ClientConfig, ClientError> {
    let provider = provider();
    let versions: &[&'static rustls::SupportedProtocolVersion] = match opts.version {
        Some(TlsVersion::Tls12) => &[&rustls::version::TLS12],
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        None => rustls::DEFAULT_VERSIONS,
    };
    let roots = Arc::new(root_store(opts)?);
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| ClientError::TlsSetup(e.to_string()))?;
    let builder = if opts.insecure {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| ClientError::TlsSetup(e.to_string()))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyHostName { inner }))
    } else {
        builder.with_root_certificates(roots)
    };
    let mut config = match (&opts.cert, &opts.key) {
        (Some(cert), Some(key)) => {
            let chain = load_certs(cert)?;
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(key, e))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| match e {
                    rustls::Error::InconsistentKeys(_) => ClientError::TlsSetup(format!(
                        "the key in {} does not match the certificate in {}",
                        key.display(),
                        cert.display()
                    )),
                    other => ClientError::TlsSetup(format!(
                        "cannot use {} with {}: {other}",
                        cert.display(),
                        key.display()
                    )),
                })?
        }
        (Some(_), None) => {
            return Err(ClientError::InvalidOption(
                "--cert needs --key (the client certificate's private key)".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(ClientError::InvalidOption(
                "--key needs --cert (the client certificate)".into(),
            ))
        }
        (None, None) => builder.with_no_client_auth(),
    };
    config.alpn_protocols = opts.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Ok(config)
}

/// mosquitto's --insecure: check the chain, but accept any host name.
#[derive(Debug)]
struct AnyHostName {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Finds a rustls error anywhere in an error's chain (rumqttc wraps them in io::Error).
pub(crate) fn find_rustls_error<'a>(
    err: &'a (dyn StdError + 'static),
) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                    return Some(tls);
                }
            }
        }
        current = e.source();
    }
    None
}

/// Tells in words what a rustls error means for the user.
pub(crate) fn classify(err: &rustls::Error) -> TlsFailure {
    use rustls::AlertDescription as Alert;
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => TlsFailure::UnknownCa,
            CertificateError::NotValidForName => TlsFailure::NameMismatch {
                expected: "the host name".into(),
                presented: Vec::new(),
            },
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => TlsFailure::NameMismatch {
                expected: server_name(expected),
                presented: presented.iter().map(|n| tidy_name(n)).collect(),
            },
            CertificateError::Expired => TlsFailure::Expired {
                detail: String::new(),
            },
            CertificateError::ExpiredContext { time, not_after } => TlsFailure::Expired {
                detail: format!(
                    " (on {}; it is now {})",
                    unix_date(not_after.as_secs()),
                    unix_date(time.as_secs())
                ),
            },
            CertificateError::NotValidYet => TlsFailure::NotYetValid {
                detail: String::new(),
            },
            CertificateError::NotValidYetContext { time, not_before } => TlsFailure::NotYetValid {
                detail: format!(
                    " (from {}; it is now {})",
                    unix_date(not_before.as_secs()),
                    unix_date(time.as_secs())
                ),
            },
            other => TlsFailure::Other(format!("the server's certificate is not acceptable: {other:?}")),
        },
        rustls::Error::AlertReceived(alert) => match alert {
            Alert::CertificateRequired => TlsFailure::ClientCertificateRequired,
            Alert::HandshakeFailure => TlsFailure::Alert(
                "handshake failure (does the server need a client certificate, or another TLS version?)"
                    .into(),
            ),
            Alert::UnknownCA => {
                TlsFailure::ClientCertificateRejected("signed by a CA the server does not trust".into())
            }
            Alert::BadCertificate => TlsFailure::ClientCertificateRejected("bad certificate".into()),
            Alert::CertificateExpired => {
                TlsFailure::ClientCertificateRejected("the client certificate has expired".into())
            }
            Alert::ProtocolVersion => {
                TlsFailure::Alert("protocol version (the server does not accept this TLS version)".into())
            }
            other => TlsFailure::Alert(format!("{other:?}")),
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateHandshakeMessage { .. } => {
            TlsFailure::NotTls
        }
        other => TlsFailure::Other(other.to_string()),
    }
}

fn server_name(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(dns) => dns.as_ref().to_owned(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

/// webpki presents names as `DnsName("x")` / `IpAddress(1.2.3.4)`; people want `x`.
fn tidy_name(name: &str) -> String {
    for prefix in ["DnsName(", "IpAddress(", "UriName(", "Uri("] {
        if let Some(inner) = name.strip_prefix(prefix).and_then(|r| r.strip_suffix(')')) {
            return inner.trim_matches('"').to_owned();
        }
    }
    name.trim_matches('"').to_owned()
}

fn unix_date(secs: u64) -> String {
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{secs} s after 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_versions_use_mosquittos_names() {
        assert_eq!(TlsVersion::parse("tlsv1.2").unwrap(), TlsVersion::Tls12);
        assert_eq!(TlsVersion::parse("tlsv1.3").unwrap(), TlsVersion::Tls13);
        assert!(TlsVersion::parse("tlsv1.1")
            .unwrap_err()
            .to_string()
            .contains("not supported"));
    }

    #[test]
    fn certificate_names_are_shown_plainly() {
        assert_eq!(tidy_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(tidy_name("IpAddress(127.0.0.1)"), "127.0.0.1");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let opts = TlsOptions {
            cafile: Some("/nonexistent/ca.pem".into()),
            ..TlsOptions::default()
        };
        let err = client_config(&opts).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn an_unknown_issuer_is_an_unknown_ca() {
        let err = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(classify(&err), TlsFailure::UnknownCa);
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired);
        assert_eq!(classify(&alert), TlsFailure::ClientCertificateRequired);
    }
}
