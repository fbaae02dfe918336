//! A provider simulator: real HTTP servers on loopback answering each catalog probe with the
//! real API's statuses, headers and JSON bodies, for tests and `credledger serve --dev`.
//!
//! One server serves every service under a path prefix (`http://127.0.0.1:PORT/notion`, …):
//! that is the service's base URL ([`ProviderSimulator::base_url`]) — the `{base_url}` override
//! for most services ([`ProviderSimulator::point_catalog`]), and the site URL to type in the
//! credential's `url` field for Jira and Confluence. A second listener stands for "another
//! host" and records whether a redirect brought credentials to it.
//!
//! A secret is accepted when it is one of [`DEMO_ACCOUNTS`] or was registered with
//! [`ProviderSimulator::accept`]; anything else gets the provider's own refusal. Faults
//! ([`Fault`]) are switched per service at run time. Nothing listens until
//! [`ProviderSimulator::start`] is called, only on loopback, and the servers stop when the
//! simulator is dropped.

mod google_oauth;
mod providers;

pub use google_oauth::{OAuthBehaviour, DEMO_OAUTH_CLIENT_ID, DEMO_OAUTH_CLIENT_SECRET};

pub use providers::{DemoAccount, DEMO_ACCOUNTS};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use credledger_domain::catalog::CatalogError;
use credledger_domain::Catalog;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The services the simulator answers for, by catalog key.
pub const SIMULATED_SERVICES: &[&str] = &[
    "notion",
    "jira",
    "todoist",
    "sentry",
    "confluence",
    "gmail",
    "google_calendar",
    "openai",
    "anthropic",
    "mistral",
];

/// Who a simulated secret belongs to. What each field means depends on the service:
/// - Notion: `id` the integration's bot user id, `name` the workspace, `email` its owner's;
/// - Jira, Confluence, Todoist, Gmail, Google Calendar: the user's account id, name and email
///   (Jira and Confluence also require `email` as the Basic-auth user name);
/// - Sentry: `id` the organization slug the token may read, `name` the organization's name;
/// - OpenAI, Anthropic: `id` the organization id sent back in a header; Mistral ignores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimAccount {
    pub id: String,
    pub name: String,
    pub email: String,
}

impl SimAccount {
    pub fn new(id: impl Into<String>, name: impl Into<String>, email: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            email: email.into(),
        }
    }
}

/// A misbehaviour a service can be switched to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Waits this long, then answers normally.
    Slow(Duration),
    /// `500 Internal Server Error`, with the API's own error body.
    ServerError,
    /// `403 Forbidden` with an HTML page, as the CDN in front of an API answers a caller's
    /// address it distrusts (or OpenAI a region it does not serve): nothing about the key.
    Forbidden,
    /// `429 Too Many Requests` with `Retry-After: <secs>`.
    RateLimited { retry_after_secs: u64 },
    /// `503 Service Unavailable`, with `Retry-After` when given.
    Unavailable { retry_after_secs: Option<u64> },
    /// `200` with a JSON content type and a body cut in the middle.
    MalformedJson,
    /// `200` streaming this many bytes, chunked (no `Content-Length`); see
    /// [`ProviderSimulator::oversize_stream`].
    Oversize { bytes: u64 },
    /// `302` to the same path on the other listener ([`ProviderSimulator::elsewhere_visits`]).
    RedirectToOtherHost,
}

/// What became of the last oversize body streamed for a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamReport {
    /// Bytes handed to the connection before the stream ended or was dropped.
    pub bytes_produced: u64,
    /// Whether every byte was produced; `false` means the client hung up early.
    pub completed: bool,
}

/// One request that reached the "other host".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElsewhereVisit {
    pub path: String,
    /// Names of credential-carrying headers it came with (`authorization`, `x-api-key`,
    /// `cookie`, `proxy-authorization`).
    pub credential_headers: Vec<String>,
}

/// A credential the demo accepts, ready to type in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCredential {
    pub service: &'static str,
    /// The credential's fields as the catalog names them (secrets are public demo values).
    pub fields: BTreeMap<String, String>,
    pub account: SimAccount,
}

