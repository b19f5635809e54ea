//! PEM files: certificate chains and private keys.
//!
//! Parsing goes only through rustls-pki-types' [`PemObject`] trait. The file is read once
//! into memory so that a failure can say what the file holds instead ("it holds: PRIVATE
//! KEY") — the usual mistake is a certificate and a key given the wrong way round.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a PEM file could not be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{} is not a PEM file (no \"-----BEGIN\" line); if it is DER, convert it with `openssl x509 -inform der -in {} -out cert.pem`", path.display(), path.display())]
    NotPem { path: PathBuf },
    #[error("no certificate found in {} (it holds: {found})", path.display())]
    NoCertificate { path: PathBuf, found: Labels },
    #[error("no private key found in {} (it holds: {found}); keys may be PKCS#8, PKCS#1 RSA or SEC1 EC", path.display())]
    NoPrivateKey { path: PathBuf, found: Labels },
    #[error("the private key in {} is encrypted with a passphrase; give the broker an unencrypted copy (`openssl pkey -in {} -out plain.key`)", path.display(), path.display())]
    EncryptedKey { path: PathBuf },
    #[error("{} is not valid PEM: {detail}", path.display())]
    Malformed { path: PathBuf, detail: String },
}

/// The `-----BEGIN X-----` labels a file holds, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels(pub Vec<String>);

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("nothing recognisable");
        }
        f.write_str(&self.0.join(", "))
    }
}

/// The labels of every `-----BEGIN X-----` line, in order.
pub fn labels(text: &[u8]) -> Labels {
    let text = String::from_utf8_lossy(text);
    Labels(
        text.lines()
            .filter_map(|line| {
                line.trim()
                    .strip_prefix("-----BEGIN ")?
                    .strip_suffix("-----")
                    .map(str::to_owned)
            })
            .collect(),
    )
}

fn read(path: &Path) -> Result<Vec<u8>, PemError> {
    std::fs::read(path).map_err(|source| PemError::Read {
        path: path.to_owned(),
        source,
    })
}

fn malformed(path: &Path, e: pem::Error) -> PemError {
    PemError::Malformed {
        path: path.to_owned(),
        detail: e.to_string(),
    }
}

/// Every certificate in a PEM file, in file order (leaf first for a chain).
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let bytes = read(path)?;
    certificates_from(path, &bytes)
}

/// [`load_certificates`] on bytes already read; `path` is only for messages.
pub fn certificates_from(
    path: &Path,
    bytes: &[u8],
) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let found = labels(bytes);
    if found.0.is_empty() {
        return Err(PemError::NotPem {
            path: path.to_owned(),
        });
    }
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| malformed(path, e))?;
    if certs.is_empty() {
        return Err(PemError::NoCertificate {
            path: path.to_owned(),
            found,
        });
    }
    Ok(certs)
}

/// The first private key in a PEM file: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, PemError> {
    let bytes = read(path)?;
    private_key_from(path, &bytes)
}

/// [`load_private_key`] on bytes already read; `path` is only for messages.
pub fn private_key_from(path: &Path, bytes: &[u8]) -> Result<PrivateKeyDer<'static>, PemError> {
    let found = labels(bytes);
    if found.0.is_empty() {
        return Err(PemError::NotPem {
            path: path.to_owned(),
        });
    }
    match PrivateKeyDer::from_pem_slice(bytes) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) if found.0.iter().any(|l| l.contains("ENCRYPTED")) => {
            Err(PemError::EncryptedKey {
                path: path.to_owned(),
            })
        }
        Err(pem::Error::NoItemsFound) => Err(PemError::NoPrivateKey {
            path: path.to_owned(),
            found,
        }),
        Err(e) => Err(malformed(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
    const PKCS8: &str = "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n";
    const PKCS1: &str = "-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n";
    const SEC1: &str = "-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n";

    fn path() -> &'static Path {
        Path::new("/etc/mq/x.pem")
    }

    #[test]
    fn a_file_without_pem_markers_is_not_pem_and_the_message_names_it() {
        let err = certificates_from(path(), b"\x30\x82\x01\x0a binary DER").unwrap_err();
        assert!(matches!(err, PemError::NotPem { .. }));
        assert!(err.to_string().contains("/etc/mq/x.pem is not a PEM file"));
        let err = private_key_from(path(), b"").unwrap_err();
        assert!(matches!(err, PemError::NotPem { .. }));
    }

    #[test]
    fn a_key_given_as_certificate_says_what_the_file_holds() {
        let err = certificates_from(path(), PKCS8.as_bytes()).unwrap_err();
        assert!(matches!(err, PemError::NoCertificate { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "no certificate found in /etc/mq/x.pem (it holds: PRIVATE KEY)"
        );
    }

    #[test]
    fn a_certificate_given_as_key_says_what_the_file_holds() {
        let err = private_key_from(path(), CERT.as_bytes()).unwrap_err();
        assert!(matches!(err, PemError::NoPrivateKey { .. }), "{err}");
        assert!(err.to_string().contains("(it holds: CERTIFICATE)"), "{err}");
    }

    #[test]
    fn every_key_format_is_recognised() {
        assert!(matches!(
            private_key_from(path(), PKCS8.as_bytes()),
            Ok(PrivateKeyDer::Pkcs8(_))
        ));
        assert!(matches!(
            private_key_from(path(), PKCS1.as_bytes()),
            Ok(PrivateKeyDer::Pkcs1(_))
        ));
        assert!(matches!(
            private_key_from(path(), SEC1.as_bytes()),
            Ok(PrivateKeyDer::Sec1(_))
        ));
    }

    #[test]
    fn an_encrypted_key_is_named_as_such() {
        let text =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = private_key_from(path(), text.as_bytes()).unwrap_err();
        assert!(matches!(err, PemError::EncryptedKey { .. }), "{err}");
    }

    #[test]
    fn broken_base64_is_malformed() {
        let text = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let err = certificates_from(path(), text.as_bytes()).unwrap_err();
        assert!(matches!(err, PemError::Malformed { .. }), "{err}");
    }

    #[test]
    fn a_chain_keeps_its_order() {
        let two = format!("{CERT}{CERT}");
        assert_eq!(certificates_from(path(), two.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let err = load_certificates(Path::new("/nonexistent/mq/ca.crt")).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("cannot read /nonexistent/mq/ca.crt"));
    }
}
