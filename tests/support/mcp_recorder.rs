//! [`RecordingMcpServer`]: a real HTTP MCP server on loopback that implements the receiving side
//! of docs/mcp-sync.md, for tests of anything that syncs. It checks every signature before
//! reading a body, applies each `Idempotency-Key` once, keeps the credentials it was sent, and
//! records every request and every change it applied. It can be switched to misbehave
//! ([`McpFault`]), go down and come back on the same port, or lose its data. The API answers
//! under any path prefix (`/credentials`, `/mcp/credentials`, …), so base URLs with a path can
//! be tested too. It holds plaintext secrets and shows them in `Debug`: tests only.
//!
//! It can also stand in for a server of the original design's API ([`Dialect::Original`]):
//! records listed with `id` and the server's own `version`, and no memory of idempotency
//! keys, so every request is applied as it comes. [`Chaos`] fails or loses the answers of a
//! share of the requests, at random from a seed.
//!
//! Only the test binary compiles it; its own tests are in tests/mcp_client.rs.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use credledger_adapters::mcp::client::{
    IDEMPOTENCY_KEY_HEADER, LEDGER_VERSION_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use credledger_adapters::mcp::signing;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The fields a server of the original API lists for each credential, besides `id` and its
/// own `version`.
const ORIGINAL_FIELDS: &[&str] = &[
    "user_id",
    "service_type",
    "credential_name",
    "credential_data",
    "account_identifier",
    "is_primary",
];

/// What ours lists besides `credential_id`: those and the `ledger_version` it was sent.
const LEDGER_VERSION: &str = "ledger_version";

/// A misbehaviour, applied to every request until [`RecordingMcpServer::set_fault`] clears it.
/// Except for `Slow`, nothing is applied while a fault is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpFault {
    /// This status with a JSON error body.
    Status(u16),
    /// This status with `Retry-After: <secs>`.
    StatusWithRetryAfter(u16, u64),
    /// Waits this long, then answers normally.
    Slow(Duration),
    /// `302` back to the same URL.
    Redirect,
    /// This status with this raw body, as JSON.
    Answer(u16, String),
    /// This status with this raw body, as `text/html` (a proxy's page).
    Html(u16, String),
    /// `200` streaming a JSON body of this many bytes, without `Content-Length`.
    Oversize(usize),
    /// Applies the request as usual, then answers this status instead (the answer was lost).
    LoseAnswer(u16),
    /// As `LoseAnswer`, for creates (`POST`) only; every other request is answered as usual.
    LoseCreateAnswer(u16),
    /// As `LoseCreateAnswer` for the next create, after which the fault becomes `Status` with
    /// the same code: the server made the copy and then stopped answering.
    LoseCreateAnswerThenFail(u16),
    /// Applies a create (`POST`) as usual, then answers `201` with this raw body instead of its
    /// own; every other request is answered as usual.
    CreateAnsweredWith(String),
    /// Answers a create (`POST`) `200` with this raw body without applying it (a proxy's page);
    /// every other request is answered as usual.
    CreateNotMadeAnsweredWith(String),
}

/// Which API the server speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dialect {
    /// docs/mcp-sync.md: each `Idempotency-Key` applied once, lists carry `credential_id` and
    /// whatever `ledger_version` was sent.
    #[default]
    Credledger,
    /// The original design's MCP server: no idempotency keys (every request is applied), lists
    /// carry `id` and the server's own `version` (1 at create, one more per update).
    Original,
}

/// Random faults on every request: `fail_percent` answer 503 without applying anything,
/// `lose_percent` are applied and then answered 503. Drawn from `seed`, so a run repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chaos {
    pub seed: u64,
    pub fail_percent: u8,
    pub lose_percent: u8,
}

/// A change the server applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
}

/// One applied change, in the order applied.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedChange {
    pub op: Op,
    pub mcp_id: String,
    pub idempotency_key: String,
    pub ledger_version: Option<u64>,
    /// The request's JSON body; `None` for a delete.
    pub body: Option<Value>,
}

