//! completions/ and man/ are generated from the clap definitions and checked in; this test
//! generates them again in memory and fails when a checked-in file differs, is missing or
//! is left over. `MQ_REGENERATE=1` writes them instead (see `cli/mod.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::{Generator, Shell};
use roff::{bold, italic, roman, Roff};

use super::{command_paths, page_name};

/// The folders this test owns, relative to the package root.
const FOLDERS: [&str; 2] = ["completions", "man"];

/// `mq` as the generators see it: the package version without the commit, so the files do
/// not change with every commit.
fn command() -> clap::Command {
    let mut cmd = mq::cli::Cli::command().version(env!("CARGO_PKG_VERSION"));
    cmd.build();
    cmd
}

fn completions(files: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::PowerShell,
        Shell::Elvish,
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut command(), "mq", &mut out);
        files.insert(Path::new("completions").join(shell.file_name("mq")), out);
    }
}

/// The sections clap_mangen does not write: EXAMPLES (from the command's after_help),
/// EXIT STATUS (from the one table in src/cli/exit.rs) and SEE ALSO.
fn extra_sections(cmd: &clap::Command, path: &[String], all: &[Vec<String>]) -> String {
    let mut roff = Roff::new();
    let exit_codes = mq::cli::exit::exit_codes_help();
    let after = cmd
        .get_after_help()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let examples = after.trim_end().trim_end_matches(&exit_codes).trim_end();
    if let Some(examples) = examples.strip_prefix("Examples:\n") {
        roff.control("SH", ["EXAMPLES"]).control("nf", []);
        for line in examples.lines() {
            roff.text([roman(line.strip_prefix("  ").unwrap_or(line))]);
        }
        roff.control("fi", []);
    }
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in mq::cli::exit::exit_codes() {
        roff.control("TP", []).text([bold(code.to_string())]);
        roff.text([roman(meaning)]);
    }
    let see_also: Vec<String> = if path.is_empty() {
        all.iter()
            .filter(|p| p.len() == 1)
            .map(|p| format!("{}(1)", page_name(p)))
            .chain(["mq.toml(5)".to_owned()])
            .collect()
    } else {
        vec![format!("{}(1)", page_name(&path[..path.len() - 1]))]
    };
    roff.control("SH", ["SEE ALSO"])
        .text([roman(see_also.join(", "))]);
    // Appended to clap_mangen's page, which already starts with roff's preamble.
    let preamble = Roff::new().render();
    let text = roff.render();
    text.strip_prefix(&preamble).unwrap_or(&text).to_owned()
}

/// clap's `help` subcommands are not pages of their own.
fn without_help_subcommands(cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    names
        .iter()
        .fold(cmd.disable_help_subcommand(true), |cmd, name| {
            cmd.mut_subcommand(name, without_help_subcommands)
        })
}

fn man_pages(files: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let mut root =
        without_help_subcommands(mq::cli::Cli::command().version(env!("CARGO_PKG_VERSION")));
    root.build();
    let all = command_paths();
    for path in &all {
        let mut cmd = &root;
        for word in path {
            cmd = cmd.find_subcommand(word).unwrap();
        }
        // The examples and exit codes get sections of their own below.
        let page = cmd.clone().after_help(None::<&str>);
        let mut out = Vec::new();
        clap_mangen::Man::new(page)
            .source(format!("mq {}", env!("CARGO_PKG_VERSION")))
            .manual("mq manual")
            .render(&mut out)
            .unwrap();
        out.extend_from_slice(extra_sections(cmd, path, &all).as_bytes());
        files.insert(Path::new("man").join(format!("{}.1", page_name(path))), out);
    }
}

/// Whether a line of the annotated mq.toml is a setting or a table header, written out or
/// commented out (`port = 1883`, `# metrics = "..."`, `[[listener]]`), rather than prose.
fn is_toml(line: &str) -> bool {
    let code = line.strip_prefix('#').map_or(line, str::trim_start);
    code.starts_with('[')
        || code.split_once(" = ").is_some_and(|(key, _)| {
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        })
}

/// mq.toml.5 from the annotated example `mq broker --print-config` prints: its opening
/// comment is the DESCRIPTION, each `# --- Name ---` rule a section, prose comments
/// paragraphs and settings example lines.
fn config_page(files: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let mut roff = Roff::new();
    roff.control(
        "TH",
        [
            "mq.toml",
            "5",
            "",
            &format!("mq {}", env!("CARGO_PKG_VERSION")),
            "mq manual",
        ],
    );
    roff.control("SH", ["NAME"])
        .text([roman("mq.toml - the configuration file of mq broker")]);
    roff.control("SH", ["SYNOPSIS"])
        .text([bold("mq broker -c"), roman(" "), italic("mq.toml")]);
    roff.control("SH", ["DESCRIPTION"]);
    let mut in_example = false;
    for line in mq::broker::config_file::annotated_example().lines() {
        if let Some(title) = line.strip_prefix("# --- ") {
            if in_example {
                roff.control("fi", []).control("RE", []);
                in_example = false;
            }
            let title = title.trim_end_matches(['-', ' ']).to_uppercase();
            roff.control("SH", [title.as_str()]);
        } else if line.trim_matches('#').trim().is_empty() {
            if !in_example {
                roff.control("PP", []);
            } else {
                roff.text([roman("")]);
            }
        } else if is_toml(line) {
            if !in_example {
                roff.control("RS", []).control("nf", []);
                in_example = true;
            }
            roff.text([bold(line)]);
        } else {
            if in_example {
                roff.control("fi", []).control("RE", []);
                in_example = false;
            }
            roff.text([roman(line.trim_start_matches('#').trim_start())]);
        }
    }
    if in_example {
        roff.control("fi", []).control("RE", []);
    }
    roff.control("SH", ["SEE ALSO"]).text([roman(
        "mq-broker(1), mq-passwd(1), mq-acl(1), mq-certs(1), mosquitto.conf(5)",
    )]);
    files.insert(
        Path::new("man").join("mq.toml.5"),
        roff.render().into_bytes(),
    );
}

fn generate() -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    completions(&mut files);
    man_pages(&mut files);
    config_page(&mut files);
    files
}

#[test]
fn completions_and_man_pages_match_the_command_line_definition() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = generate();
    let on_disk: Vec<PathBuf> = FOLDERS
        .iter()
        .filter_map(|f| std::fs::read_dir(root.join(f)).ok())
        .flatten()
        .map(|e| e.unwrap().path().strip_prefix(root).unwrap().to_owned())
        .collect();
    if std::env::var_os("MQ_REGENERATE").is_some() {
        for folder in FOLDERS {
            std::fs::create_dir_all(root.join(folder)).unwrap();
        }
        for stale in on_disk.iter().filter(|p| !files.contains_key(*p)) {
            std::fs::remove_file(root.join(stale)).unwrap();
        }
        for (path, contents) in &files {
            std::fs::write(root.join(path), contents).unwrap();
        }
        return;
    }
    let fix = "run `MQ_REGENERATE=1 cargo test --test it cli::generated` and commit the result";
    for (path, contents) in &files {
        let checked_in = std::fs::read(root.join(path)).unwrap_or_default();
        assert!(
            &checked_in == contents,
            "{} is stale or missing: {fix}",
            path.display()
        );
    }
    for path in &on_disk {
        assert!(
            files.contains_key(path),
            "{} is no longer generated: {fix}",
            path.display()
        );
    }
}
