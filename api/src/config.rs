//! Typed configuration: flags > `CREDLEDGER_*` environment > optional config file > defaults.
//! `Debug` never shows a password or a key.

use clap::Args;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the ledger and its keys live; shared by every command.
#[derive(Args, Clone, Default)]
pub struct Common {
    /// PostgreSQL URL (`postgres://…`); without it, an embedded SQLite file in --data-dir.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory for the SQLite file and the development master key file.
    #[arg(long, env = "CREDLEDGER_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// File holding master keys, one `VERSION:BASE64` per line (default: master.keys in the
    /// data directory).
    #[arg(long, env = "CREDLEDGER_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
    /// Optional TOML configuration file (its keys: the README's "Configuration" section).
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
    /// Milliseconds a request waits for a PostgreSQL connection before answering unavailable.
    pub db_connection_wait_ms: Option<u64>,
    /// Seconds a connection may go without sending a request's headers.
    pub header_wait_s: Option<u64>,
    /// Seconds an answer may wait for its client to take any of it.
    pub write_wait_s: Option<u64>,
    pub validations_per_minute: Option<u32>,
    /// API requests per person and per token per minute; 0 turns the limit off.
    pub api_requests_per_minute: Option<u32>,
    /// `service = "https://base.url"` overrides (self-hosted Sentry and the like).
    pub provider_urls: Option<std::collections::BTreeMap<String, String>>,
    pub catalog_file: Option<PathBuf>,
    /// Host names (with or without a port) the server answers to besides loopback names.
    pub public_names: Option<Vec<String>>,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Option<Vec<String>>,
    /// Hosts (or `http://host:port` origins) of the private network that provider checks may
    /// call: self-hosted Sentry, an MCP server inside the network.
    pub outbound_allow_hosts: Option<Vec<String>>,
    /// The `[jobs]` table: scheduled work.
    pub jobs: Option<FileJobs>,
    /// Where people reach this server, e.g. `https://creds.example.com` (OAuth's callback).
    pub public_url: Option<String>,
    /// `[oauth.<provider>]` tables: this deployment's OAuth clients (the secret only by file).
    pub oauth: Option<std::collections::BTreeMap<String, FileOAuthClient>>,
    /// A separate address serving only `/metrics`, without a token.
    pub metrics_listen: Option<String>,
}

/// One `[oauth.<provider>]` table. The client secret is never written here: it comes from
/// `CREDLEDGER_OAUTH_<PROVIDER>_CLIENT_SECRET` or the file `client_secret_file` names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOAuthClient {
    pub client_id: Option<String>,
    pub client_secret_file: Option<PathBuf>,
}

/// The configuration file's `[jobs]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileJobs {
    pub enabled: Option<bool>,
    pub revalidate_interval_secs: Option<u64>,
    pub stale_days: Option<u32>,
    pub concurrency: Option<usize>,
    pub expiry_interval_secs: Option<u64>,
    pub expiry_warning_days: Option<u32>,
    pub expiry_webhook_url: Option<String>,
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

/// How far behind the ledger's head (events) a read model may be while `/readyz` says ready:
/// far above a healthy instance's lag (a batch or two), well below a stalled one's.
pub const DEFAULT_READY_MAX_LAG: i64 = 10_000;

/// API requests per minute per person and per token unless configured: ten a second on
/// average, with a burst of a whole minute's worth.
pub const DEFAULT_API_REQUESTS_PER_MINUTE: u32 = 600;

/// How long a one-shot command waits for a PostgreSQL connection at least: nobody is waiting
/// for a quick 503 from it (no client retrying, no load balancer), and failing after a second
/// on a busy database would only make its operator run it again.
pub const COMMAND_CONNECTION_WAIT: Duration = Duration::from_secs(10);

/// The settings every command resolves to.
#[derive(Clone)]
pub struct Settings {
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub master_keys: Option<String>,
    pub master_key_file: PathBuf,
    pub bind: String,
    pub db_connections: u32,
    /// How long a statement waits for a PostgreSQL connection (a free one, or a new one being
    /// opened) before its request is answered unavailable.
    pub db_connection_wait: Duration,
    pub dev: bool,
    /// How long a command's answer waits for the read models to show it.
    pub read_your_writes_ms: u64,
    /// Live checks with providers per person per minute (testCredential, addCredential with a
    /// secret, revalidateCredential share it).
    pub validations_per_minute: u32,
    /// API requests per minute per person (all their sessions) and per token (each API and
    /// MCP server token); 0 turns the limit off.
    pub api_requests_per_minute: u32,
    /// Base URL overrides per service (self-hosted Sentry, tests, `--dev`'s simulator).
    pub provider_urls: std::collections::BTreeMap<String, String>,
    /// Optional catalog file replacing the built-in one (services.json's format).
    pub catalog_file: Option<PathBuf>,
    /// The names in `Host` the server answers to, lowercase, without port; loopback names
    /// always. Anything else is refused (DNS rebinding).
    pub public_names: Vec<String>,
    /// Reverse proxies trusted to say who the client is (`X-Forwarded-For`); none by default,
    /// and then the client is the connection's peer.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Where provider checks may connect (addresses people and admins typed).
    pub outbound: credledger_adapters::outbound::OutboundPolicy,
    /// Where people reach this server; `http://<bind address>` when unset.
    pub public_url: Option<String>,
    /// OAuth clients by provider (`google`); a service whose provider has none cannot be
    /// connected with OAuth. `serve --dev` adds the simulator's demo client.
    pub oauth_clients: std::collections::BTreeMap<String, credledger_adapters::oauth::OAuthClient>,
    /// `/metrics` on the main listener, for requests bearing this token
    /// (`CREDLEDGER_METRICS_TOKEN`, environment only).
    pub metrics_token: Option<String>,
    /// `/metrics` alone on this address, without a token (the operator's private network).
    pub metrics_listen: Option<String>,
    /// `/readyz` is not ready while a read model is more than this many events behind.
    pub ready_max_lag: i64,
    /// How long a client has to send a request's headers, once connected or once its previous
    /// answer is sent (also how long an idle kept-alive connection stays open), and to take
    /// any of an answer being written to it.
    pub client_waits: crate::http::ClientWaits,
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
            .field("db_connection_wait", &self.db_connection_wait)
            .field("dev", &self.dev)
            .field("validations_per_minute", &self.validations_per_minute)
            .field("api_requests_per_minute", &self.api_requests_per_minute)
            .field("provider_urls", &self.provider_urls)
            .field("catalog_file", &self.catalog_file)
            .field("public_names", &self.public_names)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("outbound", &self.outbound)
            .field("public_url", &self.public_url)
            .field("oauth_clients", &self.oauth_clients)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .field("metrics_listen", &self.metrics_listen)
            .field("ready_max_lag", &self.ready_max_lag)
            .field("client_waits", &self.client_waits)
            .finish()
    }
}