struct ActiveFault {
    fault: Fault,
    /// `None`: until cleared.
    remaining: Option<u32>,
}

#[derive(Default)]
struct Shared {
    accounts: Mutex<HashMap<(String, String), SimAccount>>,
    faults: Mutex<HashMap<String, ActiveFault>>,
    requests: Mutex<BTreeMap<String, Vec<Instant>>>,
    streams: Mutex<BTreeMap<String, StreamReport>>,
    elsewhere: Mutex<Vec<ElsewhereVisit>>,
    elsewhere_base: String,
    oauth: Mutex<google_oauth::OAuthState>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running simulator. Dropping it stops both listeners.
pub struct ProviderSimulator {
    addr: SocketAddr,
    elsewhere_addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for ProviderSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSimulator")
            .field("addr", &self.addr)
            .field("elsewhere_addr", &self.elsewhere_addr)
            .finish()
    }
}

impl ProviderSimulator {
    /// Starts on `127.0.0.1` with ports chosen by the system.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts the main listener on `addr`, which must be a loopback address (the simulator
    /// accepts well-known demo secrets: it must not be reachable from elsewhere).
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Self> {
        if !addr.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the provider simulator listens on loopback only",
            ));
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let elsewhere = tokio::net::TcpListener::bind(SocketAddr::new(addr.ip(), 0)).await?;
        let addr = listener.local_addr()?;
        let elsewhere_addr = elsewhere.local_addr()?;
        let shared = Arc::new(Shared {
            elsewhere_base: format!("http://{elsewhere_addr}"),
            oauth: Mutex::new(google_oauth::OAuthState::with_demo_client()),
            ..Shared::default()
        });
        {
            let mut accounts = lock(&shared.accounts);
            for demo in DEMO_ACCOUNTS {
                accounts.insert(
                    (demo.service.to_owned(), demo.secret.to_owned()),
                    demo.account(),
                );
            }
        }
        let main = axum::Router::new()
            .nest(google_oauth::PREFIX, google_oauth::router())
            .fallback(handle)
            .with_state(shared.clone());
        let other = axum::Router::new()
            .fallback(handle_elsewhere)
            .with_state(shared.clone());
        let tasks = vec![
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, main).await {
                    tracing::warn!(error = %e, "provider simulator stopped");
                }
            }),
            tokio::spawn(async move {
                if let Err(e) = axum::serve(elsewhere, other).await {
                    tracing::warn!(error = %e, "provider simulator's other host stopped");
                }
            }),
        ];
        Ok(Self {
            addr,
            elsewhere_addr,
            shared,
            tasks,
        })
    }

    /// The main listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A service's base URL on the simulator, e.g. `http://127.0.0.1:PORT/notion`; for Jira and
    /// Confluence, the site URL to put in the credential's `url` field.
    pub fn base_url(&self, service: &str) -> String {
        format!("http://{}/{service}", self.addr)
    }

    /// Points every catalog service that the simulator answers for and that takes a base URL
    /// at the simulator (all but Jira and Confluence, which use the credential's `url`).
    pub fn point_catalog(&self, catalog: &mut Catalog) -> Result<(), CatalogError> {
        let keys: Vec<String> = catalog
            .services()
            .iter()
            .filter(|s| s.honours_base_url() && SIMULATED_SERVICES.contains(&s.key.as_str()))
            .map(|s| s.key.to_string())
            .collect();
        for key in keys {
            catalog.set_base_url(&key, &self.base_url(&key))?;
        }
        let oauth: Vec<String> = catalog
            .services()
            .iter()
            .filter(|s| s.oauth.is_some() && SIMULATED_SERVICES.contains(&s.key.as_str()))
            .map(|s| s.key.to_string())
            .collect();
        for key in oauth {
            catalog.set_oauth_origin(&key, &self.oauth_origin())?;
        }
        Ok(())
    }

    /// Where the simulated Google OAuth endpoints live (`{origin}/o/oauth2/v2/auth`,
    /// `{origin}/token`, `{origin}/revoke`), for [`Catalog::set_oauth_origin`].
    pub fn oauth_origin(&self) -> String {
        format!("http://{}{}", self.addr, google_oauth::PREFIX)
    }

    /// Changes how the simulated Google OAuth server behaves from now on.
    pub fn set_oauth_behaviour(&self, behaviour: OAuthBehaviour) {
        lock(&self.shared.oauth).behaviour = behaviour;
    }

    /// How many times each refresh token was redeemed at the token endpoint.
    pub fn oauth_redemptions(&self) -> BTreeMap<String, u32> {
        lock(&self.shared.oauth).redemptions()
    }

    /// Registers `uri` as an authorized redirect URI of the demo client (Google's Cloud
    /// console): an authorization naming any other is refused with `redirect_uri_mismatch`.
    pub fn register_oauth_redirect_uri(&self, uri: &str) {
        lock(&self.shared.oauth).register_demo_redirect_uri(uri);
    }

    /// How many revocation requests revoked a grant.
    pub fn oauth_revocations(&self) -> u32 {
        lock(&self.shared.oauth).revocations()
    }

    /// How many revocation requests came, including those refused (`invalid_token`).
    pub fn oauth_revocation_requests(&self) -> u32 {
        lock(&self.shared.oauth).revocation_requests()
    }

    /// Revokes every grant issued so far.
    pub fn revoke_all_oauth_grants(&self) {
        lock(&self.shared.oauth).revoke_all();
    }

    /// The demo credentials, with their `url` and `org_slug` fields filled in for this
    /// simulator: what `serve --dev` prints for a newcomer.
    pub fn demo_credentials(&self) -> Vec<DemoCredential> {
        DEMO_ACCOUNTS
            .iter()
            .map(|demo| DemoCredential {
                service: demo.service,
                fields: demo.fields(&self.base_url(demo.service)),
                account: demo.account(),
            })
            .collect()
    }

    /// Makes `secret` valid for `service`, belonging to `account`.
    pub fn accept(&self, service: &str, secret: &str, account: SimAccount) {
        lock(&self.shared.accounts).insert((service.to_owned(), secret.to_owned()), account);
    }

    /// Switches a service to `fault` until [`Self::clear_fault`].
    pub fn set_fault(&self, service: &str, fault: Fault) {
        lock(&self.shared.faults).insert(
            service.to_owned(),
            ActiveFault {
                fault,
                remaining: None,
            },
        );
    }

    /// Switches a service to `fault` for its next `times` requests only.
    pub fn set_fault_for(&self, service: &str, fault: Fault, times: u32) {
        lock(&self.shared.faults).insert(
            service.to_owned(),
            ActiveFault {
                fault,
                remaining: Some(times),
            },
        );
    }

    /// Back to normal answers.
    pub fn clear_fault(&self, service: &str) {
        lock(&self.shared.faults).remove(service);
    }

    /// Requests a service received.
    pub fn requests(&self, service: &str) -> u64 {
        lock(&self.shared.requests)
            .get(service)
            .map_or(0, |v| v.len() as u64)
    }

    /// When each request to a service arrived.
    pub fn request_times(&self, service: &str) -> Vec<Instant> {
        lock(&self.shared.requests)
            .get(service)
            .cloned()
            .unwrap_or_default()
    }

    /// The last oversize body of a service, once its stream has ended or been dropped.
    pub fn oversize_stream(&self, service: &str) -> Option<StreamReport> {
        lock(&self.shared.streams).get(service).copied()
    }

    /// Requests that reached the other host.
    pub fn elsewhere_visits(&self) -> Vec<ElsewhereVisit> {
        lock(&self.shared.elsewhere).clone()
    }
}

