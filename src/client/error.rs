//! Typed client errors. Each names its cause in words and says which kind of failure it is,
//! so the command line can pick an exit code and bridges can decide whether to retry.

use std::fmt;
use std::path::PathBuf;

use mq_proto::ReasonCode;

/// A Reason Code as the broker sent it, with its words and the broker's reason string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The MQTT 5 Reason Code (MQTT 3.1.1 return codes are mapped onto these).
    pub code: u8,
    /// The MQTT 3.1.1 CONNACK return code when the broker spoke 3.1.1.
    pub v3_code: Option<u8>,
    /// The broker's reason string (MQTT 5), if it sent one.
    pub reason_string: Option<String>,
}

impl Reason {
    pub fn v5(code: u8) -> Reason {
        Reason {
            code,
            v3_code: None,
            reason_string: None,
        }
    }

    pub fn with_string(mut self, reason_string: Option<String>) -> Reason {
        self.reason_string = reason_string;
        self
    }

    /// An MQTT 3.1.1 CONNACK return code.
    pub fn v3_connack(code: u8) -> Reason {
        let mapped = ReasonCode::from_v3_connack(code).map_or(0x80, |r| r as u8);
        Reason {
            code: mapped,
            v3_code: Some(code),
            reason_string: None,
        }
    }

    pub fn is_failure(&self) -> bool {
        self.code >= 0x80
    }

    /// The spec's words for the code.
    pub fn words(&self) -> &'static str {
        ReasonCode::from_u8(self.code).map_or("unknown reason code", |r| r.description())
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.v3_code {
            Some(v3) => write!(f, "{} (return code {v3})", self.words())?,
            None => write!(f, "{} (0x{:02X})", self.words(), self.code)?,
        }
        if let Some(s) = &self.reason_string {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

/// Why a TLS handshake failed, as precisely as the certificate check tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// The server's chain does not lead to a trusted CA.
    UnknownCa,
    /// The certificate is valid, but not for the host we asked for.
    NameMismatch {
        expected: String,
        presented: Vec<String>,
    },
    Expired {
        detail: String,
    },
    NotYetValid {
        detail: String,
    },
    /// The server asked for a client certificate and we sent none (or it rejected ours).
    ClientCertificateRequired,
    /// The server rejected the client certificate we sent.
    ClientCertificateRejected(String),
    /// The peer sent an alert.
    Alert(String),
    /// The server does not speak TLS on that port (or speaks something else).
    NotTls,
    Other(String),
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsFailure::UnknownCa => f.write_str(
                "the server's certificate is signed by an unknown certificate authority; \
                 give the CA that signed it with --cafile (for `mq certs`: its ca.crt) or \
                 --capath",
            ),
            TlsFailure::NameMismatch {
                expected,
                presented,
            } => {
                write!(f, "the server's certificate is not valid for {expected}")?;
                if presented.is_empty() {
                    f.write_str("; it names no host")?;
                } else {
                    write!(f, "; it is valid for: {}", presented.join(", "))?;
                }
                f.write_str(
                    "; connect with one of those names, or make a server certificate that \
                     has this one (`mq certs server --san NAME`); --insecure skips the check",
                )
            }
            TlsFailure::Expired { detail } => {
                write!(f, "the server's certificate has expired{detail}")
            }
            TlsFailure::NotYetValid { detail } => {
                write!(f, "the server's certificate is not valid yet{detail}")
            }
            TlsFailure::ClientCertificateRequired => f.write_str(
                "the server requires a client certificate (give one with --cert and --key)",
            ),
            TlsFailure::ClientCertificateRejected(why) => {
                write!(f, "the server rejected the client certificate: {why}")
            }
            TlsFailure::Alert(alert) => write!(f, "the server sent the TLS alert {alert}"),
            TlsFailure::NotTls => f.write_str(
                "the server did not answer with TLS: this looks like a plain MQTT port; \
                 give the broker's TLS port (8883 by default), or leave TLS out",
            ),
            TlsFailure::Other(message) => f.write_str(message),
        }
    }
}

/// What to do about a refused CONNECT, after the reason in words.
fn connack_advice(reason: &Reason) -> &'static str {
    match reason.code {
        0x84 => "; try another MQTT version with -V (31, 311 or 5)",
        0x85 => "; pick another client id with -i",
        0x86 => {
            "; check the user name (-u) and the password (-P, --pw-prompt, --pw-file or --pw-env)"
        }
        0x87 => {
            "; this broker wants a user name and password (-u USER --pw-prompt) or a client \
             certificate (--cert, --key), or its access rules refuse this client"
        }
        0x88 | 0x89 | 0x97 | 0x9F => "; try again later",
        _ => "",
    }
}

