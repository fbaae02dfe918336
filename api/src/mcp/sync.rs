//! The replay adapter's sender: works through `mcp_sync` (the outbox the `mcp_sync` read model
//! keeps from the feed) and mirrors each credential's current state to each MCP server
//! with signed requests (docs/mcp-sync.md). Per (server, credential) one row, so changes reach a
//! server in ledger order; each row is retried on its own with exponential backoff and full
//! jitter, so a failing credential never blocks the others; after `attempts` failures it is
//! recorded as failed (`CredentialSyncFailed`, once per change) and retried every
//! `retry_failed_every`. Every outcome is an event the projection settles the row with, written
//! once per state change of a copy, never once per attempt: attempts and their reasons go to
//! the logs and to `mcp_deliveries`. A create that may have reached the server without its
//! answer coming back is never simply repeated: the server's copies are listed first and an
//! unclaimed copy of the credential (a name it was sent under, else its secret) is adopted.
//! One instance sends at a time (a database lease), so two processes never race on one server.

use super::McpServers;
use crate::error::ApiError;
use crate::jobs::{Held, Leases};
use chrono::{DateTime, Utc};
use credledger_adapters::db::timestamp;
use credledger_adapters::mcp::client::{
    McpClient, RemoteCredential, RemoteItem, SyncBody, SyncError,
};
use credledger_domain::keyring::{
    CredentialState, CredentialStatus, Keyring, KeyringCommand, McpSyncOutcome,
};
use credledger_domain::{CredentialId, EventMetadata, KeyringId, ServiceKey, UserId};
use credledger_projections::mcp_sync::{self, SyncAction, SyncRow, SyncStatus};
use credledger_projections::row;
use rand::Rng;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Mutex};

/// How the sender behaves. `Default` is what `serve` uses.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Failed attempts before a credential shows `error`.
    pub attempts: u32,
    /// The first retry's delay; each next one doubles, up to `max_delay` (full jitter).
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// How often credentials in `error` are tried again (`mcp retry-failed` does it at once).
    pub retry_failed_every: Duration,
    /// Per request, connecting and reading the answer included: below a sixth of `lease_ttl`
    /// (`jobs::lost_margin`), so a request begun under the lease ends before it can lapse.
    pub timeout: Duration,
    /// How often each server's `GET /credentials` is compared with the ledger (0: never).
    pub drift_every: Duration,
    /// How often the outbox is looked at when nothing wakes the sender.
    pub poll: Duration,
    /// The send lease's time to live: how long another instance waits after this one died.
    pub lease_ttl: Duration,
    /// Whether the drift check deletes copies the ledger does not know of (orphans); they are
    /// always reported in the logs.
    pub remove_orphans: bool,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            attempts: 8,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            retry_failed_every: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            drift_every: Duration::from_secs(900),
            poll: Duration::from_secs(2),
            lease_ttl: Duration::from_secs(90),
            remove_orphans: false,
        }
    }
}

/// What one pass over a server did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepReport {
    pub sent: u64,
    pub failed: u64,
    /// The server could not be reached: the pass stopped early, nothing was counted against
    /// the rows not tried.
    pub unreachable: bool,
    /// The lease may have lapsed: the pass (or its drift check) stopped early, the rows not
    /// tried are the next holder's, and the drift check is not counted as made.
    pub lease_lost: bool,
    /// The server's address is refused now (why): nothing was sent, its rows show it.
    pub refused: Option<String>,
}

/// What a drift check found on one server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriftReport {
    /// Copies that differ from the ledger or are missing: recorded and resent.
    pub drifted: u64,
    /// The server's ids of copies the ledger does not know of.
    pub orphans: Vec<String>,
    /// How many of those were deleted (`remove_orphans`).
    pub removed_orphans: u64,
}

/// The lease one instance holds while it sends.
pub const LEASE: &str = "mcp_sync";

/// (server, credential).
type RowKey = (String, String);

/// The replay adapter's sender.
pub struct McpSync {
    servers: Arc<McpServers>,
    settings: SyncSettings,
    leases: Leases,
    clients: Mutex<HashMap<String, (String, McpClient)>>,
    /// The copy ids this sender recorded in a server's current step, which the read model may
    /// not show yet: they count as claimed (a second create answered with one of them is not
    /// taken for its credential's copy too). Emptied for a server when its next step starts,
    /// once the read model shows everything recorded before it.
    recorded_copies: std::sync::Mutex<HashMap<RowKey, String>>,
}

impl std::fmt::Debug for McpSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpSync")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn meta() -> EventMetadata {
    EventMetadata::system("mcp-sync", Utc::now(), uuid::Uuid::new_v4().to_string())
}

/// The request's idempotency key and the body's `event_id`: the credential and the global
/// position of the change it mirrors. The same on every retry and after a restart.
pub fn event_id(row: &SyncRow) -> String {
    format!("{}@{}", row.credential_id, row.wanted_position)
}

