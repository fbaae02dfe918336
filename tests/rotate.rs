//! Master key rotation (`keys rotate`): killed with SIGKILL at random moments and re-run, it
//! ends with every data key under the newest master key and every secret readable as before;
//! and it is online — commands and reveals keep working while it runs.

use crate::on_both_backends;
use crate::support::{assert_success, keyring_id, meta, register, TestEnv};
use credledger::Ledger;
use credledger_domain::{KeyringId, SecretFields};
use futures::StreamExt as _;
use rand::{Rng as _, SeedableRng as _};
use sqlx::{AnyPool, Row};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

/// Seeds ~1,500 credentials through the real command path (`demo seed`: 40 users, 38 each).
fn seed(env: &TestEnv) {
    let out = env
        .cli()
        .args([
            "demo",
            "seed",
            "--users",
            "40",
            "--credentials-per-user",
            "50",
        ])
        .output()
        .unwrap();
    assert_success(&out, "demo seed");
}

fn generate_key(env: &TestEnv) {
    let out = env.cli().args(["keys", "generate"]).output().unwrap();
    assert_success(&out, "keys generate");
}

/// Every live credential's secret, opened with the data-key store from the keyring states:
/// credential id → (secret version, plaintext fields).
async fn open_every_secret(
    ledger: &Ledger,
    pool: &AnyPool,
) -> BTreeMap<String, (u32, SecretFields)> {
    let rows = sqlx::query("SELECT DISTINCT user_id, service FROM credential_summary")
        .fetch_all(pool)
        .await
        .unwrap();
    let keyrings: Vec<KeyringId> = rows
        .iter()
        .map(|r| {
            let user: String = r.try_get("user_id").unwrap();
            let service: String = r.try_get("service").unwrap();
            keyring_id(&user, &service)
        })
        .collect();
    let opened: Vec<Vec<(String, (u32, SecretFields))>> = futures::stream::iter(keyrings)
        .map(|keyring| async move {
            let state = ledger.keyring(&keyring).await.unwrap();
            let mut out = Vec::new();
            for c in state.credentials() {
                let fields = ledger
                    .keys
                    .open(c.id, c.secret_version, &c.secret)
                    .await
                    .unwrap_or_else(|e| panic!("could not open {}: {e}", c.id));
                out.push((c.id.to_string(), (c.secret_version, fields)));
            }
            out
        })
        .buffer_unordered(8)
        .collect()
        .await;
    opened.into_iter().flatten().collect()
}

/// Live (not destroyed) data keys per master key version, and the number of rows in all.
async fn key_counts(pool: &AnyPool) -> (BTreeMap<i64, i64>, i64) {
    let rows = sqlx::query(
        "SELECT kek_version, CAST(COUNT(*) AS BIGINT) AS n FROM data_keys \
         WHERE wrapped IS NOT NULL GROUP BY kek_version",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let by_version = rows
        .iter()
        .map(|r| (r.try_get("kek_version").unwrap(), r.try_get("n").unwrap()))
        .collect();
    let total: i64 = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM data_keys")
        .fetch_one(pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    (by_version, total)
}

/// Each credential's data key id (rotation rewraps keys; it never replaces them).
async fn dek_ids(pool: &AnyPool) -> BTreeMap<String, String> {
    sqlx::query("SELECT credential_id, dek_id FROM data_keys")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get("credential_id").unwrap(),
                r.try_get("dek_id").unwrap(),
            )
        })
        .collect()
}

/// The event rows' identity and hashes: rotation must never rewrite the ledger.
async fn event_hashes(pool: &AnyPool) -> Vec<(i64, Vec<u8>)> {
    sqlx::query("SELECT global_position, hash FROM events ORDER BY global_position")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get("global_position").unwrap(),
                r.try_get("hash").unwrap(),
            )
        })
        .collect()
}

