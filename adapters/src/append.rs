//! Group commit: every event this process appends — a command's events, decided on its stream's
//! state, and a `CredentialUsed` record, which needs no state — goes through one writer task,
//! which appends everything waiting at that moment in one transaction: one commit, one flush to
//! disk, one turn of the global position lock for the whole group. It answers each caller once
//! the group is durable. Under load the groups grow by themselves (while one commits, the next
//! gathers), so throughput follows the disk's commits per second times the group size, not the
//! events per second, and writers stop queueing on the position lock one commit at a time. Each
//! event still gets its global position and its link in the hash chain from the same triggers
//! as every other insert.
//!
//! A command's events carry the sequences that follow the stream's length it was decided on.
//! When another writer got there first (another process, or an earlier request of the same
//! group), the command's rows are skipped (`ON CONFLICT DO NOTHING`, so the group goes on), and
//! the caller gets [`DbError::Conflict`] with nothing written. A request is written whole or not
//! at all: if only part of one went in, the transaction is rolled back and the rest of the group
//! is written again without it.
//!
//! When the database refuses a group for another reason, the group is written again one
//! request at a time, so a request the database refuses fails alone and its neighbours go in.
//! Not when it could not be reached: the whole group is answered [`DbError::Unavailable`] at
//! once. If the connection failed at the commit itself, the group may have been written; it is
//! never written again (a record would be written twice), and the answer says so.

use crate::db::{is_sqlite, tuples, unreachable, Backend, Database, DbError};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

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

/// A condition on another stream, checked when the event is written: that stream still ends at
/// `sequence`. A disclosure carries one on its keyring, so the use is recorded only if the
/// credential is still as the disclosure saw it (not revoked, replaced or erased since).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub sequence: i64,
}

/// Where a request's events go in their stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Whatever sequences come next (a record that needs no state to be decided).
    Next,
    /// Exactly the sequences after this one (the stream's length the events were decided on).
    After(i64),
}

struct Request {
    events: Vec<NewEvent>,
    place: Place,
    guard: Option<Guard>,
    /// The command's count among those deciding their events, ended when the writer takes
    /// the request.
    deciding: Option<Deciding>,
    /// Counts the request among the appends on their way until its events are committed (or
    /// it is answered otherwise).
    in_flight: Option<InFlight>,
    reply: oneshot::Sender<Result<Vec<i64>, DbError>>,
}

/// The handle callers append through; cloning shares the writer.
#[derive(Clone)]
pub struct GroupAppender {
    tx: mpsc::Sender<Request>,
    db: Database,
    activity: Arc<Activity>,
}

/// The work on its way to this writer, which it alone reads: commands of this process deciding
/// their events (the writer lets them join the group it is about to write) and appends submitted
/// and not yet answered (a feed reader lets them land first, [`GroupAppender::let_land`]).
struct Activity {
    deciding: watch::Sender<usize>,
    appending: AtomicUsize,
}

/// A command deciding its events, counted until dropped (see [`GroupAppender::deciding`]).
pub struct Deciding(Arc<Activity>);

impl std::fmt::Debug for Deciding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deciding")
    }
}

impl Drop for Deciding {
    fn drop(&mut self) {
        self.0.deciding.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// An append on its way to a commit, counted until dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.appending.fetch_sub(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for GroupAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupAppender").finish_non_exhaustive()
    }
}

/// The advisory lock the events table's position trigger takes (`0001_events.sql`).
const POSITION_LOCK: i64 = 4857321190876543210;

/// The most events one transaction takes (a single larger request still goes in whole).
pub const MAX_GROUP: usize = 512;

/// How many times a group is written again (busy database, streams taken by another process)
/// before its remaining requests are answered with an error.
const MAX_ROUNDS: u64 = 16;

impl GroupAppender {
    /// Starts the writer task (it ends when the last handle is dropped).
    pub fn start(db: Database) -> Self {
        let (tx, rx) = mpsc::channel(MAX_GROUP * 8);
        let activity = Arc::new(Activity {
            deciding: watch::channel(0).0,
            appending: AtomicUsize::new(0),
        });
        tokio::spawn(write_groups(db.clone(), activity.deciding.subscribe(), rx));
        Self { tx, db, activity }
    }

