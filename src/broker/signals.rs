//! How the shared state reaches a connection task: a wake-up when its session has
//! something to send, and a kick when another connection takes its session over or the
//! broker shuts down.
//!
//! One task waits on a connection's signals, so one waker slot is enough: an idle
//! connection's future then holds no waiter of its own for either signal (every byte of
//! an idle connection's task counts, ten thousand times over). For the same reason the
//! keep-alive deadline lives here, checked by the broker's periodic tick, rather than as a
//! timer in each connection's future.

use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use parking_lot::Mutex;

use mq_proto::ReasonCode;

#[derive(Debug, Default)]
pub struct ConnectionSignals {
    state: Mutex<SignalState>,
    /// When the connection is overdue (1.5 times its Keep Alive after the last packet), in
    /// milliseconds of `clock_ms`; 0 for none.
    keep_alive_deadline: AtomicU64,
}

/// Milliseconds since the first call in this process: a deadline in one word.
fn clock_ms(at: Instant) -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    // From 1, so that no deadline is 0 ("none").
    1 + at.saturating_duration_since(epoch).as_millis() as u64
}

#[derive(Debug, Default)]
struct SignalState {
    /// A wake-up not yet taken; kept while the task is busy, so none is lost.
    woken: bool,
    kick_reason: Option<ReasonCode>,
    waker: Option<Waker>,
}

impl ConnectionSignals {
    pub fn wake(&self) {
        let waker = {
            let mut state = self.state.lock();
            state.woken = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub fn kick(&self, reason: ReasonCode) {
        let waker = {
            let mut state = self.state.lock();
            state.kick_reason.get_or_insert(reason);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether the connection has been told to go. Kicks happen under the state lock, so
    /// a check under that lock is exact.
    pub fn is_kicked(&self) -> bool {
        self.state.lock().kick_reason.is_some()
    }

    /// The kick, if there was one; otherwise the task is woken by the next wake-up or kick.
    pub fn poll_kicked(&self, cx: &mut Context<'_>) -> Poll<ReasonCode> {
        let mut state = self.state.lock();
        if let Some(reason) = state.kick_reason {
            return Poll::Ready(reason);
        }
        if !state
            .waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            state.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Takes the pending wake-up, if any. Call after `poll_kicked` in the same poll, which
    /// registers the task for the next one.
    pub fn take_woken(&self) -> bool {
        std::mem::take(&mut self.state.lock().woken)
    }

    /// The connection must show a packet by `deadline`.
    pub fn set_keep_alive_deadline(&self, deadline: Instant) {
        self.keep_alive_deadline
            .store(clock_ms(deadline), Ordering::Relaxed);
    }

    pub fn keep_alive_expired(&self, now: Instant) -> bool {
        let deadline = self.keep_alive_deadline.load(Ordering::Relaxed);
        deadline != 0 && clock_ms(now) >= deadline
    }

    pub async fn kicked(&self) -> ReasonCode {
        poll_fn(|cx| self.poll_kicked(cx)).await
    }

    pub async fn woken(&self) {
        poll_fn(|cx| {
            if self.take_woken() {
                return Poll::Ready(());
            }
            let _ = self.poll_kicked(cx);
            // Registered above; a wake-up between the two checks is caught here.
            if self.take_woken() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_wake_up_or_a_kick_wakes_the_registered_task_once_and_a_kick_stays() {
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let signals = ConnectionSignals::default();

        assert!(signals.poll_kicked(&mut cx).is_pending());
        assert!(!signals.take_woken());
        signals.wake();
        signals.wake();
        assert_eq!(
            counter.0.load(Ordering::SeqCst),
            1,
            "one registration, one wake"
        );
        assert!(signals.take_woken());
        assert!(!signals.take_woken(), "a wake-up is taken once");

        assert!(signals.poll_kicked(&mut cx).is_pending());
        signals.kick(ReasonCode::SessionTakenOver);
        signals.kick(ReasonCode::ServerShuttingDown);
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
        assert_eq!(
            signals.poll_kicked(&mut cx),
            Poll::Ready(ReasonCode::SessionTakenOver),
            "the first kick's reason is kept"
        );
        assert!(signals.is_kicked());
    }

    #[test]
    fn the_keep_alive_deadline_passes_only_once_reached() {
        let signals = ConnectionSignals::default();
        let now = Instant::now();
        assert!(
            !signals.keep_alive_expired(now + std::time::Duration::from_secs(3600)),
            "none set"
        );
        signals.set_keep_alive_deadline(now + std::time::Duration::from_millis(1500));
        assert!(!signals.keep_alive_expired(now + std::time::Duration::from_millis(1499)));
        assert!(signals.keep_alive_expired(now + std::time::Duration::from_millis(1500)));
    }

    #[test]
    fn a_wake_up_before_the_wait_is_not_lost() {
        let signals = ConnectionSignals::default();
        signals.wake();
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut woken = std::pin::pin!(signals.woken());
        assert!(woken.as_mut().poll(&mut cx).is_ready());
    }
}
