use std::process::ExitCode;

use clap::Parser;

use mq::broker::config_file::LogConfig;
use mq::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Quiet by default (warnings only); each -v adds a level; RUST_LOG overrides both.
    if !cli.command.sets_up_logging() {
        if let Err(failure) = cli::logging::init(&LogConfig::quiet(), cli.command.verbosity()) {
            eprintln!("mq: {failure}");
        }
    }
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // An empty message is a failure already reported (or silenced with --quiet).
            if !failure.message.is_empty() {
                eprintln!("mq: {failure}");
            }
            failure.exit_code()
        }
    }
}
