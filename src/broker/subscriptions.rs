//! The subscription tree: a trie over topic levels with `+` and `#` nodes. Matching a
//! Topic Name walks only the branches that can match, so cost grows with the topic's
//! depth and the wildcards on its path, not with the number of subscriptions.
//!
//! Nodes are kept small: a broker with one topic per client holds a node per client, and
//! each costs its bytes (and the map's spare buckets) once per subscription.

use std::collections::hash_map::{DefaultHasher, RandomState};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

use mq_proto::topic::SharedFilter;
use mq_proto::{QoS, SubscriptionOptions};

/// SipHash under one random key for the whole process: topic levels are chosen by clients,
/// so the hash must stay keyed against collision floods, and a key per map (std's
/// `RandomState`, 16 bytes) would be paid in every node that has children. One key for
/// all maps makes copying one map into another quadratic; nothing here does that.
#[derive(Debug, Clone, Copy, Default)]
struct LevelHasher;

impl BuildHasher for LevelHasher {
    type Hasher = DefaultHasher;

    fn build_hasher(&self) -> DefaultHasher {
        static KEYS: OnceLock<RandomState> = OnceLock::new();
        KEYS.get_or_init(RandomState::new).build_hasher()
    }
}

/// A node's children. `+` and `#` have fields of their own: a match looks for both at
/// every level it visits, and a field costs no hash.
#[derive(Debug, Default)]
struct Children {
    named: HashMap<Box<str>, Node, LevelHasher>,
    plus: Option<Box<Node>>,
    hash: Option<Box<Node>>,
}

impl Children {
    fn get(&self, level: &str) -> Option<&Node> {
        match level {
            "+" => self.plus.as_deref(),
            "#" => self.hash.as_deref(),
            _ => self.named.get(level),
        }
    }

    fn get_mut(&mut self, level: &str) -> Option<&mut Node> {
        match level {
            "+" => self.plus.as_deref_mut(),
            "#" => self.hash.as_deref_mut(),
            _ => self.named.get_mut(level),
        }
    }

    fn get_or_insert(&mut self, level: &str) -> &mut Node {
        match level {
            "+" => self.plus.get_or_insert_default(),
            "#" => self.hash.get_or_insert_default(),
            _ => self.named.entry(level.into()).or_default(),
        }
    }

    fn remove(&mut self, level: &str) {
        match level {
            "+" => self.plus = None,
            "#" => self.hash = None,
            _ => {
                self.named.remove(level);
            }
        }
    }

    fn len(&self) -> usize {
        self.named.len() + usize::from(self.plus.is_some()) + usize::from(self.hash.is_some())
    }

    fn into_nodes(self) -> impl Iterator<Item = Node> {
        let wildcards = [self.plus, self.hash]
            .into_iter()
            .flatten()
            .map(|node| *node);
        self.named.into_values().chain(wildcards)
    }
}

#[derive(Debug, Default)]
struct Node {
    /// Boxed, and only while there are any: most nodes are leaves, and an empty map held
    /// inline would cost 32 bytes in each.
    children: Option<Box<Children>>,
    subscriptions: Subscriptions,
}

impl Node {
    fn child(&self, level: &str) -> Option<&Node> {
        self.children.as_ref()?.get(level)
    }

    fn child_mut(&mut self, level: &str) -> Option<&mut Node> {
        self.children.as_mut()?.get_mut(level)
    }

    fn child_or_insert(&mut self, level: &str) -> &mut Node {
        self.children.get_or_insert_default().get_or_insert(level)
    }

    fn remove_child(&mut self, level: &str) {
        if let Some(children) = &mut self.children {
            children.remove(level);
            if children.len() == 0 {
                self.children = None;
            }
        }
    }

    fn child_count(&self) -> usize {
        self.children.as_ref().map_or(0, |children| children.len())
    }

    fn is_empty(&self) -> bool {
        self.child_count() == 0 && self.subscriptions.is_empty()
    }

    /// Nothing here but the one branch below.
    fn holds_only_one_branch(&self) -> bool {
        self.child_count() == 1 && self.subscriptions.is_empty()
    }
}

/// A filter may have 65,535 levels: the default drop would recurse once per level and
/// overflow the stack, so branches are taken apart with a heap stack instead.
impl Drop for Node {
    fn drop(&mut self) {
        let mut below: Vec<Box<Children>> = self.children.take().into_iter().collect();
        while let Some(children) = below.pop() {
            for mut node in children.into_nodes() {
                below.extend(node.children.take());
            }
        }
    }
}