impl Settings {
    /// Resolves flags and environment (already merged by clap) over the file over defaults.
    pub fn resolve(common: &Common, bind: Option<String>, dev: bool) -> anyhow::Result<Self> {
        Ok(Self::resolve_with_jobs(common, bind, dev)?.0)
    }

    /// [`Settings::resolve`], and the scheduled jobs' settings from the same sources.
    pub fn resolve_with_jobs(
        common: &Common,
        bind: Option<String>,
        dev: bool,
    ) -> anyhow::Result<(Self, JobSettings)> {
        let mut file = match &common.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let jobs = JobSettings::resolve(file.jobs.take().unwrap_or_default(), dev)?;
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
        let settings = Self {
            database_url: common.database_url.clone().or(file.database_url),
            // Environment only: a command-line flag would show the keys in process listings.
            master_keys: env_text("CREDLEDGER_MASTER_KEYS")?.filter(|k| !k.trim().is_empty()),
            master_key_file,
            data_dir,
            bind: bind
                .or(file.bind)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            db_connections: match common.db_connections.or(file.db_connections) {
                // A pool of none would fail every statement once its wait ran out.
                Some(0) => anyhow::bail!(
                    "the database connections per pool (--db-connections, \
                     CREDLEDGER_DB_CONNECTIONS, db_connections) must be at least 1"
                ),
                n => n.unwrap_or(40),
            },
            db_connection_wait: match env_value::<u64>(
                "CREDLEDGER_DB_CONNECTION_WAIT_MS",
                "milliseconds",
            )?
            .or(file.db_connection_wait_ms)
            {
                // No wait at all would fail every statement that finds no idle connection.
                Some(0) => anyhow::bail!(
                    "the database connection wait (CREDLEDGER_DB_CONNECTION_WAIT_MS, \
                     db_connection_wait_ms) must be at least 1 millisecond"
                ),
                Some(ms) => Duration::from_millis(ms),
                None => credledger_adapters::db::DEFAULT_CONNECTION_WAIT,
            },
            dev,
            read_your_writes_ms: 5_000,
            validations_per_minute: match env_value(
                "CREDLEDGER_VALIDATIONS_PER_MINUTE",
                "a whole number",
            )?
            .or(file.validations_per_minute)
            {
                // Not "off" (as 0 is for the API's limit): live checks have no unlimited mode.
                Some(0) => anyhow::bail!(
                    "the live checks a minute (CREDLEDGER_VALIDATIONS_PER_MINUTE, \
                     validations_per_minute) must be at least 1"
                ),
                n => n.unwrap_or(10),
            },
            api_requests_per_minute: env_value("CREDLEDGER_API_RATE_LIMIT", "a whole number")?
                .or(file.api_requests_per_minute)
                .unwrap_or(DEFAULT_API_REQUESTS_PER_MINUTE),
            provider_urls: file.provider_urls.unwrap_or_default(),
            catalog_file: std::env::var_os("CREDLEDGER_CATALOG")
                .map(PathBuf::from)
                .or(file.catalog_file),
            public_names: list("CREDLEDGER_PUBLIC_NAMES", file.public_names)?
                .into_iter()
                .map(|name| host_name(&name))
                .collect(),
            trusted_proxies: list("CREDLEDGER_TRUSTED_PROXIES", file.trusted_proxies)?
                .into_iter()
                .map(|ip| {
                    ip.parse()
                        .map_err(|_| anyhow::anyhow!("trusted proxy `{ip}` is not an IP address"))
                })
                .collect::<anyhow::Result<_>>()?,
            outbound: credledger_adapters::outbound::OutboundPolicy {
                // Loopback stand-ins (the simulator, local test servers): never in production.
                allow_loopback: dev
                    || match env_value::<u8>("CREDLEDGER_OUTBOUND_ALLOW_LOOPBACK", "0 or 1")? {
                        None | Some(0) => false,
                        Some(1) => true,
                        Some(_) => {
                            anyhow::bail!("CREDLEDGER_OUTBOUND_ALLOW_LOOPBACK must be 0 or 1")
                        }
                    },
                allowed_hosts: list("CREDLEDGER_OUTBOUND_ALLOW_HOSTS", file.outbound_allow_hosts)?
                    .into_iter()
                    .map(|entry| {
                        credledger_adapters::outbound::check_allowed_entry(&entry)
                            .map(|()| entry)
                            .map_err(|refused| {
                                anyhow::anyhow!("CREDLEDGER_OUTBOUND_ALLOW_HOSTS: {refused}")
                            })
                    })
                    .collect::<anyhow::Result<_>>()?,
            },
            public_url: env_text("CREDLEDGER_PUBLIC_URL")?
                .filter(|u| !u.trim().is_empty())
                .or(file.public_url)
                .map(|u| u.trim().to_owned()),
            oauth_clients: oauth_clients(file.oauth.unwrap_or_default())?,
            // Environment only, like the master keys: a flag would show it in process listings.
            // Trimmed as the presented token is: a token read from a file ends in a newline.
            metrics_token: env_text("CREDLEDGER_METRICS_TOKEN")?
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()),
            metrics_listen: env_text("CREDLEDGER_METRICS_LISTEN")?
                .filter(|a| !a.trim().is_empty())
                .or(file.metrics_listen),
            ready_max_lag: match env_value::<i64>("CREDLEDGER_READY_MAX_LAG", "a whole number")? {
                // A lag below 0 is never reached: /readyz would answer 503 for good.
                Some(lag) if lag < 0 => anyhow::bail!("CREDLEDGER_READY_MAX_LAG must be 0 or more"),
                lag => lag.unwrap_or(DEFAULT_READY_MAX_LAG),
            },
            client_waits: crate::http::ClientWaits {
                header: wait_seconds(
                    "the header wait (CREDLEDGER_HEADER_WAIT_S, header_wait_s)",
                    "CREDLEDGER_HEADER_WAIT_S",
                    file.header_wait_s,
                )?
                .unwrap_or(crate::http::DEFAULT_HEADER_WAIT),
                write: wait_seconds(
                    "the write wait (CREDLEDGER_WRITE_WAIT_S, write_wait_s)",
                    "CREDLEDGER_WRITE_WAIT_S",
                    file.write_wait_s,
                )?
                .unwrap_or(crate::http::DEFAULT_WRITE_WAIT),
            },
        };
        Ok((settings, jobs))
    }

    /// These settings for a one-shot command (anything but `serve`): it runs no read-model
    /// runner to wait for (it catches up instead), and it waits for a database connection at
    /// least [`COMMAND_CONNECTION_WAIT`].
    pub fn for_one_shot_command(mut self) -> Self {
        self.read_your_writes_ms = 0;
        self.db_connection_wait = self.db_connection_wait.max(COMMAND_CONNECTION_WAIT);
        self
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

    /// The provider checks' limits, with this deployment's outbound policy.
    pub fn validator_config(&self) -> credledger_adapters::validation::ValidatorConfig {
        credledger_adapters::validation::ValidatorConfig {
            outbound: self.outbound.clone(),
            ..Default::default()
        }
    }

    pub fn database(&self) -> credledger_adapters::DatabaseConfig {
        credledger_adapters::DatabaseConfig {
            url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            max_connections: self.db_connections,
            connection_wait: self.db_connection_wait,
        }
    }
}

