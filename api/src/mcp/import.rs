//! Import from an MCP server (the original design's `credentials:migrate-from-mcp`): read its
//! `GET /credentials` (records with `id`, as the original API lists them, or `credential_id`),
//! plan what to do with each one, and register the good ones in the ledger (encrypted under the
//! ledger's keys), idempotently. As the original migration did, a record without a name gets
//! the service's display name (with " 2", " 3"… when the person already has one by that name).
//! Each credential is checked live with its provider while planning unless told not to: one
//! the provider refuses, or whose provider cannot be asked, is not imported (and says why);
//! without the check they are imported inactive and the scheduled revalidation checks them. A
//! record saying `is_primary: true` becomes the primary when it is active.
//!
//! A credential imported from server T with the server's id X always gets the same ledger id (a
//! UUIDv5 of `T/X`), so a second run, or a run after a crash, finds it and skips it. The server
//! already holds what it sent, so each imported credential the server may hold is recorded as
//! synced under the server's id, in the registration's own append (the sender brings that copy
//! to the ledger's state with an update rather than creating a second one).

use super::sync::McpSync;
use super::McpServers;
use crate::error::ApiError;
use crate::ledger::{LedgerError, NewCredential};
use credledger_adapters::mcp::client::{RemoteCredential, RemoteItem};
use credledger_domain::keyring::{HeldCopy, KeyringCommand, KeyringError, ValidationOutcome};
use credledger_domain::ports::Validator;
use credledger_domain::{
    CredentialId, CredentialName, EventMetadata, KeyringId, SecretFields, SecretString, ServiceKey,
    UserId,
};
use credledger_projections::{mcp_sync, principals};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// What to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub target: String,
    pub user: Option<String>,
    pub service: Option<String>,
    /// Check each credential live with its provider first (invalid ones are not imported).
    pub validate: bool,
}

/// What happened to one imported credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The server's id.
    pub mcp_id: String,
    pub credential_id: CredentialId,
    /// Its status in the ledger after the import (`active`, `inactive`).
    pub status: String,
    /// Whether it is its keyring's primary.
    pub primary: bool,
    /// Why it is not active, when it is not.
    pub note: Option<String>,
}

/// What will happen (or happened) to one credential the server listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Import,
    Skip(String),
    Fail(String),
}

/// One credential the server listed. `fields` is the plaintext secret: never printed.
pub struct Found {
    pub mcp_id: String,
    pub user_id: String,
    pub service: String,
    pub name: String,
    pub field_names: Vec<String>,
    pub plan: Plan,
    /// The record asked to be its keyring's primary.
    pub is_primary: bool,
    /// The account the record names (kept as metadata; a live check's account prevails).
    pub account_identifier: Option<String>,
    /// The provider's answer to the live check made while planning.
    validation: Option<ValidationOutcome>,
    fields: Option<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Found")
            .field("mcp_id", &self.mcp_id)
            .field("user_id", &self.user_id)
            .field("service", &self.service)
            .field("name", &self.name)
            .field("field_names", &self.field_names)
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub migrated: u64,
    pub imported: Vec<Imported>,
    pub skipped: Vec<(String, String)>,
    pub failed: Vec<(String, String)>,
}

/// The ledger id of the credential imported from `target` under the server's id `mcp_id`.
pub fn imported_id(target: &str, mcp_id: &str) -> CredentialId {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6372_6564_6c65_6467_6572_2d6d_6370_2d69);
    CredentialId::from_uuid(uuid::Uuid::new_v5(
        &NAMESPACE,
        format!("{target}/{mcp_id}").as_bytes(),
    ))
}

/// Reads the server's credentials and decides, for each, import, skip or fail (with why). With
/// a `validator`, each credential that would be imported is checked live with its provider
/// (nothing is recorded): a refusal, or a provider that cannot be asked, fails it.
pub async fn plan(
    servers: &McpServers,
    sync: &McpSync,
    options: &ImportOptions,
    validator: Option<&dyn Validator>,
) -> Result<Vec<Found>, ApiError> {
    let ledger = servers.ledger();
    if mcp_sync::server(&ledger.db.any, &options.target)
        .await?
        .is_none_or(|s| s.removed)
    {
        return Err(ApiError::Validation(format!(
            "no MCP server `{}` is registered",
            options.target
        )));
    }
    let client = sync.client_for(&options.target).await?;
    let items = client
        .list(options.user.as_deref(), options.service.as_deref())
        .await
        .map_err(|e| ApiError::ProviderUnreachable(e.to_string()))?;
    let mut found = Vec::with_capacity(items.len());
    // Names given in this run, per (user, service): defaults must not collide with them.
    let mut names: NamesInUse = BTreeMap::new();
    // Ids listed so far: a second listing of one is not imported (its credential id, derived
    // from the server's id, would land in two keyrings).
    let mut listed = std::collections::HashSet::new();
    for item in items {
        let entry = match item {
            RemoteItem::Unreadable {
                index,
                credential_id,
                reason,
                ..
            } => Found {
                mcp_id: credential_id.unwrap_or_else(|| format!("#{index}")),
                user_id: String::new(),
                service: String::new(),
                name: String::new(),
                field_names: vec![],
                plan: Plan::Fail(reason),
                is_primary: false,
                account_identifier: None,
                validation: None,
                fields: None,
            },
            RemoteItem::Ok(c) => {
                // A server that ignores the query's filters is filtered here.
                if options.user.as_ref().is_some_and(|u| *u != c.user_id)
                    || options
                        .service
                        .as_ref()
                        .is_some_and(|s| *s != c.service_type)
                {
                    continue;
                }
                if !listed.insert(c.credential_id.clone()) {
                    found.push(Found {
                        plan: Plan::Fail("the server lists this id more than once".into()),
                        mcp_id: c.credential_id,
                        user_id: c.user_id,
                        service: c.service_type,
                        name: String::new(),
                        field_names: vec![],
                        is_primary: false,
                        account_identifier: None,
                        validation: None,
                        fields: None,
                    });
                    continue;
                }
                let mut entry = decide(servers, &options.target, c, &mut names).await?;
                if let Some(validator) = validator {
                    check(servers, validator, &mut entry).await;
                }
                entry
            }
        };
        found.push(entry);
    }
    Ok(found)
}

