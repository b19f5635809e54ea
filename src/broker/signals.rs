//! How the shared state reaches a connection task: a wake-up when its session has
//! something to send, and a kick when another connection takes its session over or the
//! broker shuts down.
//!
//! One task waits on a connection's signals, so one waker slot is enough: an idle
//! connection's future then holds no waiter of its own for either signal (every byte of
//! an idle connection's task counts, ten thousand times over). For the same reason the
//! keep-alive deadline lives here, checked by the broker's periodic tick, rather than as a
//! timer in each connection's future.
//!
//! The signals also stand between a connection's socket and its task (`readiness_waker`),
//! counting the connections that have bytes to handle: woken by their sockets, or
//! handling what they read. A connection about to route a PUBLISH waits for them
//! (`wait_for_readers`) only when there are any: that keeps SUBSCRIBE-before-PUBLISH
//! order across connections, and costs a lone publisher nothing (a yield per message
//! woke another worker thread every time).
//!
//! Last, they let a publisher wait for a subscriber it woke (`wake_up_then`): the
//! subscriber's next poll wakes it, so the delivery is written before the publisher's
//! acknowledgement, with no other worker woken.

use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

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

/// Connections with bytes their tasks have not yet handled: woken by their sockets, or
/// handling what they read. Process-wide, like the runtime whose tasks it counts.
static READING: AtomicUsize = AtomicUsize::new(0);
/// Connections in `wait_for_readers`, woken through `READERS_DONE` when `READING` drops;
/// counted so that a drop with no one waiting costs no lock.
static WAITING: AtomicUsize = AtomicUsize::new(0);
static READERS_DONE: Notify = Notify::const_new();

#[derive(Debug, Default)]
struct SignalState {
    /// A wake-up not yet taken; kept while the task is busy, so none is lost.
    woken: bool,
    /// Counted in `READING`.
    reading: bool,
    /// The socket woke the task since its current poll began: it has more to read, even
    /// if that poll saw nothing.
    readable_since_poll: bool,
    /// The task waits in its session loop, `waker` registered there: a wake-up is sure to
    /// poll it there next, which `poll_begins` marks.
    idle: bool,
    /// `waker` is a publisher's, waiting for this task to take its deliveries before it
    /// sends its own acknowledgement (`wake_up_then`); this task has been woken already.
    /// The slot is shared, not a second one, to keep every connection's signals small.
    handed_off: bool,
    kick_reason: Option<ReasonCode>,
    waker: Option<Waker>,
}

