//! The exit-code table: one place, no overlaps, shown in `mq --help`.

use std::fmt;
use std::process::ExitCode;

/// Why a command failed, which decides its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Something went wrong that no other row describes (1).
    General,
    /// Bad flags, arguments or configuration (2).
    Usage,
    /// The network refused or could not reach the broker (3).
    Network,
    /// The TLS handshake or certificate check failed (4).
    Tls,
    /// The broker refused the connection: CONNACK with a failure code (5).
    ConnectionRefused,
    /// The broker refused a publish or subscribe (6).
    Refused,
    /// A wait ran out (7).
    Timeout,
    /// The answer to a question was no: a wrong password (`mq passwd verify`) or access
    /// denied (`mq acl check`) (8).
    Denied,
}

impl FailureKind {
    pub fn code(self) -> u8 {
        match self {
            FailureKind::General => 1,
            FailureKind::Usage => 2,
            FailureKind::Network => 3,
            FailureKind::Tls => 4,
            FailureKind::ConnectionRefused => 5,
            FailureKind::Refused => 6,
            FailureKind::Timeout => 7,
            FailureKind::Denied => 8,
        }
    }
}

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  other error
  2  usage error: bad flags, arguments or configuration
  3  network error: the broker could not be reached
  4  TLS error: handshake or certificate check failed
  5  the broker refused the connection (CONNACK)
  6  the broker refused a publish or subscribe
  7  timed out
  8  the answer is no: wrong password (mq passwd verify), access denied (mq acl check)";

/// A failed command: what went wrong, in words, and which exit code it earns.
#[derive(Debug)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.kind.code())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_code_and_a_help_line() {
        let kinds = [
            FailureKind::General,
            FailureKind::Usage,
            FailureKind::Network,
            FailureKind::Tls,
            FailureKind::ConnectionRefused,
            FailureKind::Refused,
            FailureKind::Timeout,
            FailureKind::Denied,
        ];
        let mut codes: Vec<u8> = kinds.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        for code in codes {
            assert!(EXIT_CODES_HELP.contains(&format!("\n  {code}  ")), "{code}");
        }
    }
}