impl Drop for ProviderSimulator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (service, rest) = path.split_once('/').unwrap_or((path, ""));
    let Some(service) = SIMULATED_SERVICES.iter().copied().find(|s| *s == service) else {
        return (StatusCode::NOT_FOUND, "no such simulated service").into_response();
    };
    let rest = format!("/{rest}");
    lock(&shared.requests)
        .entry(service.to_owned())
        .or_default()
        .push(Instant::now());
    let fault = {
        let mut faults = lock(&shared.faults);
        let fault = faults.get_mut(service).map(|active| {
            if let Some(n) = active.remaining.as_mut() {
                *n = n.saturating_sub(1);
            }
            (active.fault.clone(), active.remaining == Some(0))
        });
        if let Some((_, true)) = fault {
            faults.remove(service);
        }
        fault.map(|(f, _)| f)
    };
    match fault {
        None => {}
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::ServerError) => return providers::server_error(service),
        Some(Fault::Forbidden) => {
            return (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
                "<!DOCTYPE html><html><head><title>Attention Required!</title></head>\
                 <body><h1>Sorry, you have been blocked</h1></body></html>",
            )
                .into_response()
        }
        Some(Fault::RateLimited { retry_after_secs }) => {
            let mut response = providers::rate_limited(service);
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(retry_after_secs),
            );
            return response;
        }
        Some(Fault::Unavailable { retry_after_secs }) => {
            let mut response = json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"message": "Service temporarily unavailable"}),
            );
            if let Some(secs) = retry_after_secs {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            }
            return response;
        }
        Some(Fault::MalformedJson) => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"object\": \"user\", \"id\": \"5c4f",
            )
                .into_response()
        }
        Some(Fault::Oversize { bytes }) => return oversize(shared, service, bytes),
        Some(Fault::RedirectToOtherHost) => {
            let location = format!("{}/{path}", shared.elsewhere_base);
            return (StatusCode::FOUND, [(header::LOCATION, location)]).into_response();
        }
    }
    let accounts = lock(&shared.accounts).clone();
    let lookup = |secret: &str| {
        // Tokens the simulated OAuth server issued are good while alive and not revoked.
        let issued = matches!(service, "gmail" | "google_calendar")
            .then(|| lock(&shared.oauth).account_for(secret))
            .flatten();
        match issued {
            Some(account) => account,
            None => accounts
                .get(&(service.to_owned(), secret.to_owned()))
                .cloned(),
        }
    };
    providers::answer(service, &method, &rest, &headers, &lookup)
}

