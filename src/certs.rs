//! Certificates for MQTT over TLS: a private CA, server and client certificates signed by
//! it, and what `mq certs show` / `verify` read back. The command line (`src/cli/certs.rs`)
//! decides file names, prompts and output; this module makes, reads and checks.

use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, PKCS_ECDSA_P256_SHA256, PKCS_ED25519,
    PKCS_RSA_SHA256,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::net::pem::{self, PemError};
use crate::net::x509::{self, San};

/// Key algorithms `mq certs` can generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// ECDSA on P-256 with SHA-256: small, fast, understood by every TLS stack in use.
    EcdsaP256,
    /// Ed25519: smallest and fastest; some older MQTT clients and devices lack it.
    Ed25519,
    /// RSA 2048 with SHA-256, for old devices that know nothing else. Slow to generate.
    Rsa2048,
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("cannot generate the key: {0}")]
    KeyGeneration(String),
    #[error("cannot make the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{} is not a usable certificate: {detail}", path.display())]
    BadCertificate { path: PathBuf, detail: String },
    #[error("cannot use the key in {}: {detail}", path.display())]
    BadKey { path: PathBuf, detail: String },
    #[error("{} is encrypted; a passphrase is needed to use it", path.display())]
    PassphraseNeeded { path: PathBuf },
    #[error("cannot decrypt {}: wrong passphrase?", path.display())]
    WrongPassphrase { path: PathBuf },
    #[error("cannot encrypt the key: {0}")]
    Encrypt(String),
    #[error("{} exists; use --force to replace it", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Makes a new key pair.
pub fn generate_key(kind: KeyType) -> Result<KeyPair, CertError> {
    match kind {
        KeyType::EcdsaP256 => Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?),
        KeyType::Ed25519 => {
            // ring writes Ed25519 keys as PKCS#8 v2 (with the public key), which OpenSSL
            // 3.0 (and so Mosquitto) cannot read; v1 without it is the form everyone reads.
            let v2 = KeyPair::generate_for(&PKCS_ED25519)?.serialize_der();
            let info = pkcs8::PrivateKeyInfoRef::try_from(v2.as_slice())
                .map_err(|e| CertError::KeyGeneration(e.to_string()))?;
            let v1 = pkcs8::PrivateKeyInfoRef::new(info.algorithm, info.private_key);
            let der = pkcs8::der::Encode::to_der(&v1)
                .map_err(|e| CertError::KeyGeneration(e.to_string()))?;
            Ok(KeyPair::from_pkcs8_der_and_sign_algo(
                &PrivatePkcs8KeyDer::from(der),
                &PKCS_ED25519,
            )?)
        }
        KeyType::Rsa2048 => {
            // ring (rcgen's backend here) signs with RSA keys but cannot generate them.
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::PrivateKey::new(&mut getrandom04::SysRng, 2048)
                .map_err(|e| CertError::KeyGeneration(e.to_string()))?;
            let der = key
                .to_pkcs8_der()
                .map_err(|e| CertError::KeyGeneration(e.to_string()))?;
            let der = PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
            Ok(KeyPair::from_pkcs8_der_and_sign_algo(
                &der,
                &PKCS_RSA_SHA256,
            )?)
        }
    }
}

fn validity(params: &mut CertificateParams, days: u32) {
    // An hour of slack for clocks a little behind ours.
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(i64::from(days));
}

fn random_serial(params: &mut CertificateParams) -> Result<(), CertError> {
    let mut serial = [0u8; 16];
    getrandom04::fill(&mut serial).map_err(|e| CertError::KeyGeneration(e.to_string()))?;
    // Positive and non-zero, as RFC 5280 asks.
    serial[0] = (serial[0] & 0x7f) | 0x01;
    params.serial_number = Some(serial.to_vec().into());
    Ok(())
}

/// A self-signed CA certificate, allowed to sign end-entity certificates only.
pub fn ca_params(common_name: &str, days: u32) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "mq");
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut params, days);
    random_serial(&mut params)?;
    Ok(params)
}

