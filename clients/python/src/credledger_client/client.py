"""Resolving a user's credential from credledger at call time (`resolveCredential`).

An MCP server holds an API token with the scope `credentials:resolve` (its own server token,
`clm_…`, or a person's `clt_…`) and asks credledger, when a tool runs, for the calling user's
primary (or named) credential for a service. A server token resolves only what the server may
hold: a service it is allowed, for a user who granted it access (or every user, when it serves
all users); anything else is `Forbidden`. credledger records
every answer as a durable `CredentialUsed` event before it sends the secret.

Both clients keep answers for a short time (`cache_ttl`, 30 s by default) so a burst of tool calls
does not ask credledger each time. A cached answer is not asked for again, so it is not recorded
again either: set `cache_ttl=0` when every single use must appear in the audit trail. Errors are
never cached, and a refusal (`Unauthenticated`, `Forbidden`) empties the cache, so credentials
obtained under a token that credledger now refuses are not served from memory.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import ipaddress
import json
import math
import threading
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import anyio
import httpcore
import httpx

from ._version import __version__
from .errors import (
    ConnectionFailed,
    CredentialNotFound,
    CredledgerError,
    Forbidden,
    InvalidRequest,
    RateLimited,
    ServerError,
    Unauthenticated,
)

RESOLVE_MUTATION = (
    "mutation ResolveCredential($userId: String!, $service: String!, $name: String, $tool: String) {"
    " resolveCredential(userId: $userId, service: $service, name: $name, tool: $tool)"
    " { credentialId service name fields expiresAt } }"
)

#: The longest tool name credledger records with a use.
MAX_TOOL_CHARS = 128

#: A credential that expires (an OAuth access token) is kept in the cache until this many
#: seconds before it does, at most: a tool given it has that long to use it.
EXPIRY_MARGIN = 30

_MAX_MESSAGE = 300
_ANY: Any = object()

# MCP servers' own API tokens (`createMcpServerToken`, `credledger mcp token`) start so; a
# person's tokens start `clt_`.
SERVER_TOKEN_PREFIX = "clm_"
_SERVER_FORBIDDEN_HINT = (
    "An MCP server resolves a user's credentials only with the scope credentials:resolve,"
    " for a service it is allowed, and (unless it serves all users) while that user grants"
    " it access to that service (grantMcpAccess, or `credledger mcp grant`)."
)


@dataclass(frozen=True, repr=False)
class ResolvedCredential:
    """A credential's current secret, as credledger answered it.

    `fields` holds the secret's fields named as in the catalog (`token`, `api_key`, `url`, …).
    `expires_at` is when the secret expires (an OAuth access token), as an aware UTC datetime,
    or `None`. `from_cache` is `True` when the answer came from the client's cache (credledger
    was not asked, and recorded no use), `False` when credledger was asked just now. The `repr`
    shows the field names only, never their values, so logging the object is safe; logging
    `fields` itself is not.
    """

    credential_id: str
    service: str
    name: str
    fields: dict[str, str] = field(default_factory=dict)
    expires_at: datetime | None = None
    # Not part of what the credential is: a cached answer equals the one it was kept from.
    from_cache: bool = field(default=False, compare=False)

    def __repr__(self) -> str:
        names = ", ".join(sorted(self.fields))
        return (
            f"ResolvedCredential(credential_id={self.credential_id!r}, service={self.service!r},"
            f" name={self.name!r}, fields=<{names or 'none'}: hidden>, from_cache={self.from_cache!r})"
        )

    def _copy(self, *, from_cache: bool) -> ResolvedCredential:
        # Each caller gets its own dict: changing it must not change what the cache holds.
        return replace(self, fields=dict(self.fields), from_cache=from_cache)


class _Secret:
    """Holds the API token so that neither `repr(client)` nor `vars(client)` shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("the credledger API token cannot be pickled")


