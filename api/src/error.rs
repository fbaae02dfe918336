//! The one error type at the edge. Each variant maps to a stable `extensions.code`; internal
//! detail is logged once, with the request id, and never returned.

use crate::ledger::LedgerError;
use async_graphql::ErrorExtensions as _;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("sign in first")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Validation(String),
    /// The provider refused the secret; the message is the provider's own.
    #[error("the provider refused the credential: {0}")]
    InvalidCredential(String),
    /// The provider could not be asked; nothing was stored or changed.
    #[error("the provider could not be reached: {0}")]
    ProviderUnreachable(String),
    #[error("too many attempts; try again in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    #[error("{0}")]
    Conflict(String),
    /// Logged with the request id; the client sees only that something failed.
    #[error("internal error")]
    Internal(String),
    /// The database (or a lease holder the answer waits for) could not be reached now; nothing
    /// was changed, unless the connection failed at the commit itself (the logged detail says
    /// so; ADR 0013). Logged with the request id; answered with `retryAfter` and HTTP 503.
    #[error("the service is unavailable for a moment; try again in {RETRY_UNAVAILABLE} seconds")]
    Unavailable(String),
}

/// The wait an `UNAVAILABLE` answer asks for.
pub const RETRY_UNAVAILABLE: u64 = 2;

impl ApiError {
    /// Every code [`ApiError::code`] answers with: the closed list clients (and metric labels)
    /// may rely on.
    pub const CODES: [&'static str; 10] = [
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "NOT_FOUND",
        "VALIDATION",
        "INVALID_CREDENTIAL",
        "PROVIDER_UNREACHABLE",
        "RATE_LIMITED",
        "CONFLICT",
        "INTERNAL",
        "UNAVAILABLE",
    ];

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::Validation(_) => "VALIDATION",
            Self::InvalidCredential(_) => "INVALID_CREDENTIAL",
            Self::ProviderUnreachable(_) => "PROVIDER_UNREACHABLE",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Conflict(_) => "CONFLICT",
            Self::Internal(_) => "INTERNAL",
            Self::Unavailable(_) => "UNAVAILABLE",
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    /// The GraphQL error: a person's message and the stable code. Internal detail goes to the
    /// log here, once, never to the client.
    pub fn into_graphql(self, request_id: &str) -> async_graphql::Error {
        let message = match &self {
            Self::Internal(detail) => {
                tracing::error!(request_id, error = %detail, "request failed");
                format!("internal error (request id {request_id})")
            }
            Self::Unavailable(detail) => {
                tracing::warn!(request_id, error = %detail, "request failed: unavailable");
                format!("{self} (request id {request_id})")
            }
            other => other.to_string(),
        };
        let code = self.code();
        let retry_after = match self {
            Self::RateLimited { retry_after } => Some(retry_after),
            Self::Unavailable(_) => Some(RETRY_UNAVAILABLE),
            _ => None,
        };
        async_graphql::Error::new(message).extend_with(|_, e| {
            e.set("code", code);
            if let Some(seconds) = retry_after {
                e.set("retryAfter", seconds);
            }
        })
    }
}

