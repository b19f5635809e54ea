//! `topic PATTERN [[[out|in|both] QOS] LOCAL_PREFIX REMOTE_PREFIX]` as Mosquitto reads it:
//! which filters the bridge subscribes to on each side, and how a topic is renamed on its
//! way across. Pure functions, tested without sockets.

use mq_proto::topic::{matches, validate_topic_filter};

use super::config::{BridgeDirection, BridgeTopic};

/// Why a `topic` line cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("bridge {bridge}: topic \"\" needs both a local and a remote prefix (it maps one topic onto another)")]
    EmptyPatternNeedsPrefixes { bridge: String },
    #[error("bridge {bridge}: prefix {prefix:?} must not contain + or # (write the wildcards in the pattern)")]
    WildcardInPrefix { bridge: String, prefix: String },
    #[error(
        "bridge {bridge}: {filter:?} (prefix and pattern) is not a valid topic filter: {reason}"
    )]
    InvalidFilter {
        bridge: String,
        filter: String,
        reason: String,
    },
}

impl BridgeTopic {
    /// Outgoing or both ways: the bridge subscribes to [`BridgeTopic::local_filter`] here.
    pub fn is_out(&self) -> bool {
        matches!(self.direction, BridgeDirection::Out | BridgeDirection::Both)
    }

    /// Incoming or both ways: the bridge subscribes to [`BridgeTopic::remote_filter`] there.
    pub fn is_in(&self) -> bool {
        matches!(self.direction, BridgeDirection::In | BridgeDirection::Both)
    }

    /// The local prefix followed by the pattern.
    pub fn local_filter(&self) -> String {
        format!("{}{}", self.local_prefix, self.pattern)
    }

    /// The remote prefix followed by the pattern.
    pub fn remote_filter(&self) -> String {
        format!("{}{}", self.remote_prefix, self.pattern)
    }

    fn remaps(&self) -> bool {
        !self.local_prefix.is_empty() || !self.remote_prefix.is_empty()
    }

