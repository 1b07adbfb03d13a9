"""nginx ``auth_request`` in front of a service, asking a real ``portcullis serve``.

Driven by curl: every token form, a personal token of each scope, a revoked one, an
expired one, a missing tag, no token. Skips, saying why, where nginx is not installed
(scripts/test installs Debian's package when run as root).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from portcullis.config import Settings
from tests.processes import ServeProcess, portcullis_env, run_cli
from tests.production.nginx import NGINX, EchoUpstream, Nginx, curl
from tests.support import PASSWORD
from tests.tokens import expire_token

pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (apt-get install nginx)"
)

ANN = "ann@example.org"


@dataclass
class Gateway:
    url: str
    portcullis: str
    env: dict[str, str]
    settings: Settings

    def cli(self, *args: str, stdin: str = "") -> str:
        done = run_cli(self.env, *args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def personal_token(self, scope: str) -> tuple[str, str]:
        """The id and token of a new personal token of Ann's."""
        first, token = self.cli("token", "create", ANN, "--name", scope, "--scope", scope).split(
            "\n"
        )[:2]
        return first.split("\t")[0], token

    def session(self) -> str:
        status, _, body = curl(
            f"{self.portcullis}/auth/login",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps({"login": ANN, "password": PASSWORD}),
        )
        assert status == 200, body
        return str(json.loads(body)["sessid"])

    def get(self, path: str, *args: str) -> tuple[int, dict[str, str], str]:
        return curl(f"{self.url}{path}", *args)


@pytest.fixture
def gateway(tmp_path: Path, database_url: str) -> Iterator[Gateway]:
    env = portcullis_env(
        tmp_path / "data",
        database_url=database_url,
        gateway_rules=json.dumps({"/private/": ["S-SECRET"]}),
    )
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", database_url=database_url)
    upstream = EchoUpstream()
    serve = ServeProcess(env)
    nginx = Nginx(tmp_path / "nginx", serve.port, upstream.port)
    gateway = Gateway(nginx.url, serve.url, env, settings)
    gateway.cli("user", "add", ANN, "--username", "ann", "--password-stdin", stdin=PASSWORD + "\n")
    gateway.cli("user", "grant", ANN, "S-BSST1")
    try:
        yield gateway
    finally:
        nginx.stop()
        serve.stop()
        upstream.stop()


def seen_by_upstream(body: str) -> dict[str, str]:
    return dict(json.loads(body))


def test_every_token_form_reaches_the_service_with_the_identity(gateway: Gateway) -> None:
    token = gateway.session()
    forms = {
        "X-Session-Token": ["-H", f"X-Session-Token: {token}"],
        "Authorization: Token": ["-H", f"Authorization: Token {token}"],
        "Authorization: Bearer": ["-H", f"Authorization: Bearer {token}"],
        "BIOSTDSESS cookie": ["-b", f"BIOSTDSESS-PROD={token}"],
        "pages' cookie": ["-b", f"portcullis-session={token}"],
        "Auth-Token and User": ["-H", f"Auth-Token: {token}", "-H", "User: ann"],
    }
    for form, args in forms.items():
        status, _, body = gateway.get("/files/a", *args)
        assert status == 200, form
        seen = seen_by_upstream(body)
        assert (seen["email"], seen["username"], seen["allow"]) == (ANN, "ann", "S-BSST1"), form
        assert seen["token-kind"] == "session" and seen["path"] == "/files/a", form
    status, _, body = gateway.get(f"/files/a?BIOSTDSESS={token}")
    assert status == 200 and seen_by_upstream(body)["email"] == ANN


def test_a_client_cannot_forge_the_identity_headers(gateway: Gateway) -> None:
    token = gateway.session()
    forged = ["-H", "X-Portcullis-Email: root@example.org", "-H", "X-Portcullis-Superuser: true"]
    assert gateway.get("/files/a", *forged)[0] == 401
    status, _, body = gateway.get("/files/a", "-H", f"X-Session-Token: {token}", *forged)
    assert status == 200
    assert (seen_by_upstream(body)["email"], seen_by_upstream(body)["superuser"]) == (ANN, "false")


def test_personal_tokens_of_each_scope_pass(gateway: Gateway) -> None:
    for scope in ("read", "full"):
        _, token = gateway.personal_token(scope)
        status, _, body = gateway.get("/files/a", "-H", f"Authorization: Bearer {token}")
        assert status == 200, scope
        assert seen_by_upstream(body)["token-kind"] == "personal"


def test_revoked_and_expired_tokens_are_401(gateway: Gateway) -> None:
    revoked_id, revoked = gateway.personal_token("read")
    expired_id, expired = gateway.personal_token("read")
    assert gateway.get("/files/a", "-H", f"Authorization: Bearer {revoked}")[0] == 200
    gateway.cli("token", "revoke", ANN, revoked_id)
    expire_token(gateway.settings, expired_id)
    for token in (revoked, expired):
        status, headers, _ = gateway.get("/files/a", "-H", f"Authorization: Bearer {token}")
        assert status == 401
        assert headers["www-authenticate"].startswith("Bearer")


def test_a_missing_tag_is_403(gateway: Gateway) -> None:
    token = ["-H", f"X-Session-Token: {gateway.session()}"]
    assert gateway.get("/tagged/a", *token)[0] == 200  # ?allow=S-BSST1, which Ann holds
    assert gateway.get("/private/a", *token)[0] == 403  # the rule asks for S-SECRET
    assert gateway.get("/files/../private/a", "--path-as-is", *token)[0] == 403


def test_no_token_is_401(gateway: Gateway) -> None:
    status, headers, _ = gateway.get("/files/a")
    assert status == 401
    assert headers["www-authenticate"] == 'Bearer realm="portcullis"'
