"""What the fuzzer (test_fuzz.py) sends, and what it demands of every answer.

Requests: every routed path (taken from the app's router), its methods and others,
headers of every kind a client sends (tokens, cookies huge or garbled, Origin), and
bodies as JSON of odd types, forms and multipart with declared charsets, lone
surrogates and bad UTF-8 as raw bytes. Answers: below 500, no traceback or exception
class name, and in the dialect of the path.
"""

from __future__ import annotations

import base64
import json
import operator
import re
from dataclasses import dataclass, field
from urllib.parse import quote_from_bytes

import httpx
from hypothesis import strategies as st
from starlette.routing import Mount, Route

from tests.support import PASSWORD, RunningServer
from tests.web.conftest import csrf_of

APP = "https://app.example.org"
HOLDER, ROOT, VICTIM = "holder@example.org", "root@example.org", "victim@example.org"
FIELDS = [
    "login", "password", "email", "username", "name", "instanceKey", "path", "userEmail",
    "userName", "sessid", "activationKey", "orcid", "notificationsEnabled",
    "recaptcha2-response", "csrf_token", "current_password", "new_password",
    "g-recaptcha-response", "done", "user", "since", "limit", "BIOSTDSESS",
    # The Track Hub Registry's account API.
    "password2", "first_name", "last_name", "affiliation", "check_interval",
    "continuous_alert", "old_password", "new_password1", "new_password2",
    "new_password_confirm", "uidb64", "token",
]  # fmt: skip
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CHARSETS = [
    "utf-8", "UTF8", "us-ascii", "latin-1", "punycode", "utf-7", "unicode_escape", "idna",
    "rot13", "utf-16", "utf-32", "no-such", '"utf-8"', "",
]  # fmt: skip
BOUNDARY = "fuzz-boundary"
CONTENT_TYPES = [
    "application/json", "application/json; charset=utf-16", "APPLICATION/JSON",
    "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin-1",
    f"multipart/form-data; boundary={BOUNDARY}", "multipart/form-data",
    f"multipart/form-data; boundary={BOUNDARY}; charset=utf-7", "multipart/form-data; boundary=",
    "text/plain", "text/plain; charset=utf-8", "", "*/*", "application/json; boundary=;;;",
]  # fmt: skip


def exception_names() -> re.Pattern[str]:
    """Every exception class loaded (builtins, Starlette, SQLAlchemy, asyncpg, ours ...)."""
    names, waiting = set(), [BaseException]
    while waiting:
        cls = waiting.pop()
        waiting.extend(cls.__subclasses__())
        if cls.__name__.endswith(("Error", "Exception", "Warning")) and len(cls.__name__) > 7:
            names.add(cls.__name__)
    return re.compile(r"Traceback|\b(?:" + "|".join(sorted(map(re.escape, names))) + r")\b")


# --- what a request is made of ---------------------------------------------------------

# Printable ASCII and the upper half, so a header value is legal on the wire (obs-text).
header_bytes = st.binary(max_size=60).map(
    lambda b: bytes(c for c in b if 0x20 < c < 0x7F or c >= 0x80) or b"x"
)
odd_text = st.one_of(
    st.text(max_size=40),
    # Long text, made cheaply: the size matters here, not the variety.
    st.builds(
        operator.mul, st.sampled_from(["a", "é", "😀", "\u0301", "@"]), st.integers(250, 3000)
    ),
    st.sampled_from(["\ud800", "a\udfffb", "\x00", "\u202e", "x" * 5000, "é", "\ufeff"]),
)
raw_text = st.one_of(
    odd_text.map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=60),
    st.sampled_from([b"\xed\xa0\x80", b"\xff\xfe", b"\xc0\xaf", b"+2AA-", b"\\ud800"]),
)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False),
        odd_text,
        st.sampled_from([ROOT, VICTIM, "default", "activate", "true"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), odd_text), children, max_size=4),
    ),
    max_leaves=8,
)
field_names = st.one_of(st.sampled_from(FIELDS), odd_text)


def escaped(raw: bytes) -> str:
    return quote_from_bytes(raw, safe="")


