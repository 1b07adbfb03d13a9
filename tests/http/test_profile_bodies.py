"""ProfileBodies: the profile's bytes, the account's part made once, the token spliced in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import orjson

from portcullis.core.folders import Folders
from portcullis.core.models import (
    AccessType,
    Account,
    AccountStatus,
    Permission,
    StorageMode,
)
from portcullis.http.biostudies_views import ProfileBodies, profile

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