/// One request received, refused ones included, recorded once answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedRequest {
    pub method: String,
    /// The path with its query, as received (percent-encoded).
    pub path: String,
    pub idempotency_key: Option<String>,
    /// `Credledger-Ledger-Version`; `None` when absent or not a number.
    pub ledger_version: Option<u64>,
    pub signature_valid: bool,
    /// The status answered.
    pub status: u16,
    /// The JSON body, parsed only when the signature holds.
    pub body: Option<Value>,
    pub received_at: Instant,
}

/// An answer as remembered for a repeated `Idempotency-Key`.
#[derive(Clone)]
struct Answer {
    status: StatusCode,
    body: Option<Value>,
}

impl Answer {
    fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
        }
    }

    fn error(status: StatusCode, message: &str) -> Self {
        Self::json(status, json!({ "error": message }))
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        match self.body {
            Some(body) => (self.status, axum::Json(body)).into_response(),
            None => self.status.into_response(),
        }
    }
}

#[derive(Default)]
struct Data {
    credentials: BTreeMap<String, Value>,
    /// The server's own version of each credential ([`Dialect::Original`]).
    versions: HashMap<String, u64>,
    dialect: Dialect,
    chaos: Option<(Chaos, rand::rngs::StdRng)>,
    last_id: u64,
    /// Whether it replaces the `credential_data` of each copy it creates or updates, as a
    /// server that refreshes an OAuth token itself does (seed §3.3).
    rewrites_data: bool,
    /// Whether its list answers every record, whatever `user_id` and `service_type` ask for.
    ignores_filters: bool,
    /// The length new ids are padded to (with `0`s after `mcp-`), when set.
    id_length: Option<usize>,
    answered: HashMap<String, Answer>,
    duplicates: usize,
    applied: Vec<AppliedChange>,
    requests: Vec<ReceivedRequest>,
    fault: Option<McpFault>,
}

struct Shared {
    secrets: Mutex<Vec<Vec<u8>>>,
    data: Mutex<Data>,
    /// Open (`true`) unless [`RecordingMcpServer::hold_requests`] closed it: requests wait at it
    /// before anything else, counted in `arrived`.
    gate: tokio::sync::watch::Sender<bool>,
    arrived: std::sync::atomic::AtomicUsize,
}

impl Shared {
    fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.data)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The serving task; dropping `stop` closes the open connections.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// The running server. Dropping it stops it.
pub struct RecordingMcpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    running: Mutex<Option<Running>>,
}

