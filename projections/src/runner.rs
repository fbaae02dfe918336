//! Running the read models: each batch of the feed read once for all of them, one transaction
//! per read model and batch (rows and checkpoint together; on PostgreSQL, one statement for a
//! read model with nothing to read in the batch), waking on new events,
//! read-your-writes waits, the epochs of remembered answers, status, and rebuild-and-swap. The
//! read models themselves only turn batches into writes ([`crate::ReadModel`]).

use crate::{Model, Prepared, ProjectionError, Tables, READ_MODELS};
use credledger_adapters::append::GroupAppender;
use credledger_adapters::db::{is_sqlite, timestamp, Backend};
use credledger_adapters::feed::{self, FeedEvent, FeedWaker};
use credledger_adapters::lease::Leases;
use credledger_adapters::Database;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// A consumer's checkpoint and how far behind the ledger's head it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsumerStatus {
    pub name: String,
    pub position: i64,
    pub head: i64,
    pub lag: i64,
}

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    pub consumer: &'static str,
    pub events: i64,
    pub position: i64,
}

/// The read-model consumers of one database.
pub struct Projections {
    db: Database,
    /// This process's group writer, whose appends on their way a batch lets land first (none
    /// in a process that only rebuilds).
    writer: Option<GroupAppender>,
    /// Each read model's checkpoint as this process last saw it, by name.
    progress: HashMap<&'static str, watch::Sender<i64>>,
    /// Each read model this process's runner found stopped by an event it cannot read, by
    /// name: it will not move until a binary that reads the event is deployed, so a command
    /// does not wait for it.
    stopped: HashMap<&'static str, AtomicBool>,
    access: AtomicU64,
    /// How many times anyone's rows of the remembered read models may have changed at once
    /// (events another process applied, a rebuild), and per user how many times this process
    /// applied events that touched theirs: see [`Projections::summary_epoch`].
    summary_all: AtomicU64,
    summary_users: std::sync::Mutex<HashMap<String, u64>>,
    batch: i64,
}

/// How long a read model that failed waits before it is tried again, at first.
const RETRY_FIRST: Duration = Duration::from_millis(250);
/// The longest wait between two tries of a read model stopped by an event it cannot read.
const RETRY_AT_MOST: Duration = Duration::from_secs(30);

/// How long a read model that failed with `error` waits before it is tried again, `before`
/// being its last wait if it failed then too. The database gone or failing: 250 ms each time,
/// so the read model goes on as soon as it can. An event it cannot read stays so until a new
/// binary is deployed: twice as long each time, up to 30 s.
fn retry_wait(error: &ProjectionError, before: Option<Duration>) -> Duration {
    match (error, before) {
        (ProjectionError::BadEvent { .. }, Some(before)) => (before * 2).min(RETRY_AT_MOST),
        _ => RETRY_FIRST,
    }
}

/// How often a read model that goes on failing is logged again: its first failure is logged,
/// then one line at most this often (not one per try, four a second per read model while the
/// database is gone), then one when it goes again.
const LOG_AGAIN_AFTER: Duration = Duration::from_secs(30);

/// A read model that failed and has not gone again since.
#[derive(Debug, Clone, Copy)]
struct Failing {
    /// When it is tried next, and the wait before that.
    next: tokio::time::Instant,
    wait: Duration,
    /// Its first failure in a row, and its failures since.
    since: tokio::time::Instant,
    failures: u32,
    /// When a failure of it was last logged.
    logged: tokio::time::Instant,
}

impl Failing {
    /// The record of a read model that failed with `error` at `now` (`before`: its record if it
    /// was failing already), and whether to log this failure.
    fn after(
        before: Option<Failing>,
        error: &ProjectionError,
        now: tokio::time::Instant,
    ) -> (Self, bool) {
        let wait = retry_wait(error, before.map(|f| f.wait));
        let Some(before) = before else {
            let first = Failing {
                next: now + wait,
                wait,
                since: now,
                failures: 1,
                logged: now,
            };
            return (first, true);
        };
        let log = now.duration_since(before.logged) >= LOG_AGAIN_AFTER;
        let again = Failing {
            next: now + wait,
            wait,
            failures: before.failures.saturating_add(1),
            logged: if log { now } else { before.logged },
            ..before
        };
        (again, log)
    }
}

/// The aggregates whose events change who may do what (users and their API tokens, MCP
/// servers, their tokens and grants).
const ACCESS_AGGREGATES: [&str; 2] = ["user", "mcp_server"];

impl std::fmt::Debug for Projections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projections").finish_non_exhaustive()
    }
}

/// Applies `events` to `model`'s tables and moves its checkpoint (`checkpoint`, to the last
/// event's position), in the caller's transaction. Returns the people whose rows it changed.
async fn apply(
    model: Model,
    conn: &mut AnyConnection,
    tables: Tables,
    events: &[FeedEvent],
    prepared: Option<Prepared>,
    checkpoint: &str,
) -> Result<BTreeSet<String>, ProjectionError> {
    let people = model.apply(conn, tables, events, prepared).await?;
    if let Some(last) = events.last() {
        set_checkpoint(conn, checkpoint, last.position).await?;
    }
    Ok(people)
}

