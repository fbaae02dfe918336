//! Generated hostile input against a running `Application`, over HTTP and WebSocket: documents
//! with random fragment graphs (cycles and diamonds among them), deep nesting of selections,
//! arguments and variables, random aliases, junk text and random WebSocket messages. After each
//! case the server must be alive, must have answered in bounded time without a 5xx, and every
//! error must carry a known code and no internal detail.
//!
//! `CREDLEDGER_FUZZ_CASES` sets the number of cases (256 by default, as in `scripts/test`);
//! `scripts/fuzz-edge` runs a longer campaign and prints the figures.

use crate::support::ws::{Received, Ws};
use crate::support::TestEnv;
use credledger::error::ApiError;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The longest any one answer may take: far above any honest request, far below a stall.
const ANSWER_BOUND: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
enum Case {
    /// A document and its variables, over HTTP or over WebSocket.
    Document {
        query: String,
        variables: Value,
        websocket: bool,
    },
    /// Any text as an HTTP body or a WebSocket message.
    Raw { text: String, websocket: bool },
}

fn field_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "__typename",
        "me",
        "id",
        "name",
        "credentials",
        "services",
        "dashboard",
        "nosuchfield",
        "__schema",
        "login",
    ])
}

/// A value nested `depth` levels: lists, objects, or a mix, written as GraphQL text.
fn nested_value(depth: usize, objects: bool) -> String {
    let mut value = String::from("\"x\"");
    for i in 0..depth {
        value = if objects && i % 2 == 0 {
            format!("{{a: {value}}}")
        } else {
            format!("[{value}]")
        };
    }
    value
}

/// A selection set nested `depth` levels.
fn nested_selection(depth: usize) -> String {
    format!("{}__typename{}", "me { ".repeat(depth), " }".repeat(depth))
}