    /// Counts a command as deciding its events until the guard is dropped or handed to
    /// [`append_decided`](Self::append_decided) with its events: the writer lets such commands
    /// join the group it is about to write.
    pub fn deciding(&self) -> Deciding {
        self.activity.deciding.send_modify(|n| *n += 1);
        Deciding(self.activity.clone())
    }

    /// How many commands are deciding their events and how many appends are on their way
    /// (for tests: both go back to 0 once everything is answered).
    pub fn counts(&self) -> (usize, usize) {
        (
            *self.activity.deciding.borrow(),
            self.activity.appending.load(Ordering::Acquire),
        )
    }

    /// Waits (at most `LAND`) until the appends of this process on their way have landed and
    /// no command is deciding its events: a feed reader about to read a batch lets them in
    /// first, so their callers do not wait a whole batch more.
    pub async fn let_land(&self) {
        let deadline = tokio::time::Instant::now() + LAND;
        let (mut landed, mut deciding) = (self.db.appended(), self.activity.deciding.subscribe());
        while self.activity.appending.load(Ordering::Acquire) > 0
            || *deciding.borrow_and_update() > 0
        {
            tokio::select! {
                _ = landed.changed() => {}
                _ = deciding.changed() => {}
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
    }

    /// Appends `event` with the next sequence of its stream; answers its global position once
    /// it is committed. An error means it was not written, except a [`DbError::Unavailable`]
    /// that says the connection failed at the commit: then it may have been.
    pub async fn append(&self, event: NewEvent) -> Result<i64, DbError> {
        let positions = self.submit(vec![event], Place::Next, None, None).await?;
        positions.first().copied().ok_or(DbError::Closed)
    }

    /// Appends `event` as [`append`](Self::append) does, provided `guard`'s stream still ends
    /// at its sequence when the event is written (checked under the position lock, so nothing
    /// can land in that stream between the check and the commit). [`DbError::Conflict`], and
    /// nothing written, when it does not.
    pub async fn append_guarded(&self, event: NewEvent, guard: Guard) -> Result<i64, DbError> {
        let positions = self
            .submit(vec![event], Place::Next, Some(guard), None)
            .await?;
        positions.first().copied().ok_or(DbError::Closed)
    }

    /// Appends a command's `events`, all of one stream, as that stream's sequences
    /// `after + 1 ..`; answers their global positions once committed. [`DbError::Conflict`]
    /// when the stream is no longer `after` events long; then, as on any error, nothing was
    /// written.
    pub async fn append_after(
        &self,
        after: i64,
        events: Vec<NewEvent>,
    ) -> Result<Vec<i64>, DbError> {
        self.append_decided(after, events, None).await
    }

    /// [`append_after`](Self::append_after) for a command counted as deciding its events
    /// ([`GroupAppender::deciding`]): the count ends when the writer takes the events.
    pub async fn append_decided(
        &self,
        after: i64,
        events: Vec<NewEvent>,
        deciding: Option<Deciding>,
    ) -> Result<Vec<i64>, DbError> {
        let Some(first) = events.first() else {
            return Ok(Vec::new());
        };
        if events.iter().any(|e| {
            e.aggregate_type != first.aggregate_type || e.aggregate_id != first.aggregate_id
        }) {
            return Err(DbError::Append(
                "the events of one append must belong to one stream".into(),
            ));
        }
        self.submit(events, Place::After(after), None, deciding)
            .await
    }

    async fn submit(
        &self,
        events: Vec<NewEvent>,
        place: Place,
        guard: Option<Guard>,
        deciding: Option<Deciding>,
    ) -> Result<Vec<i64>, DbError> {
        let (reply, answer) = oneshot::channel();
        self.activity.appending.fetch_add(1, Ordering::AcqRel);
        let in_flight = Some(InFlight(self.activity.clone()));
        self.tx
            .send(Request {
                events,
                place,
                guard,
                deciding,
                in_flight,
                reply,
            })
            .await
            .map_err(|_| DbError::Closed)?;
        answer.await.map_err(|_| DbError::Closed)?
    }
}

/// How long the writer waits at most, before writing a group, for the commands still deciding
/// their events to join it.
const LINGER: Duration = Duration::from_millis(2);

/// How long a feed reader waits at most for the appends on their way ([`GroupAppender::let_land`]).
const LAND: Duration = Duration::from_millis(3);

async fn write_groups(
    db: Database,
    mut preparing: watch::Receiver<usize>,
    mut rx: mpsc::Receiver<Request>,
) {
    while let Some(first) = rx.recv().await {
        let mut rows = first.events.len();
        let mut group = vec![first];
        let take = |mut r: Request, rows: &mut usize, group: &mut Vec<Request>| {
            r.deciding = None;
            *rows += r.events.len();
            group.push(r);
        };
        group[0].deciding = None;
        // Callers woken together (by the read models they waited for) are runnable now but
        // may not have started their next command yet: let them run first.
        for _ in 0..2 {
            tokio::task::yield_now().await;
        }
        while rows < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => take(r, &mut rows, &mut group),
                Err(_) => break,
            }
        }
        // Commands deciding their events right now arrive in a moment: a group written
        // without them would leave them a whole commit (and read-model batch) behind. Bounded:
        // a command may decide slowly, or not append at all.
        let deadline = tokio::time::Instant::now() + LINGER;
        while rows < MAX_GROUP && *preparing.borrow_and_update() > 0 {
            tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => take(r, &mut rows, &mut group),
                    None => break,
                },
                _ = preparing.changed() => {}
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        settle(&db, group).await;
    }
}

