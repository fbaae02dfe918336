//! Talking to MCP servers (docs/mcp-sync.md): the signature on every sync request, the signed
//! client that mirrors credentials, and a recording server on loopback for tests.

pub mod client;
pub mod recorder;
pub mod signing;

pub use client::{McpClient, RemoteCredential, RemoteItem, SyncBody, SyncError};
pub use recorder::{
    AppliedChange, Chaos, Dialect, McpFault, Op, ReceivedRequest, RecordingMcpServer,
};
