//! The ledger under concurrent writers (the issue's acceptance test): 32 writers × 200 mixed
//! commands, half of them on one user's keyring, while a feed tailer follows the ledger in small
//! batches and a raw transaction holds an event insert open for a while. Afterwards: only domain
//! refusals and conflicts, the keyring rules hold at every command boundary and at the end (in the
//! aggregate and in the read model), no update is lost, positions are gapless and in commit order,
//! and the tailer saw every position exactly once.

use crate::on_both_backends;
use crate::support::{keyring_id, meta, new_id, refuse_events_where, valid, TestEnv};
use credledger::{Ledger, LedgerError, NewCredential};
use credledger_adapters::chain::ChainVerifier;
use credledger_adapters::feed::{read_after, FeedEvent};
use credledger_adapters::Backend;
use credledger_domain::keyring::{CredentialStatus, KeyringError, KeyringEvent, ValidationOutcome};
use credledger_domain::CredentialId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{AnyPool, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WRITERS: usize = 32;
/// Commands per writer: the issue's 32 × 200 on both backends (`CREDLEDGER_STRESS_COMMANDS`
/// changes it, e.g. for a longer soak).
fn commands_per_writer(_backend: Backend) -> usize {
    std::env::var("CREDLEDGER_STRESS_COMMANDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// Writers `0..HOT_WRITERS` all work on the one keyring `hot:notion`.
const HOT_WRITERS: usize = WRITERS / 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Op {
    Register,
    Rename,
    UpdateMetadata,
    ValidationValid,
    ValidationInvalid,
    ValidationCouldNotCheck,
    SetPrimary,
    Revoke,
    Erase,
    ReplaceSecret,
}

impl Op {
    /// Picks a command; weights favour registrations so keyrings keep live credentials.
    fn pick(rng: &mut StdRng) -> Self {
        const TABLE: [(Op, u32); 10] = [
            (Op::Register, 20),
            (Op::Rename, 10),
            (Op::UpdateMetadata, 8),
            (Op::ValidationValid, 16),
            (Op::ValidationInvalid, 5),
            (Op::ValidationCouldNotCheck, 5),
            (Op::SetPrimary, 12),
            (Op::Revoke, 6),
            (Op::Erase, 9),
            (Op::ReplaceSecret, 9),
        ];
        let total: u32 = TABLE.iter().map(|(_, w)| w).sum();
        let mut n = rng.gen_range(0..total);
        for (op, w) in TABLE {
            if n < w {
                return op;
            }
            n -= w;
        }
        Op::Register
    }
}

/// One command and what became of it.
#[derive(Debug)]
struct Outcome {
    op: Op,
    keyring: String,
    /// The credential the command was about (the new one for a registration).
    credential: CredentialId,
    /// The new name of a rename (names are unique per run, so a successful rename always
    /// changes the name).
    new_name: Option<String>,
    result: Result<(), LedgerError>,
}

fn fields(service: &str, secret: &str) -> String {
    match service {
        "openai" => format!(r#"{{"api_key":"sk-{secret}"}}"#),
        "gmail" => format!(r#"{{"access_token":"ya29-{secret}"}}"#),
        _ => format!(r#"{{"token":"{secret}"}}"#),
    }
}

/// A live credential of the keyring and its secret version, from the read model (may be stale:
/// the command then meets NotFound or a stale-validation refusal, which is part of the test).
async fn pick_credential(
    reads: &AnyPool,
    user: &str,
    service: &str,
    rng: &mut StdRng,
) -> Option<(CredentialId, u32)> {
    let rows = sqlx::query(
        "SELECT credential_id, secret_version FROM credential_summary \
         WHERE user_id = $1 AND service = $2",
    )
    .bind(user)
    .bind(service)
    .fetch_all(reads)
    .await
    .unwrap();
    if rows.is_empty() {
        return None;
    }
    let row = &rows[rng.gen_range(0..rows.len())];
    let id: String = row.get("credential_id");
    let version: i64 = row.get("secret_version");
    Some((CredentialId::parse(&id).unwrap(), version as u32))
}

async fn writer(ledger: Arc<Ledger>, reads: AnyPool, w: usize, commands: usize) -> Vec<Outcome> {
    let mut rng = StdRng::seed_from_u64(0x5eed_0000 + w as u64);
    let mut outcomes = Vec::with_capacity(commands);
    for i in 0..commands {
        let (user, service) = if w < HOT_WRITERS {
            ("hot".to_string(), "notion")
        } else {
            let service = ["todoist", "openai", "gmail"][rng.gen_range(0..3)];
            (format!("user{w}"), service)
        };
        let keyring = format!("{user}:{service}");
        let mut op = Op::pick(&mut rng);
        let target = if op == Op::Register {
            None
        } else {
            pick_credential(&reads, &user, service, &mut rng).await
        };
        let (credential, version) = match target {
            Some(t) => t,
            None => {
                op = Op::Register;
                (new_id(), 1)
            }
        };
        let id = credential.to_string();
        let m = meta(&user);
        let mut new_name = None;
        let result = match op {
            Op::Register => {
                // Names from a small pool, so registrations meet taken names now and then.
                let name = format!("account {}", rng.gen_range(0..24));
                let validation = rng
                    .gen_bool(0.5)
                    .then(|| valid(&format!("acct-{}", rng.gen_range(0..40))));
                ledger
                    .register(
                        NewCredential {
                            user_id: &user,
                            service,
                            name: &name,
                            fields_json: fields(service, &format!("{w}-{i}")).as_bytes(),
                            metadata: BTreeMap::new(),
                            validation,
                        },
                        credential,
                        &m,
                    )
                    .await
            }
            Op::Rename => {
                let name = format!("renamed {w}-{i}");
                new_name = Some(name.clone());
                ledger.update(&id, Some(&name), None, &m).await
            }
            Op::UpdateMetadata => {
                let metadata = BTreeMap::from([("note".to_string(), format!("{w}-{i}"))]);
                ledger.update(&id, None, Some(metadata), &m).await
            }
            Op::ValidationValid => {
                let outcome = valid(&format!("acct-{}", rng.gen_range(0..40)));
                ledger.record_validation(&id, version, outcome, &m).await
            }
            Op::ValidationInvalid => {
                let outcome = ValidationOutcome::Invalid {
                    message: "401 Unauthorized".into(),
                };
                ledger.record_validation(&id, version, outcome, &m).await
            }
            Op::ValidationCouldNotCheck => {
                let outcome = ValidationOutcome::CouldNotCheck {
                    reason: "timeout".into(),
                };
                ledger.record_validation(&id, version, outcome, &m).await
            }
            Op::SetPrimary => ledger.set_primary(&id, &m).await,
            Op::Revoke => ledger.revoke(&id, Some("rotated".into()), &m).await,
            Op::Erase => ledger.erase(&id, &m).await,
            Op::ReplaceSecret => {
                let validation = rng
                    .gen_bool(0.5)
                    .then(|| valid(&format!("acct-{}", rng.gen_range(0..40))));
                let new_fields = fields(service, &format!("{w}-{i}-new"));
                ledger
                    .replace_secret(&id, new_fields.as_bytes(), validation, &m)
                    .await
            }
        };
        outcomes.push(Outcome {
            op,
            keyring,
            credential,
            new_name,
            result: result.map(|_| ()),
        });
    }
    outcomes
}

/// The feed tailer: follows the ledger from its own checkpoint in small batches, recording every
/// position it sees, until it has reached `target` (set once the writers are done).
async fn tail(pool: AnyPool, target: Arc<AtomicI64>) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let batch = read_after(&pool, after, 5).await.unwrap();
        if batch.is_empty() {
            let t = target.load(Ordering::SeqCst);
            if t >= 0 && after >= t {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        for e in batch {
            seen.push(e.position);
            after = e.position;
        }
    }
}

/// Early in the run, inserts one event for a separate aggregate in a raw transaction and holds it
/// open ~500 ms while the writers keep going. Returns the probe's position.
async fn probe(
    env_backend: Backend,
    url: Option<String>,
    any: AnyPool,
    ledger: Arc<Ledger>,
) -> i64 {
    while ledger.db.head().await.unwrap() < 10 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    const INSERT: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload, metadata) VALUES ('test_probe', 'probe', 1, 'Probe', '1', '{}', \
         '{\"actor\":\"test\",\"occurred_at\":\"2026-01-01T00:00:00.000000Z\",\"request_id\":\"test\"}')";
    const SELECT: &str = "SELECT global_position FROM events WHERE aggregate_type = 'test_probe'";
    match env_backend {
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&url.unwrap()).await.unwrap();
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(INSERT).execute(&mut *tx).await.unwrap();
            let position: i64 = sqlx::query(SELECT)
                .fetch_one(&mut *tx)
                .await
                .unwrap()
                .get(0);
            tokio::time::sleep(Duration::from_millis(500)).await;
            tx.commit().await.unwrap();
            pool.close().await;
            position
        }
        Backend::Sqlite => {
            let mut tx = any.begin().await.unwrap();
            sqlx::query(INSERT).execute(&mut *tx).await.unwrap();
            let position: i64 = sqlx::query(SELECT)
                .fetch_one(&mut *tx)
                .await
                .unwrap()
                .get(0);
            tokio::time::sleep(Duration::from_millis(500)).await;
            tx.commit().await.unwrap();
            position
        }
    }
}

/// Replays one keyring stream from the events' own facts and checks the keyring rules after
/// every command (events of one command share its request id): the primary, if any, is live and
/// active; while any credential is active there is a primary; live names are unique; a primary
/// change starts from the primary the stream had.
fn check_stream_history(stream: &[&FeedEvent]) {
    struct Cred {
        name: String,
        status: CredentialStatus,
        live: bool,
    }
    let mut creds: HashMap<CredentialId, Cred> = HashMap::new();
    let mut primary: Option<CredentialId> = None;
    let id = &stream[0].aggregate_id;
    let mut i = 0;
    while i < stream.len() {
        let request = stream[i].metadata().unwrap().request_id;
        while i < stream.len() && stream[i].metadata().unwrap().request_id == request {
            let event: KeyringEvent = serde_json::from_str(&stream[i].payload).unwrap();
            use KeyringEvent::*;
            match event {
                CredentialRegistered {
                    credential_id,
                    name,
                    status,
                    ..
                } => {
                    creds.insert(
                        credential_id,
                        Cred {
                            name: name.to_string(),
                            status,
                            live: true,
                        },
                    );
                }
                CredentialRenamed {
                    credential_id,
                    new_name,
                    ..
                } => creds.get_mut(&credential_id).unwrap().name = new_name.to_string(),
                SecretReplaced {
                    credential_id,
                    status,
                    ..
                }
                | CredentialValidated {
                    credential_id,
                    status,
                    ..
                }
                | ValidationFailed {
                    credential_id,
                    status,
                    ..
                }
                | CredentialRevoked {
                    credential_id,
                    status,
                    ..
                }
                | CredentialExpired {
                    credential_id,
                    status,
                    ..
                } => creds.get_mut(&credential_id).unwrap().status = status,
                PrimaryCredentialChanged {
                    previous, current, ..
                } => {
                    assert_eq!(
                        previous, primary,
                        "{id} seq {}: a primary change from a stale primary",
                        stream[i].sequence
                    );
                    primary = current;
                }
                CredentialErased { credential_id, .. } => {
                    creds.get_mut(&credential_id).unwrap().live = false
                }
                _ => {}
            }
            i += 1;
        }
        let at = stream[i - 1].sequence;
        if let Some(p) = primary {
            let c = &creds[&p];
            assert!(
                c.live && c.status == CredentialStatus::Active,
                "{id} after seq {at}: the primary is {} / live {}",
                c.status,
                c.live
            );
        }
        let any_active = creds
            .values()
            .any(|c| c.live && c.status == CredentialStatus::Active);
        assert!(
            !any_active || primary.is_some(),
            "{id} after seq {at}: active credentials but no primary"
        );
        let mut names = BTreeSet::new();
        for c in creds.values().filter(|c| c.live) {
            assert!(
                names.insert(c.name.clone()),
                "{id} after seq {at}: two live credentials named {}",
                c.name
            );
        }
    }
}

async fn thirty_two_concurrent_writers_keep_the_keyring_rules_and_lose_nothing(env: TestEnv) {
    let ledger = env.ledger().await;
    let reads = env.any_pool().await;
    let stop = Arc::new(AtomicBool::new(false));

    // Commands by id find credentials in credential_summary: keep the read models moving.
    let projector = {
        let (ledger, stop) = (ledger.clone(), stop.clone());
        tokio::spawn(async move {
            let mut errors = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                if let Err(e) = ledger.projections.catch_up().await {
                    errors.push(e.to_string());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            errors
        })
    };
    let target = Arc::new(AtomicI64::new(-1));
    let tailer = tokio::spawn(tail(env.any_pool().await, target.clone()));
    let prober = tokio::spawn(probe(
        env.backend,
        env.database_url.clone(),
        env.any_pool().await,
        ledger.clone(),
    ));

    let commands = commands_per_writer(env.backend);
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(ledger.clone(), reads.clone(), w, commands)))
        .collect();
    let mut outcomes = Vec::new();
    for w in writers {
        outcomes.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed();
    let probe_position = prober.await.unwrap();

    stop.store(true, Ordering::SeqCst);
    let projection_errors = projector.await.unwrap();
    assert!(projection_errors.is_empty(), "{projection_errors:?}");
    let head = ledger.projections.catch_up().await.unwrap();
    target.store(head, Ordering::SeqCst);
    let seen = tailer.await.unwrap();

    // What happened, for the record (informational; no timing is asserted).
    let mut tally: BTreeMap<(Op, &str), usize> = BTreeMap::new();
    for o in &outcomes {
        let kind = match &o.result {
            Ok(()) => "ok",
            Err(LedgerError::Rule(_)) => "rule",
            Err(LedgerError::Input(_)) => "input",
            Err(LedgerError::NotFound) => "not found",
            Err(LedgerError::Conflict) => "conflict",
            Err(LedgerError::Unavailable(_)) => "unavailable",
            Err(LedgerError::Internal(_)) => "internal",
        };
        *tally.entry((o.op, kind)).or_default() += 1;
    }
    eprintln!(
        "{:?}: {} commands by {WRITERS} writers in {:.1} s = {:.0} commands/s; {head} events",
        env.backend,
        outcomes.len(),
        elapsed.as_secs_f64(),
        outcomes.len() as f64 / elapsed.as_secs_f64()
    );
    eprintln!("{:?}: outcomes {tally:?}", env.backend);
    assert_eq!(outcomes.len(), WRITERS * commands);

    // 1. Gapless positions, and commit order within every stream.
    let feed = read_after(&ledger.db.any, 0, i64::MAX).await.unwrap();
    assert_eq!(
        feed.iter().map(|e| e.position).collect::<Vec<_>>(),
        (1..=head).collect::<Vec<_>>()
    );
    let mut streams: BTreeMap<(&str, &str), Vec<&FeedEvent>> = BTreeMap::new();
    for e in &feed {
        streams
            .entry((e.aggregate_type.as_str(), e.aggregate_id.as_str()))
            .or_default()
            .push(e);
    }
    for ((kind, id), events) in &streams {
        let sequences: Vec<i64> = events.iter().map(|e| e.sequence).collect();
        assert_eq!(
            sequences,
            (1..=events.len() as i64).collect::<Vec<_>>(),
            "{kind}/{id}: sequence does not follow global position"
        );
    }
    let mut verifier = ChainVerifier::default();
    for e in &feed {
        verifier
            .check(&e.chain_input(), &e.hash)
            .unwrap_or_else(|err| panic!("{err}"));
    }

    // 2. The tailer saw every position exactly once, in order, including the probe.
    assert_eq!(seen, (1..=head).collect::<Vec<_>>());
    assert_eq!(
        feed[probe_position as usize - 1].aggregate_type,
        "test_probe"
    );

    // 3. No lost update: successes and events match one for one.
    let events_of = |event_type: &str| -> Vec<KeyringEvent> {
        feed.iter()
            .filter(|e| e.aggregate_type == "keyring" && e.event_type == event_type)
            .map(|e| serde_json::from_str(&e.payload).unwrap())
            .collect()
    };
    let ok = |op: Op| {
        outcomes
            .iter()
            .filter(move |o| o.op == op && o.result.is_ok())
    };
    let mut registered: Vec<CredentialId> = events_of("CredentialRegistered")
        .into_iter()
        .map(|e| e.credential_id().unwrap())
        .collect();
    let mut registrations: Vec<CredentialId> = ok(Op::Register).map(|o| o.credential).collect();
    registered.sort();
    registrations.sort();
    assert_eq!(registered.len(), registrations.len());
    assert_eq!(registered, registrations);
    let mut erased: Vec<CredentialId> = events_of("CredentialErased")
        .into_iter()
        .map(|e| e.credential_id().unwrap())
        .collect();
    let mut erasures: Vec<CredentialId> = ok(Op::Erase).map(|o| o.credential).collect();
    erased.sort();
    erasures.sort();
    assert_eq!(erased, erasures);
    let mut renamed: Vec<(CredentialId, String)> = events_of("CredentialRenamed")
        .into_iter()
        .map(|e| match e {
            KeyringEvent::CredentialRenamed {
                credential_id,
                new_name,
                ..
            } => (credential_id, new_name.to_string()),
            _ => unreachable!(),
        })
        .collect();
    let mut renames: Vec<(CredentialId, String)> = ok(Op::Rename)
        .map(|o| (o.credential, o.new_name.clone().unwrap()))
        .collect();
    renamed.sort();
    renames.sort();
    assert_eq!(renamed, renames);

    // 4. The keyring rules held after every command…
    let keyrings: Vec<&str> = streams
        .keys()
        .filter(|(kind, _)| *kind == "keyring")
        .map(|(_, id)| *id)
        .collect();
    assert!(keyrings.contains(&"hot:notion"));
    for (kind, events) in &streams {
        if kind.0 == "keyring" {
            check_stream_history(events);
        }
    }
    // …and hold in the final state of every keyring and in the read model, which agree.
    for keyring in &keyrings {
        let (user, service) = keyring.split_once(':').unwrap();
        let state = ledger.keyring(&keyring_id(user, service)).await.unwrap();
        let live: Vec<_> = state.credentials().collect();
        let primaries: Vec<_> = live.iter().filter(|c| c.is_primary).collect();
        assert!(
            primaries.len() <= 1,
            "{keyring}: {} primaries",
            primaries.len()
        );
        let any_active = live.iter().any(|c| c.status == CredentialStatus::Active);
        if any_active {
            assert_eq!(
                primaries.len(),
                1,
                "{keyring}: active credentials, no primary"
            );
        }
        if let Some(p) = primaries.first() {
            assert_eq!(
                p.status,
                CredentialStatus::Active,
                "{keyring}: inactive primary"
            );
        }
        let names: BTreeSet<&str> = live.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names.len(), live.len(), "{keyring}: duplicate live names");

        let (user, service) = keyring.split_once(':').unwrap();
        let rows = sqlx::query(
            "SELECT credential_id, name, status, is_primary FROM credential_summary \
             WHERE user_id = $1 AND service = $2",
        )
        .bind(user)
        .bind(service)
        .fetch_all(&reads)
        .await
        .unwrap();
        let summary: BTreeSet<(String, String, String, bool)> = rows
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>("credential_id"),
                    r.get::<String, _>("name"),
                    r.get::<String, _>("status"),
                    r.get::<i64, _>("is_primary") != 0,
                )
            })
            .collect();
        let expected: BTreeSet<(String, String, String, bool)> = live
            .iter()
            .map(|c| {
                (
                    c.id.to_string(),
                    c.name.to_string(),
                    c.status.as_str().to_string(),
                    c.is_primary,
                )
            })
            .collect();
        assert_eq!(
            summary, expected,
            "{keyring}: read model differs from the keyring"
        );
    }
    // The read model on its own: never two primaries or two live names per keyring.
    for sql in [
        "SELECT user_id, service FROM credential_summary GROUP BY user_id, service \
         HAVING SUM(is_primary) > 1",
        "SELECT user_id, service FROM credential_summary GROUP BY user_id, service, name \
         HAVING COUNT(*) > 1",
        "SELECT user_id, service FROM credential_summary s WHERE status = 'active' AND NOT EXISTS \
         (SELECT 1 FROM credential_summary p WHERE p.user_id = s.user_id \
          AND p.service = s.service AND p.is_primary = 1 AND p.status = 'active')",
    ] {
        let bad = sqlx::query(sql).fetch_all(&reads).await.unwrap();
        assert!(bad.is_empty(), "{sql}: {} keyrings", bad.len());
    }

    // 5. Only domain refusals and conflicts, never INTERNAL (checked last, so that a failure
    // here still reports everything above).
    let unexpected: Vec<String> = outcomes
        .iter()
        .filter_map(|o| match &o.result {
            Ok(())
            | Err(LedgerError::Input(_))
            | Err(LedgerError::NotFound)
            | Err(LedgerError::Conflict) => None,
            Err(LedgerError::Rule(e)) if !matches!(e, KeyringError::Cipher(_)) => None,
            Err(e) => Some(format!("{:?} on {}: {e:?} ({})", o.op, o.keyring, e.code())),
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} unexpected errors, e.g. {:?}",
        unexpected.len(),
        &unexpected[..unexpected.len().min(5)]
    );
    assert!(outcomes.iter().all(|o| o
        .result
        .as_ref()
        .err()
        .is_none_or(|e| e.code() != "INTERNAL")));
    // The run exercised the rules, not just the happy path.
    let refused = |pred: fn(&KeyringError) -> bool| {
        outcomes
            .iter()
            .any(|o| matches!(&o.result, Err(LedgerError::Rule(e)) if pred(e)))
    };
    assert!(refused(|e| matches!(
        e,
        KeyringError::MultiAccountNotSupported(_)
    )));
    assert!(refused(|e| matches!(e, KeyringError::NameTaken(_))));
}

