"""GET /openapi.json and /docs: a valid OpenAPI 3.1 document of every route of both dialects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from portcullis.http.biostudies import LoginBody, RegisterBody
from portcullis.http.biostudies_tokens import NewServiceBody, NewTokenBody
from portcullis.http.contract.document import REF, MissingOperation, api_routes, build
from portcullis.http.contract.openapi import PREFIXES
from portcullis.http.gateway import VERIFY_METHODS
from portcullis.http.trackhub import LoginForm
from tests.conftest import MakeServer, SettingsFactory
from tests.http.test_service_accounts import ROOT, add_service
from tests.processes import portcullis_env, run_cli
from tests.support import RunningServer, add_account, login


@pytest.fixture
def documented(settings_for: SettingsFactory, make_server: MakeServer) -> RunningServer:
    return make_server(settings_for(api_docs=True))


def document_of(server: RunningServer) -> dict[str, Any]:
    with server.client() as client:
        answer = client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    document: dict[str, Any] = answer.json()
    return document


def test_the_document_is_valid_openapi_3_1(documented: RunningServer) -> None:
    document = document_of(documented)
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_route_of_both_dialects_is_described(documented: RunningServer) -> None:
    described = {
        (method.upper(), path)
        for path, operations in document_of(documented)["paths"].items()
        for method in operations
    }
    assert described == set(api_routes(documented.app.routes, PREFIXES))
    assert ("POST", "/auth/login") in described and ("GET", "/api/login") in described


def test_a_route_without_an_operation_stops_the_build(documented: RunningServer) -> None:
    with pytest.raises(MissingOperation, match="POST /auth/login"):
        build(documented.app.routes, {}, PREFIXES, {}, {})


def test_bodies_are_the_models_the_handlers_parse(documented: RunningServer) -> None:
    schemas = document_of(documented)["components"]["schemas"]
    for model in (LoginBody, RegisterBody, LoginForm, NewTokenBody, NewServiceBody):
        own = model.model_json_schema(by_alias=True, ref_template=REF)
        for name, nested in own.pop("$defs", {}).items():
            assert schemas[name] == nested
        assert schemas[model.__name__] == own
    login = document_of(documented)["paths"]["/auth/login"]["post"]
    assert set(login["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
    }
    assert login["requestBody"]["content"]["application/json"]["example"]["login"]


def test_each_dialect_has_its_error_body_and_the_schemes(documented: RunningServer) -> None:
    document = document_of(documented)
    login = document["paths"]["/auth/login"]["post"]["responses"]
    assert login["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/Fail")
    assert "Retry-After" in login["429"]["headers"]
    trackhub = document["paths"]["/api/logout"]["post"]["responses"]
    assert trackhub["401"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/TokenRefused"
    )
    schemes = document["components"]["securitySchemes"]
    assert {"SessionToken", "SessionCookie", "Token", "Bearer", "Basic", "AuthToken"} <= set(
        schemes
    )


def test_the_gateway_is_described_as_proxies_and_back_ends_call_it(
    documented: RunningServer,
) -> None:
    paths = document_of(documented)["paths"]
    verify = paths["/auth/verify"]
    assert set(verify) == {m.lower() for m in VERIFY_METHODS} - {"head"}
    answers = verify["get"]["responses"]
    assert "X-Portcullis-User-Id" in answers["200"]["headers"] and "content" not in answers["200"]
    assert "Location" in answers["302"]["headers"]
    assert "WWW-Authenticate" in answers["401"]["headers"]
    assert {"PagesCookie": []} in verify["get"]["security"]
    introspect = paths["/auth/introspect"]["post"]
    assert set(introspect["responses"]) >= {"200", "400", "401", "403"}
    made = paths["/auth/tokens"]["post"]["responses"]["201"]["content"]["application/json"]
    assert made["schema"]["$ref"].endswith("/IssuedToken")
    service = paths["/auth/services"]["post"]["requestBody"]["content"]
    assert set(service) == {"application/json"}  # read as JSON only


def test_docs_render_from_the_package_under_the_pages_policy(documented: RunningServer) -> None:
    with documented.client() as client:
        page = client.get("/docs")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy
        assert "<script>" not in page.text  # every script is a file of our own origin
        bundle = client.get("/docs/assets/swagger-ui-bundle.js")
        assert bundle.status_code == 200 and len(bundle.content) > 100_000
        assert "/openapi.json" in client.get("/docs/start.js").text


def test_off_unless_asked_for(server: RunningServer) -> None:
    with server.client() as client:
        assert client.get("/openapi.json").status_code == 404
        assert client.get("/docs").status_code == 404


def test_the_command_prints_the_same_document(documented: RunningServer, tmp_path: Path) -> None:
    printed = run_cli(portcullis_env(tmp_path / "cli"), "openapi")
    assert printed.returncode == 0, printed.stderr
    document = json.loads(printed.stdout)
    validate(document)
    assert document["paths"].keys() == document_of(documented)["paths"].keys()


def models_validated(monkeypatch: pytest.MonkeyPatch) -> list[type[BaseModel]]:
    """Every pydantic model validated from now on, in the server's thread too."""
    validated: list[type[BaseModel]] = []
    validate = BaseModel.model_validate.__func__  # type: ignore[attr-defined]

    def recording(cls: type[BaseModel], *args: Any, **kwargs: Any) -> BaseModel:
        validated.append(cls)
        return validate(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(BaseModel, "model_validate", classmethod(recording))
    return validated


def test_each_body_is_described_by_the_model_its_handler_parses(
    documented: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by calling each route with a body of none of its fields, signed in as a
    superuser (a service for introspection): the model the document names for the body
    is one its handler validated while answering."""
    document = document_of(documented)
    add_account(documented.settings, ROOT, superuser=True)
    with documented.client() as client:
        session = login(client, ROOT)
        service = add_service(client)
    values = {"email": ROOT, "name": "ingest", "id": "none", "key": "none"}
    bodied = [
        (path, method, described["requestBody"])
        for path, operations in document["paths"].items()
        for method, described in operations.items()
        if "requestBody" in described
    ]
    # The sign-outs last: they end the session the others are sent with.
    bodied.sort(key=lambda operation: "logout" in operation[0] or "signout" in operation[0])
    validated = models_validated(monkeypatch)
    for path, method, body in bodied:
        caller = service if path == "/auth/introspect" else session
        headers = {"Authorization": f"Token {caller}", "X-Session-Token": caller}
        validated.clear()
        with documented.client() as client:
            answer = client.request(
                method, path.format(**values), json={"unknown": "field"}, headers=headers
            )
        name = body["content"]["application/json"]["schema"]["$ref"].rpartition("/")[2]
        assert name in {model.__name__ for model in validated}, (method, path, answer.text)
    assert len(bodied) > 30


def test_each_sign_in_links_to_what_its_token_opens(documented: RunningServer) -> None:
    paths = document_of(documented)["paths"]
    operations = {
        described["operationId"] for methods in paths.values() for described in methods.values()
    }
    links = {
        (path, method, name): link
        for path, methods in paths.items()
        for method, described in methods.items()
        for answer in described["responses"].values()
        for name, link in answer.get("links", {}).items()
    }
    assert {link["operationId"] for link in links.values()} <= operations
    login = links[("/auth/login", "post", "profile")]
    assert login["parameters"] == {"header.X-Session-Token": "$response.body#/sessid"}
    registry = links[("/api/login", "get", "profile")]
    assert registry["operationId"] == "get_api_user"
    assert registry["parameters"] == {"header.Authorization": "Token {$response.body#/auth_token}"}
