"""The receiver in README.md ("Verifying signed sync requests"), taken from the README as
written and run with Starlette, driven by requests built as credledger builds them
(adapters/src/mcp/client.rs): a GET with no Idempotency-Key, a DELETE with no body, a POST or
PUT whose body carries the signed `event_id` and `ledger_version`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from pathlib import Path

import pytest

from credledger_client import IdempotencyGuard, sign_request

pytest.importorskip("starlette")
from starlette.exceptions import HTTPException  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

README = Path(__file__).resolve().parents[1] / "README.md"
SECRET = "whsec_readme_receiver"


def readme_receiver() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Verifying signed sync requests") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's receiver sample is gone"
    return match.group(1)


class Race:
    """Two PUTs handled at once, the worst way a store allows: outside a transaction each reads
    the version held before either writes, and the older one writes last."""

    def __init__(self, newest: int) -> None:
        self.newest = newest
        self.both_read = threading.Barrier(2, timeout=5)
        self.newest_written = threading.Event()


class Store:
    """What the README leaves to the MCP server: its copies, by id."""

    def __init__(self) -> None:
        self.copies: dict[str, dict] = {}
        self.writes: list[tuple[str, str | None, int | None]] = []
        self.fail_with: BaseException | None = None
        self.delete_gone_answers_2xx = False  # what the README advises against
        self.while_writing = None  # called as a write begins
        self.race: Race | None = None
        self._lock = threading.Lock()
        self._inside = threading.local()

    @contextlib.contextmanager
    def transaction(self):
        with self._lock:
            self._inside.yes = True
            try:
                yield
            finally:
                self._inside.yes = False

    def _racing(self) -> bool:
        return self.race is not None and not getattr(self._inside, "yes", False)

    def list_copies(self, query):
        return [
            {"credential_id": id, **copy}
            for id, copy in self.copies.items()
            if copy["user_id"] == query.get("user_id") and copy["service_type"] == query.get("service_type")
        ]

    def held_version(self, record):
        copy = self.copies.get(record)
        held = copy["ledger_version"] if copy else 0
        if self._racing():
            with contextlib.suppress(threading.BrokenBarrierError):
                self.race.both_read.wait()
        return held

    def write(self, method, record, change):
        if self._racing() and method == "PUT" and change["ledger_version"] < self.race.newest:
            self.race.newest_written.wait(timeout=5)
        if self.while_writing is not None:
            self.while_writing()
        if self.fail_with is not None:
            raise self.fail_with
        self.writes.append((method, record, change and change["ledger_version"]))
        if method == "POST":
            record = f"m-{len(self.copies) + 1}"
            self.copies[record] = change
            return {"credential_id": record}
        if record not in self.copies:
            if method == "DELETE" and self.delete_gone_answers_2xx:
                return None
            raise HTTPException(404)
        if method == "PUT":
            self.copies[record] = change
            if self.race is not None and change["ledger_version"] == self.race.newest:
                self.race.newest_written.set()
            return {"credential_id": record}
        del self.copies[record]
        return None  # a DELETE answers nothing


def receiver(monkeypatch, store):
    """A fresh process running the README's receiver: its own guard."""
    monkeypatch.setenv("SYNC_SECRET", SECRET)
    monkeypatch.delenv("SYNC_SECRET_OLD", raising=False)
    namespace = {
        "list_copies": store.list_copies,
        "held_version": store.held_version,
        "write": store.write,
        "transaction": store.transaction,
    }
    exec(compile(readme_receiver(), str(README), "exec"), namespace)
    return namespace


def change(version, event_id=None, *, name="Work", token=None):
    return {
        "user_id": "alice",
        "service_type": "notion",
        "credential_name": name,
        "credential_data": {"token": token or f"ntn_secret_v{version}"},
        "account_identifier": "ada@acme.example",
        "is_primary": True,
        "ledger_version": version,
        "event_id": event_id or f"cred-1@{1000 + version}",
    }


def as_credledger(method, path, body=None):
    """The headers and body credledger sends (adapters/src/mcp/client.rs `send`)."""
    raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    headers = sign_request(SECRET, body=raw, method=method, path=path)
    if method != "GET":  # a change: POST, PUT, DELETE
        headers["Idempotency-Key"] = body["event_id"] if body else f"cred-1@del-{path}"
        headers["Credledger-Ledger-Version"] = str(body["ledger_version"] if body else 9)
    if body is not None:
        headers["Content-Type"] = "application/json"
    return raw, headers


def send(client, method, path, body=None, **override):
    raw, headers = as_credledger(method, path, body)
    headers.update(override)
    return client.request(method, path, content=raw, headers=headers)


@pytest.fixture
def store():
    return Store()


@pytest.fixture
def client(monkeypatch, store):
    with TestClient(receiver(monkeypatch, store)["app"], base_url="http://mcp.test") as client:
        yield client