on_both_backends!(thirty_two_concurrent_writers_keep_the_keyring_rules_and_lose_nothing);

/// A secret replacement racing an erasure of the same credential: the replacement either lands
/// before the erasure or is refused (the credential is gone) — never an internal error because
/// the erasure destroyed the data key between the replacement's load and its sealing.
async fn a_secret_replaced_while_its_credential_is_erased_is_refused_never_internal(env: TestEnv) {
    const ROUNDS: usize = 80;
    const REPLACERS: usize = 6;
    let ledger = env.ledger().await;
    let mut internal = Vec::new();
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    for round in 0..ROUNDS {
        let id = crate::support::register(
            &ledger,
            "racer",
            "notion",
            &format!("Round {round}"),
            r#"{"token":"t"}"#,
        )
        .await
        .unwrap();
        ledger.projections.catch_up().await.unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(REPLACERS + 1));
        let mut tasks = Vec::new();
        for r in 0..=REPLACERS {
            let (ledger, barrier) = (ledger.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let id = id.to_string();
                if r == 0 {
                    ("erase", ledger.erase(&id, &meta("racer")).await)
                } else {
                    let fields = format!(r#"{{"token":"new-{r}"}}"#);
                    (
                        "replace",
                        ledger
                            .replace_secret(&id, fields.as_bytes(), None, &meta("racer"))
                            .await,
                    )
                }
            }));
        }
        for task in tasks {
            let (what, result) = task.await.unwrap();
            let kind = match &result {
                Ok(_) => "ok",
                Err(e) => e.code(),
            };
            *tally.entry(kind).or_default() += 1;
            if let Err(e) = result {
                if e.code() == "INTERNAL" {
                    internal.push(format!("round {round}: {what}: {e:?}"));
                }
            }
        }
    }
    eprintln!("{:?}: {tally:?}", env.backend);
    assert!(internal.is_empty(), "{internal:#?}");
}

