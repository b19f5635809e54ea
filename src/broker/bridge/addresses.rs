//! Which remote address a bridge tries next (Mosquitto's `address` list and `round_robin`).
//! Pure: the bridge task tells it what happened, it answers where to go.

/// The position in the `address` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addresses {
    current: usize,
    count: usize,
    round_robin: bool,
}

impl Addresses {
    pub fn new(count: usize, round_robin: bool) -> Addresses {
        Addresses {
            current: 0,
            count: count.max(1),
            round_robin,
        }
    }

    /// The address to connect to now.
    pub fn current(&self) -> usize {
        self.current
    }

    /// A connection to the current address failed or was lost: the next one is tried,
    /// after the last the first again.
    pub fn failed(&mut self) {
        self.current = (self.current + 1) % self.count;
    }

    /// Whether the bridge, connected to a secondary address, should keep checking whether
    /// the first one is back (only without `round_robin`).
    pub fn watches_primary(&self) -> bool {
        !self.round_robin && self.current != 0
    }

    /// The first address answers again: the bridge leaves the secondary for it.
    pub fn primary_is_back(&mut self) {
        self.current = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_walk_the_list_and_wrap_around() {
        let mut addresses = Addresses::new(3, false);
        let mut order = vec![addresses.current()];
        for _ in 0..4 {
            addresses.failed();
            order.push(addresses.current());
        }
        assert_eq!(order, [0, 1, 2, 0, 1]);
    }

    #[test]
    fn without_round_robin_a_secondary_watches_for_the_primary() {
        let mut addresses = Addresses::new(2, false);
        assert!(!addresses.watches_primary(), "already on the primary");
        addresses.failed();
        assert!(addresses.watches_primary());
        addresses.primary_is_back();
        assert_eq!(addresses.current(), 0);
        assert!(!addresses.watches_primary());
    }

    #[test]
    fn with_round_robin_a_working_address_is_kept() {
        let mut addresses = Addresses::new(2, true);
        addresses.failed();
        assert_eq!(addresses.current(), 1);
        assert!(!addresses.watches_primary());
    }

    #[test]
    fn a_single_address_is_always_the_one() {
        let mut addresses = Addresses::new(1, false);
        addresses.failed();
        assert_eq!(addresses.current(), 0);
        assert!(!addresses.watches_primary());
    }
}
