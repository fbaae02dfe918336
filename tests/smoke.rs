use crate::on_both_backends;
use crate::support::{register, TestEnv};

async fn a_registered_credential_shows_in_the_summary_and_the_chain_verifies(env: TestEnv) {
    let ledger = env.ledger().await;
    register(&ledger, "alice", "notion", "Work", r#"{"token":"t-1"}"#)
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let out = env.cli().args(["ledger", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

on_both_backends!(
    smoke,
    a_registered_credential_shows_in_the_summary_and_the_chain_verifies
);
