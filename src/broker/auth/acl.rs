//! The ACL file, in Mosquitto's syntax (mosquitto.conf(5), `acl_file`):
//!
//! ```text
//! # comment
//! topic read public/#              # before any `user` line: anonymous clients only
//! user alice
//! topic readwrite alice/#          # alice's own rules
//! topic deny alice/secret
//! pattern readwrite devices/%c/#   # every client; %c = client id, %u = user name
//! ```
//!
//! `topic [read|write|readwrite|deny] FILTER` and `pattern [read|write|readwrite|deny] FILTER`;
//! without an access word the access is `readwrite`, and then the filter is the rest of the
//! line (it may contain spaces only after an access word). `user NAME` starts the rules of
//! one user; rules before the first `user` line apply to clients without a user name.
//! `pattern` rules apply to every client wherever they appear; a `%u` pattern does not apply
//! to clients without a user name. `#` at the start of a line begins a comment.
//!
//! Decisions: a client's rules are its user's `topic` rules (or the anonymous ones) and all
//! patterns. **Deny wins**: if any matching rule says `deny` the answer is no; otherwise the
//! first matching rule that grants the access decides; with no such rule the answer is no.
//! As in Mosquitto, a filter starting with a wildcard does not grant `$`-topics (`$SYS/...`),
//! and when patterns exist a client whose id or user name contains `+` or `#` is denied.
//!
//! One difference from Mosquitto: Mosquitto checks a user's own rules (grants included)
//! before the patterns, so a user grant beats a pattern deny there; here any deny wins.
//!
//! Subscriptions: Mosquitto's default checks nothing at SUBSCRIBE and filters every delivery.
//! Here a Topic Filter is refused at SUBSCRIBE when a deny rule covers all of it (every topic
//! it matches is denied) or when no rule could ever let a matching topic be read; deliveries
//! are still checked topic by topic.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use mq_proto::topic::{self, validate_topic_filter};

/// What a client wants to do with a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Receive messages (deliveries, retained messages, subscriptions).
    Read,
    /// Publish messages (PUBLISH, Will).
    Write,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::Write => "write",
        })
    }
}

/// The access word of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Read,
    Write,
    ReadWrite,
    Deny,
}

impl Grant {
    fn allows(self, access: Access) -> bool {
        matches!(
            (self, access),
            (Grant::ReadWrite, _) | (Grant::Read, Access::Read) | (Grant::Write, Access::Write)
        )
    }

    fn parse(word: &str) -> Option<Grant> {
        Some(match word {
            "read" => Grant::Read,
            "write" => Grant::Write,
            "readwrite" => Grant::ReadWrite,
            "deny" => Grant::Deny,
            _ => return None,
        })
    }
}

/// `topic` or `pattern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Topic,
    Pattern,
}

/// One `topic` or `pattern` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub kind: RuleKind,
    pub grant: Grant,
    /// The Topic Filter as written (`%c`/`%u` not yet substituted for patterns).
    pub filter: String,
    /// 1-based line number in the file.
    pub line: usize,
    /// The line as written, for explanations.
    pub text: String,
}

impl Rule {
    /// The filter with `%c` and `%u` substituted; `None` for a `%u` pattern and a client
    /// without a user name (such a pattern does not apply to it).
    fn filter_for(&self, client: &Client<'_>) -> Option<String> {
        if self.kind == RuleKind::Topic {
            return Some(self.filter.clone());
        }
        let mut filter = self.filter.replace("%c", client.client_id);
        if filter.contains("%u") {
            filter = filter.replace("%u", client.username?);
        }
        Some(filter)
    }
}

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client<'a> {
    pub client_id: &'a str,
    pub username: Option<&'a str>,
}

/// An answer and what decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'a> {
    pub allowed: bool,
    pub why: Why<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why<'a> {
    /// This rule matched and decided.
    Rule(&'a Rule),
    /// No rule grants the access.
    NoRule,
    /// Patterns exist and the client id or user name contains a wildcard.
    WildcardInIdentity,
}

impl Decision<'_> {
    fn deny_by_default() -> Decision<'static> {
        Decision {
            allowed: false,
            why: Why::NoRule,
        }
    }
}

impl fmt::Display for Why<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Rule(rule) => write!(f, "line {}: {}", rule.line, rule.text),
            Why::NoRule => f.write_str("no rule grants this access"),
            Why::WildcardInIdentity => f.write_str(
                "the client id or user name contains '+' or '#' and the file has patterns",
            ),
        }
    }
}

