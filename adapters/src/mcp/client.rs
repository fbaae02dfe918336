//! [`McpClient`]: the signed HTTP client that mirrors credentials to one MCP server with the API
//! of docs/mcp-sync.md. Every request carries a timestamp and an HMAC over exactly the bytes
//! sent, its method and its full path; redirects are never followed, answers are read up to
//! [`MAX_ANSWER_BYTES`], and each request has its own timeout. Secret values travel only in
//! request bodies: they never appear in a `Debug`, an error or a log line, and the encoded body
//! is wiped once sent. The client does not retry; its caller decides with [`SyncError`].

use super::signing;
use crate::outbound::OutboundPolicy;
use axum::body::Bytes; // the `bytes` crate's type, which reqwest's bodies are built from
use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, Response, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use zeroize::{Zeroize, Zeroizing};

/// Unix time in seconds when the request was signed.
pub const TIMESTAMP_HEADER: &str = "credledger-timestamp";
/// `v1=<hex>`: one value, signed with the server's one secret.
pub const SIGNATURE_HEADER: &str = "credledger-signature";
/// The ledger event id a change carries; the receiver applies each key once.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// The credential's version in the ledger.
pub const LEDGER_VERSION_HEADER: &str = "credledger-ledger-version";
/// Answers larger than this are refused unread.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// The longest `credential_id` accepted from a server.
pub const MAX_CREDENTIAL_ID_CHARS: usize = 256;

/// Why a sync request did not succeed. Messages never contain a request or answer body, nor
/// the signing secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// No connection: refused, no such host, reset.
    #[error("could not reach the MCP server: {0}")]
    Unreachable(String),
    #[error("the MCP server did not answer in time")]
    Timeout,
    /// A non-2xx answer (3xx included: redirects are not followed).
    #[error("the MCP server answered {status}")]
    Status {
        status: u16,
        /// The answer's `Retry-After`, when it had a usable one.
        retry_after: Option<Duration>,
    },
    /// `404` to an update (not an HTML page, a proxy's): the server no longer holds the
    /// credential.
    #[error("the MCP server does not hold this credential")]
    NotFound,
    /// A 2xx answer that cannot be used (not JSON, wrong shape, too large).
    #[error("the MCP server's answer is unusable: {0}")]
    BadAnswer(String),
    /// The request cannot be made: a bad base URL, an id or key that cannot go in a request.
    #[error("cannot send to the MCP server: {0}")]
    Config(String),
    /// The outbound address policy refuses the server's address (why, naming the host).
    #[error("the base URL is refused: {0}")]
    Refused(String),
}

impl SyncError {
    /// How long the server asked to wait before the next attempt.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The error in words that name no host, address or port, for what a credential's owner
    /// is shown (ADR 0024: members do not see where a server is). The full text
    /// ([`std::fmt::Display`]) is the operator's: logs and the sender's own tables.
    pub fn without_address(&self) -> String {
        match self {
            Self::Unreachable(_) => "could not reach the MCP server".to_owned(),
            Self::Refused(_) => {
                "the MCP server's address is refused (the operator's logs say why)".to_owned()
            }
            // Fixed texts, or a status.
            Self::Timeout
            | Self::Status { .. }
            | Self::NotFound
            | Self::BadAnswer(_)
            | Self::Config(_) => self.to_string(),
        }
    }
}

/// The body of a create or update (docs/mcp-sync.md). `Debug` shows the names of the
/// `credential_data` fields, never their values, which are wiped when the body is dropped.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct SyncBody {
    pub user_id: String,
    pub service_type: String,
    pub credential_name: String,
    /// The plaintext secret fields.
    pub credential_data: BTreeMap<String, String>,
    pub account_identifier: Option<String>,
    pub is_primary: bool,
    pub ledger_version: u64,
    /// The ledger event this change comes from; also sent as the `Idempotency-Key`.
    pub event_id: String,
}

impl fmt::Debug for SyncBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncBody")
            .field("user_id", &self.user_id)
            .field("service_type", &self.service_type)
            .field("credential_name", &self.credential_name)
            .field("credential_data", &Redacted(&self.credential_data))
            .field("account_identifier", &self.account_identifier)
            .field("is_primary", &self.is_primary)
            .field("ledger_version", &self.ledger_version)
            .field("event_id", &self.event_id)
            .finish()
    }
}

