//! The password file: one `user:hash` line per user. The one implementation of the
//! format, shared by the broker and `mq passwd`.
//!
//! Hashes written by default are argon2id PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
//! Mosquitto's own hashes are read and verified so existing files keep working:
//!
//! * `$6$SALT$HASH`: SHA-512 of the password followed by the salt (Mosquitto 1.6 and older);
//! * `$7$ITERATIONS$SALT$HASH`: PBKDF2-HMAC-SHA512 (Mosquitto 2), also written on request
//!   so that a file made by `mq passwd --mosquitto` works with `mosquitto` itself.
//!
//! SALT and HASH are standard base64; Mosquitto uses 12-byte salts and 64-byte hashes.
//! Lines starting with `#` and blank lines are kept as they are when the file is rewritten.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHashString, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine};
use sha2::{Digest, Sha512};

use super::scram::{self, ScramCredentials};

/// Argon2id memory cost in KiB. With t=2, p=1 one verification takes about 18 ms in a
/// release build on the project's 2-core machine (22 ms in a debug build, whose hashing
/// crates are optimised anyway): well under the 50 ms budget per CONNECT. The OWASP
/// profile (19 MiB) took 52 ms there. Measure with `argon2_verification_cost` below.
pub const ARGON2_MEMORY_KIB: u32 = 8 * 1024;
/// Argon2id passes over the memory.
pub const ARGON2_ITERATIONS: u32 = 2;
/// Argon2id lanes: one, so a verification occupies one blocking thread, not all cores.
pub const ARGON2_PARALLELISM: u32 = 1;

/// PBKDF2 iterations for `$7$` hashes written by `mq passwd --mosquitto`. Mosquitto 2.0
/// writes 101; this is stronger and still cheap for Mosquitto, which checks passwords on
/// its single network thread (about 9 ms here in a release build of `mq`).
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 10_000;

/// Salt length Mosquitto uses for `$6$` and `$7$`.
const MOSQUITTO_SALT_LEN: usize = 12;
/// SHA-512 output length.
const SHA512_LEN: usize = 64;
/// Longest user name or hash Mosquitto accepts.
const MAX_FIELD_LEN: usize = 65535;

/// Standard base64 that takes input with or without padding, as OpenSSL's decoder does.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How new passwords are hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashScheme {
    /// argon2id PHC string with this module's parameters.
    #[default]
    Argon2id,
    /// Mosquitto's `$7$`: PBKDF2-HMAC-SHA512 with a 12-byte salt.
    MosquittoPbkdf2 { iterations: u32 },
    /// SCRAM-SHA-256 credentials: the user can also log in with MQTT 5 enhanced
    /// authentication (method `SCRAM-SHA-256`).
    ScramSha256 { iterations: u32 },
}

/// Why a hash could not be read or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    #[error("the hash is empty")]
    Empty,
    #[error("unknown hash type (expected $argon2id$, $7$, $6$ or $scram-sha-256$)")]
    UnknownType,
    #[error("malformed $scram-sha-256$ hash (expected $scram-sha-256$ITERATIONS$SALT$STOREDKEY$SERVERKEY)")]
    Scram,
    #[error("malformed argon2 hash: {0}")]
    Argon2(String),
    #[error("malformed ${kind}$ hash: {why}")]
    Mosquitto { kind: u8, why: &'static str },
    #[error("the operating system gave no random bytes for a salt: {0}")]
    Random(String),
}

/// A stored password hash.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordHash {
    /// A PHC string of the argon2 family (argon2id, argon2i or argon2d), checked when read.
    Argon2(String),
    /// Mosquitto `$6$`: SHA-512(password ‖ salt).
    Sha512 { salt: Vec<u8>, hash: Vec<u8> },
    /// Mosquitto `$7$`: PBKDF2-HMAC-SHA512.
    Pbkdf2Sha512 {
        iterations: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    /// SCRAM-SHA-256 credentials (RFC 5802 StoredKey and ServerKey).
    Scram(ScramCredentials),
}