class _TTLCache:
    """Answers by (user, service, name), each kept `ttl` seconds, or until `EXPIRY_MARGIN`
    seconds before its secret expires when that is sooner; at most `max_entries`."""

    def __init__(
        self, ttl: float, max_entries: int, clock: Callable[[], float], wall: Callable[[], float] = time.time
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        # Unix time, to compare with a secret's expiry (`clock` may be monotonic).
        self.wall = wall
        self._items: OrderedDict[Hashable, tuple[float, ResolvedCredential]] = OrderedDict()
        self._lock = threading.Lock()
        # One more at every drop: an answer asked for before a drop is not kept after it.
        self.drops = 0

    def _forget_expired(self) -> None:
        """Drops expired answers, oldest first (entries are kept in the order they were put,
        each for `ttl` at most), so no secret stays in memory longer than `ttl`. An answer
        kept for less, its secret expiring, may stay until the answers before it go, but is
        never served past its time (`get`). Under the lock."""
        now = self.clock()
        while self._items:
            oldest = next(iter(self._items))
            if self._items[oldest][0] > now:
                break
            del self._items[oldest]

    def _lifetime(self, value: ResolvedCredential) -> float:
        """How long `value` may be kept: `ttl`, or until `EXPIRY_MARGIN` seconds before its
        secret expires when that is sooner (0 or less: not at all)."""
        if value.expires_at is None:
            return self.ttl
        return min(self.ttl, value.expires_at.timestamp() - self.wall() - EXPIRY_MARGIN)

    def get(self, key: Hashable) -> ResolvedCredential | None:
        if self.ttl <= 0:
            return None
        with self._lock:
            self._forget_expired()
            item = self._items.get(key)
            if item is None:
                return None
            expires, value = item
            # By the wall clock too: a token past its expiry is never served, whatever the
            # monotonic clock says (a suspended machine, a clock set forward).
            if self.clock() >= expires or self._lifetime(value) <= 0:
                del self._items[key]
                return None
            return value._copy(from_cache=True)

    def put(self, key: Hashable, value: ResolvedCredential, asked_at_drops: int) -> None:
        """Keeps `value`, unless the cache was dropped from since it was asked for
        (`asked_at_drops`, the `drops` read then): a refusal or an `invalidate()` meanwhile."""
        if self.ttl <= 0:
            return
        with self._lock:
            if self.drops != asked_at_drops:
                return
            self._forget_expired()
            self._items.pop(key, None)
            lifetime = self._lifetime(value)
            if lifetime <= 0:
                return  # expires too soon to be kept
            self._items[key] = (self.clock() + lifetime, value._copy(from_cache=False))
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def drop(self, user_id: Any = _ANY, service: Any = _ANY, name: Any = _ANY) -> int:
        with self._lock:
            self.drops += 1
            doomed = [
                key
                for key in self._items
                if (user_id is _ANY or key[0] == user_id)
                and (service is _ANY or key[1] == service)
                and (name is _ANY or key[2] == name)
            ]
            for key in doomed:
                del self._items[key]
            return len(doomed)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    # `localhost` itself only: a name under it may be looked up in a search domain, off the
    # machine, when the resolver does not keep it local.
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _endpoint(base_url: str, allow_insecure_http: bool) -> str:
    if not isinstance(base_url, str) or not base_url:
        raise ValueError("base_url must be credledger's URL, e.g. https://credledger.example.com")
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an http:// or https:// URL with a host")
    if url.userinfo or url.query or url.fragment:
        raise ValueError("base_url must not carry credentials, a query or a fragment")
    if url.scheme == "http" and not _is_loopback(url.host) and not allow_insecure_http:
        raise ValueError(
            "refusing to send an API token over plain http to a host other than loopback; "
            "use https (or allow_insecure_http=True on a network you trust)"
        )
    text = str(url).rstrip("/")
    return text if text.endswith("/graphql") else text + "/graphql"


def _check_args(user_id: str, service: str, name: str | None, tool: str | None = None) -> None:
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("user_id must be a non-empty string")
    if not isinstance(service, str) or not service:
        raise ValueError("service must be a non-empty string (a catalog key such as 'notion')")
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError("name must be None (the primary credential) or a non-empty string")
    if tool is not None and (not isinstance(tool, str) or not tool or len(tool) > MAX_TOOL_CHARS):
        raise ValueError(f"tool must be None or a non-empty string of at most {MAX_TOOL_CHARS} characters")


def _scrub(text: Any, token: str) -> str:
    text = str(text) if text is not None else ""
    if token:
        text = text.replace(token, "[redacted]")
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + "…"
    return text


def _retry_after(value: Any, header: str | None) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


_BY_CODE: dict[str, type[CredledgerError]] = {
    "UNAUTHENTICATED": Unauthenticated,
    "FORBIDDEN": Forbidden,
    "NOT_FOUND": CredentialNotFound,
    "VALIDATION": InvalidRequest,
    "RATE_LIMITED": RateLimited,
    "INTERNAL": ServerError,
    "UNAVAILABLE": ServerError,
}

_BY_STATUS: dict[int, tuple[type[CredledgerError], str]] = {
    401: (Unauthenticated, "UNAUTHENTICATED"),
    403: (Forbidden, "FORBIDDEN"),
    429: (RateLimited, "RATE_LIMITED"),
}


def _error(
    cls: type[CredledgerError],
    message: str,
    *,
    code: str | None,
    response: httpx.Response,
    retry_after: Any = None,
) -> CredledgerError:
    kwargs: dict[str, Any] = {
        "code": code,
        "status": response.status_code,
        "request_id": response.headers.get("x-request-id"),
    }
    if cls in (RateLimited, ServerError):
        kwargs["retry_after"] = _retry_after(retry_after, response.headers.get("retry-after"))
    return cls(message, **kwargs)


def _parse_resolve(response: httpx.Response, token: _Secret) -> ResolvedCredential:
    """The answer to `resolveCredential`, or the exception its error stands for."""
    try:
        body = response.json()
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        extensions = first.get("extensions") if isinstance(first.get("extensions"), dict) else {}
        code = extensions.get("code") if isinstance(extensions.get("code"), str) else None
        cls = _BY_CODE.get(code or "")
        if cls is None:
            if response.status_code in _BY_STATUS:
                cls, code = _BY_STATUS[response.status_code][0], code or _BY_STATUS[response.status_code][1]
            elif response.status_code >= 500:
                cls = ServerError
            else:
                cls = CredledgerError
        message = _scrub(first.get("message") or "credledger refused the request", token.reveal())
        if cls is Forbidden and token.reveal().startswith(SERVER_TOKEN_PREFIX):
            # credledger gives one reason for a missing grant, a withdrawn grant and a service
            # the server is not allowed; say what lets a server resolve, so the fix is clear.
            message = f"{message.rstrip('.')}. {_SERVER_FORBIDDEN_HINT}"
        raise _error(cls, message, code=code, response=response, retry_after=extensions.get("retryAfter"))
    if response.status_code in _BY_STATUS:
        cls, code = _BY_STATUS[response.status_code]
        raise _error(cls, f"credledger answered HTTP {response.status_code}", code=code, response=response)
    if response.status_code >= 300 or not isinstance(body, dict):
        raise _error(
            ServerError,
            f"credledger answered HTTP {response.status_code} without a GraphQL answer",
            code=None,
            response=response,
        )
    data = body.get("data")
    resolved = data.get("resolveCredential") if isinstance(data, dict) else None
    if not isinstance(resolved, dict):
        raise _error(ServerError, "credledger's answer has no resolveCredential", code=None, response=response)
    fields = resolved.get("fields")
    expires_at = _expiry(resolved.get("expiresAt"))
    ok = (
        isinstance(resolved.get("credentialId"), str)
        and isinstance(resolved.get("service"), str)
        and isinstance(resolved.get("name"), str)
        and isinstance(fields, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
        and expires_at is not _ANY
    )
    if not ok:
        raise _error(ServerError, "credledger's resolveCredential answer is malformed", code=None, response=response)
    return ResolvedCredential(
        credential_id=resolved["credentialId"],
        service=resolved["service"],
        name=resolved["name"],
        fields=dict(fields),
        expires_at=expires_at,
    )


def _expiry(value: Any) -> Any:
    """`expiresAt` (RFC 3339) as an aware datetime, `None` when absent, `_ANY` when malformed."""
    if value is None:
        return None
    if not isinstance(value, str):
        return _ANY
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return _ANY
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


#: The largest answer read from credledger: a resolved credential's secret is at most 64 KiB.
MAX_ANSWER_BYTES = 1024 * 1024

#: When the sync resolve under way must be over, by `time.monotonic()`; `None` outside one.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("credledger_deadline", default=None)


@contextlib.contextmanager
def _deadline_in(seconds: float) -> Iterator[None]:
    """Within it, the sync client's connections connect, write and read no later than
    `seconds` from now (in this thread: the deadline is a context variable)."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _until_deadline(timeout: float | None, late: type[Exception]) -> float | None:
    """`timeout` (httpx's for one read, write or connect), shortened to what is left before the
    deadline; `late` is raised once nothing is."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise late("credledger did not answer within the timeout in all")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _until_deadline(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _until_deadline(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None):
        tls = self._inner.start_tls(ssl_context, server_hostname, _until_deadline(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sync network backend, its connections ending each step by the deadline."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _until_deadline(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        timeout = _until_deadline(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _environment_sets_a_proxy() -> bool:
    """Whether the environment names a proxy (`HTTPS_PROXY`, `ALL_PROXY`, …). `NO_PROXY` alone,
    common in containers and CI, lists exceptions and sets none: `getproxies()` still answers
    it, as `no`."""
    return any(scheme != "no" for scheme in urllib.request.getproxies())


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport on httpcore's connection pool, whose connections end each step by the
    resolve's deadline. httpx's timeouts bound each read, not the whole (encode/httpx#1450):
    status line and headers sent a byte at a time would hold a resolve for as long as the
    server likes. (The async client cancels instead, as httpx advises.)"""

    def __init__(self, *, trust_env: bool) -> None:
        super().__init__(trust_env=trust_env)
        # httpx.HTTPTransport takes no network backend; its pool, built as it builds it (with
        # httpx's default limits), is given ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=trust_env),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_DeadlineBackend(),
        )


class _Reading:
    """An answer's body read as it comes: at most `MAX_ANSWER_BYTES`, and not past `deadline`
    (by `clock`; the resolve's, which began before connecting: httpx bounds each read, not the
    whole, and an `http_client` of the caller's has no deadline of its own). Read as sent, never
    decompressed: the client asks for `identity` (credledger
    does not compress its answers), and refuses a compressed one, which would be inflated
    before any bound could see it (a few KiB can hold gigabytes)."""

    def __init__(self, response: httpx.Response, deadline: float, clock: Callable[[], float]) -> None:
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            raise _error(
                ServerError,
                "credledger's answer is compressed (a Content-Encoding other than the identity asked for)",
                code=None,
                response=response,
            )
        self.response = response
        self.deadline = deadline
        self.clock = clock
        self.body = bytearray()

    def add(self, chunk: bytes) -> None:
        self.body += chunk
        if len(self.body) > MAX_ANSWER_BYTES:
            raise _error(
                ServerError,
                f"credledger's answer is larger than {MAX_ANSWER_BYTES} bytes",
                code=None,
                response=self.response,
            )
        if self.clock() > self.deadline:
            raise httpx.ReadTimeout("the answer took longer than the timeout in all")

    def answer(self) -> httpx.Response:
        # The body as read: no encoding (refused above); its length is what was read.
        headers = [
            (name, value)
            for name, value in self.response.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length")
        ]
        return httpx.Response(
            self.response.status_code,
            headers=headers,
            content=bytes(self.body),
            request=self.response.request,
        )


class _Base:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float,
        cache_ttl: float,
        max_cache_entries: int,
        user_agent: str | None,
        allow_insecure_http: bool,
        clock: Callable[[], float],
    ) -> None:
        if not isinstance(token, str) or not token.strip():
            raise ValueError("token must be a credledger API token (clt_…, or an MCP server's clm_…)")
        # Visible ASCII only: a tab or a non-ASCII character would reach the HTTP library's own
        # error message in a form the redaction does not recognise.
        if not all("!" <= c <= "~" for c in token):
            raise ValueError("token contains characters no API token has")
        # The same for the User-Agent, which goes in the headers beside the token (spaces
        # allowed): anything else fails to encode inside the HTTP library, whose frames hold
        # the Authorization header.
        if user_agent is not None and (
            not isinstance(user_agent, str) or not all(" " <= c <= "~" for c in user_agent)
        ):
            raise ValueError("user_agent must be visible ASCII (spaces allowed)")
        if not isinstance(cache_ttl, (int, float)) or not 0 <= cache_ttl < math.inf:
            raise ValueError("cache_ttl must be a number of seconds >= 0 (0 disables the cache)")
        if not isinstance(max_cache_entries, int) or max_cache_entries < 1:
            raise ValueError("max_cache_entries must be a whole number >= 1")
        if not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
            raise ValueError("timeout must be a number of seconds > 0")
        self.base_url = base_url.rstrip("/")
        self.endpoint = _endpoint(base_url, allow_insecure_http)
        self.timeout = timeout
        self._clock = clock
        self._token = _Secret(token)
        self._cache = _TTLCache(cache_ttl, max_cache_entries, clock)
        agent = f"credledger-client-python/{__version__}"
        self._user_agent = f"{user_agent} {agent}" if user_agent else agent

    def _trusts_env(self) -> bool:
        """Whether proxies and CA bundles are taken from the environment (`HTTP_PROXY`,
        `SSL_CERT_FILE`, …): over https only, where a proxy tunnels what it cannot read; over
        plain http (loopback) a proxy would read the token and the secrets."""
        return self.endpoint.startswith("https://")

    @property
    def cache_ttl(self) -> float:
        return self._cache.ttl

    def invalidate(self, user_id: Any = _ANY, service: Any = _ANY, name: Any = _ANY) -> int:
        """Forgets cached answers: all of them without arguments, else those matching every
        argument given (`name=None` is the primary credential's entry). Returns how many."""
        return self._cache.drop(user_id, service, name)

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token.reveal()}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            # httpx asks for gzip, deflate (and br, zstd when installed) and inflates before the
            # size bound sees a byte.
            "Accept-Encoding": "identity",
            "User-Agent": self._user_agent,
        }

    @staticmethod
    def _payload(user_id: str, service: str, name: str | None, tool: str | None) -> bytes:
        # Encoded here, as ASCII (a lone surrogate in an argument is escaped, not an error raised
        # inside the HTTP library, whose frames hold the Authorization header).
        return json.dumps(
            {
                "query": RESOLVE_MUTATION,
                "operationName": "ResolveCredential",
                "variables": {"userId": user_id, "service": service, "name": name, "tool": tool},
            },
            ensure_ascii=True,
        ).encode("ascii")

    @staticmethod
    def _unencodable() -> InvalidRequest:
        # Raised by the caller outside its handler, so the encoding error (and the frames it
        # passed through, which held the Authorization header) is not kept as its context.
        return InvalidRequest("the request to credledger could not be encoded (a value that is not ASCII?)")

    def _transport_error(self, exc: httpx.HTTPError) -> ConnectionFailed:
        timed_out = isinstance(exc, httpx.TimeoutException)
        kind = "timed out" if timed_out else "failed"
        detail = _scrub(exc, self._token.reveal())
        return ConnectionFailed(
            f"the request to credledger {kind}: {type(exc).__name__}: {detail}",
            reached=not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)),
            timed_out=timed_out,
        )

    def _out_of_time(self) -> ConnectionFailed:
        # Cancelled wherever it was: it may have been sent.
        return ConnectionFailed(
            f"the request to credledger timed out: no complete answer within {self.timeout} s",
            reached=True,
            timed_out=True,
        )

    def _settle(self, key: tuple, response: httpx.Response, asked_at_drops: int) -> ResolvedCredential:
        try:
            # The token itself is in no frame's locals: a traceback that shows them shows none.
            resolved = _parse_resolve(response, self._token)
        except (Unauthenticated, Forbidden):
            # What this token obtained before may no longer be its to use.
            self._cache.drop()
            raise
        except CredentialNotFound:
            self._cache.drop(*key)
            raise
        self._cache.put(key, resolved, asked_at_drops)
        return resolved._copy(from_cache=False)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, token=<hidden>,"
            f" cache_ttl={self._cache.ttl!r})"
        )


class CredledgerClient(_Base):
    """A synchronous client for `resolveCredential`. Thread-safe; reuse one per process.

    Args:
        base_url: credledger's URL (`https://credledger.example.com`; plain http only to
            loopback unless `allow_insecure_http`). `/graphql` is appended unless present.
        token: an API token with the scope `credentials:resolve` (`clt_…`).
        timeout: seconds a resolve may take in all, from connecting to the answer's last byte
            (the async client cancels it then; the sync client's connections read and write no
            later). With an `http_client` of your own, its own timeouts bound each step and
            this one the answer's body only; through a proxy taken from the environment, the
            same.
        cache_ttl: seconds an answer is reused (0 disables the cache).
        max_cache_entries: the cache's bound; the oldest entry goes first.
        user_agent: prepended to the User-Agent, which the audit trail shows (name the MCP
            server, e.g. `notion-mcp/1.2`).
        http_client: an `httpx.Client` to send with (for proxies, custom CAs or tests); it is
            not closed by `close()`. Without one, proxies and CA bundles are taken from the
            environment (`HTTPS_PROXY`, `SSL_CERT_FILE`, …) for https only, never for plain
            http.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10,
        cache_ttl: float = 30,
        max_cache_entries: int = 1024,
        user_agent: str | None = None,
        allow_insecure_http: bool = False,
        http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            base_url,
            token,
            timeout=timeout,
            cache_ttl=cache_ttl,
            max_cache_entries=max_cache_entries,
            user_agent=user_agent,
            allow_insecure_http=allow_insecure_http,
            clock=clock,
        )
        self._owns_http = http_client is None
        trust_env = self._trusts_env()
        # A transport given to httpx.Client turns off the environment's proxies: with one
        # set (https only), httpx's own transports, whose timeouts bound each step only.
        proxied = trust_env and _environment_sets_a_proxy()
        self._http = http_client or httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            trust_env=trust_env,
            transport=None if proxied else _DeadlineTransport(trust_env=trust_env),
        )

    def resolve(
        self, user_id: str, service: str, name: str | None = None, *, tool: str | None = None
    ) -> ResolvedCredential:
        """The user's primary active credential for `service`, or the active one named `name`.

        `tool` names the MCP tool (or client) asking; credledger records it with the use, so
        the audit trail says which tool used the credential. An answer served from the cache
        records no use.

        Raises `CredentialNotFound`, `Forbidden`, `Unauthenticated`, `RateLimited`,
        `InvalidRequest`, `ServerError` or `ConnectionFailed` (all `CredledgerError`), or
        `CredledgerError` itself with `code == "CONFLICT"`: the keyring was busy (changed by
        other writers at each attempt to record the use), nothing was answered; transient,
        try again.
        """
        _check_args(user_id, service, name, tool)
        key = (user_id, service, name)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        asked_at_drops = self._cache.drops
        deadline = self._clock() + self.timeout
        try:
            with (
                _deadline_in(self.timeout),
                self._http.stream(
                    "POST",
                    self.endpoint,
                    content=self._payload(user_id, service, name, tool),
                    headers=self._headers(),
                    timeout=self.timeout,
                    follow_redirects=False,
                ) as streamed,
            ):
                reading = _Reading(streamed, deadline, self._clock)
                for chunk in streamed.iter_bytes():
                    reading.add(chunk)
                response = reading.answer()
        except httpx.HTTPError as exc:
            failed = self._transport_error(exc)
        except UnicodeError:
            failed = self._unencodable()
        else:
            return self._settle(key, response, asked_at_drops)
        # Raised outside the handler: httpx's error, whose request carries the token, is not
        # kept as its context.
        raise failed

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> CredledgerClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class AsyncCredledgerClient(_Base):
    """The asyncio twin of `CredledgerClient` (same arguments; `http_client` is an
    `httpx.AsyncClient`). Use it from async MCP tools so a resolve never blocks the loop."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10,
        cache_ttl: float = 30,
        max_cache_entries: int = 1024,
        user_agent: str | None = None,
        allow_insecure_http: bool = False,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            base_url,
            token,
            timeout=timeout,
            cache_ttl=cache_ttl,
            max_cache_entries=max_cache_entries,
            user_agent=user_agent,
            allow_insecure_http=allow_insecure_http,
            clock=clock,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, trust_env=self._trusts_env()
        )

    async def resolve(
        self, user_id: str, service: str, name: str | None = None, *, tool: str | None = None
    ) -> ResolvedCredential:
        """See `CredledgerClient.resolve`."""
        _check_args(user_id, service, name, tool)
        key = (user_id, service, name)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        asked_at_drops = self._cache.drops
        deadline = self._clock() + self.timeout
        try:
            # The whole resolve, connecting included, is cancelled at its timeout (httpx bounds
            # each read, not the whole; under asyncio or trio alike).
            with anyio.fail_after(self.timeout):
                async with self._http.stream(
                    "POST",
                    self.endpoint,
                    content=self._payload(user_id, service, name, tool),
                    headers=self._headers(),
                    timeout=self.timeout,
                    follow_redirects=False,
                ) as streamed:
                    reading = _Reading(streamed, deadline, self._clock)
                    async for chunk in streamed.aiter_bytes():
                        reading.add(chunk)
                    response = reading.answer()
        except httpx.HTTPError as exc:
            failed = self._transport_error(exc)
        except TimeoutError:
            failed = self._out_of_time()
        except UnicodeError:
            failed = self._unencodable()
        else:
            return self._settle(key, response, asked_at_drops)
        raise failed

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncCredledgerClient:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()