on_both_backends!(a_secret_replaced_while_its_credential_is_erased_is_refused_never_internal);

/// Global positions run 1..n without a gap, and `ledger verify` accepts the chain.
async fn assert_gap_free_and_verified(env: &TestEnv, pool: &AnyPool) {
    let positions: Vec<i64> = sqlx::query_scalar(
        "SELECT CAST(global_position AS BIGINT) FROM events ORDER BY global_position",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let expected: Vec<i64> = (1..=positions.len() as i64).collect();
    assert_eq!(positions, expected, "gap-free global positions");
    let out = env.cli().args(["ledger", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Many resolves at once: their `CredentialUsed` events are group-committed, yet each use is
/// one event, every usage stream's sequences run 1..n without a gap or a double, the global
/// positions stay gap-free, and the hash chain verifies.
async fn concurrent_uses_are_group_committed_each_once_in_a_verified_chain(env: TestEnv) {
    let ledger = env.ledger().await;
    let names = ["A", "B", "C"];
    for name in names {
        crate::support::register_with(
            &ledger,
            "alice",
            "notion",
            name,
            &format!(r#"{{"token":"ntn_group_commit_{name}_000000000000"}}"#),
            Some(valid(&format!("acct-{name}"))),
            &meta("alice"),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let tasks: Vec<_> = (0..150)
        .map(|i| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let name = names[i % names.len()];
                ledger
                    .resolve(
                        "alice",
                        "notion",
                        Some(name),
                        "mcp:test",
                        Some(format!("tool-{i}")),
                        &meta("mcp:test"),
                    )
                    .await
                    .map(|r| r.credential_id)
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let pool = env.any_pool().await;
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT aggregate_id, CAST(sequence AS BIGINT), CAST(global_position AS BIGINT) FROM events \
         WHERE aggregate_type = 'credential_usage' ORDER BY aggregate_id, sequence",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 150, "one event per use");
    let mut streams: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (id, sequence, _) in &rows {
        streams.entry(id).or_default().push(*sequence);
    }
    assert_eq!(streams.len(), 3);
    for (id, sequences) in &streams {
        let expected: Vec<i64> = (1..=sequences.len() as i64).collect();
        assert_eq!(sequences, &expected, "stream {id}");
    }
    assert_gap_free_and_verified(&env, &pool).await;
}
on_both_backends!(concurrent_uses_are_group_committed_each_once_in_a_verified_chain);

fn raw_event(stream: &str, n: usize) -> credledger_adapters::append::NewEvent {
    credledger_adapters::append::NewEvent {
        aggregate_type: "group_commit_test",
        aggregate_id: stream.to_owned(),
        event_type: "Noted".to_owned(),
        event_version: "1".to_owned(),
        payload: format!(r#"{{"n":{n}}}"#),
        metadata: crate::support::EVENT_METADATA.to_owned(),
    }
}

/// The group writer's contract for commands: events decided on a stream's length go in whole
/// at the sequences after it or not at all (`Conflict`), whatever else shares their group. Of
/// twenty commands decided on the same length exactly one is written; a command whose first
/// sequences are taken but whose last is free (PostgreSQL inserts the free row, then rolls the
/// round back) leaves nothing; records appended beside them all go in; an append spanning two
/// streams is refused; positions stay gap-free, each caller's positions are its rows', and the
/// chain verifies.
async fn commands_in_one_group_are_written_whole_or_not_at_all(env: TestEnv) {
    use credledger_adapters::DbError;
    let ledger = env.ledger().await;
    let appender = ledger.appender().clone();
    let seeded = appender
        .append_after(0, (0..3).map(|n| raw_event("s1", n)).collect())
        .await
        .unwrap();
    assert_eq!(seeded.len(), 3);
    appender
        .append_after(0, vec![raw_event("s3", 0)])
        .await
        .unwrap();
    // Alone: sequence 1 of s3 is taken, 2 is free.
    assert!(matches!(
        appender
            .append_after(0, vec![raw_event("s3", 1), raw_event("s3", 2)])
            .await,
        Err(DbError::Conflict)
    ));
    assert!(matches!(
        appender
            .append_after(3, vec![raw_event("s1", 9), raw_event("other", 9)])
            .await,
        Err(DbError::Append(_))
    ));

    let mut same_length = tokio::task::JoinSet::new();
    for n in 0..20 {
        let appender = appender.clone();
        same_length.spawn(async move {
            appender
                .append_after(3, vec![raw_event("s1", 100 + n)])
                .await
        });
    }
    let partial = {
        let appender = appender.clone();
        tokio::spawn(async move {
            appender
                .append_after(1, (0..3).map(|n| raw_event("s1", 200 + n)).collect())
                .await
        })
    };
    let mut records = tokio::task::JoinSet::new();
    for n in 0..30 {
        let appender = appender.clone();
        records.spawn(async move { appender.append(raw_event("s2", n)).await });
    }
    let mut claimed: Vec<i64> = Vec::new();
    let (mut won, mut conflicts) = (0, 0);
    while let Some(r) = same_length.join_next().await {
        match r.unwrap() {
            Ok(positions) => {
                won += 1;
                claimed.extend(positions);
            }
            Err(DbError::Conflict) => conflicts += 1,
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!((won, conflicts), (1, 19));
    assert!(matches!(partial.await.unwrap(), Err(DbError::Conflict)));
    while let Some(r) = records.join_next().await {
        claimed.push(r.unwrap().unwrap());
    }

    let pool = env.any_pool().await;
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT aggregate_id, CAST(sequence AS BIGINT), CAST(global_position AS BIGINT) \
         FROM events WHERE aggregate_type = 'group_commit_test' ORDER BY aggregate_id, sequence",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let sequences = |stream: &str| -> Vec<i64> {
        rows.iter()
            .filter(|(id, _, _)| id == stream)
            .map(|(_, s, _)| *s)
            .collect()
    };
    assert_eq!(sequences("s1"), vec![1, 2, 3, 4]);
    assert_eq!(sequences("s2"), (1..=30).collect::<Vec<_>>());
    assert_eq!(sequences("s3"), vec![1], "nothing of the refused command");
    assert!(sequences("other").is_empty());
    let mut expected: Vec<i64> = rows
        .iter()
        .filter(|(id, s, _)| id == "s2" || (id == "s1" && *s == 4))
        .map(|(_, _, p)| *p)
        .collect();
    expected.sort_unstable();
    claimed.sort_unstable();
    assert_eq!(claimed, expected, "each caller's positions are its rows'");
    assert_gap_free_and_verified(&env, &pool).await;
}
on_both_backends!(commands_in_one_group_are_written_whole_or_not_at_all);

/// A command's first attempt decides on the state this process remembers. Another process
/// (here a second ledger on the same database, with its own memory) renames "Work" away;
/// a refusal decided on the stale memory ("Work" is taken) is decided again on the stream, so
/// registering a new "Work" succeeds. And a change decided on stale memory does not go in on
/// top of the other process's: the rename below is re-decided after the other's revocation.
async fn a_stale_memory_never_decides_a_command(env: TestEnv) {
    let here = env.ledger().await;
    let there = env.ledger().await;
    let work = crate::support::register_with(
        &here,
        "alice",
        "notion",
        "Work",
        r#"{"token":"ntn_stale_memory_work_00000000000"}"#,
        None,
        &meta("alice"),
    )
    .await
    .unwrap();
    here.projections.catch_up().await.unwrap();
    there
        .update(&work.to_string(), Some("Home"), None, &meta("alice"))
        .await
        .unwrap();
    let again = crate::support::register_with(
        &here,
        "alice",
        "notion",
        "Work",
        r#"{"token":"ntn_stale_memory_new_000000000000"}"#,
        None,
        &meta("alice"),
    )
    .await;
    assert!(
        again.is_ok(),
        "decided on the stream, not the memory: {again:?}"
    );
    there
        .revoke(&work.to_string(), None, &meta("alice"))
        .await
        .unwrap();
    let renamed = here
        .update(&work.to_string(), Some("Old"), None, &meta("alice"))
        .await;
    let keyring = keyring_id("alice", "notion");
    let state = there.keyring(&keyring).await.unwrap();
    let c = state.credential(work).unwrap();
    assert_eq!(c.status, CredentialStatus::Revoked, "the revocation stands");
    match renamed {
        Ok(_) => assert_eq!(c.name.as_str(), "Old"),
        Err(_) => assert_eq!(c.name.as_str(), "Home"),
    }
}
on_both_backends!(a_stale_memory_never_decides_a_command);

/// A command that this process's memory says would change nothing (a rename to the name it
/// remembers, a primary it remembers) is decided again on the stream, not answered as done with
/// nothing written: another process (a second ledger on the same database) has renamed "Work"
/// to "Home" and made "Other" primary; renaming back to "Work" and choosing "Work" as primary
/// here take effect.
async fn a_change_a_stale_memory_finds_already_made_is_decided_again_on_the_stream(env: TestEnv) {
    let here = env.ledger().await;
    let there = env.ledger().await;
    let mut ids = Vec::new();
    for (name, token) in [
        ("Work", "ntn_stale_noop_work_000000000000000"),
        ("Other", "ntn_stale_noop_other_00000000000000"),
    ] {
        let fields = format!(r#"{{"token":"{token}"}}"#);
        let id = crate::support::register_with(
            &here,
            "alice",
            "notion",
            name,
            &fields,
            Some(valid(name)),
            &meta("alice"),
        )
        .await
        .unwrap();
        ids.push(id);
    }
    let (work, other) = (ids[0], ids[1]);
    let keyring = keyring_id("alice", "notion");
    let remembered = here.keyring(&keyring).await.unwrap();
    assert!(remembered.credential(work).unwrap().is_primary);
    here.projections.catch_up().await.unwrap();
    there
        .update(&work.to_string(), Some("Home"), None, &meta("alice"))
        .await
        .unwrap();
    there
        .set_primary(&other.to_string(), &meta("alice"))
        .await
        .unwrap();
    here.update(&work.to_string(), Some("Work"), None, &meta("alice"))
        .await
        .unwrap();
    here.set_primary(&work.to_string(), &meta("alice"))
        .await
        .unwrap();
    let state = there.keyring(&keyring).await.unwrap();
    let c = state.credential(work).unwrap();
    assert_eq!(c.name.as_str(), "Work", "the rename went in");
    assert!(c.is_primary, "the choice of primary went in");
    assert!(!state.credential(other).unwrap().is_primary);
}
on_both_backends!(a_change_a_stale_memory_finds_already_made_is_decided_again_on_the_stream);

/// A request the database refuses fails alone: the group it was gathered into is written
/// again one request at a time, so its neighbours go in. (A trigger stands in for whatever
/// the database may refuse in one row.)
async fn a_refused_request_fails_alone_in_its_group(env: TestEnv) {
    use credledger_adapters::DbError;
    let ledger = env.ledger().await;
    let pool = env.any_pool().await;
    refuse_events_where(
        &pool,
        env.backend,
        "NEW.aggregate_id = 'poison'",
        "poison refused",
        None,
    )
    .await;
    let appender = ledger.appender().clone();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..41 {
        let appender = appender.clone();
        tasks.spawn(async move {
            let stream = if n == 20 {
                "poison".to_owned()
            } else {
                format!("good-{n}")
            };
            (
                n,
                appender
                    .append_after(0, vec![raw_event(&stream, n as usize)])
                    .await,
            )
        });
    }
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            (20, Err(DbError::Append(message))) => {
                assert!(message.contains("poison refused"), "{message}")
            }
            (20, other) => panic!("the poison went in: {other:?}"),
            (n, result) => assert!(result.is_ok(), "request {n}: {result:?}"),
        }
    }
    let written: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM events WHERE aggregate_type = 'group_commit_test'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(written, 40);
}
on_both_backends!(a_refused_request_fails_alone_in_its_group);

/// A command whose events the database refuses (a trigger stands in for whatever it may refuse)
/// is an internal error, not "unavailable": retrying would be refused again. Nothing is kept.
async fn a_command_the_database_refuses_is_internal_not_unavailable(env: TestEnv) {
    let ledger = env.ledger().await;
    let pool = env.any_pool().await;
    refuse_events_where(
        &pool,
        env.backend,
        "NEW.aggregate_type = 'keyring'",
        "refused",
        None,
    )
    .await;
    let refused = crate::support::register(
        &ledger,
        "alice",
        "notion",
        "Work",
        r#"{"token":"ntn_refused_by_a_trigger_000000000"}"#,
    )
    .await;
    assert!(
        matches!(refused, Err(LedgerError::Internal(_))),
        "{refused:?}"
    );
    let kept: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM events WHERE aggregate_type = 'keyring'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(kept, 0);
}
on_both_backends!(a_command_the_database_refuses_is_internal_not_unavailable);

/// A resolve chooses on the keyring as this process remembers it, and its use is recorded only
/// if the keyring has not moved on since. Another process (a second ledger on the same
/// database, with its own memory) revokes the primary credential and then erases its successor:
/// each next resolve here answers what the stream now holds (the promoted credential, then
/// nothing), never the secret of a credential the other process already revoked or erased.
async fn a_resolve_never_discloses_what_another_process_withdrew(env: TestEnv) {
    let here = env.ledger().await;
    let there = env.ledger().await;
    let add = |name: &'static str, token: &'static str, account: &'static str| {
        let here = &here;
        async move {
            crate::support::register_with(
                here,
                "alice",
                "notion",
                name,
                token,
                Some(valid(account)),
                &meta("alice"),
            )
            .await
            .unwrap()
        }
    };
    let work = add(
        "Work",
        r#"{"token":"ntn_guard_work_000000000000000"}"#,
        "a1",
    )
    .await;
    let home = add(
        "Home",
        r#"{"token":"ntn_guard_home_000000000000000"}"#,
        "a2",
    )
    .await;
    let asking = meta("mcp:test");
    let resolve = || here.resolve("alice", "notion", None, "mcp:test", None, &asking);
    let first = resolve().await.unwrap();
    assert_eq!(first.credential_id, work, "the first active one is primary");

    here.projections.catch_up().await.unwrap();
    there
        .revoke(&work.to_string(), None, &meta("alice"))
        .await
        .unwrap();
    let second = resolve().await.unwrap();
    assert_eq!(second.credential_id, home, "decided again on the stream");
    assert_eq!(
        second.fields.get("token").map(|t| t.expose()),
        Some("ntn_guard_home_000000000000000"),
        "the promoted credential's secret"
    );

    there
        .erase(&home.to_string(), &meta("alice"))
        .await
        .unwrap();
    let third = resolve().await;
    assert!(
        matches!(third, Err(LedgerError::NotFound)),
        "no active credential is left: {third:?}"
    );

    // One use each: none was recorded for a withdrawn credential.
    let pool = env.any_pool().await;
    for (id, expected) in [(work, 1), (home, 1)] {
        let uses: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM events WHERE event_type = 'CredentialUsed' \
             AND aggregate_id LIKE $1",
        )
        .bind(format!("{id}%"))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(uses, expected, "uses of {id}");
    }
    assert_gap_free_and_verified(&env, &pool).await;
}
on_both_backends!(a_resolve_never_discloses_what_another_process_withdrew);

/// A guarded append goes in only while the guarded stream ends where the caller saw it,
/// checked when the group is written: in one burst of guarded records beside a command on the
/// guarded stream, every record that went in precedes the command in the ledger, every one that
/// follows it was refused (`Conflict`, nothing written), and a guard on the stream's new length
/// is accepted.
async fn a_guarded_append_goes_in_only_before_its_stream_moves(env: TestEnv) {
    use credledger_adapters::append::Guard;
    use credledger_adapters::DbError;
    let ledger = env.ledger().await;
    let appender = ledger.appender().clone();
    let guard = |sequence| Guard {
        aggregate_type: "group_commit_test",
        aggregate_id: "watched".to_owned(),
        sequence,
    };
    appender
        .append_after(0, vec![raw_event("watched", 0)])
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..40usize {
        let appender = appender.clone();
        let guard = guard(1);
        tasks.spawn(async move {
            if n == 20 {
                let moved = appender
                    .append_after(1, vec![raw_event("watched", n)])
                    .await
                    .map(|p| p[0]);
                return (true, moved);
            }
            let record = appender
                .append_guarded(raw_event(&format!("record-{n}"), n), guard)
                .await;
            (false, record)
        });
    }
    let (mut moved_at, mut written, mut refused) = (0, Vec::new(), 0);
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            (true, result) => moved_at = result.expect("the command goes in"),
            (false, Ok(position)) => written.push(position),
            (false, Err(DbError::Conflict)) => refused += 1,
            (false, Err(e)) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(written.len() + refused, 39);
    assert!(
        written.iter().all(|p| *p < moved_at),
        "a record written after the stream moved: {written:?} vs {moved_at}"
    );
    let pool = env.any_pool().await;
    let records: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM events WHERE aggregate_type = 'group_commit_test' \
         AND aggregate_id LIKE 'record-%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        records as usize,
        written.len(),
        "refused records left nothing"
    );

    let stale = appender
        .append_guarded(raw_event("late", 0), guard(1))
        .await;
    assert!(matches!(stale, Err(DbError::Conflict)), "{stale:?}");
    let current = appender
        .append_guarded(raw_event("late", 1), guard(2))
        .await;
    assert!(current.is_ok(), "{current:?}");
    assert_gap_free_and_verified(&env, &pool).await;
}
on_both_backends!(a_guarded_append_goes_in_only_before_its_stream_moves);