/// The subscriptions that end at one node. Most such nodes hold one client's, kept inline;
/// a second client or a shared subscription moves them to the heap.
#[derive(Debug, Default)]
enum Subscriptions {
    #[default]
    Empty,
    One(Arc<str>, Subscriber),
    Several(Box<Several>),
}

#[derive(Debug, Default)]
struct Several {
    subscribers: HashMap<Arc<str>, Subscriber>,
    /// Shared subscriptions ending here, by ShareName.
    groups: HashMap<Box<str>, Group>,
}

impl Subscriptions {
    fn is_empty(&self) -> bool {
        matches!(self, Subscriptions::Empty)
    }

    /// Adds or replaces `client_id`'s subscription; true if it is new.
    fn insert(&mut self, client_id: Arc<str>, subscriber: Subscriber) -> bool {
        match self {
            Subscriptions::Empty => {
                *self = Subscriptions::One(client_id, subscriber);
                true
            }
            Subscriptions::One(id, existing) if *id == client_id => {
                *existing = subscriber;
                false
            }
            _ => self.change(|several| several.subscribers.insert(client_id, subscriber).is_none()),
        }
    }

    /// Removes `client_id`'s subscription; true if it existed.
    fn remove(&mut self, client_id: &str) -> bool {
        match self {
            Subscriptions::Empty => false,
            Subscriptions::One(id, _) => {
                let removed = **id == *client_id;
                if removed {
                    *self = Subscriptions::Empty;
                }
                removed
            }
            Subscriptions::Several(_) => {
                self.change(|several| several.subscribers.remove(client_id).is_some())
            }
        }
    }

    /// Adds or replaces `client_id` in the group `share_name` of `filter`; true if it is new.
    fn join(
        &mut self,
        filter: &str,
        share_name: &str,
        client_id: Arc<str>,
        subscriber: Subscriber,
    ) -> bool {
        self.change(|several| {
            let group = several
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
        })
    }

    /// Removes `client_id` from the group `share_name`; true if it was a member.
    fn leave(&mut self, share_name: &str, client_id: &str) -> bool {
        if !matches!(self, Subscriptions::Several(_)) {
            return false;
        }
        self.change(|several| {
            let Some(group) = several.groups.get_mut(share_name) else {
                return false;
            };
            let before = group.members.len();
            group.members.retain(|(id, _)| &**id != client_id);
            let removed = group.members.len() < before;
            if group.members.is_empty() {
                several.groups.remove(share_name);
            }
            removed
        })
    }

