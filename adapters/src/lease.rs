//! Leases in the database: a job runs only on the instance holding its lease (and a read
//! model's rebuild only in the process holding its own). Taking, renewing
//! and releasing are one atomic statement each, so two instances (or processes, on SQLite)
//! never both hold one. A holder that stops renewing loses the lease when its TTL passes.
//! Times come from the instances' clocks, which must agree to well within a TTL (NTP does).

use crate::db::timestamp;
use crate::{Database, DbError};
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// One instance's handle on the `leases` table. `holder` is random per instance.
#[derive(Clone)]
pub struct Leases {
    db: Database,
    holder: Arc<str>,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

/// A lease's row, for messages and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseState {
    pub holder: Option<String>,
    pub expires_at: String,
    pub last_run_at: Option<String>,
}

/// How long before a hold of `ttl` is sure to end [`Held::is_lost`] counts it as lost: a sixth
/// of the TTL, half the renewer's own margin, so that a renewal answered within half the TTL
/// (they are asked every third) never makes it seem lost meanwhile. Work begun while the hold is
/// not lost, and bounded by less than this, ends before another holder can take the lease
/// (clocks agreeing).
pub fn lost_margin(ttl: Duration) -> Duration {
    ttl / 6
}

fn chrono_ttl(ttl: Duration) -> chrono::Duration {
    chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX)
}

impl Leases {
    /// A new instance identity: the process id (for people) and a random part (for uniqueness).
    pub fn new(db: Database) -> Self {
        let random = uuid::Uuid::new_v4().simple().to_string();
        Self::with_holder(db, &format!("pid{}-{}", std::process::id(), &random[..12]))
    }

    pub fn with_holder(db: Database, holder: &str) -> Self {
        Self {
            db,
            holder: holder.into(),
        }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Takes `name` until `now + ttl` if nobody holds it (or the holder's TTL has passed, or it
    /// is ours) and the job is due: its last completed run started at or before `due_before`
    /// (`None`: always due), or later than `now + ttl`, which only a clock that was ahead of
    /// ours by more than the clocks may differ can have stamped (one jump a year ahead would
    /// otherwise stop the job on every instance for a year). Answers whether this instance now
    /// holds it.
    pub async fn acquire(
        &self,
        name: &str,
        now: DateTime<Utc>,
        ttl: Duration,
        due_before: Option<DateTime<Utc>>,
    ) -> Result<bool, DbError> {
        let _writer = self.db.exclusive().await;
        let row = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at, last_run_at) VALUES ($1, $2, $3, NULL) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
               expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder \
               OR ((leases.holder IS NULL OR leases.expires_at < $4) \
                   AND ($5 = '' OR leases.last_run_at IS NULL OR leases.last_run_at <= $5 \
                        OR leases.last_run_at > $3)) \
             RETURNING holder",
        )
        .bind(name)
        .bind(self.holder.as_ref())
        .bind(timestamp(now + chrono_ttl(ttl)))
        .bind(timestamp(now))
        .bind(due_before.map(timestamp).unwrap_or_default())
        .fetch_optional(&self.db.any)
        .await?;
        Ok(row.is_some())
    }

