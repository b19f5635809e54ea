//! What the subscribers count: per publisher, which sequence numbers arrived (so loss,
//! duplicates and reordering show), and how long messages took (an HdrHistogram).

use std::collections::HashMap;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Sequence numbers above this are not tracked (the bitmap would take over 32 MiB); they
/// are counted as `untracked` instead, so a stray payload cannot make a subscriber grow.
pub const MAX_TRACKED_SEQ: u64 = 1 << 28;

/// Which sequence numbers of one publisher have arrived, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    seen: Vec<u64>,
    unique: u64,
    duplicates: u64,
    reordered: u64,
    untracked: u64,
    highest: Option<u64>,
}

/// What arrived from one publisher, or from all of them added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCounts {
    /// Distinct messages received.
    pub received: u64,
    /// Messages the publisher completed (QoS 1/2: acknowledged; QoS 0: written) that
    /// never arrived.
    pub lost: u64,
    /// Copies of a message already received.
    pub duplicates: u64,
    /// Messages that arrived after one with a higher sequence number.
    pub reordered: u64,
    /// Messages whose sequence number was too large to track.
    pub untracked: u64,
}

impl StreamCounts {
    pub fn add(&mut self, other: StreamCounts) {
        self.received += other.received;
        self.lost += other.lost;
        self.duplicates += other.duplicates;
        self.reordered += other.reordered;
        self.untracked += other.untracked;
    }
}

impl SeqTracker {
    /// Notes the arrival of `seq`; true the first time it arrives.
    pub fn record(&mut self, seq: u64) -> bool {
        if seq >= MAX_TRACKED_SEQ {
            self.untracked += 1;
            return false;
        }
        let word = (seq / 64) as usize;
        let bit = 1u64 << (seq % 64);
        if word >= self.seen.len() {
            // Grow geometrically: a stream of increasing numbers costs amortised O(1).
            let wanted = (word + 1).max(self.seen.len() * 2).max(16);
            self.seen.resize(wanted, 0);
        }
        if self.seen[word] & bit != 0 {
            self.duplicates += 1;
            return false;
        }
        self.seen[word] |= bit;
        self.unique += 1;
        match self.highest {
            Some(highest) if seq < highest => self.reordered += 1,
            _ => self.highest = Some(seq),
        }
        true
    }

    /// Every arrival: distinct messages, duplicates and untracked ones.
    pub fn arrivals(&self) -> u64 {
        self.unique + self.duplicates + self.untracked
    }

    /// Distinct sequence numbers received.
    pub fn unique(&self) -> u64 {
        self.unique
    }

    /// How many of the sequence numbers `0..expected` arrived.
    fn received_below(&self, expected: u64) -> u64 {
        let expected = expected.min(MAX_TRACKED_SEQ);
        let full_words = (expected / 64) as usize;
        let mut count: u64 = self
            .seen
            .iter()
            .take(full_words)
            .map(|w| u64::from(w.count_ones()))
            .sum();
        let rest = expected % 64;
        if rest > 0 {
            if let Some(word) = self.seen.get(full_words) {
                count += u64::from((word & ((1u64 << rest) - 1)).count_ones());
            }
        }
        count
    }

    /// The counts when the publisher is known to have completed `expected` messages,
    /// numbered `0..expected`.
    pub fn counts_against(&self, expected: u64) -> StreamCounts {
        StreamCounts {
            received: self.unique,
            lost: expected.min(MAX_TRACKED_SEQ) - self.received_below(expected),
            duplicates: self.duplicates,
            reordered: self.reordered,
            untracked: self.untracked,
        }
    }

    /// The counts when nothing is known of the publisher: every gap below the highest
    /// number seen is a loss.
    pub fn counts_by_gaps(&self) -> StreamCounts {
        let expected = self.highest.map_or(0, |h| h + 1);
        self.counts_against(expected)
    }
}

/// The trackers of one subscriber, one per publisher it heard from.
#[derive(Debug, Clone, Default)]
pub struct SeqBook {
    streams: HashMap<u64, SeqTracker>,
}

impl SeqBook {
    /// The key of one publisher of one run.
    pub fn key(run: u32, publisher: u32) -> u64 {
        u64::from(run) << 32 | u64::from(publisher)
    }

    /// Notes an arrival; true the first time this message arrives.
    pub fn record(&mut self, run: u32, publisher: u32, seq: u64) -> bool {
        self.streams
            .entry(SeqBook::key(run, publisher))
            .or_default()
            .record(seq)
    }

    pub fn stream(&self, run: u32, publisher: u32) -> Option<&SeqTracker> {
        self.streams.get(&SeqBook::key(run, publisher))
    }

    /// Every stream as `(run, publisher, tracker)`.
    pub fn streams(&self) -> impl Iterator<Item = (u32, u32, &SeqTracker)> {
        self.streams
            .iter()
            .map(|(key, tracker)| ((key >> 32) as u32, *key as u32, tracker))
    }

    /// Distinct messages received from all publishers.
    pub fn unique(&self) -> u64 {
        self.streams.values().map(SeqTracker::unique).sum()
    }
}

/// Percentiles of one latency histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// Latencies in microseconds, from 1 µs to one hour at three significant digits.
#[derive(Debug, Clone)]
pub struct Latency {
    histogram: Histogram<u64>,
}