    /// Applies `change` to the heap form, then keeps the smallest form that holds the result.
    fn change<R>(&mut self, change: impl FnOnce(&mut Several) -> R) -> R {
        let mut several = match std::mem::take(self) {
            Subscriptions::Empty => Box::default(),
            Subscriptions::One(id, subscriber) => Box::new(Several {
                subscribers: HashMap::from([(id, subscriber)]),
                groups: HashMap::new(),
            }),
            Subscriptions::Several(several) => several,
        };
        let result = change(&mut several);
        *self = if several.groups.is_empty() && several.subscribers.len() <= 1 {
            match several.subscribers.drain().next() {
                Some((id, subscriber)) => Subscriptions::One(id, subscriber),
                None => Subscriptions::Empty,
            }
        } else {
            Subscriptions::Several(several)
        };
        result
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
    /// `client_id`'s entry in a PUBLISH's matches, for this subscription alone.
    fn matched(&self, client_id: &Arc<str>) -> (Arc<str>, Match) {
        let found = Match {
            qos: self.options.qos,
            no_local: self.options.no_local,
            retain_as_published: self.options.retain_as_published,
            subscription_identifiers: self.identifier.into_iter().collect(),
        };
        (client_id.clone(), found)
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
    /// Each session once.
    pub sessions: Vec<(Arc<str>, Match)>,
    pub groups: Vec<GroupMatch>,
    /// Nodes whose own subscribers were added: with more than one, a session may be in
    /// `sessions` more than once until `merge_sessions`.
    nodes_added: usize,
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
            node = node.child_or_insert(level);
        }
        let is_new = match share {
            None => node.subscriptions.insert(client_id, subscriber),
            Some(share_name) => node
                .subscriptions
                .join(filter, share_name, client_id, subscriber),
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
        // [MQTT-4.7.2-1]: wildcards at the first level do not match `$` topics.
        let dollar = topic.starts_with('$');
        collect(&self.root, topic, dollar, &mut found);
        if found.nodes_added > 1 {
            merge_sessions(&mut found.sessions);
        }
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
        let Some(child) = node.child_mut(level) else {
            return false;
        };
        node = child;
    }
    let removed = match share {
        None => node.subscriptions.remove(client_id),
        Some(share_name) => node.subscriptions.leave(share_name, client_id),
    };

    // The highest node on the path that holds nothing but the emptied branch goes with it.
    let mut path = Vec::with_capacity(levels.len() + 1);
    let mut node = &*root;
    path.push(node);
    for level in levels {
        let Some(child) = node.child(level) else {
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
        let Some(child) = parent.child_mut(level) else {
            return removed;
        };
        parent = child;
    }
    parent.remove_child(levels[first_gone - 1]);
    removed
}

/// Adds to `found` every subscription under `root` that matches the Topic Name `topic`.
/// Depth first, in the order recursion would take, with the `+` branches still to visit
/// on a heap stack: a Topic Name may have 65,535 levels, too deep for the thread's stack.
/// Each step carries the levels left (`None` once every level is matched).
fn collect(root: &Node, topic: &str, dollar: bool, found: &mut Matches) {
    let mut plus_branches = Vec::new();
    let mut next = Some((root, Some(topic), dollar));
    while let Some((node, levels_left, skip_wildcards)) =
        next.take().or_else(|| plus_branches.pop())
    {
        let children = node.children.as_deref();
        if !skip_wildcards {
            // `#` also matches the parent level ("sport/#" matches "sport").
            if let Some(hash) = children.and_then(|children| children.hash.as_deref()) {
                add(hash, found);
            }
        }
        let Some(levels) = levels_left else {
            add(node, found);
            continue;
        };
        let Some(children) = children else {
            continue;
        };
        let (level, rest) = match levels.split_once('/') {
            Some((level, rest)) => (level, Some(rest)),
            None => (levels, None),
        };
        if !skip_wildcards {
            if let Some(plus) = children.plus.as_deref() {
                plus_branches.push((plus, rest, false));
            }
        }
        next = children.named.get(level).map(|child| (child, rest, false));
    }
}

/// Merges the entries of a session that several subscriptions matched into one: the
/// highest QoS, and every Subscription Identifier in the order they were found.
fn merge_sessions(sessions: &mut Vec<(Arc<str>, Match)>) {
    // Stable, so that each session's identifiers keep their order.
    sessions.sort_by(|a, b| a.0.cmp(&b.0));
    sessions.dedup_by(|later, kept| {
        if later.0 != kept.0 {
            return false;
        }
        let (kept, later) = (&mut kept.1, &mut later.1);
        kept.qos = kept.qos.max(later.qos);
        // No Local only holds back the message when every matching subscription asks for it.
        kept.no_local &= later.no_local;
        kept.retain_as_published |= later.retain_as_published;
        kept.subscription_identifiers
            .append(&mut later.subscription_identifiers);
        true
    });
}

fn add(node: &Node, found: &mut Matches) {
    match &node.subscriptions {
        Subscriptions::Empty => return,
        Subscriptions::One(client_id, subscriber) => {
            found.sessions.push(subscriber.matched(client_id));
        }
        Subscriptions::Several(several) => {
            for group in several.groups.values() {
                found.groups.push(GroupMatch {
                    key: group.key.clone(),
                    members: group
                        .members
                        .iter()
                        .map(|(id, subscriber)| subscriber.matched(id))
                        .collect(),
                });
            }
            let subscribers = several.subscribers.iter();
            found
                .sessions
                .extend(subscribers.map(|(id, subscriber)| subscriber.matched(id)));
        }
    }
    found.nodes_added += 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use mq_proto::topic;
    use proptest::prelude::*;

    /// The match for `client_id`, which must be there once.
    fn session<'a>(found: &'a [(Arc<str>, Match)], client_id: &str) -> &'a Match {
        let mut of_client = found.iter().filter(|(id, _)| &**id == client_id);
        let (_, found) = of_client.next().expect("the client matched");
        assert!(of_client.next().is_none(), "{client_id} matched once");
        found
    }

