"""parts(): the browser and the system a session's User-Agent names."""

from __future__ import annotations

import pytest

from portcullis.web.user_agents import parts
from tests.web.test_profile import IPHONE, LINUX_CHROME


@pytest.mark.parametrize(
    ("user_agent", "names"),
    [
        (LINUX_CHROME, ("Chrome", "Linux")),
        (IPHONE, ("Mobile Safari", "iOS")),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
            ("Firefox", "Windows"),
        ),
        ("curl/8.5.0", ("curl", "")),
        ("python-httpx/0.27.0", ("", "")),
        ("", ("", "")),
        (None, ("", "")),
        ("x" * 100_000, ("", "")),
    ],
)
def test_names_browser_and_system(user_agent: str | None, names: tuple[str, str]) -> None:
    assert parts(user_agent) == names
