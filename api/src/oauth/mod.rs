//! Connecting an account with OAuth 2.0 (services whose catalog entry has an `oauth` flow):
//! `startOAuthConnection` opens a flow and answers the provider's authorization URL;
//! `GET /oauth/callback` is where the provider sends the person back, and `GET /oauth/finish`
//! finishes the flow and registers the credential through the same keyring rules as a pasted
//! one (unique name, one primary, one credential per account).
//!
//! Two steps, because the way back from the provider is a navigation from another site, with
//! which browsers send no `SameSite=Strict` cookie (the session's): the callback reads nothing
//! and changes nothing, and answers a page of this site that goes on to `/oauth/finish` with
//! the same answer, a navigation of this site that carries the session.
//!
//! A flow is single use, bound to the session that opened it and forgotten after ten minutes.
//! Every way a flow can fail (consent refused, unknown or replayed `state`, another session,
//! a failed exchange or check) sends the person back to the dashboard with a reason code and
//! stores nothing; a grant refused for a missing scope is revoked at the provider first, unless
//! a credential holds its account.

mod refresh;

pub use refresh::{Refreshed, TokenRefresher};

use crate::graphql::{Api, RequestContext};
use crate::ledger::{LedgerError, NewCredential};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use credledger_adapters::oauth::{OAuthClient, OAuthError, OAuthHttp, TokenGrant};
use credledger_domain::catalog::OAuthFlow;
use credledger_domain::keyring::{KeyringError, ValidationOutcome};
use credledger_domain::{CredentialId, KeyringId, SecretFields, ServiceDefinition, UserId};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How long a person has to consent before the flow is forgotten.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(600);
/// Flows open at once, across everyone; the least recently opened are forgotten past it.
const MAX_OPEN_FLOWS: u64 = 10_000;
/// Flows one person may have open at once, over all their sessions: a new one past it
/// forgets that person's oldest, so one person (signing in again and again) cannot fill the
/// shared bound with flows of their own.
const MAX_OPEN_FLOWS_PER_PERSON: usize = 5;

/// This deployment's OAuth clients (by the catalog flows' `provider`) and the flows in progress.
pub struct OAuthConnections {
    http: OAuthHttp,
    clients: BTreeMap<String, OAuthClient>,
    redirect_uri: String,
    open: moka::sync::Cache<String, OpenFlow>,
    /// How long a flow stays open ([`FLOW_LIFETIME`]).
    flow_lifetime: Duration,
}

impl std::fmt::Debug for OAuthConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConnections")
            .field("clients", &self.clients)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// A flow waiting for the person to come back from the provider.
#[derive(Clone)]
struct OpenFlow {
    user_id: UserId,
    session_hash: String,
    /// When it was opened (the session's oldest is forgotten first).
    opened: std::time::Instant,
    service: String,
    /// What to do when the person comes back.
    target: Target,
    pkce_verifier: String,
}

/// A new credential under a name, or new tokens for an existing credential of the same account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A new credential, named `name`, or after the account (its email) when `None`.
    New {
        name: Option<String>,
    },
    Reconnect(CredentialId),
}

/// Why a connection did not complete, as the dashboard is told (`/?oauth_error=<code>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The person did not allow access.
    Denied,
    /// Unknown, replayed or expired `state`, or another session than the one that started.
    Flow,
    /// The provider would not exchange the code for tokens.
    Exchange,
    /// The provider gave no refresh token, so the connection could not be kept fresh.
    NoRefreshToken,
    /// The person granted fewer scopes than the service needs (unticked one at consent).
    MissingScopes,
    /// The tokens did not pass the live check.
    Check,
    /// This account is already connected (reconnect that credential instead).
    Duplicate,
    /// A reconnect signed in with another account than the credential's.
    OtherAccount,
    /// The chosen name is already used for this service.
    NameTaken,
    /// Anything else (logged with the request id).
    Failed,
}

impl Failure {
    pub fn code(self) -> &'static str {
        match self {
            Self::Denied => "denied",
            Self::Flow => "flow",
            Self::Exchange => "exchange",
            Self::NoRefreshToken => "no_refresh_token",
            Self::MissingScopes => "missing_scopes",
            Self::Check => "check",
            Self::Duplicate => "duplicate",
            Self::OtherAccount => "other_account",
            Self::NameTaken => "name_taken",
            Self::Failed => "failed",
        }
    }
}

