"""BioStudies' own clients, unchanged: the profile they decode, the calls they make.

Includes the real backend's SecurityApiTest cases (22-1, 22-2, 22-4, 22-6/7/8 and link
building) as black-box tests against a running server.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from portcullis.cli import app
from portcullis.core.errors import InvalidInput
from tests.conftest import MakeServer, SettingsFactory
from tests.http.kotlin_profile import DecodingError, decode_profile
from tests.http.test_sessions_api import cli_env
from tests.support import PASSWORD, RunningServer, add_account, fail_body, login

NEW = {"name": "Jo Smith", "email": "jo@example.org", "password": PASSWORD}
LOCAL_FRONT_END = "http://localhost:4200"
NOT_VALID = "The provided email is not valid"


def register(server: RunningServer, **fields: Any) -> Any:
    with server.client() as client:
        return client.post("/auth/register", json={**NEW, **fields})


def sign_in(server: RunningServer, who: str, password: str = PASSWORD) -> dict[str, Any]:
    with server.client() as client:
        answer = client.post("/auth/login", json={"login": who, "password": password})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def record_of(server: RunningServer, email: str) -> dict[str, Any]:
    """The check-registration record, asked by a superuser."""
    root = "root@example.org"
    with contextlib.suppress(InvalidInput):  # made by an earlier call
        add_account(server.settings, root, superuser=True)
    with server.client() as client:
        token = login(client, root)
        found = client.post(
            "/auth/check-registration",
            json={"userEmail": email, "userName": "x"},
            headers={"X-Session-Token": token},
        )
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


@pytest.fixture
def open_server(settings_for: SettingsFactory, make_server: MakeServer) -> RunningServer:
    """Accounts are active at once, as in the backend's own tests."""
    return make_server(settings_for(require_activation=False))


class TestTheDecoderItself:
    def test_refuses_what_main_used_to_send(self) -> None:
        good = {
            "sessid": "t",
            "email": "a@b.org",
            "username": None,
            "secret": "ab/cd-a1",
            "fullname": "A",
            "superuser": False,
            "allow": [],
            "deny": [],
            "orcid": "",
            "uploadType": "nfs",
            "lastActivity": "2026-12-02T03:05:49.406259",
        }
        assert decode_profile(good).username is None
        for broken in (
            {"orcid": None},
            {"lastActivity": "2026-12-02T03:05:49.406259+00:00"},
            {"uploadType": None},
        ):
            with pytest.raises(DecodingError):
                decode_profile({**good, **broken})
        missing = dict(good)
        del missing["uploadType"]
        with pytest.raises(DecodingError):
            decode_profile(missing)


