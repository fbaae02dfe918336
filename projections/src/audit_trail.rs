//! `audit_trail`: one row per ledger event — action, actor, IP, user agent, request id,
//! success, error, the old and new non-secret values, and context. Answers "who did what, from
//! where". Sealed secrets are never copied; a secret change shows only its new version.

use crate::event::{decode, Decoded};
use crate::row::{flag, from_json, time};
use crate::{Prepared as PreparedBatch, ProjectionError, ReadModel, Tables};
use chrono::{DateTime, Utc};
use credledger_adapters::db::{is_sqlite, timestamp, tuples, Backend};
use credledger_adapters::feed::FeedEvent;
use credledger_domain::keyring::KeyringEvent;
use credledger_domain::mcp_server::McpServerEvent;
use credledger_domain::usage::UsageEvent;
use credledger_domain::user::UserEvent;
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, FromRow as _, Row};
use std::collections::BTreeSet;

struct Row_ {
    credential_id: Option<String>,
    user_id: Option<String>,
    service: Option<String>,
    success: bool,
    error: Option<String>,
    old: Value,
    new: Value,
    context: Value,
}

fn describe_keyring(event: &KeyringEvent) -> (bool, Option<String>, Value, Value, Value) {
    use KeyringEvent::*;
    let empty = || json!({});
    match event {
        CredentialRegistered {
            name,
            metadata,
            secret_version,
            status,
            ..
        } => (
            true,
            None,
            empty(),
            json!({"name": name, "metadata": metadata, "status": status, "secret_version": secret_version}),
            empty(),
        ),
        CredentialRenamed {
            old_name, new_name, ..
        } => (
            true,
            None,
            json!({"name": old_name}),
            json!({"name": new_name}),
            empty(),
        ),
        CredentialMetadataChanged {
            old_metadata,
            new_metadata,
            ..
        } => (
            true,
            None,
            json!({"metadata": old_metadata}),
            json!({"metadata": new_metadata}),
            empty(),
        ),
        SecretReplaced {
            secret_version,
            previous_status,
            status,
            ..
        } => (
            true,
            None,
            json!({"status": previous_status, "secret_version": secret_version.saturating_sub(1)}),
            json!({"status": status, "secret_version": secret_version}),
            empty(),
        ),
        CredentialValidated {
            account,
            scopes,
            expires_at,
            previous_status,
            status,
            secret_version,
            ..
        } => (
            true,
            None,
            json!({"status": previous_status}),
            json!({"status": status, "account": account, "scopes": scopes, "expires_at": expires_at}),
            json!({"secret_version": secret_version}),
        ),
        ValidationFailed {
            message,
            previous_status,
            status,
            secret_version,
            ..
        } => (
            false,
            Some(message.clone()),
            json!({"status": previous_status}),
            json!({"status": status}),
            json!({"secret_version": secret_version}),
        ),
        ValidationInconclusive {
            reason,
            secret_version,
            ..
        } => (
            false,
            Some(format!("could not check: {reason}")),
            empty(),
            empty(),
            json!({"secret_version": secret_version}),
        ),
        PrimaryCredentialChanged {
            previous,
            current,
            reason,
        } => (
            true,
            None,
            json!({"primary": previous}),
            json!({"primary": current}),
            json!({"reason": reason}),
        ),
        CredentialRevoked {
            reason,
            previous_status,
            status,
            ..
        } => (
            true,
            None,
            json!({"status": previous_status}),
            json!({"status": status}),
            json!({"reason": reason}),
        ),
        CredentialExpired {
            expired_at,
            previous_status,
            status,
            ..
        } => (
            true,
            None,
            json!({"status": previous_status}),
            json!({"status": status}),
            json!({"expired_at": expired_at}),
        ),
        CredentialErased {
            name,
            previous_status,
            ..
        } => (
            true,
            None,
            json!({"name": name, "status": previous_status}),
            json!({"status": "erased"}),
            empty(),
        ),
        OAuthTokenRefreshed {
            secret_version,
            expires_at,
            ..
        } => (
            true,
            None,
            json!({"secret_version": secret_version.saturating_sub(1)}),
            json!({"secret_version": secret_version, "expires_at": expires_at}),
            empty(),
        ),
        CredentialSyncedToMcp {
            target,
            ledger_version,
            mcp_id,
            ..
        } => (
            true,
            None,
            empty(),
            json!({"mcp_id": mcp_id}),
            json!({"target": target, "ledger_version": ledger_version}),
        ),
        CredentialSyncFailed {
            target,
            ledger_version,
            error,
            ..
        } => (
            false,
            Some(error.clone()),
            empty(),
            empty(),
            json!({"target": target, "ledger_version": ledger_version}),
        ),
        CredentialRemovedFromMcp {
            target,
            ledger_version,
            mcp_id,
            ..
        } => (
            true,
            None,
            json!({"mcp_id": mcp_id}),
            empty(),
            json!({"target": target, "ledger_version": ledger_version}),
        ),
        CredentialDriftedOnMcp {
            target,
            ledger_version,
            reported_version,
            ..
        } => (
            false,
            Some("the MCP server's copy is out of date".into()),
            empty(),
            empty(),
            json!({"target": target, "ledger_version": ledger_version,
                   "reported_version": reported_version}),
        ),
    }
}

