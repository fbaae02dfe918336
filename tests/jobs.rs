//! Scheduled work: leases, revalidation (`serve`'s scheduler and `credentials validate-all`),
//! expiry (marking, the dashboard, the webhook), against the real server, the real binary, the
//! provider simulator and a webhook receiver on loopback.

use crate::on_both_backends;
use crate::support::api::{Client, Server};
use crate::support::{
    accept_events_again, eventually, meta, refuse_events_where, register_with, valid, valid_until,
    TestEnv,
};
use credledger::config::{JobSettings, Settings};
use credledger::jobs::{Leases, EXPIRY, REVALIDATE};
use credledger::{Application, Running};
use credledger_adapters::simulator::{Fault, ProviderSimulator, SimAccount};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// No scheduled work: the test runs the jobs itself.
fn jobs_off() -> JobSettings {
    JobSettings {
        enabled: false,
        ..JobSettings::default()
    }
}

/// Jobs that look every 50 ms whether they are due.
fn jobs_on() -> JobSettings {
    JobSettings {
        poll: Duration::from_millis(50),
        lease_ttl: Duration::from_secs(10),
        ..JobSettings::default()
    }
}

/// The built-in catalog, except that Todoist's check reports an expiry: `expires_in` is read
/// from an optional, non-secret `lifetime` field (seconds), so each credential says when it
/// expires. Services listed in `disabled` are switched off.
fn test_catalog(env: &TestEnv, name: &str, disabled: &[&str]) -> PathBuf {
    let services = serde_json::to_value(credledger_domain::Catalog::builtin().services()).unwrap();
    let mut services = services.as_array().unwrap().clone();
    for s in &mut services {
        if s["key"] == "todoist" {
            s["fields"].as_array_mut().unwrap().push(json!({
                "name": "lifetime", "label": "Token lifetime (seconds)",
                "required": false, "secret": false
            }));
            s["probe"]["expires_in"] = json!("{lifetime}");
        }
        if disabled.contains(&s["key"].as_str().unwrap()) {
            s["enabled"] = json!(false);
        }
    }
    let path = env.dir.path().join(name);
    std::fs::write(&path, json!({ "services": services }).to_string()).unwrap();
    path
}

/// The test environment's settings with the catalog pointed at `simulator`.
fn settings_for(
    env: &TestEnv,
    simulator: &ProviderSimulator,
    catalog: Option<PathBuf>,
) -> Settings {
    let mut settings = env.settings();
    settings.validations_per_minute = 1000;
    settings.catalog_file = catalog;
    for service in settings.catalog().unwrap().services() {
        if service.honours_base_url() {
            settings.provider_urls.insert(
                service.key.to_string(),
                simulator.base_url(service.key.as_str()),
            );
        }
    }
    settings
}

async fn start(settings: Settings, jobs: JobSettings) -> Running {
    Application::build_with_jobs(settings, jobs)
        .await
        .unwrap()
        .start()
        .await
        .unwrap()
}