impl Drop for SyncBody {
    fn drop(&mut self) {
        self.credential_data.values_mut().for_each(Zeroize::zeroize);
    }
}

/// Field names with their values replaced.
struct Redacted<'a, V>(&'a BTreeMap<String, V>);

impl<V> fmt::Debug for Redacted<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

/// A credential as an MCP server lists it. Only its id (`id`, as the original design's servers
/// name it, or `credential_id`), `user_id` and `service_type` are required; the rest is
/// whatever the server reports, for the caller to judge (a `credential_data` value that is not
/// a string, a missing `ledger_version`); fields it does not know are ignored. `Debug` never
/// shows `credential_data`.
#[derive(Clone, PartialEq)]
pub struct RemoteCredential {
    /// The server's id for its copy.
    pub credential_id: String,
    pub user_id: String,
    pub service_type: String,
    pub credential_name: Option<String>,
    pub credential_data: Option<Map<String, Value>>,
    pub account_identifier: Option<String>,
    pub is_primary: Option<bool>,
    /// The ledger version the server says it holds (servers that echo what they were sent).
    pub ledger_version: Option<u64>,
    /// The server's own version of its copy (the original design's `version`).
    pub version: Option<u64>,
}

impl fmt::Debug for RemoteCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self
            .credential_data
            .as_ref()
            .map(|d| format!("<{} fields redacted>", d.len()));
        f.debug_struct("RemoteCredential")
            .field("credential_id", &self.credential_id)
            .field("user_id", &self.user_id)
            .field("service_type", &self.service_type)
            .field("credential_name", &self.credential_name)
            .field("credential_data", &data)
            .field("account_identifier", &self.account_identifier)
            .field("is_primary", &self.is_primary)
            .field("ledger_version", &self.ledger_version)
            .field("version", &self.version)
            .finish()
    }
}

/// One item of a server's list. An item that cannot be read does not spoil the others: it is
/// reported with its position, its id when it has a usable one, and why (naming the field,
/// never quoting a value).
#[derive(Debug, Clone, PartialEq)]
pub enum RemoteItem {
    Ok(RemoteCredential),
    Unreadable {
        /// Its position in the server's list.
        index: usize,
        credential_id: Option<String>,
        /// Whose and which service's it says it is, as far as it names them with a string.
        user_id: Option<String>,
        service_type: Option<String>,
        reason: String,
    },
}

/// A client for one MCP server. Cheap to clone: clones share the connection pool and the
/// signing secret.
#[derive(Clone)]
pub struct McpClient {
    http: reqwest::Client,
    base: Url,
    secret: Arc<Zeroizing<Vec<u8>>>,
}

