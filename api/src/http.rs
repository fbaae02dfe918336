//! The HTTP edge: our own GraphQL handler (not the stock one, which runs mutations from GET,
//! parses `text/plain` as JSON, accepts batches and bypasses the body limit), the WebSocket
//! upgrade for subscriptions, who-is-asking, and the security headers on every response.

use crate::auth::{session_cookie_name, Principal, ServerPrincipal, SERVER_TOKEN_PREFIX};
use crate::graphql::{Api, ApiSchema, PlainQueryFields, RequestContext};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::{Body, Bytes};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The largest GraphQL request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// How long a client has to send a request's headers, once it has connected or once its
/// previous answer was sent (so it is also how long a kept-alive connection may sit idle),
/// unless configured (`CREDLEDGER_HEADER_WAIT_S`).
pub const DEFAULT_HEADER_WAIT: Duration = Duration::from_secs(10);

/// How long an answer may wait for its client to take any of it before the connection is
/// closed (a client that never reads would otherwise hold its connection, and a graceful
/// shutdown, for as long as it likes), unless configured (`CREDLEDGER_WRITE_WAIT_S`).
pub const DEFAULT_WRITE_WAIT: Duration = Duration::from_secs(30);

/// How long a client has to send the whole body of a GraphQL request, after its headers.
pub const BODY_WAIT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct GraphqlState {
    pub api: Arc<Api>,
    pub schema: ApiSchema,
    pub dev: bool,
}

fn transport_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({"errors": [{"message": message, "extensions": {"code": code}}]})
            .to_string(),
    )
        .into_response()
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A cross-site request announces itself with an `Origin` that is not ours: another host, or,
/// where the dashboard is served over TLS (`tls`: all but dev mode on loopback), a plain-HTTP
/// page under our name, which anyone on the network path can answer for (a WebSocket opened
/// from it would carry the session). Plain HTTP stays ours on a loopback name, which nobody on
/// the network answers for. (Browsers send `Origin` on every POST and WebSocket handshake;
/// non-browser clients may omit it.)
fn foreign_origin(headers: &HeaderMap, tls: bool) -> bool {
    let Some(origin) = header_str(headers, header::ORIGIN) else {
        return false;
    };
    let Some(host) = header_str(headers, header::HOST) else {
        return true;
    };
    if origin.strip_prefix("https://") == Some(host) {
        return false;
    }
    origin.strip_prefix("http://") != Some(host) || (tls && !loopback_name(host))
}

/// Whether `host` (a `Host` header's value) names this machine's loopback.
fn loopback_name(host: &str) -> bool {
    let name = crate::config::host_name(host);
    name == "localhost"
        || name.ends_with(".localhost")
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The answer when a lookup every request needs (who is asking, their rate limit) failed:
/// `UNAVAILABLE` (HTTP 503) with `Retry-After` and `retryAfter`, as a resolver's answer has
/// them, while the database is unreachable, else `INTERNAL` (HTTP 500); the detail is logged
/// under the request id, never returned.
fn lookup_failed(what: &str, e: crate::error::ApiError) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let code = e.code();
    tracing::error!(%request_id, error = ?e, "{what} lookup failed");
    let unavailable = code == "UNAVAILABLE";
    let mut extensions = serde_json::json!({"code": code});
    if unavailable {
        extensions["retryAfter"] = crate::error::RETRY_UNAVAILABLE.into();
    }
    let status = if unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let message = format!("{what} is unavailable (request id {request_id})");
    let mut out = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({"errors": [{"message": message, "extensions": extensions}]}).to_string(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        out.headers_mut().insert("x-request-id", v);
    }
    if unavailable {
        out.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(crate::error::RETRY_UNAVAILABLE),
        );
    }
    out
}

/// Whose API rate limit a caller draws on: a person's (all their sessions share it) or a
/// token's (each API or MCP server token has its own). Anonymous callers have none (sign-in
/// has its own throttle).
fn rate_subject(caller: &Caller) -> Option<String> {
    match caller {
        (Some(p), _) => Some(match &p.via {
            crate::auth::Via::Session { .. } => format!("person:{}", p.user_id),
            crate::auth::Via::Token { token_id, .. } => format!("token:{token_id}"),
        }),
        (None, Some(server)) => Some(format!("token:{}", server.token_id)),
        (None, None) => None,
    }
}

