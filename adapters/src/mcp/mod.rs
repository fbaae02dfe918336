//! Talking to MCP servers: the signature on every sync request (docs/mcp-sync.md).

pub mod signing;
