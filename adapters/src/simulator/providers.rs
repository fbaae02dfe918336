//! Each simulated API: the request it expects (path, authentication, required headers) and the
//! answers the real one gives, success and refusal, in its own shapes.

use super::{json, SimAccount};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::json as j;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// A secret the simulator accepts from the start, for demos and tests. The secrets are public:
/// they work against the simulator only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoAccount {
    pub service: &'static str,
    /// The secret field's value (`token`, `api_token`, `access_token` or `api_key`).
    pub secret: &'static str,
    pub id: &'static str,
    pub name: &'static str,
    pub email: &'static str,
}

impl DemoAccount {
    pub(super) fn account(&self) -> SimAccount {
        SimAccount::new(self.id, self.name, self.email)
    }

    /// The credential fields to type in, given the service's base URL on the simulator.
    pub(super) fn fields(&self, base_url: &str) -> BTreeMap<String, String> {
        let pairs: Vec<(&str, String)> = match self.service {
            "jira" | "confluence" => vec![
                ("url", base_url.to_owned()),
                ("email", self.email.to_owned()),
                ("api_token", self.secret.to_owned()),
            ],
            "sentry" => vec![
                ("token", self.secret.to_owned()),
                ("org_slug", self.id.to_owned()),
            ],
            "gmail" | "google_calendar" => vec![("access_token", self.secret.to_owned())],
            "openai" | "anthropic" | "mistral" => vec![("api_key", self.secret.to_owned())],
            _ => vec![("token", self.secret.to_owned())],
        };
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

const fn demo(
    service: &'static str,
    secret: &'static str,
    id: &'static str,
    name: &'static str,
    email: &'static str,
) -> DemoAccount {
    DemoAccount {
        service,
        secret,
        id,
        name,
        email,
    }
}

/// The demo secrets: two accounts for each multi-account service, one for each single-account
/// one. Their shapes follow the real tokens' (Notion `ntn_`, Atlassian `ATATT`, Sentry
/// `sntryu_`, Google `ya29.`, OpenAI `sk-proj-`, Anthropic `sk-ant-api03-`).
pub const DEMO_ACCOUNTS: &[DemoAccount] = &[
    demo(
        "notion",
        "ntn_demo_acme_workspace_0001",
        "8b0e5c7a-61f3-4d2e-9a1c-3f6e2b7d9a01",
        "Acme HQ",
        "ada@acme.example",
    ),
    demo(
        "notion",
        "ntn_demo_side_project_0002",
        "1f2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8",
        "Side Project",
        "ada@acme.example",
    ),
    demo(
        "jira",
        "ATATT3xDemoJiraAda0001",
        "712020:ada-lovelace-0001",
        "Ada Lovelace",
        "ada@acme.example",
    ),
    demo(
        "jira",
        "ATATT3xDemoJiraGrace0002",
        "712020:grace-hopper-0002",
        "Grace Hopper",
        "grace@acme.example",
    ),
    demo(
        "todoist",
        "0123456789abcdef0123456789abcdef01234567",
        "2671355",
        "Ada Lovelace",
        "ada@acme.example",
    ),
    demo(
        "todoist",
        "fedcba9876543210fedcba9876543210fedcba98",
        "2671356",
        "Grace Hopper",
        "grace@acme.example",
    ),
    demo("sentry", "sntryu_demo_acme_0001", "acme", "Acme Inc.", ""),
    demo(
        "sentry",
        "sntryu_demo_labs_0002",
        "acme-labs",
        "Acme Labs",
        "",
    ),
    demo(
        "confluence",
        "ATATT3xDemoWikiAda0001",
        "712020:ada-lovelace-0001",
        "Ada Lovelace",
        "ada@acme.example",
    ),
    demo(
        "confluence",
        "ATATT3xDemoWikiGrace0002",
        "712020:grace-hopper-0002",
        "Grace Hopper",
        "grace@acme.example",
    ),
    demo(
        "gmail",
        "ya29.demo-gmail-ada-0001",
        "108234567890123456789",
        "Ada Lovelace",
        "ada@acme.example",
    ),
    demo(
        "gmail",
        "ya29.demo-gmail-grace-0002",
        "108234567890123456790",
        "Grace Hopper",
        "grace@acme.example",
    ),
    demo(
        "google_calendar",
        "ya29.demo-calendar-ada-0001",
        "108234567890123456789",
        "Ada Lovelace",
        "ada@acme.example",
    ),
    demo(
        "google_calendar",
        "ya29.demo-calendar-grace-0002",
        "108234567890123456790",
        "Grace Hopper",
        "grace@acme.example",
    ),
    demo(
        "openai",
        "sk-proj-demoOpenAiKeyAcme0001",
        "org-acmeDemo0001",
        "",
        "",
    ),
    demo(
        "anthropic",
        "sk-ant-api03-demoAnthropicKeyAcme0001",
        "4f5e6d7c-0001-4acb-9d8e-acme00000001",
        "",
        "",
    ),
    demo("mistral", "demoMistralKeyAcme000000000001", "acme", "", ""),
];

/// The answer of `service` to a request; `lookup` finds the account a secret belongs to.
pub(super) fn answer(
    service: &str,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    lookup: &dyn Fn(&str) -> Option<SimAccount>,
) -> Response {
    match service {
        "notion" => notion(method, path, headers, lookup),
        "jira" => jira(method, path, headers, lookup),
        "confluence" => confluence(method, path, headers, lookup),
        "todoist" => todoist(method, path, headers, lookup),
        "sentry" => sentry(method, path, headers, lookup),
        "gmail" | "google_calendar" => google(method, path, headers, lookup),
        "openai" => openai(method, path, headers, lookup),
        "anthropic" => anthropic(method, path, headers, lookup),
        "mistral" => mistral(method, path, headers, lookup),
        _ => (StatusCode::NOT_FOUND, "no such simulated service").into_response(),
    }
}

/// A `429` body in the service's own shape (the caller adds `Retry-After`).
pub(super) fn rate_limited(service: &str) -> Response {
    let body = match service {
        "notion" => j!({"object": "error", "status": 429, "code": "rate_limited",
            "message": "You have been rate limited. Please try again in a few minutes."}),
        "openai" => j!({"error": {"message": "Rate limit reached for requests", "type": "requests",
            "param": null, "code": "rate_limit_exceeded"}}),
        "anthropic" => j!({"type": "error", "error": {"type": "rate_limit_error",
            "message": "Number of requests has exceeded your rate limit."}}),
        "sentry" => j!({"detail": "You are attempting to use this endpoint too frequently."}),
        "gmail" | "google_calendar" => j!({"error": {"code": 429, "message": "Quota exceeded",
            "status": "RESOURCE_EXHAUSTED"}}),
        _ => j!({"message": "Too Many Requests"}),
    };
    json(StatusCode::TOO_MANY_REQUESTS, body)
}

/// Each API's own `500` body, so the catalog's error-message pointers are tried on what the
/// provider says during an outage.
pub(super) fn server_error(service: &str) -> Response {
    let body = match service {
        "notion" => j!({"object": "error", "status": 500, "code": "internal_server_error",
            "message": "Unexpected error occurred."}),
        "jira" | "confluence" => j!({"errorMessages": ["Internal server error"], "errors": {}}),
        "todoist" => j!({"error": "Internal server error", "error_code": 500, "error_extra": {},
            "error_tag": "INTERNAL_SERVER_ERROR", "http_code": 500}),
        "sentry" => j!({"detail": "Internal Error"}),
        "gmail" | "google_calendar" => j!({"error": {"code": 500,
            "message": "Internal error encountered.", "status": "INTERNAL"}}),
        "openai" => j!({"error": {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error", "param": null, "code": null}}),
        "anthropic" => j!({"type": "error", "error": {"type": "api_error",
            "message": "Internal server error"}}),
        "mistral" => j!({"object": "error", "message": "Internal server error",
            "type": "internal_server_error", "param": null, "code": "3000"}),
        _ => j!({"message": "Internal server error"}),
    };
    json(StatusCode::INTERNAL_SERVER_ERROR, body)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

/// A stable number derived from a string, for ids the real APIs would have.
fn number(seed: &str) -> u64 {
    let digest = Sha256::digest(seed.as_bytes());
    u64::from_be_bytes([
        0, 0, digest[0], digest[1], digest[2], digest[3], digest[4], digest[5],
    ]) % 10_000_000
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn notion(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    lookup: &dyn Fn(&str) -> Option<SimAccount>,
) -> Response {
    let error = |status: StatusCode, code: &str, message: &str| {
        json(
            status,
            j!({"object": "error", "status": status.as_u16(), "code": code, "message": message,
                "request_id": request_id()}),
        )
    };
    if method != Method::GET || path != "/v1/users/me" {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_url",
            "Invalid request URL.",
        );
    }
    if header_str(headers, "notion-version").is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "missing_version",
            "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
        );
    }
    let Some(account) = bearer(headers).and_then(lookup) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "API token is invalid.",
        );
    };
    let owner_name = account.email.split('@').next().unwrap_or_default();
    json(
        StatusCode::OK,
        j!({
            "object": "user",
            "id": account.id,
            "name": "credledger",
            "avatar_url": null,
            "type": "bot",
            "bot": {
                "owner": {"type": "user", "user": {
                    "object": "user", "id": format!("{:08x}-0000-4000-8000-000000000000", number(&account.email)),
                    "name": owner_name, "avatar_url": null, "type": "person",
                    "person": {"email": account.email}
                }},
                "workspace_name": account.name,
                "workspace_id": format!("{:08x}-1111-4111-8111-111111111111", number(&account.name)),
                "workspace_limits": {"max_file_upload_size_in_bytes": 5_368_709_120u64}
            },
            "request_id": request_id()
        }),
    )
}

fn atlassian_account(
    headers: &HeaderMap,
    lookup: &dyn Fn(&str) -> Option<SimAccount>,
) -> Option<SimAccount> {
    let (email, token) = basic(headers)?;
    lookup(&token).filter(|a| a.email.eq_ignore_ascii_case(&email))
}

fn jira(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    lookup: &dyn Fn(&str) -> Option<SimAccount>,
) -> Response {
    if method != Method::GET || path != "/rest/api/3/myself" {
        return json(
            StatusCode::NOT_FOUND,
            j!({"errorMessages": ["Not Found"], "errors": {}}),
        );
    }
    let Some(account) = atlassian_account(headers, lookup) else {
        return json(
            StatusCode::UNAUTHORIZED,
            j!({"errorMessages": ["Client must be authenticated to access this resource."],
                "errors": {}}),
        );
    };
    let host = header_str(headers, "host").unwrap_or("localhost");
    json(
        StatusCode::OK,
        j!({
            "self": format!("http://{host}/jira/rest/api/3/user?accountId={}", account.id),
            "accountId": account.id,
            "accountType": "atlassian",
            "emailAddress": account.email,
            "avatarUrls": {"48x48": "https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/default.png"},
            "displayName": account.name,
            "active": true,
            "timeZone": "Europe/Paris",
            "locale": "en_US",
            "groups": {"size": 2, "items": []},
            "applicationRoles": {"size": 1, "items": []},
            "expand": "groups,applicationRoles"
        }),
    )
}

fn confluence(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    lookup: &dyn Fn(&str) -> Option<SimAccount>,
) -> Response {
    if method != Method::GET || path != "/wiki/rest/api/user/current" {
        return json(
            StatusCode::NOT_FOUND,
            j!({"statusCode": 404, "message": "No route found for this request"}),
        );
    }
    let Some(account) = atlassian_account(headers, lookup) else {
        return json(
            StatusCode::UNAUTHORIZED,
            j!({"statusCode": 401,
                "data": {"authorized": false, "valid": true, "errors": [], "successful": false},
                "message": "Client must be authenticated to access this resource."}),
        );
    };
    json(
        StatusCode::OK,
        j!({
            "type": "known",
            "accountId": account.id,
            "accountType": "atlassian",
            "email": account.email,
            "publicName": account.name,
            "profilePicture": {"path": "/wiki/aa-avatar/default.png", "width": 48, "height": 48, "isDefault": true},
            "displayName": account.name,
            "isExternalCollaborator": false,
            "_links": {"base": "/confluence/wiki", "context": "/wiki"}
        }),
    )
}

fn todoist(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    lookup: &dyn Fn(&str) -> Option<SimAccount>,
) -> Response {
    if method != Method::GET || path != "/api/v1/user" {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    let Some(account) = bearer(headers).and_then(lookup) else {
        return json(
            StatusCode::UNAUTHORIZED,
            j!({"error": "Invalid token", "error_code": 401,
                "error_extra": {"event_id": request_id().replace('-', "")},
                "error_tag": "AUTH_INVALID_TOKEN", "http_code": 401}),
        );
    };
    json(
        StatusCode::OK,
        j!({
            "id": account.id,
            "email": account.email,
            "full_name": account.name,
            "inbox_project_id": format!("6X7rM8997g3RQmvh{}", number(&account.id)),
            "tz_info": {"timezone": "Europe/Paris", "gmt_string": "+01:00", "hours": 1, "minutes": 0, "is_dst": 0},
            "is_premium": true,
            "premium_status": "current_personal_plan",
            "lang": "en",
            "start_day": 1,
            "start_page": "today",
            "next_week": 1,
            "time_format": 0,
            "date_format": 0,
            "daily_goal": 5,
            "weekly_goal": 30,
            "days_off": [6, 7],
            "karma": 4912.0,
            "karma_trend": "up",
            "completed_count": 1234,
            "completed_today": 3,
            "joined_at": "2019-03-04T10:21:05.000000Z"
        }),
    )
}

fn sentry(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    lookup: &dyn Fn(&str) -> Option<SimAccount>,
) -> Response {
    let slug = path
        .strip_prefix("/api/0/organizations/")
        .and_then(|rest| rest.strip_suffix('/'))
        .filter(|slug| !slug.is_empty() && !slug.contains('/'));
    let (Some(slug), true) = (slug, method == Method::GET) else {
        return json(
            StatusCode::NOT_FOUND,
            j!({"detail": "The requested resource does not exist"}),
        );
    };
    let Some(account) = bearer(headers).and_then(lookup) else {
        return json(StatusCode::UNAUTHORIZED, j!({"detail": "Invalid token"}));
    };
    if account.id != slug {
        return json(
            StatusCode::FORBIDDEN,
            j!({"detail": "You do not have permission to perform this action."}),
        );
    }
    let project = |suffix: &str, platform: &str| {
        j!({"id": number(&format!("{slug}-{suffix}")).to_string(), "slug": format!("{slug}-{suffix}"),
            "name": format!("{} {suffix}", account.name), "platform": platform,
            "dateCreated": "2023-01-09T10:00:00.000000Z", "isBookmarked": false, "hasAccess": true})
    };
    json(
        StatusCode::OK,
        j!({
            "id": number(slug).to_string(),
            "slug": slug,
            "status": {"id": "active", "name": "active"},
            "name": account.name,
            "dateCreated": "2020-05-18T09:12:31.123456Z",
            "isEarlyAdopter": false,
            "require2FA": false,
            "avatar": {"avatarType": "letter_avatar", "avatarUuid": null},
            "features": ["performance-view", "session-replay"],
            "links": {"organizationUrl": format!("https://{slug}.sentry.io"), "regionUrl": "https://us.sentry.io"},
            "access": ["org:read", "project:read", "team:read", "event:read"],
            "projects": [project("api", "python"), project("web", "javascript-react")],
            "teams": [{"id": number(&format!("{slug}-team")).to_string(), "slug": "engineering", "name": "Engineering"}]
        }),
    )
}

fn google(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    lookup: &dyn Fn(&str) -> Option<SimAccount>,
) -> Response {
    if method != Method::GET || path != "/oauth2/v3/userinfo" {
        return json(
            StatusCode::NOT_FOUND,
            j!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}),
        );
    }
    let Some(account) = bearer(headers).and_then(lookup) else {
        let mut response = json(
            StatusCode::UNAUTHORIZED,
            j!({"error": "invalid_token", "error_description": "Invalid Credentials"}),
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static(
                "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
            ),
        );
        return response;
    };
    let mut names = account.name.splitn(2, ' ');
    let (given, family) = (
        names.next().unwrap_or_default(),
        names.next().unwrap_or_default(),
    );
    let mut body = j!({
        "sub": account.id,
        "name": account.name,
        "given_name": given,
        "family_name": family,
        "picture": "https://lh3.googleusercontent.com/a/default-user=s96-c",
        "email": account.email,
        "email_verified": true
    });
    if let Some(domain) = account
        .email
        .split_once('@')
        .map(|(_, d)| d)
        .filter(|d| *d != "gmail.com")
    {
        body["hd"] = j!(domain);
    }
    json(StatusCode::OK, body)
}

fn openai(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    lookup: &dyn Fn(&str) -> Option<SimAccount>,
) -> Response {
    let error = |status: StatusCode, message: String, code: &str| {
        json(
            status,
            j!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}}),
        )
    };
    if method != Method::GET || path != "/v1/models" {
        return error(
            StatusCode::NOT_FOUND,
            format!("Invalid URL ({method} {path})"),
            "unknown_url",
        );
    }
    let Some(key) = bearer(headers) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).".to_owned(),
            "missing_api_key",
        );
    };
    let Some(account) = lookup(key) else {
        // The real API echoes a masked key: a few first and the last four characters.
        let masked = if key.chars().count() > 10 {
            let first: String = key.chars().take(6).collect();
            let last: String = key.chars().skip(key.chars().count() - 4).collect();
            format!("{first}{}{last}", "*".repeat(20))
        } else {
            "*".repeat(key.chars().count())
        };
        return error(
            StatusCode::UNAUTHORIZED,
            format!("Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys."),
            "invalid_api_key",
        );
    };
    let models = ["gpt-4o", "gpt-4o-mini", "o3-mini", "text-embedding-3-small"];
    let mut response = json(
        StatusCode::OK,
        j!({"object": "list", "data": models.iter().map(|m| j!({
            "id": m, "object": "model", "created": 1_715_367_049u64, "owned_by": "system"
        })).collect::<Vec<_>>()}),
    );
    if let Ok(org) = header::HeaderValue::from_str(&account.id) {
        response.headers_mut().insert("openai-organization", org);
    }
    response.headers_mut().insert(
        "openai-processing-ms",
        header::HeaderValue::from_static("42"),
    );
    response
}

