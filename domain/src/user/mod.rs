//! The `User` aggregate (id: the user id): registration, password changes, role and
//! permissions, lock and unlock, API tokens issued and revoked. Users are on the ledger so that
//! admin actions are audited; nothing secret is: the password hash lives outside the stream and
//! tokens are recorded by their SHA-256 only.

mod commands;
mod error;
mod events;
#[cfg(test)]
mod tests;
mod values;

pub use commands::UserCommand;
pub use error::UserError;
pub use events::UserEvent;
pub(crate) use values::check_text;
pub use values::{DisplayName, Email, Permission, Role, Scope};

use crate::{InputError, UserId};
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

/// One API token as the user's stream remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub scopes: BTreeSet<Scope>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
    /// SHA-256 of the token, lowercase hex.
    pub token_hash: String,
}

/// The rules every new API token follows, whoever holds it (a user or an MCP server): a name of
/// 1–64 characters unique among the holder's active tokens, a SHA-256 hash, at least one scope,
/// an expiry in the future, at most `max_active` active tokens. Returns the trimmed name.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_new_token(
    tokens: &[ApiToken],
    max_active: usize,
    token_id: Uuid,
    name: &str,
    scopes: &BTreeSet<Scope>,
    expires_at: Option<DateTime<Utc>>,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<String, UserError> {
    let name = name.trim().to_owned();
    values::check_text(&name, "token name", User::TOKEN_NAME_MAX)?;
    if token_hash.len() != 64
        || !token_hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        // Also keeps a token that was not hashed out of the ledger.
        return Err(InputError::Malformed {
            what: "token hash",
            detail: "expected the SHA-256 as 64 lowercase hex digits".into(),
        }
        .into());
    }
    if scopes.is_empty() {
        return Err(UserError::NoScopes);
    }
    if expires_at.is_some_and(|at| at <= now) {
        return Err(UserError::ExpiryNotInFuture);
    }
    let active = || tokens.iter().filter(|t| t.is_active(now));
    if tokens.iter().any(|t| t.id == token_id) {
        return Err(UserError::TokenAlreadyExists(token_id));
    }
    if active().any(|t| t.name == name) {
        return Err(UserError::TokenNameTaken(name));
    }
    if active().count() >= max_active {
        return Err(UserError::TooManyTokens { max: max_active });
    }
    Ok(name)
}

impl ApiToken {
    /// Not revoked and not expired at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        !self.revoked && self.expires_at.is_none_or(|at| at > now)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Profile {
    user_id: UserId,
    email: Email,
    display_name: DisplayName,
    role: Role,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct User {
    profile: Option<Profile>,
    locked: bool,
    permissions: BTreeSet<Permission>,
    tokens: Vec<ApiToken>,
}

impl User {
    /// The most active (unrevoked, unexpired) API tokens one user may hold.
    pub const MAX_ACTIVE_TOKENS: usize = 50;
    pub const TOKEN_NAME_MAX: usize = 64;
    pub const LOCK_REASON_MAX: usize = 500;

    pub fn exists(&self) -> bool {
        self.profile.is_some()
    }

    pub fn user_id(&self) -> Option<&UserId> {
        self.profile.as_ref().map(|p| &p.user_id)
    }

    pub fn email(&self) -> Option<&Email> {
        self.profile.as_ref().map(|p| &p.email)
    }

    pub fn display_name(&self) -> Option<&DisplayName> {
        self.profile.as_ref().map(|p| &p.display_name)
    }

    pub fn role(&self) -> Option<Role> {
        self.profile.as_ref().map(|p| p.role)
    }

    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// The explicit grants (an admin's implicit permissions are not listed).
    pub fn permissions(&self) -> &BTreeSet<Permission> {
        &self.permissions
    }

    /// Whether the user holds `permission`, explicitly or as an admin. Says nothing about the
    /// lock: authentication refuses locked users.
    pub fn has_permission(&self, permission: Permission) -> bool {
        self.role() == Some(Role::Admin) || self.permissions.contains(&permission)
    }

    /// Every token ever issued, revoked and expired ones included, oldest first.
    pub fn tokens(&self) -> &[ApiToken] {
        &self.tokens
    }

    pub fn token(&self, id: Uuid) -> Option<&ApiToken> {
        self.tokens.iter().find(|t| t.id == id)
    }

