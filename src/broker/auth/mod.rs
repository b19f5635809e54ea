//! Authentication and authorization: the password file, the ACL file, and the policy the
//! broker applies at CONNECT, SUBSCRIBE, PUBLISH and delivery.
//!
//! The broker holds one [`AccessControl`] behind an `Arc` in its state; a SIGHUP swaps in a
//! new one built from the same files (see [`load_policy`]). The state machine asks it
//! synchronously about topics; the connection task asks it about credentials on a blocking
//! thread, because verifying a password hash is slow on purpose.

pub mod acl;
#[cfg(test)]
mod broker_tests;
pub(crate) mod login;
pub mod password_file;
pub mod scram;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mq_proto::ReasonCode;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

pub use acl::{Access, AclError, AclFile, Client};
pub use login::AccessReloader;
pub use password_file::{PasswordFile, PasswordFileError, Verification};

/// Where the broker's access rules come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// `user:hash` lines; see [`password_file`].
    pub password_file: Option<PathBuf>,
    /// Mosquitto ACL syntax; see [`acl`].
    pub acl_file: Option<PathBuf>,
    /// Clients without a user name: `Some(true)` allowed everywhere, `Some(false)` refused
    /// everywhere, `None` the default: refused when a password file is set, otherwise
    /// allowed on loopback-only listeners and refused on the others (as Mosquitto 2).
    pub allow_anonymous: Option<bool>,
}

impl AuthConfig {
    pub fn anonymous(&self) -> Anonymous {
        match self.allow_anonymous {
            Some(true) => Anonymous::Allowed,
            Some(false) => Anonymous::Refused,
            None if self.password_file.is_some() => Anonymous::Refused,
            None => Anonymous::LoopbackOnly,
        }
    }
}

/// Who may connect without a verified user name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anonymous {
    Allowed,
    Refused,
    /// Only on listeners bound to loopback addresses.
    LoopbackOnly,
}

/// What a client presented at CONNECT.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub username: Option<&'a str>,
    pub password: Option<&'a [u8]>,
    /// The connection came in on a listener bound only to loopback addresses.
    pub loopback_listener: bool,
    /// The user name came from a verified TLS client certificate: no password is needed.
    pub certificate: bool,
}

/// Never prints the password.
impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.map(|_| "<hidden>"))
            .field("loopback_listener", &self.loopback_listener)
            .field("certificate", &self.certificate)
            .finish()
    }
}

/// Why a CONNECT was refused. The text goes to the log; it never holds the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("anonymous clients are not allowed on this listener")]
    AnonymousNotAllowed,
    #[error("unknown user")]
    UnknownUser,
    #[error("wrong password")]
    WrongPassword,
    #[error("no password given")]
    MissingPassword,
    #[error("too many failed logins from this address; try again later")]
    TooManyFailures,
    #[error("the Will Topic is not writable for this client")]
    WillNotAuthorized,
    #[error("the credentials could not be checked")]
    CheckFailed,
}

impl Refusal {
    /// The CONNACK reason (v5); 3.1.1 clients get its 3.x equivalent: 0x86 -> 4, 0x87 -> 5.
    pub fn reason_code(self) -> ReasonCode {
        match self {
            Refusal::AnonymousNotAllowed | Refusal::WillNotAuthorized => ReasonCode::NotAuthorized,
            Refusal::UnknownUser | Refusal::WrongPassword | Refusal::MissingPassword => {
                ReasonCode::BadUserNameOrPassword
            }
            Refusal::TooManyFailures => ReasonCode::ConnectionRateExceeded,
            Refusal::CheckFailed => ReasonCode::ServerUnavailable,
        }
    }

    /// A guess at a password, which counts against the source address.
    pub fn is_failed_login(self) -> bool {
        matches!(
            self,
            Refusal::UnknownUser | Refusal::WrongPassword | Refusal::MissingPassword
        )
    }
}

