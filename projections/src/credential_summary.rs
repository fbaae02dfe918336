//! `credential_summary`: everything the dashboard shows about one credential — service, name,
//! status, primary, account identity, metadata, validation, use, expiry, who created and
//! changed it and when — and the dashboard's counts (`dashboard_stats`). Never a secret: sealed
//! secrets in the events are not copied. Its MCP sync columns are read with the rows from the
//! `mcp_sync` read model ([`crate::mcp_sync::CREDENTIAL_SYNC_COLUMNS`]).
//!
//! A batch is folded in memory: the rows it touches are read once, every event is applied to
//! them, and the results are written back with a few multi-row statements. Rebuilds therefore
//! cost a handful of statements per thousand events.

use crate::event::{decode, Decoded, Envelope};
pub use crate::mcp_sync::SyncStatus;
use crate::row::{
    credential_status, delete_credentials, filter_term, flag, from_json, maybe_time, time,
};
use crate::{dashboard_stats, mcp_sync, Prepared, ProjectionError, ReadModel, Tables};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate as _;
use credledger_adapters::db::{is_sqlite, timestamp, tuples};
use credledger_adapters::feed::FeedEvent;
use credledger_domain::keyring::CredentialStatus;
use credledger_domain::keyring::Keyring;
use credledger_domain::keyring::KeyringEvent;
use credledger_domain::usage::{CredentialUsage, UsageEvent};
use credledger_domain::KeyringId;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap};

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// One row of the read model, typed: decoding a row the code did not write is an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub credential_id: String,
    pub user_id: String,
    pub service: String,
    pub name: String,
    pub status: CredentialStatus,
    pub is_primary: bool,
    pub account_id: Option<String>,
    pub account_name: Option<String>,
    pub account_email: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub provider_metadata: BTreeMap<String, String>,
    pub scopes: Vec<String>,
    pub secret_version: i64,
    pub last_validated_at: Option<DateTime<Utc>>,
    pub validation_error: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub use_count: i64,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub sync_status: Option<SyncStatus>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub sync_error: Option<String>,
    pub ledger_version: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

const COLUMNS: &str = "credential_id, user_id, service, name, status, is_primary, account_id, \
    account_name, account_email, metadata, provider_metadata, scopes, secret_version, \
    last_validated_at, validation_error, last_used_at, use_count, token_expires_at, \
    ledger_version, created_at, created_by, updated_at, updated_by";
const COLUMN_COUNT: usize = 23;

/// What the queries read: the stored columns and the sync columns from `mcp_sync`.
static READ: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{COLUMNS}, {}", mcp_sync::CREDENTIAL_SYNC_COLUMNS));

fn sync_status(text: Option<String>) -> Result<Option<SyncStatus>, sqlx::Error> {
    text.map(|t| SyncStatus::decode("sync_status", t))
        .transpose()
}

/// Builds a [`Summary`] from a row of any backend (the same column getters for each).
macro_rules! summary_from_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<Summary, sqlx::Error>(Summary {
            credential_id: r.try_get("credential_id")?,
            user_id: r.try_get("user_id")?,
            service: r.try_get("service")?,
            name: r.try_get("name")?,
            status: credential_status(r.try_get("status")?)?,
            is_primary: flag("is_primary", r.try_get("is_primary")?)?,
            account_id: r.try_get("account_id")?,
            account_name: r.try_get("account_name")?,
            account_email: r.try_get("account_email")?,
            metadata: from_json("metadata", r.try_get("metadata")?)?,
            provider_metadata: from_json("provider_metadata", r.try_get("provider_metadata")?)?,
            scopes: from_json("scopes", r.try_get("scopes")?)?,
            secret_version: r.try_get("secret_version")?,
            last_validated_at: maybe_time("last_validated_at", r.try_get("last_validated_at")?)?,
            validation_error: r.try_get("validation_error")?,
            last_used_at: maybe_time("last_used_at", r.try_get("last_used_at")?)?,
            use_count: r.try_get("use_count")?,
            token_expires_at: maybe_time("token_expires_at", r.try_get("token_expires_at")?)?,
            sync_status: sync_status(r.try_get("sync_status")?)?,
            last_synced_at: maybe_time("last_synced_at", r.try_get("last_synced_at")?)?,
            sync_error: r.try_get("sync_error")?,
            ledger_version: r.try_get("ledger_version")?,
            created_at: time("created_at", r.try_get("created_at")?)?,
            created_by: r.try_get("created_by")?,
            updated_at: time("updated_at", r.try_get("updated_at")?)?,
            updated_by: r.try_get("updated_by")?,
        })
    }};
}