impl OAuthConnections {
    /// `public_url` is where people reach this server (the callback is `{public_url}/oauth/callback`).
    pub fn new(http: OAuthHttp, clients: BTreeMap<String, OAuthClient>, public_url: &str) -> Self {
        Self::with_limits(http, clients, public_url, FLOW_LIFETIME, MAX_OPEN_FLOWS)
    }

    fn with_limits(
        http: OAuthHttp,
        clients: BTreeMap<String, OAuthClient>,
        public_url: &str,
        flow_lifetime: Duration,
        max_open_flows: u64,
    ) -> Self {
        Self {
            http,
            clients,
            redirect_uri: format!("{}/oauth/callback", public_url.trim_end_matches('/')),
            // Least recently used out, so a new flow always finds a place: moka's default
            // (TinyLFU) may refuse a new entry into a full cache rather than evict an old one.
            open: moka::sync::Cache::builder()
                .max_capacity(max_open_flows)
                .time_to_live(flow_lifetime)
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .build(),
            flow_lifetime,
        }
    }

    /// Where providers send people back (`{public_url}/oauth/callback`): the redirect URI to
    /// register with each provider's client.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Takes the flow `state` names out, if it is open: good for one answer, and not past its
    /// lifetime (the cache may still hold an entry past it until its housekeeping runs).
    fn take(&self, state: &str) -> Option<OpenFlow> {
        self.open
            .remove(state)
            .filter(|flow| flow.opened.elapsed() <= self.flow_lifetime)
    }

    /// The service's flow and this deployment's client for it, when both exist.
    pub fn client_for<'a>(
        &'a self,
        service: &'a ServiceDefinition,
    ) -> Option<(&'a OAuthFlow, &'a OAuthClient)> {
        let flow = service.oauth.as_ref()?;
        Some((flow, self.clients.get(&flow.provider)?))
    }

    /// Opens a flow for `service` (a new credential, or a reconnect); the answer is where to
    /// send the person.
    pub fn start(
        &self,
        service: &ServiceDefinition,
        target: Target,
        user_id: &UserId,
        session_hash: &str,
    ) -> Result<String, crate::error::ApiError> {
        use crate::error::ApiError;
        if service.oauth.is_none() {
            return Err(ApiError::Validation(format!(
                "{} is connected by pasting its secret, not with OAuth",
                service.display_name
            )));
        }
        let (flow, client) = self.client_for(service).ok_or_else(|| {
            ApiError::Validation(format!(
                "connecting {} is not configured on this server (no OAuth client)",
                service.display_name
            ))
        })?;
        let authorization = self
            .http
            .authorize(flow, client, &self.redirect_uri)
            .map_err(ApiError::internal)?;
        self.forget_past_person_bound(user_id);
        self.open.insert(
            authorization.state.clone(),
            OpenFlow {
                user_id: user_id.clone(),
                session_hash: session_hash.to_owned(),
                opened: std::time::Instant::now(),
                service: service.key.to_string(),
                target,
                pkce_verifier: authorization.pkce_verifier,
            },
        );
        Ok(authorization.url.to_string())
    }

    /// Makes room for one more flow of `user_id`: past [`MAX_OPEN_FLOWS_PER_PERSON`], the
    /// person's oldest flows (whichever session opened them) are forgotten. Looks through the
    /// open flows (at most [`MAX_OPEN_FLOWS`]) once.
    fn forget_past_person_bound(&self, user_id: &UserId) {
        let mut own: Vec<(std::time::Instant, Arc<String>)> = self
            .open
            .iter()
            .filter(|(_, flow)| flow.user_id == *user_id)
            .map(|(state, flow)| (flow.opened, state))
            .collect();
        if own.len() < MAX_OPEN_FLOWS_PER_PERSON {
            return;
        }
        own.sort_unstable_by_key(|(opened, _)| *opened);
        for (_, state) in &own[..=own.len() - MAX_OPEN_FLOWS_PER_PERSON] {
            self.open.invalidate(state.as_str());
        }
    }

    /// Refreshes an access token with the service's client.
    pub async fn refresh(
        &self,
        service: &ServiceDefinition,
        refresh_token: &str,
    ) -> Result<TokenGrant, OAuthError> {
        let (flow, client) = self
            .client_for(service)
            .ok_or_else(|| OAuthError::Configuration("no OAuth client".into()))?;
        self.http.refresh(flow, client, refresh_token).await
    }

    /// Revokes a token at the provider (nothing to do without a revocation endpoint).
    pub async fn revoke(&self, service: &ServiceDefinition, token: &str) -> Result<(), OAuthError> {
        let (flow, client) = self
            .client_for(service)
            .ok_or_else(|| OAuthError::Configuration("no OAuth client".into()))?;
        self.http.revoke(flow, client, token, true).await
    }
}