impl fmt::Debug for McpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpClient")
            .field("base_url", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl McpClient {
    /// A client for the server at `base_url` (`http` or `https`, possibly with a path prefix:
    /// `https://mcp.example/api` sends to `https://mcp.example/api/credentials`). `timeout`
    /// bounds each request, connecting and reading the answer included.
    pub fn new(
        base_url: &str,
        signing_secret: Zeroizing<Vec<u8>>,
        timeout: Duration,
        outbound: &OutboundPolicy,
    ) -> Result<Self, SyncError> {
        let config = |why: &str| SyncError::Config(why.to_owned());
        let base = Url::parse(base_url).map_err(|_| config("the base URL is not a URL"))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(config("the base URL must be an http or https URL"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(config("the base URL must not have a query or a fragment"));
        }
        // The URL is shown in `Debug`: it must hold nothing secret.
        if !base.username().is_empty() || base.password().is_some() {
            return Err(config(
                "the base URL must not carry a user name or password",
            ));
        }
        // Where the server may be (an address an admin typed): checked here, and names are
        // resolved only to checked addresses when connecting.
        outbound
            .check_url(&base)
            .map_err(|refused| SyncError::Refused(refused.to_string()))?;
        let http = outbound
            .client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("credledger/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| config("the HTTP client could not be built"))?;
        Ok(Self {
            http,
            base,
            secret: Arc::new(signing_secret),
        })
    }

    /// `POST /credentials`: the id the server gave the new credential.
    pub async fn create(&self, body: &SyncBody) -> Result<String, SyncError> {
        let change = Change::new(&body.event_id, body.ledger_version, Some(encode(body)))?;
        let response = self
            .send(Method::POST, self.url(None)?, Some(change))
            .await?;
        let answer = read_capped(success(response)?).await?;
        let id = serde_json::from_slice::<Value>(&answer)
            .ok()
            .and_then(|v| id_text(v.get("credential_id")?))
            .filter(|id| usable_id(id));
        id.ok_or_else(|| SyncError::BadAnswer("no usable `credential_id` in it".to_owned()))
    }

    /// `PUT /credentials/{mcp_id}`; [`SyncError::NotFound`] when the server does not hold it
    /// (a `404` that is not an HTML page: see `not_html`).
    pub async fn update(&self, mcp_id: &str, body: &SyncBody) -> Result<(), SyncError> {
        let change = Change::new(&body.event_id, body.ledger_version, Some(encode(body)))?;
        let response = self
            .send(Method::PUT, self.url(Some(mcp_id))?, Some(change))
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            not_html(response).await?;
            return Err(SyncError::NotFound);
        }
        applied(response).await
    }

    /// `DELETE /credentials/{mcp_id}`; a credential the server does not hold (a `404` that is
    /// not an HTML page: see `not_html`) is already gone.
    pub async fn delete(
        &self,
        mcp_id: &str,
        idempotency_key: &str,
        ledger_version: u64,
    ) -> Result<(), SyncError> {
        let change = Change::new(idempotency_key, ledger_version, None)?;
        let response = self
            .send(Method::DELETE, self.url(Some(mcp_id))?, Some(change))
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return not_html(response).await;
        }
        applied(response).await
    }

    /// `GET /credentials`, filtered by the parameters given. The answer may be a JSON array or
    /// `{"credentials": [...]}`, not one page of several (`next`, `next_page`, `next_cursor`
    /// or `has_more: true` beside it: a bad answer).
    pub async fn list(
        &self,
        user_id: Option<&str>,
        service_type: Option<&str>,
    ) -> Result<Vec<RemoteItem>, SyncError> {
        let mut url = self.url(None)?;
        let params = [("user_id", user_id), ("service_type", service_type)];
        if params.iter().any(|(_, v)| v.is_some()) {
            let mut query = url.query_pairs_mut();
            for (name, value) in params {
                if let Some(value) = value {
                    query.append_pair(name, value);
                }
            }
        }
        let response = self.send(Method::GET, url, None).await?;
        read_list(&read_capped(success(response)?).await?)
    }

    /// `/credentials` or `/credentials/{id}` under the base URL, the id percent-encoded.
    fn url(&self, id: Option<&str>) -> Result<Url, SyncError> {
        if id.is_some_and(|id| !usable_id(id)) {
            return Err(SyncError::Config("not a usable credential id".to_owned()));
        }
        let mut url = self.base.clone();
        // `new` refused URLs that cannot be a base, so there always are segments.
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push("credentials");
            if let Some(id) = id {
                segments.push(id);
            }
        }
        Ok(url)
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        change: Option<Change>,
    ) -> Result<Response, SyncError> {
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let timestamp = chrono::Utc::now().timestamp();
        let body = change.as_ref().and_then(|c| c.body.as_ref());
        let signature = signing::sign(
            &self.secret,
            timestamp,
            body.map_or(&[][..], |b| b.as_slice()),
            method.as_str(),
            &path,
        );
        let mut request = self
            .http
            .request(method.clone(), url)
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, signature);
        if let Some(change) = change {
            request = request
                .header(IDEMPOTENCY_KEY_HEADER, change.idempotency_key)
                .header(LEDGER_VERSION_HEADER, change.ledger_version);
            if let Some(body) = change.body {
                // Handed over as is, so the bytes signed are the bytes sent, and wiped when
                // reqwest is done with them.
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(Bytes::from_owner(body));
            }
        }
        let response = request.send().await.map_err(transport_error)?;
        tracing::debug!(%method, %path, status = response.status().as_u16(), "MCP sync request");
        Ok(response)
    }
}

