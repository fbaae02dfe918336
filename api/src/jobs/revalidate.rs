//! Revalidation: every active credential not checked for a while, and every inactive one never
//! checked (imported without a check), is checked with its provider and the answer recorded
//! in the ledger.
//!
//! Checks go through the server's one validator, so the catalog's per-service outbound limits
//! hold across interactive and scheduled checks. On top of that the job paces itself to a share
//! of each limit ([`SCHEDULED_SHARE`]): a large run neither starves people's own checks nor
//! turns into a flood of "rate limit reached" answers from the validator.

use super::{is_set, stopped, JobError};
use crate::ledger::{Ledger, LedgerError};
use credledger_domain::keyring::ValidationOutcome;
use credledger_domain::ports::Validator;
use credledger_domain::{EventMetadata, ServiceDefinition, UserId};
use credledger_projections::credential_summary::{self, Filter, Summary};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

/// The share of a service's per-minute and per-hour limits scheduled checks use, in percent.
pub const SCHEDULED_SHARE: u32 = 80;

/// What to revalidate, and as whom.
#[derive(Debug, Clone)]
pub struct RevalidateOptions {
    /// Only this service's credentials.
    pub service: Option<String>,
    /// Only this person's credentials.
    pub user: Option<String>,
    /// Checked longer ago than this (or never): stale.
    pub stale_after: chrono::Duration,
    /// Checks in flight at once.
    pub concurrency: usize,
    /// List what would be checked; contact no provider, record nothing.
    pub dry_run: bool,
    /// The events' actor (`scheduler`, `cli`).
    pub actor: String,
    pub user_agent: Option<String>,
}

/// What a run did. `valid + invalid + could_not_check + skipped + errors = checked`, and
/// `checked = stale` unless the run was stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RevalidateReport {
    /// The request id every event of this run carries.
    pub request_id: String,
    /// Stale credentials found, per service.
    pub stale_by_service: BTreeMap<String, u64>,
    pub stale: u64,
    pub valid: u64,
    pub invalid: u64,
    /// The provider could not be asked; recorded, status unchanged.
    pub could_not_check: u64,
    /// Changed while being checked (secret replaced, revoked, erased), checked by someone since
    /// the run listed it, not checkable (service disabled, gone from the catalog, or without a
    /// live check), or holding a token past its expiry (the expiry and refresh jobs' to
    /// handle): nothing recorded.
    pub skipped: u64,
    /// Could not be recorded (database trouble), or refused because another credential holds
    /// the account; logged.
    pub errors: u64,
    /// Of `errors`, the checks the database failed to make or record while it was away (or a
    /// race was lost): the secret could not be read or the outcome not written. A run with any
    /// is not completed: the job is due again, and those credentials, still stale, are checked
    /// at the next look rather than one interval later. A lasting failure is not counted here.
    pub unrecorded: u64,
    /// The run stopped before checking everything (shutdown, lease lost).
    pub stopped: bool,
}

impl RevalidateReport {
    pub fn checked(&self) -> u64 {
        self.valid + self.invalid + self.could_not_check + self.skipped + self.errors
    }

    /// Whether the run counts as the job's run: it went through (not stopped) and the database
    /// recorded every check it made.
    pub fn completed(&self) -> bool {
        !self.stopped && self.unrecorded == 0
    }
}

#[derive(Default)]
struct Counters {
    valid: AtomicU64,
    invalid: AtomicU64,
    could_not_check: AtomicU64,
    skipped: AtomicU64,
    errors: AtomicU64,
    unrecorded: AtomicU64,
}