/// The longest `state`, `code` or `error` passed on from the callback to the finish (Google's
/// codes are about 75 characters).
const MAX_ANSWER_FIELD: usize = 2048;

/// `GET /oauth/callback?code=…&state=…` (or `error=…`): where the provider sends the person
/// back, without the session cookie. Answers a page that goes on at once to `/oauth/finish`
/// with the answer's `state`, `code` and `error` (nothing else), as a navigation of this site.
pub async fn callback(Query(query): Query<HashMap<String, String>>) -> Response {
    let mut finish = url::form_urlencoded::Serializer::new(String::new());
    for name in ["state", "code", "error"] {
        if let Some(value) = query.get(name) {
            if value.len() > MAX_ANSWER_FIELD {
                return Redirect::to(&format!("/?oauth_error={}", Failure::Flow.code()))
                    .into_response();
            }
            finish.append_pair(name, value);
        }
    }
    // Form encoding leaves only letters, digits, `*-._+%=&`: with `&` escaped, the address
    // can stand in an HTML attribute as it is.
    let to = format!("/oauth/finish?{}", finish.finish()).replace('&', "&amp;");
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0;url={to}\"><title>Connecting…</title></head>\
         <body><p>Connecting… <a href=\"{to}\">Continue</a></p></body></html>"
    );
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response()
}

/// `GET /oauth/finish?code=…&state=…` (or `error=…`), reached from the callback's page.
pub async fn finish_flow(
    State(api): State<Arc<Api>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let context = match crate::http::caller_context(&api, &headers, peer).await {
        Ok(context) => context,
        Err(response) => return response,
    };
    match finish(&api, &context, &query).await {
        Ok(credential) => Redirect::to(&format!("/?oauth=connected&credential={credential}")),
        Err(failure) => Redirect::to(&format!("/?oauth_error={}", failure.code())),
    }
    .into_response()
}

