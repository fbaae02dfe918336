//! PostgreSQL goes away for ten seconds under load, then comes back, and the real binary never
//! hangs: every request is answered within two seconds (`UNAVAILABLE`, HTTP 503, `Retry-After`,
//! the request id), `/readyz` says the database is unavailable, and once PostgreSQL is back
//! everything answers again on its own, read models included.
//!
//! "Going away" is a TCP relay in front of the test's PostgreSQL, cut (every open connection
//! dropped, new ones refused) and restored on the same port: what the server sees when the
//! database is stopped and started, without stopping the cluster other tests share.

use crate::support::TestEnv;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A relay to PostgreSQL that can be cut and restored on the same port.
struct Relay {
    port: u16,
    upstream: SocketAddr,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            port: listener.local_addr().unwrap().port(),
            upstream,
            task: Mutex::new(None),
        };
        relay.serve(listener);
        relay
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream;
        let task = tokio::spawn(async move {
            // Dropped with the task when it is aborted: every relayed connection closes.
            let mut connections = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        *self.task.lock().unwrap() = Some(task);
    }

    /// The database is gone: open connections drop, new ones are refused.
    fn cut(&self) {
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
    }

    /// The database is back, at the same address.
    async fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
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
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stopped_for_ten_seconds_under_load() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let url = reqwest::Url::parse(env.database_url.as_deref().unwrap()).unwrap();
    let upstream: SocketAddr =
        format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432))
            .parse()
            .unwrap();
    let relay = Relay::start(upstream).await;
    let mut relayed = url.clone();
    relayed.set_port(Some(relay.port)).unwrap();

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
    let _server = Server(
        env.cli()
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", relayed.as_str())
            .env("CREDLEDGER_JOBS", "off")
            // Four clients asking as fast as they can would meet the API rate limit, which is
            // not what this test is about (tests/limits.rs is).
            .env("CREDLEDGER_API_RATE_LIMIT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
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

    let answers = answers.lock().unwrap().clone();
    // Nothing hung: every request of the run got an answer, within two seconds.
    let unanswered: Vec<_> = answers.iter().filter(|a| a.status.is_none()).collect();
    assert!(unanswered.is_empty(), "{unanswered:#?}");
    let slow: Vec<_> = answers
        .iter()
        .filter(|a| a.took > Duration::from_secs(2))
        .collect();
    assert!(slow.is_empty(), "{slow:#?}");
    // While it was gone (after the connections already open had failed): 503, UNAVAILABLE,
    // Retry-After and the request id, every time.
    let during: Vec<_> = answers
        .iter()
        .filter(|a| a.started > cut + Duration::from_millis(500) && a.started + a.took < restored)
        .collect();
    assert!(during.len() > 20, "{}", during.len());
    for a in &during {
        assert_eq!(a.status, Some(503), "{a:?}");
        assert_eq!(a.code.as_deref(), Some("UNAVAILABLE"), "{a:?}");
        assert!(a.retry_after.is_some(), "{a:?}");
        assert!(a.request_id.is_some(), "{a:?}");
    }
    // And before and after it, answers.
    assert!(answers
        .iter()
        .any(|a| a.started < cut && a.status == Some(200)));
    assert!(answers
        .iter()
        .any(|a| a.started > back && a.status == Some(200) && a.code.is_none()));
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