/// Hashes are secrets of a kind: debug output names only the type.
impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordHash::Argon2(_) => f.write_str("PasswordHash::Argon2(..)"),
            PasswordHash::Sha512 { .. } => f.write_str("PasswordHash::Sha512(..)"),
            PasswordHash::Pbkdf2Sha512 { iterations, .. } => {
                write!(f, "PasswordHash::Pbkdf2Sha512({iterations} iterations, ..)")
            }
            PasswordHash::Scram(c) => {
                write!(f, "PasswordHash::Scram({} iterations, ..)", c.iterations)
            }
        }
    }
}

fn argon2id() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(
        ARGON2_MEMORY_KIB,
        ARGON2_ITERATIONS,
        ARGON2_PARALLELISM,
        None,
    )
    .map_err(|e| HashError::Argon2(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], HashError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|e| HashError::Random(e.to_string()))?;
    Ok(bytes)
}

fn pbkdf2_sha512(password: &[u8], salt: &[u8], iterations: u32) -> [u8; SHA512_LEN] {
    let mut out = [0u8; SHA512_LEN];
    pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
    out
}

fn sha512_salted(password: &[u8], salt: &[u8]) -> Vec<u8> {
    let mut digest = Sha512::new();
    digest.update(password);
    digest.update(salt);
    digest.finalize().to_vec()
}

/// Compares without stopping at the first difference, so timing says nothing about where
/// a guess went wrong.
pub(crate) fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl PasswordHash {
    /// Hashes `password` with a fresh random salt.
    pub fn new(password: &[u8], scheme: HashScheme) -> Result<PasswordHash, HashError> {
        match scheme {
            HashScheme::Argon2id => {
                let salt_bytes = random_bytes::<16>()?;
                let salt = SaltString::encode_b64(&salt_bytes)
                    .map_err(|e| HashError::Argon2(e.to_string()))?;
                let hash = argon2id()?
                    .hash_password(password, &salt)
                    .map_err(|e| HashError::Argon2(e.to_string()))?;
                Ok(PasswordHash::Argon2(hash.to_string()))
            }
            HashScheme::MosquittoPbkdf2 { iterations } => {
                if iterations == 0 {
                    return Err(HashError::Mosquitto {
                        kind: 7,
                        why: "the iteration count must be at least 1",
                    });
                }
                let salt = random_bytes::<MOSQUITTO_SALT_LEN>()?.to_vec();
                let hash = pbkdf2_sha512(password, &salt, iterations).to_vec();
                Ok(PasswordHash::Pbkdf2Sha512 {
                    iterations,
                    salt,
                    hash,
                })
            }
            HashScheme::ScramSha256 { iterations } => {
                let salt = random_bytes::<16>()?;
                Ok(PasswordHash::Scram(ScramCredentials::from_password(
                    password,
                    &salt,
                    iterations.max(1),
                )))
            }
        }
    }

    /// Reads a hash as it appears after `user:` in a password file.
    pub fn parse(text: &str) -> Result<PasswordHash, HashError> {
        let text = text.trim_matches([' ', '\t']);
        if text.is_empty() {
            return Err(HashError::Empty);
        }
        if text.starts_with("$argon2") {
            let parsed =
                PasswordHashString::new(text).map_err(|e| HashError::Argon2(e.to_string()))?;
            let hash = parsed.password_hash();
            if argon2::Algorithm::try_from(hash.algorithm).is_err() {
                return Err(HashError::Argon2(format!(
                    "unknown algorithm {}",
                    hash.algorithm
                )));
            }
            if hash.hash.is_none() || hash.salt.is_none() {
                return Err(HashError::Argon2("salt or hash missing".into()));
            }
            Params::try_from(&hash).map_err(|e| HashError::Argon2(e.to_string()))?;
            return Ok(PasswordHash::Argon2(text.to_string()));
        }
        if text.starts_with(scram::PREFIX) {
            return ScramCredentials::decode(text)
                .map(PasswordHash::Scram)
                .ok_or(HashError::Scram);
        }
        if let Some(rest) = text.strip_prefix("$7$") {
            let bad = |why| HashError::Mosquitto { kind: 7, why };
            let mut parts = rest.split('$');
            let (Some(iterations), Some(salt), Some(hash), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("expected $7$ITERATIONS$SALT$HASH"));
            };
            let iterations: u32 = iterations
                .parse()
                .ok()
                .filter(|&n| n >= 1)
                .ok_or(bad("the iteration count is not a positive number"))?;
            let (salt, hash) = decode_salt_and_hash(salt, hash).map_err(bad)?;
            return Ok(PasswordHash::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            });
        }
        if let Some(rest) = text.strip_prefix("$6$") {
            let bad = |why| HashError::Mosquitto { kind: 6, why };
            let mut parts = rest.split('$');
            let (Some(salt), Some(hash), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad("expected $6$SALT$HASH"));
            };
            let (salt, hash) = decode_salt_and_hash(salt, hash).map_err(bad)?;
            return Ok(PasswordHash::Sha512 { salt, hash });
        }
        Err(HashError::UnknownType)
    }

    /// True if `password` is the one this hash was made from. Slow on purpose for argon2
    /// and `$7$`: call it off the async reactor.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            PasswordHash::Argon2(phc) => {
                let Ok(parsed) = argon2::PasswordHash::new(phc) else {
                    return false;
                };
                // The algorithm, version and parameters come from the PHC string itself.
                Argon2::default().verify_password(password, &parsed).is_ok()
            }
            PasswordHash::Sha512 { salt, hash } => {
                equal_in_constant_time(&sha512_salted(password, salt), hash)
            }
            PasswordHash::Scram(credentials) => credentials.verify_password(password),
            PasswordHash::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            } => equal_in_constant_time(&pbkdf2_sha512(password, salt, *iterations), hash),
        }
    }

    /// A short name of the hash type, for listings and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            PasswordHash::Argon2(_) => "argon2",
            PasswordHash::Sha512 { .. } => "mosquitto $6$ (sha512)",
            PasswordHash::Pbkdf2Sha512 { .. } => "mosquitto $7$ (pbkdf2-sha512)",
            PasswordHash::Scram(_) => "scram-sha-256",
        }
    }
}