/// The one mapping from the ledger's errors to the API's, by variant (the CLI's codes come
/// from it too, `LedgerError::code`).
impl From<&LedgerError> for ApiError {
    fn from(e: &LedgerError) -> Self {
        use credledger_domain::keyring::KeyringError as Rule;
        match e {
            LedgerError::Input(_) | LedgerError::Rule(Rule::Input(_)) => {
                Self::Validation(e.to_string())
            }
            LedgerError::NotFound | LedgerError::Rule(Rule::NotFound(_)) => Self::NotFound,
            LedgerError::Conflict
            | LedgerError::Rule(
                Rule::WrongKeyring
                | Rule::AlreadyExists(_)
                | Rule::NameTaken(_)
                | Rule::MultiAccountNotSupported(_)
                | Rule::DuplicateAccount(..)
                | Rule::IllegalTransition { .. }
                | Rule::NotActive
                | Rule::StaleValidation { .. }
                | Rule::NotExpired,
            ) => Self::Conflict(e.to_string()),
            LedgerError::Unavailable(_) | LedgerError::Rule(Rule::KeysUnavailable(_)) => {
                Self::Unavailable(format!("{e}: {e:?}"))
            }
            LedgerError::Rule(Rule::Cipher(_)) | LedgerError::Internal(_) => {
                Self::Internal(format!("{e}: {e:?}"))
            }
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        (&e).into()
    }
}

impl From<credledger_domain::InputError> for ApiError {
    fn from(e: credledger_domain::InputError) -> Self {
        Self::Validation(e.to_string())
    }
}

impl From<credledger_projections::ProjectionError> for ApiError {
    fn from(e: credledger_projections::ProjectionError) -> Self {
        match e {
            credledger_projections::ProjectionError::Db(e) => e.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        credledger_adapters::DbError::Query(e).into()
    }
}

impl From<credledger_adapters::DbError> for ApiError {
    fn from(e: credledger_adapters::DbError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(e.to_string())
        } else {
            Self::Internal(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ApiError;

    #[test]
    fn every_code_is_in_the_list() {
        for e in [
            ApiError::Unauthenticated,
            ApiError::Forbidden(String::new()),
            ApiError::NotFound,
            ApiError::Validation(String::new()),
            ApiError::InvalidCredential(String::new()),
            ApiError::ProviderUnreachable(String::new()),
            ApiError::RateLimited { retry_after: 1 },
            ApiError::Conflict(String::new()),
            ApiError::Internal(String::new()),
            ApiError::Unavailable(String::new()),
        ] {
            assert!(ApiError::CODES.contains(&e.code()), "{}", e.code());
        }
    }

    #[test]
    fn ledger_errors_map_by_variant() {
        use crate::ledger::LedgerError;
        use credledger_domain::keyring::KeyringError as Rule;
        let id = credledger_domain::CredentialId::parse("8e5b2a9c-0f8e-4c4b-9a51-2f6f0c8a1d3e")
            .expect("a valid id");
        let input = credledger_domain::InputError::Empty { what: "name" };
        for (e, code) in [
            (LedgerError::Input(input.clone()), "VALIDATION"),
            (LedgerError::Rule(Rule::Input(input)), "VALIDATION"),
            (LedgerError::NotFound, "NOT_FOUND"),
            (LedgerError::Rule(Rule::NotFound(id)), "NOT_FOUND"),
            (LedgerError::Conflict, "CONFLICT"),
            (
                LedgerError::Rule(Rule::NameTaken("work".into())),
                "CONFLICT",
            ),
            (LedgerError::Rule(Rule::NotActive), "CONFLICT"),
            (LedgerError::Rule(Rule::Cipher("sealed".into())), "INTERNAL"),
            (LedgerError::Unavailable("down".into()), "UNAVAILABLE"),
            (
                LedgerError::Rule(Rule::KeysUnavailable("down".into())),
                "UNAVAILABLE",
            ),
            (LedgerError::Internal("bug".into()), "INTERNAL"),
        ] {
            assert_eq!(ApiError::from(&e).code(), code, "{e:?}");
            assert_eq!(e.code(), code, "the CLI's code is the API's");
        }
    }

    #[test]
    fn account_and_mcp_server_commands_that_cannot_reach_the_database_are_unavailable() {
        use credledger_adapters::CommandError;
        use credledger_domain::mcp_server::McpServerError;
        use credledger_domain::user::UserError;
        let user = ApiError::from(CommandError::<UserError>::Unavailable("down".into()));
        let server = ApiError::from(CommandError::<McpServerError>::Unavailable("down".into()));
        assert_eq!((user.code(), server.code()), ("UNAVAILABLE", "UNAVAILABLE"));
        let user = ApiError::from(CommandError::<UserError>::Internal("bug".into()));
        let server = ApiError::from(CommandError::<McpServerError>::Internal("bug".into()));
        assert_eq!((user.code(), server.code()), ("INTERNAL", "INTERNAL"));
    }
}
