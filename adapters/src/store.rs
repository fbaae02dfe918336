//! Executing commands against the event store chosen at run time (postgres-es or sqlite-es),
//! with bounded retries on conflict, typed errors, and the resulting ledger position.

use crate::append::{Deciding, GroupAppender, NewEvent};
use crate::db::{Database, DbError, Pools};
use crate::remembered::Remembered;
use cqrs_es::persist::{
    EventStoreAggregateContext, PersistedEventRepository, PersistedEventStore, PersistenceError,
    ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework, EventEnvelope, EventStore};
use credledger_domain::EventMetadata;
use postgres_es::PostgresEventRepository;
use sqlite_es::SqliteEventRepository;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// postgres-es's or sqlite-es's repository for reading streams, and this process's group
/// writer for committing them: a command's events join whatever else is being appended at that
/// moment, in one transaction, instead of taking the position lock for a commit of their own.
/// The commit keeps the repositories' contract: the events follow the stream's length they were
/// decided on, or nothing is written and the framework hears of an optimistic-lock conflict.
pub struct GroupCommitRepository<R> {
    reads: R,
    appender: GroupAppender,
    attempt: Arc<Attempt>,
}

impl<R: PersistedEventRepository> PersistedEventRepository for GroupCommitRepository<R> {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.reads.get_events::<A>(aggregate_id).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.reads
            .get_last_events::<A>(aggregate_id, last_sequence)
            .await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        self.reads.get_snapshot::<A>(aggregate_id).await
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, serde_json::Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if snapshot_update.is_some() {
            // The stores run in event-store mode only (DESIGN.md §4).
            return Err(PersistenceError::UnknownError(
                "snapshots are not kept".to_owned().into(),
            ));
        }
        let Some(first) = events.first() else {
            return Ok(());
        };
        let after = first.sequence as i64 - 1;
        let events = events
            .iter()
            .map(|e| NewEvent {
                aggregate_type: A::TYPE,
                aggregate_id: e.aggregate_id.clone(),
                event_type: e.event_type.clone(),
                event_version: e.event_version.clone(),
                payload: e.payload.to_string(),
                metadata: e.metadata.to_string(),
            })
            .collect();
        let deciding = self.attempt.deciding.lock().ok().and_then(|mut d| d.take());
        match self.appender.append_decided(after, events, deciding).await {
            Ok(positions) => {
                if let Some(&last) = positions.last() {
                    self.attempt.position.store(last, Ordering::Relaxed);
                }
                Ok(())
            }
            Err(DbError::Conflict) => Err(PersistenceError::OptimisticLockError),
            Err(e) if e.is_unavailable() => Err(PersistenceError::ConnectionError(Box::new(e))),
            // Refused by the database (a constraint, a trigger): retrying would not help.
            Err(e) => Err(PersistenceError::UnknownError(Box::new(e))),
        }
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        self.reads.stream_events::<A>(aggregate_id).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        self.reads.stream_all_events::<A>().await
    }
}

/// Streams whose state is remembered at most.
const STREAMS_REMEMBERED: u64 = 20_000;

/// Each stream's last known length and state. A stream only grows, so a remembered state is
/// always a true prefix of it: one epoch serves forever.
type States<A> = Arc<Remembered<String, (usize, A)>>;

/// What one attempt at a command tells the store (and the store tells it back). The framework
/// has no room for it, so each attempt gets a store of its own holding it.
#[derive(Default)]
struct Attempt {
    /// Decide on the remembered state without reading the stream first. Safe: a commit is
    /// refused (a conflict) unless the stream is still exactly as long as the state remembered,
    /// and a decision that commits nothing is made again on the stream.
    trust_memory: bool,
    /// The state came from memory, unread: a refusal, or a decision to record nothing, must be
    /// checked against the stream.
    from_memory: AtomicBool,
    /// The global position of the attempt's last committed event (0: none committed).
    position: AtomicI64,
    /// Counts the attempt among the commands deciding their events until the group writer
    /// takes them (or the attempt ends without any).
    deciding: Mutex<Option<Deciding>>,
}

/// cqrs-es's event store (in its event-store mode: no snapshots) that remembers each stream's
/// last known state and sequence, and reads only the events after it. Loading a stream costs
/// its new events, not its whole history. A command's first attempt decides on the remembered
/// state without reading at all (see `Attempt`): the commit goes in only if the stream is
/// still exactly that long, so a stale memory costs a conflict and a fresh read, never a wrong
/// commit; a refusal, or a decision that there is nothing to record (a rename to the name the
/// memory has), is decided again on the stream before it is answered. Plain loads (what a
/// disclosure checks) always read the newer events.
pub struct CachingStore<R: PersistedEventRepository, A: Aggregate + Clone> {
    inner: PersistedEventStore<R, A>,
    db: Database,
    cache: States<A>,
    attempt: Arc<Attempt>,
}