/// The API rate limit's verdict on one request.
enum RateVerdict {
    /// The limit is off, or the caller is anonymous.
    Unlimited,
    Allowed {
        limit: u32,
        remaining: u32,
    },
    /// The answer to send instead (429, or 503 if the count could not be taken).
    Refused(Response),
}

/// Takes one request from the caller's API rate limit.
async fn rate_limit(api: &Api, caller: &Caller) -> RateVerdict {
    let (Some(subject), Some(limit)) = (rate_subject(caller), api.limits.api_quota()) else {
        return RateVerdict::Unlimited;
    };
    match api.limits.api_request(&subject).await {
        Ok(None) => RateVerdict::Unlimited,
        Ok(Some(crate::limits::Budget::Allowed { remaining })) => RateVerdict::Allowed {
            limit: limit.get(),
            remaining,
        },
        Ok(Some(crate::limits::Budget::Exhausted { retry_after })) => {
            metrics::counter!(crate::metrics::API_RATE_LIMITED).increment(1);
            let seconds = crate::limits::whole_seconds(retry_after);
            let body = serde_json::json!({"errors": [{
                "message": format!(
                    "too many requests: at most {limit} a minute; try again in {seconds} s"
                ),
                "extensions": {"code": "RATE_LIMITED", "retryAfter": seconds},
            }]});
            let mut out = (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response();
            let headers = out.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            headers.insert("x-ratelimit-limit", HeaderValue::from(limit.get()));
            headers.insert("x-ratelimit-remaining", HeaderValue::from(0u32));
            RateVerdict::Refused(out)
        }
        Err(e) => RateVerdict::Refused(lookup_failed("the rate limit", e)),
    }
}

impl RateVerdict {
    /// Says what is left on an answer.
    fn label(&self, out: &mut Response) {
        if let Self::Allowed { limit, remaining } = self {
            let headers = out.headers_mut();
            headers.insert("x-ratelimit-limit", HeaderValue::from(*limit));
            headers.insert("x-ratelimit-remaining", HeaderValue::from(*remaining));
        }
    }
}

/// Who is asking: a person (bearer API token or session cookie) or an MCP server (its token).
type Caller = (Option<Principal>, Option<ServerPrincipal>);

async fn principal(api: &Api, headers: &HeaderMap) -> Result<Caller, Response> {
    let failed = |e| lookup_failed("authentication", e);
    if let Some(auth) = header_str(headers, header::AUTHORIZATION) {
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .unwrap_or("");
        let token = token.trim();
        let caller = if token.starts_with(SERVER_TOKEN_PREFIX) {
            api.mcp
                .token(token)
                .await
                .map_err(failed)?
                .map(|s| (None, Some(s)))
        } else {
            api.accounts
                .token(token)
                .await
                .map_err(failed)?
                .map(|p| (Some(p), None))
        };
        return match caller {
            Some(caller) => Ok(caller),
            None => Err(transport_error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "the API token is unknown, expired or revoked",
            )),
        };
    }
    match cookie(headers, session_cookie_name(api.secure_cookies)) {
        Some(value) if !value.is_empty() => {
            Ok((api.accounts.session(value).await.map_err(failed)?, None))
        }
        _ => Ok((None, None)),
    }
}

/// The client's address: the connection's peer, or, when the peer is a trusted proxy, the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    // Read from the right (the hops nearest to us), a bounded number of hops.
    let mut client = peer;
    for hop in forwarded.iter().rev().take(16) {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => client = ip,
            Ok(ip) => return ip,
            Err(_) => return client,
        }
    }
    client
}

/// Who is asking and from where, for routes outside GraphQL (the OAuth callback).
pub(crate) async fn caller_context(
    api: &Api,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<RequestContext, Response> {
    let caller = principal(api, headers).await?;
    Ok(request_context(api, headers, peer, caller))
}

fn request_context(
    api: &Api,
    headers: &HeaderMap,
    peer: SocketAddr,
    caller: Caller,
) -> RequestContext {
    let (principal, server) = caller;
    RequestContext {
        principal,
        server,
        request_id: uuid::Uuid::new_v4().to_string(),
        ip: Some(client_ip(headers, peer.ip(), &api.trusted_proxies).to_string()),
        user_agent: header_str(headers, header::USER_AGENT)
            .map(|ua| ua.chars().take(512).collect()),
    }
}

/// Why a request body was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyRefused {
    /// Larger than [`MAX_BODY`].
    TooLarge,
    /// It did not arrive whole: its chunked encoding is malformed, or the connection ended
    /// before all of it came.
    Broken,
}