/// Why an ACL file was refused.
#[derive(Debug, thiserror::Error)]
pub enum AclError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}line {line}: {reason}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Line {
        path: Option<PathBuf>,
        line: usize,
        reason: String,
    },
}

/// A parsed ACL file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclFile {
    anonymous: Vec<Rule>,
    users: HashMap<String, Vec<Rule>>,
    patterns: Vec<Rule>,
    warnings: Vec<String>,
}

impl AclFile {
    pub fn parse(text: &str) -> Result<AclFile, AclError> {
        let mut acl = AclFile::default();
        let mut user: Option<String> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let refuse = |reason: String| AclError::Line {
                path: None,
                line,
                reason,
            };
            let (keyword, rest) = split_word(content);
            match keyword {
                "user" => {
                    if rest.is_empty() {
                        return Err(refuse("'user' needs a user name".into()));
                    }
                    user = Some(rest.to_string());
                    // A user mentioned with no rules still gets an (empty) rule list.
                    acl.users.entry(rest.to_string()).or_default();
                }
                "topic" | "pattern" => {
                    let kind = if keyword == "topic" {
                        RuleKind::Topic
                    } else {
                        RuleKind::Pattern
                    };
                    if rest.is_empty() {
                        return Err(refuse(format!("'{keyword}' needs a topic filter")));
                    }
                    // As Mosquitto: with more than one word the first is the access.
                    let (first, filter) = split_word(rest);
                    let (grant, filter) = if filter.is_empty() {
                        (Grant::ReadWrite, first)
                    } else {
                        let grant = Grant::parse(first).ok_or_else(|| {
                            refuse(format!(
                                "unknown access '{first}' (expected read, write, readwrite or deny)"
                            ))
                        })?;
                        (grant, filter)
                    };
                    validate_topic_filter(filter).map_err(|e| {
                        refuse(format!("'{filter}' is not a valid topic filter: {e}"))
                    })?;
                    if kind == RuleKind::Pattern && !filter.contains("%c") && !filter.contains("%u")
                    {
                        acl.warnings.push(format!(
                            "line {line}: pattern '{filter}' contains neither %c nor %u"
                        ));
                    }
                    let rule = Rule {
                        kind,
                        grant,
                        filter: filter.to_string(),
                        line,
                        text: content.to_string(),
                    };
                    match (kind, &user) {
                        (RuleKind::Pattern, _) => acl.patterns.push(rule),
                        (RuleKind::Topic, None) => acl.anonymous.push(rule),
                        (RuleKind::Topic, Some(name)) => {
                            acl.users.entry(name.clone()).or_default().push(rule)
                        }
                    }
                }
                other => {
                    return Err(refuse(format!(
                        "unknown keyword '{other}' (expected topic, pattern, user or a # comment)"
                    )))
                }
            }
        }
        Ok(acl)
    }

    pub fn load(path: &Path) -> Result<AclFile, AclError> {
        let text = fs::read_to_string(path).map_err(|source| AclError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        AclFile::parse(&text).map_err(|e| match e {
            AclError::Line { line, reason, .. } => AclError::Line {
                path: Some(path.to_path_buf()),
                line,
                reason,
            },
            other => other,
        })
    }

    /// Things that parse but are probably mistakes (a pattern without `%c` or `%u`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The rules that apply to `client`: its user's topic rules (or the anonymous ones),
    /// then every pattern.
    fn rules_for<'a>(&'a self, client: &Client<'_>) -> impl Iterator<Item = &'a Rule> {
        let own: &[Rule] = match client.username {
            Some(name) => self.users.get(name).map(Vec::as_slice).unwrap_or(&[]),
            None => &self.anonymous,
        };
        own.iter().chain(self.patterns.iter())
    }

    fn has_dangerous_identity(&self, client: &Client<'_>) -> bool {
        !self.patterns.is_empty()
            && (client.client_id.contains(['+', '#'])
                || client.username.is_some_and(|u| u.contains(['+', '#'])))
    }

    /// May `client` read or write the Topic Name `topic`?
    pub fn check(&self, client: &Client<'_>, topic: &str, access: Access) -> Decision<'_> {
        self.decide(
            client,
            access,
            |filter| filter_matches_topic(filter, topic),
            |filter| filter_matches_topic(filter, topic),
        )
    }

    /// May `client` subscribe to the Topic Filter `filter`? See the module documentation.
    pub fn check_subscription(&self, client: &Client<'_>, filter: &str) -> Decision<'_> {
        self.decide(
            client,
            Access::Read,
            |deny| filter_covers(deny, filter),
            |grant| filters_overlap(grant, filter),
        )
    }

    fn decide(
        &self,
        client: &Client<'_>,
        access: Access,
        denied_by: impl Fn(&str) -> bool,
        granted_by: impl Fn(&str) -> bool,
    ) -> Decision<'_> {
        if self.has_dangerous_identity(client) {
            return Decision {
                allowed: false,
                why: Why::WildcardInIdentity,
            };
        }
        let expanded: Vec<(&Rule, String)> = self
            .rules_for(client)
            .filter_map(|rule| rule.filter_for(client).map(|f| (rule, f)))
            .collect();
        if let Some((rule, _)) = expanded
            .iter()
            .find(|(rule, f)| rule.grant == Grant::Deny && denied_by(f))
        {
            return Decision {
                allowed: false,
                why: Why::Rule(rule),
            };
        }
        match expanded
            .iter()
            .find(|(rule, f)| rule.grant.allows(access) && granted_by(f))
        {
            Some((rule, _)) => Decision {
                allowed: true,
                why: Why::Rule(rule),
            },
            None => Decision::deny_by_default(),
        }
    }
}

/// Splits off the first word; the rest is trimmed.
fn split_word(text: &str) -> (&str, &str) {
    match text.split_once([' ', '\t']) {
        Some((word, rest)) => (word, rest.trim()),
        None => (text, ""),
    }
}

/// Does the rule filter match the Topic Name? A rule that does not start with `$` never
/// matches a `$` topic, whatever its wildcards (as Mosquitto checks it).
fn filter_matches_topic(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && !filter.starts_with('$') {
        return false;
    }
    topic::matches(filter, topic)
}

/// Does every Topic Name that `inner` matches also match `outer`?
fn filter_covers(outer: &str, inner: &str) -> bool {
    if inner.starts_with('$') != outer.starts_with('$') {
        // One side only matches `$` topics and the other never does; a wildcard on the
        // inner side's first level matches no `$` topic, so it cannot be covered by a
        // `$` rule either.
        return false;
    }
    let mut outer_levels = outer.split('/');
    let mut inner_levels = inner.split('/');
    loop {
        match (outer_levels.next(), inner_levels.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(i)) if i != "#" => {}
            (Some(o), Some(i)) if o == i && i != "+" && i != "#" => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Is there a Topic Name that both filters match?
fn filters_overlap(a: &str, b: &str) -> bool {
    if a.starts_with('$') != b.starts_with('$') {
        return false;
    }
    let mut a_levels = a.split('/');
    let mut b_levels = b.split('/');
    loop {
        match (a_levels.next(), b_levels.next()) {
            (Some("#"), _) | (_, Some("#")) => return true,
            (Some("+"), Some(_)) | (Some(_), Some("+")) => {}
            (Some(x), Some(y)) if x == y => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anonymous(client_id: &str) -> Client<'_> {
        Client {
            client_id,
            username: None,
        }
    }

    fn user<'a>(username: &'a str, client_id: &'a str) -> Client<'a> {
        Client {
            client_id,
            username: Some(username),
        }
    }

    fn allowed(acl: &AclFile, client: Client<'_>, topic: &str, access: Access) -> bool {
        acl.check(&client, topic, access).allowed
    }

    const FILE: &str = "\
# anonymous clients
topic read public/#
topic readwrite open/#

user alice
topic readwrite alice/#
topic deny alice/secret
topic write inbox
topic $SYS/broker/clients/#

user bob
topic read alice/#

pattern readwrite devices/%c/#
pattern read users/%u/#
";

    #[test]
    fn rules_before_any_user_line_apply_to_anonymous_clients_only() {
        let acl = AclFile::parse(FILE).expect("parses");
        assert!(allowed(&acl, anonymous("c"), "public/x", Access::Read));
        assert!(!allowed(&acl, anonymous("c"), "public/x", Access::Write));
        assert!(allowed(&acl, anonymous("c"), "open/x", Access::Write));
        assert!(!allowed(&acl, user("alice", "c"), "public/x", Access::Read));
        assert!(!allowed(&acl, user("carol", "c"), "open/x", Access::Read));
    }

    #[test]
    fn user_blocks_grant_read_write_and_readwrite() {
        let acl = AclFile::parse(FILE).expect("parses");
        let alice = user("alice", "a1");
        assert!(allowed(&acl, alice, "alice/x", Access::Read));
        assert!(allowed(&acl, alice, "alice/x", Access::Write));
        assert!(allowed(&acl, alice, "inbox", Access::Write));
        assert!(!allowed(&acl, alice, "inbox", Access::Read));
        let bob = user("bob", "b1");
        assert!(allowed(&acl, bob, "alice/x", Access::Read));
        assert!(!allowed(&acl, bob, "alice/x", Access::Write));
    }

    #[test]
    fn deny_wins_over_a_broader_grant_and_names_its_line() {
        let acl = AclFile::parse(FILE).expect("parses");
        let decision = acl.check(&user("alice", "a1"), "alice/secret", Access::Read);
        assert!(!decision.allowed);
        match decision.why {
            Why::Rule(rule) => assert_eq!((rule.line, rule.grant), (7, Grant::Deny)),
            other => panic!("{other:?}"),
        }
        // Deny wins even when the grant comes first in the file.
        let acl = AclFile::parse("topic #\ntopic deny a\npattern deny x/%c\n").expect("parses");
        assert!(!allowed(&acl, anonymous("c"), "a", Access::Write));
        assert!(allowed(&acl, anonymous("c"), "b", Access::Write));
        assert!(!allowed(&acl, anonymous("c"), "x/c", Access::Read));
        assert!(allowed(&acl, anonymous("d"), "x/c", Access::Read));
    }

    #[test]
    fn patterns_substitute_client_id_and_user_name_for_everyone() {
        let acl = AclFile::parse(FILE).expect("parses");
        assert!(allowed(
            &acl,
            anonymous("dev1"),
            "devices/dev1/t",
            Access::Write
        ));
        assert!(!allowed(
            &acl,
            anonymous("dev1"),
            "devices/dev2/t",
            Access::Write
        ));
        assert!(allowed(
            &acl,
            user("alice", "dev2"),
            "devices/dev2/t",
            Access::Read
        ));
        assert!(allowed(
            &acl,
            user("bob", "x"),
            "users/bob/inbox",
            Access::Read
        ));
        assert!(!allowed(
            &acl,
            user("bob", "x"),
            "users/alice/inbox",
            Access::Read
        ));
        // %u patterns do not apply without a user name.
        assert!(!allowed(&acl, anonymous("x"), "users//inbox", Access::Read));
        assert!(!allowed(
            &acl,
            anonymous("x"),
            "users/%u/inbox",
            Access::Read
        ));
    }

    #[test]
    fn wildcards_in_client_ids_or_user_names_do_not_widen_patterns() {
        let acl = AclFile::parse(FILE).expect("parses");
        assert!(!allowed(
            &acl,
            anonymous("#"),
            "devices/other/t",
            Access::Read
        ));
        assert!(!allowed(&acl, user("+", "c"), "users/x/t", Access::Read));
        let decision = acl.check(&anonymous("a+b"), "public/x", Access::Read);
        assert_eq!(decision.why, Why::WildcardInIdentity);
    }

    #[test]
    fn sys_topics_need_a_rule_that_names_them() {
        let acl = AclFile::parse(FILE).expect("parses");
        let alice = user("alice", "a1");
        assert!(allowed(
            &acl,
            alice,
            "$SYS/broker/clients/connected",
            Access::Read
        ));
        assert!(!allowed(&acl, alice, "$SYS/broker/uptime", Access::Read));
        let acl = AclFile::parse("topic #\ntopic +/broker/#\n").expect("parses");
        assert!(!allowed(
            &acl,
            anonymous("c"),
            "$SYS/broker/uptime",
            Access::Read
        ));
        assert!(!acl.check_subscription(&anonymous("c"), "$SYS/#").allowed);
        let acl = AclFile::parse("topic read $SYS/#\n").expect("parses");
        assert!(
            acl.check_subscription(&anonymous("c"), "$SYS/broker/+")
                .allowed
        );
        assert!(!acl.check_subscription(&anonymous("c"), "#").allowed);
    }

    #[test]
    fn no_rule_means_no_access() {
        let acl = AclFile::parse("").expect("empty file parses");
        let decision = acl.check(&anonymous("c"), "a", Access::Read);
        assert_eq!(decision, Decision::deny_by_default());
        assert!(!allowed(&acl, user("alice", "c"), "a", Access::Write));
    }

    /// The Paho 3.1.1 suite's test_subscribe_failure expects SUBACK 0x80 for this topic.
    #[test]
    fn the_paho_acl_refuses_exactly_test_nosubscribe() {
        let text = include_str!("../../../tests/fixtures/paho.acl");
        let acl = AclFile::parse(text).expect("parses");
        let paho = anonymous("myclientid");
        assert!(!acl.check_subscription(&paho, "test/nosubscribe").allowed);
        assert!(acl.check_subscription(&paho, "TopicA/#").allowed);
        assert!(acl.check_subscription(&paho, "test/+").allowed);
        assert!(acl.check_subscription(&paho, "#").allowed);
        assert!(!allowed(&acl, paho, "test/nosubscribe", Access::Read));
        assert!(allowed(&acl, paho, "TopicA/B", Access::Write));
        assert!(allowed(&acl, paho, "TopicA/B", Access::Read));
    }

    #[test]
    fn subscriptions_are_refused_when_denied_whole_or_never_readable() {
        let acl =
            AclFile::parse("topic read a/#\ntopic deny a/b/#\ntopic write w\n").expect("parses");
        let c = anonymous("c");
        assert!(acl.check_subscription(&c, "a/#").allowed, "a/x is readable");
        assert!(acl.check_subscription(&c, "+/b").allowed, "a/b is readable");
        assert!(!acl.check_subscription(&c, "a/b/#").allowed);
        assert!(!acl.check_subscription(&c, "a/b/+/d").allowed);
        assert!(!acl.check_subscription(&c, "w").allowed, "write only");
        assert!(!acl.check_subscription(&c, "z/#").allowed);
        assert!(acl.check_subscription(&c, "#").allowed);
    }

    #[test]
    fn filter_relations() {
        assert!(filter_covers("a/#", "a"));
        assert!(filter_covers("a/#", "a/+/c"));
        assert!(filter_covers("a/+", "a/+"));
        assert!(!filter_covers("a/+", "a/#"));
        assert!(!filter_covers("a/b", "a/+"));
        assert!(filter_covers("#", "x/y"));
        assert!(!filter_covers("#", "$SYS/x"));
        assert!(filter_covers("$SYS/#", "$SYS/x"));
        assert!(!filter_covers("$SYS/#", "#"));
        assert!(filters_overlap("a/+/c", "+/b/#"));
        assert!(filters_overlap("a/#", "a"));
        assert!(!filters_overlap("a/b", "a/c"));
        assert!(!filters_overlap("a/+", "a"));
        assert!(!filters_overlap("#", "$SYS/#"));
    }

    #[test]
    fn access_words_and_filters_follow_mosquitto() {
        let acl = AclFile::parse("topic a b/c d\n").expect_err("unknown access 'a'");
        assert!(acl.to_string().contains("line 1"), "{acl}");
        let acl = AclFile::parse("topic read with space/x\n").expect("a filter with a space");
        assert!(allowed(&acl, anonymous("c"), "with space/x", Access::Read));
        let acl = AclFile::parse("topic\tread\tfoo\n").expect("tabs separate words");
        assert!(allowed(&acl, anonymous("c"), "foo", Access::Read));
        assert!(!allowed(&acl, anonymous("c"), "foo", Access::Write));
    }

    #[test]
    fn errors_name_the_line() {
        for (text, line) in [
            ("topic read a\nbogus\n", 2),
            ("user\n", 1),
            ("# c\n\ntopic read a/#/b\n", 3),
            ("topic\n", 1),
            ("pattern sometimes x/%c\n", 1),
        ] {
            match AclFile::parse(text) {
                Err(AclError::Line { line: l, .. }) => assert_eq!(l, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn repeated_user_blocks_merge_and_patterns_without_substitution_warn() {
        let acl = AclFile::parse("user a\ntopic x\nuser b\nuser a\ntopic y\npattern p\n")
            .expect("parses");
        assert!(allowed(&acl, user("a", "c"), "x", Access::Read));
        assert!(allowed(&acl, user("a", "c"), "y", Access::Read));
        assert_eq!(acl.warnings().len(), 1);
    }
}
