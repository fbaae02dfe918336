//! Keeping OAuth credentials fresh: an access token is redeemed for a new one before it
//! expires, by a scheduled pass and on demand (resolve, reveal), once per expiry.
//!
//! Refresh is single-flight: in one process, needs of one credential wait on one lock; across
//! instances, a short lease per credential in the database (the jobs' `leases` table) lets
//! exactly one instance redeem the refresh token, and an instance that finds the lease held
//! waits for the winner's commit and uses its token. That matters with rotating refresh
//! tokens: a second redemption of a rotated token can make the provider revoke the whole
//! grant (OAuth 2.1's reuse detection). An `invalid_grant` counts as a revocation only when the
//! refresh token that was used is still the current one after the lease (a lease that lapsed
//! mid-refresh must not end in a false revocation); the credential is then expired
//! (`CredentialExpired`, the dashboard offers "Reconnect") and its refresh token is not offered
//! again by this process until the credential is reconnected.
//!
//! An expired credential holding a token still good is checked again (the provider's userinfo)
//! rather than redeemed again. When the provider cannot answer for a credential (its token
//! endpoint or its userinfo failing), a need does not ask it again about that secret version
//! before the pass's interval (at most a minute) has passed; the pass does at each run. Otherwise, while the
//! provider fails, every resolve would send it a request of its own.

use super::{token_fields, with_grant, OAuthConnections};
use crate::jobs::Leases;
use crate::ledger::{Ledger, LedgerError};
use chrono::{DateTime, Utc};
use credledger_adapters::oauth::TokenGrant;
use credledger_adapters::remembered::Remembered;
use credledger_domain::catalog::OAuthFlow;
use credledger_domain::keyring::{
    CredentialState, CredentialStatus, KeyringCommand, KeyringError, ValidationOutcome,
};
use credledger_domain::ports::Validator;
use credledger_domain::{CredentialId, EventMetadata, KeyringId};
use std::sync::Arc;
use std::time::Duration;

/// How long an instance holds a credential's refresh lease (longer than a token request's
/// timeout, so a live holder never loses it mid-request).
const LEASE_TTL: Duration = Duration::from_secs(30);
/// How long a need waits for another instance's refresh before giving up.
const WAIT_FOR_OTHER: Duration = Duration::from_secs(20);
/// The waits between tries to record a refresh the database could not take (then the grant
/// is kept in memory for the next refresh of the same secret).
const RECORD_RETRIES: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// The longest a need waits to ask the provider again about a credential it could not answer
/// for: the pass's interval when shorter (one failure must not stop on-demand refreshes for an
/// hour where the pass runs hourly).
const ASK_AGAIN_AFTER: Duration = Duration::from_secs(60);

/// The one epoch of [`TokenRefresher::provider_failed`]: a failure stays so (its memory only
/// ages out).
const EPOCH: u64 = 0;

/// Who asks for a credential's refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asker {
    /// The scheduled pass, once per interval.
    Pass,
    /// A disclosure (resolve, reveal), as often as they come.
    Need,
}

/// What became of one credential's refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    /// Its token was not due (or another instance or caller refreshed it first).
    NotDue,
    /// This call redeemed the refresh token and recorded the new one.
    Refreshed,
    /// The provider refused the current refresh token: access was revoked.
    Revoked,
}

