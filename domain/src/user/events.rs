//! What happened to a user. Names are past tense and stable; `event_version` changes only with
//! the payload's shape. No password hash and no API token ever appears here (only its SHA-256).

use super::{DisplayName, Email, Permission, Role, Scope};
use crate::UserId;
use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserEvent {
    UserRegistered {
        user_id: UserId,
        email: Email,
        display_name: DisplayName,
        role: Role,
        /// Explicit grants.
        permissions: BTreeSet<Permission>,
    },
    PasswordChanged {
        reset_by_admin: bool,
    },
    UserLocked {
        reason: Option<String>,
    },
    UserUnlocked {},
    PermissionGranted {
        permission: Permission,
    },
    PermissionRevoked {
        permission: Permission,
    },
    ApiTokenIssued {
        token_id: Uuid,
        name: String,
        scopes: BTreeSet<Scope>,
        expires_at: Option<DateTime<Utc>>,
        /// SHA-256 of the token, lowercase hex.
        token_hash: String,
    },
    ApiTokenRevoked {
        token_id: Uuid,
    },
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        use UserEvent::*;
        match self {
            UserRegistered { .. } => "UserRegistered",
            PasswordChanged { .. } => "PasswordChanged",
            UserLocked { .. } => "UserLocked",
            UserUnlocked {} => "UserUnlocked",
            PermissionGranted { .. } => "PermissionGranted",
            PermissionRevoked { .. } => "PermissionRevoked",
            ApiTokenIssued { .. } => "ApiTokenIssued",
            ApiTokenRevoked { .. } => "ApiTokenRevoked",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
