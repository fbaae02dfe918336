//! PostgreSQL goes away for ten seconds under load, then comes back, and the real binary never
//! hangs: every request is answered within two seconds (`UNAVAILABLE`, HTTP 503, `Retry-After`,
//! the request id), `/readyz` says the database is unavailable, and once PostgreSQL is back
//! everything answers again on its own, read models included.
//!
//! "Going away" is a TCP relay in front of the test's PostgreSQL, cut (every open connection
//! dropped, new ones refused) and restored on the same port: what the server sees when the
//! database is stopped and started, without stopping the cluster other tests share.

use crate::support::TestEnv;
use credledger_adapters::append::{GroupAppender, NewEvent};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A relay to PostgreSQL that can be cut and restored on the same port, or armed to fail the
/// next commit it passes on ([`Relay::fail_next_commit`]).
struct Relay {
    port: u16,
    upstream: SocketAddr,
    task: Mutex<Option<JoinHandle<()>>>,
    commit_trap: Arc<AtomicBool>,
    /// Connections accepted before this are passed on only then (a stalled server).
    stalled_until: Arc<Mutex<Option<tokio::time::Instant>>>,
    /// Every connection is passed on only this long after it was made (a server slow to take
    /// connections).
    slow_by: Arc<Mutex<Duration>>,
    /// Connections made before the latest [`Relay::go_silent`] pass nothing more, either way,
    /// and stay open, until [`Relay::speak_again`].
    silenced: Arc<AtomicU64>,
    quiet: Arc<AtomicBool>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            port: listener.local_addr().unwrap().port(),
            upstream,
            task: Mutex::new(None),
            commit_trap: Arc::default(),
            stalled_until: Arc::default(),
            slow_by: Arc::default(),
            silenced: Arc::default(),
            quiet: Arc::default(),
        };
        relay.serve(listener);
        relay
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, trap) = (self.upstream, self.commit_trap.clone());
        let (stalled_until, slow_by) = (self.stalled_until.clone(), self.slow_by.clone());
        let (silenced, quiet) = (self.silenced.clone(), self.quiet.clone());
        let task = tokio::spawn(async move {
            // Dropped with the task when it is aborted: every relayed connection closes.
            let mut connections = JoinSet::new();
            while let Ok((inbound, _)) = listener.accept().await {
                let trap = trap.clone();
                let stalled = *stalled_until.lock().unwrap();
                let slow_by = *slow_by.lock().unwrap();
                let silent = Silent {
                    since: silenced.load(Ordering::SeqCst),
                    now: silenced.clone(),
                    quiet: quiet.clone(),
                };
                connections.spawn(async move {
                    if let Some(until) = stalled {
                        tokio::time::sleep_until(until).await;
                    }
                    tokio::time::sleep(slow_by).await;
                    if let Ok(outbound) = TcpStream::connect(upstream).await {
                        relay_connection(inbound, outbound, trap, silent).await;
                    }
                });
            }
        });
        *self.task.lock().unwrap() = Some(task);
    }

    /// A relay in front of the test's PostgreSQL, and the database's URL through it.
    async fn in_front_of(env: &TestEnv) -> (Relay, reqwest::Url) {
        let url = reqwest::Url::parse(env.database_url.as_deref().unwrap()).unwrap();
        let upstream: SocketAddr =
            format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432))
                .parse()
                .unwrap();
        let relay = Relay::start(upstream).await;
        let mut relayed = url;
        relayed.set_port(Some(relay.port)).unwrap();
        (relay, relayed)
    }

    /// The database is gone: open connections drop, new ones are refused.
    fn cut(&self) {
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
    }

    /// Returns once the cut has taken effect: the relay's port refuses connections (the
    /// aborted task lets go of it when next polled).
    async fn is_cut(&self) {
        crate::support::eventually("the relay to be cut", || async {
            TcpStream::connect(("127.0.0.1", self.port)).await.is_err()
        })
        .await;
    }

    /// The database is back, at the same address.
    async fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }

    /// Connections made in the next `stall` reach PostgreSQL only once it has passed.
    fn stall_for(&self, stall: Duration) {
        *self.stalled_until.lock().unwrap() = Some(tokio::time::Instant::now() + stall);
    }

    /// Every connection made from now on reaches PostgreSQL only `by` after it was made.
    fn slow_connections_by(&self, by: Duration) {
        *self.slow_by.lock().unwrap() = by;
    }

    /// The next `COMMIT` a client sends reaches PostgreSQL, which commits, but its answer never
    /// comes back: the client's connection closes instead.
    fn fail_next_commit(&self) {
        self.commit_trap.store(true, Ordering::SeqCst);
    }

    /// The connections open now stop passing anything on, without closing (a server gone
    /// behind a link that drops packets); new ones work.
    fn go_silent(&self) {
        self.silenced.fetch_add(1, Ordering::SeqCst);
        self.quiet.store(true, Ordering::SeqCst);
    }

    /// The silenced connections pass on what they hold, and more.
    fn speak_again(&self) {
        self.quiet.store(false, Ordering::SeqCst);
    }
}

