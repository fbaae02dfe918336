//! Everything credledger says to the outside world: the event stores (postgres-es and
//! sqlite-es behind one enum), the global feed and its hash chain, the master keys and data keys
//! that encrypt secrets, the provider validators and their simulator, and MCP sync signing.
#![deny(clippy::unwrap_used)]

pub mod append;
pub mod chain;
pub mod crypto;
pub mod db;
pub mod feed;
pub mod keystore;
pub mod lease;
pub mod mcp;
pub mod metrics;
pub mod oauth;
pub mod outbound;
pub mod remembered;
pub mod simulator;
pub mod sqlite_functions;
pub mod store;
pub mod validation;

pub use db::{Backend, Database, DatabaseConfig, DbError};
pub use store::{CommandBus, CommandError, Committed};
