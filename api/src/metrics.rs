//! Prometheus metrics (`/metrics`, docs/operations.md): what an operator needs to see inside a
//! running instance. Counters and histograms are recorded where things happen, through the
//! `metrics` facade; what is a question to the database (the ledger's head, each consumer's
//! position, the MCP backlog, which leases this instance holds) is asked when scraped. Labels
//! carry ids and fixed words only (service keys, MCP server ids, the schema's field names,
//! error codes), never a secret, a credential's name or a person's email.

use crate::error::ApiError;
use crate::ledger::Ledger;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextRequest, NextResolve, ResolveInfo,
};
use async_graphql::{Response, ServerError, ServerResult, Value};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse as _;
use chrono::{DateTime, Utc};
pub use credledger_adapters::metrics::*;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sha2::{Digest as _, Sha256};
use sqlx::Row;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();

/// The process's recorder, installed on first use: the `metrics` facade is one per process, so
/// every server in a process reports into it.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let latency = [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let sizes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &latency)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(COMMIT_EVENTS.into()), &sizes))
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "metrics: histogram buckets refused; using summaries");
                PrometheusBuilder::new()
            });
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("metrics: another recorder is installed; /metrics shows nothing");
        }
        describe();
        handle
    })
}

/// How often the recorder's histogram samples are folded into their buckets when nobody scrapes.
pub const UPKEEP: Duration = Duration::from_secs(5);

/// Folds the histogram samples recorded since the last scrape into their buckets every `every`,
/// until `stop` turns true. The recorder keeps each sample until then (`build_recorder` leaves
/// this to its caller), so without it an instance nobody scrapes grows by every request it
/// answers.
pub async fn keep_up(every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    let handle = handle();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => handle.run_upkeep(),
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(GRAPHQL_OPERATIONS, "GraphQL root fields answered");
    describe_histogram!(
        GRAPHQL_DURATION,
        Unit::Seconds,
        "GraphQL root field latency"
    );
    describe_counter!(
        GRAPHQL_REUSED,
        "plain query answers served from the answer memo"
    );
    describe_counter!(
        API_RATE_LIMITED,
        "requests refused by the API rate limit (per person and per token)"
    );
    // Served from the start, at 0: an alert on its rate needs the series before a refusal.
    counter!(API_RATE_LIMITED).absolute(0);
    describe_counter!(PROVIDER_CHECKS, "live checks with providers");
    describe_histogram!(PROVIDER_CHECK_DURATION, Unit::Seconds, "live check latency");
    describe_counter!(MCP_DELIVERIES, "MCP sync attempts");
    describe_gauge!(MCP_BACKLOG, "copies waiting to be sent, per MCP server");
    describe_gauge!(
        MCP_OLDEST_PENDING,
        Unit::Seconds,
        "age of the oldest change waiting to be sent, per MCP server"
    );
    describe_gauge!(
        CONSUMER_POSITION,
        "global position a feed consumer has applied"
    );
    describe_gauge!(
        CONSUMER_LAG,
        "events a feed consumer is behind the ledger's head"
    );
    describe_gauge!(LEDGER_HEAD, "the ledger's newest global position");
    describe_histogram!(COMMIT_EVENTS, "events written per group commit");
    describe_histogram!(COMMIT_DURATION, Unit::Seconds, "group commit latency");
    describe_counter!(JOB_RUNS, "scheduled job runs");
    describe_gauge!(LEASE_HELD, "1 while this instance holds the lease");
    describe_gauge!(
        JOB_LAST_COMPLETED,
        Unit::Seconds,
        "when the last completed run of the job, by any instance, started (0: none yet)"
    );
    PROCESS
        .get_or_init(metrics_process::Collector::default)
        .describe();
}

/// A GraphQL outcome label: `ok`, one of [`ApiError::CODES`], or `OTHER`.
pub fn outcome_code(code: Option<&str>) -> &'static str {
    match code {
        None => "ok",
        Some(code) => ApiError::CODES
            .iter()
            .find(|c| **c == code)
            .copied()
            .unwrap_or("OTHER"),
    }
}

pub fn graphql_answered(field: &str, kind: &'static str, outcome: &'static str, took: Duration) {
    counter!(GRAPHQL_OPERATIONS, "field" => field.to_owned(), "type" => kind, "outcome" => outcome)
        .increment(1);
    histogram!(GRAPHQL_DURATION, "field" => field.to_owned(), "type" => kind)
        .record(took.as_secs_f64());
}

/// The metrics as Prometheus text, with the gauges read from the database now.
pub async fn render(ledger: &Ledger, lease_holders: &[String]) -> Result<String, ApiError> {
    let handle = handle();
    let db = &ledger.db;
    for c in ledger.projections.status().await? {
        gauge!(CONSUMER_POSITION, "consumer" => c.name.clone()).set(c.position as f64);
        gauge!(CONSUMER_LAG, "consumer" => c.name).set(c.lag as f64);
    }
    gauge!(LEDGER_HEAD).set(db.head().await? as f64);
    mcp_backlog(ledger).await?;
    leases(ledger, lease_holders).await?;
    if let Some(process) = PROCESS.get() {
        process.collect();
    }
    Ok(handle.render())
}

