//! `credledger ledger export` as an auditor runs it: with no master key, a file of JSON lines
//! that holds every event of the chain and ends with a closing line, or a failure that says
//! where, never a file that looks complete without being so.

use crate::on_both_backends;
use crate::support::chain::{export_without_keys, verify_without_keys, Tamper, Verdict};
use crate::support::TestEnv;
use crate::tamper::{build, forged};
use credledger_adapters::chain::GENESIS;
use credledger_adapters::Backend;
use serde_json::Value;

/// The export's lines, each parsed as JSON.
fn json_lines(verdict: &Verdict) -> Vec<Value> {
    verdict
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn is_closing(line: &Value) -> bool {
    line.get("end_of_export").is_some()
}

async fn an_export_ends_with_a_closing_line_naming_the_head_verify_prints(env: TestEnv) {
    let built = build(&env).await;
    let export = export_without_keys(&env, 1);
    assert_eq!(export.code, Some(0), "{export:?}");
    let lines = json_lines(&export);
    let (closing, events) = lines.split_last().unwrap();
    assert!(!events.iter().any(is_closing), "{export:?}");
    let positions: Vec<i64> = events
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, (1..=built.head).collect::<Vec<_>>());
    let head_hash = events.last().unwrap()["hash"].as_str().unwrap().to_owned();
    assert_eq!(
        closing,
        &serde_json::json!({
            "end_of_export": true,
            "from": 1,
            "events": built.head,
            "head_position": built.head,
            "head_hash": head_hash,
        })
    );
    // The head an auditor keeps from the file is the one verify prints.
    let verdict = verify_without_keys(&env);
    assert!(
        verdict.stdout.contains(&format!(
            "{} events, chain intact, head hash {head_hash}",
            built.head
        )),
        "{verdict:?}"
    );

    // From a later position: the count is of the lines written.
    let tail = export_without_keys(&env, built.k);
    assert_eq!(tail.code, Some(0), "{tail:?}");
    let tail = json_lines(&tail);
    assert_eq!(tail[0]["position"], built.k);
    let closing = tail.last().unwrap();
    assert_eq!(closing["from"], built.k);
    assert_eq!(closing["events"], built.head - built.k + 1);
    assert_eq!(closing["head_hash"].as_str(), Some(head_hash.as_str()));
}
on_both_backends!(an_export_ends_with_a_closing_line_naming_the_head_verify_prints);

/// An event stored at position 0 is read by no feed, so an export that only read the feed left
/// it out and looked clean while verify failed.
async fn an_export_refuses_a_ledger_holding_an_event_outside_the_chain(env: TestEnv) {
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    t.insert(&forged(0, &GENESIS), &[0; 32]).await;
    let export = export_without_keys(&env, 1);
    assert_eq!(export.code, Some(1), "{export:?}");
    assert_eq!(export.stdout, "", "nothing may be written: {export:?}");
    assert!(
        export.stderr.contains(
            "ledger export: refused, nothing written: 1 stored event(s) have no position in the \
             chain; the first is event 1 of stream keyring/mallory:notion, stored at position 0"
        ),
        "{export:?}"
    );
    // SQLite's column also takes no position at all.
    if env.backend == Backend::Sqlite {
        t.exec(
            "UPDATE events SET global_position = NULL WHERE global_position = $1",
            0,
        )
        .await;
        let export = export_without_keys(&env, 1);
        assert_eq!(export.code, Some(1), "{export:?}");
        assert_eq!(export.stdout, "", "{export:?}");
        assert!(
            export.stderr.contains("stored at no position"),
            "{export:?}"
        );
    }
    t.finish().await;
}
on_both_backends!(an_export_refuses_a_ledger_holding_an_event_outside_the_chain);