async fn finish(
    api: &Api,
    context: &RequestContext,
    query: &HashMap<String, String>,
) -> Result<CredentialId, Failure> {
    let connections = &api.oauth;
    let state = query.get("state").map(String::as_str).unwrap_or_default();
    // Taken out at once: a state is good for one answer, whatever that answer is.
    let flow = connections.take(state).ok_or(Failure::Flow)?;
    let same_session = context.principal.as_ref().is_some_and(|p| {
        p.user_id == flow.user_id
            && matches!(&p.via, crate::auth::Via::Session { session_hash } if *session_hash == flow.session_hash)
    });
    if !same_session {
        return Err(Failure::Flow);
    }
    if query.contains_key("error") {
        return Err(Failure::Denied);
    }
    let code = query.get("code").ok_or(Failure::Exchange)?;
    let definition = api
        .ledger
        .catalog
        .enabled_service(&flow.service)
        .map_err(|_| Failure::Flow)?;
    let (oauth_flow, client) = connections.client_for(definition).ok_or(Failure::Flow)?;
    if let Target::Reconnect(id) = &flow.target {
        // Revoked while its person was at the consent screen: no code is redeemed for it.
        api.ledger
            .refuse_if_revoked(&id.to_string(), "given a new secret")
            .await
            .map_err(|_| Failure::Flow)?;
    }
    let grant = connections
        .http
        .exchange_code(
            oauth_flow,
            client,
            &connections.redirect_uri,
            code,
            &flow.pkce_verifier,
        )
        .await
        .map_err(|e| {
            tracing::warn!(service = %flow.service, error = %e, "OAuth code exchange failed");
            Failure::Exchange
        })?;
    let refresh_token = grant.refresh_token.clone().ok_or(Failure::NoRefreshToken)?;
    let fields = token_fields(&grant.access_token, &refresh_token)?;
    if let Some(granted) = &grant.scopes {
        let missing = missing_scopes(&oauth_flow.scopes, granted);
        if !missing.is_empty() {
            tracing::info!(service = %flow.service, missing = ?missing, "an OAuth grant lacks scopes the service asks for; nothing stored");
            revoke_refused_grant(api, definition, &oauth_flow.provider, &fields).await;
            return Err(Failure::MissingScopes);
        }
    }
    let outcome = with_grant(api.validator.validate(definition, &fields).await, &grant);
    let ValidationOutcome::Valid { account, .. } = &outcome else {
        return Err(Failure::Check);
    };
    let meta = context.metadata();
    let bytes = fields.to_json_bytes();
    let result = match &flow.target {
        // New tokens in place, for the same account only.
        Target::Reconnect(id) => {
            let keyring = KeyringId::new(flow.user_id.clone(), definition.key.clone());
            let existing = api.ledger.keyring(&keyring).await.map_err(internal)?;
            let current = existing
                .credential(*id)
                .filter(|c| !c.erased)
                .ok_or(Failure::Flow)?;
            // A credential with no account recorded (pasted or imported, never checked) takes
            // the account its reconnect signs in with; one with an account keeps it.
            if current.account.as_ref().is_some_and(|a| a.id != account.id) {
                return Err(Failure::OtherAccount);
            }
            api.ledger
                .replace_secret(&id.to_string(), &bytes, Some(outcome), &meta)
                .await
                .map(|_| *id)
        }
        Target::New { name } => {
            let id = CredentialId::from_uuid(uuid::Uuid::new_v4());
            let name = match name {
                Some(name) => name.clone(),
                None => {
                    let keyring = KeyringId::new(flow.user_id.clone(), definition.key.clone());
                    let existing = api.ledger.keyring(&keyring).await.map_err(internal)?;
                    let taken: Vec<String> =
                        existing.credentials().map(|c| c.name.to_string()).collect();
                    name_after(account, &definition.display_name, &taken)
                }
            };
            let name = &name;
            api.ledger
                .register(
                    NewCredential {
                        user_id: flow.user_id.as_str(),
                        service: &flow.service,
                        name,
                        fields_json: &bytes,
                        metadata: Default::default(),
                        validation: Some(outcome),
                    },
                    id,
                    &meta,
                )
                .await
                .map(|_| id)
        }
    };
    result.map_err(|e| match e {
        LedgerError::Rule(KeyringError::DuplicateAccount(..)) => Failure::Duplicate,
        LedgerError::Rule(KeyringError::NameTaken(_)) => Failure::NameTaken,
        other => internal(other),
    })
}

/// Revokes at the provider a grant the flow refused (it lacks a scope), whose tokens would
/// otherwise stay good there with nothing here to use or end them: once, before the person is
/// sent back (a later try could end the grant of a connection they made again meanwhile).
/// Only when the grant's account is known (the live check with its access token) and no
/// credential holds that account at the same provider: Google ends the client's whole grant for
/// the account whichever token is sent, and would cut those credentials off too.
async fn revoke_refused_grant(
    api: &Api,
    definition: &ServiceDefinition,
    provider: &str,
    fields: &SecretFields,
) {
    let ValidationOutcome::Valid { account, .. } = api.validator.validate(definition, fields).await
    else {
        tracing::warn!(service = %definition.key, "a refused OAuth grant's account could not be read; it is not revoked at the provider");
        return;
    };
    match others_holding_account(api, provider, &account.id, "").await {
        Ok(others) if others.is_empty() => {}
        Ok(others) => {
            tracing::info!(service = %definition.key, provider, others = ?others, "not revoking a refused OAuth grant at the provider: credentials hold the same account, and the provider would end their grant too");
            return;
        }
        Err(e) => {
            tracing::warn!(service = %definition.key, error = %e, "could not tell whether credentials hold a refused OAuth grant's account; it is not revoked at the provider");
            return;
        }
    }
    let Some(refresh_token) = fields.get(OAuthFlow::REFRESH_TOKEN) else {
        return;
    };
    if let Err(e) = api.oauth.revoke(definition, refresh_token.expose()).await {
        tracing::warn!(service = %definition.key, error = %e, "could not revoke a refused OAuth grant at the provider");
    }
}

