"""normalised_path: the path a proxy routes, whether or not it needed folding."""

from __future__ import annotations

import pytest

from portcullis.http.gateway_paths import normalised_path


@pytest.mark.parametrize(
    ("raw", "routed"),
    [
        ("/files/a", "/files/a"),  # nothing to fold: returned as it is
        ("/files/a/", "/files/a/"),
        ("/files/a?BIOSTDSESS=x#top", "/files/a"),
        ("/", "/"),
        ("", "/"),
        ("files/a", "/files/a"),
        ("/public/../private/x", "/private/x"),
        ("/public/%2e%2e/private/x", "/private/x"),
        ("/a/./b", "/a/b"),
        ("//private/x", "/private/x"),
        ("/a//b/", "/a/b/"),
        ("/.well-known/x", "/.well-known/x"),
        ("/a/%C3%A9", "/a/\u00e9"),
    ],
)
def test_the_path_as_routed(raw: str, routed: str) -> None:
    assert normalised_path(raw) == routed
