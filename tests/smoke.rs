use crate::on_both_backends;
use crate::support::{dump_table, register, TestEnv};

async fn a_registered_credential_shows_in_the_summary_and_the_chain_verifies(env: TestEnv) {
    let ledger = env.ledger().await;
    let id = register(&ledger, "alice", "notion", "Work", r#"{"token":"t-1"}"#)
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let out = env.cli().args(["ledger", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

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
    assert!(!dump_table(&pool, "_sqlx_migrations", "version")
        .await
        .is_empty());
}

on_both_backends!(a_registered_credential_shows_in_the_summary_and_the_chain_verifies);

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
