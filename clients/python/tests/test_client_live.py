"""The resolve client against the real credledger binary (`serve --dev`, SQLite, simulator)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import anyio
import httpx
import pytest

from credledger_client import (
    AsyncCredledgerClient,
    CredentialNotFound,
    CredledgerClient,
    Forbidden,
    InvalidRequest,
    Unauthenticated,
)

pytestmark = pytest.mark.live


def counted(env, **kw):
    """A client whose every HTTP request is counted by an httpx event hook."""
    sent: list[httpx.Request] = []
    http = httpx.Client(timeout=30, event_hooks={"request": [sent.append]})
    return CredledgerClient(env.server.base_url, kw.pop("token", env.token), http_client=http, **kw), sent


def test_resolve_returns_the_primary_credentials_fields(live):
    client, sent = counted(live, cache_ttl=0)
    got = client.resolve("demo", "notion")
    assert got.credential_id == live.work_id
    assert got.service == "notion"
    assert got.name == "Work"
    assert got.fields == {"token": live.notion_secret}
    assert len(sent) == 1


def test_resolve_a_named_credential(live):
    client, _ = counted(live, cache_ttl=0)
    got = client.resolve("demo", "notion", "Side")
    assert (got.credential_id, got.name, got.fields) == (live.side_id, "Side", {"token": live.notion_secret_2})


def test_caching_makes_no_request_within_ttl_and_no_use_is_recorded(live):
    agent = "python-client-tests/cache"
    client, sent = counted(live, cache_ttl=30, user_agent=agent)

    def mine(use):  # this client's uses: another test's may reach the read model late
        return (use["userAgent"] or "").startswith(agent + " ")

    first = client.resolve("demo", "notion", "Side")
    second = client.resolve("demo", "notion", "Side")
    third = client.resolve("demo", "notion", "Side")
    assert first == second == third
    assert len(sent) == 1
    # The one request is the one use credledger recorded.
    live.demo.wait_for_uses_where(live.side_id, mine)
    time.sleep(0.5)
    assert sum(1 for use in live.demo.uses(live.side_id) if mine(use)) == 1

    client.invalidate()
    client.resolve("demo", "notion", "Side")
    assert len(sent) == 2
    uses = live.demo.wait_for_uses_where(live.side_id, mine, count=2)
    assert sum(1 for use in uses if mine(use)) == 2


def test_cache_expires_after_ttl(live):
    client, sent = counted(live, cache_ttl=0.3)
    client.resolve("demo", "notion")
    client.resolve("demo", "notion")
    assert len(sent) == 1
    time.sleep(0.4)
    client.resolve("demo", "notion")
    assert len(sent) == 2


def test_each_resolve_is_recorded_as_credential_used(live):
    client, _ = counted(live, cache_ttl=0, user_agent="python-client-tests/1")
    client.resolve("demo", "notion")
    # This test's use is the only one with its user agent (an earlier test's use may reach the
    # read model late, so counting uses from a number taken before would be racy).
    uses = live.demo.wait_for_uses_where(
        live.work_id, lambda use: (use["userAgent"] or "").startswith("python-client-tests/1 ")
    )
    newest = uses[0]
    assert newest["action"] == "CredentialUsed"
    assert newest["actor"] == "demo"
    assert newest["context"]["detail"]["consumer"] == f"token:{live.token_id}"
    assert newest["userAgent"].startswith("python-client-tests/1 credledger-client-python/")


def test_unknown_name_is_credential_not_found(live):
    client, _ = counted(live)
    with pytest.raises(CredentialNotFound) as info:
        client.resolve("demo", "notion", "No Such Name")
    assert info.value.code == "NOT_FOUND"
    assert live.token not in str(info.value)


def test_service_without_credential_is_credential_not_found(live):
    client, _ = counted(live)
    with pytest.raises(CredentialNotFound):
        client.resolve("demo", "todoist")


def test_unknown_service_is_invalid_request(live):
    client, _ = counted(live)
    with pytest.raises(InvalidRequest) as info:
        client.resolve("demo", "no-such-service")
    assert info.value.code == "VALIDATION"
    assert "no-such-service" in str(info.value)


def test_another_users_credential_is_not_found(live):
    admin_credential = live.admin.add_credential("notion", "Admin", {"token": live.notion_secret})
    assert admin_credential
    client, _ = counted(live)
    with pytest.raises(CredentialNotFound):
        client.resolve("admin", "notion")
    with pytest.raises(CredentialNotFound):
        client.resolve("nobody-at-all", "notion")


def test_token_without_the_scope_is_forbidden(live):
    token, _ = live.demo.create_token("ledger-reader", ["LEDGER_READ"])
    client, sent = counted(live, token=token)
    for _ in range(2):  # not cached: asked twice
        with pytest.raises(Forbidden) as info:
            client.resolve("demo", "notion")
        assert info.value.code == "FORBIDDEN"
        assert token not in str(info.value) and token not in repr(info.value)
    assert len(sent) == 2


def test_revoked_token_is_unauthenticated_and_empties_the_cache(live):
    token, token_id = live.demo.create_token("to-revoke", ["CREDENTIALS_RESOLVE"])
    client, sent = counted(live, token=token)
    assert client.resolve("demo", "notion").name == "Work"
    live.demo.revoke_token(token_id)
    with pytest.raises(Unauthenticated) as info:
        client.resolve("demo", "notion", "Side")
    assert info.value.status == 401
    assert info.value.code == "UNAUTHENTICATED"
    assert token not in str(info.value)
    # What the revoked token obtained is no longer served from memory.
    with pytest.raises(Unauthenticated):
        client.resolve("demo", "notion")
    assert len(sent) == 3


def test_expired_token_is_unauthenticated(live):
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=2)
    token, _ = live.demo.create_token("short-lived", ["CREDENTIALS_RESOLVE"], expires.isoformat())
    client, _ = counted(live, token=token, cache_ttl=0)
    time.sleep(max(0.0, (expires - datetime.now(timezone.utc)).total_seconds()) + 1.1)
    with pytest.raises(Unauthenticated):
        client.resolve("demo", "notion")


def test_unknown_token_is_unauthenticated(live):
    client, _ = counted(live, token="clt_this_token_was_never_issued_000000000")
    with pytest.raises(Unauthenticated):
        client.resolve("demo", "notion")


def test_async_client(live):
    async def main():
        async with AsyncCredledgerClient(live.server.base_url, live.token) as client:
            first = await client.resolve("demo", "notion")
            second = await client.resolve("demo", "notion")
            assert first == second
            assert first.fields == {"token": live.notion_secret}
            with pytest.raises(CredentialNotFound):
                await client.resolve("demo", "notion", "Missing")

    anyio.run(main)
