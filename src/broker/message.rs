//! An application message as the broker keeps it: one allocation shared by every
//! session that receives it.

use std::sync::Arc;
use std::time::Instant;

use mq_proto::{ByteString, Bytes, Properties, Publish, QoS};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: ByteString,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    pub properties: Properties,
    /// The publisher's client identifier, for No Local.
    pub origin: Option<Arc<str>>,
    pub received_at: Instant,
}

impl Message {
    /// Copies topic and payload out of the receive buffer: a queued message must not keep
    /// a whole read buffer alive.
    pub fn from_publish(publish: &Publish, origin: Option<Arc<str>>, now: Instant) -> Message {
        let topic = ByteString::from(&*publish.topic);
        Message {
            topic,
            payload: Bytes::copy_from_slice(&publish.payload),
            qos: publish.qos,
            retain: publish.retain,
            properties: publish.properties.clone(),
            origin,
            received_at: now,
        }
    }
}

/// One message on its way to one session, at the QoS that subscription grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub message: Arc<Message>,
    pub qos: QoS,
    pub retain: bool,
    pub subscription_identifiers: Vec<u32>,
}
