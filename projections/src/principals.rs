//! `users` and `api_tokens`: who can sign in, their role, lock and permissions, and the hashes
//! of their API tokens, from the `User` aggregate's events. Sign-in and token checks read these
//! tables; password hashes and sessions live in mutable tables of their own (not here).

use crate::event::{decode, Decoded};
use crate::row::{bad, flag, from_json, maybe_time, time};
use crate::{Prepared, ProjectionError, ReadModel, Tables};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate as _;
use credledger_adapters::db::{as_stored, timestamp};
use credledger_adapters::feed::FeedEvent;
use credledger_domain::mcp_server::{McpServer, McpServerEvent};
use credledger_domain::user::{User, UserEvent};
use credledger_domain::{Permission, Role, Scope};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, FromRow as _, Row};
use std::collections::BTreeSet;

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

/// The read model: who may do what — users and their API tokens, MCP servers' tokens.
pub struct Principals;

#[async_trait::async_trait]
impl ReadModel for Principals {
    fn name(&self) -> &'static str {
        "principals"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["users", "api_tokens", "mcp_server_tokens"]
    }

    fn reads(&self) -> Option<&'static [&'static str]> {
        Some(&[User::TYPE, McpServer::TYPE])
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        tables: Tables,
        events: &[FeedEvent],
        _prepared: Option<Prepared>,
    ) -> Result<BTreeSet<String>, ProjectionError> {
        apply(conn, tables, events).await?;
        Ok(BTreeSet::new())
    }
}

/// Applies a batch's user events. Users change rarely: one or two statements per event.
async fn apply(
    conn: &mut AnyConnection,
    tables: Tables,
    events: &[FeedEvent],
) -> Result<(), ProjectionError> {
    let users = tables.name("users");
    let tokens = tables.name("api_tokens");
    for feed in events.iter().filter(|e| crate::reads(&Principals, e)) {
        if feed.aggregate_type == McpServer::TYPE {
            apply_server_tokens(conn, tables, feed).await?;
            continue;
        }
        let envelope = decode(feed)?;
        let Decoded::User(user_id, event) = &envelope.event else {
            continue;
        };
        let at = timestamp(envelope.metadata.occurred_at);
        match event.as_ref() {
            UserEvent::UserRegistered {
                email,
                display_name,
                role,
                permissions,
                ..
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {users} (user_id, email, display_name, role, locked, permissions, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, 0, $5, $6, $6)"
                ))
                .bind(user_id.clone())
                .bind(email.to_string())
                .bind(display_name.to_string())
                .bind(role.as_str())
                .bind(json(permissions))
                .bind(at)
                .execute(&mut *conn)
                .await?;
            }
            UserEvent::PasswordChanged { .. } => {
                sqlx::query(&format!(
                    "UPDATE {users} SET updated_at = $2 WHERE user_id = $1"
                ))
                .bind(user_id.clone())
                .bind(at)
                .execute(&mut *conn)
                .await?;
            }
            UserEvent::UserLocked { .. } | UserEvent::UserUnlocked {} => {
                let locked = i64::from(matches!(event.as_ref(), UserEvent::UserLocked { .. }));
                sqlx::query(&format!(
                    "UPDATE {users} SET locked = $2, updated_at = $3 WHERE user_id = $1"
                ))
                .bind(user_id.clone())
                .bind(locked)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            }
            UserEvent::PermissionGranted { permission }
            | UserEvent::PermissionRevoked { permission } => {
                let row = sqlx::query(&format!(
                    "SELECT permissions FROM {users} WHERE user_id = $1"
                ))
                .bind(user_id.clone())
                .fetch_optional(&mut *conn)
                .await?;
                let current: String = match &row {
                    Some(r) => r.try_get("permissions")?,
                    None => "[]".into(),
                };
                let mut set: BTreeSet<Permission> = from_json("permissions", current)?;
                if matches!(event.as_ref(), UserEvent::PermissionGranted { .. }) {
                    set.insert(*permission);
                } else {
                    set.remove(permission);
                }
                sqlx::query(&format!(
                    "UPDATE {users} SET permissions = $2, updated_at = $3 WHERE user_id = $1"
                ))
                .bind(user_id.clone())
                .bind(json(&set))
                .bind(at)
                .execute(&mut *conn)
                .await?;
            }
            UserEvent::ApiTokenIssued {
                token_id,
                name,
                scopes,
                expires_at,
                token_hash,
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {tokens} (token_id, user_id, name, scopes, token_hash, \
                     expires_at, revoked, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7)"
                ))
                .bind(token_id.to_string())
                .bind(user_id.clone())
                .bind(name.clone())
                .bind(json(scopes))
                .bind(token_hash.clone())
                .bind(expires_at.map(timestamp))
                .bind(at)
                .execute(&mut *conn)
                .await?;
            }
            UserEvent::ApiTokenRevoked { token_id } => {
                sqlx::query(&format!(
                    "UPDATE {tokens} SET revoked = 1 WHERE token_id = $1"
                ))
                .bind(token_id.to_string())
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(())
}

