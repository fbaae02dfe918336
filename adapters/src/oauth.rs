//! OAuth 2.0 with the providers whose catalog entry declares an [`OAuthFlow`]: the
//! authorization-code flow with PKCE S256 (RFC 6749 §4.1, RFC 7636), refresh (§6) and token
//! revocation (RFC 7009). Built on the `oauth2` crate; every request goes through the
//! deployment's [`OutboundPolicy`] (checked and pinned addresses) and no redirect is followed.
//!
//! What a provider answers is read up to [`MAX_ANSWER_BYTES`] (a longer answer is not read
//! on), and reaches callers only as its OAuth error code and `error_description` (the two
//! fields RFC 6749 §5.2 defines), both length-capped, never a raw body.

use crate::outbound::OutboundPolicy;
use credledger_domain::catalog::OAuthFlow;
use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicRevocationErrorResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest, HttpResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    StandardRevocableToken, TokenResponse, TokenUrl,
};
use std::time::Duration;

/// This deployment's client at one provider. The secret comes from the environment or a file
/// only, and `Debug` never shows it.
#[derive(Clone)]
pub struct OAuthClient {
    pub id: String,
    pub secret: Option<String>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Where to send the person, and what to keep (server-side only) until they come back.
pub struct Authorization {
    pub url: url::Url,
    pub state: String,
    pub pkce_verifier: String,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization").finish_non_exhaustive()
    }
}

/// What a token endpoint granted.
#[derive(Clone)]
pub struct TokenGrant {
    pub access_token: String,
    /// A new refresh token; on a refresh without rotation, providers send none.
    pub refresh_token: Option<String>,
    /// How long the access token lives, as the provider said ([`ASSUMED_TOKEN_LIFETIME`] when
    /// it did not).
    pub expires_in: Duration,
    /// The scopes granted, when the provider says (it may grant fewer than asked).
    pub scopes: Option<Vec<String>>,
}

/// The longest an access token is taken to live, whatever its provider says (a lifetime past
/// any date would overflow the expiry's).
const LONGEST_TOKEN_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// How long an access token is taken to live when its provider does not say (`expires_in` is
/// only recommended by RFC 6749 §5.1): Google's lifetime. Without one, the token would never be
/// refreshed, and would stop working unnoticed.
pub const ASSUMED_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

impl TokenGrant {
    /// When the access token expires, counted from `now`: at most 366 days away.
    pub fn expires_at(&self, now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        let lifetime = self.expires_in.min(LONGEST_TOKEN_LIFETIME);
        now + chrono::TimeDelta::from_std(lifetime).unwrap_or(chrono::TimeDelta::days(366))
    }
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Why an OAuth request did not give what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The provider answered with an OAuth error (`invalid_grant`, `invalid_client`, …).
    #[error("the provider refused: {code}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        code: String,
        description: Option<String>,
    },
    /// The provider could not be asked, or answered something that is not OAuth.
    #[error("the provider could not be asked: {0}")]
    Unreachable(String),
    /// The flow's endpoints or this deployment's client are not usable.
    #[error("OAuth is not configured correctly: {0}")]
    Configuration(String),
}

impl OAuthError {
    /// This error with what was sent (the client's secret, alone or in its Basic credentials,
    /// and the code, verifier or token) taken out of the provider's words by the redaction the
    /// provider checks use, in every encoding it knows, before they are cut to length: an
    /// answer echoing them must not put them in a log.
    fn told_without(self, client: &OAuthClient, sent: &[&str]) -> Self {
        let Self::Refused { code, description } = self else {
            return self;
        };
        let mut secrets = sent.to_vec();
        secrets.extend(client.secret.as_deref());
        let redactor = crate::validation::redact::Redactor::of(&secrets, &[client.id.as_str()]);
        Self::Refused {
            code: redactor.clean(&code, CODE_MAX),
            description: description.map(|d| redactor.clean(&d, DESCRIPTION_MAX)),
        }
    }

    /// `invalid_grant`: the refresh token (or code) is no longer good — revoked, expired or
    /// already redeemed.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, Self::Refused { code, .. } if code == "invalid_grant")
    }
}

/// Longest provider `error_description` passed on.
const DESCRIPTION_MAX: usize = 200;
/// Longest provider `error` code passed on.
const CODE_MAX: usize = 64;
/// The longest answer read from a token or revocation endpoint (a token answer is a few
/// kilobytes at most).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Talks OAuth to providers through the outbound policy.
#[derive(Clone, Debug)]
pub struct OAuthHttp {
    http: reqwest::Client,
    policy: OutboundPolicy,
}

