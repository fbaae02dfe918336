//! Registers `credledger_event_hash(...)` on every SQLite connection this process opens, so the
//! chain trigger in `migrations/sqlite/0001_events.sql` computes hashes with the same code as
//! the verifier ([`crate::chain::event_hash`]).
#![allow(unsafe_code)]

use crate::chain::{event_hash, ChainInput};
use libsqlite3_sys as ffi;
use std::ffi::{c_char, c_int};
use std::sync::Once;

static REGISTER: Once = Once::new();

/// Registers the function for every connection opened after this call (idempotent).
pub fn register() {
    REGISTER.call_once(|| {
        // SAFETY: `init` has the signature SQLite expects of an auto-extension entry point.
        unsafe {
            ffi::sqlite3_auto_extension(Some(init));
        }
    });
}

unsafe extern "C" fn init(
    db: *mut ffi::sqlite3,
    _err: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: `db` is the connection SQLite is opening; the name is a NUL-terminated literal.
    unsafe {
        ffi::sqlite3_create_function_v2(
            db,
            c"credledger_event_hash".as_ptr(),
            9,
            ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC,
            std::ptr::null_mut(),
            Some(hash_function),
            None,
            None,
            None,
        )
    }
}

/// Reads argument `i` as text (NULL reads as empty); `None` when it is not UTF-8 (SQLite
/// stores text unchecked): hashed as if empty, two different rows would share a hash.
unsafe fn text<'a>(argv: *mut *mut ffi::sqlite3_value, i: usize) -> Option<&'a str> {
    // SAFETY: SQLite guarantees `argv` has the declared 9 entries; the text pointer stays valid
    // until the function returns, and we copy nothing past `bytes`.
    unsafe {
        let v = *argv.add(i);
        let p = ffi::sqlite3_value_text(v);
        let n = ffi::sqlite3_value_bytes(v);
        if p.is_null() || n <= 0 {
            return Some("");
        }
        std::str::from_utf8(std::slice::from_raw_parts(p, n as usize)).ok()
    }
}

unsafe fn blob<'a>(argv: *mut *mut ffi::sqlite3_value, i: usize) -> &'a [u8] {
    // SAFETY: as in `text`.
    unsafe {
        let v = *argv.add(i);
        let p = ffi::sqlite3_value_blob(v);
        let n = ffi::sqlite3_value_bytes(v);
        if p.is_null() || n <= 0 {
            return &[];
        }
        std::slice::from_raw_parts(p.cast::<u8>(), n as usize)
    }
}

unsafe extern "C" fn hash_function(
    ctx: *mut ffi::sqlite3_context,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) {
    if argc != 9 {
        // SAFETY: ctx is valid for the duration of the call.
        unsafe {
            ffi::sqlite3_result_error(ctx, c"credledger_event_hash takes 9 arguments".as_ptr(), -1)
        };
        return;
    }
    // SAFETY: argc == 9 was checked; values are read as SQLite documents.
    let hash = std::panic::catch_unwind(|| unsafe {
        Some(event_hash(&ChainInput {
            position: ffi::sqlite3_value_int64(*argv),
            prev_hash: blob(argv, 1),
            aggregate_type: text(argv, 2)?,
            aggregate_id: text(argv, 3)?,
            sequence: ffi::sqlite3_value_int64(*argv.add(4)),
            event_type: text(argv, 5)?,
            event_version: text(argv, 6)?,
            metadata: text(argv, 7)?,
            payload: text(argv, 8)?,
        }))
    });
    // SAFETY: SQLITE_TRANSIENT makes SQLite copy the 32 bytes before we return.
    unsafe {
        match hash {
            Ok(Some(hash)) => ffi::sqlite3_result_blob(
                ctx,
                hash.as_ptr().cast(),
                hash.len() as c_int,
                ffi::SQLITE_TRANSIENT(),
            ),
            Ok(None) => ffi::sqlite3_result_error(
                ctx,
                c"credledger_event_hash: a text field is not UTF-8".as_ptr(),
                -1,
            ),
            Err(_) => ffi::sqlite3_result_error(ctx, c"credledger_event_hash failed".as_ptr(), -1),
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection as _;

    #[tokio::test]
    async fn text_that_is_not_utf8_is_an_error_not_an_empty_field() {
        super::register();
        let mut db = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("a database");
        let hash = |payload: &str| {
            format!(
                "SELECT credledger_event_hash(1, zeroblob(32), 'keyring', 'a:b', 1, 'T', '1', \
                 '{{}}', {payload})"
            )
        };
        let empty: Vec<u8> = sqlx::query_scalar(&hash("''"))
            .fetch_one(&mut db)
            .await
            .expect("hashed");
        assert_eq!(empty.len(), 32);
        let refused = sqlx::query_scalar::<_, Vec<u8>>(&hash("CAST(X'80' AS TEXT)"))
            .fetch_one(&mut db)
            .await
            .expect_err("not UTF-8");
        assert!(refused.to_string().contains("not UTF-8"), "{refused}");
    }
}