impl sqlx::FromRow<'_, AnyRow> for Summary {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        summary_from_row!(r)
    }
}

impl sqlx::FromRow<'_, sqlx::postgres::PgRow> for Summary {
    fn from_row(r: &sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        summary_from_row!(r)
    }
}

impl Summary {
    fn bind<'q>(
        self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        q.bind(self.credential_id)
            .bind(self.user_id)
            .bind(self.service)
            .bind(self.name)
            .bind(self.status.as_str())
            .bind(i64::from(self.is_primary))
            .bind(self.account_id)
            .bind(self.account_name)
            .bind(self.account_email)
            .bind(json(&self.metadata))
            .bind(json(&self.provider_metadata))
            .bind(json(&self.scopes))
            .bind(self.secret_version)
            .bind(self.last_validated_at.map(timestamp))
            .bind(self.validation_error)
            .bind(self.last_used_at.map(timestamp))
            .bind(self.use_count)
            .bind(self.token_expires_at.map(timestamp))
            .bind(self.ledger_version)
            .bind(timestamp(self.created_at))
            .bind(self.created_by)
            .bind(timestamp(self.updated_at))
            .bind(self.updated_by)
    }
}

/// The credential ids a batch touches, and among them those it registers before anything else
/// touches them (their rows start from the registration: nothing to read).
fn touched_ids(events: &[Envelope<'_>]) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut ids, mut fresh) = (BTreeSet::new(), BTreeSet::new());
    for e in events {
        match &e.event {
            Decoded::Keyring(_, event) => {
                if let KeyringEvent::PrimaryCredentialChanged {
                    previous, current, ..
                } = event.as_ref()
                {
                    ids.extend(previous.iter().chain(current).map(|c| c.to_string()));
                } else if let Some(id) = event
                    .credential_id()
                    .filter(|_| !event.is_mcp_sync_outcome())
                {
                    let id = id.to_string();
                    if !ids.contains(&id)
                        && matches!(event.as_ref(), KeyringEvent::CredentialRegistered { .. })
                    {
                        fresh.insert(id.clone());
                    }
                    ids.insert(id);
                }
            }
            Decoded::Usage(UsageEvent::CredentialUsed { credential_id, .. }) => {
                ids.insert(credential_id.to_string());
            }
            Decoded::User(..) | Decoded::McpServer(..) | Decoded::Other => {}
        }
    }
    (ids, fresh)
}

/// The read model: every credential's summary, with the dashboard's counts (`dashboard_stats`)
/// derived from the summaries in the same transaction.
pub struct CredentialSummary;

#[async_trait::async_trait]
impl ReadModel for CredentialSummary {
    fn name(&self) -> &'static str {
        "credential_summary"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["credential_summary", "dashboard_stats"]
    }

    fn reads(&self) -> Option<&'static [&'static str]> {
        Some(&[Keyring::TYPE, CredentialUsage::TYPE])
    }

    fn remembered(&self) -> bool {
        true
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        tables: Tables,
        events: &[FeedEvent],
        _prepared: Option<Prepared>,
    ) -> Result<BTreeSet<String>, ProjectionError> {
        apply(conn, tables, events).await
    }
}