/// Whether a connection is silenced: made before the relay last went silent, and not spoken
/// again since.
#[derive(Clone)]
struct Silent {
    since: u64,
    now: Arc<AtomicU64>,
    quiet: Arc<AtomicBool>,
}

impl Silent {
    async fn unless_silenced(&self) {
        while self.quiet.load(Ordering::SeqCst) && self.now.load(Ordering::SeqCst) != self.since {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Passes bytes both ways until either side closes; when `trap` is armed and a `COMMIT` goes
/// up, the client's side is closed before anything more comes down, while PostgreSQL's side
/// stays open long enough for the commit to be done.
async fn relay_connection(
    inbound: TcpStream,
    outbound: TcpStream,
    trap: Arc<AtomicBool>,
    silent: Silent,
) {
    let (mut from_client, mut to_client) = inbound.into_split();
    let (mut from_server, mut to_server) = outbound.into_split();
    let (tripped, mut tripped_rx) = tokio::sync::watch::channel(false);
    let silent_down = silent.clone();
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            silent.unless_silenced().await;
            let commit = trap.load(Ordering::SeqCst)
                && buf[..n].windows(6).any(|w| w == b"COMMIT")
                && trap.swap(false, Ordering::SeqCst);
            if commit {
                let _ = tripped.send(true);
            }
            if to_server.write_all(&buf[..n]).await.is_err() {
                return;
            }
            if commit {
                tokio::time::sleep(Duration::from_millis(500)).await;
                return;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            tokio::select! {
                _ = tripped_rx.changed() => return,
                read = from_server.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        silent_down.unless_silenced().await;
                        if to_client.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                },
            }
        }
    };
    tokio::join!(up, down);
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one request got, and when.
#[derive(Debug, Clone)]
struct Answered {
    started: Instant,
    took: Duration,
    status: Option<u16>,
    code: Option<String>,
    retry_after: Option<String>,
    request_id: Option<String>,
    body: Value,
}

async fn ask(request: reqwest::RequestBuilder) -> Answered {
    let started = Instant::now();
    let answer = request.send().await;
    let took = started.elapsed();
    let Ok(answer) = answer else {
        return Answered {
            started,
            took,
            status: None,
            code: None,
            retry_after: None,
            request_id: None,
            body: Value::Null,
        };
    };
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (retry_after, request_id) = (header("retry-after"), header("x-request-id"));
    let status = answer.status().as_u16();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    let code = body
        .pointer("/errors/0/extensions/code")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Answered {
        started,
        took: started.elapsed().max(took),
        status: Some(status),
        code,
        retry_after,
        request_id,
        body,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stopped_for_ten_seconds_under_load() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let (relay, relayed) = Relay::in_front_of(&env).await;

    let created = env
        .cli()
        .args([
            "users",
            "create",
            "--id",
            "ada",
            "--email",
            "ada@example.com",
        ])
        .env("DATABASE_URL", relayed.as_str())
        .env("CREDLEDGER_NEW_PASSWORD", "a-long-enough-password")
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server_log = env.dir.path().join("serve.log");
    let _server = Server(
        env.cli()
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", relayed.as_str())
            // The service's own wait for a connection: its answer in an outage is the test.
            .env_remove("CREDLEDGER_DB_CONNECTION_WAIT_MS")
            .env("CREDLEDGER_JOBS", "off")
            // Four clients asking as fast as they can would meet the API rate limit, which is
            // not what this test is about (tests/limits.rs is).
            .env("CREDLEDGER_API_RATE_LIMIT", "0")
            .stdout(Stdio::null())
            // Its log says why an answer was what it was (by request id).
            .stderr(std::fs::File::create(&server_log).unwrap())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the server never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let login = http
        .post(format!("{base}/graphql"))
        .json(&json!({"query": "mutation { login(login: \"ada@example.com\", password: \"a-long-enough-password\") { user { id } } }"}))
        .send()
        .await
        .unwrap();
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let query = |http: &reqwest::Client| {
        http.post(format!("{base}/graphql"))
            .header("cookie", cookie.clone())
            .json(&json!({"query": "{ me { id apiTokens { id } } }"}))
    };
    let first = ask(query(&http)).await;
    assert_eq!(
        (first.status, first.code.as_deref()),
        (Some(200), None),
        "{first:?}"
    );

    // Load: four clients asking all the time, a fifth asking /readyz.
    let answers: Arc<Mutex<Vec<Answered>>> = Arc::default();
    let readiness: Arc<Mutex<Vec<(Answered, Instant)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = JoinSet::new();
    for _ in 0..4 {
        let (http, answers, stop) = (http.clone(), answers.clone(), stop.clone());
        let request = query(&http);
        load.spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let answered = ask(request.try_clone().unwrap()).await;
                answers.lock().unwrap().push(answered);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }
    // And four writers, each issuing an API token and revoking it. A command committed just
    // before the cut waits for the read models up to the read-your-writes limit (5 s) before it
    // answers with what it committed, so the writers give an answer 8 s.
    let writes: Arc<Mutex<Vec<Answered>>> = Arc::default();
    let writers_http = reqwest::Client::builder()
        .timeout(Duration::from_secs(8))
        .build()
        .unwrap();
    for writer in 0..4 {
        let (http, answers, stop) = (writers_http.clone(), writes.clone(), stop.clone());
        let (base, cookie) = (base.clone(), cookie.clone());
        load.spawn(async move {
            let mut issued: Option<String> = None;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let query = match &issued {
                    Some(id) => format!("mutation {{ revokeApiToken(id: \"{id}\") }}"),
                    None => format!(
                        "mutation {{ createApiToken(name: \"writer {writer}\", \
                         scopes: [CREDENTIALS_READ]) {{ apiToken {{ id }} }} }}"
                    ),
                };
                let answered = ask(http
                    .post(format!("{base}/graphql"))
                    .header("cookie", cookie.clone())
                    .json(&json!({ "query": query })))
                .await;
                if answered.status == Some(200) && answered.code.is_none() {
                    issued = answered
                        .body
                        .pointer("/data/createApiToken/apiToken/id")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                }
                answers.lock().unwrap().push(answered);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }
    {
        let (http, readiness, stop) = (http.clone(), readiness.clone(), stop.clone());
        let url = format!("{base}/readyz");
        load.spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let answered = ask(http.get(&url)).await;
                readiness.lock().unwrap().push((answered, Instant::now()));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cut = Instant::now();
    relay.cut();
    tokio::time::sleep(Duration::from_secs(10)).await;
    relay.restore().await;
    let restored = Instant::now();

    // Back within five seconds, without a restart: answers, readiness, and a write the read
    // models show.
    let back = loop {
        let answered = ask(query(&http)).await;
        if answered.status == Some(200) && answered.code.is_none() {
            break Instant::now();
        }
        assert!(
            restored.elapsed() < Duration::from_secs(5),
            "not answering 5 s after PostgreSQL came back: {answered:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let written = ask(
        http.post(format!("{base}/graphql"))
            .header("cookie", cookie.clone())
            .json(&json!({"query": "mutation { createApiToken(name: \"after\", scopes: [CREDENTIALS_READ]) { token } }"})),
    )
    .await;
    assert_eq!(
        (written.status, written.code.as_deref()),
        (Some(200), None),
        "{written:?}"
    );
    loop {
        let ready = http.get(format!("{base}/readyz")).send().await;
        let body: Value = match ready {
            Ok(r) if r.status().is_success() => r.json().await.unwrap(),
            _ => Value::Null,
        };
        let caught_up = body["consumers"]
            .as_array()
            .is_some_and(|c| c.iter().all(|c| c["lag"] == 0));
        if caught_up {
            break;
        }
        assert!(
            restored.elapsed() < Duration::from_secs(5),
            "the read models did not catch up 5 s after PostgreSQL came back: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    while load.join_next().await.is_some() {}

    // How many answers the window must hold to say anything: the four readers are answered
    // about once a second each throughout; a writer whose command committed just before the
    // cut first waits up to 5 s for the read models (read-your-writes), so with all four caught
    // that way the writers leave about 4 × (9.5 − 5) answers in the 9.5 s window (17 seen
    // once with the whole suite running beside it).
    let limits = [
        ("reads", answers, Duration::from_secs(2), 20),
        ("writes", writes, Duration::from_secs(7), 8),
    ];
    for (what, answers, limit, enough) in limits {
        let answers = answers.lock().unwrap().clone();
        // Nothing hung: every request of the run got an answer, reads within two seconds,
        // writes within the read-your-writes limit and the second a connection is waited for.
        let unanswered: Vec<_> = answers.iter().filter(|a| a.status.is_none()).collect();
        assert!(unanswered.is_empty(), "{what}: {unanswered:#?}");
        let slow: Vec<_> = answers.iter().filter(|a| a.took > limit).collect();
        assert!(slow.is_empty(), "{what}: {slow:#?}");
        // While it was gone (after the connections already open had failed): 503, UNAVAILABLE,
        // Retry-After and the request id, every time.
        let during: Vec<_> = answers
            .iter()
            .filter(|a| {
                a.started > cut + Duration::from_millis(500) && a.started + a.took < restored
            })
            .collect();
        assert!(during.len() > enough, "{what}: {}", during.len());
        // What the server logged of a request.
        let logged = |a: &Answered| {
            let log = std::fs::read_to_string(&server_log).unwrap_or_default();
            let id = a.request_id.as_deref().unwrap_or("(no request id)");
            log.lines()
                .filter(|l| l.contains(id))
                .collect::<Vec<_>>()
                .join("\n")
        };
        for a in &during {
            assert_eq!(a.status, Some(503), "{what}: {a:?}");
            assert_eq!(
                a.code.as_deref(),
                Some("UNAVAILABLE"),
                "{what}: {a:?}; the server logged: {}",
                logged(a)
            );
            assert!(a.retry_after.is_some(), "{what}: {a:?}");
            // The body says when too, whichever step met the outage (the caller's lookup, the
            // rate limit, a resolver).
            assert_eq!(
                a.body.pointer("/errors/0/extensions/retryAfter"),
                Some(&serde_json::json!(2)),
                "{what}: {a:?}"
            );
            assert!(a.request_id.is_some(), "{what}: {a:?}");
        }
        // And before and after it, answers.
        assert!(
            answers
                .iter()
                .any(|a| a.started < cut && a.status == Some(200) && a.code.is_none()),
            "{what}"
        );
        assert!(
            answers
                .iter()
                .any(|a| a.started > back && a.status == Some(200) && a.code.is_none()),
            "{what}"
        );
    }
    // Readiness said so, in time.
    let readiness = readiness.lock().unwrap().clone();
    let not_ready: Vec<_> = readiness
        .iter()
        .filter(|(a, _)| {
            a.started > cut + Duration::from_millis(500) && a.started + a.took < restored
        })
        .collect();
    assert!(not_ready.len() > 5, "{}", not_ready.len());
    for (a, _) in &not_ready {
        assert_eq!(a.status, Some(503), "{a:?}");
        assert!(a.took <= Duration::from_secs(2), "{a:?}");
        assert!(a.retry_after.is_some(), "{a:?}");
    }
    assert!(readiness
        .iter()
        .any(|(a, _)| a.started > back && a.status == Some(200)));
}

/// A group writer of its own whose connections go through a [`Relay`].
async fn relayed_writer(env: &TestEnv) -> (Relay, GroupAppender) {
    let (relay, db) = relayed_database(env, 4).await;
    (relay, GroupAppender::start(db))
}

/// The test's database, migrated, through a relay.
async fn relayed_database(
    env: &TestEnv,
    max_connections: u32,
) -> (Relay, credledger_adapters::Database) {
    let (relay, relayed) = Relay::in_front_of(env).await;
    let db = credledger_adapters::Database::connect(&credledger_adapters::DatabaseConfig {
        url: Some(relayed.to_string()),
        data_dir: env.data_dir(),
        max_connections,
        connection_wait: credledger_adapters::db::DEFAULT_CONNECTION_WAIT,
    })
    .await
    .unwrap();
    db.migrate().await.unwrap();
    (relay, db)
}

fn probe(id: &str) -> NewEvent {
    NewEvent {
        aggregate_type: "usage",
        aggregate_id: id.to_owned(),
        event_type: "CommitProbe".into(),
        event_version: "1".into(),
        payload: "{}".into(),
        metadata: crate::support::EVENT_METADATA.into(),
    }
}

/// A group of appends whose commit PostgreSQL received and did, but whose answer never came
/// (the connection failed at the commit), is answered `UNAVAILABLE` saying the events may have
/// been written, and is not written again: each event is in the ledger once, not twice.
#[tokio::test]
async fn a_group_whose_commit_was_not_confirmed_is_not_written_again() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let (relay, writer) = relayed_writer(&env).await;

    relay.fail_next_commit();
    let (first, second) = tokio::join!(
        writer.append(probe("first")),
        writer.append(probe("second"))
    );
    for answer in [first, second] {
        let e = answer.expect_err("the commit was not confirmed");
        assert!(e.is_unavailable(), "{e}");
        assert!(e.to_string().contains("may have been written"), "{e}");
    }
    let pool = env.any_pool().await;
    let written = || async {
        sqlx::query_as::<_, (String, i64)>(
            "SELECT aggregate_id, COUNT(*) FROM events WHERE event_type = 'CommitProbe' \
             GROUP BY aggregate_id ORDER BY aggregate_id",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    // PostgreSQL may still be doing the commit whose answer was lost.
    crate::support::eventually("the commit to be done", || async {
        written().await.len() == 2
    })
    .await;
    assert_eq!(
        written().await,
        [("first".to_owned(), 1), ("second".to_owned(), 1)],
        "written once by the commit that was not confirmed"
    );
    // The writer goes on with a new connection.
    writer.append(probe("third")).await.unwrap();
}

/// A write whose connection stops answering without closing (a failover whose old server
/// vanished, a link cut by a firewall that drops packets) is answered `UNAVAILABLE` once the
/// round's deadline has passed, not when the kernel gives up on the connection (some 15
/// minutes, every command of the process waiting behind it); the writer goes on.
#[tokio::test]
async fn a_write_on_a_connection_that_stopped_answering_ends_at_its_deadline() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let (relay, db) = relayed_database(&env, 2).await;
    // Every connection the pool may hold is open, so the write takes one that goes silent.
    let open = (0..2).map(|_| sqlx::query("SELECT pg_sleep(0.2)").execute(&db.any));
    for opened in futures::future::join_all(open).await {
        opened.unwrap();
    }
    let writer = GroupAppender::start(db.clone());
    relay.go_silent();
    let deadline = credledger_adapters::append::ROUND_DEADLINE;
    let answer = tokio::time::timeout(deadline * 2, writer.append(probe("unanswered")))
        .await
        .expect("still waiting on a connection that does not answer");
    let e = answer.expect_err("the database did not answer");
    assert!(e.is_unavailable(), "{e}");
    // Stopped before its commit was sent: nothing written, so asking again is safe.
    assert!(e.to_string().contains("nothing was written"), "{e}");
    // The silent connection is no longer the pool's (closing it would wait on the server).
    assert_eq!(db.any.size(), 1);
    relay.speak_again();
    writer.append(probe("after")).await.unwrap();
    let written: Vec<String> = sqlx::query_scalar(
        "SELECT aggregate_id FROM events WHERE event_type = 'CommitProbe' ORDER BY 1",
    )
    .fetch_all(&env.any_pool().await)
    .await
    .unwrap();
    assert_eq!(written, ["after"]);
}

/// A group of appends that meets the database gone is answered `UNAVAILABLE` as a group, in the
/// time one connection attempt takes, not split to wait for a connection once per append; and
/// nothing is written.
#[tokio::test]
async fn a_group_that_meets_the_database_gone_is_answered_unavailable_as_a_group() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let (relay, writer) = relayed_writer(&env).await;
    relay.cut();
    let answers =
        futures::future::join_all(["a", "b", "c", "d"].map(|id| writer.append(probe(id)))).await;
    for answer in answers {
        let e = answer.expect_err("the database is gone");
        assert!(e.is_unavailable(), "{e}");
    }
    relay.restore().await;
    let written: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE event_type = 'CommitProbe'")
            .fetch_one(&env.any_pool().await)
            .await
            .unwrap();
    assert_eq!(written, 0);
}

/// A process that stops in the middle of a write (its session idle in a transaction that holds
/// the ledger's position lock, as when its link goes quiet) holds every other writer back only
/// until PostgreSQL ends that session, ten seconds on, not for as long as the session lives.
#[tokio::test]
async fn a_writer_stopped_inside_its_transaction_holds_the_others_back_only_for_a_while() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let config = credledger_adapters::DatabaseConfig {
        url: env.database_url.clone(),
        data_dir: env.data_dir(),
        max_connections: 4,
        connection_wait: credledger_adapters::db::DEFAULT_CONNECTION_WAIT,
    };
    let stopped = credledger_adapters::Database::connect(&config)
        .await
        .unwrap();
    stopped.migrate().await.unwrap();
    let mut tx = stopped.any.begin().await.unwrap();
    // The lock every insert into the events table takes (migrations/postgres/0001_events.sql).
    sqlx::query("SELECT pg_advisory_xact_lock(4857321190876543210)")
        .execute(&mut *tx)
        .await
        .unwrap();

    let other = credledger_adapters::Database::connect(&config)
        .await
        .unwrap();
    let writer = GroupAppender::start(other);
    let appended = tokio::time::timeout(Duration::from_secs(60), writer.append(probe("after")))
        .await
        .expect("still held back after a minute");
    appended.unwrap();
    assert!(
        tx.commit().await.is_err(),
        "the stopped session was ended by PostgreSQL"
    );
}

/// A lease this instance holds that ran out (its renewals stopped) makes it not ready, naming
/// the job; let go, the instance is ready again.
async fn a_stuck_job_makes_the_instance_not_ready(env: crate::support::TestEnv) {
    let server = env.server().await;
    let http = &server.http;
    let readyz = format!("{}/readyz", server.base);
    let ready = |http: &reqwest::Client| {
        let readyz = readyz.clone();
        let http = http.clone();
        async move {
            let answer = http.get(&readyz).send().await.unwrap();
            (
                answer.status().as_u16(),
                answer.json::<Value>().await.unwrap(),
            )
        }
    };
    crate::support::eventually("the revalidation run at start", || async {
        server.running.jobs().runs("revalidate") >= 1
    })
    .await;
    assert_eq!(ready(http).await.0, 200);

    let pool = env.any_pool().await;
    let holder = server.running.jobs().holder().to_owned();
    sqlx::query("UPDATE leases SET holder = $1, expires_at = $2 WHERE name = 'revalidate'")
        .bind(&holder)
        .bind("2000-01-01T00:00:00.000000Z")
        .execute(&pool)
        .await
        .unwrap();
    let (status, body) = ready(http).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body, json!({"status": "job stuck", "job": "revalidate"}));

    sqlx::query("UPDATE leases SET holder = NULL WHERE name = 'revalidate'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(ready(http).await.0, 200);
    pool.close().await;
}
crate::on_both_backends!(a_stuck_job_makes_the_instance_not_ready);

/// Opening the database while PostgreSQL is slow to give a first connection (slower than the
/// one second a statement waits for one) waits it out instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_the_database_waits_out_a_first_connection_slower_than_a_statement_would() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let (relay, relayed) = Relay::in_front_of(&env).await;
    relay.stall_for(Duration::from_millis(2_500));
    let started = Instant::now();
    let opened = credledger_adapters::Database::connect(&credledger_adapters::db::DatabaseConfig {
        url: Some(relayed.to_string()),
        data_dir: env.data_dir(),
        max_connections: 4,
        connection_wait: credledger_adapters::db::DEFAULT_CONNECTION_WAIT,
    })
    .await;
    let waited = started.elapsed();
    let db = opened.unwrap_or_else(|e| panic!("after {waited:?}: {e}"));
    assert!(waited >= Duration::from_secs(2), "{waited:?}");
    db.ping().await.unwrap();
}

/// A one-shot command waits for connections slower than the second a request of the service
/// waits (a database busy taking connections): it has no client to answer quickly, and failing
/// would only make its operator run it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_waits_for_connections_slower_than_a_request_would() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    env.ledger().await;
    let (relay, relayed) = Relay::in_front_of(&env).await;
    relay.slow_connections_by(Duration::from_millis(1_500));
    let mut cli = env.cli();
    cli.env("DATABASE_URL", relayed.as_str())
        .env_remove("CREDLEDGER_DB_CONNECTION_WAIT_MS")
        .args(["ledger", "verify"]);

    let out = tokio::task::spawn_blocking(move || cli.output().unwrap())
        .await
        .unwrap();

    let text = crate::support::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("ledger verify: OK"), "{text}");
}

/// A live feed that starts while the database is away reads the ledger's head again until it
/// answers, and only then follows: a subscriber is refused (`UNAVAILABLE`) until then, so no
/// one is sent the changes made before the start as if they were new (the feed followed from
/// position 0 and sent every change since the ledger began); once it has started, a
/// subscriber's first change is the first one made after it. It ends on shutdown while still
/// waiting for the database.
#[tokio::test]
async fn a_live_feed_that_starts_while_the_database_is_away_sends_no_old_change() {
    use credledger::graphql::{LiveFeed, NotStarted};
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let ledger = env.ledger().await;
    let token = r#"{"token":"ntn_made_before_the_start_00000000"}"#;
    let old = crate::support::register(&ledger, "alice", "notion", "Old", token)
        .await
        .unwrap();
    let (relay, relayed) = relayed_database(&env, 2).await;
    relay.cut();
    relay.is_cut().await;
    let feed = LiveFeed::new();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let follower = {
        let (feed, db) = (feed.clone(), relayed.clone());
        tokio::spawn(async move { feed.follow(db, stopped).await })
    };

    let early = feed.subscribe();
    relay.restore().await;
    crate::support::eventually("the live feed to read the ledger's head", || async {
        feed.subscribe().is_ok()
    })
    .await;
    let mut changes = feed.subscribe().unwrap();
    let token = r#"{"token":"ntn_made_after_the_start_000000000"}"#;
    let new = crate::support::register(&ledger, "alice", "notion", "New", token)
        .await
        .unwrap();
    let first = changes.next().await.unwrap().expect("a change");
    assert_eq!(
        first.credential_id,
        new.to_string(),
        "{first:?} (old: {old})"
    );
    // Whatever an early subscriber was answered, it was sent no old change either.
    match early {
        Err(refused) => assert_eq!(refused, NotStarted),
        Ok(mut early) => {
            let first = early.next().await.unwrap().expect("a change");
            assert_eq!(
                first.credential_id,
                new.to_string(),
                "an old change: {first:?}"
            );
        }
    }
    stop.send(true).unwrap();
    follower.await.unwrap();

    // A feed still waiting for the database ends on shutdown.
    relay.cut();
    relay.is_cut().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let waiting = LiveFeed::new();
    let follower = {
        let (feed, db) = (waiting.clone(), relayed.clone());
        tokio::spawn(async move { feed.follow(db, stopped).await })
    };
    assert!(
        waiting.subscribe().is_err(),
        "refused while it has no start"
    );
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(20), follower)
        .await
        .expect("the feed ended on shutdown")
        .unwrap();
    waiting.ended().await;
}
