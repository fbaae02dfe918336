//! Expiry: credentials whose token expiry has passed are marked expired (`CredentialExpired`);
//! those expiring within the warning window are announced to a webhook once per credential and
//! expiry. A notice is recorded only after the webhook answered 2xx, so a failed delivery is
//! retried on a later run; a crash between the answer and the record sends it again, which the
//! `Idempotency-Key` header lets the receiver recognise. Each run also destroys the data keys
//! that erasures left behind ([`Ledger::shred_erased`]).

use super::{is_set, JobError};
use crate::ledger::{Ledger, LedgerError};
use chrono::{DateTime, Utc};
use credledger_adapters::db::{timestamp, tuples};
use credledger_adapters::outbound::OutboundPolicy;
use credledger_domain::EventMetadata;
use credledger_projections::credential_summary::{self, Summary};
use futures::StreamExt as _;
use sqlx::Row;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Two expiries this close are the same one: a token's expiry computed from a relative
/// `expires_in` moves by a few seconds at every check.
const SAME_EXPIRY: chrono::Duration = chrono::Duration::hours(1);

/// Webhook deliveries in flight at once.
const DELIVERIES: usize = 8;

/// What the expiry job does, and as whom.
#[derive(Debug, Clone)]
pub struct ExpiryOptions {
    /// Credentials expiring within this window are announced.
    pub warning_window: chrono::Duration,
    /// Where announcements go; none: nothing is sent (the dashboard still shows them).
    pub webhook: Option<Webhook>,
    /// List what would happen; mark nothing, send nothing.
    pub dry_run: bool,
    /// The events' actor (`scheduler`, `cli`).
    pub actor: String,
    pub user_agent: Option<String>,
    /// The OAuth providers this deployment has a client for: its services' access tokens are
    /// refreshed, so they are not announced. Another OAuth service's tokens are, as any.
    pub refreshed_providers: BTreeSet<String>,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExpiryReport {
    pub request_id: String,
    /// Credentials past their expiry (to mark, or marked).
    pub past_expiry: u64,
    /// Marked expired by this run.
    pub expired: u64,
    /// Changed meanwhile (a newer check moved the expiry, revoked, erased): not marked.
    pub skipped: u64,
    /// Active credentials expiring within the window.
    pub expiring: u64,
    /// Announced by this run (the webhook answered 2xx).
    pub notified: u64,
    /// Announced before, for the same expiry.
    pub already_notified: u64,
    /// Deliveries that failed; retried on a later run.
    pub webhook_failures: u64,
    /// Data keys of erased credentials that were still there (an erasure the database failed
    /// in the middle of), destroyed by this run.
    pub shredded: u64,
    /// Could not be marked or recorded, or the data keys erasures left could not be destroyed;
    /// logged.
    pub errors: u64,
    /// Of `errors`, those the database's unavailability (or a race lost to another writer)
    /// caused: a run with any is not completed, so the job stays due and the next look (a
    /// minute later) runs it again. A lasting failure (a data key that cannot be opened) is
    /// not counted here: it would run the job every minute for good.
    pub unrecorded: u64,
    pub stopped: bool,
}

impl ExpiryReport {
    /// Whether the run counts as the job's run: it went through (not stopped) and no write failed
    /// for a while only (the database away, a race lost), which the next look would retry.
    pub fn completed(&self) -> bool {
        !self.stopped && self.unrecorded == 0
    }
}

/// An HTTP endpoint receiving expiry warnings as JSON POSTs. Redirects are not followed, and
/// the address follows the outbound address policy like every address the server is given:
/// https only, no loopback or private address unless the operator allowed the host
/// (`CREDLEDGER_OUTBOUND_ALLOW_HOSTS`), the connection made only to the addresses checked.
#[derive(Clone)]
pub struct Webhook {
    url: reqwest::Url,
    client: reqwest::Client,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The path and query of webhook URLs often hold a token.
        f.debug_struct("Webhook")
            .field("origin", &self.url.origin().ascii_serialization())
            .finish_non_exhaustive()
    }
}