/// Applies a batch; returns the people whose rows it changed.
async fn apply(
    conn: &mut AnyConnection,
    tables: Tables,
    events: &[FeedEvent],
) -> Result<BTreeSet<String>, ProjectionError> {
    let table = tables.name("credential_summary");
    let sqlite = is_sqlite(conn);
    // A list of n parameters, `($1, …, $n)` or `(?, …, ?)`.
    let list = |n: usize| tuples(sqlite, 1, 1, n);
    // Only credentials' and uses' events change these rows: others are not even decoded (one
    // this binary cannot read stops the read models that need it, not this one).
    let envelopes = events
        .iter()
        .filter(|e| crate::reads(&CredentialSummary, e))
        .map(decode)
        .collect::<Result<Vec<_>, _>>()?;
    let (ids, fresh) = touched_ids(&envelopes);
    let stored: Vec<&String> = ids.difference(&fresh).collect();

    // Read the touched rows once.
    let mut rows: HashMap<String, Option<Summary>> = HashMap::new();
    for chunk in stored.chunks(500) {
        let sql = format!(
            "SELECT {COLUMNS}, {NO_SYNC} FROM {table} WHERE credential_id IN {}",
            list(chunk.len())
        );
        let mut q = sqlx::query_as::<_, Summary>(&sql);
        for id in chunk {
            q = q.bind((*id).clone());
        }
        for s in q.fetch_all(&mut *conn).await? {
            rows.insert(s.credential_id.clone(), Some(s));
        }
    }

    // Fold every event into them.
    let mut keyrings = BTreeSet::new();
    for e in &envelopes {
        match &e.event {
            // A copy's outcome is the `mcp_sync` read model's, not the credential's.
            Decoded::Keyring(_, event) if event.is_mcp_sync_outcome() => {}
            Decoded::Keyring(id, event) => {
                keyrings.insert((id.user_id.to_string(), id.service.to_string()));
                fold(&mut rows, e, id, event);
            }
            Decoded::Usage(UsageEvent::CredentialUsed { credential_id, .. }) => {
                if let Some(Some(s)) = rows.get_mut(&credential_id.to_string()) {
                    s.use_count += 1;
                    s.last_used_at = Some(e.metadata.occurred_at);
                }
            }
            Decoded::User(..) | Decoded::McpServer(..) | Decoded::Other => {}
        }
    }

    // Write them back: the erased ones deleted, the others written whole (inserted, or
    // replacing the stored row).
    let (mut survivors, mut erased) = (Vec::with_capacity(rows.len()), Vec::new());
    for (id, row) in rows {
        match row {
            Some(s) => survivors.push(s),
            None => erased.push(id),
        }
    }
    delete_credentials(conn, &table, &erased).await?;
    // A credential's row is touched by its keyring's events or by its uses.
    let mut users: BTreeSet<String> = survivors.iter().map(|s| s.user_id.clone()).collect();
    for chunk in survivors.chunks(500) {
        let sql = format!(
            "INSERT INTO {table} ({COLUMNS}) VALUES {} \
             ON CONFLICT (credential_id) DO UPDATE SET {}",
            tuples(sqlite, 1, chunk.len(), COLUMN_COUNT),
            *UPDATE_ALL
        );
        let mut q = sqlx::query(&sql);
        for s in chunk {
            q = s.clone().bind(q);
        }
        q.execute(&mut *conn).await?;
    }
    users.extend(keyrings.iter().map(|(user, _)| user.clone()));
    let keyrings: Vec<(String, String)> = keyrings.into_iter().collect();
    dashboard_stats::refresh(conn, tables, &keyrings).await?;
    Ok(users)
}

/// The sync columns, when the read model folds its own rows (they are not stored).
const NO_SYNC: &str = "NULL AS sync_status, NULL AS last_synced_at, NULL AS sync_error";

/// `column = excluded.column` for every column but the key.
static UPDATE_ALL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    COLUMNS
        .split(',')
        .map(str::trim)
        .filter(|c| *c != "credential_id")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
});

