//! The signature on every request credledger sends to an MCP server: HMAC-SHA256 over the
//! timestamp, the raw body, the method and the path (docs/mcp-sync.md), so a captured request
//! cannot be altered, moved to another resource, or replayed outside the time window.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from the receiver's clock.
pub const TOLERANCE_SECS: i64 = 300;

fn mac(secret: &[u8], timestamp: i64, body: &[u8], method: &str, path: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.update(b"\n");
    mac.update(method.as_bytes());
    mac.update(b" ");
    mac.update(path.as_bytes());
    mac
}

/// The `Credledger-Signature` value for one request: `v1=<hex>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8], method: &str, path: &str) -> String {
    format!(
        "v1={}",
        hex::encode(
            mac(secret, timestamp, body, method, path)
                .finalize()
                .into_bytes()
        )
    )
}

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request's timestamp is outside the allowed window")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// Checks a request as a receiving MCP server must: timestamp within the window, then one of
/// the `v1=` values matching one of the accepted secrets (constant-time comparison).
pub fn verify(
    secrets: &[&[u8]],
    header: &str,
    timestamp: i64,
    now: i64,
    body: &[u8],
    method: &str,
    path: &str,
) -> Result<(), SignatureError> {
    // A difference, not `(now - timestamp).abs()`: a timestamp an attacker picks (i64::MIN)
    // overflows the subtraction.
    if now.abs_diff(timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let offered: Vec<Vec<u8>> = header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(|h| hex::decode(h).ok())
        .collect();
    for secret in secrets {
        for candidate in &offered {
            if mac(secret, timestamp, body, method, path)
                .verify_slice(candidate)
                .is_ok()
            {
                return Ok(());
            }
        }
    }
    Err(SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_vector";
    const BODY: &[u8] = br#"{"user_id":"alice","service_type":"notion"}"#;

    #[test]
    fn the_documented_test_vectors_hold() {
        assert_eq!(
            sign(SECRET, 1_795_500_000, BODY, "PUT", "/credentials/mcp-42"),
            "v1=b62212547d21b9af02eda35e7f9e9d92276d3e5b615b535a69dfa7c878607f46"
        );
        assert_eq!(
            sign(SECRET, 1_795_500_000, b"", "DELETE", "/credentials/mcp-42"),
            "v1=e6d8122ae0ef932a217243bcc0422f22e6850cf58af8c177fff8c7f9cb4b7385"
        );
    }

    #[test]
    fn a_signature_holds_only_for_its_own_request() {
        let t = 1_795_500_000;
        let sig = sign(SECRET, t, BODY, "PUT", "/credentials/mcp-42");
        let check = |secret: &[u8], body: &[u8], method: &str, path: &str, now: i64| {
            verify(&[secret], &sig, t, now, body, method, path)
        };
        assert_eq!(
            check(SECRET, BODY, "PUT", "/credentials/mcp-42", t + 10),
            Ok(())
        );
        let tampered = br#"{"user_id":"mallory","service_type":"notion"}"#;
        assert_eq!(
            check(SECRET, tampered, "PUT", "/credentials/mcp-42", t),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(b"another secret", BODY, "PUT", "/credentials/mcp-42", t),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(SECRET, BODY, "PUT", "/credentials/mcp-43", t),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(SECRET, BODY, "POST", "/credentials/mcp-42", t),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(
                SECRET,
                BODY,
                "PUT",
                "/credentials/mcp-42",
                t + TOLERANCE_SECS + 1
            ),
            Err(SignatureError::Stale)
        );
        // A timestamp at either end of the clock is stale, whatever the signature (it overflowed).
        for far in [i64::MIN, i64::MAX] {
            let header = sign(SECRET, far, BODY, "PUT", "/credentials/mcp-42");
            assert_eq!(
                verify(
                    &[SECRET],
                    &header,
                    far,
                    t,
                    BODY,
                    "PUT",
                    "/credentials/mcp-42"
                ),
                Err(SignatureError::Stale)
            );
        }
        // During a rotation either secret is accepted, and several signatures may be sent.
        let both = format!(
            "{sig},{}",
            sign(b"new", t, BODY, "PUT", "/credentials/mcp-42")
        );
        assert_eq!(
            verify(&[b"new"], &both, t, t, BODY, "PUT", "/credentials/mcp-42"),
            Ok(())
        );
    }
}
