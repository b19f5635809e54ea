//! Splits the input at its first NUL byte into a Topic Filter and a Topic Name (neither may
//! contain U+0000, so the split is unambiguous), checks `validate_topic_filter` against a
//! reference validator, and `topic::matches` against a naive reference matcher.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mq_proto::topic::{matches, validate_topic_filter, validate_topic_name};

/// Section 4.7.1: `#` only as a whole last level, `+` only as a whole level.
fn reference_filter_is_valid(filter: &str) -> bool {
    let levels: Vec<&str> = filter.split('/').collect();
    !filter.is_empty()
        && levels.iter().enumerate().all(|(i, level)| {
            let multi_ok = !level.contains('#') || (*level == "#" && i == levels.len() - 1);
            let single_ok = !level.contains('+') || *level == "+";
            multi_ok && single_ok
        })
}

/// Section 4.7: without `#` the name has as many levels, each equal or matched by `+`; with
/// a final `#` it has at least the levels before it. Wildcards first never match `$` names.
fn reference_matches(filter: &str, name: &str) -> bool {
    let filter: Vec<&str> = filter.split('/').collect();
    let name: Vec<&str> = name.split('/').collect();
    if name[0].starts_with('$') && (filter[0] == "+" || filter[0] == "#") {
        return false;
    }
    let (fixed, multi_level) = match filter.split_last() {
        Some((&"#", before)) => (before, true),
        _ => (&filter[..], false),
    };
    let enough_levels = if multi_level {
        name.len() >= fixed.len()
    } else {
        name.len() == fixed.len()
    };
    enough_levels && fixed.iter().zip(&name).all(|(f, n)| *f == "+" || f == n)
}

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|&byte| byte == 0) else {
        return;
    };
    let (Ok(filter), Ok(name)) = (
        std::str::from_utf8(&data[..split]),
        std::str::from_utf8(&data[split + 1..]),
    ) else {
        return;
    };
    if name.contains('\0') {
        return;
    }

    let filter_ok = validate_topic_filter(filter).is_ok();
    if !filter.starts_with("$share/") {
        assert_eq!(
            filter_ok,
            reference_filter_is_valid(filter),
            "validity of filter {filter:?}"
        );
    }
    if !filter_ok || validate_topic_name(name).is_err() {
        return;
    }
    assert_eq!(
        matches(filter, name),
        reference_matches(filter, name),
        "filter {filter:?} against name {name:?}"
    );
});
