//! Google's OAuth 2.0 endpoints as the simulator answers them, with their real request and
//! answer shapes and Google's rules: the authorization page (a consent screen with Allow and
//! Deny) refuses a `redirect_uri` not registered for the client (`redirect_uri_mismatch`) and
//! an authorization without `scope`; the token endpoint serves the `authorization_code` (PKCE
//! S256 checked, the code's own `redirect_uri` required, a refresh token only when the
//! authorization asked `access_type=offline`) and `refresh_token` grants with `invalid_grant`,
//! `invalid_client` and `invalid_request` errors; revocation ends every token the client holds
//! for the account (every authorization of it, as Google does) and answers `invalid_token` for
//! a token already revoked or unknown. Tokens it issues are accepted by the simulated userinfo
//! endpoint until they expire or are revoked.
//!
//! Served under `/oauth/google` (`/o/oauth2/v2/auth`, `/token`, `/revoke`: Google's own paths),
//! so [`credledger_domain::Catalog::set_oauth_origin`] with that prefix points a catalog at it.
//! A rotating mode issues a new refresh token on each refresh and, like OAuth 2.1's reuse
//! detection, revokes the whole token family when a rotated refresh token is redeemed again.

use super::{lock, Shared, SimAccount};
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine as _;
use rand::RngCore;
use sha2::Digest;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the simulator serves Google's OAuth endpoints.
pub(super) const PREFIX: &str = "/oauth/google";

/// The client `serve --dev` and the tests register with the simulator.
pub const DEMO_OAUTH_CLIENT_ID: &str = "credledger-dev.apps.simulator";
/// Its secret: a well-known demo value, like the demo tokens, for loopback only.
pub const DEMO_OAUTH_CLIENT_SECRET: &str = "GOCSPX-simulator-demo-secret";

/// How the simulated Google OAuth server behaves; changeable at run time.
#[derive(Debug, Clone)]
pub struct OAuthBehaviour {
    /// How long an access token lives (Google: one hour).
    pub token_lifetime: Duration,
    /// Whether each refresh answers with a new refresh token (Google's own do not rotate).
    pub rotate_refresh_tokens: bool,
    /// The Google account that signs in on the consent page.
    pub account: SimAccount,
    /// How long the token endpoint takes to answer a refresh (a slow provider).
    pub refresh_delay: Duration,
    /// Whether token answers leave out `expires_in` (RFC 6749 only recommends it).
    pub omit_expires_in: bool,
    /// Scopes the person unticks on the consent page (Google's granular consent): granted
    /// without them.
    pub unticked_scopes: Vec<String>,
    /// Whether the token endpoint answers every refresh `503` (Google in an outage); each is
    /// still counted among the redemptions.
    pub refresh_unavailable: bool,
}

impl Default for OAuthBehaviour {
    fn default() -> Self {
        Self {
            token_lifetime: Duration::from_secs(3600),
            rotate_refresh_tokens: false,
            account: SimAccount::new(
                "108204271535938102901",
                "Katherine Johnson",
                "katherine.johnson@gmail.com",
            ),
            refresh_delay: Duration::ZERO,
            omit_expires_in: false,
            unticked_scopes: Vec::new(),
            refresh_unavailable: false,
        }
    }
}

/// A client registered with the simulated Google, as in the Cloud console.
struct RegisteredClient {
    secret: String,
    /// Its authorized redirect URIs: an authorization's `redirect_uri` must be one of them,
    /// exactly.
    redirect_uris: Vec<String>,
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    scopes: Vec<String>,
    /// Whether the authorization asked `access_type=offline`: only then does the code's
    /// exchange give a refresh token.
    offline: bool,
    account: SimAccount,
    issued: Instant,
}

struct AccessToken {
    family: u64,
    expires: Instant,
}

struct RefreshToken {
    family: u64,
    /// Replaced by a newer one (rotating mode): redeeming it again is reuse.
    rotated: bool,
}

