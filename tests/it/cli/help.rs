//! `--help` of every command, as the real binary prints it, and `--version`.

use clap::CommandFactory;

use super::{command_paths, page_name};
use crate::pubsub::{mq, run, text};

#[test]
fn every_command_s_help_matches_its_snapshot() {
    for path in command_paths() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let mut cmd = mq(&args);
        // Help wraps at the terminal's width; a fixed one keeps the snapshots stable.
        cmd.env("COLUMNS", "100");
        let out = run(cmd, None);
        assert!(out.status.success(), "mq {args:?}: {}", text(&out.stderr));
        insta::assert_snapshot!(page_name(&path), text(&out.stdout));
    }
}

#[test]
fn every_option_of_broker_pub_sub_and_bench_sits_under_a_heading() {
    let cli = mq::cli::Cli::command();
    for name in ["broker", "pub", "sub", "bench"] {
        let cmd = cli.find_subcommand(name).unwrap();
        for arg in cmd.get_arguments() {
            if arg.is_positional() || arg.get_id() == "help" {
                continue;
            }
            assert!(
                arg.get_help_heading().is_some(),
                "mq {name}: give {:?} a help_heading, as its neighbours have",
                arg.get_id()
            );
        }
    }
}

#[test]
fn mq_help_ends_with_the_exit_code_table() {
    let out = run(mq(&["--help"]), None);
    let help = text(&out.stdout);
    let table = mq::cli::exit::exit_codes_help();
    assert!(help.trim_end().ends_with(&table), "{help}");
}

#[test]
fn version_names_the_package_version_and_the_commit_when_built_from_git() {
    let out = run(mq(&["--version"]), None);
    assert!(out.status.success());
    let line = text(&out.stdout);
    let line = line.trim_end();
    let rest = line
        .strip_prefix(&format!("mq {}", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("{line}"));
    if !rest.is_empty() {
        let commit = rest
            .strip_prefix(" (")
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{line}"));
        assert!(
            commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{line}"
        );
    }
}