impl<R: PersistedEventRepository, A: Aggregate + Clone + 'static> CachingStore<R, A> {
    fn new(inner: R, db: Database, cache: States<A>, attempt: Arc<Attempt>) -> Self {
        Self {
            inner: PersistedEventStore::new_event_store(inner),
            db,
            cache,
            attempt,
        }
    }

    /// The stream's events after `sequence`. (The repositories' own query formats the sequence
    /// into the SQL text, so PostgreSQL would parse and plan a new statement for every load.)
    async fn events_after(
        &self,
        id: &str,
        sequence: usize,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let rows = sqlx::query(
            "SELECT sequence, event_type, event_version, CAST(payload AS TEXT) AS payload, \
             CAST(metadata AS TEXT) AS metadata FROM events \
             WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 ORDER BY sequence",
        )
        .bind(A::TYPE)
        .bind(id)
        .bind(sequence as i64)
        .fetch_all(&self.db.any)
        .await
        .map_err(|e| AggregateError::DatabaseConnectionError(Box::new(e)))?;
        let decode = |e: String| AggregateError::DeserializationError(e.into());
        rows.iter()
            .map(|row| {
                let text = |c: &str| row.try_get::<String, _>(c).map_err(|e| e.to_string());
                let json = |c: &str| -> Result<serde_json::Value, String> {
                    serde_json::from_str(&text(c)?).map_err(|e| e.to_string())
                };
                let serialized = cqrs_es::persist::SerializedEvent::new(
                    id.to_owned(),
                    row.try_get::<i64, _>("sequence")
                        .map_err(|e| e.to_string())? as usize,
                    A::TYPE.to_owned(),
                    text("event_type")?,
                    text("event_version")?,
                    json("payload")?,
                    json("metadata")?,
                );
                EventEnvelope::<A>::try_from(serialized).map_err(|e| e.to_string())
            })
            .map(|r| r.map_err(decode))
            .collect()
    }

    fn remember(&self, id: &str, sequence: usize, state: A) {
        // A concurrent load or commit may already have remembered a later state.
        self.cache
            .insert_unless(id.to_owned(), 0, (sequence, state), |known, new| {
                known.0 >= new.0
            });
    }
}

