//! `mq passwd`: manage a password file, as `mosquitto_passwd` does.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};

use super::exit::{Failure, FailureKind};
use crate::broker::auth::password_file::{
    validate_username, HashScheme, PasswordFile, PasswordFileError, PasswordHash, Verification,
    DEFAULT_PBKDF2_ITERATIONS,
};
use crate::broker::auth::scram;

/// Manage a password file for `mq broker --password-file` (and Mosquitto).
///
/// Lines are `user:hash`. New hashes are argon2id; `--mosquitto` writes Mosquitto's
/// `$7$` (PBKDF2-SHA512) instead, for files that Mosquitto must read too. Mosquitto's
/// `$6$` and `$7$` hashes are read and kept.
///
/// Passwords are asked for twice without echo on a terminal; when standard input is not a
/// terminal, its first line is the password. `-b` takes it from the command line, where
/// other users of the machine may see it in the process list.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct PasswdArgs {
    #[command(subcommand)]
    pub action: Option<PasswdAction>,
    /// Create a new file, replacing any existing one.
    #[arg(short = 'c', conflicts_with_all = ["delete", "update"])]
    pub create: bool,
    /// Batch mode: the password is the third argument.
    #[arg(short = 'b', conflicts_with_all = ["delete", "update"])]
    pub batch: bool,
    /// Delete the user.
    #[arg(short = 'D', conflicts_with = "update")]
    pub delete: bool,
    /// Hash every plain-text password of a `user:password` file in place.
    #[arg(short = 'U')]
    pub update: bool,
    /// Write Mosquitto's `$7$` hashes (same as `-H sha512-pbkdf2`).
    #[arg(long)]
    pub mosquitto: bool,
    /// Hash type for new passwords.
    #[arg(short = 'H', value_enum, default_value_t = HashArg::Argon2id)]
    pub hash: HashArg,
    /// PBKDF2 iterations for `$7$` hashes.
    #[arg(short = 'I', long, default_value_t = DEFAULT_PBKDF2_ITERATIONS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub iterations: u32,
    /// The password file.
    #[arg(required = true)]
    pub file: Option<PathBuf>,
    /// The user name.
    pub user: Option<String>,
    /// The password (with -b only).
    pub password: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HashArg {
    /// argon2id (the default).
    Argon2id,
    /// Mosquitto's `$7$`.
    #[value(name = "sha512-pbkdf2")]
    Sha512Pbkdf2,
    /// SCRAM-SHA-256 credentials: the user may also log in with MQTT 5 enhanced
    /// authentication (method SCRAM-SHA-256). mq only; Mosquitto cannot read them.
    #[value(name = "scram-sha-256")]
    ScramSha256,
}

#[derive(Debug, Subcommand)]
pub enum PasswdAction {
    /// Check a user's password: exit 0 if right, 8 if wrong or the user is unknown.
    Verify {
        /// The password file.
        file: PathBuf,
        /// The user name.
        user: String,
    },
}

impl PasswdArgs {
    fn scheme(&self) -> HashScheme {
        match self.hash {
            _ if self.mosquitto => HashScheme::MosquittoPbkdf2 {
                iterations: self.iterations,
            },
            HashArg::Sha512Pbkdf2 => HashScheme::MosquittoPbkdf2 {
                iterations: self.iterations,
            },
            HashArg::ScramSha256 => HashScheme::ScramSha256 {
                iterations: self.iterations.max(scram::DEFAULT_ITERATIONS),
            },
            HashArg::Argon2id => HashScheme::Argon2id,
        }
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::new(FailureKind::Usage, message)
}

fn file_failure(e: PasswordFileError) -> Failure {
    match e {
        // A file that does not parse is bad configuration.
        PasswordFileError::Line { .. } => Failure::new(FailureKind::Usage, e.to_string()),
        PasswordFileError::Io { .. } => Failure::new(FailureKind::General, e.to_string()),
    }
}

pub fn run(args: PasswdArgs) -> Result<(), Failure> {
    if let Some(PasswdAction::Verify { file, user }) = &args.action {
        return verify(file, user);
    }
    let Some(file) = args.file.as_deref() else {
        return Err(usage("a password file is needed"));
    };
    let scheme = args.scheme();
    if args.update {
        if args.user.is_some() {
            return Err(usage("-U takes only the password file"));
        }
        let hashed = PasswordFile::load_plain(file, scheme).map_err(file_failure)?;
        return hashed.save(file).map_err(file_failure);
    }
    let Some(user) = args.user.as_deref() else {
        return Err(usage("a user name is needed"));
    };
    validate_username(user).map_err(|e| usage(e.to_string()))?;
    if args.password.is_some() && !args.batch {
        return Err(usage(
            "a password on the command line needs -b (or leave it out to be asked for it)",
        ));
    }
    if args.delete {
        let mut passwords = PasswordFile::load(file).map_err(file_failure)?;
        if !passwords.remove(user) {
            return Err(Failure::new(
                FailureKind::General,
                format!("user '{user}' is not in {}", file.display()),
            ));
        }
        return passwords.save(file).map_err(file_failure);
    }
    let mut passwords = if args.create {
        PasswordFile::default()
    } else {
        PasswordFile::load(file).map_err(|e| match e {
            PasswordFileError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                usage(format!(
                    "{} does not exist (create it with -c)",
                    file.display()
                ))
            }
            other => file_failure(other),
        })?
    };
    let password = match (&args.password, args.batch) {
        (Some(password), true) => password.clone(),
        (None, true) => return Err(usage("-b needs FILE USER PASSWORD")),
        _ => new_password()?,
    };
    if password.is_empty() {
        return Err(usage("the password is empty"));
    }
    let hash = PasswordHash::new(password.as_bytes(), scheme)
        .map_err(|e| Failure::new(FailureKind::General, e.to_string()))?;
    passwords
        .set(user, hash)
        .map_err(|e| usage(e.to_string()))?;
    passwords.save(file).map_err(file_failure)
}

fn verify(file: &Path, user: &str) -> Result<(), Failure> {
    let passwords = PasswordFile::load(file).map_err(file_failure)?;
    let password = read_password("Password: ")?;
    match passwords.verify(user, password.as_bytes()) {
        Verification::Accepted => {
            let _ = writeln!(io::stdout(), "password for '{user}' is correct");
            Ok(())
        }
        Verification::WrongPassword => Err(Failure::new(
            FailureKind::Denied,
            format!("wrong password for '{user}'"),
        )),
        Verification::UnknownUser => Err(Failure::new(
            FailureKind::Denied,
            format!("no user '{user}' in {}", file.display()),
        )),
    }
}

/// A new password: asked twice without echo on a terminal, else the first line of stdin.
fn new_password() -> Result<String, Failure> {
    if !io::stdin().is_terminal() {
        return read_password("");
    }
    let first = prompt("Password: ")?;
    let second = prompt("Reenter password: ")?;
    if first != second {
        return Err(usage("the passwords do not match"));
    }
    Ok(first)
}

/// One password: without echo on a terminal, else the first line of stdin.
fn read_password(question: &str) -> Result<String, Failure> {
    if io::stdin().is_terminal() {
        return prompt(question);
    }
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line).map_err(|e| {
        Failure::new(
            FailureKind::General,
            format!("cannot read standard input: {e}"),
        )
    })?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    Ok(password.strip_suffix('\r').unwrap_or(password).to_string())
}

fn prompt(question: &str) -> Result<String, Failure> {
    rpassword::prompt_password(question).map_err(|e| {
        Failure::new(
            FailureKind::General,
            format!("cannot read the password from the terminal: {e}"),
        )
    })
}
