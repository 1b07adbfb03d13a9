"""describe(): a session's User-Agent as a person names it."""

from __future__ import annotations

import pytest

from portcullis.web.user_agents import UNKNOWN, describe
from tests.web.test_profile import IPHONE, LINUX_CHROME


@pytest.mark.parametrize(
    ("user_agent", "words"),
    [
        (LINUX_CHROME, "Chrome on Linux"),
        (IPHONE, "Mobile Safari on iOS"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Firefox on Windows",
        ),
        ("curl/8.5.0", "curl"),
        ("python-httpx/0.27.0", UNKNOWN),
        ("", UNKNOWN),
        (None, UNKNOWN),
        ("x" * 100_000, UNKNOWN),
    ],
)
def test_names_browser_and_system(user_agent: str | None, words: str) -> None:
    assert describe(user_agent) == words
