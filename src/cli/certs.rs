//! `mq certs`: a private CA and the certificates MQTT over TLS needs, without openssl.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use super::exit::{Failure, FailureKind};
use crate::certs::{self, CertError, KeyType, OutputFile};
use crate::net::{pem, x509};

/// File names inside a certificates folder; `mq broker --tls DIR` reads the same names.
pub const CA_CERT: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";
pub const SERVER_CERT: &str = "server.crt";
pub const SERVER_KEY: &str = "server.key";
/// The environment variable a CA key passphrase may come from instead of a prompt.
pub const PASSPHRASE_ENV: &str = "MQ_CA_PASSPHRASE";

/// Make and inspect TLS certificates: a private CA, server and client certificates.
///
/// `mq certs init` makes everything a TLS broker and its clients need, in a per-user data
/// folder unless --dir is given, and prints the flags that use the files.
#[derive(Debug, Args)]
pub struct CertsArgs {
    #[command(subcommand)]
    pub command: CertsCommand,
}

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Make a CA, a server certificate (localhost, 127.0.0.1, ::1, this host, --san) and a
    /// client certificate (CN "client").
    Init(InitArgs),
    /// Make a new server certificate signed by the folder's CA.
    Server(ServerArgs),
    /// Make a client certificate with Common Name NAME, signed by the folder's CA
    /// (NAME.crt and NAME.key).
    Client(ClientArgs),
    /// Print subject, SANs, validity, issuer and SHA-256 fingerprint of each certificate.
    Show(ShowArgs),
    /// Check that a certificate chains to a CA and is valid now.
    Verify(VerifyArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyTypeArg {
    /// ECDSA P-256: small, fast, understood everywhere (the default).
    EcdsaP256,
    /// Ed25519: smallest and fastest; some older clients lack it.
    Ed25519,
    /// RSA 2048: for old devices that know nothing else; slow to generate.
    Rsa2048,
}

impl From<KeyTypeArg> for KeyType {
    fn from(arg: KeyTypeArg) -> KeyType {
        match arg {
            KeyTypeArg::EcdsaP256 => KeyType::EcdsaP256,
            KeyTypeArg::Ed25519 => KeyType::Ed25519,
            KeyTypeArg::Rsa2048 => KeyType::Rsa2048,
        }
    }
}

#[derive(Debug, Args)]
pub struct Common {
    /// Folder of the CA and certificates (default: the per-user data folder, see --help).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Days the new certificates are valid.
    #[arg(long, default_value_t = 825, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub days: u32,
    /// Key algorithm of the new keys.
    #[arg(long, value_enum, default_value_t = KeyTypeArg::EcdsaP256)]
    pub key_type: KeyTypeArg,
    /// Replace files that exist.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub common: Common,
    /// One more name or address for the server certificate (repeatable).
    #[arg(long, value_name = "NAME")]
    pub san: Vec<String>,
    /// Encrypt the CA key with a passphrase (prompted, or from $MQ_CA_PASSPHRASE).
    #[arg(long)]
    pub encrypt_ca_key: bool,
    /// Days the CA is valid.
    #[arg(long, default_value_t = 3650, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub ca_days: u32,
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    #[command(flatten)]
    pub common: Common,
    /// One more name or address for the certificate (repeatable).
    #[arg(long, value_name = "NAME")]
    pub san: Vec<String>,
    /// Only the --san names, without localhost, 127.0.0.1, ::1 and this host's name.
    #[arg(long)]
    pub no_default_sans: bool,
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The client's Common Name; also the file names NAME.crt and NAME.key.
    pub name: String,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// PEM files with one or more certificates.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The CA certificate(s) to check against (PEM).
    #[arg(long, value_name = "FILE")]
    pub ca: PathBuf,
    /// The certificate, followed by any intermediates (PEM).
    pub cert: PathBuf,
}

/// Where `mq certs` keeps its files unless told: `$XDG_DATA_HOME/mq/certs`
/// (`~/.local/share/mq/certs`) on Linux, the platform's data folder elsewhere.
pub fn default_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "mq").map(|dirs| dirs.data_dir().join("certs"))
}