/// What an MCP server event changed, and whose access it is about. Token hashes are left out.
fn describe_mcp_server(
    event: &McpServerEvent,
) -> (Option<String>, Option<String>, serde_json::Value) {
    use McpServerEvent::*;
    match event {
        McpServerRegistered {
            name,
            base_url,
            allowed_services,
            serves_all_users,
            ..
        } => (
            None,
            None,
            json!({"name": name, "base_url": base_url, "allowed_services": allowed_services,
                   "serves_all_users": serves_all_users}),
        ),
        McpServerChanged {
            allowed_services,
            serves_all_users,
            base_url,
            dropped_grants,
        } => (
            None,
            None,
            json!({"base_url": base_url, "allowed_services": allowed_services,
                   "serves_all_users": serves_all_users, "dropped_grants": dropped_grants}),
        ),
        McpServerRemoved {} => (None, None, json!({})),
        McpAccessGranted { user_id, service } | McpAccessWithdrawn { user_id, service } => (
            Some(user_id.to_string()),
            Some(service.to_string()),
            json!({}),
        ),
        McpServerTokenIssued {
            token_id,
            name,
            scopes,
            expires_at,
            ..
        } => (
            None,
            None,
            json!({"token_id": token_id, "name": name, "scopes": scopes, "expires_at": expires_at}),
        ),
        McpServerTokenRevoked { token_id } => (None, None, json!({"token_id": token_id})),
        McpReplayRequested { from_position } => {
            (None, None, json!({"from_position": from_position}))
        }
    }
}

/// What a user event changed, for the audit trail. Token hashes are left out.
fn describe_user(event: &UserEvent) -> (serde_json::Value, serde_json::Value) {
    use UserEvent::*;
    match event {
        UserRegistered {
            email,
            display_name,
            role,
            permissions,
            ..
        } => (
            json!({}),
            json!({"email": email, "display_name": display_name, "role": role, "permissions": permissions}),
        ),
        PasswordChanged { reset_by_admin } => {
            (json!({}), json!({"reset_by_admin": reset_by_admin}))
        }
        UserLocked { reason } => (
            json!({"locked": false}),
            json!({"locked": true, "reason": reason}),
        ),
        UserUnlocked {} => (json!({"locked": true}), json!({"locked": false})),
        PermissionGranted { permission } => (json!({}), json!({"permission": permission})),
        PermissionRevoked { permission } => (json!({"permission": permission}), json!({})),
        ApiTokenIssued {
            token_id,
            name,
            scopes,
            expires_at,
            ..
        } => (
            json!({}),
            json!({"token_id": token_id, "name": name, "scopes": scopes, "expires_at": expires_at}),
        ),
        ApiTokenRevoked { token_id } => (json!({"token_id": token_id}), json!({"revoked": true})),
    }
}

/// The values of one audit row, in column order (serialized, named as the columns).
#[derive(serde::Serialize)]
pub(crate) struct AuditRow {
    position: i64,
    occurred_at: String,
    aggregate_type: String,
    aggregate_id: String,
    credential_id: Option<String>,
    user_id: Option<String>,
    service: Option<String>,
    action: String,
    actor: String,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: String,
    success: i64,
    error: Option<String>,
    old_values: String,
    new_values: String,
    context: String,
}

const COLUMNS: &str = "position, occurred_at, aggregate_type, aggregate_id, credential_id, \
    user_id, service, action, actor, ip, user_agent, request_id, success, error, old_values, \
    new_values, context";
const COLUMN_COUNT: usize = 17;

