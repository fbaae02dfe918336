//! The composition root of credledger: configuration, start-up, the HTTP server, the use cases
//! over the ledger, and the `credledger` command line.
#![deny(clippy::unwrap_used)]

pub mod app;
pub mod cli;
pub mod config;
pub mod keys;
pub mod ledger;

pub use app::{Application, Running};
pub use config::Settings;
pub use ledger::{Ledger, LedgerError, NewCredential};