/// Scheduled work: revalidation of stale credentials and expiry (marking and warnings). `serve`
/// runs both under database leases, so several instances on one database run each job once;
/// the CLI one-shots take their defaults from here too.
#[derive(Clone)]
pub struct JobSettings {
    /// Whether `serve` runs the jobs (`CREDLEDGER_JOBS=off` leaves them to cron and the CLI).
    pub enabled: bool,
    /// How often revalidation runs, across all instances.
    pub revalidate_interval: Duration,
    /// A credential is stale, and checked again, when its last check is older than this.
    pub stale_after: chrono::Duration,
    /// Checks in flight at once.
    pub concurrency: usize,
    /// How often the expiry job runs, across all instances.
    pub expiry_interval: Duration,
    /// Credentials expiring within this window raise a warning.
    pub warning_window: chrono::Duration,
    /// Where expiry warnings are POSTed as JSON (none: no webhook).
    pub webhook_url: Option<String>,
    /// How long a job's lease lasts unless renewed (it is renewed every third of it).
    pub lease_ttl: Duration,
    /// How often each instance looks whether a job is due.
    pub poll: Duration,
    /// The replay adapter's sender (MCP sync), run by `serve` with the jobs.
    pub mcp: crate::mcp::sync::SyncSettings,
    /// How often each instance looks for OAuth tokens to refresh.
    pub oauth_refresh_interval: Duration,
    /// OAuth access tokens expiring within this margin are refreshed (by the pass, and before
    /// a resolve or reveal).
    pub oauth_refresh_margin: chrono::Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            revalidate_interval: Duration::from_secs(3600),
            stale_after: chrono::Duration::days(1),
            // Checks wait mostly on the provider: 64 in flight keep the ledger's writer busy
            // at 50 ms per answer (docs/performance.md, validate-all).
            concurrency: 64,
            expiry_interval: Duration::from_secs(3600),
            warning_window: chrono::Duration::days(7),
            webhook_url: None,
            lease_ttl: Duration::from_secs(60),
            poll: Duration::from_secs(60),
            mcp: crate::mcp::sync::SyncSettings::default(),
            oauth_refresh_interval: Duration::from_secs(60),
            oauth_refresh_margin: chrono::Duration::minutes(5),
        }
    }
}

