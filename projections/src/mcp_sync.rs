//! The `mcp_sync` read model: the registered MCP servers (`mcp_servers`), the users' grants
//! (`mcp_grants`), the credentials as far as a copy needs them (`mcp_credentials`: whose, which
//! service, status), and per server and credential what the server should hold and what it
//! holds (`mcp_sync`). `mcp_sync` is the replay adapter's outbox: a row that is not `synced` is
//! work for the sender, and the sender's answers come back as events (`CredentialSyncedToMcp`,
//! `CredentialSyncFailed`, `CredentialRemovedFromMcp`, `CredentialDriftedOnMcp`) that settle
//! the row. The only new work an answer makes is what it reveals: a drifted copy is sent again,
//! a copy confirmed that the server should no longer hold (or another copy than the one
//! removed) is deleted. A credential's sync status and the dashboard's pending and
//! failed counts are read from these rows when they are asked for ([`CREDENTIAL_SYNC_COLUMNS`]).
//!
//! What a server should hold is decided from the batch's final state (the sender mirrors the
//! current state, not each intermediate one): a live server holds a credential when it is
//! allowed the service, serves all users or has the user's grant, and the credential is neither
//! revoked nor erased. Everything else it held is deleted. A copy the server may have been sent
//! without confirming is kept, to be deleted, when its credential stops being held in a later
//! batch; a batch that sees the credential both arrive and leave never makes the copy. So a
//! rebuild, which batches differently, can leave out such never-confirmed deletions.

use crate::event::{decode, Decoded, Envelope};
use crate::row::{
    bad, credential_status, delete_credentials, filter_term, flag, from_json, maybe_time, time,
};
use crate::{Prepared, ProjectionError, ReadModel, Tables};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate as _;
use credledger_adapters::db::{as_stored, is_sqlite, timestamp, tuples};
use credledger_adapters::feed::FeedEvent;
use credledger_domain::keyring::{CredentialStatus, Keyring, KeyringEvent};
use credledger_domain::mcp_server::{McpServer, McpServerEvent};
use sqlx::any::AnyRow;
use sqlx::AnyPool;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// One registered server, as `mcp_servers` holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerRow {
    pub server_id: String,
    pub name: String,
    pub base_url: String,
    pub allowed_services: BTreeSet<String>,
    pub serves_all_users: bool,
    pub removed: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl sqlx::FromRow<'_, AnyRow> for ServerRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            server_id: r.try_get("server_id")?,
            name: r.try_get("name")?,
            base_url: r.try_get("base_url")?,
            allowed_services: services(r.try_get("allowed_services")?)?,
            serves_all_users: flag("serves_all_users", r.try_get("serves_all_users")?)?,
            removed: flag("removed", r.try_get("removed")?)?,
            created_at: time("created_at", r.try_get("created_at")?)?,
            updated_at: time("updated_at", r.try_get("updated_at")?)?,
        })
    }
}

impl ServerRow {
    /// The row a registration makes (`None` for any other event). With [`ServerRow::change`],
    /// what the batch writes and what [`server_as_committed`] folds.
    fn registered(server_id: &str, event: &McpServerEvent, at: DateTime<Utc>) -> Option<Self> {
        let McpServerEvent::McpServerRegistered {
            name,
            base_url,
            allowed_services,
            serves_all_users,
            ..
        } = event
        else {
            return None;
        };
        Some(Self {
            server_id: server_id.to_owned(),
            name: name.to_string(),
            base_url: base_url.to_string(),
            allowed_services: allowed_services.iter().map(|s| s.to_string()).collect(),
            serves_all_users: *serves_all_users,
            removed: false,
            created_at: at,
            updated_at: at,
        })
    }

    /// A change of settings or the removal, applied to the row; other events leave it.
    fn change(&mut self, event: &McpServerEvent, at: DateTime<Utc>) {
        match event {
            McpServerEvent::McpServerChanged {
                allowed_services,
                serves_all_users,
                base_url,
                ..
            } => {
                self.allowed_services = allowed_services.iter().map(|s| s.to_string()).collect();
                self.serves_all_users = *serves_all_users;
                self.base_url = base_url.to_string();
            }
            McpServerEvent::McpServerRemoved {} => self.removed = true,
            _ => return,
        }
        self.updated_at = at;
    }
}

/// A server's allowed services, as [`json`] wrote them.
fn services(text: String) -> Result<BTreeSet<String>, sqlx::Error> {
    from_json("allowed_services", text)
}

/// Where one server's copy of a credential stands; a credential's sync status is the worst of
/// its copies'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SyncStatus {
    Synced,
    Pending,
    OutOfSync,
    Error,
}

impl SyncStatus {
    pub const ALL: [Self; 4] = [Self::Pending, Self::Synced, Self::Error, Self::OutOfSync];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Synced => "synced",
            Self::Error => "error",
            Self::OutOfSync => "out_of_sync",
        }
    }

    /// The status `as_str` wrote in `column`, or an error.
    pub fn decode(column: &'static str, text: String) -> Result<Self, sqlx::Error> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| bad(column, &text))
    }
}

/// What a server should do with its copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncAction {
    /// Hold the credential's current state.
    Upsert,
    /// Hold nothing of it.
    Delete,
}

impl SyncAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upsert => "upsert",
            Self::Delete => "delete",
        }
    }

    fn decode(text: String) -> Result<Self, sqlx::Error> {
        [Self::Upsert, Self::Delete]
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| bad("action", &text))
    }
}

/// One `mcp_sync` row.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRow {
    pub server_id: String,
    pub credential_id: String,
    pub user_id: String,
    pub service: String,
    pub action: SyncAction,
    pub wanted_position: i64,
    pub changed_position: i64,
    pub mcp_id: Option<String>,
    pub synced_version: Option<i64>,
    pub status: SyncStatus,
    pub error: Option<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    /// The version of the copy a drift was last recorded for: once resent at that version, a
    /// copy that still differs (a server that changes what it is sent) is not recorded again.
    pub drifted_version: Option<i64>,
}

