//! Given/when/then tests of the `Keyring` aggregate, and a seeded random walk over its commands
//! that checks the primary and naming invariants after every step.

use super::{
    AccountIdentity, CredentialState, CredentialStatus, HeldCopy, Keyring, KeyringCommand,
    KeyringError, KeyringEvent, KeyringServices, McpSyncOutcome, PrimaryChangeReason,
    ValidationOutcome, MAX_CREDENTIALS_PER_SERVICE, REVOKE_REASON_MAX,
};
use crate::ports::{Cipher, CipherError};
use crate::{
    Catalog, CredentialId, CredentialName, InputError, SealedSecret, SecretFields, ServiceKey,
    UserId,
};
use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::test::{AggregateResultValidator, AggregateTestExecutor, TestFramework};
use cqrs_es::Aggregate;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use uuid::Uuid;

use CredentialStatus::{Active, Expired, Inactive, Invalid, Revoked};
use PrimaryChangeReason::{Chosen, FirstActive, NoneActive, Promoted};

// ---------------------------------------------------------------------------------------------
// Test doubles and builders
// ---------------------------------------------------------------------------------------------

/// A deterministic cipher: the "ciphertext" names the credential and the version, never a value.
struct TestCipher;

#[async_trait::async_trait]
impl Cipher for TestCipher {
    async fn seal(
        &self,
        credential: CredentialId,
        secret_version: u32,
        _fields: &SecretFields,
    ) -> Result<SealedSecret, CipherError> {
        Ok(sealed_for(credential, secret_version))
    }
}

/// A cipher whose key store fails with this error.
struct FailingCipher(CipherError);

#[async_trait::async_trait]
impl Cipher for FailingCipher {
    async fn seal(
        &self,
        _credential: CredentialId,
        _secret_version: u32,
        _fields: &SecretFields,
    ) -> Result<SealedSecret, CipherError> {
        Err(self.0.clone())
    }
}

/// A keyring whose cipher fails with `error`, before any event.
fn with_failing_cipher(error: CipherError) -> AggregateTestExecutor<Keyring> {
    TestFramework::<Keyring>::with(KeyringServices {
        cipher: Arc::new(FailingCipher(error)),
        catalog: Arc::new(Catalog::builtin()),
    })
    .given_no_previous_events()
}

fn sealed_for(credential: CredentialId, secret_version: u32) -> SealedSecret {
    SealedSecret {
        dek_id: Uuid::from_u128(credential.as_uuid().as_u128() ^ 0xDEC0_DE00),
        ciphertext: format!("sealed-{credential}-v{secret_version}"),
    }
}

fn sealed(n: u128, secret_version: u32) -> SealedSecret {
    sealed_for(id(n), secret_version)
}

fn services() -> KeyringServices {
    KeyringServices {
        cipher: Arc::new(TestCipher),
        catalog: Arc::new(Catalog::builtin()),
    }
}

fn given(events: Vec<KeyringEvent>) -> AggregateTestExecutor<Keyring> {
    TestFramework::<Keyring>::with(services()).given(events)
}

fn given_nothing() -> AggregateTestExecutor<Keyring> {
    TestFramework::<Keyring>::with(services()).given_no_previous_events()
}

/// The keyring the events describe.
fn state(events: &[KeyringEvent]) -> Keyring {
    let mut keyring = Keyring::default();
    for event in events {
        keyring.apply(event.clone());
    }
    keyring
}

/// The events of a command that must succeed.
fn events_of(validator: AggregateResultValidator<Keyring>) -> Vec<KeyringEvent> {
    validator
        .inspect_result()
        .unwrap_or_else(|e| panic!("expected success, got {e:?}"))
}

fn id(n: u128) -> CredentialId {
    CredentialId::from_uuid(Uuid::from_u128(n))
}

fn alice() -> UserId {
    UserId::parse("alice").expect("user id")
}

fn service(key: &str) -> ServiceKey {
    ServiceKey::parse(key).expect("service key")
}

fn name(value: &str) -> CredentialName {
    CredentialName::parse(value).expect("credential name")
}

fn at(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, 12, 0, 0)
        .single()
        .expect("a valid date")
}

fn metadata() -> BTreeMap<String, String> {
    BTreeMap::from([("team".to_string(), "platform".to_string())])
}

fn fields(pairs: &[(&str, &str)]) -> SecretFields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A complete, well-formed set of fields for a catalog service.
fn fields_for(service_key: &str, secret: &str) -> SecretFields {
    match service_key {
        "jira" | "confluence" => fields(&[
            ("url", "https://acme.atlassian.net"),
            ("email", "ops@acme.io"),
            ("api_token", secret),
        ]),
        "sentry" => fields(&[("token", secret), ("org_slug", "acme")]),
        "gmail" | "google_calendar" => fields(&[("access_token", secret)]),
        "openai" | "anthropic" | "mistral" => fields(&[("api_key", secret)]),
        _ => fields(&[("token", secret)]),
    }
}

fn account(account_id: &str) -> AccountIdentity {
    AccountIdentity {
        id: account_id.to_string(),
        display_name: Some(format!("Account {account_id}")),
        email: None,
    }
}

fn valid_until(account_id: &str, expires_at: Option<DateTime<Utc>>) -> ValidationOutcome {
    ValidationOutcome::Valid {
        account: account(account_id),
        provider_metadata: BTreeMap::from([("plan".to_string(), "team".to_string())]),
        scopes: vec!["read".to_string(), "write".to_string()],
        expires_at,
    }
}

fn valid(account_id: &str) -> ValidationOutcome {
    valid_until(account_id, None)
}

fn invalid() -> ValidationOutcome {
    ValidationOutcome::Invalid {
        message: "401 Unauthorized".into(),
    }
}

fn could_not_check() -> ValidationOutcome {
    ValidationOutcome::CouldNotCheck {
        reason: "timeout after 10s".into(),
    }
}

// Commands.

fn register_for(
    service_key: &str,
    n: u128,
    credential_name: &str,
    validation: Option<ValidationOutcome>,
) -> KeyringCommand {
    KeyringCommand::RegisterCredential {
        credential_id: id(n),
        user_id: alice(),
        service: service(service_key),
        name: name(credential_name),
        metadata: metadata(),
        fields: fields_for(service_key, &format!("secret-{n}")),
        validation,
        held_by: None,
    }
}

fn register(
    n: u128,
    credential_name: &str,
    validation: Option<ValidationOutcome>,
) -> KeyringCommand {
    register_for("notion", n, credential_name, validation)
}

fn record_validation(n: u128, secret_version: u32, outcome: ValidationOutcome) -> KeyringCommand {
    KeyringCommand::RecordValidation {
        credential_id: id(n),
        secret_version,
        outcome,
    }
}

fn replace_secret(n: u128, validation: Option<ValidationOutcome>) -> KeyringCommand {
    KeyringCommand::ReplaceSecret {
        credential_id: id(n),
        fields: fields_for("notion", &format!("rotated-secret-{n}")),
        validation,
    }
}

fn set_primary(n: u128) -> KeyringCommand {
    KeyringCommand::SetPrimary {
        credential_id: id(n),
    }
}

fn revoke(n: u128) -> KeyringCommand {
    KeyringCommand::RevokeCredential {
        credential_id: id(n),
        reason: Some("leaked".into()),
    }
}

fn erase(n: u128) -> KeyringCommand {
    KeyringCommand::EraseCredential {
        credential_id: id(n),
    }
}

fn mark_expired(n: u128, now: DateTime<Utc>) -> KeyringCommand {
    KeyringCommand::MarkExpired {
        credential_id: id(n),
        now,
    }
}

fn rename(n: u128, new_name: &str) -> KeyringCommand {
    KeyringCommand::UpdateCredential {
        credential_id: id(n),
        name: Some(name(new_name)),
        metadata: None,
        secret: None,
    }
}

fn mcp_sync(n: u128, result: Result<String, String>) -> KeyringCommand {
    KeyringCommand::RecordMcpSync {
        credential_id: id(n),
        target: "mcp-gateway".into(),
        ledger_version: 7,
        sync_position: 40,
        outcome: match result {
            Ok(mcp_id) => McpSyncOutcome::Synced { mcp_id },
            Err(error) => McpSyncOutcome::Failed { error },
        },
    }
}