impl ConnectionSignals {
    pub fn wake_up(&self) {
        let waker = {
            let mut state = self.state.lock();
            state.woken = true;
            state.task_waker()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Wakes the connection like `wake_up`, and, if its task is idle in its session loop,
    /// has it wake `then` once its poll begins. True if it will: the caller may wait for
    /// that wake-up. Woken on the same worker, the task waits in its LIFO slot and runs
    /// next, so a publisher that returns `Pending` here lets its subscriber write first
    /// with no other worker woken (a `yield_now` woke one every time).
    pub fn wake_up_then(&self, then: &Waker) -> bool {
        let (waker, handed) = {
            let mut state = self.state.lock();
            state.woken = true;
            let waker = state.task_waker();
            let handed = waker.is_some() && state.idle;
            if handed {
                state.waker = Some(then.clone());
                state.handed_off = true;
            }
            (waker, handed)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        handed
    }

    pub fn kick(&self, reason: ReasonCode) {
        let waker = {
            let mut state = self.state.lock();
            state.kick_reason.get_or_insert(reason);
            state.task_waker()
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
        // `poll_begins` has released a publisher by now in the session loop, and one is
        // handed off only there; released here too, so that no path that registers this
        // task's waker can ever drop a publisher's unwoken.
        let publisher = state.release_handed_off();
        let kicked = match state.kick_reason {
            Some(reason) => Poll::Ready(reason),
            None => {
                if !state
                    .waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    state.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        };
        drop(state);
        if let Some(waker) = publisher {
            waker.wake();
        }
        kicked
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

    /// The waker to hand the socket when reading: it marks this connection as reading,
    /// then wakes the task registered by `poll_kicked`.
    pub fn readiness_waker(self: &Arc<Self>) -> Waker {
        Waker::from(Arc::clone(self))
    }

    /// A poll of the connection's task begins.
    pub fn poll_begins(&self) {
        let publisher = {
            let mut state = self.state.lock();
            state.readable_since_poll = false;
            state.idle = false;
            state.release_handed_off()
        };
        if let Some(waker) = publisher {
            waker.wake();
        }
    }

    /// The task read bytes and handles them now.
    pub fn reading(&self) {
        self.state.lock().set_reading(true);
    }

    /// The task's poll ends with it waiting: it has handled all it could read, unless its
    /// socket woke it again meanwhile.
    pub fn read_all(&self) {
        let mut state = self.state.lock();
        state.idle = true;
        if !state.readable_since_poll {
            state.set_reading(false);
        }
    }

    /// The connection ends: whatever it had not read is not waited for, and no publisher
    /// waits for its next poll.
    pub fn stop_reading(&self) {
        let publisher = {
            let mut state = self.state.lock();
            state.set_reading(false);
            state.idle = false;
            state.release_handed_off()
        };
        if let Some(waker) = publisher {
            waker.wake();
        }
    }

    /// This connection is about to route a PUBLISH: it stops counting as reading (two
    /// publishers must never wait for each other), and learns whether others are, which
    /// `wait_for_readers` then waits out. With no one else reading (a lone publisher) it
    /// goes on at once: no yield, no other worker woken.
    pub fn others_reading(&self) -> bool {
        let mut state = self.state.lock();
        state.set_reading(false);
        state.others_reading()
    }

    /// Waits, for at most `limit`, until no other connection has bytes to handle: a
    /// SUBSCRIBE among them that reached the broker just before this connection's PUBLISH
    /// then takes effect first, as in a single-threaded broker. Parked, not spinning, so
    /// the worker that must run them is not kept from the CPU. The limit is a safety net:
    /// every connection counted is runnable and stops counting once it has handled what
    /// it read or waits here itself.
    pub async fn wait_for_readers(&self, limit: Duration) {
        struct Waiting;
        impl Drop for Waiting {
            fn drop(&mut self) {
                WAITING.fetch_sub(1, Ordering::SeqCst);
            }
        }
        WAITING.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting;
        let _ = tokio::time::timeout(limit, async {
            loop {
                let mut done = std::pin::pin!(READERS_DONE.notified());
                // Registered before the check, so a decrement right after it still wakes us.
                done.as_mut().enable();
                if !self.state.lock().others_reading() {
                    return;
                }
                done.await;
            }
        })
        .await;
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

/// The socket's wake-up (see `readiness_waker`).
impl Wake for ConnectionSignals {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waker = {
            let mut state = self.state.lock();
            state.readable_since_poll = true;
            state.set_reading(true);
            state.task_waker()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for ConnectionSignals {
    fn drop(&mut self) {
        self.stop_reading();
    }
}

impl SignalState {
    /// The task's waker, to wake it; none while it holds a publisher's (`handed_off`): the
    /// task has been woken already, and that waker is for `release_handed_off`.
    fn task_waker(&mut self) -> Option<Waker> {
        if self.handed_off {
            None
        } else {
            self.waker.take()
        }
    }

    /// The publisher waiting on this task, if any, to wake now that the task runs or ends.
    fn release_handed_off(&mut self) -> Option<Waker> {
        if std::mem::take(&mut self.handed_off) {
            self.waker.take()
        } else {
            None
        }
    }

    /// Whether connections other than this one are counted in `READING` (this one counts
    /// again if its socket wakes it while it waits).
    fn others_reading(&self) -> bool {
        READING.load(Ordering::SeqCst) > usize::from(self.reading)
    }

    fn set_reading(&mut self, reading: bool) {
        if std::mem::replace(&mut self.reading, reading) != reading {
            if reading {
                READING.fetch_add(1, Ordering::SeqCst);
            } else {
                READING.fetch_sub(1, Ordering::SeqCst);
                // SeqCst on both sides: either this sees the waiter, or the waiter's check
                // after registering sees this decrement.
                if WAITING.load(Ordering::SeqCst) > 0 {
                    READERS_DONE.notify_waiters();
                }
            }
        }
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
        signals.wake_up();
        signals.wake_up();
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
    fn a_connections_signals_stay_small() {
        // Ten thousand idle connections each hold one (the hand-off shares the waker slot).
        assert!(std::mem::size_of::<ConnectionSignals>() <= 56);
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
    fn a_readiness_wake_counts_the_connection_as_reading_until_a_poll_reads_all() {
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let signals = Arc::new(ConnectionSignals::default());
        assert!(signals.poll_kicked(&mut cx).is_pending());

        signals.readiness_waker().wake_by_ref();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1, "the task is woken");
        assert!(signals.state.lock().reading);
        signals.poll_begins();
        signals.reading();
        signals.read_all();
        assert!(!signals.state.lock().reading, "read all, waiting again");

        signals.poll_begins();
        signals.readiness_waker().wake_by_ref();
        signals.read_all();
        assert!(
            signals.state.lock().reading,
            "woken during the poll: bytes may have come after its last read"
        );
        signals.stop_reading();
        assert!(!signals.state.lock().reading);
    }

    #[tokio::test]
    async fn a_publisher_waits_for_the_other_readers_and_not_for_itself() {
        let publisher = Arc::new(ConnectionSignals::default());
        let subscriber = Arc::new(ConnectionSignals::default());
        publisher.reading();
        subscriber.readiness_waker().wake_by_ref();
        assert!(
            publisher.others_reading(),
            "the subscriber has bytes to handle"
        );
        assert!(
            !publisher.state.lock().reading,
            "a waiting publisher is not waited for"
        );

        let limit = std::time::Duration::from_secs(30);
        let started = Instant::now();
        let waiting = tokio::spawn({
            let publisher = publisher.clone();
            async move { publisher.wait_for_readers(limit).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the subscriber is still reading");
        subscriber.poll_begins();
        subscriber.read_all();
        waiting.await.expect("the wait ends");
        assert!(
            started.elapsed() < limit,
            "ended by the subscriber, not by the limit"
        );
    }

    #[test]
    fn a_publisher_handed_to_an_idle_subscriber_is_woken_when_it_runs_or_ends() {
        let task = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let task_waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&task_waker);
        let publisher = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let publisher_waker = Waker::from(publisher.clone());
        let subscriber = Arc::new(ConnectionSignals::default());
        let wait_idle = |cx: &mut Context<'_>| {
            subscriber.poll_begins();
            assert!(subscriber.poll_kicked(cx).is_pending());
            subscriber.read_all();
        };

        // Registered, but its poll has not ended: it may be running elsewhere.
        assert!(subscriber.poll_kicked(&mut cx).is_pending());
        assert!(!subscriber.wake_up_then(&publisher_waker), "not idle");
        assert!(subscriber.take_woken(), "woken all the same");

        wait_idle(&mut cx);
        assert!(subscriber.wake_up_then(&publisher_waker), "idle: handed");
        assert_eq!(task.0.load(Ordering::SeqCst), 2, "the subscriber is woken");
        assert!(
            !subscriber.wake_up_then(&publisher_waker),
            "already woken: its next poll is not sure to come after this"
        );
        subscriber.wake_up();
        subscriber.readiness_waker().wake_by_ref();
        assert_eq!(
            (
                task.0.load(Ordering::SeqCst),
                publisher.0.load(Ordering::SeqCst)
            ),
            (2, 0),
            "woken already: later wake-ups leave the publisher waiting"
        );
        subscriber.poll_begins();
        assert_eq!(publisher.0.load(Ordering::SeqCst), 1, "woken as it runs");
        subscriber.poll_begins();
        assert_eq!(publisher.0.load(Ordering::SeqCst), 1, "once");

        wait_idle(&mut cx);
        assert!(subscriber.wake_up_then(&publisher_waker));
        subscriber.stop_reading();
        assert_eq!(
            publisher.0.load(Ordering::SeqCst),
            2,
            "a connection that ends does not keep the publisher waiting"
        );
        wait_idle(&mut cx);
        subscriber.stop_reading();
        assert!(
            !subscriber.wake_up_then(&publisher_waker),
            "ended: not idle"
        );
    }

    #[test]
    fn a_wake_up_before_the_wait_is_not_lost() {
        let signals = ConnectionSignals::default();
        signals.wake_up();
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut woken = std::pin::pin!(signals.woken());
        assert!(woken.as_mut().poll(&mut cx).is_ready());
    }
}