impl std::fmt::Debug for RecordingMcpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingMcpServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RecordingMcpServer {
    /// Starts on `127.0.0.1` with a port chosen by the system, accepting signatures made with
    /// any of `secrets`.
    pub async fn start(secrets: Vec<Vec<u8>>) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let shared = Arc::new(Shared {
            secrets: Mutex::new(secrets),
            data: Mutex::default(),
            gate: tokio::sync::watch::Sender::new(true),
            arrived: std::sync::atomic::AtomicUsize::new(0),
        });
        Ok(Self {
            addr: listener.local_addr()?,
            running: Mutex::new(Some(serve(listener, shared.clone()))),
            shared,
        })
    }

    /// Replaces the signing secrets it accepts (a server learns its secret when registered).
    pub fn set_secrets(&self, secrets: Vec<Vec<u8>>) {
        *lock(&self.shared.secrets) = secrets;
    }

    /// The address it listens on (kept across [`Self::go_down`] and [`Self::come_back`]).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.shared.data().requests.clone()
    }

    /// Requests answered from memory because their `Idempotency-Key` was already applied.
    pub fn duplicates(&self) -> usize {
        self.shared.data().duplicates
    }

    /// Every change applied, in order (kept across [`Self::clear`]).
    pub fn applied(&self) -> Vec<AppliedChange> {
        self.shared.data().applied.clone()
    }

    /// The credentials held now, by id, as they were sent or seeded.
    pub fn credentials(&self) -> BTreeMap<String, Value> {
        self.shared.data().credentials.clone()
    }

    /// Makes every request from now on wait, unanswered, until [`Self::release_requests`].
    pub fn hold_requests(&self) {
        self.shared.gate.send_replace(false);
    }

    /// Lets the held requests, and those to come, through.
    pub fn release_requests(&self) {
        self.shared.gate.send_replace(true);
    }

    /// How many requests have arrived (held ones included, before they are answered).
    pub fn arrived(&self) -> usize {
        self.shared
            .arrived
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Switches to `fault`, or back to normal with `None`.
    pub fn set_fault(&self, fault: Option<McpFault>) {
        self.shared.data().fault = fault;
    }

    /// Gives the copies it creates from now on ids of `length` characters.
    pub fn set_id_length(&self, length: usize) {
        self.shared.data().id_length = Some(length);
    }

    /// Speaks `dialect` from the next request on.
    pub fn set_dialect(&self, dialect: Dialect) {
        self.shared.data().dialect = dialect;
    }

    /// Fails or loses answers at random from the next request on, or stops with `None`.
    pub fn set_chaos(&self, chaos: Option<Chaos>) {
        use rand::SeedableRng;
        self.shared.data().chaos = chaos.map(|c| (c, rand::rngs::StdRng::seed_from_u64(c.seed)));
    }

    /// Loses one credential, as if someone deleted it on the server.
    pub fn forget(&self, mcp_id: &str) {
        let mut data = self.shared.data();
        data.credentials.remove(mcp_id);
        data.versions.remove(mcp_id);
    }

    /// Stops listening: new connections are refused and open ones are closed (a request being
    /// answered gets up to a second to finish). State is kept for [`Self::come_back`].
    pub async fn go_down(&self) {
        let Some(Running { stop, mut task }) = lock(&self.running).take() else {
            return;
        };
        drop(stop);
        if tokio::time::timeout(Duration::from_secs(1), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }

    /// Listens again on the same port, with the same state.
    pub async fn come_back(&self) -> std::io::Result<()> {
        if lock(&self.running).is_some() {
            return Ok(());
        }
        let listener = tokio::net::TcpListener::bind(self.addr).await?;
        *lock(&self.running) = Some(serve(listener, self.shared.clone()));
        Ok(())
    }

    /// Loses the credentials and the memory of applied idempotency keys, as a server restored
    /// from nothing; ids keep counting up, and [`Self::applied`] keeps its history.
    pub fn clear(&self) {
        let mut data = self.shared.data();
        data.credentials.clear();
        data.versions.clear();
        data.answered.clear();
    }

    /// Stores `records` as given (malformed ones included) under new ids, which it returns. A
    /// list answers each record's fields with `credential_id` added, unless the record has
    /// its own; a record that is not an object is listed as it is.
    pub fn seed(&self, records: Vec<Value>) -> Vec<String> {
        let mut data = self.shared.data();
        records
            .into_iter()
            .map(|record| data.insert_new(record))
            .collect()
    }

    /// Changes one field of a credential it holds, as someone editing it on the server would
    /// (its own version moves on).
    pub fn set_field(&self, mcp_id: &str, name: &str, value: Value) {
        let mut data = self.shared.data();
        if let Some(Value::Object(record)) = data.credentials.get_mut(mcp_id) {
            record.insert(name.to_owned(), value);
            *data.versions.entry(mcp_id.to_owned()).or_default() += 1;
        }
    }

    /// Makes it replace, or stop replacing, the `credential_data` of each copy it creates or
    /// updates (`{"token": "refreshed-by-the-server-<its version>"}`), as a server that
    /// refreshes an OAuth token itself does.
    pub fn set_rewrites_data(&self, rewrites: bool) {
        self.shared.data().rewrites_data = rewrites;
    }

    /// Makes its list answer every record, ignoring the `user_id` and `service_type` asked
    /// for, or (`false`) honour them again.
    pub fn set_ignores_filters(&self, ignores: bool) {
        self.shared.data().ignores_filters = ignores;
    }

    /// Makes the server report `version` as a credential's `ledger_version`.
    pub fn set_reported_version(&self, mcp_id: &str, version: u64) {
        if let Some(Value::Object(record)) = self.shared.data().credentials.get_mut(mcp_id) {
            record.insert("ledger_version".to_owned(), version.into());
        }
    }
}

impl Drop for RecordingMcpServer {
    fn drop(&mut self) {
        if let Some(running) = lock(&self.running).take() {
            running.task.abort();
        }
    }
}

fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) -> Running {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = axum::Router::new().fallback(handle).with_state(shared);
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "recording MCP server stopped");
        }
    });
    Running { stop, task }
}