fn server(running: Running, simulator: ProviderSimulator) -> Server {
    Server {
        base: format!("http://{}", running.address),
        running,
        simulator,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

/// A configuration file for the binary: the same catalog and simulator URLs as `settings`.
fn config_file(env: &TestEnv, settings: &Settings) -> PathBuf {
    let mut text = String::new();
    if let Some(catalog) = &settings.catalog_file {
        text.push_str(&format!(
            "catalog_file = {:?}\n",
            catalog.display().to_string()
        ));
    }
    text.push_str("[provider_urls]\n");
    for (service, url) in &settings.provider_urls {
        text.push_str(&format!("{service} = {url:?}\n"));
    }
    let path = env.dir.path().join("credledger.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Adds a Todoist credential whose secret the simulator accepts for an account of its own.
async fn add_todoist(server: &Server, client: &Client, n: usize, lifetime: Option<u64>) -> String {
    let token = format!("{n:040x}");
    server.simulator.accept(
        "todoist",
        &token,
        SimAccount::new(
            format!("9{n:06}"),
            format!("Person {n}"),
            format!("p{n}@example.test"),
        ),
    );
    let mut fields = json!({ "token": token });
    if let Some(secs) = lifetime {
        fields["lifetime"] = json!(secs.to_string());
    }
    client.add("todoist", &format!("Todoist {n}"), fields).await
}

/// A credential's audit entries (oldest first), with the read models caught up.
async fn audit(
    env: &TestEnv,
    credential: &str,
) -> Vec<credledger_projections::audit_trail::AuditEntry> {
    let ledger = env.ledger().await;
    ledger.projections.catch_up().await.unwrap();
    let entries = credledger_projections::audit_trail::for_credential(&ledger.db.any, credential)
        .await
        .unwrap();
    ledger.db.close().await;
    entries
}

const CHECKS: [&str; 3] = [
    "CredentialValidated",
    "ValidationFailed",
    "ValidationInconclusive",
];

// ---------------------------------------------------------------------------------------------
// Leases

async fn a_lease_is_held_by_one_instance_until_released_or_lapsed(env: TestEnv) {
    let ledger = env.ledger().await;
    let (a, b) = (
        Leases::with_holder(ledger.db.clone(), "instance-a"),
        Leases::with_holder(ledger.db.clone(), "instance-b"),
    );
    let ttl = Duration::from_secs(30);
    let t0 = chrono::Utc::now();
    assert!(a.acquire("job", t0, ttl, None).await.unwrap());
    assert!(!b.acquire("job", t0, ttl, None).await.unwrap(), "held by a");
    assert!(a.renew("job", t0, ttl).await.unwrap());
    assert!(!b.renew("job", t0, ttl).await.unwrap());

    // A completed run makes the job due again only one interval after it started.
    a.release("job", t0, Some(t0)).await.unwrap();
    let state = a.state("job").await.unwrap().unwrap();
    assert_eq!(state.holder, None);
    assert!(state.last_run_at.is_some());
    let hour = chrono::Duration::hours(1);
    assert!(
        !b.acquire("job", t0, ttl, Some(t0 - hour)).await.unwrap(),
        "not due yet"
    );
    let later = t0 + hour;
    assert!(
        b.acquire("job", later, ttl, Some(later - hour))
            .await
            .unwrap(),
        "due"
    );

    // A run stamped by a clock a year ahead leaves the job due, not stopped for a year.
    b.release("job", later, Some(later + chrono::Duration::days(365)))
        .await
        .unwrap();
    assert!(
        a.acquire("job", later, ttl, Some(later - hour))
            .await
            .unwrap(),
        "a run from the future"
    );
    a.release("job", later, Some(t0)).await.unwrap();
    assert!(b.acquire("job", later, ttl, None).await.unwrap());

    // A holder that stops renewing loses the lease once its TTL has passed.
    let lapsed = later + chrono::Duration::seconds(31);
    assert!(!a.acquire("job", later, ttl, None).await.unwrap());
    assert!(a.acquire("job", lapsed, ttl, None).await.unwrap());
    assert!(!b.renew("job", lapsed, ttl).await.unwrap(), "b lost it");
    // An incomplete run leaves the stamp of the last completed one.
    a.release("job", lapsed, None).await.unwrap();
    assert_eq!(
        a.state("job").await.unwrap().unwrap().last_run_at,
        Some(credledger_adapters::db::timestamp(t0))
    );
    ledger.db.close().await;
}
on_both_backends!(a_lease_is_held_by_one_instance_until_released_or_lapsed);

/// A holder whose renewal goes unanswered (the lease's row locked by another transaction on
/// PostgreSQL, this process's writer held on SQLite) is told it may have lost the lease by the
/// time the lease lapses, not never: its job stops rather than run on beside the next holder's.
/// Renewing goes on, so once the database answers again a lease nobody took stays its own.
async fn a_lease_whose_renewal_goes_unanswered_is_reported_lost(env: TestEnv) {
    let ledger = env.ledger().await;
    let leases = Leases::with_holder(ledger.db.clone(), "instance-a");
    let ttl = Duration::from_millis(900);
    let taken = chrono::Utc::now();
    assert!(leases.acquire("job", taken, ttl, None).await.unwrap());
    let pool = env.any_pool().await;
    let mut locked = pool.begin().await.unwrap();
    if env.backend == credledger_adapters::Backend::Postgres {
        sqlx::query("SELECT name FROM leases WHERE name = $1 FOR UPDATE")
            .bind("job")
            .execute(&mut *locked)
            .await
            .unwrap();
    }
    let writer = ledger.db.exclusive().await;
    let mut held = leases.keep("job", taken, ttl);
    tokio::time::timeout(Duration::from_secs(5), held.lost.wait_for(|lost| *lost))
        .await
        .expect("the lost lease was never reported")
        .unwrap();
    drop(writer);
    locked.rollback().await.unwrap();
    // Renewing goes on: past the hold, the lease is ours and live again (polled, not read once
    // at a fixed time: a loaded machine may delay one renewal past its 900 ms).
    let released = chrono::Utc::now();
    eventually("the lease renewed after the hold", || async {
        let state = leases.state("job").await.unwrap().unwrap();
        assert_eq!(state.holder.as_deref(), Some("instance-a"));
        state.expires_at > credledger_adapters::db::timestamp(released + ttl)
    })
    .await;
    drop(held);
    ledger.db.close().await;
}
on_both_backends!(a_lease_whose_renewal_goes_unanswered_is_reported_lost);

/// A process paused past its hold (a frozen VM, a starved runtime) is told its lease may be
/// lost by the clock as soon as it asks, before its renewer has run again to say so: a job
/// (an OAuth refresh about to redeem a rotating token) would otherwise go on beside the
/// instance that took the lease meanwhile. One thread, blocked: the renewer cannot run.
#[test]
fn a_lease_held_past_its_time_is_lost_before_its_renewer_runs() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let env = TestEnv::sqlite().await;
        let ledger = env.ledger().await;
        let leases = Leases::with_holder(ledger.db.clone(), "instance-a");
        let ttl = Duration::from_millis(600);
        let taken = chrono::Utc::now();
        assert!(leases.acquire("job", taken, ttl, None).await.unwrap());
        let held = leases.keep("job", taken, ttl);
        assert!(!held.is_lost());
        std::thread::sleep(ttl);
        assert!(held.is_lost());
        drop(held);
        ledger.db.close().await;
    });
}

async fn of_sixteen_instances_racing_for_a_lease_exactly_one_gets_it(env: TestEnv) {
    let ledger = env.ledger().await;
    let now = chrono::Utc::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let leases = Leases::with_holder(ledger.db.clone(), &format!("instance-{i}"));
        tasks.spawn(async move {
            leases
                .acquire("race", now, Duration::from_secs(30), None)
                .await
                .unwrap()
        });
    }
    let mut winners = 0;
    while let Some(won) = tasks.join_next().await {
        winners += usize::from(won.unwrap());
    }
    assert_eq!(winners, 1);
    ledger.db.close().await;
}
on_both_backends!(of_sixteen_instances_racing_for_a_lease_exactly_one_gets_it);

// ---------------------------------------------------------------------------------------------
// Scheduled revalidation with two instances

