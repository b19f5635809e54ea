//! How the shared state reaches a connection task: a wake-up when its session has
//! something to send, and a kick when another connection takes its session over.

use parking_lot::Mutex;
use tokio::sync::Notify;

use mq_proto::ReasonCode;

#[derive(Debug, Default)]
pub struct ConnectionSignals {
    wake: Notify,
    kicked: Notify,
    kick_reason: Mutex<Option<ReasonCode>>,
}

impl ConnectionSignals {
    /// Stores a permit if the task is busy, so a wake-up is never lost.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub async fn woken(&self) {
        self.wake.notified().await
    }

    pub fn kick(&self, reason: ReasonCode) {
        *self.kick_reason.lock() = Some(reason);
        self.kicked.notify_one();
    }

    /// Whether the connection has been told to go. Kicks happen under the state lock, so
    /// a check under that lock is exact.
    pub fn is_kicked(&self) -> bool {
        self.kick_reason.lock().is_some()
    }

    pub async fn kicked(&self) -> ReasonCode {
        loop {
            if let Some(reason) = *self.kick_reason.lock() {
                return reason;
            }
            self.kicked.notified().await;
        }
    }
}