/// Reads at most [`MAX_BODY`] bytes. An oversize body is still read (and dropped) up to
/// [`DRAIN_MAX`], so a client that is still sending receives the 413 instead of a broken
/// connection; beyond that the connection is simply closed.
async fn read_body(body: Body) -> Result<Bytes, BodyRefused> {
    use futures::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Err(BodyRefused::Broken);
        };
        total += chunk.len();
        if total <= MAX_BODY {
            buf.extend_from_slice(&chunk);
        } else if total > DRAIN_MAX {
            return Err(BodyRefused::TooLarge);
        }
    }
    if total <= MAX_BODY {
        Ok(Bytes::from(buf))
    } else {
        Err(BodyRefused::TooLarge)
    }
}

/// How much of an oversize body is read before answering 413.
const DRAIN_MAX: usize = 4 * 1024 * 1024;

/// The media type of an answer: the GraphQL-over-HTTP one when the client accepts it (request
/// errors are then 4xx), else plain JSON (always 200 for a well-formed request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    GraphqlResponse,
    Json,
}

impl Media {
    fn accepted(headers: &HeaderMap) -> Self {
        let accept = header_str(headers, header::ACCEPT).unwrap_or("");
        let graphql = accept.split(',').any(|item| {
            item.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/graphql-response+json")
            })
        });
        if graphql {
            Self::GraphqlResponse
        } else {
            Self::Json
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// `POST /graphql`: one JSON request, at most 64 KiB. The document's limits are the schema's
/// (`graphql::limits`), the same over WebSocket.
pub async fn graphql_post(
    State(state): State<GraphqlState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let json = header_str(&headers, header::CONTENT_TYPE)
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|ct| ct.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return transport_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "VALIDATION",
            "GraphQL requests must be POSTed as application/json",
        );
    }
    if foreign_origin(&headers, state.api.secure_cookies) {
        return transport_error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "cross-origin requests are not accepted",
        );
    }
    let media = Media::accepted(&headers);
    let bytes: Bytes = match tokio::time::timeout(BODY_WAIT, read_body(body)).await {
        Ok(Ok(b)) => b,
        Ok(Err(BodyRefused::TooLarge)) => {
            return transport_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "VALIDATION",
                &format!("the request body is larger than {} KiB", MAX_BODY / 1024),
            )
        }
        // If the connection is gone, nobody reads this; if only the encoding is bad, the
        // client learns it was not understood rather than that it was too large.
        Ok(Err(BodyRefused::Broken)) => {
            return transport_error(
                StatusCode::BAD_REQUEST,
                "VALIDATION",
                "the request body did not arrive whole (malformed chunked encoding, or the \
                 connection ended before its length)",
            )
        }
        Err(_) => {
            return transport_error(
                StatusCode::REQUEST_TIMEOUT,
                "VALIDATION",
                &format!(
                    "the request body did not arrive within {} seconds",
                    BODY_WAIT.as_secs()
                ),
            )
        }
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return transport_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION",
            "batched requests are not accepted; send one operation per request",
        );
    }
    // Who asks is read first: a remembered answer needs nothing else (its request, byte for
    // byte, passed every check when it was first answered).
    let caller = principal(&state.api, &headers).await;
    let rate = match &caller {
        Ok(c) => rate_limit(&state.api, c).await,
        Err(_) => RateVerdict::Unlimited,
    };
    if let RateVerdict::Refused(out) = rate {
        return out;
    }
    // The key, and the epoch of the caller's rows taken before anything is read.
    let memo = match &caller {
        Ok((Some(p), None)) => Some((
            crate::memo::AnswerMemo::key(&facet(p), &bytes),
            state
                .api
                .ledger
                .projections
                .summary_epoch(p.user_id.as_str()),
            p.user_id.clone(),
        )),
        _ => None,
    };
    // Held while this request computes its answer: callers of the same request wait for it.
    let _computing = match &memo {
        Some((key, epoch, _)) => match state.api.answers.get_or_wait(key, *epoch).await {
            Ok(body) => {
                metrics::counter!(crate::metrics::GRAPHQL_REUSED).increment(1);
                let mut out = answer(
                    StatusCode::OK,
                    media,
                    body,
                    &uuid::Uuid::new_v4().to_string(),
                );
                rate.label(&mut out);
                return out;
            }
            Err(computing) => Some(computing),
        },
        None => None,
    };
    // serde_json refuses nesting past 128 levels by itself; the schema bounds it further.
    let request = match serde_json::from_slice::<async_graphql::Request>(&bytes) {
        Ok(r) if !r.query.trim().is_empty() => r,
        _ => {
            return transport_error(
                StatusCode::BAD_REQUEST,
                "VALIDATION",
                "expected one JSON object with a `query` string (and optional `variables`, \
                 `operationName`)",
            )
        }
    };
    let caller = match caller {
        Ok(c) => c,
        Err(response) => return response,
    };
    let ctx = request_context(&state.api, &headers, peer, caller);
    let request_id = ctx.request_id.clone();
    // Filled by the document limits once the document passed them (see `PlainQueryFields`).
    let plain_fields = memo
        .is_some()
        .then(|| Arc::new(PlainQueryFields::default()));
    let mut request = request.data(ctx);
    if let Some(fields) = &plain_fields {
        request = request.data(Arc::clone(fields));
    }
    let read_from = chrono::Utc::now();
    let span = tracing::info_span!("graphql", request_id = %request_id);
    let response = tracing::Instrument::instrument(state.schema.execute(request), span).await;
    // An error before execution (the document refused, unparsable or invalid): no `data`.
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    // 429 and 503 say "nothing was done; send it again": not when a root field was answered
    // (a mutation committed), which a client or proxy honouring them would send again.
    let retry = retry_after(&response.errors).filter(|_| no_field_answered(&response.data));
    let retry_after = retry.map(|(_, seconds)| seconds);
    let status = if let Some((status, _)) = retry {
        status
    } else if request_error && media == Media::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = if request_error {
        serde_json::to_vec(&serde_json::json!({ "errors": response.errors }))
    } else {
        serde_json::to_vec(&response)
    };
    let body = Bytes::from(body.unwrap_or_else(|_| b"{}".to_vec()));
    if let (Some((key, epoch, user)), Some(plain_fields)) = (memo, plain_fields) {
        // The document is never parsed again here: the limits named its root fields as they
        // passed it, and name none for a document they refused (which may be anything a
        // client sent, e.g. 60,000 nested brackets that would overflow the parser's stack).
        let fields = plain_fields
            .get()
            .filter(|_| response.errors.is_empty() && response.http_headers.is_empty());
        if let Some(fields) = fields.filter(|f| crate::memo::may_remember(f)) {
            if let Ok(until) =
                crate::memo::holds_until(&state.api, user.as_str(), fields, read_from).await
            {
                state.api.answers.put(key, epoch, until, body.clone());
            }
        }
    }
    let mut out = answer(status, media, body, &request_id);
    for (name, value) in response.http_headers.iter() {
        out.headers_mut().append(name, value.clone());
    }
    if let Some(seconds) = retry_after {
        out.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    rate.label(&mut out);
    out
}