/// The names of each (user, service) keyring: those in the ledger and those this run gives.
type NamesInUse = BTreeMap<(String, String), std::collections::BTreeSet<String>>;

async fn decide(
    servers: &McpServers,
    target: &str,
    c: RemoteCredential,
    names: &mut NamesInUse,
) -> Result<Found, ApiError> {
    let ledger = servers.ledger();
    let mut found = Found {
        mcp_id: c.credential_id.clone(),
        user_id: c.user_id.clone(),
        service: c.service_type.clone(),
        name: c.credential_name.clone().unwrap_or_default(),
        field_names: c
            .credential_data
            .as_ref()
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default(),
        plan: Plan::Import,
        is_primary: c.is_primary == Some(true),
        account_identifier: c.account_identifier.clone(),
        validation: None,
        fields: None,
    };
    let fail = |why: String| Plan::Fail(why);
    if UserId::parse(&c.user_id).is_err()
        || principals::user(&ledger.db.any, &c.user_id, false)
            .await?
            .is_none()
    {
        found.plan = fail(format!("unknown user `{}`", c.user_id));
        return Ok(found);
    }
    let Ok(definition) = ledger.catalog.enabled_service(&c.service_type) else {
        found.plan = fail(format!("unknown service `{}`", c.service_type));
        return Ok(found);
    };
    let Some(data) = &c.credential_data else {
        found.plan = fail("missing field `credential_data`".into());
        return Ok(found);
    };
    let mut fields = SecretFields::new();
    for (k, v) in data {
        match v.as_str() {
            Some(s) => fields.insert(k.clone(), SecretString::new(s.to_owned())),
            None => {
                found.plan = fail(format!("`credential_data.{k}` is not a string"));
                return Ok(found);
            }
        }
    }
    let bytes = fields.to_json_bytes();
    match definition.check_fields(&fields) {
        Ok(()) => {}
        Err(e) => {
            found.plan = fail(format!("credential_data: {e}"));
            return Ok(found);
        }
    }
    let id = imported_id(target, &c.credential_id);
    // Only "no such credential" means not imported yet: a lookup that failed must not let the
    // same id be registered in another keyring.
    match ledger.locate(&id.to_string()).await {
        Ok(_) => {
            found.plan = Plan::Skip("already imported".into());
            return Ok(found);
        }
        Err(LedgerError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    // A copy the sender made of a ledger credential is that credential, not a new one.
    if let Some(own) = mcp_sync::row_by_mcp_id(&ledger.db.any, target, &c.credential_id).await? {
        found.plan = Plan::Skip(format!(
            "the copy of ledger credential {}",
            own.credential_id
        ));
        return Ok(found);
    }
    let keyring = (c.user_id.clone(), c.service_type.clone());
    if !names.contains_key(&keyring) {
        let id = KeyringId::new(
            UserId::parse(&c.user_id)?,
            ServiceKey::parse(&c.service_type)?,
        );
        let state = ledger.keyring(&id).await?;
        let existing = state
            .credentials()
            .filter(|c| !c.erased)
            .map(|c| c.name.to_string())
            .collect();
        names.insert(keyring.clone(), existing);
    }
    let taken = names.entry(keyring).or_default();
    let given = c.credential_name.as_deref().map(str::trim).unwrap_or("");
    found.name = if given.is_empty() {
        // The original migration's default: the service's name.
        CredentialName::first_free(&definition.display_name, |name| taken.contains(name))
    } else {
        given.to_owned()
    };
    if taken.contains(&found.name) {
        found.plan = fail(format!("the name `{}` is taken", found.name));
        return Ok(found);
    }
    taken.insert(found.name.clone());
    found.fields = Some(bytes);
    Ok(found)
}

/// Checks a credential planned for import with its provider; fails it unless it is valid.
async fn check(servers: &McpServers, validator: &dyn Validator, found: &mut Found) {
    if found.plan != Plan::Import {
        return;
    }
    let ledger = servers.ledger();
    let (Ok(definition), Some(fields)) = (
        ledger.catalog.enabled_service(&found.service),
        found.fields.as_ref(),
    ) else {
        return;
    };
    let Ok(parsed) = SecretFields::from_json_bytes(fields) else {
        return;
    };
    match validator.validate(definition, &parsed).await {
        ValidationOutcome::Invalid { message } => {
            found.plan = Plan::Fail(format!("the provider refused it: {message}"));
        }
        ValidationOutcome::CouldNotCheck { reason } => {
            found.plan = Plan::Fail(format!(
                "the provider could not be asked ({reason}): run the import again later, or \
                 with --no-validate"
            ));
        }
        valid => found.validation = Some(valid),
    }
}

/// Imports the credentials planned for import (with the live check's answer when the plan made
/// one). `progress` is called after each one. The caller holds the sync lease, so the sender
/// does not create copies meanwhile.
pub async fn import(
    servers: &McpServers,
    target: &str,
    found: &[Found],
    meta: &EventMetadata,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ImportReport, ApiError> {
    let mut report = ImportReport::default();
    for (i, f) in found.iter().enumerate() {
        match &f.plan {
            Plan::Skip(why) => report.skipped.push((f.mcp_id.clone(), why.clone())),
            Plan::Fail(why) => report.failed.push((f.mcp_id.clone(), why.clone())),
            Plan::Import => match import_one(servers, target, f, meta).await {
                Ok(Some(imported)) => {
                    report.migrated += 1;
                    report.imported.push(imported);
                }
                Ok(None) => report
                    .skipped
                    .push((f.mcp_id.clone(), "already imported".into())),
                Err(why) => report.failed.push((f.mcp_id.clone(), why)),
            },
        }
        progress(i as u64 + 1);
    }
    Ok(report)
}

/// `Ok(None)`: it was there already (a concurrent or earlier run).
async fn import_one(
    servers: &McpServers,
    target: &str,
    f: &Found,
    meta: &EventMetadata,
) -> Result<Option<Imported>, String> {
    let ledger = servers.ledger();
    let Some(fields) = &f.fields else {
        return Err("nothing to import".into());
    };
    let validation = f.validation.clone();
    let id = imported_id(target, &f.mcp_id);
    let mut metadata = BTreeMap::from([("imported_from".to_owned(), target.to_owned())]);
    if let Some(account) = &f.account_identifier {
        metadata.insert("account_identifier".to_owned(), account.clone());
    }
    let note = validation
        .is_none()
        .then(|| "not checked (--no-validate); the scheduled revalidation checks it".to_owned());
    // The server holds this credential already, under its own id: that copy is adopted in
    // the registration's own append (kept apart, an interruption between the two left a
    // credential the sender then copied to the server a second time).
    let held_by = mcp_sync::may_hold(&ledger.db.any, target, &f.user_id, &f.service)
        .await
        .map_err(|e| e.to_string())?
        .then(|| HeldCopy {
            target: target.to_owned(),
            mcp_id: f.mcp_id.clone(),
        });
    match ledger
        .register_held(
            NewCredential {
                user_id: &f.user_id,
                service: &f.service,
                name: &f.name,
                fields_json: fields,
                metadata,
                validation,
            },
            id,
            held_by,
            meta,
        )
        .await
    {
        Ok(_) => {}
        Err(LedgerError::Rule(KeyringError::AlreadyExists(_))) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    }
    let keyring = KeyringId::new(
        UserId::parse(&f.user_id).map_err(|e| e.to_string())?,
        ServiceKey::parse(&f.service).map_err(|e| e.to_string())?,
    );
    let active = |state: &credledger_domain::keyring::Keyring| {
        state
            .credential(id)
            .is_some_and(|c| c.status == credledger_domain::keyring::CredentialStatus::Active)
    };
    let mut state = ledger.keyring(&keyring).await.map_err(|e| e.to_string())?;
    // The record's wish to be primary, where the keyring's rule allows it (active only).
    if f.is_primary && active(&state) && !state.credential(id).is_some_and(|c| c.is_primary) {
        ledger
            .command(
                &keyring,
                KeyringCommand::SetPrimary { credential_id: id },
                meta,
            )
            .await
            .map_err(|e| e.to_string())?;
        state = ledger.keyring(&keyring).await.map_err(|e| e.to_string())?;
    }
    let credential = state.credential(id);
    let imported = Imported {
        mcp_id: f.mcp_id.clone(),
        credential_id: id,
        status: credential
            .map(|c| c.status.as_str().to_owned())
            .unwrap_or_default(),
        primary: credential.is_some_and(|c| c.is_primary),
        note: if active(&state) { None } else { note },
    };
    Ok(Some(imported))
}
