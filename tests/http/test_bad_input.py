"""Whatever a client sends, the answer is a deliberate 4xx in the dialect's own format."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from portcullis.config import Settings
from tests.conftest import SettingsFactory
from tests.support import PASSWORD, RunningServer, add_account, login

JSON = {"Content-Type": "application/json"}


def assert_fail(answer: object, status: int) -> dict[str, object]:
    import httpx

    assert isinstance(answer, httpx.Response)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["status"] == "FAIL"
    assert body["log"]["level"] == "ERROR"
    assert isinstance(body["log"]["message"], str)
    return dict(body["log"])


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"login": "a", "password": }',
        b"[1, 2, 3]",
        b'"just a string"',
        b"null",
        b"\xff\xfe\x00garbage",
        b'{"login": "\xff\xff", "password": "x"}',
        b"login=&&&===",
    ],
)
def test_malformed_bodies_are_400(server: RunningServer, body: bytes) -> None:
    with server.client() as client:
        answer = client.post("/auth/login", content=body, headers=JSON)
    log = assert_fail(answer, 400)
    assert log["message"] == "Form Validation Errors"
    assert log["subnodes"]


def test_missing_and_mistyped_fields_each_get_a_subnode(server: RunningServer) -> None:
    with server.client() as client:
        answer = client.post("/auth/login", json={"login": 42})
    log = assert_fail(answer, 400)
    messages = [node["message"] for node in log["subnodes"]]  # type: ignore[attr-defined]
    assert len(messages) == 2
    assert any(m.startswith("login") for m in messages)
    assert any(m.startswith("password") for m in messages)


def test_register_reports_every_problem(server: RunningServer) -> None:
    with server.client() as client:
        answer = client.post(
            "/auth/register",
            json={"email": "not-an-address", "password": 5, "instanceKey": [], "name": "x"},
        )
    log = assert_fail(answer, 400)
    messages = " | ".join(n["message"] for n in log["subnodes"])  # type: ignore[attr-defined]
    for field in ("password", "instanceKey", "path"):
        assert field in messages


def test_absurdly_long_values_are_400(server: RunningServer) -> None:
    with server.client() as client:
        answer = client.post(
            "/auth/password/reset",
            json={"email": "a" * 100_000 + "@example.org", "instanceKey": "default", "path": "p"},
        )
    assert_fail(answer, 400)


def test_form_fields_are_accepted_too(server: RunningServer) -> None:
    add_account(server.settings, "form@example.org")
    with server.client() as client:
        answer = client.post(
            "/auth/login", data={"login": "form@example.org", "password": PASSWORD}
        )
    assert answer.status_code == 200


@pytest.fixture
def small_limit_server(settings_for: SettingsFactory, make_server) -> Iterator[RunningServer]:  # type: ignore[no-untyped-def]
    yield make_server(settings_for(max_body_bytes=1024))


@pytest.mark.parametrize("path", ["/auth/login", "/api/login"])
def test_declared_oversized_body_is_413(small_limit_server: RunningServer, path: str) -> None:
    with small_limit_server.client() as client:
        answer = client.post(path, content=b"x" * 5000, headers=JSON)
    assert answer.status_code == 413
    if path.startswith("/auth"):
        assert_fail(answer, 413)
    else:
        assert "error" in answer.json()


def test_streamed_oversized_body_is_413(small_limit_server: RunningServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(50):
            yield b"x" * 512

    with small_limit_server.client() as client:
        answer = client.post("/auth/login", content=chunks(), headers=JSON)
    assert_fail(answer, 413)


def test_body_under_the_limit_still_works(small_limit_server: RunningServer) -> None:
    add_account(small_limit_server.settings, "small@example.org")
    with small_limit_server.client() as client:
        assert login(client, "small@example.org")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/auth/nowhere", 404), ("GET", "/auth/login", 405), ("DELETE", "/auth/profile", 405)],
)
def test_unknown_routes_and_methods_answer_in_fail_format(
    server: RunningServer, method: str, path: str, status: int
) -> None:
    with server.client() as client:
        assert_fail(client.request(method, path), status)


def test_trackhub_unknown_route_answers_with_error_key(server: RunningServer) -> None:
    with server.client() as client:
        answer = client.get("/api/nowhere")
    assert answer.status_code == 404
    assert set(answer.json()) == {"error"}


def test_no_answer_ever_carries_a_stack_trace(server: RunningServer, settings: Settings) -> None:
    nasty = [b"\x00" * 100, b'{"login": {"$ne": 1}, "password": {"$gt": ""}}', b"{" * 10_000]
    with server.client() as client:
        for body in nasty:
            answer = client.post("/auth/login", content=body, headers=JSON)
            assert answer.status_code in (400, 401)
            assert "Traceback" not in answer.text


NUL = "a\x00b"  # PostgreSQL's text cannot hold it; every route refuses it alike


def test_null_characters_in_bodies_paths_and_queries_are_400(
    server: RunningServer, settings: Settings
) -> None:
    add_account(settings, "nul@example.org")
    add_account(settings, "root@example.org", superuser=True)
    with server.client() as client:
        user = {"X-Session-Token": login(client, "nul@example.org")}
        admin = {"X-Session-Token": login(client, "root@example.org")}
        answers = [
            client.post("/auth/login", json={"login": NUL, "password": "x"}),
            client.post("/auth/login", json={"login": "nul@example.org", "password": NUL}),
            client.post("/auth/login", data={"login": NUL, "password": "x"}),
            client.post(
                "/auth/password/reset", json={"email": NUL, "instanceKey": "default", "path": "/"}
            ),
            client.post(
                "/auth/check-registration", json={"userEmail": NUL, "userName": NUL}, headers=admin
            ),
            client.delete("/auth/sessions/a%00b", headers=user),
            client.get("/auth/admin/users/a%00b/sessions", headers=admin),
            client.post("/auth/admin/users/a%00b/logout-all", headers=admin),
            client.get("/auth/admin/audit?user=a%00b", headers=admin),
            # The token check is answered ahead of the stack, but not past this refusal.
            client.get("/auth/profile?BIOSTDSESS=a%00b"),
            client.get("/auth/profile?x=%00", headers=user),
            # Nested deeper than Python's recursion limit, as deep as JSON parsing allows.
            client.post(
                "/auth/login",
                content=b'{"login": ' + b"[" * 1020 + b'"\\u0000"' + b"]" * 1020 + b"}",
                headers=JSON,
            ),
        ]
        for answer in answers:
            log = assert_fail(answer, 400)
            assert log["subnodes"] == [
                {"level": "ERROR", "message": "Null characters are not allowed.", "subnodes": []}
            ], answer.request.url
        # Nothing was stored or broken on the way: the account signs in as before.
        assert login(client, "nul@example.org")


def test_null_characters_at_the_trackhub_login(server: RunningServer, settings: Settings) -> None:
    add_account(settings, "thr-nul@example.org", username="thrnul")
    basic_nul = base64.b64encode(b"thr\x00nul:" + PASSWORD.encode()).decode()
    with server.client() as client:
        form = client.post("/api/login", data={"username": NUL, "password": PASSWORD})
        assert (form.status_code, form.json()) == (
            400,
            {"error": "Null characters are not allowed."},
        )
        basic = client.get("/api/login", headers={"Authorization": f"Basic {basic_nul}"})
        assert basic.status_code == 401 and set(basic.json()) == {"error"}
        query = client.get("/api/logout?auth_token=a%00b")
        assert query.status_code == 400
        good = client.post("/api/login", data={"username": "thrnul", "password": PASSWORD})
        assert good.status_code == 200


@pytest.mark.parametrize("limit", ["\u00b2", "\u0663", "0", "-1", "1.5", "", "1001", "9" * 30])
def test_an_audit_limit_that_is_not_a_positive_whole_number_is_400(
    server: RunningServer, settings: Settings, limit: str
) -> None:
    # "\u00b2" (superscript two) and "\u0663" (Arabic-Indic three) pass str.isdigit().
    add_account(settings, "root@example.org", superuser=True)
    with server.client() as client:
        root = {"X-Session-Token": login(client, "root@example.org")}
        answer = client.get("/auth/admin/audit", params={"limit": limit}, headers=root)
        log = assert_fail(answer, 400)
        assert log["subnodes"][0]["message"] == "limit: not a whole number from 1 to 1000"
        one = client.get("/auth/admin/audit", params={"limit": "1"}, headers=root)
    assert one.status_code == 200
    assert len(one.json()) == 1


@pytest.mark.parametrize(
    "body", [b'{"login": "a", "password": "\\ud800"}', b'{"login": "a", ', b"  [1, "]
)
def test_broken_json_labelled_a_form_is_named_broken_json(
    server: RunningServer, body: bytes
) -> None:
    # curl -d labels JSON a form; JSON that does not parse is not read as a form instead.
    with server.client() as client:
        answer = client.post(
            "/auth/login",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    log = assert_fail(answer, 400)
    [problem] = log["subnodes"]
    assert str(problem["message"]).startswith("The request body is not valid JSON: ")


@pytest.mark.parametrize("path", ["x#frag", "x?y=<script>", "a b", "../../x", "a/../b", "ok/%2F"])
def test_a_link_path_that_is_not_a_plain_path_is_400_for_any_address(
    server: RunningServer, settings: Settings, path: str
) -> None:
    # The key is appended to the path: it must not land in a fragment or a query string.
    add_account(settings, "known@example.org")
    link = {"instanceKey": "default", "path": path}
    with server.client() as client:
        for email in ("known@example.org", "unknown@example.org"):
            answer = client.post("/auth/password/reset", json={"email": email, **link})
            log = assert_fail(answer, 400)
            assert log["subnodes"][0]["message"] == (
                "path: only letters, digits and - . _ ~ / are allowed, and no '..'"
            )
    assert server.mails() == []
