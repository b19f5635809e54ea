//! The command line as people meet it: every `--help` (insta snapshots of the real binary),
//! the completions and man pages generated from the clap definitions (checked in, and
//! compared here so they cannot go stale), and the messages of common mistakes.
//!
//! After changing a flag, a help text or a message, one command refreshes all of it:
//!
//! ```sh
//! MQ_REGENERATE=1 INSTA_UPDATE=always cargo test --test it cli::
//! ```
//!
//! then review `git diff` (snapshots, completions/, man/) and commit.

mod errors;
mod generated;
mod help;

use clap::CommandFactory;

/// Every command's words after `mq` (`[]`, `["broker"]`, `["certs", "init"]`), parents
/// first, without clap's own `help` subcommand.
pub fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(path.clone());
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            path.push(sub.get_name().to_owned());
            walk(sub, path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(&mq::cli::Cli::command(), &mut Vec::new(), &mut out);
    out
}

/// `mq-certs-init`: the name of a command's snapshot and man page.
pub fn page_name(path: &[String]) -> String {
    std::iter::once("mq")
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("-")
}