/// Whether no root field has a value: nothing, or every root field null (failed).
fn no_field_answered(data: &async_graphql::Value) -> bool {
    match data {
        async_graphql::Value::Null => true,
        async_graphql::Value::Object(fields) => fields
            .values()
            .all(|v| matches!(v, async_graphql::Value::Null)),
        _ => false,
    }
}

/// The status and the wait of an answer that asks to be tried again: 429 for `RATE_LIMITED`,
/// 503 for `UNAVAILABLE`.
fn retry_after(errors: &[async_graphql::ServerError]) -> Option<(StatusCode, u64)> {
    errors.iter().find_map(|e| {
        let ext = e.extensions.as_ref()?;
        let status = match ext.get("code")? {
            async_graphql::Value::String(c) if c == "RATE_LIMITED" => StatusCode::TOO_MANY_REQUESTS,
            async_graphql::Value::String(c) if c == "UNAVAILABLE" => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => return None,
        };
        let seconds = match ext.get("retryAfter") {
            Some(async_graphql::Value::Number(n)) => n.as_u64(),
            _ => None,
        };
        Some((status, seconds.unwrap_or(1)))
    })
}

fn answer(status: StatusCode, media: Media, body: Bytes, request_id: &str) -> Response {
    let mut out = (status, [(header::CONTENT_TYPE, media.content_type())], body).into_response();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        out.headers_mut().insert("x-request-id", v);
    }
    out
}

