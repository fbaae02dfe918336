//! What can be asked of a user. Inputs are already parsed, and nothing here is secret: the
//! password hash lives in a mutable table outside the stream, and an API token arrives only as
//! its SHA-256.

use super::{DisplayName, Email, Permission, Role, Scope};
use crate::UserId;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCommand {
    RegisterUser {
        user_id: UserId,
        email: Email,
        display_name: DisplayName,
        role: Role,
        /// Explicit grants; an admin holds every permission anyway.
        permissions: BTreeSet<Permission>,
    },
    /// Records a password change; the new hash is stored by the caller, outside the stream.
    ChangePassword {
        /// An admin set it (a reset), rather than the user.
        reset_by_admin: bool,
    },
    LockUser {
        /// Why, for the audit trail: at most 500 characters, no control characters.
        reason: Option<String>,
    },
    UnlockUser,
    GrantPermission {
        permission: Permission,
    },
    RevokePermission {
        permission: Permission,
    },
    IssueApiToken {
        /// Chosen by the caller (randomness stays outside the domain).
        token_id: Uuid,
        /// 1–64 characters, no control characters; unique among the user's active tokens.
        name: String,
        scopes: BTreeSet<Scope>,
        expires_at: Option<DateTime<Utc>>,
        /// The token's SHA-256 as 64 lowercase hex digits, computed by the caller.
        token_hash: String,
        /// The caller's clock: the expiry must be after it; tokens expired by it are inactive.
        now: DateTime<Utc>,
    },
    RevokeApiToken {
        token_id: Uuid,
    },
}
