//! The `Keyring` aggregate: one user's credentials for one service (id `"{user_id}:{service}"`).
//! It is the consistency boundary for the rules that span credentials: unique names, one primary
//! among the active credentials, single-account services, no upstream account stored twice.

mod commands;
mod error;
mod events;
#[cfg(test)]
mod tests;

pub use commands::{HeldCopy, KeyringCommand, McpSyncOutcome, ValidationOutcome};
pub use error::KeyringError;
pub use events::{KeyringEvent, PrimaryChangeReason};

use crate::ports::{Cipher, CipherError};
use crate::{
    Catalog, CredentialId, CredentialName, InputError, SealedSecret, SecretFields, ServiceKey,
    UserId,
};
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A credential's status. A failed *check* never changes it; only the provider's refusal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialStatus {
    /// Stored, not (yet) confirmed by the provider.
    Inactive,
    Active,
    Invalid,
    Expired,
    Revoked,
}

impl CredentialStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::Active => "active",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

impl fmt::Display for CredentialStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who the provider says the credential belongs to. `id` is the provider's stable account id
/// (account id, workspace id, organization slug, email, key fingerprint…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountIdentity {
    pub id: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
}

/// One credential as the keyring remembers it (sealed secret only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialState {
    pub id: CredentialId,
    pub name: CredentialName,
    pub status: CredentialStatus,
    pub is_primary: bool,
    pub account: Option<AccountIdentity>,
    pub metadata: BTreeMap<String, String>,
    pub secret: SealedSecret,
    pub secret_version: u32,
    pub expires_at: Option<DateTime<Utc>>,
    pub erased: bool,
    /// Why the last check of this secret could not be made, until a check is made or the
    /// secret changes: the same reason again is no new state, and records nothing.
    #[serde(default)]
    pub could_not_check: Option<String>,
    /// When the provider gave the current OAuth access token, if a recorded refresh says so.
    #[serde(default)]
    pub token_issued_at: Option<DateTime<Utc>>,
}

/// What a keyring needs from outside: the cipher that seals secrets and the service catalog.
#[derive(Clone)]
pub struct KeyringServices {
    pub cipher: Arc<dyn Cipher>,
    pub catalog: Arc<Catalog>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Keyring {
    owner: Option<(UserId, ServiceKey)>,
    credentials: Vec<CredentialState>,
}

/// The most credentials a person keeps for one service (erased ones aside): every command on
/// them replays the keyring's stream, which nothing shortens.
pub const MAX_CREDENTIALS_PER_SERVICE: usize = 200;
/// The longest reason a revocation records.
pub const REVOKE_REASON_MAX: usize = 500;

const METADATA_MAX_ENTRIES: usize = 32;
const METADATA_MAX_KEY: usize = 64;
const METADATA_MAX_VALUE: usize = 1024;

/// Checks a credential's non-secret metadata: at most 32 entries of short strings.
pub fn check_metadata(metadata: &BTreeMap<String, String>) -> Result<(), InputError> {
    if metadata.len() > METADATA_MAX_ENTRIES {
        return Err(InputError::TooLong {
            what: "metadata (entries)",
            max: METADATA_MAX_ENTRIES,
        });
    }
    for (k, v) in metadata {
        if k.is_empty() {
            return Err(InputError::Empty {
                what: "metadata key",
            });
        }
        if k.chars().count() > METADATA_MAX_KEY {
            return Err(InputError::TooLong {
                what: "metadata key",
                max: METADATA_MAX_KEY,
            });
        }
        if v.chars().count() > METADATA_MAX_VALUE {
            return Err(InputError::TooLong {
                what: "metadata value",
                max: METADATA_MAX_VALUE,
            });
        }
        if k.chars().chain(v.chars()).any(char::is_control) {
            return Err(InputError::BadCharacters {
                what: "metadata",
                allowed: "no control characters",
            });
        }
    }
    Ok(())
}

impl Keyring {
    /// The credentials that have not been erased, oldest first.
    pub fn credentials(&self) -> impl Iterator<Item = &CredentialState> {
        self.credentials.iter().filter(|c| !c.erased)
    }

