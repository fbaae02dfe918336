//! The HTTP edge: our own GraphQL handler (not the stock one, which runs mutations from GET,
//! parses `text/plain` as JSON, accepts batches and bypasses the body limit), the WebSocket
//! upgrade for subscriptions, who-is-asking, and the security headers on every response.

use crate::auth::{session_cookie_name, Principal, ServerPrincipal, SERVER_TOKEN_PREFIX};
use crate::graphql::{Api, ApiSchema, RequestContext};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::{Body, Bytes};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

/// The largest GraphQL request body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// The most aliased fields one query may have.
pub const MAX_ALIASES: usize = 30;

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

/// A cross-site request announces itself with an `Origin` that is not ours. (Browsers send
/// `Origin` on every POST and WebSocket handshake; non-browser clients may omit it.)
fn foreign_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = header_str(headers, header::ORIGIN) else {
        return false;
    };
    let Some(host) = header_str(headers, header::HOST) else {
        return true;
    };
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    origin_host != Some(host)
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

/// Who is asking: a person (bearer API token or session cookie) or an MCP server (its token).
type Caller = (Option<Principal>, Option<ServerPrincipal>);

async fn principal(api: &Api, headers: &HeaderMap) -> Result<Caller, Response> {
    let failed = |e: crate::error::ApiError| {
        tracing::error!(error = %e, "authentication lookup failed");
        transport_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "INTERNAL",
            "authentication is unavailable",
        )
    };
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

fn request_context(headers: &HeaderMap, peer: SocketAddr, caller: Caller) -> RequestContext {
    let (principal, server) = caller;
    RequestContext {
        principal,
        server,
        request_id: uuid::Uuid::new_v4().to_string(),
        ip: Some(peer.ip().to_string()),
        user_agent: header_str(headers, header::USER_AGENT)
            .map(|ua| ua.chars().take(512).collect()),
        terms: Default::default(),
    }
}

/// What the limits need to know of a query: its aliases (counted at every use of a fragment),
/// its depth, and whether it asks for the schema.
#[derive(Debug, Default)]
struct Shape {
    aliases: usize,
    depth: usize,
    introspection: bool,
}

fn shape(doc: &ExecutableDocument) -> Shape {
    fn walk(set: &SelectionSet, doc: &ExecutableDocument, shape: &mut Shape, depth: usize) {
        // Past this, the query is refused anyway (and fragment cycles end here).
        if depth > 64 || shape.aliases > 10 * MAX_ALIASES {
            return;
        }
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    shape.depth = shape.depth.max(depth + 1);
                    shape.aliases += usize::from(f.node.alias.is_some());
                    let name = f.node.name.node.as_str();
                    shape.introspection |= name == "__schema" || name == "__type";
                    walk(&f.node.selection_set.node, doc, shape, depth + 1);
                }
                Selection::InlineFragment(fr) => {
                    walk(&fr.node.selection_set.node, doc, shape, depth)
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(f) = doc.fragments.get(&spread.node.fragment_name.node) {
                        walk(&f.node.selection_set.node, doc, shape, depth);
                    }
                }
            }
        }
    }
    let mut shape = Shape::default();
    for (_, op) in doc.operations.iter() {
        walk(&op.node.selection_set.node, doc, &mut shape, 0);
    }
    shape
}

/// Reads at most [`MAX_BODY`] bytes; `None` when the body is larger. An oversize body is
/// still read (and dropped) up to [`DRAIN_MAX`], so a client that is still sending receives
/// the 413 instead of a broken connection; beyond that the connection is simply closed.
async fn read_body(body: Body) -> Option<Bytes> {
    use futures::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { return None };
        total += chunk.len();
        if total <= MAX_BODY {
            buf.extend_from_slice(&chunk);
        } else if total > DRAIN_MAX {
            return None;
        }
    }
    (total <= MAX_BODY).then(|| Bytes::from(buf))
}

/// How much of an oversize body is read before answering 413.
const DRAIN_MAX: usize = 4 * 1024 * 1024;