/// What a request is about once its signature holds.
struct Request<'a> {
    method: &'a Method,
    uri: &'a Uri,
    idempotency_key: Option<&'a str>,
    ledger_version: Option<u64>,
    body: Option<&'a Value>,
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received_at = Instant::now();
    shared
        .arrived
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    // `shared` holds the gate's sender: the wait ends when it opens.
    let _ = shared.gate.subscribe().wait_for(|open| *open).await;
    let fault = shared.data().fault.clone();
    if let Some(McpFault::Slow(delay)) = fault {
        tokio::time::sleep(delay).await;
    }
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signature_valid = text(TIMESTAMP_HEADER)
        .and_then(|t| t.parse::<i64>().ok())
        .zip(text(SIGNATURE_HEADER))
        .is_some_and(|(timestamp, signature)| {
            let secrets = lock(&shared.secrets).clone();
            let secrets: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
            let now = chrono::Utc::now().timestamp();
            signing::verify(
                &secrets,
                signature,
                timestamp,
                now,
                &body,
                method.as_str(),
                &path,
            )
            .is_ok()
        });
    // Only now, and only when signed, is the body read as JSON.
    let parsed = signature_valid
        .then(|| serde_json::from_slice::<Value>(&body).ok())
        .flatten();
    let request = Request {
        method: &method,
        uri: &uri,
        idempotency_key: text(IDEMPOTENCY_KEY_HEADER),
        ledger_version: text(LEDGER_VERSION_HEADER).and_then(|v| v.parse().ok()),
        body: parsed.as_ref(),
    };
    let mut data = shared.data();
    let lost = |code: u16| {
        Answer::error(
            StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            "the answer was lost",
        )
        .into_response()
    };
    let chaos = data.draw_chaos();
    let response = match (fault.clone(), chaos) {
        _ if !signature_valid => {
            Answer::error(StatusCode::UNAUTHORIZED, "bad or missing signature").into_response()
        }
        (Some(McpFault::LoseAnswer(code)), _) => {
            data.answer(&request);
            lost(code)
        }
        (Some(McpFault::LoseCreateAnswer(code)), _) if method == axum::http::Method::POST => {
            data.answer(&request);
            lost(code)
        }
        (Some(McpFault::LoseCreateAnswerThenFail(code)), _)
            if method == axum::http::Method::POST =>
        {
            data.answer(&request);
            data.fault = Some(McpFault::Status(code));
            lost(code)
        }
        (Some(McpFault::CreateAnsweredWith(body)), _) if method == axum::http::Method::POST => {
            data.answer(&request);
            (
                StatusCode::CREATED,
                [("content-type", "application/json")],
                body,
            )
                .into_response()
        }
        (Some(McpFault::CreateNotMadeAnsweredWith(body)), _)
            if method == axum::http::Method::POST =>
        {
            (StatusCode::OK, [("content-type", "text/html")], body).into_response()
        }
        (_, Some(Drawn::Fail)) => {
            Answer::error(StatusCode::SERVICE_UNAVAILABLE, "fault").into_response()
        }
        (_, Some(Drawn::Lose)) => {
            data.answer(&request);
            lost(503)
        }
        (Some(fault), None) => match faulty(fault, &path) {
            Some(response) => response,
            None => data.answer(&request).into_response(),
        },
        (None, None) => data.answer(&request).into_response(),
    };
    data.requests.push(ReceivedRequest {
        method: method.to_string(),
        path,
        idempotency_key: request.idempotency_key.map(str::to_owned),
        ledger_version: request.ledger_version,
        signature_valid,
        status: response.status().as_u16(),
        body: parsed,
        received_at,
    });
    response
}