    /// The tokens neither revoked nor expired at `now`.
    pub fn active_tokens(&self, now: DateTime<Utc>) -> impl Iterator<Item = &ApiToken> {
        self.tokens.iter().filter(move |t| t.is_active(now))
    }

    fn existing(&self) -> Result<(), UserError> {
        if self.exists() {
            Ok(())
        } else {
            Err(UserError::NotFound)
        }
    }

    /// The event an `IssueApiToken` command means, or why it is refused.
    fn issue_token(
        &self,
        token_id: Uuid,
        name: String,
        scopes: BTreeSet<Scope>,
        expires_at: Option<DateTime<Utc>>,
        token_hash: String,
        now: DateTime<Utc>,
    ) -> Result<UserEvent, UserError> {
        if self.locked {
            return Err(UserError::Locked);
        }
        let name = check_new_token(
            &self.tokens,
            Self::MAX_ACTIVE_TOKENS,
            token_id,
            &name,
            &scopes,
            expires_at,
            &token_hash,
            now,
        )?;
        Ok(UserEvent::ApiTokenIssued {
            token_id,
            name,
            scopes,
            expires_at,
            token_hash,
        })
    }

    fn decide(&self, command: UserCommand) -> Result<UserEvent, UserError> {
        if !matches!(command, UserCommand::RegisterUser { .. }) {
            self.existing()?;
        }
        Ok(match command {
            UserCommand::RegisterUser {
                user_id,
                email,
                display_name,
                role,
                permissions,
            } => {
                if self.exists() {
                    return Err(UserError::AlreadyExists);
                }
                UserEvent::UserRegistered {
                    user_id,
                    email,
                    display_name,
                    role,
                    permissions,
                }
            }
            UserCommand::ChangePassword { reset_by_admin } => {
                UserEvent::PasswordChanged { reset_by_admin }
            }
            UserCommand::LockUser { reason } => {
                if self.locked {
                    return Err(UserError::AlreadyLocked);
                }
                let reason = reason
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty());
                if let Some(r) = &reason {
                    values::check_text(r, "lock reason", Self::LOCK_REASON_MAX)?;
                }
                UserEvent::UserLocked { reason }
            }
            UserCommand::UnlockUser => {
                if !self.locked {
                    return Err(UserError::NotLocked);
                }
                UserEvent::UserUnlocked {}
            }
            UserCommand::GrantPermission { permission } => {
                if self.permissions.contains(&permission) {
                    return Err(UserError::PermissionAlreadyGranted(permission));
                }
                UserEvent::PermissionGranted { permission }
            }
            UserCommand::RevokePermission { permission } => {
                if !self.permissions.contains(&permission) {
                    return Err(UserError::PermissionNotGranted(permission));
                }
                UserEvent::PermissionRevoked { permission }
            }
            UserCommand::IssueApiToken {
                token_id,
                name,
                scopes,
                expires_at,
                token_hash,
                now,
            } => self.issue_token(token_id, name, scopes, expires_at, token_hash, now)?,
            UserCommand::RevokeApiToken { token_id } => {
                if self.token(token_id).is_none_or(|t| t.revoked) {
                    return Err(UserError::TokenNotFound(token_id));
                }
                UserEvent::ApiTokenRevoked { token_id }
            }
        })
    }
}

impl Aggregate for User {
    const TYPE: &'static str = "user";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = self.decide(command)?;
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use UserEvent::*;
        match event {
            UserRegistered {
                user_id,
                email,
                display_name,
                role,
                permissions,
            } => {
                self.profile = Some(Profile {
                    user_id,
                    email,
                    display_name,
                    role,
                });
                self.permissions = permissions;
            }
            PasswordChanged { .. } => {}
            UserLocked { .. } => self.locked = true,
            UserUnlocked {} => self.locked = false,
            PermissionGranted { permission } => {
                self.permissions.insert(permission);
            }
            PermissionRevoked { permission } => {
                self.permissions.remove(&permission);
            }
            ApiTokenIssued {
                token_id,
                name,
                scopes,
                expires_at,
                token_hash,
            } => self.tokens.push(ApiToken {
                id: token_id,
                name,
                scopes,
                expires_at,
                revoked: false,
                token_hash,
            }),
            ApiTokenRevoked { token_id } => {
                if let Some(t) = self.tokens.iter_mut().find(|t| t.id == token_id) {
                    t.revoked = true;
                }
            }
        }
    }
}
