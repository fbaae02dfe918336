"""An example MCP server whose tool reads the calling user's Notion token from credledger.

Built on the official MCP Python SDK (`mcp` 2.x, `MCPServer`, formerly `FastMCP`). It speaks
MCP over stdio:

    CREDLEDGER_URL=https://credledger.example.com \\
    CREDLEDGER_TOKEN=clm_…            # this MCP server's own token (credentials:resolve)
    CREDLEDGER_USER_ID=alice          # whose credential
    python examples/notion_mcp/server.py

The token is best the MCP server's own (`credledger mcp register`, then `credledger mcp token
--server ID`; it starts `clm_`): it resolves a user's Notion credential only while that user
grants the server access to Notion, and each use is audited as the server's (`mcp:<id>`). A
person's own API token with the scope credentials:resolve (`clt_…`) works too, for that
person's credentials only. See README.md.

Configuration (environment):
    CREDLEDGER_URL          credledger's URL (required)
    CREDLEDGER_TOKEN        the API token, clm_… or clt_… (required), or CREDLEDGER_TOKEN_FILE
                            naming a file that holds it
    CREDLEDGER_USER_ID      whose credential the tool resolves (required)
    CREDLEDGER_CACHE_TTL    seconds a resolved credential is reused (default 30; 0: ask every time)
    NOTION_BASE_URL         Notion's API (default https://api.notion.com; the simulator's in tests)
    NOTION_CREDENTIAL_NAME  a named credential instead of the user's primary one

The tool `notion_workspace` resolves the user's Notion credential at call time (credledger
records the use as a `CredentialUsed` event before answering), calls Notion's
`GET /v1/users/me` with it (an answer within 15 s in all and of 1 MiB at most) and returns who
the integration is: the workspace and its owner.
Neither the API token nor the Notion token is ever logged or returned.

Whose credential: CREDLEDGER_USER_ID's, never an argument. A stdio server is started by one
person's MCP client, for that person; the tool takes no user from the model, which fills in
arguments from whatever it reads (a page saying "call notion_workspace for bob" would otherwise
disclose bob's workspace to alice, and record the use on bob's credential). A server that serves
many people over HTTP takes the user from its own authenticated session the same way.
credledger limits what the token may read in any case (a person's token reads only that
person's credentials; a server token only those of users who granted the server access, for the
services it is allowed).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import anyio
import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from credledger_client import (
    AsyncCredledgerClient,
    ConnectionFailed,
    CredentialNotFound,
    CredledgerError,
    Forbidden,
    RateLimited,
    ServerError,
    Unauthenticated,
)

NOTION_VERSION = "2022-06-28"
#: The longest Notion's answer may take in all, and the most of it that is read: httpx's timeout
#: bounds each read, not the whole, so a peer sending a byte every few seconds would hold the
#: tool for as long as it liked, and a body is otherwise read whole into memory.
NOTION_DEADLINE = 15.0
NOTION_MAX_BYTES = 1024 * 1024
SERVICE = "notion"
VERSION = "0.1.0"

log = logging.getLogger("notion_mcp")

server = MCPServer(
    name="notion-credledger-example",
    version=VERSION,
    instructions=(
        "Tools for the user's Notion workspace. Credentials come from credledger; "
        "no token is ever part of a tool's answer."
    ),
)


class NotionWorkspace(BaseModel):
    """Who the user's Notion integration is, as Notion answers `GET /v1/users/me`."""

    user_id: str  # whose credential (CREDLEDGER_USER_ID), whatever the model asked
    workspace_name: str | None
    workspace_id: str | None
    bot_id: str | None
    bot_name: str | None
    owner_name: str | None
    owner_email: str | None
    credential_id: str
    credential_name: str


class _State:
    credledger: AsyncCredledgerClient | None = None
    notion: httpx.AsyncClient | None = None


_state = _State()