/// Refreshes OAuth credentials' tokens; shared by the API, the scheduled pass and the jobs.
pub struct TokenRefresher {
    ledger: Arc<Ledger>,
    connections: Arc<OAuthConnections>,
    validator: Arc<dyn Validator>,
    leases: Leases,
    /// One lock per credential being refreshed in this process.
    in_process: moka::sync::Cache<CredentialId, Arc<tokio::sync::Mutex<()>>>,
    /// Credentials (at a secret version) whose refresh token the provider refused: not tried
    /// again until reconnected (a new secret version).
    refused: moka::sync::Cache<(CredentialId, u32), ()>,
    /// Grants the provider gave that could not be recorded (the database was away), by the
    /// secret version whose refresh token they answered: that token may be spent (rotation),
    /// so the next refresh of the same version records the grant instead of redeeming again.
    unrecorded: moka::sync::Cache<(CredentialId, u32), (TokenGrant, DateTime<Utc>)>,
    /// Credentials (at a secret version) the provider could not answer for (a redemption that
    /// failed other than by refusal, a check that could not be made), remembered for the pass's
    /// interval or [`ASK_AGAIN_AFTER`], the shorter: a need does not ask the provider about them
    /// again meanwhile, the pass does.
    provider_failed: Remembered<(CredentialId, u32), ()>,
    /// Tokens expiring within this margin are refreshed.
    pub margin: chrono::Duration,
}

impl std::fmt::Debug for TokenRefresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRefresher")
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}

/// The least time between two refreshes of one credential's token, whatever its provider says
/// of its lifetime: a provider answering `expires_in: 0` would otherwise have every need redeem
/// and record a new token.
const LEAST_REFRESH_SPACING: chrono::Duration = chrono::Duration::seconds(1);

/// Whether `c` is to be refreshed: an active or expired credential whose access token expires
/// within `margin`, or within half its lifetime when that is shorter (a token living no longer
/// than the margin would otherwise be due as soon as it was given, and every need would redeem
/// and record a new one), or any expired one (holding a token still good, it is checked again,
/// not redeemed: see [`token_due`]); and not given a token by a refresh less than
/// [`LEAST_REFRESH_SPACING`] ago.
fn due(c: &CredentialState, now: DateTime<Utc>, margin: chrono::Duration) -> bool {
    c.expires_at.is_some()
        && (token_due(c, now, margin) || c.status == CredentialStatus::Expired)
        && c.token_issued_at
            .is_none_or(|issued| now - issued >= LEAST_REFRESH_SPACING)
        && matches!(
            c.status,
            CredentialStatus::Active | CredentialStatus::Expired
        )
        && !c.erased
}

/// Whether `c`'s access token expires within `margin`, or within half its lifetime when that
/// is shorter.
fn token_due(c: &CredentialState, now: DateTime<Utc>, margin: chrono::Duration) -> bool {
    let Some(at) = c.expires_at else {
        return false;
    };
    let margin = match c.token_issued_at {
        Some(issued) => margin.min((at - issued) / 2),
        None => margin,
    };
    at <= now + margin
}

