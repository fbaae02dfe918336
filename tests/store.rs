//! Temporary test root while these modules are written; folded into e2e.rs afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

mod concurrency;
mod contract;
