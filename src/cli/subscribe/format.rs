//! mosquitto_sub's `-F` format strings, ported from mosquitto 2.0's `sub_client_output.c` so
//! that the same format gives the same bytes: `%` codes with optional `-`, `0`, width and
//! `.precision`; `@` codes for strftime on the local time (`@N` nanoseconds, `@@` an `@`);
//! `\` escapes `\\ \0 \a \e \n \r \t \v`. Unknown codes print nothing, as in mosquitto.

use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::{DateTime, Local};

use crate::client::Message;

/// When a message was received, for the time codes.
#[derive(Debug, Clone, Copy)]
pub struct Received(pub DateTime<Local>);

impl Received {
    pub fn now() -> Received {
        Received(Local::now())
    }

    fn nanos(&self) -> u32 {
        self.0.timestamp_subsec_nanos()
    }

    /// C's strftime for one conversion; empty when chrono does not know it.
    fn strftime(&self, spec: &str) -> String {
        let mut out = String::new();
        if write!(out, "{}", self.0.format(spec)).is_err() {
            out.clear();
        }
        out
    }
}

fn print_int(out: &mut Vec<u8>, value: i64, align: u8, pad: u8, width: usize) {
    let text = if width == 0 {
        value.to_string()
    } else if align == b'-' {
        format!("{value:<width$}")
    } else if pad == b'0' {
        format!("{value:0width$}")
    } else {
        format!("{value:>width$}")
    };
    out.extend_from_slice(text.as_bytes());
}

fn print_blank(out: &mut Vec<u8>, pad: u8, width: usize) {
    out.extend(std::iter::repeat_n(pad, width));
}

/// printf's `%*.*s` on bytes.
fn print_str(out: &mut Vec<u8>, value: &[u8], align: u8, width: usize, precision: Option<usize>) {
    let value = match precision {
        Some(p) if p < value.len() => &value[..p],
        _ => value,
    };
    let padding = width.saturating_sub(value.len());
    if align == b'-' {
        out.extend_from_slice(value);
        out.extend(std::iter::repeat_n(b' ', padding));
    } else {
        out.extend(std::iter::repeat_n(b' ', padding));
        out.extend_from_slice(value);
    }
}

/// mosquitto's write_payload, quirks included (hex halves the length cut by the width).
fn write_payload(out: &mut Vec<u8>, payload: &[u8], hex: u8, align: u8, pad: u8, width: usize) {
    let mut len = payload.len() as i64;
    let width = width as i64;
    let padlen;
    if width > 0 {
        if len > width {
            len = width;
        }
        if hex > 0 {
            len /= 2;
            padlen = width - len * 2;
        } else {
            padlen = width - len;
        }
    } else {
        padlen = width - len;
    }
    if align != b'-' {
        for _ in 0..padlen.max(0) {
            out.push(pad);
        }
    }
    let shown = &payload[..len.max(0) as usize];
    match hex {
        0 => out.extend_from_slice(shown),
        1 => shown.iter().for_each(|b| {
            let _ = write!(out, "{b:02x}");
        }),
        _ => shown.iter().for_each(|b| {
            let _ = write!(out, "{b:02X}");
        }),
    }
    if align == b'-' {
        // printf("%*s", padlen, ""): a negative width pads just the same.
        out.extend(std::iter::repeat_n(b' ', padlen.unsigned_abs() as usize));
    }
}

