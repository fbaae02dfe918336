//! Connecting to the ledger's database: PostgreSQL when `DATABASE_URL` is a `postgres://` URL,
//! an embedded SQLite file otherwise. Migrations, pools and the in-process "new events" signal.

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AnyPool, PgPool, Row, SqlitePool};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A database problem, with the detail kept for the log and a short message for people.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("the database URL is not valid: {0}")]
    BadUrl(String),
    #[error("could not open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("could not migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Another process held the migrations' lock for longer than a migration waits.
    #[error(
        "another process has been migrating the database for over {} minutes; nothing was \
         migrated (start again once it is done)",
        MIGRATION_WAIT.as_secs() / 60
    )]
    MigrationBusy,
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A command that only reads found no ledger where it was told to look, and created none.
    #[error(
        "there is no ledger at {at} ({why}); nothing was created (check DATABASE_URL, \
         CREDLEDGER_DATA_DIR or the directory this runs in)"
    )]
    NoLedger { at: String, why: &'static str },
    #[error("could not create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A group of appended events was not written (the reason is the group's).
    #[error("the events could not be appended: {0}")]
    Append(String),
    /// The group appender stopped (the process is shutting down).
    #[error("the event writer has stopped")]
    Closed,
    /// The database could not be reached while a group of events was written. When the
    /// connection failed at the commit itself, the events may have been written: the message
    /// says so, and the group is not written again.
    #[error("the database could not be reached: {0}")]
    Unavailable(String),
    /// Events decided on a stream of a given length were not written: another writer appended
    /// to that stream first. Nothing was written; decide again on the new state.
    #[error("another writer appended to the stream first")]
    Conflict,
}

impl DbError {
    /// Whether the database could not be reached (down, restarting, the connection cut, no
    /// connection free in time), as opposed to a statement it refused: the caller may try again
    /// in a moment.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Connect(e) | Self::Query(e) => unreachable(e),
            Self::Closed | Self::Unavailable(_) => true,
            _ => false,
        }
    }
}

/// Whether a driver error means the database could not be reached (SQLSTATE class 08, an admin
/// or crash shutdown, a refused or cut connection, a pool with no connection in time).
pub fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// How long a statement of the service waits for a PostgreSQL connection (a free one, or a new
/// one being opened) before its request fails as unavailable, unless configured otherwise
/// ([`DatabaseConfig::connection_wait`]): an outage is answered in about a second
/// (`UNAVAILABLE`, 503), not after the driver's 30 s default. Far above any wait under load on
/// a database with cores of its own (statements take milliseconds).
pub const DEFAULT_CONNECTION_WAIT: Duration = Duration::from_secs(1);

/// How long opening the database waits for PostgreSQL's first connection: one slower than
/// the statements' wait (a server briefly stalled, by a checkpoint on a busy machine say) is
/// tried again until this has passed. A refused connection still fails at once.
const PG_OPEN_WAIT: Duration = Duration::from_secs(10);

/// Opens a pool, trying again while its first connection is only slow (`PoolTimedOut`), up
/// to [`PG_OPEN_WAIT`].
async fn patiently<P, F>(open: impl Fn() -> F) -> Result<P, DbError>
where
    F: std::future::Future<Output = Result<P, sqlx::Error>>,
{
    let deadline = tokio::time::Instant::now() + PG_OPEN_WAIT;
    loop {
        match open().await {
            Err(sqlx::Error::PoolTimedOut) if tokio::time::Instant::now() < deadline => {
                tracing::warn!("PostgreSQL's first connection is slow; trying again");
            }
            opened => return opened.map_err(DbError::Connect),
        }
    }
}

/// How long PostgreSQL lets one of this process's sessions sit idle inside a transaction
/// before it ends the session. Every transaction here runs its statements back to back
/// (milliseconds apart); one that stops (its process frozen, its link gone quiet) may hold the
/// ledger's position lock, which every writer of every process waits for: this bounds that wait.
const IDLE_IN_TRANSACTION: &str = "10s";