@st.composite
def bodies(draw: st.DrawFn, tokens: Tokens) -> bytes:
    fields = draw(st.dictionaries(field_names, raw_text, max_size=5))
    if draw(st.booleans()):
        fields["csrf_token"] = tokens.csrf_token.encode()  # the pages' handlers run too
    kind = draw(st.sampled_from(["none", "json", "form", "multipart", "raw"]))
    if kind == "json":
        value = draw(
            st.one_of(json_values, st.just({k: v.decode("latin-1") for k, v in fields.items()}))
        )
        return json.dumps(value, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if kind == "form":
        pairs = [
            f"{escaped(k.encode('utf-8', 'surrogatepass'))}={escaped(v)}" for k, v in fields.items()
        ]
        return "&".join(pairs).encode()
    if kind == "multipart":
        parts = []
        for name, value in fields.items():
            head = f'Content-Disposition: form-data; name="{name}"'.encode("utf-8", "surrogatepass")
            charset = draw(st.sampled_from([None, *CHARSETS]))
            if charset is not None:
                head += f"\r\nContent-Type: text/plain; charset={charset}".encode()
            parts.append(b"--" + BOUNDARY.encode() + b"\r\n" + head + b"\r\n\r\n" + value + b"\r\n")
        return b"".join(parts) + b"--" + BOUNDARY.encode() + b"--\r\n"
    if kind == "raw":
        return draw(raw_text)
    return b""


@dataclass
class Tokens:
    """Sessions the requests may carry; renewed now and then, as a request may end them."""

    server: RunningServer
    api: dict[str, str] = field(default_factory=dict)
    page_cookies: dict[str, str] = field(default_factory=dict)
    csrf_token: str = ""

    def page_cookie_header(self) -> bytes:
        return "; ".join(f"{k}={v}" for k, v in self.page_cookies.items()).encode()

    def renew(self, client: httpx.Client) -> None:
        for who in (HOLDER, ROOT):
            answer = client.post("/auth/login", json={"login": who, "password": PASSWORD})
            if answer.status_code == 200:
                self.api[who] = answer.json()["sessid"]
        with self.server.client() as browser:
            self.csrf_token = csrf_of(browser.get("/account/signin"))
            browser.post(
                "/account/signin",
                data={"csrf_token": self.csrf_token, "login": HOLDER, "password": PASSWORD},
            )
            self.page_cookies = dict(browser.cookies)


def header_choices(tokens: Tokens, cookie_name: str) -> dict[str, st.SearchStrategy[bytes | None]]:
    def maybe(*values: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes | None]:
        return st.one_of(st.none(), *values)

    # Looked up when drawn: the sessions are renewed during the run.
    token = st.sampled_from([HOLDER, ROOT]).map(lambda who: tokens.api.get(who, "-").encode())
    page = st.just(None).map(lambda _: tokens.page_cookie_header())
    basic = st.tuples(raw_text, raw_text).map(
        lambda up: b"Basic " + base64.b64encode(up[0] + b":" + up[1])
    )
    return {
        "content-type": maybe(st.sampled_from(CONTENT_TYPES).map(str.encode), header_bytes),
        "x-session-token": maybe(token, header_bytes),
        "cookie": maybe(
            token.map(lambda t: cookie_name.encode() + b"=" + t),
            page,
            header_bytes,
            st.just(cookie_name.encode() + b"=" + b"x" * 6000),
            st.just(b'a="\\377\\000"; ' + cookie_name.encode() + b'="\\ud800"'),
        ),
        "origin": maybe(
            st.sampled_from([tokens.server.url, APP, "https://evil.example", "null"]).map(
                str.encode
            ),
            header_bytes,
        ),
        "sec-fetch-site": maybe(st.sampled_from([b"same-origin", b"none", b"cross-site"])),
        "authorization": maybe(basic, token.map(lambda t: b"Token " + t), header_bytes),
        "auth-token": maybe(token, header_bytes),
        "auth_token": maybe(token, header_bytes),
        "user": maybe(st.sampled_from([HOLDER.encode()]), header_bytes),
        "user-agent": maybe(header_bytes),
        "access-control-request-method": maybe(st.sampled_from([b"POST", b"PATCH"])),
        "x-forwarded-for": maybe(header_bytes),
    }


def route_templates(server: RunningServer) -> list[tuple[str, list[str]]]:
    """Each path the router serves, ``{name}`` where a parameter goes, and its methods."""
    found: list[tuple[str, list[str]]] = []
    for route in server.app.routes:
        if isinstance(route, Route):
            found.append((route.path, sorted(route.methods or ["GET"])))
        elif isinstance(route, Mount):
            found.append((route.path + "/{path}", ["GET", "HEAD"]))
    return found


# Short in the URL (a long one is the body's business, and costs httpx dearly to parse).
short_raw = st.one_of(
    st.binary(max_size=30),
    st.text(max_size=20).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"\xed\xa0\x80", b"\xff\xfe", b"\xc0\xaf", b"\x00", b"+2AA-"]),
)
segments = st.one_of(
    st.sampled_from([ROOT, VICTIM, "some-id", "portcullis.css", "..", "%2e%2e"]),
    short_raw.map(escaped),
)
queries = st.lists(
    st.tuples(st.sampled_from(FIELDS), short_raw.map(escaped)),
    max_size=3,
)