def _token() -> str:
    token = os.environ.get("CREDLEDGER_TOKEN", "").strip()
    path = os.environ.get("CREDLEDGER_TOKEN_FILE", "").strip()
    if not token and path:
        token = Path(path).read_text(encoding="utf-8").strip()
    if not token:
        raise ToolError("this server is not configured: set CREDLEDGER_TOKEN (or CREDLEDGER_TOKEN_FILE)")
    return token


def _credledger() -> AsyncCredledgerClient:
    if _state.credledger is None:
        url = os.environ.get("CREDLEDGER_URL", "").strip()
        if not url:
            raise ToolError("this server is not configured: set CREDLEDGER_URL")
        try:
            ttl = float(os.environ.get("CREDLEDGER_CACHE_TTL", "30"))
        except ValueError:
            raise ToolError("CREDLEDGER_CACHE_TTL must be a number of seconds") from None
        try:
            _state.credledger = AsyncCredledgerClient(
                url, _token(), cache_ttl=ttl, user_agent=f"notion-mcp-example/{VERSION}"
            )
        except ValueError as exc:
            raise ToolError(f"this server is misconfigured: {exc}") from None
    return _state.credledger


def _notion() -> httpx.AsyncClient:
    if _state.notion is None:
        # A proxy from the environment over https only (it tunnels what it cannot read): over
        # plain http (loopback) it would read the Notion token.
        secure = _notion_base().startswith("https://")
        _state.notion = httpx.AsyncClient(timeout=10, follow_redirects=False, trust_env=secure)
    return _state.notion


def _notion_base() -> str:
    base = os.environ.get("NOTION_BASE_URL", "https://api.notion.com").strip().rstrip("/")
    url = httpx.URL(base)
    loopback = url.host in ("127.0.0.1", "::1", "localhost")
    if url.scheme != "https" and not (url.scheme == "http" and loopback):
        # The Notion token goes in the request: never in plain text off this machine.
        raise ToolError("NOTION_BASE_URL must be https (plain http only to loopback)")
    return base


async def _ask_notion(url: str, secret: str) -> tuple[int, httpx.Headers, bytes]:
    """Notion's answer to a GET: within `NOTION_DEADLINE` in all (TimeoutError), and at most
    `NOTION_MAX_BYTES` of it, read as sent (identity asked for, a compressed answer refused: a
    few KiB of gzip can inflate to gigabytes before a bound could see them)."""
    with anyio.fail_after(NOTION_DEADLINE):
        async with _notion().stream(
            "GET",
            url,
            headers={
                "Authorization": f"Bearer {secret}",
                "Notion-Version": NOTION_VERSION,
                "Accept": "application/json",
                "Accept-Encoding": "identity",
            },
        ) as response:
            if response.headers.get("content-encoding", "").strip().lower() not in ("", "identity"):
                raise ToolError("Notion's answer is compressed, though it was asked not to be")
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > NOTION_MAX_BYTES:
                    raise ToolError(f"Notion's answer is larger than {NOTION_MAX_BYTES} bytes; not read on")
            return response.status_code, response.headers, bytes(body)


def _seconds(value: float | None) -> str:
    return f"{value:g} s" if value is not None else "a few seconds"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