/// What of a caller an answer may depend on: who they are, their role and permissions, and a
/// token's scopes (not which session or token it is: two of the same person's sessions are
/// answered alike).
fn facet(p: &Principal) -> String {
    let scopes = match &p.via {
        crate::auth::Via::Session { .. } => None,
        crate::auth::Via::Token { scopes, .. } => Some(scopes),
    };
    format!(
        "{}|{:?}|{:?}|{:?}",
        p.user_id, p.role, p.permissions, scopes
    )
}

/// `GET /graphql`: a WebSocket upgrade for subscriptions (same origin only); GraphiQL in dev
/// mode; otherwise 405 — queries and mutations are POSTed.
pub async fn graphql_get(
    State(state): State<GraphqlState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let (mut parts, _) = request.into_parts();
    let upgrade = <WebSocketUpgrade as axum::extract::FromRequestParts<()>>::from_request_parts(
        &mut parts,
        &(),
    )
    .await;
    let Ok(upgrade) = upgrade else {
        if state.dev {
            // GraphiQL's files come from a CDN at exact versions pinned by their hashes.
            return axum::response::Html(include_str!("graphiql.html")).into_response();
        }
        let mut refused = transport_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "VALIDATION",
            "send queries and mutations with POST (application/json)",
        );
        refused
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return refused;
    };
    if foreign_origin(&headers, state.api.secure_cookies) {
        return transport_error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "cross-origin WebSocket connections are not accepted",
        );
    }
    let protocol =
        match <GraphQLProtocol as axum::extract::FromRequestParts<()>>::from_request_parts(
            &mut parts,
            &(),
        )
        .await
        {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        };
    // As over HTTP: a token in the upgrade's headers that is not live refuses the upgrade.
    if let Err(response) = principal(&state.api, &headers).await {
        return response;
    }
    let subject = Arc::new(std::sync::OnceLock::new());
    let caller = Arc::new(std::sync::OnceLock::new());
    let schema = SocketExecutor {
        schema: state.schema.clone(),
        open: Default::default(),
        started: Default::default(),
        api: state.api.clone(),
        subject: subject.clone(),
        caller: caller.clone(),
    };
    let (open, started) = (schema.open.clone(), schema.started.clone());
    let api = state.api.clone();
    let live = state.api.live.clone();
    upgrade
        // The same bound on a message as on an HTTP body; the schema's limits do the rest.
        .max_message_size(MAX_BODY)
        .max_frame_size(MAX_BODY)
        .protocols(["graphql-transport-ws", "graphql-ws"])
        .on_upgrade(move |socket| async move {
            let initialised = subject.clone();
            let serving = GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    // A machine client may authenticate in the init payload instead of a cookie.
                    let token = payload
                        .get("authorization")
                        .and_then(|v| v.as_str())
                        .and_then(|v| v.strip_prefix("Bearer "))
                        .map(str::to_owned);
                    let who = SocketCaller {
                        headers,
                        peer,
                        token,
                    };
                    // As over HTTP: a token that is not live refuses the connection.
                    let ctx = who
                        .context(&api)
                        .await
                        .map_err(|e| async_graphql::Error::new(e.message))?;
                    let _ = caller.set(who);
                    let _ = subject.set(rate_subject(&(ctx.principal.clone(), ctx.server.clone())));
                    let mut data = async_graphql::Data::default();
                    data.insert(ctx);
                    Ok(data)
                })
                .serve();
            // Once the server stops, the live feed's end ends every subscription; the socket
            // is closed when its operations are over (their `complete` sent), not left open
            // to start more on a stopped server (sockets are not among the connections the
            // shutdown waits for).
            let stopped = async {
                live.ended().await;
                while open.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            let mut stopped = std::pin::pin!(stopped);
            // A socket that has not initialised within SOCKET_INIT_WAIT is closed, as
            // graphql-transport-ws asks: an upgrade is no way to hold a connection for free.
            let mut serving = std::pin::pin!(serving);
            tokio::select! {
                _ = serving.as_mut() => return,
                _ = stopped.as_mut() => return,
                _ = tokio::time::sleep(SOCKET_INIT_WAIT) => {}
            }
            if initialised.get().is_none() {
                return;
            }
            // Then one with no operation open, and none started, for a whole SOCKET_IDLE_WAIT
            // is closed: graphql-ws clients open a new one when they need it.
            let mut seen = started.load(std::sync::atomic::Ordering::SeqCst);
            loop {
                tokio::select! {
                    _ = serving.as_mut() => return,
                    _ = stopped.as_mut() => return,
                    _ = tokio::time::sleep(SOCKET_IDLE_WAIT) => {}
                }
                let now = started.load(std::sync::atomic::Ordering::SeqCst);
                if now == seen && open.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                    return;
                }
                seen = now;
            }
        })
}