async fn two_instances_on_one_database_revalidate_each_stale_credential_once(env: TestEnv) {
    let simulator = ProviderSimulator::start().await.unwrap();
    let settings = settings_for(&env, &simulator, None);
    let setup = server(start(settings.clone(), jobs_off()).await, simulator);
    let alice = setup.user("alice").await;
    let mut ids = Vec::new();
    for n in 0..12 {
        ids.push(add_todoist(&setup, &alice, n, None).await);
    }
    let before = setup.simulator.requests("todoist");
    // Slow answers keep the run going while the other instance looks.
    setup
        .simulator
        .set_fault("todoist", Fault::Slow(Duration::from_millis(150)));

    // Every credential is stale for these instances (checked before "now").
    let jobs = JobSettings {
        stale_after: chrono::Duration::zero(),
        concurrency: 4,
        ..jobs_on()
    };
    let (a, b) = tokio::join!(
        start(settings.clone(), jobs.clone()),
        start(settings.clone(), jobs.clone())
    );
    assert_ne!(a.jobs().holder(), b.jobs().holder());
    let runs = || a.jobs().runs(REVALIDATE) + b.jobs().runs(REVALIDATE);
    eventually("a completed revalidation", || async { runs() >= 1 }).await;
    // Both instances look again after the run: it is not due again for an hour.
    let (pa, pb) = (a.jobs().polls(REVALIDATE), b.jobs().polls(REVALIDATE));
    eventually("both instances to look again", || async {
        a.jobs().polls(REVALIDATE) >= pa + 3 && b.jobs().polls(REVALIDATE) >= pb + 3
    })
    .await;
    a.stop().await.unwrap();
    b.stop().await.unwrap();

    assert_eq!(setup.simulator.requests("todoist") - before, 12);
    for id in &ids {
        let checks: Vec<_> = audit(&env, id)
            .await
            .into_iter()
            .filter(|e| CHECKS.contains(&e.action.as_str()) && e.actor == "scheduler")
            .collect();
        assert_eq!(checks.len(), 1, "credential {id}: {checks:?}");
        assert_eq!(checks[0].action, "CredentialValidated");
        assert!(checks[0]
            .request_id
            .as_deref()
            .is_some_and(|r| r.starts_with("revalidate-")));
    }
    // The scheduler's checks show in the owner's audit trail.
    eventually("the check in the audit trail", || async {
        alice
            .ok(
                "query($id: ID) { auditTrail(filter: {credentialId: $id, actor: \"scheduler\"}) { edges { node { action } } } }",
                json!({"id": ids[0]}),
            )
            .await["auditTrail"]["edges"]
            .as_array()
            .is_some_and(|e| e.len() == 1)
    })
    .await;
    setup.running.stop().await.unwrap();
}
on_both_backends!(two_instances_on_one_database_revalidate_each_stale_credential_once);

/// Waits for three looks at `job` and checks none of them made a completed run: none counted,
/// the lease's row not stamped.
async fn three_looks_and_no_completed_run(scheduled: &Running, leases: &Leases, job: &str) {
    eventually("three looks at the job", || async {
        scheduled.jobs().polls(job) >= 3
    })
    .await;
    assert_eq!(scheduled.jobs().runs(job), 0);
    let state = leases
        .state(job)
        .await
        .unwrap()
        .expect("the lease was taken");
    assert_eq!(state.last_run_at, None);
}

/// Waits for a completed run of `job` and checks its lease's row is stamped.
async fn a_completed_run(scheduled: &Running, leases: &Leases, job: &str) {
    eventually("a completed run", || async {
        scheduled.jobs().runs(job) >= 1
    })
    .await;
    assert!(leases
        .state(job)
        .await
        .unwrap()
        .is_some_and(|s| s.last_run_at.is_some()));
}

/// A revalidation whose checks the database fails to record because it is away is not the
/// job's run, as such an expiry run is not: its lease's row is not stamped and the next look
/// runs it again, so the credential, still stale, is checked and recorded once the database
/// takes writes again. A lasting refusal (SQLite's, which has no "away" code) completes the
/// run: a failure that will not pass must not run the job every minute.
async fn a_revalidation_whose_checks_were_not_recorded_is_not_completed(env: TestEnv) {
    let simulator = ProviderSimulator::start().await.unwrap();
    let settings = settings_for(&env, &simulator, None);
    let setup = server(start(settings.clone(), jobs_off()).await, simulator);
    let alice = setup.user("alice").await;
    let id = add_todoist(&setup, &alice, 0, None).await;
    let pool = env.any_pool().await;
    let leases = Leases::new(setup.running.ledger.db.clone());
    let jobs = JobSettings {
        stale_after: chrono::Duration::zero(),
        ..jobs_on()
    };
    // PostgreSQL refuses the checks as a database going away does (57P03); SQLite's refusal
    // has no such code, so there it is a lasting failure, which must not run the job every
    // minute: that run completes.
    let away = env.backend == credledger_adapters::Backend::Postgres;
    refuse_events_where(
        &pool,
        env.backend,
        "NEW.aggregate_type = 'keyring'",
        "refused",
        away.then_some("57P03"),
    )
    .await;
    let scheduled = start(settings, jobs).await;
    if !away {
        a_completed_run(&scheduled, &leases, REVALIDATE).await;
        scheduled.stop().await.unwrap();
        setup.running.stop().await.unwrap();
        return;
    }
    three_looks_and_no_completed_run(&scheduled, &leases, REVALIDATE).await;

    accept_events_again(&pool, env.backend).await;
    pool.close().await;
    a_completed_run(&scheduled, &leases, REVALIDATE).await;
    scheduled.stop().await.unwrap();
    let by_scheduler = audit(&env, &id)
        .await
        .into_iter()
        .filter(|e| CHECKS.contains(&e.action.as_str()) && e.actor == "scheduler")
        .count();
    assert_eq!(by_scheduler, 1);
    setup.running.stop().await.unwrap();
}
on_both_backends!(a_revalidation_whose_checks_were_not_recorded_is_not_completed);

// ---------------------------------------------------------------------------------------------
// validate-all from the command line

fn summary_line(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|l| l.starts_with("validate-all"))
        .unwrap_or_else(|| panic!("no summary in {stdout}"))
}

/// `credledger credentials validate-all <args>` with the configuration file `config`.
fn validate_all(env: &TestEnv, config: &std::path::Path, args: &[&str]) -> std::process::Output {
    env.cli()
        .env("CREDLEDGER_CONFIG", config)
        .args(["credentials", "validate-all"])
        .args(args)
        .output()
        .unwrap()
}

