//! Talking to MCP servers (docs/mcp-sync.md): the signature on every sync request and the signed
//! client that mirrors credentials. The recording MCP server the tests sync to is in
//! tests/support/mcp_recorder.rs, compiled only into the test binary.

pub mod client;
pub mod signing;

pub use client::{McpClient, RemoteCredential, RemoteItem, SyncBody, SyncError};