/// The broker's access policy. Implementations must be cheap to query about topics: the
/// delivery check runs for every subscriber of every message.
pub trait AccessControl: Send + Sync + fmt::Debug {
    /// May these credentials connect? When a password is given this may verify a hash and
    /// take milliseconds: call it off the async reactor then.
    fn authenticate(&self, credentials: &Credentials<'_>, now: Instant) -> Result<(), Refusal>;

    /// May `client` publish to, or receive from, the Topic Name `topic`?
    fn authorize(&self, client: &Client<'_>, topic: &str, access: Access) -> bool;

    /// May `client` subscribe to the Topic Filter `filter`?
    fn authorize_subscription(&self, client: &Client<'_>, filter: &str) -> bool;

    /// The SCRAM-SHA-256 credentials of `username`, for MQTT 5 enhanced authentication;
    /// `None` when the user is unknown or has another kind of password hash.
    fn scram_credentials(&self, username: &str) -> Option<scram::ScramCredentials> {
        let _ = username;
        None
    }
}

/// Everyone may do everything: for brokers and tests that configure no access rules.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllowAll;

impl AccessControl for AllowAll {
    fn authenticate(&self, _: &Credentials<'_>, _: Instant) -> Result<(), Refusal> {
        Ok(())
    }

    fn authorize(&self, _: &Client<'_>, _: &str, _: Access) -> bool {
        true
    }

    fn authorize_subscription(&self, _: &Client<'_>, _: &str) -> bool {
        true
    }
}

/// How long a successful password check is remembered, so a client that reconnects often
/// does not pay for a hash each time. Short, so a changed file soon takes full effect
/// (a reload starts with an empty cache anyway).
pub const SUCCESS_CACHE_TTL: Duration = Duration::from_secs(30);
/// Most remembered successes; beyond this expired ones go, then all.
const SUCCESS_CACHE_MAX: usize = 4096;

#[derive(Debug)]
struct CachedSuccess {
    /// SHA-256 of a per-policy random key, the user name and the password: the password
    /// itself is not kept.
    digest: [u8; 32],
    until: Instant,
}

/// The policy of a password file, an ACL file and the anonymous rule, any of which may
/// be absent.
pub struct FilePolicy {
    passwords: Option<PasswordFile>,
    acl: Option<AclFile>,
    anonymous: Anonymous,
    cache_key: [u8; 32],
    cache: Mutex<HashMap<String, CachedSuccess>>,
    /// Held while a password hash is verified: one verification at a time leaves the other
    /// core serving clients during a login storm, and logins that waited find a success
    /// for the same credentials in the cache instead of hashing again.
    verifying: Mutex<()>,
}

impl fmt::Debug for FilePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilePolicy")
            .field("users", &self.passwords.as_ref().map(PasswordFile::len))
            .field("acl", &self.acl.is_some())
            .field("anonymous", &self.anonymous)
            .finish()
    }
}

impl FilePolicy {
    pub fn new(
        passwords: Option<PasswordFile>,
        acl: Option<AclFile>,
        anonymous: Anonymous,
    ) -> FilePolicy {
        let mut cache_key = [0u8; 32];
        // Without OS randomness the key is predictable, which only matters to someone who
        // can already read the broker's memory.
        let _ = getrandom::getrandom(&mut cache_key);
        FilePolicy {
            passwords,
            acl,
            anonymous,
            cache_key,
            verifying: Mutex::new(()),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn digest(&self, username: &str, password: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.cache_key);
        hasher.update((username.len() as u64).to_be_bytes());
        hasher.update(username.as_bytes());
        hasher.update(password);
        hasher.finalize().into()
    }

    fn remembered(&self, username: &str, digest: &[u8; 32], now: Instant) -> bool {
        self.cache
            .lock()
            .get(username)
            .is_some_and(|c| c.until > now && &c.digest == digest)
    }

    fn remember(&self, username: &str, digest: [u8; 32], now: Instant) {
        let mut cache = self.cache.lock();
        if cache.len() >= SUCCESS_CACHE_MAX {
            cache.retain(|_, c| c.until > now);
            if cache.len() >= SUCCESS_CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(
            username.to_string(),
            CachedSuccess {
                digest,
                until: now + SUCCESS_CACHE_TTL,
            },
        );
    }

    fn anonymous_allowed(&self, loopback_listener: bool) -> bool {
        match self.anonymous {
            Anonymous::Allowed => true,
            Anonymous::Refused => false,
            Anonymous::LoopbackOnly => loopback_listener,
        }
    }
}

impl AccessControl for FilePolicy {
    fn authenticate(&self, credentials: &Credentials<'_>, now: Instant) -> Result<(), Refusal> {
        if credentials.certificate {
            return Ok(());
        }
        let (Some(passwords), Some(username)) = (&self.passwords, credentials.username) else {
            // Nothing to check a user name against: as Mosquitto, the client counts as
            // anonymous for connecting, and its (unverified) user name still selects ACLs.
            return if self.anonymous_allowed(credentials.loopback_listener) {
                Ok(())
            } else {
                Err(Refusal::AnonymousNotAllowed)
            };
        };
        let Some(password) = credentials.password else {
            return Err(if passwords.get(username).is_some() {
                Refusal::MissingPassword
            } else {
                Refusal::UnknownUser
            });
        };
        let digest = self.digest(username, password);
        if self.remembered(username, &digest, now) {
            return Ok(());
        }
        let _turn = self.verifying.lock();
        if self.remembered(username, &digest, now) {
            return Ok(());
        }
        match passwords.verify(username, password) {
            Verification::Accepted => {
                self.remember(username, digest, now);
                Ok(())
            }
            Verification::WrongPassword => Err(Refusal::WrongPassword),
            Verification::UnknownUser => Err(Refusal::UnknownUser),
        }
    }

    fn authorize(&self, client: &Client<'_>, topic: &str, access: Access) -> bool {
        self.acl
            .as_ref()
            .is_none_or(|acl| acl.check(client, topic, access).allowed)
    }

    fn authorize_subscription(&self, client: &Client<'_>, filter: &str) -> bool {
        self.acl
            .as_ref()
            .is_none_or(|acl| acl.check_subscription(client, filter).allowed)
    }

    fn scram_credentials(&self, username: &str) -> Option<scram::ScramCredentials> {
        match self.passwords.as_ref()?.get(username)? {
            password_file::PasswordHash::Scram(credentials) => Some(credentials.clone()),
            _ => None,
        }
    }
}

/// Why the access rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AuthLoadError {
    #[error("password file {0}")]
    Passwords(#[from] PasswordFileError),
    #[error("ACL file {0}")]
    Acl(#[from] AclError),
}

/// Reads the files `config` names and builds the policy; the warnings are things to log
/// (a pattern without `%c` or `%u`, a password file without users).
pub fn load_policy(config: &AuthConfig) -> Result<(FilePolicy, Vec<String>), AuthLoadError> {
    let mut warnings = Vec::new();
    let passwords = match &config.password_file {
        Some(path) => {
            let file = PasswordFile::load(path)?;
            if file.is_empty() {
                warnings.push(format!(
                    "password file {} has no users: only anonymous clients can connect",
                    path.display()
                ));
            }
            Some(file)
        }
        None => None,
    };
    let acl = match &config.acl_file {
        Some(path) => {
            let file = AclFile::load(path)?;
            warnings.extend(
                file.warnings()
                    .iter()
                    .map(|w| format!("ACL file {}: {w}", path.display())),
            );
            Some(file)
        }
        None => None,
    };
    Ok((
        FilePolicy::new(passwords, acl, config.anonymous()),
        warnings,
    ))
}

/// Failed logins allowed per source address within [`FAILURE_WINDOW`]; further attempts
/// are refused without checking until the window has passed.
pub const MAX_FAILURES: u32 = 10;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Most addresses tracked at once; expired entries are dropped first, then the oldest.
const MAX_TRACKED_SOURCES: usize = 10_000;

/// Counts failed logins per source address (IPv6 per /64, which one host usually holds
/// whole) and turns away a source that keeps guessing.
#[derive(Debug)]
pub struct FailureLimiter {
    max_failures: u32,
    window: Duration,
    sources: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Default for FailureLimiter {
    fn default() -> Self {
        FailureLimiter::new(MAX_FAILURES, FAILURE_WINDOW)
    }
}

impl FailureLimiter {
    pub fn new(max_failures: u32, window: Duration) -> FailureLimiter {
        FailureLimiter {
            max_failures,
            window,
            sources: Mutex::new(HashMap::new()),
        }
    }

    fn source(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let mut segments = v6.segments();
                    segments[4..].fill(0);
                    IpAddr::V6(segments.into())
                }
            },
        }
    }

    /// True if `ip` has failed too often lately to be heard now.
    pub fn is_blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.sources
            .lock()
            .get(&Self::source(ip))
            .is_some_and(|&(since, count)| {
                count >= self.max_failures && now.duration_since(since) < self.window
            })
    }

