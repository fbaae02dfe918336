//! The real server with the provider simulator on loopback, and GraphQL clients: a signed-in
//! browser session (cookie) or a machine's API token.

use super::TestEnv;
use credledger::accounts::NewUser;
use credledger::auth::Password;
use credledger::{Application, Running};
use credledger_adapters::simulator::ProviderSimulator;
use credledger_domain::EventMetadata;
use serde_json::{json, Value};

/// A running server, its simulator, and an HTTP client.
pub struct Server {
    pub running: Running,
    pub simulator: ProviderSimulator,
    pub base: String,
    pub http: reqwest::Client,
}

pub const PASSWORD: &str = "correct horse battery staple";

impl TestEnv {
    /// The real server, its catalog pointed at a fresh provider simulator.
    pub async fn server(&self) -> Server {
        self.server_with(|_| {}).await
    }

    pub async fn server_with(&self, adjust: impl FnOnce(&mut credledger::Settings)) -> Server {
        self.server_with_jobs(adjust, credledger::config::JobSettings::default())
            .await
    }

    /// The real server with these scheduled-work settings (the MCP sender's among them).
    pub async fn server_with_jobs(
        &self,
        adjust: impl FnOnce(&mut credledger::Settings),
        jobs: credledger::config::JobSettings,
    ) -> Server {
        self.server_with_simulator(
            ProviderSimulator::start().await.unwrap(),
            |s, _| adjust(s),
            jobs,
        )
        .await
    }

    /// The real server against this simulator, `adjust` seeing both (to point more at it); the
    /// simulator's OAuth client has the server's callback registered.
    pub async fn server_with_simulator(
        &self,
        simulator: ProviderSimulator,
        adjust: impl FnOnce(&mut credledger::Settings, &ProviderSimulator),
        jobs: credledger::config::JobSettings,
    ) -> Server {
        let mut settings = self.settings();
        let catalog = settings.catalog().unwrap();
        for service in catalog.services() {
            if service.honours_base_url() {
                settings.provider_urls.insert(
                    service.key.to_string(),
                    simulator.base_url(service.key.as_str()),
                );
            }
        }
        adjust(&mut settings, &simulator);
        let application = Application::build_with_jobs(settings, jobs).await.unwrap();
        // The simulated Google's demo client lets this server's callback in, as an operator
        // registers it with a real client.
        simulator.register_oauth_redirect_uri(application.oauth_callback_url());
        let running = application.start().await.unwrap();
        let base = format!("http://{}", running.address);
        Server {
            running,
            simulator,
            base,
            http: reqwest::Client::builder()
                .user_agent("credledger-tests/1")
                .redirect(reqwest::redirect::Policy::none())
                // Idle connections are let go before the server closes them (after its header
                // wait, 10 s): a request sent on one as it closed failed with `IncompleteMessage`
                // (seen after a CLI command that took about that long).
                .pool_idle_timeout(std::time::Duration::from_secs(5))
                .build()
                .unwrap(),
        }
    }
}

