//! The GraphQL API: schema, request context and the rules every resolver shares (who is asking,
//! what they may see, how errors read). The transport (our own axum handler) is in `http`.

mod limits;
mod live;
mod mutation;
mod query;
mod subscription;
pub mod types;

pub use live::{LiveFeed, NotStarted};

use crate::accounts::Accounts;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::ledger::Ledger;
use crate::limits::{Budget, Limits};
use async_graphql::{Context, Schema};
use credledger_domain::ports::Validator;
use credledger_domain::user::{Permission, Scope};
use credledger_domain::EventMetadata;
use std::sync::Arc;

pub type ApiSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// What every request shares: the use cases and the limits.
pub struct Api {
    pub ledger: Arc<Ledger>,
    pub accounts: Arc<Accounts>,
    pub mcp: Arc<crate::mcp::McpServers>,
    pub validator: Arc<dyn Validator>,
    /// The API rate limit, the live-check budget and the sign-in throttle.
    pub limits: Arc<Limits>,
    /// Credentials expiring within this window count as expiring soon (the expiry job's).
    pub expiry_warning: chrono::Duration,
    pub live: LiveFeed,
    /// The operations each person or token holds open over WebSockets (`crate::http`).
    pub open_per_subject: crate::http::OpenPerSubject,
    /// Answers of read-only queries, given again while they hold (see `crate::memo`).
    pub answers: crate::memo::AnswerMemo,
    /// `Secure` session cookies (off only in dev mode on loopback).
    pub secure_cookies: bool,
    /// Reverse proxies trusted to name the client (`X-Forwarded-For`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// OAuth clients and the connections in progress.
    pub oauth: Arc<crate::oauth::OAuthConnections>,
    /// Refreshes OAuth tokens before they are disclosed.
    pub tokens: Arc<crate::oauth::TokenRefresher>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").finish_non_exhaustive()
    }
}

/// Who is asking, and from where; one per request (or WebSocket connection).
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub principal: Option<Principal>,
    /// An MCP server's token (never together with `principal`).
    pub server: Option<crate::auth::ServerPrincipal>,
    pub request_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl RequestContext {
    /// The metadata every event of this request carries.
    pub fn metadata(&self) -> EventMetadata {
        EventMetadata {
            actor: match (&self.principal, &self.server) {
                (Some(p), _) => p.user_id.to_string(),
                (None, Some(s)) => format!("mcp:{}", s.server_id),
                (None, None) => "anonymous".to_owned(),
            },
            occurred_at: chrono::Utc::now(),
            request_id: self.request_id.clone(),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }
}

pub use limits::{PlainQueryFields, MAX_ALIASES, MAX_DEPTH};

/// The library's own limit on a query's complexity (fields, weighted).
pub const MAX_COMPLEXITY: usize = 2_000;

/// Builds the schema: the document limits of the `limits` module first, then the library's own
/// (depth, complexity, recursion, directives). Introspection and suggestions only in dev mode.
pub fn schema(api: Option<Arc<Api>>, dev: bool) -> ApiSchema {
    let depth = if dev {
        limits::MAX_INTROSPECTION_DEPTH
    } else {
        MAX_DEPTH
    };
    let mut builder = Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        // Outermost, so it sees the codes `Limits` gives refused documents.
        .extension(crate::metrics::GraphqlMetrics)
        .extension(limits::Limits::new(dev))
        .limit_depth(depth)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(limits::MAX_SELECTION_NESTING)
        // Per field; `Limits` bounds them in the whole document first (`MAX_DIRECTIVES`).
        .limit_directives(16);
    if !dev {
        builder = builder.disable_introspection().disable_suggestions();
    }
    if let Some(api) = api {
        builder = builder.data(api);
    }
    builder.finish()
}

/// The schema's SDL: the committed contract in `docs/schema.graphql`.
pub fn sdl() -> String {
    schema(None, true).sdl()
}

pub(crate) fn api<'a>(ctx: &Context<'a>) -> &'a Arc<Api> {
    // The schema is always built with its `Api` when it serves requests.
    ctx.data_unchecked::<Arc<Api>>()
}

