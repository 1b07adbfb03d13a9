"""What a client can make us store: one plain e-mail address, and text within its limits.

Each entry point that stores or mails an address, in each dialect that has one (the
BioStudies API, the pages, the CLI; the Track Hub Registry dialect only signs in), on
SQLite and PostgreSQL, with the raw bytes on the wire.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import MakeServer, SettingsFactory
from tests.processes import portcullis_env, run_cli
from tests.support import PASSWORD, RunningServer, add_account, free_socket, login
from tests.web.conftest import submit

# Each was taken as an address before, and is read by mail software as something else:
# several addresses, a comment, a quoted or bracketed part, a group, a display name.
SPECIAL_ADDRESSES = [
    "a,b@example.org",
    "a(b@example.org",
    "a;b@example.org",
    '"ab"@example.org',
    "g:a@example.org;",
    "a@example.org,",
    "a@example.org,b@example.org",
    "Jo<a@example.org>",
    "<a@example.org>",
    "a@[127.0.0.1]",
    "a..b@example.org",
    ".a@example.org",
]
LINK = {"instanceKey": "default", "path": "activate"}
NEW = {"name": "Jo Smith", "email": "jo@example.org", "password": PASSWORD, **LINK}
# Cc (C0, DEL, C1: BEL, ESC, NEL, CSI) and the line and paragraph separators.
CONTROL_TEXTS = [
    "Jo\u0007",
    "Jo\u007f",
    "Jo\u0085Smith",
    "Jo\u001b[31mSmith",
    "Jo\u009b",
    "Jo\u2028x",
]


# Many refusals from one address in a test: the rate limits are not what is tested here.
OPEN_LIMITS = {
    f"rate_limit_{rule}": "10000/minute"
    for rule in ("login", "register", "mail", "key", "reset_per_account")
}


@pytest.fixture
def server(settings_for: SettingsFactory, make_server: MakeServer) -> RunningServer:
    return make_server(settings_for(**OPEN_LIMITS))


@pytest.fixture
def site(settings_for: SettingsFactory, make_server: MakeServer) -> RunningServer:
    """The pages, with their own loopback address as the public URL."""
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    return make_server(settings_for(public_url=url, cookie_secure=False, **OPEN_LIMITS), sock)


def problems(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["status"] == "FAIL"
    return [node["message"] for node in body["log"]["subnodes"]]


def raw_json(client: httpx.Client, path: str, fields: dict[str, Any], **options: Any) -> Any:
    """POST ``fields`` as UTF-8 JSON bytes, characters unescaped (as a client may send them)."""
    body = orjson.dumps(fields)
    headers = {"Content-Type": "application/json", **options.pop("headers", {})}
    return client.post(path, content=body, headers=headers, **options)


class TestSpecialAddresses:
    def test_refused_by_every_biostudies_call_that_stores_or_mails(
        self, server: RunningServer
    ) -> None:
        add_account(server.settings, "root@example.org", superuser=True)
        with server.client() as client:
            root = {"X-Session-Token": login(client, "root@example.org")}
            for address in SPECIAL_ADDRESSES:
                calls = [
                    raw_json(client, "/auth/register", {**NEW, "email": address}),
                    raw_json(client, "/auth/password/reset", {"email": address, **LINK}),
                    raw_json(client, "/auth/retryact", {"email": address, **LINK}),
                    raw_json(client, "/auth/activate", {"email": address, **LINK}),
                    raw_json(
                        client,
                        "/auth/check-registration",
                        {"userEmail": address, "userName": "Jo"},
                        headers=root,
                    ),
                ]
                for answer in calls:
                    assert problems(answer) == ["The provided email is not valid"], address
            assert server.mails() == []
            plain = raw_json(client, "/auth/register", {**NEW, "email": "Jo.O-Neil+x@Example.ORG"})
        assert plain.status_code == 201, plain.text
        server.wait_for_mail("jo.o-neil+x@example.org", "Activation")  # lower-cased, as today

    def test_refused_by_the_register_and_forgot_pages(self, site: RunningServer) -> None:
        with site.client() as client:
            for address in SPECIAL_ADDRESSES:
                registered = submit(
                    client, "/account/register", name="Jo", email=address, password=PASSWORD
                )
                forgot = submit(client, "/account/password/forgot", email=address)
                for answer in (registered, forgot):
                    assert answer.status_code == 400, address
                    assert "The provided email is not valid" in answer.text, address
        assert site.mails() == []

    def test_refused_by_user_add(self, tmp_path: Path, database_url: str) -> None:
        env = portcullis_env(tmp_path / "data", database_url=database_url)
        for address in SPECIAL_ADDRESSES[:4]:  # a process each: a few stand for the rest
            added = run_cli(env, "user", "add", address, "--password-stdin", stdin=PASSWORD)
            assert added.returncode == 1, address
            assert added.stderr == "error: The provided email is not valid\n", address


class TestControlCharacters:
    def test_refused_in_a_registered_name_and_orcid(self, server: RunningServer) -> None:
        with server.client() as client:
            for name in CONTROL_TEXTS:
                answer = raw_json(client, "/auth/register", {**NEW, "name": name})
                assert problems(answer) == [
                    "The name must be at most 255 characters, without control ones"
                ], repr(name)
            # "$" in a pattern also matches before a final line feed.
            orcid = raw_json(client, "/auth/register", {**NEW, "orcid": "0000-0002-1825-0097\n"})
            assert problems(orcid) == ["The provided ORCID is not valid"]
            # Format characters are not controls: ZWNJ spells Persian and Hindi names.
            zwnj = raw_json(client, "/auth/register", {**NEW, "name": "Mohammad\u200cReza"})
        assert zwnj.status_code == 201, zwnj.text

    def test_refused_in_a_name_on_the_register_page(self, site: RunningServer) -> None:
        with site.client() as client:
            page = client.get("/account/register")
            csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            # Raw form bytes: U+0085 (NEL) as its UTF-8 bytes, percent-encoded.
            body = (
                f"csrf_token={csrf}&email=jo%40example.org&password={PASSWORD.replace(' ', '+')}"
                "&name=Jo%C2%85Smith"
            ).encode()
            answer = client.post(
                "/account/register",
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert answer.status_code == 400
        assert "without control ones" in answer.text


class TestCheckRegistration:
    """A superuser's call that makes a pending account: ``userName`` becomes its full name."""

    def test_a_name_too_long_or_with_controls_is_a_400(self, server: RunningServer) -> None:
        # Before: 300 characters were a 500 on PostgreSQL (its log held the new secret),
        # and SQLite stored whatever came.
        add_account(server.settings, "root@example.org", superuser=True)
        with server.client() as client:
            root = {"X-Session-Token": login(client, "root@example.org")}

            def check(user_name: str) -> httpx.Response:
                fields = {"userEmail": "new@example.org", "userName": user_name}
                return raw_json(client, "/auth/check-registration", fields, headers=root)

            for user_name in ["x" * 256, "x" * 300, *CONTROL_TEXTS]:
                assert problems(check(user_name)) == [
                    "The name must be at most 255 characters, without control ones"
                ], repr(user_name)
            stored = check("y" * 255)  # the column's size
        assert stored.status_code == 200, stored.text
        assert stored.json()["fullName"] == "y" * 255


class TestCliUsernames:
    def test_a_username_with_a_final_line_feed_is_refused(
        self, tmp_path: Path, database_url: str
    ) -> None:
        env = portcullis_env(tmp_path / "data", database_url=database_url)
        for username, name in (("alice\n", "Alice"), ("alice", "Alice\u0085")):
            added = run_cli(
                env,
                "user",
                "add",
                "a@example.org",
                "--username",
                username,
                "--name",
                name,
                "--password-stdin",
                stdin=PASSWORD,
            )
            assert added.returncode == 1, (username, name)
            assert added.stderr.startswith("error: The "), added.stderr
