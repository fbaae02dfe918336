//! SQL statements per request stay constant in the number of credentials (no N+1): counted
//! from sqlx's own statement log, per request id.

use crate::on_both_backends;
use crate::support::TestEnv;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Statements seen per GraphQL request id.
fn counts() -> &'static Mutex<HashMap<String, usize>> {
    static COUNTS: OnceLock<Mutex<HashMap<String, usize>>> = OnceLock::new();
    COUNTS.get_or_init(Default::default)
}

struct RequestId(String);

struct StatementCounter;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for StatementCounter {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "graphql" {
            return;
        }
        struct Find(Option<String>);
        impl Visit for Find {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "request_id" {
                    self.0 = Some(format!("{value:?}"));
                }
            }
        }
        let mut find = Find(None);
        attrs.record(&mut find);
        if let (Some(rid), Some(span)) = (find.0, ctx.span(id)) {
            span.extensions_mut().insert(RequestId(rid));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !event.metadata().target().starts_with("sqlx::query") {
            return;
        }
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(rid) = span.extensions().get::<RequestId>() {
                    *counts().lock().unwrap().entry(rid.0.clone()).or_default() += 1;
                    return;
                }
            }
        }
    }
}

fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let filter = tracing_subscriber::filter::filter_fn(|m| {
            m.target().starts_with("sqlx::query") || m.name() == "graphql"
        });
        let subscriber = tracing_subscriber::registry().with(StatementCounter.with_filter(filter));
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

async fn statements_for(client: &crate::support::api::Client) -> usize {
    let answer = client
        .gql(
            "{ credentials { id name status isPrimary account { id } metadata lastValidatedAt } \
               dashboard { total active byService { service counts { total } } } }",
            json!({}),
        )
        .await;
    answer.data();
    let rid = answer.header("x-request-id").unwrap().to_owned();
    counts().lock().unwrap().get(&rid).copied().unwrap_or(0)
}

async fn the_dashboard_costs_the_same_statements_for_5_and_50_credentials(env: TestEnv) {
    install();
    let server = env.server_with(|s| s.validations_per_minute = 1000).await;
    let alice = server.user("alice").await;
    let services = ["notion", "jira", "todoist", "confluence"];
    let mut added = 0;
    let mut add_until = |target: usize| {
        let (server, alice) = (&server, &alice);
        let start = added;
        added = target;
        async move {
            for n in start..target {
                let service = services[n % services.len()];
                let demo = &server.simulator.demo_credentials();
                let base = demo.iter().find(|d| d.service == service).unwrap();
                // A distinct upstream account per credential.
                let secret_field = base
                    .fields
                    .keys()
                    .find(|k| ["token", "api_token"].contains(&k.as_str()))
                    .unwrap()
                    .clone();
                let secret = format!("{}-{n}", base.fields[&secret_field]);
                let mut account = base.account.clone();
                account.id = format!("{}-{n}", account.id);
                server.simulator.accept(service, &secret, account);
                let mut fields = base.fields.clone();
                fields.insert(secret_field, secret);
                alice
                    .add(
                        service,
                        &format!("cred {n}"),
                        serde_json::to_value(&fields).unwrap(),
                    )
                    .await;
            }
        }
    };
    add_until(5).await;
    let five = statements_for(&alice).await;
    assert!(five > 0, "no statement counted: is sqlx logging on?");
    add_until(50).await;
    let fifty = statements_for(&alice).await;
    assert_eq!(
        alice.ok("{ credentials { id } }", json!({})).await["credentials"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
    assert_eq!(five, fifty, "statements for 5 credentials vs 50");
    server.running.stop().await.unwrap();
}
on_both_backends!(the_dashboard_costs_the_same_statements_for_5_and_50_credentials);

/// A change to one of the client's credentials.
async fn rename(client: &crate::support::api::Client, id: &str) {
    client
        .ok(
            "mutation($id: ID!) { updateCredential(id: $id, input: {name: \"Renamed\"}) \
             { credential { id } } }",
            json!({"id": id}),
        )
        .await;
}

/// Asked again with nothing changed, the same request is answered from memory: no statement
/// runs for it. A change makes the next one read again.
async fn a_repeated_dashboard_runs_no_statement_until_something_changes(env: TestEnv) {
    install();
    let server = env.server().await;
    let alice = server.user("alice").await;
    let id = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    assert!(statements_for(&alice).await > 0, "the first answer is read");
    assert_eq!(statements_for(&alice).await, 0, "the same answer again");
    rename(&alice, &id).await;
    assert!(
        statements_for(&alice).await > 0,
        "read again after a change"
    );
    assert_eq!(statements_for(&alice).await, 0);
    // Someone else's change leaves her answer as it was.
    let bob = server.user("bob").await;
    bob.add("notion", "Bob's", server.good_fields("notion", 1))
        .await;
    assert_eq!(statements_for(&alice).await, 0, "bob's change is not hers");
    server.running.stop().await.unwrap();
}
on_both_backends!(a_repeated_dashboard_runs_no_statement_until_something_changes);

/// Identical requests arriving together after a change are answered by reading once: the
/// first reads and remembers, the others wait for its answer instead of reading beside it.
/// PostgreSQL only: there a transaction can hold the reads back (`LOCK TABLE`) until every
/// request has arrived; SQLite's readers never wait for a lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identical_dashboards_asked_together_after_a_change_are_read_once() {
    use sqlx::{Connection as _, Executor as _};
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    install();
    let server = env.server().await;
    let alice = server.user("alice").await;
    let id = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    assert!(statements_for(&alice).await > 0, "the first answer is read");
    rename(&alice, &id).await;

    let url = env.database_url.as_deref().unwrap();
    let mut hold = sqlx::PgConnection::connect(url).await.unwrap();
    hold.execute("BEGIN").await.unwrap();
    hold.execute("LOCK TABLE credential_summary, dashboard_stats IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let together = tokio::spawn({
        let alice = alice.clone();
        async move { futures::future::join_all((0..16).map(|_| statements_for(&alice))).await }
    });
    let watch = sqlx::PgPool::connect(url).await.unwrap();
    crate::support::eventually("a request waits for the held tables", || {
        let watch = watch.clone();
        async move {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_locks WHERE NOT granted AND relation IN \
                 ('credential_summary'::regclass, 'dashboard_stats'::regclass) AND database = \
                 (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .fetch_one(&watch)
            .await
            .unwrap();
            waiting > 0
        }
    })
    .await;
    // Time for the other fifteen to arrive (each is either reading, held by the lock, or
    // waiting for the first one's answer); one arriving later is answered from memory anyway.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    hold.execute("COMMIT").await.unwrap();
    let together = together.await.unwrap();
    let read = together.iter().filter(|&&n| n > 0).count();
    assert_eq!(read, 1, "requests that read: {together:?}");
    server.running.stop().await.unwrap();
}