struct Family {
    client_id: String,
    account: SimAccount,
    scopes: Vec<String>,
    revoked: bool,
}

/// The simulated OAuth server's memory.
#[derive(Default)]
pub(super) struct OAuthState {
    pub(super) behaviour: OAuthBehaviour,
    clients: HashMap<String, RegisteredClient>,
    codes: HashMap<String, Grant>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    families: Vec<Family>,
    redemptions: BTreeMap<String, u32>,
    revocations: u32,
    revocation_requests: u32,
}

impl OAuthState {
    pub(super) fn with_demo_client() -> Self {
        let mut state = Self::default();
        state.clients.insert(
            DEMO_OAUTH_CLIENT_ID.to_owned(),
            RegisteredClient {
                secret: DEMO_OAUTH_CLIENT_SECRET.to_owned(),
                redirect_uris: Vec::new(),
            },
        );
        state
    }

    /// Adds an authorized redirect URI to the demo client.
    pub(super) fn register_demo_redirect_uri(&mut self, uri: &str) {
        if let Some(client) = self.clients.get_mut(DEMO_OAUTH_CLIENT_ID) {
            if !client.redirect_uris.iter().any(|known| known == uri) {
                client.redirect_uris.push(uri.to_owned());
            }
        }
    }

    /// Whether `uri` is one of `client_id`'s authorized redirect URIs.
    fn is_registered(&self, client_id: &str, uri: &str) -> bool {
        self.clients
            .get(client_id)
            .is_some_and(|client| client.redirect_uris.iter().any(|known| known == uri))
    }

    /// Who an access token this server issued belongs to, while it is alive; `None` for a
    /// token it did not issue (the caller then looks elsewhere).
    pub(super) fn account_for(&self, token: &str) -> Option<Option<SimAccount>> {
        let access = self.access.get(token)?;
        let family = &self.families[access.family as usize];
        Some((!family.revoked && access.expires > Instant::now()).then(|| family.account.clone()))
    }

    /// How many times each refresh token was redeemed.
    pub(super) fn redemptions(&self) -> BTreeMap<String, u32> {
        self.redemptions.clone()
    }

    pub(super) fn revocations(&self) -> u32 {
        self.revocations
    }

    /// How many revocation requests came, whatever they were answered.
    pub(super) fn revocation_requests(&self) -> u32 {
        self.revocation_requests
    }

    /// Revokes every token issued so far.
    pub(super) fn revoke_all(&mut self) {
        for family in &mut self.families {
            family.revoked = true;
        }
    }

    fn issue(&mut self, family: u64, with_refresh: bool) -> serde_json::Value {
        let lifetime = self.behaviour.token_lifetime;
        let access = format!("ya29.sim-{}", random_token());
        self.access.insert(
            access.clone(),
            AccessToken {
                family,
                expires: Instant::now() + lifetime,
            },
        );
        let scope = self.families[family as usize].scopes.join(" ");
        let mut answer = serde_json::json!({
            "access_token": access,
            "expires_in": lifetime.as_secs(),
            "scope": scope,
            "token_type": "Bearer",
        });
        if self.behaviour.omit_expires_in {
            answer.as_object_mut().map(|a| a.remove("expires_in"));
        }
        if with_refresh {
            let refresh = format!("1//sim-{}", random_token());
            self.refresh.insert(
                refresh.clone(),
                RefreshToken {
                    family,
                    rotated: false,
                },
            );
            answer["refresh_token"] = refresh.into();
        }
        answer
    }
}

pub(super) fn router() -> axum::Router<Arc<Shared>> {
    axum::Router::new()
        .route("/o/oauth2/v2/auth", axum::routing::get(authorize))
        .route("/consent", axum::routing::post(consent))
        .route("/token", axum::routing::post(token))
        .route("/revoke", axum::routing::post(revoke))
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn error_page(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><title>Error 400</title><h1>Access blocked: Authorization Error</h1><p>{}</p>",
            escape(message)
        )),
    )
        .into_response()
}