/// An MCP server's tokens: issued, revoked, and all of them revoked with the server.
async fn apply_server_tokens(
    conn: &mut AnyConnection,
    tables: Tables,
    feed: &FeedEvent,
) -> Result<(), ProjectionError> {
    let tokens = tables.name("mcp_server_tokens");
    let envelope = decode(feed)?;
    let Decoded::McpServer(server_id, event) = &envelope.event else {
        return Ok(());
    };
    let at = timestamp(envelope.metadata.occurred_at);
    match event.as_ref() {
        McpServerEvent::McpServerTokenIssued {
            token_id,
            name,
            scopes,
            expires_at,
            token_hash,
        } => {
            sqlx::query(&format!(
                "INSERT INTO {tokens} (token_id, server_id, name, scopes, token_hash, \
                 expires_at, revoked, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7)"
            ))
            .bind(token_id.to_string())
            .bind(server_id.clone())
            .bind(name.clone())
            .bind(json(scopes))
            .bind(token_hash.clone())
            .bind(expires_at.map(timestamp))
            .bind(at)
            .execute(&mut *conn)
            .await?;
        }
        McpServerEvent::McpServerTokenRevoked { token_id } => {
            sqlx::query(&format!(
                "UPDATE {tokens} SET revoked = 1 WHERE token_id = $1"
            ))
            .bind(token_id.to_string())
            .execute(&mut *conn)
            .await?;
        }
        McpServerEvent::McpServerRemoved {} => {
            sqlx::query(&format!(
                "UPDATE {tokens} SET revoked = 1 WHERE server_id = $1"
            ))
            .bind(server_id.clone())
            .execute(&mut *conn)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// One MCP server token as the read model has it (never the token: its hash is not returned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTokenRow {
    pub token_id: String,
    pub server_id: String,
    pub name: String,
    pub scopes: BTreeSet<Scope>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
    pub created_at: DateTime<Utc>,
}

impl sqlx::FromRow<'_, AnyRow> for ServerTokenRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            token_id: r.try_get("token_id")?,
            server_id: r.try_get("server_id")?,
            name: r.try_get("name")?,
            scopes: from_json("scopes", r.try_get("scopes")?)?,
            expires_at: maybe_time("expires_at", r.try_get("expires_at")?)?,
            revoked: flag("revoked", r.try_get("revoked")?)?,
            created_at: time("created_at", r.try_get("created_at")?)?,
        })
    }
}

const SERVER_TOKEN_COLUMNS: &str =
    "token_id, server_id, name, scopes, expires_at, revoked, created_at";

/// The MCP server token with this hash.
pub async fn server_token_by_hash(
    pool: &AnyPool,
    token_hash: &str,
) -> Result<Option<ServerTokenRow>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {SERVER_TOKEN_COLUMNS} FROM mcp_server_tokens WHERE token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(pool)
    .await?)
}

/// An MCP server's tokens, newest first.
pub async fn server_tokens_of(
    pool: &AnyPool,
    server_id: &str,
) -> Result<Vec<ServerTokenRow>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {SERVER_TOKEN_COLUMNS} FROM mcp_server_tokens WHERE server_id = $1 \
         ORDER BY created_at DESC, token_id"
    ))
    .bind(server_id)
    .fetch_all(pool)
    .await?)
}

