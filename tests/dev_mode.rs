//! `credledger serve --dev` on a fresh data directory: the simulator, the demo accounts and the
//! printed demo secrets are enough to sign in and connect a service, with no real token.

use crate::support::BIN;
use serde_json::{json, Value};
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `credledger ARGS` on the data directory `dir`, with nothing else from the environment.
fn credledger(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CREDLEDGER_DATA_DIR", dir)
        .env("CREDLEDGER_LOG", "warn");
    command
}

/// A Google OAuth client configured beside `--dev` (as a developer's environment may hold one):
/// dev mode must not send it to the simulator.
const REAL_GOOGLE_CLIENT_ID: &str = "1234-real.apps.googleusercontent.com";
const REAL_GOOGLE_CLIENT_SECRET: &str = "GOCSPX-canary-real-client-secret";

/// `credledger serve --dev` on `dir`, listening on `port`.
fn serve_dev(dir: &std::path::Path, port: u16, stderr: Stdio) -> Child {
    Child(
        credledger(
            dir,
            &["serve", "--dev", "--bind", &format!("127.0.0.1:{port}")],
        )
        .env("CREDLEDGER_OAUTH_GOOGLE_CLIENT_ID", REAL_GOOGLE_CLIENT_ID)
        .env(
            "CREDLEDGER_OAUTH_GOOGLE_CLIENT_SECRET",
            REAL_GOOGLE_CLIENT_SECRET,
        )
        .stderr(stderr)
        .stdout(Stdio::null())
        .spawn()
        .unwrap(),
    )
}

/// Whether a server on loopback `port` answers `/readyz` within 20 s.
async fn ready_within_20_s(http: &reqwest::Client, port: u16) -> bool {
    for _ in 0..200 {
        if http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Runs `serve ARGS` on `dir`, which must refuse to start: what it printed. One still running
/// after 30 s is stopped, and the test fails.
async fn refused_start(dir: &std::path::Path, args: &[&str]) -> String {
    let args = [&["serve", "--bind", "127.0.0.1:0"][..], args].concat();
    let mut child = Child(
        credledger(dir, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    for _ in 0..300 {
        if let Some(status) = child.0.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut stderr)
                .unwrap();
            assert!(!status.success(), "serve {args:?} exited 0: {stderr}");
            return stderr;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("serve {args:?} started on a ledger it should refuse");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_dev_from_a_fresh_directory_gives_a_working_demo() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve_dev(dir.path(), port, Stdio::piped());
    // The banner names the demo sign-in and the secrets the simulator accepts.
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut banner = Vec::new();
    let mut notion_token = None;
    while notion_token.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the dev banner");
        if let Some(rest) = line.trim_start().strip_prefix("notion") {
            notion_token = rest
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("token="))
                .map(str::to_owned);
        }
        banner.push(line);
    }
    let banner = banner.join("\n");
    assert!(banner.contains("DEV MODE"), "{banner}");
    assert!(
        banner.contains("demo@credledger.dev / demo-password-123"),
        "{banner}"
    );
    let token = notion_token.unwrap();

    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let gql = |cookie: Option<String>, query: &'static str, variables: Value| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let mut req = http
                .post(format!("{base}/graphql"))
                .header("content-type", "application/json")
                .body(json!({"query": query, "variables": variables}).to_string());
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            let resp = req.send().await.unwrap();
            let cookie = resp
                .headers()
                .get("set-cookie")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .map(str::to_owned);
            (cookie, resp.json::<Value>().await.unwrap())
        }
    };
    let (cookie, signed_in) = gql(
        None,
        "mutation { login(login: \"demo@credledger.dev\", password: \"demo-password-123\") { user { displayName } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        signed_in["data"]["login"]["user"]["displayName"],
        "Demo User"
    );
    let cookie = cookie.expect("a session cookie");
    let (_, added) = gql(
        Some(cookie.clone()),
        "mutation($f: JSON!) { addCredential(input: {service: \"notion\", name: \"Demo\", fields: $f}) { credential { status isPrimary account { displayName } } } }",
        json!({"f": {"token": token}}),
    )
    .await;
    let credential = &added["data"]["addCredential"]["credential"];
    assert_eq!(credential["status"], "ACTIVE", "{added}");
    assert_eq!(credential["isPrimary"], true);
    assert_eq!(credential["account"]["displayName"], "Acme HQ");
    let (_, dashboard) = gql(
        Some(cookie.clone()),
        "{ dashboard { total servicesConnected } }",
        json!({}),
    )
    .await;
    assert_eq!(dashboard["data"]["dashboard"]["servicesConnected"], 1);
    // Connecting Gmail reaches the simulated Google's consent page: the server registered its
    // own callback with the demo client, whose redirect URIs Google checks exactly. The real
    // client in the environment is not the one used (the simulator does not know it, and would
    // be sent its secret at the code exchange).
    let (_, started) = gql(
        Some(cookie),
        "mutation { startOAuthConnection(service: \"gmail\") { authorizationUrl } }",
        json!({}),
    )
    .await;
    let url = started["data"]["startOAuthConnection"]["authorizationUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"));
    assert!(
        url.contains(&format!(
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Foauth%2Fcallback"
        )),
        "{url}"
    );
    assert!(
        url.contains(&format!(
            "client_id={}",
            credledger_adapters::simulator::DEMO_OAUTH_CLIENT_ID
        )) && !url.contains(REAL_GOOGLE_CLIENT_ID),
        "{url}"
    );
    let consent = http.get(url).send().await.unwrap();
    assert_eq!(consent.status(), 200);
    assert!(consent.text().await.unwrap().contains("Allow"));
    // Starting again on the same directory keeps the demo accounts (no duplicate, no error).
    drop(child);
    let port = free_port();
    let restarted = serve_dev(dir.path(), port, Stdio::null());
    let ready = ready_within_20_s(&http, port).await;
    assert!(
        ready,
        "serve --dev did not come back on the same data directory"
    );
    drop(restarted);
    // Without --dev the demo ledger is refused: its administrator's password is published.
    let refused = refused_start(dir.path(), &[]).await;
    assert!(
        refused.contains("made by `serve --dev`") && refused.contains("admin@credledger.dev"),
        "{refused}"
    );
}

