//! The hash chain as an outsider sees it: `credledger ledger verify` run with no master key,
//! and a connection that tampers with the stored events around the append-only triggers, the
//! way a database administrator could (PostgreSQL `session_replication_role = replica`, SQLite
//! by dropping the triggers, created again by [`Tamper::finish`]).

use super::TestEnv;
use credledger_adapters::chain::ChainInput;
use credledger_adapters::feed::{self, FeedEvent};
use credledger_adapters::Backend;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Row};

/// What `ledger verify` (or `ledger export`) said.
#[derive(Debug)]
pub struct Verdict {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `credledger ledger verify` with no master key anywhere: the key file is moved away and
/// CREDLEDGER_MASTER_KEY_FILE points at a path that does not exist (and must not be created).
pub fn verify_without_keys(env: &TestEnv) -> Verdict {
    verify_without_keys_expecting(env, &[])
}

/// [`verify_without_keys`] with hashes kept for positions (`--expect POSITION:HEX`).
pub fn verify_without_keys_expecting(env: &TestEnv, kept: &[(i64, &[u8])]) -> Verdict {
    let mut args = vec!["ledger".to_owned(), "verify".to_owned()];
    for (at, hash) in kept {
        args.extend(["--expect".into(), format!("{at}:{}", hex::encode(hash))]);
    }
    without_keys(env, &args)
}

/// Runs `credledger ledger export --from FROM` with no master key anywhere, as
/// [`verify_without_keys`] does.
pub fn export_without_keys(env: &TestEnv, from: i64) -> Verdict {
    without_keys(
        env,
        &[
            "ledger".into(),
            "export".into(),
            "--from".into(),
            from.to_string(),
        ],
    )
}

/// Runs `credledger ledger export --output FILE` with no master key anywhere, as
/// [`verify_without_keys`] does.
pub fn export_without_keys_to(env: &TestEnv, file: &std::path::Path) -> Verdict {
    without_keys(
        env,
        &[
            "ledger".into(),
            "export".into(),
            "--output".into(),
            file.display().to_string(),
        ],
    )
}

fn without_keys(env: &TestEnv, args: &[String]) -> Verdict {
    let away = env.key_file.with_extension("moved-away");
    std::fs::rename(&env.key_file, &away).unwrap();
    let nowhere = env.dir.path().join("nowhere").join("master.keys");
    let out = env
        .cli()
        .env("CREDLEDGER_MASTER_KEY_FILE", &nowhere)
        .args(args)
        .output()
        .unwrap();
    std::fs::rename(&away, &env.key_file).unwrap();
    assert!(
        !nowhere.exists(),
        "{args:?} must not generate a master key file"
    );
    Verdict {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts verify passed over exactly `events` events.
pub fn assert_verifies(verdict: &Verdict, events: i64) {
    assert_eq!(verdict.code, Some(0), "{verdict:?}");
    assert!(
        verdict
            .stdout
            .contains(&format!("ledger verify: OK, {events} events, chain intact")),
        "{verdict:?}"
    );
}

/// Asserts verify failed and named exactly `position` as the first bad one.
pub fn assert_fails_at(verdict: &Verdict, position: i64) {
    assert_eq!(verdict.code, Some(1), "{verdict:?}");
    // The colon after the number makes the match exact (12 does not match 1 or 123).
    let expected = format!("ledger verify: FAILED at position {position}:");
    assert!(
        verdict.stderr.contains(&expected),
        "expected `{expected}`, got {verdict:?}"
    );
    // Named once: the reason that follows does not say the position again.
    assert!(
        !verdict
            .stderr
            .contains(&format!("{expected} position {position}:")),
        "the position is repeated: {verdict:?}"
    );
    assert!(
        !verdict.stdout.contains("OK"),
        "a failed verify must not say OK: {verdict:?}"
    );
}

/// One connection on which the append-only and chain triggers do not fire.
pub struct Tamper {
    conn: PoolConnection<Any>,
    backend: Backend,
    /// SQLite: the dropped triggers' definitions, created again by `finish`.
    dropped: Vec<String>,
}

impl Tamper {
    pub async fn open(env: &TestEnv, pool: &sqlx::AnyPool) -> Self {
        let mut conn = pool.acquire().await.unwrap();
        let mut dropped = Vec::new();
        match env.backend {
            Backend::Postgres => {
                sqlx::query("SET session_replication_role = replica")
                    .execute(&mut *conn)
                    .await
                    .unwrap();
            }
            Backend::Sqlite => {
                for trigger in ["events_no_update", "events_no_delete", "events_chain"] {
                    let sql: Option<String> = sqlx::query_scalar(
                        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = $1",
                    )
                    .bind(trigger)
                    .fetch_optional(&mut *conn)
                    .await
                    .unwrap();
                    dropped.extend(sql);
                    sqlx::query(&format!("DROP TRIGGER IF EXISTS {trigger}"))
                        .execute(&mut *conn)
                        .await
                        .unwrap();
                }
            }
        }
        Self {
            conn,
            backend: env.backend,
            dropped,
        }
    }

    /// Gives the connection back to the pool with the triggers firing again (on SQLite, created
    /// again as they were), so the ledger goes on appending after the tampered rows.
    pub async fn finish(mut self) {
        if self.backend == Backend::Postgres {
            sqlx::query("RESET session_replication_role")
                .execute(&mut *self.conn)
                .await
                .unwrap();
        }
        for sql in std::mem::take(&mut self.dropped) {
            sqlx::query(&sql).execute(&mut *self.conn).await.unwrap();
        }
    }

    /// A SQL expression for a JSON column's new value from text parameter `$n`.
    fn json_param(&self, n: usize) -> String {
        match self.backend {
            Backend::Postgres => format!("CAST(${n} AS json)"),
            Backend::Sqlite => format!("${n}"),
        }
    }

    /// The stored text of `column` (payload or metadata) at `position`.
    pub async fn text(&mut self, column: &str, position: i64) -> String {
        sqlx::query(&format!(
            "SELECT CAST({column} AS TEXT) AS t FROM events WHERE global_position = $1"
        ))
        .bind(position)
        .fetch_one(&mut *self.conn)
        .await
        .unwrap()
        .try_get("t")
        .unwrap()
    }

    /// Replaces `from` by `to` inside the stored JSON text of `column` at `position` (an exact
    /// text edit: nothing else in the row changes).
    pub async fn edit_json(&mut self, column: &str, position: i64, from: &str, to: &str) {
        self.edit_json_any(column, position, &[(from, to)]).await;
    }

    /// As [`Tamper::edit_json`], with the first of several spellings that occurs (PostgreSQL
    /// and SQLite store the same JSON with different spacing).
    pub async fn edit_json_any(&mut self, column: &str, position: i64, edits: &[(&str, &str)]) {
        let old = self.text(column, position).await;
        let Some((from, to)) = edits.iter().find(|(from, _)| old.contains(from)) else {
            panic!("none of {edits:?} is in {column} at {position}: {old}");
        };
        let new = old.replacen(from, to, 1);
        let sql = format!(
            "UPDATE events SET {column} = {} WHERE global_position = $2",
            self.json_param(1)
        );
        let done = sqlx::query(&sql)
            .bind(new)
            .bind(position)
            .execute(&mut *self.conn)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
    }

    /// Stores `text` as the JSON text of `column` at `position` (nothing else in the row changes).
    pub async fn set_json(&mut self, column: &str, position: i64, text: &str) {
        let sql = format!(
            "UPDATE events SET {column} = {} WHERE global_position = $2",
            self.json_param(1)
        );
        let done = sqlx::query(&sql)
            .bind(text.to_owned())
            .bind(position)
            .execute(&mut *self.conn)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
    }

    pub async fn exec(&mut self, sql: &str, position: i64) -> u64 {
        sqlx::query(sql)
            .bind(position)
            .execute(&mut *self.conn)
            .await
            .unwrap()
            .rows_affected()
    }

    pub async fn set_hash(&mut self, position: i64, hash: &[u8]) {
        let done = sqlx::query("UPDATE events SET hash = $1 WHERE global_position = $2")
            .bind(hash.to_vec())
            .bind(position)
            .execute(&mut *self.conn)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
    }

    /// Inserts a row by hand, with the position and hashes given.
    pub async fn insert(&mut self, row: &ChainInput<'_>, hash: &[u8]) {
        let sql = format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata, global_position, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, {}, {}, $8, $9, $10)",
            self.json_param(6),
            self.json_param(7)
        );
        sqlx::query(&sql)
            .bind(row.aggregate_type.to_owned())
            .bind(row.aggregate_id.to_owned())
            .bind(row.sequence)
            .bind(row.event_type.to_owned())
            .bind(row.event_version.to_owned())
            .bind(row.payload.to_owned())
            .bind(row.metadata.to_owned())
            .bind(row.position)
            .bind(row.prev_hash.to_vec())
            .bind(hash.to_vec())
            .execute(&mut *self.conn)
            .await
            .unwrap();
    }

    /// The stored event at `position`, as the verifier reads it.
    pub async fn event(&mut self, position: i64) -> FeedEvent {
        let mut events = feed::read_after(&mut *self.conn, position - 1, 1)
            .await
            .unwrap();
        assert_eq!(events.len(), 1, "no event at {position}");
        let event = events.remove(0);
        assert_eq!(event.position, position);
        event
    }
}