/// A webhook URL's origin only: the path and query of such URLs often hold a token.
fn redact_webhook(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{}/…", u.origin().ascii_serialization()),
        Err(_) => "<invalid>".into(),
    }
}

impl std::fmt::Debug for JobSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSettings")
            .field("enabled", &self.enabled)
            .field("revalidate_interval", &self.revalidate_interval)
            .field("stale_after", &self.stale_after)
            .field("concurrency", &self.concurrency)
            .field("expiry_interval", &self.expiry_interval)
            .field("warning_window", &self.warning_window)
            .field(
                "webhook_url",
                &self.webhook_url.as_deref().map(redact_webhook),
            )
            .field("lease_ttl", &self.lease_ttl)
            .field("poll", &self.poll)
            .field("oauth_refresh_interval", &self.oauth_refresh_interval)
            .field("oauth_refresh_margin", &self.oauth_refresh_margin)
            .finish()
    }
}

/// A comma-separated environment list over the file's list.
fn list(env: &str, file: Option<Vec<String>>) -> anyhow::Result<Vec<String>> {
    Ok(env_text(env)?
        .map(|v| v.split(',').map(str::to_owned).collect())
        .or(file)
        .unwrap_or_default()
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect())
}

/// The name part of a `Host` value (`Example.com:443` → `example.com`, `[::1]:80` → `[::1]`).
pub fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host.as_str(),
    };
    name.trim_end_matches('.').to_owned()
}

/// Where people reach this server, checked by `serve` when an OAuth client is configured (it
/// was first used, and refused as an internal error, at each OAuth connection): an absolute
/// `https` URL, or `http` on a loopback host (a developer's machine; anywhere else the
/// authorization codes Google sends to `{public_url}/oauth/callback` would cross the network in
/// clear), with no credentials, query or fragment (the callback's path is appended to it). Only
/// checked: the text is used as given, as the provider has it registered.
pub(crate) fn check_public_url(text: &str) -> anyhow::Result<()> {
    let refused = |why: &str| {
        anyhow::anyhow!(
            "CREDLEDGER_PUBLIC_URL (`public_url`) must be where people reach this server, as \
             https://host[:port][/path]: {why}"
        )
    };
    let url = url::Url::parse(text.trim()).map_err(|e| refused(&format!("{e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(refused("it names no host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(refused("plain http is accepted for a loopback host only")),
        other => return Err(refused(&format!("`{other}` is not http or https"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused("it holds credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(refused("it has a query or a fragment"));
    }
    Ok(())
}

/// Where providers send people back (`{url}/oauth/callback`): the public URL given, or else
/// `http://` and the listen address. With an OAuth client configured (`providers` names them),
/// either is refused unless it passes [`check_public_url`]: a default on an address other than
/// loopback would have Google send authorization codes across the network in clear, and a
/// wildcard one is no address to come back to.
pub(crate) fn oauth_public_url(
    given: Option<&str>,
    address: std::net::SocketAddr,
    providers: &[&str],
) -> anyhow::Result<String> {
    if let Some(given) = given {
        if !providers.is_empty() {
            check_public_url(given)?;
        }
        return Ok(given.to_owned());
    }
    let default = format!("http://{address}");
    if providers.is_empty() {
        return Ok(default);
    }
    let why = if address.ip().is_unspecified() {
        "which no provider accepts"
    } else if check_public_url(&default).is_err() {
        "where Google would send authorization codes in clear"
    } else {
        return Ok(default);
    };
    anyhow::bail!(
        "an OAuth client is configured ({}) but no public URL: the callback would be \
         {default}/oauth/callback, {why}. Set CREDLEDGER_PUBLIC_URL (`public_url` in the \
         configuration file) to where people reach this server, e.g. https://creds.example.com",
        providers.join(", ")
    )
}

/// OAuth clients from `CREDLEDGER_OAUTH_<PROVIDER>_CLIENT_ID` / `_CLIENT_SECRET` /
/// `_CLIENT_SECRET_FILE` over the file's `[oauth.<provider>]` tables.
fn oauth_clients(
    mut file: std::collections::BTreeMap<String, FileOAuthClient>,
) -> anyhow::Result<std::collections::BTreeMap<String, credledger_adapters::oauth::OAuthClient>> {
    // `vars_os`: `vars` panics, printing the value, on any variable that is not UTF-8.
    for name in std::env::vars_os().filter_map(|(name, _)| name.into_string().ok()) {
        let provider = name
            .strip_prefix("CREDLEDGER_OAUTH_")
            .and_then(|rest| rest.strip_suffix("_CLIENT_ID"));
        if let Some(provider) = provider {
            file.entry(provider.to_ascii_lowercase())
                .or_default()
                .client_id = env_text(&name)?;
        }
    }
    let mut clients = std::collections::BTreeMap::new();
    for (provider, table) in file {
        let Some(id) = table.client_id.filter(|id| !id.trim().is_empty()) else {
            continue;
        };
        let upper = provider.to_ascii_uppercase();
        let secret = match env_text(&format!("CREDLEDGER_OAUTH_{upper}_CLIENT_SECRET"))? {
            Some(secret) => Some(secret),
            None => std::env::var_os(format!("CREDLEDGER_OAUTH_{upper}_CLIENT_SECRET_FILE"))
                .map(PathBuf::from)
                .or(table.client_secret_file)
                .map(|path| {
                    std::fs::read_to_string(&path).map_err(|e| {
                        anyhow::anyhow!(
                            "could not read the {provider} OAuth client secret {}: {e}",
                            path.display()
                        )
                    })
                })
                .transpose()?,
        };
        clients.insert(
            provider,
            credledger_adapters::oauth::OAuthClient {
                id: id.trim().to_owned(),
                secret: secret
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty()),
            },
        );
    }
    Ok(clients)
}

/// The longest interval, delay or lease a job or the MCP sender may be given: a schedule, not
/// "never" (and far from where adding it to the clock would overflow a date).
const LONGEST_INTERVAL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The longest time before an OAuth token's expiry at which it is refreshed.
const LONGEST_REFRESH_MARGIN_S: u32 = 1800;

/// The longest staleness or warning window, in days.
pub const LONGEST_WINDOW_DAYS: u32 = 3650;

fn longest_interval(env: &str, interval: Duration) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        interval <= LONGEST_INTERVAL,
        "{env} must be at most 30 days"
    );
    Ok(interval)
}

/// The longest wait on a client, in seconds (a day): longer ones are a mistake, and one near
/// `u64::MAX` would overflow the timers that count it.
const LONGEST_CLIENT_WAIT_S: u64 = 86_400;

/// A wait of whole seconds from `env` over the file's value, if either gives one: at least 1,
/// at most a day.
fn wait_seconds(what: &str, env: &str, file: Option<u64>) -> anyhow::Result<Option<Duration>> {
    match env_value::<u64>(env, "whole seconds")?.or(file) {
        Some(0) => anyhow::bail!("{what} must be at least 1 second"),
        Some(s) if s > LONGEST_CLIENT_WAIT_S => {
            anyhow::bail!("{what} must be at most {LONGEST_CLIENT_WAIT_S} seconds (a day)")
        }
        s => Ok(s.map(Duration::from_secs)),
    }
}

fn env_value<T: std::str::FromStr>(name: &str, what: &str) -> anyhow::Result<Option<T>> {
    env_text(name)?
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("{name} must be {what}"))
        })
        .transpose()
}