    pub fn record_failure(&self, ip: IpAddr, now: Instant) {
        let mut sources = self.sources.lock();
        if sources.len() >= MAX_TRACKED_SOURCES {
            let window = self.window;
            sources.retain(|_, (since, _)| now.duration_since(*since) < window);
            if sources.len() >= MAX_TRACKED_SOURCES {
                if let Some(oldest) = sources.iter().min_by_key(|(_, (s, _))| *s).map(|(k, _)| *k) {
                    sources.remove(&oldest);
                }
            }
        }
        let entry = sources.entry(Self::source(ip)).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// A successful login clears the address's record.
    pub fn record_success(&self, ip: IpAddr) {
        self.sources.lock().remove(&Self::source(ip));
    }
}

#[cfg(test)]
mod tests {
    use super::password_file::{HashScheme, PasswordHash};
    use super::*;

    fn passwords() -> PasswordFile {
        let mut file = PasswordFile::default();
        let hash = PasswordHash::new(b"secret", HashScheme::MosquittoPbkdf2 { iterations: 1 })
            .expect("hash");
        file.set("alice", hash).expect("valid user name");
        file
    }

    fn credentials<'a>(username: Option<&'a str>, password: Option<&'a [u8]>) -> Credentials<'a> {
        Credentials {
            username,
            password,
            loopback_listener: true,
            certificate: false,
        }
    }

