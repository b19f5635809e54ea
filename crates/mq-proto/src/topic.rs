//! Topic Names and Topic Filters (section 4.7): validation and matching.

use crate::error::DecodeError;

/// Why a Topic Filter is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicFilterError {
    #[error("[MQTT-4.7.3-1] it is empty")]
    Empty,
    #[error("[MQTT-4.7.1-2] '#' must be the last character and stand alone in its level")]
    MisplacedMultiLevelWildcard,
    #[error("[MQTT-4.7.1-3] '+' must stand alone in its level")]
    MisplacedSingleLevelWildcard,
    #[error("[MQTT-4.8.2-1] a shared subscription needs $share/ShareName/Filter with a non-empty ShareName without wildcards")]
    InvalidSharedSubscription,
}

/// A Topic Name in a PUBLISH: non-empty, no wildcards.
pub fn validate_topic_name(topic: &str) -> Result<(), DecodeError> {
    if topic.is_empty() {
        return Err(DecodeError::EmptyTopicName);
    }
    if topic.contains(['+', '#']) {
        return Err(DecodeError::WildcardInTopicName(topic.to_string()));
    }
    Ok(())
}

/// A Topic Filter in SUBSCRIBE or UNSUBSCRIBE, shared subscriptions included.
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicFilterError> {
    if filter.is_empty() {
        return Err(TopicFilterError::Empty);
    }
    let filter = match SharedFilter::parse(filter) {
        Some(Ok(shared)) => shared.filter,
        Some(Err(error)) => return Err(error),
        None => filter,
    };
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(TopicFilterError::MisplacedMultiLevelWildcard);
        }
        if level.contains('+') && level != "+" {
            return Err(TopicFilterError::MisplacedSingleLevelWildcard);
        }
    }
    Ok(())
}

/// `$share/{ShareName}/{filter}` split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedFilter<'a> {
    pub share_name: &'a str,
    pub filter: &'a str,
}

impl<'a> SharedFilter<'a> {
    /// `None` when `filter` is not a shared subscription at all.
    pub fn parse(filter: &'a str) -> Option<Result<SharedFilter<'a>, TopicFilterError>> {
        let rest = filter.strip_prefix("$share/")?;
        let Some((share_name, inner)) = rest.split_once('/') else {
            return Some(Err(TopicFilterError::InvalidSharedSubscription));
        };
        if share_name.is_empty() || share_name.contains(['+', '#']) || inner.is_empty() {
            return Some(Err(TopicFilterError::InvalidSharedSubscription));
        }
        Some(Ok(SharedFilter {
            share_name,
            filter: inner,
        }))
    }
}

pub fn has_wildcard(filter: &str) -> bool {
    filter.contains(['+', '#'])
}

/// Does a (valid, unshared) Topic Filter match a Topic Name? A filter starting with a
/// wildcard does not match names starting with `$` ([MQTT-4.7.2-1]).
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut filter_levels = filter.split('/');
    let mut topic_levels = topic.split('/');
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_level_wildcard_matches_the_parent_level_too() {
        assert!(matches("sport/#", "sport"));
        assert!(matches("sport/#", "sport/tennis/player1"));
        assert!(matches("#", "a/b"));
        assert!(!matches("sport/#", "sports"));
    }

    #[test]
    fn single_level_wildcard_matches_exactly_one_level() {
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(!matches("sport/+", "sport/tennis/player1"));
        assert!(!matches("sport/+", "sport"));
    }

    #[test]
    fn dollar_topics_are_not_matched_by_leading_wildcards() {
        assert!(!matches("#", "$SYS/broker/uptime"));
        assert!(!matches("+/broker/uptime", "$SYS/broker/uptime"));
        assert!(matches("$SYS/#", "$SYS/broker/uptime"));
        assert!(matches("$SYS/+/uptime", "$SYS/broker/uptime"));
    }

    #[test]
    fn malformed_filters_are_refused_with_the_rule_they_break() {
        use TopicFilterError::*;
        assert_eq!(validate_topic_filter(""), Err(Empty));
        assert_eq!(
            validate_topic_filter("a/#/b"),
            Err(MisplacedMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("a#"),
            Err(MisplacedMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("a/b+"),
            Err(MisplacedSingleLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("$share/g"),
            Err(InvalidSharedSubscription)
        );
        assert_eq!(
            validate_topic_filter("$share//a"),
            Err(InvalidSharedSubscription)
        );
        assert_eq!(
            validate_topic_filter("$share/g+/a"),
            Err(InvalidSharedSubscription)
        );
        for ok in ["#", "+", "a/+/c", "/", "+/+/#", "$SYS/#", "$share/g/a/#"] {
            assert_eq!(validate_topic_filter(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn topic_names_refuse_wildcards_and_emptiness() {
        assert!(validate_topic_name("a/b").is_ok());
        assert!(validate_topic_name("/").is_ok());
        assert_eq!(validate_topic_name(""), Err(DecodeError::EmptyTopicName));
        assert!(matches!(
            validate_topic_name("a/+"),
            Err(DecodeError::WildcardInTopicName(_))
        ));
    }
}