/// One user as the read model has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub locked: bool,
    pub permissions: BTreeSet<Permission>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl sqlx::FromRow<'_, AnyRow> for UserRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            user_id: r.try_get("user_id")?,
            email: r.try_get("email")?,
            display_name: r.try_get("display_name")?,
            role: role(r.try_get("role")?)?,
            locked: flag("locked", r.try_get("locked")?)?,
            permissions: from_json("permissions", r.try_get("permissions")?)?,
            created_at: time("created_at", r.try_get("created_at")?)?,
            updated_at: time("updated_at", r.try_get("updated_at")?)?,
        })
    }
}

/// A user's role, as `Role::as_str` wrote it.
fn role(text: String) -> Result<Role, sqlx::Error> {
    Role::parse(&text).map_err(|_| bad("role", &text))
}

const USER_COLUMNS: &str =
    "user_id, email, display_name, role, locked, permissions, created_at, updated_at";

/// How many people have an account.
pub async fn user_count(pool: &AnyPool) -> Result<i64, ProjectionError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(pool)
        .await?)
}

/// Every user, by id.
pub async fn users(pool: &AnyPool) -> Result<Vec<UserRow>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY user_id"
    ))
    .fetch_all(pool)
    .await?)
}

/// One user by id, or by email when `by_email`.
pub async fn user(
    pool: &AnyPool,
    key: &str,
    by_email: bool,
) -> Result<Option<UserRow>, ProjectionError> {
    let column = if by_email { "email" } else { "user_id" };
    Ok(sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE {column} = $1 ORDER BY created_at, user_id LIMIT 1"
    ))
    .bind(key)
    .fetch_optional(pool)
    .await?)
}

/// One API token as the read model has it (its hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub token_id: String,
    pub user_id: String,
    pub name: String,
    pub scopes: BTreeSet<Scope>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
    pub created_at: DateTime<Utc>,
}

impl sqlx::FromRow<'_, AnyRow> for TokenRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        token_row(r, "created_at")
    }
}

/// A token row; `created_at` names the column its creation time is read from.
fn token_row(r: &AnyRow, created_at: &'static str) -> Result<TokenRow, sqlx::Error> {
    Ok(TokenRow {
        token_id: r.try_get("token_id")?,
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        scopes: from_json("scopes", r.try_get("scopes")?)?,
        expires_at: maybe_time("expires_at", r.try_get("expires_at")?)?,
        revoked: flag("revoked", r.try_get("revoked")?)?,
        created_at: time(created_at, r.try_get(created_at)?)?,
    })
}

const TOKEN_COLUMNS: &str = "token_id, user_id, name, scopes, expires_at, revoked, created_at";

/// A user's tokens, newest first.
pub async fn tokens_of(pool: &AnyPool, user_id: &str) -> Result<Vec<TokenRow>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, token_id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await?)
}

/// The token with this hash and its owner, in one statement.
pub async fn token_by_hash(
    pool: &AnyPool,
    token_hash: &str,
) -> Result<Option<(TokenRow, UserRow)>, ProjectionError> {
    token_where(pool, "t.token_hash", token_hash).await
}

/// The token with this id and its owner, in one statement.
pub async fn token_by_id(
    pool: &AnyPool,
    token_id: &str,
) -> Result<Option<(TokenRow, UserRow)>, ProjectionError> {
    token_where(pool, "t.token_id", token_id).await
}

async fn token_where(
    pool: &AnyPool,
    column: &'static str,
    value: &str,
) -> Result<Option<(TokenRow, UserRow)>, ProjectionError> {
    let row = sqlx::query(&format!(
        "SELECT t.token_id, t.user_id, t.name, t.scopes, t.expires_at, t.revoked, \
         t.created_at AS token_created_at, u.email, u.display_name, u.role, u.locked, \
         u.permissions, u.created_at, u.updated_at \
         FROM api_tokens t JOIN users u ON u.user_id = t.user_id WHERE {column} = $1"
    ))
    .bind(value)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some((
        token_row(&r, "token_created_at")?,
        UserRow::from_row(&r)?,
    )))
}

