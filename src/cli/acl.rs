//! `mq acl`: ask an ACL file what it allows, as the broker would.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::exit::{Failure, FailureKind};
use crate::broker::auth::acl::{Access, AclError, AclFile, Client, Why};

/// Work with Mosquitto-style ACL files (`mq broker --acl-file`).
#[derive(Debug, Args)]
pub struct AclArgs {
    #[command(subcommand)]
    pub action: AclAction,
}

#[derive(Debug, Subcommand)]
pub enum AclAction {
    /// Would the broker let this client read or write this topic? Prints `allowed` or
    /// `denied` and the rule (FILE:LINE) that decided; exit 0 if allowed, 8 if denied.
    ///
    /// USER `-` (or an empty string) stands for an anonymous client. A TOPIC with `+` or
    /// `#` is a Topic Filter and is checked as a SUBSCRIBE (read only).
    Check {
        /// The ACL file.
        file: PathBuf,
        /// The user name, or `-` for an anonymous client.
        user: String,
        /// The client identifier (for `%c` patterns).
        client_id: String,
        /// A Topic Name, or a Topic Filter to check a subscription.
        topic: String,
        /// What the client wants to do.
        access: AccessArg,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccessArg {
    /// Receive messages from the topic (or subscribe to the filter).
    Read,
    /// Publish to the topic.
    Write,
}

pub fn run(args: AclArgs) -> Result<(), Failure> {
    let AclAction::Check {
        file,
        user,
        client_id,
        topic,
        access,
    } = args.action;
    let acl = AclFile::load(&file).map_err(|e| match e {
        AclError::Line { .. } => Failure::new(FailureKind::Usage, e.to_string()),
        AclError::Io { .. } => Failure::new(FailureKind::General, e.to_string()),
    })?;
    let client = Client {
        client_id: &client_id,
        username: (!user.is_empty() && user != "-").then_some(user.as_str()),
    };
    let is_filter = topic.contains(['+', '#']);
    let decision = match (is_filter, access) {
        (true, AccessArg::Write) => {
            return Err(Failure::new(
                FailureKind::Usage,
                "a topic with + or # is a Topic Filter: it can only be checked for read",
            ))
        }
        (true, AccessArg::Read) => acl.check_subscription(&client, &topic),
        (false, AccessArg::Read) => acl.check(&client, &topic, Access::Read),
        (false, AccessArg::Write) => acl.check(&client, &topic, Access::Write),
    };
    let verdict = if decision.allowed {
        "allowed"
    } else {
        "denied"
    };
    let line = match decision.why {
        Why::Rule(rule) => format!(
            "{verdict} by {}:{}: {}",
            file.display(),
            rule.line,
            rule.text
        ),
        other => format!("{verdict}: {other}"),
    };
    let _ = writeln!(io::stdout(), "{line}");
    if decision.allowed {
        Ok(())
    } else {
        Err(Failure::new(FailureKind::Denied, "access denied"))
    }
}