/// How long a WebSocket has to send its `connection_init` message after the upgrade.
pub const SOCKET_INIT_WAIT: Duration = Duration::from_secs(10);

/// How long an initialised WebSocket may stay with no operation open and none started.
pub const SOCKET_IDLE_WAIT: Duration = Duration::from_secs(30);

/// The most operations (subscriptions, mostly) one WebSocket connection may have open at once.
pub const MAX_OPEN_PER_SOCKET: usize = 16;

/// The most operations (subscriptions, mostly) one person or token (the API rate limit's
/// subject) may have open at once over all their WebSockets to this process. The rate limit
/// bounds operations started, not those held: each open subscription asks the database whether
/// its principal may still act every 15 s and before each delivery, so one cookie opening
/// sockets at the rate limit's pace would pile up thousands within the hour. The dashboard
/// holds one per tab; 32 leaves room for many tabs and a few machine clients per token.
pub const MAX_OPEN_PER_SUBJECT: usize = 32;

/// The operations open over WebSockets in this process, per rate subject (a person or a
/// token): at most [`MAX_OPEN_PER_SUBJECT`] each.
#[derive(Debug, Clone, Default)]
pub struct OpenPerSubject(Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>);

impl OpenPerSubject {
    /// Counts one more open operation of `subject` until the guard is dropped; `None` when it
    /// already holds [`MAX_OPEN_PER_SUBJECT`].
    fn take(&self, subject: &str) -> Option<SubjectOpen> {
        let mut counts = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = counts.entry(subject.to_owned()).or_default();
        if *count >= MAX_OPEN_PER_SUBJECT {
            return None;
        }
        *count += 1;
        Some(SubjectOpen {
            counts: self.clone(),
            subject: subject.to_owned(),
        })
    }
}

/// One open operation of a subject, counted until dropped (when its stream ends or is stopped,
/// or its socket closes).
struct SubjectOpen {
    counts: OpenPerSubject,
    subject: String,
}

impl Drop for SubjectOpen {
    fn drop(&mut self) {
        let mut counts = self
            .counts
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.subject) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.subject);
            }
        }
    }
}

/// An operation refused before it started: one answer carrying `message` and `code`, then the
/// operation's end.
fn refused_operation(
    message: String,
    code: &'static str,
) -> futures::stream::BoxStream<'static, async_graphql::Response> {
    let mut error = async_graphql::ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    use futures::StreamExt as _;
    futures::stream::once(async move { async_graphql::Response::from_errors(vec![error]) }).boxed()
}

/// The schema as one WebSocket connection sees it: at most [`MAX_OPEN_PER_SOCKET`] operations
/// open at once, so a client cannot pile up subscriptions on one socket, nor more than
/// [`MAX_OPEN_PER_SUBJECT`] over all the sockets of its person or token, and each operation
/// started draws on the caller's API rate limit like an HTTP request.
#[derive(Clone)]
struct SocketExecutor {
    schema: ApiSchema,
    open: Arc<std::sync::atomic::AtomicUsize>,
    /// Operations started on this connection so far (the idle check reads it).
    started: Arc<std::sync::atomic::AtomicU64>,
    api: Arc<Api>,
    /// Whose rate limit the operations draw on, known once the connection is initialised.
    subject: Arc<std::sync::OnceLock<Option<String>>>,
    /// Who is asking, looked up again for each operation, known once initialised.
    caller: Arc<std::sync::OnceLock<SocketCaller>>,
}

/// What a WebSocket was opened with: the upgrade's headers (its session cookie, or a bearer
/// token) or the token its `connection_init` carried. Each operation looks the caller up
/// again from it, so a sign-out, a lock, a revoked token or a changed permission holds from
/// the next operation on, as over HTTP.
#[derive(Clone)]
struct SocketCaller {
    headers: HeaderMap,
    peer: SocketAddr,
    token: Option<String>,
}

