//! Mutations. Each one that changes the ledger appends its events with the request's actor,
//! request id, IP and user agent, waits (bounded) until the read models show the change, and
//! answers with what it committed, never with a read model that has not caught up: a
//! credential from the read model once it shows the command, else from its keyring's stream; a
//! user, an MCP server and their tokens from their own streams.

use super::types::*;
use super::{
    admin, answer, api, credential_for, request, session, spend_validation, with_scope, Access,
};
use crate::accounts::NewUser;
use crate::auth::{session_cookie_name, Password, Via, SESSION_LIFETIME};
use crate::error::ApiError;
use crate::ledger::NewCredential;
use crate::mcp::{Authority, NewMcpServer};
use async_graphql::{Context, Json, Object, ID};
use cqrs_es::Aggregate as _;
use credledger_adapters::feed::read_stream;
use credledger_adapters::Committed;
use credledger_domain::keyring::Keyring;
use credledger_domain::keyring::ValidationOutcome;
use credledger_domain::user as domain;
use credledger_domain::{CredentialId, KeyringId, SecretFields};
use credledger_projections::credential_summary::CredentialSummary;
use credledger_projections::{credential_summary, mcp_sync, principals};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub struct Mutation;

/// The secret's fields as they arrived, checked against the service: every required field,
/// no unknown one, formats respected.
fn parse_fields(
    definition: &credledger_domain::ServiceDefinition,
    fields: &Value,
) -> Result<SecretFields, ApiError> {
    let Some(object) = fields.as_object() else {
        return Err(ApiError::Validation(
            "`fields` must be a JSON object of strings".into(),
        ));
    };
    // Pasted values often carry a newline or spaces around them: they are not part of a secret.
    let trimmed: serde_json::Map<String, Value> = object
        .iter()
        .map(|(k, v)| match v {
            Value::String(text) => (k.clone(), Value::String(text.trim().to_owned())),
            other => (k.clone(), other.clone()),
        })
        .collect();
    let bytes = zeroize::Zeroizing::new(serde_json::to_vec(&trimmed).map_err(ApiError::internal)?);
    let parsed = SecretFields::from_json_bytes(&bytes)?;
    definition.check_fields(&parsed)?;
    Ok(parsed)
}

/// [`parse_fields`], then the address a check would call against the outbound policy: a
/// refused address is the person's mistake (`VALIDATION`), found before anything is sent.
async fn checked_fields(
    api: &crate::graphql::Api,
    definition: &credledger_domain::ServiceDefinition,
    fields: &Value,
) -> Result<SecretFields, ApiError> {
    let parsed = parse_fields(definition, fields)?;
    refuse_destination(api, definition, &parsed).await?;
    Ok(parsed)
}

async fn refuse_destination(
    api: &crate::graphql::Api,
    definition: &credledger_domain::ServiceDefinition,
    fields: &SecretFields,
) -> Result<(), ApiError> {
    match api.validator.refused_destination(definition, fields).await {
        Some(why) => Err(ApiError::Validation(why)),
        None => Ok(()),
    }
}

fn outcome_parts(
    outcome: &ValidationOutcome,
) -> (
    ValidationResult,
    Option<String>,
    Option<AccountIdentity>,
    Vec<String>,
) {
    match outcome {
        ValidationOutcome::Valid {
            account, scopes, ..
        } => (
            ValidationResult::Valid,
            None,
            Some(AccountIdentity {
                id: account.id.clone(),
                display_name: account.display_name.clone(),
                email: account.email.clone(),
            }),
            scopes.clone(),
        ),
        ValidationOutcome::Invalid { message } => (
            ValidationResult::Invalid,
            Some(message.clone()),
            None,
            vec![],
        ),
        ValidationOutcome::CouldNotCheck { reason } => (
            ValidationResult::CouldNotCheck,
            Some(reason.clone()),
            None,
            vec![],
        ),
    }
}

/// A new secret must be accepted by its provider before it is kept.
fn require_valid(outcome: &ValidationOutcome) -> Result<(), ApiError> {
    match outcome {
        ValidationOutcome::Valid { .. } => Ok(()),
        ValidationOutcome::Invalid { message } => Err(ApiError::InvalidCredential(message.clone())),
        ValidationOutcome::CouldNotCheck { reason } => {
            Err(ApiError::ProviderUnreachable(reason.clone()))
        }
    }
}

/// Refreshes the OAuth tokens of `user`'s `service` that are about to expire, before one is
/// disclosed (nothing for services connected by pasting).
async fn refresh_if_oauth(api: &crate::graphql::Api, user: &str, service: &str) {
    let keyring = (|| {
        let definition = api.ledger.catalog.enabled_service(service).ok()?;
        definition.oauth.as_ref()?;
        Some(credledger_domain::KeyringId::new(
            credledger_domain::UserId::parse(user).ok()?,
            definition.key.clone(),
        ))
    })();
    if let Some(keyring) = keyring {
        api.tokens.keyring(&keyring).await;
    }
}

