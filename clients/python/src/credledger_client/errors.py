"""Exceptions raised by the credledger client and the sync-request verifier.

No message built here ever contains the API token or a credential's secret: a message holds
the error code, the server's message (which names ids and services, never secrets) and, for
rate limits, the wait. The server's message is also scrubbed of the caller's token in case a
proxy in between echoes a header back.
"""

from __future__ import annotations


class CredledgerError(Exception):
    """Base of every error the credledger client raises.

    Attributes:
        code: the server's stable `extensions.code` (`UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`,
            `VALIDATION`, `RATE_LIMITED`, `INTERNAL`, …) or `None` when the failure happened
            before an answer (network, timeout) or the answer was not credledger's.
        status: the HTTP status of the answer, when there was one.
        request_id: the server's `x-request-id` for this request, when it sent one (quote it
            when reporting a problem: the server logs internal errors under it).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.append(f"[{self.code}]")
        if self.request_id:
            parts.append(f"(request id {self.request_id})")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, status={self.status!r})"


class Unauthenticated(CredledgerError):
    """The API token is unknown, expired or revoked (HTTP 401, `UNAUTHENTICATED`)."""


class Forbidden(CredledgerError):
    """`FORBIDDEN`: the token lacks the scope `credentials:resolve`, or (an MCP server's token,
    `clm_…`) the server may not hold that user's credentials for that service: the user has not
    granted it access, or withdrew it, or the service is not one the server is allowed. For a
    server token the message says so; the grant is the user's (`grantMcpAccess`)."""


class CredentialNotFound(CredledgerError):
    """No active credential for that user, service and name that this token may read
    (`NOT_FOUND`; another user's credentials answer this too, so nothing leaks)."""


class InvalidRequest(CredledgerError):
    """The server refused the arguments (`VALIDATION`), e.g. a service the catalog lacks."""


class RateLimited(CredledgerError):
    """Too many requests (`RATE_LIMITED`, HTTP 429). `retry_after` is in seconds, or `None`
    when the server did not say."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(CredledgerError):
    """credledger failed (`INTERNAL`, `UNAVAILABLE`, HTTP 5xx) or answered something that is
    not a GraphQL answer (e.g. a proxy's error page). `retry_after` is in seconds when the
    server said when to try again (`UNAVAILABLE`: its database is away), else `None`."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ConnectionFailed(CredledgerError):
    """credledger could not be reached, or did not answer in time.

    Attributes (besides `CredledgerError`'s):
        reached: whether a connection was made, so the request may have reached credledger
            and been carried out (a resolve recorded as a use) though no answer came back;
            `False` only when nothing was sent.
        timed_out: whether it ended because credledger did not answer in time.
    """

    def __init__(self, message: str, *, reached: bool = True, timed_out: bool = False, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.reached = reached
        self.timed_out = timed_out


# --- the sync-request verifier -------------------------------------------------------------


class InvalidSignature(Exception):
    """A signed sync request is not authentic: missing or malformed headers, or no signature
    matches any accepted secret. Answer it with 401 and do not apply it."""


class StaleTimestamp(InvalidSignature):
    """The request's `Credledger-Timestamp` is outside the allowed window (a replay, or a clock
    too far off). A subclass of `InvalidSignature`, so one `except InvalidSignature` refuses
    both."""


__all__ = [
    "ConnectionFailed",
    "CredentialNotFound",
    "CredledgerError",
    "Forbidden",
    "InvalidRequest",
    "InvalidSignature",
    "RateLimited",
    "ServerError",
    "StaleTimestamp",
    "Unauthenticated",
]
