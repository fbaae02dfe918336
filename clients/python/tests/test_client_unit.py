"""The resolve client against a scripted transport: request shape, cache, error mapping, secrecy."""

from __future__ import annotations

import json
import pickle
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import anyio
import httpx
import pytest

from credledger_client import (
    AsyncCredledgerClient,
    ConnectionFailed,
    CredentialNotFound,
    CredledgerClient,
    CredledgerError,
    Forbidden,
    InvalidRequest,
    RateLimited,
    ResolvedCredential,
    ServerError,
    Unauthenticated,
)

TOKEN = "clt_unit_test_token_value_0123456789"
SECRET = "ntn_secret_value_that_must_not_leak"
BASE = "http://127.0.0.1:9"


def ok(name="Work", secret=SECRET, **more):
    return httpx.Response(
        200,
        json={
            "data": {
                "resolveCredential": {
                    "credentialId": "cred-1",
                    "service": "notion",
                    "name": name,
                    "fields": {"token": secret},
                    **more,
                }
            }
        },
    )


def gql_error(code, message="refused", status=200, extra=None, headers=None):
    extensions = {"code": code, **(extra or {})}
    return httpx.Response(
        status,
        json={"data": None, "errors": [{"message": message, "extensions": extensions}]},
        headers=headers,
    )