/// An environment variable's text, if set. One that is not UTF-8 is refused, naming it and not
/// its value (which may be a secret), rather than taken as unset: an unreadable
/// `CREDLEDGER_MASTER_KEYS` must not fall back to the key file.
pub fn env_text(name: &str) -> anyhow::Result<Option<String>> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => anyhow::bail!("{name} is not valid UTF-8"),
    }
}

impl JobSettings {
    /// Environment over the file's `[jobs]` table over defaults. `dev`: the demo ledger of
    /// `serve --dev`, where a refresh margin near the simulator's hour (refreshes within
    /// seconds, as the dashboard's end-to-end tests use) spends nothing that matters.
    pub fn resolve(file: FileJobs, dev: bool) -> anyhow::Result<Self> {
        let d = Self::default();
        let enabled = match env_text("CREDLEDGER_JOBS")? {
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                _ => anyhow::bail!("CREDLEDGER_JOBS must be `on` or `off`"),
            },
            None => file.enabled.unwrap_or(d.enabled),
        };
        let secs = |env: &str, file: Option<u64>, default: Duration| -> anyhow::Result<Duration> {
            let s = env_value::<u64>(env, "a whole number of seconds")?.or(file);
            match s {
                Some(0) => anyhow::bail!("{env} must be at least 1 second"),
                Some(s) => longest_interval(env, Duration::from_secs(s)),
                None => Ok(default),
            }
        };
        let days =
            |env: &str, file: Option<u32>| match env_value::<u32>(env, "a whole number of days")?
                .or(file)
            {
                Some(n) if n > LONGEST_WINDOW_DAYS => {
                    anyhow::bail!("{env} must be at most {LONGEST_WINDOW_DAYS} days")
                }
                n => anyhow::Ok(n),
            };
        let in_days =
            |n: Option<u32>, default| n.map_or(default, |n| chrono::Duration::days(i64::from(n)));
        let stale_days = days("CREDLEDGER_REVALIDATE_STALE_DAYS", file.stale_days)?;
        // Stale after no time at all, every credential is stale at every run: each run (hourly
        // by default) would send every credential to its provider again and record a check
        // for each. (`validate-all --stale-days 0` stays: a one-off that checks everything.)
        anyhow::ensure!(
            stale_days != Some(0),
            "the staleness of a credential (CREDLEDGER_REVALIDATE_STALE_DAYS, stale_days) must \
             be at least 1 day: with 0 every run checks every credential again"
        );
        let concurrency = env_value::<usize>("CREDLEDGER_REVALIDATE_CONCURRENCY", "a number")?
            .or(file.concurrency)
            .unwrap_or(d.concurrency);
        anyhow::ensure!(
            (1..=1024).contains(&concurrency),
            "the revalidation concurrency must be between 1 and 1024"
        );
        let webhook_url = env_text("CREDLEDGER_EXPIRY_WEBHOOK_URL")?
            .or(file.expiry_webhook_url)
            .filter(|u| !u.trim().is_empty());
        if let Some(url) = &webhook_url {
            check_webhook_url(url)?;
        }
        Ok(Self {
            enabled,
            revalidate_interval: secs(
                "CREDLEDGER_REVALIDATE_INTERVAL_SECS",
                file.revalidate_interval_secs,
                d.revalidate_interval,
            )?,
            stale_after: in_days(stale_days, d.stale_after),
            concurrency,
            expiry_interval: secs(
                "CREDLEDGER_EXPIRY_INTERVAL_SECS",
                file.expiry_interval_secs,
                d.expiry_interval,
            )?,
            warning_window: in_days(
                days("CREDLEDGER_EXPIRY_WARNING_DAYS", file.expiry_warning_days)?,
                d.warning_window,
            ),
            webhook_url,
            mcp: mcp_sync_settings(d.mcp)?,
            oauth_refresh_interval: secs(
                "CREDLEDGER_OAUTH_REFRESH_INTERVAL_SECS",
                None,
                d.oauth_refresh_interval,
            )?,
            oauth_refresh_margin: match env_value::<u32>(
                "CREDLEDGER_OAUTH_REFRESH_MARGIN_SECS",
                "a whole number of seconds",
            )? {
                // At or past a token's lifetime (Google's: an hour) every token would be
                // refreshed, and an event recorded, at every pass; near it, every few seconds.
                Some(s) if s > LONGEST_REFRESH_MARGIN_S && !dev => anyhow::bail!(
                    "CREDLEDGER_OAUTH_REFRESH_MARGIN_SECS must be at most \
                     {LONGEST_REFRESH_MARGIN_S} seconds (half an hour)"
                ),
                s => s.map_or(d.oauth_refresh_margin, |s| {
                    chrono::Duration::seconds(i64::from(s))
                }),
            },
            ..d
        })
    }
}

