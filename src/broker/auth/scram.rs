//! SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash), the MQTT 5 enhanced authentication
//! method the broker offers. The password file keeps SCRAM credentials (salt, iteration
//! count, StoredKey, ServerKey), never the password; the same credentials also verify a
//! plain CONNECT password, so one entry serves both kinds of client.
//!
//! The exchange: CONNECT carries `client-first-message` as Authentication Data, the broker
//! answers AUTH 0x18 with `server-first-message`, the client sends AUTH 0x18 with
//! `client-final-message`, and CONNACK carries `server-final-message` (the server's proof).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::password_file::equal_in_constant_time;

/// The Authentication Method name clients send.
pub const METHOD: &str = "SCRAM-SHA-256";
/// The prefix of SCRAM entries in the password file.
pub const PREFIX: &str = "$scram-sha-256$";
/// RFC 7677 asks for at least 4096.
pub const DEFAULT_ITERATIONS: u32 = 4096;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("SCRAM message is not UTF-8")]
    NotUtf8,
    #[error("SCRAM message is malformed: {0}")]
    Malformed(&'static str),
    #[error("SCRAM channel binding is not supported (send 'n,,')")]
    ChannelBinding,
    #[error("SCRAM nonce does not continue the server's nonce")]
    NonceMismatch,
    #[error("SCRAM proof does not match: wrong password")]
    WrongProof,
}

/// What the server keeps per user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramCredentials {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: [u8; 32],
    pub server_key: [u8; 32],
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