@server.tool(
    name="notion_workspace",
    title="Notion workspace",
    description=(
        "Tells which Notion workspace the user's connected Notion integration belongs to, "
        "and who owns it. Uses the user's Notion credential from credledger."
    ),
)
async def notion_workspace() -> NotionWorkspace:
    user = os.environ.get("CREDLEDGER_USER_ID", "").strip()
    if not user:
        raise ToolError("no user: configure CREDLEDGER_USER_ID")
    base = _notion_base()  # checked before anything is resolved
    name = os.environ.get("NOTION_CREDENTIAL_NAME", "").strip() or None
    credledger = _credledger()
    try:
        # The tool's name goes with the resolve: the audit trail records which tool used it.
        credential = await credledger.resolve(user, SERVICE, name, tool="notion_workspace")
    except CredentialNotFound:
        raise ToolError(f"user {user!r} has no active Notion credential in credledger") from None
    except Forbidden as exc:
        # The client's message names the reason (a missing scope; for a server token, no grant
        # from this user, a withdrawn one, or a service the server is not allowed) and never a
        # token or a secret.
        raise ToolError(
            f"this server's credledger token may not resolve the Notion credential of user {user!r}."
            f" credledger: {exc.message}"
        ) from None
    except Unauthenticated:
        raise ToolError("credledger refused this server's API token (unknown, expired or revoked)") from None
    except RateLimited as exc:
        raise ToolError(f"credledger is rate limiting this server; retry in {_seconds(exc.retry_after)}") from None
    except ServerError as exc:
        # UNAVAILABLE (its database is away) says when to try again.
        wait = f"; retry in {_seconds(exc.retry_after)}" if exc.retry_after is not None else ""
        raise ToolError(f"credledger could not resolve the credential: {exc}{wait}") from None
    except ConnectionFailed as exc:
        # The client's message names what failed (httpx's error; never a token). Only a failed
        # connect sent nothing: a request that timed out, or lost its answer, reached credledger,
        # which may have recorded the use before answering.
        if not exc.reached:
            raise ToolError(f"credledger cannot be reached ({exc.message})") from None
        if exc.timed_out:
            raise ToolError(
                f"credledger did not answer in time; it may have recorded the use all the same ({exc.message})"
            ) from None
        raise ToolError(
            f"credledger's answer was lost; it may have recorded the use all the same ({exc.message})"
        ) from None
    except CredledgerError as exc:
        raise ToolError(f"credledger could not resolve the credential: {exc}") from None
    # Whether credledger was asked (and recorded the use) or the client's cache answered.
    log.info(
        "resolved Notion credential %s (%s) for user %s: %s",
        credential.credential_id,
        credential.name,
        user,
        "cached" if credential.from_cache else "fetched",
    )

    secret = credential.fields.get("token")
    if not secret:
        raise ToolError("the Notion credential in credledger has no token field")
    try:
        status, headers, raw = await _ask_notion(f"{base}/v1/users/me", secret)
    except (TimeoutError, httpx.TimeoutException):
        raise ToolError(f"Notion did not answer in time (within {NOTION_DEADLINE:g} s)") from None
    except httpx.HTTPError as exc:
        raise ToolError(f"Notion cannot be reached ({type(exc).__name__})") from None

    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if status != 200 or not isinstance(body, dict):
        code = body.get("code") if isinstance(body, dict) else None
        if status == 401:
            # The stored token no longer works (rotated or revoked at Notion): ask credledger
            # again next time rather than reusing the cached copy.
            credledger.invalidate(user_id=user, service=SERVICE)
            raise ToolError(
                f"Notion refused the credential {credential.name!r}; update it in credledger"
            )
        if status == 429:
            raise ToolError(f"Notion is rate limiting; retry in {headers.get('retry-after', 'a few')} s")
        detail = f" ({code})" if isinstance(code, str) else ""
        raise ToolError(f"Notion answered HTTP {status}{detail}")

    bot = body.get("bot") if isinstance(body.get("bot"), dict) else {}
    owner = bot.get("owner") if isinstance(bot.get("owner"), dict) else {}
    owner_user = owner.get("user") if isinstance(owner.get("user"), dict) else {}
    person = owner_user.get("person") if isinstance(owner_user.get("person"), dict) else {}
    answer = NotionWorkspace(
        user_id=user,
        workspace_name=_text(bot.get("workspace_name")),
        workspace_id=_text(bot.get("workspace_id")),
        bot_id=_text(body.get("id")),
        bot_name=_text(body.get("name")),
        owner_name=_text(owner_user.get("name")) or ("workspace" if owner.get("workspace") else None),
        owner_email=_text(person.get("email")),
        credential_id=credential.credential_id,
        credential_name=credential.name,
    )
    log.info("Notion workspace %r for user %s", answer.workspace_name, user)
    return answer


def main() -> None:
    # stdout carries the MCP protocol: logs go to stderr only.
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("NOTION_MCP_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    server.run("stdio")


if __name__ == "__main__":
    main()
