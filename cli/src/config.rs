//! Where the servers and the API key come from: flags, then environment
//! variables (clap reads `CLEARLEDGER_*` for the flags), then a named
//! profile in `~/.config/clearledger/config.toml`, then defaults.
//!
//! ```toml
//! default_profile = "ops"
//!
//! [profiles.ops]
//! servers = ["127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"]
//! key = "dev-operator-key-1"
//! output = "table"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::args::{Global, OutputFormat};
use crate::client::{Settings, base_url};
use crate::exit::usage;

/// The server used when none is configured.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8081";

/// The configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The profile used when `--profile` is not given.
    pub default_profile: Option<String>,
    /// Named profiles.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One named profile.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Servers, tried in order.
    #[serde(default)]
    pub servers: Vec<String>,
    /// The API key.
    pub key: Option<String>,
    /// The output format.
    pub output: Option<OutputFormat>,
    /// Per-request timeout in seconds.
    pub timeout_seconds: Option<u64>,
}

/// The configuration file's path: `--config`, else
/// `$XDG_CONFIG_HOME/clearledger/config.toml`, else `~/.config/clearledger/config.toml`.
pub fn config_path(global: &Global) -> Option<PathBuf> {
    if let Some(path) = &global.config {
        return Some(path.clone());
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("clearledger").join("config.toml"))
}

/// Reads the configuration file; a missing file is an empty configuration
/// unless it was named explicitly.
pub fn read_config(path: &Path, explicit: bool) -> anyhow::Result<ConfigFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(ConfigFile::default());
        }
        Err(error) => {
            return Err(usage(format!(
                "cannot read the configuration {}: {error}",
                path.display()
            )));
        }
    };
    toml::from_str(&text).map_err(|error| usage(format!("{}: {error}", path.display())))
}

/// The profile in force: `--profile`, else the file's `default_profile`, else none.
pub fn select_profile(global: &Global, file: &ConfigFile, path: &Path) -> anyhow::Result<Profile> {
    let name = global
        .profile
        .clone()
        .or_else(|| file.default_profile.clone());
    match name {
        None => Ok(Profile::default()),
        Some(name) => file.profiles.get(&name).cloned().ok_or_else(|| {
            let known: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
            usage(format!(
                "no profile {name:?} in {} (profiles there: {})",
                path.display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        }),
    }
}

/// Everything a command needs to know about where and how to talk.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Client settings, if a key was found.
    pub settings: Option<Settings>,
    /// The output format.
    pub output: OutputFormat,
}

/// Combines flags, environment, profile and defaults.
pub fn resolve(global: &Global) -> anyhow::Result<Resolved> {
    let path = config_path(global);
    let file = match &path {
        Some(path) => {
            read_config(path, global.config.is_some()).context("reading the configuration")?
        }
        None => ConfigFile::default(),
    };
    let profile = select_profile(
        global,
        &file,
        path.as_deref().unwrap_or(Path::new("config.toml")),
    )?;
    let servers = if !global.server.is_empty() {
        global.server.clone()
    } else if !profile.servers.is_empty() {
        profile.servers.clone()
    } else {
        vec![DEFAULT_SERVER.to_string()]
    };
    let servers = servers
        .iter()
        .map(|s| base_url(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(usage)?;
    let output = global
        .output
        .or(profile.output)
        .unwrap_or(OutputFormat::Table);
    let timeout_seconds = global
        .timeout
        .or(profile.timeout_seconds)
        .unwrap_or(30)
        .max(1);
    let key = global
        .key
        .clone()
        .or(profile.key)
        .filter(|key| !key.trim().is_empty());
    let settings = key.map(|key| Settings {
        servers,
        key,
        timeout: Duration::from_secs(timeout_seconds),
        quiet: global.quiet,
    });
    Ok(Resolved { settings, output })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_and_unknown_fields_are_refused() {
        let file: ConfigFile = toml::from_str(
            "default_profile = \"ops\"\n[profiles.ops]\nservers = [\"127.0.0.1:8081\"]\nkey = \"k-123\"\noutput = \"json\"\n",
        )
        .expect("valid");
        assert_eq!(file.default_profile.as_deref(), Some("ops"));
        assert_eq!(file.profiles["ops"].output, Some(OutputFormat::Json));
        assert!(toml::from_str::<ConfigFile>("[profiles.ops]\nkye = \"typo\"\n").is_err());
    }
}