/// What became of one request in one round.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    /// All its events went in, at these positions.
    Written(Vec<i64>),
    /// None went in: on PostgreSQL every one of its sequences was already in the stream, on
    /// SQLite its first one was.
    Missed,
    /// Some went in and some did not: the round is rolled back.
    Partial,
    /// Not tried this round (PostgreSQL): an earlier request of the group claimed one of its
    /// sequences, or wrote to the stream its guard watches.
    Deferred { behind: usize },
    /// Not written: its guard's stream has moved on.
    Refused,
}

struct Round {
    committed: bool,
    fates: Vec<Fate>,
}

/// Writes a group, round after round, until every request is answered.
async fn settle(db: &Database, mut pending: Vec<Request>) {
    let mut round = 0;
    let mut contended = false;
    while !pending.is_empty() {
        round += 1;
        if round > MAX_ROUNDS {
            for r in pending {
                let _ = r.reply.send(Err(DbError::Append(
                    "the streams kept changing while the events were written".into(),
                )));
            }
            return;
        }
        if contended {
            // Another process holds the database or took the streams: give it a moment.
            let jitter = rand::random::<u64>() % (2 * round + 1);
            tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
        }
        let started = std::time::Instant::now();
        let outcome = match write(db, &pending).await {
            Ok(outcome) => outcome,
            Err(DbError::Query(sqlx::Error::Database(e)))
                if crate::store::is_sqlite_busy(e.message()) =>
            {
                contended = true;
                continue;
            }
            // One request may be what the database refuses: write each alone, so that it fails
            // by itself and its neighbours go in. Not when the database could not be reached
            // (each alone would wait for a connection in turn, and a group whose commit was
            // not confirmed may have been written).
            Err(e) if pending.len() > 1 && !e.is_unavailable() => {
                for r in pending {
                    Box::pin(settle(db, vec![r])).await;
                }
                return;
            }
            Err(e) => {
                let message = e.to_string();
                let unavailable = e.is_unavailable();
                tracing::error!(error = %message, requests = pending.len(), "append failed");
                for r in pending {
                    let _ = r.reply.send(Err(if unavailable {
                        DbError::Unavailable(message.clone())
                    } else {
                        DbError::Append(message.clone())
                    }));
                }
                return;
            }
        };
        if outcome.committed {
            let (mut newest, mut written) = (None, 0);
            for (r, fate) in pending.iter_mut().zip(&outcome.fates) {
                if let Fate::Written(positions) = fate {
                    // Landed: no longer one the consumers wait for (before they are told).
                    r.in_flight = None;
                    newest = newest.max(positions.iter().copied().max());
                    written += positions.len();
                }
            }
            metrics::histogram!(crate::metrics::COMMIT_EVENTS).record(written as f64);
            metrics::histogram!(crate::metrics::COMMIT_DURATION)
                .record(started.elapsed().as_secs_f64());
            if let Some(newest) = newest {
                db.signal_appended(newest);
            }
        }
        contended = false;
        // Whose sequences are taken for good: a committed request's, and a missed one's (every
        // one of its rows was skipped because its sequence was already in the stream).
        let taken: Vec<bool> = outcome
            .fates
            .iter()
            .map(|f| match f {
                Fate::Written(_) => outcome.committed,
                Fate::Missed => true,
                Fate::Partial | Fate::Deferred { .. } | Fate::Refused => false,
            })
            .collect();
        let mut again = Vec::new();
        for (r, fate) in pending.into_iter().zip(outcome.fates) {
            let answer = match (fate, r.place) {
                (Fate::Written(positions), _) if outcome.committed => Some(Ok(positions)),
                (Fate::Written(_), _) => None,
                (Fate::Refused, _) => Some(Err(DbError::Conflict)),
                (Fate::Missed | Fate::Partial, Place::After(_)) => Some(Err(DbError::Conflict)),
                (Fate::Missed | Fate::Partial, Place::Next) => {
                    contended = true;
                    None
                }
                // The request that claimed one of its sequences found it taken or took it.
                (Fate::Deferred { behind }, Place::After(_)) if taken[behind] => {
                    Some(Err(DbError::Conflict))
                }
                (Fate::Deferred { .. }, _) => None,
            };
            match answer {
                Some(answer) => {
                    let _ = r.reply.send(answer);
                }
                None => again.push(r),
            }
        }
        pending = again;
    }
}