/// Google's page for an authorization whose `redirect_uri` is not one the client registered.
fn redirect_uri_mismatch(redirect_uri: &str) -> Response {
    error_page(&format!(
        "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 \
         policy. If you're the app developer, register the redirect URI in the Google Cloud \
         Console. Request details: redirect_uri={redirect_uri} Error 400: redirect_uri_mismatch"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        serde_json::json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response()
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let oauth = lock(&shared.oauth);
    let get = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    if !oauth.clients.contains_key(get("client_id")) {
        return error_page("The OAuth client was not found. Error 401: invalid_client");
    }
    if !oauth.is_registered(get("client_id"), get("redirect_uri")) {
        return redirect_uri_mismatch(get("redirect_uri"));
    }
    if get("response_type") != "code" {
        return error_page("Error 400: unsupported_response_type");
    }
    if get("scope").trim().is_empty() {
        return error_page("Missing required parameter: scope. Error 400: invalid_request");
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").len() < 43 {
        return error_page("Error 400: invalid_request (PKCE S256 is required)");
    }
    let account = &oauth.behaviour.account;
    let hidden: String = [
        "client_id",
        "redirect_uri",
        "state",
        "scope",
        "code_challenge",
        "include_granted_scopes",
        "access_type",
    ]
    .iter()
    .map(|name| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(get(name))
        )
    })
    .collect();
    let scopes: String = get("scope")
        .split(' ')
        .map(|s| format!("<li>{}</li>", escape(s)))
        .collect();
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in - Google Accounts \
         (simulated)</title></head><body><h1>credledger wants to access your Google Account</h1>\
         <p id=\"account\">{email}</p><ul>{scopes}</ul>\
         <form method=\"post\" action=\"{PREFIX}/consent\">{hidden}\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Cancel</button>\
         <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button></form>\
         </body></html>",
        email = escape(&account.email),
    ))
    .into_response()
}

async fn consent(
    State(shared): State<Arc<Shared>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |name: &str| form.get(name).cloned().unwrap_or_default();
    // The form is this server's own page, but what comes back from a browser is checked again.
    let registered = lock(&shared.oauth).is_registered(&get("client_id"), &get("redirect_uri"));
    let (true, Ok(mut redirect)) = (registered, url::Url::parse(&get("redirect_uri"))) else {
        return redirect_uri_mismatch(&get("redirect_uri"));
    };
    let state = get("state");
    if get("decision") != "allow" {
        redirect
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", &state);
        return Redirect::to(redirect.as_str()).into_response();
    }
    let code = format!("4/sim-{}", random_token());
    let mut oauth = lock(&shared.oauth);
    // As Google answers them: `email` and `profile` by their long names.
    let mut scopes: Vec<String> = get("scope")
        .split(' ')
        .filter(|s| !oauth.behaviour.unticked_scopes.iter().any(|u| u == s))
        .map(|s| match s {
            "email" => "https://www.googleapis.com/auth/userinfo.email".to_owned(),
            "profile" => "https://www.googleapis.com/auth/userinfo.profile".to_owned(),
            other => other.to_owned(),
        })
        .collect();
    {
        let account = oauth.behaviour.account.clone();
        // As Google: the new grant also covers every scope this account granted this client
        // before and has not revoked.
        if get("include_granted_scopes") == "true" {
            let client_id = get("client_id");
            for family in &oauth.families {
                if family.client_id == client_id
                    && family.account.id == account.id
                    && !family.revoked
                {
                    for scope in &family.scopes {
                        if !scopes.contains(scope) {
                            scopes.push(scope.clone());
                        }
                    }
                }
            }
        }
        oauth.codes.insert(
            code.clone(),
            Grant {
                client_id: get("client_id"),
                redirect_uri: get("redirect_uri"),
                code_challenge: get("code_challenge"),
                scopes: scopes.clone(),
                offline: get("access_type") == "offline",
                account,
                issued: Instant::now(),
            },
        );
    }
    drop(oauth);
    redirect
        .query_pairs_mut()
        .append_pair("state", &state)
        .append_pair("code", &code)
        .append_pair("scope", &scopes.join(" "));
    Redirect::to(redirect.as_str()).into_response()
}