    pub fn credential(&self, id: CredentialId) -> Option<&CredentialState> {
        self.credentials().find(|c| c.id == id)
    }

    /// A credential, erased or not (an erased one keeps its name and history, not its secret):
    /// for those that must find what an erased credential left elsewhere.
    pub fn credential_even_erased(&self, id: CredentialId) -> Option<&CredentialState> {
        self.credentials.iter().find(|c| c.id == id)
    }

    pub fn primary(&self) -> Option<&CredentialState> {
        self.credentials().find(|c| c.is_primary)
    }

    pub fn owner(&self) -> Option<(&UserId, &ServiceKey)> {
        self.owner.as_ref().map(|(u, s)| (u, s))
    }

    fn live(&self, id: CredentialId) -> Result<&CredentialState, KeyringError> {
        self.credential(id).ok_or(KeyringError::NotFound(id))
    }

    /// Refuses what a revoked credential cannot be (`action`: "validated", "given a new
    /// secret"), as the command would: for callers that must not contact its provider first.
    pub fn check_not_revoked(
        &self,
        id: CredentialId,
        action: &'static str,
    ) -> Result<(), KeyringError> {
        self.not_revoked(id, action).map(|_| ())
    }

    fn not_revoked(
        &self,
        id: CredentialId,
        action: &'static str,
    ) -> Result<&CredentialState, KeyringError> {
        let c = self.live(id)?;
        if c.status == CredentialStatus::Revoked {
            return Err(KeyringError::IllegalTransition {
                from: c.status,
                action,
            });
        }
        Ok(c)
    }

