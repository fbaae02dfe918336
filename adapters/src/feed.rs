//! The global feed: every event of every stream, in commit order, by `global_position`.
//! Consumers (projections, the MCP replay adapter, subscriptions) read it from a checkpoint.

use crate::chain::ChainInput;
use crate::db::{Backend, Database, DbError, Pools};
use credledger_domain::EventMetadata;
use sqlx::{Any, AnyPool, Executor, Row};
use std::collections::HashMap;
use std::time::Duration;

/// One stored event as the feed returns it. `payload` and `metadata` are the stored JSON text
/// (the bytes the hash chain covers); a secret in the payload is ciphertext, the rest of it is
/// not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl FeedEvent {
    /// The stored metadata, read strictly ([`EventMetadata::from_map`]); an error says why not.
    pub fn metadata(&self) -> Result<EventMetadata, String> {
        let map: HashMap<String, String> = serde_json::from_str(&self.metadata)
            .map_err(|_| "the event's metadata is not a map of texts".to_owned())?;
        EventMetadata::from_map(&map)
    }

    pub fn chain_input(&self) -> ChainInput<'_> {
        ChainInput {
            position: self.position,
            prev_hash: &self.prev_hash,
            aggregate_type: &self.aggregate_type,
            aggregate_id: &self.aggregate_id,
            sequence: self.sequence,
            event_type: &self.event_type,
            event_version: &self.event_version,
            metadata: &self.metadata,
            payload: &self.payload,
        }
    }

    /// A stable id for the event (`{aggregate_type}/{aggregate_id}/{sequence}`), used as an
    /// idempotency key by consumers.
    pub fn event_id(&self) -> String {
        format!(
            "{}/{}/{}",
            self.aggregate_type, self.aggregate_id, self.sequence
        )
    }

    /// An event from a row of the feed's `SELECT`, read through `Any` or through a backend's own
    /// driver.
    pub fn from_row<R>(row: &R) -> Result<Self, sqlx::Error>
    where
        R: Row,
        for<'a> &'a str: sqlx::ColumnIndex<R>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(Self {
            position: row.try_get("global_position")?,
            aggregate_type: row.try_get("aggregate_type")?,
            aggregate_id: row.try_get("aggregate_id")?,
            sequence: row.try_get("sequence")?,
            event_type: row.try_get("event_type")?,
            event_version: row.try_get("event_version")?,
            payload: row.try_get("payload")?,
            metadata: row.try_get("metadata")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
        })
    }
}

/// The columns [`FeedEvent::from_row`] reads, selected from `events`.
const SELECT: &str = "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type, \
     event_version, CAST(payload AS TEXT) AS payload, CAST(metadata AS TEXT) AS metadata, \
     prev_hash, hash FROM events";

/// Reads up to `limit` events after position `after`, in order.
pub async fn read_after<'e>(
    executor: impl Executor<'e, Database = Any>,
    after: i64,
    limit: i64,
) -> Result<Vec<FeedEvent>, DbError> {
    read_between(executor, after, i64::MAX, limit).await
}

/// Reads up to `limit` events after position `after` and before position `before`, in order.
pub async fn read_between<'e>(
    executor: impl Executor<'e, Database = Any>,
    after: i64,
    before: i64,
    limit: i64,
) -> Result<Vec<FeedEvent>, DbError> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE global_position > $1 AND global_position < $2 \
         ORDER BY global_position LIMIT $3"
    ))
    .bind(after)
    .bind(before)
    .bind(limit)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .iter()
        .map(FeedEvent::from_row)
        .collect::<Result<_, _>>()?)
}

/// A stored row of `events` that cannot be read as an event: SQLite keeps whatever it is given
/// around the triggers (a payload of bytes that are not text, a NULL hash); PostgreSQL's
/// columns refuse most of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableRow {
    pub position: i64,
    /// What is wrong with it, naming the column ("its payload is not text").
    pub why: String,
}