fn dir_or_default(dir: Option<PathBuf>) -> Result<PathBuf, Failure> {
    dir.or_else(default_dir).ok_or_else(|| {
        Failure::new(
            FailureKind::Usage,
            "no home folder to keep certificates in; give one with --dir",
        )
    })
}

fn failure(e: CertError) -> Failure {
    let kind = match e {
        CertError::Write { .. } | CertError::KeyGeneration(_) | CertError::Generate(_) => {
            FailureKind::General
        }
        _ => FailureKind::Usage,
    };
    Failure::new(kind, e.to_string())
}

pub fn run(args: CertsArgs) -> Result<(), Failure> {
    match args.command {
        CertsCommand::Init(args) => init(args),
        CertsCommand::Server(args) => server(args),
        CertsCommand::Client(args) => client(args),
        CertsCommand::Show(args) => show(args),
        CertsCommand::Verify(args) => verify(args),
    }
}

/// This machine's host name, for the server certificate's SANs.
fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}

fn server_names(extra: &[String], defaults: bool) -> Vec<String> {
    let mut names = Vec::new();
    if defaults {
        names.extend(["localhost", "127.0.0.1", "::1"].map(str::to_owned));
        names.extend(host_name());
    }
    names.extend(extra.iter().cloned());
    names
}

/// Generates a key, with a spinner on a terminal when it takes a while (RSA).
fn generate_key(kind: KeyType, what: &str) -> Result<rcgen::KeyPair, Failure> {
    let spinner = (kind == KeyType::Rsa2048 && std::io::stderr().is_terminal()).then(|| {
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.set_message(format!("generating the RSA key for {what}"));
        spinner.enable_steady_tick(Duration::from_millis(100));
        spinner
    });
    let key = certs::generate_key(kind).map_err(failure);
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    key
}

fn passphrase_for_new_key() -> Result<String, Failure> {
    if let Ok(passphrase) = std::env::var(PASSPHRASE_ENV) {
        return Ok(passphrase);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(
            FailureKind::Usage,
            format!(
                "--encrypt-ca-key needs a passphrase: set {PASSPHRASE_ENV} or run on a terminal"
            ),
        ));
    }
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt).map_err(|e| {
            Failure::new(
                FailureKind::General,
                format!("cannot read the passphrase: {e}"),
            )
        })
    };
    let first = read("Passphrase for the CA key: ")?;
    if first.is_empty() {
        return Err(Failure::new(FailureKind::Usage, "the passphrase is empty"));
    }
    if read("Same passphrase again: ")? != first {
        return Err(Failure::new(FailureKind::Usage, "the passphrases differ"));
    }
    Ok(first)
}

/// Loads the folder's CA, asking for the passphrase if its key is encrypted.
fn load_ca(dir: &Path) -> Result<certs::Ca, Failure> {
    let (cert, key) = (dir.join(CA_CERT), dir.join(CA_KEY));
    if !cert.exists() {
        return Err(Failure::new(
            FailureKind::Usage,
            format!(
                "no CA in {} (run `mq certs init` first, or give --dir)",
                dir.display()
            ),
        ));
    }
    match certs::load_ca(&cert, &key, std::env::var(PASSPHRASE_ENV).ok().as_deref()) {
        Err(CertError::PassphraseNeeded { .. }) if std::io::stdin().is_terminal() => {
            let passphrase =
                rpassword::prompt_password(format!("Passphrase for {}: ", key.display())).map_err(
                    |e| {
                        Failure::new(
                            FailureKind::General,
                            format!("cannot read the passphrase: {e}"),
                        )
                    },
                )?;
            certs::load_ca(&cert, &key, Some(&passphrase)).map_err(failure)
        }
        Err(CertError::PassphraseNeeded { path }) => Err(Failure::new(
            FailureKind::Usage,
            format!(
                "{} is encrypted: set {PASSPHRASE_ENV} or run on a terminal",
                path.display()
            ),
        )),
        other => other.map_err(failure),
    }
}