/// An OAuth credential's refresh token, read before the credential is revoked or erased so the
/// grant can be revoked at the provider too; `None` (nothing to revoke) when another credential
/// that is neither revoked nor erased, of anyone, holds the same account at the same provider:
/// a provider such as Google revokes the client's whole grant for the account, whichever token
/// is sent, and the other credential's tokens with it.
async fn oauth_grant(
    api: &crate::graphql::Api,
    keyring: &KeyringId,
    id: &str,
) -> Option<(
    credledger_domain::ServiceDefinition,
    credledger_domain::SecretString,
)> {
    let definition = api
        .ledger
        .catalog
        .enabled_service(keyring.service.as_str())
        .ok()?;
    let (flow, _) = api.oauth.client_for(definition)?;
    let account = match api.ledger.keyring(keyring).await {
        Ok(state) => CredentialId::parse(id)
            .ok()
            .and_then(|c| state.credential(c).and_then(|c| c.account.clone())),
        Err(e) => {
            tracing::warn!(credential = %id, error = %e, "could not read a credential's account; its grant is not revoked at the provider");
            return None;
        }
    };
    if let Some(account) = account {
        match crate::oauth::others_holding_account(api, &flow.provider, &account.id, id).await {
            Ok(others) if others.is_empty() => {}
            Ok(others) => {
                tracing::info!(credential = %id, provider = %flow.provider, others = ?others, "not revoking the grant at the provider: other credentials hold the same account, and the provider would end their grant too");
                return None;
            }
            Err(e) => {
                tracing::warn!(credential = %id, error = %e, "could not tell whether other credentials hold the same account; its grant is not revoked at the provider");
                return None;
            }
        }
    }
    let (_, _, fields) = api.ledger.secret_for_check(id).await.ok()?;
    let token = fields
        .get(credledger_domain::catalog::OAuthFlow::REFRESH_TOKEN)?
        .clone();
    Some((definition.clone(), token))
}

/// Revokes a grant at the provider in the background (a few attempts, logged); the local
/// revocation or erasure never waits on it.
fn revoke_at_provider(
    api: &crate::graphql::Api,
    grant: Option<(
        credledger_domain::ServiceDefinition,
        credledger_domain::SecretString,
    )>,
) {
    let Some((definition, token)) = grant else {
        return;
    };
    let oauth = api.oauth.clone();
    tokio::spawn(async move {
        for attempt in 1..=3u32 {
            match oauth.revoke(&definition, token.expose()).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(service = %definition.key, attempt, error = %e, "could not revoke an OAuth grant at the provider");
                    tokio::time::sleep(std::time::Duration::from_secs(u64::from(attempt) * 2))
                        .await;
                }
            }
        }
    });
}

/// A credential as the command that produced `committed` left it (or newer): from the read
/// model once it shows the command, else from its keyring's stream (see
/// [`keyring_as_committed`]). Never the state before the command.
async fn reload(ctx: &Context<'_>, id: &str, committed: Committed) -> Result<Credential, ApiError> {
    let a = api(ctx);
    if a.ledger.shows(&CredentialSummary, committed) {
        return credential_summary::get(&a.ledger.db.any, id)
            .await?
            .map(Credential::from)
            .ok_or(ApiError::NotFound);
    }
    let (_, keyring) = a.ledger.locate(id).await?;
    keyring_as_committed(a, &keyring, committed)
        .await?
        .into_iter()
        .find(|s| s.credential_id == id)
        .map(Credential::from)
        .ok_or(ApiError::NotFound)
}

/// A keyring's credentials as they stand after `committed`: the read model's rows once it
/// shows the command; while it lags, its rows brought up to the keyring's stream by the read
/// model's own fold, so a committed command is never answered with the state before it.
async fn keyring_as_committed(
    a: &super::Api,
    keyring: &KeyringId,
    committed: Committed,
) -> Result<Vec<credential_summary::Summary>, ApiError> {
    let shown = a.ledger.shows(&CredentialSummary, committed);
    let stored = credential_summary::list(
        &a.ledger.db,
        credential_summary::Filter {
            user_id: Some(keyring.user_id.as_str()),
            service: Some(keyring.service.as_str()),
            status: None,
        },
        None,
        1_000,
    )
    .await?;
    if shown {
        return Ok(stored);
    }
    tracing::info!("read models are behind a committed command; answering from its stream");
    let stream = read_stream(&a.ledger.db, Keyring::TYPE, &keyring.to_string()).await?;
    Ok(credential_summary::as_committed(keyring, &stream, stored)?)
}