impl OAuthHttp {
    pub fn new(policy: OutboundPolicy) -> Result<Self, OAuthError> {
        let http = policy
            .client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| OAuthError::Configuration(e.to_string()))?;
        Ok(Self { http, policy })
    }

    /// The authorization URL to send the person to, with a fresh `state` and PKCE pair.
    pub fn authorize(
        &self,
        flow: &OAuthFlow,
        client: &OAuthClient,
        redirect_uri: &str,
    ) -> Result<Authorization, OAuthError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let oauth = BasicClient::new(ClientId::new(client.id.clone()))
            .set_auth_uri(parse(&flow.authorization_url, AuthUrl::new)?)
            .set_redirect_uri(parse(redirect_uri, RedirectUrl::new)?);
        let mut request = oauth
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .add_scopes(flow.scopes.iter().cloned().map(Scope::new));
        for (name, value) in &flow.authorization_params {
            request = request.add_extra_param(name.as_str(), value.as_str());
        }
        let (url, state) = request.url();
        Ok(Authorization {
            url,
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Redeems an authorization code (with its PKCE verifier).
    pub async fn exchange_code(
        &self,
        flow: &OAuthFlow,
        client: &OAuthClient,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<TokenGrant, OAuthError> {
        self.check(&flow.token_url).await?;
        let oauth = with_secret(BasicClient::new(ClientId::new(client.id.clone())), client)
            .set_token_uri(parse(&flow.token_url, TokenUrl::new)?)
            .set_redirect_uri(parse(redirect_uri, RedirectUrl::new)?);
        let answer = oauth
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&Capped(&self.http))
            .await;
        grant(answer).map_err(|e| e.told_without(client, &[code, pkce_verifier]))
    }

    /// Redeems a refresh token for a new access token (and, where tokens rotate, a new
    /// refresh token).
    pub async fn refresh(
        &self,
        flow: &OAuthFlow,
        client: &OAuthClient,
        refresh_token: &str,
    ) -> Result<TokenGrant, OAuthError> {
        self.check(&flow.token_url).await?;
        let oauth = with_secret(BasicClient::new(ClientId::new(client.id.clone())), client)
            .set_token_uri(parse(&flow.token_url, TokenUrl::new)?);
        let token = RefreshToken::new(refresh_token.to_owned());
        let answer = oauth
            .exchange_refresh_token(&token)
            .request_async(&Capped(&self.http))
            .await;
        grant(answer).map_err(|e| e.told_without(client, &[refresh_token]))
    }

    /// Revokes a token at the provider (RFC 7009); a provider without a revocation endpoint
    /// has nothing to do. `invalid_token` is success too: nothing is left to revoke (Google's
    /// answer for a token already revoked or never issued, which RFC 7009 §2.2 answers with
    /// 200). Sent by hand rather than through the `oauth2` crate, whose revocation refuses
    /// plain-`http` endpoints even on loopback (the simulator, `--dev`); the outbound policy
    /// decides that here as for every other call.
    pub async fn revoke(
        &self,
        flow: &OAuthFlow,
        client: &OAuthClient,
        token: &str,
        is_refresh_token: bool,
    ) -> Result<(), OAuthError> {
        let Some(revocation_url) = &flow.revocation_url else {
            return Ok(());
        };
        self.check(revocation_url).await?;
        let hint = if is_refresh_token {
            "refresh_token"
        } else {
            "access_token"
        };
        let mut request = self
            .http
            .post(revocation_url)
            .form(&[("token", token), ("token_type_hint", hint)]);
        request = match &client.secret {
            Some(secret) => {
                request.basic_auth(form_encoded(&client.id), Some(form_encoded(secret)))
            }
            None => request.form(&[
                ("token", token),
                ("token_type_hint", hint),
                ("client_id", client.id.as_str()),
            ]),
        };
        let answer = request
            .send()
            .await
            .map_err(|_| OAuthError::Unreachable("no answer".into()))?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let body = read_capped(answer)
            .await
            .map_err(|e| OAuthError::Unreachable(e.to_string()))?;
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if body["error"] == "invalid_token" {
            return Ok(());
        }
        Err(OAuthError::Refused {
            code: body["error"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {}", status.as_u16())),
            description: body["error_description"].as_str().map(str::to_owned),
        }
        .told_without(client, &[token]))
    }

    async fn check(&self, url: &str) -> Result<(), OAuthError> {
        let url = url::Url::parse(url).map_err(configuration)?;
        self.policy
            .check(&url)
            .await
            .map_err(|refused| OAuthError::Configuration(refused.0))
    }
}

fn with_secret<A, B, C, D, E>(
    oauth: oauth2::Client<
        oauth2::StandardErrorResponse<BasicErrorResponseType>,
        oauth2::basic::BasicTokenResponse,
        oauth2::basic::BasicTokenIntrospectionResponse,
        StandardRevocableToken,
        BasicRevocationErrorResponse,
        A,
        B,
        C,
        D,
        E,
    >,
    client: &OAuthClient,
) -> oauth2::Client<
    oauth2::StandardErrorResponse<BasicErrorResponseType>,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    A,
    B,
    C,
    D,
    E,
>
where
    A: oauth2::EndpointState,
    B: oauth2::EndpointState,
    C: oauth2::EndpointState,
    D: oauth2::EndpointState,
    E: oauth2::EndpointState,
{
    match &client.secret {
        Some(secret) => oauth.set_client_secret(ClientSecret::new(secret.clone())),
        None => oauth,
    }
}

/// Why a request to a provider's endpoint had no usable answer. Its words never name the
/// address or carry the answer.
#[derive(Debug, thiserror::Error)]
enum Transport {
    #[error("no answer")]
    NoAnswer,
    #[error("an answer larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
}

/// The `oauth2` crate's requests sent through our client, reading at most
/// [`MAX_ANSWER_BYTES`] of an answer (the crate's own `reqwest` client reads answers whole).
struct Capped<'a>(&'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Capped<'_> {
    type Error = Transport;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, Transport>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}

async fn send(http: &reqwest::Client, request: HttpRequest) -> Result<HttpResponse, Transport> {
    let request = reqwest::Request::try_from(request).map_err(|_| Transport::NoAnswer)?;
    let answer = http
        .execute(request)
        .await
        .map_err(|_| Transport::NoAnswer)?;
    let mut response = HttpResponse::new(Vec::new());
    *response.status_mut() = answer.status();
    *response.headers_mut() = answer.headers().clone();
    *response.body_mut() = read_capped(answer).await?;
    Ok(response)
}

async fn read_capped(mut answer: reqwest::Response) -> Result<Vec<u8>, Transport> {
    if answer
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(Transport::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await.map_err(|_| Transport::NoAnswer)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            // Dropping the answer closes the connection: the rest is never read.
            return Err(Transport::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn parse<T, E: std::fmt::Display>(
    url: &str,
    make: impl FnOnce(String) -> Result<T, E>,
) -> Result<T, OAuthError> {
    make(url.to_owned()).map_err(configuration)
}

fn configuration(e: impl std::fmt::Display) -> OAuthError {
    OAuthError::Configuration(e.to_string())
}

fn unreachable(e: &RequestTokenError<Transport, impl oauth2::ErrorResponse>) -> OAuthError {
    OAuthError::Unreachable(match e {
        RequestTokenError::Request(transport) => transport.to_string(),
        RequestTokenError::Parse(..) => "an answer that is not an OAuth token response".into(),
        _ => "an unexpected answer".into(),
    })
}

fn grant(
    answer: Result<
        oauth2::basic::BasicTokenResponse,
        RequestTokenError<Transport, oauth2::StandardErrorResponse<BasicErrorResponseType>>,
    >,
) -> Result<TokenGrant, OAuthError> {
    match answer {
        Ok(token) => Ok(TokenGrant {
            access_token: token.access_token().secret().clone(),
            refresh_token: token.refresh_token().map(|t| t.secret().clone()),
            expires_in: token.expires_in().unwrap_or(ASSUMED_TOKEN_LIFETIME),
            scopes: token
                .scopes()
                .map(|scopes| scopes.iter().map(|s| s.to_string()).collect()),
        }),
        Err(RequestTokenError::ServerResponse(e)) => Err(OAuthError::Refused {
            code: e.error().as_ref().to_owned(),
            description: e.error_description().cloned(),
        }),
        Err(e) => Err(unreachable(&e)),
    }
}

/// RFC 6749 §2.3.1: client credentials in Basic auth are form-encoded first.
fn form_encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod told_tests {
    use super::*;

    #[test]
    fn what_was_sent_is_cut_out_of_a_providers_words_before_they_are_cut_to_length() {
        use base64::Engine as _;
        let token = "1//0refresh-token-canary/with+slash";
        let client = OAuthClient {
            id: "client-id.apps.example".into(),
            secret: Some("client-secret-canary".into()),
        };
        let basic = base64::engine::general_purpose::STANDARD
            .encode("client-id.apps.example:client-secret-canary");
        let refused = OAuthError::Refused {
            code: "invalid_grant".into(),
            description: Some(format!(
                "{} {token} and {} with Basic {basic}",
                "x".repeat(170),
                form_encoded(token)
            )),
        }
        .told_without(&client, &[token]);
        let OAuthError::Refused { description, .. } = &refused else {
            unreachable!()
        };
        let description = description.as_deref().unwrap_or_default();
        assert!(!description.contains("1//0refresh"), "{description}");
        assert!(
            !description.contains("refresh-token-canary"),
            "{description}"
        );
        assert!(!description.contains(&basic[..16]), "{description}");
        assert!(
            description.chars().count() <= DESCRIPTION_MAX + 1,
            "{description}"
        );
        assert!(refused.is_invalid_grant());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;

    /// A token and revocation endpoint on loopback answering `status` with `body`.
    async fn endpoint(status: u16, body: String) -> OAuthFlow {
        let answer = move || {
            let body = body.clone();
            async move {
                let status = axum::http::StatusCode::from_u16(status).expect("a status");
                (status, [("content-type", "application/json")], body)
            }
        };
        let app = axum::Router::new()
            .route("/token", post(answer.clone()))
            .route("/revoke", post(answer));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let at = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        OAuthFlow {
            provider: "test".into(),
            authorization_url: format!("{at}/auth"),
            token_url: format!("{at}/token"),
            revocation_url: Some(format!("{at}/revoke")),
            scopes: vec![],
            authorization_params: Default::default(),
            refresh_tokens_rotate: false,
        }
    }

    fn http() -> OAuthHttp {
        OAuthHttp::new(OutboundPolicy {
            allow_loopback: true,
            allowed_hosts: vec![],
        })
        .expect("a client")
    }

    fn client() -> OAuthClient {
        OAuthClient {
            id: "client".into(),
            secret: Some("secret".into()),
        }
    }

    #[tokio::test]
    async fn an_answer_past_the_cap_is_not_read_and_a_refusals_code_is_capped() {
        let huge = "a".repeat(MAX_ANSWER_BYTES);
        let granted = endpoint(
            200,
            format!(r#"{{"access_token":"{huge}","token_type":"Bearer"}}"#),
        )
        .await;
        let too_large = Err(OAuthError::Unreachable(format!(
            "an answer larger than {MAX_ANSWER_BYTES} bytes"
        )));
        assert_eq!(
            http().refresh(&granted, &client(), "1//r").await.map(drop),
            too_large
        );
        let code = "x".repeat(10_000);
        let refused = endpoint(400, format!(r#"{{"error":"{code}"}}"#)).await;
        let Err(OAuthError::Refused { code, .. }) =
            http().refresh(&refused, &client(), "1//r").await
        else {
            panic!("a refusal");
        };
        assert_eq!(code, format!("{}…", "x".repeat(CODE_MAX)));
        let revoked = endpoint(400, format!(r#"{{"error":"{huge}"}}"#)).await;
        assert_eq!(
            http().revoke(&revoked, &client(), "1//r", true).await,
            too_large.map(drop)
        );
        // Within the cap, a token answer is a grant.
        let fine = endpoint(
            200,
            r#"{"access_token":"ya29.a","token_type":"Bearer","expires_in":3600}"#.into(),
        )
        .await;
        let grant = http()
            .refresh(&fine, &client(), "1//r")
            .await
            .expect("a grant");
        assert_eq!(grant.access_token, "ya29.a");
    }

    #[tokio::test]
    async fn a_revocation_answered_invalid_token_has_nothing_left_to_revoke() {
        let gone = endpoint(
            400,
            r#"{"error":"invalid_token","error_description":"Token expired or revoked"}"#.into(),
        )
        .await;
        assert_eq!(http().revoke(&gone, &client(), "1//r", true).await, Ok(()));
        let refused = endpoint(400, r#"{"error":"invalid_request"}"#.into()).await;
        assert!(matches!(
            http().revoke(&refused, &client(), "1//r", true).await,
            Err(OAuthError::Refused { code, .. }) if code == "invalid_request"
        ));
    }

    #[test]
    fn a_token_lifetime_past_any_date_is_taken_as_a_year() {
        let now = chrono::Utc::now();
        let grant = |expires_in| super::TokenGrant {
            access_token: "ya29.t".into(),
            refresh_token: None,
            expires_in,
            scopes: None,
        };
        let hour = std::time::Duration::from_secs(3600);
        assert_eq!(
            grant(hour).expires_at(now),
            now + chrono::TimeDelta::hours(1)
        );
        // 10^15 s fits a TimeDelta but no date: added to now, it panicked.
        for secs in [1_000_000_000_000_000, u64::MAX] {
            assert_eq!(
                grant(std::time::Duration::from_secs(secs)).expires_at(now),
                now + chrono::TimeDelta::days(366)
            );
        }
    }
}
