//! The credential ledger's domain: aggregates, their commands and events, the value types that
//! parse untrusted input, and the ports (traits) the aggregates call. Nothing here performs I/O;
//! time and randomness arrive as arguments, so every rule is testable as given/when/then.
#![deny(clippy::unwrap_used)]

pub mod catalog;
pub mod ids;
pub mod keyring;
pub mod mcp_server;
pub mod metadata;
pub mod ports;
pub mod secret;
pub mod usage;
pub mod user;

pub use catalog::{AuthType, Catalog, FieldFormat, FieldSpec, ServiceDefinition};
pub use ids::{CredentialId, CredentialName, InputError, KeyringId, ServiceKey, UserId};
pub use mcp_server::{McpServer, McpServerId};
pub use metadata::EventMetadata;
pub use secret::{SealedSecret, SecretFields, SecretString};
pub use user::{Permission, Role, Scope, User};
