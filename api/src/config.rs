//! Typed configuration: flags > `CREDLEDGER_*` environment > optional config file > defaults.
//! `Debug` never shows a password or a key.

use clap::Args;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where the ledger and its keys live; shared by every command.
#[derive(Args, Clone, Default)]
pub struct Common {
    /// PostgreSQL URL (`postgres://…`); without it, an embedded SQLite file in --data-dir.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory for the SQLite file and the development master key file.
    #[arg(long, env = "CREDLEDGER_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// File holding master keys, one `VERSION:BASE64` per line (default: <data-dir>/master.keys).
    #[arg(long, env = "CREDLEDGER_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
    /// Optional TOML configuration file (keys: database_url, data_dir, master_key_file, bind).
    #[arg(long, env = "CREDLEDGER_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Database connections per pool.
    #[arg(long, env = "CREDLEDGER_DB_CONNECTIONS", global = true)]
    pub db_connections: Option<u32>,
}

/// The optional configuration file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub master_key_file: Option<PathBuf>,
    pub bind: Option<String>,
    pub db_connections: Option<u32>,
    pub validations_per_minute: Option<u32>,
    /// `service = "https://base.url"` overrides (self-hosted Sentry and the like).
    pub provider_urls: Option<std::collections::BTreeMap<String, String>>,
    pub catalog_file: Option<PathBuf>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("the configuration file {} is not valid", path.display()))
    }
}

/// The settings every command resolves to.
#[derive(Clone)]
pub struct Settings {
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub master_keys: Option<String>,
    pub master_key_file: PathBuf,
    pub bind: String,
    pub db_connections: u32,
    pub dev: bool,
    /// How long a command's answer waits for the read models to show it.
    pub read_your_writes_ms: u64,
    /// Live checks with providers per person per minute (testCredential, addCredential with a
    /// secret, revalidateCredential share it).
    pub validations_per_minute: u32,
    /// Base URL overrides per service (self-hosted Sentry, tests, `--dev`'s simulator).
    pub provider_urls: std::collections::BTreeMap<String, String>,
    /// Optional catalog file replacing the built-in one (services.json's format).
    pub catalog_file: Option<PathBuf>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field(
                "database_url",
                &self
                    .database_url
                    .as_deref()
                    .map(credledger_adapters::db::redact_url),
            )
            .field("data_dir", &self.data_dir)
            .field(
                "master_keys",
                &self.master_keys.as_ref().map(|_| "<redacted>"),
            )
            .field("master_key_file", &self.master_key_file)
            .field("bind", &self.bind)
            .field("db_connections", &self.db_connections)
            .field("dev", &self.dev)
            .field("validations_per_minute", &self.validations_per_minute)
            .field("provider_urls", &self.provider_urls)
            .field("catalog_file", &self.catalog_file)
            .finish()
    }
}

impl Settings {
    /// Resolves flags and environment (already merged by clap) over the file over defaults.
    pub fn resolve(common: &Common, bind: Option<String>, dev: bool) -> anyhow::Result<Self> {
        let file = match &common.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let data_dir = common
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let master_key_file = common
            .master_key_file
            .clone()
            .or(file.master_key_file)
            .unwrap_or_else(|| data_dir.join("master.keys"));
        Ok(Self {
            database_url: common.database_url.clone().or(file.database_url),
            // Environment only: a command-line flag would show the keys in process listings.
            master_keys: std::env::var("CREDLEDGER_MASTER_KEYS")
                .ok()
                .filter(|k| !k.trim().is_empty()),
            master_key_file,
            data_dir,
            bind: bind
                .or(file.bind)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            db_connections: common.db_connections.or(file.db_connections).unwrap_or(40),
            dev,
            read_your_writes_ms: 5_000,
            validations_per_minute: match std::env::var("CREDLEDGER_VALIDATIONS_PER_MINUTE") {
                Ok(v) => v.trim().parse().map_err(|_| {
                    anyhow::anyhow!("CREDLEDGER_VALIDATIONS_PER_MINUTE must be a whole number")
                })?,
                Err(_) => file.validations_per_minute.unwrap_or(10),
            },
            provider_urls: file.provider_urls.unwrap_or_default(),
            catalog_file: std::env::var_os("CREDLEDGER_CATALOG")
                .map(PathBuf::from)
                .or(file.catalog_file),
        })
    }

    /// The service catalog: the built-in one (or `catalog_file`), with base URL overrides.
    pub fn catalog(&self) -> anyhow::Result<credledger_domain::Catalog> {
        use anyhow::Context as _;
        let mut catalog = match &self.catalog_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("could not read the catalog {}", path.display()))?;
                credledger_domain::Catalog::from_json(&text)
                    .with_context(|| format!("the catalog {} is not valid", path.display()))?
            }
            None => credledger_domain::Catalog::builtin(),
        };
        for (service, url) in &self.provider_urls {
            catalog.set_base_url(service, url)?;
        }
        Ok(catalog)
    }

    pub fn database(&self) -> credledger_adapters::DatabaseConfig {
        credledger_adapters::DatabaseConfig {
            url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            max_connections: self.db_connections,
        }
    }
}
