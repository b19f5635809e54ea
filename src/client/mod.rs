//! The client layer shared by `mq pub`, `mq sub`, `mq bench` and bridges: connection options,
//! broker URLs, TLS configuration and one event-driven connection that speaks MQTT 3.1.1 and
//! 5 through rumqttc, and MQTT 3.1 (which rumqttc lacks) through the project's codec. It never prints and never exits; errors are typed and name their cause.

pub mod endpoint;
pub mod error;
pub mod options;
pub mod profile;
pub mod properties;
pub mod session;
pub mod tls;
mod v31;

pub use endpoint::{BrokerUrl, Endpoint, Scheme};
pub use error::{ClientError, ErrorKind, Reason, TlsFailure};
pub use options::{ConnectOptions, Protocol, QoS, Will};
pub use properties::{Properties, PublishProperties, SubscribeProperties};
pub use session::{
    connect, drive, Client, Connection, Event, Message, OutgoingMessage, RetainHandling, Sent,
    Subscription, Update,
};
pub use tls::{TlsOptions, TlsVersion};

use std::time::Duration;

/// Exponential backoff between reconnect attempts: 0.5 s doubling to a ceiling, reset on success.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    initial: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            next: initial,
            initial,
            max,
        }
    }

    /// The delay before the next attempt; each call doubles the one after.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new(Duration::from_millis(500), Duration::from_secs(30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let delays: Vec<u64> = (0..5).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }
}
