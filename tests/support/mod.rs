//! Test support: a fresh ledger per test on SQLite (a temporary directory) or PostgreSQL (a new
//! database, dropped afterwards), the real binary, and the real server.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use credledger::app::open_ledger;
use credledger::config::Settings;
use credledger::keys::IfMissing;
use credledger::{Application, Ledger, NewCredential, Running};
use credledger_adapters::crypto::MasterKeyring;
use credledger_adapters::Backend;
use credledger_domain::{CredentialId, EventMetadata, KeyringId, ServiceKey, UserId};
use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;

pub mod api;
pub mod chain;
pub mod hold;
pub mod mcp;
pub mod mcp_recorder;
pub mod prometheus;
pub mod ws;

pub const BIN: &str = env!("CARGO_BIN_EXE_credledger");

/// Runs a scenario `async fn(TestEnv)` on SQLite and on PostgreSQL, as two tests named after
/// it: `on_both_backends!(a_registered_credential_shows_in_the_summary)` makes
/// `a_registered_credential_shows_in_the_summary::on_sqlite` and `…::on_postgres` (the module
/// and the function share the name: one is a type-namespace item, the other a value). Name the
/// scenario with a sentence that says what it proves.
///
/// Without CREDLEDGER_TEST_DATABASE_URL `on_postgres` passes after printing that it was skipped,
/// unless CREDLEDGER_REQUIRE_POSTGRES is set (scripts/test always sets it): then it fails.
#[macro_export]
macro_rules! on_both_backends {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_sqlite() {
                super::$scenario($crate::support::TestEnv::sqlite().await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_postgres() {
                if let Some(env) = $crate::support::TestEnv::postgres().await {
                    super::$scenario(env).await
                }
            }
        }
    };
}

/// One test's ledger: its database, data directory and master key file.
pub struct TestEnv {
    pub backend: Backend,
    pub database_url: Option<String>,
    pub dir: tempfile::TempDir,
    pub key_file: PathBuf,
    pg: Option<PgDatabase>,
}

struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside any runtime guarantee: use a short-lived one on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&pool)
                        .await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}

fn admin_url() -> Option<String> {
    let url = std::env::var("CREDLEDGER_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() && std::env::var("CREDLEDGER_REQUIRE_POSTGRES").is_ok() {
        panic!(
            "CREDLEDGER_REQUIRE_POSTGRES is set but CREDLEDGER_TEST_DATABASE_URL is not: a \
             PostgreSQL test must not be skipped here (scripts/pg-test-cluster starts one)"
        );
    }
    url
}

/// Tells on the terminal that a PostgreSQL test did not run. Written to stderr itself, not with
/// `eprintln!`, which the test harness captures and shows only for failures; the test thread
/// is named after the test.
fn say_skipped() {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a PostgreSQL test");
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: CREDLEDGER_TEST_DATABASE_URL is not set (scripts/test sets it)"
    );
}

/// `base` with its database name replaced.
fn with_database(base: &str, name: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let cut = head
        .rfind('/')
        .filter(|i| head[..*i].contains("://") && *i > head.find("://").unwrap() + 2);
    let mut url = match cut {
        Some(i) => format!("{}/{}", &head[..i], name),
        None => format!("{head}/{name}"),
    };
    if let Some(q) = query {
        url = format!("{url}?{q}");
    }
    url
}

impl TestEnv {
    fn new(backend: Backend, database_url: Option<String>, pg: Option<PgDatabase>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("master.keys");
        MasterKeyring::generate_file(&key_file).unwrap();
        Self {
            backend,
            database_url,
            dir,
            key_file,
            pg,
        }
    }

    pub async fn sqlite() -> Self {
        Self::new(Backend::Sqlite, None, None)
    }