/// The names a server certificate covers: IP addresses become IP SANs, the rest DNS SANs.
/// Duplicates are dropped, order is kept.
pub fn server_sans(names: &[String]) -> Vec<SanType> {
    let mut seen = Vec::new();
    let mut sans = Vec::new();
    for name in names {
        let name = name.trim().trim_start_matches('[').trim_end_matches(']');
        if name.is_empty() || seen.iter().any(|s: &String| s.eq_ignore_ascii_case(name)) {
            continue;
        }
        seen.push(name.to_owned());
        match name.parse::<IpAddr>() {
            Ok(ip) => sans.push(SanType::IpAddress(ip)),
            Err(_) => match name.try_into() {
                Ok(dns) => sans.push(SanType::DnsName(dns)),
                Err(_) => continue,
            },
        }
    }
    sans
}

/// A server certificate for `names` (its CN is the first name).
pub fn server_params(names: &[String], days: u32) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "mq");
    dn.push(
        DnType::CommonName,
        names.first().map_or("mq broker", String::as_str),
    );
    params.distinguished_name = dn;
    params.subject_alt_names = server_sans(names);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, days);
    random_serial(&mut params)?;
    Ok(params)
}

/// A client certificate whose CN is `name` (what `use_identity_as_username` reads).
pub fn client_params(name: &str, days: u32) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "mq");
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, days);
    random_serial(&mut params)?;
    Ok(params)
}

/// A CA read from its files, ready to sign.
pub struct Ca {
    pub issuer: Issuer<'static, KeyPair>,
    pub cert_pem: String,
}

/// Reads a CA certificate and its key (plain PKCS#8, or PKCS#8 encrypted with
/// `passphrase`). Plain keys are read through rustls-pki-types' PemObject; the encrypted
/// form is a label that crate does not know, so it goes through the pkcs8 crate.
pub fn load_ca(
    cert_path: &Path,
    key_path: &Path,
    passphrase: Option<&str>,
) -> Result<Ca, CertError> {
    let cert_bytes = fs::read(cert_path).map_err(|source| PemError::Read {
        path: cert_path.to_owned(),
        source,
    })?;
    let cert = pem::certificates_from(cert_path, &cert_bytes)?
        .into_iter()
        .next()
        .ok_or_else(|| CertError::BadCertificate {
            path: cert_path.to_owned(),
            detail: "empty".into(),
        })?;
    let key_bytes = fs::read(key_path).map_err(|source| PemError::Read {
        path: key_path.to_owned(),
        source,
    })?;
    let key = if pem::labels(&key_bytes)
        .0
        .iter()
        .any(|l| l == "ENCRYPTED PRIVATE KEY")
    {
        let Some(passphrase) = passphrase else {
            return Err(CertError::PassphraseNeeded {
                path: key_path.to_owned(),
            });
        };
        decrypt_key(key_path, &key_bytes, passphrase)?
    } else {
        pem::private_key_from(key_path, &key_bytes)?
    };
    let key_pair = KeyPair::try_from(&key).map_err(|e| CertError::BadKey {
        path: key_path.to_owned(),
        detail: format!("{e} (PKCS#8 keys work; convert with `openssl pkcs8 -topk8 -nocrypt`)"),
    })?;
    let parsed = x509::parse(&cert).map_err(|detail| CertError::BadCertificate {
        path: cert_path.to_owned(),
        detail,
    })?;
    if parsed.public_key().raw != key_pair.subject_public_key_info().as_slice() {
        return Err(CertError::BadKey {
            path: key_path.to_owned(),
            detail: format!(
                "it does not belong to the certificate in {}",
                cert_path.display()
            ),
        });
    }
    if !parsed.is_ca() {
        return Err(CertError::BadCertificate {
            path: cert_path.to_owned(),
            detail: "it is not a CA certificate (no basicConstraints CA:TRUE)".into(),
        });
    }
    let issuer =
        Issuer::from_ca_cert_der(&cert, key_pair).map_err(|e| CertError::BadCertificate {
            path: cert_path.to_owned(),
            detail: e.to_string(),
        })?;
    let cert_pem = String::from_utf8_lossy(&cert_bytes).into_owned();
    Ok(Ca { issuer, cert_pem })
}

