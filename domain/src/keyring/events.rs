//! What happened to a keyring. Names are past tense and stable; `event_version` changes only
//! with the payload's shape. Events carry every fact the projections need, and never plaintext.

use super::{AccountIdentity, CredentialStatus};
use crate::{CredentialId, CredentialName, SealedSecret, ServiceKey, UserId};
use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why the primary credential changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrimaryChangeReason {
    /// The first active credential of the keyring.
    FirstActive,
    /// Someone chose it.
    Chosen,
    /// The previous primary stopped being active (invalid, expired, revoked, erased, replaced).
    Promoted,
    /// No active credential is left.
    NoneActive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KeyringEvent {
    CredentialRegistered {
        credential_id: CredentialId,
        user_id: UserId,
        service: ServiceKey,
        name: CredentialName,
        metadata: BTreeMap<String, String>,
        secret: SealedSecret,
        secret_version: u32,
        status: CredentialStatus,
    },
    CredentialRenamed {
        credential_id: CredentialId,
        old_name: CredentialName,
        new_name: CredentialName,
    },
    CredentialMetadataChanged {
        credential_id: CredentialId,
        old_metadata: BTreeMap<String, String>,
        new_metadata: BTreeMap<String, String>,
    },
    SecretReplaced {
        credential_id: CredentialId,
        secret: SealedSecret,
        secret_version: u32,
        previous_status: CredentialStatus,
        status: CredentialStatus,
    },
    CredentialValidated {
        credential_id: CredentialId,
        secret_version: u32,
        account: AccountIdentity,
        provider_metadata: BTreeMap<String, String>,
        scopes: Vec<String>,
        expires_at: Option<DateTime<Utc>>,
        previous_status: CredentialStatus,
        status: CredentialStatus,
    },
    ValidationFailed {
        credential_id: CredentialId,
        secret_version: u32,
        message: String,
        previous_status: CredentialStatus,
        status: CredentialStatus,
    },
    /// The provider could not be asked (timeout, 5xx, 429, network). Never changes the status.
    ValidationInconclusive {
        credential_id: CredentialId,
        secret_version: u32,
        reason: String,
    },
    PrimaryCredentialChanged {
        previous: Option<CredentialId>,
        current: Option<CredentialId>,
        reason: PrimaryChangeReason,
    },
    CredentialRevoked {
        credential_id: CredentialId,
        reason: Option<String>,
        previous_status: CredentialStatus,
        status: CredentialStatus,
    },
    CredentialExpired {
        credential_id: CredentialId,
        expired_at: DateTime<Utc>,
        previous_status: CredentialStatus,
        status: CredentialStatus,
    },
    /// The end of a credential's life: its data key is destroyed, its history stays.
    CredentialErased {
        credential_id: CredentialId,
        name: CredentialName,
        previous_status: CredentialStatus,
    },
    OAuthTokenRefreshed {
        credential_id: CredentialId,
        secret: SealedSecret,
        secret_version: u32,
        expires_at: Option<DateTime<Utc>>,
    },
    CredentialSyncedToMcp {
        credential_id: CredentialId,
        target: String,
        ledger_version: u64,
        mcp_id: String,
    },
    CredentialSyncFailed {
        credential_id: CredentialId,
        target: String,
        ledger_version: u64,
        error: String,
    },
}

impl KeyringEvent {
    /// The credential the event is about, if it is about one.
    pub fn credential_id(&self) -> Option<CredentialId> {
        use KeyringEvent::*;
        match self {
            CredentialRegistered { credential_id, .. }
            | CredentialRenamed { credential_id, .. }
            | CredentialMetadataChanged { credential_id, .. }
            | SecretReplaced { credential_id, .. }
            | CredentialValidated { credential_id, .. }
            | ValidationFailed { credential_id, .. }
            | ValidationInconclusive { credential_id, .. }
            | CredentialRevoked { credential_id, .. }
            | CredentialExpired { credential_id, .. }
            | CredentialErased { credential_id, .. }
            | OAuthTokenRefreshed { credential_id, .. }
            | CredentialSyncedToMcp { credential_id, .. }
            | CredentialSyncFailed { credential_id, .. } => Some(*credential_id),
            PrimaryCredentialChanged {
                current, previous, ..
            } => current.or(*previous),
        }
    }
}

impl DomainEvent for KeyringEvent {
    fn event_type(&self) -> String {
        use KeyringEvent::*;
        match self {
            CredentialRegistered { .. } => "CredentialRegistered",
            CredentialRenamed { .. } => "CredentialRenamed",
            CredentialMetadataChanged { .. } => "CredentialMetadataChanged",
            SecretReplaced { .. } => "SecretReplaced",
            CredentialValidated { .. } => "CredentialValidated",
            ValidationFailed { .. } => "ValidationFailed",
            ValidationInconclusive { .. } => "ValidationInconclusive",
            PrimaryCredentialChanged { .. } => "PrimaryCredentialChanged",
            CredentialRevoked { .. } => "CredentialRevoked",
            CredentialExpired { .. } => "CredentialExpired",
            CredentialErased { .. } => "CredentialErased",
            OAuthTokenRefreshed { .. } => "OAuthTokenRefreshed",
            CredentialSyncedToMcp { .. } => "CredentialSyncedToMcp",
            CredentialSyncFailed { .. } => "CredentialSyncFailed",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
