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
        /// When the provider gave the token (none in events written before it was recorded):
        /// with `expires_at`, its lifetime.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issued_at: Option<DateTime<Utc>>,
    },
    /// An MCP server (`target`) holds the credential at `ledger_version` under `mcp_id`.
    CredentialSyncedToMcp {
        credential_id: CredentialId,
        target: String,
        ledger_version: u64,
        mcp_id: String,
        /// The global position of the change mirrored (0 in events written before it existed).
        #[serde(default)]
        sync_position: u64,
    },
    CredentialSyncFailed {
        credential_id: CredentialId,
        target: String,
        ledger_version: u64,
        error: String,
        #[serde(default)]
        sync_position: u64,
    },
    /// The MCP server no longer holds the credential (revoked, erased, or no longer allowed).
    CredentialRemovedFromMcp {
        credential_id: CredentialId,
        target: String,
        ledger_version: u64,
        mcp_id: Option<String>,
        sync_position: u64,
    },
    /// The MCP server reported a version other than the ledger's: its copy is out of date.
    CredentialDriftedOnMcp {
        credential_id: CredentialId,
        target: String,
        ledger_version: u64,
        reported_version: Option<u64>,
        sync_position: u64,
    },
}

impl KeyringEvent {
    /// An outcome of mirroring to an MCP server: about a copy, not the credential itself.
    pub fn is_mcp_sync_outcome(&self) -> bool {
        use KeyringEvent::*;
        matches!(
            self,
            CredentialSyncedToMcp { .. }
                | CredentialSyncFailed { .. }
                | CredentialRemovedFromMcp { .. }
                | CredentialDriftedOnMcp { .. }
        )
    }

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
            | CredentialSyncFailed { credential_id, .. }
            | CredentialRemovedFromMcp { credential_id, .. }
            | CredentialDriftedOnMcp { credential_id, .. } => Some(*credential_id),
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
            CredentialRemovedFromMcp { .. } => "CredentialRemovedFromMcp",
            CredentialDriftedOnMcp { .. } => "CredentialDriftedOnMcp",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