fn decode_salt_and_hash(salt: &str, hash: &str) -> Result<(Vec<u8>, Vec<u8>), &'static str> {
    let salt = BASE64.decode(salt).map_err(|_| "the salt is not base64")?;
    if salt.is_empty() {
        return Err("the salt is empty");
    }
    let hash = BASE64.decode(hash).map_err(|_| "the hash is not base64")?;
    if hash.len() != SHA512_LEN {
        return Err("the hash is not 64 bytes long");
    }
    Ok((salt, hash))
}

impl fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordHash::Argon2(phc) => f.write_str(phc),
            PasswordHash::Sha512 { salt, hash } => {
                write!(f, "$6${}${}", BASE64.encode(salt), BASE64.encode(hash))
            }
            PasswordHash::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            } => write!(
                f,
                "$7${iterations}${}${}",
                BASE64.encode(salt),
                BASE64.encode(hash)
            ),
            PasswordHash::Scram(credentials) => f.write_str(&credentials.encode()),
        }
    }
}

/// Why a user name cannot go into a password file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserNameError {
    #[error("the user name is empty")]
    Empty,
    #[error("the user name must not contain ':'")]
    Colon,
    #[error("the user name must not contain control characters")]
    Control,
    #[error("the user name must not start or end with a space or tab")]
    Blank,
    #[error("the user name is longer than 65535 bytes")]
    TooLong,
}

/// The rules `mosquitto_passwd` applies, plus no leading or trailing blanks, which
/// Mosquitto would trim away when reading the file.
pub fn validate_username(username: &str) -> Result<(), UserNameError> {
    if username.is_empty() {
        return Err(UserNameError::Empty);
    }
    if username.len() > MAX_FIELD_LEN {
        return Err(UserNameError::TooLong);
    }
    if username.contains(':') {
        return Err(UserNameError::Colon);
    }
    if username.chars().any(char::is_control) {
        return Err(UserNameError::Control);
    }
    if username != username.trim_matches([' ', '\t']) {
        return Err(UserNameError::Blank);
    }
    Ok(())
}

/// Why a password file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PasswordFileError {
    #[error("{}: {source}{}", path.display(), missing_file_advice(source, path))]
    Io { path: PathBuf, source: io::Error },
    #[error("{}line {line}: {reason}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Line {
        path: Option<PathBuf>,
        line: usize,
        reason: String,
    },
}