fn audit_row(feed: &FeedEvent) -> Result<AuditRow, ProjectionError> {
    let envelope = decode(feed)?;
    let row = match &envelope.event {
        Decoded::Keyring(id, event) => {
            let (success, error, old, new, context) = describe_keyring(event);
            Row_ {
                credential_id: event.credential_id().map(|c| c.to_string()),
                user_id: Some(id.user_id.to_string()),
                service: Some(id.service.to_string()),
                success,
                error,
                old,
                new,
                context,
            }
        }
        Decoded::Usage(UsageEvent::CredentialUsed {
            credential_id,
            user_id,
            service,
            consumer,
            tool,
            purpose,
        }) => Row_ {
            credential_id: Some(credential_id.to_string()),
            user_id: Some(user_id.to_string()),
            service: Some(service.to_string()),
            success: true,
            error: None,
            old: json!({}),
            new: json!({}),
            context: json!({"consumer": consumer, "tool": tool, "purpose": purpose}),
        },
        Decoded::User(user_id, event) => {
            let (old, new) = describe_user(event);
            Row_ {
                credential_id: None,
                user_id: Some(user_id.clone()),
                service: None,
                success: true,
                error: None,
                old,
                new,
                context: json!({}),
            }
        }
        Decoded::McpServer(_, event) => {
            let (user_id, service, new) = describe_mcp_server(event);
            Row_ {
                credential_id: None,
                user_id,
                service,
                success: true,
                error: None,
                old: json!({}),
                new,
                context: json!({}),
            }
        }
        Decoded::Other => Row_ {
            credential_id: None,
            user_id: None,
            service: None,
            success: true,
            error: None,
            old: json!({}),
            new: json!({}),
            context: json!({}),
        },
    };
    let m = envelope.metadata;
    Ok(AuditRow {
        position: feed.position,
        occurred_at: timestamp(m.occurred_at),
        aggregate_type: feed.aggregate_type.clone(),
        aggregate_id: feed.aggregate_id.clone(),
        credential_id: row.credential_id,
        user_id: row.user_id,
        service: row.service,
        action: feed.event_type.clone(),
        actor: m.actor,
        ip: m.ip,
        user_agent: m.user_agent,
        request_id: m.request_id,
        success: i64::from(row.success),
        error: row.error,
        old_values: row.old.to_string(),
        new_values: row.new.to_string(),
        context: json!({
            "sequence": feed.sequence,
            "event_version": feed.event_version,
            "detail": row.context
        })
        .to_string(),
    })
}

/// The read model: one row per event, for the History and Audit screens and auditors.
pub struct AuditTrail;

#[async_trait::async_trait]
impl ReadModel for AuditTrail {
    fn name(&self) -> &'static str {
        "audit_trail"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["audit_trail"]
    }

    fn prepare(
        &self,
        events: &[FeedEvent],
        backend: Backend,
    ) -> Result<Option<PreparedBatch>, ProjectionError> {
        Ok(Some(Box::new(prepare(
            events,
            backend == Backend::Postgres,
        )?)))
    }

    /// Appends one row per event.
    async fn apply(
        &self,
        conn: &mut AnyConnection,
        tables: Tables,
        events: &[FeedEvent],
        prepared: Option<PreparedBatch>,
    ) -> Result<BTreeSet<String>, ProjectionError> {
        let rows = match prepared.and_then(|p| p.downcast::<Prepared>().ok()) {
            Some(rows) => *rows,
            None => prepare(events, !is_sqlite(conn))?,
        };
        insert(conn, tables, &rows).await?;
        Ok(BTreeSet::new())
    }
}

/// Audit rows ready to insert, decided without the database (a rebuild prepares the next
/// batch's rows while the current one is inserted).
enum Prepared {
    /// PostgreSQL: the rows as JSON arrays of records, at most [`JSON_CHUNK`] each, turned
    /// into rows by the server. A `VALUES` list of 17 parameters a row costs more to parse
    /// and plan than the rows cost to insert.
    Json(Vec<String>),
    /// SQLite: the rows, bound as parameters.
    Rows(Vec<AuditRow>),
}

const JSON_CHUNK: usize = 5000;

