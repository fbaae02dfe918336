//! Why a keyring refused a command.

use super::CredentialStatus;
use crate::{CredentialId, InputError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("this keyring belongs to another user or service")]
    WrongKeyring,
    #[error("credential {0} not found")]
    NotFound(CredentialId),
    #[error("credential {0} already exists")]
    AlreadyExists(CredentialId),
    #[error("a credential named `{0}` already exists for this service")]
    NameTaken(String),
    #[error("{0} supports a single account; remove the existing credential first")]
    MultiAccountNotSupported(String),
    #[error("this account ({0}) is already stored as `{1}`")]
    DuplicateAccount(String, String),
    #[error("a {from} credential cannot be {action}")]
    IllegalTransition {
        from: CredentialStatus,
        action: &'static str,
    },
    #[error("only an active credential can be primary")]
    NotActive,
    #[error(
        "the checked secret (version {checked}) is no longer the current one (version {current})"
    )]
    StaleValidation { checked: u32, current: u32 },
    #[error("the credential has not expired yet")]
    NotExpired,
    #[error("the secret could not be encrypted: {0}")]
    Cipher(String),
    /// The key store could not be reached: nothing was decided against the credential.
    #[error("the key store is unavailable: {0}")]
    KeysUnavailable(String),
}