/// The longest latency kept apart: one hour, in microseconds.
const LATENCY_MAX_US: u64 = 3_600_000_000;

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl Latency {
    pub fn new() -> Latency {
        Latency {
            // Constant bounds that hdrhistogram accepts (low >= 1, high >= 2 * low, 3 digits).
            histogram: Histogram::new_with_bounds(1, LATENCY_MAX_US, 3)
                .expect("constant histogram bounds are valid"),
        }
    }

    pub fn record_micros(&mut self, micros: u64) {
        self.histogram.saturating_record(micros.max(1));
    }

    pub fn record(&mut self, latency: Duration) {
        self.record_micros(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn len(&self) -> u64 {
        self.histogram.len()
    }

    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// Adds another histogram's values to this one.
    pub fn merge(&mut self, other: &Latency) {
        // Both have the same bounds, so adding cannot fail; saturate instead if it did.
        if self.histogram.add(&other.histogram).is_err() {
            for value in other.histogram.iter_recorded() {
                self.histogram
                    .saturating_record_n(value.value_iterated_to(), value.count_at_value());
            }
        }
    }

    pub fn percentiles(&self) -> Option<Percentiles> {
        if self.histogram.is_empty() {
            return None;
        }
        let h = &self.histogram;
        Some(Percentiles {
            count: h.len(),
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(seqs: &[u64]) -> SeqTracker {
        let mut t = SeqTracker::default();
        for &s in seqs {
            let _ = t.record(s);
        }
        t
    }

    #[test]
    fn an_unbroken_stream_has_nothing_to_report() {
        let t = tracker(&(0..1000).collect::<Vec<_>>());
        assert_eq!(
            t.counts_against(1000),
            StreamCounts {
                received: 1000,
                ..StreamCounts::default()
            }
        );
    }

    #[test]
    fn missing_numbers_below_the_completed_count_are_lost() {
        let t = tracker(&[0, 1, 3, 4, 7]);
        let counts = t.counts_against(10);
        assert_eq!(counts.received, 5);
        assert_eq!(counts.lost, 5, "2, 5, 6, 8 and 9 never came");
        assert_eq!(counts.reordered, 0);
    }

    #[test]
    fn a_message_beyond_the_completed_count_is_received_not_lost() {
        // The publisher stopped with message 3 unacknowledged, but it arrived anyway.
        let t = tracker(&[0, 1, 2, 3]);
        let counts = t.counts_against(3);
        assert_eq!(counts.received, 4);
        assert_eq!(counts.lost, 0);
    }

    #[test]
    fn a_second_copy_is_a_duplicate_and_not_a_reorder() {
        let t = tracker(&[0, 1, 1, 2, 0]);
        let counts = t.counts_against(3);
        assert_eq!(counts.duplicates, 2);
        assert_eq!(counts.reordered, 0);
        assert_eq!(counts.received, 3);
        assert_eq!(counts.lost, 0);
    }

    #[test]
    fn a_late_message_is_reordered_once() {
        let t = tracker(&[0, 2, 3, 1, 4]);
        let counts = t.counts_against(5);
        assert_eq!(counts.reordered, 1);
        assert_eq!(counts.lost, 0);
        assert_eq!(counts.duplicates, 0);
    }

    #[test]
    fn gaps_count_as_losses_when_the_publisher_is_unknown() {
        let t = tracker(&[0, 1, 5]);
        assert_eq!(t.counts_by_gaps().lost, 3);
        assert_eq!(
            SeqTracker::default().counts_by_gaps(),
            StreamCounts::default()
        );
    }

    #[test]
    fn counting_works_across_bitmap_words() {
        let seqs: Vec<u64> = (0..200).filter(|s| s % 64 != 63).collect();
        let t = tracker(&seqs);
        assert_eq!(t.counts_against(200).lost, 3, "63, 127 and 191");
        assert_eq!(t.counts_against(64).lost, 1);
        assert_eq!(t.counts_against(63).lost, 0);
    }

    #[test]
    fn huge_sequence_numbers_are_counted_apart_without_growing() {
        let t = tracker(&[u64::MAX, MAX_TRACKED_SEQ]);
        assert_eq!(t.counts_by_gaps().untracked, 2);
        assert!(t.seen.is_empty());
    }

    #[test]
    fn the_book_keeps_publishers_and_runs_apart() {
        let mut book = SeqBook::default();
        assert!(book.record(1, 0, 0));
        assert!(book.record(1, 1, 0));
        assert!(book.record(2, 0, 0));
        assert!(!book.record(1, 0, 0));
        assert_eq!(book.unique(), 3);
        assert_eq!(
            book.stream(1, 0).map(|t| t.counts_by_gaps().duplicates),
            Some(1)
        );
        assert_eq!(book.streams().count(), 3);
    }

    #[test]
    fn percentiles_come_from_the_recorded_latencies() {
        let mut latency = Latency::new();
        for us in 1..=1000 {
            latency.record_micros(us);
        }
        let p = latency.percentiles().unwrap();
        assert_eq!(p.count, 1000);
        assert_eq!(p.min, 1);
        assert_eq!(p.p50, 500);
        assert_eq!(p.p99, 990);
        assert_eq!(p.max, 1000);
        let mut other = Latency::new();
        other.record(Duration::from_millis(5));
        latency.merge(&other);
        let max = latency.percentiles().unwrap().max;
        assert!((5000..5010).contains(&max), "5 ms at three digits: {max}");
        assert!(Latency::new().percentiles().is_none());
    }
}