class TestProfile:
    def test_login_profile_and_check_decode_as_the_kotlin_client_does(
        self, server: RunningServer
    ) -> None:
        add_account(server.settings, "plain@example.org", full_name="Plain")
        with server.client() as client:
            at_login = client.post(
                "/auth/login", json={"login": "plain@example.org", "password": PASSWORD}
            ).json()
            token = at_login["sessid"]
            read = client.get("/auth/profile", headers={"X-Session-Token": token}).json()
            checked = client.get("/auth/check", headers={"X-Session-Token": token})
            anonymous = client.get("/auth/check")
        for body in (at_login, read, checked.json()):
            profile = decode_profile(body)
            assert profile.username is None  # never the e-mail
            assert profile.orcid == ""
            assert body["aux"] == {"orcid": ""}
            assert profile.upload_type == "nfs"
        assert checked.status_code == 200
        assert anonymous.status_code == 401
        assert anonymous.json()["status"] == "FAIL"

    def test_username_and_orcid_when_there_are_some(self, open_server: RunningServer) -> None:
        add_account(open_server.settings, "named@example.org", username="named")
        assert decode_profile(sign_in(open_server, "named")).username == "named"
        register(open_server, orcid="0000-0002-1825-0097")
        body = sign_in(open_server, "jo@example.org")
        assert decode_profile(body).orcid == "0000-0002-1825-0097"
        assert body["aux"] == {"orcid": "0000-0002-1825-0097"}

    def test_secret_is_the_users_folder_from_a_uuid_and_the_id(
        self, open_server: RunningServer
    ) -> None:
        register(open_server)
        profile = decode_profile(sign_in(open_server, "jo@example.org"))
        record = record_of(open_server, "jo@example.org")
        secret = record["secret"]
        uuid.UUID(secret)  # raises unless the stored secret is a UUID
        folder = f"{secret[:2]}/{secret[2:]}-a{record['id']}"
        assert profile.secret == folder
        assert record["userFolder"] == {"relativePath": folder, "path": folder, "type": "NFS"}

    def test_ftp_users_folder_is_under_the_ftp_root(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        server = make_server(settings_for(require_activation=False, ftp_root="/ftp/users/"))
        register(server, storageMode="FTP")
        profile = decode_profile(sign_in(server, "jo@example.org"))
        record = record_of(server, "jo@example.org")
        relative = record["userFolder"]["relativePath"]
        assert profile.secret == f"/ftp/users/{relative}"
        assert record["userFolder"] == {
            "relativePath": relative,
            "path": f"/ftp/users/{relative}",
            "type": "FTP",
        }

    def test_last_activity_is_utc_without_offset_with_microseconds(
        self, server: RunningServer
    ) -> None:
        add_account(server.settings, "plain@example.org")
        with server.client() as client:
            token = login(client, "plain@example.org")
            texts = [
                client.post(
                    "/auth/login", json={"login": "plain@example.org", "password": PASSWORD}
                ).json()["lastActivity"],
                client.get("/auth/profile", headers={"X-Session-Token": token}).json()[
                    "lastActivity"
                ],
            ]
        for text in texts:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", text), text


class TestRegistration:
    """The backend's SecurityApiTest cases, black-box."""

    @pytest.mark.parametrize(
        "fields",
        [
            {"instanceKey": None, "path": None},  # activation on: both also missing
            {"instanceKey": "default", "path": "activate", "name": None},  # name missing
            {},
        ],
    )
    def test_22_1_an_invalid_email_is_named_whatever_else_is_missing(
        self, server: RunningServer, fields: dict[str, Any]
    ) -> None:
        answer = register(server, email="not an address", **fields)
        assert answer.status_code == 400
        body = answer.json()
        assert body["log"]["message"] == "Form Validation Errors"
        assert NOT_VALID in [node["message"] for node in body["log"]["subnodes"]]

    def test_22_1_without_activation_too(self, open_server: RunningServer) -> None:
        answer = register(open_server, email="not an address", instanceKey=None, path=None)
        assert answer.status_code == 400
        assert answer.json() == fail_body("Form Validation Errors", NOT_VALID)

    def test_22_2_register_without_activation_then_log_in(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        server = make_server(settings_for(require_activation=False, dev_instances=True))
        answer = register(server, instanceKey=LOCAL_FRONT_END, path="/activate", storageMode="NFS")
        assert answer.status_code == 201, answer.text
        with server.client() as client:
            signed_in = client.post(
                "/auth/signin", json={"login": "jo@example.org", "password": PASSWORD}
            )
        assert signed_in.status_code == 200
        assert decode_profile(signed_in.json()).email == "jo@example.org"
        assert server.mails() == []

    @pytest.mark.parametrize("fields", [{"instanceKey": None, "path": None}, {}])
    def test_instance_key_and_path_may_be_null_or_absent_without_activation(
        self, open_server: RunningServer, fields: dict[str, Any]
    ) -> None:
        assert register(open_server, **fields).status_code == 201
        assert sign_in(open_server, "jo@example.org")["email"] == "jo@example.org"

    def test_instance_key_and_path_are_required_with_activation(
        self, server: RunningServer
    ) -> None:
        answer = register(server, instanceKey=None)
        assert answer.status_code == 400
        problems = [node["message"] for node in answer.json()["log"]["subnodes"]]
        assert any("instanceKey" in p and "path" in p for p in problems), problems
        assert server.mails() == []

    def test_22_4_email_is_stored_and_returned_lower_case(self, open_server: RunningServer) -> None:
        answer = register(
            open_server, email="Case-Insensitive@mail.org", instanceKey=None, path=None
        )
        assert answer.status_code == 201
        assert sign_in(open_server, "Case-Insensitive@mail.org")["email"] == (
            "case-insensitive@mail.org"
        )
        assert record_of(open_server, "CASE-insensitive@mail.org")["email"] == (
            "case-insensitive@mail.org"
        )

    @pytest.mark.parametrize(
        ("sent", "upload_type"), [("FTP", "ftp"), ("NFS", "nfs"), (None, "nfs")]
    )
    def test_22_6_7_8_upload_type_follows_the_storage_mode(
        self, open_server: RunningServer, sent: str | None, upload_type: str
    ) -> None:
        fields = {"storageMode": sent} if sent else {}
        assert register(open_server, **fields).status_code == 201
        before = datetime.now(UTC).replace(tzinfo=None)
        profile = decode_profile(sign_in(open_server, "jo@example.org"))
        assert profile.upload_type == upload_type
        # Stored in whole seconds: within a second of the sign-in.
        assert abs(profile.last_activity - before) < timedelta(seconds=1.5)

    def test_the_default_storage_mode_is_a_setting(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        server = make_server(settings_for(require_activation=False, default_storage_mode="ftp"))
        register(server)
        assert decode_profile(sign_in(server, "jo@example.org")).upload_type == "ftp"

    def test_an_unknown_storage_mode_is_400(self, open_server: RunningServer) -> None:
        answer = register(open_server, storageMode="S3")
        assert answer.status_code == 400
        assert answer.json()["status"] == "FAIL"


class TestLinks:
    @pytest.mark.parametrize("path", ["/x/y", "/x/y/", "x/y"])
    def test_every_path_form_gives_base_path_key(
        self, settings_for: SettingsFactory, make_server: MakeServer, path: str
    ) -> None:
        server = make_server(settings_for(dev_instances=True))
        assert register(server, instanceKey=f"{LOCAL_FRONT_END}/", path=path).status_code == 201
        mail = server.wait_for_mail("jo@example.org", "Activation")
        assert mail.link == f"{LOCAL_FRONT_END}/x/y/{mail.key}"

    def test_a_local_address_is_refused_unless_development_instances_are_on(
        self, server: RunningServer
    ) -> None:
        answer = register(server, instanceKey=LOCAL_FRONT_END, path="activate")
        assert answer.status_code == 400
        assert answer.json() == fail_body("The provided instance key is not valid.")
        assert server.mails() == []

    @pytest.mark.parametrize(
        "key",
        [
            "https://custom-server",
            "http://localhost.example.com",
            "http://localhost@example.com",
            "http://127.0.0.1.example.com",
            "https://127.0.0.1",
            "ftp://localhost",
            "http://localhost:4200/?next=https://example.com",
            "http://localhost:notaport",
        ],
    )
    def test_only_this_machines_addresses_are_development_instances(
        self, settings_for: SettingsFactory, make_server: MakeServer, key: str
    ) -> None:
        server = make_server(settings_for(dev_instances=True))
        answer = register(server, instanceKey=key, path="activate")
        assert answer.status_code == 400, key
        assert server.mails() == []

    @pytest.mark.parametrize("key", ["http://127.0.0.1:8080", "https://localhost"])
    def test_local_addresses_that_are_development_instances(
        self, settings_for: SettingsFactory, make_server: MakeServer, key: str
    ) -> None:
        server = make_server(settings_for(dev_instances=True))
        assert register(server, instanceKey=key, path="activate").status_code == 201
        mail = server.wait_for_mail("jo@example.org", "Activation")
        assert mail.link == f"{key}/activate/{mail.key}"


class TestPasswordSetup:
    def test_a_setup_key_sets_the_password_and_activates(self, server: RunningServer) -> None:
        add_account(server.settings, "setup@example.org", password=None, active=False)
        with server.client() as client:
            client.post(
                "/auth/activate",
                json={"email": "setup@example.org", "instanceKey": "default", "path": "x"},
            )
            key = server.wait_for_mail("setup@example.org", "Password Setup").key
            answer = client.post(
                "/auth/password/setup", json={"activationKey": key, "password": PASSWORD}
            )
            again = client.post(
                "/auth/password/setup", json={"activationKey": key, "password": PASSWORD}
            )
        assert answer.status_code == 200, answer.text
        assert set(answer.json()) == {
            "id",
            "email",
            "secretKey",
            "fullName",
            "notificationsEnabled",
        }
        assert answer.json()["email"] == "setup@example.org"
        assert sign_in(server, "setup@example.org")["email"] == "setup@example.org"
        assert again.status_code == 400
        assert again.json()["status"] == "FAIL"

    def test_an_activation_key_works_too(self, server: RunningServer) -> None:
        register(server, instanceKey="default", path="activate")
        key = server.wait_for_mail("jo@example.org", "Activation").key
        new_password = "another sturdy passphrase"
        with server.client() as client:
            answer = client.post(
                "/auth/password/setup",
                json={"activationKey": key, "password": new_password, "recaptcha2-response": ""},
            )
        assert answer.status_code == 200, answer.text
        assert sign_in(server, "jo@example.org", new_password)["email"] == "jo@example.org"

    def test_a_reset_key_of_an_active_account_is_refused(self, server: RunningServer) -> None:
        add_account(server.settings, "active@example.org")
        with server.client() as client:
            client.post(
                "/auth/password/reset",
                json={"email": "active@example.org", "instanceKey": "default", "path": "r"},
            )
            key = server.wait_for_mail("active@example.org", "Reset").key
            answer = client.post(
                "/auth/password/setup", json={"activationKey": key, "password": "x" * 20}
            )
        assert answer.status_code == 400
        assert sign_in(server, "active@example.org")  # the old password still works

    def test_setting_up_voids_the_accounts_reset_keys(self, server: RunningServer) -> None:
        add_account(server.settings, "setup@example.org", password=None, active=False)
        with server.client() as client:
            client.post(
                "/auth/password/reset",
                json={"email": "setup@example.org", "instanceKey": "default", "path": "r"},
            )
            reset_key = server.wait_for_mail("setup@example.org", "Reset").key
            client.post(
                "/auth/activate",
                json={"email": "setup@example.org", "instanceKey": "default", "path": "x"},
            )
            setup_key = server.wait_for_mail("setup@example.org", "Password Setup").key
            set_up = client.post(
                "/auth/password/setup", json={"activationKey": setup_key, "password": PASSWORD}
            )
            reset = client.post(
                "/auth/password/change",
                json={"activationKey": reset_key, "password": "a password set over it"},
            )
        assert set_up.status_code == 200, set_up.text
        assert reset.status_code == 400  # the reset key died with the password change
        assert sign_in(server, "setup@example.org")["email"] == "setup@example.org"

    @pytest.mark.parametrize(
        "body", [{}, {"activationKey": 5, "password": "p"}, {"activationKey": "k"}]
    )
    def test_bad_bodies_are_400(self, server: RunningServer, body: dict[str, Any]) -> None:
        with server.client() as client:
            answer = client.post("/auth/password/setup", json=body)
        assert answer.status_code == 400
        assert answer.json()["status"] == "FAIL"


class TestTokenInTheBody:
    def test_a_biostdsess_form_field_carries_the_token(self, server: RunningServer) -> None:
        add_account(server.settings, "root@example.org", superuser=True)
        with server.client() as client:
            token = login(client, "root@example.org")
            found = client.post(
                "/auth/check-registration",
                data={"userEmail": "root@example.org", "userName": "x", "BIOSTDSESS": token},
            )
            assert found.status_code == 200, found.text
            assert found.json()["email"] == "root@example.org"
            ended = client.post("/auth/logout", data={"BIOSTDSESS": token})
            assert ended.status_code == 200
            after = client.get("/auth/profile", headers={"X-Session-Token": token})
        assert after.status_code == 401

    def test_the_header_comes_first(self, server: RunningServer) -> None:
        add_account(server.settings, "root@example.org", superuser=True)
        with server.client() as client:
            token = login(client, "root@example.org")
            answer = client.post(
                "/auth/check-registration",
                data={"userEmail": "root@example.org", "userName": "x", "BIOSTDSESS": token},
                headers={"X-Session-Token": "not a token"},
            )
        assert answer.status_code == 401

    def test_a_form_that_is_not_utf8_carries_no_token(self, server: RunningServer) -> None:
        add_account(server.settings, "root@example.org", superuser=True)
        with server.client() as client:
            token = login(client, "root@example.org")
            answer = client.post(
                "/auth/logout/all",
                content=f"BIOSTDSESS={token}&name=%FF".encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            after = client.get("/auth/profile", headers={"X-Session-Token": token})
        assert answer.status_code == 401
        assert after.status_code == 200  # nothing was ended

    def test_a_json_body_is_no_form(self, server: RunningServer) -> None:
        add_account(server.settings, "root@example.org", superuser=True)
        with server.client() as client:
            token = login(client, "root@example.org")
            answer = client.post("/auth/logout/all", json={"BIOSTDSESS": token})
            after = client.get("/auth/profile", headers={"X-Session-Token": token})
        assert answer.status_code == 401
        assert after.status_code == 200


def test_the_cli_sets_the_storage_mode(server: RunningServer) -> None:
    runner = CliRunner(env=cli_env(server.settings))
    made = runner.invoke(
        app,
        ["user", "add", "ftp@example.org", "--storage-mode", "ftp", "--password-stdin"],
        input=f"{PASSWORD}\n",
    )
    assert made.exit_code == 0, made.output
    assert decode_profile(sign_in(server, "ftp@example.org")).upload_type == "ftp"