/// What a change carries besides its method and URL.
struct Change {
    idempotency_key: HeaderValue,
    ledger_version: u64,
    body: Option<Zeroizing<Vec<u8>>>,
}

impl Change {
    fn new(
        idempotency_key: &str,
        ledger_version: u64,
        body: Option<Zeroizing<Vec<u8>>>,
    ) -> Result<Self, SyncError> {
        let idempotency_key = HeaderValue::from_str(idempotency_key)
            .ok()
            .filter(|_| !idempotency_key.is_empty())
            .ok_or_else(|| {
                SyncError::Config("the event id cannot be an Idempotency-Key".to_owned())
            })?;
        Ok(Self {
            idempotency_key,
            ledger_version,
            body,
        })
    }
}

/// The JSON body in a buffer sized up front: growing it would leave copies of the secrets in
/// freed memory that is never wiped.
fn encode(body: &SyncBody) -> Zeroizing<Vec<u8>> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, body)
        .unwrap_or_else(|_| unreachable!("string-keyed data always serializes"));
    let mut bytes = Zeroizing::new(Vec::with_capacity(count.0));
    serde_json::to_writer(&mut *bytes, body)
        .unwrap_or_else(|_| unreachable!("string-keyed data always serializes"));
    bytes
}

/// A server's id for a copy: a string, or a whole number as some servers send it.
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(id) => Some(id.clone()),
        Value::Number(n) if n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// An id this side can use in a path segment (which percent-encodes what it holds): not empty,
/// bounded, not `.` or `..`. Control characters are kept, so a copy under such an id can still
/// be found and deleted; where an id is shown it is escaped (logged with `?`, printed by the
/// CLI's `printable`).
fn usable_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_CREDENTIAL_ID_CHARS && id != "." && id != ".."
}

/// The answer if it is a 2xx, else its status (and `Retry-After`) as an error.
fn success(response: Response) -> Result<Response, SyncError> {
    if response.status().is_success() {
        return Ok(response);
    }
    Err(SyncError::Status {
        status: response.status().as_u16(),
        retry_after: retry_after(&response),
    })
}

/// A change (`PUT`, `DELETE`) answered `2xx` counts as applied unless the answer is an HTML page
/// ([`not_html`]): a proxy in front of the server (a sign-in or maintenance page answered `200`
/// to every request) applied nothing, and taking its page for a removal would forget a copy the
/// server still holds. Any other answer (nothing, JSON, a word of text) is the server's.
async fn applied(response: Response) -> Result<(), SyncError> {
    not_html(success(response)?).await
}

/// `Ok` unless the answer is an HTML page (`text/html`, or a body starting with `<`), which is a
/// proxy's, not the MCP server's: its `2xx` applied nothing, and its `404` (no route, a
/// server behind it that is not up) says nothing of whether the server holds the copy.
/// Taken for the server's, a removal would be recorded done, or an update re-create the copy
/// and leave the old one, while the server still holds the secret.
async fn not_html(response: Response) -> Result<(), SyncError> {
    let html = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    let answer = read_capped(response).await?;
    let markup = answer.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
    if html || markup {
        return Err(SyncError::BadAnswer(
            "an HTML page (a proxy's?), not the MCP server's answer".to_owned(),
        ));
    }
    Ok(())
}

/// `Retry-After` as delay-seconds or an HTTP date.
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or_default(),
    )
}

