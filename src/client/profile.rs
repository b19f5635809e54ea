//! Named connection profiles from `config.toml`, so that hosts, certificates and secrets need
//! not be typed (or left) on the command line. Finding the file is the caller's business.
//!
//! ```toml
//! [profiles.prod]
//! url = "mqtts://broker.example.com"
//! username = "alice"
//! password_file = "~/.config/mq/prod.pw"
//! cafile = "/etc/ssl/example-ca.pem"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ClientError;

/// One profile: every field is optional and only fills in what the command line leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub protocol: Option<String>,
    pub client_id: Option<String>,
    pub id_prefix: Option<String>,
    pub keepalive: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
    pub cafile: Option<PathBuf>,
    pub capath: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub insecure: Option<bool>,
    pub tls_version: Option<String>,
    pub tls_alpn: Option<Vec<String>>,
    pub nodelay: Option<bool>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The profile used when `--profile` is not given.
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

impl ConfigFile {
    pub fn parse(text: &str, origin: &Path) -> Result<ConfigFile, ClientError> {
        toml::from_str(text).map_err(|e| {
            ClientError::InvalidOption(format!("{}: {}", origin.display(), e.message()))
        })
    }

    pub fn load(path: &Path) -> Result<ConfigFile, ClientError> {
        let text = std::fs::read_to_string(path).map_err(|source| ClientError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        ConfigFile::parse(&text, path)
    }

    /// The named profile, or an error listing the names there are.
    pub fn profile(&self, name: &str, origin: &Path) -> Result<&Profile, ClientError> {
        self.profiles.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            ClientError::InvalidOption(format!(
                "no profile {name:?} in {} (profiles: {})",
                origin.display(),
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_read_by_name() {
        let text = r#"
            default_profile = "local"
            [profiles.local]
            host = "localhost"
            port = 1884
            [profiles.prod]
            url = "mqtts://broker.example.com"
            username = "alice"
            password_env = "PROD_PW"
        "#;
        let origin = Path::new("config.toml");
        let file = ConfigFile::parse(text, origin).unwrap();
        assert_eq!(file.default_profile.as_deref(), Some("local"));
        assert_eq!(file.profile("local", origin).unwrap().port, Some(1884));
        let prod = file.profile("prod", origin).unwrap();
        assert_eq!(prod.password_env.as_deref(), Some("PROD_PW"));
        let err = file.profile("nope", origin).unwrap_err().to_string();
        assert!(err.contains("local, prod"), "{err}");
    }

    #[test]
    fn unknown_keys_are_reported_with_the_file_name() {
        let err = ConfigFile::parse("[profiles.x]\nhots = \"a\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.toml") && err.contains("hots"), "{err}");
    }
}