/// The answer a fault gives instead of the normal one; `Slow` has none.
fn faulty(fault: McpFault, path: &str) -> Option<Response> {
    let status =
        |code: u16| StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let response = match fault {
        McpFault::Status(code) => Answer::error(status(code), "fault").into_response(),
        McpFault::StatusWithRetryAfter(code, secs) => (
            [(header::RETRY_AFTER, secs.to_string())],
            Answer::error(status(code), "fault"),
        )
            .into_response(),
        McpFault::Redirect => {
            (StatusCode::FOUND, [(header::LOCATION, path.to_owned())]).into_response()
        }
        McpFault::Answer(code, body) => (
            status(code),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        McpFault::Html(code, body) => {
            (status(code), [(header::CONTENT_TYPE, "text/html")], body).into_response()
        }
        McpFault::Oversize(bytes) => {
            const CHUNK: usize = 64 * 1024;
            let chunks = (0..bytes.div_ceil(CHUNK)).map(move |i| {
                Ok::<_, std::convert::Infallible>(vec![b' '; CHUNK.min(bytes - i * CHUNK)])
            });
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                Body::from_stream(futures::stream::iter(chunks)),
            )
                .into_response()
        }
        McpFault::Slow(_)
        | McpFault::LoseAnswer(_)
        | McpFault::LoseCreateAnswer(_)
        | McpFault::LoseCreateAnswerThenFail(_)
        | McpFault::CreateAnsweredWith(_)
        | McpFault::CreateNotMadeAnsweredWith(_) => return None,
    };
    Some(response)
}

/// Which resource a path names, after any prefix.
enum Route {
    Collection,
    Item(String),
    Unknown,
}

fn route(path: &str) -> Route {
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        [.., "credentials"] => Route::Collection,
        [.., "credentials", id] => percent_decode(id).map_or(Route::Unknown, Route::Item),
        _ => Route::Unknown,
    }
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What [`Chaos`] drew for one request.
enum Drawn {
    Fail,
    Lose,
}

impl Data {
    fn insert_new(&mut self, record: Value) -> String {
        self.last_id += 1;
        let width = self.id_length.unwrap_or(0).saturating_sub(4);
        let id = format!("mcp-{:0width$}", self.last_id);
        self.credentials.insert(id.clone(), record);
        self.versions.insert(id.clone(), 1);
        id
    }

    fn draw_chaos(&mut self) -> Option<Drawn> {
        use rand::Rng;
        let (chaos, rng) = self.chaos.as_mut()?;
        let roll: u8 = rng.gen_range(0..100);
        if roll < chaos.fail_percent {
            Some(Drawn::Fail)
        } else if roll < chaos.fail_percent.saturating_add(chaos.lose_percent) {
            Some(Drawn::Lose)
        } else {
            None
        }
    }