/// Which database holds the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Clone)]
pub enum Pools {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// The ledger's database: typed pools for the event-store crates, and one `AnyPool` for the
/// SQL that is the same on both backends (feed, projections, keys, checkpoints).
#[derive(Clone)]
pub struct Database {
    pub any: AnyPool,
    pub pools: Pools,
    /// Signalled after this process commits events; consumers also poll and (on PostgreSQL)
    /// LISTEN, so events written by other processes are seen too.
    appended: Arc<watch::Sender<i64>>,
    /// SQLite has one writer: this process's writers queue here instead of in SQLite's sleeping
    /// busy handler. (Other processes still meet the busy timeout.)
    sqlite_writer: Arc<tokio::sync::Mutex<()>>,
    url: String,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// Where the ledger lives.
#[derive(Clone)]
pub struct DatabaseConfig {
    /// `postgres://…`, `sqlite://path` or a file path; `None` → `<data_dir>/credledger.sqlite`.
    pub url: Option<String>,
    pub data_dir: PathBuf,
    pub max_connections: u32,
    /// How long a statement waits for a PostgreSQL connection before it fails as unavailable
    /// ([`DEFAULT_CONNECTION_WAIT`] for the service; one-shot commands wait longer). SQLite
    /// keeps its own long waits.
    pub connection_wait: Duration,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.url.as_deref().map(redact_url))
            .field("data_dir", &self.data_dir)
            .field("max_connections", &self.max_connections)
            .field("connection_wait", &self.connection_wait)
            .finish()
    }
}