impl Webhook {
    pub fn new(url: &str, outbound: &OutboundPolicy) -> anyhow::Result<Self> {
        crate::config::check_webhook_url(url)?;
        let url = reqwest::Url::parse(url)?;
        outbound
            .check_url(&url)
            .map_err(|refused| anyhow::anyhow!("the expiry webhook URL is refused: {refused}"))?;
        let client = outbound
            .client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("credledger/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { url, client })
    }

    /// POSTs `body`; `Ok` only for a 2xx answer. The error never contains the URL.
    async fn post(&self, body: &serde_json::Value, key: &str) -> Result<(), String> {
        let response = self
            .client
            .post(self.url.clone())
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "the webhook did not answer in time".to_owned()
                } else {
                    "could not reach the webhook".to_owned()
                }
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the webhook answered HTTP {}", status.as_u16()))
        }
    }
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The announcement for one credential: identifiers, names and times — never a secret.
pub fn notice(
    s: &Summary,
    expires_at: DateTime<Utc>,
    window: chrono::Duration,
    now: DateTime<Utc>,
) -> serde_json::Value {
    serde_json::json!({
        "type": "credential.expiring",
        "credential_id": s.credential_id,
        "user_id": s.user_id,
        "service": s.service,
        "name": s.name,
        "account": s.account_id.as_ref().map(|id| serde_json::json!({
            "id": id,
            "display_name": s.account_name,
            "email": s.account_email,
        })),
        "expires_at": timestamp(expires_at),
        "warning_window_days": window.num_days(),
        "sent_at": timestamp(now),
    })
}

/// Destroys the data keys erasures left behind, marks past expiries and announces coming ones,
/// until done or `stop` turns true.
pub async fn expire(
    ledger: Arc<Ledger>,
    options: &ExpiryOptions,
    stop: watch::Receiver<bool>,
) -> Result<ExpiryReport, JobError> {
    ledger.projections.catch_up().await?;
    let now = Utc::now();
    let request_id = format!("expiry-{}", uuid::Uuid::new_v4());
    let mut report = ExpiryReport {
        request_id: request_id.clone(),
        ..Default::default()
    };
    let meta = |at| EventMetadata {
        actor: options.actor.clone(),
        occurred_at: at,
        request_id: request_id.clone(),
        ip: None,
        user_agent: options.user_agent.clone(),
    };
    if !options.dry_run {
        // A failure here is counted and logged; the expiries are still marked.
        match ledger.shred_erased().await {
            Ok(0) => {}
            Ok(n) => {
                report.shredded = n;
                tracing::warn!(
                    count = n,
                    "destroyed data keys left by interrupted erasures"
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "could not destroy the data keys erasures left");
                report.errors += 1;
                report.unrecorded += u64::from(super::for_a_while(&e));
            }
        }
    }
    let past = credential_summary::past_expiry(&ledger.db.any, &timestamp(now)).await?;
    report.past_expiry = past.len() as u64;
    let mut outcomes = Vec::new();
    if !options.dry_run {
        for s in &past {
            if is_set(&stop) {
                break;
            }
            let result = ledger
                .mark_expired(&s.credential_id, now, &meta(Utc::now()))
                .await;
            outcomes.push((s.credential_id.clone(), result));
        }
    }
    for (id, result) in outcomes {
        match result {
            Ok(_) => report.expired += 1,
            Err(LedgerError::NotFound | LedgerError::Rule(_)) => report.skipped += 1,
            Err(e) => {
                tracing::error!(credential = %id, error = %e, "could not mark a credential expired");
                report.errors += 1;
                report.unrecorded += u64::from(super::for_a_while(&e));
            }
        }
    }

    let until = timestamp(now + options.warning_window);
    let expiring: Vec<(Summary, DateTime<Utc>)> =
        credential_summary::expiring(&ledger.db.any, None, &until, i64::MAX)
            .await?
            .into_iter()
            .filter_map(|s| {
                let at = s.token_expires_at?;
                (at > now).then_some((s, at))
            })
            .collect();
    report.expiring = expiring.len() as u64;
    let Some(webhook) = options.webhook.as_ref().filter(|_| !options.dry_run) else {
        report.stopped = is_set(&stop);
        return Ok(report);
    };
    let sent = notices_for(
        &ledger,
        expiring.iter().map(|(s, _)| s.credential_id.as_str()),
    )
    .await?;
    // An access token that renews itself (an OAuth service's with a client, docs/oauth.md)
    // needs nobody's attention: announced, it would be every other refresh.
    let renews_itself = |s: &Summary| {
        credledger_domain::ServiceKey::parse(&s.service)
            .ok()
            .and_then(|key| ledger.catalog.get(&key)?.oauth.as_ref())
            .is_some_and(|flow| options.refreshed_providers.contains(&flow.provider))
    };
    let due: Vec<(Summary, DateTime<Utc>)> = expiring
        .into_iter()
        .filter(|(s, _)| !renews_itself(s))
        .filter(|(s, at)| {
            let known = sent
                .get(&s.credential_id)
                .is_some_and(|times| times.iter().any(|t| (*t - *at).abs() <= SAME_EXPIRY));
            if known {
                report.already_notified += 1;
            }
            !known
        })
        .collect();
    let window = options.warning_window;
    let results: Vec<Result<(), String>> = futures::stream::iter(due)
        .map(|(s, at)| {
            let (ledger, stop) = (ledger.clone(), stop.clone());
            async move {
                if is_set(&stop) {
                    return Err(String::new());
                }
                let key = format!("{}:{}", s.credential_id, timestamp(at));
                let body = notice(&s, at, window, Utc::now());
                if let Err(reason) = webhook.post(&body, &key).await {
                    tracing::warn!(credential = %s.credential_id, %reason, "expiry warning not delivered; retried on a later run");
                    return Err(reason);
                }
                record_notice(&ledger, &s.credential_id, at).await.map_err(|e| {
                    tracing::error!(credential = %s.credential_id, error = %e, "expiry warning delivered but not recorded");
                    e.to_string()
                })
            }
        })
        .buffer_unordered(DELIVERIES)
        .collect()
        .await;
    for r in results {
        match r {
            Ok(()) => report.notified += 1,
            Err(reason) if reason.is_empty() => report.stopped = true,
            Err(_) => report.webhook_failures += 1,
        }
    }
    report.stopped |= is_set(&stop);
    tracing::info!(
        request_id = %report.request_id,
        expired = report.expired,
        expiring = report.expiring,
        notified = report.notified,
        webhook_failures = report.webhook_failures,
        "expiry run finished"
    );
    Ok(report)
}

