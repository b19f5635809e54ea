//! MQTT 5 properties given with mosquitto's `-D COMMAND PROPERTY VALUE`, kept per packet.

use bytes::Bytes;

use super::error::ClientError;

/// Properties of a PUBLISH (also used for the Will, and for received messages).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishProperties {
    pub payload_format_indicator: Option<u8>,
    pub message_expiry_interval: Option<u32>,
    pub topic_alias: Option<u16>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: Vec<(String, String)>,
    /// Only on received messages: the identifiers of the matching subscriptions.
    pub subscription_identifiers: Vec<u32>,
    pub content_type: Option<String>,
}

impl PublishProperties {
    pub fn is_empty(&self) -> bool {
        *self == PublishProperties::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectProperties {
    pub session_expiry_interval: Option<u32>,
    pub receive_maximum: Option<u16>,
    pub maximum_packet_size: Option<u32>,
    pub topic_alias_maximum: Option<u16>,
    pub request_response_information: Option<u8>,
    pub request_problem_information: Option<u8>,
    pub authentication_method: Option<String>,
    pub authentication_data: Option<Bytes>,
    pub user_properties: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WillProperties {
    pub will_delay_interval: Option<u32>,
    pub publish: PublishProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscribeProperties {
    pub subscription_identifier: Option<u32>,
    pub user_properties: Vec<(String, String)>,
}

/// Every `-D` property, sorted by the packet it goes into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    pub connect: ConnectProperties,
    pub publish: PublishProperties,
    pub will: WillProperties,
    pub subscribe: SubscribeProperties,
    pub unsubscribe_user_properties: Vec<(String, String)>,
}

fn parse_num<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ClientError> {
    value.parse().map_err(|_| {
        ClientError::InvalidOption(format!(
            "-D ... {name} {value}: not a valid number for {name}"
        ))
    })
}

impl Properties {
    /// Adds one `-D COMMAND PROPERTY VALUE [VALUE]` (user-property takes a name and a value).
    pub fn add(&mut self, command: &str, name: &str, values: &[String]) -> Result<(), ClientError> {
        let bad = |why: &str| ClientError::InvalidOption(format!("-D {command} {name}: {why}"));
        let wanted = if name == "user-property" { 2 } else { 1 };
        if values.len() != wanted {
            return Err(bad(if wanted == 2 {
                "needs a name and a value"
            } else {
                "needs exactly one value"
            }));
        }
        let value = values[0].as_str();
        if name == "user-property" {
            let pair = (values[0].clone(), values[1].clone());
            match command {
                "connect" => self.connect.user_properties.push(pair),
                "publish" => self.publish.user_properties.push(pair),
                "will" => self.will.publish.user_properties.push(pair),
                "subscribe" => self.subscribe.user_properties.push(pair),
                "unsubscribe" => self.unsubscribe_user_properties.push(pair),
                _ => return Err(self::unsupported(command, name)),
            }
            return Ok(());
        }
        match (command, name) {
            ("connect", "session-expiry-interval") => {
                self.connect.session_expiry_interval = Some(parse_num(name, value)?)
            }
            ("connect", "receive-maximum") => {
                self.connect.receive_maximum = Some(parse_num(name, value)?)
            }
            ("connect", "maximum-packet-size") => {
                self.connect.maximum_packet_size = Some(parse_num(name, value)?)
            }
            ("connect", "topic-alias-maximum") => {
                self.connect.topic_alias_maximum = Some(parse_num(name, value)?)
            }
            ("connect", "request-response-information") => {
                self.connect.request_response_information = Some(parse_num(name, value)?)
            }
            ("connect", "request-problem-information") => {
                self.connect.request_problem_information = Some(parse_num(name, value)?)
            }
            ("connect", "authentication-method") => {
                self.connect.authentication_method = Some(value.to_owned())
            }
            ("connect", "authentication-data") => {
                self.connect.authentication_data = Some(Bytes::from(value.as_bytes().to_vec()))
            }
            ("will", "will-delay-interval") => {
                self.will.will_delay_interval = Some(parse_num(name, value)?)
            }
            ("publish" | "will", _) => {
                let target = if command == "publish" {
                    &mut self.publish
                } else {
                    &mut self.will.publish
                };
                match name {
                    "payload-format-indicator" => {
                        target.payload_format_indicator = Some(parse_num(name, value)?)
                    }
                    "message-expiry-interval" => {
                        target.message_expiry_interval = Some(parse_num(name, value)?)
                    }
                    "content-type" => target.content_type = Some(value.to_owned()),
                    "response-topic" => target.response_topic = Some(value.to_owned()),
                    "correlation-data" => {
                        target.correlation_data = Some(Bytes::from(value.as_bytes().to_vec()))
                    }
                    "topic-alias" if command == "publish" => {
                        let alias: u16 = parse_num(name, value)?;
                        if alias == 0 {
                            return Err(bad("a topic alias must be 1 or more"));
                        }
                        target.topic_alias = Some(alias)
                    }
                    _ => return Err(self::unsupported(command, name)),
                }
            }
            ("subscribe", "subscription-identifier") => {
                let id: u32 = parse_num(name, value)?;
                if !(1..=268_435_455).contains(&id) {
                    return Err(bad("a subscription identifier is 1 to 268435455"));
                }
                self.subscribe.subscription_identifier = Some(id)
            }
            _ => return Err(self::unsupported(command, name)),
        }
        Ok(())
    }
}

fn unsupported(command: &str, name: &str) -> ClientError {
    let known_commands = [
        "connect",
        "publish",
        "subscribe",
        "unsubscribe",
        "will",
        "disconnect",
        "auth",
    ];
    if !known_commands.contains(&command) {
        return ClientError::InvalidOption(format!(
            "-D {command}: unknown command; expected connect, publish, subscribe, unsubscribe or will"
        ));
    }
    if matches!(command, "disconnect" | "auth") {
        return ClientError::InvalidOption(format!(
            "-D {command} {name}: the client library (rumqttc) sends {} without properties",
            command.to_uppercase()
        ));
    }
    ClientError::InvalidOption(format!(
        "-D {command} {name}: not a property {command} can carry (or not one mq supports)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(p: &mut Properties, args: &[&str]) -> Result<(), ClientError> {
        let values: Vec<String> = args[2..].iter().map(|s| s.to_string()).collect();
        p.add(args[0], args[1], &values)
    }

    #[test]
    fn properties_land_in_their_packet() {
        let mut p = Properties::default();
        add(&mut p, &["publish", "content-type", "text/plain"]).unwrap();
        add(&mut p, &["publish", "user-property", "k", "v"]).unwrap();
        add(&mut p, &["connect", "session-expiry-interval", "60"]).unwrap();
        add(&mut p, &["will", "will-delay-interval", "5"]).unwrap();
        add(&mut p, &["subscribe", "subscription-identifier", "7"]).unwrap();
        assert_eq!(p.publish.content_type.as_deref(), Some("text/plain"));
        assert_eq!(p.publish.user_properties, vec![("k".into(), "v".into())]);
        assert_eq!(p.connect.session_expiry_interval, Some(60));
        assert_eq!(p.will.will_delay_interval, Some(5));
        assert_eq!(p.subscribe.subscription_identifier, Some(7));
    }

    #[test]
    fn wrong_properties_are_refused_with_a_reason() {
        let mut p = Properties::default();
        assert!(add(&mut p, &["connect", "content-type", "x"]).is_err());
        assert!(add(&mut p, &["publish", "message-expiry-interval", "soon"]).is_err());
        assert!(add(&mut p, &["publish", "user-property", "only-name"]).is_err());
        let err = add(&mut p, &["disconnect", "reason-string", "bye"]).unwrap_err();
        assert!(err.to_string().contains("rumqttc"), "{err}");
    }
}
