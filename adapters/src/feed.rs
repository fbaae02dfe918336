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

/// The most bytes one stored event may take, its texts and hashes together, as
/// [`EveryEvent`] counts them: a larger row is refused unread. The events the ledger writes
/// stay well under it: the largest of fixed size is a change of a credential's metadata (its
/// old and new metadata, each at most 32 entries of a 64-character key and a 1,024-character
/// value, at most 4 bytes a character: under 280 KB); the one without a fixed limit, an MCP
/// server's change withdrawing its users' grants of a service, reaches it only past about
/// 470,000 grants withdrawn at once (a grant takes under 140 bytes). A row over
/// [`BATCH_BYTES`] is read alone.
pub const MAX_STORED_EVENT_BYTES: i64 = 64 * 1024 * 1024;

/// The most bytes of stored events one batch of [`EveryEvent`] reads, unless its first row
/// alone is larger (up to [`MAX_STORED_EVENT_BYTES`]): then that row is the batch.
pub const BATCH_BYTES: i64 = 16 * 1024 * 1024;

/// The most events one batch of [`EveryEvent`] reads.
const BATCH_EVENTS: i64 = 5000;

/// The bytes a row takes, as the feed reads it: its texts (the JSON columns as text) and hashes,
/// summed as 64-bit numbers. `octet_length` reads a stored length without loading the value
/// (SQLite from 3.43, given the column itself; PostgreSQL's `json` is cast to `text` as it is),
/// so a huge row is measured, not read.
fn stored_bytes(backend: Backend) -> String {
    let json = |column: &str| match backend {
        Backend::Postgres => format!("CAST({column} AS TEXT)"),
        Backend::Sqlite => column.to_owned(),
    };
    [
        "aggregate_type".to_owned(),
        "aggregate_id".to_owned(),
        "event_type".to_owned(),
        "event_version".to_owned(),
        json("payload"),
        json("metadata"),
        "prev_hash".to_owned(),
        "hash".to_owned(),
    ]
    .map(|column| format!("COALESCE(CAST(octet_length({column}) AS BIGINT), 0)"))
    .join(" + ")
}

/// A stored row of `events` that [`EveryEvent`] refuses, naming its position: `ledger verify`
/// fails on it, `ledger export` stops at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefusedRow {
    /// It cannot be read as an event: SQLite keeps whatever it is given around the triggers (a
    /// payload of bytes that are not text, a NULL hash); PostgreSQL's columns refuse most of it.
    /// `why` names the column ("its payload is not text").
    #[error("stored in a form no event has ({why})")]
    Unreadable { position: i64, why: String },
    /// It is larger than any event the ledger writes ([`MAX_STORED_EVENT_BYTES`]): written by
    /// hand, and not read (it would have to be held in memory whole).
    #[error(
        "stored as {bytes} bytes, more than the {MAX_STORED_EVENT_BYTES} bytes any event the \
         ledger writes takes; not read"
    )]
    TooLarge { position: i64, bytes: i64 },
}

impl RefusedRow {
    pub fn position(&self) -> i64 {
        match self {
            Self::Unreadable { position, .. } | Self::TooLarge { position, .. } => *position,
        }
    }
}

/// What [`EveryEvent::next`] read.
#[derive(Debug)]
pub enum Read {
    /// The next events in order; none at the end of the feed.
    Events(Vec<FeedEvent>),
    /// The next stored row is refused; every event before it was read.
    Refused(RefusedRow),
}

/// The whole feed from a position, for a reader that must account for every row (`ledger
/// verify`, `ledger export`), in batches bounded by count and by bytes: each batch first reads
/// its rows' positions and sizes, then the rows that fit, in one read-only snapshot (so the
/// rows read are the rows measured), and at most [`BATCH_BYTES`] at a time (or one row up to
/// [`MAX_STORED_EVENT_BYTES`]) whatever the rows hold. A row larger than [`MAX_STORED_EVENT_BYTES`] is refused unread, and once a batch holds
/// a row that cannot be read as an event, the rows are read one at a time up to that row, which
/// is named; either is refused only once every event before it was read.
#[derive(Debug)]
pub struct EveryEvent {
    after: i64,
    batch: i64,
}

impl EveryEvent {
    /// Reads the events after position `after`.
    pub fn after(after: i64) -> Self {
        Self {
            after,
            batch: BATCH_EVENTS,
        }
    }

    pub async fn next(&mut self, db: &Database) -> Result<Read, DbError> {
        loop {
            let mut tx = db.any.begin().await?;
            if db.backend() == Backend::Postgres {
                // Both statements below see the same rows. (SQLite's read transaction does.)
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
            }
            let sizes: Vec<(i64, i64)> = sqlx::query_as(&format!(
                "SELECT global_position, {} AS stored_bytes FROM events \
                 WHERE global_position > $1 ORDER BY global_position LIMIT $2",
                stored_bytes(db.backend())
            ))
            .bind(self.after)
            .bind(self.batch)
            .fetch_all(&mut *tx)
            .await?;
            let (mut upto, mut bytes) = (None, 0);
            for &(position, size) in &sizes {
                if size > MAX_STORED_EVENT_BYTES {
                    if upto.is_none() {
                        return Ok(Read::Refused(RefusedRow::TooLarge {
                            position,
                            bytes: size,
                        }));
                    }
                    break;
                }
                if upto.is_some() && bytes + size > BATCH_BYTES {
                    break;
                }
                (upto, bytes) = (Some(position), bytes + size);
            }
            let Some(upto) = upto else {
                return Ok(Read::Events(Vec::new()));
            };
            match read_between(&mut *tx, self.after, upto + 1, self.batch).await {
                Ok(events) => {
                    tx.commit().await?;
                    if let Some(last) = events.last() {
                        self.after = last.position;
                    }
                    return Ok(Read::Events(events));
                }
                Err(e) if is_not_an_event(&e) && self.batch > 1 => self.batch = 1,
                Err(e) if is_not_an_event(&e) => {
                    // The one row measured, and found within the bound.
                    let position = upto;
                    drop(tx);
                    let why = why_unreadable(&db.any, position).await?;
                    return Ok(Read::Refused(RefusedRow::Unreadable { position, why }));
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