/// The rows of `events`, serialized for PostgreSQL when `postgres`.
fn prepare(events: &[FeedEvent], postgres: bool) -> Result<Prepared, ProjectionError> {
    let rows = events
        .iter()
        .map(audit_row)
        .collect::<Result<Vec<_>, _>>()?;
    if !postgres {
        return Ok(Prepared::Rows(rows));
    }
    rows.chunks(JSON_CHUNK)
        .map(|chunk| {
            serde_json::to_string(chunk).map_err(|e| ProjectionError::BadEvent {
                position: chunk.first().map_or(0, |r| r.position),
                detail: format!("audit rows could not be serialized: {e}"),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Prepared::Json)
}

/// Inserts prepared rows.
async fn insert(
    conn: &mut AnyConnection,
    tables: Tables,
    prepared: &Prepared,
) -> Result<(), ProjectionError> {
    let table = tables.name("audit_trail");
    let rows = match prepared {
        Prepared::Json(chunks) => {
            for records in chunks {
                let sql = format!(
                    "INSERT INTO {table} ({COLUMNS}) SELECT {COLUMNS} \
                     FROM json_populate_recordset(NULL::{table}, CAST($1 AS json))"
                );
                sqlx::query(&sql)
                    .bind(records.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
            return Ok(());
        }
        Prepared::Rows(rows) => rows,
    };
    for chunk in rows.chunks(1000) {
        let sql = format!(
            "INSERT INTO {table} ({COLUMNS}) VALUES {}",
            tuples(true, 1, chunk.len(), COLUMN_COUNT)
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(r.position)
                .bind(r.occurred_at.clone())
                .bind(r.aggregate_type.clone())
                .bind(r.aggregate_id.clone())
                .bind(r.credential_id.clone())
                .bind(r.user_id.clone())
                .bind(r.service.clone())
                .bind(r.action.clone())
                .bind(r.actor.clone())
                .bind(r.ip.clone())
                .bind(r.user_agent.clone())
                .bind(r.request_id.clone())
                .bind(r.success)
                .bind(r.error.clone())
                .bind(r.old_values.clone())
                .bind(r.new_values.clone())
                .bind(r.context.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// One audit row as read back, decoded strictly: a time or JSON value the code never writes is
/// an error naming its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub position: i64,
    pub occurred_at: DateTime<Utc>,
    pub credential_id: Option<String>,
    pub user_id: Option<String>,
    pub service: Option<String>,
    pub action: String,
    pub actor: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub success: bool,
    pub error: Option<String>,
    pub old_values: Value,
    pub new_values: Value,
    pub context: Value,
}

impl sqlx::FromRow<'_, AnyRow> for AuditEntry {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            position: row.try_get("position")?,
            occurred_at: time("occurred_at", row.try_get("occurred_at")?)?,
            credential_id: row.try_get("credential_id")?,
            user_id: row.try_get("user_id")?,
            service: row.try_get("service")?,
            action: row.try_get("action")?,
            actor: row.try_get("actor")?,
            ip: row.try_get("ip")?,
            user_agent: row.try_get("user_agent")?,
            request_id: row.try_get("request_id")?,
            success: flag("success", row.try_get("success")?)?,
            error: row.try_get("error")?,
            old_values: from_json("old_values", row.try_get("old_values")?)?,
            new_values: from_json("new_values", row.try_get("new_values")?)?,
            context: from_json("context", row.try_get("context")?)?,
        })
    }
}

/// A credential's audit entries, oldest first.
pub async fn for_credential(
    pool: &AnyPool,
    credential_id: &str,
) -> Result<Vec<AuditEntry>, ProjectionError> {
    Ok(
        sqlx::query_as("SELECT * FROM audit_trail WHERE credential_id = $1 ORDER BY position")
            .bind(credential_id)
            .fetch_all(pool)
            .await?,
    )
}

/// Which audit entries to list. Every filter is optional. `user_id` scopes to one person's
/// credentials (a person sees their own trail); `None` is everyone's.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user_id: Option<String>,
    /// Only entries of a credential (anyone's), or of this person: what `credentials.view_all`
    /// shows someone who is not an administrator (no one else's account, no MCP server's
    /// configuration).
    pub credentials_or_person: Option<String>,
    pub credential_id: Option<String>,
    pub service: Option<String>,
    pub actions: Vec<String>,
    pub actor: Option<String>,
    /// RFC 3339 bounds on `occurred_at`, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A page of audit entries, newest first, strictly before position `before` (a cursor), with
/// whether more follow. One statement.
pub async fn search(
    pool: &AnyPool,
    filter: &AuditFilter,
    first: i64,
    before: Option<i64>,
) -> Result<(Vec<AuditEntry>, bool), ProjectionError> {
    let mut sql = String::from("SELECT * FROM audit_trail WHERE position < $1");
    let mut binds: Vec<String> = Vec::new();
    let mut push = |sql: &mut String, clause: &str, value: &str| {
        binds.push(value.to_owned());
        sql.push_str(&clause.replace('?', &format!("${}", binds.len() + 2)));
    };
    if let Some(v) = &filter.user_id {
        push(&mut sql, " AND user_id = ?", v);
    }
    if let Some(v) = &filter.credentials_or_person {
        push(
            &mut sql,
            " AND (credential_id IS NOT NULL OR user_id = ?)",
            v,
        );
    }
    if let Some(v) = &filter.credential_id {
        push(&mut sql, " AND credential_id = ?", v);
    }
    if let Some(v) = &filter.service {
        push(&mut sql, " AND service = ?", v);
    }
    if let Some(v) = &filter.actor {
        push(&mut sql, " AND actor = ?", v);
    }
    if let Some(v) = &filter.from {
        push(&mut sql, " AND occurred_at >= ?", v);
    }
    if let Some(v) = &filter.to {
        push(&mut sql, " AND occurred_at <= ?", v);
    }
    if !filter.actions.is_empty() {
        let start = binds.len() + 3;
        let marks: Vec<String> = (0..filter.actions.len())
            .map(|i| format!("${}", start + i))
            .collect();
        sql.push_str(&format!(" AND action IN ({})", marks.join(", ")));
        binds.extend(filter.actions.iter().cloned());
    }
    sql.push_str(" ORDER BY position DESC LIMIT $2");
    let mut q = sqlx::query_as(&sql)
        .bind(before.unwrap_or(i64::MAX))
        .bind(first + 1);
    for b in binds {
        q = q.bind(b);
    }
    let mut entries: Vec<AuditEntry> = q.fetch_all(pool).await?;
    let more = entries.len() as i64 > first;
    entries.truncate(first.max(0) as usize);
    Ok((entries, more))
}

/// What the admins' metrics list the newest of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recent {
    /// Checks with an outcome: valid, refused, could not check.
    Checks,
    /// Copies an MCP server could not be given.
    SyncFailures,
}

impl Recent {
    /// The rows' condition, as the partial index over them has it (migrations 0017, 0018): written
    /// out, not bound, or neither database could use the index.
    fn condition(self) -> &'static str {
        match self {
            Self::Checks => {
                "action IN ('CredentialValidated', 'ValidationFailed', 'ValidationInconclusive')"
            }
            Self::SyncFailures => "action = 'CredentialSyncFailed'",
        }
    }

    pub(crate) fn sql(self) -> String {
        format!(
            "SELECT * FROM audit_trail WHERE {} ORDER BY position DESC LIMIT $1",
            self.condition()
        )
    }
}

/// The newest `first` entries of a kind, newest first, through that kind's own index.
pub async fn recent(
    pool: &AnyPool,
    kind: Recent,
    first: i64,
) -> Result<Vec<AuditEntry>, ProjectionError> {
    Ok(sqlx::query_as(&kind.sql())
        .bind(first)
        .fetch_all(pool)
        .await?)
}

/// A credential's newest `last` events before position `before` (a cursor), oldest first,
/// each with its hash from the ledger (hex).
pub async fn history_with_hashes(
    pool: &AnyPool,
    credential_id: &str,
    before: Option<i64>,
    last: i64,
) -> Result<Vec<(AuditEntry, String)>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT a.*, e.hash AS event_hash FROM audit_trail a \
         JOIN events e ON e.global_position = a.position \
         WHERE a.credential_id = $1 AND a.position < $2 ORDER BY a.position DESC LIMIT $3",
    )
    .bind(credential_id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(last)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .rev()
        .map(|r| {
            let hash: Vec<u8> = r.try_get("event_hash")?;
            Ok((AuditEntry::from_row(r)?, hex::encode(hash)))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// The credentials the trail shows erased whose data key the key store still holds wrapped
/// (a crash came between the erasure and the key's destruction).
pub async fn erased_with_keys(pool: &AnyPool) -> Result<Vec<String>, ProjectionError> {
    Ok(sqlx::query_scalar(
        "SELECT d.credential_id FROM data_keys d WHERE d.wrapped IS NOT NULL AND EXISTS \
         (SELECT 1 FROM audit_trail a WHERE a.credential_id = d.credential_id \
          AND a.action = 'CredentialErased')",
    )
    .fetch_all(pool)
    .await?)
}

/// Whose credential this is, from its first event (erased credentials keep their history).
pub async fn owner_of(
    pool: &AnyPool,
    credential_id: &str,
) -> Result<Option<String>, ProjectionError> {
    let owner: Option<Option<String>> = sqlx::query_scalar(
        "SELECT user_id FROM audit_trail WHERE credential_id = $1 ORDER BY position LIMIT 1",
    )
    .bind(credential_id)
    .fetch_optional(pool)
    .await?;
    Ok(owner.flatten())
}
