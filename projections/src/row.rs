//! Decoding stored columns strictly (the read models', and the MCP sender's own table): a value
//! the code never writes is an error naming the column, never a default.

use chrono::{DateTime, Utc};

/// A column whose stored text is not what the code writes.
pub fn bad(column: &'static str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.into(),
        source: format!("unexpected value `{value}`").into(),
    }
}

/// A flag, stored as 0 or 1.
pub(crate) fn flag(column: &'static str, value: i64) -> Result<bool, sqlx::Error> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(bad(column, &other.to_string())),
    }
}

/// A time, stored as [`credledger_adapters::db::timestamp`] wrote it.
pub fn time(column: &'static str, text: String) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad(column, &text))
}

/// A time that may be absent.
pub(crate) fn maybe_time(
    column: &'static str,
    text: Option<String>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    text.map(|t| time(column, t)).transpose()
}

/// A value stored as JSON.
pub fn from_json<T: serde::de::DeserializeOwned>(
    column: &'static str,
    text: String,
) -> Result<T, sqlx::Error> {
    serde_json::from_str(&text).map_err(|_| bad(column, "(not the JSON written)"))
}

/// A credential's status, as `CredentialStatus::as_str` wrote it.
pub(crate) fn credential_status(
    text: String,
) -> Result<credledger_domain::keyring::CredentialStatus, sqlx::Error> {
    serde_json::from_value(serde_json::Value::String(text.clone()))
        .map_err(|_| bad("status", &text))
}

/// Deletes the rows of `table` whose `credential_id` is one of `ids`, a few hundred per
/// statement.
pub(crate) async fn delete_credentials(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    ids: &[String],
) -> Result<(), sqlx::Error> {
    let sqlite = credledger_adapters::db::is_sqlite(conn);
    for chunk in ids.chunks(400) {
        let sql = format!(
            "DELETE FROM {table} WHERE credential_id IN {}",
            credledger_adapters::db::tuples(sqlite, 1, 1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A filter term on `column` by parameter `param` (`$2`): `column = $2` when the filter is
/// given, else `$2 = ''`, which holds for the empty text bound in its place. One statement text
/// with `($2 = '' OR column = $2)` for both cases kept SQLite off the column's index (it plans
/// once, for either value): every person's read was a scan of everyone's rows.
pub(crate) fn filter_term(given: bool, column: &str, param: &str) -> String {
    if given {
        format!("{column} = {param}")
    } else {
        format!("{param} = ''")
    }
}
