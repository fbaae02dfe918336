//! What can be asked of a keyring. Inputs are already parsed; secrets are plaintext here and
//! sealed by the aggregate through the [`Cipher`](crate::ports::Cipher) port.

use super::AccountIdentity;
use crate::{CredentialId, CredentialName, SecretFields, ServiceKey, UserId};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// How one mirroring request to an MCP server ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpSyncOutcome {
    /// The server holds the credential's state under its own id.
    Synced { mcp_id: String },
    /// The server no longer holds the credential (deleted, or never held).
    Removed { mcp_id: Option<String> },
    /// The server could not be brought up to date after the retries; the reason has no secret.
    Failed { error: String },
    /// The server reported a version other than the ledger's.
    Drifted { reported_version: Option<u64> },
}

/// A copy of a credential an MCP server already holds, under its own id (an imported one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldCopy {
    /// The MCP server's id.
    pub target: String,
    /// The server's id for its copy.
    pub mcp_id: String,
}

/// A validation answer from the provider, as the validator saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum ValidationOutcome {
    Valid {
        account: AccountIdentity,
        provider_metadata: BTreeMap<String, String>,
        scopes: Vec<String>,
        expires_at: Option<DateTime<Utc>>,
    },
    /// The provider refused the secret (401/403); the message is the provider's own.
    Invalid { message: String },
    /// The provider could not be asked; says nothing about the credential.
    CouldNotCheck { reason: String },
}

#[derive(Debug, Clone)]
pub enum KeyringCommand {
    RegisterCredential {
        credential_id: CredentialId,
        user_id: UserId,
        service: ServiceKey,
        name: CredentialName,
        metadata: BTreeMap<String, String>,
        fields: SecretFields,
        /// A live check done just before registering, recorded with it.
        validation: Option<ValidationOutcome>,
        /// The MCP server's copy it was imported from, recorded as synced in the same append:
        /// the registration is never kept without it, so the sender cannot make a second copy.
        held_by: Option<HeldCopy>,
    },
    /// A new name, new labels and a new secret, any of them: decided together and kept
    /// together (one append), so a refusal of one leaves all three as they were.
    UpdateCredential {
        credential_id: CredentialId,
        name: Option<CredentialName>,
        metadata: Option<BTreeMap<String, String>>,
        /// A new secret, with the live check done just before (recorded with it).
        secret: Option<(SecretFields, Option<ValidationOutcome>)>,
    },
    ReplaceSecret {
        credential_id: CredentialId,
        fields: SecretFields,
        validation: Option<ValidationOutcome>,
    },
    RecordValidation {
        credential_id: CredentialId,
        /// The secret version that was checked; a check of a replaced secret is refused.
        secret_version: u32,
        outcome: ValidationOutcome,
    },
    SetPrimary {
        credential_id: CredentialId,
    },
    RevokeCredential {
        credential_id: CredentialId,
        reason: Option<String>,
    },
    EraseCredential {
        credential_id: CredentialId,
    },
    MarkExpired {
        credential_id: CredentialId,
        now: DateTime<Utc>,
    },
    /// The provider ended the authorization (an OAuth grant revoked): the credential is
    /// expired now, whatever its token's expiry says, until it is reconnected.
    EndAuthorization {
        credential_id: CredentialId,
        now: DateTime<Utc>,
    },
    RecordOAuthRefresh {
        credential_id: CredentialId,
        /// The secret version whose refresh token was redeemed: a secret replaced since (a
        /// reconnect, a pasted token) is not overwritten by the older grant's tokens.
        secret_version: u32,
        fields: SecretFields,
        expires_at: Option<DateTime<Utc>>,
        /// When the provider gave the token.
        issued_at: DateTime<Utc>,
    },
    /// What an MCP server answered when the replay adapter mirrored the credential to it.
    RecordMcpSync {
        credential_id: CredentialId,
        /// The MCP server's id.
        target: String,
        /// The credential's version the request carried.
        ledger_version: u64,
        /// The global position of the change the request mirrored (its idempotency key).
        sync_position: u64,
        outcome: McpSyncOutcome,
    },
}
