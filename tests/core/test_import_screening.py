"""Which source rows may come in, decided from the source alone: every reason, by name."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from portcullis.core.imports import ImportedAccount, ImportSummary, screened
from portcullis.core.models import AccountStatus

BASE = ImportedAccount(
    source_ref="",
    email="",
    username=None,
    full_name=" Name ",
    password_hash="legacy-sha1$00",
    status=AccountStatus.ACTIVE,
    created_at=datetime(2020, 1, 1, tzinfo=UTC),
)


def rows(*specs: tuple[str, str | None]) -> list[ImportedAccount]:
    return [
        replace(BASE, source_ref=f"s:{n}", email=email, username=username)
        for n, (email, username) in enumerate(specs)
    ]


def reasons(accounts: list[ImportedAccount]) -> tuple[dict[str, str], list[ImportedAccount]]:
    summary = ImportSummary(source="s")
    kept = screened(accounts, summary)
    return dict(summary.refusals), kept


def test_each_member_of_a_clash_is_skipped_by_its_reason() -> None:
    refused, kept = reasons(
        rows(
            ("ok@example.org", "ok"),
            ("same@example.org", None),
            ("same@example.org", None),
            ("Case@example.org", None),
            ("case@example.org", None),
            ("one@example.org", "Ann"),
            ("two@example.org", "ANN"),
            ("no address", None),
        )
    )
    assert refused == {
        "s:1": "email_duplicate_in_source",
        "s:2": "email_duplicate_in_source",
        "s:3": "email_differs_by_case",
        "s:4": "email_differs_by_case",
        "s:5": "username_clashes_when_case_folded",
        "s:6": "username_clashes_when_case_folded",
        "s:7": "invalid_email",
    }
    assert [a.source_ref for a in kept] == ["s:0"]


def test_the_outcome_does_not_depend_on_the_order() -> None:
    accounts = rows(("a@example.org", "x"), ("b@example.org", "X"), ("c@example.org", None))
    assert reasons(accounts)[0] == reasons(accounts[::-1])[0]


def test_kept_rows_are_tidied_and_noted() -> None:
    account = replace(
        BASE,
        source_ref="s:1",
        email=" Mixed@Example.ORG ",
        username="ada@work",
        orcid="not-an-orcid",
        password_hash=None,
    )
    summary = ImportSummary(source="s")
    [kept] = screened([account], summary)
    assert kept.email == "mixed@example.org"
    assert kept.username is None and kept.orcid is None
    assert kept.full_name == "Name" and kept.secret
    assert summary.notes == {
        "username_not_kept": 1,
        "orcid_not_kept": 1,
        "must_set_password_by_mail": 1,
    }


def test_a_row_the_reader_refused_keeps_its_reason() -> None:
    refused, kept = reasons(
        [replace(BASE, source_ref="s:1", email="x@example.org", refused="system_account")]
    )
    assert refused == {"s:1": "system_account"} and kept == []


def test_values_longer_than_their_columns_are_refused_alone() -> None:
    long_secret = replace(BASE, source_ref="s:1", email="a@example.org", secret="x" * 65)
    long_hash = replace(BASE, source_ref="s:2", email="b@example.org", password_hash="h" * 256)
    refused, kept = reasons([long_secret, long_hash])
    assert kept == []
    assert refused == {"s:1": "secret_too_long", "s:2": "password_hash_too_long"}