/// A user and their API tokens (newest first) as the user's own stream has them: the rows this
/// read model holds once it has applied all of `stream`. A command's answer is built from it,
/// so it shows what the command committed however far behind the read model is (ADR 0021; a
/// test in `tests/answers.rs` checks it against the read model row for row). `None` before the
/// user is registered.
pub fn user_as_committed(
    stream: &[FeedEvent],
) -> Result<Option<(UserRow, Vec<TokenRow>)>, ProjectionError> {
    let mut user: Option<UserRow> = None;
    let mut tokens: Vec<TokenRow> = Vec::new();
    for feed in stream {
        let envelope = decode(feed)?;
        let Decoded::User(user_id, event) = &envelope.event else {
            continue;
        };
        let at = as_stored(envelope.metadata.occurred_at);
        match event.as_ref() {
            UserEvent::UserRegistered {
                email,
                display_name,
                role,
                permissions,
                ..
            } => {
                user = Some(UserRow {
                    user_id: user_id.clone(),
                    email: email.to_string(),
                    display_name: display_name.to_string(),
                    role: *role,
                    locked: false,
                    permissions: permissions.clone(),
                    created_at: at,
                    updated_at: at,
                })
            }
            UserEvent::ApiTokenIssued {
                token_id,
                name,
                scopes,
                expires_at,
                ..
            } => tokens.push(TokenRow {
                token_id: token_id.to_string(),
                user_id: user_id.clone(),
                name: name.clone(),
                scopes: scopes.clone(),
                expires_at: expires_at.map(as_stored),
                revoked: false,
                created_at: at,
            }),
            UserEvent::ApiTokenRevoked { token_id } => {
                let id = token_id.to_string();
                tokens
                    .iter_mut()
                    .filter(|t| t.token_id == id)
                    .for_each(|t| t.revoked = true);
            }
            other => {
                let Some(row) = user.as_mut() else { continue };
                match other {
                    UserEvent::UserLocked { .. } => row.locked = true,
                    UserEvent::UserUnlocked {} => row.locked = false,
                    UserEvent::PermissionGranted { permission } => {
                        row.permissions.insert(*permission);
                    }
                    UserEvent::PermissionRevoked { permission } => {
                        row.permissions.remove(permission);
                    }
                    _ => {}
                }
                row.updated_at = at;
            }
        }
    }
    tokens.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| a.token_id.cmp(&b.token_id))
    });
    Ok(user.map(|u| (u, tokens)))
}

/// An MCP server's tokens (newest first) as the server's own stream has them, as
/// [`user_as_committed`] does for a user's.
pub fn server_tokens_as_committed(
    stream: &[FeedEvent],
) -> Result<Vec<ServerTokenRow>, ProjectionError> {
    let mut tokens: Vec<ServerTokenRow> = Vec::new();
    for feed in stream {
        let envelope = decode(feed)?;
        let Decoded::McpServer(server_id, event) = &envelope.event else {
            continue;
        };
        match event.as_ref() {
            McpServerEvent::McpServerTokenIssued {
                token_id,
                name,
                scopes,
                expires_at,
                ..
            } => tokens.push(ServerTokenRow {
                token_id: token_id.to_string(),
                server_id: server_id.clone(),
                name: name.clone(),
                scopes: scopes.clone(),
                expires_at: expires_at.map(as_stored),
                revoked: false,
                created_at: as_stored(envelope.metadata.occurred_at),
            }),
            McpServerEvent::McpServerTokenRevoked { token_id } => {
                let id = token_id.to_string();
                tokens
                    .iter_mut()
                    .filter(|t| t.token_id == id)
                    .for_each(|t| t.revoked = true);
            }
            McpServerEvent::McpServerRemoved {} => tokens.iter_mut().for_each(|t| t.revoked = true),
            _ => {}
        }
    }
    tokens.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| a.token_id.cmp(&b.token_id))
    });
    Ok(tokens)
}
