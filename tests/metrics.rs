//! `/metrics`: after a scripted session (sign in, add, check, resolve, sync) each family an
//! operator reads is there with the counts the session left, behind its token on the main
//! listener or alone on its own; and no planted secret, credential name or email is in it.

use crate::on_both_backends;
use crate::support::api::{bad_token, Auth};
use crate::support::mcp::{fast_sync, jobs_with, register_for_everyone};
use crate::support::mcp_recorder::RecordingMcpServer;
use crate::support::prometheus::{count, sample, scrape};
use crate::support::{eventually, TestEnv};
use base64::Engine as _;
use credledger_adapters::simulator::SimAccount;
use serde_json::json;

const TOKEN: &str = "metrics-scrape-token-for-tests";
const SECRET: &str = "ntn_CANARYmetricsSecret5e1f";
const NAME: &str = "Canary Name 7f3a";
const ACCOUNT_EMAIL: &str = "canary-account-9b2c@example.org";

const RESOLVE: &str = "mutation($u: String!, $s: String!) { \
    resolveCredential(userId: $u, service: $s, tool: \"search_pages\") { credentialId fields } }";

async fn a_scripted_session_shows_in_every_family(env: TestEnv) {
    let server = env
        .server_with_jobs(
            |s| s.metrics_token = Some(TOKEN.into()),
            jobs_with(fast_sync()),
        )
        .await;
    let url = format!("{}/metrics", server.base);
    let http = &server.http;
    // Only with the token.
    assert_eq!(scrape(http, &url, None).await.0, 401);
    assert_eq!(scrape(http, &url, Some("not-the-token")).await.0, 401);
    let (status, before) = scrape(http, &url, Some(TOKEN)).await;
    assert_eq!(status, 200, "{before}");

    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register_for_everyone(&server, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    server.simulator.accept(
        "notion",
        SECRET,
        SimAccount::new("acct-canary", "Canary Account", ACCOUNT_EMAIL),
    );
    let id = alice.add("notion", NAME, json!({ "token": SECRET })).await;
    eventually("the copy on the MCP server", || async {
        recorder.credentials().len() == 1
    })
    .await;
    alice
        .ok(
            "mutation($id: ID!) { revalidateCredential(id: $id) { result } }",
            json!({ "id": id }),
        )
        .await;
    let refused = alice
        .ok(
            "mutation($f: JSON!) { testCredential(service: \"notion\", fields: $f) { result } }",
            json!({ "f": bad_token() }),
        )
        .await;
    assert_eq!(refused["testCredential"]["result"], "INVALID");
    // A document refused before execution.
    assert_eq!(
        alice.gql("{ credentials(", json!({})).await.code(),
        "VALIDATION"
    );
    let token = crate::support::mcp::operator_token(&server, "gw").await;
    let gateway = admin.with_auth(Auth::Bearer(token));
    let resolved = gateway
        .ok(RESOLVE, json!({ "u": "alice", "s": "notion" }))
        .await;
    assert_eq!(resolved["resolveCredential"]["credentialId"], id);

    let settled = |text: &str| {
        sample(text, "credledger_mcp_deliveries_total", &[("server", "gw")]).is_some()
            && sample(text, "credledger_mcp_backlog", &[("server", "gw")]) == Some(0.0)
            && sample(text, "credledger_job_runs_total", &[("job", "revalidate")]).is_some()
            && sample(text, "credledger_job_runs_total", &[("job", "expiry")]).is_some()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let text = scrape(http, &url, Some(TOKEN)).await.1;
        if settled(&text) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never settled:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The same plain query again is answered from memory (unless a write came in between):
    // each answer is counted once, executed or reused.
    let dashboard = "{ dashboard { total active } credentials { id status } }";
    for _ in 0..3 {
        alice.ok(dashboard, json!({})).await;
    }
    // A lease of one credential's refresh (one row each, kept once released), beside the MCP
    // server's registration lease: neither is a series.
    let pool = env.any_pool().await;
    sqlx::query(
        "INSERT INTO leases (name, holder, expires_at) \
         VALUES ('oauth-refresh:planted', 'someone', '2999-01-01T00:00:00Z')",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let text = scrape(http, &url, Some(TOKEN)).await.1;
    let leases: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("credledger_lease_held{"))
        .collect();
    assert_eq!(leases.len(), 3, "{leases:?}");
    for lease in ["revalidate", "expiry", "mcp_sync"] {
        assert!(
            sample(&text, "credledger_lease_held", &[("lease", lease)]).is_some(),
            "{leases:?}"
        );
    }
    let delta = |name: &str, labels: &[(&str, &str)]| {
        count(&text, name, labels) - sample(&before, name, labels).unwrap_or(0.0)
    };

    // GraphQL root fields by name, type and outcome, with their latency.
    let ops = "credledger_graphql_operations_total";
    let ok = |field: &'static str, kind: &'static str| {
        [("field", field), ("type", kind), ("outcome", "ok")]
    };
    assert_eq!(delta(ops, &ok("login", "mutation")), 2.0);
    assert_eq!(delta(ops, &ok("addCredential", "mutation")), 1.0);
    assert_eq!(delta(ops, &ok("revalidateCredential", "mutation")), 1.0);
    assert_eq!(delta(ops, &ok("testCredential", "mutation")), 1.0);
    assert_eq!(delta(ops, &ok("resolveCredential", "mutation")), 1.0);
    assert_eq!(
        delta(ops, &[("field", "refused"), ("outcome", "VALIDATION")]),
        1.0
    );
    let reused = delta("credledger_graphql_answers_reused_total", &[]);
    assert!(reused >= 1.0, "{reused}");
    assert_eq!(delta(ops, &ok("dashboard", "query")) + reused, 3.0);
    let latency = "credledger_graphql_operation_duration_seconds_count";
    assert_eq!(delta(latency, &[("field", "addCredential")]), 1.0);
    assert!(text.contains("# TYPE credledger_graphql_operation_duration_seconds histogram"));

    // Provider checks by service and outcome: the add and the recheck, and the refused test.
    let checks = "credledger_provider_checks_total";
    assert_eq!(
        delta(checks, &[("service", "notion"), ("outcome", "valid")]),
        2.0
    );
    assert_eq!(
        delta(checks, &[("service", "notion"), ("outcome", "invalid")]),
        1.0
    );
    assert_eq!(
        delta(
            "credledger_provider_check_duration_seconds_count",
            &[("service", "notion")]
        ),
        3.0
    );

    // MCP sync: the copy created, then updated to the rechecked version; nothing waiting.
    assert_eq!(
        delta(
            "credledger_mcp_deliveries_total",
            &[("server", "gw"), ("outcome", "synced")]
        ),
        2.0
    );
    assert_eq!(
        count(&text, "credledger_mcp_backlog", &[("server", "gw")]),
        0.0
    );
    assert_eq!(
        count(
            &text,
            "credledger_mcp_oldest_pending_seconds",
            &[("server", "gw")]
        ),
        0.0
    );

    // The feed: the head, and each consumer's position and lag adding up to it.
    let head = count(&text, "credledger_ledger_head_position", &[]);
    assert!(head > 0.0);
    for consumer in ["credential_summary", "audit_trail"] {
        let position = count(
            &text,
            "credledger_consumer_position",
            &[("consumer", consumer)],
        );
        let lag = count(
            &text,
            "credledger_consumer_lag_events",
            &[("consumer", consumer)],
        );
        assert!(position > 0.0, "{consumer}");
        assert_eq!(position + lag, head, "{consumer}");
    }

    // Group commits: at least one, no more events than the ledger holds.
    let commits = delta("credledger_group_commit_events_count", &[]);
    let events = delta("credledger_group_commit_events_sum", &[]);
    assert!(
        commits >= 1.0 && events >= commits && events <= head,
        "{commits} {events} {head}"
    );
    assert!(delta("credledger_group_commit_duration_seconds_count", &[]) >= 1.0);

    // Jobs: each ran once, at start (maybe before the first scrape); its lease is let go
    // after the run.
    for job in ["revalidate", "expiry"] {
        assert_eq!(
            count(
                &text,
                "credledger_job_runs_total",
                &[("job", job), ("outcome", "completed")]
            ),
            1.0,
            "{job}"
        );
        // Served at 0 before any run ended so: an alert on a rate needs the series first.
        assert_eq!(
            sample(
                &text,
                "credledger_job_runs_total",
                &[("job", job), ("outcome", "stopped")]
            ),
            Some(0.0),
            "{job}"
        );
        assert_eq!(
            count(&text, "credledger_lease_held", &[("lease", job)]),
            0.0
        );
        // When that run started, as the lease's row says: served at the first scrape though
        // the run may have ended before it.
        let pool = env.any_pool().await;
        let stamp: String = sqlx::query_scalar("SELECT last_run_at FROM leases WHERE name = $1")
            .bind(job)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        let started = chrono::DateTime::parse_from_rfc3339(&stamp).unwrap();
        let shown = count(
            &text,
            "credledger_job_last_completed_timestamp_seconds",
            &[("job", job)],
        );
        assert!(
            (shown - started.timestamp_millis() as f64 / 1000.0).abs() < 0.001,
            "{job}: {shown} against {stamp}"
        );
    }

    // The process.
    assert!(count(&text, "process_resident_memory_bytes", &[]) > 0.0);
    assert!(sample(&text, "process_cpu_seconds_total", &[]).is_some());

    // Every family the operators' page and the Grafana dashboard name is served.
    for doc in ["docs/operations.md", "docs/grafana-dashboard.json"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(doc);
        let words = std::fs::read_to_string(path).unwrap();
        let named: std::collections::BTreeSet<&str> = words
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| {
                ["credledger_", "process_"]
                    .iter()
                    .any(|p| w.starts_with(p) && w.len() > p.len())
            })
            .collect();
        assert!(named.len() > 10, "{doc}: {named:?}");
        for name in named {
            let family = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{doc} names {name}, which /metrics does not serve"
            );
        }
    }

    // No secret (raw, in Basic, URL- or base64-encoded), credential name or email.
    let b64 = base64::engine::general_purpose::STANDARD;
    for canary in [
        SECRET.to_owned(),
        b64.encode(SECRET),
        b64.encode(format!("{ACCOUNT_EMAIL}:{SECRET}")),
        NAME.to_owned(),
        NAME.replace(' ', "%20"),
        "Canary".to_owned(),
        ACCOUNT_EMAIL.to_owned(),
        "alice@example.com".to_owned(),
        "root@example.com".to_owned(),
        "@example".to_owned(),
    ] {
        assert!(!text.contains(&canary), "{canary} in the metrics");
    }
}
on_both_backends!(a_scripted_session_shows_in_every_family);