    /// A fresh PostgreSQL database, or `None` (the caller returns: the test is skipped, and says
    /// so) when no test server is configured and none is required.
    pub async fn postgres() -> Option<Self> {
        let Some(admin) = admin_url() else {
            say_skipped();
            return None;
        };
        let name = format!("cl_test_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&admin)
            .await
            .expect("connect to the test server");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .expect("create the test database");
        pool.close().await;
        let url = with_database(&admin, &name);
        Some(Self::new(
            Backend::Postgres,
            Some(url),
            Some(PgDatabase {
                admin_url: admin,
                name,
            }),
        ))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn settings(&self) -> Settings {
        Settings {
            database_url: self.database_url.clone(),
            data_dir: self.data_dir(),
            master_keys: None,
            master_key_file: self.key_file.clone(),
            bind: "127.0.0.1:0".into(),
            db_connections: 40,
            // Not the service's one second: two test processes, their servers, their command
            // runs and PostgreSQL share two cores here, and a new connection sometimes takes
            // longer than that (over two seconds seen). Answering those requests
            // `UNAVAILABLE` is the service's designed backpressure, which `tests/outage.rs`
            // checks on the real binary with its default; the other tests are not about it.
            db_connection_wait: credledger::config::COMMAND_CONNECTION_WAIT,
            dev: false,
            read_your_writes_ms: 5_000,
            validations_per_minute: 10,
            // Off: tests of the limit turn it on (tests/limits.rs).
            api_requests_per_minute: 0,
            provider_urls: Default::default(),
            catalog_file: None,
            public_names: Vec::new(),
            trusted_proxies: Vec::new(),
            outbound: credledger_adapters::outbound::OutboundPolicy {
                allow_loopback: true,
                ..Default::default()
            },
            public_url: None,
            oauth_clients: Default::default(),
            metrics_token: None,
            metrics_listen: None,
            ready_max_lag: credledger::config::DEFAULT_READY_MAX_LAG,
            client_waits: Default::default(),
        }
    }

    /// The ledger's use cases, opened in this process (no projection runner: call
    /// `ledger.projections.catch_up()` to bring read models up to date).
    pub async fn ledger(&self) -> Arc<Ledger> {
        let settings = self.settings().for_one_shot_command();
        open_ledger(&settings, IfMissing::Fail).await.unwrap()
    }

    /// The real server on an ephemeral port, projections running.
    pub async fn serve(&self) -> Running {
        Application::build(self.settings())
            .await
            .unwrap()
            .start()
            .await
            .unwrap()
    }

    /// The real server without its scheduled work (revalidation, expiry, the MCP sender), for
    /// tests that need the ledger to stand still once their own writers stop.
    pub async fn serve_without_jobs(&self) -> Running {
        let jobs = credledger::config::JobSettings {
            enabled: false,
            ..Default::default()
        };
        Application::build_with_jobs(self.settings(), jobs)
            .await
            .unwrap()
            .start()
            .await
            .unwrap()
    }

    /// The real binary, configured for this ledger.
    pub fn cli(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CREDLEDGER_DATA_DIR", self.data_dir())
            .env("CREDLEDGER_MASTER_KEY_FILE", &self.key_file)
            .env("CREDLEDGER_LOG", "warn")
            // As `settings` does, for the same reason; tests of the default remove it.
            .env(
                "CREDLEDGER_DB_CONNECTION_WAIT_MS",
                credledger::config::COMMAND_CONNECTION_WAIT
                    .as_millis()
                    .to_string(),
            )
            // Provider stand-ins listen on loopback.
            .env("CREDLEDGER_OUTBOUND_ALLOW_LOOPBACK", "1");
        if let Some(url) = &self.database_url {
            cmd.env("DATABASE_URL", url);
        }
        cmd
    }

    /// A raw connection pool to this test's database (for inspection and tampering).
    pub async fn any_pool(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        let url = match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}",
                self.data_dir().join("credledger.sqlite").display()
            ),
        };
        sqlx::AnyPool::connect(&url).await.unwrap()
    }
}

