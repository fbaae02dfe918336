//! Ciphertexts and wrapped data keys are bound to what they belong to: a flipped bit, a
//! ciphertext moved to another credential or version, or a wrapped key moved to another row gives
//! a typed error naming the credential — never a panic, never someone else's secret.

use crate::on_both_backends;
use crate::support::chain::Tamper;
use crate::support::{keyring_id, meta, register, TestEnv};
use base64::Engine as _;
use credledger::{Ledger, LedgerError};
use credledger_adapters::crypto::KeyError;
use credledger_adapters::keystore::KeyStoreError;
use credledger_domain::{CredentialId, SealedSecret};
use sqlx::Row;

const B64: base64::engine::general_purpose::GeneralPurpose =
    base64::engine::general_purpose::STANDARD;

/// Format byte, DEK id, nonce: the header in front of a sealed secret's AES-GCM body.
const DEK_ID_BYTES: std::ops::Range<usize> = 1..17;
const HEADER_LEN: usize = 1 + 16 + 12;

/// The sealed secret (and its version) of a live credential, from the keyring's state.
async fn sealed(
    ledger: &Ledger,
    user: &str,
    service: &str,
    id: CredentialId,
) -> (SealedSecret, u32) {
    let keyring = ledger.keyring(&keyring_id(user, service)).await.unwrap();
    let c = keyring.credential(id).expect("the credential is live");
    (c.secret.clone(), c.secret_version)
}

fn token(fields: &credledger_domain::SecretFields) -> String {
    fields.get("token").unwrap().expose().to_owned()
}

/// Asserts a typed crypto error about `id` whose message names it, and returns the cause.
fn crypto_error_about(
    result: Result<credledger_domain::SecretFields, KeyStoreError>,
    id: CredentialId,
) -> KeyError {
    let err = match result {
        Ok(_) => panic!("tampered or misplaced data decrypted for {id}"),
        Err(e) => e,
    };
    assert!(
        err.to_string().contains(&id.to_string()),
        "the error must name the credential: {err}"
    );
    match err {
        KeyStoreError::Crypto { credential, source } => {
            assert_eq!(credential, id);
            source
        }
        other => panic!("expected KeyStoreError::Crypto for {id}, got {other:?}"),
    }
}

async fn every_flipped_bit_of_a_ciphertext_gives_a_typed_error_naming_the_credential(env: TestEnv) {
    let ledger = env.ledger().await;
    let id = register(
        &ledger,
        "alice",
        "notion",
        "Work",
        r#"{"token":"secret_flip"}"#,
    )
    .await
    .unwrap();
    let (secret, version) = sealed(&ledger, "alice", "notion", id).await;
    // The untouched ciphertext opens: the failures below are the flips' doing.
    let fields = ledger.keys.open(id, version, &secret).await.unwrap();
    assert_eq!(token(&fields), "secret_flip");

    let blob = B64.decode(&secret.ciphertext).unwrap();
    assert!(blob.len() > HEADER_LEN + 16);
    for i in 0..blob.len() {
        let mut tampered = blob.clone();
        tampered[i] ^= 1 << (i % 8);
        let sealed = SealedSecret {
            dek_id: secret.dek_id,
            ciphertext: B64.encode(&tampered),
        };
        let cause = crypto_error_about(ledger.keys.open(id, version, &sealed).await, id);
        let expected = match i {
            0 => KeyError::UnsupportedFormat(blob[0] ^ 1),
            i if DEK_ID_BYTES.contains(&i) => KeyError::DekMismatch,
            _ => KeyError::DecryptionFailed,
        };
        assert_eq!(cause, expected, "byte {i}");
    }
}