/// How a read model's batch transaction runs on PostgreSQL, set (for that transaction only) by
/// its first statement:
/// - Read models are derived data with their checkpoint in the same transaction: losing the
///   last few commits in a crash only means replaying them. So the commit skips the WAL flush
///   wait (`synchronous_commit` off); the ledger's own events stay fully synchronous.
/// - A batch looks its rows up by the ids its events name, in tables that grow from empty
///   while a connection lives. A plan PostgreSQL kept from when a table was small scans the
///   whole table for every batch (`mcp_credentials` took 4–12 ms a batch by the ledger
///   benchmark's second round), so each statement is planned for the table as it is now
///   (`plan_cache_mode`); ADR 0018.
const BATCH_SETTINGS: &str = "set_config('synchronous_commit', 'off', true) AS relaxed, \
     set_config('plan_cache_mode', 'force_custom_plan', true) AS planned";

/// Takes the checkpoint row's lock (the first statement of the transaction is a write, so
/// SQLite takes its write lock up front) and returns the position. One upsert, so two
/// processes starting the same consumer at once never both try to create its row. On
/// PostgreSQL it also applies [`BATCH_SETTINGS`].
async fn lock_checkpoint(conn: &mut AnyConnection, name: &str) -> Result<i64, ProjectionError> {
    let settings = if is_sqlite(conn) {
        String::new()
    } else {
        format!(", {BATCH_SETTINGS}")
    };
    let row = sqlx::query(&format!(
        "INSERT INTO projection_checkpoints (name, position, updated_at) VALUES ($1, 0, $2) \
         ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at \
         RETURNING position{settings}"
    ))
    .bind(name)
    .bind(timestamp(chrono::Utc::now()))
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("position")?)
}

/// The feed's next events after `after`, read once for every read model drained together
/// (through the backend's own driver: no conversion of each value of each row to `Any`'s).
/// Read outside the read models' transactions, they are a prefix of what is committed, as
/// position order is commit order (ADR 0002): a read model that takes them after its
/// checkpoint, under its row's lock, skips nothing.
struct Read {
    after: i64,
    events: Vec<FeedEvent>,
}

impl Read {
    /// The last position read (`after` when nothing was).
    fn last(&self) -> i64 {
        self.events.last().map_or(self.after, |e| e.position)
    }

    /// The events after `position`, or `None` when some of those were not read (`position`
    /// is before `after`).
    fn events_after(&self, position: i64) -> Option<&[FeedEvent]> {
        (position >= self.after)
            .then(|| &self.events[self.events.partition_point(|e| e.position <= position)..])
    }
}

/// PostgreSQL: takes the checkpoint row's lock and, if `read` starts at or before it (so holds
/// every event after it that was read), moves it past them, in one statement: one round trip a
/// batch instead of two (a command waits for the batch that applies it). Returns the position
/// before the move; `None` when the checkpoint has no row yet. The row's lock is taken first
/// (`FOR UPDATE` waits for another process's batch and then sees its checkpoint). The move is
/// undone with the batch if applying it fails. It also applies [`BATCH_SETTINGS`].
async fn lock_and_move(
    conn: &mut AnyConnection,
    name: &str,
    read: Option<&Read>,
) -> Result<Option<i64>, ProjectionError> {
    let (after, last) = read.map_or((i64::MAX, 0), |r| (r.after, r.last()));
    let row = sqlx::query(&format!(
        "UPDATE projection_checkpoints c \
         SET position = CASE WHEN o.position >= $3 THEN GREATEST(o.position, $4) \
           ELSE o.position END, updated_at = $2 \
         FROM (SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE) o \
         WHERE c.name = $1 RETURNING o.position AS checkpoint, {BATCH_SETTINGS}"
    ))
    .bind(name)
    .bind(timestamp(chrono::Utc::now()))
    .bind(after)
    .bind(last)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.try_get("checkpoint")).transpose()?)
}

/// The longest a rebuild's swap tries for its tables' locks ([`lock_for_swap`]).
const SWAP_LOCK_WAIT: Duration = Duration::from_secs(30);