    fn ids(found: &[(Arc<str>, Match)]) -> Vec<&str> {
        found.iter().map(|(id, _)| &**id).collect()
    }

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
        assert_eq!(session(&found, "c").qos, QoS::ExactlyOnce);
    }

    #[test]
    fn removing_the_last_subscription_prunes_the_branch() {
        let mut t = tree(&[("c", "a/b/c", QoS::AtMostOnce)]);
        assert!(t.remove("a/b/c", "c"));
        assert!(!t.remove("a/b/c", "c"));
        assert!(t.root.children.is_none());
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
        let b = t.root.child("a").unwrap().child("b").unwrap();
        assert!(b.children.is_none(), "c and d are pruned");
        assert!(
            matches!(&b.subscriptions, Subscriptions::One(id, _) if &**id == "d"),
            "b keeps its subscriber"
        );
        assert!(t.remove("a/b", "d"));
        assert_eq!(
            t.root.child("a").unwrap().child_count(),
            1,
            "only a/x is left"
        );
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
        assert_eq!(ids(&found), vec!["c"]);
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

    #[test]
    fn a_node_stays_small_because_every_topic_level_pays_for_one() {
        // 40 bytes inline in the parent's map; 144 when every node held three maps.
        assert!(std::mem::size_of::<Node>() <= 40);
    }

    #[test]
    fn subscribing_again_replaces_the_options_and_is_not_new() {
        let mut t = tree(&[("c", "a", QoS::AtMostOnce), ("d", "b", QoS::AtMostOnce)]);
        let again = SubscriptionOptions::new(QoS::ExactlyOnce);
        assert!(!t.insert("a", "c".into(), again, Some(7)));
        t.insert("b", "e".into(), again, None);
        assert!(!t.insert("b", "d".into(), again, Some(8)));
        assert_eq!(t.len(), 3);
        let found = t.matches("a").sessions;
        assert_eq!(session(&found, "c").qos, QoS::ExactlyOnce);
        assert_eq!(session(&found, "c").subscription_identifiers, vec![7]);
        let found = t.matches("b").sessions;
        assert_eq!(session(&found, "d").subscription_identifiers, vec![8]);
    }

    #[test]
    fn clients_and_groups_on_one_filter_come_and_go_in_any_order() {
        let mut t = tree(&[
            ("a", "x", QoS::AtMostOnce),
            ("b", "x", QoS::AtLeastOnce),
            ("g1", "$share/g/x", QoS::AtMostOnce),
        ]);
        let found = t.matches("x");
        assert_eq!(found.sessions.len(), 2);
        assert_eq!(found.groups.len(), 1);
        assert!(t.remove("x", "a"));
        assert!(!t.remove("x", "a"));
        assert!(t.remove("$share/g/x", "g1"));
        let x = t.root.child("x").unwrap();
        assert!(
            matches!(&x.subscriptions, Subscriptions::One(id, _) if &**id == "b"),
            "one subscriber left is held inline again"
        );
        assert_eq!(session(&t.matches("x").sessions, "b").qos, QoS::AtLeastOnce);
        assert!(t.remove("x", "b"));
        assert!(t.root.is_empty());
    }

    #[test]
    fn ten_thousand_clients_on_one_filter_all_match_and_all_leave() {
        let clients: Vec<String> = (0..10_000).map(|i| format!("c{i}")).collect();
        let mut t = SubscriptionTree::default();
        for client in &clients {
            let options = SubscriptionOptions::new(QoS::AtMostOnce);
            assert!(t.insert("#", client.as_str().into(), options, None));
        }
        assert_eq!(t.matches("any/topic").sessions.len(), 10_000);
        for client in &clients {
            assert!(t.remove("#", client));
        }
        assert!(t.root.is_empty());
    }

    proptest! {
        /// The tree agrees with the one-filter matcher on random names and filters, with
        /// clients that hold several of the filters: each matching client once, at the
        /// highest QoS of its matching subscriptions, with all of their identifiers.
        #[test]
        fn tree_agrees_with_the_naive_matcher(
            filters in prop::collection::vec(filter_strategy(), 1..12),
            topics in prop::collection::vec(topic_strategy(), 1..12),
        ) {
            let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
            let mut t = SubscriptionTree::default();
            // What each client holds: a filter subscribed again replaces the first.
            let mut held = std::collections::BTreeMap::new();
            for (i, f) in filters.iter().enumerate() {
                let (client, qos, id) = (format!("c{}", i % 3), qos[i / 3 % 3], i as u32 + 1);
                t.insert(f, client.as_str().into(), SubscriptionOptions::new(qos), Some(id));
                held.insert((client, f.clone()), (qos, id));
            }
            for topic_name in &topics {
                let mut expected = std::collections::BTreeMap::new();
                for ((client, f), (qos, id)) in &held {
                    if topic::matches(f, topic_name) {
                        let entry = expected.entry(client.clone()).or_insert((*qos, Vec::new()));
                        entry.0 = entry.0.max(*qos);
                        entry.1.push(*id);
                    }
                }
                let mut actual = std::collections::BTreeMap::new();
                for (client, found) in t.matches(topic_name).sessions {
                    let mut ids = found.subscription_identifiers;
                    ids.sort();
                    let again = actual.insert(client.to_string(), (found.qos, ids));
                    prop_assert!(again.is_none(), "{} matched twice on {:?}", client, topic_name);
                }
                for ids in expected.values_mut() {
                    ids.1.sort();
                }
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