/// What kind of failure an error is; decides exit codes and whether a retry can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad options, files or URLs given by the user.
    Config,
    /// The broker could not be reached, or the connection broke.
    Network,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// The broker answered CONNECT with a failure.
    ConnectionRefused,
    /// The broker broke the protocol or closed the connection on purpose.
    Protocol,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("{0}")]
    InvalidOption(String),
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("TLS setup: {0}")]
    TlsSetup(String),
    #[error("cannot resolve the host name {host:?}: {message}")]
    Resolve { host: String, message: String },
    #[error(
        "cannot connect to {addr}: connection refused: no broker listens there; start one \
         with `mq broker`, or give the broker's address with -h and -p (or -L)"
    )]
    ConnectionRefused { addr: String },
    #[error("cannot connect to {addr}: {message}")]
    Unreachable { addr: String, message: String },
    #[error("connecting to {addr} timed out")]
    ConnectTimeout { addr: String },
    #[error("TLS with {addr} failed: {failure}")]
    Tls { addr: String, failure: TlsFailure },
    #[error("WebSocket handshake with {addr} failed: {message}")]
    WebSocket { addr: String, message: String },
    #[error("the broker refused the connection: {0}{advice}", advice = connack_advice(.0))]
    ConnAck(Reason),
    #[error("the broker closed the connection: {0}")]
    ServerDisconnect(Reason),
    #[error("the connection to {addr} was lost: {message}")]
    ConnectionLost { addr: String, message: String },
    #[error("protocol error from {addr}: {message}")]
    Protocol { addr: String, message: String },
    /// The first bytes back were not a CONNACK: most often a TLS or WebSocket port.
    #[error(
        "{addr} did not answer CONNECT in MQTT: if it is a TLS port, add --cafile FILE or use \
         an mqtts:// URL; if it is a WebSocket port, use a ws:// URL (the reply: {message})"
    )]
    NotMqtt { addr: String, message: String },
    /// An acknowledgement carried a reason code the client library cannot read (Mosquitto
    /// answers an oversized publish with 0x95 in PUBACK, which MQTT 5 does not list there).
    #[error("the broker answered with reason code {reason}")]
    UnreadableReason { reason: Reason },
}

impl ClientError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::InvalidUrl { .. }
            | ClientError::InvalidOption(_)
            | ClientError::ReadFile { .. }
            | ClientError::Pem { .. }
            | ClientError::TlsSetup(_) => ErrorKind::Config,
            ClientError::Resolve { .. }
            | ClientError::ConnectionRefused { .. }
            | ClientError::Unreachable { .. }
            | ClientError::ConnectTimeout { .. }
            | ClientError::ConnectionLost { .. }
            | ClientError::NotMqtt { .. }
            | ClientError::WebSocket { .. } => ErrorKind::Network,
            ClientError::Tls { .. } => ErrorKind::Tls,
            ClientError::ConnAck(_) => ErrorKind::ConnectionRefused,
            ClientError::ServerDisconnect(_)
            | ClientError::Protocol { .. }
            | ClientError::UnreadableReason { .. } => ErrorKind::Protocol,
        }
    }

    /// Whether trying the same connection again later could succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::ConnAck(reason) => matches!(reason.code, 0x88 | 0x89 | 0x97 | 0x9F),
            ClientError::ServerDisconnect(reason) => {
                !matches!(reason.code, 0x87 | 0x8A | 0x9C | 0x9D)
            }
            _ => self.kind() == ErrorKind::Network,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_told_in_words() {
        assert_eq!(Reason::v5(0x87).to_string(), "not authorized (0x87)");
        assert_eq!(
            Reason::v3_connack(4).to_string(),
            "bad user name or password (return code 4)"
        );
        assert_eq!(
            Reason::v5(0x97)
                .with_string(Some("slow down".into()))
                .to_string(),
            "quota exceeded (0x97): slow down"
        );
    }

    #[test]
    fn a_name_mismatch_lists_the_certificate_names() {
        let failure = TlsFailure::NameMismatch {
            expected: "example.org".into(),
            presented: vec![
                "DnsName(\"localhost\")".into(),
                "IpAddress(127.0.0.1)".into(),
            ],
        };
        let text = failure.to_string();
        assert!(
            text.contains("example.org") && text.contains("localhost"),
            "{text}"
        );
    }
}