    #[test]
    fn the_anonymous_default_follows_mosquitto_2() {
        let mut config = AuthConfig::default();
        assert_eq!(config.anonymous(), Anonymous::LoopbackOnly);
        config.password_file = Some("p".into());
        assert_eq!(config.anonymous(), Anonymous::Refused);
        config.allow_anonymous = Some(true);
        assert_eq!(config.anonymous(), Anonymous::Allowed);
        let policy = FilePolicy::new(None, None, Anonymous::LoopbackOnly);
        let now = Instant::now();
        let mut c = credentials(None, None);
        assert_eq!(policy.authenticate(&c, now), Ok(()));
        c.loopback_listener = false;
        assert_eq!(
            policy.authenticate(&c, now),
            Err(Refusal::AnonymousNotAllowed)
        );
    }

    #[test]
    fn passwords_are_checked_and_refusals_carry_the_right_reason_code() {
        let policy = FilePolicy::new(Some(passwords()), None, Anonymous::Refused);
        let now = Instant::now();
        let check =
            |u: Option<&str>, p: Option<&[u8]>| policy.authenticate(&credentials(u, p), now);
        assert_eq!(check(Some("alice"), Some(b"secret")), Ok(()));
        assert_eq!(
            check(Some("alice"), Some(b"wrong")),
            Err(Refusal::WrongPassword)
        );
        assert_eq!(check(Some("alice"), None), Err(Refusal::MissingPassword));
        assert_eq!(
            check(Some("bob"), Some(b"secret")),
            Err(Refusal::UnknownUser)
        );
        assert_eq!(check(None, None), Err(Refusal::AnonymousNotAllowed));
        assert_eq!(
            Refusal::WrongPassword.reason_code().to_v3_connack(),
            4,
            "3.1.1: bad user name or password"
        );
        assert_eq!(
            Refusal::AnonymousNotAllowed.reason_code().to_v3_connack(),
            5
        );
        assert_eq!(
            Refusal::WrongPassword.reason_code(),
            ReasonCode::BadUserNameOrPassword
        );
        assert_eq!(
            Refusal::AnonymousNotAllowed.reason_code(),
            ReasonCode::NotAuthorized
        );
    }

    #[test]
    fn a_certificate_name_needs_no_password() {
        let policy = FilePolicy::new(Some(passwords()), None, Anonymous::Refused);
        let mut c = credentials(Some("CN=device"), None);
        c.certificate = true;
        assert_eq!(policy.authenticate(&c, Instant::now()), Ok(()));
    }

    #[test]
    fn successes_are_remembered_briefly_and_only_for_the_same_password() {
        let policy = FilePolicy::new(Some(passwords()), None, Anonymous::Refused);
        let now = Instant::now();
        let ok = credentials(Some("alice"), Some(b"secret"));
        assert_eq!(policy.authenticate(&ok, now), Ok(()));
        let digest = policy.digest("alice", b"secret");
        assert!(policy.remembered("alice", &digest, now));
        assert!(!policy.remembered("alice", &policy.digest("alice", b"other"), now));
        assert!(!policy.remembered("alice", &digest, now + SUCCESS_CACHE_TTL));
        let wrong = credentials(Some("alice"), Some(b"other"));
        assert_eq!(
            policy.authenticate(&wrong, now),
            Err(Refusal::WrongPassword)
        );
    }

    #[test]
    fn a_source_that_keeps_failing_is_turned_away_until_its_window_passes() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        let other: IpAddr = "192.0.2.8".parse().expect("ip");
        let now = Instant::now();
        for _ in 0..3 {
            assert!(!limiter.is_blocked(ip, now));
            limiter.record_failure(ip, now);
        }
        assert!(limiter.is_blocked(ip, now));
        assert!(!limiter.is_blocked(other, now));
        assert!(!limiter.is_blocked(ip, now + Duration::from_secs(60)));
        limiter.record_success(ip);
        assert!(!limiter.is_blocked(ip, now));
    }

    #[test]
    fn ipv6_sources_are_counted_per_64() {
        let limiter = FailureLimiter::new(2, Duration::from_secs(60));
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2::ffff".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        let now = Instant::now();
        limiter.record_failure(a, now);
        limiter.record_failure(b, now);
        assert!(limiter.is_blocked(a, now));
        assert!(!limiter.is_blocked(c, now));
    }

    #[test]
    fn without_an_acl_every_topic_is_open() {
        let policy = FilePolicy::new(None, None, Anonymous::Allowed);
        let client = Client {
            client_id: "c",
            username: None,
        };
        assert!(policy.authorize(&client, "$SYS/broker/uptime", Access::Read));
        assert!(policy.authorize_subscription(&client, "#"));
    }
}
