"""Text that is not UTF-8 is refused where it is parsed: a 400 in the dialect of its path."""

from __future__ import annotations

from urllib.parse import quote_plus

import httpx
import pytest

from tests.conftest import MakeServer, SettingsFactory
from tests.support import RunningServer, add_account, free_socket
from tests.web.conftest import csrf_of

# Each turned bytes into text no database can hold, raised, or was silently read as latin-1.
ODD_CHARSETS = ["punycode", "utf-7", "unicode_escape", "idna", "rot13", "utf-16", "no-such"]
LOGIN_PATHS = ["/auth/login", "/api/login", "/account/signin"]
BOUNDARY = "Xy-boundary"
# Text beyond ASCII, to show UTF-8 still reads as it did.
UMLAUT_PASSWORD = "Grüße aus Köln, größer als acht"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture
def site(settings_for: SettingsFactory, make_server: MakeServer) -> RunningServer:
    """Its cookies are not Secure-only, so the pages' CSRF cookie travels over http."""
    sock = free_socket()
    public = f"http://127.0.0.1:{sock.getsockname()[1]}"
    return make_server(settings_for(public_url=public, cookie_secure=False), sock)


def multipart(fields: dict[str, bytes], part_charset: str | None = None) -> bytes:
    parts = []
    for name, value in fields.items():
        head = f'Content-Disposition: form-data; name="{name}"\r\n'
        if part_charset:
            head += f"Content-Type: text/plain; charset={part_charset}\r\n"
        parts.append(f"--{BOUNDARY}\r\n{head}\r\n".encode() + value + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def assert_refused_in_dialect(answer: httpx.Response) -> None:
    """Refused as the path's dialect tells errors: FAIL, ``error``, or a page."""
    path = answer.request.url.path
    assert "Traceback" not in answer.text
    if path.startswith("/account") and answer.request.method == "POST":
        # A form the pages cannot read carries no CSRF token: the "try again" page.
        assert answer.status_code == 403, (path, answer.status_code, answer.text[:300])
        assert "nothing was done" in answer.text
        return
    assert answer.status_code == 400, (path, answer.status_code, answer.text[:300])
    if path.startswith("/account"):
        assert answer.headers["content-type"].startswith("text/html")
    elif path.startswith("/api"):
        assert set(answer.json()) == {"error"}
    else:
        assert answer.json()["status"] == "FAIL"


def post(client: httpx.Client, path: str, body: bytes, content_type: str) -> httpx.Response:
    return client.post(path, content=body, headers={"Content-Type": content_type})


@pytest.mark.parametrize("path", LOGIN_PATHS)
@pytest.mark.parametrize("charset", ODD_CHARSETS)
def test_a_multipart_body_declaring_another_charset_is_400(
    site: RunningServer, path: str, charset: str
) -> None:
    server = site
    fields = {"login": b"+2AA-\\ud800xn--", "username": b"+2AA-", "password": b"x"}
    with server.client() as client:
        # A valid CSRF token, so the pages would read the rest if they read the form at all.
        fields["csrf_token"] = csrf_of(client.get("/account/signin")).encode()
        on_a_part = post(client, path, multipart(fields, charset), MULTIPART)
        on_the_body = post(client, path, multipart(fields), f"{MULTIPART}; charset={charset}")
    assert_refused_in_dialect(on_a_part)
    assert_refused_in_dialect(on_the_body)


@pytest.mark.parametrize("path", LOGIN_PATHS)
def test_bytes_that_are_not_utf8_in_a_form_are_400(server: RunningServer, path: str) -> None:
    # Percent-escapes of a lone surrogate (ED A0 80) and of a byte UTF-8 never uses (FF),
    # the same bytes raw, and raw in a multipart field.
    with server.client() as client:
        answers = [
            post(client, path, body, "application/x-www-form-urlencoded")
            for body in (
                b"login=%ED%A0%80&username=%ED%A0%80&password=x",
                b"login=%FF&username=%FF&password=x",
                b"login=\xed\xa0\x80&username=a&password=x",
            )
        ]
        raw = multipart({"login": b"\xff", "username": b"\xff", "password": b"x"})
        answers.append(post(client, path, raw, MULTIPART))
    for answer in answers:
        assert_refused_in_dialect(answer)


@pytest.mark.parametrize(
    "url",
    [
        "/auth/admin/audit?user=%ED%A0%80",
        "/auth/profile?BIOSTDSESS=%FF",  # the token check answered ahead of the stack
        "/auth/sessions/%ED%A0%80",
        "/api/login?x=%C0%AF",  # an overlong encoding of "/"
        "/account/signin?done=%FF",
        "/account/activate/%ED%A0%80",
    ],
)
def test_a_path_or_query_that_is_not_utf8_is_400(server: RunningServer, url: str) -> None:
    with server.client() as client:
        method = "DELETE" if url.startswith("/auth/sessions") else "GET"
        assert_refused_in_dialect(client.request(method, url, headers={"X-Session-Token": "t"}))


def test_utf8_forms_still_work_declared_or_not(server: RunningServer) -> None:
    add_account(server.settings, "cafe@example.org", UMLAUT_PASSWORD, username="cafe")
    fields = {"login": b"cafe@example.org", "password": UMLAUT_PASSWORD.encode()}
    with server.client() as client:
        for charset in (None, "utf-8", "UTF8", "us-ascii"):
            declared = f"{MULTIPART}; charset={charset}" if charset else MULTIPART
            answer = post(client, "/auth/login", multipart(fields, charset), declared)
            assert answer.status_code == 200, (charset, answer.text)
        form = post(
            client,
            "/api/login",
            b"username=cafe&password=" + quote_plus(UMLAUT_PASSWORD).encode(),
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        assert form.status_code == 200, form.text


def test_the_pages_read_a_utf8_multipart_form(site: RunningServer) -> None:
    add_account(site.settings, "page@example.org", UMLAUT_PASSWORD)
    with site.client() as client:
        token = csrf_of(client.get("/account/signin")).encode()
        fields = {
            "csrf_token": token,
            "login": b"page@example.org",
            "password": UMLAUT_PASSWORD.encode(),
        }
        answer = post(client, "/account/signin", multipart(fields, "utf-8"), MULTIPART)
    assert answer.status_code == 303, answer.text
