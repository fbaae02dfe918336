//! What the aggregates call on the outside world. Implemented in `credledger-adapters`.

use crate::{CredentialId, SealedSecret, SecretFields};

/// Why sealing a secret failed. Carries no secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// The credential's data key was destroyed: it has been erased (the erasure event is always
    /// committed before its key is destroyed).
    #[error("the credential's data key was destroyed")]
    KeyDestroyed,
    #[error("{0}")]
    Failed(String),
    /// The key store could not be reached (its database): worth trying again.
    #[error("the key store is unavailable: {0}")]
    Unavailable(String),
}

/// Encrypts a credential's fields under the credential's own data key. The ciphertext is bound
/// (AAD) to the credential id and the secret's version, so it cannot be moved to another record.
#[async_trait::async_trait]
pub trait Cipher: Send + Sync {
    async fn seal(
        &self,
        credential: CredentialId,
        secret_version: u32,
        fields: &SecretFields,
    ) -> Result<SealedSecret, CipherError>;
}

/// Asks a service's provider whether a credential's fields are good, live. Never fails: a
/// provider that cannot be asked answers
/// [`CouldNotCheck`](crate::keyring::ValidationOutcome::CouldNotCheck), which says nothing about
/// the credential. Implementations never put the secret in a log line or a message.
#[async_trait::async_trait]
pub trait Validator: Send + Sync {
    async fn validate(
        &self,
        service: &crate::ServiceDefinition,
        fields: &SecretFields,
    ) -> crate::keyring::ValidationOutcome;

    /// [`Validator::validate`] with a single request, no retry after a busy answer (429, 503):
    /// for scheduled checks, which pace themselves to a share of each service's limit per
    /// check, so a check must spend one request of it. A check that could not be made is
    /// tried again by a later run. A validator that never retries keeps this default.
    async fn validate_once(
        &self,
        service: &crate::ServiceDefinition,
        fields: &SecretFields,
    ) -> crate::keyring::ValidationOutcome {
        self.validate(service, fields).await
    }

    /// Why the address a check of these fields would call is refused by the deployment's
    /// outbound policy (a private or loopback address, plain `http`), if it is: a mistake in
    /// what the person typed, answered before anything is sent or stored.
    async fn refused_destination(
        &self,
        _service: &crate::ServiceDefinition,
        _fields: &SecretFields,
    ) -> Option<String> {
        None
    }
}