/// mosquitto_sub's check of a `-F` format before it connects: the same strings are refused.
pub fn check_format(format: &[u8]) -> Result<(), String> {
    let len = format.len();
    let incomplete = || Err("incomplete format specifier".to_owned());
    let mut i = 0;
    while i < len {
        match format[i] {
            b'%' => {
                if i == len - 1 {
                    return incomplete();
                }
                if format[i + 1] == b'0' || format[i + 1] == b'-' {
                    i += 1;
                    if i == len - 1 {
                        return incomplete();
                    }
                }
                while format[i + 1].is_ascii_digit() {
                    i += 1;
                    if i == len - 1 {
                        return incomplete();
                    }
                }
                if format[i + 1] == b'.' {
                    i += 1;
                    if i == len - 1 {
                        return incomplete();
                    }
                    while format[i + 1].is_ascii_digit() {
                        i += 1;
                        if i == len - 1 {
                            return incomplete();
                        }
                    }
                }
                let code = format[i + 1];
                if !b"%ACDEFIlmPpqRSrtjJUxX".contains(&code) {
                    return Err(format!("invalid format specifier '{}'", code as char));
                }
                i += 1;
            }
            b'@' => {
                if i == len - 1 {
                    return incomplete();
                }
                i += 1;
            }
            b'\\' => {
                if i == len - 1 {
                    return Err("incomplete escape specifier".to_owned());
                }
                let code = format[i + 1];
                if !b"\\0aenrtv".contains(&code) {
                    return Err(format!("invalid escape specifier '{}'", code as char));
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Everything `-F` needs besides the message.
#[derive(Debug, Clone, Copy)]
pub struct FormatOptions {
    pub pretty: bool,
    pub eol: bool,
}

/// Formats one message as mosquitto_sub would for `-F format`.
pub fn format_message(
    format: &[u8],
    msg: &Message,
    when: &Received,
    opts: FormatOptions,
    stderr: &mut dyn Write,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(format.len() + msg.payload.len());
    let len = format.len();
    let mut i = 0;
    while i < len {
        let c = format[i];
        if c == b'%' {
            let mut align = 0u8;
            let mut pad = b' ';
            let mut width = 0usize;
            let mut precision: Option<usize> = None;
            if i < len - 1 {
                i += 1;
                if format[i] == b'-' {
                    align = b'-';
                    if i < len - 1 {
                        i += 1;
                    }
                }
                if format[i] == b'0' {
                    pad = b'0';
                    if i < len - 1 {
                        i += 1;
                    }
                }
                while i < len - 1 && format[i].is_ascii_digit() {
                    width = width
                        .saturating_mul(10)
                        .saturating_add(usize::from(format[i] - b'0'));
                    i += 1;
                }
                if format[i] == b'.' && i < len - 1 {
                    i += 1;
                    let mut p = 0usize;
                    while i < len - 1 && format[i].is_ascii_digit() {
                        p = p
                            .saturating_mul(10)
                            .saturating_add(usize::from(format[i] - b'0'));
                        i += 1;
                    }
                    precision = Some(p);
                }
                if i < len {
                    percent(
                        &mut out, format[i], msg, when, opts, align, pad, width, precision, stderr,
                    );
                }
            }
        } else if c == b'@' {
            if i < len - 1 {
                i += 1;
                match format[i] {
                    b'@' => out.push(b'@'),
                    b'N' => {
                        let _ = write!(out, "{:09}", when.nanos());
                    }
                    other => {
                        let spec = format!("%{}", other as char);
                        out.extend_from_slice(when.strftime(&spec).as_bytes());
                    }
                }
            }
        } else if c == b'\\' {
            if i < len - 1 {
                i += 1;
                match format[i] {
                    b'\\' => out.push(b'\\'),
                    b'0' => out.push(0),
                    b'a' => out.push(0x07),
                    b'e' => out.push(0x1b),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'v' => out.push(0x0b),
                    _ => {}
                }
            }
        } else {
            out.push(c);
        }
        i += 1;
    }
    if opts.eol {
        out.push(b'\n');
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn percent(
    out: &mut Vec<u8>,
    code: u8,
    msg: &Message,
    when: &Received,
    opts: FormatOptions,
    align: u8,
    pad: u8,
    width: usize,
    precision: Option<usize>,
    stderr: &mut dyn Write,
) {
    let props = msg.properties.as_ref();
    match code {
        b'%' => out.push(b'%'),
        b'A' => match props.and_then(|p| p.topic_alias) {
            Some(v) => print_int(out, i64::from(v), align, pad, width),
            None => print_blank(out, pad, width),
        },
        b'C' => match props.and_then(|p| p.content_type.as_deref()) {
            Some(v) => print_str(out, v.as_bytes(), align, width, precision),
            None => print_blank(out, b' ', width),
        },
        b'D' => {
            if let Some(v) = props.and_then(|p| p.correlation_data.as_ref()) {
                out.extend_from_slice(v);
            }
        }
        b'E' => match props.and_then(|p| p.message_expiry_interval) {
            // mosquitto prints it through an int.
            Some(v) => print_int(out, i64::from(v as i32), align, pad, width),
            None => print_blank(out, pad, width),
        },
        b'F' => match props.and_then(|p| p.payload_format_indicator) {
            Some(v) => print_int(out, i64::from(v), align, pad, width),
            None => print_blank(out, pad, width),
        },
        b'I' => {
            let text = when.strftime("%Y-%m-%dT%H:%M:%S%z");
            print_str(out, text.as_bytes(), align, width, precision);
        }
        b'j' => json_print(out, msg, when, true, opts.pretty),
        b'J' => {
            let mut buf = Vec::new();
            if json_print_checked(&mut buf, msg, when, opts.pretty) {
                out.extend_from_slice(&buf);
            } else {
                let _ = writeln!(
                    stderr,
                    "Error: Message payload is not valid JSON on topic {}.",
                    msg.topic
                );
            }
        }
        b'l' => print_int(out, msg.payload.len() as i64, align, pad, width),
        b'm' => print_int(out, i64::from(msg.pkid), align, pad, width),
        b'P' => {
            if let Some(p) = props {
                for (n, (k, v)) in p.user_properties.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    let _ = write!(out, "{k}:{v}");
                }
            }
        }
        b'p' => write_payload(out, &msg.payload, 0, align, pad, width),
        b'q' => out.push(b'0' + msg.qos.as_u8()),
        b'R' => {
            if let Some(v) = props.and_then(|p| p.response_topic.as_deref()) {
                print_str(out, v.as_bytes(), align, width, precision);
            }
        }
        b'r' => out.push(if msg.retain { b'1' } else { b'0' }),
        b'S' => match props.and_then(|p| p.subscription_identifiers.first()) {
            Some(v) => print_int(out, i64::from(*v as i32), align, pad, width),
            None => print_blank(out, pad, width),
        },
        b't' => print_str(out, msg.topic.as_bytes(), align, width, precision),
        b'U' => {
            let _ = write!(out, "{}.{:09}", when.0.timestamp(), when.nanos());
        }
        b'x' => write_payload(out, &msg.payload, 1, align, pad, width),
        b'X' => write_payload(out, &msg.payload, 2, align, pad, width),
        _ => {}
    }
}

/// The `tst` field: local time with microseconds, then `Z` and the offset, exactly as
/// mosquitto builds it.
fn json_time(when: &Received) -> String {
    format!(
        "{}.{:06}Z{}",
        when.strftime("%Y-%m-%dT%H:%M:%S"),
        when.nanos() / 1000,
        when.strftime("%z")
    )
}

/// A cJSON-style writer: compact, or cJSON_Print's tabs with `pretty`.
struct Json<'a> {
    out: &'a mut Vec<u8>,
    pretty: bool,
    depth: usize,
    first: Vec<bool>,
}

impl<'a> Json<'a> {
    fn new(out: &'a mut Vec<u8>, pretty: bool) -> Json<'a> {
        Json {
            out,
            pretty,
            depth: 0,
            first: Vec::new(),
        }
    }

    fn open(&mut self) {
        self.out.push(b'{');
        self.depth += 1;
        self.first.push(true);
        if self.pretty {
            self.out.push(b'\n');
        }
    }

    fn close(&mut self) {
        self.first.pop();
        if self.pretty {
            self.out.push(b'\n');
            self.indent(self.depth - 1);
        }
        self.depth -= 1;
        self.out.push(b'}');
    }

    fn indent(&mut self, n: usize) {
        self.out.extend(std::iter::repeat_n(b'\t', n));
    }

    fn key(&mut self, key: &str) {
        if let Some(first) = self.first.last_mut() {
            if !*first {
                self.out.push(b',');
                if self.pretty {
                    self.out.push(b'\n');
                }
            }
            *first = false;
        }
        if self.pretty {
            self.indent(self.depth);
        }
        string(self.out, key.as_bytes());
        self.out.push(b':');
        if self.pretty {
            self.out.push(b'\t');
        }
    }

    fn num(&mut self, key: &str, v: i64) {
        self.key(key);
        let _ = write!(self.out, "{v}");
    }

    fn str(&mut self, key: &str, v: &[u8]) {
        self.key(key);
        string(self.out, v);
    }

    fn raw(&mut self, key: &str, v: &[u8]) {
        self.key(key);
        self.out.extend_from_slice(v);
    }
}

/// cJSON's string escaping; bytes above 0x7F pass through.
fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b if b < 0x20 => {
                let _ = write!(out, "\\u{b:04x}");
            }
            b => out.push(b),
        }
    }
    out.push(b'"');
}

fn json_head(j: &mut Json<'_>, msg: &Message, when: &Received) {
    j.open();
    j.str("tst", json_time(when).as_bytes());
    j.str("topic", msg.topic.as_bytes());
    j.num("qos", i64::from(msg.qos.as_u8()));
    j.num("retain", i64::from(msg.retain));
    j.num("payloadlen", msg.payload.len() as i64);
    if msg.qos.as_u8() > 0 {
        j.num("mid", i64::from(msg.pkid));
    }
    if let Some(p) = &msg.properties {
        j.key("properties");
        j.open();
        // Mosquitto prints properties in wire order; this is the order rumqttc (and so
        // `mq pub`) writes them, which Mosquitto keeps when it forwards a message.
        if let Some(v) = p.payload_format_indicator {
            j.num("payload-format-indicator", i64::from(v));
        }
        if let Some(v) = p.message_expiry_interval {
            j.num("message-expiry-interval", i64::from(v));
        }
        if let Some(v) = p.topic_alias {
            j.num("topic-alias", i64::from(v));
        }
        if let Some(v) = &p.response_topic {
            j.str("response-topic", v.as_bytes());
        }
        if let Some(v) = &p.correlation_data {
            let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
            j.str("correlation-data", &v[..end]);
        }
        if !p.user_properties.is_empty() {
            j.key("user-properties");
            j.open();
            for (k, v) in &p.user_properties {
                j.str(k, v.as_bytes());
            }
            j.close();
        }
        for id in &p.subscription_identifiers {
            j.num("subscription-identifier", i64::from(*id));
        }
        if let Some(v) = &p.content_type {
            j.str("content-type", v.as_bytes());
        }
        j.close();
    }
}

/// `%j`: the payload as a JSON string (up to its first NUL byte, as the C string it is there).
fn json_print(out: &mut Vec<u8>, msg: &Message, when: &Received, _escaped: bool, pretty: bool) {
    let mut j = Json::new(out, pretty);
    json_head(&mut j, msg, when);
    let end = msg
        .payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(msg.payload.len());
    j.str("payload", &msg.payload[..end]);
    j.close();
}

/// `%J`: the payload must be JSON and is embedded as such; false when it is not.
fn json_print_checked(out: &mut Vec<u8>, msg: &Message, when: &Received, pretty: bool) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&msg.payload) else {
        return false;
    };
    let mut embedded = Vec::new();
    cjson_value(&mut embedded, &value, pretty, 1);
    let mut j = Json::new(out, pretty);
    json_head(&mut j, msg, when);
    j.raw("payload", &embedded);
    j.close();
    true
}

/// Prints a parsed JSON value the way cJSON does (integers plainly, `%1.15g` otherwise).
fn cjson_value(out: &mut Vec<u8>, v: &serde_json::Value, pretty: bool, depth: usize) {
    use serde_json::Value;
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            let d = n.as_f64().unwrap_or(0.0);
            if d.fract() == 0.0 && d.abs() < 2_147_483_648.0 {
                let _ = write!(out, "{}", d as i64);
            } else {
                let _ = write!(out, "{d}");
            }
        }
        Value::String(s) => string(out, s.as_bytes()),
        Value::Array(items) => {
            out.push(b'[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                    if pretty {
                        out.push(b' ');
                    }
                }
                cjson_value(out, item, pretty, depth + 1);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            if pretty {
                out.push(b'\n');
            }
            for (n, (k, item)) in map.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                    if pretty {
                        out.push(b'\n');
                    }
                }
                if pretty {
                    out.extend(std::iter::repeat_n(b'\t', depth + 1));
                }
                string(out, k.as_bytes());
                out.push(b':');
                if pretty {
                    out.push(b'\t');
                }
                cjson_value(out, item, pretty, depth + 1);
            }
            if pretty {
                out.push(b'\n');
                out.extend(std::iter::repeat_n(b'\t', depth));
            }
            out.push(b'}');
        }
    }
}