fn key_file(path: PathBuf, key: &rcgen::KeyPair) -> OutputFile {
    OutputFile {
        path,
        contents: key.serialize_pem(),
        private: true,
    }
}

fn cert_file(path: PathBuf, contents: String) -> OutputFile {
    OutputFile {
        path,
        contents,
        private: false,
    }
}

fn init(args: InitArgs) -> Result<(), Failure> {
    let dir = dir_or_default(args.common.dir)?;
    let kind = KeyType::from(args.common.key_type);
    let days = args.common.days;
    // Refuse before the slow part.
    let names = [
        CA_CERT,
        CA_KEY,
        SERVER_CERT,
        SERVER_KEY,
        "client.crt",
        "client.key",
    ];
    if !args.common.force {
        if let Some(existing) = names.iter().map(|n| dir.join(n)).find(|p| p.exists()) {
            return Err(failure(CertError::Exists { path: existing }));
        }
    }
    let passphrase = args
        .encrypt_ca_key
        .then(passphrase_for_new_key)
        .transpose()?;

    let ca_key = generate_key(kind, "the CA")?;
    let ca_name = format!(
        "mq CA {} {}",
        host_name().unwrap_or_else(|| "local".into()),
        x509::hex(&random_bytes::<3>())
    );
    let ca_params = certs::ca_params(&ca_name, args.ca_days).map_err(failure)?;
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .map_err(|e| failure(e.into()))?;
    let ca_key_pem = match &passphrase {
        Some(p) => certs::encrypt_key(&ca_key, p).map_err(failure)?,
        None => ca_key.serialize_pem(),
    };
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let sans = server_names(&args.san, true);
    let server_key = generate_key(kind, "the server")?;
    let server_cert = certs::server_params(&sans, days)
        .and_then(|p| Ok(p.signed_by(&server_key, &issuer)?))
        .map_err(failure)?;
    let client_key = generate_key(kind, "the client")?;
    let client_cert = certs::client_params("client", days)
        .and_then(|p| Ok(p.signed_by(&client_key, &issuer)?))
        .map_err(failure)?;

    let files = [
        cert_file(dir.join(CA_CERT), ca_cert.pem()),
        OutputFile {
            path: dir.join(CA_KEY),
            contents: ca_key_pem,
            private: true,
        },
        cert_file(dir.join(SERVER_CERT), server_cert.pem()),
        key_file(dir.join(SERVER_KEY), &server_key),
        cert_file(dir.join("client.crt"), client_cert.pem()),
        key_file(dir.join("client.key"), &client_key),
    ];
    certs::write_files(&files, args.common.force).map_err(failure)?;
    print_init_summary(&dir, &sans, days, passphrase.is_some());
    Ok(())
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // A name suffix only: zeros are fine if the OS has no randomness to give.
    let _ = getrandom04::fill(&mut bytes);
    bytes
}

