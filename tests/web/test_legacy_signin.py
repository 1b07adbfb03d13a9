"""The sign-in page signs an imported account in with its old password, once verified."""

from __future__ import annotations

import hashlib

from portcullis.hashing import legacy
from tests.support import RunningServer, add_account, set_password_hash, stored_account
from tests.web.conftest import sign_in, submit


def test_an_imported_sha1_password_signs_in_and_becomes_argon2id(site: RunningServer) -> None:
    add_account(site.settings, "old@example.org")
    old = legacy.biostudies_sha1(hashlib.sha1(b"123456").digest())
    set_password_hash(site.settings, "old@example.org", old)
    with site.client() as client:
        for wrong in ("654321", old):
            answer = submit(client, "/account/signin", login="old@example.org", password=wrong)
            assert answer.status_code == 401
        sign_in(client, "old@example.org", "123456")
    assert (stored_account(site.settings, "old@example.org").password_hash or "").startswith(
        "$argon2id$"
    )
