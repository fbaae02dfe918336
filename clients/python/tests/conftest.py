"""Fixtures: the real credledger binary in `--dev` mode, signed in as the demo user.

The binary is `$CREDLEDGER_BIN`, else `$CARGO_TARGET_DIR/debug/credledger`, else
`<repo>/target/debug/credledger` (`cargo build -p credledger`). Without it the live tests are
skipped, unless `CREDLEDGER_REQUIRE_BINARY=1` (scripts/checks.d/30-python sets it), which makes
them fail instead.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
DEMO_LOGIN = "demo@credledger.dev"
DEMO_PASSWORD = "demo-password-123"
ADMIN_LOGIN = "admin@credledger.dev"
ADMIN_PASSWORD = "admin-password-123"
START_TIMEOUT = 90.0


def credledger_bin() -> Path:
    if os.environ.get("CREDLEDGER_BIN"):
        return Path(os.environ["CREDLEDGER_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = REPO / target
    return target / "debug" / "credledger"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Banner:
    """What `serve --dev` prints for a newcomer, parsed."""

    text: str
    secrets: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Banner:
        banner = cls(text)
        in_secrets = False
        for line in text.splitlines():
            if "secrets the simulator accepts" in line:
                in_secrets = True
                continue
            if in_secrets:
                m = re.match(r"^    (\w+)\s+(\S+=\S+(?:\s+\S+=\S+)*)\s*$", line)
                if not m:
                    if line.strip():
                        in_secrets = False
                    continue
                fields = dict(item.split("=", 1) for item in m.group(2).split())
                banner.secrets.setdefault(m.group(1), []).append(fields)
        return banner

    @property
    def complete(self) -> bool:
        return "notion" in self.secrets and ("jira" in self.secrets or "confluence" in self.secrets)

    def simulator_base_url(self, service: str) -> str:
        """A service's base URL on the provider simulator.

        The banner does not print it (yet): the simulator serves every service under a path
        prefix of one loopback listener (`http://127.0.0.1:PORT/<service>`, adapters/src/simulator),
        and the banner prints that URL as the `url` field of the Jira and Confluence demo
        credentials. Take the service's own URL if the banner ever prints it, else derive it.
        """
        own = re.search(rf"(https?://127\.0\.0\.1:\d+/{re.escape(service)})\b", self.text)
        if own:
            return own.group(1)
        for other in ("jira", "confluence"):
            for fields in self.secrets.get(other, []):
                m = re.fullmatch(rf"(https?://127\.0\.0\.1:\d+)/{other}", fields.get("url", ""))
                if m:
                    return f"{m.group(1)}/{service}"
        raise AssertionError(f"the dev banner shows no simulator URL:\n{self.text}")


class Server:
    def __init__(self, binary: Path, data_dir: Path, log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.graphql_url = f"{self.base_url}/graphql"
        self.log_path = log_path
        env = dict(os.environ, NO_COLOR="1", RUST_LOG=os.environ.get("RUST_LOG", "warn,credledger=info"))
        for var in ("DATABASE_URL", "CREDLEDGER_CONFIG", "CREDLEDGER_BIND", "CREDLEDGER_DATA_DIR",
                    "CREDLEDGER_MASTER_KEY_FILE", "CREDLEDGER_MASTER_KEYS"):
            env.pop(var, None)
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--dev", "--bind", f"127.0.0.1:{self.port}", "--data-dir", str(data_dir)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(data_dir),
        )
        self.banner = self._wait()

    def log(self) -> str:
        return ANSI.sub("", self.log_path.read_text(errors="replace"))

    def _wait(self) -> Banner:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"credledger exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            banner = Banner.parse(self.log())
            if banner.complete:
                try:
                    if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                        return banner
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"credledger did not start in {START_TIMEOUT:.0f} s:\n{self.log()[-4000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


class Session:
    """A person signed in with the session cookie, calling GraphQL."""

    def __init__(self, server: Server, login: str, password: str) -> None:
        self.http = httpx.Client(base_url=server.base_url, timeout=30)
        self.server = server
        answer = self.gql(
            "mutation($l: String!, $p: String!) { login(login: $l, password: $p) { user { id } } }",
            l=login,
            p=password,
        )
        self.user_id = answer["login"]["user"]["id"]

    def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = self.http.post("/graphql", json={"query": query, "variables": variables})
        body = response.json()
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        assert response.status_code == 200, response.text
        return body["data"]

    def add_credential(self, service: str, name: str, fields: dict[str, str]) -> str:
        data = self.gql(
            "mutation($i: AddCredentialInput!) { addCredential(input: $i) { credential { id status } } }",
            i={"service": service, "name": name, "fields": fields},
        )
        credential = data["addCredential"]["credential"]
        assert credential["status"] == "ACTIVE", credential
        return credential["id"]

    def create_token(self, name: str, scopes: list[str], expires_at: str | None = None) -> tuple[str, str]:
        data = self.gql(
            "mutation($n: String!, $s: [Scope!]!, $e: DateTime) {"
            " createApiToken(name: $n, scopes: $s, expiresAt: $e) { token apiToken { id } } }",
            n=name,
            s=scopes,
            e=expires_at,
        )
        created = data["createApiToken"]
        assert created["token"].startswith("clt_")
        return created["token"], created["apiToken"]["id"]

    def revoke_token(self, token_id: str) -> None:
        assert self.gql("mutation($id: ID!) { revokeApiToken(id: $id) }", id=token_id)["revokeApiToken"] is True

    def register_mcp_server(
        self,
        id: str,
        services: list[str],
        serves_all_users: bool = False,
        base_url: str = "http://127.0.0.1:9",
    ) -> str:
        """Registers an MCP server (administrators); returns its signing secret (shown once).

        The default base URL is loopback's discard port: nothing answers there, so the sender's
        pushes to it fail and are retried; resolving at call time does not depend on them.
        """
        data = self.gql(
            "mutation($i: RegisterMcpServerInput!) {"
            " registerMcpServer(input: $i) { server { id allowedServices servesAllUsers } signingSecret } }",
            i={
                "id": id,
                "name": id,
                "baseUrl": base_url,
                "allowedServices": services,
                "servesAllUsers": serves_all_users,
            },
        )
        registered = data["registerMcpServer"]
        assert registered["server"]["id"] == id, registered
        assert sorted(registered["server"]["allowedServices"]) == sorted(services), registered
        assert registered["server"]["servesAllUsers"] is serves_all_users, registered
        assert registered["signingSecret"], registered
        return registered["signingSecret"]

    def create_server_token(
        self, server_id: str, name: str, scopes: list[str], expires_at: str | None = None
    ) -> tuple[str, str]:
        """Issues an MCP server an API token (administrators); returns (token, token id)."""
        data = self.gql(
            "mutation($srv: String!, $n: String!, $s: [Scope!]!, $e: DateTime) {"
            " createMcpServerToken(serverId: $srv, name: $n, scopes: $s, expiresAt: $e)"
            " { token apiToken { id } } }",
            srv=server_id,
            n=name,
            s=scopes,
            e=expires_at,
        )
        created = data["createMcpServerToken"]
        assert created["token"].startswith("clm_"), "an MCP server token starts clm_"
        return created["token"], created["apiToken"]["id"]

    def grant(self, server_id: str, service: str) -> dict[str, Any]:
        """Lets an MCP server hold (and resolve) this person's credentials for a service."""
        data = self.gql(
            "mutation($srv: String!, $svc: String!) {"
            " grantMcpAccess(serverId: $srv, service: $svc) { serverId userId service grantedAt } }",
            srv=server_id,
            svc=service,
        )
        grant = data["grantMcpAccess"]
        assert (grant["serverId"], grant["userId"], grant["service"]) == (server_id, self.user_id, service), grant
        return grant

    def withdraw(self, server_id: str, service: str) -> None:
        """Withdraws that grant: from this answer on the server resolves none of them."""
        data = self.gql(
            "mutation($srv: String!, $svc: String!) { withdrawMcpAccess(serverId: $srv, service: $svc) }",
            srv=server_id,
            svc=service,
        )
        assert data["withdrawMcpAccess"] is True, data

    def uses(self, credential_id: str) -> list[dict[str, Any]]:
        """The `CredentialUsed` events of one credential, newest first."""
        data = self.gql(
            "query($f: AuditFilter) { auditTrail(filter: $f, first: 100)"
            " { edges { node { action actor credentialId userAgent context } } } }",
            f={"action": "CredentialUsed", "credentialId": credential_id},
        )
        return [edge["node"] for edge in data["auditTrail"]["edges"]]

    def wait_for_uses(self, credential_id: str, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        """The audit trail is a read model: give it a moment to catch up, then insist."""
        deadline = time.monotonic() + timeout
        while True:
            uses = self.uses(credential_id)
            if len(uses) >= count or time.monotonic() > deadline:
                return uses
            time.sleep(0.2)

    def wait_for_uses_where(
        self, credential_id: str, match: Callable[[dict[str, Any]], bool], count: int = 1, timeout: float = 15
    ) -> list[dict[str, Any]]:
        """All uses of a credential, newest first, once at least `count` of them `match`.

        Counting every use against a number taken at a test's start is racy: a use an earlier
        test caused may reach the read model only after that count was taken. Waiting for the
        uses only this test makes (its own token's consumer, its user agent) is not; and since
        the read model applies events in ledger order, every earlier use is there by then, so
        `uses[0]` is the newest.
        """
        deadline = time.monotonic() + timeout
        while True:
            uses = self.uses(credential_id)
            if sum(1 for use in uses if match(use)) >= count or time.monotonic() > deadline:
                return uses
            time.sleep(0.2)


@dataclass
class Env:
    server: Server
    demo: Session
    admin: Session
    notion_secret: str
    notion_secret_2: str
    work_id: str  # demo's primary Notion credential ("Work")
    side_id: str  # demo's second Notion credential ("Side")
    token: str  # demo's token with credentials:resolve
    token_id: str

    @property
    def notion_base_url(self) -> str:
        return self.server.banner.simulator_base_url("notion")


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Env:
    binary = credledger_bin()
    if not binary.is_file():
        message = f"credledger binary not found at {binary} (cargo build -p credledger)"
        if os.environ.get("CREDLEDGER_REQUIRE_BINARY"):
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("credledger")
    data_dir = root / "data"
    data_dir.mkdir()
    server = Server(binary, data_dir, root / "server.log")
    try:
        demo = Session(server, DEMO_LOGIN, DEMO_PASSWORD)
        admin = Session(server, ADMIN_LOGIN, ADMIN_PASSWORD)
        notion = server.banner.secrets["notion"]
        assert len(notion) >= 2, server.banner.text
        first, second = notion[0]["token"], notion[1]["token"]
        work_id = demo.add_credential("notion", "Work", {"token": first})
        side_id = demo.add_credential("notion", "Side", {"token": second})
        token, token_id = demo.create_token("python-client-tests", ["CREDENTIALS_RESOLVE"])
        yield Env(server, demo, admin, first, second, work_id, side_id, token, token_id)
    finally:
        server.stop()