/// The credentials other than `except` (of anyone, neither revoked nor erased, as the
/// credential list shows them) holding `account_id` at a service of `provider`, five at most:
/// while any does, a grant of that account is not revoked at the provider, since Google ends
/// the client's whole grant for the account whichever token is sent.
pub(crate) async fn others_holding_account(
    api: &Api,
    provider: &str,
    account_id: &str,
    except: &str,
) -> Result<Vec<String>, credledger_projections::ProjectionError> {
    let services: Vec<&str> = api
        .ledger
        .catalog
        .services()
        .iter()
        .filter(|d| d.oauth.as_ref().is_some_and(|f| f.provider == provider))
        .map(|d| d.key.as_str())
        .collect();
    credledger_projections::credential_summary::others_holding_account(
        &api.ledger.db.any,
        &services,
        account_id,
        except,
        5,
    )
    .await
}

/// The scopes of `asked` that `granted` lacks (a consent screen may let the person untick
/// some). Google answers `email` and `profile` by their long names
/// (`https://www.googleapis.com/auth/userinfo.email`, `…userinfo.profile`): the same scopes.
fn missing_scopes<'a>(asked: &'a [String], granted: &[String]) -> Vec<&'a str> {
    fn canonical(scope: &str) -> &str {
        match scope {
            "https://www.googleapis.com/auth/userinfo.email" => "email",
            "https://www.googleapis.com/auth/userinfo.profile" => "profile",
            other => other,
        }
    }
    asked
        .iter()
        .map(String::as_str)
        .filter(|a| !granted.iter().any(|g| canonical(g) == canonical(a)))
        .collect()
}

/// A name for a connection made without one: the account's email (else its display name, else
/// the service's), with " 2", " 3"… when the person already has a credential by that name.
fn name_after(
    account: &credledger_domain::keyring::AccountIdentity,
    service: &str,
    taken: &[String],
) -> String {
    let base: String = account
        .email
        .clone()
        .or_else(|| account.display_name.clone())
        .filter(|n| credledger_domain::CredentialName::parse(n).is_ok())
        .unwrap_or_else(|| service.to_owned())
        .chars()
        .take(90)
        .collect();
    credledger_domain::CredentialName::first_free(&base, |name| taken.iter().any(|t| t == name))
}

fn internal(e: impl std::fmt::Display) -> Failure {
    tracing::error!(error = %e, "OAuth connection failed");
    Failure::Failed
}

/// The credential's fields holding a grant's tokens.
pub fn token_fields(access_token: &str, refresh_token: &str) -> Result<SecretFields, Failure> {
    let json = serde_json::json!({
        OAuthFlow::ACCESS_TOKEN: access_token,
        OAuthFlow::REFRESH_TOKEN: refresh_token,
    });
    SecretFields::from_json_bytes(json.to_string().as_bytes()).map_err(|_| Failure::Exchange)
}