async fn a_flipped_byte_of_a_ciphertext_in_the_database_makes_reveal_fail_naming_the_credential(
    env: TestEnv,
) {
    let ledger = env.ledger().await;
    let id = register(
        &ledger,
        "alice",
        "notion",
        "Work",
        r#"{"token":"secret_db"}"#,
    )
    .await
    .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let pool = env.any_pool().await;
    let position: i64 = sqlx::query(
        "SELECT global_position FROM events WHERE aggregate_id = 'alice:notion' \
         AND event_type = 'CredentialRegistered'",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
    .try_get("global_position")
    .unwrap();

    let mut t = Tamper::open(&env, &pool).await;
    let payload: serde_json::Value =
        serde_json::from_str(&t.text("payload", position).await).unwrap();
    let stored = payload["CredentialRegistered"]["secret"]["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut blob = B64.decode(&stored).unwrap();
    let last = blob.len() - 1;
    blob[last] ^= 0x80; // a bit of the authentication tag
    t.edit_json("payload", position, &stored, &B64.encode(&blob))
        .await;
    t.finish().await;

    // A process started after the tampering reads the stored event (a running one keeps the
    // stream state it already read, which is not what this test is about).
    let ledger = env.ledger().await;
    let err = ledger
        .reveal("alice", &id.to_string(), &meta("alice"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "INTERNAL");
    match &err {
        LedgerError::Internal(detail) => {
            assert!(detail.contains(&id.to_string()), "{detail}");
            assert!(detail.contains("decryption failed"), "{detail}");
        }
        other => panic!("expected LedgerError::Internal, got {other:?}"),
    }
    // What people see says nothing of the detail (and nothing secret).
    assert!(!err.to_string().contains("secret_db"));
}

async fn a_ciphertext_moved_to_another_credential_or_version_does_not_decrypt(env: TestEnv) {
    let ledger = env.ledger().await;
    let a = register(&ledger, "alice", "notion", "A", r#"{"token":"secret_a"}"#)
        .await
        .unwrap();
    let b = register(&ledger, "alice", "notion", "B", r#"{"token":"secret_b"}"#)
        .await
        .unwrap();
    let (sealed_a, version_a) = sealed(&ledger, "alice", "notion", a).await;
    let (sealed_b, version_b) = sealed(&ledger, "alice", "notion", b).await;
    assert_eq!(
        token(&ledger.keys.open(b, version_b, &sealed_b).await.unwrap()),
        "secret_b"
    );

    // B's ciphertext presented as A's: it names B's data key.
    let cause = crypto_error_about(ledger.keys.open(a, version_b, &sealed_b).await, a);
    assert_eq!(cause, KeyError::DekMismatch);

    // The same, with the header rewritten to name A's data key: authentication fails.
    let mut blob = B64.decode(&sealed_b.ciphertext).unwrap();
    let blob_a = B64.decode(&sealed_a.ciphertext).unwrap();
    blob[DEK_ID_BYTES].copy_from_slice(&blob_a[DEK_ID_BYTES]);
    let relabelled = SealedSecret {
        dek_id: sealed_a.dek_id,
        ciphertext: B64.encode(&blob),
    };
    let cause = crypto_error_about(ledger.keys.open(a, version_a, &relabelled).await, a);
    assert_eq!(cause, KeyError::DecryptionFailed);

    // A's own ciphertext presented as another version of A: the AAD binds the version.
    let cause = crypto_error_about(ledger.keys.open(a, version_a + 1, &sealed_a).await, a);
    assert_eq!(cause, KeyError::DecryptionFailed);
}

async fn data_key(pool: &sqlx::AnyPool, id: CredentialId) -> (String, Vec<u8>) {
    let row = sqlx::query("SELECT dek_id, wrapped FROM data_keys WHERE credential_id = $1")
        .bind(id.to_string())
        .fetch_one(pool)
        .await
        .unwrap();
    (
        row.try_get("dek_id").unwrap(),
        row.try_get("wrapped").unwrap(),
    )
}

async fn set_wrapped(pool: &sqlx::AnyPool, id: CredentialId, wrapped: &[u8]) {
    let done = sqlx::query("UPDATE data_keys SET wrapped = $1 WHERE credential_id = $2")
        .bind(wrapped.to_vec())
        .bind(id.to_string())
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

async fn set_dek_id(pool: &sqlx::AnyPool, id: CredentialId, dek_id: &str) {
    let done = sqlx::query("UPDATE data_keys SET dek_id = $1 WHERE credential_id = $2")
        .bind(dek_id.to_owned())
        .bind(id.to_string())
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

async fn a_wrapped_data_key_moved_to_another_credential_does_not_unwrap(env: TestEnv) {
    let ledger = env.ledger().await;
    let a = register(&ledger, "alice", "notion", "A", r#"{"token":"secret_a"}"#)
        .await
        .unwrap();
    let b = register(&ledger, "alice", "notion", "B", r#"{"token":"secret_b"}"#)
        .await
        .unwrap();
    let (sealed_a, version_a) = sealed(&ledger, "alice", "notion", a).await;
    let (sealed_b, version_b) = sealed(&ledger, "alice", "notion", b).await;
    let pool = env.any_pool().await;
    let (dek_a, wrapped_a) = data_key(&pool, a).await;
    let (dek_b, wrapped_b) = data_key(&pool, b).await;

    // B's wrapped key in A's row.
    set_wrapped(&pool, a, &wrapped_b).await;
    let cause = crypto_error_about(ledger.keys.open(a, version_a, &sealed_a).await, a);
    assert_eq!(cause, KeyError::DecryptionFailed);
    assert_eq!(
        token(&ledger.keys.open(b, version_b, &sealed_b).await.unwrap()),
        "secret_b"
    );
    // Put back, A opens again: the failure was the move's doing.
    set_wrapped(&pool, a, &wrapped_a).await;
    assert_eq!(
        token(&ledger.keys.open(a, version_a, &sealed_a).await.unwrap()),
        "secret_a"
    );

    // The two rows' key ids swapped (through a temporary value: dek_id is the primary key).
    set_dek_id(&pool, a, "swap-in-progress").await;
    set_dek_id(&pool, b, &dek_a).await;
    set_dek_id(&pool, a, &dek_b).await;
    let cause = crypto_error_about(ledger.keys.open(a, version_a, &sealed_a).await, a);
    assert_eq!(cause, KeyError::DecryptionFailed);
    let cause = crypto_error_about(ledger.keys.open(b, version_b, &sealed_b).await, b);
    assert_eq!(cause, KeyError::DecryptionFailed);
}

async fn a_secret_stays_readable_after_a_restart(env: TestEnv) {
    let ledger = env.ledger().await;
    let id = register(
        &ledger,
        "alice",
        "notion",
        "Work",
        r#"{"token":"secret_restart"}"#,
    )
    .await
    .unwrap();
    ledger.projections.catch_up().await.unwrap();
    ledger.db.close().await;
    drop(ledger);

    let reopened = env.ledger().await;
    let fields = reopened
        .reveal("alice", &id.to_string(), &meta("alice"))
        .await
        .unwrap();
    assert_eq!(token(&fields), "secret_restart");
}

on_both_backends!(every_flipped_bit_of_a_ciphertext_gives_a_typed_error_naming_the_credential);
on_both_backends!(
    a_flipped_byte_of_a_ciphertext_in_the_database_makes_reveal_fail_naming_the_credential
);
on_both_backends!(a_ciphertext_moved_to_another_credential_or_version_does_not_decrypt);
on_both_backends!(a_wrapped_data_key_moved_to_another_credential_does_not_unwrap);
on_both_backends!(a_secret_stays_readable_after_a_restart);
