//! Read models built as checkpointed consumers of the ledger's global feed. Each consumer writes
//! its rows and its checkpoint in one transaction, so a crash never loses or doubles an effect;
//! a rebuild replays from position 0 into fresh tables and swaps them in while the old ones keep
//! serving. Read models never hold a secret.
#![deny(clippy::unwrap_used)]

pub mod audit_trail;
pub mod credential_summary;
pub mod dashboard_stats;
mod event;
pub mod mcp_sync;
pub mod principals;
pub mod runner;

pub use runner::{ConsumerStatus, Projections, RebuildReport};

use credledger_adapters::DbError;

/// Why a projection could not advance. The consumer retries; nothing is half-written.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("event at position {position} could not be read: {detail}")]
    BadEvent { position: i64, detail: String },
    #[error("unknown projection `{0}` (known: credential_summary, dashboard_stats, audit_trail, users, api_tokens, mcp_servers, mcp_grants, mcp_sync, mcp_server_tokens)")]
    Unknown(String),
    #[error("timed out waiting for the projections to reach position {0}")]
    Timeout(i64),
}

impl From<sqlx::Error> for ProjectionError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// The feed consumers that build read models, and the tables each owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Consumer {
    /// `credential_summary` and what is derived from it in the same transaction:
    /// `dashboard_stats`, and the MCP servers, grants and the replay adapter's `mcp_sync`.
    CredentialSummary,
    AuditTrail,
    /// `users` and `api_tokens`, from the `User` aggregate.
    Principals,
}

impl Consumer {
    pub const ALL: [Consumer; 3] = [
        Consumer::CredentialSummary,
        Consumer::AuditTrail,
        Consumer::Principals,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::CredentialSummary => "credential_summary",
            Self::AuditTrail => "audit_trail",
            Self::Principals => "principals",
        }
    }

    pub fn tables(self) -> &'static [&'static str] {
        match self {
            Self::CredentialSummary => &[
                "credential_summary",
                "dashboard_stats",
                "mcp_servers",
                "mcp_grants",
                "mcp_sync",
            ],
            Self::AuditTrail => &["audit_trail"],
            Self::Principals => &["users", "api_tokens", "mcp_server_tokens"],
        }
    }

    /// The consumer that owns a read model, by the read model's name.
    pub fn owning(read_model: &str) -> Result<Self, ProjectionError> {
        Self::ALL
            .into_iter()
            .find(|c| c.tables().contains(&read_model))
            .ok_or_else(|| ProjectionError::Unknown(read_model.chars().take(64).collect()))
    }
}

/// The table names a consumer writes: the live ones, or the shadow ones of a rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tables {
    suffix: &'static str,
}

impl Tables {
    pub const LIVE: Tables = Tables { suffix: "" };
    pub const REBUILD: Tables = Tables { suffix: "_rebuild" };

    pub fn name(self, table: &str) -> String {
        format!("{table}{}", self.suffix)
    }
}

/// A batch's move of its consumer's checkpoint, in the batch's transaction. On PostgreSQL the
/// consumer's last write may carry it as one more `WITH` item (one statement fewer per batch);
/// when none did, the runner writes it on its own.
#[derive(Debug)]
pub(crate) struct CheckpointMove {
    name: String,
    position: i64,
    carried: bool,
}

impl CheckpointMove {
    pub(crate) fn new(name: &str, position: i64) -> Self {
        Self {
            name: name.to_owned(),
            position,
            carried: false,
        }
    }

    /// The `WITH` item that moves the checkpoint, its two parameters numbered from `first`
    /// (bind them with [`CheckpointMove::bind`]). PostgreSQL only. Counts as carried: the
    /// statement's failure fails the whole transaction.
    pub(crate) fn with_item(&mut self, first: usize) -> String {
        self.carried = true;
        format!(
            "checkpoint_moved AS (UPDATE projection_checkpoints SET position = ${} \
             WHERE name = ${})",
            first,
            first + 1
        )
    }

    pub(crate) fn bind<'q>(
        &self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        q.bind(self.position).bind(self.name.clone())
    }

    pub(crate) fn carried(&self) -> bool {
        self.carried
    }
}
