//! Executing commands against the event store chosen at run time (postgres-es or sqlite-es),
//! with bounded retries on conflict, typed errors, and the resulting ledger position.

use crate::db::{Database, DbError, Pools};
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateError, CqrsFramework, EventStore};
use credledger_domain::EventMetadata;
use postgres_es::PostgresEventRepository;
use sqlite_es::SqliteEventRepository;
use sqlx::Row;
use std::time::Duration;

type PgStore<A> = PersistedEventStore<PostgresEventRepository, A>;
type LiteStore<A> = PersistedEventStore<SqliteEventRepository, A>;

/// One aggregate type's command handler on the chosen backend. The repositories' futures are not
/// object-safe, so the choice is an enum that delegates.
enum Framework<A: Aggregate> {
    Postgres(CqrsFramework<A, PgStore<A>>, PgStore<A>),
    Sqlite(CqrsFramework<A, LiteStore<A>>, LiteStore<A>),
}

/// Why a command did not take effect. `Domain` is the aggregate's refusal; the others are the
/// store's. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    #[error(transparent)]
    Domain(E),
    #[error("the record was changed by someone else at the same time; try again")]
    Conflict,
    #[error("the ledger is unavailable: {0}")]
    Unavailable(String),
    #[error("internal ledger error: {0}")]
    Internal(String),
}

impl<E: std::error::Error> From<DbError> for CommandError<E> {
    fn from(e: DbError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// What a committed command left: the ledger position of the stream's newest event (at least
/// the command's own last event), for read-your-writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub position: i64,
}

/// Commands of one aggregate type.
pub struct CommandBus<A: Aggregate> {
    framework: Framework<A>,
    db: Database,
    max_attempts: u32,
}

fn is_sqlite_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

impl<A> CommandBus<A>
where
    A: Aggregate + 'static,
    A::Command: Clone,
    A::Error: Send + Sync + 'static,
{
    pub fn new(db: &Database, services: A::Services) -> Self {
        let framework = match &db.pools {
            Pools::Postgres(pool) => Framework::Postgres(
                CqrsFramework::new(
                    PersistedEventStore::new_event_store(PostgresEventRepository::new(
                        pool.clone(),
                    )),
                    vec![],
                    services,
                ),
                PersistedEventStore::new_event_store(PostgresEventRepository::new(pool.clone())),
            ),
            Pools::Sqlite(pool) => Framework::Sqlite(
                CqrsFramework::new(
                    PersistedEventStore::new_event_store(SqliteEventRepository::new(pool.clone())),
                    vec![],
                    services,
                ),
                PersistedEventStore::new_event_store(SqliteEventRepository::new(pool.clone())),
            ),
        };
        Self {
            framework,
            db: db.clone(),
            max_attempts: 16,
        }
    }

    async fn execute_once(
        &self,
        id: &str,
        command: A::Command,
        metadata: std::collections::HashMap<String, String>,
    ) -> Result<(), AggregateError<A::Error>> {
        match &self.framework {
            Framework::Postgres(f, _) => f.execute_with_metadata(id, command, metadata).await,
            Framework::Sqlite(f, _) => f.execute_with_metadata(id, command, metadata).await,
        }
    }

    /// Runs a command, retrying a bounded number of times when another writer committed to the
    /// same stream first (the command is re-decided against the new state each time).
    pub async fn execute(
        &self,
        id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<Committed, CommandError<A::Error>> {
        let map = metadata.to_map();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.execute_once(id, command.clone(), map.clone()).await;
            let retry = match outcome {
                Ok(()) => break,
                Err(AggregateError::UserError(e)) => return Err(CommandError::Domain(e)),
                Err(AggregateError::AggregateConflict) => true,
                Err(AggregateError::DatabaseConnectionError(e)) => {
                    return Err(CommandError::Unavailable(e.to_string()))
                }
                Err(AggregateError::UnexpectedError(e)) if is_sqlite_busy(&e.to_string()) => true,
                Err(e) => return Err(CommandError::Internal(e.to_string())),
            };
            if retry && attempt >= self.max_attempts {
                return Err(CommandError::Conflict);
            }
            let jitter = rand::random::<u64>() % (2 * u64::from(attempt) + 1);
            tokio::time::sleep(Duration::from_millis(jitter)).await;
        }
        self.db.signal_appended();
        let row = sqlx::query(
            "SELECT CAST(COALESCE(MAX(global_position), 0) AS BIGINT) AS p FROM events \
             WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(A::TYPE)
        .bind(id)
        .fetch_one(&self.db.any)
        .await
        .map_err(DbError::from)?;
        Ok(Committed {
            position: row.try_get("p").map_err(DbError::from)?,
        })
    }

    /// The aggregate's current state, replayed from its stream.
    pub async fn load(&self, id: &str) -> Result<A, CommandError<A::Error>> {
        let result = match &self.framework {
            Framework::Postgres(_, store) => store.load_aggregate(id).await.map(|c| c.aggregate),
            Framework::Sqlite(_, store) => store.load_aggregate(id).await.map(|c| c.aggregate),
        };
        result.map_err(|e| match e {
            AggregateError::DatabaseConnectionError(e) => CommandError::Unavailable(e.to_string()),
            other => CommandError::Internal(other.to_string()),
        })
    }
}