/// A URL with its password replaced by `***`, for logs: the user-info's and any query
/// parameter's whose name holds `password` (PostgreSQL takes `?password=` and `?sslpassword=`).
/// Text that is not a URL but holds `@` or `password` is not shown at all.
pub fn redact_url(url: &str) -> String {
    const HIDDEN: &str = "***";
    let Ok(mut parsed) = url::Url::parse(url) else {
        let lower = url.to_ascii_lowercase();
        return if lower.contains('@') || lower.contains("password") {
            "<a database URL that does not parse>".to_owned()
        } else {
            url.to_owned()
        };
    };
    // An `@` the parse did not read as the end of a user and password (`user:2024?secret@db`
    // parses as host `user`, port 2024): the password may be anywhere in what it read.
    let at_sign = url
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('@'));
    if at_sign && parsed.username().is_empty() && parsed.password().is_none() {
        return "<a database URL that does not parse as one>".to_owned();
    }
    if parsed.password().is_some() && parsed.set_password(Some(HIDDEN)).is_err() {
        return "<a database URL that does not parse>".to_owned();
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let hidden = name.to_ascii_lowercase().contains("password");
                let value = if hidden {
                    HIDDEN.into()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// The file a `sqlite://path`, `sqlite:path` or plain path URL names.
fn sqlite_path(url: &str) -> PathBuf {
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    PathBuf::from(path.strip_prefix("sqlite:").unwrap_or(path))
}

impl Database {
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        match config.url.as_deref() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Self::connect_postgres(url, config.max_connections, config.connection_wait).await
            }
            Some(url) => Self::connect_sqlite(&sqlite_path(url), true).await,
            None => {
                let created = !config.data_dir.exists();
                std::fs::create_dir_all(&config.data_dir).map_err(|source| DbError::DataDir {
                    path: config.data_dir.clone(),
                    source,
                })?;
                if created {
                    // The database holds ciphertexts and wrapped keys: owner only.
                    use std::os::unix::fs::PermissionsExt as _;
                    std::fs::set_permissions(
                        &config.data_dir,
                        std::fs::Permissions::from_mode(0o700),
                    )
                    .map_err(|source| DbError::DataDir {
                        path: config.data_dir.clone(),
                        source,
                    })?;
                }
                Self::connect_sqlite(&config.data_dir.join("credledger.sqlite"), true).await
            }
        }
    }

    /// Opens a ledger that is already there and creates nothing, for commands that only read
    /// (`ledger verify`, `ledger export`): a SQLite file or data directory that does not exist,
    /// or a database without the `events` table, is [`DbError::NoLedger`] (a mistyped
    /// `DATABASE_URL`, or a run from another directory, made an empty database, then failed on
    /// its missing table).
    pub async fn open_existing(config: &DatabaseConfig) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let (db, at) = match config.url.as_deref() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let db =
                    Self::connect_postgres(url, config.max_connections, config.connection_wait)
                        .await?;
                (db, redact_url(url))
            }
            url => {
                let path = match url {
                    Some(url) => sqlite_path(url),
                    None => config.data_dir.join("credledger.sqlite"),
                };
                if !path.is_file() {
                    return Err(DbError::NoLedger {
                        at: path.display().to_string(),
                        why: "no such file",
                    });
                }
                (
                    Self::connect_sqlite(&path, false).await?,
                    path.display().to_string(),
                )
            }
        };
        let events_table: Option<String> = match db.backend() {
            Backend::Postgres => sqlx::query_scalar("SELECT CAST(to_regclass('events') AS TEXT)"),
            Backend::Sqlite => sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'",
            ),
        }
        .fetch_optional(&db.any)
        .await?
        .flatten();
        if events_table.is_none() {
            return Err(DbError::NoLedger {
                at,
                why: "the database holds no events table",
            });
        }
        Ok(db)
    }

    async fn connect_postgres(url: &str, max: u32, wait: Duration) -> Result<Self, DbError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| DbError::BadUrl(e.to_string()))?
            .options([("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION)]);
        // No ping before each checkout: it doubled the round trips of every statement. A
        // connection the server dropped fails its next statement and is discarded.
        let pool = patiently(|| {
            PgPoolOptions::new()
                .max_connections(max)
                .test_before_acquire(false)
                .acquire_timeout(wait)
                .connect_with(options.clone())
        })
        .await?;
        let any = patiently(|| {
            AnyPoolOptions::new()
                .max_connections(max.clamp(2, 16))
                .test_before_acquire(false)
                .acquire_timeout(wait)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::query(&format!(
                            "SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION}'"
                        ))
                        .execute(&mut *conn)
                        .await?;
                        Ok(())
                    })
                })
                .connect(url)
        })
        .await?;
        Ok(Self {
            any,
            pools: Pools::Postgres(pool),
            appended: Arc::new(watch::channel(0).0),
            sqlite_writer: Arc::new(tokio::sync::Mutex::new(())),
            url: url.to_owned(),
        })
    }

    async fn connect_sqlite(path: &Path, create_if_missing: bool) -> Result<Self, DbError> {
        crate::sqlite_functions::register();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create_if_missing)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .pragma("secure_delete", "on");
        // One connection for the event store: SQLite has one writer, and queueing in-process
        // is fairer and faster than SQLite's sleeping busy handler.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options)
            .await
            .map_err(DbError::Connect)?;
        // The second pool is opened by URL, where `?` starts parameters and `%` an escape: the
        // path is escaped, or the two pools would open different files (`ledger.db?mode=rwc`
        // and `ledger.db`), one written, the other read.
        let Some(text) = path.to_str() else {
            return Err(DbError::BadUrl(format!(
                "the SQLite database path is not UTF-8: {}",
                path.display()
            )));
        };
        const ESCAPED: &percent_encoding::AsciiSet =
            &percent_encoding::CONTROLS.add(b'%').add(b'?').add(b'#');
        let url = format!(
            "sqlite://{}",
            percent_encoding::utf8_percent_encode(text, ESCAPED)
        );
        let any = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(60))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA busy_timeout = 30000")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = FULL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA secure_delete = ON")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(DbError::Connect)?;
        Ok(Self {
            any,
            pools: Pools::Sqlite(pool),
            appended: Arc::new(watch::channel(0).0),
            sqlite_writer: Arc::new(tokio::sync::Mutex::new(())),
            url,
        })
    }

    /// On SQLite, waits for this process's turn to write and holds it until the guard drops;
    /// on PostgreSQL, returns at once (it has row locks and its own queueing).
    pub async fn exclusive(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.pools {
            Pools::Sqlite(_) => Some(self.sqlite_writer.clone().lock_owned().await),
            Pools::Postgres(_) => None,
        }
    }

    /// Tells this process's feed consumers that events up to `position` were committed.
    pub fn signal_appended(&self, position: i64) {
        self.appended.send_modify(|p| *p = (*p).max(position));
    }

    /// A receiver that changes whenever [`Database::signal_appended`] is called; it holds the
    /// newest position this process committed.
    pub fn appended(&self) -> watch::Receiver<i64> {
        self.appended.subscribe()
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Postgres(_) => Backend::Postgres,
            Pools::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The connection URL (for LISTEN and for child processes); contains credentials.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn migrate(&self) -> Result<(), DbError> {
        match &self.pools {
            Pools::Postgres(pool) => {
                // A connection of its own, closed after: its session holds the lock, which
                // ends with it whatever happened (a pooled one would keep the lock).
                let mut conn = pool.acquire().await?.detach();
                let migrated = migrate_postgres(&mut conn).await;
                let _ = sqlx::Connection::close(conn).await;
                migrated?
            }
            Pools::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite").run(pool).await?,
        }
        Ok(())
    }

    /// The position of the newest event (0 for an empty ledger).
    pub async fn head(&self) -> Result<i64, DbError> {
        let row: AnyRow = sqlx::query(
            "SELECT CAST(COALESCE(MAX(global_position), 0) AS BIGINT) AS head FROM events",
        )
        .fetch_one(&self.any)
        .await?;
        Ok(row.try_get("head")?)
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.any).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.any.close().await;
        match &self.pools {
            Pools::Postgres(p) => p.close().await,
            Pools::Sqlite(p) => p.close().await,
        }
    }
}

