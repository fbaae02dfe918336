//! A committed command is answered with what it committed, even while the read models lag.

use crate::on_both_backends;
use crate::support::{eventually, TestEnv};
use credledger_adapters::Backend;
use serde_json::{json, Value};

const FIELDS: &str = "id owner service name status isPrimary account { id displayName email } \
    metadata providerMetadata scopes secretVersion lastValidatedAt validationError lastUsedAt \
    useCount tokenExpiresAt ledgerVersion createdAt createdBy updatedAt updatedBy";

async fn listed(c: &crate::support::api::Client) -> Vec<Value> {
    let data = c
        .ok(
            &format!("{{ credentials(service: \"notion\") {{ {FIELDS} }} }}"),
            json!({}),
        )
        .await;
    data["credentials"].as_array().unwrap().clone()
}

/// Holds the `credential_summary` read model back until released. On PostgreSQL a transaction
/// holds its checkpoint row, so it cannot apply anything while commands go on committing. SQLite
/// has one writer, so holding the read model's transaction would hold the commands too: there
/// triggers refuse every write to its table, so each of its batches fails, is rolled back and is
/// tried again (the runner never skips one) until the triggers are dropped.
enum Hold {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::AnyPool),
}

const HELD_WRITES: [&str; 3] = ["INSERT", "UPDATE", "DELETE"];

impl Hold {
    async fn start(env: &TestEnv) -> Self {
        use sqlx::{Connection as _, Executor as _};
        match env.backend {
            Backend::Postgres => {
                let mut hold = sqlx::PgConnection::connect(env.database_url.as_deref().unwrap())
                    .await
                    .unwrap();
                hold.execute("BEGIN").await.unwrap();
                hold.execute(
                    "SELECT position FROM projection_checkpoints \
                     WHERE name = 'credential_summary' FOR UPDATE",
                )
                .await
                .unwrap();
                Hold::Postgres(hold)
            }
            Backend::Sqlite => {
                let pool = env.any_pool().await;
                for write in HELD_WRITES {
                    sqlx::query(&format!(
                        "CREATE TRIGGER held_{write} BEFORE {write} ON credential_summary \
                         BEGIN SELECT RAISE(ABORT, 'held back by the test'); END"
                    ))
                    .execute(&pool)
                    .await
                    .unwrap();
                }
                Hold::Sqlite(pool)
            }
        }
    }

    async fn release(self) {
        use sqlx::Executor as _;
        match self {
            Hold::Postgres(mut hold) => {
                hold.execute("ROLLBACK").await.unwrap();
            }
            Hold::Sqlite(pool) => {
                for write in HELD_WRITES {
                    sqlx::query(&format!("DROP TRIGGER held_{write}"))
                        .execute(&pool)
                        .await
                        .unwrap();
                }
            }
        }
    }
}

on_both_backends!(
    commands_are_answered_with_what_they_committed_while_the_read_models_are_held_back
);
async fn commands_are_answered_with_what_they_committed_while_the_read_models_are_held_back(
    env: TestEnv,
) {
    let server = env.server_with(|s| s.read_your_writes_ms = 500).await;
    let alice = server.user("alice").await;
    let work = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;

    let hold = Hold::start(&env).await;

    let added = alice
        .ok(
            &format!("mutation($i: AddCredentialInput!) {{ addCredential(input: $i) {{ credential {{ {FIELDS} }} }} }}"),
            json!({"i": {"service": "notion", "name": "Home", "fields": server.good_fields("notion", 1)}}),
        )
        .await;
    let home = &added["addCredential"]["credential"];
    assert_eq!(home["name"], "Home");
    assert_eq!(home["status"], "ACTIVE");
    assert_eq!(home["isPrimary"], false);
    let home = home["id"].as_str().unwrap().to_owned();

    let renamed = alice
        .ok(
            "mutation($id: ID!) { updateCredential(id: $id, input: {name: \"Work, renamed\"}) { credential { id name isPrimary } } }",
            json!({"id": work}),
        )
        .await;
    assert_eq!(
        renamed["updateCredential"]["credential"]["name"],
        "Work, renamed"
    );
    assert_eq!(renamed["updateCredential"]["credential"]["isPrimary"], true);

    let primary = alice
        .ok(
            "mutation($id: ID!) { setPrimaryCredential(id: $id) { id name isPrimary } }",
            json!({"id": home}),
        )
        .await;
    assert_eq!(primary["setPrimaryCredential"]["isPrimary"], true);
    assert_eq!(primary["setPrimaryCredential"]["name"], "Home");

    let revoked = alice
        .ok(
            "mutation($id: ID!) { revokeCredential(id: $id) { id name status isPrimary } }",
            json!({"id": work}),
        )
        .await;
    assert_eq!(revoked["revokeCredential"]["status"], "REVOKED");
    assert_eq!(revoked["revokeCredential"]["name"], "Work, renamed");
    assert_eq!(revoked["revokeCredential"]["isPrimary"], false);

    let deleted = alice
        .ok(
            &format!("mutation($id: ID!) {{ deleteCredential(id: $id) {{ deletedId newPrimary {{ {FIELDS} }} }} }}"),
            json!({"id": work}),
        )
        .await;
    assert_eq!(deleted["deleteCredential"]["deletedId"], work.as_str());
    let new_primary = deleted["deleteCredential"]["newPrimary"].clone();
    assert_eq!(new_primary["id"], home.as_str());
    assert_eq!(new_primary["isPrimary"], true);

    // The read model really was held back: it still shows the credentials as they were.
    let stale = listed(&alice).await;
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0]["name"], "Work");
    assert_eq!(stale[0]["status"], "ACTIVE");

    hold.release().await;
    // What the last answer said of the new primary is what the read model comes to say (it
    // may apply the held-back events in more than one batch).
    eventually(
        "the read model to show what the last answer said",
        || async { listed(&alice).await == [new_primary.clone()] },
    )
    .await;
}