/// The answer body, refused past [`MAX_ANSWER_BYTES`]. Kept in a buffer wiped when dropped,
/// grown by copying into a new one so no unwiped copy is left behind: a list answer holds
/// secrets. (The HTTP stack's own buffers are not ours to wipe.)
async fn read_capped(mut response: Response) -> Result<Zeroizing<Vec<u8>>, SyncError> {
    let too_large = || SyncError::BadAnswer(format!("larger than {MAX_ANSWER_BYTES} bytes"));
    let declared = response.content_length().unwrap_or(0);
    if declared > MAX_ANSWER_BYTES as u64 {
        return Err(too_large());
    }
    let mut body = Zeroizing::new(Vec::with_capacity(declared as usize));
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            // Dropping the response closes the connection: the rest is never read.
            return Err(too_large());
        }
        if body.len() + chunk.len() > body.capacity() {
            let wanted = (body.len() + chunk.len()).max(2 * body.capacity());
            let mut grown = Zeroizing::new(Vec::with_capacity(wanted.min(MAX_ANSWER_BYTES)));
            grown.extend_from_slice(&body);
            // The old buffer is wiped as it is dropped here.
            body = grown;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A transport failure in words, without the URL reqwest would print.
fn transport_error(e: reqwest::Error) -> SyncError {
    if e.is_timeout() {
        return SyncError::Timeout;
    }
    let what = if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else {
        "the request failed"
    };
    // The innermost cause says most, but an operating system's error ("Connection refused (os
    // error 111)") reaches the credential's owner in the sync error: say its kind in words, and
    // drop any other text that carries an OS error number.
    let mut cause = std::error::Error::source(&e);
    let mut detail = None;
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            detail = io_words(io.kind()).map(str::to_owned);
            break;
        }
        let text = c.to_string();
        detail = (!text.contains("os error")).then_some(text);
        cause = c.source();
    }
    SyncError::Unreachable(match detail {
        Some(detail) => format!("{what} ({detail})"),
        None => what.to_owned(),
    })
}

/// An operating system's connection error in words, without its number.
fn io_words(kind: std::io::ErrorKind) -> Option<&'static str> {
    use std::io::ErrorKind as K;
    Some(match kind {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset",
        K::ConnectionAborted => "connection aborted",
        K::TimedOut => "timed out",
        K::HostUnreachable => "host unreachable",
        K::NetworkUnreachable => "network unreachable",
        K::AddrNotAvailable => "address not available",
        K::UnexpectedEof => "connection closed early",
        _ => return None,
    })
}

fn read_list(answer: &[u8]) -> Result<Vec<RemoteItem>, SyncError> {
    let shape = || SyncError::BadAnswer("not a list of credentials".to_owned());
    let items = match serde_json::from_slice::<Value>(answer).map_err(|_| shape())? {
        Value::Array(items) => items,
        Value::Object(mut answer) => {
            // One page of several: the copies on the others would look missing (drifted,
            // resent) at every check, and an unanswered create's copy would not be found.
            let more = ["next", "next_page", "next_cursor", "has_more"]
                .iter()
                .any(|name| match answer.get(*name) {
                    None | Some(Value::Null | Value::Bool(false)) => false,
                    Some(Value::String(cursor)) => !cursor.is_empty(),
                    Some(_) => true,
                });
            if more {
                return Err(SyncError::BadAnswer(
                    "one page of a list (credledger reads whole lists only)".to_owned(),
                ));
            }
            match answer.remove("credentials") {
                Some(Value::Array(items)) => items,
                _ => return Err(shape()),
            }
        }
        _ => return Err(shape()),
    };
    Ok(items.into_iter().enumerate().map(read_item).collect())
}

fn read_item((index, item): (usize, Value)) -> RemoteItem {
    let Value::Object(mut fields) = item else {
        return RemoteItem::Unreadable {
            index,
            credential_id: None,
            user_id: None,
            service_type: None,
            reason: "not a JSON object".to_owned(),
        };
    };
    // `id` in the original design's API; `credential_id` in servers that answer creates with it.
    let credential_id = ["id", "credential_id"]
        .iter()
        .find_map(|name| fields.get(*name).and_then(id_text))
        .filter(|id| usable_id(id));
    let named = |fields: &Map<String, Value>, name: &str| {
        fields.get(name).and_then(Value::as_str).map(str::to_owned)
    };
    let (user_id, service_type) = (named(&fields, "user_id"), named(&fields, "service_type"));
    let read = |fields: &mut Map<String, Value>| -> Result<RemoteCredential, String> {
        Ok(RemoteCredential {
            credential_id: credential_id.clone().ok_or("`id` is missing or unusable")?,
            user_id: required(fields, "user_id")?,
            service_type: required(fields, "service_type")?,
            credential_name: optional(fields, "credential_name", "a string")?,
            credential_data: optional(fields, "credential_data", "an object")?,
            account_identifier: optional(fields, "account_identifier", "a string")?,
            is_primary: optional(fields, "is_primary", "true or false")?,
            ledger_version: optional(fields, "ledger_version", "a whole number")?,
            version: optional(fields, "version", "a whole number")?,
        })
    };
    match read(&mut fields) {
        Ok(credential) => RemoteItem::Ok(credential),
        Err(reason) => RemoteItem::Unreadable {
            index,
            credential_id,
            user_id,
            service_type,
            reason,
        },
    }
}