fn fold(
    rows: &mut HashMap<String, Option<Summary>>,
    envelope: &Envelope<'_>,
    keyring: &KeyringId,
    event: &KeyringEvent,
) {
    use KeyringEvent::*;
    let at = envelope.metadata.occurred_at;
    let actor = envelope.metadata.actor.clone();
    let version = envelope.feed.sequence;
    // Every change stamps who, when and the stream version.
    let mut change = |id: &credledger_domain::CredentialId, f: &mut dyn FnMut(&mut Summary)| {
        if let Some(Some(s)) = rows.get_mut(&id.to_string()) {
            f(s);
            s.updated_at = at;
            s.updated_by = actor.clone();
            s.ledger_version = version;
        }
    };
    match event {
        CredentialRegistered {
            credential_id,
            name,
            metadata,
            secret_version,
            status,
            ..
        } => {
            rows.insert(
                credential_id.to_string(),
                Some(Summary {
                    credential_id: credential_id.to_string(),
                    user_id: keyring.user_id.to_string(),
                    service: keyring.service.to_string(),
                    name: name.to_string(),
                    status: *status,
                    is_primary: false,
                    account_id: None,
                    account_name: None,
                    account_email: None,
                    metadata: metadata.clone(),
                    provider_metadata: BTreeMap::new(),
                    scopes: Vec::new(),
                    secret_version: i64::from(*secret_version),
                    last_validated_at: None,
                    validation_error: None,
                    last_used_at: None,
                    use_count: 0,
                    token_expires_at: None,
                    sync_status: None,
                    last_synced_at: None,
                    sync_error: None,
                    ledger_version: version,
                    created_at: at,
                    created_by: actor.clone(),
                    updated_at: at,
                    updated_by: actor.clone(),
                }),
            );
        }
        CredentialRenamed {
            credential_id,
            new_name,
            ..
        } => change(credential_id, &mut |s| s.name = new_name.to_string()),
        CredentialMetadataChanged {
            credential_id,
            new_metadata,
            ..
        } => change(credential_id, &mut |s| s.metadata = new_metadata.clone()),
        SecretReplaced {
            credential_id,
            secret_version,
            status,
            ..
        } => change(credential_id, &mut |s| {
            s.status = *status;
            s.secret_version = i64::from(*secret_version);
            s.token_expires_at = None;
        }),
        CredentialValidated {
            credential_id,
            account,
            provider_metadata,
            scopes,
            expires_at,
            status,
            ..
        } => change(credential_id, &mut |s| {
            s.status = *status;
            s.account_id = Some(account.id.clone());
            s.account_name = account.display_name.clone();
            s.account_email = account.email.clone();
            s.provider_metadata = provider_metadata.clone();
            s.scopes = scopes.clone();
            s.token_expires_at = *expires_at;
            s.last_validated_at = Some(at);
            s.validation_error = None;
        }),
        ValidationFailed {
            credential_id,
            message,
            status,
            ..
        } => change(credential_id, &mut |s| {
            s.status = *status;
            s.validation_error = Some(message.clone());
            s.last_validated_at = Some(at);
        }),
        ValidationInconclusive { credential_id, .. } => change(credential_id, &mut |_| {}),
        PrimaryCredentialChanged {
            previous, current, ..
        } => {
            if let Some(previous) = previous {
                change(previous, &mut |s| s.is_primary = false);
            }
            if let Some(current) = current {
                change(current, &mut |s| s.is_primary = true);
            }
        }
        CredentialRevoked {
            credential_id,
            status,
            ..
        }
        | CredentialExpired {
            credential_id,
            status,
            ..
        } => change(credential_id, &mut |s| s.status = *status),
        CredentialErased { credential_id, .. } => {
            rows.insert(credential_id.to_string(), None);
        }
        OAuthTokenRefreshed {
            credential_id,
            secret_version,
            expires_at,
            ..
        } => change(credential_id, &mut |s| {
            s.secret_version = i64::from(*secret_version);
            s.token_expires_at = *expires_at;
        }),
        // About an MCP server's copy, not the credential: `mcp_sync` keeps them, and the sync
        // columns are refreshed from it (so the credential's version does not move either).
        CredentialSyncedToMcp { .. }
        | CredentialSyncFailed { .. }
        | CredentialRemovedFromMcp { .. }
        | CredentialDriftedOnMcp { .. } => {}
    }
}

/// A keyring's credentials as its own stream says, folded by the code that builds the read
/// model: what a command's answer shows when the read model has not reached the command yet.
/// `stored` are the read model's rows of the keyring, however far behind; a row at least as new
/// as the stream's (by `ledger_version`) is kept as it is, and the others take from theirs what
/// other streams set (uses, MCP copies). Erased credentials are left out.
pub fn as_committed(
    keyring: &KeyringId,
    stream: &[FeedEvent],
    stored: Vec<Summary>,
) -> Result<Vec<Summary>, ProjectionError> {
    let mut rows = HashMap::new();
    for feed in stream {
        let envelope = decode(feed)?;
        if let Decoded::Keyring(_, event) = &envelope.event {
            fold(&mut rows, &envelope, keyring, event);
        }
    }
    let mut stored: HashMap<String, Summary> = stored
        .into_iter()
        .map(|s| (s.credential_id.clone(), s))
        .collect();
    let mut answer: Vec<Summary> = rows
        .into_values()
        .flatten()
        .map(|folded| match stored.remove(&folded.credential_id) {
            Some(s) if s.ledger_version >= folded.ledger_version => s,
            Some(s) => Summary {
                use_count: s.use_count,
                last_used_at: s.last_used_at,
                sync_status: s.sync_status,
                last_synced_at: s.last_synced_at,
                sync_error: s.sync_error,
                ..folded
            },
            None => folded,
        })
        .collect();
    answer
        .sort_by(|a, b| (&a.created_at, &a.credential_id).cmp(&(&b.created_at, &b.credential_id)));
    Ok(answer)
}