/// A row SQLite keeps around the triggers that cannot be read as an event stopped the export
/// with a driver's error naming no position, after the lines before it were written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_names_the_row_it_cannot_read_and_writes_no_closing_line_on_sqlite() {
    let env = TestEnv::sqlite().await;
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;

    t.exec(
        "UPDATE events SET hash = NULL WHERE global_position = $1",
        built.head,
    )
    .await;
    let export = export_without_keys(&env, 1);
    assert_eq!(export.code, Some(1), "{export:?}");
    assert!(
        export.stderr.contains(&format!(
            "ledger export: FAILED at position {}: stored in a form no event has (its hash is \
             NULL)",
            built.head
        )),
        "{export:?}"
    );
    let written = json_lines(&export);
    assert_eq!(written.len() as i64, built.head - 1, "{export:?}");
    assert!(!written.iter().any(is_closing), "{export:?}");

    t.exec(
        "UPDATE events SET payload = CAST(X'7BFF7D' AS TEXT) WHERE global_position = $1",
        built.k,
    )
    .await;
    let export = export_without_keys(&env, 1);
    assert_eq!(export.code, Some(1), "{export:?}");
    assert!(
        export.stderr.contains(&format!(
            "ledger export: FAILED at position {}: stored in a form no event has (its payload \
             is not text)",
            built.k
        )),
        "{export:?}"
    );
    let written = json_lines(&export);
    assert_eq!(written.len() as i64, built.k - 1, "{export:?}");
    assert!(!written.iter().any(is_closing), "{export:?}");
}

/// `ledger verify` and `ledger export` only read: pointed where no ledger is (a mistyped
/// DATABASE_URL, a run from another directory) they say so and exit 2, creating nothing (they
/// made an empty database there, then failed on its missing `events` table).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_export_where_no_ledger_is_say_so_and_create_nothing() {
    let env = TestEnv::sqlite().await;
    let absent = env.dir.path().join("absent.sqlite");
    let no_dir = env.dir.path().join("no-data-dir");
    let empty = env.dir.path().join("empty.sqlite");
    std::fs::write(&empty, b"").unwrap();
    for command in ["verify", "export"] {
        let url = format!("sqlite:{}", absent.display());
        let out = env
            .cli()
            .env("DATABASE_URL", &url)
            .args(["ledger", command])
            .output()
            .unwrap();
        let said = crate::support::output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {said}");
        assert!(
            said.contains(&format!(
                "there is no ledger at {} (no such file); nothing was created",
                absent.display()
            )),
            "{command}: {said}"
        );
        assert!(!absent.exists(), "{command} created {}", absent.display());

        // No DATABASE_URL: the data directory's ledger; the directory is not made either.
        let out = env
            .cli()
            .env("CREDLEDGER_DATA_DIR", &no_dir)
            .args(["ledger", command])
            .output()
            .unwrap();
        let said = crate::support::output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {said}");
        assert!(said.contains("there is no ledger at"), "{command}: {said}");
        assert!(!no_dir.exists(), "{command} created {}", no_dir.display());

        // A file that is not a ledger (as an earlier run could leave).
        let out = env
            .cli()
            .env("DATABASE_URL", format!("sqlite:{}", empty.display()))
            .args(["ledger", command])
            .output()
            .unwrap();
        let said = crate::support::output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {said}");
        assert!(
            said.contains("(the database holds no events table)"),
            "{command}: {said}"
        );
    }
}

/// The export is personal data, not "ciphertext only" as its help said: what it holds in the
/// clear is named in `ledger export --help` (and README.md, docs/security.md §6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_help_names_the_personal_data_the_export_holds_in_the_clear() {
    let env = TestEnv::sqlite().await;
    build(&env).await;
    let export = export_without_keys(&env, 1);
    assert_eq!(export.code, Some(0), "{export:?}");
    // An account identity, its display name, a provider's error, an IP address, a user agent.
    for clear in [
        "dave@example.test",
        "Account dave-ant",
        "401 Unauthorized",
        "127.0.0.1",
        "credledger-tests",
    ] {
        assert!(export.stdout.contains(clear), "{clear} not in the export");
    }
    let help = env
        .cli()
        .args(["ledger", "export", "--help"])
        .output()
        .unwrap();
    let help = crate::support::output_text(&help);
    assert!(!help.contains("ciphertext only"), "{help}");
    for named in [
        "emails",
        "account identities",
        "error texts",
        "IP address",
        "user agent",
        "token hashes",
    ] {
        assert!(help.contains(named), "`{named}` not in {help}");
    }
}