type Key = (&'static str, String, i64);

/// A row that went in: its stream and sequence, and its global position when the insert
/// could say (PostgreSQL's `RETURNING` sees what the position trigger set; SQLite's does not).
type Inserted = (Key, Option<i64>);

/// One round: one transaction for the requests that do not collide with each other. Rolled
/// back when a request went in only in part (its fate says so, the others are tried again).
async fn write(db: &Database, requests: &[Request]) -> Result<Round, DbError> {
    let _writer = db.exclusive().await;
    let mut conn = db.any.acquire().await?;
    let committing = AtomicBool::new(false);
    let round = write_on(&mut conn, db.backend(), requests, &committing);
    if db.backend() == Backend::Sqlite {
        // SQLite's waits are its busy timeout's.
        return round.await;
    }
    match tokio::time::timeout(ROUND_DEADLINE, round).await {
        Ok(round) => round,
        Err(_) => {
            // A connection that stopped answering without closing (a failover whose old
            // server vanished, a link cut by a firewall) is not given back to the pool: the
            // next round would wait on it again, until the kernel gives up, some 15 minutes.
            // Detached and dropped, not closed: closing says goodbye to a server that does not
            // answer, and the pool would count the connection until it did.
            drop(conn.detach());
            // Before its commit was sent, the transaction ends with the connection: nothing
            // was written, and asking again is safe.
            let outcome = if committing.load(Ordering::SeqCst) {
                "the commit was sent, so the events may have been written"
            } else {
                "nothing was written"
            };
            Err(DbError::Unavailable(format!(
                "the database did not answer for {} s; {outcome}",
                ROUND_DEADLINE.as_secs()
            )))
        }
    }
}

/// The longest one round may take on PostgreSQL: past the server's own bound on a session
/// left idle in a transaction (10 s), which may hold the position lock a round waits for.
pub const ROUND_DEADLINE: Duration = Duration::from_secs(20);

/// `committing` turns true as the commit is sent.
async fn write_on(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    requests: &[Request],
    committing: &AtomicBool,
) -> Result<Round, DbError> {
    use sqlx::Connection as _;
    let mut tx = match backend {
        // Guards are checked under the position lock (the one every insert takes, see the
        // events migration), so no stream can move between the check and this commit. Taken
        // with the transaction's start, in the same round trip.
        Backend::Postgres if requests.iter().any(|r| r.guard.is_some()) => {
            conn.begin_with(format!(
                "BEGIN; SELECT pg_advisory_xact_lock({POSITION_LOCK})"
            ))
            .await?
        }
        _ => conn.begin().await?,
    };
    let mut fates = vec![Fate::Missed; requests.len()];
    let mut inserted: Vec<Vec<Inserted>> = vec![Vec::new(); requests.len()];
    if is_sqlite(&tx) {
        insert_sqlite(&mut tx, requests, &mut fates, &mut inserted).await?;
    } else {
        insert_postgres(&mut tx, requests, &mut fates, &mut inserted).await?;
    }
    for (i, r) in requests.iter().enumerate() {
        if matches!(fates[i], Fate::Deferred { .. } | Fate::Refused) {
            continue;
        }
        fates[i] = match inserted[i].len() {
            0 => Fate::Missed,
            n if n == r.events.len() => Fate::Written(Vec::new()),
            _ => Fate::Partial,
        };
    }
    if fates.contains(&Fate::Partial) {
        tx.rollback().await?;
        return Ok(Round {
            committed: false,
            fates,
        });
    }
    let total: usize = inserted.iter().map(Vec::len).sum();
    if inserted.iter().flatten().any(|(_, p)| p.is_none()) {
        // The position lock (or SQLite's write lock) is this transaction's: its rows are the
        // newest ones.
        let rows = sqlx::query(
            "SELECT aggregate_type, aggregate_id, sequence, global_position FROM events \
             ORDER BY global_position DESC LIMIT $1",
        )
        .bind(total as i64)
        .fetch_all(&mut *tx)
        .await?;
        let mut position: HashMap<(String, String, i64), i64> = HashMap::with_capacity(total);
        for row in rows {
            position.insert(
                (
                    row.try_get("aggregate_type")?,
                    row.try_get("aggregate_id")?,
                    row.try_get("sequence")?,
                ),
                row.try_get("global_position")?,
            );
        }
        for (fate, keys) in fates.iter_mut().zip(&inserted) {
            if let Fate::Written(positions) = fate {
                for ((t, id, s), _) in keys {
                    let p = position
                        .get(&((*t).to_owned(), id.clone(), *s))
                        .copied()
                        .ok_or_else(|| {
                            DbError::Append("an appended event has no position".into())
                        })?;
                    positions.push(p);
                }
            }
        }
    } else {
        for (fate, keys) in fates.iter_mut().zip(&inserted) {
            if let Fate::Written(positions) = fate {
                positions.extend(keys.iter().filter_map(|(_, p)| *p));
            }
        }
    }
    committing.store(true, Ordering::SeqCst);
    tx.commit().await.map_err(|e| {
        if unreachable(&e) {
            DbError::Unavailable(format!(
                "the connection failed at the commit, so the events may have been written: {e}"
            ))
        } else {
            e.into()
        }
    })?;
    Ok(Round {
        committed: true,
        fates,
    })
}

/// SQLite: one insert per row (in-process, cheap), so that the transaction's first statement
/// writes and SQLite takes its write lock up front (waiting its turn) instead of failing when a
/// read snapshot is upgraded after another process committed. A record's sequence is read by
/// its own insert; a command's stops at its first taken sequence. A guard is checked by the
/// insert itself, under the write lock, after the group's earlier rows.
async fn insert_sqlite(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    requests: &[Request],
    fates: &mut [Fate],
    inserted: &mut [Vec<Inserted>],
) -> Result<(), DbError> {
    for (i, r) in requests.iter().enumerate() {
        for (k, e) in r.events.iter().enumerate() {
            // A record's sequence is read by its own insert; a command's is the one after its
            // stream's length.
            let (sequence, explicit) = match r.place {
                Place::Next => (
                    "(SELECT COALESCE(MAX(sequence), 0) + 1 FROM events \
                     WHERE aggregate_type = $1 AND aggregate_id = $2)"
                        .to_owned(),
                    None,
                ),
                Place::After(after) => ("$7".to_owned(), Some(after + 1 + k as i64)),
            };
            let next = 7 + usize::from(explicit.is_some());
            let guard = match &r.guard {
                Some(_) => format!(
                    " WHERE NOT EXISTS (SELECT 1 FROM events WHERE aggregate_type = ${} \
                     AND aggregate_id = ${} AND sequence > ${})",
                    next,
                    next + 1,
                    next + 2
                ),
                // SQLite needs a WHERE between `INSERT … SELECT` and `ON CONFLICT`.
                None => " WHERE 1 = 1".to_owned(),
            };
            let sql = format!(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                 event_version, payload, metadata) SELECT $1, $2, {sequence}, $3, $4, $5, $6\
                 {guard} ON CONFLICT DO NOTHING RETURNING sequence"
            );
            let mut q = sqlx::query_scalar::<_, i64>(&sql)
                .bind(e.aggregate_type)
                .bind(e.aggregate_id.clone())
                .bind(e.event_type.clone())
                .bind(e.event_version.clone())
                .bind(e.payload.clone())
                .bind(e.metadata.clone());
            if let Some(explicit) = explicit {
                q = q.bind(explicit);
            }
            if let Some(g) = &r.guard {
                q = q
                    .bind(g.aggregate_type)
                    .bind(g.aggregate_id.clone())
                    .bind(g.sequence);
            }
            let row = q.fetch_optional(&mut **tx).await?;
            match row {
                Some(sequence) => {
                    inserted[i].push(((e.aggregate_type, e.aggregate_id.clone(), sequence), None))
                }
                // A record's own sequence cannot be taken under the write lock: its guard
                // refused it.
                None if r.guard.is_some() && r.place == Place::Next => {
                    fates[i] = Fate::Refused;
                    break;
                }
                None => break,
            }
        }
    }
    Ok(())
}