/// A field that may be missing or null. The reason names the field but never quotes the value
/// (serde's own messages do, and the value may be a secret).
fn optional<T: DeserializeOwned>(
    fields: &mut Map<String, Value>,
    name: &str,
    what: &str,
) -> Result<Option<T>, String> {
    match fields.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(|_| format!("`{name}` is not {what}")),
    }
}

fn required(fields: &mut Map<String, Value>, name: &str) -> Result<String, String> {
    optional(fields, name, "a string")?.ok_or_else(|| format!("`{name}` is missing"))
}

#[cfg(test)]
mod tests {
    //! What needs no server. The client against a server (the recording MCP server, which only
    //! the test binary compiles) is tested in tests/mcp_client.rs.
    use super::*;

    const SECRET: &[u8] = b"whsec_client_tests";
    const CANARY: &str = "sk-canary-3f9a1c77d2";

    fn loopback() -> OutboundPolicy {
        OutboundPolicy {
            allow_loopback: true,
            ..Default::default()
        }
    }

    fn body(user: &str, version: u64) -> SyncBody {
        SyncBody {
            user_id: user.to_owned(),
            service_type: "notion".to_owned(),
            credential_name: "Work".to_owned(),
            credential_data: BTreeMap::from([("token".to_owned(), CANARY.to_owned())]),
            account_identifier: Some("alice@example.com".to_owned()),
            is_primary: true,
            ledger_version: version,
            event_id: format!("keyring/{user}:notion/{version}"),
        }
    }

    #[test]
    fn a_base_url_must_be_plain_http_or_https() {
        let secret = || Zeroizing::new(SECRET.to_vec());
        let t = Duration::from_secs(1);
        for bad in [
            "not a url",
            "ftp://h/",
            "mailto:a@b",
            "http://h/?a=1",
            "http://user:pw@h/",
        ] {
            assert!(matches!(
                McpClient::new(bad, secret(), t, &loopback()),
                Err(SyncError::Config(_))
            ));
        }
        assert!(McpClient::new("https://mcp.example/api", secret(), t, &loopback()).is_ok());
    }

    #[test]
    fn a_base_url_the_outbound_policy_refuses_makes_no_client() {
        let secret = || Zeroizing::new(SECRET.to_vec());
        let t = Duration::from_secs(1);
        let strict = OutboundPolicy::default();
        for refused in [
            "http://127.0.0.1:9/",
            "https://10.0.0.1/",
            "https://169.254.169.254/",
            "https://[::ffff:127.0.0.1]/",
            "http://mcp.example/",
        ] {
            assert!(
                matches!(
                    McpClient::new(refused, secret(), t, &strict),
                    Err(SyncError::Refused(_))
                ),
                "{refused}"
            );
        }
        assert!(McpClient::new("https://mcp.example/api", secret(), t, &strict).is_ok());
        let allowed = OutboundPolicy {
            allowed_hosts: vec!["http://10.0.0.5:8080".into()],
            ..Default::default()
        };
        assert!(McpClient::new("http://10.0.0.5:8080/api", secret(), t, &allowed).is_ok());
    }

    #[test]
    fn the_body_serializes_as_documented() {
        let value = serde_json::to_value(body("alice", 7)).expect("json");
        assert_eq!(
            value,
            serde_json::json!({
                "user_id": "alice", "service_type": "notion", "credential_name": "Work",
                "credential_data": {"token": CANARY}, "account_identifier": "alice@example.com",
                "is_primary": true, "ledger_version": 7, "event_id": "keyring/alice:notion/7"
            })
        );
        assert_eq!(
            encode(&body("alice", 7)).as_slice(),
            serde_json::to_vec(&body("alice", 7)).expect("json")
        );
    }
}