// Events.

fn registered_for(service_key: &str, n: u128, credential_name: &str) -> KeyringEvent {
    KeyringEvent::CredentialRegistered {
        credential_id: id(n),
        user_id: alice(),
        service: service(service_key),
        name: name(credential_name),
        metadata: metadata(),
        secret: sealed(n, 1),
        secret_version: 1,
        status: Inactive,
    }
}

fn registered(n: u128, credential_name: &str) -> KeyringEvent {
    registered_for("notion", n, credential_name)
}

fn validated_until(
    n: u128,
    secret_version: u32,
    account_id: &str,
    expires_at: Option<DateTime<Utc>>,
    previous_status: CredentialStatus,
) -> KeyringEvent {
    KeyringEvent::CredentialValidated {
        credential_id: id(n),
        secret_version,
        account: account(account_id),
        provider_metadata: BTreeMap::from([("plan".to_string(), "team".to_string())]),
        scopes: vec!["read".to_string(), "write".to_string()],
        expires_at,
        previous_status,
        status: Active,
    }
}

fn validated(
    n: u128,
    secret_version: u32,
    account_id: &str,
    previous_status: CredentialStatus,
) -> KeyringEvent {
    validated_until(n, secret_version, account_id, None, previous_status)
}

fn validation_failed(
    n: u128,
    secret_version: u32,
    previous_status: CredentialStatus,
) -> KeyringEvent {
    KeyringEvent::ValidationFailed {
        credential_id: id(n),
        secret_version,
        message: "401 Unauthorized".into(),
        previous_status,
        status: Invalid,
    }
}

fn inconclusive(n: u128, secret_version: u32) -> KeyringEvent {
    KeyringEvent::ValidationInconclusive {
        credential_id: id(n),
        secret_version,
        reason: "timeout after 10s".into(),
    }
}

fn primary_changed(
    previous: Option<u128>,
    current: Option<u128>,
    reason: PrimaryChangeReason,
) -> KeyringEvent {
    KeyringEvent::PrimaryCredentialChanged {
        previous: previous.map(id),
        current: current.map(id),
        reason,
    }
}

fn revoked(n: u128, previous_status: CredentialStatus) -> KeyringEvent {
    KeyringEvent::CredentialRevoked {
        credential_id: id(n),
        reason: Some("leaked".into()),
        previous_status,
        status: Revoked,
    }
}

fn erased(n: u128, credential_name: &str, previous_status: CredentialStatus) -> KeyringEvent {
    KeyringEvent::CredentialErased {
        credential_id: id(n),
        name: name(credential_name),
        previous_status,
    }
}

fn secret_replaced(
    n: u128,
    secret_version: u32,
    previous_status: CredentialStatus,
) -> KeyringEvent {
    KeyringEvent::SecretReplaced {
        credential_id: id(n),
        secret: sealed(n, secret_version),
        secret_version,
        previous_status,
        status: Inactive,
    }
}

/// A notion credential registered and confirmed by the provider (no primary event).
fn active(n: u128, credential_name: &str, account_id: &str) -> Vec<KeyringEvent> {
    vec![
        registered(n, credential_name),
        validated(n, 1, account_id, Inactive),
    ]
}

/// The notion credential 1 ("work"), active and primary.
fn primary_work() -> Vec<KeyringEvent> {
    let mut events = active(1, "work", "acct-1");
    events.push(primary_changed(None, Some(1), FirstActive));
    events
}

/// Credential 1 is the active primary; 5 ("draft") is inactive; 9 ("personal") and then 3
/// ("ci") were registered after it and are active — 3 was confirmed first, but 9 is older.
fn primary_with_successors() -> Vec<KeyringEvent> {
    let mut events = primary_work();
    events.extend([
        registered(5, "draft"),
        registered(9, "personal"),
        registered(3, "ci"),
        validated(3, 1, "acct-3", Inactive),
        validated(9, 1, "acct-9", Inactive),
    ]);
    events
}

