//! Import from an MCP server (the original design's `credentials:migrate-from-mcp`): read its
//! `GET /credentials`, plan what to do with each one, and register the good ones in the ledger
//! (encrypted under the ledger's keys), idempotently. A credential imported from server T with
//! the server's id X always gets the same ledger id (a UUIDv5 of `T/X`), so a second run, or a
//! run after a crash, finds it and skips it. The server already holds what it sent, so each
//! imported credential the server may hold is recorded as synced under the server's id (the
//! sender updates that copy rather than creating a second one).

use super::sync::McpSync;
use super::McpServers;
use crate::error::ApiError;
use crate::ledger::{LedgerError, NewCredential};
use credledger_adapters::mcp::client::{RemoteCredential, RemoteItem};
use credledger_domain::keyring::{KeyringCommand, KeyringError, McpSyncOutcome};
use credledger_domain::ports::Validator;
use credledger_domain::{
    CredentialId, EventMetadata, KeyringId, SecretFields, SecretString, ServiceKey, UserId,
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

/// Reads the server's credentials and decides, for each, import, skip or fail (with why).
pub async fn plan(
    servers: &McpServers,
    sync: &McpSync,
    options: &ImportOptions,
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
    for item in items {
        let entry = match item {
            RemoteItem::Unreadable {
                index,
                credential_id,
                reason,
            } => Found {
                mcp_id: credential_id.unwrap_or_else(|| format!("#{index}")),
                user_id: String::new(),
                service: String::new(),
                name: String::new(),
                field_names: vec![],
                plan: Plan::Fail(reason),
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
                decide(servers, &options.target, c).await?
            }
        };
        found.push(entry);
    }
    Ok(found)
}

async fn decide(
    servers: &McpServers,
    target: &str,
    c: RemoteCredential,
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
    if c.credential_name
        .as_deref()
        .is_none_or(|n| n.trim().is_empty())
    {
        found.plan = fail("missing field `credential_name`".into());
        return Ok(found);
    }
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
    if ledger.locate(&id.to_string()).await.is_ok() {
        found.plan = Plan::Skip("already imported".into());
        return Ok(found);
    }
    // A copy the sender made of a ledger credential is that credential, not a new one.
    if let Some(own) = mcp_sync::row_by_mcp_id(&ledger.db.any, target, &c.credential_id).await? {
        found.plan = Plan::Skip(format!(
            "the copy of ledger credential {}",
            own.credential_id
        ));
        return Ok(found);
    }
    found.fields = Some(bytes);
    Ok(found)
}

/// Imports the credentials planned for import. `progress` is called after each one. The
/// caller holds the sync lease, so the sender does not create copies meanwhile.
pub async fn import(
    servers: &McpServers,
    validator: Option<&dyn Validator>,
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
            Plan::Import => match import_one(servers, validator, target, f, meta).await {
                Ok(true) => report.migrated += 1,
                Ok(false) => report
                    .skipped
                    .push((f.mcp_id.clone(), "already imported".into())),
                Err(why) => report.failed.push((f.mcp_id.clone(), why)),
            },
        }
        progress(i as u64 + 1);
    }
    Ok(report)
}

/// `Ok(false)`: it was there already (a concurrent or earlier run).
async fn import_one(
    servers: &McpServers,
    validator: Option<&dyn Validator>,
    target: &str,
    f: &Found,
    meta: &EventMetadata,
) -> Result<bool, String> {
    let ledger = servers.ledger();
    let Some(fields) = &f.fields else {
        return Err("nothing to import".into());
    };
    let validation = match validator {
        Some(v) => {
            let definition = ledger
                .catalog
                .enabled_service(&f.service)
                .map_err(|e| e.to_string())?;
            let parsed = SecretFields::from_json_bytes(fields).map_err(|e| e.to_string())?;
            let outcome = v.validate(definition, &parsed).await;
            if let credledger_domain::keyring::ValidationOutcome::Invalid { message } = &outcome {
                return Err(format!("the provider refused it: {message}"));
            }
            Some(outcome)
        }
        None => None,
    };
    let id = imported_id(target, &f.mcp_id);
    let committed = match ledger
        .register(
            NewCredential {
                user_id: &f.user_id,
                service: &f.service,
                name: &f.name,
                fields_json: fields,
                metadata: BTreeMap::from([("imported_from".to_owned(), target.to_owned())]),
                validation,
            },
            id,
            meta,
        )
        .await
    {
        Ok(c) => c,
        Err(LedgerError::Rule(KeyringError::AlreadyExists(_))) => return Ok(false),
        Err(e) => return Err(e.to_string()),
    };
    // The server holds this credential already, under its own id: adopt that copy.
    let may_hold = mcp_sync::may_hold(&ledger.db.any, target, &f.user_id, &f.service)
        .await
        .map_err(|e| e.to_string())?;
    if may_hold {
        let keyring = KeyringId::new(
            UserId::parse(&f.user_id).map_err(|e| e.to_string())?,
            ServiceKey::parse(&f.service).map_err(|e| e.to_string())?,
        );
        ledger
            .command(
                &keyring,
                KeyringCommand::RecordMcpSync {
                    credential_id: id,
                    target: target.to_owned(),
                    // What the server reported is its own number; the drift check brings
                    // the copy to the ledger's version.
                    ledger_version: 0,
                    sync_position: committed.position.max(0) as u64,
                    outcome: McpSyncOutcome::Synced {
                        mcp_id: f.mcp_id.clone(),
                    },
                },
                meta,
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(true)
}
