//! The subscription tree: a trie over topic levels with `+` and `#` nodes. Matching a
//! Topic Name walks only the branches that can match, so cost grows with the topic's
//! depth and the wildcards on its path, not with the number of subscriptions.

use std::collections::HashMap;
use std::sync::Arc;

use mq_proto::topic::SharedFilter;
use mq_proto::{QoS, SubscriptionOptions};

#[derive(Debug, Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    subscribers: HashMap<Arc<str>, Subscriber>,
    /// Shared subscriptions ending here, by ShareName.
    groups: HashMap<Box<str>, Group>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.subscribers.is_empty() && self.groups.is_empty()
    }

    /// Nothing here but the one branch below.
    fn holds_only_one_branch(&self) -> bool {
        self.children.len() == 1 && self.subscribers.is_empty() && self.groups.is_empty()
    }
}

/// A filter may have 65,535 levels: the default drop would recurse once per level and
/// overflow the stack, so branches are taken apart with a heap stack instead.
impl Drop for Node {
    fn drop(&mut self) {
        let mut below: Vec<Node> = self.children.drain().map(|(_, node)| node).collect();
        while let Some(mut node) = below.pop() {
            below.extend(node.children.drain().map(|(_, node)| node));
        }
    }
}

/// The members of one `$share/{ShareName}/{filter}`, in the order they joined.
#[derive(Debug)]
struct Group {
    key: Arc<str>,
    members: Vec<(Arc<str>, Subscriber)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Subscriber {
    options: SubscriptionOptions,
    identifier: Option<u32>,
}

impl Subscriber {
    fn to_match(&self) -> Match {
        Match {
            qos: self.options.qos,
            no_local: self.options.no_local,
            retain_as_published: self.options.retain_as_published,
            subscription_identifiers: self.identifier.into_iter().collect(),
        }
    }
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

/// A shared subscription that matched: the broker picks one member for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMatch {
    /// The whole `$share/{ShareName}/{filter}`.
    pub key: Arc<str>,
    pub members: Vec<(Arc<str>, Match)>,
}

/// Everyone a PUBLISH goes to.
#[derive(Debug, Default)]
pub struct Matches {
    pub sessions: HashMap<Arc<str>, Match>,
    pub groups: Vec<GroupMatch>,
}

#[derive(Debug, Default)]
pub struct SubscriptionTree {
    root: Node,
    count: usize,
    /// How many of `count` are `$share/` subscriptions.
    shared_count: usize,
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
        let subscriber = Subscriber {
            options,
            identifier,
        };
        let (share, levels) = split_shared(filter);
        let mut node = &mut self.root;
        for level in levels.split('/') {
            node = node.children.entry(level.into()).or_default();
        }
        let is_new = match share {
            None => node.subscribers.insert(client_id, subscriber).is_none(),
            Some(share_name) => {
                let group = node
                    .groups
                    .entry(share_name.into())
                    .or_insert_with(|| Group {
                        key: filter.into(),
                        members: Vec::new(),
                    });
                match group.members.iter_mut().find(|(id, _)| *id == client_id) {
                    Some(member) => {
                        member.1 = subscriber;
                        false
                    }
                    None => {
                        group.members.push((client_id, subscriber));
                        true
                    }
                }
            }
        };
        if is_new {
            self.count += 1;
            self.shared_count += usize::from(share.is_some());
        }
        is_new
    }

    /// Removes a subscription; true if it existed. Empty branches are pruned.
    pub fn remove(&mut self, filter: &str, client_id: &str) -> bool {
        let (share, levels) = split_shared(filter);
        let levels: Vec<&str> = levels.split('/').collect();
        let removed = remove_at(&mut self.root, &levels, share, client_id);
        if removed {
            self.count -= 1;
            self.shared_count -= usize::from(share.is_some());
        }
        removed
    }

    pub fn len(&self) -> usize {
        self.count
    }

