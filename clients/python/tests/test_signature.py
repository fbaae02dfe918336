"""The signed sync-request verifier (docs/mcp-sync.md) and the idempotency guard."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

import credledger_client
from credledger_client import (
    IdempotencyGuard,
    InvalidSignature,
    StaleTimestamp,
    compute_signature,
    dedupe_key,
    sign_request,
    verify_signature,
)
from credledger_client import signature as signature_module

SECRET = "whsec_test_secret"
OLD_SECRET = "whsec_previous_secret"
NOW = 1_795_500_000
BODY = json.dumps(
    {
        "user_id": "alice",
        "service_type": "notion",
        "credential_name": "Work",
        "credential_data": {"token": "ntn_demo_acme_workspace_0001"},
        "account_identifier": "ada@acme.example",
        "is_primary": True,
        "ledger_version": 7,
        "event_id": "keyring/alice:notion/7",
    },
    separators=(",", ":"),
).encode()


def signed(secret=SECRET, *, body=BODY, method="POST", path="/credentials", ts=NOW):
    return sign_request(secret, body=body, method=method, path=path, timestamp=ts)


def verify(headers, *, secrets=SECRET, body=BODY, method="POST", path="/credentials", now=NOW, **kw):
    verify_signature(
        secrets,
        timestamp=headers.get("Credledger-Timestamp"),
        signature=headers.get("Credledger-Signature"),
        body=body,
        method=method,
        path=path,
        now=now,
        **kw,
    )


# --- known answers, computed with `openssl dgst -sha256 -hmac` (another implementation) --------


def test_known_answer_matches_openssl():
    body = b'{"user_id":"alice","service_type":"notion"}'
    assert (
        compute_signature(SECRET, timestamp="1795500000", body=body, method="POST", path="/credentials")
        == "d962d75176499a9309559d41f75e6625d9ec5f5eb15912171da29f19aca4e759"
    )
    assert (
        compute_signature(SECRET, timestamp="1795500000", body=b"", method="DELETE", path="/credentials/cred-123")
        == "c2c9dda4879955fc62cd83bec7c6f93782f23a2c9dcb5e606cd96ee8495a9216"
    )


def test_the_documented_test_vectors_hold():
    """docs/mcp-sync.md's table, which the Rust signer checks too
    (`credledger_adapters::mcp::signing`): both implementations agree on it."""
    for method, path, body, expected in [
        (
            "PUT",
            "/credentials/mcp-42",
            b'{"user_id":"alice","service_type":"notion"}',
            "b62212547d21b9af02eda35e7f9e9d92276d3e5b615b535a69dfa7c878607f46",
        ),
        ("DELETE", "/credentials/mcp-42", b"", "e6d8122ae0ef932a217243bcc0422f22e6850cf58af8c177fff8c7f9cb4b7385"),
    ]:
        signature = compute_signature("whsec_test_vector", timestamp="1795500000", body=body, method=method, path=path)
        assert signature == expected, (method, path)
        verify_signature(
            "whsec_test_vector",
            timestamp="1795500000",
            signature=f"v1={expected}",
            body=body,
            method=method,
            path=path,
            now=1_795_500_000,
        )


def test_message_is_timestamp_dot_body_newline_method_path():
    body = b'{"a":1}'
    message = b"1795500000." + body + b"\nPUT /credentials/c1?x=1"
    expected = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    headers = signed(body=body, method="PUT", path="/credentials/c1?x=1")
    assert headers == {"Credledger-Timestamp": "1795500000", "Credledger-Signature": f"v1={expected}"}
    verify(headers, body=body, method="PUT", path="/credentials/c1?x=1")


# --- accepted ---------------------------------------------------------------------------------


def test_accepts_a_valid_request():
    verify(signed())


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/credentials?user_id=alice&service_type=notion"), ("DELETE", "/credentials/abc")],
)
def test_accepts_bodiless_requests(method, path):
    verify(signed(body=b"", method=method, path=path), body=b"", method=method, path=path)


def test_method_case_does_not_matter_to_the_receiver():
    verify(signed(), method="post")


def test_accepts_within_the_window_on_both_sides():
    verify(signed(ts=NOW - 300))
    verify(signed(ts=NOW + 300))
    verify(signed(ts=NOW - 60), tolerance=60)


def test_accepts_bytes_headers_and_int_timestamp():
    headers = signed()
    verify_signature(
        SECRET.encode(),
        timestamp=headers["Credledger-Timestamp"].encode(),
        signature=headers["Credledger-Signature"].encode(),
        body=bytearray(BODY),
        method="POST",
        path="/credentials",
        now=NOW,
    )
    verify_signature(
        SECRET,
        timestamp=NOW,
        signature=headers["Credledger-Signature"],
        body=memoryview(BODY),
        method="POST",
        path="/credentials",
        now=NOW,
    )


def test_several_values_each_secret_verifies_its_own():
    # credledger sends one value; a tool acting as it may sign with several secrets.
    headers = signed([SECRET, OLD_SECRET])
    assert headers["Credledger-Signature"].count("v1=") == 2
    verify(headers, secrets=SECRET)
    verify(headers, secrets=[OLD_SECRET])


def test_a_receiver_moving_to_a_new_registration_accepts_both_secrets():
    verify(signed(OLD_SECRET), secrets=[SECRET, OLD_SECRET])
    verify(signed(SECRET), secrets=(s for s in [OLD_SECRET, SECRET]))


def test_ignores_unknown_schemes_beside_v1():
    headers = signed()
    headers["Credledger-Signature"] = "v2=" + "ab" * 40 + ", " + headers["Credledger-Signature"]
    verify(headers)


def test_uppercase_hex_is_the_same_signature():
    headers = signed()
    headers["Credledger-Signature"] = headers["Credledger-Signature"].upper().replace("V1=", "v1=")
    verify(headers)


# --- refused ----------------------------------------------------------------------------------


def test_rejects_a_tampered_body():
    headers = signed()
    tampered = BODY.replace(b'"is_primary":true', b'"is_primary":false')
    assert tampered != BODY
    with pytest.raises(InvalidSignature):
        verify(headers, body=tampered)
    with pytest.raises(InvalidSignature):
        verify(headers, body=BODY + b" ")
    with pytest.raises(InvalidSignature):
        verify(headers, body=b"")


def test_rejects_a_wrong_secret():
    with pytest.raises(InvalidSignature) as info:
        verify(signed("not-the-secret"))
    assert not isinstance(info.value, StaleTimestamp)
    with pytest.raises(InvalidSignature):
        verify(signed(), secrets=["other", "another"])
    # A secret that is a prefix of the real one is still another secret.
    with pytest.raises(InvalidSignature):
        verify(signed(SECRET[:-1]))


def test_rejects_a_replay_older_than_the_window():
    headers = signed(ts=NOW - 301)
    with pytest.raises(StaleTimestamp):
        verify(headers)
    # The same captured request, replayed an hour later.
    with pytest.raises(StaleTimestamp):
        verify(signed(), now=NOW + 3600)
    # StaleTimestamp is an InvalidSignature: one except clause refuses both.
    with pytest.raises(InvalidSignature):
        verify(signed(), now=NOW + 3600)


def test_rejects_a_timestamp_too_far_in_the_future():
    with pytest.raises(StaleTimestamp):
        verify(signed(ts=NOW + 301))


def test_rejects_a_new_timestamp_on_an_old_signature():
    headers = signed(ts=NOW - 3600)
    headers["Credledger-Timestamp"] = str(NOW)
    with pytest.raises(InvalidSignature):
        verify(headers)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/credentials"),
        ("DELETE", "/credentials"),
        ("POST", "/credentials/abc"),
        ("POST", "/credentials?user_id=bob"),
        ("POST", "/Credentials"),
        ("POST", "/credentials/"),
    ],
)
def test_rejects_a_signature_moved_to_another_method_or_path(method, path):
    with pytest.raises(InvalidSignature):
        verify(signed(), method=method, path=path)


def test_rejects_a_changed_query_string():
    path = "/credentials?user_id=alice&service_type=notion"
    headers = signed(body=b"", method="GET", path=path)
    with pytest.raises(InvalidSignature):
        verify(headers, body=b"", method="GET", path="/credentials?user_id=bob&service_type=notion")


@pytest.mark.parametrize("timestamp", [None, "", "abc", "1795500000.5", " 1795500000", "-5", "1e9", "١٢٣"])
def test_rejects_a_missing_or_malformed_timestamp(timestamp):
    headers = signed()
    with pytest.raises(InvalidSignature) as info:
        verify_signature(
            SECRET,
            timestamp=timestamp,
            signature=headers["Credledger-Signature"],
            body=BODY,
            method="POST",
            path="/credentials",
            now=NOW,
        )
    assert not isinstance(info.value, StaleTimestamp)


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "garbage",
        "v1=",
        "v1=zz" + "0" * 62,
        "v1=abcd",
        "v2=" + "0" * 64,
        "v1=" + "0" * 64,
        ",".join(["v1=" + "0" * 64] * 17),
    ],
)
def test_rejects_a_missing_or_malformed_signature(signature):
    with pytest.raises(InvalidSignature):
        verify({"Credledger-Timestamp": str(NOW), "Credledger-Signature": signature})


def test_compares_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signature_module.hmac, "compare_digest", spy)
    verify(signed([OLD_SECRET, SECRET]), secrets=[SECRET, OLD_SECRET])
    # Every accepted secret against every offered value, with no early exit.
    assert len(calls) == 4


def test_receiver_mistakes_are_not_refusals():
    headers = signed()
    with pytest.raises(TypeError):
        verify(headers, body=BODY.decode())
    with pytest.raises(ValueError):
        verify(headers, secrets=[])
    with pytest.raises(ValueError):
        verify(headers, secrets="")
    with pytest.raises(ValueError):
        verify(headers, path="https://mcp.example/credentials")


@pytest.mark.parametrize(
    "settings",
    [
        {"tolerance": float("nan")},
        {"tolerance": float("inf")},
        {"now": float("nan")},
        {"now": float("inf")},
        {"now": float("-inf")},
    ],
)
def test_a_window_that_bounds_nothing_is_a_receiver_mistake(settings):
    # A request signed a day ago: with NaN or infinity in the comparison it would pass.
    headers = signed(ts=NOW - 86400)
    with pytest.raises(ValueError):
        verify(headers, **{"now": NOW, **settings})


def test_the_error_never_contains_the_secret():
    with pytest.raises(InvalidSignature) as info:
        verify(signed("wrong"), secrets=SECRET)
    assert SECRET not in str(info.value)


def test_exports():
    assert credledger_client.verify_signature is verify_signature
    assert issubclass(StaleTimestamp, InvalidSignature)


# --- dedupe_key -------------------------------------------------------------------------------

EVENT_ID = json.loads(BODY)["event_id"]


@pytest.mark.parametrize("method", ["POST", "PUT", "put"])
def test_dedupe_key_of_a_write_is_its_signed_event_id(method):
    assert dedupe_key(method, BODY, EVENT_ID) == EVENT_ID
    assert dedupe_key(method, memoryview(BODY), EVENT_ID.encode()) == EVENT_ID


@pytest.mark.parametrize("header", ["keyring/alice:notion/8", "fresh-key", "", None, EVENT_ID + " "])
def test_dedupe_key_refuses_a_header_that_is_not_the_signed_event_id(header):
    # A captured PUT resent within the window under a fresh key: the signature still holds
    # (the header is not signed), so the header must not be what deduplicates it.
    headers = signed(method="PUT", path="/credentials/m-1")
    verify(headers, method="PUT", path="/credentials/m-1")
    with pytest.raises(InvalidSignature):
        dedupe_key("PUT", BODY, header)


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"event_id": 7}', b'{"event_id": ""}', b'{"user_id": "alice"}',
     json.dumps({"event_id": "x" * 513}).encode()],
)
def test_dedupe_key_refuses_a_write_without_a_usable_event_id(body):
    with pytest.raises(InvalidSignature):
        dedupe_key("POST", body, "x")


def test_dedupe_key_of_a_delete_is_its_header_apart_from_writes_and_a_get_has_none():
    path = "/credentials/m-1"
    key = dedupe_key("DELETE", b"", "cred-1@1042", path)
    assert key.startswith("DELETE ") and key.endswith(" cred-1@1042")
    assert dedupe_key("DELETE", b"", b"cred-1@1042", path) == key
    # Another record's delete under the same (unsigned) header has another key.
    assert dedupe_key("DELETE", b"", "cred-1@1042", "/credentials/m-2") != key
    with pytest.raises(TypeError):
        dedupe_key("DELETE", b"", "cred-1@1042")
    assert len(dedupe_key("DELETE", b"", "x" * 472, path)) == 512  # what the guard takes
    for header in (None, "", "x" * 473, "x" * 513):
        with pytest.raises(InvalidSignature):
            dedupe_key("DELETE", b"", header, path)
    # credledger's listing sends no key; a GET is a read, nothing to deduplicate.
    assert dedupe_key("GET", b"", None) is None
    assert dedupe_key("GET", b"", "anything") is None
    assert credledger_client.dedupe_key is dedupe_key


def test_a_delete_resent_under_a_write_s_event_id_does_not_take_that_write_s_key():
    # A captured DELETE, resent within the window with Idempotency-Key set to future event ids
    # (the header is not signed, the path and empty body are): were its key the header alone,
    # a receiver answering the repeated delete 2xx would complete each one, and the real PUT
    # carrying that event_id (a secret rotation) would be answered "applied", never applied.
    guard = IdempotencyGuard(clock=Clock())
    future = "keyring/alice:notion/8"
    verify(signed(body=b"", method="DELETE", path="/credentials/m-2"), body=b"", method="DELETE",
           path="/credentials/m-2")
    forged = dedupe_key("DELETE", b"", future, "/credentials/m-2")
    assert guard.claim(forged)
    guard.complete(forged, None)
    rotation = BODY.replace(b'"ledger_version":7', b'"ledger_version":8').replace(
        b"keyring/alice:notion/7", future.encode()
    )
    assert dedupe_key("PUT", rotation, future) == future
    assert guard.claim(dedupe_key("PUT", rotation, future))


# --- IdempotencyGuard -------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_guard_applies_a_key_once_and_answers_redeliveries():
    guard = IdempotencyGuard(ttl=60, clock=Clock())
    key = "keyring/alice:notion/7"
    assert guard.claim(key)
    assert guard.in_flight(key)
    assert not guard.claim(key)  # a concurrent redelivery
    assert guard.response(key) is None
    guard.complete(key, {"credential_id": "m-1"})
    assert not guard.in_flight(key)
    assert not guard.claim(key)
    assert guard.response(key) == {"credential_id": "m-1"}
    assert key in guard and guard.seen(key)
    assert "keyring/alice:notion/8" not in guard


def test_guard_release_lets_a_redelivery_apply():
    guard = IdempotencyGuard(clock=Clock())
    assert guard.claim("k")
    guard.release("k")
    assert not guard.seen("k")
    assert guard.claim("k")


def test_guard_forgets_after_ttl():
    clock = Clock()
    guard = IdempotencyGuard(ttl=60, clock=clock)
    guard.claim("a")
    guard.complete("a", 1)
    clock.now += 30
    guard.claim("b")
    clock.now += 31
    assert not guard.seen("a")
    assert guard.seen("b")
    assert len(guard) == 1
    assert guard.claim("a")


def test_guard_lets_a_claim_go_after_its_lease():
    # A claim whose process hung, or lost the request without releasing it: a redelivery may
    # apply it after the lease (10 minutes by default), not only after the day the answers are
    # kept.
    clock = Clock()
    guard = IdempotencyGuard(clock=clock)
    assert guard.claim("k")
    clock.now += 599
    assert guard.in_flight("k") and not guard.claim("k")
    clock.now += 2
    assert not guard.in_flight("k") and not guard.seen("k")
    assert guard.claim("k")
    guard.complete("k", {"credential_id": "m-1"})
    clock.now += 3600  # an answer is kept for the ttl, not the lease
    assert not guard.claim("k") and guard.response("k") == {"credential_id": "m-1"}

    short = IdempotencyGuard(lease=5, clock=clock)
    assert short.claim("k")
    clock.now += 6
    assert short.claim("k")
    for lease in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            IdempotencyGuard(lease=lease)


def test_guard_a_late_release_or_complete_leaves_another_request_s_claim():
    # A claims, its lease lapses, B claims again; A then fails (or ends) late. Only B's token
    # releases or completes B's claim: a third delivery is not applied while B applies.
    clock = Clock()
    guard = IdempotencyGuard(clock=clock)
    first = guard.claim("k")
    assert first
    clock.now += 601
    second = guard.claim("k")
    assert second and second != first
    guard.release("k", first)
    assert guard.in_flight("k") and not guard.claim("k")
    guard.complete("k", {"credential_id": "from-a"}, token=first)
    assert guard.in_flight("k") and not guard.claim("k")
    guard.complete("k", {"credential_id": "from-b"}, token=second)
    assert not guard.in_flight("k") and guard.response("k") == {"credential_id": "from-b"}
    # A release with B's own token lets a redelivery apply.
    third = guard.claim("j")
    guard.release("j", third)
    assert not guard.seen("j") and guard.claim("j")


@pytest.mark.parametrize("answer", [None, {}, b"", 0])
def test_guard_a_request_applied_with_an_empty_answer_is_not_in_flight(answer):
    # A DELETE answered with nothing: its redelivery is answered as applied, not 409 for a day.
    guard = IdempotencyGuard(clock=Clock())
    assert guard.claim("del-1")
    guard.complete("del-1", answer)
    assert not guard.claim("del-1")
    assert not guard.in_flight("del-1") and guard.seen("del-1")
    assert guard.response("del-1") == answer
    guard.release("del-1")  # a late release does not undo what was applied
    assert guard.seen("del-1")


def test_guard_is_bounded():
    guard = IdempotencyGuard(max_keys=3, clock=Clock())
    for key in "abcd":
        assert guard.claim(key)
    assert len(guard) == 3
    assert not guard.seen("a")
    assert guard.seen("d")


def test_guard_rejects_silly_keys():
    guard = IdempotencyGuard()
    with pytest.raises(ValueError):
        guard.claim("")
    with pytest.raises(ValueError):
        guard.claim("x" * 513)
    with pytest.raises(ValueError):
        IdempotencyGuard(ttl=0)


# --- over real HTTP ---------------------------------------------------------------------------


def test_a_receiver_over_http_verifies_and_deduplicates():
    """A stdlib HTTP receiver on loopback, as an MCP server would verify: raw body, raw path,
    writes deduplicated by `dedupe_key`, requests sent as credledger sends them (no
    Idempotency-Key on a GET)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    guard = IdempotencyGuard()
    applied: list[tuple[str, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, body):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def handle_one(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                verify_signature(
                    [SECRET, OLD_SECRET],
                    timestamp=self.headers.get("Credledger-Timestamp"),
                    signature=self.headers.get("Credledger-Signature"),
                    body=body,
                    method=self.command,
                    path=self.path,  # the request target as sent: path and query, undecoded
                )
                key = dedupe_key(self.command, body, self.headers.get("Idempotency-Key"), self.path)
            except InvalidSignature as exc:
                return self.answer(401, str(exc).encode())
            if key is None:
                return self.answer(200, b"[]")  # a listing: nothing applied
            if guard.claim(key):
                applied.append((self.command, body))
                guard.complete(key, b'{"credential_id":"m-1"}')
            self.answer(200, guard.response(key))

        do_POST = do_GET = do_DELETE = do_PUT = handle_one

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with httpx.Client(base_url=base, timeout=5) as http:

            def send(method, path, body=b"", secret=SECRET, key="keyring/alice:notion/7", **kw):
                headers = sign_request(secret, body=body, method=method, path=path, **kw)
                if key is not None:
                    headers["Idempotency-Key"] = key
                return http.request(method, path, content=body, headers=headers)

            assert send("POST", "/credentials", BODY).status_code == 200
            assert send("POST", "/credentials", BODY).status_code == 200  # redelivered
            assert applied == [("POST", BODY)]
            # Resent under a fresh key: the same signed event, not applied again; a key that
            # is not the body's event_id is refused.
            assert send("POST", "/credentials", BODY, key="fresh").status_code == 401
            assert applied == [("POST", BODY)]
            path = "/credentials?user_id=al%20ice&service_type=notion"
            assert send("GET", path, key=None).status_code == 200  # credledger sends no key
            assert send("DELETE", "/credentials/m-1", secret=OLD_SECRET, key="del-1").status_code == 200
            assert send("DELETE", "/credentials/m-1", key="del-1").status_code == 200
            assert send("POST", "/credentials", BODY, secret="wrong", key="k2").status_code == 401
            assert send("POST", "/credentials", BODY, key="k3", timestamp=1).status_code == 401
            headers = sign_request(SECRET, body=BODY, method="POST", path="/credentials")
            headers["Idempotency-Key"] = "keyring/alice:notion/7"
            tampered = http.post("/credentials", content=BODY.replace(b"alice", b"mallory"), headers=headers)
            assert tampered.status_code == 401
            assert applied == [("POST", BODY), ("DELETE", b"")]
    finally:
        server.shutdown()
        server.server_close()