/// On its own address `/metrics` needs no token, and the main listener then has none.
async fn on_its_own_listener_metrics_need_no_token_and_the_main_listener_has_none(env: TestEnv) {
    let server = env
        .server_with(|s| s.metrics_listen = Some("127.0.0.1:0".into()))
        .await;
    let at = server.running.metrics_address.expect("a metrics listener");
    let (status, text) = scrape(&server.http, &format!("http://{at}/metrics"), None).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        sample(&text, "credledger_ledger_head_position", &[]).is_some(),
        "{text}"
    );
    let main = scrape(&server.http, &format!("{}/metrics", server.base), None).await;
    assert_eq!(main.0, 404);
    // Only /metrics there.
    assert_eq!(
        scrape(&server.http, &format!("http://{at}/graphql"), None)
            .await
            .0,
        404
    );
}
on_both_backends!(on_its_own_listener_metrics_need_no_token_and_the_main_listener_has_none);

/// This process's resident memory, in bytes (Linux).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// The recorder keeps every histogram sample until something folds it into its buckets: with
/// nobody scraping `/metrics`, the upkeep must, or an instance grows by every request it
/// answers (4 million samples keep about 33 MB when nothing folds them). Measured on the
/// process's resident memory: nextest runs each test in a process of its own.
#[tokio::test]
async fn histogram_samples_are_folded_while_nobody_scrapes() {
    credledger::metrics::handle();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let upkeep = tokio::spawn(credledger::metrics::keep_up(
        std::time::Duration::from_millis(5),
        stopped,
    ));
    let before = resident_bytes();
    for _ in 0..40 {
        for _ in 0..100_000 {
            metrics::histogram!(credledger::metrics::GRAPHQL_DURATION, "field" => "probe", "type" => "query")
                .record(0.001);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let grown = resident_bytes().saturating_sub(before);
    stop.send(true).unwrap();
    upkeep.await.unwrap();
    assert!(
        grown < 12 << 20,
        "4 million histogram samples grew the process by {} MB",
        grown >> 20
    );
}
