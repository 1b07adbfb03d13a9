"""schemathesis against the live service on each engine: generated from /openapi.json.

No 5xx, every answer as the document describes it (status, body schema, headers):
each operation alone, and (stateful, by the document's links) signing in, then the
profile and signing out with the token the sign-in gave.
Cases per operation are set so that both engines together run over 10,000; the runs
are derandomized (the same cases each run, so CI is stable) without an example store.
"""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from portcullis.http.contract.document import operation_id
from tests.conftest import MakeServer, SettingsFactory
from tests.http.fuzzing import HOLDER, ROOT
from tests.http.test_fuzz import HIGH_LIMITS
from tests.support import PASSWORD, RunningServer, add_account

# 70 operations on each of two engines; 95 cases each is 13,300 cases.
OPERATIONS = 70
CASES_PER_OPERATION = 95
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def derandomized(**size: Any) -> settings:
    """The same cases each run (CI stays stable), without an example store."""
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        **size,
    )


def signed_in_headers(server: RunningServer) -> dict[str, str]:
    """A superuser's fresh session, in the headers of both dialects."""
    with server.client() as client:
        answer = client.post("/auth/login", json={"login": ROOT, "password": PASSWORD})
    token = answer.json()["sessid"]
    return {"X-Session-Token": token, "Authorization": f"Token {token}"}


def run_operation(operation: Any, signed_in: dict[str, str]) -> int:
    """Send the operation's generated cases, every other one signed in (a superuser, so
    the admin views answer too); how many were sent. Raises at the first failure."""
    sent = 0

    @given(case=operation.as_strategy())
    @settings(
        derandomized(max_examples=CASES_PER_OPERATION),
        print_blob=False,
    )
    def cases(case: schemathesis.Case) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate(checks=CHECKS, headers=signed_in if sent % 2 else None)

    cases()
    return sent


def test_every_answer_is_as_documented(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    server = make_server(settings_for(api_docs=True, access_log=False, **HIGH_LIMITS))
    add_account(server.settings, ROOT, superuser=True)
    add_account(server.settings, HOLDER)
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    failures: list[str] = []
    sent = 0
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        try:
            sent += run_operation(operation, signed_in_headers(server))
        except Exception as failure:  # every operation's first failure, then all at once
            failures.append(f"{operation.label}: {failure}")
    assert not failures, "\n\n".join(failures)
    assert len(operations) == OPERATIONS
    assert sent >= CASES_PER_OPERATION * OPERATIONS * 0.9  # some cases are skipped as dupes


# The chains the document's links make: sign in, the profile, sign out, in each dialect.
# Registration cannot be chained to activation: the key arrives only by mail.
SIGN_IN_CHAINS = [
    ("POST", "/auth/login"),
    ("GET", "/auth/profile"),
    ("POST", "/auth/logout"),
    ("GET", "/api/login"),
    ("GET", "/api/user"),
    ("POST", "/api/logout"),
]
# Small: some 200 calls an engine (about 10 s), of which a dozen reach a profile signed in.
SCENARIOS = 30
STEPS_PER_SCENARIO = 6


def test_signing_in_leads_to_the_profile_and_out(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    server = make_server(settings_for(api_docs=True, access_log=False, **HIGH_LIMITS))
    add_account(server.settings, HOLDER, username="holder")
    basic = "Basic " + base64.b64encode(f"holder:{PASSWORD}".encode()).decode()
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json").include(
        operation_id=[operation_id(method, path) for method, path in SIGN_IN_CHAINS]
    )
    answered: Counter[tuple[str, int]] = Counter()

    class SignInChains(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case) -> None:
            # Generated credentials name no account: each sign-in is the holder's, so
            # that the links carry a live token on.
            if case.path == "/auth/login":
                case.body = {"login": HOLDER, "password": PASSWORD}
            elif case.path == "/api/login":
                case.headers = {**(case.headers or {}), "Authorization": basic}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            answered[(case.path, response.status_code)] += 1

        def validate_response(
            self, response: Any, case: schemathesis.Case, *args: Any, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS)

    SignInChains.run(
        settings=derandomized(max_examples=SCENARIOS, stateful_step_count=STEPS_PER_SCENARIO)
    )
    # Each step reached with a live token, not only refused: the links carried it on.
    for _, path in SIGN_IN_CHAINS:
        assert answered[(path, 200)] > 0, answered