/// The client's id and secret, from HTTP Basic (RFC 6749 §2.3.1) or the form.
fn client_credentials(headers: &HeaderMap, form: &HashMap<String, String>) -> (String, String) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| {
            let (id, secret) = v.split_once(':')?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Some((decode(id), decode(secret)))
        });
    basic.unwrap_or_else(|| {
        (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        )
    })
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let (client_id, client_secret) = client_credentials(&headers, &form);
    if get("grant_type") == "refresh_token" {
        let delay = lock(&shared.oauth).behaviour.refresh_delay;
        tokio::time::sleep(delay).await;
    }
    let mut oauth = lock(&shared.oauth);
    if oauth.clients.get(&client_id).map(|c| c.secret.as_str()) != Some(client_secret.as_str()) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    match get("grant_type") {
        "authorization_code" => {
            // A code is good once, for ten minutes, for the client and redirect it was given to.
            let Some(grant) = oauth.codes.remove(get("code")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Malformed auth code.",
                );
            };
            if grant.client_id != client_id || grant.issued.elapsed() > Duration::from_secs(600) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
            }
            if grant.redirect_uri != get("redirect_uri") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "redirect_uri_mismatch",
                    "Bad Request",
                );
            }
            let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(get("code_verifier").as_bytes()));
            if get("code_verifier").is_empty() || challenge != grant.code_challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid code verifier.",
                );
            }
            oauth.families.push(Family {
                client_id: grant.client_id,
                account: grant.account,
                scopes: grant.scopes,
                revoked: false,
            });
            let family = oauth.families.len() as u64 - 1;
            json_ok(oauth.issue(family, grant.offline))
        }
        "refresh_token" => {
            let presented = get("refresh_token").to_owned();
            *oauth.redemptions.entry(presented.clone()).or_default() += 1;
            if oauth.behaviour.refresh_unavailable {
                return oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "internal_failure",
                    "The service is currently unavailable.",
                );
            }
            let Some((family, rotated)) =
                oauth.refresh.get(&presented).map(|r| (r.family, r.rotated))
            else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
            };
            if rotated {
                // Reuse of a rotated refresh token: someone else may hold the family.
                oauth.families[family as usize].revoked = true;
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                );
            }
            if oauth.families[family as usize].revoked {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                );
            }
            let rotate = oauth.behaviour.rotate_refresh_tokens;
            if rotate {
                if let Some(old) = oauth.refresh.get_mut(&presented) {
                    old.rotated = true;
                }
            }
            json_ok(oauth.issue(family, rotate))
        }
        "" => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required parameter is missing: grant_type",
        ),
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type.",
        ),
    }
}

async fn revoke(
    State(shared): State<Arc<Shared>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let token = form.get("token").map(String::as_str).unwrap_or_default();
    let mut oauth = lock(&shared.oauth);
    oauth.revocation_requests += 1;
    let family = oauth
        .refresh
        .get(token)
        .map(|r| r.family)
        .or_else(|| oauth.access.get(token).map(|a| a.family))
        .filter(|family| !oauth.families[*family as usize].revoked);
    match family {
        Some(family) => {
            // Google revokes the client's whole grant for the account, whichever of its tokens
            // is presented: every token this client holds for the account, of any
            // authorization (another service's too).
            let (client_id, account) = {
                let revoked = &oauth.families[family as usize];
                (revoked.client_id.clone(), revoked.account.id.clone())
            };
            for family in &mut oauth.families {
                if family.client_id == client_id && family.account.id == account {
                    family.revoked = true;
                }
            }
            oauth.revocations += 1;
            StatusCode::OK.into_response()
        }
        // Google's answer for a token of a grant already revoked, and for one it never issued.
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "Token expired or revoked",
        ),
    }
}

fn json_ok(body: serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}