    /// Refuses what Mosquitto refuses: `""` as pattern without both prefixes, wildcards in
    /// a prefix, and a prefix plus pattern that is no valid filter.
    pub fn validate(&self, bridge: &str) -> Result<(), TopicError> {
        if self.pattern.is_empty()
            && (self.local_prefix.is_empty() || self.remote_prefix.is_empty())
        {
            return Err(TopicError::EmptyPatternNeedsPrefixes {
                bridge: bridge.to_owned(),
            });
        }
        for prefix in [&self.local_prefix, &self.remote_prefix] {
            if prefix.contains(['+', '#']) {
                return Err(TopicError::WildcardInPrefix {
                    bridge: bridge.to_owned(),
                    prefix: prefix.clone(),
                });
            }
        }
        for filter in [self.local_filter(), self.remote_filter()] {
            if let Err(reason) = validate_topic_filter(&filter) {
                return Err(TopicError::InvalidFilter {
                    bridge: bridge.to_owned(),
                    filter,
                    reason: reason.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// The remote name of a local message on its way out: the first outgoing topic with a
/// prefix whose local filter matches decides (the local prefix comes off, the remote prefix
/// goes on); without one the name stays as it is.
pub fn remote_name(topics: &[BridgeTopic], local: &str) -> String {
    rename(topics.iter().filter(|t| t.is_out()), local, |t| {
        (t.local_filter(), &t.local_prefix, &t.remote_prefix)
    })
}

/// The local name of a remote message on its way in: the mirror of [`remote_name`].
pub fn local_name(topics: &[BridgeTopic], remote: &str) -> String {
    rename(topics.iter().filter(|t| t.is_in()), remote, |t| {
        (t.remote_filter(), &t.remote_prefix, &t.local_prefix)
    })
}

fn rename<'a>(
    topics: impl Iterator<Item = &'a BridgeTopic>,
    name: &str,
    sides: impl Fn(&'a BridgeTopic) -> (String, &'a String, &'a String),
) -> String {
    for topic in topics.filter(|t| t.remaps()) {
        let (filter, from, to) = sides(topic);
        if matches(&filter, name) {
            let rest = name.strip_prefix(from.as_str()).unwrap_or(name);
            return format!("{to}{rest}");
        }
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mq_proto::QoS;

    fn topic(pattern: &str, direction: BridgeDirection, local: &str, remote: &str) -> BridgeTopic {
        BridgeTopic {
            pattern: pattern.into(),
            direction,
            qos: QoS::AtLeastOnce,
            local_prefix: local.into(),
            remote_prefix: remote.into(),
        }
    }

    #[test]
    fn prefixes_are_swapped_both_ways_as_in_mosquittos_table() {
        let topics = [topic("pattern", BridgeDirection::Both, "L/", "R/")];
        assert_eq!(remote_name(&topics, "L/pattern"), "R/pattern");
        assert_eq!(local_name(&topics, "R/pattern"), "L/pattern");

        let only_local = [topic("pattern", BridgeDirection::Both, "L/", "")];
        assert_eq!(remote_name(&only_local, "L/pattern"), "pattern");
        assert_eq!(local_name(&only_local, "pattern"), "L/pattern");

        let only_remote = [topic("pattern", BridgeDirection::Both, "", "R/")];
        assert_eq!(remote_name(&only_remote, "pattern"), "R/pattern");
        assert_eq!(local_name(&only_remote, "R/pattern"), "pattern");

        let none = [topic("pattern", BridgeDirection::Both, "", "")];
        assert_eq!(remote_name(&none, "pattern"), "pattern");
    }

    #[test]
    fn an_empty_pattern_maps_one_topic_onto_another() {
        let topics = [topic("", BridgeDirection::Both, "local", "remote")];
        assert!(topics[0].validate("b").is_ok());
        assert_eq!(topics[0].local_filter(), "local");
        assert_eq!(remote_name(&topics, "local"), "remote");
        assert_eq!(local_name(&topics, "remote"), "local");
    }

    #[test]
    fn wildcard_patterns_keep_the_levels_below_the_prefix() {
        let topics = [topic(
            "#",
            BridgeDirection::Both,
            "local/topic/",
            "remote/topic/",
        )];
        assert_eq!(remote_name(&topics, "local/topic/a/b"), "remote/topic/a/b");
        assert_eq!(local_name(&topics, "remote/topic/x"), "local/topic/x");
        let topics = [topic("sensors/+/temp", BridgeDirection::In, "site1/", "")];
        assert_eq!(
            local_name(&topics, "sensors/kitchen/temp"),
            "site1/sensors/kitchen/temp"
        );
    }

    #[test]
    fn each_direction_renames_only_with_its_own_topics() {
        let topics = [
            topic("a/#", BridgeDirection::Out, "out/", "far/"),
            topic("a/#", BridgeDirection::In, "in/", "far/"),
        ];
        assert_eq!(remote_name(&topics, "out/a/1"), "far/a/1");
        assert_eq!(local_name(&topics, "far/a/1"), "in/a/1");
        // The first matching topic decides, as in Mosquitto.
        let topics = [
            topic("a/#", BridgeDirection::Out, "x/", "one/"),
            topic("#", BridgeDirection::Out, "x/", "two/"),
        ];
        assert_eq!(remote_name(&topics, "x/a/b"), "one/a/b");
        assert_eq!(remote_name(&topics, "x/c"), "two/c");
    }

    #[test]
    fn lines_mosquitto_refuses_are_refused_with_the_reason() {
        let cases = [
            (topic("", BridgeDirection::Out, "local", ""), "needs both"),
            (topic("", BridgeDirection::Out, "", ""), "needs both"),
            (
                topic("a", BridgeDirection::Out, "x/+/", ""),
                "must not contain",
            ),
            (
                topic("#/a", BridgeDirection::Out, "", ""),
                "not a valid topic filter",
            ),
        ];
        for (line, words) in cases {
            let error = line.validate("b1").unwrap_err().to_string();
            assert!(error.contains(words) && error.contains("b1"), "{error}");
        }
    }

    #[test]
    fn directions_say_which_side_is_subscribed() {
        let out = topic("t", BridgeDirection::Out, "", "");
        let inward = topic("t", BridgeDirection::In, "", "");
        let both = topic("t", BridgeDirection::Both, "", "");
        assert!(out.is_out() && !out.is_in());
        assert!(inward.is_in() && !inward.is_out());
        assert!(both.is_in() && both.is_out());
    }
}
