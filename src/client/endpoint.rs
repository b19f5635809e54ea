//! Where a client connects: `mqtt://`, `mqtts://`, `ws://` and `wss://` URLs with optional
//! `user:password@` and, for `mqtt(s)://`, a `/topic` path (as mosquitto's `-L`).

use std::fmt;

use super::error::ClientError;

/// The transport a URL scheme selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// MQTT over TCP (`mqtt://`, port 1883).
    Mqtt,
    /// MQTT over TLS (`mqtts://`, port 8883).
    Mqtts,
    /// MQTT over WebSocket (`ws://`, port 80).
    Ws,
    /// MQTT over WebSocket over TLS (`wss://`, port 443).
    Wss,
}

impl Scheme {
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Mqtt => 1883,
            Scheme::Mqtts => 8883,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        }
    }

    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Mqtts | Scheme::Wss)
    }

    pub fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }

    /// The same transport with TLS on top.
    pub fn with_tls(self) -> Scheme {
        match self {
            Scheme::Mqtt | Scheme::Mqtts => Scheme::Mqtts,
            Scheme::Ws | Scheme::Wss => Scheme::Wss,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Mqtt => "mqtt",
            Scheme::Mqtts => "mqtts",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        }
    }
}

/// A broker address: transport, host, port and (for WebSocket) the HTTP path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    /// The WebSocket request path (`/mqtt` unless the URL gives one); unused for mqtt(s).
    pub path: String,
}

impl Endpoint {
    pub fn new(scheme: Scheme, host: impl Into<String>, port: u16) -> Endpoint {
        Endpoint {
            scheme,
            host: host.into(),
            port,
            path: "/mqtt".to_owned(),
        }
    }

    /// `host:port`, with IPv6 literals in brackets, as people write it in messages.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL a WebSocket transport requests.
    pub fn websocket_url(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority(),
            self.path
        )
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.authority())?;
        if self.scheme.is_websocket() {
            f.write_str(&self.path)?;
        }
        Ok(())
    }
}

/// Everything a broker URL can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub endpoint: Endpoint,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The topic from the path of an `mqtt(s)://` URL.
    pub topic: Option<String>,
}

impl BrokerUrl {
    /// Parses `scheme://[user[:password]@]host[:port][/path]`. User, password and topic may be
    /// percent-encoded (`%40` for `@`, `%23` for `#`).
    pub fn parse(url: &str) -> Result<BrokerUrl, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("expected scheme://host, e.g. mqtt://localhost"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => Scheme::Mqtt,
            "mqtts" | "ssl" | "tls" => Scheme::Mqtts,
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            _ => return Err(invalid("the scheme must be mqtt, mqtts, ws or wss")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, pass) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                let user = percent_decode(user).ok_or_else(|| invalid("bad %-escape in user"))?;
                let pass = pass
                    .map(|p| percent_decode(p).ok_or_else(|| invalid("bad %-escape in password")))
                    .transpose()?;
                (Some(user), pass)
            }
        };
        let (host, port) = split_host_port(hostport).ok_or_else(|| invalid("bad host or port"))?;
        if host.is_empty() {
            return Err(invalid("the host is missing"));
        }
        let mut endpoint = Endpoint::new(scheme, host, port.unwrap_or(scheme.default_port()));
        let mut topic = None;
        if let Some(path) = path {
            if scheme.is_websocket() {
                endpoint.path = format!("/{path}");
            } else if !path.is_empty() {
                topic = Some(percent_decode(path).ok_or_else(|| invalid("bad %-escape in topic"))?);
            }
        }
        Ok(BrokerUrl {
            endpoint,
            username,
            password,
            topic,
        })
    }
}

fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Some((host.to_owned(), Some(port.parse().ok()?)))
        }
        Some(_) => Some((s.to_owned(), None)),
        None => Some((s.to_owned(), None)),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_mqtt_url_gets_the_default_port() {
        let url = BrokerUrl::parse("mqtt://example.com").unwrap();
        assert_eq!(
            url.endpoint,
            Endpoint::new(Scheme::Mqtt, "example.com", 1883)
        );
        assert_eq!(url.topic, None);
    }

    #[test]
    fn credentials_port_and_topic_are_taken_apart() {
        let url = BrokerUrl::parse("mqtts://al%40ice:p%3Ass@broker:8884/a/b/%23").unwrap();
        assert_eq!(url.endpoint.scheme, Scheme::Mqtts);
        assert_eq!(url.endpoint.port, 8884);
        assert_eq!(url.username.as_deref(), Some("al@ice"));
        assert_eq!(url.password.as_deref(), Some("p:ss"));
        assert_eq!(url.topic.as_deref(), Some("a/b/#"));
    }

    #[test]
    fn websocket_urls_keep_their_path() {
        let url = BrokerUrl::parse("wss://[::1]:9001/ws").unwrap();
        assert_eq!(url.endpoint.host, "::1");
        assert_eq!(url.endpoint.websocket_url(), "wss://[::1]:9001/ws");
        assert_eq!(url.topic, None);
        let url = BrokerUrl::parse("ws://localhost").unwrap();
        assert_eq!(url.endpoint.websocket_url(), "ws://localhost:80/mqtt");
    }

    #[test]
    fn bad_urls_say_why() {
        for bad in [
            "localhost",
            "http://x",
            "mqtt://:1883",
            "mqtt://h:99999",
            "mqtt://h/%zz",
        ] {
            let err = BrokerUrl::parse(bad).unwrap_err();
            assert!(
                matches!(err, ClientError::InvalidUrl { .. }),
                "{bad}: {err}"
            );
        }
    }
}
