"""The example MCP server (examples/notion_mcp), driven by the MCP SDK's own stdio client.

The SDK spawns the example as a subprocess; its tool resolves the demo user's Notion credential
from the real credledger binary and calls the provider simulator's Notion API with it. The answer
must be Notion's, the use must show in credledger's audit trail, and no token may appear in the
tool's answer or the server's log.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

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


async def drive(params: StdioServerParameters, errlog, calls):
    """initialize, list_tools, then each (tool, arguments) of `calls`."""
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            tools = await session.list_tools()
            results = [await session.call_tool(name, args) for name, args in calls]
    return init, tools, results


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
    before = len(live.demo.uses(live.work_id))
    log_path = tmp_path / "mcp-server.log"

    with open(log_path, "w") as errlog:
        init, tools, (default_user, explicit_user, second_call) = anyio.run(
            drive,
            params_for(live, token),
            errlog,
            [
                ("notion_workspace", {}),
                ("notion_workspace", {"user_id": "demo"}),
                ("notion_workspace", {}),
            ],
        )

    assert init.server_info.name == "notion-credledger-example"
    names = [tool.name for tool in tools.tools]
    assert "notion_workspace" in names

    for result in (default_user, explicit_user, second_call):
        assert not result.is_error, text_of(result)
        data = result.structured_content
        # Data that only Notion's answer (for this token) holds.
        assert data["workspace_name"] == expected["bot"]["workspace_name"]
        assert data["workspace_id"] == expected["bot"]["workspace_id"]
        assert data["bot_id"] == expected["id"]
        assert data["owner_email"] == expected["bot"]["owner"]["user"]["person"]["email"]
        assert data["credential_id"] == live.work_id
        assert data["credential_name"] == "Work"
        assert expected["bot"]["workspace_name"] in text_of(result)

    # The example keeps resolved credentials 30 s: three calls, one resolve, one recorded use.
    uses = live.demo.wait_for_uses(live.work_id, before + 1)
    assert len(uses) == before + 1
    newest = uses[0]
    assert newest["action"] == "CredentialUsed"
    assert newest["credentialId"] == live.work_id
    assert newest["context"]["detail"]["consumer"] == f"token:{token_id}"
    assert newest["userAgent"].startswith("notion-mcp-example/")

    # No token anywhere: not in the answers, not in the server's log.
    log = log_path.read_text()
    assert "resolved Notion credential" in log  # the log is there and was written
    for secret in (token, live.notion_secret, live.notion_secret_2):
        assert secret not in log
        for result in (default_user, explicit_user, second_call):
            assert secret not in text_of(result)
            assert secret not in repr(result.structured_content)


def test_every_call_is_audited_without_the_cache(live, tmp_path):
    token, token_id = live.demo.create_token("notion-mcp-no-cache", ["CREDENTIALS_RESOLVE"])
    before = len(live.demo.uses(live.side_id))
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
    uses = live.demo.wait_for_uses(live.side_id, before + 2)
    assert len(uses) == before + 2
    assert all(use["context"]["detail"]["consumer"] == f"token:{token_id}" for use in uses[:2])


def test_tool_errors_are_clear_and_secret_free(live, tmp_path):
    token, token_id = live.demo.create_token("notion-mcp-errors", ["CREDENTIALS_RESOLVE"])
    no_scope, _ = live.demo.create_token("notion-mcp-no-scope", ["LEDGER_READ"])
    log_path = tmp_path / "log"
    with open(log_path, "w") as errlog:
        _, _, (other_user, no_such_service_user) = anyio.run(
            drive,
            params_for(live, token),
            errlog,
            [("notion_workspace", {"user_id": "admin"}), ("notion_workspace", {"user_id": "nobody"})],
        )
        _, _, (forbidden,) = anyio.run(drive, params_for(live, no_scope), errlog, [("notion_workspace", {})])
        live.demo.revoke_token(token_id)
        _, _, (revoked,) = anyio.run(drive, params_for(live, token), errlog, [("notion_workspace", {})])

    assert other_user.is_error and "no active Notion credential" in text_of(other_user)
    assert no_such_service_user.is_error
    assert forbidden.is_error and "may not resolve" in text_of(forbidden)
    assert revoked.is_error and "refused this server's API token" in text_of(revoked)
    log = log_path.read_text()
    for secret in (token, no_scope, live.notion_secret):
        assert secret not in log
        for result in (other_user, no_such_service_user, forbidden, revoked):
            assert secret not in text_of(result)
