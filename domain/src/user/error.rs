//! Why a user refused a command.

use super::Permission;
use crate::InputError;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("user not found")]
    NotFound,
    #[error("the user already exists")]
    AlreadyExists,
    #[error("the user is already locked")]
    AlreadyLocked,
    #[error("the user is not locked")]
    NotLocked,
    #[error("the user is locked")]
    Locked,
    #[error("the user already holds the permission {0}")]
    PermissionAlreadyGranted(Permission),
    #[error("the user does not hold the permission {0} explicitly")]
    PermissionNotGranted(Permission),
    #[error("an API token needs at least one scope")]
    NoScopes,
    #[error("an API token must expire after the time it is issued")]
    ExpiryNotInFuture,
    #[error("an active API token named `{0}` already exists")]
    TokenNameTaken(String),
    #[error("a user may hold at most {max} active API tokens")]
    TooManyTokens { max: usize },
    #[error("API token {0} already exists")]
    TokenAlreadyExists(Uuid),
    #[error("API token {0} not found")]
    TokenNotFound(Uuid),
}