impl ScramCredentials {
    pub fn from_password(password: &[u8], salt: &[u8], iterations: u32) -> ScramCredentials {
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        ScramCredentials {
            salt: salt.to_vec(),
            iterations,
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    /// `$scram-sha-256$ITERATIONS$SALT$STOREDKEY$SERVERKEY`, base64 fields.
    pub fn encode(&self) -> String {
        format!(
            "{PREFIX}{}${}${}${}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        )
    }

    /// Parses [`ScramCredentials::encode`]'s form; `None` for anything else.
    pub fn decode(text: &str) -> Option<ScramCredentials> {
        let mut fields = text.strip_prefix(PREFIX)?.split('$');
        let iterations = fields.next()?.parse().ok().filter(|i| *i > 0)?;
        let salt = B64.decode(fields.next()?).ok()?;
        let stored_key = B64.decode(fields.next()?).ok()?.try_into().ok()?;
        let server_key = B64.decode(fields.next()?).ok()?.try_into().ok()?;
        if fields.next().is_some() {
            return None;
        }
        Some(ScramCredentials {
            salt,
            iterations,
            stored_key,
            server_key,
        })
    }

    /// Checks a plain password (a CONNECT without enhanced authentication).
    pub fn verify_password(&self, password: &[u8]) -> bool {
        let again = ScramCredentials::from_password(password, &self.salt, self.iterations);
        equal_in_constant_time(&again.stored_key, &self.stored_key)
    }
}

/// The parts of `client-first-message` the server needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    pub username: String,
    client_nonce: String,
    /// `client-first-message-bare`, part of the AuthMessage.
    bare: String,
}

impl ClientFirst {
    pub fn parse(message: &[u8]) -> Result<ClientFirst, ScramError> {
        let text = std::str::from_utf8(message).map_err(|_| ScramError::NotUtf8)?;
        // gs2-header: "n,," (no channel binding, no authzid) or "y,," (client could but thinks we can't).
        let bare = text
            .strip_prefix("n,,")
            .or_else(|| text.strip_prefix("y,,"))
            .ok_or(if text.starts_with("p=") {
                ScramError::ChannelBinding
            } else {
                ScramError::Malformed("expected the gs2 header 'n,,'")
            })?;
        let mut username = None;
        let mut nonce = None;
        for attribute in bare.split(',') {
            match attribute.split_once('=') {
                Some(("n", value)) => username = Some(unescape_username(value)?),
                Some(("r", value)) if !value.is_empty() => nonce = Some(value.to_string()),
                Some(("m", _)) => return Err(ScramError::Malformed("mandatory extension")),
                _ => {}
            }
        }
        Ok(ClientFirst {
            username: username.ok_or(ScramError::Malformed("no user name"))?,
            client_nonce: nonce.ok_or(ScramError::Malformed("no nonce"))?,
            bare: bare.to_string(),
        })
    }
}

/// RFC 5802 section 5.1: `=2C` is ',' and `=3D` is '='; any other '=' is malformed.
fn unescape_username(value: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3);
        match escape {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::Malformed("bad escape in user name")),
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The server's side between its first message and the client's final one.
#[derive(Debug, Clone)]
pub struct ServerExchange {
    credentials: ScramCredentials,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

impl ServerExchange {
    /// Answers `client-first-message` for a user with `credentials`; `server_nonce` is
    /// fresh randomness (printable, without ',').
    pub fn start(
        client_first: &ClientFirst,
        credentials: ScramCredentials,
        server_nonce: &str,
    ) -> (ServerExchange, Vec<u8>) {
        let nonce = format!("{}{}", client_first.client_nonce, server_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&credentials.salt),
            credentials.iterations
        );
        let message = server_first.clone().into_bytes();
        (
            ServerExchange {
                credentials,
                client_first_bare: client_first.bare.clone(),
                server_first,
                nonce,
            },
            message,
        )
    }

    /// Checks `client-final-message`; on success returns `server-final-message`.
    pub fn finish(self, client_final: &[u8]) -> Result<Vec<u8>, ScramError> {
        let text = std::str::from_utf8(client_final).map_err(|_| ScramError::NotUtf8)?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("no proof"))?;
        let mut channel_binding = None;
        let mut nonce = None;
        for attribute in without_proof.split(',') {
            match attribute.split_once('=') {
                Some(("c", value)) => channel_binding = Some(value),
                Some(("r", value)) => nonce = Some(value),
                _ => {}
            }
        }
        // "biws" is base64 of "n,,": the gs2 header of a client without channel binding.
        if !matches!(channel_binding, Some("biws") | Some("eSws")) {
            return Err(ScramError::ChannelBinding);
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err(ScramError::NonceMismatch);
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| ScramError::Malformed("proof is not base64"))?;
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let signature = hmac(&self.credentials.stored_key, auth_message.as_bytes());
        if proof.len() != 32 {
            return Err(ScramError::WrongProof);
        }
        let client_key: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
        if !equal_in_constant_time(&Sha256::digest(&client_key), &self.credentials.stored_key) {
            return Err(ScramError::WrongProof);
        }
        let server_signature = hmac(&self.credentials.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3: user "user", password "pencil".
    const SALT_B64: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn pencil() -> ScramCredentials {
        let salt = B64.decode(SALT_B64).unwrap();
        ScramCredentials::from_password(b"pencil", &salt, 4096)
    }

    #[test]
    fn the_rfc_7677_exchange_succeeds_with_the_rfc_messages() {
        let first = ClientFirst::parse(CLIENT_FIRST.as_bytes()).unwrap();
        assert_eq!(first.username, "user");
        let (exchange, server_first) = ServerExchange::start(&first, pencil(), SERVER_NONCE);
        assert_eq!(server_first, SERVER_FIRST.as_bytes());
        let server_final = exchange.finish(CLIENT_FINAL.as_bytes()).unwrap();
        assert_eq!(server_final, SERVER_FINAL.as_bytes());
    }

    #[test]
    fn a_wrong_password_gives_a_wrong_proof() {
        let salt = B64.decode(SALT_B64).unwrap();
        let other = ScramCredentials::from_password(b"crayon", &salt, 4096);
        let first = ClientFirst::parse(CLIENT_FIRST.as_bytes()).unwrap();
        let (exchange, _) = ServerExchange::start(&first, other, SERVER_NONCE);
        assert_eq!(
            exchange.finish(CLIENT_FINAL.as_bytes()),
            Err(ScramError::WrongProof)
        );
    }

    #[test]
    fn a_final_message_with_another_nonce_is_refused() {
        let first = ClientFirst::parse(CLIENT_FIRST.as_bytes()).unwrap();
        let (exchange, _) = ServerExchange::start(&first, pencil(), "different");
        assert_eq!(
            exchange.finish(CLIENT_FINAL.as_bytes()),
            Err(ScramError::NonceMismatch)
        );
    }

    #[test]
    fn credentials_round_trip_through_the_password_file_form_and_verify_plain_passwords() {
        let credentials = pencil();
        let encoded = credentials.encode();
        assert!(encoded.starts_with(PREFIX));
        let decoded = ScramCredentials::decode(&encoded).unwrap();
        assert_eq!(decoded, credentials);
        assert!(decoded.verify_password(b"pencil"));
        assert!(!decoded.verify_password(b"pencils"));
        assert_eq!(
            ScramCredentials::decode("$scram-sha-256$0$AA==$AA==$AA=="),
            None
        );
        assert_eq!(ScramCredentials::decode("$7$whatever"), None);
    }

    #[test]
    fn client_first_messages_are_checked() {
        assert_eq!(
            ClientFirst::parse(b"p=tls-unique,,n=user,r=abc"),
            Err(ScramError::ChannelBinding)
        );
        assert!(matches!(
            ClientFirst::parse(b"n,,r=abc"),
            Err(ScramError::Malformed(_))
        ));
        assert!(matches!(
            ClientFirst::parse(b"n,,n=a=b,r=abc"),
            Err(ScramError::Malformed(_))
        ));
        assert_eq!(
            ClientFirst::parse(b"n,,n=a=2Cb=3Dc,r=abc")
                .unwrap()
                .username,
            "a,b=c"
        );
    }
}
