//! The global feed: every event of every stream, in commit order, by `global_position`.
//! Consumers (projections, the MCP replay adapter, subscriptions) read it from a checkpoint.

use crate::chain::ChainInput;
use crate::db::{Backend, Database, DbError, Pools};
use credledger_domain::EventMetadata;
use sqlx::{Any, Executor, Row};
use std::collections::HashMap;
use std::time::Duration;

/// One stored event as the feed returns it. `payload` and `metadata` are the stored JSON text
/// (the bytes the hash chain covers); the payload holds ciphertext, never plaintext.
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
