//! Group commit for events that need no aggregate state to be decided (a `CredentialUsed`
//! record): callers hand their event to one writer task, which appends every event waiting at
//! that moment in one transaction — one commit, one flush to disk, one turn of the global
//! position lock for the whole group — and answers each caller with its event's position once
//! the group is durable. Under load the groups grow by themselves (while one commits, the next
//! gathers), so throughput follows the disk's commits per second times the group size, not the
//! events per second. Each event still gets its stream's next sequence, its global position and
//! its link in the hash chain from the same triggers as every other insert.

use crate::db::{is_sqlite, tuples, Database, DbError};
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

/// One event to append. `payload` and `metadata` are the JSON texts stored as they are.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
}

struct Request {
    event: NewEvent,
    reply: oneshot::Sender<Result<i64, DbError>>,
}

/// The handle callers append through; cloning shares the writer.
#[derive(Clone)]
pub struct GroupAppender {
    tx: mpsc::Sender<Request>,
}

impl std::fmt::Debug for GroupAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupAppender").finish_non_exhaustive()
    }
}

/// The most events one transaction takes.
pub const MAX_GROUP: usize = 512;

impl GroupAppender {
    /// Starts the writer task (it ends when the last handle is dropped).
    pub fn start(db: Database) -> Self {
        let (tx, rx) = mpsc::channel(MAX_GROUP * 8);
        tokio::spawn(write_groups(db, rx));
        Self { tx }
    }

    /// Appends `event` with the next sequence of its stream; answers its global position once
    /// it is committed. An error means it was not written.
    pub async fn append(&self, event: NewEvent) -> Result<i64, DbError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request { event, reply })
            .await
            .map_err(|_| DbError::Closed)?;
        answer.await.map_err(|_| DbError::Closed)?
    }
}

async fn write_groups(db: Database, mut rx: mpsc::Receiver<Request>) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        let events: Vec<&NewEvent> = group.iter().map(|r| &r.event).collect();
        // Another process may take a sequence first (recompute and try again), or hold
        // SQLite's write lock past the busy timeout (wait a little and try again), as the
        // command path does.
        let mut result = write(&db, &events).await;
        for attempt in 1..16u64 {
            let again = match &result {
                Err(DbError::Query(sqlx::Error::Database(e))) => {
                    e.is_unique_violation() || crate::store::is_sqlite_busy(e.message())
                }
                _ => false,
            };
            if !again {
                break;
            }
            let jitter = rand::random::<u64>() % (2 * attempt + 1);
            tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
            result = write(&db, &events).await;
        }
        if result.is_ok() {
            db.signal_appended();
        }
        match result {
            Ok(positions) => {
                for (r, p) in group.into_iter().zip(positions) {
                    let _ = r.reply.send(Ok(p));
                }
            }
            Err(e) => {
                let message = e.to_string();
                tracing::error!(error = %message, events = group.len(), "group append failed");
                for r in group {
                    let _ = r.reply.send(Err(DbError::Append(message.clone())));
                }
            }
        }
    }
}

/// One transaction: the streams' last sequences, one multi-row insert, the positions. On
/// SQLite each row is its own insert that reads its sequence itself: the transaction's first
/// statement must write, so that SQLite takes its write lock up front (waiting its turn)
/// instead of failing when a read snapshot is upgraded after another process committed.
async fn write(db: &Database, events: &[&NewEvent]) -> Result<Vec<i64>, DbError> {
    let _writer = db.exclusive().await;
    let mut tx = db.any.begin().await?;
    let sqlite = is_sqlite(&tx);
    if sqlite {
        for e in events {
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                 event_version, payload, metadata) VALUES ($1, $2, \
                 (SELECT COALESCE(MAX(sequence), 0) + 1 FROM events \
                  WHERE aggregate_type = $1 AND aggregate_id = $2), $3, $4, $5, $6)",
            )
            .bind(e.aggregate_type)
            .bind(e.aggregate_id.clone())
            .bind(e.event_type.clone())
            .bind(e.event_version.clone())
            .bind(e.payload.clone())
            .bind(e.metadata.clone())
            .execute(&mut *tx)
            .await?;
        }
        return finish(tx, events.len()).await;
    }
    let mut next: std::collections::HashMap<(&str, &str), i64> = std::collections::HashMap::new();
    let mut streams: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.aggregate_type, e.aggregate_id.as_str()))
        .collect();
    streams.sort_unstable();
    streams.dedup();
    for chunk in streams.chunks(400) {
        let sql = format!(
            "SELECT aggregate_type, aggregate_id, CAST(MAX(sequence) AS BIGINT) AS s FROM events \
             WHERE (aggregate_type, aggregate_id) IN (VALUES {}) \
             GROUP BY aggregate_type, aggregate_id",
            tuples(false, 1, chunk.len(), 2)
        );
        let mut q = sqlx::query(&sql);
        for (t, id) in chunk {
            q = q.bind(*t).bind(*id);
        }
        for row in q.fetch_all(&mut *tx).await? {
            let t: String = row.try_get("aggregate_type")?;
            let id: String = row.try_get("aggregate_id")?;
            if let Some(key) = chunk.iter().find(|(a, b)| *a == t && *b == id) {
                next.insert(*key, row.try_get::<i64, _>("s")?);
            }
        }
    }
    let row_sql = |first: usize| {
        let p = |i: usize| format!("${}", first + i);
        format!(
            "({}, {}, {}, {}, {}, CAST({} AS json), CAST({} AS json))",
            p(0),
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6)
        )
    };
    for chunk in events.chunks(MAX_GROUP) {
        let values: Vec<String> = (0..chunk.len()).map(|i| row_sql(1 + i * 7)).collect();
        let sql = format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for e in chunk {
            let sequence = next
                .entry((e.aggregate_type, e.aggregate_id.as_str()))
                .or_insert(0);
            *sequence += 1;
            q = q
                .bind(e.aggregate_type)
                .bind(e.aggregate_id.clone())
                .bind(*sequence)
                .bind(e.event_type.clone())
                .bind(e.event_version.clone())
                .bind(e.payload.clone())
                .bind(e.metadata.clone());
        }
        q.execute(&mut *tx).await?;
    }
    finish(tx, events.len()).await
}

/// Commits and answers the group's positions. Rows take their positions in insertion order,
/// after everything committed before (the position lock or SQLite's writer lock is held by this
/// transaction): the group is this transaction's newest `n` positions.
async fn finish(mut tx: sqlx::Transaction<'_, sqlx::Any>, n: usize) -> Result<Vec<i64>, DbError> {
    let last: i64 = sqlx::query("SELECT CAST(MAX(global_position) AS BIGINT) AS p FROM events")
        .fetch_one(&mut *tx)
        .await?
        .try_get("p")?;
    tx.commit().await?;
    let first = last - n as i64 + 1;
    Ok((0..n as i64).map(|i| first + i).collect())
}