pub const SYNC_COLUMNS: &str = "server_id, credential_id, user_id, service, action, \
    wanted_position, changed_position, mcp_id, synced_version, status, error, last_synced_at, \
    drifted_version";
const SYNC_COLUMN_COUNT: usize = 13;

impl sqlx::FromRow<'_, AnyRow> for SyncRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            server_id: r.try_get("server_id")?,
            credential_id: r.try_get("credential_id")?,
            user_id: r.try_get("user_id")?,
            service: r.try_get("service")?,
            action: SyncAction::decode(r.try_get("action")?)?,
            wanted_position: r.try_get("wanted_position")?,
            changed_position: r.try_get("changed_position")?,
            mcp_id: r.try_get("mcp_id")?,
            synced_version: r.try_get("synced_version")?,
            status: SyncStatus::decode("status", r.try_get("status")?)?,
            error: r.try_get("error")?,
            last_synced_at: maybe_time("last_synced_at", r.try_get("last_synced_at")?)?,
            drifted_version: r.try_get("drifted_version")?,
        })
    }
}

impl SyncRow {
    fn key(&self) -> Key {
        (self.server_id.clone(), self.credential_id.clone())
    }
}

type Key = (String, String);

/// Why a server's whole set of copies is looked at again.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sweep {
    /// Registered, services or audience changed, removed: settle what it should hold.
    Settle,
    /// Its address changed: resend everything it holds.
    Resend,
    /// An admin asked for a replay: everything, or what changed at or after a position. The
    /// server's ids are kept: a copy it still holds is updated (and one it lost, answering
    /// `404`, made again), and a deletion still queued stays queued. Forgotten, each copy
    /// would be made a second time beside the first, and a revoked one never deleted.
    Replay(Option<i64>),
}

enum Op<'e> {
    Changed {
        credential_id: String,
        user_id: String,
        service: String,
        position: i64,
    },
    Grant {
        server_id: String,
        user_id: String,
        service: String,
        position: i64,
    },
    Sweep {
        server_id: String,
        position: i64,
        sweep: Sweep,
    },
    Outcome {
        position: i64,
        at: DateTime<Utc>,
        user_id: String,
        service: String,
        event: &'e KeyringEvent,
    },
}

/// A credential as the decision needs it.
struct Credential {
    user_id: String,
    service: String,
    alive: bool,
}

struct Batch {
    tables: Tables,
    sqlite: bool,
    servers: BTreeMap<String, ServerRow>,
    grants: HashSet<(String, String, String)>,
    credentials: HashMap<String, Credential>,
    rows: HashMap<Key, Option<SyncRow>>,
    touched: BTreeSet<Key>,
}

/// A credential's sync columns, as `credential_summary`'s rows are read: the worst status of
/// the servers' copies (none when no server holds or held one), the last time one was
/// confirmed, and a failed copy's error. Correlated on `credential_summary.credential_id`; a
/// copy's status the code did not write makes the credential's status unreadable.
pub const CREDENTIAL_SYNC_COLUMNS: &str = "\
    (SELECT CASE MAX(CASE m.status WHEN 'synced' THEN 1 WHEN 'pending' THEN 2 \
       WHEN 'out_of_sync' THEN 3 WHEN 'error' THEN 4 ELSE 5 END) \
       WHEN 1 THEN 'synced' WHEN 2 THEN 'pending' WHEN 3 THEN 'out_of_sync' \
       WHEN 4 THEN 'error' WHEN 5 THEN 'unreadable' END \
     FROM mcp_sync m WHERE m.credential_id = credential_summary.credential_id) AS sync_status, \
    (SELECT MAX(m.last_synced_at) FROM mcp_sync m \
     WHERE m.credential_id = credential_summary.credential_id) AS last_synced_at, \
    (SELECT MIN(m.error) FROM mcp_sync m \
     WHERE m.credential_id = credential_summary.credential_id AND m.status = 'error') \
     AS sync_error";

/// The read model: see the module's documentation.
pub struct McpSync;

#[async_trait::async_trait]
impl ReadModel for McpSync {
    fn name(&self) -> &'static str {
        "mcp_sync"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["mcp_servers", "mcp_grants", "mcp_credentials", "mcp_sync"]
    }

    fn reads(&self) -> Option<&'static [&'static str]> {
        Some(&[Keyring::TYPE, McpServer::TYPE])
    }

    /// A credential's sync status is part of the remembered dashboard answers.
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
        // Uses and people's events say nothing about copies: they are not even decoded.
        let envelopes = events
            .iter()
            .filter(|e| crate::reads(self, e))
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        if envelopes.is_empty() {
            return Ok(BTreeSet::new());
        }
        keep_credentials(conn, tables, &envelopes).await?;
        apply(conn, tables, &envelopes).await
    }
}

/// A credential as `mcp_credentials` keeps it.
struct Kept {
    user_id: String,
    service: String,
    status: CredentialStatus,
    /// Its keyring's sequence number at its latest change: the version a copy carries (the
    /// same number `credential_summary` shows).
    ledger_version: i64,
}

