//! Loading the master keys: from `CREDLEDGER_MASTER_KEYS`, else the key file; `serve` with no
//! keys at all generates a development key file (0600) and says so loudly.

use crate::config::Settings;
use anyhow::Context as _;
use credledger_adapters::crypto::MasterKeyring;

/// Whether a missing key file may be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMissing {
    Generate,
    Fail,
}

/// Whether master keys are given at all (the variable, or a key file that exists).
pub fn given(settings: &Settings) -> bool {
    settings.master_keys.is_some() || settings.master_key_file.exists()
}

pub fn load(settings: &Settings, if_missing: IfMissing) -> anyhow::Result<MasterKeyring> {
    if let Some(spec) = &settings.master_keys {
        return MasterKeyring::parse(spec).context("CREDLEDGER_MASTER_KEYS is not valid");
    }
    let path = &settings.master_key_file;
    if path.exists() {
        return MasterKeyring::load_file(path)
            .with_context(|| format!("could not load the master keys from {}", path.display()));
    }
    if if_missing == IfMissing::Fail {
        anyhow::bail!(
            "no master keys: set CREDLEDGER_MASTER_KEYS or create {} with `credledger keys generate`",
            path.display()
        );
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
    }
    let keys = MasterKeyring::generate_file(path)
        .with_context(|| format!("could not create a master key file at {}", path.display()))?;
    let banner = "*".repeat(78);
    tracing::warn!(
        path = %path.display(),
        "\n{banner}\n  DEVELOPMENT MASTER KEY GENERATED at {}\n  Every secret in this ledger is encrypted under it. Back it up and keep it\n  apart from the database, or set CREDLEDGER_MASTER_KEYS for production.\n{banner}",
        path.display()
    );
    Ok(keys)
}
