"""credledger's Python client, for MCP servers.

- `CredledgerClient` / `AsyncCredledgerClient`: `resolve(user_id, service, name=None)` returns
  the user's current credential (`ResolvedCredential`) with a short TTL cache.
- `verify_signature(...)`, `dedupe_key(...)` and `IdempotencyGuard`: check the signed sync
  requests credledger sends to an MCP server and apply each write once (docs/mcp-sync.md).
"""

from ._version import __version__
from .client import AsyncCredledgerClient, CredledgerClient, ResolvedCredential
from .errors import (
    ConnectionFailed,
    CredentialNotFound,
    CredledgerError,
    Forbidden,
    InvalidRequest,
    InvalidSignature,
    RateLimited,
    ServerError,
    StaleTimestamp,
    Unauthenticated,
)
from .signature import (
    DEFAULT_TOLERANCE,
    IDEMPOTENCY_HEADER,
    LEDGER_VERSION_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    IdempotencyGuard,
    compute_signature,
    dedupe_key,
    sign_request,
    signing_message,
    verify_signature,
)

__all__ = [
    "AsyncCredledgerClient",
    "ConnectionFailed",
    "CredentialNotFound",
    "CredledgerClient",
    "CredledgerError",
    "DEFAULT_TOLERANCE",
    "Forbidden",
    "IDEMPOTENCY_HEADER",
    "IdempotencyGuard",
    "InvalidRequest",
    "InvalidSignature",
    "LEDGER_VERSION_HEADER",
    "RateLimited",
    "ResolvedCredential",
    "SIGNATURE_HEADER",
    "ServerError",
    "StaleTimestamp",
    "TIMESTAMP_HEADER",
    "Unauthenticated",
    "__version__",
    "compute_signature",
    "dedupe_key",
    "sign_request",
    "signing_message",
    "verify_signature",
]
