//! A session's subscriptions by Topic Filter, with their options and Subscription
//! Identifier: what SUBSCRIBE counts and replaces and what the store is given when the
//! session becomes durable. Routing does not look here (the subscription tree does).

use std::collections::HashMap;
use std::num::NonZeroU32;

use mq_proto::SubscriptionOptions;

/// Up to this many subscriptions live in a plain list: scanning it costs no more than
/// hashing, and one subscription takes one entry's room instead of a hash table's smallest
/// (four slots and their control bytes).
const LIST_MAX: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Subscription {
    options: SubscriptionOptions,
    /// Never 0 (a Protocol Error on the wire), so the option costs no room of its own.
    identifier: Option<NonZeroU32>,
}

#[derive(Debug)]
enum Repr {
    List(Vec<(Box<str>, Subscription)>),
    /// Boxed: only sessions past `LIST_MAX` subscriptions pay for the map's room.
    #[allow(clippy::box_collection)]
    Map(Box<HashMap<Box<str>, Subscription>>),
}

#[derive(Debug)]
pub struct Subscriptions(Repr);

impl Default for Subscriptions {
    fn default() -> Self {
        Subscriptions(Repr::List(Vec::new()))
    }
}

impl Subscriptions {
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::List(list) => list.len(),
            Repr::Map(map) => map.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains_key(&self, filter: &str) -> bool {
        match &self.0 {
            Repr::List(list) => list.iter().any(|(f, _)| **f == *filter),
            Repr::Map(map) => map.contains_key(filter),
        }
    }

    /// Adds a subscription to `filter`, or replaces the one it has.
    pub fn insert(&mut self, filter: &str, options: SubscriptionOptions, identifier: Option<u32>) {
        let subscription = Subscription {
            options,
            identifier: identifier.and_then(NonZeroU32::new),
        };
        match &mut self.0 {
            Repr::List(list) => {
                if let Some((_, old)) = list.iter_mut().find(|(f, _)| **f == *filter) {
                    *old = subscription;
                } else if list.len() < LIST_MAX {
                    // Room for exactly one more: the common session holds one or two.
                    list.reserve_exact(1);
                    list.push((filter.into(), subscription));
                } else {
                    let mut map: HashMap<_, _> = std::mem::take(list).into_iter().collect();
                    map.insert(filter.into(), subscription);
                    self.0 = Repr::Map(Box::new(map));
                }
            }
            Repr::Map(map) => match map.get_mut(filter) {
                Some(old) => *old = subscription,
                None => {
                    map.insert(filter.into(), subscription);
                }
            },
        }
    }

    /// Removes the subscription to `filter`; false if there was none.
    pub fn remove(&mut self, filter: &str) -> bool {
        match &mut self.0 {
            Repr::List(list) => match list.iter().position(|(f, _)| **f == *filter) {
                Some(index) => {
                    list.swap_remove(index);
                    true
                }
                None => false,
            },
            Repr::Map(map) => map.remove(filter).is_some(),
        }
    }

    /// Every subscription: its filter, options and Subscription Identifier, in no
    /// particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, SubscriptionOptions, Option<u32>)> {
        let (list, map) = match &self.0 {
            Repr::List(list) => (&list[..], None),
            Repr::Map(map) => (&[][..], Some(map)),
        };
        list.iter()
            .map(|(filter, subscription)| (filter, subscription))
            .chain(map.into_iter().flat_map(|map| map.iter()))
            .map(|(filter, s)| (&**filter, s.options, s.identifier.map(NonZeroU32::get)))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(filter, ..)| filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mq_proto::QoS;

    fn options(qos: QoS) -> SubscriptionOptions {
        SubscriptionOptions::new(qos)
    }

    #[test]
    fn one_subscription_takes_one_entry_of_room() {
        let mut subscriptions = Subscriptions::default();
        subscriptions.insert("bench/conn/1", options(QoS::AtMostOnce), Some(7));
        let Repr::List(list) = &subscriptions.0 else {
            panic!("one subscription is kept in a list");
        };
        assert_eq!(list.capacity(), 1);
        assert!(std::mem::size_of::<(Box<str>, Subscription)>() <= 24);
        assert!(std::mem::size_of::<Subscriptions>() <= 24);
    }

    #[test]
    fn a_subscription_replaced_keeps_one_entry_with_the_new_options() {
        let mut subscriptions = Subscriptions::default();
        subscriptions.insert("a/+", options(QoS::AtMostOnce), Some(1));
        subscriptions.insert("a/+", options(QoS::ExactlyOnce), None);
        let all: Vec<_> = subscriptions.iter().collect();
        assert_eq!(all, vec![("a/+", options(QoS::ExactlyOnce), None)]);
    }

    /// Random subscribes and unsubscribes over more filters than the list holds, against a
    /// plain map, so both representations and the move from one to the other are covered.
    #[test]
    fn subscriptions_agree_with_a_plain_map_across_the_list_limit() {
        let mut rng = fastrand::Rng::with_seed(3);
        let mut subscriptions = Subscriptions::default();
        let mut model: HashMap<String, (SubscriptionOptions, Option<u32>)> = HashMap::new();
        for _ in 0..20_000 {
            let filter = format!("f/{}", rng.usize(..(3 * LIST_MAX)));
            if rng.u8(..3) == 0 {
                assert_eq!(
                    subscriptions.remove(&filter),
                    model.remove(&filter).is_some()
                );
            } else {
                let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][rng.usize(..3)];
                let identifier = rng.bool().then(|| rng.u32(1..100));
                subscriptions.insert(&filter, options(qos), identifier);
                model.insert(filter.clone(), (options(qos), identifier));
            }
            assert_eq!(subscriptions.len(), model.len());
            assert_eq!(
                subscriptions.contains_key(&filter),
                model.contains_key(&filter)
            );
        }
        let mut all: Vec<_> = subscriptions
            .iter()
            .map(|(f, o, i)| (f.to_string(), (o, i)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut expected: Vec<_> = model.into_iter().collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(all, expected);
    }
}