/// `POST /graphql`: one JSON request, at most 64 KiB.
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
    if foreign_origin(&headers) {
        return transport_error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "cross-origin requests are not accepted",
        );
    }
    let bytes: Bytes = match read_body(body).await {
        Some(b) => b,
        None => {
            return transport_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "VALIDATION",
                &format!("the request body is larger than {} KiB", MAX_BODY / 1024),
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
    // byte, passed every check below when it was first answered).
    let caller = principal(&state.api, &headers).await;
    // The key, and the epoch of the caller's rows taken before anything is read.
    let memo = match &caller {
        Ok((Some(p), None)) => Some((
            crate::memo::AnswerMemo::key(&facet(p), &bytes),
            state
                .api
                .ledger
                .projections
                .summary_epoch(p.user_id.as_str()),
        )),
        _ => None,
    };
    if let Some((key, epoch)) = &memo {
        if let Some(body) = state.api.answers.get(key, *epoch, chrono::Utc::now()) {
            return json_answer(body, &uuid::Uuid::new_v4().to_string());
        }
    }
    let Ok(mut request) = serde_json::from_slice::<async_graphql::Request>(&bytes) else {
        return transport_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION",
            "expected one JSON object with `query` (and optional `variables`, `operationName`)",
        );
    };
    // How many root fields must vouch for the answer before it is remembered (none when the
    // operation is not a plain query).
    let mut root_fields = None;
    // A syntax error is left to the executor, which reports it in the usual shape.
    if let Ok(doc) = async_graphql::parser::parse_query(&request.query) {
        let Shape {
            aliases,
            depth,
            introspection,
        } = shape(&doc);
        if depth > crate::graphql::MAX_DEPTH {
            return transport_error(
                StatusCode::BAD_REQUEST,
                "VALIDATION",
                &format!(
                    "the query is nested {depth} levels deep; at most {} are allowed",
                    crate::graphql::MAX_DEPTH
                ),
            );
        }
        if introspection && !state.dev {
            return transport_error(
                StatusCode::BAD_REQUEST,
                "VALIDATION",
                "introspection is available in dev mode only; the schema is docs/schema.graphql",
            );
        }
        if aliases > MAX_ALIASES {
            return transport_error(
                StatusCode::BAD_REQUEST,
                "VALIDATION",
                &format!("the query has {aliases} aliases; at most {MAX_ALIASES} are allowed"),
            );
        }
        if doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty == OperationType::Subscription)
        {
            return transport_error(
                StatusCode::BAD_REQUEST,
                "VALIDATION",
                "subscriptions are served over WebSocket (graphql-transport-ws) only",
            );
        }
        root_fields = plain_query_fields(&doc, request.operation_name.as_deref());
        // Parsed once: the executor uses this document.
        request.set_parsed_query(doc);
    }
    let caller = match caller {
        Ok(c) => c,
        Err(response) => return response,
    };
    let ctx = request_context(&headers, peer, caller);
    let request_id = ctx.request_id.clone();
    let terms = ctx.terms.clone();
    let span = tracing::info_span!("graphql", request_id = %request_id);
    let response =
        tracing::Instrument::instrument(state.schema.execute(request.data(ctx)), span).await;
    let body = Bytes::from(serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec()));
    let vouched = terms.get();
    if let (Some((key, epoch)), Some(fields)) = (memo, root_fields) {
        if fields > 0
            && vouched.vouched == fields
            && response.errors.is_empty()
            && response.http_headers.is_empty()
        {
            let now = chrono::Utc::now();
            let oldest = now + crate::memo::ANSWER_MAX_AGE;
            let until = vouched.until.map_or(oldest, |u| u.min(oldest));
            state.api.answers.put(key, epoch, until, body.clone());
        }
    }
    let mut out = json_answer(body, &request_id);
    for (name, value) in response.http_headers.iter() {
        out.headers_mut().append(name, value.clone());
    }
    out
}

fn json_answer(body: Bytes, request_id: &str) -> Response {
    let mut out = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
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

/// The number of root fields of the operation `name` chooses, if it is a query whose root
/// selections are all plain fields (no fragment, no directive); `None` otherwise.
fn plain_query_fields(doc: &ExecutableDocument, name: Option<&str>) -> Option<usize> {
    use async_graphql::parser::types::DocumentOperations;
    let op = match (&doc.operations, name) {
        (DocumentOperations::Single(op), None) => op,
        (DocumentOperations::Single(_), Some(_)) => return None,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    if op.node.ty != OperationType::Query || !op.node.directives.is_empty() {
        return None;
    }
    op.node
        .selection_set
        .node
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) if f.node.directives.is_empty() => Some(()),
            _ => None,
        })
        .collect::<Option<Vec<()>>>()
        .map(|fields| fields.len())
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
            return axum::response::Html(
                async_graphql::http::GraphiQLSource::build()
                    .endpoint("/graphql")
                    .subscription_endpoint("/graphql")
                    .finish(),
            )
            .into_response();
        }
        return transport_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "VALIDATION",
            "send queries and mutations with POST (application/json)",
        );
    };
    if foreign_origin(&headers) {
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
    let cookie_principal = match principal(&state.api, &headers).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let base = request_context(&headers, peer, cookie_principal);
    let schema = state.schema.clone();
    let api = state.api.clone();
    upgrade
        .protocols(["graphql-transport-ws", "graphql-ws"])
        .on_upgrade(move |socket| async move {
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    // A machine client may authenticate in the init payload instead of a cookie.
                    let mut ctx = base;
                    if let Some(token) = payload
                        .get("authorization")
                        .and_then(|v| v.as_str())
                        .and_then(|v| v.strip_prefix("Bearer "))
                    {
                        // As over HTTP: a token that is not live refuses the connection.
                        let refused = || {
                            async_graphql::Error::new(
                                "the API token is unknown, expired or revoked",
                            )
                        };
                        if token.starts_with(SERVER_TOKEN_PREFIX) {
                            ctx.principal = None;
                            ctx.server = Some(
                                api.mcp
                                    .token(token)
                                    .await
                                    .ok()
                                    .flatten()
                                    .ok_or_else(refused)?,
                            );
                        } else {
                            ctx.principal = Some(
                                api.accounts
                                    .token(token)
                                    .await
                                    .ok()
                                    .flatten()
                                    .ok_or_else(refused)?,
                            );
                            ctx.server = None;
                        }
                    }
                    let mut data = async_graphql::Data::default();
                    data.insert(ctx);
                    Ok(data)
                })
                .serve()
                .await
        })
}

/// Security headers on every response; `no-store` on everything but static assets.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let is_asset = request.method() == Method::GET && request.uri().path().starts_with("/assets/");
    let graphiql = request.method() == Method::GET && request.uri().path() == "/graphql";
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let csp = if graphiql {
        // GraphiQL (dev mode only) loads its scripts from a CDN.
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
    if !is_asset && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