/// PostgreSQL: the records' streams' lengths in one query, then one multi-row insert that skips
/// taken sequences and says which rows went in. Requests whose sequences an earlier request of
/// the group claimed wait for the next round, so every row that went in has one owner.
async fn insert_postgres(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    requests: &[Request],
    fates: &mut [Fate],
    inserted: &mut [Vec<Inserted>],
) -> Result<(), DbError> {
    let mut next: HashMap<(&str, &str), i64> = HashMap::new();
    let mut streams: Vec<(&str, &str)> = requests
        .iter()
        .filter(|r| r.place == Place::Next)
        .flat_map(|r| r.events.iter())
        .map(|e| (e.aggregate_type, e.aggregate_id.as_str()))
        .chain(
            requests
                .iter()
                .filter_map(|r| r.guard.as_ref())
                .map(|g| (g.aggregate_type, g.aggregate_id.as_str())),
        )
        .collect();
    streams.sort_unstable();
    streams.dedup();
    for chunk in streams.chunks(400) {
        // Each stream's newest sequence by one step down its primary key, however long the
        // stream (a `MAX … GROUP BY` over the streams reads every row of each).
        let sql = format!(
            "SELECT v.t AS aggregate_type, v.id AS aggregate_id, CAST(COALESCE((SELECT \
             e.sequence FROM events e WHERE e.aggregate_type = v.t AND e.aggregate_id = v.id \
             ORDER BY e.sequence DESC LIMIT 1), 0) AS BIGINT) AS s FROM (VALUES {}) AS v(t, id)",
            tuples(false, 1, chunk.len(), 2)
        );
        let mut q = sqlx::query(&sql);
        for (t, id) in chunk {
            q = q.bind(*t).bind(*id);
        }
        for row in q.fetch_all(&mut **tx).await? {
            let t: String = row.try_get("aggregate_type")?;
            let id: String = row.try_get("aggregate_id")?;
            if let Some(key) = chunk.iter().find(|(a, b)| *a == t && *b == id) {
                next.insert(*key, row.try_get::<i64, _>("s")?);
            }
        }
    }
    // The guarded streams' lengths, before this group's own rows.
    let length = next.clone();
    // Plan every row's sequence; a request colliding with an earlier one's claim waits, and so
    // does a guarded one whose stream an earlier request writes to.
    let mut claimed: HashMap<Key, usize> = HashMap::new();
    let mut writes: HashMap<(&str, &str), usize> = HashMap::new();
    let mut rows: Vec<(usize, &NewEvent, i64)> = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        if let Some(g) = &r.guard {
            let stream = (g.aggregate_type, g.aggregate_id.as_str());
            if let Some(&behind) = writes.get(&stream) {
                fates[i] = Fate::Deferred { behind };
                continue;
            }
            if length.get(&stream).copied().unwrap_or(0) != g.sequence {
                fates[i] = Fate::Refused;
                continue;
            }
        }
        let keys: Vec<Key> = match r.place {
            Place::After(after) => r
                .events
                .iter()
                .zip(after + 1..)
                .map(|(e, s)| (e.aggregate_type, e.aggregate_id.clone(), s))
                .collect(),
            Place::Next => {
                let mut taken: HashMap<(&str, &str), i64> = HashMap::new();
                r.events
                    .iter()
                    .map(|e| {
                        let stream = (e.aggregate_type, e.aggregate_id.as_str());
                        let s = taken
                            .entry(stream)
                            .or_insert_with(|| next.get(&stream).copied().unwrap_or(0));
                        *s += 1;
                        (e.aggregate_type, e.aggregate_id.clone(), *s)
                    })
                    .collect()
            }
        };
        if let Some(&behind) = keys.iter().find_map(|k| claimed.get(k)) {
            fates[i] = Fate::Deferred { behind };
            continue;
        }
        if r.place == Place::Next {
            for (e, (_, _, s)) in r.events.iter().zip(&keys) {
                next.insert((e.aggregate_type, e.aggregate_id.as_str()), *s);
            }
        }
        for (e, (t, id, s)) in r.events.iter().zip(keys) {
            rows.push((i, e, s));
            writes.insert((e.aggregate_type, e.aggregate_id.as_str()), i);
            claimed.insert((t, id, s), i);
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
    for chunk in rows.chunks(MAX_GROUP) {
        let values: Vec<String> = (0..chunk.len()).map(|i| row_sql(1 + i * 7)).collect();
        let sql = format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata) VALUES {} ON CONFLICT DO NOTHING \
             RETURNING aggregate_type, aggregate_id, sequence, global_position",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (_, e, sequence) in chunk {
            q = q
                .bind(e.aggregate_type)
                .bind(e.aggregate_id.clone())
                .bind(*sequence)
                .bind(e.event_type.clone())
                .bind(e.event_version.clone())
                .bind(e.payload.clone())
                .bind(e.metadata.clone());
        }
        let mut went_in: HashMap<(String, String, i64), i64> = HashMap::new();
        for row in q.fetch_all(&mut **tx).await? {
            went_in.insert(
                (
                    row.try_get("aggregate_type")?,
                    row.try_get("aggregate_id")?,
                    row.try_get("sequence")?,
                ),
                row.try_get("global_position")?,
            );
        }
        for (i, e, sequence) in chunk {
            let key = (
                e.aggregate_type.to_owned(),
                e.aggregate_id.clone(),
                *sequence,
            );
            if let Some(&position) = went_in.get(&key) {
                inserted[*i].push((
                    (e.aggregate_type, e.aggregate_id.clone(), *sequence),
                    Some(position),
                ));
            }
        }
    }
    Ok(())
}