/// The expiries already announced for these credentials.
async fn notices_for<'a>(
    ledger: &Ledger,
    ids: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, Vec<DateTime<Utc>>>, JobError> {
    let ids: Vec<&str> = ids.collect();
    let sqlite = ledger.db.backend() == credledger_adapters::Backend::Sqlite;
    let mut sent: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT credential_id, expires_at FROM expiry_notices WHERE credential_id IN {}",
            tuples(sqlite, 1, 1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&ledger.db.any).await.map_err(JobError::db)? {
            let id: String = row.try_get("credential_id").map_err(JobError::db)?;
            let at: String = row.try_get("expires_at").map_err(JobError::db)?;
            if let Some(at) = parse_time(&at) {
                sent.entry(id).or_default().push(at);
            }
        }
    }
    Ok(sent)
}

async fn record_notice(
    ledger: &Ledger,
    credential_id: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), JobError> {
    let _writer = ledger.db.exclusive().await;
    sqlx::query(
        "INSERT INTO expiry_notices (credential_id, expires_at, sent_at) VALUES ($1, $2, $3) \
         ON CONFLICT (credential_id, expires_at) DO NOTHING",
    )
    .bind(credential_id)
    .bind(timestamp(expires_at))
    .bind(timestamp(Utc::now()))
    .execute(&ledger.db.any)
    .await
    .map_err(JobError::db)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_addresses_follow_the_outbound_policy() {
        let strict = OutboundPolicy::default();
        for url in [
            "http://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://10.0.0.1/x",
            "https://169.254.169.254/latest",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
        ] {
            let error = Webhook::new(url, &strict).expect_err(url).to_string();
            assert!(
                error.starts_with("the expiry webhook URL is refused: "),
                "{error}"
            );
        }
        assert!(Webhook::new("https://hooks.example.com/x", &strict).is_ok());
        let allowed = OutboundPolicy {
            allowed_hosts: vec!["http://10.0.0.1:8080".into()],
            ..Default::default()
        };
        assert!(Webhook::new("http://10.0.0.1:8080/hook", &allowed).is_ok());
    }

    #[tokio::test]
    async fn a_webhook_name_that_resolves_to_loopback_is_never_connected() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let hook = Webhook::new(
            &format!("https://localhost:{port}/hook"),
            &OutboundPolicy::default(),
        )
        .expect("a name is checked when it resolves");
        let sent = hook.post(&serde_json::json!({}), "key").await;
        assert_eq!(sent, Err("could not reach the webhook".to_owned()));
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
