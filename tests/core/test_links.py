"""Mailed links: a base and a path, or a front end's template; and the instances setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from portcullis.config import Settings
from portcullis.core.errors import UnknownInstance
from portcullis.core.keys import Links
from portcullis.core.models import LinkTarget
from portcullis.core.tokens import Hasher

RESET = "https://thr.example/reset_password?uidb64={uid}&token={key}"


def test_a_base_takes_the_path_and_the_key() -> None:
    links = Links({"app": "https://app.example/"})
    assert links.build(LinkTarget("app", "activate"), "K") == "https://app.example/activate/K"


def test_a_template_takes_the_key_and_the_uid_and_no_path() -> None:
    links = Links({"thr": RESET})
    built = links.build(LinkTarget("thr", "ignored"), "K-1", "U_2")
    assert built == "https://thr.example/reset_password?uidb64=U_2&token=K-1"


def test_an_unknown_instance() -> None:
    with pytest.raises(UnknownInstance):
        Links({}).build(LinkTarget("thr", ""), "K")


@pytest.mark.parametrize(
    "url",
    [
        "https://thr.example/?token={key}&x={other}",
        "https://thr.example/?uidb64={uid}",  # no key
        "https://thr.example/?token={key",
        "ftp://thr.example/?token={key}",
    ],
)
def test_only_web_templates_of_key_and_uid(url: str) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, instances={"thr": url})


def test_the_account_handle_is_opaque_stable_and_keyed() -> None:
    hasher = Hasher(b"s" * 32)
    handle = hasher.account_handle(1)
    assert handle == hasher.account_handle(1) != hasher.account_handle(2)
    assert handle != Hasher(b"t" * 32).account_handle(1)
    assert handle != "1" and len(handle) == 16 and handle.isascii()
