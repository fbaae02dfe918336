//! Scheduled work: revalidating stale credentials ([`revalidate`]) and handling token expiry
//! ([`expire`]). Each job is a library function that `serve`'s [`Scheduler`] runs on an
//! interval and the CLI runs once (for cron). Either way a job runs under its lease in the
//! database, so several instances sharing one database run it once; every check and every
//! expiry is a ledger event attributed to `scheduler` (or `cli`) with the run's request id.

mod expiry;
mod revalidate;

pub use credledger_adapters::lease::{lost_margin, Held, LeaseState, Leases};
pub use expiry::{expire, notice, ExpiryOptions, ExpiryReport, Webhook};
pub use revalidate::{revalidate, Progress, RevalidateOptions, RevalidateReport, SCHEDULED_SHARE};

use crate::config::JobSettings;
use crate::ledger::Ledger;
use chrono::Utc;
use credledger_adapters::outbound::OutboundPolicy;
use credledger_domain::ports::Validator;
use credledger_domain::InputError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The lease (and job) names.
pub const REVALIDATE: &str = "revalidate";
pub const EXPIRY: &str = "expiry";

/// Why a job could not run.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl JobError {
    fn db(e: impl std::fmt::Display) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<credledger_projections::ProjectionError> for JobError {
    fn from(e: credledger_projections::ProjectionError) -> Self {
        Self::db(e)
    }
}

impl From<credledger_adapters::DbError> for JobError {
    fn from(e: credledger_adapters::DbError) -> Self {
        Self::db(e)
    }
}

/// Whether a write failed for a while only (the database away, a race lost), so that running
/// the job again at the next look may succeed: a run with such a failure is not completed. A
/// lasting failure (a data key that cannot be opened) completes the run, logged and counted:
/// it would otherwise run the job every minute for good.
pub(crate) fn for_a_while(e: &crate::ledger::LedgerError) -> bool {
    matches!(
        e,
        crate::ledger::LedgerError::Unavailable(_) | crate::ledger::LedgerError::Conflict
    )
}

pub(crate) fn is_set(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow()
}

/// Resolves once `stop` is true; never if its sender is gone without saying so.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A stop signal that turns true when either input does (or its sender goes away).
fn either(
    mut a: watch::Receiver<bool>,
    mut b: watch::Receiver<bool>,
) -> (watch::Receiver<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(is_set(&a) || is_set(&b));
    let task = tokio::spawn(async move {
        tokio::select! {
            _ = a.wait_for(|s| *s) => {}
            _ = b.wait_for(|s| *s) => {}
        }
        let _ = tx.send(true);
    });
    (rx, task)
}

fn user_agent(who: &str) -> Option<String> {
    Some(format!("credledger-{who}/{}", env!("CARGO_PKG_VERSION")))
}

impl RevalidateOptions {
    /// Every stale credential, as the settings say, on behalf of `actor`.
    pub fn from_settings(settings: &JobSettings, actor: &str) -> Self {
        Self {
            service: None,
            user: None,
            stale_after: settings.stale_after,
            concurrency: settings.concurrency,
            dry_run: false,
            actor: actor.to_owned(),
            user_agent: user_agent(actor),
        }
    }
}

impl ExpiryOptions {
    /// `refreshed_providers`: the OAuth providers a client is configured for.
    pub fn from_settings(
        settings: &JobSettings,
        actor: &str,
        outbound: &OutboundPolicy,
        refreshed_providers: std::collections::BTreeSet<String>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            refreshed_providers,
            warning_window: settings.warning_window,
            webhook: settings
                .webhook_url
                .as_deref()
                .map(|url| Webhook::new(url, outbound))
                .transpose()?,
            dry_run: false,
            actor: actor.to_owned(),
            user_agent: user_agent(actor),
        })
    }
}

#[derive(Default)]
struct Counters {
    polls: AtomicU64,
    runs: AtomicU64,
}

/// What an instance's scheduler has done, per job: how often it looked whether the job was due
/// (`polls`) and how many runs it completed (`runs`).
#[derive(Clone, Default)]
pub struct SchedulerHandle {
    holder: Arc<str>,
    revalidate: Arc<Counters>,
    expiry: Arc<Counters>,
}

impl std::fmt::Debug for SchedulerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerHandle")
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl SchedulerHandle {
    fn counters(&self, job: &str) -> Option<&Counters> {
        match job {
            REVALIDATE => Some(&self.revalidate),
            EXPIRY => Some(&self.expiry),
            _ => None,
        }
    }

    /// This instance's lease holder id (empty when the scheduler is off).
    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn polls(&self, job: &str) -> u64 {
        self.counters(job)
            .map_or(0, |c| c.polls.load(Ordering::SeqCst))
    }

    pub fn runs(&self, job: &str) -> u64 {
        self.counters(job)
            .map_or(0, |c| c.runs.load(Ordering::SeqCst))
    }
}

