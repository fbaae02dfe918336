//! MCP servers: the use cases that register them and their users' grants, and the replay
//! adapter's sender that mirrors credentials to them (docs/mcp-sync.md).

pub mod cli;
pub mod import;
pub mod servers;
pub mod sync;

pub use credledger_domain::mcp_server::Authority;
pub use servers::{McpServers, NewMcpServer, SigningSecret};