    /// The answer to a signed request, applying it unless its key was already applied.
    fn answer(&mut self, request: &Request<'_>) -> Answer {
        let route = route(request.uri.path());
        if *request.method == Method::GET {
            return match route {
                Route::Collection => self.list(request.uri),
                _ => Answer::error(StatusCode::NOT_FOUND, "no such resource"),
            };
        }
        let original = self.dialect == Dialect::Original;
        let key = match request.idempotency_key {
            Some(key) => key,
            None if original => "",
            None => return Answer::error(StatusCode::BAD_REQUEST, "Idempotency-Key is required"),
        };
        if let Some(answer) = self.answered.get(key).filter(|_| !original) {
            self.duplicates += 1;
            return answer.clone();
        }
        let body = request.body.filter(|b| b.is_object());
        let change = match (request.method, route, body) {
            (&Method::POST, Route::Collection, Some(body)) => {
                let id = self.insert_new(body.clone());
                Ok((Op::Create, id))
            }
            (&Method::PUT, Route::Item(id), Some(body)) => match self.credentials.get_mut(&id) {
                Some(record) => {
                    *record = body.clone();
                    *self.versions.entry(id.clone()).or_default() += 1;
                    Ok((Op::Update, id))
                }
                None => Err(Answer::error(StatusCode::NOT_FOUND, "no such credential")),
            },
            (&Method::DELETE, Route::Item(id), _) => match self.credentials.remove(&id) {
                Some(_) => {
                    self.versions.remove(&id);
                    Ok((Op::Delete, id))
                }
                None => Err(Answer::error(StatusCode::NOT_FOUND, "no such credential")),
            },
            (&Method::POST | &Method::PUT, Route::Collection | Route::Item(_), None) => Err(
                Answer::error(StatusCode::BAD_REQUEST, "the body is not a JSON object"),
            ),
            (_, Route::Unknown, _) => Err(Answer::error(StatusCode::NOT_FOUND, "no such resource")),
            _ => Err(Answer::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed",
            )),
        };
        let (op, mcp_id) = match change {
            Ok(change) => change,
            Err(refusal) => return refusal,
        };
        if self.rewrites_data && op != Op::Delete {
            let version = self.versions.get(&mcp_id).copied().unwrap_or(1);
            if let Some(Value::Object(record)) = self.credentials.get_mut(&mcp_id) {
                let token = format!("refreshed-by-the-server-{version}");
                record.insert("credential_data".to_owned(), json!({ "token": token }));
            }
        }
        let answer = match op {
            Op::Create => Answer::json(StatusCode::CREATED, json!({ "credential_id": mcp_id })),
            Op::Update => Answer::json(StatusCode::OK, json!({ "credential_id": mcp_id })),
            Op::Delete => Answer {
                status: StatusCode::NO_CONTENT,
                body: None,
            },
        };
        self.applied.push(AppliedChange {
            op,
            mcp_id,
            idempotency_key: key.to_owned(),
            ledger_version: request.ledger_version,
            body: (op != Op::Delete).then(|| body.cloned()).flatten(),
        });
        if !original {
            self.answered.insert(key.to_owned(), answer.clone());
        }
        answer
    }

    fn list(&self, uri: &Uri) -> Answer {
        let Ok(Query(filters)) = Query::<HashMap<String, String>>::try_from_uri(uri) else {
            return Answer::error(StatusCode::BAD_REQUEST, "bad query");
        };
        let matches = |record: &Value| {
            self.ignores_filters
                || ["user_id", "service_type"].iter().all(|name| {
                    filters
                        .get(*name)
                        .is_none_or(|want| record.get(name).and_then(Value::as_str) == Some(want))
                })
        };
        let credentials: Vec<Value> = self
            .credentials
            .iter()
            .filter(|(_, record)| matches(record))
            .map(|(id, record)| match (record, self.dialect) {
                (Value::Object(fields), Dialect::Credledger) => {
                    let mut listed = Map::new();
                    listed.insert("credential_id".to_owned(), id.as_str().into());
                    let names = ["credential_id"].iter().chain(ORIGINAL_FIELDS);
                    for name in names.chain(&[LEDGER_VERSION]) {
                        if let Some(value) = fields.get(*name) {
                            listed.insert((*name).to_owned(), value.clone());
                        }
                    }
                    Value::Object(listed)
                }
                (Value::Object(fields), Dialect::Original) => {
                    let mut listed = Map::new();
                    listed.insert("id".to_owned(), id.as_str().into());
                    for name in ORIGINAL_FIELDS {
                        if let Some(value) = fields.get(*name) {
                            listed.insert((*name).to_owned(), value.clone());
                        }
                    }
                    let version = self.versions.get(id).copied().unwrap_or(1);
                    listed.insert("version".to_owned(), version.into());
                    Value::Object(listed)
                }
                (other, _) => other.clone(),
            })
            .collect();
        Answer::json(StatusCode::OK, json!({ "credentials": credentials }))
    }
}