impl McpSync {
    pub fn new(servers: Arc<McpServers>, settings: SyncSettings, leases: Leases) -> Self {
        Self {
            servers,
            settings,
            leases,
            clients: Mutex::new(HashMap::new()),
            recorded_copies: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The id this instance holds the send lease under.
    pub fn lease_holder(&self) -> &str {
        self.leases.holder()
    }

    pub fn settings(&self) -> &SyncSettings {
        &self.settings
    }

    /// Sends until `shutdown`: a pass over every server whenever the outbox may have changed
    /// (the projection moved) or `poll` passed, each under the lease (taken for the pass and
    /// let go after it, so `mcp import` and `mcp replay` can take it in between); drift
    /// checks on their own clock.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let ledger = self.servers.ledger().clone();
        let mut progress = ledger.projections.progress(&mcp_sync::McpSync);
        let mut last_drift = tokio::time::Instant::now();
        loop {
            if *shutdown.borrow() {
                return;
            }
            let drift = !self.settings.drift_every.is_zero()
                && last_drift.elapsed() >= self.settings.drift_every;
            match self.locked_pass(drift).await {
                // A drift check cut short by a lapsed lease is made again at the next pass.
                Ok(Some(reports)) if drift && !reports.values().any(|r| r.lease_lost) => {
                    last_drift = tokio::time::Instant::now()
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "MCP sync pass failed"),
            }
            let moved = async {
                match progress.as_mut() {
                    Some(rx) => {
                        if rx.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(self.settings.poll) => {}
                _ = moved => {}
                changed = shutdown.changed() => if changed.is_err() { return },
            }
        }
    }

    /// One pass under the lease; `None` when another instance holds it.
    pub async fn locked_pass(
        &self,
        drift: bool,
    ) -> Result<Option<BTreeMap<String, StepReport>>, ApiError> {
        // Most wake-ups find nothing to send: answer them with one read, without the lease.
        let now = timestamp(Utc::now());
        if !drift && !mcp_sync::has_work(&self.servers.ledger().db.any, &now).await? {
            return Ok(Some(BTreeMap::new()));
        }
        let Some(held) = self.lock().await? else {
            return Ok(None);
        };
        let result = self.pass(&held, drift).await;
        self.unlock().await;
        result.map(Some)
    }

    /// Takes the send lease (renewed while the guard lives); `None` when another holds it.
    pub async fn lock(&self) -> Result<Option<Held>, ApiError> {
        let (now, ttl) = (Utc::now(), self.settings.lease_ttl);
        if self.leases.acquire(LEASE, now, ttl, None).await? {
            Ok(Some(self.leases.keep(LEASE, now, ttl)))
        } else {
            Ok(None)
        }
    }

    pub async fn unlock(&self) {
        if let Err(e) = self.leases.release(LEASE, Utc::now(), None).await {
            tracing::warn!(error = %e, "could not let go of the MCP sync lease");
        }
    }

    /// One pass over every server, side by side (a slow server does not hold up the others),
    /// under the lease `held`.
    pub async fn pass(
        &self,
        held: &Held,
        drift: bool,
    ) -> Result<BTreeMap<String, StepReport>, ApiError> {
        let servers = mcp_sync::servers(&self.servers.ledger().db.any).await?;
        let steps = servers.iter().map(|s| async move {
            let mut drift_cut_short = false;
            if drift && !s.removed {
                if let Err(e) = self.check_drift(held, &s.server_id).await {
                    tracing::warn!(server = %s.server_id, error = %e, "drift check failed");
                    drift_cut_short = held.is_lost();
                }
            }
            let report = match self.step(held, &s.server_id).await {
                Ok(report) => report,
                // One server's failure holds up neither the others' reports nor, through a
                // failed pass, the drift clock (left due, the drift check ran at every pass).
                Err(e) => {
                    tracing::warn!(server = %s.server_id, error = %e, "MCP sync step failed");
                    StepReport {
                        lease_lost: held.is_lost(),
                        ..StepReport::default()
                    }
                }
            };
            let report = StepReport {
                lease_lost: report.lease_lost || drift_cut_short,
                ..report
            };
            (s.server_id.clone(), report)
        });
        Ok(futures::future::join_all(steps).await.into_iter().collect())
    }

    /// A signed client for a registered server (cached per base URL).
    pub async fn client_for(&self, server_id: &str) -> Result<McpClient, ApiError> {
        self.try_client(server_id)
            .await?
            .map_err(|e| ApiError::Internal(format!("MCP server {server_id}: {e}")))
    }

    /// [`McpSync::client_for`], with a client that cannot be made apart (`Ok(Err(_))`: the
    /// server's address is refused now, e.g. its allow-list entry was removed).
    async fn try_client(&self, server_id: &str) -> Result<Result<McpClient, SyncError>, ApiError> {
        let server = mcp_sync::server(&self.servers.ledger().db.any, server_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let mut clients = self.clients.lock().await;
        if let Some((url, client)) = clients.get(server_id) {
            if *url == server.base_url {
                return Ok(Ok(client.clone()));
            }
        }
        let secret = self.servers.signing_secret(server_id).await?;
        let client = match McpClient::new(
            &server.base_url,
            secret,
            self.settings.timeout,
            self.servers.outbound(),
        ) {
            Ok(client) => client,
            Err(refused) => return Ok(Err(refused)),
        };
        clients.insert(server_id.to_owned(), (server.base_url, client.clone()));
        Ok(Ok(client))
    }

    /// Works through a server's due rows in order, up to a few hundred per pass, under the
    /// lease `held`: once it may have lapsed, the rows not begun are left to the next holder.
    pub async fn step(&self, held: &Held, server_id: &str) -> Result<StepReport, ApiError> {
        let db = &self.servers.ledger().db;
        // The rows must show every outcome recorded before this step, by this instance or by
        // the one that held the lease before it (another process, whose memory of what it sent
        // is not ours): a row still showing the state before its answer (no copy id yet) would
        // be sent again, making a second copy on a server that ignores `Idempotency-Key`.
        self.wait_for_read_model(server_id, "nothing is sent to")
            .await?;
        self.lock_recorded_copies()
            .retain(|(server, _), _| server != server_id);
        let rows = mcp_sync::due_rows(&db.any, server_id, &timestamp(Utc::now()), 500).await?;
        let mut report = StepReport::default();
        if rows.is_empty() {
            return Ok(report);
        }
        let client = match self.try_client(server_id).await? {
            Ok(client) => client,
            // No request can be made (the address is refused now): each row shows why, once, as
            // after its last attempt, and is tried again at the failed copies' hourly retry (the
            // address may be allowed again by then), or at once when a person asks.
            Err(refused) => {
                for row in &rows {
                    if held.is_lost() {
                        report.lease_lost = true;
                        break;
                    }
                    self.failed(row, Some(self.settings.attempts), &refused)
                        .await?;
                    report.failed += 1;
                }
                report.refused = Some(refused.to_string());
                return Ok(report);
            }
        };
        let deliveries = self.deliveries(server_id).await?;
        let now = Utc::now();
        for row in rows {
            if held.is_lost() {
                report.lease_lost = true;
                break;
            }
            // An earlier attempt was not answered: a create may have reached the server.
            let earlier = deliveries.get(&row.credential_id);
            let attempts = match earlier {
                Some(d) if d.wanted_position == row.wanted_position => {
                    // Due when read; an attempt since (another instance's) may have put it off.
                    if d.next_attempt_at > now {
                        continue;
                    }
                    d.attempts
                }
                // A row in `error` whose delivery was reset by a newer change, or never tried.
                _ => 0,
            };
            let leased = Leased {
                client: &client,
                held,
            };
            let sent = self.send(&leased, &row, earlier).await;
            // The lease may have lapsed during the row: nothing of it is recorded or counted,
            // the next holder does it again (finding by its name a copy a create of this row
            // made).
            if matches!(sent, Err(Failure::LeaseLost)) || held.is_lost() {
                report.lease_lost = true;
                break;
            }
            let label = match &sent {
                Ok((McpSyncOutcome::Removed { .. }, _)) => Some("removed"),
                Ok(_) => Some("synced"),
                Err(Failure::Sync(_) | Failure::Untracked(_)) => Some("failed"),
                Err(Failure::Skip | Failure::LeaseLost) => None,
            };
            if let Some(outcome) = label {
                metrics::counter!(crate::metrics::MCP_DELIVERIES, "server" => server_id.to_owned(), "outcome" => outcome)
                    .increment(1);
            }
            match sent {
                Ok((outcome, version)) => {
                    let mcp_id = match &outcome {
                        McpSyncOutcome::Synced { mcp_id } => Some(mcp_id.clone()),
                        _ => None,
                    };
                    self.record(&row, version, outcome).await?;
                    if let Some(mcp_id) = mcp_id {
                        self.lock_recorded_copies()
                            .insert((row.server_id.clone(), row.credential_id.clone()), mcp_id);
                    }
                    self.forget_delivery(&row).await?;
                    report.sent += 1;
                }
                Err(Failure::Skip | Failure::LeaseLost) => {}
                Err(Failure::Untracked(e)) => {
                    report.failed += 1;
                    self.failed(&row, None, &e).await?;
                }
                Err(Failure::Sync(e)) => {
                    report.failed += 1;
                    let unreachable = matches!(e, SyncError::Unreachable(_) | SyncError::Timeout);
                    self.failed(&row, Some(attempts.saturating_add(1)), &e)
                        .await?;
                    if unreachable {
                        // The server is down: the other rows would fail the same way.
                        report.unreachable = true;
                        break;
                    }
                }
            }
        }
        Ok(report)
    }

    fn lock_recorded_copies(&self) -> std::sync::MutexGuard<'_, HashMap<RowKey, String>> {
        self.recorded_copies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The copy ids this sender recorded on `server_id` that the read model may not show yet,
    /// with their credentials.
    fn recorded_copies(&self, server_id: &str) -> Vec<(String, String)> {
        self.lock_recorded_copies()
            .iter()
            .filter(|((server, _), _)| server == server_id)
            .map(|((_, credential), mcp_id)| (mcp_id.clone(), credential.clone()))
            .collect()
    }

    /// Mirrors one row: the credential's current state (upsert) or nothing (delete). Answers
    /// the outcome and the version the request carried (what the outcome records). `earlier`:
    /// the row's delivery when an earlier attempt was not answered (or not recorded), so a
    /// create may have reached the server. Each request is made only while the lease `client`
    /// holds is surely held ([`Failure::LeaseLost`] once it may have lapsed).
    async fn send(
        &self,
        client: &Leased<'_>,
        row: &SyncRow,
        earlier: Option<&Delivery>,
    ) -> Result<(McpSyncOutcome, u64), Failure> {
        let key = event_id(row);
        let version = self.version(row).await?;
        if row.action == SyncAction::Delete {
            if let Some(mcp_id) = &row.mcp_id {
                client.delete(mcp_id, &key, version).await?;
            }
            // An unanswered create (before any was confirmed, or again after the server lost
            // the confirmed copy) may have left a copy of its own: found by what it looks like,
            // and deleted too. Only after a create was sent: otherwise a copy that looks like
            // this one is someone else's (a person's own, under the same name).
            let mut found = None;
            if let Some(earlier) = earlier.filter(|d| !d.sent_names.is_empty()) {
                let looks = self.looks(row, earlier).await?;
                found = self.find_copy(client, row, &looks).await?;
                if let Some(found) = &found {
                    // Under a key of its own when the confirmed copy's delete used the row's.
                    let key = match &row.mcp_id {
                        Some(_) => format!("{key}+found"),
                        None => key.clone(),
                    };
                    client.delete(found, &key, version).await?;
                }
            }
            let mcp_id = row.mcp_id.clone().or(found);
            return Ok((McpSyncOutcome::Removed { mcp_id }, version));
        }
        // The step read its rows once, and a row may wait behind slow ones: a grant withdrawn,
        // services narrowed or the server removed since then must stop the plaintext here.
        // (Once the read model shows it; the row is then turned into a delete.)
        let db = &self.servers.ledger().db;
        if !mcp_sync::may_hold(&db.any, &row.server_id, &row.user_id, &row.service)
            .await
            .map_err(|e| Failure::internal(e.to_string()))?
        {
            return Err(Failure::Skip);
        }
        let mut body = self.body(row, key, version).await?;
        let mcp_id = match &row.mcp_id {
            Some(mcp_id) => match client.update(mcp_id, &body).await {
                Ok(()) => mcp_id.clone(),
                // The server lost it: create it again, under a key of its own.
                Err(Failure::Sync(SyncError::NotFound)) => {
                    body.event_id = format!("{}+create", body.event_id);
                    self.create_or_adopt(client, row, &body, earlier).await?
                }
                Err(e) => return Err(e),
            },
            None => self.create_or_adopt(client, row, &body, earlier).await?,
        };
        Ok((McpSyncOutcome::Synced { mcp_id }, version))
    }

    /// Creates the copy, unless an earlier attempt may have created it already: then the
    /// server's copies of the user and service are listed first, and a copy no row claims that
    /// matches this credential (a name it was sent under, else the same secret) is updated
    /// instead. The name is noted before the request, so a copy it leaves unanswered (even
    /// across a restart) is found by it later; a create answered with nothing the ledger can
    /// keep (no usable id, or another credential's copy's) is looked for the same way at once.
    async fn create_or_adopt(
        &self,
        client: &Leased<'_>,
        row: &SyncRow,
        body: &SyncBody,
        earlier: Option<&Delivery>,
    ) -> Result<String, Failure> {
        let sent_names = earlier.map_or(&[][..], |d| &d.sent_names[..]);
        // Before the first create of this change, the copies of the user and service already
        // there (a person's own made without credledger, named as this one may be) are noted,
        // so no later look for a copy this create left takes one of them for it.
        let listed_before = match earlier {
            Some(d) if !d.sent_names.is_empty() => d.listed_before.clone(),
            _ => self.unclaimed(client, row).await?,
        };
        client.check()?;
        self.note_sending(row, earlier, &body.credential_name, &listed_before)
            .await
            .map_err(|e| Failure::internal(e.to_string()))?;
        let looks = Looks {
            names: with_name(sent_names, &body.credential_name),
            data: Some(body.credential_data.clone()),
            listed_before,
        };
        if !sent_names.is_empty() {
            if let Some(mcp_id) = self.adopt(client, row, body, &looks).await? {
                return Ok(mcp_id);
            }
        }
        let unusable = match client.create(body).await {
            Ok(mcp_id) => {
                if !self
                    .claimed_by_another(row, &mcp_id)
                    .await
                    .map_err(|e| Failure::internal(e.to_string()))?
                {
                    return Ok(mcp_id);
                }
                SyncError::BadAnswer("its `credential_id` is another credential's copy".into())
            }
            Err(Failure::Sync(e @ SyncError::BadAnswer(_))) => e,
            Err(e) => return Err(e),
        };
        // Answered (a 2xx) with nothing the ledger can keep: the copy the create may have made
        // is looked for as after an unanswered create, and adopted. Not found, and the server
        // lists a copy of this user and service that cannot be read (no usable id), the create
        // is not made again: each would leave one more copy no id of the ledger's reaches.
        // Otherwise it is a failed attempt as any (the server may have made nothing, or the
        // read model not show yet that another credential's copy went), the next one looking
        // first.
        if let Some(mcp_id) = self.adopt(client, row, body, &looks).await? {
            return Ok(mcp_id);
        }
        // Only an item that may be this credential's copy counts: one that names another
        // user or service (a server that ignores the list's filters) is someone else's.
        let listed = client.list(&row.user_id, &row.service).await?;
        let maybe_ours = |item: &RemoteItem| match item {
            RemoteItem::Unreadable {
                user_id,
                service_type,
                ..
            } => {
                user_id.as_ref().is_none_or(|u| *u == row.user_id)
                    && service_type.as_ref().is_none_or(|s| *s == row.service)
            }
            RemoteItem::Ok(_) => false,
        };
        if listed.iter().any(maybe_ours) {
            Err(Failure::Untracked(unusable))
        } else {
            Err(Failure::Sync(unusable))
        }
    }

    /// Updates the copy the server lists that no row claims and that looks like `looks` (a
    /// create's whose answer never came or could not be kept), if there is one: its id.
    async fn adopt(
        &self,
        client: &Leased<'_>,
        row: &SyncRow,
        body: &SyncBody,
        looks: &Looks,
    ) -> Result<Option<String>, Failure> {
        let Some(mcp_id) = self.find_copy(client, row, looks).await? else {
            return Ok(None);
        };
        tracing::info!(
            // Ids an MCP server gave are logged with `?`, control characters escaped.
            server = %row.server_id, credential = %row.credential_id, ?mcp_id,
            "MCP sync adopts the copy a create made"
        );
        match client.update(&mcp_id, body).await {
            Ok(()) => Ok(Some(mcp_id)),
            Err(Failure::Sync(SyncError::NotFound)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What a copy of the row's credential would look like: one of the names unanswered
    /// requests of `earlier` carried or its name now, else its secret, from the keyring (an
    /// erased credential keeps its name, not its secret); never a copy listed before them.
    async fn looks(&self, row: &SyncRow, earlier: &Delivery) -> Result<Looks, Failure> {
        let (credential_id, state) = self.keyring_of(row).await?;
        let sent_names = &earlier.sent_names;
        let listed_before = earlier.listed_before.clone();
        let Some(c) = state.credential_even_erased(credential_id) else {
            return Ok(Looks {
                names: sent_names.to_vec(),
                data: None,
                listed_before,
            });
        };
        let data = if c.erased {
            None
        } else {
            Some(self.plaintext(row, credential_id, c).await?)
        };
        Ok(Looks {
            names: with_name(sent_names, c.name.as_str()),
            data,
            listed_before,
        })
    }

    /// The row's credential id and its keyring's current state (read from its stream).
    async fn keyring_of(&self, row: &SyncRow) -> Result<(CredentialId, Keyring), Failure> {
        let bad = |e: credledger_domain::InputError| Failure::internal(e.to_string());
        let keyring = KeyringId::new(
            UserId::parse(&row.user_id).map_err(bad)?,
            ServiceKey::parse(&row.service).map_err(bad)?,
        );
        let credential_id = CredentialId::parse(&row.credential_id).map_err(bad)?;
        let state = self
            .servers
            .ledger()
            .keyring(&keyring)
            .await
            .map_err(|e| Failure::internal(e.to_string()))?;
        Ok((credential_id, state))
    }

    /// The secret fields of the row's credential a server is given, in plaintext, for a
    /// request body or a comparison (not the refresh token of an OAuth credential this
    /// deployment refreshes).
    async fn plaintext(
        &self,
        row: &SyncRow,
        id: CredentialId,
        c: &CredentialState,
    ) -> Result<BTreeMap<String, String>, Failure> {
        let ledger = self.servers.ledger();
        let service =
            ServiceKey::parse(&row.service).map_err(|e| Failure::internal(e.to_string()))?;
        let definition = ledger.catalog.get(&service);
        let fields = ledger
            .keys
            .open(id, c.secret_version, &c.secret)
            .await
            .map_err(|e| Failure::internal(e.to_string()))?;
        Ok(fields
            .iter()
            .filter(|(k, _)| {
                definition.is_none_or(|d| {
                    d.given_to_consumers(k, self.servers.refreshes(d), c.expires_at.is_some())
                })
            })
            .map(|(k, v)| (k.to_owned(), v.expose().to_owned()))
            .collect())
    }

    /// A copy of the row's user and service on the server that no row claims, that was not
    /// there before the first create, and that looks like `looks`: one of its names, else the
    /// same secret.
    async fn find_copy(
        &self,
        client: &Leased<'_>,
        row: &SyncRow,
        looks: &Looks,
    ) -> Result<Option<String>, Failure> {
        let candidates: Vec<RemoteCredential> = self
            .unclaimed_copies(client, row)
            .await?
            .into_iter()
            .filter(|c| !looks.listed_before.contains(&c.credential_id))
            .collect();
        let by = |same: &dyn Fn(&RemoteCredential) -> bool| {
            candidates
                .iter()
                .find(|c| same(c))
                .map(|c| c.credential_id.clone())
        };
        // Not by account: one account may well hold several credentials.
        Ok(by(&|c| {
            c.credential_name
                .as_ref()
                .is_some_and(|n| looks.names.contains(n))
        })
        .or_else(|| by(&|c| looks.data.as_ref().is_some_and(|data| same_data(c, data)))))
    }

    /// The copies of the row's user and service the server lists that no row claims.
    async fn unclaimed_copies(
        &self,
        client: &Leased<'_>,
        row: &SyncRow,
    ) -> Result<Vec<RemoteCredential>, Failure> {
        let copies: Vec<RemoteCredential> = client
            .list(&row.user_id, &row.service)
            .await?
            .into_iter()
            .filter_map(|item| match item {
                RemoteItem::Ok(c) => Some(c),
                RemoteItem::Unreadable { .. } => None,
            })
            .filter(|c| c.user_id == row.user_id && c.service_type == row.service)
            .collect();
        let ids: Vec<String> = copies.iter().map(|c| c.credential_id.clone()).collect();
        let claimed = self
            .claimed_among(&row.server_id, &ids)
            .await
            .map_err(|e| Failure::internal(e.to_string()))?;
        Ok(copies
            .into_iter()
            .filter(|c| !claimed.contains(&c.credential_id))
            .collect())
    }

    /// The ids of [`Self::unclaimed_copies`].
    async fn unclaimed(&self, client: &Leased<'_>, row: &SyncRow) -> Result<Vec<String>, Failure> {
        Ok(self
            .unclaimed_copies(client, row)
            .await?
            .into_iter()
            .map(|c| c.credential_id)
            .collect())
    }

    /// Which of `mcp_ids`, copies the server listed, the ledger knows as its copies (the read
    /// model's rows), with every copy this sender recorded on the server that the read model
    /// may not show yet. Only the listed ids are looked up: a create costs reads in what the
    /// listing of one user and service answered, not in every copy the server holds.
    async fn claimed_among(
        &self,
        server_id: &str,
        mcp_ids: &[String],
    ) -> Result<HashSet<String>, ApiError> {
        let mut claimed =
            mcp_sync::claimed_among(&self.servers.ledger().db.any, server_id, mcp_ids).await?;
        claimed.extend(
            self.recorded_copies(server_id)
                .into_iter()
                .map(|(id, _)| id),
        );
        Ok(claimed)
    }

    /// Whether the ledger knows `mcp_id` as another credential's copy on the row's server (the
    /// read model, or an outcome this sender recorded that it may not show yet).
    async fn claimed_by_another(&self, row: &SyncRow, mcp_id: &str) -> Result<bool, ApiError> {
        let another = |credential: &str| credential != row.credential_id;
        if self
            .recorded_copies(&row.server_id)
            .iter()
            .any(|(id, credential)| id == mcp_id && another(credential))
        {
            return Ok(true);
        }
        let db = &self.servers.ledger().db;
        let claimed = mcp_sync::row_by_mcp_id(&db.any, &row.server_id, mcp_id).await?;
        Ok(claimed.is_some_and(|other| another(&other.credential_id)))
    }

    /// The credential's version as the dashboard shows it (its keyring's sequence number at
    /// its latest change), as the read model the row comes from has it.
    async fn version(&self, row: &SyncRow) -> Result<u64, Failure> {
        let v = mcp_sync::credential_version(&self.servers.ledger().db.any, &row.credential_id)
            .await
            .map_err(|e| Failure::internal(e.to_string()))?;
        Ok(v.or(row.synced_version).unwrap_or(0).max(0) as u64)
    }

    /// The request body, decrypted now. A credential no longer held by the aggregate (the
    /// projection is behind a revocation) is skipped: the projection will turn it into a
    /// delete.
    async fn body(
        &self,
        row: &SyncRow,
        event_id: String,
        version: u64,
    ) -> Result<SyncBody, Failure> {
        let (credential_id, state) = self.keyring_of(row).await?;
        let Some(c) = state.credential(credential_id) else {
            return Err(Failure::Skip);
        };
        if c.erased || c.status == CredentialStatus::Revoked {
            return Err(Failure::Skip);
        }
        let credential_data = self.plaintext(row, credential_id, c).await?;
        Ok(SyncBody {
            user_id: row.user_id.clone(),
            service_type: row.service.clone(),
            credential_name: c.name.to_string(),
            credential_data,
            account_identifier: c
                .account
                .as_ref()
                .map(|a| a.email.clone().unwrap_or_else(|| a.id.clone())),
            is_primary: c.is_primary,
            ledger_version: version,
            event_id,
        })
    }

    /// Writes an outcome back as a keyring event, with the version it is about.
    async fn record(
        &self,
        row: &SyncRow,
        version: u64,
        outcome: McpSyncOutcome,
    ) -> Result<(), ApiError> {
        let ledger = self.servers.ledger();
        let keyring = KeyringId::new(
            UserId::parse(&row.user_id)?,
            ServiceKey::parse(&row.service)?,
        );
        ledger
            .command(
                &keyring,
                KeyringCommand::RecordMcpSync {
                    credential_id: CredentialId::parse(&row.credential_id)?,
                    target: row.server_id.clone(),
                    ledger_version: version,
                    sync_position: row.wanted_position.max(0) as u64,
                    outcome,
                },
                &meta(),
            )
            .await?;
        Ok(())
    }

    async fn deliveries(&self, server_id: &str) -> Result<HashMap<String, Delivery>, ApiError> {
        let rows: Vec<Delivery> = sqlx::query_as(
            "SELECT credential_id, wanted_position, attempts, next_attempt_at, sent_names, \
               listed_before FROM mcp_deliveries WHERE server_id = $1",
        )
        .bind(server_id)
        .fetch_all(&self.servers.ledger().db.any)
        .await?;
        Ok(rows
            .into_iter()
            .map(|d| (d.credential_id.clone(), d))
            .collect())
    }

    /// Notes, before a request that may create or change a copy the ledger has no id for, the
    /// name it carries and the unclaimed copies listed before the first such request (the
    /// delivery is started if there is none; nothing is written when the name is noted
    /// already). Keeps the newest [`SENT_NAMES`].
    async fn note_sending(
        &self,
        row: &SyncRow,
        earlier: Option<&Delivery>,
        name: &str,
        listed_before: &[String],
    ) -> Result<(), ApiError> {
        let known = earlier.map_or(&[][..], |d| &d.sent_names[..]);
        if known.iter().any(|n| n == name) {
            return Ok(());
        }
        let mut names = known.to_vec();
        names.push(name.to_owned());
        let drop = names.len().saturating_sub(SENT_NAMES);
        names.drain(..drop);
        let json =
            |v: &[String]| serde_json::to_string(v).map_err(|e| ApiError::Internal(e.to_string()));
        let (names, listed_before) = (json(&names)?, json(listed_before)?);
        let db = &self.servers.ledger().db;
        let _writer = db.exclusive().await;
        sqlx::query(
            "INSERT INTO mcp_deliveries (server_id, credential_id, wanted_position, attempts, \
               next_attempt_at, sent_names, listed_before) VALUES ($1, $2, $3, 0, $4, $5, $6) \
             ON CONFLICT (server_id, credential_id) DO UPDATE SET \
               sent_names = excluded.sent_names, listed_before = excluded.listed_before",
        )
        .bind(&row.server_id)
        .bind(&row.credential_id)
        .bind(row.wanted_position)
        .bind(timestamp(Utc::now()))
        .bind(names)
        .bind(listed_before)
        .execute(&db.any)
        .await?;
        Ok(())
    }

    async fn forget_delivery(&self, row: &SyncRow) -> Result<(), ApiError> {
        let db = &self.servers.ledger().db;
        let _writer = db.exclusive().await;
        sqlx::query("DELETE FROM mcp_deliveries WHERE server_id = $1 AND credential_id = $2")
            .bind(&row.server_id)
            .bind(&row.credential_id)
            .execute(&db.any)
            .await?;
        Ok(())
    }

    /// Counts a failed attempt (`attempts`, this one included); at the limit, records the
    /// failure as an event and waits for the hourly retry. `None`: an attempt that must not be
    /// repeated ([`Failure::Untracked`]): recorded at once, and tried again only for a newer
    /// change or at an operator's retry.
    async fn failed(
        &self,
        row: &SyncRow,
        attempts: Option<u32>,
        error: &SyncError,
    ) -> Result<(), ApiError> {
        tracing::info!(
            server = %row.server_id, credential = %row.credential_id, ?attempts, error = %error,
            "MCP sync attempt failed"
        );
        let exhausted = attempts.is_none_or(|a| a >= self.settings.attempts);
        // Once per change: a credential already shown failed is not recorded again.
        if exhausted && row.status != SyncStatus::Error {
            let version = self.version(row).await.map_err(Failure::into_api)?;
            self.record(
                row,
                version,
                // Shown to the credential's owner: no host, address or port (ADR 0024); the
                // full text is logged above and kept in `mcp_deliveries`.
                McpSyncOutcome::Failed {
                    error: error.without_address(),
                },
            )
            .await?;
        }
        let next = match attempts {
            None => not_by_itself(),
            Some(_) if exhausted => later(self.settings.retry_failed_every),
            // The server's `Retry-After` is honoured up to the failed copies' retry interval
            // (a server may ask for more seconds than any date holds).
            Some(attempts) => {
                let backoff = backoff(&self.settings, attempts);
                later(error.retry_after().map_or(backoff, |r| {
                    r.min(self.settings.retry_failed_every).max(backoff)
                }))
            }
        };
        let db = &self.servers.ledger().db;
        let _writer = db.exclusive().await;
        sqlx::query(
            "INSERT INTO mcp_deliveries (server_id, credential_id, wanted_position, attempts, \
               next_attempt_at, last_error) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (server_id, credential_id) DO UPDATE SET \
               wanted_position = excluded.wanted_position, attempts = excluded.attempts, \
               next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error",
        )
        .bind(&row.server_id)
        .bind(&row.credential_id)
        .bind(row.wanted_position)
        .bind(i64::from(attempts.filter(|_| !exhausted).unwrap_or(0)))
        .bind(timestamp(next))
        .bind(error.to_string())
        .execute(&db.any)
        .await?;
        Ok(())
    }

    /// Makes every credential in `error` (of one server, or all) due now. Returns how many.
    pub async fn retry_failed(&self, server: Option<&str>) -> Result<u64, ApiError> {
        self.servers.retry_failed(server, None).await
    }

    /// Waits, up to [`READ_MODEL_WAIT`], until the MCP sync read model has applied everything
    /// committed before the call (its checkpoint in the database, whichever process moves it);
    /// past that, `UNAVAILABLE`: "the read model has not caught up …; {what} `{server_id}` until
    /// it has".
    async fn wait_for_read_model(&self, server_id: &str, what: &str) -> Result<(), ApiError> {
        let head = self.servers.ledger().db.head().await?;
        let deadline = tokio::time::Instant::now() + READ_MODEL_WAIT;
        let projections = &self.servers.ledger().projections;
        while projections.checkpoint(&mcp_sync::McpSync).await? < head {
            if tokio::time::Instant::now() >= deadline {
                return Err(ApiError::Unavailable(format!(
                    "the MCP sync read model has not caught up with position {head}; {what} \
                     `{server_id}` until it has"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Compares what the server reports (`GET /credentials`, the original API's records or
    /// ours) with the ledger. A copy that is missing, reports another `ledger_version` than it
    /// was sent, or whose reported fields differ from the credential's current state is
    /// recorded as drifted and resent; a copy that is equal costs nothing. Copies the ledger
    /// does not know of (orphans) are reported, and deleted when `remove_orphans` is set.
    ///
    /// Under the lease `held`: once it may have lapsed, nothing more is recorded or deleted.
    pub async fn check_drift(&self, held: &Held, server_id: &str) -> Result<DriftReport, ApiError> {
        let lapsed = || {
            ApiError::Unavailable(format!(
                "the MCP sync lease may have lapsed; the drift check of `{server_id}` stopped"
            ))
        };
        let db = &self.servers.ledger().db;
        if mcp_sync::server(&db.any, server_id)
            .await?
            .is_none_or(|s| s.removed)
        {
            return Err(ApiError::Validation(format!(
                "no MCP server `{server_id}` is registered"
            )));
        }
        // The rows must show every outcome recorded before the check (the last pass's, this
        // instance's or another's): a copy made since would look missing (a drift, resent) or
        // unknown (an orphan, deleted with `remove_orphans`). Hence the wait on the read
        // model's checkpoint in the database, whichever process moves it (a one-shot
        // `mcp drift` runs no read models of its own).
        self.wait_for_read_model(server_id, "no drift check of")
            .await?;
        let rows = mcp_sync::rows_of_server(&db.any, server_id, &SyncStatus::ALL, i64::MAX).await?;
        let mut report = DriftReport::default();
        let client = self.client_for(server_id).await?;
        let remote = client.list(None, None).await.map_err(|e| {
            ApiError::Internal(format!(
                "MCP server {server_id} could not list its credentials: {e}"
            ))
        })?;
        let mut reported: HashMap<String, RemoteCredential> = HashMap::new();
        // What cannot be read says nothing of its copy: by id, or (no readable id) of any copy
        // the list does not show readably.
        let (mut unreadable, mut unreadable_without_id) = (HashSet::new(), false);
        for item in remote {
            match item {
                RemoteItem::Ok(c) => {
                    reported.insert(c.credential_id.clone(), c);
                }
                RemoteItem::Unreadable {
                    index,
                    credential_id,
                    reason,
                    ..
                } => {
                    tracing::warn!(
                        server = %server_id, index, id = ?credential_id, %reason,
                        "MCP server lists a credential that cannot be read"
                    );
                    match credential_id {
                        Some(id) => {
                            unreadable.insert(id);
                        }
                        None => unreadable_without_id = true,
                    }
                }
            }
        }
        let claimed: HashSet<&str> = rows.iter().filter_map(|r| r.mcp_id.as_deref()).collect();
        for row in rows
            .iter()
            .filter(|r| r.status == SyncStatus::Synced && r.action == SyncAction::Upsert)
        {
            let Some(mcp_id) = &row.mcp_id else { continue };
            let sent = row.synced_version.map(|v| v.max(0) as u64);
            let differs = match reported.get(mcp_id) {
                // Listed, unreadably: not a drift to record at every check, and resend for ever.
                None if unreadable.contains(mcp_id) || unreadable_without_id => false,
                None => true,
                // A drift already recorded for this version, resent, and its data differing
                // still: the server changes what it is sent (refreshes an OAuth token itself).
                // Recorded and resent at every check, it would write two events per copy for
                // ever. A copy at another version (a server restored from a backup) still is.
                Some(copy)
                    if row.drifted_version.is_some()
                        && row.drifted_version == row.synced_version =>
                {
                    copy.ledger_version.is_some_and(|v| Some(v) != sent)
                }
                Some(copy) => {
                    copy.ledger_version.is_some_and(|v| Some(v) != sent)
                        || match self.body(row, String::new(), sent.unwrap_or(0)).await {
                            Ok(body) => !same_copy(copy, &body),
                            // Being revoked or erased: the row is about to become a delete.
                            Err(Failure::Skip) => false,
                            Err(e) => return Err(e.into_api()),
                        }
                }
            };
            if differs {
                if held.is_lost() {
                    return Err(lapsed());
                }
                report.drifted += 1;
                // About the copy it was sent: the version it should have reported.
                self.record(
                    row,
                    sent.unwrap_or(0),
                    McpSyncOutcome::Drifted {
                        reported_version: reported.get(mcp_id).and_then(|c| c.ledger_version),
                    },
                )
                .await?;
            }
        }
        let mut orphans: Vec<String> = reported
            .keys()
            .filter(|id| !claimed.contains(id.as_str()))
            .cloned()
            .collect();
        orphans.sort();
        for id in &orphans {
            tracing::warn!(
                server = %server_id, mcp_id = ?id, remove = self.settings.remove_orphans,
                "MCP server holds a copy the ledger does not know of"
            );
            if self.settings.remove_orphans {
                if held.is_lost() {
                    return Err(lapsed());
                }
                match client.delete(id, &format!("orphan:{id}"), 0).await {
                    Ok(()) => report.removed_orphans += 1,
                    Err(e) => tracing::warn!(
                        server = %server_id, mcp_id = ?id, error = %e,
                        "could not delete an orphan copy"
                    ),
                }
            }
        }
        report.orphans = orphans;
        Ok(report)
    }
}

/// How long a step or a drift check waits for the MCP sync read model to show what was
/// committed before it; past that it sends or checks nothing.
const READ_MODEL_WAIT: Duration = Duration::from_secs(5);

/// Whether the server's copy says what the ledger would send. Only what the server reports is
/// compared: a field it leaves out is not a difference, extra fields are ignored.
fn same_copy(copy: &RemoteCredential, body: &SyncBody) -> bool {
    copy.user_id == body.user_id
        && copy.service_type == body.service_type
        && copy
            .credential_name
            .as_ref()
            .is_none_or(|n| *n == body.credential_name)
        && copy.is_primary.is_none_or(|p| p == body.is_primary)
        && copy
            .account_identifier
            .as_ref()
            .is_none_or(|a| Some(a) == body.account_identifier.as_ref())
        && (copy.credential_data.is_none() || same_data(copy, &body.credential_data))
}

/// Whether the copy's `credential_data` holds exactly these fields and values.
fn same_data(copy: &RemoteCredential, fields: &BTreeMap<String, String>) -> bool {
    copy.credential_data.as_ref().is_some_and(|data| {
        data.len() == fields.len()
            && fields
                .iter()
                .all(|(k, v)| data.get(k).and_then(|d| d.as_str()) == Some(v.as_str()))
    })
}

/// The sender's attempts at a row's current change (`mcp_deliveries`), while it is not
/// answered.
struct Delivery {
    credential_id: String,
    wanted_position: i64,
    attempts: u32,
    next_attempt_at: DateTime<Utc>,
    /// The names unanswered requests carried for a copy the ledger has no id for: what such a
    /// copy can be called on the server, whatever the credential is called (or whether it
    /// still has a secret) by now.
    sent_names: Vec<String>,
    /// The ids of the unclaimed copies of the user and service the server listed before the
    /// first of those requests: copies that were there before (a person's own, made without
    /// credledger), never taken for one a request left. Empty in a delivery an older version
    /// started (its names alone decide then).
    listed_before: Vec<String>,
}

/// Decoded strictly: a row this code did not write is an error naming its column, never a
/// default (a backoff dropped, a count that overflows, a name forgotten that would have found a
/// lost copy).
impl sqlx::FromRow<'_, sqlx::any::AnyRow> for Delivery {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        let attempts: i64 = r.try_get("attempts")?;
        Ok(Self {
            credential_id: r.try_get("credential_id")?,
            wanted_position: r.try_get("wanted_position")?,
            attempts: u32::try_from(attempts)
                .map_err(|_| row::bad("attempts", &attempts.to_string()))?,
            next_attempt_at: row::time("next_attempt_at", r.try_get("next_attempt_at")?)?,
            sent_names: row::from_json("sent_names", r.try_get("sent_names")?)?,
            listed_before: row::from_json("listed_before", r.try_get("listed_before")?)?,
        })
    }
}

/// How many of a delivery's sent names are kept (renames while a server does not answer).
const SENT_NAMES: usize = 16;

/// `names` and `name`, once each.
fn with_name(names: &[String], name: &str) -> Vec<String> {
    let mut all = names.to_vec();
    if !all.iter().any(|n| n == name) {
        all.push(name.to_owned());
    }
    all
}

/// What a copy of a credential looks like on a server, as far as the ledger knows it.
struct Looks {
    /// Any of these names.
    names: Vec<String>,
    /// The plaintext fields (wiped on drop).
    data: Option<BTreeMap<String, String>>,
    /// Never one of these ids: copies that were there before the first create.
    listed_before: Vec<String>,
}

impl Drop for Looks {
    fn drop(&mut self) {
        if let Some(data) = &mut self.data {
            data.values_mut().for_each(zeroize::Zeroize::zeroize);
        }
    }
}

/// `delay` from now. Every setting is at most `config::LONGEST_INTERVAL`: the date cannot
/// overflow.
fn later(delay: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
}

/// The next attempt of a change the sender does not try again by itself: the last second of
/// year 9999 (a newer change or an operator's retry makes the row due before).
fn not_by_itself() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Full jitter: a random delay between 0 and `base · 2^(attempt−1)`, capped at `max`, and at
/// least a tenth of the base so retries never spin.
fn backoff(settings: &SyncSettings, attempt: u32) -> Duration {
    let exp = settings
        .base_delay
        .saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .min(settings.max_delay);
    let floor = settings.base_delay / 10;
    let jittered = exp.mul_f64(rand::thread_rng().gen_range(0.0..=1.0));
    jittered.max(floor)
}

/// A server's client under the send lease: each request of a row is made only while the lease
/// is surely held. A request begun then is no longer awaited when the lease can lapse
/// (configuration refuses a request timeout not below the lease's margin, [`Held::is_lost`]),
/// so no other holder's request of the row begins while it is awaited; a create the server
/// finishes later is found by the name it was sent under.
struct Leased<'a> {
    client: &'a McpClient,
    held: &'a Held,
}

impl Leased<'_> {
    /// [`Failure::LeaseLost`] once the lease may have lapsed.
    fn check(&self) -> Result<(), Failure> {
        if self.held.is_lost() {
            return Err(Failure::LeaseLost);
        }
        Ok(())
    }

    async fn create(&self, body: &SyncBody) -> Result<String, Failure> {
        self.check()?;
        Ok(self.client.create(body).await?)
    }

    async fn update(&self, mcp_id: &str, body: &SyncBody) -> Result<(), Failure> {
        self.check()?;
        Ok(self.client.update(mcp_id, body).await?)
    }

    async fn delete(&self, mcp_id: &str, key: &str, version: u64) -> Result<(), Failure> {
        self.check()?;
        Ok(self.client.delete(mcp_id, key, version).await?)
    }

    async fn list(&self, user_id: &str, service: &str) -> Result<Vec<RemoteItem>, Failure> {
        self.check()?;
        Ok(self.client.list(Some(user_id), Some(service)).await?)
    }
}

/// Why a row was not sent this time.
enum Failure {
    /// Nothing to send now (the projection is behind the aggregate, or the server may no
    /// longer hold the credential); not an attempt.
    Skip,
    Sync(SyncError),
    /// A create the server answered (2xx) with nothing the ledger can keep, whose copy is not
    /// found while the server lists one of the user and service it cannot read: a copy stands
    /// there that no row tracks, and each new create would add one. Recorded as failed at once
    /// and not tried again until the credential changes or a person retries it.
    Untracked(SyncError),
    /// The send lease may have lapsed before a request of the row: nothing more of it is sent
    /// or recorded, the next holder does it again.
    LeaseLost,
}

impl Failure {
    fn internal(detail: String) -> Self {
        tracing::error!(%detail, "MCP sync could not prepare a request");
        Self::Sync(SyncError::BadAnswer(
            "credledger could not prepare the request".into(),
        ))
    }

    fn into_api(self) -> ApiError {
        match self {
            Failure::Skip => ApiError::Internal("skipped".into()),
            Failure::LeaseLost => {
                ApiError::Unavailable("the MCP sync lease may have lapsed".into())
            }
            Failure::Sync(e) | Failure::Untracked(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<SyncError> for Failure {
    fn from(e: SyncError) -> Self {
        Self::Sync(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_delivery_row_the_sender_did_not_write_is_an_error_naming_its_column() {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect("sqlite::memory:")
            .await
            .expect("an in-memory SQLite");
        let read = |attempts: &str, next: &str, names: &str| {
            // `listed_before` as stored, or (a marker value) not a JSON list.
            let listed = if next == "listed" {
                "mcp-1"
            } else {
                r#"["mcp-1"]"#
            };
            let next = if next == "listed" {
                "2026-12-06T10:00:00.000000Z"
            } else {
                next
            };
            let sql = format!(
                "SELECT 'c' AS credential_id, 7 AS wanted_position, {attempts} AS attempts, \
                 '{next}' AS next_attempt_at, '{names}' AS sent_names, \
                 '{listed}' AS listed_before"
            );
            let pool = pool.clone();
            async move { sqlx::query_as::<_, Delivery>(&sql).fetch_one(&pool).await }
        };
        let written = "2026-12-06T10:00:00.000000Z";
        let good = read("2", written, r#"["Work"]"#)
            .await
            .expect("a row as the sender writes it");
        assert_eq!(good.attempts, 2);
        assert_eq!(
            good.next_attempt_at.to_rfc3339(),
            "2026-12-06T10:00:00+00:00"
        );
        assert_eq!(good.sent_names, ["Work"]);
        assert_eq!(good.listed_before, ["mcp-1"]);
        for (attempts, next, names, column) in [
            ("-1", written, "[]", "attempts"),
            ("4294967296", written, "[]", "attempts"),
            ("2", "soon", "[]", "next_attempt_at"),
            ("2", written, "Work", "sent_names"),
            ("2", "listed", "[]", "listed_before"),
        ] {
            match read(attempts, next, names).await {
                Err(sqlx::Error::ColumnDecode { index, .. }) => assert_eq!(index, column),
                other => panic!("{column}: {:?}", other.map(|d| d.attempts)),
            }
        }
    }

    #[test]
    fn backoff_doubles_within_full_jitter_and_stays_under_the_cap() {
        let settings = SyncSettings {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            ..SyncSettings::default()
        };
        for attempt in 1..40 {
            let d = backoff(&settings, attempt);
            let ceiling = Duration::from_millis(100)
                .saturating_mul(1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX))
                .min(Duration::from_secs(2));
            assert!(
                d >= Duration::from_millis(10) && d <= ceiling.max(Duration::from_millis(10)),
                "{attempt}: {d:?}"
            );
        }
        // Jitter: the same attempt does not always wait the same.
        let delays: std::collections::BTreeSet<_> =
            (0..20).map(|_| backoff(&settings, 5)).collect();
        assert!(delays.len() > 1);
    }
}