impl SocketCaller {
    /// A fresh context (and request id) for one operation; `UNAUTHENTICATED` when the token is
    /// no longer live, `UNAVAILABLE` when it cannot be looked up.
    async fn context(&self, api: &Api) -> Result<RequestContext, async_graphql::ServerError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let error = |e: crate::error::ApiError| {
            e.into_graphql(&request_id)
                .into_server_error(Default::default())
        };
        let revoked = || {
            use async_graphql::ErrorExtensions as _;
            async_graphql::Error::new("the API token is unknown, expired or revoked")
                .extend_with(|_, e| e.set("code", "UNAUTHENTICATED"))
                .into_server_error(Default::default())
        };
        let caller = match &self.token {
            Some(token) if token.starts_with(SERVER_TOKEN_PREFIX) => (
                None,
                Some(
                    api.mcp
                        .token(token)
                        .await
                        .map_err(error)?
                        .ok_or_else(revoked)?,
                ),
            ),
            Some(token) => (
                Some(
                    api.accounts
                        .token(token)
                        .await
                        .map_err(error)?
                        .ok_or_else(revoked)?,
                ),
                None,
            ),
            None => match principal(api, &self.headers).await {
                Ok(caller) => caller,
                Err(refused) if refused.status() == StatusCode::UNAUTHORIZED => {
                    return Err(revoked())
                }
                Err(_) => {
                    return Err(error(crate::error::ApiError::Unavailable(
                        "who is asking could not be looked up; try again".into(),
                    )))
                }
            },
        };
        Ok(request_context(api, &self.headers, self.peer, caller))
    }
}

