"""The example MCP server (examples/notion_mcp), driven by the MCP SDK's own stdio client.

The SDK spawns the example as a subprocess; its tool resolves the demo user's Notion credential
from the real credledger binary and calls the provider simulator's Notion API with it. The answer
must be Notion's, the use must show in credledger's audit trail, and no token may appear in the
tool's answer or the server's log.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from credledger_client import CredledgerClient, Forbidden

pytestmark = pytest.mark.live

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "notion_mcp" / "server.py"


def notion_me(live, secret: str) -> dict:
    """Ask the simulated Notion API directly, to know what the tool should report."""
    response = httpx.get(
        f"{live.notion_base_url}/v1/users/me",
        headers={"Authorization": f"Bearer {secret}", "Notion-Version": "2022-06-28"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def drive(params: StdioServerParameters, errlog, calls, seconds: list[float] | None = None):
    """initialize, list_tools, then each (tool, arguments) of `calls`; how long each call took
    is appended to `seconds` when given."""
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            tools = await session.list_tools()
            results = []
            for name, args in calls:
                started = time.monotonic()
                results.append(await session.call_tool(name, args))
                if seconds is not None:
                    seconds.append(time.monotonic() - started)
    return init, tools, results


async def drive_each(*runs):
    """`drive` for each of `runs` (its arguments) at once, so their waits overlap; results in order."""
    results: list = [None] * len(runs)

    async def one(i, run):
        results[i] = await drive(*run)

    async with anyio.create_task_group() as group:
        for i, run in enumerate(runs):
            group.start_soon(one, i, run)
    return results


class Stub:
    """A loopback HTTP server standing in for Notion or for credledger. The first segment of the
    request's path says how it misbehaves, so one stub serves every case (point NOTION_BASE_URL
    or CREDLEDGER_URL at `url(case)`):

    - `/trickle/v1/users/me`: Notion's answer, one byte a second (status line and headers too),
      for `TRICKLE_FOR` seconds at most, then the connection closes;
    - `/huge/v1/users/me`: 200 with a JSON body of 2 MiB;
    - `/refusing/v1/users/me`: 401 with Notion's error for a token it does not accept;
    - `POST /unavailable/graphql`: credledger's answer while its database is away (503,
      `UNAVAILABLE`, `retryAfter`, `Retry-After`);
    - `POST /silent/graphql`: the request is read and never answered.

    `hits[case]` counts the requests of each case.
    """

    TRICKLE_FOR = 40.0
    HUGE_BYTES = 2 * 1024 * 1024

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.closing = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                stub.answer(self)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                stub.answer(self)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def url(self, case: str) -> str:
        return f"{self.base_url}/{case}"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        case = handler.path.strip("/").split("/")[0]
        self.hits[case] = self.hits.get(case, 0) + 1
        try:
            getattr(self, f"_{case}")(handler)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: what the test wants

    @staticmethod
    def _response(status: str, body: bytes, extra: str = "") -> bytes:
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
        )
        return head.encode() + body

    def _trickle(self, handler) -> None:
        body = json.dumps({"object": "user", "id": "trickled", "type": "bot", "bot": {}}).encode()
        deadline = time.monotonic() + self.TRICKLE_FOR
        for byte in self._response("200 OK", body):
            if time.monotonic() > deadline or self.closing.wait(1):
                break
            handler.wfile.write(bytes([byte]))
        handler.close_connection = True

    def _huge(self, handler) -> None:
        pad = "x" * self.HUGE_BYTES
        body = json.dumps({"object": "user", "id": "huge", "type": "bot", "name": pad, "bot": {}}).encode()
        handler.wfile.write(self._response("200 OK", body))
        handler.close_connection = True

    def _refusing(self, handler) -> None:
        body = json.dumps(
            {"object": "error", "status": 401, "code": "unauthorized", "message": "API token is invalid."}
        ).encode()
        handler.wfile.write(self._response("401 Unauthorized", body))
        handler.close_connection = True

    def _unavailable(self, handler) -> None:
        # What credledger answers when a lookup every request needs fails (api/src/http.rs,
        # lookup_failed): the message does not say how long to wait, retryAfter and Retry-After do.
        body = json.dumps(
            {
                "errors": [
                    {
                        "message": "authentication is unavailable (request id 7d3c0f6e)",
                        "extensions": {"code": "UNAVAILABLE", "retryAfter": 2},
                    }
                ]
            }
        ).encode()
        extra = "x-request-id: 7d3c0f6e\r\nRetry-After: 2\r\n"
        handler.wfile.write(self._response("503 Service Unavailable", body, extra))
        handler.close_connection = True

    def _silent(self, handler) -> None:
        self.closing.wait()
        handler.close_connection = True

    def close(self) -> None:
        self.closing.set()
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def stub():
    server = Stub()
    yield server
    server.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def params_for(live, token: str, **extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=[str(EXAMPLE)],
        env={
            "CREDLEDGER_URL": live.server.base_url,
            "CREDLEDGER_TOKEN": token,
            "CREDLEDGER_USER_ID": "demo",
            "NOTION_BASE_URL": live.notion_base_url,
            "NOTION_MCP_LOG_LEVEL": "DEBUG",
            **extra,
        },
    )


def text_of(result) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def test_tool_answers_with_notion_data_and_the_use_is_audited(live, tmp_path):
    token, token_id = live.demo.create_token("notion-mcp-example", ["CREDENTIALS_RESOLVE"])
    expected = notion_me(live, live.notion_secret)
    log_path = tmp_path / "mcp-server.log"

    with open(log_path, "w") as errlog:
        init, tools, (default_user, again, second_call) = anyio.run(
            drive,
            params_for(live, token),
            errlog,
            [
                ("notion_workspace", {}),
                ("notion_workspace", {}),
                ("notion_workspace", {}),
            ],
        )

    assert init.server_info.name == "notion-credledger-example"
    names = [tool.name for tool in tools.tools]
    assert "notion_workspace" in names
    # Whose credential is the configured user's: the model is offered no argument to name one.
    workspace = next(tool for tool in tools.tools if tool.name == "notion_workspace")
    assert not workspace.input_schema.get("properties"), workspace.input_schema

    for result in (default_user, again, second_call):
        assert not result.is_error, text_of(result)
        data = result.structured_content
        # Data that only Notion's answer (for this token) holds.
        assert data["workspace_name"] == expected["bot"]["workspace_name"]
        assert data["workspace_id"] == expected["bot"]["workspace_id"]
        assert data["bot_id"] == expected["id"]
        assert data["owner_email"] == expected["bot"]["owner"]["user"]["person"]["email"]
        assert data["credential_id"] == live.work_id
        assert data["credential_name"] == "Work"
        assert data["user_id"] == "demo"
        assert expected["bot"]["workspace_name"] in text_of(result)

    # The example keeps resolved credentials 30 s: three calls, one resolve, one recorded use
    # (this test's token is new, so its uses are the ones with its consumer).
    consumer = f"token:{token_id}"
    uses = live.demo.wait_for_uses_where(live.work_id, lambda use: use["context"]["detail"]["consumer"] == consumer)
    assert sum(1 for use in uses if use["context"]["detail"]["consumer"] == consumer) == 1
    newest = uses[0]
    assert newest["action"] == "CredentialUsed"
    assert newest["credentialId"] == live.work_id
    assert newest["context"]["detail"]["consumer"] == f"token:{token_id}"
    assert newest["context"]["detail"]["tool"] == "notion_workspace"
    assert newest["userAgent"].startswith("notion-mcp-example/")

    # No token anywhere: not in the answers, not in the server's log.
    log = log_path.read_text()
    assert "resolved Notion credential" in log  # the log is there and was written
    # The one resolve, then the cache's two answers, each logged as such.
    told = [line.rsplit(": ", 1)[-1] for line in log.splitlines() if "resolved Notion credential" in line]
    assert told == ["fetched", "cached", "cached"], told
    for secret in (token, live.notion_secret, live.notion_secret_2):
        assert secret not in log
        for result in (default_user, again, second_call):
            assert secret not in text_of(result)
            assert secret not in repr(result.structured_content)


def test_every_call_is_audited_without_the_cache(live, tmp_path):
    token, token_id = live.demo.create_token("notion-mcp-no-cache", ["CREDENTIALS_RESOLVE"])
    with open(tmp_path / "log", "w") as errlog:
        _, _, results = anyio.run(
            drive,
            params_for(live, token, CREDLEDGER_CACHE_TTL="0", NOTION_CREDENTIAL_NAME="Side"),
            errlog,
            [("notion_workspace", {}), ("notion_workspace", {})],
        )
    expected = notion_me(live, live.notion_secret_2)
    for result in results:
        assert not result.is_error, text_of(result)
        assert result.structured_content["workspace_name"] == expected["bot"]["workspace_name"]
    consumer = f"token:{token_id}"
    uses = live.demo.wait_for_uses_where(
        live.side_id, lambda use: use["context"]["detail"]["consumer"] == consumer, count=2
    )
    assert all(use["context"]["detail"]["consumer"] == consumer for use in uses[:2])


def test_tool_errors_are_clear_and_secret_free(live, tmp_path):
    token, token_id = live.demo.create_token("notion-mcp-errors", ["CREDENTIALS_RESOLVE"])
    no_scope, _ = live.demo.create_token("notion-mcp-no-scope", ["LEDGER_READ"])
    log_path = tmp_path / "log"
    with open(log_path, "w") as errlog:
        _, _, (other_user,) = anyio.run(
            drive, params_for(live, token, CREDLEDGER_USER_ID="admin"), errlog, [("notion_workspace", {})]
        )
        _, _, (no_such_service_user,) = anyio.run(
            drive, params_for(live, token, CREDLEDGER_USER_ID="nobody"), errlog, [("notion_workspace", {})]
        )
        _, _, (forbidden,) = anyio.run(drive, params_for(live, no_scope), errlog, [("notion_workspace", {})])
        _, _, (plain_http,) = anyio.run(
            drive,
            params_for(live, token, NOTION_BASE_URL="http://notion.invalid"),
            errlog,
            [("notion_workspace", {})],
        )
        live.demo.revoke_token(token_id)
        _, _, (revoked,) = anyio.run(drive, params_for(live, token), errlog, [("notion_workspace", {})])

    assert other_user.is_error and "no active Notion credential" in text_of(other_user)
    # No such user: credledger answers it as it answers another user's credential (NOT_FOUND).
    assert no_such_service_user.is_error
    assert "user 'nobody' has no active Notion credential" in text_of(no_such_service_user)
    assert forbidden.is_error and "may not resolve" in text_of(forbidden)
    assert revoked.is_error and "refused this server's API token" in text_of(revoked)
    # The Notion token is not sent in plain text off this machine, nor anything resolved for it.
    assert plain_http.is_error and "NOTION_BASE_URL must be https" in text_of(plain_http)
    assert not any(use["context"]["detail"]["consumer"] == f"token:{token_id}" for use in live.demo.uses(live.work_id))
    log = log_path.read_text()
    for secret in (token, no_scope, live.notion_secret):
        assert secret not in log
        for result in (other_user, no_such_service_user, forbidden, revoked):
            assert secret not in text_of(result)


# The example's bounds on Notion's answer (examples/notion_mcp/server.py).
NOTION_DEADLINE = 15.0
NOTION_MAX_BYTES = 1024 * 1024


def test_a_notion_that_trickles_or_floods_its_answer_ends_the_call_in_time_with_a_clear_error(
    live, stub, tmp_path
):
    """httpx's timeout bounds each read: a Notion (or proxy) sending a byte a second never trips
    it, and a body is read whole. The tool gives up after its deadline, and past its size cap."""
    token, _ = live.demo.create_token("notion-mcp-bad-notion", ["CREDENTIALS_RESOLVE"])
    log_path = tmp_path / "log"
    seconds: list[float] = []
    with open(log_path, "w") as errlog:
        (_, _, (trickled,)), (_, _, (flooded,)) = anyio.run(
            drive_each,
            (
                params_for(live, token, NOTION_BASE_URL=stub.url("trickle")),
                errlog,
                [("notion_workspace", {})],
                seconds,
            ),
            (params_for(live, token, NOTION_BASE_URL=stub.url("huge")), errlog, [("notion_workspace", {})]),
        )

    assert stub.hits == {"trickle": 1, "huge": 1}
    assert trickled.is_error and "Notion did not answer in time" in text_of(trickled), text_of(trickled)
    # The deadline, plus a margin for the resolve; the stub trickles for Stub.TRICKLE_FOR (40 s).
    assert seconds[0] < NOTION_DEADLINE + 5, seconds
    assert flooded.is_error, text_of(flooded)
    assert f"Notion's answer is larger than {NOTION_MAX_BYTES} bytes" in text_of(flooded)
    log = log_path.read_text()
    for secret in (token, live.notion_secret):
        assert secret not in log
        for result in (trickled, flooded):
            assert secret not in text_of(result)


def test_credledger_failures_say_whether_it_was_reached_and_when_to_retry(live, stub, tmp_path):
    """Nothing listening (credledger stopped): cannot be reached. A peer that takes the request
    and never answers: timed out, and credledger may have recorded the use. credledger's own
    UNAVAILABLE answer (503, retryAfter, Retry-After): the tool says when to retry."""
    token, _ = live.demo.create_token("notion-mcp-credledger-away", ["CREDENTIALS_RESOLVE"])
    log_path = tmp_path / "log"
    with open(log_path, "w") as errlog:
        (_, _, (stopped,)), (_, _, (silent,)), (_, _, (unavailable,)) = anyio.run(
            drive_each,
            (
                params_for(live, token, CREDLEDGER_URL=f"http://127.0.0.1:{free_port()}"),
                errlog,
                [("notion_workspace", {})],
            ),
            (params_for(live, token, CREDLEDGER_URL=stub.url("silent")), errlog, [("notion_workspace", {})]),
            (params_for(live, token, CREDLEDGER_URL=stub.url("unavailable")), errlog, [("notion_workspace", {})]),
        )

    assert stub.hits == {"silent": 1, "unavailable": 1}
    assert stopped.is_error and "credledger cannot be reached" in text_of(stopped), text_of(stopped)
    assert "may have recorded" not in text_of(stopped)
    assert silent.is_error, text_of(silent)
    assert "credledger did not answer in time" in text_of(silent)
    assert "may have recorded the use" in text_of(silent)
    assert unavailable.is_error, text_of(unavailable)
    assert "authentication is unavailable" in text_of(unavailable)  # credledger's message
    assert "retry in 2 s" in text_of(unavailable)
    log = log_path.read_text()
    for result in (stopped, silent, unavailable):
        assert token not in text_of(result)
    assert token not in log


def test_a_credential_notion_refuses_is_resolved_afresh_at_the_next_call(live, stub, tmp_path):
    """A 401 from Notion drops the cached answer: with the cache on (30 s), the second call asks
    credledger again (a second recorded use) rather than resending the refused token."""
    token, token_id = live.demo.create_token("notion-mcp-refused", ["CREDENTIALS_RESOLVE"])
    with open(tmp_path / "log", "w") as errlog:
        _, _, results = anyio.run(
            drive,
            params_for(live, token, NOTION_BASE_URL=stub.url("refusing")),
            errlog,
            [("notion_workspace", {}), ("notion_workspace", {})],
        )
    for result in results:
        assert result.is_error and "Notion refused the credential 'Work'" in text_of(result), text_of(result)
    assert stub.hits == {"refusing": 2}

    def mine(use):
        return use["context"]["detail"]["consumer"] == f"token:{token_id}"

    uses = live.demo.wait_for_uses_where(live.work_id, mine, count=2)
    assert sum(1 for use in uses if mine(use)) == 2


def test_an_mcp_server_token_resolves_only_while_the_user_grants_it(live, tmp_path):
    """The recommended deployment: the example holds its MCP server's own token (`clm_…`).

    An administrator registers `notion-example`, allowed `notion` and serving only the users who
    grant it access, and issues it a `credentials:resolve` token; demo grants it Notion. The tool
    then answers with demo's Notion data, and credledger records the use as the server's
    (`mcp:notion-example`). Once demo withdraws the grant the very next call is refused, and a
    server allowed only Jira is refused Notion whatever it asks.
    """
    server_id, jira_id = "notion-example", "jira-only-example"
    live.admin.register_mcp_server(server_id, ["notion"])
    token, _ = live.admin.create_server_token(server_id, "notion-example-resolver", ["CREDENTIALS_RESOLVE"])
    live.admin.register_mcp_server(jira_id, ["jira"])
    jira_token, _ = live.admin.create_server_token(jira_id, "jira-only-resolver", ["CREDENTIALS_RESOLVE"])
    live.demo.grant(server_id, "notion")
    live.demo.grant(jira_id, "jira")

    def mine(use):
        return use["context"]["detail"]["consumer"] == f"mcp:{server_id}"

    expected = notion_me(live, live.notion_secret)
    log_path = tmp_path / "mcp-server.log"
    no_cache = {"CREDLEDGER_CACHE_TTL": "0"}
    with open(log_path, "w") as errlog:
        _, _, (granted,) = anyio.run(drive, params_for(live, token, **no_cache), errlog, [("notion_workspace", {})])
        uses = live.demo.wait_for_uses_where(live.work_id, mine)

        live.demo.withdraw(server_id, "notion")  # effective when it answers: no waiting
        (_, _, (withdrawn,)), (_, _, (withdrawn_named,)) = anyio.run(
            drive_each,
            (params_for(live, token, **no_cache), errlog, [("notion_workspace", {})]),
            (params_for(live, token, NOTION_CREDENTIAL_NAME="Side", **no_cache), errlog, [("notion_workspace", {})]),
        )
        _, _, (not_allowed,) = anyio.run(
            drive, params_for(live, jira_token, **no_cache), errlog, [("notion_workspace", {})]
        )

    # With the grant: Notion's answer for demo's primary (Work) credential...
    assert not granted.is_error, text_of(granted)
    data = granted.structured_content
    assert data["workspace_name"] == expected["bot"]["workspace_name"]
    assert data["workspace_id"] == expected["bot"]["workspace_id"]
    assert data["bot_id"] == expected["id"]
    assert data["owner_email"] == expected["bot"]["owner"]["user"]["person"]["email"]
    assert data["credential_id"] == live.work_id
    assert data["credential_name"] == "Work"
    assert expected["bot"]["workspace_name"] in text_of(granted)
    # ... recorded as the server's use, with the example's user agent.
    assert sum(1 for use in uses if mine(use)) == 1
    newest = uses[0]
    assert newest["action"] == "CredentialUsed"
    assert newest["credentialId"] == live.work_id
    assert newest["context"]["detail"]["consumer"] == f"mcp:{server_id}"
    assert newest["userAgent"].startswith("notion-mcp-example/")

    # Withdrawn, or never allowed the service: refused, saying why and what would allow it.
    for refused in (withdrawn, withdrawn_named, not_allowed):
        text = text_of(refused)
        assert refused.is_error, text
        assert "this server's credledger token may not resolve the Notion credential of user 'demo'" in text
        assert "may not hold demo's credentials for notion" in text  # credledger's reason
        assert "grants it access" in text and "credledger mcp grant" in text  # the client's hint
        assert "[FORBIDDEN]" not in text  # the message, not the exception's decorated str()

    # The library's own view of the refusal: FORBIDDEN, never cached, never the token.
    for refused_token in (token, jira_token):
        with CredledgerClient(live.server.base_url, refused_token, cache_ttl=0) as client:
            with pytest.raises(Forbidden) as info:
                client.resolve("demo", "notion")
        assert info.value.code == "FORBIDDEN"
        assert "grants it access" in str(info.value)
        assert refused_token not in str(info.value) and refused_token not in repr(info.value)

    # Refusals are not uses: still the one use by this server.
    time.sleep(0.5)
    assert sum(1 for use in live.demo.uses(live.work_id) if mine(use)) == 1
    assert not any(mine(use) for use in live.demo.uses(live.side_id))  # the named one, refused

    # No token and no secret anywhere: not in the answers, not in the server's log.
    log = log_path.read_text()
    assert "resolved Notion credential" in log
    for secret in (token, jira_token, live.notion_secret, live.notion_secret_2):
        assert secret not in log
        for result in (granted, withdrawn, withdrawn_named, not_allowed):
            assert secret not in text_of(result)
            assert secret not in repr(result.structured_content)
