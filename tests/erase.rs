//! Erasure is crypto-shredding: the data key is destroyed, the history stays and still verifies.
//! A credential whose secret holds a planted canary is erased; nothing in the database, its files
//! or the master keys gives the canary back.

use crate::on_both_backends;
use crate::support::chain::{assert_verifies, verify_without_keys};
use crate::support::{keyring_id, meta, valid, TestEnv};
use base64::Engine as _;
use credledger::Ledger;
use credledger_adapters::crypto::{open_secret, MasterKeyring};
use credledger_adapters::keystore::KeyStoreError;
use credledger_adapters::Backend;
use credledger_domain::keyring::ValidationOutcome;
use credledger_domain::{CredentialId, EventMetadata, SealedSecret};
use sqlx::Row;
use std::sync::Arc;

async fn register_with(
    ledger: &Ledger,
    user: &str,
    service: &str,
    name: &str,
    fields: &str,
    validation: Option<ValidationOutcome>,
    m: &EventMetadata,
) -> CredentialId {
    crate::support::register_with(ledger, user, service, name, fields, validation, m)
        .await
        .unwrap()
}

/// An erased credential whose secret held a canary, and what was known of it before erasure.
struct Erased {
    ledger: Arc<Ledger>,
    pool: sqlx::AnyPool,
    id: CredentialId,
    canary: String,
    sealed: SealedSecret,
    version: u32,
    /// The wrapped data key as stored before erasure (what a backup holds).
    wrapped_before: Vec<u8>,
    /// A live credential of the same keyring.
    other: CredentialId,
    /// The metadata of the canary's four events: registered, renamed, used, erased.
    metas: [EventMetadata; 4],
}