    fn service_definition<'a>(
        services: &'a KeyringServices,
        service: &ServiceKey,
    ) -> Result<&'a crate::ServiceDefinition, KeyringError> {
        Ok(services.catalog.enabled_service(service.as_str())?)
    }

    async fn seal(
        services: &KeyringServices,
        id: CredentialId,
        version: u32,
        fields: &SecretFields,
    ) -> Result<SealedSecret, KeyringError> {
        services
            .cipher
            .seal(id, version, fields)
            .await
            .map_err(|e| match e {
                // Erased by a concurrent command after this one loaded the keyring.
                CipherError::KeyDestroyed => KeyringError::NotFound(id),
                CipherError::Failed(detail) => KeyringError::Cipher(detail),
                CipherError::Unavailable(detail) => KeyringError::KeysUnavailable(detail),
            })
    }

    /// Seals a new secret for one credential (not revoked) and emits its replacement, with
    /// the live check done just before, if any.
    async fn replace_secret(
        &mut self,
        services: &KeyringServices,
        credential_id: CredentialId,
        fields: SecretFields,
        validation: Option<ValidationOutcome>,
        sink: &EventSink<Self>,
    ) -> Result<(), KeyringError> {
        let c = self.not_revoked(credential_id, "given a new secret")?;
        let (previous_status, version) = (c.status, c.secret_version + 1);
        let service = self.owner.as_ref().map(|(_, s)| s.clone());
        let service = service.ok_or(KeyringError::NotFound(credential_id))?;
        Self::service_definition(services, &service)?.check_fields(&fields)?;
        let secret = Self::seal(services, credential_id, version, &fields).await?;
        sink.write(
            KeyringEvent::SecretReplaced {
                credential_id,
                secret,
                secret_version: version,
                previous_status,
                status: CredentialStatus::Inactive,
            },
            self,
        )
        .await;
        if let Some(outcome) = validation {
            self.record_validation(credential_id, outcome, sink).await?;
        }
        Ok(())
    }

    /// Emits the events a validation answer means for one credential.
    async fn record_validation(
        &mut self,
        id: CredentialId,
        outcome: ValidationOutcome,
        sink: &EventSink<Self>,
    ) -> Result<(), KeyringError> {
        let c = self.not_revoked(id, "validated")?;
        let (previous_status, secret_version) = (c.status, c.secret_version);
        // The same secret's known expiry stands when a check does not say one (a provider's
        // probe does not, for an OAuth access token: its token endpoint did, and its refresh
        // needs it); a secret replaced has none until checked.
        let known_expiry = c.expires_at;
        let event = match outcome {
            ValidationOutcome::Valid {
                account,
                provider_metadata,
                scopes,
                expires_at,
            } => {
                if let Some(other) = self.credentials().find(|o| {
                    o.id != id
                        && o.status != CredentialStatus::Revoked
                        && o.account.as_ref().map(|a| &a.id) == Some(&account.id)
                }) {
                    return Err(KeyringError::DuplicateAccount(
                        account.id.clone(),
                        other.name.to_string(),
                    ));
                }
                KeyringEvent::CredentialValidated {
                    credential_id: id,
                    secret_version,
                    account,
                    provider_metadata,
                    scopes,
                    expires_at: expires_at.or(known_expiry),
                    previous_status,
                    status: CredentialStatus::Active,
                }
            }
            ValidationOutcome::Invalid { message } => KeyringEvent::ValidationFailed {
                credential_id: id,
                secret_version,
                message,
                previous_status,
                status: CredentialStatus::Invalid,
            },
            // Once per state change: a scheduled revalidation of a provider that stays down
            // would otherwise record "could not check" every run, and a reason that varies
            // (a provider's changing `Retry-After`, request ids in its messages) each time.
            // The first reason of a run of them stays recorded; the later ones go to the logs.
            ValidationOutcome::CouldNotCheck { .. } if c.could_not_check.is_some() => {
                return Ok(());
            }
            ValidationOutcome::CouldNotCheck { reason } => KeyringEvent::ValidationInconclusive {
                credential_id: id,
                secret_version,
                reason,
            },
        };
        sink.write(event, self).await;
        Ok(())
    }

    /// Restores the primary rule after any change: the primary is an active credential, and
    /// while any credential is active exactly one is primary — the oldest active one when the
    /// previous primary is gone.
    async fn settle_primary(&mut self, sink: &EventSink<Self>) {
        // An erased primary keeps its flag until the change below, so it is found here too.
        let primary = self
            .credentials
            .iter()
            .find(|c| c.is_primary)
            .map(|c| (c.id, (!c.erased).then_some(c.status)));
        let oldest_active = |except: Option<CredentialId>| {
            self.credentials()
                .find(|c| c.status == CredentialStatus::Active && Some(c.id) != except)
                .map(|c| c.id)
        };
        let event = match primary {
            Some((_, Some(CredentialStatus::Active))) => None,
            Some((previous, _)) => {
                let next = oldest_active(Some(previous));
                Some(KeyringEvent::PrimaryCredentialChanged {
                    previous: Some(previous),
                    current: next,
                    reason: if next.is_some() {
                        PrimaryChangeReason::Promoted
                    } else {
                        PrimaryChangeReason::NoneActive
                    },
                })
            }
            None => oldest_active(None).map(|next| KeyringEvent::PrimaryCredentialChanged {
                previous: None,
                current: Some(next),
                reason: PrimaryChangeReason::FirstActive,
            }),
        };
        if let Some(event) = event {
            sink.write(event, self).await;
        }
    }

    /// Expires a live credential (`CredentialExpired`): at its token's expiry, which must have
    /// passed by `now`, or — when the provider `ended` the authorization — at `now`, whatever
    /// the expiry says.
    async fn expire(
        &mut self,
        credential_id: CredentialId,
        now: DateTime<Utc>,
        ended: bool,
        sink: &EventSink<Self>,
    ) -> Result<(), KeyringError> {
        let c = self.live(credential_id)?;
        if matches!(
            c.status,
            CredentialStatus::Revoked | CredentialStatus::Expired
        ) {
            return Err(KeyringError::IllegalTransition {
                from: c.status,
                action: "expired",
            });
        }
        let expired_at = if ended {
            now
        } else {
            c.expires_at
                .filter(|at| *at <= now)
                .ok_or(KeyringError::NotExpired)?
        };
        let previous_status = c.status;
        sink.write(
            KeyringEvent::CredentialExpired {
                credential_id,
                expired_at,
                previous_status,
                status: CredentialStatus::Expired,
            },
            self,
        )
        .await;
        Ok(())
    }

    async fn handle_command(
        &mut self,
        command: KeyringCommand,
        services: &KeyringServices,
        sink: &EventSink<Self>,
    ) -> Result<(), KeyringError> {
        match command {
            KeyringCommand::RegisterCredential {
                credential_id,
                user_id,
                service,
                name,
                metadata,
                fields,
                validation,
                held_by,
            } => {
                if let Some((u, s)) = &self.owner {
                    if u != &user_id || s != &service {
                        return Err(KeyringError::WrongKeyring);
                    }
                }
                let definition = Self::service_definition(services, &service)?;
                definition.check_fields(&fields)?;
                check_metadata(&metadata)?;
                if self.credentials.iter().any(|c| c.id == credential_id) {
                    return Err(KeyringError::AlreadyExists(credential_id));
                }
                if self.credentials().any(|c| c.name == name) {
                    return Err(KeyringError::NameTaken(name.to_string()));
                }
                if self.credentials().count() >= MAX_CREDENTIALS_PER_SERVICE {
                    return Err(InputError::TooMany {
                        what: "credentials for one service",
                        max: MAX_CREDENTIALS_PER_SERVICE,
                    }
                    .into());
                }
                if !definition.multi_account
                    && self
                        .credentials()
                        .any(|c| c.status != CredentialStatus::Revoked)
                {
                    return Err(KeyringError::MultiAccountNotSupported(
                        definition.display_name.clone(),
                    ));
                }
                let secret = Self::seal(services, credential_id, 1, &fields).await?;
                sink.write(
                    KeyringEvent::CredentialRegistered {
                        credential_id,
                        user_id,
                        service,
                        name,
                        metadata,
                        secret,
                        secret_version: 1,
                        status: CredentialStatus::Inactive,
                    },
                    self,
                )
                .await;
                if let Some(outcome) = validation {
                    self.record_validation(credential_id, outcome, sink).await?;
                }
                if let Some(HeldCopy { target, mcp_id }) = held_by {
                    // The server's own copy, at its own version (0: not the ledger's) and at
                    // no change of the ledger's: the sender then brings it to the ledger's
                    // state with an update of that copy.
                    sink.write(
                        KeyringEvent::CredentialSyncedToMcp {
                            credential_id,
                            target,
                            ledger_version: 0,
                            mcp_id,
                            sync_position: 0,
                        },
                        self,
                    )
                    .await;
                }
            }
            KeyringCommand::UpdateCredential {
                credential_id,
                name,
                metadata,
                secret,
            } => {
                let c = self.live(credential_id)?;
                let (old_name, old_metadata) = (c.name.clone(), c.metadata.clone());
                if let Some(new_name) = name.filter(|n| *n != old_name) {
                    if self.credentials().any(|o| o.name == new_name) {
                        return Err(KeyringError::NameTaken(new_name.to_string()));
                    }
                    sink.write(
                        KeyringEvent::CredentialRenamed {
                            credential_id,
                            old_name,
                            new_name,
                        },
                        self,
                    )
                    .await;
                }
                if let Some(new_metadata) = metadata.filter(|m| *m != old_metadata) {
                    check_metadata(&new_metadata)?;
                    sink.write(
                        KeyringEvent::CredentialMetadataChanged {
                            credential_id,
                            old_metadata,
                            new_metadata,
                        },
                        self,
                    )
                    .await;
                }
                if let Some((fields, validation)) = secret {
                    self.replace_secret(services, credential_id, fields, validation, sink)
                        .await?;
                }
            }
            KeyringCommand::ReplaceSecret {
                credential_id,
                fields,
                validation,
            } => {
                self.replace_secret(services, credential_id, fields, validation, sink)
                    .await?;
            }
            KeyringCommand::RecordValidation {
                credential_id,
                secret_version,
                outcome,
            } => {
                let current = self.live(credential_id)?.secret_version;
                if current != secret_version {
                    return Err(KeyringError::StaleValidation {
                        checked: secret_version,
                        current,
                    });
                }
                self.record_validation(credential_id, outcome, sink).await?;
            }
            KeyringCommand::SetPrimary { credential_id } => {
                let c = self.live(credential_id)?;
                if c.status != CredentialStatus::Active {
                    return Err(KeyringError::NotActive);
                }
                if !c.is_primary {
                    let previous = self.primary().map(|p| p.id);
                    sink.write(
                        KeyringEvent::PrimaryCredentialChanged {
                            previous,
                            current: Some(credential_id),
                            reason: PrimaryChangeReason::Chosen,
                        },
                        self,
                    )
                    .await;
                }
            }
            KeyringCommand::RevokeCredential {
                credential_id,
                reason,
            } => {
                let previous_status = self.not_revoked(credential_id, "revoked")?.status;
                let reason = reason
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty());
                if let Some(r) = &reason {
                    crate::user::check_text(r, "the revocation's reason", REVOKE_REASON_MAX)?;
                }
                sink.write(
                    KeyringEvent::CredentialRevoked {
                        credential_id,
                        reason,
                        previous_status,
                        status: CredentialStatus::Revoked,
                    },
                    self,
                )
                .await;
            }
            KeyringCommand::EraseCredential { credential_id } => {
                let c = self.live(credential_id)?;
                let (name, previous_status) = (c.name.clone(), c.status);
                sink.write(
                    KeyringEvent::CredentialErased {
                        credential_id,
                        name,
                        previous_status,
                    },
                    self,
                )
                .await;
            }
            KeyringCommand::MarkExpired { credential_id, now } => {
                self.expire(credential_id, now, false, sink).await?;
            }
            KeyringCommand::EndAuthorization { credential_id, now } => {
                self.expire(credential_id, now, true, sink).await?;
            }
            KeyringCommand::RecordOAuthRefresh {
                credential_id,
                secret_version,
                fields,
                expires_at,
                issued_at,
            } => {
                let current = self.not_revoked(credential_id, "refreshed")?.secret_version;
                if current != secret_version {
                    return Err(KeyringError::StaleValidation {
                        checked: secret_version,
                        current,
                    });
                }
                let version = current + 1;
                let service = self.owner.as_ref().map(|(_, s)| s.clone());
                let service = service.ok_or(KeyringError::NotFound(credential_id))?;
                let definition = Self::service_definition(services, &service)?;
                if definition.oauth.is_none() {
                    return Err(InputError::Malformed {
                        what: "OAuth refresh",
                        detail: format!("{} does not use OAuth", definition.display_name),
                    }
                    .into());
                }
                definition.check_fields(&fields)?;
                let secret = Self::seal(services, credential_id, version, &fields).await?;
                sink.write(
                    KeyringEvent::OAuthTokenRefreshed {
                        credential_id,
                        secret,
                        secret_version: version,
                        expires_at,
                        issued_at: Some(issued_at),
                    },
                    self,
                )
                .await;
            }
            KeyringCommand::RecordMcpSync {
                credential_id,
                target,
                ledger_version,
                sync_position,
                outcome,
            } => {
                if !self.credentials.iter().any(|c| c.id == credential_id) {
                    return Err(KeyringError::NotFound(credential_id));
                }
                let event = match outcome {
                    McpSyncOutcome::Synced { mcp_id } => KeyringEvent::CredentialSyncedToMcp {
                        credential_id,
                        target,
                        ledger_version,
                        mcp_id,
                        sync_position,
                    },
                    McpSyncOutcome::Failed { error } => KeyringEvent::CredentialSyncFailed {
                        credential_id,
                        target,
                        ledger_version,
                        error,
                        sync_position,
                    },
                    McpSyncOutcome::Removed { mcp_id } => KeyringEvent::CredentialRemovedFromMcp {
                        credential_id,
                        target,
                        ledger_version,
                        mcp_id,
                        sync_position,
                    },
                    McpSyncOutcome::Drifted { reported_version } => {
                        KeyringEvent::CredentialDriftedOnMcp {
                            credential_id,
                            target,
                            ledger_version,
                            reported_version,
                            sync_position,
                        }
                    }
                };
                sink.write(event, self).await;
            }
        }
        self.settle_primary(sink).await;
        Ok(())
    }

    fn with_credential(&mut self, id: CredentialId, f: impl FnOnce(&mut CredentialState)) {
        if let Some(c) = self.credentials.iter_mut().find(|c| c.id == id) {
            f(c);
        }
    }
}

