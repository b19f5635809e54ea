//! An application message as the broker keeps it: one allocation shared by every
//! session that receives it.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use mq_proto::{ByteString, Bytes, Properties, Publish, QoS, Will};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: ByteString,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// The application properties; `None` when there are none, as for most messages: a
    /// `Properties` takes some 340 bytes, three times a typical payload, and queued
    /// messages are counted in millions.
    pub properties: Option<Box<Properties>>,
    /// The publisher's client identifier, for No Local.
    pub origin: Option<Arc<str>>,
    pub received_at: Instant,
    /// The message's key in the store, given by the store writer the first time a durable
    /// session queues it: the payload is written once however many sessions hold it.
    pub store_id: OnceLock<u64>,
}

impl Message {
    /// Copies topic and payload out of the receive buffer: a queued message must not keep
    /// a whole read buffer alive.
    /// Topic Aliases must already be resolved into `publish.topic`.
    pub fn from_publish(publish: &Publish, origin: Option<Arc<str>>, now: Instant) -> Message {
        let payload = Bytes::copy_from_slice(&publish.payload);
        Message::with_payload(publish, payload, origin, now)
    }

    /// As [`Message::from_publish`], with the payload already copied (by the memory limit,
    /// which charges the copy).
    pub fn with_payload(
        publish: &Publish,
        payload: Bytes,
        origin: Option<Arc<str>>,
        now: Instant,
    ) -> Message {
        Message {
            topic: ByteString::from(&*publish.topic),
            payload,
            qos: publish.qos,
            retain: publish.retain,
            properties: application_properties(&publish.properties),
            origin,
            received_at: now,
            store_id: OnceLock::new(),
        }
    }

    /// The Will as a message: only the properties a PUBLISH may carry go with it
    /// (Will Delay Interval stays behind).
    pub fn from_will(will: &Will, origin: Option<Arc<str>>, now: Instant) -> Message {
        Message {
            topic: will.topic.clone(),
            payload: will.payload.clone(),
            qos: will.qos,
            retain: will.retain,
            properties: application_properties(&will.properties),
            origin,
            received_at: now,
            store_id: OnceLock::new(),
        }
    }

    pub fn is_expired(&self, now: Instant) -> bool {
        self.remaining_expiry(now) == Some(0)
    }

    /// Seconds left of the Message Expiry Interval, if it has one.
    fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        let interval = self.properties.as_ref()?.message_expiry_interval?;
        let elapsed = now.saturating_duration_since(self.received_at).as_secs();
        Some(u32::try_from(u64::from(interval).saturating_sub(elapsed)).unwrap_or(0))
    }

    /// The properties as forwarded now: the Message Expiry Interval is what remains
    /// ([MQTT-3.3.2-6]).
    pub fn forwarded_properties(&self, now: Instant) -> Properties {
        let mut properties = self.properties.as_deref().cloned().unwrap_or_default();
        if let Some(remaining) = self.remaining_expiry(now) {
            properties.message_expiry_interval = Some(remaining.max(1));
        }
        properties
    }
}

/// Properties as a message keeps them: `None` for none.
pub fn kept_properties(properties: Properties) -> Option<Box<Properties>> {
    (properties != Properties::default()).then(|| Box::new(properties))
}

/// The properties that travel with an application message from publisher to subscribers
/// (MQTT 5 section 3.3.2.3); connection-scoped ones like Topic Alias stay behind.
fn application_properties(from: &Properties) -> Option<Box<Properties>> {
    kept_properties(Properties {
        payload_format_indicator: from.payload_format_indicator,
        message_expiry_interval: from.message_expiry_interval,
        content_type: from.content_type.clone(),
        response_topic: from.response_topic.clone(),
        correlation_data: from.correlation_data.clone(),
        user_properties: from.user_properties.clone(),
        ..Properties::default()
    })
}

/// One message on its way to one session, at the QoS that subscription grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub message: Arc<Message>,
    pub qos: QoS,
    pub retain: bool,
    pub subscription_identifiers: Vec<u32>,
    /// `$share/{ShareName}/{filter}` this copy was chosen for, so it can move to another
    /// member if this one leaves with it unacknowledged.
    pub share: Option<Arc<str>>,
    /// Names this delivery within its session (set by `Session::enqueue`), so the store
    /// can follow it from queued to in flight to done.
    pub seq: u64,
}