/// The credentials a revalidation checks come never checked first, then oldest check first,
/// on both backends (PostgreSQL sorts NULL last unless told): a run stopped partway has checked
/// the ones never checked.
async fn a_revalidation_takes_the_never_checked_credentials_first(env: TestEnv) {
    use credledger_projections::credential_summary::{stale, Filter};
    let ledger = env.ledger().await;
    let checked = register_with(
        &ledger,
        "alice",
        "notion",
        "Checked",
        r#"{"token": "ntn_checked"}"#,
        Some(valid("acct-1")),
        &meta("alice"),
    )
    .await
    .unwrap();
    let never = register_with(
        &ledger,
        "alice",
        "notion",
        "Never checked",
        r#"{"token": "ntn_never"}"#,
        None,
        &meta("alice"),
    )
    .await
    .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let in_a_year =
        credledger_adapters::db::timestamp(chrono::Utc::now() + chrono::TimeDelta::days(365));
    let order: Vec<String> = stale(&ledger.db.any, Filter::default(), &in_a_year)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.credential_id)
        .collect();
    assert_eq!(order, vec![never.to_string(), checked.to_string()]);
}
on_both_backends!(a_revalidation_takes_the_never_checked_credentials_first);

async fn validate_all_counts_each_outcome_and_its_dry_run_changes_nothing(env: TestEnv) {
    let simulator = ProviderSimulator::start().await.unwrap();
    let catalog = test_catalog(&env, "catalog.json", &[]);
    let settings = settings_for(&env, &simulator, Some(catalog));
    let server = server(start(settings.clone(), jobs_off()).await, simulator);
    let alice = server.user("alice").await;
    let valid_ids: Vec<String> =
        futures::future::join_all((0..3).map(|n| add_todoist(&server, &alice, n, None))).await;
    let unreachable = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    let disabled = alice
        .add("mistral", "Mistral", server.good_fields("mistral", 0))
        .await;
    // Stored as valid, but the provider no longer knows the secret.
    let refused = register_with(
        &server.running.ledger,
        "alice",
        "todoist",
        "Revoked upstream",
        r#"{"token":"ffffffffffffffffffffffffffffffffffffffff"}"#,
        Some(valid("revoked-upstream")),
        &meta("alice"),
    )
    .await
    .unwrap()
    .to_string();

    // The binary sees the same catalog and simulator, with Mistral switched off.
    let mut cli_settings = settings.clone();
    cli_settings.catalog_file = Some(test_catalog(&env, "cli-catalog.json", &["mistral"]));
    let config = config_file(&env, &cli_settings);
    let cli = |args: &[&str]| {
        let out = validate_all(&env, &config, args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // Nothing is stale yet by the default (a day).
    let (code, out, err) = cli(&[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(summary_line(&out).contains("0 stale"), "{out}");
    // A window past ten years is refused before anything is done (far past it, the date
    // arithmetic panicked once the lease was taken).
    let (code, out, err) = cli(&["--stale-days", "4294967295"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("--stale-days"), "{err}");

    // A dry run lists what it would check and changes nothing: no request, no event.
    let head = server.running.ledger.db.head().await.unwrap();
    let requests: u64 = ["todoist", "notion", "mistral"]
        .iter()
        .map(|s| server.simulator.requests(s))
        .sum();
    let (code, out, err) = cli(&["--dry-run", "--stale-days", "0"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        summary_line(&out).contains("6 stale credential(s) would be checked"),
        "{out}"
    );
    let todoist = out.lines().find(|l| l.trim_start().starts_with("todoist"));
    assert!(todoist.is_some_and(|l| l.ends_with(" 4")), "{out}");
    assert_eq!(server.running.ledger.db.head().await.unwrap(), head);
    let after: u64 = ["todoist", "notion", "mistral"]
        .iter()
        .map(|s| server.simulator.requests(s))
        .sum();
    assert_eq!(after, requests);

    // Held by a serving instance: the one-shot says so and does nothing.
    let other = Leases::with_holder(server.running.ledger.db.clone(), "serving-elsewhere");
    assert!(other
        .acquire(
            REVALIDATE,
            chrono::Utc::now(),
            Duration::from_secs(60),
            None
        )
        .await
        .unwrap());
    let (code, _, err) = cli(&["--stale-days", "0"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("serving-elsewhere"), "{err}");
    other
        .release(REVALIDATE, chrono::Utc::now(), None)
        .await
        .unwrap();
    assert_eq!(server.running.ledger.db.head().await.unwrap(), head);

    // The real run: every outcome counted; could-not-check leaves the status alone.
    server.simulator.set_fault("notion", Fault::ServerError);
    let (code, out, err) = cli(&["--stale-days", "0"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let line = summary_line(&out);
    assert!(
        line.contains(
            "6 stale credential(s), 6 checked — valid 3, invalid 1, could not check 1, skipped 1"
        ),
        "{line}"
    );
    server.simulator.clear_fault("notion");
    eventually("the read models to show the run", || async {
        alice.status(&refused).await == "INVALID"
    })
    .await;
    for id in &valid_ids {
        assert_eq!(alice.status(id).await, "ACTIVE");
    }
    assert_eq!(alice.status(&unreachable).await, "ACTIVE");
    assert_eq!(alice.status(&disabled).await, "ACTIVE");
    let entries = audit(&env, &unreachable).await;
    let last = entries.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("ValidationInconclusive", "cli")
    );
    assert!(audit(&env, &disabled)
        .await
        .iter()
        .all(|e| e.actor != "cli"));

    // Filters narrow the run.
    let (code, out, err) = cli(&[
        "--stale-days",
        "0",
        "--service",
        "todoist",
        "--user",
        "alice",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        summary_line(&out).contains("3 stale credential(s), 3 checked — valid 3"),
        "{out}"
    );
    let (code, _, err) = cli(&["--service", "nosuch"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("unknown service"), "{err}");
    server.running.stop().await.unwrap();
}
on_both_backends!(validate_all_counts_each_outcome_and_its_dry_run_changes_nothing);

/// A provider that keeps asking for a different wait (`Retry-After` past the check's budget)
/// gives a different "could not check" reason at each run: it is recorded once, not once per
/// run, until a check is made again.
async fn checks_that_cannot_be_made_for_changing_reasons_are_recorded_once(env: TestEnv) {
    let simulator = ProviderSimulator::start().await.unwrap();
    let settings = settings_for(&env, &simulator, None);
    let config = config_file(&env, &settings);
    let server = server(start(settings, jobs_off()).await, simulator);
    let alice = server.user("alice").await;
    let id = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    let revalidate = || {
        let out = validate_all(&env, &config, &["--stale-days", "0"]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    };
    let inconclusive = || async {
        audit(&env, &id)
            .await
            .into_iter()
            .filter(|e| e.action == "ValidationInconclusive")
            .count()
    };
    for secs in [3_600, 7_200, 10_800] {
        server.simulator.set_fault(
            "notion",
            Fault::RateLimited {
                retry_after_secs: secs,
            },
        );
        revalidate();
    }
    assert_eq!(inconclusive().await, 1);
    // A check made in between: the next one that cannot be made is recorded again.
    server.simulator.clear_fault("notion");
    revalidate();
    server.simulator.set_fault(
        "notion",
        Fault::RateLimited {
            retry_after_secs: 3_600,
        },
    );
    revalidate();
    assert_eq!(inconclusive().await, 2);
}
on_both_backends!(checks_that_cannot_be_made_for_changing_reasons_are_recorded_once);

/// `credentials validate-all --stale-days 0` one check at a time, started once its first
/// Todoist check (slow: two seconds) is under way; with the count of Todoist requests before.
async fn validate_all_with_a_slow_first_check(
    env: &TestEnv,
    config: &std::path::Path,
    server: &Server,
) -> (std::process::Child, u64) {
    let before = server.simulator.requests("todoist");
    server
        .simulator
        .set_fault_for("todoist", Fault::Slow(Duration::from_secs(2)), 1);
    let run = env
        .cli()
        .env("CREDLEDGER_CONFIG", config)
        .args(["credentials", "validate-all", "--stale-days", "0"])
        .args(["--concurrency", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    eventually("the first check under way", || async {
        server.simulator.requests("todoist") > before
    })
    .await;
    (run, before)
}

/// What a CLI run printed, once it has exited 0.
async fn finished(run: std::process::Child) -> String {
    let out = tokio::task::spawn_blocking(move || run.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The checks of a credential the CLI recorded.
async fn checks_by_cli(env: &TestEnv, id: &str) -> usize {
    audit(env, id)
        .await
        .into_iter()
        .filter(|e| CHECKS.contains(&e.action.as_str()) && e.actor == "cli")
        .count()
}

/// A credential revoked while a run is under way is not sent to its provider when the run
/// reaches it (the run listed it while it was active; a run can last hours), and one whose
/// token is past its expiry is left to the expiry and refresh jobs: its provider would refuse
/// it and the run would record `invalid`, which nothing automatic undoes.
async fn a_revalidation_sends_no_revoked_secret_and_no_token_past_its_expiry(env: TestEnv) {
    let simulator = ProviderSimulator::start().await.unwrap();
    let catalog = test_catalog(&env, "catalog.json", &[]);
    let settings = settings_for(&env, &simulator, Some(catalog));
    let config = config_file(&env, &settings);
    let server = server(start(settings, jobs_off()).await, simulator);
    let alice = server.user("alice").await;
    // Checked in this order: oldest check first.
    let first = add_todoist(&server, &alice, 0, None).await;
    let revoked = add_todoist(&server, &alice, 1, None).await;
    let past_expiry = add_todoist(&server, &alice, 2, Some(1)).await;
    let past = chrono::Utc::now() + chrono::Duration::seconds(1);
    while chrono::Utc::now() <= past {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The first check is slow: the revocation lands while it is under way.
    let (run, before) = validate_all_with_a_slow_first_check(&env, &config, &server).await;
    alice
        .ok(
            "mutation($id: ID!) { revokeCredential(id: $id) { status } }",
            json!({ "id": revoked }),
        )
        .await;
    let stdout = finished(run).await;
    assert_eq!(
        server.simulator.requests("todoist") - before,
        1,
        "only the first credential went to Todoist: {stdout}"
    );
    assert_eq!(alice.status(&past_expiry).await, "ACTIVE");
    assert_eq!(alice.status(&revoked).await, "REVOKED");
    for (id, checks) in [(&first, 1), (&revoked, 0), (&past_expiry, 0)] {
        assert_eq!(checks_by_cli(&env, id).await, checks, "credential {id}");
    }
    assert!(summary_line(&stdout).contains("skipped 2"), "{stdout}");
}
on_both_backends!(a_revalidation_sends_no_revoked_secret_and_no_token_past_its_expiry);

/// A credential the provider says is an account another credential of the keyring holds
/// cannot be validated: each run counts it as an error and says so, rather than as "changed
/// meanwhile" (skipped, and silently probed again at every run).
async fn validate_all_counts_a_second_credential_of_one_account_as_an_error(env: TestEnv) {
    let simulator = ProviderSimulator::start().await.unwrap();
    let catalog = test_catalog(&env, "catalog.json", &[]);
    let settings = settings_for(&env, &simulator, Some(catalog));
    let server = server(start(settings.clone(), jobs_off()).await, simulator);
    let alice = server.user("alice").await;
    add_todoist(&server, &alice, 0, None).await;
    // The same account's token, stored without a check (as an import without one is).
    let second = register_with(
        &server.running.ledger,
        "alice",
        "todoist",
        "Same account",
        &format!(r#"{{"token":"{:040x}"}}"#, 0),
        None,
        &meta("alice"),
    )
    .await
    .unwrap()
    .to_string();
    let config = config_file(&env, &settings);
    let out = validate_all(&env, &config, &["--stale-days", "0"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        summary_line(&stdout)
            .contains("valid 1, invalid 0, could not check 0, skipped 0, errors 1"),
        "{stdout}"
    );
    assert_eq!(alice.status(&second).await, "INACTIVE");
}
on_both_backends!(validate_all_counts_a_second_credential_of_one_account_as_an_error);

/// A credential someone checks (`revalidateCredential`) while a run is under way is not
/// checked again when the run reaches it: the run listed it as stale at its start (a run can
/// last hours), and its check is now newer than the run's cutoff.
async fn a_revalidation_skips_a_credential_checked_since_it_listed_it(env: TestEnv) {
    let simulator = ProviderSimulator::start().await.unwrap();
    let settings = settings_for(&env, &simulator, None);
    let config = config_file(&env, &settings);
    let server = server(start(settings, jobs_off()).await, simulator);
    let alice = server.user("alice").await;
    // Checked in this order: oldest check first.
    let first = add_todoist(&server, &alice, 0, None).await;
    let checked_meanwhile = add_todoist(&server, &alice, 1, None).await;
    // The first check is slow: the person's own check lands while it is under way.
    let (run, before) = validate_all_with_a_slow_first_check(&env, &config, &server).await;
    let answer = alice
        .ok(
            "mutation($id: ID!) { revalidateCredential(id: $id) { result } }",
            json!({ "id": checked_meanwhile }),
        )
        .await;
    assert_eq!(
        answer["revalidateCredential"]["result"], "VALID",
        "{answer}"
    );
    let stdout = finished(run).await;
    assert_eq!(
        server.simulator.requests("todoist") - before,
        2,
        "the run's first check and the person's, no more: {stdout}"
    );
    for (id, checks) in [(&first, 1), (&checked_meanwhile, 0)] {
        assert_eq!(checks_by_cli(&env, id).await, checks, "credential {id}");
    }
    assert!(
        summary_line(&stdout).contains("valid 1, invalid 0, could not check 0, skipped 1"),
        "{stdout}"
    );
}
on_both_backends!(a_revalidation_skips_a_credential_checked_since_it_listed_it);

/// A provider answering 503 to every request: the job sends each credential's check once and
/// records "could not check" (the next run tries again), rather than retrying it and spending
/// requests of the service's limit its pacing does not count, which would leave people's own
/// checks "rate limit reached" while the provider is down. A person's own check still retries.
async fn a_scheduled_check_of_an_unavailable_provider_sends_one_request(env: TestEnv) {
    let simulator = ProviderSimulator::start().await.unwrap();
    let settings = settings_for(&env, &simulator, None);
    let config = config_file(&env, &settings);
    let server = server(start(settings, jobs_off()).await, simulator);
    let alice = server.user("alice").await;
    let ids = [
        add_todoist(&server, &alice, 0, None).await,
        add_todoist(&server, &alice, 1, None).await,
    ];
    // At once, every time: a retry would go out without a wait.
    server.simulator.set_fault(
        "todoist",
        Fault::Unavailable {
            retry_after_secs: Some(0),
        },
    );
    let before = server.simulator.requests("todoist");
    let out = validate_all(&env, &config, &["--stale-days", "0"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary_line(&stdout).contains("2 checked — valid 0, invalid 0, could not check 2"),
        "{stdout}"
    );
    assert_eq!(
        server.simulator.requests("todoist") - before,
        2,
        "one request per credential: {stdout}"
    );
    for id in &ids {
        let last = audit(&env, id).await.pop().unwrap();
        assert_eq!(
            (last.action.as_str(), last.actor.as_str()),
            ("ValidationInconclusive", "cli")
        );
    }

    // An interactive check makes its retries (two after the first request), as before.
    let before = server.simulator.requests("todoist");
    let answer = alice
        .ok(
            "mutation($id: ID!) { revalidateCredential(id: $id) { result } }",
            json!({ "id": ids[0] }),
        )
        .await;
    assert_eq!(
        answer["revalidateCredential"]["result"], "COULD_NOT_CHECK",
        "{answer}"
    );
    assert_eq!(server.simulator.requests("todoist") - before, 3);
    server.running.stop().await.unwrap();
}
on_both_backends!(a_scheduled_check_of_an_unavailable_provider_sends_one_request);

// ---------------------------------------------------------------------------------------------
// Expiry

/// A webhook receiver on loopback: records every call, answers 500 to the next `fail` calls.
#[derive(Clone, Default)]
struct Receiver {
    calls: Arc<Mutex<Vec<(axum::http::HeaderMap, Value, u16)>>>,
    fail: Arc<AtomicU32>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        let receiver = Self::default();
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hooks/expiry",
            axum::routing::post(
                |axum::extract::State(r): axum::extract::State<Receiver>,
                 headers: axum::http::HeaderMap,
                 axum::Json(body): axum::Json<Value>| async move {
                    let failing = r
                        .fail
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    let status = if failing { 500 } else { 200 };
                    r.calls.lock().unwrap().push((headers, body, status));
                    axum::http::StatusCode::from_u16(status).unwrap()
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/expiry", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app.with_state(state)).await });
        (receiver, url)
    }

    /// (credential id, answer status) of each call so far.
    fn calls(&self) -> Vec<(String, u16)> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body, status)| {
                (
                    body["credential_id"].as_str().unwrap_or("").to_owned(),
                    *status,
                )
            })
            .collect()
    }
}

async fn expiring_soon(client: &Client) -> i64 {
    client.ok("{ dashboard { expiringSoon } }", json!({})).await["dashboard"]["expiringSoon"]
        .as_i64()
        .unwrap()
}

const DAY: u64 = 86_400;

/// The dashboard's answer is remembered while the read models stay as they were, but the
/// expiring count also grows with time alone, when the warning window (7 days) reaches a
/// credential's expiry: the remembered answer ends then, well before its ten-second cap.
async fn a_remembered_dashboard_ends_when_the_expiry_window_reaches_a_credential(env: TestEnv) {
    let simulator = ProviderSimulator::start().await.unwrap();
    let catalog = test_catalog(&env, "catalog.json", &[]);
    let settings = settings_for(&env, &simulator, Some(catalog));
    let server = server(start(settings, jobs_off()).await, simulator);
    let alice = server.user("alice").await;
    add_todoist(&server, &alice, 1, Some(30 * DAY)).await;
    let added = std::time::Instant::now();
    // Enters the window three seconds from now.
    add_todoist(&server, &alice, 2, Some(7 * DAY + 3)).await;
    assert_eq!(expiring_soon(&alice).await, 0);
    assert_eq!(
        expiring_soon(&alice).await,
        0,
        "the same answer, remembered"
    );
    loop {
        let count = expiring_soon(&alice).await;
        if count == 1 {
            break;
        }
        assert_eq!(count, 0);
        assert!(
            added.elapsed() < Duration::from_secs(8),
            "the count did not grow when the window reached the expiry"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        added.elapsed() >= Duration::from_secs(2),
        "counted too soon"
    );
    server.running.stop().await.unwrap();
}
on_both_backends!(a_remembered_dashboard_ends_when_the_expiry_window_reaches_a_credential);

async fn an_expiring_credential_is_announced_once_per_window_and_a_failed_announcement_is_retried(
    env: TestEnv,
) {
    let simulator = ProviderSimulator::start().await.unwrap();
    let catalog = test_catalog(&env, "catalog.json", &[]);
    let settings = settings_for(&env, &simulator, Some(catalog));
    let server = server(start(settings.clone(), jobs_off()).await, simulator);
    let alice = server.user("alice").await;
    let admin = server.admin("root").await;
    let (receiver, url) = Receiver::start().await;
    let config = config_file(&env, &settings);
    let expire = || {
        let out = env
            .cli()
            .env("CREDLEDGER_CONFIG", &config)
            .env("CREDLEDGER_EXPIRY_WEBHOOK_URL", &url)
            .args(["credentials", "expire"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };

    let soon = add_todoist(&server, &alice, 1, Some(2 * DAY)).await;
    let later = add_todoist(&server, &alice, 2, Some(30 * DAY)).await;
    let never = add_todoist(&server, &alice, 3, None).await;
    assert_eq!(expiring_soon(&alice).await, 1);
    let metrics = admin
        .ok(
            "{ systemMetrics { expiringSoon expiringCredentials { id name tokenExpiresAt } } }",
            json!({}),
        )
        .await;
    assert_eq!(metrics["systemMetrics"]["expiringSoon"], 1);
    assert_eq!(
        metrics["systemMetrics"]["expiringCredentials"][0]["id"],
        soon.as_str()
    );

    // A warning window past ten years is refused before anything is marked or sent.
    let refused = env
        .cli()
        .env("CREDLEDGER_CONFIG", &config)
        .env("CREDLEDGER_EXPIRY_WEBHOOK_URL", &url)
        .args(["credentials", "expire", "--warning-days", "4294967295"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(receiver.calls().is_empty());

    // One warning per credential and expiry, however often the job runs.
    for _ in 0..2 {
        let (code, out) = expire();
        assert_eq!(code, Some(0), "{out}");
    }
    assert_eq!(receiver.calls(), vec![(soon.clone(), 200)]);
    {
        let calls = receiver.calls.lock().unwrap();
        let (headers, body, _) = &calls[0];
        assert_eq!(body["type"], "credential.expiring");
        assert_eq!(
            (body["user_id"].as_str(), body["service"].as_str()),
            (Some("alice"), Some("todoist"))
        );
        assert!(headers.get("idempotency-key").is_some());
        // Never a secret: the token is nowhere in the call.
        let token = format!("{:040x}", 1);
        assert!(!body.to_string().contains(&token), "{body}");
        assert!(!format!("{headers:?}").contains(&token));
    }

    // A failed delivery is retried on a later run, then recorded once.
    receiver.fail.store(1, Ordering::SeqCst);
    let tomorrow = add_todoist(&server, &alice, 4, Some(DAY)).await;
    let (code, out) = expire();
    assert_eq!(code, Some(1), "a failed delivery is reported: {out}");
    assert!(out.contains("1 failed"), "{out}");
    let (code, out) = expire();
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = expire();
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        receiver.calls(),
        vec![
            (soon.clone(), 200),
            (tomorrow.clone(), 500),
            (tomorrow.clone(), 200)
        ]
    );
    let pool = env.any_pool().await;
    let notices: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM expiry_notices")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(notices, 2);
    pool.close().await;
    assert_eq!(expiring_soon(&alice).await, 2);

    // A passed expiry marks the credential expired, through the ledger.
    let expired = add_todoist(&server, &alice, 5, Some(0)).await;
    let (code, out) = expire();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("1 marked expired"), "{out}");
    eventually("the credential to show as expired", || async {
        alice.status(&expired).await == "EXPIRED"
    })
    .await;
    let last = audit(&env, &expired).await.pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("CredentialExpired", "cli")
    );
    for id in [&soon, &later, &never, &tomorrow] {
        assert_eq!(alice.status(id).await, "ACTIVE");
    }
    assert_eq!(
        receiver.calls().len(),
        3,
        "no warning for an expired credential"
    );
    let dashboard = alice
        .ok("{ dashboard { expired expiringSoon } }", json!({}))
        .await;
    assert_eq!(dashboard["dashboard"]["expired"], 1);
    assert_eq!(dashboard["dashboard"]["expiringSoon"], 2);
    server.running.stop().await.unwrap();
}
on_both_backends!(
    an_expiring_credential_is_announced_once_per_window_and_a_failed_announcement_is_retried
);

async fn the_server_marks_passed_expiries_and_warns_once_on_its_own_schedule(env: TestEnv) {
    let simulator = ProviderSimulator::start().await.unwrap();
    let catalog = test_catalog(&env, "catalog.json", &[]);
    let settings = settings_for(&env, &simulator, Some(catalog));
    let (receiver, url) = Receiver::start().await;
    let jobs = JobSettings {
        expiry_interval: Duration::from_secs(1),
        webhook_url: Some(url),
        ..jobs_on()
    };
    let server = server(start(settings, jobs).await, simulator);
    let alice = server.user("alice").await;

    let soon = add_todoist(&server, &alice, 1, Some(3 * DAY)).await;
    eventually("the warning", || async { !receiver.calls().is_empty() }).await;
    let runs = server.running.jobs().runs(EXPIRY);
    eventually("three more expiry runs", || async {
        server.running.jobs().runs(EXPIRY) >= runs + 3
    })
    .await;
    assert_eq!(receiver.calls(), vec![(soon.clone(), 200)]);
    assert_eq!(expiring_soon(&alice).await, 1);

    let expired = add_todoist(&server, &alice, 2, Some(0)).await;
    eventually("the credential to expire", || async {
        alice.status(&expired).await == "EXPIRED"
    })
    .await;
    let last = audit(&env, &expired).await.pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("CredentialExpired", "scheduler")
    );
    assert_eq!(alice.status(&soon).await, "ACTIVE");
    server.running.stop().await.unwrap();
}
on_both_backends!(the_server_marks_passed_expiries_and_warns_once_on_its_own_schedule);

/// An expiry run whose writes the database refuses because it is away (on PostgreSQL; SQLite's
/// lasting refusal completes the run, as in the revalidation's test) is not the job's run: its
/// lease's row is
/// not stamped (so `credledger_job_last_completed_timestamp_seconds` does not move), it counts
/// no completed run, and the job stays due: once the database takes writes again the next look
/// marks the credential expired, not one interval (an hour) later.
async fn an_expiry_run_whose_writes_failed_is_not_completed_and_runs_again(env: TestEnv) {
    let simulator = ProviderSimulator::start().await.unwrap();
    let catalog = test_catalog(&env, "catalog.json", &[]);
    let settings = settings_for(&env, &simulator, Some(catalog));
    let setup = server(start(settings.clone(), jobs_off()).await, simulator);
    let alice = setup.user("alice").await;
    let expired = add_todoist(&setup, &alice, 1, Some(0)).await;
    let pool = env.any_pool().await;
    let leases = Leases::new(setup.running.ledger.db.clone());
    // As in the revalidation's test: the database away on PostgreSQL, a lasting refusal on
    // SQLite (that run completes, the failure logged and counted).
    let away = env.backend == credledger_adapters::Backend::Postgres;
    refuse_events_where(
        &pool,
        env.backend,
        "NEW.aggregate_type = 'keyring'",
        "refused",
        away.then_some("57P03"),
    )
    .await;
    let scheduled = start(settings, jobs_on()).await;
    if !away {
        a_completed_run(&scheduled, &leases, EXPIRY).await;
        assert_eq!(alice.status(&expired).await, "ACTIVE");
        scheduled.stop().await.unwrap();
        setup.running.stop().await.unwrap();
        return;
    }
    three_looks_and_no_completed_run(&scheduled, &leases, EXPIRY).await;
    assert_eq!(alice.status(&expired).await, "ACTIVE");

    accept_events_again(&pool, env.backend).await;
    pool.close().await;
    eventually("the credential to expire", || async {
        alice.status(&expired).await == "EXPIRED"
    })
    .await;
    a_completed_run(&scheduled, &leases, EXPIRY).await;
    scheduled.stop().await.unwrap();
    setup.running.stop().await.unwrap();
}
on_both_backends!(an_expiry_run_whose_writes_failed_is_not_completed_and_runs_again);

/// The server's loops in the background (the read models' runner, the live feed, the MCP
/// sender) end once nobody can stop them: their shutdown sender gone, as when `serve` fails to
/// start after spawning them. (They spun on the closed channel, reading the database each time.)
async fn the_background_loops_end_when_their_shutdown_sender_is_gone(env: TestEnv) {
    use credledger::graphql::LiveFeed;
    use credledger::mcp::{sync::McpSync, McpServers};
    let ledger = env.ledger().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut loops = tokio::task::JoinSet::new();
    let (projections, rx) = (ledger.projections.clone(), stopped.clone());
    loops.spawn(async move { projections.run(rx).await });
    let (db, rx) = (ledger.db.clone(), stopped.clone());
    loops.spawn(async move { LiveFeed::new().follow(db, rx).await });
    let sync = McpSync::new(
        Arc::new(McpServers::new(ledger.clone())),
        crate::support::mcp::fast_sync(),
        Leases::new(ledger.db.clone()),
    );
    loops.spawn(async move { sync.run(stopped).await });
    drop(stop);
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(ended) = loops.join_next().await {
            ended.unwrap();
        }
    })
    .await;
    assert!(ended.is_ok(), "every loop ended");
}
on_both_backends!(the_background_loops_end_when_their_shutdown_sender_is_gone);

/// An OAuth access token, which renews itself, is not announced as expiring (it would be at
/// every other refresh, for nothing anyone must do); a token that does not renew is, and so is
/// an OAuth service's when the deployment has no client to refresh it with.
async fn a_token_that_renews_itself_is_not_announced_as_expiring(env: TestEnv) {
    use credledger_adapters::outbound::OutboundPolicy;
    let ledger = env.ledger().await;
    let (receiver, url) = Receiver::start().await;
    let now = chrono::Utc::now();
    let gmail = register_with(
        &ledger,
        "alice",
        "gmail",
        "Mail",
        r#"{"access_token":"ya29.renews-itself","refresh_token":"1//renews-itself"}"#,
        Some(valid_until("acct-mail", now + chrono::Duration::hours(1))),
        &meta("alice"),
    )
    .await
    .unwrap();
    let notion = register_with(
        &ledger,
        "alice",
        "notion",
        "Work",
        r#"{"token":"ntn_expires_in_two_days_0000000000"}"#,
        Some(valid_until("acct-work", now + chrono::Duration::days(2))),
        &meta("alice"),
    )
    .await
    .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let loopback = OutboundPolicy {
        allow_loopback: true,
        ..OutboundPolicy::default()
    };
    let options = credledger::jobs::ExpiryOptions {
        warning_window: chrono::Duration::days(7),
        webhook: Some(credledger::jobs::Webhook::new(&url, &loopback).unwrap()),
        dry_run: false,
        actor: "scheduler".into(),
        user_agent: None,
        refreshed_providers: ["google".to_owned()].into(),
    };
    let (_stop, stop) = tokio::sync::watch::channel(false);
    credledger::jobs::expire(ledger.clone(), &options, stop.clone())
        .await
        .unwrap();
    assert_eq!(receiver.calls(), vec![(notion.to_string(), 200)]);

    let without_a_client = credledger::jobs::ExpiryOptions {
        refreshed_providers: Default::default(),
        ..options
    };
    credledger::jobs::expire(ledger.clone(), &without_a_client, stop)
        .await
        .unwrap();
    assert_eq!(
        receiver.calls(),
        vec![(notion.to_string(), 200), (gmail.to_string(), 200)]
    );
}
on_both_backends!(a_token_that_renews_itself_is_not_announced_as_expiring);