/// Quotes a path for a POSIX shell when it needs it.
fn shell(path: &Path) -> String {
    let s = path.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@,".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn print_init_summary(dir: &Path, sans: &[String], days: u32, encrypted: bool) {
    let d = shell(dir);
    let f = |name: &str| shell(&dir.join(name));
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "Made a CA, a server and a client certificate in {d}\n\
         \n  {:<11} the CA certificate: clients trust the broker through it\
         \n  {:<11} the CA key{}: keep it private, it signs new certificates\
         \n  {:<11} the server certificate, for {}\
         \n  {:<11} the server key\
         \n  {:<11} a client certificate, CN \"client\"\
         \n  {:<11} the client key\
         \n\nValid for {days} days. Inspect one with `mq certs show {}`.\n",
        CA_CERT,
        CA_KEY,
        if encrypted { " (encrypted)" } else { "" },
        SERVER_CERT,
        sans.join(", "),
        SERVER_KEY,
        "client.crt",
        "client.key",
        f(SERVER_CERT),
    );
    let tls_flag = if default_dir().as_deref() == Some(dir) {
        "--tls".to_owned()
    } else {
        format!("--tls {d}")
    };
    let _ = writeln!(
        out,
        "Broker (mqtts on port 8883):\n  mq broker {tls_flag}\n  \
         mq broker {tls_flag} --require-certificate   # clients must show a certificate from this CA\n  \
         mq broker {tls_flag} --wss-port 8884         # and secure WebSocket\n\
         \nmosquitto.conf (mosquitto runs as user mosquitto: copy server.key where it may read it):\n  listener 8883\n  cafile {}\n  certfile {}\n  keyfile {}\n  \
         # require_certificate true\n",
        f(CA_CERT),
        f(SERVER_CERT),
        f(SERVER_KEY),
    );
    let _ = writeln!(
        out,
        "Clients:\n  \
         mq pub -h localhost -p 8883 --cafile {ca} -t test -m hello\n  \
         mosquitto_pub -h localhost -p 8883 --cafile {ca} -t test -m hello\n  \
         mosquitto_sub -h localhost -p 8883 --cafile {ca} -t test\n\
         With the client certificate, add:\n  \
         --cert {cert} --key {key}\n\
         More client certificates: mq certs client NAME{dir_flag}",
        ca = f(CA_CERT),
        cert = f("client.crt"),
        key = f("client.key"),
        dir_flag = if default_dir().as_deref() == Some(dir) {
            String::new()
        } else {
            format!(" --dir {d}")
        },
    );
}

fn server(args: ServerArgs) -> Result<(), Failure> {
    let dir = dir_or_default(args.common.dir)?;
    let (cert_path, key_path) = (dir.join(SERVER_CERT), dir.join(SERVER_KEY));
    if !args.common.force {
        if let Some(existing) = [&cert_path, &key_path].into_iter().find(|p| p.exists()) {
            return Err(failure(CertError::Exists {
                path: existing.clone(),
            }));
        }
    }
    let sans = server_names(&args.san, !args.no_default_sans);
    if sans.is_empty() {
        return Err(Failure::new(
            FailureKind::Usage,
            "a server certificate needs at least one name: give --san",
        ));
    }
    let ca = load_ca(&dir)?;
    let key = generate_key(args.common.key_type.into(), "the server")?;
    let cert = certs::server_params(&sans, args.common.days)
        .and_then(|p| Ok(p.signed_by(&key, &ca.issuer)?))
        .map_err(failure)?;
    certs::write_files(
        &[
            cert_file(cert_path.clone(), cert.pem()),
            key_file(key_path.clone(), &key),
        ],
        args.common.force,
    )
    .map_err(failure)?;
    println!(
        "Made {} and {} for {}, valid {} days.\nA running mq broker picks them up on SIGHUP (kill -HUP PID).",
        cert_path.display(),
        key_path.display(),
        sans.join(", "),
        args.common.days
    );
    Ok(())
}