/// Which credentials to list. Every filter is optional; no filter lists everyone's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter<'a> {
    pub user_id: Option<&'a str>,
    pub service: Option<&'a str>,
    pub status: Option<&'a str>,
}

fn list_sql(filter: &Filter<'_>, after: bool) -> String {
    // After a credential: past it in the list's order (row values; both databases have them).
    let past = if after {
        "(service, created_at, credential_id) > \
         (SELECT service, created_at, credential_id FROM credential_summary \
          WHERE credential_id = $5)"
    } else {
        "$5 = ''"
    };
    format!(
        "SELECT {} FROM credential_summary WHERE {} AND {} AND {} AND {past} \
         ORDER BY service, created_at, credential_id LIMIT $4",
        *READ,
        filter_term(filter.user_id.is_some(), "user_id", "$1"),
        filter_term(filter.service.is_some(), "service", "$2"),
        filter_term(filter.status.is_some(), "status", "$3"),
    )
}

/// Credentials matching `filter`, by service then age, past credential `after` in that order
/// (a page's last: it must be in the read model), at most `limit`, in one statement. On
/// PostgreSQL the rows are read through the typed driver: converting each row to the `Any`
/// driver's form cost a sixth of the dashboard's CPU time.
pub async fn list(
    db: &credledger_adapters::Database,
    filter: Filter<'_>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Summary>, ProjectionError> {
    let sql = list_sql(&filter, after.is_some());
    let (user, service, status) = (
        filter.user_id.unwrap_or(""),
        filter.service.unwrap_or(""),
        filter.status.unwrap_or(""),
    );
    // The same statement and row mapping on either driver.
    macro_rules! fetch {
        ($executor:expr) => {
            sqlx::query_as(&sql)
                .bind(user)
                .bind(service)
                .bind(status)
                .bind(limit)
                .bind(after.unwrap_or(""))
                .fetch_all($executor)
                .await?
        };
    }
    Ok(match &db.pools {
        credledger_adapters::db::Pools::Postgres(pool) => fetch!(pool),
        credledger_adapters::db::Pools::Sqlite(_) => fetch!(&db.any),
    })
}

/// One credential's row.
pub async fn get(
    pool: &sqlx::AnyPool,
    credential_id: &str,
) -> Result<Option<Summary>, ProjectionError> {
    let sql = format!(
        "SELECT {} FROM credential_summary WHERE credential_id = $1",
        *READ
    );
    Ok(sqlx::query_as(&sql)
        .bind(credential_id)
        .fetch_optional(pool)
        .await?)
}

/// Whose credential `credential_id` is and which service it is for (its keyring), in one
/// statement: `None` if the read model does not know it (or no longer: erased).
pub async fn keyring_of(
    pool: &sqlx::AnyPool,
    credential_id: &str,
) -> Result<Option<(String, String)>, ProjectionError> {
    Ok(
        sqlx::query_as("SELECT user_id, service FROM credential_summary WHERE credential_id = $1")
            .bind(credential_id)
            .fetch_optional(pool)
            .await?,
    )
}

/// Where a credential lives (user and service) and whether a check of it is recorded at or
/// after `checked_since` (RFC 3339): one that [`stale`] listed before that check no longer is.
pub async fn keyring_and_check(
    pool: &sqlx::AnyPool,
    credential_id: &str,
    checked_since: &str,
) -> Result<Option<(String, String, bool)>, ProjectionError> {
    // Compared as `stale` compares: the same text, the same order.
    let row: Option<(String, String, i64)> = sqlx::query_as(
        "SELECT user_id, service, CAST(CASE WHEN last_validated_at >= $2 THEN 1 ELSE 0 END \
         AS BIGINT) AS checked FROM credential_summary WHERE credential_id = $1",
    )
    .bind(credential_id)
    .bind(checked_since)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(user, service, checked)| (user, service, checked != 0)))
}

