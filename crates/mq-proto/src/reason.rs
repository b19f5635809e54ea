//! MQTT 5 Reason Codes, and their MQTT 3.x return-code equivalents.

use std::fmt;

macro_rules! reason_codes {
    ($($name:ident = $value:literal, $text:literal;)*) => {
        /// A Reason Code (MQTT 5 section 2.4). MQTT 3.x return codes are mapped onto these.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum ReasonCode {
            $($name = $value,)*
        }

        impl ReasonCode {
            /// The reason code for a byte, or `None` if the byte is not a defined code.
            pub fn from_u8(value: u8) -> Option<ReasonCode> {
                match value {
                    $($value => Some(ReasonCode::$name),)*
                    _ => None,
                }
            }

            /// The spec's words for this code.
            pub fn description(self) -> &'static str {
                match self {
                    $(ReasonCode::$name => $text,)*
                }
            }
        }
    };
}

reason_codes! {
    Success = 0x00, "success";
    GrantedQoS1 = 0x01, "granted QoS 1";
    GrantedQoS2 = 0x02, "granted QoS 2";
    DisconnectWithWillMessage = 0x04, "disconnect with will message";
    NoMatchingSubscribers = 0x10, "no matching subscribers";
    NoSubscriptionExisted = 0x11, "no subscription existed";
    ContinueAuthentication = 0x18, "continue authentication";
    ReAuthenticate = 0x19, "re-authenticate";
    UnspecifiedError = 0x80, "unspecified error";
    MalformedPacket = 0x81, "malformed packet";
    ProtocolError = 0x82, "protocol error";
    ImplementationSpecificError = 0x83, "implementation specific error";
    UnsupportedProtocolVersion = 0x84, "unsupported protocol version";
    ClientIdentifierNotValid = 0x85, "client identifier not valid";
    BadUserNameOrPassword = 0x86, "bad user name or password";
    NotAuthorized = 0x87, "not authorized";
    ServerUnavailable = 0x88, "server unavailable";
    ServerBusy = 0x89, "server busy";
    Banned = 0x8A, "banned";
    ServerShuttingDown = 0x8B, "server shutting down";
    BadAuthenticationMethod = 0x8C, "bad authentication method";
    KeepAliveTimeout = 0x8D, "keep alive timeout";
    SessionTakenOver = 0x8E, "session taken over";
    TopicFilterInvalid = 0x8F, "topic filter invalid";
    TopicNameInvalid = 0x90, "topic name invalid";
    PacketIdentifierInUse = 0x91, "packet identifier in use";
    PacketIdentifierNotFound = 0x92, "packet identifier not found";
    ReceiveMaximumExceeded = 0x93, "receive maximum exceeded";
    TopicAliasInvalid = 0x94, "topic alias invalid";
    PacketTooLarge = 0x95, "packet too large";
    MessageRateTooHigh = 0x96, "message rate too high";
    QuotaExceeded = 0x97, "quota exceeded";
    AdministrativeAction = 0x98, "administrative action";
    PayloadFormatInvalid = 0x99, "payload format invalid";
    RetainNotSupported = 0x9A, "retain not supported";
    QoSNotSupported = 0x9B, "QoS not supported";
    UseAnotherServer = 0x9C, "use another server";
    ServerMoved = 0x9D, "server moved";
    SharedSubscriptionsNotSupported = 0x9E, "shared subscriptions not supported";
    ConnectionRateExceeded = 0x9F, "connection rate exceeded";
    MaximumConnectTime = 0xA0, "maximum connect time";
    SubscriptionIdentifiersNotSupported = 0xA1, "subscription identifiers not supported";
    WildcardSubscriptionsNotSupported = 0xA2, "wildcard subscriptions not supported";
}

impl ReasonCode {
    /// Codes at or above 0x80 report a failure.
    pub fn is_error(self) -> bool {
        self as u8 >= 0x80
    }

    /// The MQTT 3.x CONNACK return code for this reason (MQTT 5 section 3.2.2.2 maps them).
    pub fn to_v3_connack(self) -> u8 {
        match self {
            ReasonCode::Success => 0,
            ReasonCode::UnsupportedProtocolVersion => 1,
            ReasonCode::ClientIdentifierNotValid => 2,
            ReasonCode::BadUserNameOrPassword | ReasonCode::BadAuthenticationMethod => 4,
            ReasonCode::NotAuthorized | ReasonCode::Banned => 5,
            _ => 3,
        }
    }

    /// The reason for an MQTT 3.x CONNACK return code; `None` for codes 6-255 (reserved).
    pub fn from_v3_connack(code: u8) -> Option<ReasonCode> {
        Some(match code {
            0 => ReasonCode::Success,
            1 => ReasonCode::UnsupportedProtocolVersion,
            2 => ReasonCode::ClientIdentifierNotValid,
            3 => ReasonCode::ServerUnavailable,
            4 => ReasonCode::BadUserNameOrPassword,
            5 => ReasonCode::NotAuthorized,
            _ => return None,
        })
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02X})", self.description(), *self as u8)
    }
}