def test_the_readme_receiver_applies_a_create_once_and_answers_its_redelivery_as_before(client, store):
    first = send(client, "POST", "/credentials", change(7))
    assert first.status_code == 200 and first.json() == {"credential_id": "m-1"}
    again = send(client, "POST", "/credentials", change(7))
    assert again.status_code == 200 and again.json() == {"credential_id": "m-1"}
    assert store.writes == [("POST", None, 7)]


def test_the_readme_receiver_answers_a_listing_and_a_delete_as_credledger_sends_them(client, store):
    send(client, "POST", "/credentials", change(7))
    # credledger's listing: a GET with a query, no body, no Idempotency-Key.
    listed = send(client, "GET", "/credentials?user_id=alice&service_type=notion")
    assert listed.status_code == 200, listed.text
    assert [copy["credential_id"] for copy in listed.json()] == ["m-1"]
    # A DELETE: no body, an Idempotency-Key.
    deleted = send(client, "DELETE", "/credentials/m-1")
    assert deleted.status_code == 200, deleted.text
    # Redelivered (its answer was lost): answered as applied, not "in progress".
    assert send(client, "DELETE", "/credentials/m-1").status_code == 200
    assert store.copies == {}
    assert store.writes == [("POST", None, 7), ("DELETE", "m-1", None)]


def test_the_readme_receiver_does_not_apply_a_put_resent_under_a_fresh_key(monkeypatch, client, store):
    send(client, "POST", "/credentials", change(6))
    old = change(7)
    assert send(client, "PUT", "/credentials/m-1", old).status_code == 200
    assert send(client, "PUT", "/credentials/m-1", change(8)).status_code == 200
    # An attacker who captured the PUT of version 7 resends it within the window: the
    # signature holds; only the unsigned Idempotency-Key is new.
    resent = send(client, "PUT", "/credentials/m-1", old, **{"Idempotency-Key": "fresh-key"})
    assert resent.status_code == 401
    # Resent with its own key: applied once already, answered as the first time, not applied.
    assert send(client, "PUT", "/credentials/m-1", old).status_code == 200
    # The latest one redelivered: answered as before, not applied again.
    assert send(client, "PUT", "/credentials/m-1", change(8)).status_code == 200
    assert store.copies["m-1"]["ledger_version"] == 8
    # A process that does not remember the keys (restarted) still refuses the older version,
    # and applies the latest again (the same version: a redelivery it cannot tell).
    restart = receiver(monkeypatch, store)
    with TestClient(restart["app"], base_url="http://mcp.test") as restarted:
        for _ in range(2):  # its key released: refused again, not "in progress"
            refused = send(restarted, "PUT", "/credentials/m-1", old)
            assert refused.status_code == 409 and refused.json() == {"error": "older than the copy held"}
        assert not restart["guard"].seen(old["event_id"])
        assert send(restarted, "PUT", "/credentials/m-1", change(8)).status_code == 200
    assert store.copies["m-1"]["credential_data"] == {"token": "ntn_secret_v8"}
    assert [w for w in store.writes if w[0] == "PUT"] == [("PUT", "m-1", 7), ("PUT", "m-1", 8), ("PUT", "m-1", 8)]


def test_a_delete_resent_under_a_put_s_event_id_does_not_stop_that_put(client, store):
    # A receiver that answers a repeated delete 2xx (the README advises 404).
    store.delete_gone_answers_2xx = True
    send(client, "POST", "/credentials", change(6))
    send(client, "POST", "/credentials", change(6, "cred-2@1006"))
    captured = as_credledger("DELETE", "/credentials/m-2")
    assert client.request("DELETE", "/credentials/m-2", content=captured[0], headers=captured[1]).status_code == 200
    # Resent within the window with the Idempotency-Key (not signed) set to cred-1's coming
    # event ids: each is answered 2xx, a delete of a copy gone already.
    for future in ("cred-1@1007", "cred-1@1008"):
        raw, headers = captured
        resent = client.request("DELETE", "/credentials/m-2", content=raw, headers={**headers, "Idempotency-Key": future})
        assert resent.status_code == 200
    # The rotation credledger sends next is applied, not answered "applied" from the guard.
    assert send(client, "PUT", "/credentials/m-1", change(8)).status_code == 200
    assert store.copies["m-1"]["credential_data"] == {"token": "ntn_secret_v8"}


def test_a_delete_resent_under_another_records_delete_key_does_not_stop_that_delete(client, store):
    # A receiver that answers a repeated delete 2xx (the README advises 404).
    store.delete_gone_answers_2xx = True
    send(client, "POST", "/credentials", change(6))
    send(client, "POST", "/credentials", change(6, "cred-2@1006"))
    captured = as_credledger("DELETE", "/credentials/m-2")
    assert client.request("DELETE", "/credentials/m-2", content=captured[0], headers=captured[1]).status_code == 200
    # Resent within the window under the key credledger will give m-1's delete (a revocation):
    # answered 2xx, a delete of a copy gone already.
    revocation = "cred-1@1009"
    raw, headers = captured
    resent = client.request("DELETE", "/credentials/m-2", content=raw, headers={**headers, "Idempotency-Key": revocation})
    assert resent.status_code == 200
    # credledger's delete of m-1 under that key deletes it, not answered "applied" from the guard.
    assert send(client, "DELETE", "/credentials/m-1", **{"Idempotency-Key": revocation}).status_code == 200
    assert "m-1" not in store.copies