    /// Shared subscriptions (`$share/...`), one per member of each group.
    pub fn shared_len(&self) -> usize {
        self.shared_count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every session whose subscriptions match `topic`, each once, and every shared
    /// subscription group that matches.
    pub fn matches(&self, topic: &str) -> Matches {
        let mut found = Matches::default();
        let levels: Vec<&str> = topic.split('/').collect();
        // [MQTT-4.7.2-1]: wildcards at the first level do not match `$` topics.
        let dollar = topic.starts_with('$');
        collect(&self.root, &levels, dollar, &mut found);
        found
    }
}

/// `$share/{ShareName}/{filter}` into the ShareName and the filter; other filters as they are.
fn split_shared(filter: &str) -> (Option<&str>, &str) {
    match SharedFilter::parse(filter) {
        Some(Ok(shared)) => (Some(shared.share_name), shared.filter),
        _ => (None, filter),
    }
}

/// Removes the subscription at `levels` and prunes the branch it leaves empty. Loops, not
/// recursion: a filter may have 65,535 levels, too deep for the stack.
fn remove_at(root: &mut Node, levels: &[&str], share: Option<&str>, client_id: &str) -> bool {
    let mut node = &mut *root;
    for level in levels {
        let Some(child) = node.children.get_mut(*level) else {
            return false;
        };
        node = child;
    }
    let removed = remove_subscriber(node, share, client_id);

    // The highest node on the path that holds nothing but the emptied branch goes with it.
    let mut path = Vec::with_capacity(levels.len() + 1);
    let mut node = &*root;
    path.push(node);
    for level in levels {
        let Some(child) = node.children.get(*level) else {
            return removed;
        };
        node = child;
        path.push(node);
    }
    if !node.is_empty() {
        return removed;
    }
    let mut first_gone = levels.len();
    while first_gone > 1 && path[first_gone - 1].holds_only_one_branch() {
        first_gone -= 1;
    }
    let mut parent = &mut *root;
    for level in &levels[..first_gone - 1] {
        let Some(child) = parent.children.get_mut(*level) else {
            return removed;
        };
        parent = child;
    }
    parent.children.remove(levels[first_gone - 1]);
    removed
}

fn remove_subscriber(node: &mut Node, share: Option<&str>, client_id: &str) -> bool {
    let Some(share_name) = share else {
        return node.subscribers.remove(client_id).is_some();
    };
    let Some(group) = node.groups.get_mut(share_name) else {
        return false;
    };
    let before = group.members.len();
    group.members.retain(|(id, _)| &**id != client_id);
    let removed = group.members.len() < before;
    if group.members.is_empty() {
        node.groups.remove(share_name);
    }
    removed
}

/// Adds to `found` every subscription under `root` that matches the Topic Name `levels`.
/// Depth first with a heap stack, in the order recursion would take: a Topic Name may
/// have 65,535 levels, too deep for the thread's stack.
fn collect(root: &Node, levels: &[&str], dollar: bool, found: &mut Matches) {
    let mut stack = vec![(root, 0, dollar)];
    while let Some((node, depth, skip_wildcards)) = stack.pop() {
        if !skip_wildcards {
            // `#` also matches the parent level ("sport/#" matches "sport").
            if let Some(hash) = node.children.get("#") {
                add(hash, found);
            }
        }
        let Some(level) = levels.get(depth) else {
            add(node, found);
            continue;
        };
        if !skip_wildcards {
            if let Some(plus) = node.children.get("+") {
                stack.push((plus, depth + 1, false));
            }
        }
        if let Some(child) = node.children.get(*level) {
            stack.push((child, depth + 1, false));
        }
    }
}

fn add(node: &Node, found: &mut Matches) {
    for group in node.groups.values() {
        found.groups.push(GroupMatch {
            key: group.key.clone(),
            members: group
                .members
                .iter()
                .map(|(id, subscriber)| (id.clone(), subscriber.to_match()))
                .collect(),
        });
    }
    for (client_id, subscriber) in &node.subscribers {
        let options = subscriber.options;
        let entry = found
            .sessions
            .entry(client_id.clone())
            .or_insert_with(|| Match {
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
        let found = t.matches("a/b").sessions;
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
    fn pruning_stops_at_the_first_node_that_holds_something_else() {
        let mut t = tree(&[
            ("c", "a/b/c/d", QoS::AtMostOnce),
            ("c", "a/x", QoS::AtMostOnce),
            ("d", "a/b", QoS::AtMostOnce),
        ]);
        assert!(t.remove("a/b/c/d", "c"));
        let b = &t.root.children["a"].children["b"];
        assert!(b.children.is_empty(), "c and d are pruned");
        assert_eq!(b.subscribers.len(), 1, "b keeps its subscriber");
        assert!(t.remove("a/b", "d"));
        assert_eq!(t.root.children["a"].children.len(), 1, "only a/x is left");
        assert_eq!(t.matches("a/x").sessions.len(), 1);
    }

    #[test]
    fn filters_and_names_of_65535_levels_do_not_overflow_the_stack() {
        // A small stack, so that recursion per level would fail here and not only on a
        // thread with less room than this one.
        let worker = std::thread::Builder::new().stack_size(128 * 1024);
        let run = worker.spawn(|| {
            let deep = "/".repeat(65_534);
            let wild = format!("{}#", "+/".repeat(30_000));
            let mut t = tree(&[("c", &deep, QoS::AtMostOnce), ("d", &wild, QoS::AtMostOnce)]);
            assert_eq!(t.matches(&deep).sessions.len(), 2);
            assert!(t.remove(&deep, "c"));
            assert_eq!(t.matches(&deep).sessions.len(), 1);
            // The rest goes with the tree, dropped without recursion too.
            drop(t);
        });
        run.unwrap()
            .join()
            .expect("the deep tree was handled without overflow");
    }

    #[test]
    fn dollar_topics_are_not_matched_by_first_level_wildcards() {
        let t = tree(&[
            ("a", "#", QoS::AtMostOnce),
            ("b", "+/x", QoS::AtMostOnce),
            ("c", "$SYS/#", QoS::AtMostOnce),
        ]);
        let found = t.matches("$SYS/x").sessions;
        assert_eq!(found.keys().map(|k| &**k).collect::<Vec<_>>(), vec!["c"]);
    }

    #[test]
    fn a_shared_group_matches_as_one_group_with_every_member() {
        let t = tree(&[
            ("a", "$share/g/x/+", QoS::AtLeastOnce),
            ("b", "$share/g/x/+", QoS::AtMostOnce),
            ("c", "$share/h/x/#", QoS::AtMostOnce),
        ]);
        let found = t.matches("x/y");
        assert!(found.sessions.is_empty());
        let mut groups: Vec<_> = found
            .groups
            .iter()
            .map(|g| {
                (
                    g.key.to_string(),
                    g.members
                        .iter()
                        .map(|(id, _)| id.to_string())
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        groups.sort();
        assert_eq!(
            groups,
            vec![
                (
                    "$share/g/x/+".to_string(),
                    vec!["a".to_string(), "b".to_string()]
                ),
                ("$share/h/x/#".to_string(), vec!["c".to_string()]),
            ]
        );
    }

    #[test]
    fn leaving_a_shared_group_removes_only_that_member() {
        let mut t = tree(&[
            ("a", "$share/g/x", QoS::AtMostOnce),
            ("b", "$share/g/x", QoS::AtMostOnce),
        ]);
        assert!(t.remove("$share/g/x", "a"));
        assert_eq!(t.len(), 1);
        assert_eq!(t.matches("x").groups[0].members.len(), 1);
        assert!(t.remove("$share/g/x", "b"));
        assert!(t.root.is_empty());
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
                let mut actual: Vec<String> = t.matches(topic_name).sessions.keys().map(|k| k.to_string()).collect();
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