/// What [`EveryEvent::next`] read.
#[derive(Debug)]
pub enum Read {
    /// The next events in order; none at the end of the feed.
    Events(Vec<FeedEvent>),
    /// The next stored row cannot be read as an event; every event before it was read.
    Unreadable(UnreadableRow),
}

/// The whole feed from a position, for a reader that must account for every row (`ledger
/// verify`, `ledger export`): read in batches, then, once a batch holds a row that cannot be
/// read as an event, one event at a time up to that row, which is named.
#[derive(Debug)]
pub struct EveryEvent {
    after: i64,
    batch: i64,
}

impl EveryEvent {
    /// Reads the events after position `after`.
    pub fn after(after: i64) -> Self {
        Self { after, batch: 5000 }
    }

    pub async fn next(&mut self, pool: &AnyPool) -> Result<Read, DbError> {
        loop {
            match read_after(pool, self.after, self.batch).await {
                Ok(events) => {
                    if let Some(last) = events.last() {
                        self.after = last.position;
                    }
                    return Ok(Read::Events(events));
                }
                Err(e) if is_not_an_event(&e) && self.batch > 1 => self.batch = 1,
                Err(e) if is_not_an_event(&e) => {
                    let position: i64 = sqlx::query_scalar(
                        "SELECT MIN(global_position) FROM events WHERE global_position > $1",
                    )
                    .bind(self.after)
                    .fetch_one(pool)
                    .await?;
                    let why = why_unreadable(pool, position).await?;
                    return Ok(Read::Unreadable(UnreadableRow { position, why }));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Whether a read failed on a stored row that cannot be read as an event, not on the database.
fn is_not_an_event(e: &DbError) -> bool {
    matches!(
        e,
        DbError::Query(sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. })
    )
}

/// Which column of the row at `position` cannot be read, and why ("its hash is NULL"). Each
/// column is read alone: through `Any`, a text column that is not UTF-8 fails the whole row
/// without naming its column.
async fn why_unreadable(pool: &AnyPool, position: i64) -> Result<String, DbError> {
    const TEXT: &str = "text";
    let faults = [
        column_fault::<String>(pool, position, "aggregate_type", TEXT).await?,
        column_fault::<String>(pool, position, "aggregate_id", TEXT).await?,
        column_fault::<i64>(pool, position, "sequence", "a whole number").await?,
        column_fault::<String>(pool, position, "event_type", TEXT).await?,
        column_fault::<String>(pool, position, "event_version", TEXT).await?,
        column_fault::<String>(pool, position, "payload", TEXT).await?,
        column_fault::<String>(pool, position, "metadata", TEXT).await?,
        column_fault::<Vec<u8>>(pool, position, "prev_hash", "bytes").await?,
        column_fault::<Vec<u8>>(pool, position, "hash", "bytes").await?,
    ];
    Ok(faults
        .into_iter()
        .flatten()
        .next()
        .unwrap_or_else(|| "it cannot be read as an event".to_owned()))
}

/// What is wrong with one column of the row at `position`, read as the feed reads it; `None`
/// when it reads.
async fn column_fault<T>(
    pool: &AnyPool,
    position: i64,
    column: &str,
    kind: &str,
) -> Result<Option<String>, DbError>
where
    T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    // As SELECT reads them: the JSON columns as text.
    let read = match column {
        "payload" | "metadata" => format!("CAST({column} AS TEXT)"),
        _ => column.to_owned(),
    };
    let not_kind = Some(format!("its {column} is not {kind}"));
    let fetched = sqlx::query(&format!(
        "SELECT {read} AS v FROM events WHERE global_position = $1"
    ))
    .bind(position)
    .fetch_one(pool)
    .await;
    let row = match fetched {
        Ok(row) => row,
        Err(e) => {
            let e = DbError::from(e);
            return if is_not_an_event(&e) {
                Ok(not_kind)
            } else {
                Err(e)
            };
        }
    };
    Ok(match row.try_get::<Option<T>, _>("v") {
        Ok(Some(_)) => None,
        Ok(None) => Some(format!("its {column} is NULL")),
        Err(_) => not_kind,
    })
}

/// [`read_after`] through the backend's own driver rather than `Any` (no conversion of every
/// value of every row): for bulk reads, like a rebuild's replay and the runner's batches. On
/// SQLite that is the event store's one connection (the group writer writes through `Any`).
pub async fn read_batch(db: &Database, after: i64, limit: i64) -> Result<Vec<FeedEvent>, DbError> {
    let sql = format!("{SELECT} WHERE global_position > $1 ORDER BY global_position LIMIT $2");
    // The same statement on either pool; each gives its own row type.
    macro_rules! fetch {
        ($pool:expr) => {
            sqlx::query(&sql)
                .bind(after)
                .bind(limit)
                .fetch_all($pool)
                .await?
                .iter()
                .map(FeedEvent::from_row)
                .collect::<Result<_, _>>()?
        };
    }
    Ok(match &db.pools {
        Pools::Postgres(pool) => fetch!(pool),
        Pools::Sqlite(pool) => fetch!(pool),
    })
}

/// The events of one stream, in order (for `credentialHistory` and tests).
pub async fn read_stream(
    db: &Database,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Vec<FeedEvent>, DbError> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence"
    ))
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_all(&db.any)
    .await?;
    Ok(rows
        .iter()
        .map(FeedEvent::from_row)
        .collect::<Result<_, _>>()?)
}

/// Wakes a consumer when new events may be there: on this process's signal, on PostgreSQL's
/// `NOTIFY credledger_events`, or after `poll` at the latest.
pub struct FeedWaker {
    local: tokio::sync::watch::Receiver<i64>,
    listener: Option<sqlx::postgres::PgListener>,
    poll: Duration,
}

impl FeedWaker {
    pub async fn new(db: &Database, poll: Duration) -> Self {
        let listener = if db.backend() == Backend::Postgres {
            match sqlx::postgres::PgListener::connect(db.url()).await {
                Ok(mut l) => match l.listen("credledger_events").await {
                    Ok(()) => Some(l),
                    Err(e) => {
                        tracing::warn!(error = %e, "LISTEN failed; falling back to polling");
                        None
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection failed; falling back to polling");
                    None
                }
            }
        } else {
            None
        };
        Self {
            local: db.appended(),
            listener,
            poll,
        }
    }

    /// Returns when events after position `seen` may have been committed: on this process's
    /// signal of a position after `seen`, on a notification of one (one at or before it is about
    /// events the caller has already read, and is skipped), or after the poll interval. Answers
    /// the committed position it was told of, or `None` when it woke without one (the poll
    /// interval passed, the connection was lost, a notification said no position); every
    /// position up to an answered one is committed, since positions are given in commit order.
    pub async fn wait_beyond(&mut self, seen: i64) -> Option<i64> {
        let deadline = tokio::time::Instant::now() + self.poll;
        loop {
            let local = self.local.changed();
            match &mut self.listener {
                Some(listener) => {
                    tokio::select! {
                        r = local => match r {
                            Ok(()) => match *self.local.borrow_and_update() {
                                position if position <= seen => continue,
                                position => return Some(position),
                            },
                            Err(_) => return None,
                        },
                        r = listener.try_recv() => match r {
                            Ok(Some(n)) => {
                                // A payload that says no position (an older trigger) wakes.
                                match n.payload().parse::<i64>() {
                                    Ok(position) if position <= seen => continue,
                                    Ok(position) => return Some(position),
                                    Err(_) => return None,
                                }
                            }
                            // The connection was lost (notifications may have been missed
                            // meanwhile; the next call connects again): look now.
                            Ok(None) => return None,
                            Err(_) => {
                                tokio::time::sleep_until(deadline).await;
                                return None;
                            }
                        },
                        _ = tokio::time::sleep_until(deadline) => return None,
                    }
                }
                None => {
                    tokio::select! {
                        r = local => match r {
                            Ok(()) => match *self.local.borrow_and_update() {
                                position if position <= seen => continue,
                                position => return Some(position),
                            },
                            Err(_) => return None,
                        },
                        _ = tokio::time::sleep_until(deadline) => return None,
                    }
                }
            }
        }
    }
}