# Each generated body and set of headers goes to this many routes: drawing them costs
# Hypothesis more than sending them costs the server.
TARGETS_PER_EXAMPLE = 3


@st.composite
def requests(
    draw: st.DrawFn,
    templates: list[tuple[str, list[str]]],
    tokens: Tokens,
    headers: st.SearchStrategy[dict[str, bytes | None]],
) -> list[httpx.Request]:
    present = [(name, value) for name, value in draw(headers).items() if value is not None]
    body = draw(bodies(tokens))
    made = []
    for _ in range(TARGETS_PER_EXAMPLE):
        template, methods = draw(st.sampled_from(templates))
        path = re.sub(r"\{[^}]+\}", lambda _: draw(segments), template)
        path += draw(st.sampled_from(["", "", "", "/", "/x"]))
        query = draw(queries)
        if query:
            path += "?" + "&".join(f"{k}={v}" for k, v in query)
        method = draw(st.one_of(st.sampled_from(methods), st.sampled_from(METHODS)))
        url = tokens.server.url + path
        made.append(httpx.Request(method, url, headers=present, content=body))
    return made


# --- what every answer must be ---------------------------------------------------------


def is_trackhub_error(body: object) -> bool:
    """``{"error": "..."}``, a 401's ``detail`` beside it, or REST framework's field errors
    (each field a list of messages; the reset's ``{"error": ["..."]}`` is one of those)."""
    if not isinstance(body, dict) or not body:
        return False
    if set(body) in ({"error"}, {"detail", "error"}) and all(
        isinstance(v, str) for v in body.values()
    ):
        return True
    return all(
        isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages)
        for messages in body.values()
    )


def check(request: httpx.Request, answer: httpx.Response, exception_names: re.Pattern[str]) -> None:
    path = request.url.path
    shown = (
        f"{request.method} {request.url.raw_path!r} -> {answer.status_code} {answer.text[:300]!r}"
    )
    assert answer.status_code < 500, shown
    found = exception_names.search(answer.text)
    assert found is None, (found.group(0), shown)
    assert "://" not in answer.headers.get("location", ""), shown
    content_type = answer.headers.get("content-type", "")
    is_preflight_ok = request.method == "OPTIONS" and answer.status_code == 200
    if path == "/account" or path.startswith("/account/"):
        if answer.status_code >= 400:
            assert content_type.startswith("text/html"), shown
        return
    if answer.status_code < 400:
        if path in ("/", "/favicon.ico"):  # for browsers: a redirect to the pages, an icon
            return
        if answer.content and not is_preflight_ok:
            json.loads(answer.content)
        return
    assert content_type.startswith("application/json"), shown
    if request.method == "HEAD":
        return
    body = answer.json()
    if path.startswith("/api/"):
        assert is_trackhub_error(body), shown
    else:
        assert body["status"] == "FAIL" and body["log"]["level"] == "ERROR", shown
        assert isinstance(body["log"]["message"], str), shown