def http_request(method, path, body=b"", headers=(), chunks=None, path_params=None):
    """A Starlette request for the handler itself, and the count of body reads it made."""
    reads = []
    parts = list(chunks if chunks is not None else [body])

    async def receive():
        reads.append(1)
        chunk = parts.pop(0) if parts else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(parts)}

    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": method,
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), str(v).encode()) for k, v in dict(headers).items()],
        "path_params": path_params or {},
    }
    return Request(scope, receive), reads


def test_the_readme_receiver_releases_a_key_whose_apply_was_cancelled(monkeypatch, store):
    namespace = receiver(monkeypatch, store)
    body = change(7)
    raw, headers = as_credledger("POST", "/credentials", body)
    headers["Content-Length"] = str(len(raw))
    store.fail_with = asyncio.CancelledError()
    request, _ = http_request("POST", "/credentials", raw, headers)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(namespace["credentials"](request))
    guard = namespace["guard"]
    assert not guard.in_flight(body["event_id"]) and not guard.seen(body["event_id"])
    # credledger's retry is applied, not answered "in progress".
    store.fail_with = None
    raw, headers = as_credledger("POST", "/credentials", body)
    headers["Content-Length"] = str(len(raw))
    request, _ = http_request("POST", "/credentials", raw, headers)
    answer = asyncio.run(namespace["credentials"](request))
    assert answer.status_code == 200 and json.loads(answer.body) == {"credential_id": "m-1"}


def test_the_readme_receiver_releases_its_own_claim_only(monkeypatch, store):
    namespace = receiver(monkeypatch, store)
    clock = [1000.0]
    guard = namespace["guard"] = IdempotencyGuard(clock=lambda: clock[0])
    body = change(7)
    redelivery = []

    def slow():
        clock[0] += 601  # this request's lease lapses while it writes...
        redelivery.append(guard.claim(body["event_id"]))  # ...and a redelivery claims the key

    store.while_writing, store.fail_with = slow, RuntimeError("the store went away")
    raw, headers = as_credledger("POST", "/credentials", body)
    request, _ = http_request("POST", "/credentials", raw, {**headers, "Content-Length": len(raw)})
    with pytest.raises(RuntimeError):
        asyncio.run(namespace["credentials"](request))
    # The failed request's late release left the redelivery's claim: a third is not applied.
    assert redelivery[0] and guard.in_flight(body["event_id"])
    assert not guard.claim(body["event_id"])


@pytest.mark.parametrize("first", [7, 8])
def test_the_readme_receiver_never_leaves_an_older_put_applied_over_a_newer_one(monkeypatch, store, first):
    # Two PUTs of one copy at once, older and newer (under their own keys: a late redelivery,
    # or a resend), each in its own worker thread: the older one is never written last.
    handler = receiver(monkeypatch, store)["credentials"]
    store.copies["m-1"] = change(6)
    store.race = Race(newest=8)
    answers = {}

    def put(version):
        raw, headers = as_credledger("PUT", "/credentials/m-1", change(version))
        headers["Content-Length"] = str(len(raw))
        request, _ = http_request("PUT", "/credentials/m-1", raw, headers, path_params={"id": "m-1"})
        answers[version] = asyncio.run(handler(request)).status_code

    workers = [threading.Thread(target=put, args=(version,)) for version in (first, 15 - first)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert answers[8] == 200 and answers[7] in (200, 409)
    assert store.copies["m-1"]["credential_data"] == {"token": "ntn_secret_v8"}
    assert store.writes[-1] == ("PUT", "m-1", 8)


def test_the_readme_receiver_reads_no_body_before_the_cheap_checks(monkeypatch, store):
    handler = receiver(monkeypatch, store)["credentials"]
    raw, headers = as_credledger("POST", "/credentials", change(7))

    # No timestamp: not signed, nothing read.
    unsigned = {k: v for k, v in headers.items() if k != "Credledger-Timestamp"}
    request, reads = http_request("POST", "/credentials", raw, {**unsigned, "Content-Length": len(raw)})
    assert asyncio.run(handler(request)).status_code == 401
    assert reads == []

    # A declared length past 1 MiB: refused unread.
    request, reads = http_request("POST", "/credentials", raw, {**headers, "Content-Length": 2**30})
    assert asyncio.run(handler(request)).status_code == 413
    assert reads == []
    request, reads = http_request("POST", "/credentials", raw, {**headers, "Content-Length": "-1"})
    assert asyncio.run(handler(request)).status_code == 413
    assert reads == []

    # No length declared (chunked): read up to the cap, and no further.
    endless = [b" " * 65536] * 64  # 4 MiB
    request, reads = http_request("POST", "/credentials", headers=headers, chunks=endless)
    assert asyncio.run(handler(request)).status_code == 413
    assert len(reads) <= 17
    assert store.writes == []
