//! The dependency policy in `deny.toml`, checked without cargo-deny: every package's
//! licence is on the allow list, no banned crate is in the tree, and a crate appears in
//! more than one version only where `deny.toml` allows it (and every allowance is still
//! needed). The packages come from `cargo metadata --locked`, so this reads Cargo.lock as
//! it is committed.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde::Deserialize;

#[derive(Deserialize)]
struct Policy {
    licenses: Licenses,
    bans: Bans,
}

#[derive(Deserialize)]
struct Licenses {
    allow: Vec<String>,
}

#[derive(Deserialize)]
struct Bans {
    deny: Vec<CrateRule>,
    skip: Vec<CrateRule>,
}

/// `{ crate = "name" }` or `{ crate = "name@version" }`, as cargo-deny writes them; a
/// banned crate may still come in through the `wrappers` named.
#[derive(Deserialize)]
struct CrateRule {
    #[serde(rename = "crate")]
    spec: String,
    #[serde(default)]
    wrappers: Vec<String>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    resolve: Resolve,
}

#[derive(Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
struct Node {
    id: String,
    dependencies: Vec<String>,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
    version: String,
    license: Option<String>,
    source: Option<String>,
}

fn policy() -> Policy {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deny.toml");
    let text = std::fs::read_to_string(path).expect("deny.toml is readable");
    toml::from_str(&text).expect("deny.toml parses")
}

fn metadata() -> Metadata {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// Every package from crates.io in the dependency tree (our own are left out).
fn packages() -> Vec<Package> {
    metadata()
        .packages
        .into_iter()
        .filter(|p| p.source.is_some())
        .collect()
}

/// Is the SPDX expression satisfied by the allowed licences? `OR` needs one side, `AND`
/// both, `WITH` an allowed `licence WITH exception` pair; `/` is the old spelling of `OR`.
fn licence_allowed(expression: &str, allow: &BTreeSet<String>) -> bool {
    let spaced = expression
        .replace('/', " OR ")
        .replace('(', " ( ")
        .replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut at = 0;
    let allowed = or_expression(&tokens, &mut at, allow);
    allowed && at == tokens.len()
}

fn or_expression(tokens: &[&str], at: &mut usize, allow: &BTreeSet<String>) -> bool {
    let mut any = and_expression(tokens, at, allow);
    while tokens.get(*at) == Some(&"OR") {
        *at += 1;
        any |= and_expression(tokens, at, allow);
    }
    any
}

fn and_expression(tokens: &[&str], at: &mut usize, allow: &BTreeSet<String>) -> bool {
    let mut all = term(tokens, at, allow);
    while tokens.get(*at) == Some(&"AND") {
        *at += 1;
        all &= term(tokens, at, allow);
    }
    all
}

fn term(tokens: &[&str], at: &mut usize, allow: &BTreeSet<String>) -> bool {
    let Some(&token) = tokens.get(*at) else {
        return false;
    };
    *at += 1;
    if token == "(" {
        let inner = or_expression(tokens, at, allow);
        let closed = tokens.get(*at) == Some(&")");
        *at += 1;
        return inner && closed;
    }
    if tokens.get(*at) == Some(&"WITH") {
        let exception = tokens.get(*at + 1).copied().unwrap_or_default();
        *at += 2;
        return allow.contains(&format!("{token} WITH {exception}"));
    }
    allow.contains(token)
}

#[test]
fn the_licence_expressions_are_read_as_spdx_means_them() {
    let allow: BTreeSet<String> = ["MIT", "Apache-2.0", "Unicode-3.0"]
        .map(String::from)
        .into();
    assert!(licence_allowed("MIT OR GPL-3.0", &allow));
    assert!(licence_allowed("MIT/Apache-2.0", &allow));
    assert!(licence_allowed(
        "(MIT OR Apache-2.0) AND Unicode-3.0",
        &allow
    ));
    assert!(!licence_allowed("MIT AND GPL-3.0", &allow));
    assert!(!licence_allowed("Apache-2.0 WITH LLVM-exception", &allow));
    assert!(!licence_allowed("(MIT OR Apache-2.0", &allow));
}

#[test]
fn every_dependency_has_a_licence_on_the_allow_list() {
    let allow: BTreeSet<String> = policy().licenses.allow.into_iter().collect();
    let refused: Vec<String> = packages()
        .iter()
        .filter(|p| {
            !p.license
                .as_deref()
                .is_some_and(|l| licence_allowed(l, &allow))
        })
        .map(|p| format!("{} {}: {:?}", p.name, p.version, p.license))
        .collect();
    assert!(
        refused.is_empty(),
        "licences not on deny.toml's allow list (replace the crate, or add the licence \
         there if it is acceptable):\n{}",
        refused.join("\n")
    );
}

#[test]
fn no_banned_crate_is_in_the_dependency_tree() {
    let metadata = metadata();
    let name_of: BTreeMap<&str, &str> = metadata
        .packages
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    let mut found = Vec::new();
    for rule in policy().bans.deny {
        for banned in metadata.packages.iter().filter(|p| p.name == rule.spec) {
            // Who depends on it: allowed only if every one of them is a named wrapper.
            let parents: Vec<&str> = metadata
                .resolve
                .nodes
                .iter()
                .filter(|n| n.dependencies.contains(&banned.id))
                .filter_map(|n| name_of.get(n.id.as_str()).copied())
                .collect();
            if parents
                .iter()
                .any(|p| !rule.wrappers.iter().any(|w| w == p))
            {
                found.push(format!(
                    "{} {} (from {parents:?})",
                    banned.name, banned.version
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "banned crates (see deny.toml for why; `cargo tree -i NAME` shows who pulls them in): {found:?}"
    );
}

#[test]
fn duplicate_crate_versions_are_only_the_ones_deny_toml_allows() {
    let skipped: BTreeSet<String> = policy().bans.skip.into_iter().map(|r| r.spec).collect();
    let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in packages() {
        versions.entry(p.name).or_default().insert(p.version);
    }
    let mut unexpected = Vec::new();
    let mut used = BTreeSet::new();
    for (name, versions) in versions.iter().filter(|(_, v)| v.len() > 1) {
        // As cargo-deny: the skipped versions do not count; more than one left is a duplicate.
        let counted: Vec<&String> = versions
            .iter()
            .filter(|v| {
                let spec = format!("{name}@{v}");
                let skip = skipped.contains(&spec);
                if skip {
                    used.insert(spec);
                }
                !skip
            })
            .collect();
        if counted.len() > 1 {
            unexpected.push(format!("{name} {counted:?}"));
        }
    }
    assert!(
        unexpected.is_empty(),
        "crates in more than one version (align the dependencies, or add the older version \
         to [bans] skip in deny.toml with the reason): {unexpected:?}"
    );
    let stale: Vec<&String> = skipped.difference(&used).collect();
    assert!(
        stale.is_empty(),
        "deny.toml allows duplicates that are gone; remove these [bans] skip entries: {stale:?}"
    );
}