/// One line of an export, hashed from the layout docs/security.md §6 documents with SHA-256
/// alone (none of credledger's chain code): the tag, the position and sequence as 8 bytes
/// big-endian, the previous hash's 32 bytes, texts preceded by their UTF-8 length as 4 bytes
/// big-endian, and the payload text's own SHA-256.
fn documented_hash(line: &Value, prev_hash: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let text = |field: &str| line[field].as_str().unwrap().as_bytes().to_vec();
    let with_length = |bytes: Vec<u8>| {
        let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
        out.extend(bytes);
        out
    };
    let mut e = b"credledger.event.v1".to_vec();
    e.extend(line["position"].as_i64().unwrap().to_be_bytes());
    e.extend(prev_hash);
    e.extend(with_length(text("aggregate_type")));
    e.extend(with_length(text("aggregate_id")));
    e.extend(line["sequence"].as_i64().unwrap().to_be_bytes());
    e.extend(with_length(text("event_type")));
    e.extend(with_length(text("event_version")));
    e.extend(with_length(text("metadata")));
    e.extend(Sha256::digest(text("payload")));
    format!("{:x}", Sha256::digest(&e))
}

async fn an_export_recomputes_with_sha256_alone_from_its_documented_layout(env: TestEnv) {
    let built = build(&env).await;
    // Text beyond ASCII: lengths are of UTF-8 bytes, not characters.
    crate::support::register_with(
        &built.ledger,
        "erin",
        "notion",
        "Café ☕ «prod»",
        r#"{"token":"secret_erin_cafe"}"#,
        None,
        &crate::support::meta("erin"),
    )
    .await
    .unwrap();
    let export = export_without_keys(&env, 1);
    assert_eq!(export.code, Some(0), "{export:?}");
    let lines = json_lines(&export);
    let (closing, events) = lines.split_last().unwrap();
    let mut prev_hash = vec![0u8; 32];
    for (i, line) in events.iter().enumerate() {
        assert_eq!(line["position"], i as i64 + 1, "{line}");
        assert_eq!(
            line["prev_hash"].as_str(),
            Some(hex::encode(&prev_hash).as_str())
        );
        let hash = line["hash"].as_str().unwrap();
        assert_eq!(hash, documented_hash(line, &prev_hash), "{line}");
        prev_hash = hex::decode(hash).unwrap();
    }
    assert!(events
        .iter()
        .any(|line| line["payload"].as_str().unwrap().contains("Café ☕")));
    assert_eq!(closing["end_of_export"], true);
    assert_eq!(closing["events"], events.len());
    assert_eq!(closing["head_position"], events.len());
    assert_eq!(
        closing["head_hash"].as_str(),
        Some(hex::encode(&prev_hash).as_str())
    );
}
on_both_backends!(an_export_recomputes_with_sha256_alone_from_its_documented_layout);