/// A password file that does not exist yet is made with `mq passwd -c`.
fn missing_file_advice(source: &io::Error, path: &Path) -> String {
    if source.kind() == io::ErrorKind::NotFound {
        format!("; create it with `mq passwd -c {} USER`", path.display())
    } else {
        String::new()
    }
}

impl PasswordFileError {
    fn with_path(self, file: &Path) -> PasswordFileError {
        match self {
            PasswordFileError::Line { line, reason, .. } => PasswordFileError::Line {
                path: Some(file.to_path_buf()),
                line,
                reason,
            },
            other => other,
        }
    }
}

/// What a password check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Accepted,
    WrongPassword,
    UnknownUser,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    User {
        username: String,
        hash: PasswordHash,
    },
    /// A comment or blank line, kept verbatim.
    Other(String),
}

/// A parsed password file; rewriting it keeps comments, blank lines and order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordFile {
    lines: Vec<Line>,
}

impl PasswordFile {
    /// Parses a password file. Every `user:hash` line must hold a hash this module can
    /// verify; the first that does not is refused, naming its line number.
    pub fn parse(text: &str) -> Result<PasswordFile, PasswordFileError> {
        Self::parse_with(text, |line, hash| {
            PasswordHash::parse(hash).map_err(|e| PasswordFileError::Line {
                path: None,
                line,
                reason: e.to_string(),
            })
        })
    }

    /// Parses a plain-text `user:password` file (`mq passwd -U`), hashing every password
    /// with `scheme`. A line that already holds a valid hash is kept as it is, so running
    /// this twice does not hash a hash.
    pub fn parse_plain(text: &str, scheme: HashScheme) -> Result<PasswordFile, PasswordFileError> {
        Self::parse_with(text, |line, password| {
            if let Ok(hash) = PasswordHash::parse(password) {
                return Ok(hash);
            }
            PasswordHash::new(password.as_bytes(), scheme).map_err(|e| PasswordFileError::Line {
                path: None,
                line,
                reason: e.to_string(),
            })
        })
    }