fn document() -> impl Strategy<Value = (String, Value)> {
    let fragments = prop::collection::vec(
        (
            prop::collection::vec(0usize..8, 0..4),
            prop::collection::vec((field_name(), any::<bool>(), any::<bool>()), 1..5),
        ),
        0..8,
    );
    (
        fragments,
        prop::collection::vec(0usize..8, 0..4),
        0usize..120,
        0usize..400,
        any::<bool>(),
        0usize..200,
        0usize..40,
        prop::sample::select(vec!["", "mutation ", "subscription ", "query Q "]),
        "[{}\\[\\]()\"#a-z ]{0,40}",
    )
        .prop_map(
            |(
                fragments,
                root_spreads,
                selection_depth,
                value_depth,
                objects,
                variable_depth,
                aliases,
                kind,
                junk,
            )| {
                let n = fragments.len().max(1);
                let mut text = String::new();
                text.push_str(kind);
                text.push_str("{ ");
                for s in &root_spreads {
                    if !fragments.is_empty() {
                        text.push_str(&format!("...F{} ", s % n));
                    }
                }
                for i in 0..aliases {
                    text.push_str(&format!("a{i}: __typename "));
                }
                text.push_str(&format!(
                    "credentials(service: {}) {{ id }} ",
                    nested_value(value_depth, objects)
                ));
                text.push_str(&nested_selection(selection_depth));
                text.push_str(" }");
                for (i, (spreads, fields)) in fragments.iter().enumerate() {
                    text.push_str(&format!(" fragment F{i} on Query {{ "));
                    for s in spreads {
                        text.push_str(&format!("...F{} ", s % n));
                    }
                    for (name, alias, inline) in fields {
                        if *inline {
                            text.push_str(&format!("... on Query {{ ...F{} }} ", (i + 1) % n));
                        }
                        if *alias {
                            text.push_str("x: ");
                        }
                        text.push_str(name);
                        text.push(' ');
                    }
                    text.push('}');
                }
                text.push_str(&junk);
                let mut variable = json!("notion");
                for _ in 0..variable_depth {
                    variable = json!({ "v": [variable] });
                }
                (text, json!({ "v": variable }))
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![
        4 => (document(), any::<bool>()).prop_map(|((query, variables), websocket)| Case::Document {
            query,
            variables,
            websocket,
        }),
        1 => ("\\PC{0,200}", any::<bool>()).prop_map(|(text, websocket)| Case::Raw { text, websocket }),
        1 => (0usize..3000, any::<bool>()).prop_map(|(n, websocket)| Case::Raw {
            text: format!("{}{}", "{\"query\":".repeat(n.min(40)), "[".repeat(n)),
            websocket,
        }),
    ]
}

/// Every error carries a known code and says nothing of our insides.
fn check_errors(body: &Value) -> Result<(), TestCaseError> {
    let Some(errors) = body.get("errors").and_then(Value::as_array) else {
        return Ok(());
    };
    for error in errors {
        let code = error["extensions"]["code"].as_str().unwrap_or("<none>");
        // A hostile request is refused with a code of the closed list, never an internal fault.
        prop_assert!(
            ApiError::CODES.contains(&code) && !["INTERNAL", "UNAVAILABLE"].contains(&code),
            "unknown code {code}: {body}"
        );
        let message = error["message"].as_str().unwrap_or("").to_lowercase();
        for leak in ["panicked", "overflow", "sqlx", "stack", "internal error"] {
            prop_assert!(!message.contains(leak), "{leak} in {message}");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generated_hostile_requests_never_crash_stall_or_leak() {
    let cases: u32 = std::env::var("CREDLEDGER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let env = TestEnv::sqlite().await;
    let server = env.server().await;
    let address = server.running.address.to_string();
    let url = format!("{}/graphql", server.base);
    let http = reqwest::Client::builder()
        .timeout(ANSWER_BOUND)
        .build()
        .unwrap();
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    // (cases run, the slowest case's time and its start)
    let stats = std::cell::RefCell::new((0u32, Duration::ZERO, String::new()));
    let result = tokio::task::block_in_place(|| {
        runner.run(&case(), |case| {
            handle.block_on(async {
                stats.borrow_mut().0 += 1;
                let started = Instant::now();
                match &case {
                    Case::Document {
                        query,
                        variables,
                        websocket: false,
                    } => {
                        let body = json!({"query": query, "variables": variables}).to_string();
                        send_http(&http, &url, body).await?;
                    }
                    Case::Raw {
                        text,
                        websocket: false,
                    } => send_http(&http, &url, text.clone()).await?,
                    Case::Document {
                        query, variables, ..
                    } => {
                        let mut ws = Ws::connect(&address, None, json!({})).await;
                        ws.subscribe("1", query, variables.clone()).await;
                        match ws.recv(ANSWER_BOUND).await {
                            Received::Message(m) => {
                                prop_assert!(m["type"] == "next" || m["type"] == "complete", "{m}");
                                check_errors(&m["payload"])?;
                            }
                            // Too large for a message: the connection is closed, not stalled.
                            Received::Closed(_) => {}
                            Received::Nothing => {
                                // A subscription that is valid and waits for changes is fine.
                                prop_assert!(query.starts_with("subscription"), "no answer");
                            }
                        }
                    }
                    Case::Raw { text, .. } => {
                        let mut ws = Ws::connect(&address, None, json!({})).await;
                        ws.send_text(text.clone()).await;
                        // Whatever it answers, it must still be alive afterwards (checked below).
                        let _ = ws.recv(Duration::from_millis(200)).await;
                    }
                }
                let took = started.elapsed();
                prop_assert!(took < ANSWER_BOUND, "took {took:?}");
                {
                    let mut stats = stats.borrow_mut();
                    if took > stats.1 {
                        stats.1 = took;
                        stats.2 = format!("{case:?}").chars().take(200).collect();
                    }
                }
                let health = http
                    .get(format!("{}/healthz", server.base))
                    .send()
                    .await
                    .map_err(|e| TestCaseError::fail(format!("/healthz: {e}")))?;
                prop_assert!(health.status().is_success());
                Ok(())
            })
        })
    });
    let (ran, slowest, which) = stats.into_inner();
    eprintln!("fuzz: {ran} cases, slowest {slowest:?}: {which}");
    if let Err(e) = result {
        panic!("{e}");
    }
    server.running.stop().await.unwrap();
}

async fn send_http(http: &reqwest::Client, url: &str, body: String) -> Result<(), TestCaseError> {
    let resp = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
    let status = resp.status().as_u16();
    prop_assert!(status < 500, "HTTP {status}");
    let body: Value = resp
        .json()
        .await
        .map_err(|e| TestCaseError::fail(format!("not JSON: {e}")))?;
    check_errors(&body)
}