impl TokenRefresher {
    /// `pass_interval` is how often the scheduled pass runs ([`TokenRefresher::run`]'s
    /// `every`): how long, at most a minute, a need waits to ask the provider again about a
    /// credential it could not answer for.
    pub fn new(
        ledger: Arc<Ledger>,
        connections: Arc<OAuthConnections>,
        validator: Arc<dyn Validator>,
        margin: chrono::Duration,
        pass_interval: Duration,
    ) -> Self {
        Self {
            leases: Leases::new(ledger.db.clone()),
            ledger,
            connections,
            validator,
            in_process: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            refused: moka::sync::Cache::builder().max_capacity(100_000).build(),
            unrecorded: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(24 * 3600))
                .build(),
            provider_failed: Remembered::for_at_most(10_000, pass_interval.min(ASK_AGAIN_AFTER)),
            margin,
        }
    }

    /// Refreshes every credential of `keyring` whose token is due (before a disclosure).
    /// Failures are logged, not returned: the current token may still be good.
    pub async fn keyring(&self, keyring: &KeyringId) {
        let Some(definition) = self.ledger.catalog.get(&keyring.service) else {
            return;
        };
        if self.connections.client_for(definition).is_none() {
            return;
        }
        let state = match self.ledger.keyring(keyring).await {
            Ok(state) => state,
            Err(e) => {
                tracing::warn!(error = %e, "could not read a keyring to refresh its tokens");
                return;
            }
        };
        let now = Utc::now();
        let ids: Vec<CredentialId> = state
            .credentials()
            .filter(|c| due(c, now, self.margin))
            .map(|c| c.id)
            .collect();
        for id in ids {
            if let Err(e) = self.credential(keyring, id, Asker::Need).await {
                tracing::warn!(credential = %id, error = %e, "could not refresh an OAuth token");
            }
        }
    }

    /// Refreshes one credential's token if it is due, once across every caller and instance.
    async fn credential(
        &self,
        keyring: &KeyringId,
        id: CredentialId,
        asker: Asker,
    ) -> Result<Refreshed, LedgerError> {
        let lock = self.in_process.get_with(id, Default::default);
        let _one_in_this_process = lock.lock().await;
        let lease = format!("oauth-refresh:{id}");
        let waited_since = tokio::time::Instant::now();
        // A grant kept from an earlier redemption was recorded: its token may be due already.
        let mut recorded_kept = false;
        loop {
            // Read from the stream, not a read model: another instance's commit shows at once.
            let state = self.ledger.keyring(keyring).await?;
            let Some(c) = state.credential(id).cloned() else {
                return Err(LedgerError::NotFound);
            };
            if !due(&c, Utc::now(), self.margin)
                || self.refused.contains_key(&(id, c.secret_version))
                || (asker == Asker::Need && self.provider_failed_lately(&c))
            {
                return Ok(match recorded_kept {
                    true => Refreshed::Refreshed,
                    false => Refreshed::NotDue,
                });
            }
            let kept = self.unrecorded.contains_key(&(id, c.secret_version));
            let now = Utc::now();
            // A holder of its own for each redemption: the lease is never taken again by the
            // process that holds it (if its in-process lock was evicted meanwhile, say).
            let holder = Leases::with_holder(
                self.ledger.db.clone(),
                &format!("{}-{}", self.leases.holder(), uuid::Uuid::new_v4().simple()),
            );
            if holder
                .acquire(&lease, now, LEASE_TTL, None)
                .await
                .map_err(LedgerError::from)?
            {
                // Renewed while the redemption and its record take their time.
                let held = holder.keep(&lease, now, LEASE_TTL);
                let result = self.redeem(keyring, &c, &held).await;
                drop(held);
                if let Err(e) = holder.release(&lease, Utc::now(), None).await {
                    tracing::warn!(error = %e, "could not release a refresh lease; it lapses");
                }
                if kept && !recorded_kept && matches!(result, Ok(Refreshed::Refreshed)) {
                    recorded_kept = true;
                    continue;
                }
                return result;
            }
            if waited_since.elapsed() > WAIT_FOR_OTHER {
                return Err(LedgerError::Unavailable(
                    "another instance is refreshing this token and has not finished".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Whether the provider could not answer for `c`'s secret version less than the pass's
    /// interval ago.
    fn provider_failed_lately(&self, c: &CredentialState) -> bool {
        self.provider_failed
            .get(&(c.id, c.secret_version), EPOCH)
            .is_some()
    }

    /// Remembers that `outcome`, of a check of `id` at `version`, could not be made.
    fn note_check(&self, id: CredentialId, version: u32, outcome: &ValidationOutcome) {
        if matches!(outcome, ValidationOutcome::CouldNotCheck { .. }) {
            self.provider_failed.insert((id, version), EPOCH, ());
        }
    }

    /// Holding the lease: redeems the refresh token and records what the provider answered
    /// (or records a grant an earlier redemption could not).
    async fn redeem(
        &self,
        keyring: &KeyringId,
        seen: &CredentialState,
        held: &credledger_adapters::lease::Held,
    ) -> Result<Refreshed, LedgerError> {
        let definition = self
            .ledger
            .catalog
            .enabled_service(keyring.service.as_str())?;
        // Read again under the lease: the previous holder may have committed meanwhile.
        let (_, version, fields) = self.ledger.secret_for_check(&seen.id.to_string()).await?;
        if version != seen.secret_version {
            return Ok(Refreshed::NotDue);
        }
        let refresh_token = fields
            .get(OAuthFlow::REFRESH_TOKEN)
            .map(|t| t.expose().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                LedgerError::Internal("an OAuth credential without a refresh token".into())
            })?;
        let meta = EventMetadata::system(
            "oauth-refresh",
            Utc::now(),
            format!("oauth-refresh-{}", uuid::Uuid::new_v4()),
        );
        let unrecorded = self.unrecorded.get(&(seen.id, version));
        // Redeeming or checking again is the lease holder's (kept tokens are recorded by
        // whoever redeemed them).
        if unrecorded.is_none() && held.is_lost() {
            return Err(LedgerError::Unavailable(
                "the refresh lease was lost before the token was redeemed or checked".into(),
            ));
        }
        if unrecorded.is_none()
            && seen.status == CredentialStatus::Expired
            && !token_due(seen, Utc::now(), self.margin)
        {
            // Expired, holding a token still good (the check after its refresh could not be
            // made, or tokens kept through a database outage were recorded): checked again,
            // not redeemed again.
            let outcome = self.validator.validate(definition, &fields).await;
            self.note_check(seen.id, version, &outcome);
            self.ledger
                .record_validation(&seen.id.to_string(), version, outcome, &meta)
                .await?;
            return Ok(Refreshed::NotDue);
        }
        let from_kept = unrecorded.is_some();
        let answer = match unrecorded {
            Some(kept) => Ok(kept),
            None => self
                .connections
                .refresh(definition, &refresh_token)
                .await
                .map(|grant| (grant, Utc::now())),
        };
        match answer {
            Ok((mut grant, received_at)) => {
                let kept = grant.refresh_token.clone().unwrap_or(refresh_token);
                grant.refresh_token = Some(kept.clone());
                let fields = token_fields(&grant.access_token, &kept).map_err(|_| {
                    LedgerError::Internal("the provider's token is not usable".into())
                })?;
                self.record(
                    keyring,
                    seen.id,
                    version,
                    (&grant, received_at),
                    fields.clone(),
                    &meta,
                )
                .await?;
                // Its status now, not as read before the redemption: the expiry job may have
                // expired it meanwhile (a slow provider), and a recorded refresh cannot expire
                // again until its new token does.
                let status = self
                    .ledger
                    .keyring(keyring)
                    .await?
                    .credential(seen.id)
                    .map(|c| c.status);
                // Not right after recording kept tokens: their access token may have expired
                // meanwhile, and a check with it would call the credential invalid. The caller
                // looks again, and an expired credential is refreshed or checked then.
                if status != Some(CredentialStatus::Active) && !from_kept {
                    // An expired credential is usable again once its new token checks out.
                    let outcome =
                        with_grant(self.validator.validate(definition, &fields).await, &grant);
                    self.note_check(seen.id, version + 1, &outcome);
                    self.ledger
                        .record_validation(&seen.id.to_string(), version + 1, outcome, &meta)
                        .await?;
                }
                Ok(Refreshed::Refreshed)
            }
            Err(e) if e.is_invalid_grant() => {
                // Revoked only if the token refused is still the one the ledger holds.
                let (_, now_version, _) =
                    self.ledger.secret_for_check(&seen.id.to_string()).await?;
                if now_version != version {
                    return Ok(Refreshed::NotDue);
                }
                tracing::warn!(credential = %seen.id, "the provider refused the refresh token; access was revoked");
                match self
                    .ledger
                    .end_authorization(&seen.id.to_string(), Utc::now(), &meta)
                    .await
                {
                    // Expired already (by the expiry job): nothing more to record.
                    Ok(_) | Err(LedgerError::Rule(KeyringError::IllegalTransition { .. })) => {}
                    // Not recorded: the next need asks the provider again (a refused token
                    // cannot be spent) and tries to record it again.
                    Err(e) => return Err(e),
                }
                self.refused.insert((seen.id, version), ());
                Ok(Refreshed::Revoked)
            }
            Err(e) => {
                // The provider failing (an outage, a timeout): not asked again by a need for
                // this version until the pass's interval has passed.
                self.provider_failed.insert((seen.id, version), EPOCH, ());
                Err(LedgerError::Unavailable(e.to_string()))
            }
        }
    }

    /// Records a grant, trying again for a while when the database cannot take it; past
    /// that, the grant is kept for the next refresh of the same secret version (its refresh
    /// token may be spent: redeeming it again could revoke the whole grant).
    async fn record(
        &self,
        keyring: &KeyringId,
        credential_id: CredentialId,
        version: u32,
        (grant, received_at): (&TokenGrant, DateTime<Utc>),
        fields: credledger_domain::SecretFields,
        meta: &EventMetadata,
    ) -> Result<(), LedgerError> {
        // Its lifetime counts from when the provider gave it, however late it is recorded.
        let command = KeyringCommand::RecordOAuthRefresh {
            credential_id,
            secret_version: version,
            fields,
            expires_at: Some(grant.expires_at(received_at)),
            issued_at: received_at,
        };
        let mut waits = RECORD_RETRIES.iter();
        loop {
            match self.ledger.command(keyring, command.clone(), meta).await {
                Ok(_) => {
                    self.unrecorded.invalidate(&(credential_id, version));
                    return Ok(());
                }
                Err(e) if could_not_record(&e) => match waits.next() {
                    Some(wait) => tokio::time::sleep(*wait).await,
                    None => {
                        tracing::warn!(credential = %credential_id, error = %e, "a refresh could not be recorded; its tokens are kept for the next try");
                        self.unrecorded
                            .insert((credential_id, version), (grant.clone(), received_at));
                        return Err(e);
                    }
                },
                Err(e) => {
                    self.unrecorded.invalidate(&(credential_id, version));
                    return Err(e);
                }
            }
        }
    }

    /// The scheduled pass: every active or expired OAuth credential whose token is due, each
    /// refreshed once; until `shutdown`.
    pub async fn run(
        self: Arc<Self>,
        every: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            self.pass().await;
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                changed = shutdown.changed() => if changed.is_err() { return },
            }
        }
    }

    /// One pass over the credentials due, as the read model lists them.
    pub async fn pass(&self) -> u64 {
        let until = credledger_adapters::db::timestamp(Utc::now() + self.margin);
        let due = match credledger_projections::credential_summary::expiring_or_expired(
            &self.ledger.db.any,
            &until,
            1_000,
        )
        .await
        {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "could not list the tokens to refresh");
                return 0;
            }
        };
        let mut refreshed = 0;
        for s in due {
            let Some(definition) = self
                .ledger
                .catalog
                .services()
                .iter()
                .find(|d| d.key.as_str() == s.service)
            else {
                continue;
            };
            if self.connections.client_for(definition).is_none() {
                continue;
            }
            let (Ok(id), Ok(user)) = (
                CredentialId::parse(&s.credential_id),
                credledger_domain::UserId::parse(&s.user_id),
            ) else {
                continue;
            };
            let keyring = KeyringId::new(user, definition.key.clone());
            match self.credential(&keyring, id, Asker::Pass).await {
                Ok(Refreshed::Refreshed) => refreshed += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(credential = %id, error = %e, "could not refresh an OAuth token")
                }
            }
        }
        refreshed
    }
}

/// Whether a refresh's record failed for a moment (the database away, a conflict, the keys
/// out of reach), not because the ledger refuses it.
fn could_not_record(e: &LedgerError) -> bool {
    matches!(
        e,
        LedgerError::Unavailable(_)
            | LedgerError::Conflict
            | LedgerError::Rule(KeyringError::KeysUnavailable(_))
    )
}