/// Keeps `mcp_credentials` at the batch's final state: a credential's owner, service, status
/// and version from its registration on, gone once erased. The touched rows are read once,
/// every event is folded into them, and they are written back.
async fn keep_credentials(
    conn: &mut AnyConnection,
    tables: Tables,
    envelopes: &[Envelope<'_>],
) -> Result<(), ProjectionError> {
    use KeyringEvent::*;
    let table = tables.name("mcp_credentials");
    let sqlite = is_sqlite(conn);
    let changes = |event: &KeyringEvent| -> Vec<String> {
        match event {
            _ if event.is_mcp_sync_outcome() => vec![],
            PrimaryCredentialChanged {
                previous, current, ..
            } => previous
                .iter()
                .chain(current)
                .map(|c| c.to_string())
                .collect(),
            other => other
                .credential_id()
                .map(|c| c.to_string())
                .into_iter()
                .collect(),
        }
    };
    let touched: BTreeSet<String> = envelopes
        .iter()
        .filter_map(|e| match &e.event {
            Decoded::Keyring(_, event) => Some(changes(event)),
            _ => None,
        })
        .flatten()
        .collect();
    let mut rows: BTreeMap<String, Option<Kept>> = BTreeMap::new();
    let ids: Vec<&String> = touched.iter().collect();
    for chunk in ids.chunks(400) {
        let sql = format!(
            "SELECT credential_id, user_id, service, status, ledger_version FROM {table} \
             WHERE credential_id IN {}",
            tuples(sqlite, 1, 1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind((*id).clone());
        }
        for r in q.fetch_all(&mut *conn).await? {
            let kept = Kept {
                user_id: r.try_get("user_id")?,
                service: r.try_get("service")?,
                status: credential_status(r.try_get("status")?)?,
                ledger_version: r.try_get("ledger_version")?,
            };
            rows.insert(r.try_get("credential_id")?, Some(kept));
        }
    }
    for e in envelopes {
        let Decoded::Keyring(keyring, event) = &e.event else {
            continue;
        };
        let version = e.feed.sequence;
        if let CredentialRegistered {
            credential_id,
            status,
            ..
        } = event.as_ref()
        {
            let kept = Kept {
                user_id: keyring.user_id.to_string(),
                service: keyring.service.to_string(),
                status: *status,
                ledger_version: version,
            };
            rows.insert(credential_id.to_string(), Some(kept));
            continue;
        }
        if let CredentialErased { credential_id, .. } = event.as_ref() {
            rows.insert(credential_id.to_string(), None);
            continue;
        }
        let status = match event.as_ref() {
            SecretReplaced { status, .. }
            | CredentialValidated { status, .. }
            | ValidationFailed { status, .. }
            | CredentialRevoked { status, .. }
            | CredentialExpired { status, .. } => Some(*status),
            _ => None,
        };
        for id in changes(event) {
            if let Some(Some(kept)) = rows.get_mut(&id) {
                kept.ledger_version = version;
                if let Some(status) = status {
                    kept.status = status;
                }
            }
        }
    }
    let (mut kept, mut erased) = (Vec::new(), Vec::new());
    for (id, row) in rows {
        match row {
            Some(row) => kept.push((id, row)),
            None => erased.push(id),
        }
    }
    delete_credentials(conn, &table, &erased).await?;
    for chunk in kept.chunks(200) {
        let sql = format!(
            "INSERT INTO {table} (credential_id, user_id, service, status, ledger_version) \
             VALUES {} ON CONFLICT (credential_id) DO UPDATE SET status = excluded.status, \
             ledger_version = excluded.ledger_version",
            tuples(sqlite, 1, chunk.len(), 5)
        );
        let mut q = sqlx::query(&sql);
        for (id, row) in chunk {
            q = q
                .bind(id.clone())
                .bind(row.user_id.clone())
                .bind(row.service.clone())
                .bind(row.status.as_str())
                .bind(row.ledger_version);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A credential's version as its copies carry it, `None` while this read model has not seen it
/// (or once it is erased).
pub async fn credential_version(
    pool: &AnyPool,
    credential_id: &str,
) -> Result<Option<i64>, ProjectionError> {
    Ok(
        sqlx::query_scalar("SELECT ledger_version FROM mcp_credentials WHERE credential_id = $1")
            .bind(credential_id)
            .fetch_optional(pool)
            .await?,
    )
}

/// Applies a batch (after `mcp_credentials` has been brought to its final state); returns the
/// people whose copies changed.
async fn apply(
    conn: &mut AnyConnection,
    tables: Tables,
    envelopes: &[Envelope<'_>],
) -> Result<BTreeSet<String>, ProjectionError> {
    let servers_table = tables.name("mcp_servers");
    let mut servers: BTreeMap<String, ServerRow> = BTreeMap::new();
    let has_mcp_events = envelopes.iter().any(|e| match &e.event {
        Decoded::McpServer(..) => true,
        Decoded::Keyring(_, event) => event.is_mcp_sync_outcome(),
        _ => false,
    });
    for s in sqlx::query_as::<_, ServerRow>(&format!("SELECT * FROM {servers_table}"))
        .fetch_all(&mut *conn)
        .await?
    {
        servers.insert(s.server_id.clone(), s);
    }
    // No server has ever been registered: nothing to mirror.
    if servers.is_empty() && !has_mcp_events {
        return Ok(BTreeSet::new());
    }

    let mut batch = Batch {
        tables,
        sqlite: is_sqlite(conn),
        servers,
        grants: HashSet::new(),
        credentials: HashMap::new(),
        rows: HashMap::new(),
        touched: BTreeSet::new(),
    };
    let ops = batch.server_events(conn, envelopes).await?;
    batch.load(conn, &ops).await?;
    for op in &ops {
        batch.replay(op);
    }
    batch.write(conn).await
}

impl Batch {
    /// Applies the server events to `mcp_servers` and `mcp_grants` (in order) and lists the
    /// batch's operations on `mcp_sync`.
    async fn server_events<'e>(
        &mut self,
        conn: &mut AnyConnection,
        envelopes: &'e [Envelope<'_>],
    ) -> Result<Vec<Op<'e>>, ProjectionError> {
        let servers_table = self.tables.name("mcp_servers");
        let grants_table = self.tables.name("mcp_grants");
        let mut ops = Vec::new();
        for e in envelopes {
            let position = e.feed.position;
            let at = e.metadata.occurred_at;
            match &e.event {
                Decoded::Keyring(id, event) => {
                    let (user_id, service) = (id.user_id.to_string(), id.service.to_string());
                    if event.is_mcp_sync_outcome() {
                        ops.push(Op::Outcome {
                            position,
                            at,
                            user_id,
                            service,
                            event: event.as_ref(),
                        });
                        continue;
                    }
                    let ids: Vec<_> = match event.as_ref() {
                        // Says nothing new about what the server holds.
                        KeyringEvent::ValidationInconclusive { .. } => vec![],
                        KeyringEvent::PrimaryCredentialChanged {
                            previous, current, ..
                        } => previous.iter().chain(current).copied().collect(),
                        other => other.credential_id().into_iter().collect(),
                    };
                    for c in ids {
                        ops.push(Op::Changed {
                            credential_id: c.to_string(),
                            user_id: user_id.clone(),
                            service: service.clone(),
                            position,
                        });
                    }
                }
                Decoded::McpServer(server_id, event) => {
                    let sweep = |sweep| Op::Sweep {
                        server_id: server_id.clone(),
                        position,
                        sweep,
                    };
                    match event.as_ref() {
                        McpServerEvent::McpServerRegistered { .. } => {
                            let Some(row) = ServerRow::registered(server_id, event, at) else {
                                continue;
                            };
                            sqlx::query(&format!(
                                "INSERT INTO {servers_table} (server_id, name, base_url, \
                                 allowed_services, serves_all_users, removed, created_at, \
                                 updated_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $6)"
                            ))
                            .bind(server_id.clone())
                            .bind(row.name.clone())
                            .bind(row.base_url.clone())
                            .bind(json(&row.allowed_services))
                            .bind(i64::from(row.serves_all_users))
                            .bind(timestamp(at))
                            .execute(&mut *conn)
                            .await?;
                            self.servers.insert(server_id.clone(), row);
                            ops.push(sweep(Sweep::Settle));
                        }
                        McpServerEvent::McpServerChanged {
                            base_url,
                            dropped_grants,
                            ..
                        } => {
                            let Some(row) = self.servers.get_mut(server_id) else {
                                continue;
                            };
                            let moved = row.base_url != base_url.as_str();
                            row.change(event, at);
                            sqlx::query(&format!(
                                "UPDATE {servers_table} SET base_url = $2, allowed_services = $3, \
                                 serves_all_users = $4, updated_at = $5 WHERE server_id = $1"
                            ))
                            .bind(server_id.clone())
                            .bind(row.base_url.clone())
                            .bind(json(&row.allowed_services))
                            .bind(i64::from(row.serves_all_users))
                            .bind(timestamp(at))
                            .execute(&mut *conn)
                            .await?;
                            for g in dropped_grants {
                                sqlx::query(&format!(
                                    "DELETE FROM {grants_table} WHERE server_id = $1 \
                                     AND user_id = $2 AND service = $3"
                                ))
                                .bind(server_id.clone())
                                .bind(g.user_id.to_string())
                                .bind(g.service.to_string())
                                .execute(&mut *conn)
                                .await?;
                            }
                            ops.push(sweep(if moved { Sweep::Resend } else { Sweep::Settle }));
                        }
                        McpServerEvent::McpServerRemoved {} => {
                            if let Some(row) = self.servers.get_mut(server_id) {
                                row.change(event, at);
                            }
                            sqlx::query(&format!(
                                "UPDATE {servers_table} SET removed = 1, updated_at = $2 \
                                 WHERE server_id = $1"
                            ))
                            .bind(server_id.clone())
                            .bind(timestamp(at))
                            .execute(&mut *conn)
                            .await?;
                            ops.push(sweep(Sweep::Settle));
                        }
                        McpServerEvent::McpAccessGranted { user_id, service }
                        | McpServerEvent::McpAccessWithdrawn { user_id, service } => {
                            let sql = if matches!(
                                event.as_ref(),
                                McpServerEvent::McpAccessGranted { .. }
                            ) {
                                format!(
                                    "INSERT INTO {grants_table} (server_id, user_id, service, \
                                     granted_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
                                )
                            } else {
                                // The fourth parameter is unused; binding it keeps one shape.
                                format!(
                                    "DELETE FROM {grants_table} WHERE server_id = $1 \
                                     AND user_id = $2 AND service = $3 AND $4 = $4"
                                )
                            };
                            sqlx::query(&sql)
                                .bind(server_id.clone())
                                .bind(user_id.to_string())
                                .bind(service.to_string())
                                .bind(timestamp(at))
                                .execute(&mut *conn)
                                .await?;
                            ops.push(Op::Grant {
                                server_id: server_id.clone(),
                                user_id: user_id.to_string(),
                                service: service.to_string(),
                                position,
                            });
                        }
                        McpServerEvent::McpReplayRequested { from_position } => {
                            let from = from_position.map(|p| i64::try_from(p).unwrap_or(i64::MAX));
                            ops.push(sweep(Sweep::Replay(from)));
                        }
                        McpServerEvent::McpServerTokenIssued { .. }
                        | McpServerEvent::McpServerTokenRevoked { .. } => {}
                    }
                }
                Decoded::Usage(_) | Decoded::User(..) | Decoded::Other => {}
            }
        }
        Ok(ops)
    }

    /// Reads once what the operations need: the grants, the credentials' current state and the
    /// `mcp_sync` rows they touch.
    async fn load(
        &mut self,
        conn: &mut AnyConnection,
        ops: &[Op<'_>],
    ) -> Result<(), ProjectionError> {
        let summary = self.tables.name("mcp_credentials");
        let grants_table = self.tables.name("mcp_grants");
        let sync = self.tables.name("mcp_sync");
        let mut credential_ids = BTreeSet::new();
        let mut keyrings = BTreeSet::new();
        let mut swept = BTreeSet::new();
        for op in ops {
            match op {
                Op::Changed {
                    credential_id,
                    user_id,
                    service,
                    ..
                } => {
                    credential_ids.insert(credential_id.clone());
                    keyrings.insert((user_id.clone(), service.clone()));
                    // An erased credential has no row any more; it is not alive.
                    self.credentials
                        .entry(credential_id.clone())
                        .or_insert(Credential {
                            user_id: user_id.clone(),
                            service: service.clone(),
                            alive: false,
                        });
                }
                Op::Grant {
                    user_id, service, ..
                } => {
                    keyrings.insert((user_id.clone(), service.clone()));
                }
                Op::Sweep { server_id, .. } => {
                    swept.insert(server_id.clone());
                }
                Op::Outcome {
                    event,
                    user_id,
                    service,
                    ..
                } => {
                    // Settling a copy asks whether the server may still hold it.
                    keyrings.insert((user_id.clone(), service.clone()));
                    if let Some(c) = event.credential_id() {
                        credential_ids.insert(c.to_string());
                        // An erased credential has no row, but its copies' rows must still be
                        // read to be settled (else a deletion stays pending and is resent).
                        self.credentials.entry(c.to_string()).or_insert(Credential {
                            user_id: user_id.clone(),
                            service: service.clone(),
                            alive: false,
                        });
                    }
                }
            }
        }
        let state_columns = "credential_id, user_id, service, status";
        let mut state_rows = Vec::new();
        for chunk in credential_ids.iter().collect::<Vec<_>>().chunks(400) {
            let sql = format!(
                "SELECT {state_columns} FROM {summary} WHERE credential_id IN {}",
                tuples(self.sqlite, 1, 1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind((*id).clone());
            }
            state_rows.extend(q.fetch_all(&mut *conn).await?);
        }
        let pairs: Vec<_> = keyrings.iter().collect();
        for chunk in pairs.chunks(400) {
            let list = tuples(self.sqlite, 1, chunk.len(), 2);
            // SQLite and PostgreSQL both take row values against a VALUES list.
            let sql = format!(
                "SELECT server_id, user_id, service FROM {grants_table} \
                 WHERE (user_id, service) IN (VALUES {list})"
            );
            let mut q = sqlx::query_as::<_, (String, String, String)>(&sql);
            for (u, s) in chunk {
                q = q.bind(u.clone()).bind(s.clone());
            }
            self.grants.extend(q.fetch_all(&mut *conn).await?);
            let sql = format!(
                "SELECT {state_columns} FROM {summary} WHERE (user_id, service) IN (VALUES {list})"
            );
            let mut q = sqlx::query(&sql);
            for (u, s) in chunk {
                q = q.bind(u.clone()).bind(s.clone());
            }
            state_rows.extend(q.fetch_all(&mut *conn).await?);
        }
        for server_id in &swept {
            let Some(server) = self.servers.get(server_id) else {
                continue;
            };
            if server.removed {
                continue;
            }
            if server.serves_all_users {
                let services: Vec<_> = server.allowed_services.iter().cloned().collect();
                for chunk in services.chunks(100) {
                    let sql = format!(
                        "SELECT {state_columns} FROM {summary} WHERE service IN {}",
                        tuples(self.sqlite, 1, 1, chunk.len())
                    );
                    let mut q = sqlx::query(&sql);
                    for s in chunk {
                        q = q.bind(s.clone());
                    }
                    state_rows.extend(q.fetch_all(&mut *conn).await?);
                }
            } else {
                let rows = sqlx::query(&format!(
                    "SELECT c.credential_id, c.user_id, c.service, c.status FROM {summary} c \
                     JOIN {grants_table} g ON g.user_id = c.user_id AND g.service = c.service \
                     WHERE g.server_id = $1"
                ))
                .bind(server_id.clone())
                .fetch_all(&mut *conn)
                .await?;
                for r in &rows {
                    self.grants.insert((
                        server_id.clone(),
                        r.try_get("user_id")?,
                        r.try_get("service")?,
                    ));
                }
                state_rows.extend(rows);
            }
        }
        for r in &state_rows {
            let status = credential_status(r.try_get("status")?)?;
            self.credentials.insert(
                r.try_get("credential_id")?,
                Credential {
                    user_id: r.try_get("user_id")?,
                    service: r.try_get("service")?,
                    alive: status != CredentialStatus::Revoked,
                },
            );
        }

        // The rows: every row of the credentials involved, and every row of swept servers.
        let mut sync_rows: Vec<SyncRow> = Vec::new();
        let ids: Vec<String> = self.credentials.keys().cloned().collect();
        for chunk in ids.chunks(400) {
            let sql = format!(
                "SELECT {SYNC_COLUMNS} FROM {sync} WHERE credential_id IN {}",
                tuples(self.sqlite, 1, 1, chunk.len())
            );
            let mut q = sqlx::query_as(&sql);
            for id in chunk {
                q = q.bind(id.clone());
            }
            sync_rows.extend(q.fetch_all(&mut *conn).await?);
        }
        for server_id in &swept {
            sync_rows.extend(
                sqlx::query_as::<_, SyncRow>(&format!(
                    "SELECT {SYNC_COLUMNS} FROM {sync} WHERE server_id = $1"
                ))
                .bind(server_id.clone())
                .fetch_all(&mut *conn)
                .await?,
            );
        }
        for row in sync_rows {
            self.credentials
                .entry(row.credential_id.clone())
                .or_insert(Credential {
                    user_id: row.user_id.clone(),
                    service: row.service.clone(),
                    alive: false,
                });
            self.rows.insert(row.key(), Some(row));
        }
        Ok(())
    }

    fn may_hold(&self, server_id: &str, credential_id: &str) -> bool {
        let (Some(server), Some(c)) = (
            self.servers.get(server_id),
            self.credentials.get(credential_id),
        ) else {
            return false;
        };
        c.alive
            && !server.removed
            && server.allowed_services.contains(&c.service)
            && (server.serves_all_users
                || self.grants.contains(&(
                    server_id.to_owned(),
                    c.user_id.clone(),
                    c.service.clone(),
                )))
    }

    /// Brings one (server, credential) row to what the server should hold. `force` marks it
    /// pending even when the action does not change (the credential changed, a resend).
    fn mark(
        &mut self,
        server_id: &str,
        credential_id: &str,
        position: i64,
        force: bool,
        changed: bool,
    ) {
        let want = self.may_hold(server_id, credential_id);
        let key = (server_id.to_owned(), credential_id.to_owned());
        let Some(c) = self.credentials.get(credential_id) else {
            return;
        };
        let existing = self.rows.get(&key).cloned().flatten();
        let next = match (want, existing) {
            (true, None) => Some(SyncRow {
                server_id: server_id.to_owned(),
                credential_id: credential_id.to_owned(),
                user_id: c.user_id.clone(),
                service: c.service.clone(),
                action: SyncAction::Upsert,
                wanted_position: position,
                changed_position: position,
                mcp_id: None,
                synced_version: None,
                status: SyncStatus::Pending,
                error: None,
                last_synced_at: None,
                drifted_version: None,
            }),
            (true, Some(mut row)) => {
                if force || row.action != SyncAction::Upsert {
                    row.action = SyncAction::Upsert;
                    row.status = SyncStatus::Pending;
                    row.wanted_position = position;
                    row.error = None;
                }
                if changed {
                    row.changed_position = position;
                }
                Some(row)
            }
            (false, None) => None,
            (false, Some(mut row)) => {
                if row.mcp_id.is_none() && row.status == SyncStatus::Synced {
                    // The server holds nothing of it (it was told so).
                    None
                } else {
                    // A create may have reached the server unanswered: the sender looks for
                    // that copy before it settles the row.
                    if force || row.action != SyncAction::Delete {
                        row.action = SyncAction::Delete;
                        row.status = SyncStatus::Pending;
                        row.wanted_position = position;
                        row.error = None;
                    }
                    if changed {
                        row.changed_position = position;
                    }
                    Some(row)
                }
            }
        };
        if self.rows.get(&key).cloned().flatten() != next {
            self.touched.insert(key.clone());
            self.rows.insert(key, next);
        }
    }

    fn replay(&mut self, op: &Op<'_>) {
        match op {
            Op::Changed {
                credential_id,
                position,
                ..
            } => {
                let servers: Vec<String> = self.servers.keys().cloned().collect();
                for s in servers {
                    self.mark(&s, credential_id, *position, true, true);
                }
            }
            Op::Grant {
                server_id,
                user_id,
                service,
                position,
            } => {
                let ids: Vec<String> = self
                    .credentials
                    .iter()
                    .filter(|(_, c)| &c.user_id == user_id && &c.service == service)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in ids {
                    self.mark(server_id, &id, *position, false, false);
                }
            }
            Op::Sweep {
                server_id,
                position,
                sweep,
            } => {
                let mut ids: BTreeSet<String> = self
                    .rows
                    .iter()
                    .filter(|((s, _), row)| s == server_id && row.is_some())
                    .map(|((_, c), _)| c.clone())
                    .collect();
                ids.extend(
                    self.credentials
                        .keys()
                        .filter(|c| self.may_hold(server_id, c))
                        .cloned(),
                );
                for id in ids {
                    let changed_since = |from: i64| {
                        self.rows
                            .get(&(server_id.clone(), id.clone()))
                            .cloned()
                            .flatten()
                            .is_none_or(|r| r.changed_position >= from)
                    };
                    let force = match sweep {
                        Sweep::Settle => false,
                        Sweep::Resend | Sweep::Replay(None) => true,
                        Sweep::Replay(Some(from)) => changed_since(*from),
                    };
                    self.mark(server_id, &id, *position, force, false);
                }
            }
            Op::Outcome {
                position,
                at,
                event,
                ..
            } => self.outcome(*position, *at, event),
        }
    }

    /// Settles a row with the sender's answer. An answer for an older position than the row
    /// wants only records what the server holds; the row stays pending.
    fn outcome(&mut self, position: i64, at: DateTime<Utc>, event: &KeyringEvent) {
        use KeyringEvent::*;
        let (credential_id, target, sync_position) = match event {
            CredentialSyncedToMcp {
                credential_id,
                target,
                sync_position,
                ..
            }
            | CredentialSyncFailed {
                credential_id,
                target,
                sync_position,
                ..
            }
            | CredentialRemovedFromMcp {
                credential_id,
                target,
                sync_position,
                ..
            }
            | CredentialDriftedOnMcp {
                credential_id,
                target,
                sync_position,
                ..
            } => (credential_id.to_string(), target.clone(), *sync_position),
            _ => return,
        };
        let sync_position = i64::try_from(sync_position).unwrap_or(i64::MAX);
        let key = (target.clone(), credential_id.clone());
        let before = self.rows.get(&key).cloned().flatten();
        let current = |row: &SyncRow| sync_position >= row.wanted_position;
        let after = match (event, before.clone()) {
            (
                CredentialSyncedToMcp {
                    mcp_id,
                    ledger_version,
                    ..
                },
                row,
            ) => {
                let mut row = row.unwrap_or_else(|| {
                    // The server holds a copy the row had given up on (a create answered after
                    // the credential stopped being held): track it, then settle it below.
                    let c = self.credentials.get(&credential_id);
                    SyncRow {
                        server_id: target.clone(),
                        credential_id: credential_id.clone(),
                        user_id: c.map(|c| c.user_id.clone()).unwrap_or_default(),
                        service: c.map(|c| c.service.clone()).unwrap_or_default(),
                        action: SyncAction::Upsert,
                        wanted_position: sync_position,
                        changed_position: sync_position,
                        mcp_id: None,
                        synced_version: None,
                        status: SyncStatus::Pending,
                        error: None,
                        last_synced_at: None,
                        drifted_version: None,
                    }
                });
                row.mcp_id = Some(mcp_id.clone());
                row.synced_version = Some(i64::try_from(*ledger_version).unwrap_or(i64::MAX));
                row.last_synced_at = Some(at);
                if current(&row) && row.action == SyncAction::Upsert {
                    row.status = SyncStatus::Synced;
                    row.error = None;
                }
                Some(row)
            }
            (
                CredentialRemovedFromMcp {
                    mcp_id: removed, ..
                },
                Some(mut row),
            ) => {
                if row.mcp_id.is_some() && *removed != row.mcp_id {
                    // Another copy than the one removed was confirmed meanwhile: it is still
                    // there, and is deleted next (under a key of its own).
                    if current(&row) && row.action == SyncAction::Delete {
                        row.wanted_position = position;
                    }
                    Some(row)
                } else if current(&row) && row.action == SyncAction::Delete {
                    None
                } else {
                    row.mcp_id = None;
                    row.synced_version = None;
                    Some(row)
                }
            }
            (CredentialSyncFailed { error, .. }, Some(mut row)) => {
                if current(&row) {
                    row.status = SyncStatus::Error;
                    row.error = Some(error.clone());
                }
                Some(row)
            }
            (CredentialDriftedOnMcp { ledger_version, .. }, Some(mut row)) => {
                row.drifted_version = Some(i64::try_from(*ledger_version).unwrap_or(i64::MAX));
                if current(&row) && row.status == SyncStatus::Synced {
                    // Resent under a key of its own: the server has applied the old one.
                    row.status = SyncStatus::OutOfSync;
                    row.wanted_position = position;
                }
                Some(row)
            }
            (_, None) => None,
            _ => return,
        };
        if after != before {
            self.touched.insert(key.clone());
            self.rows.insert(key.clone(), after.clone());
        }
        if after.is_some_and(|r| r.user_id.is_empty()) {
            return;
        }
        if matches!(event, CredentialSyncedToMcp { .. }) {
            // A copy the server should not hold (any more) is deleted.
            self.mark(&target, &credential_id, position, false, false);
        }
    }

    /// Writes the touched rows back; returns the people whose copies changed.
    async fn write(self, conn: &mut AnyConnection) -> Result<BTreeSet<String>, ProjectionError> {
        let sync = self.tables.name("mcp_sync");
        let keys: Vec<&Key> = self.touched.iter().collect();
        for chunk in keys.chunks(400) {
            let list = tuples(self.sqlite, 1, chunk.len(), 2);
            let delete =
                format!("DELETE FROM {sync} WHERE (server_id, credential_id) IN (VALUES {list})");
            let mut d = sqlx::query(&delete);
            for (s, c) in chunk {
                d = d.bind(s.clone()).bind(c.clone());
            }
            d.execute(&mut *conn).await?;
        }
        let survivors: Vec<&SyncRow> = self
            .touched
            .iter()
            .filter_map(|k| self.rows.get(k).and_then(Option::as_ref))
            .collect();
        for chunk in survivors.chunks(200) {
            let sql = format!(
                "INSERT INTO {sync} ({SYNC_COLUMNS}) VALUES {}",
                tuples(self.sqlite, 1, chunk.len(), SYNC_COLUMN_COUNT)
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(r.server_id.clone())
                    .bind(r.credential_id.clone())
                    .bind(r.user_id.clone())
                    .bind(r.service.clone())
                    .bind(r.action.as_str())
                    .bind(r.wanted_position)
                    .bind(r.changed_position)
                    .bind(r.mcp_id.clone())
                    .bind(r.synced_version)
                    .bind(r.status.as_str())
                    .bind(r.error.clone())
                    .bind(r.last_synced_at.map(timestamp))
                    .bind(r.drifted_version);
            }
            q.execute(&mut *conn).await?;
        }
        // The people whose copies changed, as far as the batch knows them (a copy given up
        // on before its credential was known has no person).
        Ok(self
            .touched
            .iter()
            .filter_map(|(_, c)| self.credentials.get(c))
            .map(|c| c.user_id.clone())
            .filter(|u| !u.is_empty())
            .collect())
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/// Every registered server (removed ones included), by id.
pub async fn servers(pool: &AnyPool) -> Result<Vec<ServerRow>, ProjectionError> {
    Ok(
        sqlx::query_as("SELECT * FROM mcp_servers ORDER BY server_id")
            .fetch_all(pool)
            .await?,
    )
}

pub async fn server(pool: &AnyPool, server_id: &str) -> Result<Option<ServerRow>, ProjectionError> {
    Ok(
        sqlx::query_as("SELECT * FROM mcp_servers WHERE server_id = $1")
            .bind(server_id)
            .fetch_optional(pool)
            .await?,
    )
}

/// An MCP server as its own stream has it: the row `mcp_servers` holds once this read model
/// has applied all of `stream` (`None` before it is registered). A command's answer is built
/// from it, so it shows what the command committed however far behind the read model is.
pub fn server_as_committed(stream: &[FeedEvent]) -> Result<Option<ServerRow>, ProjectionError> {
    let mut server: Option<ServerRow> = None;
    for feed in stream {
        let envelope = decode(feed)?;
        let Decoded::McpServer(server_id, event) = &envelope.event else {
            continue;
        };
        let at = as_stored(envelope.metadata.occurred_at);
        if let Some(registered) = ServerRow::registered(server_id, event, at) {
            server = Some(registered);
        } else if let Some(row) = server.as_mut() {
            row.change(event, at);
        }
    }
    Ok(server)
}

/// One user's grant to a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    pub server_id: String,
    pub user_id: String,
    pub service: String,
    pub granted_at: DateTime<Utc>,
}

impl sqlx::FromRow<'_, AnyRow> for GrantRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            server_id: r.try_get("server_id")?,
            user_id: r.try_get("user_id")?,
            service: r.try_get("service")?,
            granted_at: time("granted_at", r.try_get("granted_at")?)?,
        })
    }
}

/// The grants of a user (`user_id`) or to a server (`server_id`), or all.
pub async fn grants(
    pool: &AnyPool,
    user_id: Option<&str>,
    server_id: Option<&str>,
) -> Result<Vec<GrantRow>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "SELECT server_id, user_id, service, granted_at FROM mcp_grants \
         WHERE {} AND {} ORDER BY server_id, user_id, service",
        filter_term(user_id.is_some(), "user_id", "$1"),
        filter_term(server_id.is_some(), "server_id", "$2"),
    ))
    .bind(user_id.unwrap_or(""))
    .bind(server_id.unwrap_or(""))
    .fetch_all(pool)
    .await?)
}