fn anthropic(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    lookup: &dyn Fn(&str) -> Option<SimAccount>,
) -> Response {
    let error = |status: StatusCode, kind: &str, message: &str| {
        json(
            status,
            j!({"type": "error", "error": {"type": kind, "message": message},
                "request_id": format!("req_{}", request_id().replace('-', ""))}),
        )
    };
    if method != Method::GET || path != "/v1/models" {
        return error(StatusCode::NOT_FOUND, "not_found_error", "Not found");
    }
    if header_str(headers, "anthropic-version").is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "anthropic-version: header is required",
        );
    }
    let Some(account) = header_str(headers, "x-api-key").and_then(lookup) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid x-api-key",
        );
    };
    let models = [
        ("claude-opus-4-1-20250805", "Claude Opus 4.1"),
        ("claude-sonnet-4-20250514", "Claude Sonnet 4"),
        ("claude-3-5-haiku-20241022", "Claude Haiku 3.5"),
    ];
    let mut response = json(
        StatusCode::OK,
        j!({
            "data": models.iter().map(|(id, name)| j!({
                "type": "model", "id": id, "display_name": name, "created_at": "2025-05-22T00:00:00Z"
            })).collect::<Vec<_>>(),
            "has_more": false,
            "first_id": models[0].0,
            "last_id": models[models.len() - 1].0
        }),
    );
    if let Ok(org) = header::HeaderValue::from_str(&account.id) {
        response
            .headers_mut()
            .insert("anthropic-organization-id", org);
    }
    response
}

fn mistral(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    lookup: &dyn Fn(&str) -> Option<SimAccount>,
) -> Response {
    if method != Method::GET || path != "/v1/models" {
        return json(StatusCode::NOT_FOUND, j!({"detail": "Not Found"}));
    }
    if bearer(headers).and_then(lookup).is_none() {
        return json(
            StatusCode::UNAUTHORIZED,
            j!({"message": "Unauthorized", "request_id": request_id().replace('-', "")}),
        );
    }
    let models = [
        "mistral-large-latest",
        "mistral-small-latest",
        "codestral-latest",
        "mistral-embed",
    ];
    json(
        StatusCode::OK,
        j!({"object": "list", "data": models.iter().map(|m| j!({
            "id": m, "object": "model", "created": 1_717_000_000u64, "owned_by": "mistralai",
            "capabilities": {"completion_chat": true, "function_calling": true}
        })).collect::<Vec<_>>()}),
    )
}
