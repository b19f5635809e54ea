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
    /// The exit-code table, in code order: `mq --help` and the man pages' EXIT STATUS
    /// sections are written from it.
    pub const TABLE: [FailureKind; 8] = [
        FailureKind::General,
        FailureKind::Usage,
        FailureKind::Network,
        FailureKind::Tls,
        FailureKind::ConnectionRefused,
        FailureKind::Refused,
        FailureKind::Timeout,
        FailureKind::Denied,
    ];

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

    /// What the code means, for the table.
    pub fn meaning(self) -> &'static str {
        match self {
            FailureKind::General => "other error",
            FailureKind::Usage => "usage error: bad flags, arguments or configuration",
            FailureKind::Network => {
                "network error: the broker could not be reached, or a port could not be bound"
            }
            FailureKind::Tls => "TLS error: handshake or certificate check failed",
            FailureKind::ConnectionRefused => "the broker refused the connection (CONNACK)",
            FailureKind::Refused => "the broker refused a publish or subscribe",
            FailureKind::Timeout => "timed out",
            FailureKind::Denied => {
                "the answer is no: wrong password (mq passwd verify), access denied (mq acl check)"
            }
        }
    }
}

/// Success, then every failure: (code, meaning).
pub fn exit_codes() -> impl Iterator<Item = (u8, &'static str)> {
    std::iter::once((0, "success"))
        .chain(FailureKind::TABLE.iter().map(|k| (k.code(), k.meaning())))
}

/// The table as `--help` shows it, under an "Exit codes:" heading.
pub fn exit_codes_help() -> String {
    let mut text = String::from("Exit codes:");
    for (code, meaning) in exit_codes() {
        text.push_str(&format!("\n  {code}  {meaning}"));
    }
    text
}

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
    fn every_kind_has_its_own_code_in_order_after_success() {
        let codes: Vec<u8> = exit_codes().map(|(code, _)| code).collect();
        assert_eq!(codes, (0..=8).collect::<Vec<u8>>());
        assert!(exit_codes_help().contains("\n  4  TLS error"));
    }
}