impl Counters {
    fn done(&self) -> u64 {
        [
            &self.valid,
            &self.invalid,
            &self.could_not_check,
            &self.skipped,
            &self.errors,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }
}

/// Progress: `(done, total)`, called once with `(0, total)` when the stale credentials are
/// known, then after each check.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Checks every stale credential matching `options`, at most `options.concurrency` at a time,
/// until done or `stop` turns true (checks in flight then finish and are recorded).
pub async fn revalidate(
    ledger: Arc<Ledger>,
    validator: Arc<dyn Validator>,
    options: &RevalidateOptions,
    stop: watch::Receiver<bool>,
    progress: Progress,
) -> Result<RevalidateReport, JobError> {
    let user = options.user.as_deref().map(UserId::parse).transpose()?;
    if let Some(service) = &options.service {
        ledger.catalog.enabled_service(service)?;
    }
    ledger.projections.catch_up().await?;
    let now = chrono::Utc::now();
    let checked_before = credledger_adapters::db::timestamp(now - options.stale_after);
    let stale = credential_summary::stale(
        &ledger.db.any,
        Filter {
            user_id: user.as_ref().map(UserId::as_str),
            service: options.service.as_deref(),
            status: None,
        },
        &checked_before,
    )
    .await?;
    let mut report = RevalidateReport {
        request_id: format!("revalidate-{}", uuid::Uuid::new_v4()),
        stale: stale.len() as u64,
        ..Default::default()
    };
    let mut by_service: BTreeMap<String, Vec<Summary>> = BTreeMap::new();
    for s in stale {
        *report
            .stale_by_service
            .entry(s.service.clone())
            .or_default() += 1;
        by_service.entry(s.service.clone()).or_default().push(s);
    }
    progress(0, report.stale);
    if options.dry_run || report.stale == 0 {
        return Ok(report);
    }

    let counters = Arc::new(Counters::default());
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut drivers = tokio::task::JoinSet::new();
    for (service, credentials) in by_service {
        // A service that cannot be checked would only record "could not check" again and again.
        let definition = ledger.catalog.enabled_service(&service).ok();
        let Some(definition) = definition.filter(|d| d.probe.is_some()).cloned() else {
            tracing::warn!(%service, count = credentials.len(), "service disabled, unknown or without a live check: not checked");
            counters
                .skipped
                .fetch_add(credentials.len() as u64, Ordering::Relaxed);
            continue;
        };
        let run = ServiceRun {
            ledger: ledger.clone(),
            validator: validator.clone(),
            definition: Arc::new(definition),
            permits: permits.clone(),
            counters: counters.clone(),
            progress: progress.clone(),
            total: report.stale,
            checked_before: now - options.stale_after,
            metadata: EventMetadata {
                actor: options.actor.clone(),
                occurred_at: now,
                request_id: report.request_id.clone(),
                ip: None,
                user_agent: options.user_agent.clone(),
            },
        };
        drivers.spawn(run.drive(credentials, stop.clone()));
    }
    while let Some(joined) = drivers.join_next().await {
        joined.map_err(|e| JobError::Internal(format!("a revalidation task failed: {e}")))?;
    }
    let c = &counters;
    report.valid = c.valid.load(Ordering::Relaxed);
    report.invalid = c.invalid.load(Ordering::Relaxed);
    report.could_not_check = c.could_not_check.load(Ordering::Relaxed);
    report.skipped = c.skipped.load(Ordering::Relaxed);
    report.errors = c.errors.load(Ordering::Relaxed);
    report.unrecorded = c.unrecorded.load(Ordering::Relaxed);
    report.stopped = report.checked() < report.stale;
    tracing::info!(
        request_id = %report.request_id,
        stale = report.stale,
        valid = report.valid,
        invalid = report.invalid,
        could_not_check = report.could_not_check,
        skipped = report.skipped,
        errors = report.errors,
        stopped = report.stopped,
        "revalidation finished"
    );
    Ok(report)
}

/// One service's share of a run: paced to the service's limits, checks spawned as permits
/// allow. Waiting for a rate slot holds no permit, so a slow service never blocks the others.
struct ServiceRun {
    ledger: Arc<Ledger>,
    validator: Arc<dyn Validator>,
    definition: Arc<ServiceDefinition>,
    permits: Arc<Semaphore>,
    counters: Arc<Counters>,
    progress: Progress,
    total: u64,
    /// The run's staleness cutoff: a credential checked at or after it since the list was
    /// read is no longer stale.
    checked_before: chrono::DateTime<chrono::Utc>,
    metadata: EventMetadata,
}

impl ServiceRun {
    async fn drive(self, credentials: Vec<Summary>, mut stop: watch::Receiver<bool>) {
        let mut pacer = Pacer::new(&self.definition);
        let this = Arc::new(self);
        let mut checks = tokio::task::JoinSet::new();
        for credential in credentials {
            if is_set(&stop) {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(pacer.next(Instant::now())) => {}
                _ = stopped(&mut stop) => break,
            }
            let permit = tokio::select! {
                permit = this.permits.clone().acquire_owned() => permit,
                _ = stopped(&mut stop) => break,
            };
            let Ok(permit) = permit else { break };
            // The time it really starts: waiting for a permit may have taken a while.
            pacer.record(Instant::now());
            let run = this.clone();
            checks.spawn(async move {
                run.check(credential).await;
                drop(permit);
                (run.progress)(run.counters.done(), run.total);
            });
            // Finished checks are dropped as the run goes, not held until its end.
            while checks.try_join_next().is_some() {}
        }
        while checks.join_next().await.is_some() {}
    }

