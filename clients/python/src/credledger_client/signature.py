"""Verifying the signed sync requests credledger sends to an MCP server (docs/mcp-sync.md).

Each request carries:

- `Credledger-Timestamp`: Unix seconds when it was signed;
- `Credledger-Signature`: `v1=<hex>`, one value: credledger keeps one signing secret per
  server and no command replaces it (a leaked secret is replaced by registering the server
  anew, under a new id and secret). The verifier also takes several comma-separated values,
  and values of other schemes, which it ignores;
- `Idempotency-Key` (`POST`, `PUT`, `DELETE`): the ledger event id, the body's `event_id` for
  `POST` and `PUT`; credledger delivers at least once. Not signed, nor is
  `Credledger-Ledger-Version`: the body's `event_id` and `ledger_version` are.

`<hex>` is the lowercase hex HMAC-SHA256, keyed with the shared secret's UTF-8 bytes, of::

    timestamp + "." + body + "\\n" + METHOD + " " + path_with_query

where `body` is the raw request body exactly as received (empty for GET and DELETE).

A receiver reads the raw body, calls `verify_signature` with every secret it accepts, answers 401
on `InvalidSignature` (which `StaleTimestamp` subclasses), deduplicates writes by `dedupe_key`
(the signed `event_id` of a `POST` or `PUT`; `IdempotencyGuard`), and refuses a `PUT` whose
`ledger_version` is lower than the one it holds for that record, checked in one transaction
with the write (checked apart, two `PUT`s at once could both pass, the older written last):
the signature and the time window prove the request is credledger's and recent, not that it
is not a resend of a request captured within the window.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Union

from .errors import InvalidSignature, StaleTimestamp

TIMESTAMP_HEADER = "Credledger-Timestamp"
SIGNATURE_HEADER = "Credledger-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
LEDGER_VERSION_HEADER = "Credledger-Ledger-Version"

SCHEME = "v1"
DEFAULT_TOLERANCE = 300

Secret = Union[str, bytes]
Secrets = Union[Secret, Iterable[Secret]]

_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX = re.compile(r"[0-9a-f]{64}")
_MAX_SIGNATURES = 16


def _keys(secret_or_secrets: Secrets) -> list[bytes]:
    if isinstance(secret_or_secrets, (str, bytes, bytearray)):
        candidates: list[Any] = [secret_or_secrets]
    else:
        try:
            candidates = list(secret_or_secrets)
        except TypeError:
            raise TypeError("secret_or_secrets must be a str, bytes or an iterable of them") from None
    keys = []
    for secret in candidates:
        if isinstance(secret, str):
            key = secret.encode("utf-8")
        elif isinstance(secret, (bytes, bytearray)):
            key = bytes(secret)
        else:
            raise TypeError("each signing secret must be a str or bytes")
        if not key:
            raise ValueError("an empty signing secret is not a secret")
        keys.append(key)
    if not keys:
        raise ValueError("no signing secret given")
    return keys


def _body_bytes(body: Any) -> bytes:
    if isinstance(body, str):
        raise TypeError("pass the raw request body as bytes, exactly as received (not decoded text)")
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise TypeError("body must be bytes")


def _method(method: str) -> str:
    if not isinstance(method, str) or not method.strip():
        raise ValueError("method must be the request's HTTP method, e.g. 'POST'")
    return method.strip().upper()


def _path(path: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError("path must be the request's path with its query string, starting with '/'")
    return path


def signing_message(timestamp: str, body: bytes, method: str, path: str) -> bytes:
    """The exact bytes that are signed (see the module's documentation)."""
    return (
        timestamp.encode("ascii")
        + b"."
        + _body_bytes(body)
        + b"\n"
        + f"{_method(method)} {_path(path)}".encode("utf-8")
    )


def compute_signature(secret: Secret, *, timestamp: str, body: bytes, method: str, path: str) -> str:
    """The lowercase hex HMAC-SHA256 of one request under one secret."""
    (key,) = _keys(secret)
    return hmac.new(key, signing_message(str(timestamp), body, method, path), hashlib.sha256).hexdigest()


def sign_request(
    secret_or_secrets: Secrets,
    *,
    body: bytes,
    method: str,
    path: str,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The `Credledger-Timestamp` and `Credledger-Signature` headers for a request, signed with
    each secret given (credledger signs with its one secret per server; several give several
    comma-separated values). For tests and tools that must act as credledger; a receiver only
    needs `verify_signature`."""
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    values = [
        f"{SCHEME}=" + hmac.new(key, signing_message(ts, body, method, path), hashlib.sha256).hexdigest()
        for key in _keys(secret_or_secrets)
    ]
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: ",".join(values)}


def _parse_timestamp(timestamp: Any) -> str:
    if isinstance(timestamp, bool):
        raise InvalidSignature("Credledger-Timestamp is not an integer")
    if isinstance(timestamp, int):
        if timestamp < 0:
            raise InvalidSignature("Credledger-Timestamp is not a Unix time")
        return str(timestamp)
    if isinstance(timestamp, bytes):
        try:
            timestamp = timestamp.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidSignature("Credledger-Timestamp is not an integer") from None
    if timestamp is None or (isinstance(timestamp, str) and not timestamp):
        raise InvalidSignature("Credledger-Timestamp is missing")
    if not isinstance(timestamp, str) or not _TIMESTAMP.fullmatch(timestamp):
        raise InvalidSignature("Credledger-Timestamp is not an integer")
    return timestamp


def _parse_signatures(signature: Any) -> list[str]:
    if isinstance(signature, bytes):
        try:
            signature = signature.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidSignature("Credledger-Signature is malformed") from None
    if not isinstance(signature, str) or not signature.strip():
        raise InvalidSignature("Credledger-Signature is missing")
    items = signature.split(",")
    if len(items) > _MAX_SIGNATURES:
        raise InvalidSignature("Credledger-Signature has too many values")
    found = []
    for item in items:
        scheme, sep, value = item.strip().partition("=")
        if not sep:
            raise InvalidSignature("Credledger-Signature is malformed")
        if scheme.strip() != SCHEME:
            continue  # a scheme from a later version: not ours to judge
        value = value.strip().lower()
        if not _HEX.fullmatch(value):
            raise InvalidSignature("Credledger-Signature has a malformed v1 value")
        found.append(value)
    if not found:
        raise InvalidSignature("Credledger-Signature has no v1 signature")
    return found


def verify_signature(
    secret_or_secrets: Secrets,
    *,
    timestamp: str | int | bytes | None,
    signature: str | bytes | None,
    body: bytes,
    method: str,
    path: str,
    now: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> None:
    """Checks a signed sync request; returns `None` when it is authentic and fresh.

    Args:
        secret_or_secrets: the shared signing secret, or every secret accepted (while a
            receiver moves from one registration's secret to a new one's, both).
            credledger sends one `v1=` value, signed with the secret of the registration
            sending it.
        timestamp: the `Credledger-Timestamp` header exactly as received.
        signature: the `Credledger-Signature` header exactly as received.
        body: the raw request body bytes, read before any parsing (`b""` for GET and DELETE).
        method: the HTTP method (`POST`, `PUT`, `DELETE`, `GET`).
        path: the path and query string as sent on the request line, undecoded (e.g.
            `/credentials?user_id=alice&service_type=notion`; with Starlette,
            `scope["raw_path"]` plus `?` and `scope["query_string"]`). Behind a proxy that
            rewrites paths, the path credledger requested.
        now: the receiver's clock in Unix seconds (default: `time.time()`).
        tolerance: the allowed distance between `timestamp` and `now`, in seconds.

    Raises:
        StaleTimestamp: the timestamp is more than `tolerance` seconds away from `now`.
        InvalidSignature: a header is missing or malformed, or no `v1=` value matches any
            secret (compared in constant time).
        TypeError, ValueError: the receiver's own arguments are wrong (no secret, a `str` body,
            a path without a leading `/`, a `now` or `tolerance` that is NaN or infinite): a bug
            to fix, not a request to refuse.
    """
    keys = _keys(secret_or_secrets)
    raw_body = _body_bytes(body)
    verb = _method(method)
    target = _path(path)
    # NaN compares false with everything and infinity is never exceeded: either would accept
    # any timestamp.
    if not isinstance(tolerance, (int, float)) or not 0 <= tolerance < math.inf:
        raise ValueError("tolerance must be a finite number of seconds >= 0")
    if now is not None and (not isinstance(now, (int, float)) or not math.isfinite(now)):
        raise ValueError("now must be a finite Unix time in seconds")
    ts = _parse_timestamp(timestamp)
    clock = time.time() if now is None else now
    if abs(clock - int(ts)) > tolerance:
        raise StaleTimestamp(
            f"Credledger-Timestamp is {int(clock - int(ts))} s away from this server's clock "
            f"(allowed: {tolerance:g} s)"
        )
    offered = _parse_signatures(signature)
    message = signing_message(ts, raw_body, verb, target)
    matched = False
    for key in keys:
        expected = hmac.new(key, message, hashlib.sha256).hexdigest()
        for value in offered:
            # No early exit: the time taken does not tell which secret or value matched.
            matched |= hmac.compare_digest(expected, value)
    if not matched:
        raise InvalidSignature("no Credledger-Signature value matches an accepted secret")


_MAX_KEY_CHARS = 512
_DELETE_PREFIX = "DELETE "


def dedupe_key(
    method: str,
    body: bytes,
    idempotency_key: str | bytes | None,
    path: str | None = None,
) -> str | None:
    """The key to deduplicate a verified request by (`IdempotencyGuard.claim`), or `None` for
    a request that needs none. Call it after `verify_signature`, with the same raw body and
    path (the path is needed for a `DELETE`).

    - `POST`, `PUT`: the signed body's `event_id`. The `Idempotency-Key` header is not signed
      (nor is `Credledger-Ledger-Version`): deduplicated by the header, a captured request
      resent within the time window under a fresh key would be applied again. credledger sends
      the same value in both, so a header that differs from the body's `event_id` (or is
      missing), or a body without one, is refused.
    - `DELETE`: `"DELETE "`, a digest of the signed path (the record deleted) and the
      `Idempotency-Key` header as sent; there is no body to sign the header. It is
      credledger's `<credential id>@<position>`, like a write's `event_id`, and a captured
      delete can be resent within the window under any header: the prefix keeps such a key
      from ever equalling a write's (credledger's event ids hold no space), so the resend cannot
      mark a coming `PUT` (a secret rotation) applied, and the path from equalling another
      record's delete, so it cannot mark a coming revocation's delete applied either. Answer
      `404` to a delete of a record not held (credledger takes it as gone): a resent delete
      then completes no key at all.
    - `GET` (credledger's listing sends no key) and any other method: `None`, nothing to
      deduplicate.

    Raises:
        InvalidSignature: the key is missing, too long (over 512 characters; a `DELETE`'s
            header over 472, the key with its prefix and path digest over 512), or differs from
            the signed body's `event_id`; or a `POST`/`PUT` body is not a JSON object with a
            string `event_id`. Answer 401, as for a bad signature.
        TypeError: a `DELETE` without its `path` (a bug to fix, not a request to refuse).
    """
    verb = _method(method)
    header = idempotency_key
    if isinstance(header, (bytes, bytearray)):
        try:
            header = bytes(header).decode("ascii")
        except UnicodeDecodeError:
            raise InvalidSignature("Idempotency-Key is malformed") from None
    if header is not None and not isinstance(header, str):
        raise TypeError("idempotency_key must be the header as received: str, bytes or None")
    if verb in ("POST", "PUT"):
        try:
            payload = json.loads(_body_bytes(body))
        except ValueError:
            payload = None
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        if not isinstance(event_id, str) or not 0 < len(event_id) <= _MAX_KEY_CHARS:
            raise InvalidSignature("the signed body has no usable event_id")
        if header != event_id:
            raise InvalidSignature("Idempotency-Key is not the signed body's event_id")
        return event_id
    if verb == "DELETE":
        if path is None:
            raise TypeError("a DELETE's key needs its path, as verified")
        if not header:
            raise InvalidSignature("Idempotency-Key is missing")
        record = hashlib.sha256(_path(path).encode()).hexdigest()[:32]
        key = f"{_DELETE_PREFIX}{record} {header}"  # never a write's, nor another record's
        if len(key) > _MAX_KEY_CHARS:
            raise InvalidSignature("Idempotency-Key is too long")
        return key
    return None


class IdempotencyGuard:
    """Remembers, in this process, the requests a receiver applied (for `ttl` seconds) and the
    ones it is applying (for `lease` seconds at most), by the key `dedupe_key` gives: the
    signed body's `event_id` for a `POST` or `PUT` (never the unsigned `Idempotency-Key` header
    alone, which a resent request may change), `"DELETE "`, the path's digest and the header for
    a `DELETE`.

    credledger delivers at least once and re-signs each retry with a fresh timestamp, so the
    signature window alone does not stop a redelivery: keep keys at least as long as credledger
    may retry (a day by default). A claim not completed or released within `lease` (the
    process that made it hung, or lost the request without releasing it) is let go, so a
    redelivery may claim the key again rather than be answered "in progress" for a day. In
    memory only, per process: a receiver with several processes, or one that restarts, stores
    the applied key (or the credential's `ledger_version`) with the data it changes.

    Use::

        key = dedupe_key(method, body, headers.get("Idempotency-Key"), path)  # after verify_signature
        if key is None:
            return 200, read(request)             # GET: nothing to deduplicate
        token = guard.claim(key)
        if not token:
            if guard.in_flight(key) or not guard.seen(key):
                return 409, "being applied"       # credledger retries later
            return 200, guard.response(key)       # applied: answered as the first time
        try:
            answer = apply(request)  # checks ledger_version and writes, in one transaction
        except OlderThanHeld:      # apply's own: a PUT older than the copy held, unchanged
            guard.release(key, token)
            return 409, "older than the copy held"  # never cached as applied
        except BaseException:      # cancelled included: not applied, a redelivery must be
            guard.release(key, token)  # this claim only, not one made after its lease
            raise
        guard.complete(key, answer, token=token)  # a redelivery gets this (None and {} too)
        return 200, answer
    """

    def __init__(
        self,
        ttl: float = 24 * 3600,
        *,
        lease: float = 600,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(ttl, (int, float)) or not 0 < ttl < math.inf:
            raise ValueError("ttl must be a finite number of seconds > 0")
        if not isinstance(lease, (int, float)) or not 0 < lease < math.inf:
            raise ValueError("lease must be a finite number of seconds > 0")
        if max_keys <= 0:
            raise ValueError("max_keys must be > 0")
        self.ttl = ttl
        self.lease = lease
        self.max_keys = max_keys
        self._clock = clock
        # Key -> when it is forgotten (and a claim's token); each kept in the order it was put,
        # so the oldest is first and expires first (every entry of one map lives as long as the
        # others).
        self._claimed: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._tokens = itertools.count(1)
        self._done: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _check(key: str) -> str:
        if not isinstance(key, str) or not key or len(key) > _MAX_KEY_CHARS:
            raise ValueError("an Idempotency-Key is a non-empty string of at most 512 characters")
        return key

    def _expire(self) -> None:
        """Forgets expired claims and answers. Under the lock."""
        now = self._clock()
        while self._claimed and next(iter(self._claimed.values()))[0] <= now:
            self._claimed.popitem(last=False)
        while self._done and next(iter(self._done.values()))[0] <= now:
            self._done.popitem(last=False)

    def _bound(self) -> None:
        """Forgets the oldest answers, then the oldest claims, past `max_keys`. Under the lock."""
        while len(self._claimed) + len(self._done) > self.max_keys:
            (self._done or self._claimed).popitem(last=False)

    def claim(self, key: str) -> int | None:
        """A claim token (a positive `int`, truthy) when the key is neither applied nor being
        applied: apply the request now, then pass the token to `complete` or `release`.
        `None` while it is remembered: applied, or claimed by another request of this process
        within its lease."""
        self._check(key)
        with self._lock:
            self._expire()
            if key in self._claimed or key in self._done:
                return None
            token = next(self._tokens)
            self._claimed[key] = (self._clock() + self.lease, token)
            self._bound()
            return token

    def _owned(self, key: str, token: int | None) -> bool:
        """Whether `token` may end the key's claim: no token (the caller's claim is assumed),
        no claim held, or its own. Under the lock."""
        held = self._claimed.get(key)
        return token is None or held is None or held[1] == token

    def complete(self, key: str, response: Any = None, *, token: int | None = None) -> None:
        """Marks a claimed key applied, with the answer a redelivery should get. With the
        `token` `claim` gave: when the claim lapsed (`lease`) and another request has claimed
        the key since, that claim stays, and its owner completes or releases it."""
        self._check(key)
        with self._lock:
            if not self._owned(key, token):
                return
            self._claimed.pop(key, None)
            self._done.pop(key, None)
            self._done[key] = (self._clock() + self.ttl, response)
            self._expire()
            self._bound()

    def release(self, key: str, token: int | None = None) -> None:
        """Forgets a claim whose request was not applied, so a redelivery is. A key already
        completed stays applied. Pass the `token` `claim` gave: a release after the claim's
        lease lapsed then leaves the claim another request made since (without a token, any
        claim on the key is forgotten)."""
        self._check(key)
        with self._lock:
            if self._owned(key, token):
                self._claimed.pop(key, None)

    def seen(self, key: str) -> bool:
        """Whether the key is remembered (applied, or claimed within its lease)."""
        self._check(key)
        with self._lock:
            self._expire()
            return key in self._claimed or key in self._done

    def in_flight(self, key: str) -> bool:
        """Whether the key is claimed, within its lease, and neither completed nor released."""
        self._check(key)
        with self._lock:
            self._expire()
            return key in self._claimed

    def response(self, key: str) -> Any:
        """The answer stored by `complete`, or `None` (unknown key, in flight, or none stored:
        tell these apart with `in_flight` and `seen`, not by this answer)."""
        self._check(key)
        with self._lock:
            self._expire()
            entry = self._done.get(key)
            return None if entry is None else entry[1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(key) and self.seen(key)

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._claimed) + len(self._done)