/// A ledger with a history of its own (here its first administrator, created from the CLI) is
/// never opened by `serve --dev`, which would add an administrator whose password is published
/// and check its credentials against the simulator; `serve` opens it as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_dev_refuses_a_ledger_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    let created = credledger(
        dir.path(),
        &[
            "users",
            "create",
            "--admin",
            "--id",
            "admin",
            "--email",
            "ops@example.com",
        ],
    )
    .env("CREDLEDGER_NEW_PASSWORD", "a long enough password 1")
    .output()
    .unwrap();
    assert!(created.status.success(), "{created:?}");

    let refused = refused_start(dir.path(), &["--dev"]).await;
    assert!(
        refused.contains("runs only on a new ledger or one it made"),
        "{refused}"
    );
    // Nothing was added: the ledger still starts without --dev.
    let port = free_port();
    let _serving = Child(
        credledger(
            dir.path(),
            &["serve", "--bind", &format!("127.0.0.1:{port}")],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let http = reqwest::Client::new();
    let ready = ready_within_20_s(&http, port).await;
    assert!(ready, "serve did not start on the ledger --dev refused");
}

/// A first `serve --dev` stopped between its two demo accounts leaves only the demo user (made
/// here from the CLI): the ledger is still one dev mode made, refused by `serve` and opened by
/// `serve --dev`, which adds the administrator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_holding_only_the_demo_user_is_still_one_dev_mode_made() {
    let dir = tempfile::tempdir().unwrap();
    let created = credledger(
        dir.path(),
        &[
            "users",
            "create",
            "--id",
            "demo",
            "--email",
            "demo@credledger.dev",
        ],
    )
    .env("CREDLEDGER_NEW_PASSWORD", "demo-password-123")
    .output()
    .unwrap();
    assert!(created.status.success(), "{created:?}");

    let refused = refused_start(dir.path(), &[]).await;
    assert!(refused.contains("made by `serve --dev`"), "{refused}");
    let port = free_port();
    let _dev = serve_dev(dir.path(), port, Stdio::null());
    assert!(
        ready_within_20_s(&reqwest::Client::new(), port).await,
        "serve --dev refused the ledger it began"
    );
}