    async fn check(&self, credential: Summary) {
        let id = credential.credential_id.as_str();
        let counters = &self.counters;
        // A token past its expiry is the expiry and refresh jobs' to handle: checked, it would
        // be refused by its provider and recorded `invalid`, which neither job ever undoes (an
        // OAuth credential whose refreshes failed for a while would need reconnecting). The
        // listed expiry is the earliest the token can have: a refresh since only moves it on.
        if credential
            .token_expires_at
            .is_some_and(|at| at <= chrono::Utc::now())
        {
            tracing::debug!(credential = %id, "token past its expiry; not checked");
            counters.skipped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Refused if revoked since the list was read (a run can last hours); none if checked
        // since (someone's own check while the run went through the others).
        let secret = self
            .ledger
            .stale_secret_to_validate(id, self.checked_before)
            .await;
        let (version, fields) = match secret {
            Ok(Some(secret)) => secret,
            Ok(None) => {
                tracing::debug!(credential = %id, "checked since the run listed it; skipped");
                counters.skipped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(e) => return self.refused(id, e),
        };
        // One request per check: the pacing counts checks, and a retry would spend slots of
        // the limit it does not count (a provider answering 503 to every request would let
        // the job take the whole limit). A check that could not be made is recorded once
        // and made again by the next run.
        let outcome = self
            .validator
            .validate_once(&self.definition, &fields)
            .await;
        drop(fields);
        let counter = match &outcome {
            ValidationOutcome::Valid { .. } => &counters.valid,
            ValidationOutcome::Invalid { .. } => &counters.invalid,
            ValidationOutcome::CouldNotCheck { .. } => &counters.could_not_check,
        };
        let meta = EventMetadata {
            occurred_at: chrono::Utc::now(),
            ..self.metadata.clone()
        };
        match self
            .ledger
            .record_validation(id, version, outcome, &meta)
            .await
        {
            Ok(_) => {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => self.refused(id, e),
        }
    }

    /// A credential that changed under the check is skipped; anything else is an error.
    fn refused(&self, id: &str, e: LedgerError) {
        match e {
            // Not a change under the check: it will be refused at every run until one of the
            // two credentials of the account is removed.
            LedgerError::Rule(credledger_domain::keyring::KeyringError::DuplicateAccount(..)) => {
                // Not the error's words: they name the account, which for an API key is
                // derived from the key.
                tracing::warn!(credential = %id, "the provider says this credential is an account another credential holds; it cannot be validated until one of them is removed");
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
            }
            LedgerError::NotFound | LedgerError::Rule(_) => {
                tracing::debug!(credential = %id, reason = %e, "credential changed meanwhile; skipped");
                self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            }
            e => {
                let detail = match &e {
                    LedgerError::Internal(d) | LedgerError::Unavailable(d) => d.clone(),
                    other => other.to_string(),
                };
                tracing::error!(credential = %id, %detail, "could not revalidate a credential");
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                if super::for_a_while(&e) {
                    self.counters.unrecorded.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// The job's own pacing for one service: the earliest time at which no 60-second (3600-second)
/// span holds more than [`SCHEDULED_SHARE`] of the per-minute (per-hour) limit.
struct Pacer {
    windows: Vec<(Duration, usize)>,
    sent: VecDeque<Instant>,
}

impl Pacer {
    fn new(service: &ServiceDefinition) -> Self {
        // In u64: a catalog's limit times the share does not fit a u32 above 53 million.
        let share = |limit: u32| {
            usize::try_from((u64::from(limit) * u64::from(SCHEDULED_SHARE) / 100).max(1))
                .unwrap_or(usize::MAX)
        };
        let windows = [
            (MINUTE, service.rate_limit_per_minute),
            (HOUR, service.rate_limit_per_hour),
        ]
        .into_iter()
        .filter_map(|(w, limit)| limit.map(|l| (w, share(l))))
        .collect();
        Self {
            windows,
            sent: VecDeque::new(),
        }
    }

    /// The earliest time the next check may start.
    fn next(&self, now: Instant) -> Instant {
        let mut at = now;
        for (window, limit) in &self.windows {
            if self.sent.len() >= *limit {
                at = at.max(self.sent[self.sent.len() - limit] + *window);
            }
        }
        at
    }

    /// A check started at `at` (never before the previous one).
    fn record(&mut self, at: Instant) {
        let at = self.sent.back().map_or(at, |last| (*last).max(at));
        self.sent.push_back(at);
        let keep = self.windows.iter().map(|(_, l)| *l).max().unwrap_or(0);
        while self.sent.len() > keep {
            self.sent.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(per_minute: Option<u32>, per_hour: Option<u32>) -> ServiceDefinition {
        let mut s = credledger_domain::Catalog::builtin().services()[0].clone();
        s.rate_limit_per_minute = per_minute;
        s.rate_limit_per_hour = per_hour;
        s
    }

    #[test]
    fn the_pacer_keeps_every_minute_and_hour_within_its_share_of_the_limits() {
        let mut pacer = Pacer::new(&service(Some(10), Some(30)));
        let start = Instant::now();
        let slots: Vec<Instant> = (0..60)
            .map(|_| {
                let at = pacer.next(start);
                pacer.record(at);
                at
            })
            .collect();
        for (i, t) in slots.iter().enumerate() {
            let minute = slots[i..].iter().filter(|u| **u < *t + MINUTE).count();
            let hour = slots[i..].iter().filter(|u| **u < *t + HOUR).count();
            assert!(minute <= 8, "{minute} in a minute");
            assert!(hour <= 24, "{hour} in an hour");
        }
        // The first eight go at once; the ninth waits for the first minute to pass.
        assert_eq!(slots[7], start);
        assert_eq!(slots[8], start + MINUTE);
    }

    #[test]
    fn a_service_without_limits_is_not_paced() {
        let mut pacer = Pacer::new(&service(None, None));
        let start = Instant::now();
        assert!((0..1000).all(|_| {
            pacer.record(start);
            pacer.next(start) == start
        }));
    }
}