impl Aggregate for Keyring {
    const TYPE: &'static str = "keyring";
    type Command = KeyringCommand;
    type Event = KeyringEvent;
    type Error = KeyringError;
    type Services = KeyringServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        self.handle_command(command, services, sink).await
    }

    fn apply(&mut self, event: Self::Event) {
        use KeyringEvent::*;
        match event {
            CredentialRegistered {
                credential_id,
                user_id,
                service,
                name,
                metadata,
                secret,
                secret_version,
                status,
            } => {
                self.owner.get_or_insert((user_id, service));
                self.credentials.push(CredentialState {
                    id: credential_id,
                    name,
                    status,
                    is_primary: false,
                    account: None,
                    metadata,
                    secret,
                    secret_version,
                    expires_at: None,
                    erased: false,
                    could_not_check: None,
                    token_issued_at: None,
                });
            }
            CredentialRenamed {
                credential_id,
                new_name,
                ..
            } => self.with_credential(credential_id, |c| c.name = new_name),
            CredentialMetadataChanged {
                credential_id,
                new_metadata,
                ..
            } => self.with_credential(credential_id, |c| c.metadata = new_metadata),
            SecretReplaced {
                credential_id,
                secret,
                secret_version,
                status,
                ..
            } => self.with_credential(credential_id, |c| {
                c.secret = secret;
                c.secret_version = secret_version;
                c.status = status;
                // The old token's expiry says nothing about the new secret.
                c.expires_at = None;
                c.token_issued_at = None;
                c.could_not_check = None;
            }),
            CredentialValidated {
                credential_id,
                account,
                expires_at,
                status,
                ..
            } => self.with_credential(credential_id, |c| {
                c.account = Some(account);
                c.expires_at = expires_at;
                c.status = status;
                c.could_not_check = None;
            }),
            ValidationFailed {
                credential_id,
                status,
                ..
            } => self.with_credential(credential_id, |c| {
                c.status = status;
                c.could_not_check = None;
            }),
            CredentialRevoked {
                credential_id,
                status,
                ..
            }
            | CredentialExpired {
                credential_id,
                status,
                ..
            } => self.with_credential(credential_id, |c| c.status = status),
            ValidationInconclusive {
                credential_id,
                reason,
                ..
            } => self.with_credential(credential_id, |c| c.could_not_check = Some(reason)),
            CredentialSyncedToMcp { .. }
            | CredentialSyncFailed { .. }
            | CredentialRemovedFromMcp { .. }
            | CredentialDriftedOnMcp { .. } => {}
            PrimaryCredentialChanged { current, .. } => {
                for c in &mut self.credentials {
                    c.is_primary = Some(c.id) == current;
                }
            }
            CredentialErased { credential_id, .. } => self.with_credential(credential_id, |c| {
                c.erased = true;
            }),
            OAuthTokenRefreshed {
                credential_id,
                secret,
                secret_version,
                expires_at,
                issued_at,
            } => self.with_credential(credential_id, |c| {
                c.secret = secret;
                c.secret_version = secret_version;
                c.expires_at = expires_at;
                c.token_issued_at = issued_at;
                // `could_not_check` stays: a refresh is the same grant, not a check, and an
                // OAuth credential refreshed every hour while its provider's check stays down
                // would otherwise record "could not check" at every scheduled run.
            }),
        }
    }
}