/// A user and their API tokens as their own stream has them after a command: what the command
/// committed, however far behind the `principals` read model is
/// ([`principals::user_as_committed`]).
async fn user_as_committed(
    a: &super::Api,
    id: &str,
) -> Result<(principals::UserRow, Vec<principals::TokenRow>), ApiError> {
    let stream = read_stream(&a.ledger.db, domain::User::TYPE, id).await?;
    principals::user_as_committed(&stream)?.ok_or(ApiError::NotFound)
}

async fn user_row(ctx: &Context<'_>, id: &str) -> Result<User, ApiError> {
    Ok(user_as_committed(api(ctx), id).await?.0.into())
}

/// An MCP server's stream, for answers built from what a command committed.
async fn server_stream(
    a: &super::Api,
    id: &str,
) -> Result<Vec<credledger_adapters::feed::FeedEvent>, ApiError> {
    let kind = credledger_domain::mcp_server::McpServer::TYPE;
    Ok(read_stream(&a.ledger.db, kind, id).await?)
}

fn set_cookie(ctx: &Context<'_>, value: &str, max_age: u64) {
    let secure = api(ctx).secure_cookies;
    let mut cookie = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}",
        session_cookie_name(secure)
    );
    if secure {
        cookie.push_str("; Secure");
    }
    ctx.append_http_header("set-cookie", cookie);
}

#[Object]
impl Mutation {
    /// Signs in with an email (or user id) and password; sets the session cookie.
    async fn login(
        &self,
        ctx: &Context<'_>,
        login: String,
        password: String,
    ) -> async_graphql::Result<LoginPayload> {
        answer(ctx, async {
            let req = request(ctx);
            let (secret, user) = api(ctx)
                .accounts
                .login(&login, Password::offered(password), req.ip.as_deref())
                .await?;
            set_cookie(ctx, &secret, SESSION_LIFETIME.as_secs());
            tracing::info!(user = %user.user_id, request_id = %req.request_id, "signed in");
            Ok(LoginPayload { user: user.into() })
        })
        .await
    }

    /// Ends this session and clears its cookie.
    async fn logout(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        answer(ctx, async {
            let p = session(ctx)?;
            if let Via::Session { session_hash } = &p.via {
                api(ctx).accounts.logout(session_hash).await?;
            }
            set_cookie(ctx, "", 0);
            Ok(true)
        })
        .await
    }