fn concat(parts: Vec<Vec<KeyringEvent>>) -> Vec<KeyringEvent> {
    parts.into_iter().flatten().collect()
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

#[test]
fn registering_stores_the_credential_as_inactive() {
    let events = events_of(given_nothing().when(register(1, "work", None)));
    assert_eq!(events, vec![registered(1, "work")]);

    let keyring = state(&events);
    let stored = keyring.credential(id(1)).expect("the credential is stored");
    assert_eq!(stored.status, Inactive);
    assert_eq!(stored.secret_version, 1);
    assert_eq!(stored.secret, sealed(1, 1));
    assert!(!stored.is_primary);
    assert!(keyring.primary().is_none());
    assert_eq!(keyring.owner(), Some((&alice(), &service("notion"))));
}

#[test]
fn the_first_active_credential_becomes_primary() {
    given_nothing()
        .when(register(1, "work", Some(valid("acct-1"))))
        .then_expect_events(vec![
            registered(1, "work"),
            validated(1, 1, "acct-1", Inactive),
            primary_changed(None, Some(1), FirstActive),
        ]);
}

#[test]
fn a_registration_refused_by_the_provider_is_stored_invalid_and_never_primary() {
    let events = events_of(given_nothing().when(register(1, "work", Some(invalid()))));
    assert_eq!(
        events,
        vec![registered(1, "work"), validation_failed(1, 1, Inactive)]
    );
    let keyring = state(&events);
    assert_eq!(keyring.credential(id(1)).map(|c| c.status), Some(Invalid));
    assert!(keyring.primary().is_none());
}

#[test]
fn a_registration_that_could_not_be_checked_stays_inactive() {
    let events = events_of(given_nothing().when(register(1, "work", Some(could_not_check()))));
    assert_eq!(events, vec![registered(1, "work"), inconclusive(1, 1)]);
    assert_eq!(
        state(&events).credential(id(1)).map(|c| c.status),
        Some(Inactive)
    );
}

#[test]
fn an_imported_registration_records_the_servers_copy_in_the_same_append() {
    let mut command = register(1, "work", Some(valid("acct-1")));
    if let KeyringCommand::RegisterCredential { held_by, .. } = &mut command {
        *held_by = Some(HeldCopy {
            target: "gw".into(),
            mcp_id: "cred-7".into(),
        });
    }
    let events = events_of(given_nothing().when(command));
    assert!(matches!(
        events.first(),
        Some(KeyringEvent::CredentialRegistered { .. })
    ));
    assert!(events.contains(&KeyringEvent::CredentialSyncedToMcp {
        credential_id: id(1),
        target: "gw".into(),
        ledger_version: 0,
        mcp_id: "cred-7".into(),
        sync_position: 0,
    }));
}

#[test]
fn registered_events_never_contain_the_plaintext_secret() {
    const CANARY: &str = "canary-3f9c2e7d-do-not-log";
    let command = KeyringCommand::RegisterCredential {
        credential_id: id(1),
        user_id: alice(),
        service: service("jira"),
        name: name("work"),
        metadata: metadata(),
        fields: fields(&[
            ("url", "https://acme.atlassian.net"),
            ("email", "ops@acme.io"),
            ("api_token", CANARY),
        ]),
        validation: Some(valid("acct-1")),
        held_by: None,
    };
    assert!(!format!("{command:?}").contains(CANARY));

    let events = events_of(given_nothing().when(command));
    assert!(matches!(
        events.first(),
        Some(KeyringEvent::CredentialRegistered { .. })
    ));
    for event in &events {
        let json = serde_json::to_string(event).expect("events serialize");
        assert!(!json.contains(CANARY), "plaintext leaked into {json}");
    }

    let rotated = events_of(given(events.clone()).when(KeyringCommand::ReplaceSecret {
        credential_id: id(1),
        fields: fields(&[
            ("url", "https://acme.atlassian.net"),
            ("email", "ops@acme.io"),
            ("api_token", CANARY),
        ]),
        validation: None,
    }));
    let json = serde_json::to_string(&rotated).expect("events serialize");
    assert!(!json.contains(CANARY), "plaintext leaked into {json}");

    let keyring = serde_json::to_string(&state(&events)).expect("state serializes");
    assert!(!keyring.contains(CANARY), "plaintext leaked into {keyring}");
}

struct ShreddedCipher;

#[async_trait::async_trait]
impl Cipher for ShreddedCipher {
    async fn seal(
        &self,
        _credential: CredentialId,
        _secret_version: u32,
        _fields: &SecretFields,
    ) -> Result<SealedSecret, CipherError> {
        Err(CipherError::KeyDestroyed)
    }
}

#[test]
fn a_secret_replaced_after_a_concurrent_erasure_destroyed_its_key_answers_not_found() {
    // The keyring loaded before the erasure committed still lists the credential; the key
    // store knows better. Without the mapping this surfaced as an internal error.
    TestFramework::<Keyring>::with(KeyringServices {
        cipher: Arc::new(ShreddedCipher),
        catalog: Arc::new(Catalog::builtin()),
    })
    .given(primary_work())
    .when(replace_secret(1, None))
    .then_expect_error(KeyringError::NotFound(id(1)));
}

#[test]
fn a_cipher_failure_writes_nothing() {
    with_failing_cipher(CipherError::Failed("key store unavailable".into()))
        .when(register(1, "work", Some(valid("acct-1"))))
        .then_expect_error(KeyringError::Cipher("key store unavailable".into()));
}

#[test]
fn a_key_store_out_of_reach_is_unavailable_and_writes_nothing() {
    with_failing_cipher(CipherError::Unavailable("pool timed out".into()))
        .when(register(1, "work", Some(valid("acct-1"))))
        .then_expect_error(KeyringError::KeysUnavailable("pool timed out".into()));
}

// ---------------------------------------------------------------------------------------------
// The primary credential
// ---------------------------------------------------------------------------------------------

#[test]
fn a_second_active_credential_does_not_take_the_primary() {
    let events =
        events_of(given(primary_work()).when(register(2, "personal", Some(valid("acct-2")))));
    assert_eq!(
        events,
        vec![
            registered(2, "personal"),
            validated(2, 1, "acct-2", Inactive)
        ]
    );
    let keyring = state(&concat(vec![primary_work(), events]));
    assert_eq!(keyring.primary().map(|c| c.id), Some(id(1)));
}

#[test]
fn validating_a_second_credential_later_does_not_take_the_primary() {
    given(concat(vec![
        primary_work(),
        vec![registered(2, "personal")],
    ]))
    .when(record_validation(2, 1, valid("acct-2")))
    .then_expect_events(vec![validated(2, 1, "acct-2", Inactive)]);
}

#[test]
fn set_primary_moves_the_primary_to_another_active_credential() {
    let history = concat(vec![primary_work(), active(2, "personal", "acct-2")]);
    let events = events_of(given(history.clone()).when(set_primary(2)));
    assert_eq!(events, vec![primary_changed(Some(1), Some(2), Chosen)]);

    let keyring = state(&concat(vec![history, events]));
    assert_eq!(keyring.primary().map(|c| c.id), Some(id(2)));
    assert_eq!(keyring.credential(id(1)).map(|c| c.is_primary), Some(false));
}

#[test]
fn set_primary_on_an_inactive_credential_is_refused() {
    given(concat(vec![
        primary_work(),
        vec![registered(2, "personal")],
    ]))
    .when(set_primary(2))
    .then_expect_error(KeyringError::NotActive);
}

#[test]
fn set_primary_on_an_invalid_credential_is_refused() {
    given(concat(vec![
        primary_work(),
        vec![registered(2, "personal"), validation_failed(2, 1, Inactive)],
    ]))
    .when(set_primary(2))
    .then_expect_error(KeyringError::NotActive);
}

#[test]
fn set_primary_on_a_revoked_or_expired_credential_is_refused() {
    let revoked_two = concat(vec![
        primary_work(),
        active(2, "personal", "acct-2"),
        vec![revoked(2, Active)],
    ]);
    given(revoked_two)
        .when(set_primary(2))
        .then_expect_error(KeyringError::NotActive);

    let expired_two = concat(vec![
        primary_work(),
        vec![
            registered(2, "personal"),
            validated_until(2, 1, "acct-2", Some(at(2030, 1, 1)), Inactive),
            KeyringEvent::CredentialExpired {
                credential_id: id(2),
                expired_at: at(2030, 1, 1),
                previous_status: Active,
                status: Expired,
            },
        ],
    ]);
    given(expired_two)
        .when(set_primary(2))
        .then_expect_error(KeyringError::NotActive);
}

#[test]
fn set_primary_on_the_current_primary_emits_nothing() {
    given(concat(vec![
        primary_work(),
        active(2, "personal", "acct-2"),
    ]))
    .when(set_primary(1))
    .then_expect_events(vec![]);
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

#[test]
fn registering_a_taken_name_is_refused() {
    given(primary_work())
        .when(register(2, "work", None))
        .then_expect_error(KeyringError::NameTaken("work".into()));
}

#[test]
fn a_name_is_taken_whatever_the_status_of_its_credential() {
    let history = concat(vec![
        primary_work(),
        vec![registered(2, "old"), revoked(2, Inactive)],
    ]);
    given(history)
        .when(register(3, "old", None))
        .then_expect_error(KeyringError::NameTaken("old".into()));
}

#[test]
fn renaming_to_a_taken_name_is_refused() {
    given(concat(vec![
        primary_work(),
        vec![registered(2, "personal")],
    ]))
    .when(rename(2, "work"))
    .then_expect_error(KeyringError::NameTaken("work".into()));
}

#[test]
fn renaming_to_a_free_name_is_recorded() {
    given(concat(vec![
        primary_work(),
        vec![registered(2, "personal")],
    ]))
    .when(rename(2, "side project"))
    .then_expect_events(vec![KeyringEvent::CredentialRenamed {
        credential_id: id(2),
        old_name: name("personal"),
        new_name: name("side project"),
    }]);
}

#[test]
fn renaming_a_credential_to_its_own_name_emits_nothing() {
    given(primary_work())
        .when(rename(1, "work"))
        .then_expect_events(vec![]);
}

#[test]
fn a_name_can_be_registered_again_after_its_credential_is_erased() {
    let history = concat(vec![
        primary_work(),
        vec![
            erased(1, "work", Active),
            primary_changed(Some(1), None, NoneActive),
        ],
    ]);
    given(history)
        .when(register(2, "work", None))
        .then_expect_events(vec![registered(2, "work")]);
}

#[test]
fn a_name_can_be_taken_by_a_rename_after_its_credential_is_erased() {
    let history = concat(vec![
        primary_work(),
        vec![registered(2, "personal")],
        vec![
            erased(1, "work", Active),
            primary_changed(Some(1), None, NoneActive),
        ],
    ]);
    given(history)
        .when(rename(2, "work"))
        .then_expect_events(vec![KeyringEvent::CredentialRenamed {
            credential_id: id(2),
            old_name: name("personal"),
            new_name: name("work"),
        }]);
}

// ---------------------------------------------------------------------------------------------
// Single-account services
// ---------------------------------------------------------------------------------------------

const SINGLE_ACCOUNT: [(&str, &str); 3] = [
    ("openai", "OpenAI"),
    ("anthropic", "Anthropic"),
    ("mistral", "Mistral"),
];

fn one_active_on(service_key: &str) -> Vec<KeyringEvent> {
    vec![
        registered_for(service_key, 1, "main"),
        validated(1, 1, "org-1", Inactive),
        primary_changed(None, Some(1), FirstActive),
    ]
}

#[test]
fn the_single_account_services_are_the_three_model_providers() {
    let catalog = Catalog::builtin();
    let single: Vec<&str> = catalog
        .services()
        .iter()
        .filter(|s| !s.multi_account)
        .map(|s| s.key.as_str())
        .collect();
    assert_eq!(single, ["openai", "anthropic", "mistral"]);
    for (key, display_name) in SINGLE_ACCOUNT {
        let definition = catalog.get(&service(key)).expect("in the catalog");
        assert_eq!(definition.display_name, display_name);
    }
}

#[test]
fn single_account_services_refuse_a_second_credential() {
    for (key, display_name) in SINGLE_ACCOUNT {
        given(one_active_on(key))
            .when(register_for(key, 2, "second", None))
            .then_expect_error(KeyringError::MultiAccountNotSupported(
                display_name.to_string(),
            ));
        // Whatever the first one's state, as long as it is neither revoked nor erased.
        let invalid_first = vec![
            registered_for(key, 1, "main"),
            validation_failed(1, 1, Inactive),
        ];
        given(invalid_first)
            .when(register_for(key, 2, "second", None))
            .then_expect_error(KeyringError::MultiAccountNotSupported(
                display_name.to_string(),
            ));
    }
}

#[test]
fn single_account_services_accept_a_new_credential_after_the_first_is_revoked() {
    for (key, _) in SINGLE_ACCOUNT {
        let history = concat(vec![
            one_active_on(key),
            vec![
                revoked(1, Active),
                primary_changed(Some(1), None, NoneActive),
            ],
        ]);
        given(history)
            .when(register_for(key, 2, "second", Some(valid("org-2"))))
            .then_expect_events(vec![
                registered_for(key, 2, "second"),
                validated(2, 1, "org-2", Inactive),
                primary_changed(None, Some(2), FirstActive),
            ]);
    }
}

#[test]
fn single_account_services_accept_a_new_credential_after_the_first_is_erased() {
    for (key, _) in SINGLE_ACCOUNT {
        let history = concat(vec![
            one_active_on(key),
            vec![
                erased(1, "main", Active),
                primary_changed(Some(1), None, NoneActive),
            ],
        ]);
        given(history)
            .when(register_for(key, 2, "second", None))
            .then_expect_events(vec![registered_for(key, 2, "second")]);
    }
}

#[test]
fn multi_account_services_accept_several_credentials() {
    for key in [
        "notion",
        "jira",
        "todoist",
        "sentry",
        "confluence",
        "gmail",
        "google_calendar",
    ] {
        let history = vec![
            registered_for(key, 1, "main"),
            validated(1, 1, "acct-1", Inactive),
            primary_changed(None, Some(1), FirstActive),
        ];
        given(history)
            .when(register_for(key, 2, "second", None))
            .then_expect_events(vec![registered_for(key, 2, "second")]);
    }
}

// ---------------------------------------------------------------------------------------------
// One upstream account, one credential
// ---------------------------------------------------------------------------------------------

#[test]
fn validating_an_upstream_account_already_stored_is_refused() {
    given(concat(vec![
        primary_work(),
        vec![registered(2, "personal")],
    ]))
    .when(record_validation(2, 1, valid("acct-1")))
    .then_expect_error(KeyringError::DuplicateAccount(
        "acct-1".into(),
        "work".into(),
    ));
}

#[test]
fn registering_with_an_upstream_account_already_stored_is_refused_and_writes_nothing() {
    given(primary_work())
        .when(register(2, "personal", Some(valid("acct-1"))))
        .then_expect_error(KeyringError::DuplicateAccount(
            "acct-1".into(),
            "work".into(),
        ));
}

#[test]
fn replacing_a_secret_with_an_upstream_account_already_stored_is_refused() {
    given(concat(vec![
        primary_work(),
        active(2, "personal", "acct-2"),
    ]))
    .when(replace_secret(2, Some(valid("acct-1"))))
    .then_expect_error(KeyringError::DuplicateAccount(
        "acct-1".into(),
        "work".into(),
    ));
}

#[test]
fn a_credential_can_be_revalidated_with_its_own_account() {
    given(primary_work())
        .when(record_validation(1, 1, valid("acct-1")))
        .then_expect_events(vec![validated(1, 1, "acct-1", Active)]);
}

// ---------------------------------------------------------------------------------------------
// Validation outcomes and the primary
// ---------------------------------------------------------------------------------------------

#[test]
fn an_invalid_primary_hands_the_primary_to_the_oldest_remaining_active_credential() {
    let history = primary_with_successors();
    let events = events_of(given(history.clone()).when(record_validation(1, 1, invalid())));
    assert_eq!(
        events,
        vec![
            validation_failed(1, 1, Active),
            primary_changed(Some(1), Some(9), Promoted),
        ]
    );
    let keyring = state(&concat(vec![history, events]));
    assert_eq!(keyring.credential(id(1)).map(|c| c.status), Some(Invalid));
    assert_eq!(keyring.primary().map(|c| c.id), Some(id(9)));
}

#[test]
fn an_invalid_primary_with_no_other_active_credential_leaves_no_primary() {
    let history = concat(vec![
        primary_work(),
        vec![
            registered(2, "inactive"),
            registered(3, "broken"),
            validation_failed(3, 1, Inactive),
        ],
    ]);
    let events = events_of(given(history.clone()).when(record_validation(1, 1, invalid())));
    assert_eq!(
        events,
        vec![
            validation_failed(1, 1, Active),
            primary_changed(Some(1), None, NoneActive),
        ]
    );
    assert!(state(&concat(vec![history, events])).primary().is_none());
}

#[test]
fn an_invalid_non_primary_credential_leaves_the_primary_alone() {
    given(concat(vec![
        primary_work(),
        active(2, "personal", "acct-2"),
    ]))
    .when(record_validation(2, 1, invalid()))
    .then_expect_events(vec![validation_failed(2, 1, Active)]);
}

#[test]
fn an_invalid_credential_that_is_confirmed_again_becomes_active() {
    let history = concat(vec![
        primary_work(),
        vec![registered(2, "personal"), validation_failed(2, 1, Inactive)],
    ]);
    given(history)
        .when(record_validation(2, 1, valid("acct-2")))
        .then_expect_events(vec![validated(2, 1, "acct-2", Invalid)]);
}

#[test]
fn an_inconclusive_check_of_the_active_primary_changes_nothing() {
    let history = concat(vec![primary_work(), active(2, "personal", "acct-2")]);
    let events = events_of(given(history.clone()).when(record_validation(1, 1, could_not_check())));
    assert_eq!(events, vec![inconclusive(1, 1)]);
    let keyring = state(&concat(vec![history, events]));
    let primary = keyring.primary().expect("still a primary");
    assert_eq!((primary.id, primary.status), (id(1), Active));
}

#[test]
fn an_inconclusive_check_never_changes_any_status() {
    let history = concat(vec![
        primary_work(),
        vec![
            registered(2, "inactive"),
            registered(3, "broken"),
            validation_failed(3, 1, Inactive),
            registered(4, "old"),
            validated_until(4, 1, "acct-4", Some(at(2030, 1, 1)), Inactive),
            KeyringEvent::CredentialExpired {
                credential_id: id(4),
                expired_at: at(2030, 1, 1),
                previous_status: Active,
                status: Expired,
            },
        ],
    ]);
    for (n, status) in [(2, Inactive), (3, Invalid), (4, Expired)] {
        let events =
            events_of(given(history.clone()).when(record_validation(n, 1, could_not_check())));
        assert_eq!(events, vec![inconclusive(n, 1)]);
        let keyring = state(&concat(vec![history.clone(), events]));
        assert_eq!(keyring.credential(id(n)).map(|c| c.status), Some(status));
        assert_eq!(keyring.primary().map(|c| c.id), Some(id(1)));
    }
}

// ---------------------------------------------------------------------------------------------
// Revoking, erasing, expiring
// ---------------------------------------------------------------------------------------------

#[test]
fn revoking_the_primary_promotes_the_oldest_active_credential() {
    given(primary_with_successors())
        .when(revoke(1))
        .then_expect_events(vec![
            revoked(1, Active),
            primary_changed(Some(1), Some(9), Promoted),
        ]);
}

#[test]
fn erasing_the_primary_promotes_the_oldest_active_credential() {
    let history = primary_with_successors();
    let events = events_of(given(history.clone()).when(erase(1)));
    assert_eq!(
        events,
        vec![
            erased(1, "work", Active),
            primary_changed(Some(1), Some(9), Promoted),
        ]
    );
    let keyring = state(&concat(vec![history, events]));
    assert!(keyring.credential(id(1)).is_none());
    assert_eq!(keyring.primary().map(|c| c.id), Some(id(9)));
}

#[test]
fn expiring_the_primary_promotes_the_oldest_active_credential() {
    let mut history = vec![
        registered(1, "work"),
        validated_until(1, 1, "acct-1", Some(at(2030, 1, 1)), Inactive),
        primary_changed(None, Some(1), FirstActive),
    ];
    history.extend(primary_with_successors().into_iter().skip(3));
    given(history)
        .when(mark_expired(1, at(2030, 1, 2)))
        .then_expect_events(vec![
            KeyringEvent::CredentialExpired {
                credential_id: id(1),
                expired_at: at(2030, 1, 1),
                previous_status: Active,
                status: Expired,
            },
            primary_changed(Some(1), Some(9), Promoted),
        ]);
}

#[test]
fn revoking_the_only_active_primary_leaves_no_primary() {
    given(concat(vec![
        primary_work(),
        vec![registered(2, "personal")],
    ]))
    .when(revoke(1))
    .then_expect_events(vec![
        revoked(1, Active),
        primary_changed(Some(1), None, NoneActive),
    ]);
}

#[test]
fn erasing_the_only_active_primary_leaves_no_primary() {
    given(primary_work())
        .when(erase(1))
        .then_expect_events(vec![
            erased(1, "work", Active),
            primary_changed(Some(1), None, NoneActive),
        ]);
}

#[test]
fn revoking_a_non_primary_credential_leaves_the_primary_alone() {
    given(concat(vec![
        primary_work(),
        active(2, "personal", "acct-2"),
    ]))
    .when(revoke(2))
    .then_expect_events(vec![revoked(2, Active)]);
}

fn revoked_personal() -> Vec<KeyringEvent> {
    concat(vec![
        primary_work(),
        active(2, "personal", "acct-2"),
        vec![revoked(2, Active)],
    ])
}

#[test]
fn a_revoked_credential_cannot_be_revalidated() {
    for outcome in [valid("acct-2"), invalid(), could_not_check()] {
        given(revoked_personal())
            .when(record_validation(2, 1, outcome))
            .then_expect_error(KeyringError::IllegalTransition {
                from: Revoked,
                action: "validated",
            });
    }
}

#[test]
fn a_revoked_credential_cannot_be_given_a_new_secret() {
    given(revoked_personal())
        .when(replace_secret(2, Some(valid("acct-2"))))
        .then_expect_error(KeyringError::IllegalTransition {
            from: Revoked,
            action: "given a new secret",
        });
}

#[test]
fn a_revoked_credential_cannot_be_revoked_again() {
    given(revoked_personal())
        .when(revoke(2))
        .then_expect_error(KeyringError::IllegalTransition {
            from: Revoked,
            action: "revoked",
        });
}

#[test]
fn a_revoked_credential_cannot_be_expired() {
    given(revoked_personal())
        .when(mark_expired(2, at(2040, 1, 1)))
        .then_expect_error(KeyringError::IllegalTransition {
            from: Revoked,
            action: "expired",
        });
}

#[test]
fn a_revoked_credential_can_be_erased() {
    given(revoked_personal())
        .when(erase(2))
        .then_expect_events(vec![erased(2, "personal", Revoked)]);
}

#[test]
fn an_erased_credential_takes_no_more_commands() {
    let history = concat(vec![
        primary_work(),
        active(2, "personal", "acct-2"),
        vec![erased(2, "personal", Active)],
    ]);
    for command in [
        erase(2),
        revoke(2),
        set_primary(2),
        rename(2, "again"),
        record_validation(2, 1, valid("acct-2")),
        replace_secret(2, None),
        mark_expired(2, at(2040, 1, 1)),
    ] {
        given(history.clone())
            .when(command)
            .then_expect_error(KeyringError::NotFound(id(2)));
    }
}

// ---------------------------------------------------------------------------------------------
// Secret versions
// ---------------------------------------------------------------------------------------------

#[test]
fn replacing_a_secret_bumps_its_version_and_makes_it_inactive() {
    let history = concat(vec![primary_work(), active(2, "personal", "acct-2")]);
    let events = events_of(given(history.clone()).when(replace_secret(2, None)));
    assert_eq!(events, vec![secret_replaced(2, 2, Active)]);
    let keyring = state(&concat(vec![history, events]));
    let replaced = keyring.credential(id(2)).expect("still there");
    assert_eq!(
        (replaced.status, replaced.secret_version, &replaced.secret),
        (Inactive, 2, &sealed(2, 2))
    );
}

#[test]
fn a_validation_of_a_replaced_secret_is_stale() {
    let history = concat(vec![
        primary_work(),
        active(2, "personal", "acct-2"),
        vec![secret_replaced(2, 2, Active)],
    ]);
    given(history.clone())
        .when(record_validation(2, 1, valid("acct-2")))
        .then_expect_error(KeyringError::StaleValidation {
            checked: 1,
            current: 2,
        });
    given(history)
        .when(record_validation(2, 2, valid("acct-2")))
        .then_expect_events(vec![validated(2, 2, "acct-2", Inactive)]);
}

#[test]
fn a_refresh_of_a_replaced_secret_is_refused_and_does_not_overwrite_it() {
    let history = concat(vec![
        primary_work(),
        active(2, "personal", "acct-2"),
        vec![secret_replaced(2, 2, Active)],
    ]);
    let fields = SecretFields::from_json_bytes(br#"{"token":"refreshed"}"#).expect("fields");
    given(history)
        .when(KeyringCommand::RecordOAuthRefresh {
            credential_id: id(2),
            secret_version: 1,
            fields,
            expires_at: None,
            issued_at: at(2026, 1, 1),
        })
        .then_expect_error(KeyringError::StaleValidation {
            checked: 1,
            current: 2,
        });
}

#[test]
fn a_validation_of_a_future_secret_version_is_refused_too() {
    given(primary_work())
        .when(record_validation(1, 2, invalid()))
        .then_expect_error(KeyringError::StaleValidation {
            checked: 2,
            current: 1,
        });
}

#[test]
fn replacing_the_primary_secret_with_a_valid_validation_keeps_it_primary() {
    let history = concat(vec![primary_work(), active(2, "personal", "acct-2")]);
    let events = events_of(given(history.clone()).when(replace_secret(1, Some(valid("acct-1")))));
    assert_eq!(
        events,
        vec![
            secret_replaced(1, 2, Active),
            validated(1, 2, "acct-1", Inactive),
        ]
    );
    assert!(!events
        .iter()
        .any(|e| matches!(e, KeyringEvent::PrimaryCredentialChanged { .. })));
    let keyring = state(&concat(vec![history, events]));
    assert_eq!(keyring.primary().map(|c| c.id), Some(id(1)));
}

#[test]
fn replacing_the_primary_secret_without_a_validation_hands_the_primary_on() {
    given(concat(vec![
        primary_work(),
        active(2, "personal", "acct-2"),
    ]))
    .when(replace_secret(1, None))
    .then_expect_events(vec![
        secret_replaced(1, 2, Active),
        primary_changed(Some(1), Some(2), Promoted),
    ]);
    given(primary_work())
        .when(replace_secret(1, Some(could_not_check())))
        .then_expect_events(vec![
            secret_replaced(1, 2, Active),
            inconclusive(1, 2),
            primary_changed(Some(1), None, NoneActive),
        ]);
}

#[test]
fn a_replaced_secret_is_checked_against_the_service_fields() {
    given(primary_work())
        .when(KeyringCommand::ReplaceSecret {
            credential_id: id(1),
            fields: fields(&[("api_key", "sk-1")]),
            validation: None,
        })
        .then_expect_error(KeyringError::Input(InputError::UnknownField {
            service: "notion".into(),
            field: "api_key".into(),
        }));
}

// ---------------------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------------------

fn expiring_personal() -> Vec<KeyringEvent> {
    concat(vec![
        primary_work(),
        vec![
            registered(2, "personal"),
            validated_until(2, 1, "acct-2", Some(at(2030, 6, 1)), Inactive),
        ],
    ])
}

#[test]
fn a_check_that_could_not_be_made_again_records_nothing_whatever_its_reason() {
    let record = |outcome| KeyringCommand::RecordValidation {
        credential_id: id(1),
        secret_version: 1,
        outcome,
    };
    let once = concat(vec![primary_work(), vec![inconclusive(1, 1)]]);
    given(once.clone())
        .when(record(could_not_check()))
        .then_expect_events(vec![]);
    // Another reason is the same state (a provider's changing `Retry-After` would otherwise
    // record a check at every run).
    given(once.clone())
        .when(record(ValidationOutcome::CouldNotCheck {
            reason: "HTTP 503".into(),
        }))
        .then_expect_events(vec![]);
    // A check made in between: the same reason is new again.
    given(concat(vec![once, vec![validated(1, 1, "acct-1", Active)]]))
        .when(record(could_not_check()))
        .then_expect_events(vec![inconclusive(1, 1)]);
}

#[test]
fn a_check_that_could_not_be_made_after_a_refresh_records_nothing_either() {
    // A refresh is the same grant, not a check: an OAuth credential refreshed every hour while
    // its provider's check stays down recorded "could not check" at every scheduled run.
    let refreshed = KeyringEvent::OAuthTokenRefreshed {
        credential_id: id(1),
        secret: sealed(1, 2),
        secret_version: 2,
        expires_at: Some(at(2030, 1, 1)),
        issued_at: Some(at(2026, 1, 1)),
    };
    given(concat(vec![
        primary_work(),
        vec![inconclusive(1, 1), refreshed],
    ]))
    .when(KeyringCommand::RecordValidation {
        credential_id: id(1),
        secret_version: 2,
        outcome: could_not_check(),
    })
    .then_expect_events(vec![]);
}

#[test]
fn a_check_that_says_no_expiry_keeps_the_same_secrets_known_one() {
    // An OAuth access token's expiry comes from its token endpoint; the provider's probe, run
    // again by revalidation, says none. Clearing it stopped its refresh for good.
    given(expiring_personal())
        .when(KeyringCommand::RecordValidation {
            credential_id: id(2),
            secret_version: 1,
            outcome: valid("acct-2"),
        })
        .then_expect_events(vec![validated_until(
            2,
            1,
            "acct-2",
            Some(at(2030, 6, 1)),
            Active,
        )]);
}

#[test]
fn marking_a_credential_expired_before_its_expiry_is_refused() {
    given(expiring_personal())
        .when(mark_expired(2, at(2030, 5, 31)))
        .then_expect_error(KeyringError::NotExpired);
}

#[test]
fn marking_a_credential_expired_after_its_expiry_expires_it() {
    given(expiring_personal())
        .when(mark_expired(2, at(2030, 6, 2)))
        .then_expect_events(vec![KeyringEvent::CredentialExpired {
            credential_id: id(2),
            expired_at: at(2030, 6, 1),
            previous_status: Active,
            status: Expired,
        }]);
}

#[test]
fn an_authorization_ended_at_the_provider_expires_the_credential_before_its_token_expiry() {
    given(expiring_personal())
        .when(KeyringCommand::EndAuthorization {
            credential_id: id(2),
            now: at(2030, 5, 1),
        })
        .then_expect_events(vec![KeyringEvent::CredentialExpired {
            credential_id: id(2),
            expired_at: at(2030, 5, 1),
            previous_status: Active,
            status: Expired,
        }]);
}

#[test]
fn an_authorization_cannot_end_twice() {
    let mut history = expiring_personal();
    history.push(KeyringEvent::CredentialExpired {
        credential_id: id(2),
        expired_at: at(2030, 5, 1),
        previous_status: Active,
        status: Expired,
    });
    given(history)
        .when(KeyringCommand::EndAuthorization {
            credential_id: id(2),
            now: at(2030, 5, 2),
        })
        .then_expect_error(KeyringError::IllegalTransition {
            from: Expired,
            action: "expired",
        });
}

#[test]
fn a_replaced_secret_does_not_inherit_the_old_tokens_expiry() {
    // Without clearing the expiry on replacement, the new secret would be expired by the old
    // token's date.
    let history = concat(vec![
        expiring_personal(),
        vec![secret_replaced(2, 2, Active)],
    ]);
    given(history)
        .when(mark_expired(2, at(2030, 6, 2)))
        .then_expect_error(KeyringError::NotExpired);
}

#[test]
fn a_credential_without_an_expiry_never_expires() {
    given(primary_work())
        .when(mark_expired(1, at(2100, 1, 1)))
        .then_expect_error(KeyringError::NotExpired);
}

#[test]
fn an_expired_credential_cannot_expire_again() {
    let history = concat(vec![
        expiring_personal(),
        vec![KeyringEvent::CredentialExpired {
            credential_id: id(2),
            expired_at: at(2030, 6, 1),
            previous_status: Active,
            status: Expired,
        }],
    ]);
    given(history)
        .when(mark_expired(2, at(2031, 1, 1)))
        .then_expect_error(KeyringError::IllegalTransition {
            from: Expired,
            action: "expired",
        });
}

// ---------------------------------------------------------------------------------------------
// Bad input writes nothing
// ---------------------------------------------------------------------------------------------

#[test]
fn an_unknown_service_is_refused() {
    given_nothing()
        .when(KeyringCommand::RegisterCredential {
            credential_id: id(1),
            user_id: alice(),
            service: service("myspace"),
            name: name("work"),
            metadata: metadata(),
            fields: fields(&[("token", "t")]),
            validation: Some(valid("acct-1")),
            held_by: None,
        })
        .then_expect_error(KeyringError::Input(InputError::UnknownService(
            "myspace".into(),
        )));
}

#[test]
fn a_missing_required_field_is_refused() {
    given_nothing()
        .when(KeyringCommand::RegisterCredential {
            credential_id: id(1),
            user_id: alice(),
            service: service("jira"),
            name: name("work"),
            metadata: metadata(),
            fields: fields(&[
                ("url", "https://acme.atlassian.net"),
                ("email", "ops@acme.io"),
            ]),
            validation: Some(valid("acct-1")),
            held_by: None,
        })
        .then_expect_error(KeyringError::Input(InputError::MissingField {
            service: "jira".into(),
            field: "api_token".into(),
        }));
}

#[test]
fn a_blank_required_field_is_refused() {
    given_nothing()
        .when(KeyringCommand::RegisterCredential {
            credential_id: id(1),
            user_id: alice(),
            service: service("jira"),
            name: name("work"),
            metadata: metadata(),
            fields: fields(&[
                ("url", "https://acme.atlassian.net"),
                ("email", "ops@acme.io"),
                ("api_token", "   "),
            ]),
            validation: None,
            held_by: None,
        })
        .then_expect_error(KeyringError::Input(InputError::MissingField {
            service: "jira".into(),
            field: "api_token".into(),
        }));
}

#[test]
fn an_unknown_field_is_refused() {
    given_nothing()
        .when(KeyringCommand::RegisterCredential {
            credential_id: id(1),
            user_id: alice(),
            service: service("notion"),
            name: name("work"),
            metadata: metadata(),
            fields: fields(&[("token", "t"), ("password", "hunter2")]),
            validation: None,
            held_by: None,
        })
        .then_expect_error(KeyringError::Input(InputError::UnknownField {
            service: "notion".into(),
            field: "password".into(),
        }));
}

#[test]
fn metadata_that_is_too_long_is_refused() {
    let with_metadata = |metadata: BTreeMap<String, String>| KeyringCommand::RegisterCredential {
        credential_id: id(1),
        user_id: alice(),
        service: service("notion"),
        name: name("work"),
        metadata,
        fields: fields(&[("token", "t")]),
        validation: None,
        held_by: None,
    };
    given_nothing()
        .when(with_metadata(BTreeMap::from([(
            "note".to_string(),
            "x".repeat(1025),
        )])))
        .then_expect_error(KeyringError::Input(InputError::TooLong {
            what: "metadata value",
            max: 1024,
        }));
    given_nothing()
        .when(with_metadata(BTreeMap::from([(
            "k".repeat(65),
            "v".to_string(),
        )])))
        .then_expect_error(KeyringError::Input(InputError::TooLong {
            what: "metadata key",
            max: 64,
        }));
    given_nothing()
        .when(with_metadata(
            (0..33)
                .map(|i| (format!("key{i}"), "v".to_string()))
                .collect(),
        ))
        .then_expect_error(KeyringError::Input(InputError::TooLong {
            what: "metadata (entries)",
            max: 32,
        }));
    // The limits themselves are fine.
    given_nothing()
        .when(with_metadata(
            (0..32)
                .map(|i| (format!("{i:0>64}"), "x".repeat(1024)))
                .collect(),
        ))
        .then_expect_events(vec![KeyringEvent::CredentialRegistered {
            credential_id: id(1),
            user_id: alice(),
            service: service("notion"),
            name: name("work"),
            metadata: (0..32)
                .map(|i| (format!("{i:0>64}"), "x".repeat(1024)))
                .collect(),
            secret: sealed(1, 1),
            secret_version: 1,
            status: Inactive,
        }]);
}

#[test]
fn metadata_that_is_too_long_is_refused_on_update() {
    given(primary_work())
        .when(KeyringCommand::UpdateCredential {
            credential_id: id(1),
            name: Some(name("renamed")),
            metadata: Some(BTreeMap::from([("note".to_string(), "x".repeat(1025))])),
            secret: None,
        })
        .then_expect_error(KeyringError::Input(InputError::TooLong {
            what: "metadata value",
            max: 1024,
        }));
}

#[test]
fn commands_on_an_unknown_credential_are_refused() {
    let unknown = 42;
    for command in [
        rename(unknown, "x"),
        replace_secret(unknown, None),
        record_validation(unknown, 1, valid("acct-42")),
        set_primary(unknown),
        revoke(unknown),
        erase(unknown),
        mark_expired(unknown, at(2040, 1, 1)),
        mcp_sync(unknown, Ok("mcp-42".into())),
    ] {
        given(primary_work())
            .when(command.clone())
            .then_expect_error(KeyringError::NotFound(id(unknown)));
        given_nothing()
            .when(command)
            .then_expect_error(KeyringError::NotFound(id(unknown)));
    }
}

#[test]
fn registering_a_credential_id_twice_is_refused() {
    given(primary_work())
        .when(register(1, "another name", None))
        .then_expect_error(KeyringError::AlreadyExists(id(1)));
    // Even once erased: an id names one credential's whole history.
    given(concat(vec![
        primary_work(),
        vec![
            erased(1, "work", Active),
            primary_changed(Some(1), None, NoneActive),
        ],
    ]))
    .when(register(1, "work", None))
    .then_expect_error(KeyringError::AlreadyExists(id(1)));
}

#[test]
fn a_registration_for_another_user_or_service_is_refused_by_an_existing_keyring() {
    given(primary_work())
        .when(KeyringCommand::RegisterCredential {
            credential_id: id(2),
            user_id: UserId::parse("mallory").expect("user id"),
            service: service("notion"),
            name: name("personal"),
            metadata: metadata(),
            fields: fields_for("notion", "secret-2"),
            validation: None,
            held_by: None,
        })
        .then_expect_error(KeyringError::WrongKeyring);
    given(primary_work())
        .when(register_for("todoist", 2, "personal", None))
        .then_expect_error(KeyringError::WrongKeyring);
}

// ---------------------------------------------------------------------------------------------
// MCP synchronisation
// ---------------------------------------------------------------------------------------------

#[test]
fn a_successful_mcp_sync_is_recorded() {
    given(primary_work())
        .when(mcp_sync(1, Ok("mcp-cred-1".into())))
        .then_expect_events(vec![KeyringEvent::CredentialSyncedToMcp {
            credential_id: id(1),
            target: "mcp-gateway".into(),
            ledger_version: 7,
            mcp_id: "mcp-cred-1".into(),
            sync_position: 40,
        }]);
}

#[test]
fn a_failed_mcp_sync_is_recorded() {
    given(primary_work())
        .when(mcp_sync(1, Err("502 Bad Gateway".into())))
        .then_expect_events(vec![KeyringEvent::CredentialSyncFailed {
            credential_id: id(1),
            target: "mcp-gateway".into(),
            ledger_version: 7,
            error: "502 Bad Gateway".into(),
            sync_position: 40,
        }]);
}

#[test]
fn mcp_syncs_are_recorded_for_an_erased_credential() {
    let history = concat(vec![
        primary_work(),
        vec![
            erased(1, "work", Active),
            primary_changed(Some(1), None, NoneActive),
        ],
    ]);
    given(history.clone())
        .when(mcp_sync(1, Ok("mcp-cred-1".into())))
        .then_expect_events(vec![KeyringEvent::CredentialSyncedToMcp {
            credential_id: id(1),
            target: "mcp-gateway".into(),
            ledger_version: 7,
            mcp_id: "mcp-cred-1".into(),
            sync_position: 40,
        }]);
    given(history)
        .when(mcp_sync(1, Err("404 Not Found".into())))
        .then_expect_events(vec![KeyringEvent::CredentialSyncFailed {
            credential_id: id(1),
            target: "mcp-gateway".into(),
            ledger_version: 7,
            error: "404 Not Found".into(),
            sync_position: 40,
        }]);
}

#[test]
fn removals_and_drift_on_an_mcp_server_are_recorded() {
    let removed = KeyringCommand::RecordMcpSync {
        credential_id: id(1),
        target: "mcp-gateway".into(),
        ledger_version: 9,
        sync_position: 41,
        outcome: McpSyncOutcome::Removed {
            mcp_id: Some("mcp-cred-1".into()),
        },
    };
    given(primary_work()).when(removed).then_expect_events(vec![
        KeyringEvent::CredentialRemovedFromMcp {
            credential_id: id(1),
            target: "mcp-gateway".into(),
            ledger_version: 9,
            mcp_id: Some("mcp-cred-1".into()),
            sync_position: 41,
        },
    ]);
    let drifted = KeyringCommand::RecordMcpSync {
        credential_id: id(1),
        target: "mcp-gateway".into(),
        ledger_version: 9,
        sync_position: 41,
        outcome: McpSyncOutcome::Drifted {
            reported_version: Some(3),
        },
    };
    given(primary_work()).when(drifted).then_expect_events(vec![
        KeyringEvent::CredentialDriftedOnMcp {
            credential_id: id(1),
            target: "mcp-gateway".into(),
            ledger_version: 9,
            reported_version: Some(3),
            sync_position: 41,
        },
    ]);
}

#[test]
fn an_mcp_sync_of_an_unknown_credential_is_refused() {
    given(primary_work())
        .when(mcp_sync(9, Ok("mcp-x".into())))
        .then_expect_error(KeyringError::NotFound(id(9)));
}

#[test]
fn sync_events_written_before_sync_position_existed_still_read() {
    let old = r#"{"CredentialSyncedToMcp":{"credential_id":"00000000-0000-0000-0000-000000000001","target":"t","ledger_version":3,"mcp_id":"m"}}"#;
    let event: KeyringEvent = serde_json::from_str(old).expect("old shape");
    assert!(matches!(
        event,
        KeyringEvent::CredentialSyncedToMcp {
            sync_position: 0,
            ..
        }
    ));
    assert!(event.is_mcp_sync_outcome());
}

// ---------------------------------------------------------------------------------------------
// Invariants under random command sequences
// ---------------------------------------------------------------------------------------------

/// Marsaglia's xorshift64: deterministic, dependency-free.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        // `n` is tiny; the modulo bias does not matter here.
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

const NAMES: [&str; 10] = [
    "work", "personal", "ci", "backup", "shared", "legacy", "staging", "prod", "bot", "test",
];
const ACCOUNTS: [&str; 8] = [
    "acct-a", "acct-b", "acct-c", "acct-d", "acct-e", "acct-f", "acct-g", "acct-h",
];
const STEPS: usize = 2_000;

fn random_outcome(rng: &mut XorShift) -> ValidationOutcome {
    match rng.below(10) {
        0..=5 => {
            let expires_at = rng
                .chance(40)
                .then(|| at(2030 + rng.below(4) as i32, 1 + rng.below(12) as u32, 1));
            valid_until(rng.pick(&ACCOUNTS), expires_at)
        }
        6 | 7 => invalid(),
        _ => could_not_check(),
    }
}

/// A random command, mostly about credentials the keyring knows (erased ones included).
fn random_command(rng: &mut XorShift, keyring: &Keyring, next_id: &mut u128) -> KeyringCommand {
    let known: Vec<u128> = keyring
        .credentials
        .iter()
        .map(|c| c.id.as_uuid().as_u128())
        .collect();
    let live: Vec<u128> = keyring
        .credentials()
        .map(|c| c.id.as_uuid().as_u128())
        .collect();
    // Revoked credentials refuse almost everything: aim mostly at the others.
    let usable: Vec<u128> = keyring
        .credentials()
        .filter(|c| c.status != Revoked)
        .map(|c| c.id.as_uuid().as_u128())
        .collect();
    let target = |rng: &mut XorShift| -> u128 {
        match rng.below(100) {
            0..=84 if !usable.is_empty() => rng.pick(&usable),
            0..=92 if !known.is_empty() => rng.pick(&known),
            _ => 999_999,
        }
    };
    match rng.below(100) {
        0..=17 => {
            let n = if !known.is_empty() && rng.chance(5) {
                rng.pick(&known)
            } else {
                *next_id += 1;
                *next_id
            };
            let validation = rng.chance(70).then(|| random_outcome(rng));
            register(n, rng.pick(&NAMES), validation)
        }
        18..=44 => {
            let n = target(rng);
            let current = keyring
                .credentials
                .iter()
                .find(|c| c.id == id(n))
                .map_or(1, |c| c.secret_version);
            let version = if rng.chance(10) { current + 1 } else { current };
            record_validation(n, version, random_outcome(rng))
        }
        45..=54 => {
            let active: Vec<u128> = keyring
                .credentials()
                .filter(|c| c.status == Active)
                .map(|c| c.id.as_uuid().as_u128())
                .collect();
            if !active.is_empty() && rng.chance(70) {
                set_primary(rng.pick(&active))
            } else {
                set_primary(target(rng))
            }
        }
        55..=61 => revoke(target(rng)),
        62..=68 if !live.is_empty() && rng.chance(80) => erase(rng.pick(&live)),
        62..=68 => erase(target(rng)),
        69..=76 => {
            let now = at(2029 + rng.below(6) as i32, 1 + rng.below(12) as u32, 15);
            mark_expired(target(rng), now)
        }
        77..=88 => {
            let n = target(rng);
            let validation = rng.chance(60).then(|| random_outcome(rng));
            replace_secret(n, validation)
        }
        89..=95 => rename(target(rng), rng.pick(&NAMES)),
        _ => {
            let result = if rng.chance(50) {
                Ok("mcp-id".into())
            } else {
                Err("unreachable".into())
            };
            mcp_sync(target(rng), result)
        }
    }
}

fn assert_invariants(keyring: &Keyring, step: usize, command: &str) {
    let live: Vec<&CredentialState> = keyring.credentials().collect();
    let primaries: Vec<&CredentialState> = live.iter().copied().filter(|c| c.is_primary).collect();
    let context = || format!("after step {step} ({command}): {live:#?}");
    assert!(primaries.len() <= 1, "two primaries {}", context());
    if let Some(primary) = primaries.first() {
        assert_eq!(primary.status, Active, "inactive primary {}", context());
        assert_eq!(keyring.primary().map(|c| c.id), Some(primary.id));
    }
    if live.iter().any(|c| c.status == Active) {
        assert_eq!(
            primaries.len(),
            1,
            "active credentials, no primary {}",
            context()
        );
    }
    let mut names = BTreeSet::new();
    for c in &live {
        assert!(
            names.insert(c.name.as_str()),
            "duplicate name {}",
            context()
        );
    }
}

#[tokio::test]
async fn random_command_sequences_keep_the_keyring_invariants() {
    let services = services();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut keyring = Keyring::default();
    let mut committed: Vec<KeyringEvent> = Vec::new();
    let mut next_id = 0u128;
    let mut successes = 0usize;
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut primary_changes: BTreeMap<String, usize> = BTreeMap::new();

    for step in 0..STEPS {
        let command = random_command(&mut rng, &keyring, &mut next_id);
        let described = format!("{command:?}");
        let primary_before = keyring.primary().map(|c| c.id);
        let sink = EventSink::<Keyring>::default();
        match keyring.handle(command, &services, &sink).await {
            Ok(()) => {
                successes += 1;
                let events = sink.collect().await;
                let changes: Vec<&KeyringEvent> = events
                    .iter()
                    .filter(|e| matches!(e, KeyringEvent::PrimaryCredentialChanged { .. }))
                    .collect();
                assert!(changes.len() <= 1, "step {step}: {events:?}");
                if let Some(KeyringEvent::PrimaryCredentialChanged {
                    previous, reason, ..
                }) = changes.first()
                {
                    assert_eq!(*previous, primary_before, "step {step}: {events:?}");
                    *primary_changes.entry(format!("{reason:?}")).or_default() += 1;
                }
                committed.extend(events);
            }
            Err(error) => {
                assert!(
                    !matches!(error, KeyringError::Cipher(_)),
                    "step {step}: {error:?}"
                );
                let kind = format!("{error:?}");
                let kind = kind
                    .split(['(', ' '])
                    .next()
                    .unwrap_or_default()
                    .to_string();
                *errors.entry(kind).or_default() += 1;
                // A refused command is not committed: the store reloads the keyring from the
                // events, whatever `handle` did to the instance before it refused.
                keyring = state(&committed);
            }
        }
        assert_invariants(&keyring, step, &described);
    }

    // Handling and replaying agree.
    assert_eq!(
        serde_json::to_value(&keyring).expect("state serializes"),
        serde_json::to_value(state(&committed)).expect("state serializes")
    );

    // The walk visited the interesting corners.
    println!("{successes} successes; primary changes {primary_changes:?}; errors {errors:?}");
    assert!(successes > STEPS / 3, "{successes} successes, {errors:?}");
    for reason in ["FirstActive", "Chosen", "Promoted", "NoneActive"] {
        assert!(
            primary_changes.get(reason).copied().unwrap_or_default() > 5,
            "{reason}: {primary_changes:?}"
        );
    }
    for kind in [
        "NotFound",
        "NameTaken",
        "DuplicateAccount",
        "IllegalTransition",
        "NotActive",
        "StaleValidation",
        "NotExpired",
        "AlreadyExists",
    ] {
        assert!(errors.contains_key(kind), "never saw {kind}: {errors:?}");
    }
}

#[test]
fn a_refresh_is_refused_for_a_service_that_does_not_use_oauth() {
    let fields = SecretFields::from_json_bytes(br#"{"token":"refreshed"}"#).expect("fields");
    given(primary_work())
        .when(KeyringCommand::RecordOAuthRefresh {
            credential_id: id(1),
            secret_version: 1,
            fields,
            expires_at: None,
            issued_at: at(2026, 1, 1),
        })
        .then_expect_error(KeyringError::Input(InputError::Malformed {
            what: "OAuth refresh",
            detail: "Notion does not use OAuth".into(),
        }));
}

#[test]
fn a_revocations_reason_is_trimmed_and_bounded_here_whoever_sends_it() {
    let revoke_because = |reason: String| KeyringCommand::RevokeCredential {
        credential_id: id(1),
        reason: Some(reason),
    };
    given(primary_work())
        .when(revoke_because("x".repeat(REVOKE_REASON_MAX + 1)))
        .then_expect_error(KeyringError::Input(InputError::TooLong {
            what: "the revocation's reason",
            max: REVOKE_REASON_MAX,
        }));
    given(primary_work())
        .when(revoke_because("leaked\u{1b}[2J".into()))
        .then_expect_error(KeyringError::Input(InputError::BadCharacters {
            what: "the revocation's reason",
            allowed: "no control characters",
        }));
    let events = events_of(given(primary_work()).when(revoke_because("  leaked ".into())));
    assert!(
        matches!(&events[0], KeyringEvent::CredentialRevoked { reason, .. } if reason.as_deref() == Some("leaked")),
        "{events:?}"
    );
}

#[test]
fn a_person_keeps_at_most_two_hundred_credentials_of_one_service_erased_ones_aside() {
    let most = MAX_CREDENTIALS_PER_SERVICE as u128;
    let full: Vec<KeyringEvent> = (1..=most)
        .map(|n| registered(n, &format!("account {n}")))
        .collect();
    given(full.clone())
        .when(register(most + 1, "one more", None))
        .then_expect_error(KeyringError::Input(InputError::TooMany {
            what: "credentials for one service",
            max: MAX_CREDENTIALS_PER_SERVICE,
        }));
    let one_erased = concat(vec![full, vec![erased(7, "account 7", Inactive)]]);
    let events = events_of(given(one_erased).when(register(most + 1, "one more", None)));
    assert!(
        matches!(events[0], KeyringEvent::CredentialRegistered { .. }),
        "{events:?}"
    );
}
