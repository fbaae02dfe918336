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

/// `credledger serve --dev` on `dir`, listening on `port`.
fn serve_dev(dir: &std::path::Path, port: u16, stderr: Stdio) -> Child {
    Child(
        Command::new(BIN)
            .args(["serve", "--dev", "--bind", &format!("127.0.0.1:{port}")])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CREDLEDGER_DATA_DIR", dir)
            .env("CREDLEDGER_LOG", "warn")
            .stderr(stderr)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    )
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
        Some(cookie),
        "{ dashboard { total servicesConnected } }",
        json!({}),
    )
    .await;
    assert_eq!(dashboard["data"]["dashboard"]["servicesConnected"], 1);
    // Starting again on the same directory keeps the demo accounts (no duplicate, no error).
    drop(child);
    let port = free_port();
    let restarted = serve_dev(dir.path(), port, Stdio::null());
    let mut ready = false;
    for _ in 0..200 {
        if http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ready,
        "serve --dev did not come back on the same data directory"
    );
    drop(restarted);
}
