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
pub mod row;
pub mod runner;
pub mod usage_by_service;

pub use runner::{ConsumerStatus, Projections, RebuildReport};

use credledger_adapters::db::Backend;
use credledger_adapters::feed::FeedEvent;
use credledger_adapters::DbError;
use sqlx::AnyConnection;
use std::collections::BTreeSet;

/// Why a projection could not advance. The consumer retries; nothing is half-written.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("event at position {position} could not be read: {detail}")]
    BadEvent { position: i64, detail: String },
    #[error("unknown read model `{0}` (known: {known})", known = known_names())]
    Unknown(String),
    #[error("timed out waiting for the projections to reach position {0}")]
    Timeout(i64),
    #[error(
        "another rebuild of `{0}` is running; run this one when it has ended (one that stopped \
         without ending holds the read model for at most a minute)"
    )]
    RebuildRunning(&'static str),
    #[error("another rebuild of `{0}` took this one's place: this one swapped nothing in")]
    RebuildTakenOver(&'static str),
    #[error(
        "the layout of `{0}` changed while it was rebuilt (a migration ran?); nothing was \
         swapped in: rebuild again"
    )]
    RebuildLayoutChanged(&'static str),
}

impl From<sqlx::Error> for ProjectionError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// A read model: tables built from the ledger's feed, answering one question. It is one module
/// that declares its tables (their migrations create them) and turns a batch of feed events into
/// writes. The runner ([`Projections`]) owns everything else: the checkpoint (moved in the same
/// transaction as the writes), batching and waits, wake-ups, the epochs that tell remembered
/// answers they are stale, and rebuild-and-swap. Adding one: its module, its migrations, and a
/// line in [`READ_MODELS`].
#[async_trait::async_trait]
pub trait ReadModel: Send + Sync {
    /// Its name: its checkpoint's, and what `projections rebuild` takes (as do its tables').
    fn name(&self) -> &'static str;

    /// The tables it alone writes, rebuilt and swapped together.
    fn tables(&self) -> &'static [&'static str];

    /// Whether answers read from its rows are remembered per person (the GraphQL answers of
    /// `api/src/memo.rs`): then [`ReadModel::apply`] names the people whose rows it changed.
    fn remembered(&self) -> bool {
        false
    }

    /// The aggregates whose events it reads, by type; `None`: every event. Its `apply` reads no
    /// others (it filters with [`reads`]). On PostgreSQL a batch with none of them costs it no
    /// transaction of its own when its checkpoint is not behind the batch: the runner moves the
    /// checkpoint past the batch in one statement (ADR 0020).
    fn reads(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// Work on a batch that needs no database (decoding, building rows), which a rebuild does
    /// in its feed reader while the previous batch is written. `None`: nothing to do ahead.
    fn prepare(
        &self,
        _events: &[FeedEvent],
        _backend: Backend,
    ) -> Result<Option<Prepared>, ProjectionError> {
        Ok(None)
    }

    /// Applies a batch of feed events to its tables (live or shadow, `tables`) in the runner's
    /// transaction; `prepared` is what [`ReadModel::prepare`] made of the same events, if it
    /// ran. Returns the people whose rows it changed (empty unless [`ReadModel::remembered`]).
    async fn apply(
        &self,
        conn: &mut AnyConnection,
        tables: Tables,
        events: &[FeedEvent],
        prepared: Option<Prepared>,
    ) -> Result<BTreeSet<String>, ProjectionError>;
}

/// Whether `model` reads `event` ([`ReadModel::reads`]).
pub fn reads(model: &dyn ReadModel, event: &FeedEvent) -> bool {
    model
        .reads()
        .is_none_or(|types| types.contains(&event.aggregate_type.as_str()))
}

/// What [`ReadModel::prepare`] made of a batch, for the same read model's `apply`.
pub type Prepared = Box<dyn std::any::Any + Send>;

/// A registered read model.
pub type Model = &'static dyn ReadModel;

/// Every read model the runner builds.
pub static READ_MODELS: [Model; 5] = [
    &credential_summary::CredentialSummary,
    &mcp_sync::McpSync,
    &audit_trail::AuditTrail,
    &principals::Principals,
    &usage_by_service::UsageByService,
];

/// The read models' names and their tables', for a person who named none of them.
fn known_names() -> String {
    READ_MODELS
        .iter()
        .flat_map(|m| std::iter::once(m.name()).chain(m.tables().iter().copied()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(", ")
}

/// The read model called `name`, or owning the table `name`.
pub fn read_model(name: &str) -> Result<Model, ProjectionError> {
    READ_MODELS
        .into_iter()
        .find(|m| m.name() == name || m.tables().contains(&name))
        .ok_or_else(|| ProjectionError::Unknown(name.chars().take(64).collect()))
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