/// Per MCP server: how many copies wait, and how long the oldest wanted change has waited.
async fn mcp_backlog(ledger: &Ledger) -> Result<(), ApiError> {
    let pool = &ledger.db.any;
    let servers = credledger_projections::mcp_sync::servers(pool).await?;
    let waiting = credledger_projections::mcp_sync::backlog(pool).await?;
    let now = Utc::now();
    for server in &servers {
        // A removed server is sent nothing more: nothing waits for it.
        let (count, oldest) = match waiting.get(&server.server_id) {
            Some(&(count, oldest)) if !server.removed => (count, oldest),
            _ => (0, 0),
        };
        let age = if count == 0 {
            0.0
        } else {
            let metadata: Option<String> = sqlx::query_scalar(
                "SELECT CAST(metadata AS TEXT) FROM events WHERE global_position = $1",
            )
            .bind(oldest)
            .fetch_optional(pool)
            .await?;
            metadata
                .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
                .and_then(|m| DateTime::parse_from_rfc3339(m.get("occurred_at")?.as_str()?).ok())
                .map_or(0.0, |at| {
                    (now - at.with_timezone(&Utc)).num_milliseconds().max(0) as f64 / 1000.0
                })
        };
        gauge!(MCP_BACKLOG, "server" => server.server_id.clone()).set(count as f64);
        gauge!(MCP_OLDEST_PENDING, "server" => server.server_id.clone()).set(age);
    }
    Ok(())
}

/// The leases shown: the scheduled jobs' and the MCP sender's. Not a refresh's (one per
/// credential) or a registration's (one per server), which would add a series each.
const SHOWN_LEASES: [&str; 3] = [
    crate::jobs::REVALIDATE,
    crate::jobs::EXPIRY,
    crate::mcp::sync::LEASE,
];

/// Which of [`SHOWN_LEASES`] this instance holds now (none without a scheduler), and when each
/// job's last completed run started, whichever instance ran it: the lease's row says, so an
/// instance started after the run shows it too (a counter of this instance's runs cannot tell
/// an alert that the run it made before the first scrape happened).
async fn leases(ledger: &Ledger, holders: &[String]) -> Result<(), ApiError> {
    let now = Utc::now();
    for name in SHOWN_LEASES {
        let row = sqlx::query("SELECT holder, expires_at, last_run_at FROM leases WHERE name = $1")
            .bind(name)
            .fetch_optional(&ledger.db.any)
            .await?;
        let (mine, last_run) = match row {
            Some(r) => {
                let held_by: Option<String> = r.try_get("holder")?;
                let expires: String = r.try_get("expires_at")?;
                let last_run: Option<String> = r.try_get("last_run_at")?;
                let mine = DateTime::parse_from_rfc3339(&expires).is_ok_and(|t| t > now)
                    && held_by.is_some_and(|h| holders.contains(&h));
                let last_run = last_run.as_deref().map(DateTime::parse_from_rfc3339);
                (mine, last_run.transpose().ok().flatten())
            }
            None => (false, None),
        };
        gauge!(LEASE_HELD, "lease" => name).set(if mine { 1.0 } else { 0.0 });
        if name != crate::mcp::sync::LEASE {
            let started = last_run.map_or(0.0, |t| t.timestamp_millis() as f64 / 1000.0);
            gauge!(JOB_LAST_COMPLETED, "job" => name).set(started);
        }
    }
    Ok(())
}

/// Counts and times each GraphQL root field (the schema's names: bounded), and each document
/// refused before execution (`field="refused"`).
#[derive(Debug, Clone, Copy)]
pub struct GraphqlMetrics;

impl ExtensionFactory for GraphqlMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GraphqlMetrics)
    }
}

#[async_trait::async_trait]
impl Extension for GraphqlMetrics {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        if let Some(first) = response.errors.first() {
            if response.data == Value::Null && first.path.is_empty() {
                let code = error_code(first);
                let outcome = outcome_code(code.as_deref());
                graphql_answered("refused", "none", outcome, started.elapsed());
            }
        }
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_some() || info.is_for_introspection {
            return next.run(ctx, info).await;
        }
        let kind = match info.parent_type {
            "Query" => "query",
            "Mutation" => "mutation",
            _ => "subscription",
        };
        let field = info.name.to_owned();
        let started = Instant::now();
        let result = next.run(ctx, info).await;
        let code = result.as_ref().err().and_then(error_code);
        graphql_answered(
            &field,
            kind,
            outcome_code(code.as_deref()),
            started.elapsed(),
        );
        result
    }
}

fn error_code(e: &ServerError) -> Option<String> {
    match e.extensions.as_ref()?.get("code")? {
        Value::String(s) => Some(s.clone()),
        Value::Enum(n) => Some(n.to_string()),
        _ => Some("OTHER".into()),
    }
}

#[derive(Clone)]
struct Endpoint {
    ledger: Arc<Ledger>,
    /// SHA-256 of the bearer token `/metrics` asks for (`None`: its own listener, no token).
    token: Option<[u8; 32]>,
    /// The ids this instance holds leases under.
    holders: Arc<Vec<String>>,
}

/// `GET /metrics`, behind `token` when given.
pub fn routes(ledger: Arc<Ledger>, token: Option<&str>, holders: Vec<String>) -> axum::Router {
    let endpoint = Endpoint {
        ledger,
        token: token.map(|t| Sha256::digest(t.as_bytes()).into()),
        holders: Arc::new(holders),
    };
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(endpoint)
}

async fn scrape(
    axum::extract::State(endpoint): axum::extract::State<Endpoint>,
    headers: HeaderMap,
) -> axum::response::Response {
    if let Some(want) = endpoint.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| <[u8; 32]>::from(Sha256::digest(t.trim().as_bytes())));
        // Digests compared: equal time whatever the token's length and content.
        if given != Some(want) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a metrics token is required\n",
            )
                .into_response();
        }
    }
    match render(&endpoint.ledger, &endpoint.holders).await {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: could not read the database");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable\n",
            )
                .into_response()
        }
    }
}
