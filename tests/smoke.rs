//! The smallest whole-system checks: a credential goes in and the chain verifies, `migrate`
//! applies exactly the migrations in the tree, and a new data directory is private.

use crate::on_both_backends;
use crate::support::{assert_success, dump_table, register, TestEnv};
use credledger_adapters::Backend;
use sqlx::Row;
use std::path::Path;

async fn a_registered_credential_shows_in_the_summary_and_the_chain_verifies(env: TestEnv) {
    let ledger = env.ledger().await;
    let id = register(&ledger, "alice", "notion", "Work", r#"{"token":"t-1"}"#)
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let out = env.cli().args(["ledger", "verify"]).output().unwrap();
    assert_success(&out, "ledger verify");

    // The dump helper reads every table of either backend, whatever its column types.
    let pool = env.any_pool().await;
    let summary = dump_table(&pool, "credential_summary", "credential_id").await;
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0][0].as_deref(), Some(id.to_string().as_str()));
    let events = dump_table(&pool, "events", "global_position").await;
    assert_eq!(events.len(), 1);
    assert!(events[0]
        .iter()
        .flatten()
        .any(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit())));
}

on_both_backends!(a_registered_credential_shows_in_the_summary_and_the_chain_verifies);

/// The migrations in `migrations/<backend>`, read from the directory now, as sqlx names them
/// from their files `<version>_<description>.sql`: (version, description with spaces).
fn migration_files(backend: Backend) -> Vec<(i64, String)> {
    let folder = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(folder);
    let mut files: Vec<(i64, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .map(|name| {
            let stem = name
                .strip_suffix(".sql")
                .unwrap_or_else(|| panic!("{name} in {} is not a .sql file", dir.display()));
            let (version, description) = stem
                .split_once('_')
                .unwrap_or_else(|| panic!("{name} is not <version>_<description>.sql"));
            (version.parse().unwrap(), description.replace('_', " "))
        })
        .collect();
    files.sort();
    files
}

/// `credledger migrate` applies exactly the backend's migration files, no more, none left out,
/// each marked successful; run again, it changes nothing.
async fn migrate_applies_exactly_the_backends_migration_files_each_successfully(env: TestEnv) {
    let files = migration_files(env.backend);
    assert!(!files.is_empty());
    let applied = || async {
        let pool = env.any_pool().await;
        let rows = sqlx::query(
            "SELECT version, description, CAST(CASE WHEN success THEN 1 ELSE 0 END AS BIGINT) AS ok \
             FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        rows.iter()
            .map(|r| {
                let ok: i64 = r.try_get("ok").unwrap();
                (
                    r.try_get("version").unwrap(),
                    r.try_get("description").unwrap(),
                    ok == 1,
                )
            })
            .collect::<Vec<(i64, String, bool)>>()
    };
    let expected: Vec<(i64, String, bool)> = files.into_iter().map(|(v, d)| (v, d, true)).collect();

    for run in ["first", "second"] {
        let out = env.cli().arg("migrate").output().unwrap();
        assert_success(&out, &format!("the {run} `credledger migrate`"));
        assert_eq!(applied().await, expected, "after the {run} run");
    }
}

on_both_backends!(migrate_applies_exactly_the_backends_migration_files_each_successfully);

#[test]
fn a_data_directory_created_by_credledger_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = std::process::Command::new(crate::support::BIN)
        .args(["migrate"])
        .env_clear()
        .env("CREDLEDGER_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

/// Settings no one could mean are refused by name before anything is done (each was taken
/// silently: `/readyz` never ready, loopback left off for `2`, every OAuth token refreshed at
/// every pass, a key line the keyring refuses).
#[test]
fn settings_no_one_could_mean_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let run = |vars: &[(&str, &str)], args: &[&str]| {
        let mut cmd = std::process::Command::new(crate::support::BIN);
        cmd.args(args)
            .env_clear()
            .env("CREDLEDGER_DATA_DIR", dir.path().join("data"));
        for (name, value) in vars {
            cmd.env(name, value);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for (name, value, says) in [
        (
            "CREDLEDGER_READY_MAX_LAG",
            "-1",
            "CREDLEDGER_READY_MAX_LAG must be 0 or more",
        ),
        (
            "CREDLEDGER_OUTBOUND_ALLOW_LOOPBACK",
            "2",
            "CREDLEDGER_OUTBOUND_ALLOW_LOOPBACK must be 0 or 1",
        ),
        (
            "CREDLEDGER_OAUTH_REFRESH_MARGIN_SECS",
            "3600",
            "CREDLEDGER_OAUTH_REFRESH_MARGIN_SECS must be at most 1800 seconds",
        ),
        ("CREDLEDGER_DB_CONNECTIONS", "0", "must be at least 1"),
        (
            "CREDLEDGER_VALIDATIONS_PER_MINUTE",
            "0",
            "must be at least 1",
        ),
    ] {
        let (code, stderr) = run(&[(name, value)], &["migrate"]);
        assert_eq!(code, Some(2), "{name}={value}: {stderr}");
        assert!(stderr.contains(says), "{name}={value}: {stderr}");
    }
    let (code, stderr) = run(&[], &["keys", "generate", "--print", "--version", "0"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--version"), "{stderr}");

    // Dev mode's administrator has a published password: it is never served beyond loopback.
    let mut dev = std::process::Command::new(crate::support::BIN)
        .args(["serve", "--dev", "--bind", "0.0.0.0:0"])
        .env_clear()
        .env("CREDLEDGER_DATA_DIR", dir.path().join("dev"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = dev.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            dev.kill().unwrap();
            panic!("`serve --dev` is serving on every address");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut dev.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("listens on loopback only"), "{stderr}");
}

/// Input a person hands the CLI is bounded before it is read whole: a fields file past a
/// megabyte is refused as such (it was read into memory whatever its size, `/dev/zero` until
/// none was left), and `demo seed` over a catalog of no services says so (it divided by zero).
#[test]
fn the_cli_bounds_what_it_is_handed() {
    let dir = tempfile::tempdir().unwrap();
    let run = |vars: &[(&str, &std::path::Path)], args: &[&str]| {
        let mut cmd = std::process::Command::new(crate::support::BIN);
        cmd.args(args)
            .env_clear()
            .env("CREDLEDGER_DATA_DIR", dir.path().join("data"))
            .env("CREDLEDGER_LOG", "error");
        for (name, value) in vars {
            cmd.env(name, value);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let big = dir.path().join("fields.json");
    std::fs::write(&big, format!("{{\"token\":\"{}\"}}", "a".repeat(2 << 20))).unwrap();
    let (code, stderr) = run(
        &[],
        &[
            "credentials",
            "add",
            "--user",
            "alice",
            "--service",
            "notion",
            "--name",
            "Work",
            "--fields-file",
            big.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("larger than a megabyte"), "{stderr}");

    let empty = dir.path().join("catalog.json");
    std::fs::write(&empty, r#"{"services": []}"#).unwrap();
    let (code, stderr) = run(&[("CREDLEDGER_CATALOG", &empty)], &["demo", "seed"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no service"), "{stderr}");
}