class Script:
    """A transport answering from a list (or a function) and recording every request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer(request) if callable(answer) else answer


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def make(script, **kw):
    http = httpx.Client(transport=httpx.MockTransport(script))
    return CredledgerClient(BASE, TOKEN, http_client=http, **kw)


# --- the request ------------------------------------------------------------------------------


def test_sends_the_resolve_mutation_with_the_bearer_token():
    script = Script(ok())
    client = make(script, user_agent="notion-mcp/1.0")
    got = client.resolve("demo", "notion", "Work")
    assert got == ResolvedCredential("cred-1", "notion", "Work", {"token": SECRET})
    (request,) = script.requests
    assert request.method == "POST"
    assert str(request.url) == BASE + "/graphql"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("notion-mcp/1.0 credledger-client-python/")
    body = json.loads(request.content)
    assert "resolveCredential(userId: $userId, service: $service, name: $name, tool: $tool)" in body["query"]
    assert body["variables"] == {"userId": "demo", "service": "notion", "name": "Work", "tool": None}


def test_the_tool_is_sent_for_the_audit():
    script = Script(ok())
    make(script).resolve("demo", "notion", tool="notion_workspace")
    assert json.loads(script.requests[0].content)["variables"]["tool"] == "notion_workspace"
    with pytest.raises(ValueError):
        make(Script(ok())).resolve("demo", "notion", tool="x" * 129)
    with pytest.raises(ValueError):
        make(Script(ok())).resolve("demo", "notion", tool="")


def test_the_async_client_sends_the_tool_too():
    script = Script(ok())

    async def main():
        http = httpx.AsyncClient(transport=httpx.MockTransport(script))
        async with AsyncCredledgerClient(BASE, TOKEN, http_client=http) as client:
            await client.resolve("demo", "notion", tool="notion_workspace")
        await http.aclose()

    anyio.run(main)
    assert json.loads(script.requests[0].content)["variables"]["tool"] == "notion_workspace"


def test_primary_is_asked_with_a_null_name():
    script = Script(ok())
    make(script).resolve("demo", "notion")
    assert json.loads(script.requests[0].content)["variables"]["name"] is None


def test_base_url_forms():
    for base, endpoint in [
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/graphql"),
        ("http://localhost:8080/graphql", "http://localhost:8080/graphql"),
        ("https://credledger.example.com/ledger", "https://credledger.example.com/ledger/graphql"),
        ("http://[::1]:8080", "http://[::1]:8080/graphql"),
    ]:
        assert CredledgerClient(base, TOKEN).endpoint == endpoint


def test_refuses_plain_http_to_other_hosts():
    with pytest.raises(ValueError, match="plain http"):
        CredledgerClient("http://credledger.example.com", TOKEN)
    with pytest.raises(ValueError, match="plain http"):
        CredledgerClient("http://credledger.localhost:8080", TOKEN)
    CredledgerClient("http://credledger.example.com", TOKEN, allow_insecure_http=True)
    with pytest.raises(ValueError):
        CredledgerClient("ftp://127.0.0.1", TOKEN)
    with pytest.raises(ValueError):
        CredledgerClient("https://user:pw@credledger.example.com", TOKEN)


def test_refuses_bad_arguments_without_asking():
    script = Script(ok())
    client = make(script)
    for args in [("", "notion"), ("demo", ""), ("demo", "notion", "")]:
        with pytest.raises(ValueError):
            client.resolve(*args)
    assert script.requests == []
    with pytest.raises(ValueError):
        CredledgerClient(BASE, "")
    with pytest.raises(ValueError):
        CredledgerClient(BASE, "clt_x\r\nX-Evil: 1")


# --- secrecy ----------------------------------------------------------------------------------


def test_repr_never_shows_the_token():
    client = CredledgerClient(BASE, TOKEN)
    assert TOKEN not in repr(client)
    assert TOKEN not in str(client)
    assert TOKEN not in repr(vars(client))
    assert "<hidden>" in repr(client)
    with pytest.raises(TypeError):
        pickle.dumps(client._token)
    assert TOKEN not in repr(AsyncCredledgerClient(BASE, TOKEN))


@pytest.mark.parametrize("bad", [TOKEN + "\t", TOKEN + "\x0b", TOKEN + "é", "\u201c" + TOKEN])
def test_a_token_with_characters_no_token_has_is_refused(bad):
    # Such a token would reach the HTTP library's error message escaped, past the redaction.
    with pytest.raises(ValueError):
        CredledgerClient(BASE, bad)
    with pytest.raises(ValueError):
        AsyncCredledgerClient(BASE, bad)


@pytest.mark.parametrize(
    "settings",
    [
        {"cache_ttl": float("nan")},
        {"cache_ttl": float("inf")},
        {"max_cache_entries": -1},
        {"max_cache_entries": 0},
        {"timeout": None},
        {"timeout": 0},
        {"timeout": float("inf")},
    ],
)
def test_settings_that_bound_nothing_are_refused(settings):
    with pytest.raises(ValueError):
        CredledgerClient(BASE, TOKEN, **settings)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "GZIP", "gzip, identity"])
def test_a_compressed_answer_is_refused_unread(encoding):
    # httpx would inflate it before the size bound saw a byte: a few KiB of gzip hold gigabytes.
    import gzip

    inflated = []

    def bomb():
        inflated.append(1)
        yield gzip.compress(b" " * (8 * 1024 * 1024))  # 8 MiB in some 8 KiB

    script = Script(lambda request: httpx.Response(200, headers={"content-encoding": encoding}, content=bomb()))
    with pytest.raises(ServerError, match="compressed"):
        make(script).resolve("demo", "notion")
    assert script.requests[0].headers["accept-encoding"] == "identity"
    assert inflated == []  # not even read

    # A well-formed answer compressed all the same is refused too: identity was asked for.
    answer = gzip.compress(ok().read())
    compressed = httpx.Response(200, headers={"content-encoding": encoding}, content=iter([answer]))
    with pytest.raises(ServerError, match="compressed"):
        make(Script(compressed)).resolve("demo", "notion")

    async def chunks():
        yield answer

    async def main():
        script = Script(lambda request: httpx.Response(200, headers={"content-encoding": encoding}, content=chunks()))
        http = httpx.AsyncClient(transport=httpx.MockTransport(script))
        async with AsyncCredledgerClient(BASE, TOKEN, http_client=http) as client:
            with pytest.raises(ServerError, match="compressed"):
                await client.resolve("demo", "notion")
        await http.aclose()
        assert script.requests[0].headers["accept-encoding"] == "identity"

    anyio.run(main)


def test_an_answer_marked_identity_is_read():
    answer = ok()
    plain = httpx.Response(200, headers={"content-encoding": "identity"}, content=answer.read())
    assert make(Script(plain)).resolve("demo", "notion").fields == {"token": SECRET}


def test_no_proxy_is_taken_from_the_environment_for_plain_http(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://proxy.invalid:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    for client in (CredledgerClient(BASE, TOKEN), AsyncCredledgerClient(BASE, TOKEN)):
        url = httpx.URL(client.endpoint)
        assert client._http._transport_for_url(url) is client._http._transport
    # Over https a proxy only tunnels: the environment's is taken, as is its CA bundle.
    secure = CredledgerClient("https://credledger.example.com", TOKEN)
    url = httpx.URL(secure.endpoint)
    assert secure._http._transport_for_url(url) is not secure._http._transport


def test_resolved_credential_repr_hides_secret_values():
    got = make(Script(ok())).resolve("demo", "notion")
    assert SECRET not in repr(got)
    assert SECRET not in str(got)
    assert "token" in repr(got)
    assert got.fields["token"] == SECRET


def test_error_messages_never_contain_the_token():
    # A proxy that echoes the Authorization header back in its error message.
    def echo(request):
        return gql_error("FORBIDDEN", f"bad header {request.headers['authorization']}")

    with pytest.raises(Forbidden) as info:
        make(Script(echo)).resolve("demo", "notion")
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value)
    assert "[redacted]" in str(info.value)


def test_forbidden_for_a_server_token_says_what_lets_a_server_resolve():
    # credledger answers a missing grant, a withdrawn one and a service the server is not
    # allowed with one reason; the client adds what would let the server resolve.
    reason = "the MCP server may not hold demo's credentials for notion"
    server_token = "clm_unit_test_server_token_0123456789"
    http = httpx.Client(transport=httpx.MockTransport(Script(gql_error("FORBIDDEN", reason))))
    with pytest.raises(Forbidden) as info:
        CredledgerClient(BASE, server_token, http_client=http).resolve("demo", "notion")
    assert info.value.code == "FORBIDDEN"
    assert info.value.message.startswith(reason + ". An MCP server resolves a user's credentials only")
    assert "grants it access" in info.value.message and "credledger mcp grant" in info.value.message
    assert server_token not in str(info.value) and server_token not in repr(info.value)

    # A person's token (clt_…) is refused for its own reasons (a missing scope): no grant hint.
    with pytest.raises(Forbidden) as info:
        make(Script(gql_error("FORBIDDEN", "this API token lacks the scope credentials:resolve"))).resolve(
            "demo", "notion"
        )
    assert info.value.message == "this API token lacks the scope credentials:resolve"


def test_connection_errors_never_contain_the_token():
    script = Script(httpx.ConnectError(f"refused while sending {TOKEN}"))
    with pytest.raises(ConnectionFailed) as info:
        make(script).resolve("demo", "notion")
    assert TOKEN not in str(info.value)
    # Not even as its context: httpx's error holds the request, the token in its headers.
    assert info.value.__cause__ is None and info.value.__context__ is None


@pytest.mark.parametrize(
    "failure, reached, timed_out",
    [
        (httpx.ConnectError("connection refused"), False, False),
        (httpx.ConnectTimeout("connect timed out"), False, True),
        (httpx.ReadTimeout("no answer"), True, True),
        (httpx.RemoteProtocolError("server disconnected without sending a response"), True, False),
    ],
)
def test_a_connection_failure_says_whether_the_request_went_out_and_whether_it_timed_out(
    failure, reached, timed_out
):
    # Only a failed connect sent nothing; after that, credledger may have recorded the use.
    with pytest.raises(ConnectionFailed) as info:
        make(Script(failure)).resolve("demo", "notion")
    assert (info.value.reached, info.value.timed_out) == (reached, timed_out)


def test_a_traceback_that_shows_locals_shows_no_token():
    import traceback

    with pytest.raises(CredentialNotFound) as info:
        make(Script(gql_error("NOT_FOUND"))).resolve("demo", "notion")
    shown = "".join(traceback.TracebackException.from_exception(info.value, capture_locals=True).format())
    assert "_parse_resolve" in shown  # the frames are there, with their locals
    assert TOKEN not in shown


@pytest.mark.parametrize("agent", ["notion-mcp/1.0 é", "notion-mcp\u2028", "mcp\ud800", "a\tb", "a\r\nX-Evil: 1"])
def test_a_user_agent_that_is_not_visible_ascii_is_refused(agent):
    # It goes in the headers beside the token; httpx would fail to encode it in a frame whose
    # locals hold the Authorization header.
    with pytest.raises(ValueError):
        CredledgerClient(BASE, TOKEN, user_agent=agent)
    with pytest.raises(ValueError):
        AsyncCredledgerClient(BASE, TOKEN, user_agent=agent)
    CredledgerClient(BASE, TOKEN, user_agent="notion-mcp/1.0 (linux; +https://example.com)")


@pytest.mark.parametrize("field", ["user_id", "service", "name", "tool"])
def test_a_lone_surrogate_in_an_argument_is_escaped_not_raised_beside_the_token(field):
    args = {"user_id": "demo", "service": "notion", "name": None, "tool": None, field: "x\ud800y"}
    script = Script(ok())
    make(script).resolve(args["user_id"], args["service"], args["name"], tool=args["tool"])
    (request,) = script.requests
    assert request.headers["content-type"] == "application/json"
    assert request.content.isascii()
    variables = json.loads(request.content)["variables"]
    assert variables[{"user_id": "userId"}.get(field, field)] == "x\ud800y"

    async def main():
        script = Script(ok())
        http = httpx.AsyncClient(transport=httpx.MockTransport(script))
        async with AsyncCredledgerClient(BASE, TOKEN, http_client=http) as client:
            await client.resolve(args["user_id"], args["service"], args["name"], tool=args["tool"])
        await http.aclose()
        assert script.requests[0].content.isascii()

    anyio.run(main)


def test_an_encoding_error_is_an_invalid_request_whose_traceback_shows_no_token():
    import traceback

    client = make(Script(ok()))
    client._user_agent = "notion-mcp é"  # past the constructor's check: whatever else fails
    with pytest.raises(InvalidRequest) as info:
        client.resolve("demo", "notion")
    assert isinstance(info.value, CredledgerError)
    assert info.value.__context__ is None and info.value.__cause__ is None
    shown = "".join(traceback.TracebackException.from_exception(info.value, capture_locals=True).format())
    assert "resolve" in shown
    assert TOKEN not in shown

    async def main():
        http = httpx.AsyncClient(transport=httpx.MockTransport(Script(ok())))
        async with AsyncCredledgerClient(BASE, TOKEN, http_client=http) as client:
            client._user_agent = "notion-mcp é"
            with pytest.raises(InvalidRequest) as info:
                await client.resolve("demo", "notion")
        await http.aclose()
        assert info.value.__context__ is None
        shown = "".join(traceback.TracebackException.from_exception(info.value, capture_locals=True).format())
        assert TOKEN not in shown

    anyio.run(main)


def test_an_answer_past_the_size_bound_is_not_read_to_its_end():
    sent = []

    def endless():
        for _ in range(10_000):
            sent.append(1)
            yield b" " * 65536

    script = Script(lambda request: httpx.Response(200, content=endless()))
    with pytest.raises(ServerError, match="larger than"):
        make(script).resolve("demo", "notion")
    assert len(sent) <= 17  # 1 MiB of 64 KiB chunks, and the one past it


def test_an_answer_that_trickles_in_past_the_timeout_is_given_up():
    clock = Clock()
    sent = []

    def trickle():
        for _ in range(1_000):
            sent.append(1)
            clock.now += 0.4  # each byte within httpx's read timeout, the whole past it
            yield b" "

    script = Script(lambda request: httpx.Response(200, content=trickle()))
    with pytest.raises(ConnectionFailed, match="timed out"):
        make(script, timeout=1, clock=clock).resolve("demo", "notion")
    assert len(sent) <= 3


def test_unavailable_says_when_to_try_again():
    answer = gql_error("UNAVAILABLE", "the database is away", status=503, extra={"retryAfter": 2})
    with pytest.raises(ServerError) as info:
        make(Script(answer)).resolve("demo", "notion")
    assert info.value.code == "UNAVAILABLE"
    assert info.value.retry_after == 2


def test_timeouts_are_connection_failures():
    with pytest.raises(ConnectionFailed, match="timed out"):
        make(Script(httpx.ReadTimeout("slow"))).resolve("demo", "notion")


# --- error mapping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected", "code"),
    [
        (gql_error("UNAUTHENTICATED", status=401), Unauthenticated, "UNAUTHENTICATED"),
        (gql_error("FORBIDDEN"), Forbidden, "FORBIDDEN"),
        (gql_error("NOT_FOUND", "not found"), CredentialNotFound, "NOT_FOUND"),
        (gql_error("VALIDATION", "unknown service `x`"), InvalidRequest, "VALIDATION"),
        (gql_error("INTERNAL", "internal error (request id r1)"), ServerError, "INTERNAL"),
        (gql_error("CONFLICT"), CredledgerError, "CONFLICT"),
        (httpx.Response(401, text="no"), Unauthenticated, "UNAUTHENTICATED"),
        (httpx.Response(403, text="no"), Forbidden, "FORBIDDEN"),
        (httpx.Response(502, text="<html>bad gateway</html>"), ServerError, None),
        (httpx.Response(404, text="not here"), ServerError, None),
        (httpx.Response(302, headers={"location": "https://elsewhere.example/"}), ServerError, None),
        (httpx.Response(200, json={"data": {"resolveCredential": {"credentialId": 1}}}), ServerError, None),
        (httpx.Response(200, json={"data": None}), ServerError, None),
        (httpx.Response(500, json={"errors": [{"message": "boom"}]}), ServerError, None),
    ],
)
def test_maps_errors(answer, expected, code):
    with pytest.raises(expected) as info:
        make(Script(answer)).resolve("demo", "notion")
    assert type(info.value) is expected
    assert info.value.code == code
    assert isinstance(info.value, CredledgerError)


def test_every_code_resolve_may_answer_is_documented():
    # CONFLICT (a busy keyring, api/src/ledger.rs) reaches callers as the base CredledgerError.
    from pathlib import Path

    from credledger_client import client as client_module

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| exception | when |") :].split("\n\n")[0]
    for code in [*client_module._BY_CODE, "CONFLICT"]:
        assert f"`{code}`" in table, code
    assert "CONFLICT" in CredledgerClient.resolve.__doc__


def test_rate_limited_carries_retry_after():
    answer = gql_error("RATE_LIMITED", "too many", extra={"retryAfter": 7}, headers={"retry-after": "9"})
    with pytest.raises(RateLimited) as info:
        make(Script(answer)).resolve("demo", "notion")
    assert info.value.retry_after == 7
    with pytest.raises(RateLimited) as info:
        make(Script(httpx.Response(429, headers={"retry-after": "12"}))).resolve("demo", "notion")
    assert info.value.retry_after == 12
    with pytest.raises(RateLimited) as info:
        make(Script(gql_error("RATE_LIMITED"))).resolve("demo", "notion")
    assert info.value.retry_after is None


def test_request_id_is_kept():
    answer = gql_error("INTERNAL", "internal error", headers={"x-request-id": "req-42"})
    with pytest.raises(ServerError) as info:
        make(Script(answer)).resolve("demo", "notion")
    assert info.value.request_id == "req-42"
    assert "req-42" in str(info.value)


# --- cache ------------------------------------------------------------------------------------


def test_second_call_within_ttl_makes_no_request():
    clock = Clock()
    script = Script(ok())
    client = make(script, cache_ttl=30, clock=clock)
    first = client.resolve("demo", "notion")
    clock.now += 29.9
    second = client.resolve("demo", "notion")
    assert first == second
    assert len(script.requests) == 1
    clock.now += 0.1
    client.resolve("demo", "notion")
    assert len(script.requests) == 2


def test_an_expired_answer_is_forgotten_whatever_is_asked_next():
    clock = Clock()
    client = make(Script(ok()), cache_ttl=30, clock=clock)
    client.resolve("demo", "notion")
    clock.now += 31
    client.resolve("ada", "notion")
    # demo's secret is no longer held, though nobody asked for it again.
    assert list(client._cache._items) == [("ada", "notion", None)]


def test_an_answer_asked_for_before_an_invalidation_is_not_kept_after_it():
    client = None

    def answered_after_an_invalidation(request):
        # Another task, told by Notion that the token is refused, invalidates meanwhile.
        client.invalidate(user_id="demo")
        return ok()

    script = Script(answered_after_an_invalidation)
    client = make(script, cache_ttl=30)
    client.resolve("demo", "notion")
    assert len(client._cache) == 0


def expiring_in(seconds):
    """An `expiresAt` as credledger writes it (RFC 3339, UTC, `Z`)."""
    when = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_the_expiry_is_asked_for_and_kept():
    script = Script(ok(expiresAt="2031-05-06T07:08:09.123Z"))
    got = make(script).resolve("demo", "notion")
    assert "expiresAt" in json.loads(script.requests[0].content)["query"]
    assert got.expires_at == datetime(2031, 5, 6, 7, 8, 9, 123000, tzinfo=timezone.utc)
    assert make(Script(ok())).resolve("demo", "notion").expires_at is None
    for bad in (17, "tomorrow", ["2031-05-06T07:08:09Z"]):
        with pytest.raises(ServerError, match="malformed"):
            make(Script(ok(expiresAt=bad))).resolve("demo", "notion")


def test_an_expiring_token_is_kept_until_30_s_before_it_expires():
    clock = Clock()
    script = Script(ok(expiresAt=expiring_in(45)))
    client = make(script, cache_ttl=300, clock=clock)
    client.resolve("demo", "notion")
    clock.now += 14
    client.resolve("demo", "notion")
    assert len(script.requests) == 1
    clock.now += 2  # past 45 - 30 s
    client.resolve("demo", "notion")
    assert len(script.requests) == 2


@pytest.mark.parametrize("seconds", [29, 0, -3600])
def test_a_token_about_to_expire_or_expired_is_not_cached(seconds):
    script = Script(ok(expiresAt=expiring_in(seconds)))
    client = make(script, cache_ttl=300)
    client.resolve("demo", "notion")
    client.resolve("demo", "notion")
    assert len(script.requests) == 2
    assert len(client._cache) == 0


def test_a_token_past_its_expiry_by_the_wall_clock_is_not_served():
    # The monotonic clock stood still (a suspended machine); the token expired meanwhile.
    script = Script(ok(expiresAt=expiring_in(3600)))
    client = make(script, cache_ttl=7200, clock=Clock())
    client.resolve("demo", "notion")
    client._cache.wall = lambda: datetime.now(timezone.utc).timestamp() + 3600
    client.resolve("demo", "notion")
    assert len(script.requests) == 2


def test_cache_key_is_user_service_and_name():
    script = Script(ok())
    client = make(script)
    client.resolve("demo", "notion")
    client.resolve("demo", "notion", "Work")
    client.resolve("other", "notion")
    client.resolve("demo", "jira")
    assert len(script.requests) == 4
    for args in [("demo", "notion"), ("demo", "notion", "Work"), ("other", "notion"), ("demo", "jira")]:
        client.resolve(*args)
    assert len(script.requests) == 4


def test_errors_are_never_cached():
    script = Script(gql_error("NOT_FOUND"), httpx.Response(503, text="busy"), ok())
    client = make(script)
    with pytest.raises(CredentialNotFound):
        client.resolve("demo", "notion")
    with pytest.raises(ServerError):
        client.resolve("demo", "notion")
    assert client.resolve("demo", "notion").fields == {"token": SECRET}
    client.resolve("demo", "notion")
    assert len(script.requests) == 3


def test_invalidate():
    script = Script(ok())
    client = make(script)
    client.resolve("demo", "notion")
    client.resolve("demo", "notion", "Work")
    client.resolve("ada", "notion")
    assert client.invalidate(user_id="demo", name=None) == 1
    client.resolve("demo", "notion", "Work")  # still cached
    assert len(script.requests) == 3
    client.resolve("demo", "notion")
    assert len(script.requests) == 4
    assert client.invalidate() == 3
    client.resolve("ada", "notion")
    assert len(script.requests) == 5


def test_cache_ttl_zero_always_asks():
    script = Script(ok())
    client = make(script, cache_ttl=0)
    client.resolve("demo", "notion")
    client.resolve("demo", "notion")
    assert len(script.requests) == 2


def test_a_refused_token_empties_the_cache():
    script = Script(ok(), gql_error("UNAUTHENTICATED", status=401), ok())
    client = make(script)
    client.resolve("demo", "notion")
    with pytest.raises(Unauthenticated):
        client.resolve("demo", "jira")
    client.resolve("demo", "notion")
    assert len(script.requests) == 3


def test_callers_cannot_change_the_cached_copy():
    client = make(Script(ok()))
    got = client.resolve("demo", "notion")
    got.fields["token"] = "changed"
    assert client.resolve("demo", "notion").fields["token"] == SECRET


def test_cache_is_bounded():
    script = Script(lambda r: ok(name=json.loads(r.content)["variables"]["userId"]))
    client = make(script, max_cache_entries=2)
    for user in ["a", "b", "c"]:
        client.resolve(user, "notion")
    client.resolve("a", "notion")  # evicted: asked again
    client.resolve("c", "notion")  # kept
    assert len(script.requests) == 4


def test_rejects_a_negative_ttl():
    with pytest.raises(ValueError):
        CredledgerClient(BASE, TOKEN, cache_ttl=-1)


def test_close_leaves_a_given_http_client_open():
    http = httpx.Client(transport=httpx.MockTransport(Script(ok())))
    with CredledgerClient(BASE, TOKEN, http_client=http) as client:
        client.resolve("demo", "notion")
    assert not http.is_closed


# --- async twin -------------------------------------------------------------------------------


def test_async_client_resolves_caches_and_maps_errors():
    script = Script(ok(), gql_error("FORBIDDEN"))

    async def main():
        http = httpx.AsyncClient(transport=httpx.MockTransport(script))
        async with AsyncCredledgerClient(BASE, TOKEN, http_client=http) as client:
            first = await client.resolve("demo", "notion")
            second = await client.resolve("demo", "notion")
            assert first == second and first.fields == {"token": SECRET}
            assert len(script.requests) == 1
            with pytest.raises(Forbidden):
                await client.resolve("demo", "notion", "Other")
        await http.aclose()

    anyio.run(main)


def test_the_async_client_bounds_an_answer_as_the_sync_one_does():
    sent = []

    async def endless():
        for _ in range(10_000):
            sent.append(1)
            yield b" " * 65536

    script = Script(lambda request: httpx.Response(200, content=endless()))

    async def main():
        http = httpx.AsyncClient(transport=httpx.MockTransport(script))
        async with AsyncCredledgerClient(BASE, TOKEN, http_client=http) as client:
            with pytest.raises(ServerError, match="larger than"):
                await client.resolve("demo", "notion")
        await http.aclose()

    anyio.run(main)
    assert len(sent) <= 17


# --- the timeout in all, against a loopback server that trickles its headers ------------------


class TricklingServer:
    """A loopback HTTP server that answers a resolve, sending its status line and headers one
    byte every 0.2 s (each byte well within a read timeout, the whole some 20 s), then the body
    at once. `finished` is set once it has sent it all; it stops when the client goes away."""

    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.finished = threading.Event()
        self.cut_short = threading.Event()
        #: Bytes of the status line and headers sent so far.
        self.sent = 0
        body = json.dumps(ok().json()).encode()
        self._head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"X-Padding: {'.' * 40}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self._body = body
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        conn, _ = self._listener.accept()
        with conn:
            conn.settimeout(5)
            received = b""
            while b"\r\n\r\n" not in received:
                received += conn.recv(65536)
            try:
                for i in range(len(self._head)):
                    conn.sendall(self._head[i : i + 1])
                    self.sent += 1
                    time.sleep(0.2)
                conn.sendall(self._body)
            except OSError:
                self.cut_short.set()
                return
            self.finished.set()

    def close(self):
        self._listener.close()
        self._thread.join(timeout=30)

    def left_early(self) -> bool:
        """Whether the client gave up with at most half the status line and headers sent (a
        timeout of 1 s gives up after about five of their bytes; waiting for them all, some 20 s,
        sends every one)."""
        return not self.finished.is_set() and self.sent <= len(self._head) // 2


@pytest.fixture
def trickling():
    server = TricklingServer()
    yield server
    server.close()


def test_only_a_named_proxy_keeps_httpx_own_transport(monkeypatch):
    # Over https the sync client keeps httpx's own transport (per-read timeouts) when the
    # environment names a proxy; NO_PROXY alone names none, and the deadline must still hold.
    from credledger_client.client import _environment_sets_a_proxy

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    assert not _environment_sets_a_proxy()
    monkeypatch.setenv("NO_PROXY", "example.com,.internal")
    assert not _environment_sets_a_proxy()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    assert _environment_sets_a_proxy()


def test_a_server_trickling_its_headers_fails_the_resolve_at_its_timeout(trickling):
    with CredledgerClient(trickling.url, TOKEN, timeout=1) as client:
        with pytest.raises(ConnectionFailed) as info:
            client.resolve("demo", "notion")
    assert info.value.timed_out
    assert trickling.left_early(), f"the resolve waited for {trickling.sent} bytes of the headers"


def test_the_async_client_fails_at_its_timeout_against_trickled_headers(trickling):
    async def main():
        async with AsyncCredledgerClient(trickling.url, TOKEN, timeout=1) as client:
            with pytest.raises(ConnectionFailed) as info:
                await client.resolve("demo", "notion")
        assert info.value.timed_out
        assert trickling.left_early(), f"the resolve waited for {trickling.sent} bytes of the headers"

    anyio.run(main)


def test_the_answer_says_whether_it_came_from_the_cache():
    script = Script(ok())
    client = make(script, clock=Clock())
    first = client.resolve("demo", "notion")
    second = client.resolve("demo", "notion")
    assert (first.from_cache, second.from_cache) == (False, True)
    assert len(script.requests) == 1
    assert "from_cache=True" in repr(second) and SECRET not in repr(second)