/// Whether a server may hold a user's credentials for a service now: it is registered, not
/// removed, allowed the service, and serves all users or has the user's grant. One statement.
pub async fn may_hold(
    pool: &AnyPool,
    server_id: &str,
    user_id: &str,
    service: &str,
) -> Result<bool, ProjectionError> {
    let row = sqlx::query_as::<_, (String, i64, i64)>(
        "SELECT s.allowed_services, s.serves_all_users, \
           (SELECT COUNT(*) FROM mcp_grants g WHERE g.server_id = s.server_id \
              AND g.user_id = $2 AND g.service = $3) \
         FROM mcp_servers s WHERE s.server_id = $1 AND s.removed = 0",
    )
    .bind(server_id)
    .bind(user_id)
    .bind(service)
    .fetch_optional(pool)
    .await?;
    let Some((allowed, all, granted)) = row else {
        return Ok(false);
    };
    Ok(services(allowed)?.contains(service) && (flag("serves_all_users", all)? || granted > 0))
}

/// Whether any copy is due to be sent at `now`: pending, out of sync or failed, and not backing
/// off (a copy whose delivery of the same change waits past `now` is not due; one never
/// tried, or whose delivery was for an older change, is), as the sender's pass decides.
pub async fn has_work(pool: &AnyPool, now: &str) -> Result<bool, ProjectionError> {
    let row: Option<(i64,)> =
        sqlx::query_as(&format!("SELECT 1 FROM mcp_sync s WHERE {DUE} LIMIT 1"))
            .bind(now)
            .fetch_optional(pool)
            .await?;
    Ok(row.is_some())
}