/// `keys status`, parsed: version → live data keys. Panics on a version the keys lack.
fn keys_status(env: &TestEnv) -> BTreeMap<i64, i64> {
    let out = env.cli().args(["keys", "status"]).output().unwrap();
    assert_success(&out, "keys status");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!text.contains("MISSING"), "{text}");
    text.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("version ")?;
            let (v, rest) = rest.split_once(':')?;
            let n = rest.split_whitespace().next()?;
            Some((v.parse().ok()?, n.parse().ok()?))
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// On PostgreSQL a statement the killed process had sent still runs to its end (the server
/// notices the closed connection only afterwards): wait until no other session is busy.
async fn settle_after_kill(env: &TestEnv, pool: &AnyPool) {
    if env.database_url.is_none() {
        return;
    }
    for _ in 0..200 {
        let busy: i64 = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'",
        )
        .fetch_one(pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
        if busy == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the killed process's statements are still running after 4 s");
}

/// The key counts once the killed process's work has landed: a statement it sent just before
/// the kill can sit unread in its connection while the backend shows `idle`, and runs (and
/// commits) a moment later. So the counts must also hold still for a while.
async fn settled_counts(env: &TestEnv, pool: &AnyPool) -> (BTreeMap<i64, i64>, i64) {
    let mut last = None;
    for _ in 0..50 {
        settle_after_kill(env, pool).await;
        let now = key_counts(pool).await;
        if last.as_ref() == Some(&now) {
            return now;
        }
        last = Some(now);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("the data keys did not settle after a kill")
}

#[cfg(unix)]
fn killed_by_sigkill(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt as _;
    status.signal() == Some(9)
}

#[cfg(not(unix))]
fn killed_by_sigkill(status: &std::process::ExitStatus) -> bool {
    !status.success()
}

async fn rotation_killed_at_random_moments_and_rerun_leaves_every_key_under_the_new_master_key_and_every_secret_readable(
    env: TestEnv,
) {
    seed(&env);
    let pool = env.any_pool().await;
    let expected = {
        let ledger = env.ledger().await;
        open_every_secret(&ledger, &pool).await
    };
    assert!(
        expected.len() >= 1500,
        "only {} credentials",
        expected.len()
    );
    let deks_before = dek_ids(&pool).await;
    let events_before = event_hashes(&pool).await;
    let (_, rows) = key_counts(&pool).await;
    assert_eq!(rows as usize, expected.len());

    generate_key(&env);
    let (mut from, mut to) = (1i64, 2i64);

    let seed: u64 = std::env::var("CREDLEDGER_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("rotation kill test: seed {seed} (set CREDLEDGER_TEST_SEED to replay the delays)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    // `killed`: SIGKILLed while keys were left to rewrap. `midway`: killed after rewrapping
    // some keys but not all — the interesting case for the batch's all-or-nothing statement.
    let (mut killed, mut midway, mut completed) = (0u32, 0u32, 0u32);
    let mut window_ms: u64 = 25;
    let mut attempts = 0;
    while killed < 20 || midway < 3 {
        attempts += 1;
        assert!(
            attempts <= 600,
            "could not land the kills (killed {killed}, midway {midway}, seed {seed})"
        );
        let (before, _) = key_counts(&pool).await;
        if before.get(&from).copied().unwrap_or(0) == 0 {
            // A run finished before enough kills landed: rotate again, to yet another version.
            eprintln!("rotation to version {to} completed after {killed} kills; adding another");
            generate_key(&env);
            (from, to) = (to, to + 1);
            continue;
        }
        let left_before = before[&from];
        let delay = rng.gen_range(0..=window_ms);
        let mut child = env
            .cli()
            .args(["keys", "rotate", "--batch-size", "25"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let _ = child.kill();
        let status = child.wait().unwrap();
        let (after, total) = settled_counts(&env, &pool).await;
        assert_eq!(
            total, rows,
            "the number of data keys changed after a kill at {delay} ms"
        );
        assert_eq!(
            after.values().sum::<i64>(),
            rows,
            "a key was lost: {after:?}"
        );
        for version in after.keys() {
            assert!(
                *version == from || *version == to,
                "after a kill at {delay} ms a key is under version {version} (expected {from} or {to}): {after:?}"
            );
        }
        assert_eq!(keys_status(&env), after, "`keys status` disagrees");
        let left_after = after.get(&from).copied().unwrap_or(0);
        if killed_by_sigkill(&status) {
            killed += 1;
            if left_after < left_before && left_after > 0 {
                midway += 1;
            }
            if left_after == left_before {
                window_ms += 3; // killed before it started rewrapping: aim later
            }
        } else {
            assert!(status.success(), "keys rotate failed: {status:?}");
            completed += 1;
            window_ms = (window_ms * 2 / 3).max(5); // finished first: aim earlier
        }
    }
    eprintln!(
        "{attempts} runs: {killed} killed while keys were left ({midway} midway), {completed} completed"
    );

    let out = env
        .cli()
        .args(["keys", "rotate", "--batch-size", "25"])
        .output()
        .unwrap();
    assert_success(&out, "the final keys rotate");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("master key version {to}")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let (after, total) = key_counts(&pool).await;
    assert_eq!(total, rows);
    assert_eq!(
        after,
        BTreeMap::from([(to, rows)]),
        "not every key is under {to}"
    );
    let not_rotated: i64 =
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM data_keys WHERE rotated_at IS NULL")
            .fetch_one(&pool)
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
    assert_eq!(not_rotated, 0);
    assert_eq!(dek_ids(&pool).await, deks_before, "a data key was replaced");
    assert_eq!(
        event_hashes(&pool).await,
        events_before,
        "rotation touched the ledger"
    );
    let status = keys_status(&env);
    assert_eq!(status, BTreeMap::from([(to, rows)]));

    // A fresh process view: every secret opens under the new master key and is unchanged.
    let ledger = env.ledger().await;
    assert_eq!(ledger.keys.master_keys().active_version() as i64, to);
    let opened = open_every_secret(&ledger, &pool).await;
    assert_eq!(opened.len(), expected.len());
    for (id, (version, fields)) in &expected {
        let (v, f) = &opened[id];
        assert_eq!(v, version, "{id}");
        assert!(f == fields, "credential {id} decrypts to something else");
    }
}

on_both_backends!(rotation_killed_at_random_moments_and_rerun_leaves_every_key_under_the_new_master_key_and_every_secret_readable);

async fn rotation_is_online_new_credentials_get_the_new_master_key_and_reveals_work_while_it_runs(
    env: TestEnv,
) {
    seed(&env);
    let pool = env.any_pool().await;
    // A sample of old credentials with their owners and plaintexts, to reveal mid-rotation.
    let sample: Vec<(String, String, SecretFields)> = {
        let ledger = env.ledger().await;
        let all = open_every_secret(&ledger, &pool).await;
        let owners: BTreeMap<String, String> =
            sqlx::query("SELECT credential_id, user_id FROM credential_summary")
                .fetch_all(&pool)
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r.try_get("credential_id").unwrap(),
                        r.try_get("user_id").unwrap(),
                    )
                })
                .collect();
        all.into_iter()
            .step_by(7)
            .map(|(id, (_, fields))| (owners[&id].clone(), id, fields))
            .collect()
    };
    let (_, old_rows) = key_counts(&pool).await;

    generate_key(&env);
    // Opened after `keys generate`, like a server restarted with the new key: version 2 active.
    let ledger = env.ledger().await;
    assert_eq!(ledger.keys.master_keys().active_version(), 2);

    // Batch size 1: a long rotation, so the commands below run while it is in progress.
    let mut child = env
        .cli()
        .args(["keys", "rotate", "--batch-size", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut registered = Vec::new();
    let (mut reveals, mut during) = (0usize, 0usize);
    let mut i = 0usize;
    while child.try_wait().unwrap().is_none() {
        let (before, _) = key_counts(&pool).await;
        let left_before = before.get(&1).copied().unwrap_or(0);

        let token = format!("online-{i}-{}", uuid::Uuid::new_v4());
        // A user per hundred, under the most credentials one person keeps for a service.
        let user = format!("online-user-{}", i / 100);
        let id = register(
            &ledger,
            &user,
            "notion",
            &format!("Online {i}"),
            &format!(r#"{{"token":"{token}"}}"#),
        )
        .await
        .unwrap_or_else(|e| panic!("register during rotation: {e} ({})", e.code()));
        registered.push((user, id, token));

        let (owner, credential, fields) = &sample[i % sample.len()];
        let revealed = ledger
            .reveal(owner, credential, &meta(owner))
            .await
            .unwrap_or_else(|e| panic!("reveal during rotation: {e} ({})", e.code()));
        assert!(
            revealed == *fields,
            "reveal of {credential} returned another secret"
        );
        reveals += 1;

        let (after, _) = key_counts(&pool).await;
        let left_after = after.get(&1).copied().unwrap_or(0);
        // Both commands ran wholly inside the rotation: it had started and had not finished.
        if left_before < old_rows && left_after > 0 {
            during += 1;
        }
        i += 1;
    }
    let out = child.wait_with_output().unwrap();
    assert_success(&out, "keys rotate");
    assert!(
        during >= 3,
        "only {during} register+reveal rounds ran inside the rotation ({reveals} in all)"
    );

    // New credentials were wrapped by the active key when created, not rewrapped afterwards.
    for (_, id, _) in &registered {
        let row =
            sqlx::query("SELECT kek_version, rotated_at FROM data_keys WHERE credential_id = $1")
                .bind(id.to_string())
                .fetch_one(&pool)
                .await
                .unwrap();
        let version: i64 = row.try_get("kek_version").unwrap();
        let rotated: Option<String> = row.try_get("rotated_at").unwrap();
        assert_eq!(version, 2, "credential {id} registered during rotation");
        assert_eq!(
            rotated, None,
            "credential {id} was rewrapped, not created under 2"
        );
    }
    let (after, total) = key_counts(&pool).await;
    assert_eq!(total, old_rows + registered.len() as i64);
    assert_eq!(after, BTreeMap::from([(2, total)]));

    // Everything registered during the rotation reads back.
    ledger.projections.catch_up().await.unwrap();
    for (user, id, token) in &registered {
        let fields = ledger
            .reveal(user, &id.to_string(), &meta(user))
            .await
            .unwrap();
        assert_eq!(
            fields.get("token").map(|t| t.expose()),
            Some(token.as_str())
        );
    }
}

on_both_backends!(
    rotation_is_online_new_credentials_get_the_new_master_key_and_reveals_work_while_it_runs
);

/// A command given no master keys, against a database that already holds data keys, stops
/// and generates none: it made a new key file, which opened none of the stored data keys, and
/// wrapped what it added under a key the deployment never configured.
async fn no_master_keys_against_stored_data_keys_stops_and_generates_none(env: TestEnv) {
    let (_ledger, elsewhere, fields) = alice_with_one_credential(&env).await;
    let missing = elsewhere.path().join("master.keys");
    let out = add_for_alice(&env, &fields, |cli| {
        cli.env("CREDLEDGER_MASTER_KEY_FILE", &missing);
    });
    assert!(!out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("already holds data keys"), "{said}");
    assert!(!missing.exists(), "a key file was generated");
    // With the ledger's own keys, the same command goes on.
    assert_success(&add_for_alice(&env, &fields, |_| {}), "credentials add");
}
on_both_backends!(no_master_keys_against_stored_data_keys_stops_and_generates_none);

/// Alice's Notion credential "Work" in the ledger (kept open), and the fields of another in a
/// directory of the test's own (where a key file may be put).
async fn alice_with_one_credential(
    env: &TestEnv,
) -> (Arc<Ledger>, tempfile::TempDir, std::path::PathBuf) {
    let ledger = env.ledger().await;
    register(
        &ledger,
        "alice",
        "notion",
        "Work",
        r#"{"token":"secret_a"}"#,
    )
    .await
    .unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let fields = elsewhere.path().join("fields.json");
    std::fs::write(&fields, r#"{"token":"secret_b"}"#).unwrap();
    (ledger, elsewhere, fields)
}

/// `credentials add` of Alice's Notion credential "Other" from `fields`, the command set up by
/// `configure` first (its keys).
fn add_for_alice(
    env: &TestEnv,
    fields: &std::path::Path,
    configure: impl Fn(&mut std::process::Command),
) -> std::process::Output {
    let mut cli = env.cli();
    configure(&mut cli);
    cli.args([
        "credentials",
        "add",
        "--user",
        "alice",
        "--service",
        "notion",
    ])
    .args(["--name", "Other", "--fields-file"])
    .arg(fields)
    .output()
    .unwrap()
}

/// Master keys that open none of the data keys stored under their version are refused before
/// anything is written: a key file made anew (from the wrong directory, say), or a wrong line
/// in `CREDLEDGER_MASTER_KEYS`, under a version the table holds was taken; every stored
/// credential failed to open, and what was added was wrapped under a key nothing else opens.
async fn master_keys_that_open_none_of_their_versions_data_keys_are_refused(env: TestEnv) {
    let (_ledger, elsewhere, fields) = alice_with_one_credential(&env).await;
    let pool = env.any_pool().await;
    let before = key_counts(&pool).await;
    let add =
        |configure: &dyn Fn(&mut std::process::Command)| add_for_alice(&env, &fields, configure);
    let refused = |out: std::process::Output| {
        assert!(!out.status.success(), "{out:?}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains("master key version 1 opens none of the data keys"),
            "{said}"
        );
    };
    let wrong = credledger_adapters::crypto::generate_key_spec_line(1);
    refused(add(&|cli| {
        cli.env("CREDLEDGER_MASTER_KEYS", wrong.trim());
    }));
    let new_file = elsewhere.path().join("master.keys");
    let made = env
        .cli()
        .env("CREDLEDGER_MASTER_KEY_FILE", &new_file)
        .args(["keys", "generate"])
        .output()
        .unwrap();
    assert_success(&made, "keys generate");
    refused(add(&|cli| {
        cli.env("CREDLEDGER_MASTER_KEY_FILE", &new_file);
    }));
    assert_eq!(key_counts(&pool).await, before, "a data key was stored");
    // With the ledger's own keys, the same command goes on.
    assert_success(&add(&|_| {}), "credentials add");
    pool.close().await;
}
on_both_backends!(master_keys_that_open_none_of_their_versions_data_keys_are_refused);

/// `keys generate` refuses while `CREDLEDGER_MASTER_KEYS` is set: the key file it would add
/// to is not read then, so the key it called active would wrap nothing.
async fn keys_generate_refuses_while_the_master_keys_come_from_the_environment(env: TestEnv) {
    let before = std::fs::read(&env.key_file).ok();
    let spec = credledger_adapters::crypto::generate_key_spec_line(1);
    let out = env
        .cli()
        .env("CREDLEDGER_MASTER_KEYS", spec.trim())
        .args(["keys", "generate"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("CREDLEDGER_MASTER_KEYS is set"));
    assert_eq!(
        std::fs::read(&env.key_file).ok(),
        before,
        "the key file changed"
    );
}
on_both_backends!(keys_generate_refuses_while_the_master_keys_come_from_the_environment);