impl<R, A> EventStore<A> for CachingStore<R, A>
where
    R: PersistedEventRepository,
    A: Aggregate + Clone + Send + Sync + 'static,
{
    type AC = EventStoreAggregateContext<A>;

    async fn load_events(
        &self,
        id: &str,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        self.inner.load_events(id).await
    }

    async fn load_aggregate(
        &self,
        id: &str,
    ) -> Result<EventStoreAggregateContext<A>, AggregateError<A::Error>> {
        let cached = self.cache.get(id, 0);
        if let Some((sequence, aggregate)) = &cached {
            if self.attempt.trust_memory {
                self.attempt.from_memory.store(true, Ordering::Relaxed);
                return Ok(EventStoreAggregateContext {
                    aggregate_id: id.to_owned(),
                    aggregate: aggregate.clone(),
                    current_sequence: *sequence,
                    current_snapshot: None,
                });
            }
        }
        let (mut sequence, mut aggregate) = cached.unwrap_or_default();
        let newer = self.events_after(id, sequence).await?;
        let fresh = !newer.is_empty();
        for envelope in newer {
            sequence = envelope.sequence;
            aggregate.apply(envelope.payload);
        }
        if fresh {
            self.remember(id, sequence, aggregate.clone());
        }
        Ok(EventStoreAggregateContext {
            aggregate_id: id.to_owned(),
            aggregate,
            current_sequence: sequence,
            current_snapshot: None,
        })
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: EventStoreAggregateContext<A>,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        // The handler applied its events to the context's aggregate as it emitted them, so the
        // context holds the state after the commit.
        let (id, after) = (
            context.aggregate_id.clone(),
            context.current_sequence + events.len(),
        );
        let state = context.aggregate.clone();
        let committed = self.inner.commit(events, context, metadata).await?;
        // On failure the remembered state (before this command) is still a true prefix.
        self.remember(&id, after, state);
        Ok(committed)
    }
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
pub struct CommandBus<A: Aggregate + Clone> {
    services: A::Services,
    memory: States<A>,
    db: Database,
    appender: GroupAppender,
    max_attempts: u32,
}

pub(crate) fn is_sqlite_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

/// The store of one attempt on the chosen backend. The repositories' futures are not
/// object-safe, so the choice is a macro over the two.
macro_rules! on_backend {
    ($bus:expr, $attempt:expr, |$store:ident| $body:expr) => {{
        let bus = $bus;
        match &bus.db.pools {
            Pools::Postgres(pool) => {
                let $store = bus.store(PostgresEventRepository::new(pool.clone()), $attempt);
                $body
            }
            Pools::Sqlite(pool) => {
                let $store = bus.store(SqliteEventRepository::new(pool.clone()), $attempt);
                $body
            }
        }
    }};
}

impl<A> CommandBus<A>
where
    A: Aggregate + Clone + 'static,
    A::Command: Clone,
    A::Error: Send + Sync + 'static,
    A::Services: Clone,
{
    /// A bus whose commits go through `appender` (the process's one group writer).
    pub fn new(db: &Database, appender: &GroupAppender, services: A::Services) -> Self {
        Self {
            services,
            memory: Arc::new(Remembered::new(STREAMS_REMEMBERED)),
            db: db.clone(),
            appender: appender.clone(),
            max_attempts: 16,
        }
    }

    /// One attempt's store: reads through `reads`, commits through the group writer, decides
    /// on this bus's remembered states.
    fn store<R: PersistedEventRepository>(
        &self,
        reads: R,
        attempt: Arc<Attempt>,
    ) -> CachingStore<GroupCommitRepository<R>, A> {
        CachingStore::new(
            GroupCommitRepository {
                reads,
                appender: self.appender.clone(),
                attempt: attempt.clone(),
            },
            self.db.clone(),
            self.memory.clone(),
            attempt,
        )
    }

    async fn execute_once(
        &self,
        id: &str,
        command: A::Command,
        metadata: HashMap<String, String>,
        attempt: Arc<Attempt>,
    ) -> Result<(), AggregateError<A::Error>> {
        on_backend!(self, attempt, |store| {
            CqrsFramework::new(store, vec![], self.services.clone())
                .execute_with_metadata(id, command, metadata)
                .await
        })
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
        let (mut attempt, mut trust_memory) = (0, true);
        let position = loop {
            attempt += 1;
            let state = Arc::new(Attempt {
                trust_memory,
                deciding: Mutex::new(Some(self.appender.deciding())),
                ..Attempt::default()
            });
            // No writer lock here: the group writer takes it for its transaction.
            let outcome = self
                .execute_once(id, command.clone(), map.clone(), state.clone())
                .await;
            // Decided (and handed over, or refused): no longer one the writer waits for.
            if let Ok(mut deciding) = state.deciding.lock() {
                deciding.take();
            }
            trust_memory = false;
            let from_memory = state.from_memory.load(Ordering::Relaxed);
            let last_committed = state.position.load(Ordering::Relaxed);
            let retry = match outcome {
                // Refused, or nothing to record, on the remembered state: another process may
                // have changed the stream since, and with nothing committed no conflict says
                // so; decide again on what the stream holds.
                Ok(()) | Err(AggregateError::UserError(_))
                    if from_memory && last_committed == 0 =>
                {
                    continue
                }
                Ok(()) => break last_committed,
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
        };
        if position > 0 {
            return Ok(Committed { position });
        }
        // Nothing appended (the command had nothing to record): the stream's newest event.
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

    /// The state and stream length this process last saw for the aggregate, without reading
    /// the stream: possibly behind it. Only for a decision whose write is refused unless the
    /// stream still has that length (a command's commit, a guarded append).
    pub fn remembered(&self, id: &str) -> Option<(i64, A)> {
        self.memory.get(id, 0).map(|(s, a)| (s as i64, a))
    }

    /// The aggregate's current state, replayed from its stream.
    pub async fn load(&self, id: &str) -> Result<A, CommandError<A::Error>> {
        Ok(self.load_sequenced(id).await?.1)
    }

    /// The aggregate's current state and its stream's length (the sequence of its newest
    /// event, 0 for an empty stream), read from the stream.
    pub async fn load_sequenced(&self, id: &str) -> Result<(i64, A), CommandError<A::Error>> {
        let attempt = Arc::new(Attempt::default());
        let result = on_backend!(self, attempt, |store| store.load_aggregate(id).await);
        result
            .map(|c| (c.current_sequence as i64, c.aggregate))
            .map_err(|e| match e {
                AggregateError::DatabaseConnectionError(e) => {
                    CommandError::Unavailable(e.to_string())
                }
                other => CommandError::Internal(other.to_string()),
            })
    }
}
