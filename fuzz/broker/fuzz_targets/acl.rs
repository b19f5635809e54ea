//! Parses arbitrary text as an ACL file, then asks it about one client, Topic Name and
//! Topic Filter taken from the input. The input is `ACL NUL client-id NUL user-name NUL
//! topic NUL filter` (missing parts are empty; an empty user name is an anonymous client).
//!
//! Besides not panicking, the answers must agree with each other (`topic` matching
//! `filter`):
//! - a subscription refused by a `deny` rule covers every topic it matches, so reading
//!   `topic` is refused too;
//! - a topic the client may read makes a subscription to a filter matching it allowed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mq::broker::auth::acl::{Grant, Why};
use mq::broker::auth::{Access, AclFile, Client};
use mq_proto::topic::{matches, validate_topic_filter, validate_topic_name};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\0');
    let acl = parts.next().unwrap_or_default();
    let client_id = parts.next().unwrap_or_default();
    let username = parts.next().filter(|u| !u.is_empty());
    let topic = parts.next().unwrap_or("a/b");
    let filter = parts.next().unwrap_or("a/+");
    // Shared subscriptions are checked by the filter inside them, which the broker unwraps.
    if filter.starts_with("$share/") {
        return;
    }

    let Ok(acl) = AclFile::parse(acl) else {
        return;
    };
    let client = Client {
        client_id,
        username,
    };
    let read = acl.check(&client, topic, Access::Read);
    let _ = acl.check(&client, topic, Access::Write);
    if validate_topic_filter(filter).is_err() {
        return;
    }
    let subscribe = acl.check_subscription(&client, filter);
    if validate_topic_name(topic).is_err() || !matches(filter, topic) {
        return;
    }
    if let Why::Rule(rule) = &subscribe.why {
        if rule.grant == Grant::Deny {
            assert!(
                !read.allowed,
                "subscribing to {filter:?} is denied by {:?}, yet reading {topic:?} is allowed by {:?}",
                rule.text, read.why
            );
        }
    }
    if read.allowed {
        assert!(
            subscribe.allowed,
            "reading {topic:?} is allowed by {:?}, yet subscribing to {filter:?} is refused: {:?}",
            read.why, subscribe.why
        );
    }
});
