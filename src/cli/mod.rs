//! The command line: clap definitions and one module per command. This is the only part
//! of the library that writes to stdout/stderr for people; it is driven by `src/bin/mq.rs`.

pub mod acl;
pub mod bench;
pub mod broker;
pub mod certs;
pub mod connection_args;
pub mod examples;
pub mod exit;
pub mod listeners;
pub mod logging;
pub mod passwd;
pub mod publish;
pub mod subscribe;

use clap::{Parser, Subcommand};

/// `mq --version`: the package version and, when built from a git checkout, its commit
/// (`0.1.0 (abc1234)`); build.rs finds the commit.
pub const VERSION: &str = env!("MQ_VERSION");

/// A command's examples, then the exit-code table: what `--help` ends with.
fn examples_and_exit_codes(examples: &str) -> String {
    format!("{examples}\n\n{}", exit::exit_codes_help())
}

/// One binary for MQTT: broker, publish, subscribe, passwords and certificates.
#[derive(Debug, Parser)]
#[command(name = "mq", version = VERSION, about, after_help = examples_and_exit_codes(examples::MQ))]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an MQTT 3.1/3.1.1/5.0 broker (default: mqtt://127.0.0.1:1883).
    #[command(after_help = examples::BROKER)]
    Broker(broker::BrokerArgs),
    /// Publish messages (mosquitto_pub). -h is the host; help is --help.
    #[command(after_help = examples_and_exit_codes(examples::PUB))]
    Pub(publish::PublishArgs),
    /// Subscribe and print messages (mosquitto_sub). -h is the host; help is --help.
    #[command(after_help = examples_and_exit_codes(examples::SUB))]
    Sub(subscribe::SubscribeArgs),
    /// Manage a password file: create, add, change, delete, upgrade, verify.
    #[command(after_help = examples::PASSWD)]
    Passwd(passwd::PasswdArgs),
    /// Make and inspect TLS certificates: a CA, server and client certificates.
    #[command(after_help = examples::CERTS)]
    Certs(certs::CertsArgs),
    /// Check what an ACL file allows a client.
    #[command(after_help = examples::ACL)]
    Acl(acl::AclArgs),
    /// Load a broker and measure it: throughput, loss, latency percentiles, connect rate.
    #[command(after_help = examples::BENCH)]
    Bench(bench::BenchArgs),
}

impl Command {
    /// Whether the command sets up logging itself (`mq broker`, once it has read its
    /// config file); for the others the binary does it before running them.
    pub fn sets_up_logging(&self) -> bool {
        matches!(self, Command::Broker(_))
    }

    /// The verbosity the command asked for, so the binary can set up logging before running it.
    pub fn verbosity(&self) -> u8 {
        match self {
            Command::Broker(args) => args.verbose,
            // pub and sub: -d prints a packet trace of its own; the log stays at warnings.
            Command::Pub(_)
            | Command::Sub(_)
            | Command::Passwd(_)
            | Command::Certs(_)
            | Command::Acl(_)
            | Command::Bench(_) => 0,
        }
    }
}

/// Runs a parsed command line to completion.
pub fn run(cli: Cli) -> Result<(), exit::Failure> {
    match cli.command {
        Command::Broker(args) => broker::run(args),
        Command::Passwd(args) => passwd::run(args),
        Command::Acl(args) => acl::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Certs(args) => certs::run(args),
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