/// Writes to stdout, reporting a closed pipe as such.
pub fn write_all(out: &mut dyn Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(bytes)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{PublishProperties, QoS};
    use bytes::Bytes;

    fn msg(payload: &[u8]) -> Message {
        Message {
            topic: "a/b".into(),
            payload: Bytes::copy_from_slice(payload),
            qos: QoS::AtLeastOnce,
            retain: true,
            dup: false,
            pkid: 7,
            properties: None,
        }
    }

    fn fmt(f: &str, m: &Message) -> String {
        let opts = FormatOptions {
            pretty: false,
            eol: false,
        };
        let out = format_message(f.as_bytes(), m, &Received::now(), opts, &mut io::sink());
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn percent_codes_follow_mosquitto() {
        let m = msg(b"hello");
        assert_eq!(fmt("%t %p %q %r %l %m %%", &m), "a/b hello 1 1 5 7 %");
        assert_eq!(
            fmt("[%10t][%-10t][%.1t]", &m),
            "[       a/b][a/b       ][a]"
        );
        assert_eq!(
            fmt("[%8p][%-8p][%08p]", &m),
            "[   hello][hello   ][000hello]"
        );
        assert_eq!(fmt("%x %X", &msg(b"\x01\xab")), "01ab 01AB");
        // mosquitto halves the shown length when a width is given with hex (its quirk, kept).
        assert_eq!(fmt("[%6x]", &msg(b"\x01\xab")), "[    01]");
        assert_eq!(fmt("[%05l][%-4m]", &m), "[00005][7   ]");
    }

    #[test]
    fn formats_mosquitto_refuses_are_refused() {
        for bad in ["%", "%-", "%5", "%.", "%.3", "%z", "\\q", "\\", "@", "a%05"] {
            assert!(check_format(bad.as_bytes()).is_err(), "{bad}");
        }
        for good in ["%t %p", "%-05.3p", "@Y@@", "\\n\\0", "%%", "%10.2t"] {
            assert!(check_format(good.as_bytes()).is_ok(), "{good}");
        }
    }

    #[test]
    fn escapes_and_at_codes() {
        let m = msg(b"x");
        assert_eq!(fmt("\\t\\n\\\\\\e\\0@@", &m), "\t\n\\\x1b\0@");
        assert_eq!(fmt("@N", &m).len(), 9);
        assert_eq!(fmt("@Y", &m).len(), 4);
    }

    #[test]
    fn v5_property_codes() {
        let mut m = msg(b"x");
        m.properties = Some(PublishProperties {
            content_type: Some("text/plain".into()),
            user_properties: vec![("k".into(), "v".into()), ("a".into(), "b".into())],
            subscription_identifiers: vec![3],
            correlation_data: Some(Bytes::from_static(b"cd")),
            response_topic: Some("resp".into()),
            message_expiry_interval: Some(60),
            payload_format_indicator: Some(1),
            topic_alias: None,
        });
        assert_eq!(
            fmt("%C|%P|%S|%D|%R|%E|%F|%A|", &m),
            "text/plain|k:v a:b|3|cd|resp|60|1||"
        );
        assert_eq!(fmt("[%3A]", &msg(b"x")), "[   ]");
    }

    #[test]
    fn json_codes_escape_like_cjson() {
        let m = msg(b"say \"hi\"\n");
        let out = fmt("%j", &m);
        assert!(out.starts_with("{\"tst\":\""), "{out}");
        assert!(
            out.ends_with(
                "\"topic\":\"a/b\",\"qos\":1,\"retain\":1,\"payloadlen\":9,\"mid\":7,\"payload\":\"say \\\"hi\\\"\\n\"}"
            ),
            "{out}"
        );
        let out = fmt("%J", &msg(b"{\"a\": [1, 2.5]}"));
        assert!(out.ends_with("\"payload\":{\"a\":[1,2.5]}}"), "{out}");
    }
}
