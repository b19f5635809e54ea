use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use mq::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.command.verbosity());
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

/// Quiet by default (warnings only); each -v adds a level; RUST_LOG overrides both.
fn init_logging(verbosity: u8) {
    let level = match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // rumqttc logs refused acknowledgements as warnings; `mq pub`/`mq sub` report them in words.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},rumqttc=off")));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}