/// Polls `check` until it holds; fails after a minute (a hang guard, not a speed assertion).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Polls `check` until it holds; fails once `limit` has passed since `since`. For answers that
/// must change before some other mechanism would change them anyway (a remembered answer's
/// ten-second cap), so the limit sits well inside that, not at a speed.
pub async fn within<F, Fut>(
    since: std::time::Instant,
    limit: std::time::Duration,
    what: &str,
    mut check: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    while !check().await {
        assert!(since.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Metadata for a test actor.
pub fn meta(actor: &str) -> EventMetadata {
    EventMetadata {
        actor: actor.into(),
        occurred_at: chrono::Utc::now(),
        request_id: uuid::Uuid::new_v4().to_string(),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("credledger-tests".into()),
    }
}

pub fn new_id() -> CredentialId {
    CredentialId::from_uuid(uuid::Uuid::new_v4())
}

/// The keyring of `user` for `service`.
pub fn keyring_id(user: &str, service: &str) -> KeyringId {
    KeyringId::new(
        UserId::parse(user).unwrap(),
        ServiceKey::parse(service).unwrap(),
    )
}

/// What a process wrote, standard output then standard error.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts that `what` (a command of the real binary) exited 0, showing what it wrote if not.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}): {}",
        out.status,
        output_text(out)
    );
}

/// Registers a credential with the given fields (JSON text); returns its id.
pub async fn register(
    ledger: &Ledger,
    user: &str,
    service: &str,
    name: &str,
    fields: &str,
) -> Result<CredentialId, credledger::LedgerError> {
    register_with(ledger, user, service, name, fields, None, &meta(user)).await
}

/// Registers a credential, optionally with the live check's outcome, as `actor` (metadata).
pub async fn register_with(
    ledger: &Ledger,
    user: &str,
    service: &str,
    name: &str,
    fields: &str,
    validation: Option<credledger_domain::keyring::ValidationOutcome>,
    metadata: &EventMetadata,
) -> Result<CredentialId, credledger::LedgerError> {
    let id = new_id();
    ledger
        .register(
            NewCredential {
                user_id: user,
                service,
                name,
                fields_json: fields.as_bytes(),
                metadata: Default::default(),
                validation,
            },
            id,
            metadata,
        )
        .await?;
    Ok(id)
}

/// Metadata as the ledger writes it (`EventMetadata::to_map`), for events a test writes
/// straight into the store.
pub const EVENT_METADATA: &str =
    r#"{"actor":"test","occurred_at":"2026-01-01T00:00:00.000000Z","request_id":"test"}"#;

/// A valid validation outcome for an account id.
pub fn valid(account: &str) -> credledger_domain::keyring::ValidationOutcome {
    credledger_domain::keyring::ValidationOutcome::Valid {
        account: credledger_domain::keyring::AccountIdentity {
            id: account.into(),
            display_name: Some(format!("Account {account}")),
            email: None,
        },
        provider_metadata: Default::default(),
        scopes: vec![],
        expires_at: None,
    }
}

/// A valid validation outcome for an account id, the token expiring at `at`.
pub fn valid_until(
    account: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> credledger_domain::keyring::ValidationOutcome {
    match valid(account) {
        credledger_domain::keyring::ValidationOutcome::Valid {
            account,
            provider_metadata,
            scopes,
            ..
        } => credledger_domain::keyring::ValidationOutcome::Valid {
            account,
            provider_metadata,
            scopes,
            expires_at: Some(at),
        },
        other => other,
    }
}

/// Rows of a table with every column cast to text in SQL (binary as hex), ordered, for
/// comparisons and canary searches. Works for any column type on both backends.
pub async fn dump_table(
    pool: &sqlx::AnyPool,
    table: &str,
    order_by: &str,
) -> Vec<Vec<Option<String>>> {
    use sqlx::Row;
    let postgres = pool
        .connect_options()
        .database_url
        .scheme()
        .starts_with("postgres");
    let names_sql = if postgres {
        "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
    } else {
        "SELECT name FROM pragma_table_info($1) ORDER BY cid"
    };
    let columns: Vec<String> = sqlx::query(names_sql)
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>("name").unwrap())
        .collect();
    assert!(
        !columns.is_empty(),
        "table {table} has no columns (does it exist?)"
    );
    let select: Vec<String> = columns
        .iter()
        .map(|c| {
            if postgres {
                // bytea casts to `\x` followed by hex.
                format!("CAST({c} AS TEXT)")
            } else {
                format!("CASE WHEN typeof({c}) = 'blob' THEN lower(hex({c})) ELSE CAST({c} AS TEXT) END")
            }
        })
        .collect();
    let rows = sqlx::query(&format!(
        "SELECT {} FROM {table} ORDER BY {order_by}",
        select.join(", ")
    ))
    .fetch_all(pool)
    .await
    .unwrap();
    rows.iter()
        .map(|row| {
            (0..columns.len())
                .map(|i| {
                    row.try_get::<Option<String>, _>(i)
                        .unwrap()
                        .map(|v| v.strip_prefix("\\x").map(str::to_owned).unwrap_or(v))
                })
                .collect()
        })
        .collect()
}

/// Makes the database refuse every event row `condition` (on `NEW`) holds for, with `message`
/// (on PostgreSQL with the SQLSTATE `code` when given: `57P03` reads as the database being
/// away): a trigger stands in for whatever the database may refuse. Undone by
/// [`accept_events_again`].
pub async fn refuse_events_where(
    pool: &sqlx::AnyPool,
    backend: Backend,
    condition: &str,
    message: &str,
    code: Option<&str>,
) {
    let statements = match backend {
        Backend::Postgres => {
            let code = code
                .map(|c| format!(" USING ERRCODE = '{c}'"))
                .unwrap_or_default();
            vec![
                format!(
                    "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql \
                     AS $$ BEGIN RAISE EXCEPTION '{message}'{code}; END $$"
                ),
                format!(
                    "CREATE TRIGGER events_refused BEFORE INSERT ON events FOR EACH ROW \
                     WHEN ({condition}) EXECUTE FUNCTION refuse_event()"
                ),
            ]
        }
        Backend::Sqlite => vec![format!(
            "CREATE TRIGGER events_refused BEFORE INSERT ON events \
             WHEN {condition} BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )],
    };
    for sql in statements {
        sqlx::query(&sql).execute(pool).await.unwrap();
    }
}

/// Drops what [`refuse_events_where`] made.
pub async fn accept_events_again(pool: &sqlx::AnyPool, backend: Backend) {
    let sql = match backend {
        Backend::Postgres => "DROP TRIGGER events_refused ON events",
        Backend::Sqlite => "DROP TRIGGER events_refused",
    };
    sqlx::query(sql).execute(pool).await.unwrap();
}
