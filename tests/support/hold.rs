//! Holding read models back while commands go on committing (their answers, and what reads
//! them, are then tested against a read model that lags).

use super::TestEnv;
use credledger_adapters::Backend;

/// Read models a test holds back: their names (their checkpoint rows, on PostgreSQL) and their
/// tables (on SQLite).
pub struct Held {
    pub models: &'static [&'static str],
    pub tables: &'static [&'static str],
}

pub const CREDENTIAL_SUMMARY: Held = Held {
    models: &["credential_summary"],
    tables: &["credential_summary"],
};

pub const MCP_SYNC: Held = Held {
    models: &["mcp_sync"],
    tables: &["mcp_servers", "mcp_grants", "mcp_credentials", "mcp_sync"],
};

pub const PRINCIPALS_AND_MCP_SYNC: Held = Held {
    models: &["principals", "mcp_sync"],
    tables: &[
        "users",
        "api_tokens",
        "mcp_server_tokens",
        "mcp_servers",
        "mcp_grants",
    ],
};

/// Holds read models back until released. On PostgreSQL a transaction holds their checkpoint
/// rows, so they cannot apply anything while commands go on committing. SQLite has one writer,
/// so holding a read model's transaction would hold the commands too: there triggers refuse
/// every write to their tables, so each of their batches fails, is rolled back and is tried
/// again (the runner never skips one) until the triggers are dropped.
pub enum Hold {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::AnyPool, &'static [&'static str]),
}

const HELD_WRITES: [&str; 3] = ["INSERT", "UPDATE", "DELETE"];

impl Hold {
    pub async fn start(env: &TestEnv, held: Held) -> Self {
        use sqlx::{Connection as _, Executor as _};
        match env.backend {
            Backend::Postgres => {
                let mut hold = sqlx::PgConnection::connect(env.database_url.as_deref().unwrap())
                    .await
                    .unwrap();
                hold.execute("BEGIN").await.unwrap();
                let names = held
                    .models
                    .iter()
                    .map(|m| format!("'{m}'"))
                    .collect::<Vec<_>>();
                let rows = hold
                    .fetch_all(&*format!(
                        "SELECT position FROM projection_checkpoints \
                         WHERE name IN ({}) FOR UPDATE",
                        names.join(", ")
                    ))
                    .await
                    .unwrap();
                assert_eq!(
                    rows.len(),
                    held.models.len(),
                    "a checkpoint row to hold is missing"
                );
                Hold::Postgres(hold)
            }
            Backend::Sqlite => {
                let pool = env.any_pool().await;
                for table in held.tables {
                    for write in HELD_WRITES {
                        sqlx::query(&format!(
                            "CREATE TRIGGER held_{table}_{write} BEFORE {write} ON {table} \
                             BEGIN SELECT RAISE(ABORT, 'held back by the test'); END"
                        ))
                        .execute(&pool)
                        .await
                        .unwrap();
                    }
                }
                Hold::Sqlite(pool, held.tables)
            }
        }
    }

    pub async fn release(self) {
        use sqlx::Executor as _;
        match self {
            Hold::Postgres(mut hold) => {
                hold.execute("ROLLBACK").await.unwrap();
            }
            Hold::Sqlite(pool, tables) => {
                for table in tables {
                    for write in HELD_WRITES {
                        sqlx::query(&format!("DROP TRIGGER held_{table}_{write}"))
                            .execute(&pool)
                            .await
                            .unwrap();
                    }
                }
            }
        }
    }
}