/// PostgreSQL: takes the swap's locks on every one of `tables` in one statement, waiting at most
/// 50 ms each try. A reader of several of them (the dashboard reads `credential_summary` and
/// `dashboard_stats` in one statement, taking their locks in either order) that holds one while
/// it waits for another the swap holds would deadlock with the swap, and PostgreSQL would end
/// one of the two (a reader, answered with an error, or the swap, after a whole replay). Instead
/// the swap lets go (back to a savepoint) and tries again, for at most [`SWAP_LOCK_WAIT`].
async fn lock_for_swap(conn: &mut AnyConnection, tables: &[&str]) -> Result<(), ProjectionError> {
    sqlx::query("SELECT set_config('lock_timeout', '50ms', true)")
        .execute(&mut *conn)
        .await?;
    let lock = format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", tables.join(", "));
    let deadline = tokio::time::Instant::now() + SWAP_LOCK_WAIT;
    loop {
        sqlx::query("SAVEPOINT swap_locks")
            .execute(&mut *conn)
            .await?;
        match sqlx::query(&lock).execute(&mut *conn).await {
            Ok(_) => break,
            // lock_not_available: the 50 ms passed.
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("55P03")
                    && tokio::time::Instant::now() < deadline =>
            {
                sqlx::query("ROLLBACK TO SAVEPOINT swap_locks")
                    .execute(&mut *conn)
                    .await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    sqlx::query("SET LOCAL lock_timeout TO DEFAULT")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn set_checkpoint(
    conn: &mut AnyConnection,
    name: &str,
    position: i64,
) -> Result<(), ProjectionError> {
    sqlx::query("UPDATE projection_checkpoints SET position = $2 WHERE name = $1")
        .bind(name)
        .bind(position)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Projections {
    pub fn new(db: &Database, writer: Option<&GroupAppender>) -> Self {
        Self {
            db: db.clone(),
            writer: writer.cloned(),
            progress: READ_MODELS
                .into_iter()
                .map(|m| (m.name(), watch::channel(0).0))
                .collect(),
            stopped: READ_MODELS
                .into_iter()
                .map(|m| (m.name(), AtomicBool::new(false)))
                .collect(),
            access: AtomicU64::new(0),
            summary_all: AtomicU64::new(0),
            summary_users: Default::default(),
            batch: 1000,
        }
    }

    /// Tells this process's waiters that `model` has reached `position`. Two batches of one
    /// read model in this process (the runner's and a job's `catch_up` on PostgreSQL) may
    /// finish in either order: the progress only ever moves forward.
    fn publish(&self, model: Model, position: i64) {
        if let Some(tx) = self.progress.get(model.name()) {
            tx.send_if_modified(|p| move_forward(p, position));
        }
    }

    /// A number that changes (after the commit) whenever a read model of access — users, API
    /// tokens, MCP servers, their tokens and grants — may have changed in this database: this
    /// process applied an event of those aggregates, rebuilt a read model, or found that
    /// another process had applied events it did not see. An answer read from those tables
    /// after taking this number stays true for as long as the number does not change.
    pub fn access_epoch(&self) -> u64 {
        self.access.load(Ordering::Acquire)
    }

    fn access_changed(&self) {
        self.access.fetch_add(1, Ordering::AcqRel);
    }

    /// A number that changes (after the commit) whenever one user's rows of the remembered read
    /// models (`credential_summary` with `dashboard_stats`, `mcp_sync`; see
    /// [`crate::ReadModel::remembered`]) may have changed in this database: this process applied
    /// events that touched them, or rebuilt those tables, or found that another process had applied
    /// events it did not see (those last two count for everyone). An answer read from those rows
    /// after taking this number stays true for as long as the number does not change (a change made
    /// by another process counts from when this process's consumer notices it; it is woken by the
    /// commit's notification). Other people's changes leave it as it is.
    pub fn summary_epoch(&self, user: &str) -> u64 {
        // Both numbers only grow, so the sum changes whenever either does.
        let all = self.summary_all.load(Ordering::Acquire);
        let own = self
            .summary_users
            .lock()
            .map_or(0, |m| m.get(user).copied().unwrap_or(0));
        all + own
    }

    /// Moves [`Projections::summary_epoch`] after `model` committed: for `users`, or for
    /// everyone when `None`. Read models whose answers are not remembered leave it as it is.
    fn summary_changed(&self, model: Model, users: Option<BTreeSet<String>>) {
        if !model.remembered() {
            return;
        }
        match users {
            Some(users) => {
                if let Ok(mut known) = self.summary_users.lock() {
                    for user in users {
                        *known.entry(user).or_default() += 1;
                    }
                }
            }
            None => {
                self.summary_all.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    /// Applies one batch of new events to `model`'s live tables, rows and checkpoint in one
    /// transaction: the events of `read` after its checkpoint, or, if `read` lacks some of them
    /// (or is `None`), the next batch read on its own. Returns how many events it applied.
    async fn step(&self, model: Model, read: Option<&Read>) -> Result<usize, ProjectionError> {
        if let Some(moved) = self.move_past(model, read).await? {
            return Ok(moved);
        }
        let _writer = self.db.exclusive().await;
        let mut tx = self.db.any.begin().await?;
        let sqlite = is_sqlite(&tx);
        let position = if sqlite {
            lock_checkpoint(&mut tx, model.name()).await?
        } else {
            match lock_and_move(&mut tx, model.name(), read).await? {
                Some(position) => position,
                None => {
                    // The read model's first batch in this database: create its checkpoint.
                    lock_checkpoint(&mut tx, model.name()).await?;
                    lock_and_move(&mut tx, model.name(), read)
                        .await?
                        .ok_or(sqlx::Error::RowNotFound)?
                }
            }
        };
        let shared = read.and_then(|r| r.events_after(position));
        let own;
        let events = match shared {
            Some(events) => events,
            None => {
                own = feed::read_after(&mut *tx, position, self.batch).await?;
                &own[..]
            }
        };
        // Events this process did not see were applied by another one: they may have changed
        // access.
        let unseen = self.seen(model) != position;
        let Some(last) = events.last().map(|e| e.position) else {
            tx.rollback().await?;
            self.moved_applying_nothing(model, position, position);
            return Ok(0);
        };
        let prepared = model.prepare(events, self.db.backend())?;
        let users = model.apply(&mut tx, Tables::LIVE, events, prepared).await?;
        // On PostgreSQL `lock_and_move` moved it past what was read together.
        if sqlite || shared.is_none() {
            set_checkpoint(&mut tx, model.name(), last).await?;
        }
        tx.commit().await?;
        if unseen
            || events
                .iter()
                .any(|e| ACCESS_AGGREGATES.contains(&e.aggregate_type.as_str()))
        {
            self.access_changed();
        }
        // Events another process applied before these touched rows this process cannot name.
        self.summary_changed(model, Some(users).filter(|_| !unseen));
        self.publish(model, last);
        Ok(events.len())
    }

    /// PostgreSQL: when nothing in `read` is an event `model` reads, moves its checkpoint past
    /// the read in one statement, without a transaction ([`lock_and_move`] alone; on two
    /// cores, the two round trips more of each read model a commit does not concern slowed
    /// the others' batches, which commands wait for). `None` when it did not: the read holds
    /// events the read model reads, or not every event after its checkpoint (the batch then
    /// runs as usual).
    async fn move_past(
        &self,
        model: Model,
        read: Option<&Read>,
    ) -> Result<Option<usize>, ProjectionError> {
        if self.db.backend() == Backend::Sqlite {
            return Ok(None);
        }
        let Some(read) = read.filter(|r| !r.events.iter().any(|e| crate::reads(model, e))) else {
            return Ok(None);
        };
        let mut conn = self.db.any.acquire().await?;
        let Some(position) = lock_and_move(&mut conn, model.name(), Some(read)).await? else {
            return Ok(None);
        };
        if position < read.after {
            return Ok(None);
        }
        self.moved_applying_nothing(model, position, position.max(read.last()));
        Ok(Some(0))
    }

    /// Records that `model`'s checkpoint, found at `found`, is now at `reached` with nothing
    /// applied by this process: if `found` is not where this process last saw it, another
    /// process applied events this one did not see, which may have changed anyone's rows.
    fn moved_applying_nothing(&self, model: Model, found: i64, reached: i64) {
        if self.seen(model) != found {
            self.access_changed();
            self.summary_changed(model, None);
        }
        self.publish(model, reached);
    }

    /// Where this process last saw `model`'s checkpoint.
    fn seen(&self, model: Model) -> i64 {
        self.progress.get(model.name()).map_or(0, |p| *p.borrow())
    }

    /// Drains the given read models side by side until each has seen every committed event.
    /// Each batch of the feed is read once for all of them, from the checkpoint furthest
    /// behind as this process saw it; each takes the events after its own checkpoint (none, if
    /// another process applied them first). They are independent: one that fails (an event it
    /// cannot read, say) stops only itself, and the others are drained to the end. Returns the
    /// ones that failed, with their errors.
    async fn drain_each(&self, models: &[Model]) -> Vec<(Model, ProjectionError)> {
        let mut failed = Vec::new();
        let mut going = models.to_vec();
        while let Some(after) = going.iter().map(|m| self.seen(*m)).min() {
            // Unread (the database failing): each reads on its own, and fails with its own error.
            let read = feed::read_batch(&self.db, after, self.batch)
                .await
                .ok()
                .map(|events| Read { after, events });
            // A read model this process saw past everything read has nothing in it to apply.
            let due = going
                .iter()
                .filter(|m| read.as_ref().is_none_or(|r| self.seen(**m) < r.last()));
            let stepped = futures::future::join_all(due.map(|&m| {
                let read = read.as_ref();
                async move { (m, self.step(m, read).await) }
            }))
            .await;
            let mut more = read
                .as_ref()
                .is_some_and(|r| r.events.len() as i64 >= self.batch);
            for (model, stepped) in stepped {
                match stepped {
                    Ok(applied) => more |= applied as i64 >= self.batch,
                    Err(e) => {
                        going.retain(|m| m.name() != model.name());
                        failed.push((model, e));
                    }
                }
            }
            if !more {
                break;
            }
        }
        failed
    }

    /// Applies every committed event to every consumer; returns the position reached. The
    /// first read model's error, if any failed (the others are caught up all the same).
    pub async fn catch_up(&self) -> Result<i64, ProjectionError> {
        if let Some((_, e)) = self.drain_each(&READ_MODELS).await.into_iter().next() {
            return Err(e);
        }
        Ok(self.db.head().await?)
    }

    /// Runs every consumer until `shutdown` turns true: catch up, then wait for new events. A
    /// read model that fails is tried again on its own (`retry_wait`) while the others go on
    /// (ADR 0005).
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let mut waker = FeedWaker::new(&self.db, Duration::from_millis(500)).await;
        // The read models that failed and have not gone again since.
        let mut failing: HashMap<&'static str, Failing> = HashMap::new();
        loop {
            let now = tokio::time::Instant::now();
            let due: Vec<Model> = READ_MODELS
                .into_iter()
                .filter(|m| failing.get(m.name()).is_none_or(|f| f.next <= now))
                .collect();
            let failed = self.drain_each(&due).await;
            for model in &due {
                let error = failed.iter().find(|(m, _)| m.name() == model.name());
                match (error, failing.get(model.name()).copied()) {
                    (Some((_, e)), before) => {
                        self.set_stopped(*model, matches!(e, ProjectionError::BadEvent { .. }));
                        let (record, log) = Failing::after(before, e, now);
                        if log {
                            tracing::error!(
                                read_model = model.name(),
                                error = %e,
                                failures = record.failures,
                                failing_for_ms = now.duration_since(record.since).as_millis() as u64,
                                retry_in_ms = record.wait.as_millis() as u64,
                                "read model stopped; the others go on"
                            );
                        }
                        failing.insert(model.name(), record);
                    }
                    (None, Some(record)) => {
                        failing.remove(model.name());
                        self.set_stopped(*model, false);
                        tracing::info!(
                            read_model = model.name(),
                            failures = record.failures,
                            failing_for_ms = now.duration_since(record.since).as_millis() as u64,
                            "read model going again"
                        );
                    }
                    (None, None) => {}
                }
            }
            // What every running consumer has applied: a notification of nothing newer (this
            // process's own commit, already applied on its in-process signal) is no reason to
            // look again.
            let seen = READ_MODELS
                .into_iter()
                .filter(|m| !failing.contains_key(m.name()))
                .map(|m| self.seen(m))
                .min()
                .unwrap_or(i64::MAX);
            let retry = failing.values().map(|f| f.next).min();
            tokio::select! {
                _ = waker.wait_beyond(seen) => {}
                _ = tokio::time::sleep_until(retry.unwrap_or(now)), if retry.is_some() => {}
                // Its sender gone, nobody can stop this any more (nor keep it waiting).
                changed = shutdown.changed() => if changed.is_err() { return },
            }
            if *shutdown.borrow() {
                return;
            }
            // Commands of this process deciding their events or being committed right now land
            // in a moment: a batch started before them would leave their callers waiting for
            // a whole batch more.
            if let Some(writer) = &self.writer {
                writer.let_land().await;
            }
        }
    }

    /// Waits (bounded) until every consumer of this process has applied `position`, so a client
    /// reads its own writes.
    pub async fn wait_for(&self, position: i64, timeout: Duration) -> Result<(), ProjectionError> {
        self.wait_for_some(position, &READ_MODELS, timeout).await
    }

    /// Waits (bounded) until the given read models of this process have applied `position`: a
    /// command waits only for the read models its answer shows, and not for one stopped by an
    /// event it cannot read (its answer is then built from what it committed).
    pub async fn wait_for_some(
        &self,
        position: i64,
        models: &[Model],
        timeout: Duration,
    ) -> Result<(), ProjectionError> {
        let waited = || {
            models
                .iter()
                .filter(|m| !self.stopped(**m))
                .filter_map(|m| self.progress.get(m.name()))
        };
        if waited().all(|tx| *tx.borrow() >= position) {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + timeout;
        for tx in waited() {
            let mut rx = tx.subscribe();
            let reached = tokio::time::timeout_at(deadline, rx.wait_for(|p| *p >= position)).await;
            if !matches!(reached, Ok(Ok(_))) {
                return Err(ProjectionError::Timeout(position));
            }
        }
        Ok(())
    }

    /// Whether this process's runner found `model` stopped by an event it cannot read (and has
    /// not seen it go again since).
    pub fn stopped(&self, model: Model) -> bool {
        self.stopped
            .get(model.name())
            .is_some_and(|s| s.load(Ordering::Acquire))
    }

    fn set_stopped(&self, model: Model, stopped: bool) {
        if let Some(s) = self.stopped.get(model.name()) {
            s.store(stopped, Ordering::Release);
        }
    }

    /// Follows a read model's position in this process (for work that reacts to new rows).
    pub fn progress(&self, model: Model) -> Option<watch::Receiver<i64>> {
        self.progress
            .get(model.name())
            .map(watch::Sender::subscribe)
    }

    /// Where `model`'s checkpoint stands in the database (moved by any process), 0 before its
    /// first batch.
    pub async fn checkpoint(&self, model: Model) -> Result<i64, ProjectionError> {
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = $1")
                .bind(model.name())
                .fetch_optional(&self.db.any)
                .await?;
        Ok(position.unwrap_or(0))
    }

    /// Each consumer's checkpoint and lag.
    pub async fn status(&self) -> Result<Vec<ConsumerStatus>, ProjectionError> {
        let head = self.db.head().await?;
        let rows = sqlx::query("SELECT name, position FROM projection_checkpoints ORDER BY name")
            .fetch_all(&self.db.any)
            .await?;
        let mut known: HashMap<String, i64> = HashMap::new();
        for row in rows {
            known.insert(row.try_get("name")?, row.try_get("position")?);
        }
        Ok(READ_MODELS
            .into_iter()
            .map(|m| {
                let position = known.get(m.name()).copied().unwrap_or(0);
                ConsumerStatus {
                    name: m.name().to_string(),
                    position,
                    head,
                    lag: head - position,
                }
            })
            .collect())
    }

    /// Creates the consumer's empty shadow tables. Their non-unique indexes are left out and
    /// returned, to be built once the replay has filled the tables: one sort instead of an
    /// index insertion per row. (Unique ones stay: the replay's upserts need them.) Returned
    /// too: the layout of each live table copied, which the swap checks is still the same.
    async fn create_shadow_tables(
        &self,
        model: Model,
        shadow_checkpoint: &str,
        lease: &RebuildLease,
    ) -> Result<(DeferredIndexes, Vec<Vec<String>>), ProjectionError> {
        let mut deferred = DeferredIndexes::default();
        let mut layouts = Vec::new();
        let _writer = self.db.exclusive().await;
        let mut tx = self.db.any.begin().await?;
        // The first statement writes, so SQLite takes its write lock here (waiting up to the
        // busy timeout) instead of failing with SQLITE_BUSY_SNAPSHOT when the read of
        // sqlite_master below is upgraded to a write after another process committed.
        lease.hold(&mut tx).await?;
        sqlx::query("DELETE FROM projection_checkpoints WHERE name = $1")
            .bind(shadow_checkpoint)
            .execute(&mut *tx)
            .await?;
        for table in model.tables() {
            let shadow = Tables::REBUILD.name(table);
            sqlx::query(&format!("DROP TABLE IF EXISTS {shadow}"))
                .execute(&mut *tx)
                .await?;
            // Read before the copy: a change that lands in between makes the swap refuse
            // needlessly, never swap in a layout older than the live one.
            layouts.push(layout(&mut tx, table).await?);
            match self.db.backend() {
                Backend::Postgres => {
                    sqlx::query(&format!(
                        "CREATE TABLE {shadow} (LIKE {table} INCLUDING ALL)"
                    ))
                    .execute(&mut *tx)
                    .await?;
                    let later = sqlx::query(
                        "SELECT CAST(indexname AS text) AS name, indexdef FROM pg_indexes \
                         WHERE schemaname = current_schema() AND tablename = $1 \
                         AND indexdef NOT LIKE 'CREATE UNIQUE INDEX%'",
                    )
                    .bind(&shadow)
                    .fetch_all(&mut *tx)
                    .await?;
                    for index in later {
                        let name: String = index.try_get("name")?;
                        sqlx::query(&format!("DROP INDEX {name}"))
                            .execute(&mut *tx)
                            .await?;
                        deferred.on_shadow.push(index.try_get("indexdef")?);
                    }
                }
                Backend::Sqlite => {
                    for (kind, name, sql) in sqlite_ddl(&mut tx, table).await? {
                        let body = sql.find('(').map(|i| &sql[i..]).unwrap_or("");
                        let canonical = name.trim_end_matches("_rebuild");
                        let statement = if kind == "table" {
                            format!("CREATE TABLE {shadow} {body}")
                        } else if sql.to_uppercase().starts_with("CREATE UNIQUE") {
                            format!("CREATE UNIQUE INDEX {canonical}_rebuild ON {shadow} {body}")
                        } else {
                            // SQLite renames no index: built under its own name after the swap.
                            deferred
                                .after_swap
                                .push(format!("CREATE INDEX {canonical} ON {table} {body}"));
                            continue;
                        };
                        sqlx::query(&statement).execute(&mut *tx).await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok((deferred, layouts))
    }

    /// Replays the whole ledger into fresh tables and swaps them in; the live tables keep
    /// serving (and the live consumer keeps running) until the swap's short transaction.
    /// `progress(applied, head)` is called after each batch.
    ///
    /// One rebuild of a read model runs at a time across every process sharing the database:
    /// it holds the lease `rebuild:<name>` (renewed in the background), and each of its
    /// transactions commits only while the lease is still its own. A second one is refused
    /// ([`ProjectionError::RebuildRunning`]); one whose lease another took after it stopped
    /// renewing ends without swapping ([`ProjectionError::RebuildTakenOver`]).
    pub async fn rebuild(
        &self,
        model: Model,
        progress: &(dyn Fn(i64, i64) + Sync),
    ) -> Result<RebuildReport, ProjectionError> {
        let lease = RebuildLease {
            leases: Leases::new(self.db.clone()),
            name: format!("rebuild:{}", model.name()),
            model: model.name(),
        };
        let taken = chrono::Utc::now();
        if !lease
            .leases
            .acquire(&lease.name, taken, REBUILD_LEASE, None)
            .await?
        {
            return Err(ProjectionError::RebuildRunning(model.name()));
        }
        let renewed = lease.leases.keep(&lease.name, taken, REBUILD_LEASE);
        let rebuilt = self.rebuild_holding(model, progress, &lease).await;
        drop(renewed);
        if let Err(e) = lease
            .leases
            .release(&lease.name, chrono::Utc::now(), None)
            .await
        {
            tracing::warn!(read_model = model.name(), error = %e, "could not release the rebuild's lease");
        }
        rebuilt
    }

    async fn rebuild_holding(
        &self,
        model: Model,
        progress: &(dyn Fn(i64, i64) + Sync),
        lease: &RebuildLease,
    ) -> Result<RebuildReport, ProjectionError> {
        let shadow_checkpoint = format!("{}#rebuild", model.name());
        let (deferred_indexes, layouts) = self
            .create_shadow_tables(model, &shadow_checkpoint, lease)
            .await?;
        // Replay: a reader fetches the next batch while the current one is written. Events are
        // immutable and read in position order, so reading outside the write transaction is
        // safe; each batch's rows and the shadow checkpoint still commit together.
        // What the read model prepares without the database, the reader prepares too.
        type Batch = (Vec<FeedEvent>, Option<Prepared>);
        let (batches, mut incoming) = tokio::sync::mpsc::channel::<Batch>(2);
        let reader_db = self.db.clone();
        let backend = self.db.backend();
        let reader = tokio::spawn(async move {
            // A small first batch, so that the writer starts while the reader reads on.
            let (mut after, mut size) = (0, 1000);
            loop {
                let events = feed::read_batch(&reader_db, after, size).await?;
                size = 5000;
                let Some(last) = events.last().map(|e| e.position) else {
                    return Ok::<_, ProjectionError>(());
                };
                after = last;
                let prepared = model.prepare(&events, backend)?;
                if batches.send((events, prepared)).await.is_err() {
                    return Ok(());
                }
            }
        });
        let mut applied = 0i64;
        while let Some((events, prepared)) = incoming.recv().await {
            {
                let _writer = self.db.exclusive().await;
                let mut tx = self.db.any.begin().await?;
                lease.hold(&mut tx).await?;
                lock_checkpoint(&mut tx, &shadow_checkpoint).await?;
                apply(
                    model,
                    &mut tx,
                    Tables::REBUILD,
                    &events,
                    prepared,
                    &shadow_checkpoint,
                )
                .await?;
                tx.commit().await?;
            }
            applied += events.len() as i64;
            progress(applied, self.db.head().await?);
        }
        reader.await.map_err(|e| ProjectionError::BadEvent {
            position: applied,
            detail: format!("the feed reader stopped: {e}"),
        })??;
        if !deferred_indexes.on_shadow.is_empty() {
            // Under the lease, as every write of the rebuild: one that lost it (paused past
            // its time) builds nothing on the tables of the rebuild that took its place.
            let mut tx = self.db.any.begin().await?;
            lease.hold(&mut tx).await?;
            for index in &deferred_indexes.on_shadow {
                sqlx::query(index).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        // The swap: hold the live consumer's checkpoint, apply what arrived meanwhile, swap.
        let _writer = self.db.exclusive().await;
        let mut tx = self.db.any.begin().await?;
        lease.hold(&mut tx).await?;
        lock_checkpoint(&mut tx, model.name()).await?;
        let mut position = lock_checkpoint(&mut tx, &shadow_checkpoint).await?;
        if !is_sqlite(&tx) {
            // The swap is reported done once committed: unlike a batch's, its commit waits for
            // the WAL (lock_checkpoint relaxed that for this transaction).
            sqlx::query("SELECT set_config('synchronous_commit', 'on', true)")
                .execute(&mut *tx)
                .await?;
        }
        loop {
            let events = feed::read_after(&mut *tx, position, 5000).await?;
            let Some(last) = events.last().map(|e| e.position) else {
                break;
            };
            let prepared = model.prepare(&events, self.db.backend())?;
            apply(
                model,
                &mut tx,
                Tables::REBUILD,
                &events,
                prepared,
                &shadow_checkpoint,
            )
            .await?;
            applied += events.len() as i64;
            position = last;
        }
        if !is_sqlite(&tx) {
            lock_for_swap(&mut tx, model.tables()).await?;
        }
        // A migration that ran since the copy (an index, a column) would be undone by the
        // swap. Checked with the live tables locked (PostgreSQL; SQLite holds its write lock
        // since the lease's write), so none can change until this transaction ends; a
        // migration waiting for them goes on with the swapped-in tables. The shadow tables
        // are left for the next rebuild to drop.
        for (&table, copied) in model.tables().iter().zip(&layouts) {
            if layout(&mut tx, table).await? != *copied {
                return Err(ProjectionError::RebuildLayoutChanged(table));
            }
        }
        for table in model.tables() {
            let shadow = Tables::REBUILD.name(table);
            sqlx::query(&format!("DROP TABLE {table}"))
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!("ALTER TABLE {shadow} RENAME TO {table}"))
                .execute(&mut *tx)
                .await?;
            if self.db.backend() == Backend::Sqlite {
                // SQLite keeps index names on rename; give them back their usual names.
                for (kind, name, sql) in sqlite_ddl(&mut tx, table).await? {
                    if kind == "index" && name.ends_with("_rebuild") {
                        let canonical = name.trim_end_matches("_rebuild");
                        let rest = sql.find(" ON ").map(|i| &sql[i..]).unwrap_or("");
                        let unique = if sql.to_uppercase().starts_with("CREATE UNIQUE") {
                            "UNIQUE "
                        } else {
                            ""
                        };
                        sqlx::query(&format!("DROP INDEX {name}"))
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(&format!("CREATE {unique}INDEX {canonical}{rest}"))
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }
        }
        for index in &deferred_indexes.after_swap {
            sqlx::query(index).execute(&mut *tx).await?;
        }
        set_checkpoint(&mut tx, model.name(), position).await?;
        sqlx::query("DELETE FROM projection_checkpoints WHERE name = $1")
            .bind(&shadow_checkpoint)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.access_changed();
        self.summary_changed(model, None);
        self.publish(model, position);
        Ok(RebuildReport {
            consumer: model.name(),
            events: applied,
            position,
        })
    }
}

/// How long a rebuild's lease lasts without being renewed (it is renewed every third of that
/// while the rebuild runs): how long one that stopped without ending keeps others out.
const REBUILD_LEASE: Duration = Duration::from_secs(60);

/// The lease a rebuild of one read model holds.
struct RebuildLease {
    leases: Leases,
    name: String,
    model: &'static str,
}

impl RebuildLease {
    /// Makes the caller's transaction commit only while the lease is still this rebuild's.
    async fn hold(&self, tx: &mut AnyConnection) -> Result<(), ProjectionError> {
        let held = self
            .leases
            .renew_in(tx, &self.name, chrono::Utc::now(), REBUILD_LEASE)
            .await?;
        if held {
            Ok(())
        } else {
            Err(ProjectionError::RebuildTakenOver(self.model))
        }
    }
}

/// Indexes a rebuild builds once its tables are filled.
#[derive(Default)]
struct DeferredIndexes {
    /// PostgreSQL: on the shadow tables, before the swap.
    on_shadow: Vec<String>,
    /// SQLite: under their usual names, in the swap, after the rename.
    after_swap: Vec<String>,
}

/// What a migration may change of a live table, to compare: PostgreSQL, its columns (with their
/// types, nullability and defaults), constraints and index definitions (named); SQLite, the
/// stored DDL of the table and its indexes.
async fn layout(conn: &mut AnyConnection, table: &str) -> Result<Vec<String>, ProjectionError> {
    if is_sqlite(conn) {
        let ddl = sqlite_ddl(conn, table).await?;
        return Ok(ddl.into_iter().map(|(_, _, sql)| sql).collect());
    }
    let rows = sqlx::query(
        "SELECT part FROM ( \
           SELECT 0 AS kind, CAST(a.attnum AS integer) AS n, CAST(a.attname AS text) || ' ' \
             || format_type(a.atttypid, a.atttypmod) \
             || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END \
             || COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') || ' ' \
             || CAST(a.attidentity AS text) || CAST(a.attgenerated AS text) AS part \
           FROM pg_attribute a \
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
           WHERE a.attrelid = CAST($1 AS regclass) AND a.attnum > 0 AND NOT a.attisdropped \
           UNION ALL \
           SELECT 1, 0, CAST(conname AS text) || ' ' || pg_get_constraintdef(oid) \
           FROM pg_constraint WHERE conrelid = CAST($1 AS regclass) \
           UNION ALL \
           SELECT 2, 0, pg_get_indexdef(indexrelid) \
           FROM pg_index WHERE indrelid = CAST($1 AS regclass) \
         ) AS layout ORDER BY kind, n, part",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("part")?)).collect()
}

/// SQLite's stored DDL for a table and its explicit indexes: (type, name, sql).
async fn sqlite_ddl(
    conn: &mut AnyConnection,
    table: &str,
) -> Result<Vec<(String, String, String)>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = $1 AND sql IS NOT NULL \
         ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, name",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("type")?, r.try_get("name")?, r.try_get("sql")?)))
        .collect()
}

/// Moves `progress` to `position` if that is further on; whether it moved.
fn move_forward(progress: &mut i64, position: i64) -> bool {
    let further = position > *progress;
    if further {
        *progress = position;
    }
    further
}

#[cfg(test)]
mod tests {
    use super::{retry_wait, Failing, ProjectionError};
    use std::time::Duration;

    #[test]
    fn a_read_model_stopped_by_an_unreadable_event_is_tried_less_often_and_one_stopped_by_the_database_is_not(
    ) {
        let bad = ProjectionError::BadEvent {
            position: 7,
            detail: "unknown variant".into(),
        };
        let mut wait = None;
        let waits: Vec<u64> = (0..10)
            .map(|_| {
                let next = retry_wait(&bad, wait);
                wait = Some(next);
                next.as_millis() as u64
            })
            .collect();
        assert_eq!(
            waits,
            [250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
        let gone = ProjectionError::Db(credledger_adapters::DbError::Query(
            sqlx::Error::PoolTimedOut,
        ));
        assert_eq!(
            retry_wait(&gone, Some(Duration::from_secs(30))),
            Duration::from_millis(250)
        );
    }

    #[test]
    fn a_read_model_failing_on_every_try_is_logged_when_it_first_fails_and_then_every_thirty_seconds(
    ) {
        let gone = ProjectionError::Db(credledger_adapters::DbError::Query(
            sqlx::Error::PoolTimedOut,
        ));
        let start = tokio::time::Instant::now();
        let mut record = None;
        let mut logged = Vec::new();
        // A minute of tries, each when the last one's wait has passed (250 ms).
        let mut now = start;
        while now < start + Duration::from_secs(61) {
            let (next, log) = Failing::after(record, &gone, now);
            if log {
                logged.push(now.duration_since(start).as_millis());
            }
            now = next.next;
            record = Some(next);
        }
        assert_eq!(logged, [0, 30_000, 60_000]);
        let record = record.expect("it failed");
        assert_eq!(record.failures, 244);
        assert_eq!(record.since, start);
    }

    #[test]
    fn progress_published_late_by_an_earlier_batch_does_not_move_it_back() {
        let mut progress = 0;
        assert!(super::move_forward(&mut progress, 160));
        assert!(
            !super::move_forward(&mut progress, 150),
            "an earlier batch, late"
        );
        assert_eq!(progress, 160);
        assert!(!super::move_forward(&mut progress, 160));
        assert!(super::move_forward(&mut progress, 161));
        assert_eq!(progress, 161);
    }
}