    /// Changes your password (at least 12 characters); your other sessions end.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        answer(ctx, async {
            let p = session(ctx)?;
            let new = Password::new_for_storage(new_password).map_err(ApiError::Validation)?;
            api(ctx)
                .accounts
                .change_password(
                    p,
                    Password::offered(current_password),
                    new,
                    &request(ctx).metadata(),
                )
                .await?;
            Ok(true)
        })
        .await
    }

    /// Issues an API token for a machine client. The token is in this answer only.
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        name: String,
        scopes: Vec<Scope>,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> async_graphql::Result<CreatedApiToken> {
        answer(ctx, async {
            let p = session(ctx)?;
            let scopes: BTreeSet<domain::Scope> = scopes.into_iter().map(Into::into).collect();
            let issued = api(ctx)
                .accounts
                .issue_token(
                    &p.user_id,
                    name,
                    scopes,
                    expires_at,
                    &request(ctx).metadata(),
                )
                .await?;
            let (_, tokens) = user_as_committed(api(ctx), p.user_id.as_str()).await?;
            let token = tokens
                .into_iter()
                .find(|t| t.token_id == issued.token_id.to_string())
                .ok_or_else(|| ApiError::internal("the new token is not in the user's stream"))?;
            Ok(CreatedApiToken {
                token: issued.secret.to_string(),
                api_token: token.into(),
            })
        })
        .await
    }

    /// Revokes one of your API tokens.
    async fn revoke_api_token(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        answer(ctx, async {
            let p = session(ctx)?;
            api(ctx)
                .accounts
                .revoke_token(&p.user_id, &id, &request(ctx).metadata())
                .await?;
            Ok(true)
        })
        .await
    }

    /// Checks a secret with its provider without storing anything. Uses the live-check budget.
    async fn test_credential(
        &self,
        ctx: &Context<'_>,
        service: String,
        fields: Json<Value>,
    ) -> async_graphql::Result<TestCredentialResult> {
        answer(ctx, async {
            let p = session(ctx)?;
            let a = api(ctx);
            let definition = a.ledger.catalog.enabled_service(&service)?;
            let fields = checked_fields(a, definition, &fields).await?;
            let remaining = spend_validation(ctx, p).await?;
            let outcome = a.validator.validate(definition, &fields).await;
            let (result, message, account, scopes) = outcome_parts(&outcome);
            Ok(TestCredentialResult {
                result,
                message,
                account,
                scopes,
                rate_limit_remaining: remaining,
            })
        })
        .await
    }

    /// Checks a secret with its provider and keeps it only if the provider accepts it.
    async fn add_credential(
        &self,
        ctx: &Context<'_>,
        input: AddCredentialInput,
    ) -> async_graphql::Result<AddCredentialPayload> {
        answer(ctx, async {
            let p = session(ctx)?;
            let a = api(ctx);
            let definition = a.ledger.catalog.enabled_service(&input.service)?;
            let name = credledger_domain::CredentialName::parse(&input.name)?;
            let metadata = input.metadata.map(|m| m.0).unwrap_or_default();
            credledger_domain::keyring::check_metadata(&metadata)?;
            let fields = checked_fields(a, definition, &input.fields).await?;
            refuse_known_conflicts(a, p.user_id.as_str(), definition, &name).await?;
            let remaining = spend_validation(ctx, p).await?;
            let outcome = a.validator.validate(definition, &fields).await;
            require_valid(&outcome)?;
            let bytes = fields.to_json_bytes();
            let id = CredentialId::from_uuid(uuid::Uuid::new_v4());
            let committed = a
                .ledger
                .register(
                    NewCredential {
                        user_id: p.user_id.as_str(),
                        service: &input.service,
                        name: &input.name,
                        fields_json: &bytes,
                        metadata,
                        validation: Some(outcome),
                    },
                    id,
                    &request(ctx).metadata(),
                )
                .await?;
            Ok(AddCredentialPayload {
                credential: reload(ctx, &id.to_string(), committed).await?,
                rate_limit_remaining: remaining,
            })
        })
        .await
    }

    /// Starts connecting an account with OAuth 2.0 (Gmail, Google Calendar): answers the
    /// provider's consent page to send the person to. A new credential is named `name`, or after
    /// the account's email when none is given; `reconnect` gives an existing credential new
    /// tokens instead (same account only). The flow is single use, bound to this session and
    /// good for ten minutes; nothing is stored until the person comes back.
    async fn start_o_auth_connection(
        &self,
        ctx: &Context<'_>,
        service: String,
        name: Option<String>,
        reconnect: Option<ID>,
    ) -> async_graphql::Result<StartOAuthConnectionPayload> {
        answer(ctx, async {
            let p = session(ctx)?;
            let crate::auth::Via::Session { session_hash } = &p.via else {
                return Err(ApiError::Forbidden(
                    "connecting needs a signed-in session".into(),
                ));
            };
            let a = api(ctx);
            let definition = a.ledger.catalog.enabled_service(&service)?;
            let target = match (reconnect, name) {
                (Some(id), _) => {
                    // The account consented to is the one signed in at Google: only the owner
                    // reconnects their credential (the flow finishes in the keyring of the one
                    // who started it, so anyone else's consent was asked for nothing).
                    let row = credential_for(a, p, &id, Access::Edit).await?;
                    if row.user_id != p.user_id {
                        return Err(ApiError::Forbidden(
                            "only its owner can reconnect a credential: the account they \
                             consent with at the provider is the one it is for"
                                .into(),
                        ));
                    }
                    // Before anyone is sent to consent for tokens that could not be kept.
                    a.ledger
                        .refuse_if_revoked(&id, "given a new secret")
                        .await?;
                    if row.service != definition.key {
                        return Err(ApiError::Validation(format!(
                            "that credential is not a {} credential",
                            definition.display_name
                        )));
                    }
                    crate::oauth::Target::Reconnect(
                        credledger_domain::CredentialId::parse(&id)
                            .map_err(|_| ApiError::NotFound)?,
                    )
                }
                (None, Some(name)) => {
                    let name = credledger_domain::CredentialName::parse(&name)?;
                    let keyring = credledger_domain::KeyringId::new(
                        p.user_id.clone(),
                        definition.key.clone(),
                    );
                    // Checked now, so a person does not consent only to be told it is taken.
                    let taken = a
                        .ledger
                        .keyring(&keyring)
                        .await?
                        .credentials()
                        .any(|c| !c.erased && c.name == name);
                    if taken {
                        return Err(ApiError::Conflict(format!(
                            "you already have a {} credential named \"{name}\"",
                            definition.display_name
                        )));
                    }
                    crate::oauth::Target::New {
                        name: Some(name.to_string()),
                    }
                }
                // Named after the account once it is known.
                (None, None) => crate::oauth::Target::New { name: None },
            };
            let url = a
                .oauth
                .start(definition, target, &p.user_id, session_hash)?;
            Ok(StartOAuthConnectionPayload {
                authorization_url: url,
            })
        })
        .await
    }

    /// Renames a credential, changes its labels, or replaces its secret (checked with the
    /// provider first; refused and unchanged if the provider refuses it).
    async fn update_credential(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateCredentialInput,
    ) -> async_graphql::Result<UpdateCredentialPayload> {
        answer(ctx, async {
            let p = session(ctx)?;
            let a = api(ctx);
            let row = credential_for(a, p, &id, Access::Edit).await?;
            let name = input
                .name
                .as_deref()
                .map(credledger_domain::CredentialName::parse)
                .transpose()?;
            let metadata = input.metadata.map(|m| m.0);
            if let Some(m) = &metadata {
                credledger_domain::keyring::check_metadata(m)?;
            }
            let mut remaining = None;
            let mut new_secret = None;
            if let Some(fields) = &input.fields {
                let definition = a.ledger.catalog.enabled_service(row.service.as_str())?;
                a.ledger
                    .refuse_if_revoked(&id, "given a new secret")
                    .await?;
                let fields = checked_fields(a, definition, fields).await?;
                remaining = Some(spend_validation(ctx, p).await?);
                let outcome = a.validator.validate(definition, &fields).await;
                require_valid(&outcome)?;
                new_secret = Some((fields, outcome));
            }
            // One command: a refusal of any part (a taken name, a revoked credential) leaves
            // every part as it was.
            let secret = new_secret.map(|(fields, outcome)| (fields.to_json_bytes(), outcome));
            let committed = a
                .ledger
                .update_with_secret(
                    &id,
                    name.as_ref().map(|n| n.as_str()),
                    metadata,
                    secret
                        .as_ref()
                        .map(|(json, outcome)| (&json[..], Some(outcome.clone()))),
                    &request(ctx).metadata(),
                )
                .await?;
            Ok(UpdateCredentialPayload {
                credential: reload(ctx, &id, committed).await?,
                rate_limit_remaining: remaining,
            })
        })
        .await
    }

    /// Erases a credential (its key is destroyed; its history stays). If it was the primary,
    /// the oldest active credential of the same service becomes primary.
    async fn delete_credential(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<DeleteCredentialPayload> {
        answer(ctx, async {
            let p = session(ctx)?;
            let a = api(ctx);
            let row = credential_for(a, p, &id, Access::Delete).await?;
            let grant = oauth_grant(a, &row, &id).await;
            let (_, keyring) = a.ledger.locate(&id).await?;
            let committed = a.ledger.erase(&id, &request(ctx).metadata()).await?;
            revoke_at_provider(a, grant);
            let siblings = keyring_as_committed(a, &keyring, committed).await?;
            Ok(DeleteCredentialPayload {
                deleted_id: id,
                new_primary: siblings
                    .into_iter()
                    .find(|s| s.is_primary)
                    .map(Credential::from),
            })
        })
        .await
    }

    /// Makes an active credential the primary one of its service.
    async fn set_primary_credential(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Credential> {
        answer(ctx, async {
            let p = session(ctx)?;
            let a = api(ctx);
            credential_for(a, p, &id, Access::Edit).await?;
            let committed = a.ledger.set_primary(&id, &request(ctx).metadata()).await?;
            reload(ctx, &id, committed).await
        })
        .await
    }

    /// Checks a stored credential with its provider again. A provider that cannot be asked
    /// changes nothing (`COULD_NOT_CHECK`).
    async fn revalidate_credential(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<RevalidateCredentialPayload> {
        answer(ctx, async {
            let p = session(ctx)?;
            let a = api(ctx);
            let row = credential_for(a, p, &id, Access::Edit).await?;
            let definition = a.ledger.catalog.enabled_service(row.service.as_str())?;
            // Refused before anything is sent to the provider or spent of the budget.
            let (version, fields) = a.ledger.secret_to_validate(&id).await?;
            refuse_destination(a, definition, &fields).await?;
            let remaining = spend_validation(ctx, p).await?;
            let outcome = a.validator.validate(definition, &fields).await;
            drop(fields);
            let (result, message, _, _) = outcome_parts(&outcome);
            let committed = a
                .ledger
                .record_validation(&id, version, outcome, &request(ctx).metadata())
                .await?;
            Ok(RevalidateCredentialPayload {
                credential: reload(ctx, &id, committed).await?,
                result,
                message,
                rate_limit_remaining: remaining,
            })
        })
        .await
    }

    /// Revokes a credential: it stays in the ledger but is no longer used.
    async fn revoke_credential(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> async_graphql::Result<Credential> {
        answer(ctx, async {
            let p = session(ctx)?;
            let a = api(ctx);
            let row = credential_for(a, p, &id, Access::Edit).await?;
            let grant = oauth_grant(a, &row, &id).await;
            let committed = a
                .ledger
                .revoke(&id, reason, &request(ctx).metadata())
                .await?;
            revoke_at_provider(a, grant);
            reload(ctx, &id, committed).await
        })
        .await
    }

    /// Shows you your own secret. The disclosure is written to the ledger before this answer;
    /// nobody else's secret is ever shown, whatever their permissions.
    async fn reveal_credential(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<RevealedCredential> {
        answer(ctx, async {
            let p = session(ctx)?;
            let a = api(ctx);
            let row = credential_for(a, p, &id, Access::Owner).await?;
            refresh_if_oauth(a, row.user_id.as_str(), row.service.as_str()).await;
            let meta = request(ctx).metadata();
            let fields = a.ledger.reveal(p.user_id.as_str(), &id, &meta).await?;
            Ok(RevealedCredential {
                credential_id: id,
                fields: Json(exposed(&fields)),
                revealed_at: meta.occurred_at,
            })
        })
        .await
    }

    /// For machine clients (scope `credentials:resolve`): a user's primary active credential
    /// for a service, or the active one named `name`. Recorded as `CredentialUsed` first.
    async fn resolve_credential(
        &self,
        ctx: &Context<'_>,
        user_id: String,
        service: String,
        name: Option<String>,
        #[graphql(
            desc = "The tool or client asking (recorded with the use), at most 128 characters."
        )]
        tool: Option<String>,
    ) -> async_graphql::Result<ResolvedCredential> {
        answer(ctx, async {
            let a = api(ctx);
            // Bounded before they key a remembered answer, a query or a message.
            credledger_domain::UserId::parse(&user_id)?;
            a.ledger.catalog.enabled_service(&service)?;
            // Who is asking: an MCP server (only for users and services it may hold), or a
            // person's own token (only their own credentials).
            let consumer = if let Some(server) = &request(ctx).server {
                if !server.scopes.contains(&domain::Scope::CredentialsResolve) {
                    return Err(ApiError::Forbidden(
                        "this API token lacks the scope credentials:resolve".into(),
                    ));
                }
                if !a
                    .mcp
                    .may_hold(&server.server_id, &user_id, &service)
                    .await?
                {
                    return Err(ApiError::Forbidden(format!(
                        "the MCP server may not hold {user_id}'s credentials for {service}"
                    )));
                }
                format!("mcp:{}", server.server_id)
            } else {
                let p = with_scope(ctx, domain::Scope::CredentialsResolve)?;
                let Via::Token { token_id, .. } = &p.via else {
                    return Err(ApiError::Forbidden(
                        "resolving is for API tokens with the scope credentials:resolve".into(),
                    ));
                };
                // A token resolves only its own user's credentials; anyone else's are not there.
                if user_id != p.user_id.as_str() {
                    return Err(ApiError::NotFound);
                }
                format!("token:{token_id}")
            };
            if let Some(t) = &tool {
                if t.chars().count() > 128 || t.chars().any(char::is_control) {
                    return Err(ApiError::Validation(
                        "`tool` must be at most 128 characters, without control characters".into(),
                    ));
                }
            }
            refresh_if_oauth(a, &user_id, &service).await;
            let resolved = a
                .ledger
                .resolve(
                    &user_id,
                    &service,
                    name.as_deref(),
                    &consumer,
                    tool,
                    &request(ctx).metadata(),
                )
                .await?;
            let mut fields = resolved.fields;
            if let Ok(definition) = a.ledger.catalog.enabled_service(&service) {
                let client_here = a.oauth.client_for(definition).is_some();
                let token_expires = resolved.expires_at.is_some();
                fields.retain(|f| definition.given_to_consumers(f, client_here, token_expires));
            }
            Ok(ResolvedCredential {
                credential_id: ID(resolved.credential_id.to_string()),
                service,
                name: resolved.name.to_string(),
                fields: Json(exposed(&fields)),
                version: resolved.secret_version.min(i32::MAX as u32) as i32,
                expires_at: resolved.expires_at,
            })
        })
        .await
    }

    /// Registers an MCP server (administrators). Its signing secret is in this answer only. A
    /// server that serves every user without their grants is registered by the operator
    /// (`credledger mcp register --all-users`); asked for here, the answer is `FORBIDDEN`.
    async fn register_mcp_server(
        &self,
        ctx: &Context<'_>,
        input: RegisterMcpServerInput,
    ) -> async_graphql::Result<RegisteredMcpServer> {
        answer(ctx, async {
            admin(ctx)?;
            let a = api(ctx);
            let secret = a
                .mcp
                .register(
                    NewMcpServer {
                        server_id: input.id.clone(),
                        name: input.name,
                        base_url: input.base_url,
                        allowed_services: input.allowed_services,
                        serves_all_users: input.serves_all_users,
                    },
                    Authority::Administrator,
                    &request(ctx).metadata(),
                )
                .await?;
            Ok(RegisteredMcpServer {
                server: mcp_server(a, input.id.trim()).await?,
                signing_secret: secret.0.to_string(),
            })
        })
        .await
    }

    /// Changes an MCP server's services, audience or address (administrators); omitted
    /// arguments keep their value. A server that serves every user without their grants can
    /// only be narrowed or made to serve only those who grant it access here (`FORBIDDEN`
    /// otherwise); the operator changes the rest with `credledger mcp change`.
    async fn change_mcp_server(
        &self,
        ctx: &Context<'_>,
        id: String,
        allowed_services: Option<Vec<String>>,
        serves_all_users: Option<bool>,
        base_url: Option<String>,
    ) -> async_graphql::Result<McpServer> {
        answer(ctx, async {
            admin(ctx)?;
            let a = api(ctx);
            a.mcp
                .change(
                    &id,
                    allowed_services,
                    serves_all_users,
                    base_url,
                    Authority::Administrator,
                    &request(ctx).metadata(),
                )
                .await?;
            mcp_server(a, &id).await
        })
        .await
    }

    /// Removes an MCP server (administrators): its tokens stop working and its copies are
    /// deleted from it.
    async fn remove_mcp_server(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> async_graphql::Result<bool> {
        answer(ctx, async {
            admin(ctx)?;
            api(ctx).mcp.remove(&id, &request(ctx).metadata()).await?;
            Ok(true)
        })
        .await
    }

    /// Issues an MCP server an API token (administrators). The token is in this answer only.
    /// A server that serves every user without their grants gets its tokens from the operator
    /// (`credledger mcp token`); asked for here, the answer is `FORBIDDEN`.
    async fn create_mcp_server_token(
        &self,
        ctx: &Context<'_>,
        server_id: String,
        name: String,
        scopes: Vec<Scope>,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> async_graphql::Result<CreatedApiToken> {
        answer(ctx, async {
            admin(ctx)?;
            let a = api(ctx);
            let scopes: BTreeSet<domain::Scope> = scopes.into_iter().map(Into::into).collect();
            let issued = a
                .mcp
                .issue_token(
                    &server_id,
                    &name,
                    scopes,
                    expires_at,
                    Authority::Administrator,
                    &request(ctx).metadata(),
                )
                .await?;
            let stream = server_stream(a, &server_id).await?;
            let token = principals::server_tokens_as_committed(&stream)?
                .into_iter()
                .find(|t| t.token_id == issued.token_id.to_string())
                .ok_or_else(|| ApiError::internal("the new token is not in the server's stream"))?;
            Ok(CreatedApiToken {
                token: issued.secret.to_string(),
                api_token: token.into(),
            })
        })
        .await
    }

    /// Revokes an MCP server's API token (administrators).
    async fn revoke_mcp_server_token(
        &self,
        ctx: &Context<'_>,
        server_id: String,
        id: ID,
    ) -> async_graphql::Result<bool> {
        answer(ctx, async {
            admin(ctx)?;
            api(ctx)
                .mcp
                .revoke_token(&server_id, &id, &request(ctx).metadata())
                .await?;
            Ok(true)
        })
        .await
    }

    /// Lets an MCP server hold your credentials for one service (and resolve them).
    async fn grant_mcp_access(
        &self,
        ctx: &Context<'_>,
        server_id: String,
        service: String,
    ) -> async_graphql::Result<McpGrant> {
        answer(ctx, async {
            let p = session(ctx)?;
            let meta = request(ctx).metadata();
            api(ctx)
                .mcp
                .grant(&p.user_id, &server_id, &service, &meta)
                .await?;
            // The grant is the command's one event (a grant that was there already is refused).
            Ok(mcp_sync::GrantRow {
                server_id,
                user_id: p.user_id.as_str().to_owned(),
                service,
                granted_at: credledger_adapters::db::as_stored(meta.occurred_at),
            }
            .into())
        })
        .await
    }

    /// Withdraws an MCP server's access to your credentials for one service: from this answer
    /// on it can resolve none of them, and its copies are deleted from it.
    async fn withdraw_mcp_access(
        &self,
        ctx: &Context<'_>,
        server_id: String,
        service: String,
    ) -> async_graphql::Result<bool> {
        answer(ctx, async {
            let p = session(ctx)?;
            api(ctx)
                .mcp
                .withdraw(&p.user_id, &server_id, &service, &request(ctx).metadata())
                .await?;
            Ok(true)
        })
        .await
    }

    /// Asks the MCP servers again, now, for a credential whose copies failed (its owner, or
    /// whoever may edit it), instead of at the sender's hourly retry (or, for a change the
    /// sender does not send again by itself, its next change). Answers how many copies were
    /// made due (0 when none had failed).
    async fn retry_sync(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<i32> {
        answer(ctx, async {
            let p = session(ctx)?;
            let a = api(ctx);
            credential_for(a, p, &id, Access::Edit).await?;
            let n = a.mcp.retry_failed(None, Some(id.as_str())).await?;
            Ok(i32::try_from(n).unwrap_or(i32::MAX))
        })
        .await
    }

    /// Resends an MCP server's copy (administrators): everything it may hold (after it lost
    /// its data), or what changed at or after `fromPosition`. Answers the request's position.
    async fn replay_mcp_server(
        &self,
        ctx: &Context<'_>,
        id: String,
        from_position: Option<i64>,
    ) -> async_graphql::Result<i64> {
        answer(ctx, async {
            admin(ctx)?;
            let from = from_position
                .map(|p| {
                    u64::try_from(p)
                        .map_err(|_| ApiError::Validation("`fromPosition` must be ≥ 0".into()))
                })
                .transpose()?;
            api(ctx)
                .mcp
                .request_replay(&id, from, &request(ctx).metadata())
                .await
        })
        .await
    }

    /// Creates a person who can sign in (administrators).
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> async_graphql::Result<User> {
        answer(ctx, async {
            admin(ctx)?;
            let password =
                Password::new_for_storage(input.password).map_err(ApiError::Validation)?;
            let user_id = input.user_id.trim().to_owned();
            api(ctx)
                .accounts
                .create_user(
                    NewUser {
                        user_id: user_id.clone(),
                        email: input.email,
                        display_name: input.display_name,
                        password,
                        admin: input.admin,
                    },
                    &request(ctx).metadata(),
                )
                .await?;
            user_row(ctx, &user_id).await
        })
        .await
    }

    /// Locks a person out: no sign-in, sessions ended, tokens refused (administrators). Their
    /// credentials are untouched: MCP servers that hold them, or may resolve them, go on
    /// doing so until the credentials are revoked or erased, or the servers narrowed or removed
    /// (grants are withdrawn by their owner only).
    async fn lock_user(
        &self,
        ctx: &Context<'_>,
        user_id: String,
        reason: Option<String>,
    ) -> async_graphql::Result<User> {
        answer(ctx, async {
            let p = admin(ctx)?;
            if p.user_id.as_str() == user_id {
                return Err(ApiError::Validation("you cannot lock yourself out".into()));
            }
            api(ctx)
                .accounts
                .lock(&user_id, reason, &request(ctx).metadata())
                .await?;
            user_row(ctx, &user_id).await
        })
        .await
    }

    async fn unlock_user(&self, ctx: &Context<'_>, user_id: String) -> async_graphql::Result<User> {
        answer(ctx, async {
            admin(ctx)?;
            api(ctx)
                .accounts
                .unlock(&user_id, &request(ctx).metadata())
                .await?;
            user_row(ctx, &user_id).await
        })
        .await
    }

    async fn grant_permission(
        &self,
        ctx: &Context<'_>,
        user_id: String,
        permission: Permission,
    ) -> async_graphql::Result<User> {
        change_permission(ctx, user_id, permission, true).await
    }

    async fn revoke_permission(
        &self,
        ctx: &Context<'_>,
        user_id: String,
        permission: Permission,
    ) -> async_graphql::Result<User> {
        change_permission(ctx, user_id, permission, false).await
    }
}

/// Grants (`grant`) or revokes a permission (administrators); answers the user as they are now.
async fn change_permission(
    ctx: &Context<'_>,
    user_id: String,
    permission: Permission,
    grant: bool,
) -> async_graphql::Result<User> {
    answer(ctx, async {
        admin(ctx)?;
        api(ctx)
            .accounts
            .set_permission(&user_id, permission.into(), grant, &request(ctx).metadata())
            .await?;
        user_row(ctx, &user_id).await
    })
    .await
}

fn exposed(fields: &SecretFields) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|(k, v)| (k.to_owned(), v.expose().to_owned()))
        .collect()
}

/// One server as its own stream has it after a command: what the command committed, however
/// far behind the `mcp_sync` read model is ([`mcp_sync::server_as_committed`]).
async fn mcp_server(a: &super::Api, id: &str) -> Result<McpServer, ApiError> {
    Ok(mcp_sync::server_as_committed(&server_stream(a, id).await?)?
        .ok_or(ApiError::NotFound)?
        .into())
}

/// The keyring's rules that no live check can change — a name already taken, a second
/// credential of a single-account service — checked on the read model before a live check is
/// spent. The command checks them again on the keyring itself; a read model that is behind
/// only lets through what the command then refuses, as before.
async fn refuse_known_conflicts(
    a: &super::Api,
    user: &str,
    definition: &credledger_domain::catalog::ServiceDefinition,
    name: &credledger_domain::CredentialName,
) -> Result<(), ApiError> {
    use credledger_domain::keyring::KeyringError;
    let existing = credential_summary::list(
        &a.ledger.db,
        credential_summary::Filter {
            user_id: Some(user),
            service: Some(definition.key.as_str()),
            status: None,
        },
        None,
        10_000,
    )
    .await?;
    let rule = if existing.iter().any(|c| c.name == name.as_str()) {
        KeyringError::NameTaken(name.to_string())
    } else if !definition.multi_account
        && existing
            .iter()
            .any(|c| c.status != credledger_domain::keyring::CredentialStatus::Revoked)
    {
        KeyringError::MultiAccountNotSupported(definition.display_name.clone())
    } else {
        return Ok(());
    };
    Err(crate::ledger::LedgerError::Rule(rule).into())
}