/// A row `s` of `mcp_sync` that is work for the sender at `$1`: waiting to be sent, and no
/// delivery of its current change backing off past then (`mcp_deliveries`, the sender's).
const DUE: &str = "s.status IN ('pending', 'out_of_sync', 'error') \
     AND NOT EXISTS (SELECT 1 FROM mcp_deliveries d \
         WHERE d.server_id = s.server_id AND d.credential_id = s.credential_id \
         AND d.wanted_position = s.wanted_position AND d.next_attempt_at > $1)";

/// A server's rows that are work at `now` ([`has_work`]'s), oldest change first, at most
/// `limit`: rows backing off are left out before the limit, so however many of them there are,
/// they never hold back a newer change (a delete among them).
pub async fn due_rows(
    pool: &AnyPool,
    server_id: &str,
    now: &str,
    limit: i64,
) -> Result<Vec<SyncRow>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {SYNC_COLUMNS} FROM mcp_sync s WHERE s.server_id = $2 AND {DUE} \
         ORDER BY s.wanted_position, s.credential_id LIMIT $3"
    ))
    .bind(now)
    .bind(server_id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Per server, the copies waiting to be sent (pending, out of sync or failed) and the oldest
/// wanted change among them (a global position).
pub async fn backlog(pool: &AnyPool) -> Result<BTreeMap<String, (i64, i64)>, ProjectionError> {
    let rows = sqlx::query_as::<_, (String, i64, i64)>(
        "SELECT server_id, COUNT(*), MIN(wanted_position) FROM mcp_sync \
         WHERE status IN ('pending', 'out_of_sync', 'error') GROUP BY server_id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(server, n, oldest)| (server, (n, oldest)))
        .collect())
}

/// Counts of `mcp_sync` rows per server and status.
pub async fn status_counts(
    pool: &AnyPool,
) -> Result<Vec<(String, SyncStatus, i64)>, ProjectionError> {
    let rows = sqlx::query_as::<_, (String, String, i64)>(
        "SELECT server_id, status, COUNT(*) FROM mcp_sync GROUP BY server_id, status \
         ORDER BY server_id, status",
    )
    .fetch_all(pool)
    .await?;
    let mut counts = Vec::with_capacity(rows.len());
    for (server, status, n) in rows {
        counts.push((server, SyncStatus::decode("status", status)?, n));
    }
    Ok(counts)
}

/// A server's rows in the given statuses, oldest wanted change first.
pub async fn rows_of_server(
    pool: &AnyPool,
    server_id: &str,
    statuses: &[SyncStatus],
    limit: i64,
) -> Result<Vec<SyncRow>, ProjectionError> {
    let mut sql = format!("SELECT {SYNC_COLUMNS} FROM mcp_sync WHERE server_id = $1");
    if !statuses.is_empty() {
        let list: Vec<String> = (0..statuses.len()).map(|i| format!("${}", i + 2)).collect();
        sql.push_str(&format!(" AND status IN ({})", list.join(", ")));
    }
    sql.push_str(&format!(
        " ORDER BY wanted_position, credential_id LIMIT ${}",
        statuses.len() + 2
    ));
    let mut q = sqlx::query_as(&sql).bind(server_id);
    for s in statuses {
        q = q.bind(s.as_str());
    }
    Ok(q.bind(limit).fetch_all(pool).await?)
}

/// The row of a server's copy, by the server's own id for it.
pub async fn row_by_mcp_id(
    pool: &AnyPool,
    server_id: &str,
    mcp_id: &str,
) -> Result<Option<SyncRow>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {SYNC_COLUMNS} FROM mcp_sync WHERE server_id = $1 AND mcp_id = $2 LIMIT 1"
    ))
    .bind(server_id)
    .bind(mcp_id)
    .fetch_optional(pool)
    .await?)
}

