//! The composition root of credledger: configuration, start-up, the HTTP server, the use cases
//! over the ledger, and the `credledger` command line.
#![deny(clippy::unwrap_used)]

pub mod accounts;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod keys;
pub mod ledger;
pub mod limits;
pub mod mcp;
pub mod memo;
pub mod metrics;
pub mod oauth;
pub mod web;

pub use app::{Application, Running};
pub use config::Settings;
pub use ledger::{Ledger, LedgerError, NewCredential};