    fn parse_with(
        text: &str,
        mut hash_of: impl FnMut(usize, &str) -> Result<PasswordHash, PasswordFileError>,
    ) -> Result<PasswordFile, PasswordFileError> {
        let mut file = PasswordFile::default();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.trim_end_matches(['\r', '\n', ' ', '\t']);
            if content.trim_start().is_empty() || content.trim_start().starts_with('#') {
                file.lines.push(Line::Other(content.to_string()));
                continue;
            }
            let refuse = |reason: String| PasswordFileError::Line {
                path: None,
                line,
                reason,
            };
            let Some((username, hash)) = content.split_once(':') else {
                return Err(refuse("expected user:hash".into()));
            };
            // Mosquitto trims blanks around both fields; so do we.
            let username = username.trim_matches([' ', '\t']);
            validate_username(username).map_err(|e| refuse(e.to_string()))?;
            if let Some(first) = file.line_of(username) {
                return Err(refuse(format!(
                    "user '{username}' is already defined on line {first}"
                )));
            }
            let hash = hash_of(line, hash)?;
            file.lines.push(Line::User {
                username: username.to_string(),
                hash,
            });
        }
        Ok(file)
    }

    /// The 1-based line on which `username` is defined.
    fn line_of(&self, username: &str) -> Option<usize> {
        self.lines
            .iter()
            .position(|l| matches!(l, Line::User { username: u, .. } if u == username))
            .map(|i| i + 1)
    }

    /// Reads and parses a password file; errors name the file and line.
    pub fn load(path: &Path) -> Result<PasswordFile, PasswordFileError> {
        let text = read_text(path)?;
        PasswordFile::parse(&text).map_err(|e| e.with_path(path))
    }

    /// Reads a plain-text `user:password` file and hashes its passwords.
    pub fn load_plain(path: &Path, scheme: HashScheme) -> Result<PasswordFile, PasswordFileError> {
        let text = read_text(path)?;
        PasswordFile::parse_plain(&text, scheme).map_err(|e| e.with_path(path))
    }

    /// Writes the file atomically (a temporary file in the same directory, fsync, rename),
    /// readable and writable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), PasswordFileError> {
        write_atomically(path, self.to_string().as_bytes()).map_err(|source| {
            PasswordFileError::Io {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    pub fn get(&self, username: &str) -> Option<&PasswordHash> {
        self.lines.iter().find_map(|l| match l {
            Line::User { username: u, hash } if u == username => Some(hash),
            _ => None,
        })
    }

    /// Sets `username`'s hash, replacing the old one in place or adding a line at the end.
    pub fn set(&mut self, username: &str, hash: PasswordHash) -> Result<(), UserNameError> {
        validate_username(username)?;
        for line in &mut self.lines {
            if let Line::User {
                username: u,
                hash: h,
            } = line
            {
                if u == username {
                    *h = hash;
                    return Ok(());
                }
            }
        }
        self.lines.push(Line::User {
            username: username.to_string(),
            hash,
        });
        Ok(())
    }

    /// Removes `username`; false if it was not there.
    pub fn remove(&mut self, username: &str) -> bool {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(l, Line::User { username: u, .. } if u == username));
        self.lines.len() != before
    }

    /// The user names in file order.
    pub fn users(&self) -> impl Iterator<Item = (&str, &PasswordHash)> {
        self.lines.iter().filter_map(|l| match l {
            Line::User { username, hash } => Some((username.as_str(), hash)),
            Line::Other(_) => None,
        })
    }

    pub fn len(&self) -> usize {
        self.users().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks a user's password. Slow on purpose: call it off the async reactor. An unknown
    /// user costs about as much as a wrong password, so timing does not tell which it was.
    pub fn verify(&self, username: &str, password: &[u8]) -> Verification {
        match self.get(username) {
            Some(hash) if hash.verify(password) => Verification::Accepted,
            Some(_) => Verification::WrongPassword,
            None => {
                if let Some(decoy) = decoy_hash() {
                    let _ = decoy.verify(password);
                }
                Verification::UnknownUser
            }
        }
    }
}

/// A hash of nothing in particular, verified for unknown users to spend the same time.
fn decoy_hash() -> Option<&'static PasswordHash> {
    static DECOY: std::sync::OnceLock<Option<PasswordHash>> = std::sync::OnceLock::new();
    DECOY
        .get_or_init(|| PasswordHash::new(b"decoy", HashScheme::Argon2id).ok())
        .as_ref()
}

impl fmt::Display for PasswordFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            match line {
                Line::User { username, hash } => writeln!(f, "{username}:{hash}")?,
                Line::Other(text) => writeln!(f, "{text}")?,
            }
        }
        Ok(())
    }
}