impl SocketExecutor {
    /// Takes one request from the connection's rate limit: the error to answer, if refused.
    async fn refused(api: &Api, subject: Option<&str>) -> Option<async_graphql::ServerError> {
        let error = match api.limits.api_request(subject?).await {
            Ok(Some(crate::limits::Budget::Exhausted { retry_after })) => {
                metrics::counter!(crate::metrics::API_RATE_LIMITED).increment(1);
                crate::error::ApiError::RateLimited {
                    retry_after: crate::limits::whole_seconds(retry_after),
                }
            }
            Ok(_) => return None,
            Err(e) => e,
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        Some(
            error
                .into_graphql(&request_id)
                .into_server_error(Default::default()),
        )
    }
}

/// Counts one open operation until dropped (when its stream ends or is stopped).
struct Open(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl async_graphql::Executor for SocketExecutor {
    fn execute(
        &self,
        request: async_graphql::Request,
    ) -> impl std::future::Future<Output = async_graphql::Response> + Send {
        self.schema.execute(request)
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<async_graphql::Data>>,
    ) -> futures::stream::BoxStream<'static, async_graphql::Response> {
        use futures::StreamExt as _;
        self.started
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let open = Open(self.open.clone());
        if self.open.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= MAX_OPEN_PER_SOCKET {
            drop(open);
            return refused_operation(
                format!("at most {MAX_OPEN_PER_SOCKET} operations may be open on one connection"),
                "VALIDATION",
            );
        }
        let subject = self.subject.get().cloned().flatten();
        // Held with `open`; none for an anonymous caller, who has no subscription to hold.
        let held = match subject
            .as_deref()
            .map(|s| self.api.open_per_subject.take(s))
        {
            Some(None) => {
                // Not VALIDATION, as one socket's bound is: room comes back when one of the
                // others (another tab, another socket) ends, so another try may be answered.
                drop(open);
                return refused_operation(
                    format!(
                        "at most {MAX_OPEN_PER_SUBJECT} operations may be open at once for one \
                         person or token, over all their connections: end one first"
                    ),
                    "RATE_LIMITED",
                );
            }
            Some(held) => held,
            None => None,
        };
        let (schema, api) = (self.schema.clone(), self.api.clone());
        let caller = self.caller.get().cloned();
        futures::stream::once(async move {
            let refused = |error| {
                futures::stream::once(
                    async move { async_graphql::Response::from_errors(vec![error]) },
                )
                .boxed()
            };
            if let Some(error) = Self::refused(&api, subject.as_deref()).await {
                return refused(error);
            }
            // The caller as of now (its context in the request's data comes before the
            // connection's).
            let request = match &caller {
                Some(caller) => match caller.context(&api).await {
                    Ok(ctx) => request.data(ctx),
                    Err(error) => return refused(error),
                },
                None => request,
            };
            schema
                .execute_stream_with_session_data(request, session_data.unwrap_or_default())
                .boxed()
        })
        .flatten()
        .map(move |response| {
            let _open = (&open, &held);
            response
        })
        .boxed()
    }
}

/// The names in `Host` this server answers to (lowercase, without port); loopback names always.
#[derive(Debug, Clone)]
pub struct HostNames(pub Arc<[String]>);

impl HostNames {
    fn allows(&self, host: &str) -> bool {
        loopback_name(host) || self.0.contains(&crate::config::host_name(host))
    }
}

/// Refuses requests whose `Host` is not one of ours: a page on another name that resolves to
/// this server (DNS rebinding) must not reach the API or the dashboard.
pub async fn known_host(State(names): State<HostNames>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    match host {
        Some(host) if names.allows(host) => next.run(request).await,
        _ => transport_error(
            StatusCode::MISDIRECTED_REQUEST,
            "FORBIDDEN",
            "this server does not answer to that host name (see CREDLEDGER_PUBLIC_NAMES)",
        ),
    }
}

/// Security headers on every response (HSTS when served behind TLS, `tls`, under a name that
/// is not loopback's); `no-store` on everything but static assets.
pub async fn security_headers(State(tls): State<bool>, request: Request, next: Next) -> Response {
    let is_asset = request.method() == Method::GET && request.uri().path().starts_with("/assets/");
    let graphiql = request.method() == Method::GET && request.uri().path() == "/graphql";
    // Not under a loopback name: a browser would hold `localhost` (every port) to HTTPS.
    let loopback = header_str(request.headers(), header::HOST).is_some_and(loopback_name);
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let csp = if graphiql {
        // GraphiQL (dev mode only) loads its files, pinned by integrity hashes, from a CDN.
        "default-src 'self'; script-src 'self' 'unsafe-inline' https://unpkg.com; \
         style-src 'self' 'unsafe-inline' https://unpkg.com; img-src 'self' data:; \
         connect-src 'self' ws: wss:; frame-ancestors 'none'"
    } else {
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'self'"
    };
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    // Behind TLS: browsers that saw it once never load a plain-HTTP page under this name
    // again, where anyone on the path could serve a forged sign-in (ignored over plain HTTP).
    if tls && !loopback {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if !is_asset && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Serves `router` on `listener` until `stop` turns true, then lets the open requests finish.
///
/// It is axum's `serve` loop with the bounds that one leaves unset: HTTP/1.1 only (no
/// connection waits, unbounded, while its protocol is guessed), and hyper's header read
/// timeout, `waits.header` ([`DEFAULT_HEADER_WAIT`] unless configured), so a connection left
/// silent, or fed its headers a byte at a time, is closed rather than kept open for as long as
/// its client likes. A write that makes no progress for `waits.write` ([`DEFAULT_WRITE_WAIT`])
/// ends its connection, WebSockets included: a client that never reads its answers holds
/// neither the connection nor the shutdown, which waits for the open requests to finish.
/// [`BODY_WAIT`] bounds the body where it is read (`graphql_post`),
/// [`SOCKET_INIT_WAIT`] a WebSocket's first message and [`SOCKET_IDLE_WAIT`] its idleness.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    waits: ClientWaits,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(waits.header);
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // A connection its client gave up on before it was accepted: nothing to do.
                Err(error) if matches!(
                    error.kind(),
                    std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                ) => continue,
                // Out of file descriptors, mostly: a pause lets some be freed (as axum's loop).
                Err(error) => {
                    tracing::error!(%error, "could not accept a connection; trying again in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: Request<_>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            tower::Service::call(&mut router.clone(), request)
        });
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(waits.write));
        let connection = http
            .serve_connection(hyper_util::rt::TokioIo::new(Box::pin(stream)), service)
            .with_upgrades();
        let mut stop = stop.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = stopped(&mut stop) => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    }
    // New connections are refused from here on; the open ones finish what they are answering.
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// How long the listener waits on a client (`serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientWaits {
    /// For a request's headers, once connected or once the previous answer is sent.
    pub header: Duration,
    /// For a write to make progress: the client must take its answer.
    pub write: Duration,
}

impl Default for ClientWaits {
    fn default() -> Self {
        Self {
            header: DEFAULT_HEADER_WAIT,
            write: DEFAULT_WRITE_WAIT,
        }
    }
}

/// Waits until `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
