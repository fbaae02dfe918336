//! End-to-end tests: the real `credledger` binary and `Application`, on SQLite and on a real
//! PostgreSQL (CREDLEDGER_TEST_DATABASE_URL; scripts/test always gives one and sets
//! CREDLEDGER_REQUIRE_POSTGRES, so there they fail rather than skip). One binary, one module per
//! area; a test is named by the sentence it proves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

// The event store and the feed.
mod batching;
mod concurrency;
mod contract;
mod smoke;
// Integrity: the hash chain, ciphertexts and keys, erasure.
mod crypto;
mod erase;
mod export;
mod tamper;
// Operations: key rotation, projection rebuilds, upgrades, secrets in logs, bad input.
mod bad_input;
mod canary;
mod read_model_failure;
mod read_model_rows;
mod rebuild;
mod rotate;
mod upgrade;
// `serve --dev`.
mod dev_mode;
// Scheduled work: leases, revalidation, expiry.
mod jobs;
// The GraphQL API.
mod answers;
mod edge;
mod fuzz_edge;
mod graphql_access;
mod graphql_cost;
mod graphql_memo;
mod graphql_scenarios;
mod graphql_transport;
mod limits;
mod oauth;
mod outbound;
// MCP servers: the signed client and the recording server it is tested against, the replay
// adapter, resolution at call time, import.
mod mcp_client;
mod mcp_import;
mod mcp_original;
mod mcp_resolve;
mod mcp_sync;
mod metrics;
mod outage;