/// The names in a directory.
fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `ledger export > file` leaves a partial file when the export fails (marked only by its
/// missing closing line); `--output FILE` puts the file in place only once it is complete, the
/// same bytes standard output gets, and on a failure leaves nothing there (nor its temporary
/// file), and an earlier file as it was.
async fn an_export_to_a_file_appears_only_complete(env: TestEnv) {
    use crate::support::chain::export_without_keys_to;
    let built = build(&env).await;
    let dir = env.dir.path().join("exports");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("ledger.jsonl");
    let stdout = export_without_keys(&env, 1);
    assert_eq!(stdout.code, Some(0), "{stdout:?}");
    let to_file = export_without_keys_to(&env, &file);
    assert_eq!(to_file.code, Some(0), "{to_file:?}");
    assert_eq!(to_file.stdout, "", "{to_file:?}");
    assert_eq!(std::fs::read(&file).unwrap(), stdout.stdout.as_bytes());
    assert_eq!(names_in(&dir), ["ledger.jsonl"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the export is personal data: {mode:o}");
    }

    // A row the export refuses, well inside the ledger: lines were written before it.
    let mut t = Tamper::open(&env, &built.pool).await;
    t.set_json(
        "payload",
        built.k,
        &crate::tamper::json_of_bytes(
            credledger_adapters::feed::MAX_STORED_EVENT_BYTES as usize + 1,
        ),
    )
    .await;
    let other = dir.join("other.jsonl");
    let failed = export_without_keys_to(&env, &other);
    assert_eq!(failed.code, Some(1), "{failed:?}");
    assert!(
        failed.stderr.contains(&format!(
            "ledger export: FAILED at position {}: stored as ",
            built.k
        )) && failed
            .stderr
            .contains(&format!("nothing was written to {}", other.display())),
        "{failed:?}"
    );
    assert!(!other.exists(), "{failed:?}");
    assert_eq!(names_in(&dir), ["ledger.jsonl"], "{failed:?}");
    // Over an earlier export: it stays as it was.
    let failed = export_without_keys_to(&env, &file);
    assert_eq!(failed.code, Some(1), "{failed:?}");
    assert_eq!(std::fs::read(&file).unwrap(), stdout.stdout.as_bytes());
    assert_eq!(names_in(&dir), ["ledger.jsonl"], "{failed:?}");
}
on_both_backends!(an_export_to_a_file_appears_only_complete);

/// As `verify_and_export_where_no_ledger_is_say_so_and_create_nothing`, on PostgreSQL: a fresh
/// database of the test server, without the `events` table, is said to hold no ledger (exit 2)
/// and is left without a table (no migration ran).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_export_on_a_postgres_database_without_a_ledger_say_so_and_create_nothing() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let url = env.database_url.clone().unwrap();
    for command in ["verify", "export"] {
        let out = env.cli().args(["ledger", command]).output().unwrap();
        let said = crate::support::output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {said}");
        assert!(
            said.contains("there is no ledger at")
                && said.contains("(the database holds no events table); nothing was created"),
            "{command}: {said}"
        );
        assert_eq!(out.stdout, b"", "{command}: {said}");
    }
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT schemaname || '.' || tablename FROM pg_tables \
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(tables, Vec::<String>::new());
}

/// Rows of a third of a batch's bytes, more of them than one batch holds, and one larger than a
/// batch (read alone): the export reads them in several batches and writes each exactly once, in
/// order (the chain is not the export's to check: the rows were edited by hand).
async fn an_export_of_rows_larger_than_one_batch_holds_writes_each_once(env: TestEnv) {
    use credledger_adapters::feed::BATCH_BYTES;
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    let near = crate::tamper::json_of_bytes(BATCH_BYTES as usize / 3);
    let over_a_batch = crate::tamper::json_of_bytes(BATCH_BYTES as usize + 4096);
    t.set_json("payload", 8, &over_a_batch).await;
    for position in 2..=7 {
        t.set_json("payload", position, &near).await;
    }
    let export = export_without_keys(&env, 1);
    assert_eq!(export.code, Some(0), "{}", export.stderr);
    let lines = json_lines(&export);
    let (closing, events) = lines.split_last().unwrap();
    let positions: Vec<i64> = events
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, (1..=built.head).collect::<Vec<_>>());
    assert!(events[1..7].iter().all(|e| e["payload"] == near.as_str()));
    assert_eq!(events[7]["payload"], over_a_batch.as_str());
    assert_eq!(closing["events"], built.head);
}
on_both_backends!(an_export_of_rows_larger_than_one_batch_holds_writes_each_once);
