//! Why an MCP server refused a command.

use crate::{InputError, ServiceKey, UserId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McpServerError {
    #[error(transparent)]
    Input(#[from] InputError),
    /// A token rule (name, hash, scopes, expiry, limits), worded as for a user's tokens.
    #[error(transparent)]
    Token(#[from] crate::user::UserError),
    #[error("MCP server not found")]
    NotFound,
    #[error("the MCP server already exists")]
    AlreadyExists,
    /// An administrator asked what only the operator may do ([`super::Authority`]); names
    /// what was asked.
    #[error(
        "only the operator may {0} an MCP server that holds every user's credentials without \
         their grants (`credledger mcp`)"
    )]
    OperatorOnly(&'static str),
    #[error("the MCP server has been removed")]
    Removed,
    #[error("an MCP server must be allowed at least one service")]
    NoServices,
    #[error("the MCP server is not allowed credentials for `{0}`")]
    ServiceNotAllowed(ServiceKey),
    #[error("{user_id} has already granted the MCP server access to `{service}`")]
    AccessAlreadyGranted {
        user_id: UserId,
        service: ServiceKey,
    },
    #[error("{user_id} has not granted the MCP server access to `{service}`")]
    AccessNotGranted {
        user_id: UserId,
        service: ServiceKey,
    },
}