/// A GraphQL answer: the body and the response headers.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// `data`, asserting there are no errors.
    pub fn data(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none_or(Value::is_null),
            "unexpected errors: {}",
            self.body
        );
        &self.body["data"]
    }

    /// The first error's `extensions.code`.
    pub fn code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error, got {}", self.body))
    }

    pub fn message(&self) -> &str {
        self.body["errors"][0]["message"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Who a client is: a session cookie or an API token.
#[derive(Debug, Clone)]
pub enum Auth {
    Anonymous,
    Cookie(String),
    Bearer(String),
}

/// A client of the GraphQL endpoint.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub auth: Auth,
    pub user_id: String,
}

impl Client {
    pub async fn post_raw(&self, content_type: &str, body: Vec<u8>) -> Answer {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.base))
            .header("content-type", content_type)
            .body(body);
        req = self.authorize(req);
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::Anonymous => req,
            Auth::Cookie(c) => req.header("cookie", c),
            Auth::Bearer(t) => req.header("authorization", format!("Bearer {t}")),
        }
    }

    pub async fn gql(&self, query: &str, variables: Value) -> Answer {
        self.post_raw(
            "application/json",
            serde_json::to_vec(&json!({"query": query, "variables": variables})).unwrap(),
        )
        .await
    }

    /// `data`, asserting no errors.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        self.gql(query, variables).await.data().clone()
    }

    /// Adds a credential through `addCredential`; returns its id.
    pub async fn add(&self, service: &str, name: &str, fields: Value) -> String {
        let data = self
            .ok(
                "mutation($input: AddCredentialInput!) { addCredential(input: $input) { credential { id } } }",
                json!({"input": {"service": service, "name": name, "fields": fields}}),
            )
            .await;
        data["addCredential"]["credential"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Issues this person an API token named `name` with one scope (a GraphQL `Scope` such as
    /// `CREDENTIALS_READ`) through `createApiToken`; returns the token.
    pub async fn api_token(&self, name: &str, scope: &str) -> String {
        self.ok(
            &format!(
                "mutation {{ createApiToken(name: \"{name}\", scopes: [{scope}]) {{ token }} }}"
            ),
            json!({}),
        )
        .await["createApiToken"]["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A credential's `status` (`ACTIVE`, `INVALID`, `EXPIRED`, …) as this client reads it.
    pub async fn status(&self, id: &str) -> String {
        self.ok(
            "query($id: ID!) { credential(id: $id) { status } }",
            json!({"id": id}),
        )
        .await["credential"]["status"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn with_auth(&self, auth: Auth) -> Client {
        Client {
            auth,
            ..self.clone()
        }
    }
}

impl Server {
    pub fn anonymous(&self) -> Client {
        Client {
            base: self.base.clone(),
            http: self.http.clone(),
            auth: Auth::Anonymous,
            user_id: String::new(),
        }
    }

    /// Creates a user through the accounts use case (as `credledger users create` does).
    pub async fn create_user(&self, id: &str, admin: bool) {
        self.running
            .api
            .accounts
            .create_user(
                NewUser {
                    user_id: id.into(),
                    email: format!("{id}@example.com"),
                    display_name: format!("User {id}"),
                    password: Password::new_for_storage(PASSWORD.into()).unwrap(),
                    admin,
                },
                &EventMetadata::system("test", chrono::Utc::now(), "setup".into()),
            )
            .await
            .unwrap();
    }

    /// Signs in through the `login` mutation; the client carries the session cookie.
    pub async fn sign_in(&self, id: &str) -> Client {
        let anon = self.anonymous();
        let answer = anon
            .gql(
                "mutation($l: String!, $p: String!) { login(login: $l, password: $p) { user { id } } }",
                json!({"l": format!("{id}@example.com"), "p": PASSWORD}),
            )
            .await;
        answer.data();
        let cookie = answer
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.split(';').next().map(str::to_owned))
            .expect("a session cookie");
        Client {
            auth: Auth::Cookie(cookie),
            user_id: id.into(),
            ..anon
        }
    }

    /// A new user, signed in.
    pub async fn user(&self, id: &str) -> Client {
        self.create_user(id, false).await;
        self.sign_in(id).await
    }

    pub async fn admin(&self, id: &str) -> Client {
        self.create_user(id, true).await;
        self.sign_in(id).await
    }

    /// A demo secret the simulator accepts for `service` (the `n`th account).
    pub fn good_fields(&self, service: &str, n: usize) -> Value {
        let demo = self
            .simulator
            .demo_credentials()
            .into_iter()
            .filter(|d| d.service == service)
            .nth(n)
            .unwrap_or_else(|| panic!("no demo account {n} for {service}"));
        serde_json::to_value(demo.fields).unwrap()
    }
}

/// A `token` value the simulator refuses for services with a single `token` field.
/// The nodes of a connection (`{ edges { node } }`) in an answer, in order.
pub fn nodes(connection: &Value) -> Vec<Value> {
    connection["edges"]
        .as_array()
        .expect("a connection's edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

pub fn bad_token() -> Value {
    json!({"token": "ntn_this_token_is_wrong"})
}