/// Registers credentials under two master key versions, then erin's canary credential (renamed
/// and revealed once), then erases it. Projections are not caught up after the erasure.
async fn erase_a_canary(env: &TestEnv) -> Erased {
    let first = env.ledger().await;
    register_with(
        &first,
        "bob",
        "notion",
        "Bob's",
        r#"{"token":"secret_bob"}"#,
        Some(valid("bob-ws")),
        &meta("bob"),
    )
    .await;
    register_with(
        &first,
        "carol",
        "jira",
        "Carol's",
        r#"{"url":"https://carol.atlassian.example","email":"carol@example.test","api_token":"jira-carol"}"#,
        None,
        &meta("carol"),
    )
    .await;
    first.db.close().await;
    drop(first);
    // A second master key version: data keys now exist under two KEKs.
    assert_eq!(MasterKeyring::append_new_version(&env.key_file).unwrap(), 2);
    let ledger = env.ledger().await;

    let canary = format!("canary-erase-{}", uuid::Uuid::new_v4());
    let metas = [meta("erin"), meta("erin-admin"), meta("erin"), meta("erin")];
    let id = register_with(
        &ledger,
        "erin",
        "notion",
        "Canary",
        &format!(r#"{{"token":"{canary}"}}"#),
        None,
        &metas[0],
    )
    .await;
    let other = register_with(
        &ledger,
        "erin",
        "notion",
        "Other",
        r#"{"token":"secret_erin_other"}"#,
        None,
        &meta("erin"),
    )
    .await;
    ledger.projections.catch_up().await.unwrap();
    ledger
        .update(&id.to_string(), Some("Canary (renamed)"), None, &metas[1])
        .await
        .unwrap();
    let revealed = ledger
        .reveal("erin", &id.to_string(), &metas[2])
        .await
        .unwrap();
    assert_eq!(revealed.get("token").unwrap().expose(), canary);

    let keyring = ledger.keyring(&keyring_id("erin", "notion")).await.unwrap();
    let state = keyring.credential(id).unwrap();
    let (sealed, version) = (state.secret.clone(), state.secret_version);
    let pool = env.any_pool().await;
    let wrapped_before: Vec<u8> =
        sqlx::query("SELECT wrapped FROM data_keys WHERE credential_id = $1")
            .bind(id.to_string())
            .fetch_one(&pool)
            .await
            .unwrap()
            .try_get("wrapped")
            .unwrap();
    let blob = base64::engine::general_purpose::STANDARD
        .decode(&sealed.ciphertext)
        .unwrap();
    // The recovery below works while the key exists: its failure after erasure means something.
    assert_eq!(
        recover(env, &pool, id, version, &blob).await,
        vec![format!(r#"{{"token":"{canary}"}}"#)]
    );

    if env.backend == Backend::Sqlite {
        // The file scan after erasure can see the key while it exists.
        assert!(!sqlite_files_containing(env, &wrapped_before).is_empty());
    }

    ledger.erase(&id.to_string(), &metas[3]).await.unwrap();
    Erased {
        ledger,
        pool,
        id,
        canary,
        sealed,
        version,
        wrapped_before,
        other,
        metas,
    }
}

/// Every plaintext an attacker holding the database and the key file could get for `erased`'s
/// ciphertext: every stored wrapped key, unwrapped under every master key version (the header's
/// version rewritten to each), as any credential and data key id, then used to open it.
async fn recover(
    env: &TestEnv,
    pool: &sqlx::AnyPool,
    erased: CredentialId,
    version: u32,
    blob: &[u8],
) -> Vec<String> {
    let keys = MasterKeyring::load_file(&env.key_file).unwrap();
    let rows = sqlx::query("SELECT dek_id, credential_id, wrapped FROM data_keys")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut credentials = Vec::new();
    let mut dek_ids = Vec::new();
    let mut wrapped_keys = Vec::new();
    for row in &rows {
        credentials.push(row.try_get::<String, _>("credential_id").unwrap());
        dek_ids.push(uuid::Uuid::parse_str(&row.try_get::<String, _>("dek_id").unwrap()).unwrap());
        if let Some(w) = row.try_get::<Option<Vec<u8>>, _>("wrapped").unwrap() {
            wrapped_keys.push(w);
        }
    }
    assert!(keys.versions().len() >= 2, "{:?}", keys.versions());
    let mut found = Vec::new();
    for wrapped in &wrapped_keys {
        for kek in keys.versions() {
            let mut attempt = wrapped.clone();
            attempt[1..5].copy_from_slice(&kek.to_be_bytes());
            for credential in &credentials {
                for dek_id in &dek_ids {
                    let Ok(dek) = keys.unwrap_dek(credential, *dek_id, &attempt) else {
                        continue;
                    };
                    if let Ok(plain) = open_secret(&dek, &erased.to_string(), version, blob) {
                        found.push(String::from_utf8_lossy(&plain).into_owned());
                    }
                }
            }
        }
    }
    found
}

async fn an_erased_secret_cannot_be_recovered_from_the_database_and_every_master_key(env: TestEnv) {
    let e = erase_a_canary(&env).await;
    let row = sqlx::query("SELECT wrapped, destroyed_at FROM data_keys WHERE credential_id = $1")
        .bind(e.id.to_string())
        .fetch_one(&e.pool)
        .await
        .unwrap();
    assert_eq!(row.try_get::<Option<Vec<u8>>, _>("wrapped").unwrap(), None);
    assert!(row
        .try_get::<Option<String>, _>("destroyed_at")
        .unwrap()
        .is_some());

    let blob = base64::engine::general_purpose::STANDARD
        .decode(&e.sealed.ciphertext)
        .unwrap();
    assert_eq!(
        recover(&env, &e.pool, e.id, e.version, &blob).await,
        Vec::<String>::new()
    );
    // And the ledger's own key store says why, naming the credential.
    match e.ledger.keys.open(e.id, e.version, &e.sealed).await {
        Err(KeyStoreError::Destroyed(id)) => assert_eq!(id, e.id),
        other => panic!("expected Destroyed, got {other:?}"),
    }
}

/// Every table of the database, every row, every column as text (binary columns as lowercase
/// hex). `support::dump_table` reads columns through the Any driver, which cannot decode
/// SQLite's `datetime` (in `_sqlx_migrations`) nor PostgreSQL's json, timestamptz or bool, so
/// each column is cast to text in SQL instead.
async fn dump_everything(env: &TestEnv, pool: &sqlx::AnyPool) -> Vec<(String, Vec<String>)> {
    let (tables_sql, columns_sql) = match env.backend {
        Backend::Sqlite => (
            "SELECT name FROM sqlite_master WHERE type = 'table'",
            "SELECT name AS c, type AS t FROM pragma_table_info($1) ORDER BY cid",
        ),
        Backend::Postgres => (
            "SELECT CAST(tablename AS TEXT) AS name FROM pg_tables \
             WHERE schemaname = current_schema()",
            "SELECT CAST(column_name AS TEXT) AS c, CAST(data_type AS TEXT) AS t \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 \
             ORDER BY ordinal_position",
        ),
    };
    let tables: Vec<String> = sqlx::query(tables_sql)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("name").unwrap())
        .collect();
    assert!(tables.iter().any(|t| t == "events"), "{tables:?}");
    assert!(tables.iter().any(|t| t == "data_keys"), "{tables:?}");
    assert!(tables.iter().any(|t| t == "audit_trail"), "{tables:?}");
    let mut out = Vec::new();
    for table in tables {
        let columns: Vec<(String, String)> = sqlx::query(columns_sql)
            .bind(&table)
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.try_get("c").unwrap(), r.try_get("t").unwrap()))
            .collect();
        assert!(!columns.is_empty(), "no columns found for {table}");
        let select: Vec<String> = columns
            .iter()
            .map(|(c, t)| match env.backend {
                Backend::Sqlite => format!(
                    "CASE WHEN typeof(\"{c}\") = 'blob' THEN lower(hex(\"{c}\")) \
                     ELSE CAST(\"{c}\" AS TEXT) END"
                ),
                Backend::Postgres if t == "bytea" => format!("encode(\"{c}\", 'hex')"),
                Backend::Postgres => format!("CAST(\"{c}\" AS TEXT)"),
            })
            .collect();
        let rows = sqlx::query(&format!("SELECT {} FROM \"{table}\"", select.join(", ")))
            .fetch_all(pool)
            .await
            .unwrap();
        for row in rows {
            let cells = (0..select.len())
                .filter_map(|i| row.try_get::<Option<String>, _>(i).unwrap())
                .collect();
            out.push((table.clone(), cells));
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn an_erased_canary_is_in_no_table_and_the_destroyed_key_in_no_database_file(env: TestEnv) {
    let e = erase_a_canary(&env).await;
    e.ledger.projections.catch_up().await.unwrap();
    let canary_hex = hex::encode(e.canary.as_bytes());
    let wrapped_hex = hex::encode(&e.wrapped_before);
    let dump = dump_everything(&env, &e.pool).await;
    assert!(dump.iter().any(|(t, _)| t == "events"));
    // The dump can see ciphertext: the erased credential's sealed secret is still in the events.
    assert!(dump
        .iter()
        .any(|(t, cells)| t == "events" && cells.iter().any(|c| c.contains(&e.sealed.ciphertext))));
    for (table, cells) in &dump {
        for cell in cells {
            assert!(!cell.contains(&e.canary), "canary in {table}: {cell}");
            assert!(!cell.contains(&canary_hex), "canary (hex) in {table}");
            assert!(
                !cell.contains(&wrapped_hex),
                "the destroyed wrapped key is still in {table}"
            );
        }
    }

    if env.backend == Backend::Sqlite {
        // secure_delete and the checkpoint after destruction: no old copy of the key survives in
        // the database file or its write-ahead log.
        assert_eq!(
            sqlite_files_containing(&env, &e.wrapped_before),
            Vec::<String>::new(),
            "the destroyed wrapped key is still on disk"
        );
        assert_eq!(
            sqlite_files_containing(&env, e.canary.as_bytes()),
            Vec::<String>::new()
        );
    }
}

/// Which of the SQLite database's files (main file, -wal, -shm, -journal) hold `needle`.
fn sqlite_files_containing(env: &TestEnv, needle: &[u8]) -> Vec<String> {
    let db = env.data_dir().join("credledger.sqlite");
    let mut found = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let path = format!("{}{suffix}", db.display());
        if let Ok(bytes) = std::fs::read(&path) {
            if let Some(offset) = find(&bytes, needle) {
                found.push(format!("{path} at byte {offset} of {}", bytes.len()));
            }
        }
    }
    found
}

async fn an_erased_credential_keeps_its_audited_history_and_leaves_the_summary(env: TestEnv) {
    let e = erase_a_canary(&env).await;
    let in_summary = |id: CredentialId| {
        let pool = e.pool.clone();
        async move {
            sqlx::query(
                "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM credential_summary \
                 WHERE credential_id = $1",
            )
            .bind(id.to_string())
            .fetch_one(&pool)
            .await
            .unwrap()
            .try_get::<i64, _>("n")
            .unwrap()
        }
    };
    // Before the projections see the erasure, the summary still lists it (so the check below
    // is the erasure's doing).
    assert_eq!(in_summary(e.id).await, 1);
    e.ledger.projections.catch_up().await.unwrap();
    assert_eq!(in_summary(e.id).await, 0);
    assert_eq!(in_summary(e.other).await, 1);

    let rows = sqlx::query(
        "SELECT action, actor, request_id, user_id, service FROM audit_trail \
         WHERE credential_id = $1 ORDER BY position",
    )
    .bind(e.id.to_string())
    .fetch_all(&e.pool)
    .await
    .unwrap();
    let history: Vec<(String, String, Option<String>)> = rows
        .iter()
        .map(|r| {
            assert_eq!(
                r.try_get::<Option<String>, _>("user_id")
                    .unwrap()
                    .as_deref(),
                Some("erin")
            );
            assert_eq!(
                r.try_get::<Option<String>, _>("service")
                    .unwrap()
                    .as_deref(),
                Some("notion")
            );
            (
                r.try_get("action").unwrap(),
                r.try_get("actor").unwrap(),
                r.try_get("request_id").unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, String, Option<String>)> = [
        "CredentialRegistered",
        "CredentialRenamed",
        "CredentialUsed",
        "CredentialErased",
    ]
    .iter()
    .zip(&e.metas)
    .map(|(action, m)| {
        (
            action.to_string(),
            m.actor.clone(),
            Some(m.request_id.clone()),
        )
    })
    .collect();
    assert_eq!(history, expected);
}

async fn the_ledger_still_verifies_after_an_erasure(env: TestEnv) {
    let e = erase_a_canary(&env).await;
    let head = e.ledger.db.head().await.unwrap();
    let erased_at: i64 =
        sqlx::query("SELECT global_position FROM events WHERE event_type = 'CredentialErased'")
            .fetch_one(&e.pool)
            .await
            .unwrap()
            .try_get("global_position")
            .unwrap();
    assert_eq!(erased_at, head);
    assert_verifies(&verify_without_keys(&env), head);
}

async fn revealing_an_erased_credential_answers_not_found(env: TestEnv) {
    let e = erase_a_canary(&env).await;
    // Before the read models see the erasure (the summary still lists it)…
    let err = e
        .ledger
        .reveal("erin", &e.id.to_string(), &meta("erin"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND", "{err:?}");
    // …and after.
    e.ledger.projections.catch_up().await.unwrap();
    let err = e
        .ledger
        .reveal("erin", &e.id.to_string(), &meta("erin"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND", "{err:?}");
    // The keyring's other credential is untouched.
    let other = e
        .ledger
        .reveal("erin", &e.other.to_string(), &meta("erin"))
        .await
        .unwrap();
    assert_eq!(other.get("token").unwrap().expose(), "secret_erin_other");
}

async fn erasing_the_primary_promotes_the_oldest_active_credential(env: TestEnv) {
    let ledger = env.ledger().await;
    let mut ids = Vec::new();
    for name in ["A", "B", "C", "D"] {
        ids.push(
            register_with(
                &ledger,
                "frank",
                "notion",
                name,
                &format!(r#"{{"token":"secret_frank_{name}"}}"#),
                Some(valid(&format!("frank-{name}"))),
                &meta("frank"),
            )
            .await,
        );
    }
    let [a, b, c, d] = [ids[0], ids[1], ids[2], ids[3]];
    ledger.projections.catch_up().await.unwrap();
    // A (the oldest) is revoked, C then D chosen: the oldest *active* one is B, which is neither
    // the newest (C) nor the primary before D (C).
    ledger
        .revoke(&a.to_string(), None, &meta("frank"))
        .await
        .unwrap();
    ledger
        .set_primary(&c.to_string(), &meta("frank"))
        .await
        .unwrap();
    ledger
        .set_primary(&d.to_string(), &meta("frank"))
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    ledger.erase(&d.to_string(), &meta("frank")).await.unwrap();
    ledger.projections.catch_up().await.unwrap();

    let pool = env.any_pool().await;
    let mut primaries: Vec<(String, i64)> = sqlx::query(
        "SELECT credential_id, CAST(is_primary AS BIGINT) AS p FROM credential_summary \
         WHERE user_id = 'frank' AND service = 'notion'",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.try_get("credential_id").unwrap(), r.try_get("p").unwrap()))
    .collect();
    primaries.sort();
    let mut expected = vec![(a.to_string(), 0), (b.to_string(), 1), (c.to_string(), 0)];
    expected.sort();
    assert_eq!(primaries, expected);
    let keyring = ledger
        .keyring(&keyring_id("frank", "notion"))
        .await
        .unwrap();
    assert_eq!(keyring.primary().map(|p| p.id), Some(b));
}

async fn a_data_key_restored_from_a_backup_after_erasure_is_destroyed_by_shred_erased(
    env: TestEnv,
) {
    let e = erase_a_canary(&env).await;
    // A backup restore brings the wrapped key back (as an interrupted erasure would leave it).
    let restored = sqlx::query(
        "UPDATE data_keys SET wrapped = $1, destroyed_at = NULL WHERE credential_id = $2",
    )
    .bind(e.wrapped_before.clone())
    .bind(e.id.to_string())
    .execute(&e.pool)
    .await
    .unwrap();
    assert_eq!(restored.rows_affected(), 1);
    // The backup caveat: with the restored key, the old ciphertext decrypts again.
    let fields = e
        .ledger
        .keys
        .open(e.id, e.version, &e.sealed)
        .await
        .unwrap();
    assert_eq!(fields.get("token").unwrap().expose(), e.canary);

    e.ledger.projections.catch_up().await.unwrap();
    assert_eq!(e.ledger.shred_erased().await.unwrap(), 1);
    match e.ledger.keys.open(e.id, e.version, &e.sealed).await {
        Err(KeyStoreError::Destroyed(id)) => assert_eq!(id, e.id),
        other => panic!("expected Destroyed, got {other:?}"),
    }
    // Only the erased credential's key went; shredding again finds nothing.
    assert_eq!(e.ledger.shred_erased().await.unwrap(), 0);
    let other = e
        .ledger
        .reveal("erin", &e.other.to_string(), &meta("erin"))
        .await
        .unwrap();
    assert_eq!(other.get("token").unwrap().expose(), "secret_erin_other");
}

/// An erasure whose key destruction did not happen (the database failed between the event and
/// the key's destruction, as a restored key stands for here) is finished by the next expiry
/// run, as `serve` schedules it, with no restart.
async fn a_data_key_an_interrupted_erasure_left_is_destroyed_by_the_next_expiry_run(env: TestEnv) {
    let e = erase_a_canary(&env).await;
    sqlx::query("UPDATE data_keys SET wrapped = $1, destroyed_at = NULL WHERE credential_id = $2")
        .bind(e.wrapped_before.clone())
        .bind(e.id.to_string())
        .execute(&e.pool)
        .await
        .unwrap();
    let options = credledger::jobs::ExpiryOptions {
        warning_window: chrono::Duration::days(7),
        webhook: None,
        dry_run: false,
        actor: "scheduler".into(),
        user_agent: None,
        refreshed_providers: Default::default(),
    };
    let (_stop, stop) = tokio::sync::watch::channel(false);
    let report = credledger::jobs::expire(e.ledger.clone(), &options, stop.clone())
        .await
        .unwrap();
    assert_eq!(report.shredded, 1);
    match e.ledger.keys.open(e.id, e.version, &e.sealed).await {
        Err(KeyStoreError::Destroyed(id)) => assert_eq!(id, e.id),
        other => panic!("expected Destroyed, got {other:?}"),
    }
    let again = credledger::jobs::expire(e.ledger.clone(), &options, stop)
        .await
        .unwrap();
    assert_eq!(again.shredded, 0, "nothing left to destroy");
}

on_both_backends!(an_erased_secret_cannot_be_recovered_from_the_database_and_every_master_key);
on_both_backends!(a_data_key_an_interrupted_erasure_left_is_destroyed_by_the_next_expiry_run);
on_both_backends!(an_erased_canary_is_in_no_table_and_the_destroyed_key_in_no_database_file);
on_both_backends!(an_erased_credential_keeps_its_audited_history_and_leaves_the_summary);
on_both_backends!(the_ledger_still_verifies_after_an_erasure);
on_both_backends!(revealing_an_erased_credential_answers_not_found);
on_both_backends!(erasing_the_primary_promotes_the_oldest_active_credential);
on_both_backends!(a_data_key_restored_from_a_backup_after_erasure_is_destroyed_by_shred_erased);

/// Disclosures remember the wrapped data keys they read; erasing a credential destroys its key
/// in memory as well as in the table, so even a direct attempt with its sealed secret finds no
/// key to open it with.
async fn a_destroyed_key_is_not_opened_from_memory(env: TestEnv) {
    let ledger = env.ledger().await;
    let id = register_with(
        &ledger,
        "gina",
        "notion",
        "Work",
        r#"{"token":"secret_gina_remembered"}"#,
        Some(valid("gina-ws")),
        &meta("gina"),
    )
    .await;
    let keyring = keyring_id("gina", "notion");
    let state = ledger.keyring(&keyring).await.unwrap();
    let c = state.credential(id).unwrap();
    let (sealed, version) = (c.secret.clone(), c.secret_version);
    // Two disclosures: the second opens with the key the first remembered.
    for _ in 0..2 {
        let fields = ledger
            .reveal("gina", &id.to_string(), &meta("gina"))
            .await
            .unwrap();
        assert_eq!(
            fields.get("token").unwrap().expose(),
            "secret_gina_remembered"
        );
    }
    ledger.projections.catch_up().await.unwrap();
    ledger.erase(&id.to_string(), &meta("gina")).await.unwrap();

    let opened = ledger.keys.open_remembered(id, version, &sealed).await;
    assert!(
        matches!(opened, Err(KeyStoreError::Destroyed(c)) if c == id),
        "{opened:?}"
    );
}
on_both_backends!(a_destroyed_key_is_not_opened_from_memory);

/// Erasing a keyring's last credentials drops the keyring from the dashboard's counts (not a
/// row of zeros, not the old counts), live as after a rebuild.
async fn erasing_a_keyrings_last_credentials_drops_its_counts(env: TestEnv) {
    use credledger_projections::dashboard_stats::dashboard;
    let ledger = env.ledger().await;
    let pool = env.any_pool().await;
    let mut notion = Vec::new();
    for name in ["work", "home"] {
        let fields = format!(r#"{{"token":"ntn_{name}_000000000000000000000000"}}"#);
        notion.push(
            crate::support::register(&ledger, "fay", "notion", name, &fields)
                .await
                .unwrap(),
        );
    }
    crate::support::register(&ledger, "fay", "todoist", "tasks", r#"{"token":"todo"}"#)
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let before = dashboard(&pool, Some("fay")).await.unwrap();
    assert_eq!(before.totals.total, 3);
    assert_eq!(before.by_service["notion"].total, 2);

    for id in &notion {
        ledger.erase(&id.to_string(), &meta("fay")).await.unwrap();
    }
    ledger.projections.catch_up().await.unwrap();
    let live = dashboard(&pool, Some("fay")).await.unwrap();
    assert_eq!(live.totals.total, 1, "{live:?}");
    assert!(!live.by_service.contains_key("notion"), "{live:?}");
    let rows: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM dashboard_stats WHERE user_id = 'fay' AND service = 'notion'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(rows, 0);

    ledger
        .projections
        .rebuild(
            &credledger_projections::credential_summary::CredentialSummary,
            &|_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(dashboard(&pool, Some("fay")).await.unwrap(), live);
}

on_both_backends!(erasing_a_keyrings_last_credentials_drops_its_counts);