/// Which of `mcp_ids` the server's rows (any status) hold as their copies' ids: one indexed
/// read per 500 ids, whatever the number of the server's rows.
pub async fn claimed_among(
    pool: &AnyPool,
    server_id: &str,
    mcp_ids: &[String],
) -> Result<HashSet<String>, ProjectionError> {
    let mut claimed = HashSet::new();
    for chunk in mcp_ids.chunks(CLAIMED_PER_READ) {
        let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT mcp_id FROM mcp_sync WHERE server_id = $1 AND mcp_id IN ({})",
            list.join(", ")
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql).bind(server_id);
        for id in chunk {
            q = q.bind(id.as_str());
        }
        claimed.extend(q.fetch_all(pool).await?);
    }
    Ok(claimed)
}

/// How many ids [`claimed_among`] asks about in one statement (well within either database's
/// limit on parameters).
const CLAIMED_PER_READ: usize = 500;

/// One server's row for a credential.
pub async fn row(
    pool: &AnyPool,
    server_id: &str,
    credential_id: &str,
) -> Result<Option<SyncRow>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {SYNC_COLUMNS} FROM mcp_sync WHERE server_id = $1 AND credential_id = $2"
    ))
    .bind(server_id)
    .bind(credential_id)
    .fetch_optional(pool)
    .await?)
}
