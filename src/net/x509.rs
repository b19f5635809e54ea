//! What the TLS layer and `mq certs` read out of a certificate: names, SANs, validity.

use std::net::IpAddr;

use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::objects::{oid2abbrev, oid_registry};
use x509_parser::x509::X509Name;

pub use x509_parser::error::X509Error;

/// Parses one DER certificate.
pub fn parse<'a>(der: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, String> {
    x509_parser::parse_x509_certificate(der.as_ref())
        .map(|(_, cert)| cert)
        .map_err(|e| e.to_string())
}

/// The first Common Name of the subject, if it is a string.
pub fn common_name(cert: &X509Certificate<'_>) -> Option<String> {
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
}

/// A name in the RFC 2253 form OpenSSL (and so Mosquitto's `use_subject_as_username`)
/// prints: most specific part first, `CN=client,O=mq`, with `,+"\<>;` escaped.
pub fn rfc2253(name: &X509Name<'_>) -> String {
    let mut parts = Vec::new();
    for rdn in name.iter_rdn() {
        let attrs: Vec<String> = rdn
            .iter()
            .map(|attr| {
                let key = oid2abbrev(attr.attr_type(), oid_registry())
                    .map(str::to_owned)
                    .unwrap_or_else(|_| attr.attr_type().to_id_string());
                let value = match attr.as_str() {
                    Ok(s) => escape_rfc2253(s),
                    Err(_) => format!("#{}", hex(attr.as_slice())),
                };
                format!("{key}={value}")
            })
            .collect();
        parts.push(attrs.join("+"));
    }
    parts.reverse();
    parts.join(",")
}

fn escape_rfc2253(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let edge_space = c == ' ' && (i == 0 || i == last);
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || edge_space
            || (i == 0 && c == '#')
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Lower-case hex, no separators.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A Subject Alternative Name the TLS layer cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    Dns(String),
    Ip(IpAddr),
    Other(String),
}

impl std::fmt::Display for San {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            San::Dns(name) => write!(f, "DNS:{name}"),
            San::Ip(ip) => write!(f, "IP:{ip}"),
            San::Other(other) => f.write_str(other),
        }
    }
}

/// The certificate's Subject Alternative Names (empty when it has none).
pub fn subject_alt_names(cert: &X509Certificate<'_>) -> Vec<San> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => San::Dns((*dns).to_owned()),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => {
                    let octets: [u8; 4] = [bytes[0], bytes[1], bytes[2], bytes[3]];
                    San::Ip(IpAddr::from(octets))
                }
                16 => {
                    let mut octets = [0u8; 16];
                    octets.copy_from_slice(bytes);
                    San::Ip(IpAddr::from(octets))
                }
                _ => San::Other(format!("IP:{}", hex(bytes))),
            },
            GeneralName::RFC822Name(mail) => San::Other(format!("email:{mail}")),
            GeneralName::URI(uri) => San::Other(format!("URI:{uri}")),
            other => San::Other(format!("{other:?}")),
        })
        .collect()
}

/// Whether one of `sans` matches `host` the way a TLS client checks it: IP addresses
/// exactly, DNS names case-insensitively with a `*.` wildcard for one leftmost label.
pub fn sans_cover(sans: &[San], host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return sans.contains(&San::Ip(ip));
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    sans.iter().any(|san| {
        let San::Dns(name) = san else { return false };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match name.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
            None => name == host,
        }
    })
}

/// Validity bounds as dates.
pub fn validity(cert: &X509Certificate<'_>) -> (OffsetDateTime, OffsetDateTime) {
    let v = cert.validity();
    (v.not_before.to_datetime(), v.not_after.to_datetime())
}

/// `2026-11-01 09:30:00 UTC`: fixed, sortable and free of locale.
pub fn format_date(date: OffsetDateTime) -> String {
    let d = date.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(name: &str) -> San {
        San::Dns(name.to_owned())
    }

    #[test]
    fn ip_hosts_match_ip_sans_only() {
        let sans = [dns("localhost"), San::Ip("127.0.0.1".parse().unwrap())];
        assert!(sans_cover(&sans, "127.0.0.1"));
        assert!(!sans_cover(&sans, "127.0.0.2"));
        assert!(!sans_cover(&[dns("127.0.0.1")], "127.0.0.1"));
        assert!(sans_cover(&[San::Ip("::1".parse().unwrap())], "[::1]"));
    }

    #[test]
    fn dns_names_match_case_insensitively_and_wildcards_cover_one_label() {
        let sans = [dns("Broker.Example.com"), dns("*.iot.example.com")];
        assert!(sans_cover(&sans, "broker.example.com"));
        assert!(sans_cover(&sans, "a.iot.example.com"));
        assert!(!sans_cover(&sans, "a.b.iot.example.com"));
        assert!(!sans_cover(&sans, "iot.example.com"));
        assert!(!sans_cover(&sans, "example.com"));
    }

    #[test]
    fn rfc2253_values_escape_special_characters() {
        assert_eq!(escape_rfc2253("a,b"), "a\\,b");
        assert_eq!(escape_rfc2253(" x "), "\\ x\\ ");
        assert_eq!(escape_rfc2253("#1"), "\\#1");
        assert_eq!(escape_rfc2253("plain"), "plain");
    }

    #[test]
    fn dates_are_formatted_in_utc() {
        use ::time::{Date, Month, PrimitiveDateTime, Time};
        let date = Date::from_calendar_date(2030, Month::January, 2).unwrap();
        let date = PrimitiveDateTime::new(date, Time::from_hms(3, 4, 5).unwrap()).assume_utc();
        assert_eq!(format_date(date), "2030-01-02 03:04:05 UTC");
    }
}