pub(crate) fn request<'a>(ctx: &Context<'a>) -> &'a RequestContext {
    ctx.data_unchecked::<RequestContext>()
}

/// Runs a resolver body, turning its error into a GraphQL error with a stable code.
pub(crate) async fn answer<T>(
    ctx: &Context<'_>,
    body: impl std::future::Future<Output = Result<T, ApiError>>,
) -> async_graphql::Result<T> {
    body.await
        .map_err(|e| e.into_graphql(&request(ctx).request_id))
}

pub(crate) fn signed_in<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    request(ctx)
        .principal
        .as_ref()
        .ok_or(ApiError::Unauthenticated)
}

/// A person signed in through the browser (tokens are for machines and carry scopes).
pub(crate) fn session<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    let p = signed_in(ctx)?;
    if !p.is_session() {
        return Err(ApiError::Forbidden(
            "this action needs a signed-in session, not an API token".into(),
        ));
    }
    Ok(p)
}

/// A principal allowed `scope` (sessions always are).
pub(crate) fn with_scope<'a>(ctx: &Context<'a>, scope: Scope) -> Result<&'a Principal, ApiError> {
    let p = signed_in(ctx)?;
    if !p.allows(scope) {
        return Err(ApiError::Forbidden(format!(
            "this API token lacks the scope {scope}"
        )));
    }
    Ok(p)
}

pub(crate) fn admin<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    let p = session(ctx)?;
    if !p.is_admin() {
        return Err(ApiError::Forbidden("this needs an administrator".into()));
    }
    Ok(p)
}

/// What a resolver wants to do with a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    View,
    Edit,
    Delete,
    /// Only the owner, whatever anyone's permissions (secrets).
    Owner,
}

/// Where a credential lives (owner and service) if `p` may `access` it. Someone who may not even see another
/// person's credential gets `NOT_FOUND`, exactly as for an id that does not exist.
pub(crate) async fn credential_for(
    api: &Api,
    p: &Principal,
    id: &str,
    access: Access,
) -> Result<credledger_domain::KeyringId, ApiError> {
    credledger_domain::CredentialId::parse(id).map_err(|_| ApiError::NotFound)?;
    // Where it lives, as this process remembers it or the read model says: a credential never
    // moves, and one just added is remembered before the read model shows it.
    let (_, row) = api.ledger.locate(id).await?;
    if row.user_id == p.user_id {
        return Ok(row);
    }
    let may_see = p.has(Permission::CredentialsViewAll)
        || p.has(Permission::CredentialsEditAll)
        || p.has(Permission::CredentialsDeleteAll);
    if !may_see {
        return Err(ApiError::NotFound);
    }
    let allowed = match access {
        Access::View => true,
        Access::Edit => p.has(Permission::CredentialsEditAll),
        Access::Delete => p.has(Permission::CredentialsDeleteAll),
        Access::Owner => false,
    };
    if allowed {
        Ok(row)
    } else if access == Access::Owner {
        Err(ApiError::Forbidden(
            "secrets are shown only to their owner".into(),
        ))
    } else {
        Err(ApiError::Forbidden(
            "you may see this credential but not change it".into(),
        ))
    }
}

/// Takes one live check from the person's budget, or answers `RATE_LIMITED`; the count left
/// is the result's `rateLimitRemaining` (the `X-RateLimit-*` headers are the API rate
/// limit's).
pub(crate) async fn spend_validation(ctx: &Context<'_>, p: &Principal) -> Result<i32, ApiError> {
    match api(ctx).limits.live_check(p.user_id.as_str()).await? {
        Budget::Allowed { remaining } => Ok(i32::try_from(remaining).unwrap_or(i32::MAX)),
        Budget::Exhausted { retry_after } => Err(ApiError::RateLimited {
            retry_after: crate::limits::whole_seconds(retry_after),
        }),
    }
}
