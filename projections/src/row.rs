//! Decoding read-model columns strictly: a value the code never writes is an error naming the
//! column, never a default.

/// A column whose stored text is not what the code writes.
pub(crate) fn bad(column: &'static str, value: &str) -> sqlx::Error {
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

/// A value stored as JSON.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    column: &'static str,
    text: String,
) -> Result<T, sqlx::Error> {
    serde_json::from_str(&text).map_err(|_| bad(column, "(not the JSON written)"))
}