fn stale_sql(filter: &Filter<'_>) -> String {
    format!(
        "SELECT {} FROM credential_summary \
         WHERE (status = 'active' OR (status = 'inactive' AND last_validated_at IS NULL)) \
         AND (last_validated_at IS NULL OR last_validated_at < $1) AND {} AND {} \
         ORDER BY last_validated_at NULLS FIRST, credential_id",
        *READ,
        filter_term(filter.user_id.is_some(), "user_id", "$2"),
        filter_term(filter.service.is_some(), "service", "$3"),
    )
}

/// Active credentials matching `filter` (its status ignored) whose last completed check is
/// older than `checked_before` (RFC 3339), or that were never checked, and inactive ones that
/// were never checked (imported or registered without a check); never checked first, then
/// oldest check first, on both backends (they sort NULL apart otherwise: a run stopped partway
/// would skip the never-checked ones on PostgreSQL only). A check that could not be made does
/// not count: those credentials stay stale.
pub async fn stale(
    pool: &sqlx::AnyPool,
    filter: Filter<'_>,
    checked_before: &str,
) -> Result<Vec<Summary>, ProjectionError> {
    Ok(sqlx::query_as(&stale_sql(&filter))
        .bind(checked_before)
        .bind(filter.user_id.unwrap_or(""))
        .bind(filter.service.unwrap_or(""))
        .fetch_all(pool)
        .await?)
}

/// Credentials whose token expiry is at or before `now` (RFC 3339) and that are neither expired
/// nor revoked yet: what the expiry job marks expired.
pub async fn past_expiry(pool: &sqlx::AnyPool, now: &str) -> Result<Vec<Summary>, ProjectionError> {
    let sql = format!(
        "SELECT {} FROM credential_summary WHERE token_expires_at IS NOT NULL \
         AND token_expires_at <= $1 AND status NOT IN ('expired', 'revoked') \
         ORDER BY token_expires_at, credential_id",
        *READ
    );
    Ok(sqlx::query_as(&sql).bind(now).fetch_all(pool).await?)
}

/// Active credentials whose token expires at or before `until` (RFC 3339) — one person's
/// (`Some(user)`) or everyone's — soonest first, at most `limit`. One whose expiry has already
/// passed is included until the expiry job marks it expired.
pub async fn expiring(
    pool: &sqlx::AnyPool,
    user: Option<&str>,
    until: &str,
    limit: i64,
) -> Result<Vec<Summary>, ProjectionError> {
    let sql = format!(
        "SELECT {} FROM credential_summary WHERE status = 'active' \
         AND token_expires_at IS NOT NULL AND token_expires_at <= $1 \
         AND {} ORDER BY token_expires_at, credential_id LIMIT $3",
        *READ,
        filter_term(user.is_some(), "user_id", "$2"),
    );
    Ok(sqlx::query_as(&sql)
        .bind(until)
        .bind(user.unwrap_or(""))
        .bind(limit)
        .fetch_all(pool)
        .await?)
}

/// Active credentials whose token expires at or before `until`, and expired ones with a token
/// expiry whenever it is (an expired one may hold a token still good, to be checked again):
/// what an OAuth refresh pass looks at, the active ones first, then the expired, soonest
/// first within each.
/// Expired ones nobody reconnects keep their old expiries; listed first, enough of them would
/// fill every pass's limit and leave the active tokens to lapse.
pub async fn expiring_or_expired(
    pool: &sqlx::AnyPool,
    until: &str,
    limit: i64,
) -> Result<Vec<Summary>, ProjectionError> {
    let sql = format!(
        "SELECT {} FROM credential_summary WHERE token_expires_at IS NOT NULL \
         AND (status = 'expired' OR (status = 'active' AND token_expires_at <= $1)) \
         ORDER BY CASE status WHEN 'active' THEN 0 ELSE 1 END, token_expires_at, credential_id \
         LIMIT $2",
        *READ
    );
    Ok(sqlx::query_as(&sql)
        .bind(until)
        .bind(limit)
        .fetch_all(pool)
        .await?)
}