fn client(args: ClientArgs) -> Result<(), Failure> {
    let name = args.name.trim();
    let safe = !name.is_empty()
        && name != "ca"
        && name != "server"
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._-@+".contains(c));
    if !safe {
        return Err(Failure::new(
            FailureKind::Usage,
            format!("{name:?} cannot be a client name: use letters, digits and . _ - @ + (and not \"ca\" or \"server\")"),
        ));
    }
    let dir = dir_or_default(args.common.dir)?;
    let (cert_path, key_path) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    if !args.common.force {
        if let Some(existing) = [&cert_path, &key_path].into_iter().find(|p| p.exists()) {
            return Err(failure(CertError::Exists {
                path: existing.clone(),
            }));
        }
    }
    let ca = load_ca(&dir)?;
    let key = generate_key(args.common.key_type.into(), name)?;
    let cert = certs::client_params(name, args.common.days)
        .and_then(|p| Ok(p.signed_by(&key, &ca.issuer)?))
        .map_err(failure)?;
    certs::write_files(
        &[
            cert_file(cert_path.clone(), cert.pem()),
            key_file(key_path.clone(), &key),
        ],
        args.common.force,
    )
    .map_err(failure)?;
    println!(
        "Made {} and {} (CN \"{name}\"), valid {} days.\nUse them with: --cert {} --key {}",
        cert_path.display(),
        key_path.display(),
        args.common.days,
        shell(&cert_path),
        shell(&key_path),
    );
    Ok(())
}

fn describe_age(info: &certs::CertInfo) -> String {
    let now = time::OffsetDateTime::now_utc();
    if info.not_before > now {
        return "NOT VALID YET".into();
    }
    let days = (info.not_after - now).whole_days();
    if info.expired(now) {
        format!("EXPIRED {} days ago", -days)
    } else {
        format!("expires in {days} days")
    }
}

fn show(args: ShowArgs) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    for (i, file) in args.files.iter().enumerate() {
        let chain = pem::load_certificates(file)
            .map_err(|e| Failure::new(FailureKind::Usage, e.to_string()))?;
        if i > 0 {
            let _ = writeln!(out);
        }
        for (n, der) in chain.iter().enumerate() {
            let info = certs::describe(der).map_err(|detail| {
                Failure::new(
                    FailureKind::Usage,
                    format!(
                        "{} is not a valid X.509 certificate: {detail}",
                        file.display()
                    ),
                )
            })?;
            let position = if chain.len() > 1 {
                format!(" (certificate {} of {})", n + 1, chain.len())
            } else {
                String::new()
            };
            let sans: Vec<String> = info.sans.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                out,
                "{}{position}\n  subject:  {}\n  issuer:   {}\n  SANs:     {}\n  valid:    {} to {} ({})\n  CA:       {}\n  key:      {}\n  serial:   {}\n  SHA-256:  {}",
                file.display(),
                info.subject,
                info.issuer,
                if sans.is_empty() { "none".into() } else { sans.join(", ") },
                x509::format_date(info.not_before),
                x509::format_date(info.not_after),
                describe_age(&info),
                if info.is_ca { "yes" } else { "no" },
                info.key_algorithm,
                info.serial,
                info.sha256_fingerprint,
            );
        }
    }
    Ok(())
}

fn verify(args: VerifyArgs) -> Result<(), Failure> {
    let usage = |e: pem::PemError| Failure::new(FailureKind::Usage, e.to_string());
    let roots = pem::load_certificates(&args.ca).map_err(usage)?;
    let chain = pem::load_certificates(&args.cert).map_err(usage)?;
    match certs::verify(&roots, &chain, std::time::SystemTime::now()) {
        Ok(ok) => {
            let mut uses = Vec::new();
            if ok.server_auth {
                uses.push("server");
            }
            if ok.client_auth {
                uses.push("client");
            }
            let names = certs::describe(&chain[0])
                .map(|info| {
                    let sans: Vec<String> = info.sans.iter().map(ToString::to_string).collect();
                    if sans.is_empty() {
                        info.subject
                    } else {
                        format!("{}; {}", info.subject, sans.join(", "))
                    }
                })
                .unwrap_or_default();
            println!(
                "{}: OK, signed by {} and valid now, for {} authentication ({names})",
                args.cert.display(),
                args.ca.display(),
                uses.join(" and ")
            );
            Ok(())
        }
        Err(why) => Err(Failure::new(
            FailureKind::Tls,
            format!("{}: {why}", args.cert.display()),
        )),
    }
}