/// PKCS#8 encrypted with a passphrase (PBES2: scrypt and AES-256-CBC, which OpenSSL 1.1+
/// and so Mosquitto read), as `ENCRYPTED PRIVATE KEY` PEM.
pub fn encrypt_key(key: &KeyPair, passphrase: &str) -> Result<String, CertError> {
    use pkcs8::der::pem::LineEnding;
    let der = key.serialize_der();
    let info = pkcs8::PrivateKeyInfoRef::try_from(der.as_slice())
        .map_err(|e| CertError::Encrypt(e.to_string()))?;
    let encrypted = info
        .encrypt(passphrase.as_bytes())
        .map_err(|e| CertError::Encrypt(e.to_string()))?;
    let pem = encrypted
        .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .map_err(|e| CertError::Encrypt(e.to_string()))?;
    Ok(pem.to_string())
}

fn decrypt_key(
    path: &Path,
    bytes: &[u8],
    passphrase: &str,
) -> Result<PrivateKeyDer<'static>, CertError> {
    use pkcs8::der::SecretDocument;
    let bad = |detail: String| CertError::BadKey {
        path: path.to_owned(),
        detail,
    };
    let (_label, der) = pkcs8::der::pem::decode_vec(bytes).map_err(|e| bad(e.to_string()))?;
    let encrypted = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
        .map_err(|e| bad(e.to_string()))?;
    let plain: SecretDocument =
        encrypted
            .decrypt(passphrase.as_bytes())
            .map_err(|_| CertError::WrongPassphrase {
                path: path.to_owned(),
            })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        plain.as_bytes().to_vec(),
    )))
}

/// One file to write: private keys get mode 0600, certificates 0644.
pub struct OutputFile {
    pub path: PathBuf,
    pub contents: String,
    pub private: bool,
}

/// Writes `files`, refusing (before writing any) to replace one unless `force`. Each file
/// is written to a temporary file in the same folder and renamed into place, so a reader
/// (a broker reloading on SIGHUP) never sees half a file.
pub fn write_files(files: &[OutputFile], force: bool) -> Result<(), CertError> {
    if !force {
        if let Some(existing) = files.iter().find(|f| f.path.exists()) {
            return Err(CertError::Exists {
                path: existing.path.clone(),
            });
        }
    }
    for file in files {
        let write_err = |source| CertError::Write {
            path: file.path.clone(),
            source,
        };
        let dir = match file.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(write_err)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(write_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = if file.private { 0o600 } else { 0o644 };
            fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode)).map_err(write_err)?;
        }
        tmp.write_all(file.contents.as_bytes()).map_err(write_err)?;
        tmp.as_file().sync_all().map_err(write_err)?;
        tmp.persist(&file.path).map_err(|e| write_err(e.error))?;
    }
    Ok(())
}

/// What `mq certs show` prints about one certificate.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub sans: Vec<San>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub is_ca: bool,
    pub key_algorithm: String,
    /// SHA-256 of the DER, upper-case hex pairs joined by `:` as openssl prints it.
    pub sha256_fingerprint: String,
}

impl CertInfo {
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        self.not_after < now
    }
}

/// Reads one certificate's facts.
pub fn describe(der: &CertificateDer<'_>) -> Result<CertInfo, String> {
    let cert = x509::parse(der)?;
    let (not_before, not_after) = x509::validity(&cert);
    let key_algorithm = {
        let oid = &cert.public_key().algorithm.algorithm;
        x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
            .map(str::to_owned)
            .unwrap_or_else(|_| oid.to_id_string())
    };
    Ok(CertInfo {
        subject: x509::rfc2253(cert.subject()),
        issuer: x509::rfc2253(cert.issuer()),
        serial: x509::hex(cert.raw_serial()),
        sans: x509::subject_alt_names(&cert),
        not_before,
        not_after,
        is_ca: cert.is_ca(),
        key_algorithm,
        sha256_fingerprint: fingerprint(der),
    })
}

