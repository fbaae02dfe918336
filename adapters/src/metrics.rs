//! The names of credledger's Prometheus metric families, in one place (recorded through the
//! `metrics` facade where things happen; rendered by the API's `/metrics`, docs/operations.md).
//! Labels carry ids and fixed words only, never a secret, a credential's name or an email.

/// GraphQL root fields answered, by field, operation type and outcome (`ok` or an error code).
pub const GRAPHQL_OPERATIONS: &str = "credledger_graphql_operations_total";
pub const GRAPHQL_DURATION: &str = "credledger_graphql_operation_duration_seconds";
/// Answers to plain queries served again from the answer memo (not executed).
pub const GRAPHQL_REUSED: &str = "credledger_graphql_answers_reused_total";
/// Requests refused by the API rate limit (HTTP 429, and WebSocket operations), all callers.
pub const API_RATE_LIMITED: &str = "credledger_api_rate_limited_total";
/// Live checks with providers, by service and outcome (`valid`, `invalid`, `could_not_check`).
pub const PROVIDER_CHECKS: &str = "credledger_provider_checks_total";
pub const PROVIDER_CHECK_DURATION: &str = "credledger_provider_check_duration_seconds";
/// MCP sync attempts, by server and outcome (`synced`, `removed`, `failed`).
pub const MCP_DELIVERIES: &str = "credledger_mcp_deliveries_total";
pub const MCP_BACKLOG: &str = "credledger_mcp_backlog";
pub const MCP_OLDEST_PENDING: &str = "credledger_mcp_oldest_pending_seconds";
pub const CONSUMER_POSITION: &str = "credledger_consumer_position";
pub const CONSUMER_LAG: &str = "credledger_consumer_lag_events";
pub const LEDGER_HEAD: &str = "credledger_ledger_head_position";
/// Events each committed group-commit transaction wrote, and how long it took.
pub const COMMIT_EVENTS: &str = "credledger_group_commit_events";
pub const COMMIT_DURATION: &str = "credledger_group_commit_duration_seconds";
/// Scheduled job runs, by job and outcome (`completed`, `stopped`).
pub const JOB_RUNS: &str = "credledger_job_runs_total";
/// 1 while this instance holds the job's (or the MCP sender's) lease.
pub const LEASE_HELD: &str = "credledger_lease_held";
/// When the job's last completed run, by any instance, started (its lease's `last_run_at`), in
/// seconds since 1970; 0 before the first.
pub const JOB_LAST_COMPLETED: &str = "credledger_job_last_completed_timestamp_seconds";