/// A live check's answer with what the token endpoint said: when the access token expires
/// and which scopes were granted (the provider may grant fewer than asked).
pub fn with_grant(outcome: ValidationOutcome, grant: &TokenGrant) -> ValidationOutcome {
    match outcome {
        ValidationOutcome::Valid {
            account,
            provider_metadata,
            scopes,
            expires_at: _,
        } => ValidationOutcome::Valid {
            account,
            provider_metadata,
            scopes: grant.scopes.clone().unwrap_or(scopes),
            expires_at: Some(grant.expires_at(chrono::Utc::now())),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credledger_adapters::outbound::OutboundPolicy;

    /// Connections with a Google client whose flows live `lifetime`.
    fn connections(lifetime: Duration) -> OAuthConnections {
        connections_holding(lifetime, MAX_OPEN_FLOWS)
    }

    /// Connections with a Google client whose flows live `lifetime`, at most `max_open` open.
    fn connections_holding(lifetime: Duration, max_open: u64) -> OAuthConnections {
        let clients = BTreeMap::from([(
            "google".to_owned(),
            OAuthClient {
                id: "client".into(),
                secret: None,
            },
        )]);
        let http = OAuthHttp::new(OutboundPolicy::default()).expect("a client");
        OAuthConnections::with_limits(http, clients, "https://ledger.example", lifetime, max_open)
    }

    /// Opens a Gmail flow for `user` in `session`: its state.
    fn start(connections: &OAuthConnections, user: &str, session: &str) -> String {
        let catalog = credledger_domain::Catalog::builtin();
        let gmail = catalog.enabled_service("gmail").expect("gmail");
        let url = connections
            .start(
                gmail,
                Target::New { name: None },
                &UserId::parse(user).expect("a user id"),
                session,
            )
            .expect("started");
        url::Url::parse(&url)
            .expect("a URL")
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .expect("a state")
    }

    #[test]
    fn a_flow_is_taken_once_and_not_past_its_lifetime_whatever_the_cache_still_holds() {
        let connections_for_long = connections(FLOW_LIFETIME);
        let fresh = start(&connections_for_long, "alice", "alice-session");
        assert!(connections_for_long.take(&fresh).is_some());
        assert!(connections_for_long.take(&fresh).is_none(), "taken twice");
        let lifetime = Duration::from_millis(50);
        let short_lived = connections(lifetime);
        let old = start(&short_lived, "alice", "alice-session");
        std::thread::sleep(lifetime * 3);
        assert!(short_lived.take(&old).is_none(), "a flow past its lifetime");
    }

    #[test]
    fn one_person_keeps_at_most_their_bound_of_open_flows_and_never_pushes_out_anothers() {
        let connections = connections(FLOW_LIFETIME);
        let start = |user: &str, session: &str| start(&connections, user, session);
        let others = start("bob", "bob-session");
        let first: Vec<String> = (0..MAX_OPEN_FLOWS_PER_PERSON)
            .map(|_| start("mallory", "mallory-session"))
            .collect();
        let later: Vec<String> = (0..20)
            .map(|_| start("mallory", "mallory-session"))
            .collect();
        connections.open.run_pending_tasks();
        let open = |state: &String| connections.open.contains_key(state.as_str());
        assert!(open(&others), "another session's flow was pushed out");
        assert!(first.iter().all(|s| !open(s)), "the oldest were kept");
        let kept = later.iter().filter(|s| open(s)).count();
        assert_eq!(kept, MAX_OPEN_FLOWS_PER_PERSON);
        assert!(later[later.len() - MAX_OPEN_FLOWS_PER_PERSON..]
            .iter()
            .all(open));
    }

    #[test]
    fn one_person_signed_in_many_times_cannot_keep_anothers_flow_out() {
        let connections = connections_holding(FLOW_LIFETIME, 50);
        // A session per sign-in, each opening flows, far past the instance's bound.
        for session in 0..40 {
            for _ in 0..MAX_OPEN_FLOWS_PER_PERSON {
                start(
                    &connections,
                    "mallory",
                    &format!("mallory-session-{session}"),
                );
            }
        }
        connections.open.run_pending_tasks();
        let bob = start(&connections, "bob", "bob-session");
        connections.open.run_pending_tasks();
        assert!(
            connections.open.contains_key(&bob),
            "bob's flow was not kept"
        );
        let mallorys = connections
            .open
            .iter()
            .filter(|(_, flow)| flow.user_id.as_str() == "mallory")
            .count();
        assert_eq!(mallorys, MAX_OPEN_FLOWS_PER_PERSON);
    }

    #[test]
    fn a_new_flow_is_kept_when_the_instance_holds_its_bound_of_others() {
        let connections = connections_holding(FLOW_LIFETIME, 50);
        let everyone: Vec<String> = (0..60)
            .map(|n| {
                start(
                    &connections,
                    &format!("person-{n}"),
                    &format!("session-{n}"),
                )
            })
            .collect();
        connections.open.run_pending_tasks();
        let newest = start(&connections, "newcomer", "newcomer-session");
        connections.open.run_pending_tasks();
        assert!(
            connections.open.contains_key(&newest),
            "a full cache refused a new flow"
        );
        assert!(
            !connections.open.contains_key(&everyone[0]),
            "the oldest was kept"
        );
        assert!(connections.open.entry_count() <= 50);
    }
}