    /// Extends our hold on `name` to `now + ttl`; `false` when another instance holds it now.
    pub async fn renew(
        &self,
        name: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<bool, DbError> {
        let _writer = self.db.exclusive().await;
        let mut conn = self.db.any.acquire().await?;
        self.renew_in(&mut conn, name, now, ttl).await
    }

    /// [`Leases::renew`] in the caller's transaction, so that what the transaction writes is
    /// committed only while the lease is ours: the lease's row stays locked until the commit
    /// (on SQLite the whole database does), so nobody takes the lease in between.
    pub async fn renew_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        name: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<bool, DbError> {
        let row = sqlx::query(
            "UPDATE leases SET expires_at = $3 WHERE name = $1 AND holder = $2 RETURNING holder",
        )
        .bind(name)
        .bind(self.holder.as_ref())
        .bind(timestamp(now + chrono_ttl(ttl)))
        .fetch_optional(tx)
        .await?;
        Ok(row.is_some())
    }

    /// Lets go of `name` (if still ours). `completed_run` is when a run that finished started:
    /// the job is next due one interval after it. An incomplete run leaves the job due.
    pub async fn release(
        &self,
        name: &str,
        now: DateTime<Utc>,
        completed_run: Option<DateTime<Utc>>,
    ) -> Result<(), DbError> {
        let _writer = self.db.exclusive().await;
        sqlx::query(
            "UPDATE leases SET holder = NULL, expires_at = $3, \
             last_run_at = CASE WHEN $4 = '' THEN last_run_at ELSE $4 END \
             WHERE name = $1 AND holder = $2",
        )
        .bind(name)
        .bind(self.holder.as_ref())
        .bind(timestamp(now))
        .bind(completed_run.map(timestamp).unwrap_or_default())
        .execute(&self.db.any)
        .await?;
        Ok(())
    }

    /// The lease's row, if it was ever taken.
    pub async fn state(&self, name: &str) -> Result<Option<LeaseState>, DbError> {
        let row = sqlx::query("SELECT holder, expires_at, last_run_at FROM leases WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.db.any)
            .await?;
        row.map(|r| {
            Ok(LeaseState {
                holder: r.try_get("holder")?,
                expires_at: r.try_get("expires_at")?,
                last_run_at: r.try_get("last_run_at")?,
            })
        })
        .transpose()
        .map_err(DbError::Query)
    }

    /// Renews `name`, taken at `taken_at` (the time given to [`Leases::acquire`]), every third
    /// of `ttl` until the returned guard is dropped. The guard's `lost` signal turns true as
    /// soon as the hold may have lapsed: the lease was taken by another instance, a renewal
    /// failed and the next one would come too late, or a renewal was still unanswered when the
    /// hold ran out (a database that does not answer). A job must stop then. Renewing goes on
    /// (but for a lease another instance took), so a holder that does not watch `lost` keeps
    /// the lease whenever nobody took it meanwhile.
    pub fn keep(&self, name: &str, taken_at: DateTime<Utc>, ttl: Duration) -> Held {
        let (lost_tx, lost) = watch::channel(false);
        let (leases, name) = (self.clone(), name.to_owned());
        // Until when the lease is surely ours: the database's expiry counts from `taken_at`, and
        // each renewal's from a clock read after `asked`.
        let left = taken_at
            .checked_add_signed(chrono_ttl(ttl))
            .and_then(|end| (end - Utc::now()).to_std().ok())
            .unwrap_or_default();
        let held_until = Arc::new(Mutex::new(tokio::time::Instant::now() + left));
        let shared_until = held_until.clone();
        let renewer = tokio::spawn(async move {
            let held_until = || *shared_until.lock().unwrap_or_else(PoisonError::into_inner);
            let mut asked = tokio::time::Instant::now();
            loop {
                // A third of the TTL after the last renewal was asked, however long it took.
                tokio::time::sleep_until(asked + ttl / 3).await;
                asked = tokio::time::Instant::now();
                let renewal = leases.renew(&name, Utc::now(), ttl);
                match tokio::time::timeout_at(held_until().max(asked), renewal).await {
                    Ok(Ok(true)) => {
                        *shared_until.lock().unwrap_or_else(PoisonError::into_inner) = asked + ttl
                    }
                    Ok(Ok(false)) => {
                        tracing::warn!(job = %name, "lease taken by another instance; stopping");
                        let _ = lost_tx.send(true);
                        return;
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(job = %name, error = %e, "could not renew the lease");
                    }
                    Err(_) => {
                        tracing::warn!(job = %name, "renewing the lease went unanswered until it may have lapsed");
                    }
                }
                if tokio::time::Instant::now() + ttl / 3 >= held_until() && !*lost_tx.borrow() {
                    tracing::warn!(job = %name, "the lease may lapse before it is renewed; stopping");
                    let _ = lost_tx.send(true);
                }
            }
        });
        Held {
            lost,
            renewer,
            held_until,
            margin: lost_margin(ttl),
        }
    }
}

/// A lease being renewed in the background.
pub struct Held {
    pub lost: watch::Receiver<bool>,
    renewer: tokio::task::JoinHandle<()>,
    /// Until when the lease is surely ours, as the renewer last learned.
    held_until: Arc<Mutex<tokio::time::Instant>>,
    /// How long before `held_until` the hold counts as lost: [`lost_margin`].
    margin: Duration,
}

impl Held {
    /// Whether the hold may have lapsed: stop before the next piece of work. Read from the
    /// clock too, not only from `lost`: a process paused past its hold (a frozen VM, a starved
    /// runtime) may ask before its renewer has run to say so.
    pub fn is_lost(&self) -> bool {
        let held_until = *self
            .held_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *self.lost.borrow() || tokio::time::Instant::now() + self.margin >= held_until
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}
