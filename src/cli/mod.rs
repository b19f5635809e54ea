//! The command line: clap definitions and one module per command. This is the only part
//! of the library that writes to stdout/stderr for people; it is driven by `src/bin/mq.rs`.

pub mod broker;
pub mod connection_args;
pub mod exit;
pub mod publish;
pub mod subscribe;

use clap::{Parser, Subcommand};

/// One binary for MQTT: broker, publish, subscribe, passwords and certificates.
#[derive(Debug, Parser)]
#[command(name = "mq", version, about, after_help = exit::EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an MQTT 3.1/3.1.1/5.0 broker (default: mqtt://127.0.0.1:1883).
    Broker(broker::BrokerArgs),
    /// Publish messages (mosquitto_pub). -h is the host; help is --help.
    Pub(publish::PublishArgs),
    /// Subscribe and print messages (mosquitto_sub). -h is the host; help is --help.
    Sub(subscribe::SubscribeArgs),
}

impl Command {
    /// The verbosity the command asked for, so the binary can set up logging before running it.
    pub fn verbosity(&self) -> u8 {
        match self {
            Command::Broker(args) => args.verbose,
            // -d prints a packet trace of its own; the log stays at warnings.
            Command::Pub(_) | Command::Sub(_) => 0,
        }
    }
}

/// Runs a parsed command line to completion.
pub fn run(cli: Cli) -> Result<(), exit::Failure> {
    match cli.command {
        Command::Broker(args) => broker::run(args),
        Command::Pub(args) => publish::run(args),
        Command::Sub(args) => subscribe::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
