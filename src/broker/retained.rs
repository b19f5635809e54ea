//! Retained Messages: the last retained message per Topic Name.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use mq_proto::topic;

use super::message::Message;

#[derive(Debug, Default)]
pub struct RetainedStore {
    messages: HashMap<String, Arc<Message>>,
    /// Payload bytes of `messages`, kept as they change so `$SYS` need not add them up.
    payload_bytes: usize,
}

impl RetainedStore {
    /// Keeps `message` as the topic's retained message; an empty payload clears it
    /// ([MQTT-3.3.1-10]).
    pub fn update(&mut self, message: &Arc<Message>) {
        let replaced = if message.payload.is_empty() {
            self.messages.remove(&*message.topic)
        } else {
            self.payload_bytes += message.payload.len();
            self.messages
                .insert(message.topic.to_string(), message.clone())
        };
        if let Some(old) = replaced {
            self.payload_bytes -= old.payload.len();
        }
    }

    /// The retained messages a new subscription to `filter` receives.
    pub fn matching(&self, filter: &str, now: Instant) -> Vec<Arc<Message>> {
        let mut found: Vec<Arc<Message>> = self
            .messages
            .iter()
            .filter(|(name, message)| topic::matches(filter, name) && !message.is_expired(now))
            .map(|(_, message)| message.clone())
            .collect();
        // Stable order for subscribers and tests: oldest first.
        found.sort_by_key(|m| m.received_at);
        found
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Payload bytes of all retained messages.
    pub fn payload_bytes(&self) -> usize {
        self.payload_bytes
    }
}