/// Other credentials than `except`, of any person, for one of `services` that hold or may hold
/// the upstream account `account_id` (it, or no account recorded: tokens pasted and never
/// checked may be that account's), neither revoked nor erased: their ids, at most `limit`.
/// (One provider grant can serve several services: revoking it for one ends the others'.)
pub async fn others_holding_account(
    pool: &sqlx::AnyPool,
    services: &[&str],
    account_id: &str,
    except: &str,
    limit: i64,
) -> Result<Vec<String>, ProjectionError> {
    if services.is_empty() {
        return Ok(Vec::new());
    }
    let listed: Vec<String> = (0..services.len()).map(|n| format!("${}", n + 4)).collect();
    let sql = format!(
        "SELECT credential_id FROM credential_summary \
         WHERE (account_id = $1 OR account_id IS NULL) \
         AND credential_id <> $2 AND status <> 'revoked' AND service IN ({}) \
         ORDER BY credential_id LIMIT $3",
        listed.join(", ")
    );
    let mut query = sqlx::query_scalar(&sql)
        .bind(account_id)
        .bind(except)
        .bind(limit);
    for service in services {
        query = query.bind(*service);
    }
    Ok(query.fetch_all(pool).await?)
}

/// How many credentials [`expiring`] would list without a limit, and the soonest expiry still
/// past `until` (the count grows when the warning window reaches it), in one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiringCount {
    pub count: i64,
    /// The earliest `token_expires_at` after `until` of the active credentials counted from,
    /// if any.
    pub next: Option<String>,
}

/// See [`ExpiringCount`].
pub async fn expiring_count(
    pool: &sqlx::AnyPool,
    user: Option<&str>,
    until: &str,
) -> Result<ExpiringCount, ProjectionError> {
    let row = sqlx::query(&format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN token_expires_at <= $1 THEN 1 ELSE 0 END), 0) \
         AS BIGINT) AS count, MIN(CASE WHEN token_expires_at > $1 THEN token_expires_at END) \
         AS next FROM credential_summary WHERE status = 'active' \
         AND token_expires_at IS NOT NULL AND {}",
        filter_term(user.is_some(), "user_id", "$2"),
    ))
    .bind(until)
    .bind(user.unwrap_or(""))
    .fetch_one(pool)
    .await?;
    Ok(ExpiringCount {
        count: row.try_get("count")?,
        next: row.try_get("next")?,
    })
}

#[cfg(test)]
mod tests {
    use super::{list_sql, stale_sql, Filter};

    /// SQLite's plan of `sql`, its steps' words joined.
    async fn sqlite_plan(sql: &str, binds: usize) -> String {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:")
            .await
            .expect("an in-memory SQLite");
        sqlx::migrate!("../migrations/sqlite")
            .run(&pool)
            .await
            .expect("the migrations");
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(&explain);
        for _ in 0..binds {
            query = query.bind("x");
        }
        let steps = query.fetch_all(&pool).await.expect("a plan");
        steps
            .into_iter()
            .map(|(.., detail)| detail)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// One person's reads go through their index on SQLite, not through everyone's rows.
    #[tokio::test]
    async fn one_persons_reads_are_planned_on_their_index_on_sqlite() {
        let alice = Filter {
            user_id: Some("alice"),
            ..Filter::default()
        };
        for (what, sql, binds) in [
            ("list", list_sql(&alice, true), 5),
            ("stale", stale_sql(&alice), 3),
            ("dashboard", crate::dashboard_stats::dashboard_sql(true), 1),
        ] {
            let plan = sqlite_plan(&sql, binds).await;
            // A scan of a table (not of a WITH clause's rows, `copies`, `sync` as `y`).
            let scans_a_table = plan.split("; ").any(|step| {
                step.strip_prefix("SCAN ")
                    .and_then(|rest| rest.split(' ').next())
                    .is_some_and(|what| !["copies", "sync", "y"].contains(&what))
            });
            assert!(!scans_a_table, "{what}: {plan}");
        }
        // The admins' newest checks and failed copies, through their own indexes (the trail
        // holds a row per event; a failed copy is rare, and finding twenty walked all of it).
        for kind in [
            crate::audit_trail::Recent::Checks,
            crate::audit_trail::Recent::SyncFailures,
        ] {
            let plan = sqlite_plan(&kind.sql(), 1).await;
            assert!(
                plan.contains("USING INDEX audit_trail_checks")
                    || plan.contains("USING INDEX audit_trail_sync_failures"),
                "{kind:?}: {plan}"
            );
        }
        // Everyone's reads may scan: that is what they read.
        assert!(sqlite_plan(&list_sql(&Filter::default(), false), 5)
            .await
            .contains("SCAN"));
    }
}