async fn handle_elsewhere(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let credential_headers = [
        "authorization",
        "x-api-key",
        "cookie",
        "proxy-authorization",
    ]
    .into_iter()
    .filter(|h| headers.contains_key(*h))
    .map(str::to_owned)
    .collect();
    lock(&shared.elsewhere).push(ElsewhereVisit {
        path: uri.path().to_owned(),
        credential_headers,
    });
    // Looks like a success, so a validator that followed the redirect would be fooled.
    json(
        StatusCode::OK,
        serde_json::json!({"object": "user", "id": "elsewhere", "data": []}),
    )
}

/// Records how far an oversize body got when it ends or is dropped.
struct StreamGuard {
    shared: Arc<Shared>,
    service: &'static str,
    produced: u64,
    total: u64,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        lock(&self.shared.streams).insert(
            self.service.to_owned(),
            StreamReport {
                bytes_produced: self.produced,
                completed: self.produced >= self.total,
            },
        );
    }
}

static FILLER: [u8; 64 * 1024] = [b' '; 64 * 1024];

fn oversize(shared: Arc<Shared>, service: &'static str, total: u64) -> Response {
    lock(&shared.streams).remove(service);
    let guard = StreamGuard {
        shared,
        service,
        produced: 0,
        total,
    };
    let stream = futures::stream::unfold(guard, |mut guard| async move {
        if guard.produced >= guard.total {
            return None;
        }
        let n = (guard.total - guard.produced).min(FILLER.len() as u64);
        let chunk = if guard.produced == 0 {
            Bytes::from_static(b"{\"object\":\"list\",\"data\":[")
        } else {
            Bytes::from_static(&FILLER[..n as usize])
        };
        guard.produced += chunk.len() as u64;
        Some((Ok::<Bytes, std::convert::Infallible>(chunk), guard))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}