/// How long a migration waits for another process's to end.
pub const MIGRATION_WAIT: Duration = Duration::from_secs(15 * 60);

/// The advisory lock sqlx's migrator takes on PostgreSQL (its `generate_lock_id`), so this
/// process and one migrating with sqlx's own locking exclude each other.
pub fn migration_lock_id(database: &str) -> i64 {
    const CRC_IEEE: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    0x3d32ad9e * i64::from(CRC_IEEE.checksum(database.as_bytes()))
}

/// PostgreSQL's migrations, under sqlx's lock taken by asking again, not by waiting in
/// `pg_advisory_lock` as sqlx does: a statement waiting there holds a snapshot, which a
/// `CREATE INDEX CONCURRENTLY` of the holder's migration (0017, 0018) waits for in turn; the
/// server aborted one of the two as a deadlock, and an aborted build leaves its index invalid,
/// which `IF NOT EXISTS` then takes as built. Those indexes, left invalid by that or by a build
/// killed midway, are mended here, under the lock.
async fn migrate_postgres(conn: &mut sqlx::PgConnection) -> Result<(), DbError> {
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut *conn)
        .await?;
    let lock = migration_lock_id(&database);
    let deadline = tokio::time::Instant::now() + MIGRATION_WAIT;
    while !sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
        .bind(lock)
        .fetch_one(&mut *conn)
        .await?
    {
        if tokio::time::Instant::now() >= deadline {
            return Err(DbError::MigrationBusy);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut migrator = sqlx::migrate!("../migrations/postgres");
    migrator.set_locking(false);
    migrator.run(&mut *conn).await?;
    mend_concurrent_indexes(conn).await;
    Ok(())
}

/// The indexes migrations build concurrently (0017, 0018).
const CONCURRENT_INDEXES: &[&str] = &["audit_trail_checks", "audit_trail_sync_failures"];

/// Rebuilds the migrations' concurrently built indexes that a stopped build left invalid, and
/// drops what a stopped rebuild left beside them (`…_ccnew`, `…_ccold`: invalid, and still
/// written at every insert). No one else's index is touched. A failure is logged, not fatal:
/// the indexes only speed up the admins' metrics, and the next start tries again.
async fn mend_concurrent_indexes(conn: &mut sqlx::PgConnection) {
    let found: Result<Vec<(String, String)>, sqlx::Error> = sqlx::query_as(
        "SELECT c.relname::text, quote_ident(n.nspname) || '.' || quote_ident(c.relname) \
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE NOT i.indisvalid AND n.nspname = current_schema()",
    )
    .fetch_all(&mut *conn)
    .await;
    let invalid = match found {
        Ok(invalid) => invalid,
        Err(e) => {
            tracing::warn!(error = %e, "could not look for invalid indexes");
            return;
        }
    };
    for (name, qualified) in invalid {
        let leftover = CONCURRENT_INDEXES.iter().any(|ours| {
            name.strip_prefix(ours)
                .and_then(|rest| rest.strip_prefix("_cc"))
                .is_some_and(|rest| rest.starts_with("new") || rest.starts_with("old"))
        });
        let statement = if leftover {
            format!("DROP INDEX CONCURRENTLY IF EXISTS {qualified}")
        } else if CONCURRENT_INDEXES.contains(&name.as_str()) {
            format!("REINDEX INDEX CONCURRENTLY {qualified}")
        } else {
            continue;
        };
        tracing::warn!(index = %name, "mending an index a build stopped midway left invalid");
        // Not waiting long behind another session's lock on the table.
        let mended = async {
            sqlx::query("SET lock_timeout = '10s'")
                .execute(&mut *conn)
                .await?;
            sqlx::query(&statement).execute(&mut *conn).await?;
            sqlx::query("RESET lock_timeout").execute(&mut *conn).await
        };
        if let Err(e) = mended.await {
            tracing::warn!(index = %name, error = %e, "could not mend the index; the next start tries again");
        }
    }
}

/// Timestamps in read models and key tables: RFC 3339, UTC, microseconds — sortable as text.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A time as [`timestamp`] keeps it: to the microsecond. What a row holds once stored and read
/// back; answers and folds built without the store use it, so they equal what is read later.
pub fn as_stored(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    chrono::SubsecRound::trunc_subsecs(t, 6)
}

/// Placeholders for `rows` tuples of `width` parameters, numbered from `$first`: numbered on
/// PostgreSQL, plain `?` on SQLite — there a named parameter (`$n`) costs a scan of every name
/// when binding, which makes statements with thousands of parameters quadratic (measured: a
/// 17,000-parameter insert took 2.2 s with `$n`, 28 ms with `?`). With `?`, parameters bind in
/// the order they appear, so callers bind in text order.
pub fn tuples(sqlite: bool, first: usize, rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let cols: Vec<String> = (0..width)
                .map(|c| {
                    if sqlite {
                        "?".to_owned()
                    } else {
                        format!("${}", first + r * width + c)
                    }
                })
                .collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a connection is SQLite's (for [`tuples`]).
pub fn is_sqlite(conn: &sqlx::AnyConnection) -> bool {
    conn.backend_name().eq_ignore_ascii_case("sqlite")
}

#[cfg(test)]
mod tests {
    use super::{redact_url, Database, DatabaseConfig};

    /// Each migration is as it was first put on main (`migrations/checksums`): one edited after
    /// a database ran it stops that database's every start (sqlx's `VersionMismatch`), as 0017
    /// did for a development ledger when it was rewritten in place.
    #[test]
    fn no_migration_is_edited_once_it_may_have_run() {
        let recorded = include_str!("../../migrations/checksums");
        let mut computed = Vec::new();
        for (backend, migrator) in [
            ("postgres", sqlx::migrate!("../migrations/postgres")),
            ("sqlite", sqlx::migrate!("../migrations/sqlite")),
        ] {
            for m in migrator.iter() {
                computed.push(format!(
                    "{backend} {} {}",
                    m.version,
                    hex::encode(&m.checksum)
                ));
            }
        }
        let recorded: Vec<&str> = recorded.lines().filter(|l| !l.starts_with('#')).collect();
        for line in &recorded {
            assert!(
                computed.contains(&(*line).to_owned()),
                "a migration was edited, or removed: {line} (write a new migration instead)"
            );
        }
        for line in &computed {
            assert!(
                recorded.contains(&line.as_str()),
                "a new migration: add `{line}` to migrations/checksums"
            );
        }
    }

    /// `sqlite://ledger.db?mode=rwc` (an idiom of sqlx's) opened the file `ledger.db?mode=rwc`
    /// for one pool and `ledger.db` for the other: appends went to one file, reads came from
    /// the other. Both pools open the one file the path names, whatever it holds.
    #[tokio::test]
    async fn both_pools_open_the_file_the_path_names() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for name in ["l.db?mode=rwc", "l%41.db", "l.db#x"] {
            let config = DatabaseConfig {
                url: Some(format!("sqlite://{}/{name}", dir.path().display())),
                data_dir: dir.path().into(),
                max_connections: 4,
                connection_wait: std::time::Duration::from_secs(1),
            };
            let db = Database::connect(&config).await.expect("opened");
            db.migrate().await.expect("migrated");
            // The tables the migrations made, through the other pool.
            let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
                .fetch_one(&db.any)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(events, 0);
            db.close().await;
            assert!(dir.path().join(name).exists(), "{name}");
        }
        let files: Vec<String> = std::fs::read_dir(dir.path())
            .expect("listed")
            .filter_map(|f| f.ok()?.file_name().into_string().ok())
            .filter(|f| !f.ends_with("-wal") && !f.ends_with("-shm"))
            .collect();
        assert_eq!(files.len(), 3, "{files:?}");
    }

    #[test]
    fn a_database_urls_passwords_are_hidden_wherever_they_are_written() {
        for url in [
            "postgres://app:hunter2@db.internal:5432/cl",
            "postgres://app@db.internal/cl?password=hunter2",
            "postgresql://app@db.internal/cl?sslmode=require&sslpassword=hunter2",
            "postgres://app:hunter2@db.internal:99999/cl",
            "postgres://app:p%40ss@db/cl?PassWord=hunter2",
            "postgres://app:2024?hunter2@db/cl",
            "postgres://app:2024/hunter2@db/cl",
        ] {
            let shown = redact_url(url);
            assert!(!shown.contains("hunter2"), "{url} → {shown}");
            assert!(!shown.contains("p%40ss"), "{url} → {shown}");
        }
        assert_eq!(
            redact_url("postgres://app:hunter2@db/cl?sslmode=require"),
            "postgres://app:***@db/cl?sslmode=require"
        );
        assert_eq!(redact_url("data/ledger.db"), "data/ledger.db");
    }
}