/// The MCP sender's settings from the environment (for operators, and for tests that need a
/// short lease and fast retries).
fn mcp_sync_settings(
    d: crate::mcp::sync::SyncSettings,
) -> anyhow::Result<crate::mcp::sync::SyncSettings> {
    let ms = |env: &str, default: Duration| -> anyhow::Result<Duration> {
        env_value::<u64>(env, "a whole number of milliseconds")?.map_or(Ok(default), |ms| {
            longest_interval(env, Duration::from_millis(ms))
        })
    };
    let attempts =
        env_value::<u32>("CREDLEDGER_MCP_SYNC_ATTEMPTS", "a number")?.unwrap_or(d.attempts);
    anyhow::ensure!(
        (1..=100).contains(&attempts),
        "CREDLEDGER_MCP_SYNC_ATTEMPTS must be between 1 and 100"
    );
    let settings = crate::mcp::sync::SyncSettings {
        attempts,
        base_delay: ms("CREDLEDGER_MCP_RETRY_BASE_MS", d.base_delay)?,
        max_delay: ms("CREDLEDGER_MCP_RETRY_MAX_MS", d.max_delay)?,
        retry_failed_every: ms("CREDLEDGER_MCP_RETRY_FAILED_MS", d.retry_failed_every)?,
        timeout: ms("CREDLEDGER_MCP_TIMEOUT_MS", d.timeout)?,
        drift_every: ms("CREDLEDGER_MCP_DRIFT_CHECK_MS", d.drift_every)?,
        poll: ms("CREDLEDGER_MCP_POLL_MS", d.poll)?,
        lease_ttl: ms("CREDLEDGER_MCP_LEASE_TTL_MS", d.lease_ttl)?,
        remove_orphans: env_value::<bool>("CREDLEDGER_MCP_REMOVE_ORPHANS", "true or false")?
            .unwrap_or(d.remove_orphans),
    };
    anyhow::ensure!(
        !settings.base_delay.is_zero()
            && !settings.timeout.is_zero()
            && !settings.poll.is_zero()
            && !settings.retry_failed_every.is_zero()
            && settings.lease_ttl >= Duration::from_millis(300),
        "the MCP sync delays must be positive and its lease at least 300 ms"
    );
    check_mcp_timeout(&settings)?;
    Ok(settings)
}

/// The sender makes a row's next request only while its lease is not counted lost, which is a
/// margin before it may lapse: a request must end within that margin, or it could still be
/// awaited when another instance takes the lease and makes the same row's request.
fn check_mcp_timeout(settings: &crate::mcp::sync::SyncSettings) -> anyhow::Result<()> {
    let margin = crate::jobs::lost_margin(settings.lease_ttl);
    anyhow::ensure!(
        settings.timeout < margin,
        "CREDLEDGER_MCP_TIMEOUT_MS ({} ms) must be below a sixth of CREDLEDGER_MCP_LEASE_TTL_MS \
         ({} ms, a sixth: {} ms): a request may otherwise still be under way when another \
         instance takes the lease over and sends the same change again",
        settings.timeout.as_millis(),
        settings.lease_ttl.as_millis(),
        margin.as_millis()
    );
    Ok(())
}

