"""The answers made once while their account (and session) stay the same: the profile's
bytes (ProfileBodies) and forward-auth's identity headers (IdentityAnswers)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import orjson
from starlette.responses import Response

from portcullis.core.folders import Folders
from portcullis.core.models import (
    AccessType,
    Account,
    AccountStatus,
    Permission,
    Session,
    StorageMode,
)
from portcullis.http.biostudies_views import ProfileBodies, profile
from portcullis.http.gateway import IdentityAnswers, identity_headers

ANN = Account(
    id=7,
    email="ann@example.org",
    username="ann",
    full_name='Ann Ünicode \u2028 "quoted"',
    orcid=None,
    secret="ab" * 16,
    status=AccountStatus.ACTIVE,
    superuser=False,
    notifications_enabled=False,
    permissions=(Permission(AccessType.READ, "S-BSST1"), Permission(AccessType.ADMIN, "X")),
    deny_tags=("S-BSST2",),
    created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    last_activity_at=None,
    storage_mode=StorageMode.FTP,
)
SESSION = Session(
    id="s-1",
    account_id=7,
    created_at=ANN.created_at,
    last_seen_at=ANN.created_at,
    expires_at=datetime(2027, 1, 1, tzinfo=UTC),
    client_address=None,
    user_agent=None,
)


def test_the_bytes_are_those_of_the_whole_profile_encoded() -> None:
    folders = Folders("/ftp")
    bodies = ProfileBodies(folders)
    for token in ("t0k\u00e9n", 'a"b', "plain"):
        for account in (ANN, replace(ANN, orcid="0000-0001", superuser=True)):
            assert bodies.of(account, token) == orjson.dumps(profile(account, token, folders))


def test_a_changed_account_is_made_anew() -> None:
    bodies = ProfileBodies(Folders())
    bodies.of(ANN, "t")
    later = replace(ANN, last_activity_at=datetime(2026, 12, 3, tzinfo=UTC))
    assert orjson.loads(bodies.of(later, "t"))["lastActivity"] == "2026-12-03T00:00:00.000000"


def test_identity_headers_are_those_made_anew_and_a_copy_each_time() -> None:
    answers = IdentityAnswers()
    fresh = Response(b"", 200, identity_headers(SESSION, ANN)).raw_headers
    first = answers.answer(SESSION, ANN)
    first.raw_headers.append((b"x-added", b"by the caller"))
    again = answers.answer(replace(SESSION), replace(ANN))  # equal, not the same objects
    assert again.raw_headers == fresh
    assert (again.status_code, again.body) == (200, b"")


def test_identity_headers_follow_a_changed_account() -> None:
    answers = IdentityAnswers()
    answers.answer(SESSION, ANN)
    granted = replace(ANN, permissions=(*ANN.permissions, Permission(AccessType.READ, "S-2")))
    headers = dict(answers.answer(SESSION, granted).raw_headers)
    assert headers[b"x-portcullis-allow"] == b"S-BSST1,S-2"
