//! The subscription tree: a trie over topic levels with `+` and `#` nodes. Matching a
//! Topic Name walks only the branches that can match, so cost grows with the topic's
//! depth and the wildcards on its path, not with the number of subscriptions.

use std::collections::HashMap;
use std::sync::Arc;

use mq_proto::{QoS, SubscriptionOptions};

#[derive(Debug, Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    subscribers: HashMap<Arc<str>, Subscriber>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Subscriber {
    options: SubscriptionOptions,
    identifier: Option<u32>,
}

/// What one session gets for one PUBLISH when several of its subscriptions match:
/// one copy at the highest QoS granted ([MQTT-3.3.5-1]) with every Subscription Identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub subscription_identifiers: Vec<u32>,
}

#[derive(Debug, Default)]
pub struct SubscriptionTree {
    root: Node,
    count: usize,
}

impl SubscriptionTree {
    /// Adds or replaces `client_id`'s subscription to `filter`; true if it is new.
    pub fn insert(
        &mut self,
        filter: &str,
        client_id: Arc<str>,
        options: SubscriptionOptions,
        identifier: Option<u32>,
    ) -> bool {
        let mut node = &mut self.root;
        for level in filter.split('/') {
            node = node.children.entry(level.into()).or_default();
        }
        let is_new = node
            .subscribers
            .insert(
                client_id,
                Subscriber {
                    options,
                    identifier,
                },
            )
            .is_none();
        if is_new {
            self.count += 1;
        }
        is_new
    }

    /// Removes a subscription; true if it existed. Empty branches are pruned.
    pub fn remove(&mut self, filter: &str, client_id: &str) -> bool {
        let levels: Vec<&str> = filter.split('/').collect();
        let removed = remove_at(&mut self.root, &levels, client_id);
        if removed {
            self.count -= 1;
        }
        removed
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every session whose subscriptions match `topic`, each once.
    pub fn matches(&self, topic: &str) -> HashMap<Arc<str>, Match> {
        let mut found = HashMap::new();
        let levels: Vec<&str> = topic.split('/').collect();
        // [MQTT-4.7.2-1]: wildcards at the first level do not match `$` topics.
        let dollar = topic.starts_with('$');
        collect(&self.root, &levels, dollar, &mut found);
        found
    }
}

fn remove_at(node: &mut Node, levels: &[&str], client_id: &str) -> bool {
    let Some((first, rest)) = levels.split_first() else {
        return node.subscribers.remove(client_id).is_some();
    };
    let Some(child) = node.children.get_mut(*first) else {
        return false;
    };
    let removed = remove_at(child, rest, client_id);
    if child.children.is_empty() && child.subscribers.is_empty() {
        node.children.remove(*first);
    }
    removed
}

fn collect(
    node: &Node,
    levels: &[&str],
    skip_wildcards: bool,
    found: &mut HashMap<Arc<str>, Match>,
) {
    if !skip_wildcards {
        // `#` also matches the parent level ("sport/#" matches "sport").
        if let Some(hash) = node.children.get("#") {
            add(hash, found);
        }
    }
    let Some((first, rest)) = levels.split_first() else {
        add(node, found);
        return;
    };
    if let Some(child) = node.children.get(*first) {
        collect(child, rest, false, found);
    }
    if !skip_wildcards {
        if let Some(plus) = node.children.get("+") {
            collect(plus, rest, false, found);
        }
    }
}

fn add(node: &Node, found: &mut HashMap<Arc<str>, Match>) {
    for (client_id, subscriber) in &node.subscribers {
        let options = subscriber.options;
        let entry = found.entry(client_id.clone()).or_insert_with(|| Match {
            qos: options.qos,
            no_local: options.no_local,
            retain_as_published: options.retain_as_published,
            subscription_identifiers: Vec::new(),
        });
        if options.qos > entry.qos {
            entry.qos = options.qos;
        }
        // No Local only holds back the message when every matching subscription asks for it.
        entry.no_local &= options.no_local;
        entry.retain_as_published |= options.retain_as_published;
        if let Some(id) = subscriber.identifier {
            entry.subscription_identifiers.push(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mq_proto::topic;
    use proptest::prelude::*;

    fn tree(subs: &[(&str, &str, QoS)]) -> SubscriptionTree {
        let mut t = SubscriptionTree::default();
        for (client, filter, qos) in subs {
            t.insert(
                filter,
                (*client).into(),
                SubscriptionOptions::new(*qos),
                None,
            );
        }
        t
    }

    #[test]
    fn overlapping_subscriptions_give_one_match_at_the_highest_qos() {
        let t = tree(&[
            ("c", "a/#", QoS::AtMostOnce),
            ("c", "a/+", QoS::ExactlyOnce),
            ("c", "a/b", QoS::AtLeastOnce),
        ]);
        let found = t.matches("a/b");
        assert_eq!(found.len(), 1);
        assert_eq!(found["c"].qos, QoS::ExactlyOnce);
    }

    #[test]
    fn removing_the_last_subscription_prunes_the_branch() {
        let mut t = tree(&[("c", "a/b/c", QoS::AtMostOnce)]);
        assert!(t.remove("a/b/c", "c"));
        assert!(!t.remove("a/b/c", "c"));
        assert!(t.root.children.is_empty());
        assert!(t.is_empty());
    }

    #[test]
    fn dollar_topics_are_not_matched_by_first_level_wildcards() {
        let t = tree(&[
            ("a", "#", QoS::AtMostOnce),
            ("b", "+/x", QoS::AtMostOnce),
            ("c", "$SYS/#", QoS::AtMostOnce),
        ]);
        let found = t.matches("$SYS/x");
        assert_eq!(found.keys().map(|k| &**k).collect::<Vec<_>>(), vec!["c"]);
    }

    proptest! {
        /// The tree agrees with the one-filter matcher on random names and filters.
        #[test]
        fn tree_agrees_with_the_naive_matcher(
            filters in prop::collection::vec(filter_strategy(), 1..12),
            topics in prop::collection::vec(topic_strategy(), 1..12),
        ) {
            let mut t = SubscriptionTree::default();
            for (i, f) in filters.iter().enumerate() {
                t.insert(f, format!("c{i}").into(), SubscriptionOptions::new(QoS::AtMostOnce), None);
            }
            for topic_name in &topics {
                let mut expected: Vec<String> = filters
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| topic::matches(f, topic_name))
                    .map(|(i, _)| format!("c{i}"))
                    .collect();
                expected.sort();
                let mut actual: Vec<String> = t.matches(topic_name).keys().map(|k| k.to_string()).collect();
                actual.sort();
                prop_assert_eq!(actual, expected, "topic {:?}", topic_name);
            }
        }
    }

    fn topic_strategy() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "", "$s"]), 1..5)
            .prop_map(|l| l.join("/"))
    }

    fn filter_strategy() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(prop::sample::select(vec!["a", "b", "", "$s", "+"]), 0..4),
            any::<bool>(),
        )
            .prop_map(|(mut levels, hash)| {
                if hash || levels.is_empty() {
                    levels.push("#");
                }
                levels.join("/")
            })
    }
}
