//! Sets `MQ_VERSION` for `mq --version`: the package version, plus the commit when the
//! source is a git checkout (`0.1.0 (abc1234)`), else the version alone (`0.1.0`).

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    // Only a checkout of this package counts: a crate unpacked inside some other repository
    // must not report that repository's commit.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let top = git(&["-C", &manifest_dir, "rev-parse", "--show-toplevel"]);
    let ours = top.is_some_and(|top| {
        PathBuf::from(top).canonicalize().ok() == PathBuf::from(&manifest_dir).canonicalize().ok()
    });
    let commit = ours
        .then(|| git(&["-C", &manifest_dir, "rev-parse", "--short", "HEAD"]))
        .flatten();
    match commit {
        Some(commit) => {
            // A new commit or a checkout of another branch changes HEAD or the ref it names
            // (in a worktree these live under the common git dir, hence --git-path).
            let mut watched = vec!["HEAD".to_owned()];
            if let Some(head_ref) = git(&["-C", &manifest_dir, "symbolic-ref", "-q", "HEAD"]) {
                watched.push(head_ref);
                watched.push("packed-refs".to_owned());
            }
            for name in watched {
                if let Some(path) = git(&["-C", &manifest_dir, "rev-parse", "--git-path", &name]) {
                    let path = PathBuf::from(&manifest_dir).join(path);
                    // A missing file would make cargo rerun this script on every build.
                    if path.exists() {
                        println!("cargo:rerun-if-changed={}", path.display());
                    }
                }
            }
            println!("cargo:rustc-env=MQ_VERSION={version} ({commit})");
        }
        None => println!("cargo:rustc-env=MQ_VERSION={version}"),
    }
}