/// `serve`'s scheduled jobs. The ledger it is given should not wait for the read models after
/// each command (nobody reads the scheduler's writes back at once).
pub struct Scheduler {
    ledger: Arc<Ledger>,
    validator: Arc<dyn Validator>,
    settings: JobSettings,
    leases: Leases,
    expiry: ExpiryOptions,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("settings", &self.settings)
            .field("leases", &self.leases)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// The id this instance holds the jobs' leases under.
    pub fn lease_holder(&self) -> &str {
        self.leases.holder()
    }

    /// `refreshed_providers`: the OAuth providers a client is configured for.
    pub fn new(
        ledger: Arc<Ledger>,
        validator: Arc<dyn Validator>,
        settings: JobSettings,
        outbound: &OutboundPolicy,
        refreshed_providers: std::collections::BTreeSet<String>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            leases: Leases::new(ledger.db.clone()),
            expiry: ExpiryOptions::from_settings(
                &settings,
                "scheduler",
                outbound,
                refreshed_providers,
            )?,
            ledger,
            validator,
            settings,
        })
    }

    /// Runs each job whenever it is due and this instance gets its lease, until `shutdown`
    /// turns true; a run in progress then stops starting new work and releases its lease.
    pub fn spawn(
        self,
        shutdown: watch::Receiver<bool>,
    ) -> (tokio::task::JoinHandle<()>, SchedulerHandle) {
        let handle = SchedulerHandle {
            holder: self.leases.holder().into(),
            ..Default::default()
        };
        let this = Arc::new(self);
        let jobs = [
            (
                REVALIDATE,
                this.settings.revalidate_interval,
                handle.revalidate.clone(),
            ),
            (EXPIRY, this.settings.expiry_interval, handle.expiry.clone()),
        ];
        // Each job's runs are served from the start, at 0 for both outcomes, so a rate over
        // them has its series before the first run. (An alert on no completed run reads
        // `credledger_job_last_completed_timestamp_seconds` instead: a run made before the
        // first scrape is that series' first sample, which `increase` counts for nothing.)
        for (name, _, _) in &jobs {
            for outcome in ["completed", "stopped"] {
                metrics::counter!(crate::metrics::JOB_RUNS, "job" => *name, "outcome" => outcome)
                    .increment(0);
            }
        }
        let task = tokio::spawn(async move {
            let loops = jobs.map(|(name, interval, counters)| {
                this.clone()
                    .every(name, interval, counters, shutdown.clone())
            });
            futures::future::join_all(loops).await;
        });
        (task, handle)
    }

    async fn every(
        self: Arc<Self>,
        name: &'static str,
        interval: Duration,
        counters: Arc<Counters>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let ttl = self.settings.lease_ttl;
        let due_after = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
        loop {
            if is_set(&shutdown) {
                return;
            }
            let now = Utc::now();
            match self
                .leases
                .acquire(name, now, ttl, Some(now - due_after))
                .await
            {
                Ok(true) => {
                    let held = self.leases.keep(name, now, ttl);
                    let (stop, forwarder) = either(shutdown.clone(), held.lost.clone());
                    let completed = self.run(name, stop).await;
                    let outcome = if completed { "completed" } else { "stopped" };
                    metrics::counter!(crate::metrics::JOB_RUNS, "job" => name, "outcome" => outcome)
                        .increment(1);
                    forwarder.abort();
                    drop(held);
                    let stamp = completed.then_some(now);
                    if let Err(e) = self.leases.release(name, Utc::now(), stamp).await {
                        tracing::warn!(job = name, error = %e, "could not release the lease; it lapses after its TTL");
                    }
                    if completed {
                        counters.runs.fetch_add(1, Ordering::SeqCst);
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(job = name, error = %e, "could not take the lease"),
            }
            counters.polls.fetch_add(1, Ordering::SeqCst);
            tokio::select! {
                _ = tokio::time::sleep(self.settings.poll.min(interval)) => {}
                changed = shutdown.changed() => if changed.is_err() { return },
            }
        }
    }

    /// One run; whether it completed (neither stopped nor failed, none of its writes refused).
    async fn run(&self, name: &str, stop: watch::Receiver<bool>) -> bool {
        match name {
            REVALIDATE => {
                let options = RevalidateOptions::from_settings(&self.settings, "scheduler");
                let noop: Progress = Arc::new(|_, _| {});
                match revalidate(
                    self.ledger.clone(),
                    self.validator.clone(),
                    &options,
                    stop,
                    noop,
                )
                .await
                {
                    Ok(report) => report.completed(),
                    Err(e) => {
                        tracing::error!(job = name, error = %e, "scheduled revalidation failed");
                        false
                    }
                }
            }
            _ => match expire(self.ledger.clone(), &self.expiry, stop).await {
                Ok(report) => report.completed(),
                Err(e) => {
                    tracing::error!(job = name, error = %e, "scheduled expiry run failed");
                    false
                }
            },
        }
    }
}