fn read_text(path: &Path) -> Result<String, PasswordFileError> {
    fs::read_to_string(path).map_err(|source| PasswordFileError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Replaces `path` with `contents` so that readers see the old file or the new one, never
/// half of either. A symbolic link is followed, so the file it points to is replaced.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let target = match fs::canonicalize(path) {
        Ok(real) => real,
        Err(e) if e.kind() == io::ErrorKind::NotFound => path.to_path_buf(),
        Err(e) => return Err(e),
    };
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // tempfile creates the file with mode 0600 on Unix.
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    temp.write_all(contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    temp.as_file().sync_all()?;
    temp.persist(&target).map_err(|e| e.error)?;
    // The rename is durable once the directory entry is.
    #[cfg(unix)]
    fs::File::open(&dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made once with Debian's mosquitto_passwd 2.0.11:
    /// `mosquitto_passwd -c -b F alice wonderland`, `-b F bob 'secret with spaces'`,
    /// `-b F carol 'ünïcødé€'` and `-H sha512 -b F dave 'old style'`.
    const MOSQUITTO_FILE: &str = include_str!("../../../tests/fixtures/mosquitto_passwd.txt");

    #[test]
    fn hashes_written_by_mosquitto_passwd_verify() {
        let file = PasswordFile::parse(MOSQUITTO_FILE).expect("fixture parses");
        assert_eq!(file.len(), 4);
        assert_eq!(file.verify("alice", b"wonderland"), Verification::Accepted);
        assert_eq!(
            file.verify("bob", b"secret with spaces"),
            Verification::Accepted
        );
        assert_eq!(
            file.verify("carol", "ünïcødé€".as_bytes()),
            Verification::Accepted
        );
        assert_eq!(file.verify("dave", b"old style"), Verification::Accepted);
        assert!(matches!(
            file.get("dave"),
            Some(PasswordHash::Sha512 { .. })
        ));
        assert!(matches!(
            file.get("alice"),
            Some(PasswordHash::Pbkdf2Sha512 {
                iterations: 101,
                ..
            })
        ));
    }

    #[test]
    fn wrong_passwords_and_unknown_users_are_told_apart() {
        let file = PasswordFile::parse(MOSQUITTO_FILE).expect("fixture parses");
        assert_eq!(
            file.verify("alice", b"Wonderland"),
            Verification::WrongPassword
        );
        assert_eq!(file.verify("dave", b""), Verification::WrongPassword);
        assert_eq!(
            file.verify("mallory", b"wonderland"),
            Verification::UnknownUser
        );
    }

    #[test]
    fn mosquitto_hashes_are_written_back_byte_for_byte() {
        let file = PasswordFile::parse(MOSQUITTO_FILE).expect("fixture parses");
        assert_eq!(file.to_string(), MOSQUITTO_FILE);
    }

    #[test]
    fn argon2id_is_the_default_and_round_trips() {
        let hash = PasswordHash::new(b"hunter2", HashScheme::default()).expect("hash");
        let text = hash.to_string();
        assert!(text.starts_with("$argon2id$v=19$m=8192,t=2,p=1$"), "{text}");
        let parsed = PasswordHash::parse(&text).expect("parses");
        assert!(parsed.verify(b"hunter2"));
        assert!(!parsed.verify(b"hunter3"));
    }

    #[test]
    fn pbkdf2_hashes_have_mosquittos_shape() {
        let hash = PasswordHash::new(b"pw", HashScheme::MosquittoPbkdf2 { iterations: 101 })
            .expect("hash");
        let text = hash.to_string();
        let parts: Vec<&str> = text.split('$').collect();
        assert_eq!(parts[..3], ["", "7", "101"]);
        assert_eq!(parts[3].len(), 16, "12-byte salt in base64");
        assert_eq!(parts[4].len(), 88, "64-byte hash in base64");
        assert!(PasswordHash::parse(&text).expect("parses").verify(b"pw"));
    }

    #[test]
    fn comments_blank_lines_and_order_survive_an_update() {
        let text = "# users\nalice:$6$7Mb5anNWZcKClTNe$1UjjoVs6GPnVXNqXTxxfWQOOf14QSoipWiap0ia6m2xp+rzsXneBWEyhhoyqPFFXW2sG1a6C3/IrwY4H3YzL3g==\n\nbob:$6$7Mb5anNWZcKClTNe$1UjjoVs6GPnVXNqXTxxfWQOOf14QSoipWiap0ia6m2xp+rzsXneBWEyhhoyqPFFXW2sG1a6C3/IrwY4H3YzL3g==\n";
        let mut file = PasswordFile::parse(text).expect("parses");
        let new =
            PasswordHash::new(b"x", HashScheme::MosquittoPbkdf2 { iterations: 1 }).expect("hash");
        file.set("alice", new.clone()).expect("valid name");
        let written = file.to_string();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines[0], "# users");
        assert_eq!(lines[1], format!("alice:{new}"));
        assert_eq!(lines[2], "");
        assert!(lines[3].starts_with("bob:$6$"));
        assert!(file.remove("bob"));
        assert!(!file.remove("bob"));
        assert_eq!(file.len(), 1);
    }

    #[test]
    fn a_line_that_cannot_be_parsed_is_refused_by_number() {
        let cases = [
            ("alice:$6$abc", 1),
            ("# c\nalice\n", 2),
            ("a:$7$x$AAAA$AAAA\n", 1),
            ("a:$7$0$7Mb5anNWZcKClTNe$1UjjoVs6GPnVXNqXTxxfWQOOf14QSoipWiap0ia6m2xp+rzsXneBWEyhhoyqPFFXW2sG1a6C3/IrwY4H3YzL3g==", 1),
            ("a:plaintext", 1),
            (":$6$7Mb5anNWZcKClTNe$1UjjoVs6GPnVXNqXTxxfWQOOf14QSoipWiap0ia6m2xp+rzsXneBWEyhhoyqPFFXW2sG1a6C3/IrwY4H3YzL3g==", 1),
            ("\n\nb:$argon2id$v=19$m=19456,t=2,p=1$bm90YmFzZTY0$", 3),
            ("b:$argon2x$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", 1),
        ];
        for (text, expected) in cases {
            match PasswordFile::parse(text) {
                Err(PasswordFileError::Line { line, .. }) => assert_eq!(line, expected, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_user_defined_twice_is_refused() {
        let line = "a:$6$7Mb5anNWZcKClTNe$1UjjoVs6GPnVXNqXTxxfWQOOf14QSoipWiap0ia6m2xp+rzsXneBWEyhhoyqPFFXW2sG1a6C3/IrwY4H3YzL3g==\n";
        let err = PasswordFile::parse(&format!("{line}{line}")).expect_err("duplicate");
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn windows_line_endings_and_blanks_around_fields_are_accepted() {
        let text = MOSQUITTO_FILE
            .replace('\n', "\r\n")
            .replace("alice:", " alice : ");
        let file = PasswordFile::parse(&text).expect("parses");
        assert_eq!(file.verify("alice", b"wonderland"), Verification::Accepted);
    }

    #[test]
    fn plain_files_are_hashed_but_existing_hashes_are_kept() {
        let text = "alice:wonder:land\n# note\ndave:$6$7Mb5anNWZcKClTNe$1UjjoVs6GPnVXNqXTxxfWQOOf14QSoipWiap0ia6m2xp+rzsXneBWEyhhoyqPFFXW2sG1a6C3/IrwY4H3YzL3g==\n";
        let file = PasswordFile::parse_plain(text, HashScheme::MosquittoPbkdf2 { iterations: 2 })
            .expect("parses");
        assert_eq!(file.verify("alice", b"wonder:land"), Verification::Accepted);
        assert_eq!(file.verify("dave", b"old style"), Verification::Accepted);
        let reparsed = PasswordFile::parse(&file.to_string()).expect("hashed file parses");
        assert_eq!(reparsed, file);
    }

    #[test]
    fn user_names_follow_mosquitto_passwd_rules() {
        assert_eq!(validate_username("a:b"), Err(UserNameError::Colon));
        assert_eq!(validate_username("a\tb"), Err(UserNameError::Control));
        assert_eq!(validate_username(""), Err(UserNameError::Empty));
        assert_eq!(validate_username(" a"), Err(UserNameError::Blank));
        assert_eq!(validate_username("ünï côdé"), Ok(()));
    }

    #[test]
    fn saving_is_atomic_and_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("passwd");
        let mut file = PasswordFile::default();
        let hash =
            PasswordHash::new(b"pw", HashScheme::MosquittoPbkdf2 { iterations: 1 }).expect("hash");
        file.set("alice", hash).expect("valid name");
        file.save(&path).expect("saved");
        file.save(&path).expect("saved over the old one");
        assert_eq!(PasswordFile::load(&path).expect("loads"), file);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .expect("read dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name() != "passwd")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn load_errors_name_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("passwd");
        fs::write(&path, "ok\n").expect("write");
        let err = PasswordFile::load(&path).expect_err("no colon");
        let text = err.to_string();
        assert!(
            text.contains("passwd: line 1: expected user:hash"),
            "{text}"
        );
    }

    /// Prints what one argon2id verification costs with the default parameters; run with
    /// `cargo test --release argon2_verification_cost -- --nocapture --ignored`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn argon2_verification_cost() {
        let hash = PasswordHash::new(b"pw", HashScheme::Argon2id).expect("hash");
        let rounds = 20;
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            assert!(hash.verify(b"pw"));
        }
        println!("argon2id verify: {:?} each", start.elapsed() / rounds);
        let hash = PasswordHash::new(
            b"pw",
            HashScheme::MosquittoPbkdf2 {
                iterations: DEFAULT_PBKDF2_ITERATIONS,
            },
        )
        .expect("hash");
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            assert!(hash.verify(b"pw"));
        }
        println!(
            "$7$ ({DEFAULT_PBKDF2_ITERATIONS} iterations) verify: {:?} each",
            start.elapsed() / rounds
        );
    }
}