/// An expiry webhook must be an absolute http(s) URL.
pub fn check_webhook_url(url: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| anyhow::anyhow!("the expiry webhook URL is not a valid URL"))?;
    anyhow::ensure!(
        matches!(parsed.scheme(), "http" | "https") && parsed.has_host(),
        "the expiry webhook URL must be an http:// or https:// URL"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_shot_command_waits_for_a_connection_ten_seconds_unless_configured_longer() {
        let service = Settings::resolve(&Common::default(), None, false)
            .expect("the defaults resolve without a file or variables");
        assert_eq!(
            service.database().connection_wait,
            credledger_adapters::db::DEFAULT_CONNECTION_WAIT
        );

        let command = service.clone().for_one_shot_command();
        assert_eq!(command.database().connection_wait, COMMAND_CONNECTION_WAIT);
        assert_eq!(command.read_your_writes_ms, 0);

        let patient = Settings {
            db_connection_wait: Duration::from_secs(30),
            ..service
        };
        assert_eq!(
            patient.for_one_shot_command().database().connection_wait,
            Duration::from_secs(30)
        );
    }

    /// The settings a configuration file holding `text` resolves to (no flags, no variables).
    fn resolved_from_file(text: &str) -> Result<Settings, String> {
        Ok(resolved_with_jobs(text)?.0)
    }

    fn resolved_with_jobs(text: &str) -> Result<(Settings, JobSettings), String> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("credledger.toml");
        std::fs::write(&file, text).expect("the file is written");
        let common = Common {
            config: Some(file),
            ..Common::default()
        };
        Settings::resolve_with_jobs(&common, None, false).map_err(|e| e.to_string())
    }

    /// Trimmed as the token presented is (a token kept in a file ends in a newline). Sets a
    /// variable of this process: nextest runs each test in a process of its own.
    #[test]
    fn the_metrics_token_is_taken_without_surrounding_whitespace() {
        std::env::set_var("CREDLEDGER_METRICS_TOKEN", "scrape-token\n");
        let settings = resolved_from_file("").expect("the token resolves");
        std::env::remove_var("CREDLEDGER_METRICS_TOKEN");
        assert_eq!(settings.metrics_token.as_deref(), Some("scrape-token"));
    }

    /// A request the MCP sender begins while its lease is not counted lost must end before the
    /// lease may lapse: a timeout not below the lease's margin (a sixth of its TTL) is refused,
    /// naming both variables.
    #[test]
    fn an_mcp_request_timeout_not_below_a_sixth_of_the_lease_is_refused() {
        let defaults = crate::mcp::sync::SyncSettings::default();
        check_mcp_timeout(&defaults).expect("the defaults hold");
        let check = |ttl_ms: u64, timeout_ms: u64| {
            check_mcp_timeout(&crate::mcp::sync::SyncSettings {
                lease_ttl: Duration::from_millis(ttl_ms),
                timeout: Duration::from_millis(timeout_ms),
                ..defaults.clone()
            })
            .map_err(|e| e.to_string())
        };
        check(60_000, 9_999).expect("a timeout below a sixth holds");
        assert_eq!(
            check(60_000, 10_000).err().as_deref(),
            Some(
                "CREDLEDGER_MCP_TIMEOUT_MS (10000 ms) must be below a sixth of \
                 CREDLEDGER_MCP_LEASE_TTL_MS (60000 ms, a sixth: 10000 ms): a request may \
                 otherwise still be under way when another instance takes the lease over and \
                 sends the same change again"
            )
        );
        // The lease's default (90 s) with a longer timeout alone, too.
        assert!(check(90_000, 20_000).is_err_and(|e| e.contains("(90000 ms, a sixth: 15000 ms)")));
        // Resolving the settings checks it (here on defaults given, no variable set).
        let slow = crate::mcp::sync::SyncSettings {
            timeout: Duration::from_secs(20),
            ..defaults
        };
        assert!(mcp_sync_settings(slow).is_err());
    }

    #[test]
    fn a_pool_of_no_connections_or_no_live_checks_is_refused() {
        for (text, message) in [
            (
                "db_connections = 0\n",
                "the database connections per pool (--db-connections, \
                 CREDLEDGER_DB_CONNECTIONS, db_connections) must be at least 1",
            ),
            (
                "validations_per_minute = 0\n",
                "the live checks a minute (CREDLEDGER_VALIDATIONS_PER_MINUTE, \
                 validations_per_minute) must be at least 1",
            ),
        ] {
            assert_eq!(resolved_from_file(text).err().as_deref(), Some(message));
        }
    }

    #[test]
    fn a_database_connection_wait_of_nothing_is_refused() {
        let refused = resolved_from_file("db_connection_wait_ms = 0\n").err();

        assert_eq!(
            refused.as_deref(),
            Some(
                "the database connection wait (CREDLEDGER_DB_CONNECTION_WAIT_MS, \
                 db_connection_wait_ms) must be at least 1 millisecond"
            )
        );
    }

    #[test]
    fn a_job_interval_or_window_past_any_schedule_is_refused_not_added_to_the_clock() {
        let (_, month) = resolved_with_jobs("[jobs]\nrevalidate_interval_secs = 2592000\n")
            .expect("30 days resolves");
        assert_eq!(month.revalidate_interval, LONGEST_INTERVAL);
        for (text, message) in [
            (
                "[jobs]\nrevalidate_interval_secs = 9223372036854775807\n",
                "CREDLEDGER_REVALIDATE_INTERVAL_SECS must be at most 30 days",
            ),
            (
                "[jobs]\nexpiry_interval_secs = 2592001\n",
                "CREDLEDGER_EXPIRY_INTERVAL_SECS must be at most 30 days",
            ),
            (
                "[jobs]\nstale_days = 4294967295\n",
                "CREDLEDGER_REVALIDATE_STALE_DAYS must be at most 3650 days",
            ),
            (
                "[jobs]\nexpiry_warning_days = 3651\n",
                "CREDLEDGER_EXPIRY_WARNING_DAYS must be at most 3650 days",
            ),
        ] {
            assert_eq!(resolved_with_jobs(text).err().as_deref(), Some(message));
        }
    }

    /// A staleness of no time makes every credential stale at every run: each run would check
    /// (and record a check of) every credential again. A staleness shorter than the interval
    /// is kept: it checks every credential once a run, which is what it says.
    #[test]
    fn a_staleness_of_zero_days_is_refused_by_name() {
        let refused = resolved_with_jobs("[jobs]\nstale_days = 0\n").err();
        assert_eq!(
            refused.as_deref(),
            Some(
                "the staleness of a credential (CREDLEDGER_REVALIDATE_STALE_DAYS, stale_days) \
                 must be at least 1 day: with 0 every run checks every credential again"
            )
        );
        let (_, weekly) =
            resolved_with_jobs("[jobs]\nstale_days = 1\nrevalidate_interval_secs = 604800\n")
                .expect("a day's staleness with a weekly run resolves");
        assert_eq!(weekly.stale_after, chrono::Duration::days(1));
        assert_eq!(weekly.revalidate_interval, Duration::from_secs(604_800));
    }

    #[test]
    fn without_a_public_url_an_oauth_client_needs_a_loopback_listen_address() {
        let at = |text: &str| text.parse::<std::net::SocketAddr>().expect("an address");
        let google = ["google"];
        for (bind, why) in [
            ("10.0.0.5:8080", "in clear"),
            ("[2001:db8::5]:8080", "in clear"),
            ("0.0.0.0:8080", "which no provider accepts"),
            ("[::]:8080", "which no provider accepts"),
        ] {
            let refused = oauth_public_url(None, at(bind), &google)
                .err()
                .unwrap_or_else(|| panic!("{bind} was accepted"))
                .to_string();
            assert!(
                refused.contains("an OAuth client is configured (google) but no public URL")
                    && refused.contains(why)
                    && refused.contains("CREDLEDGER_PUBLIC_URL"),
                "{bind}: {refused}"
            );
        }
        for (bind, url) in [
            ("127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("[::1]:8080", "http://[::1]:8080"),
        ] {
            assert_eq!(
                oauth_public_url(None, at(bind), &google).expect("accepted"),
                url
            );
        }
        // A public URL given is checked, and used as given.
        let given = Some("https://creds.example.com/");
        assert_eq!(
            oauth_public_url(given, at("10.0.0.5:8080"), &google).expect("accepted"),
            "https://creds.example.com/"
        );
        assert!(
            oauth_public_url(Some("http://creds.example.com"), at("127.0.0.1:1"), &google).is_err()
        );
        // Without an OAuth client nothing is sent back here: neither is checked.
        assert_eq!(
            oauth_public_url(None, at("10.0.0.5:8080"), &[]).expect("accepted"),
            "http://10.0.0.5:8080"
        );
        assert_eq!(
            oauth_public_url(Some("http://creds.internal"), at("10.0.0.5:8080"), &[])
                .expect("accepted"),
            "http://creds.internal"
        );
    }

    #[test]
    fn a_public_url_is_an_https_address_or_http_on_loopback() {
        for given in [
            "https://creds.example.com",
            "https://Creds.Example.com:443/ledger/",
            "http://127.0.0.1:8080",
            "http://localhost:8080/",
            "http://[::1]:8080",
        ] {
            check_public_url(given).unwrap_or_else(|e| panic!("{given}: {e}"));
        }
        for (given, why) in [
            ("creds.example.com", "relative URL without a base"),
            (
                "http://creds.example.com",
                "plain http is accepted for a loopback host only",
            ),
            ("ftp://creds.example.com", "`ftp` is not http or https"),
            ("https://admin:pw@creds.example.com", "it holds credentials"),
            (
                "https://creds.example.com/?next=x",
                "it has a query or a fragment",
            ),
            (
                "https://creds.example.com/#top",
                "it has a query or a fragment",
            ),
        ] {
            let refused = check_public_url(given)
                .err()
                .unwrap_or_else(|| panic!("{given} was accepted"))
                .to_string();
            assert!(
                refused.starts_with("CREDLEDGER_PUBLIC_URL (`public_url`) must be")
                    && refused.contains(why),
                "{given}: {refused}"
            );
            assert!(!refused.contains("pw"), "{refused}");
        }
        // Read as given, whatever it says: only `serve` with an OAuth client checks it (a
        // `ledger verify` under an old configuration is not refused for it).
        let settings =
            resolved_from_file("public_url = \"http://creds.internal:8080/\"\n").expect("resolved");
        assert_eq!(
            settings.public_url.as_deref(),
            Some("http://creds.internal:8080/")
        );
    }

    #[test]
    fn the_client_waits_are_read_from_the_file_and_none_is_refused() {
        let settings = resolved_from_file("header_wait_s = 75\nwrite_wait_s = 45\n")
            .expect("waits of 75 and 45 s resolve");
        assert_eq!(settings.client_waits.header, Duration::from_secs(75));
        assert_eq!(settings.client_waits.write, Duration::from_secs(45));
        let defaults = resolved_from_file("").expect("no waits resolve");
        assert_eq!(defaults.client_waits, crate::http::ClientWaits::default());

        let refused = resolved_from_file("header_wait_s = 0\n").err();
        assert_eq!(
            refused.as_deref(),
            Some(
                "the header wait (CREDLEDGER_HEADER_WAIT_S, header_wait_s) must be at least \
                 1 second"
            )
        );
        let refused = resolved_from_file("write_wait_s = 0\n").err();
        assert_eq!(
            refused.as_deref(),
            Some(
                "the write wait (CREDLEDGER_WRITE_WAIT_S, write_wait_s) must be at least 1 \
                 second"
            )
        );
        let refused = resolved_from_file("write_wait_s = 86401\n").err();
        assert_eq!(
            refused.as_deref(),
            Some(
                "the write wait (CREDLEDGER_WRITE_WAIT_S, write_wait_s) must be at most 86400 \
                 seconds (a day)"
            )
        );
    }
}