/// `AB:CD:…`, SHA-256 over the DER.
pub fn fingerprint(der: &CertificateDer<'_>) -> String {
    Sha256::digest(der.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What a chain is good for, once checked against a CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub server_auth: bool,
    pub client_auth: bool,
}

/// Checks that `chain` (leaf first, then intermediates) leads to one of `roots`, is in
/// its validity period at `now`, and is allowed for server or client authentication.
/// The error is webpki's reason for the usage that came closest.
pub fn verify(
    roots: &[CertificateDer<'_>],
    chain: &[CertificateDer<'_>],
    now: std::time::SystemTime,
) -> Result<Verified, String> {
    let anchors: Vec<_> = roots
        .iter()
        .map(|root| {
            webpki::anchor_from_trusted_cert(root)
                .map_err(|e| format!("the CA certificate is not usable: {e:?}"))
        })
        .collect::<Result<_, _>>()?;
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Err("no certificate to check".into());
    };
    let leaf = webpki::EndEntityCert::try_from(leaf)
        .map_err(|e| format!("the certificate does not parse: {e:?}"))?;
    let time = UnixTime::since_unix_epoch(
        now.duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default(),
    );
    let algorithms = webpki::ALL_VERIFICATION_ALGS;
    let check = |usage| {
        leaf.verify_for_usage(algorithms, &anchors, intermediates, time, usage, None, None)
            .map(|_| ())
    };
    let server = check(webpki::KeyUsage::server_auth());
    let client = check(webpki::KeyUsage::client_auth());
    match (&server, &client) {
        // Report the failure that is not about the usage: the other one says more.
        (Err(s), Err(c)) => Err(explain(match s {
            webpki::Error::RequiredEkuNotFoundContext(_) => c,
            _ => s,
        })),
        _ => Ok(Verified {
            server_auth: server.is_ok(),
            client_auth: client.is_ok(),
        }),
    }
}

fn explain(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => "it was not signed by this CA (unknown issuer)".into(),
        // webpki found the CA by name, but its key did not make the signature.
        E::InvalidSignatureForPublicKey => {
            "it was not signed by this CA (a CA of the same name, but another key)".into()
        }
        E::CertExpired { .. } => format!("it has expired ({e:?})"),
        E::CertNotValidYet { .. } => format!("it is not valid yet ({e:?})"),
        E::RequiredEkuNotFoundContext(_) => {
            "it is allowed for neither server nor client authentication".into()
        }
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn names() -> Vec<String> {
        vec![
            "localhost".into(),
            "127.0.0.1".into(),
            "::1".into(),
            "LOCALHOST".into(),
        ]
    }

    fn make_ca(kind: KeyType) -> (Issuer<'static, KeyPair>, CertificateDer<'static>) {
        let key = generate_key(kind).unwrap();
        let params = ca_params("mq test CA", 30).unwrap();
        let cert = params.self_signed(&key).unwrap();
        (Issuer::new(params, key), cert.der().clone())
    }

    #[test]
    fn server_sans_split_ip_addresses_from_names_and_drop_duplicates() {
        let sans = server_sans(&names());
        assert_eq!(sans.len(), 3, "{sans:?}");
        assert!(matches!(sans[1], SanType::IpAddress(_)));
        assert!(matches!(sans[2], SanType::IpAddress(IpAddr::V6(_))));
    }

    #[test]
    fn a_server_certificate_chains_to_its_ca_and_covers_its_names() {
        for kind in [KeyType::EcdsaP256, KeyType::Ed25519] {
            let (ca, ca_der) = make_ca(kind);
            let key = generate_key(kind).unwrap();
            let cert = server_params(&names(), 10)
                .unwrap()
                .signed_by(&key, &ca)
                .unwrap();
            let ok = verify(&[ca_der], &[cert.der().clone()], SystemTime::now()).unwrap();
            assert_eq!(
                ok,
                Verified {
                    server_auth: true,
                    client_auth: false
                }
            );
            let info = describe(cert.der()).unwrap();
            assert!(x509::sans_cover(&info.sans, "localhost"));
            assert!(x509::sans_cover(&info.sans, "::1"));
            assert_eq!(info.issuer, "CN=mq test CA,O=mq");
            assert!(!info.is_ca);
            assert_eq!(info.sha256_fingerprint.len(), 32 * 3 - 1);
        }
    }

    #[test]
    fn a_certificate_from_another_ca_is_refused() {
        let (ca, _) = make_ca(KeyType::EcdsaP256);
        let (_, other_ca) = make_ca(KeyType::EcdsaP256);
        let key = generate_key(KeyType::EcdsaP256).unwrap();
        let cert = client_params("client", 10)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let err = verify(&[other_ca], &[cert.der().clone()], SystemTime::now()).unwrap_err();
        assert!(err.starts_with("it was not signed by this CA"), "{err}");
    }

    #[test]
    fn an_expired_certificate_is_refused_with_that_reason() {
        let (ca, ca_der) = make_ca(KeyType::EcdsaP256);
        let key = generate_key(KeyType::EcdsaP256).unwrap();
        let cert = client_params("client", 1)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(3 * 86_400);
        let err = verify(&[ca_der], &[cert.der().clone()], later).unwrap_err();
        assert!(err.contains("expired"), "{err}");
    }

    #[test]
    fn an_encrypted_ca_key_round_trips_and_a_wrong_passphrase_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(KeyType::EcdsaP256).unwrap();
        let params = ca_params("enc CA", 5).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let files = [
            OutputFile {
                path: dir.path().join("ca.crt"),
                contents: cert.pem(),
                private: false,
            },
            OutputFile {
                path: dir.path().join("ca.key"),
                contents: encrypt_key(&key, "sesame").unwrap(),
                private: true,
            },
        ];
        write_files(&files, false).unwrap();
        let (crt, k) = (dir.path().join("ca.crt"), dir.path().join("ca.key"));
        assert!(matches!(
            load_ca(&crt, &k, None),
            Err(CertError::PassphraseNeeded { .. })
        ));
        let wrong = load_ca(&crt, &k, Some("wrong")).err().unwrap();
        assert!(
            matches!(wrong, CertError::WrongPassphrase { .. }),
            "{wrong}"
        );
        let ca = load_ca(&crt, &k, Some("sesame")).unwrap();
        let leaf_key = generate_key(KeyType::EcdsaP256).unwrap();
        let leaf = client_params("c", 5)
            .unwrap()
            .signed_by(&leaf_key, &ca.issuer)
            .unwrap();
        assert!(verify(
            &[cert.der().clone()],
            &[leaf.der().clone()],
            SystemTime::now()
        )
        .is_ok());
    }

    #[test]
    fn files_are_not_replaced_without_force_and_keys_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let key = OutputFile {
            path: dir.path().join("sub/x.key"),
            contents: "k".into(),
            private: true,
        };
        let cert = OutputFile {
            path: dir.path().join("sub/x.crt"),
            contents: "c".into(),
            private: false,
        };
        write_files(&[key, cert], false).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &str| {
                fs::metadata(dir.path().join(p))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777
            };
            assert_eq!(mode("sub/x.key"), 0o600);
            assert_eq!(mode("sub/x.crt"), 0o644);
        }
        let again = OutputFile {
            path: dir.path().join("sub/x.crt"),
            contents: "new".into(),
            private: false,
        };
        assert!(matches!(
            write_files(std::slice::from_ref(&again), false),
            Err(CertError::Exists { .. })
        ));
        write_files(&[again], true).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("sub/x.crt")).unwrap(),
            "new"
        );
    }

    #[test]
    fn load_ca_refuses_a_key_from_another_pair() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(KeyType::EcdsaP256).unwrap();
        let other = generate_key(KeyType::EcdsaP256).unwrap();
        let cert = ca_params("CA", 5).unwrap().self_signed(&key).unwrap();
        let files = [
            OutputFile {
                path: dir.path().join("ca.crt"),
                contents: cert.pem(),
                private: false,
            },
            OutputFile {
                path: dir.path().join("ca.key"),
                contents: other.serialize_pem(),
                private: true,
            },
        ];
        write_files(&files, false).unwrap();
        let err = load_ca(&dir.path().join("ca.crt"), &dir.path().join("ca.key"), None)
            .err()
            .unwrap();
        assert!(err.to_string().contains("does not belong"), "{err}");
    }
}
