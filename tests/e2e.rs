//! End-to-end tests: the real `credledger` binary and `Application`, on SQLite and on a real
//! PostgreSQL (CREDLEDGER_TEST_DATABASE_URL; required in CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod smoke;
