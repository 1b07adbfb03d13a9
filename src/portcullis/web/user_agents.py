"""A session's browser and system in words ("Chrome on Linux"), from its User-Agent.

ua-parser carries the regular expressions the uap-core project keeps up to date (in the
ua-parser-builtins package, released as browsers change): no list of our own to maintain.
Its first use compiles them (about half a second), so callers run it off the event loop.
"""

from __future__ import annotations

import functools

from ua_parser import parse_os, parse_user_agent

UNKNOWN = "An unknown browser"
# What the parser names what it does not know.
_NOT_KNOWN = {"", "Other"}
# Longer strings say nothing more that matters here, and cost the matchers more.
MAX_USER_AGENT = 512


def describe(user_agent: str | None) -> str:
    """Chrome on Linux, Firefox, A browser on Android, or UNKNOWN: in English; the pages
    put ``parts`` into their own language."""
    browser, system = parts(user_agent)
    if browser and system:
        return f"{browser} on {system}"
    if system:
        return f"A browser on {system}"
    return browser or UNKNOWN


@functools.lru_cache(maxsize=1024)
def parts(user_agent: str | None) -> tuple[str, str]:
    """The browser's and the system's names; "" for what is not known."""
    if not user_agent:
        return "", ""
    text = user_agent[:MAX_USER_AGENT]
    found_browser = parse_user_agent(text)
    found_system = parse_os(text)
    browser = found_browser.family if found_browser else ""
    system = found_system.family if found_system else ""
    return (
        "" if browser in _NOT_KNOWN else browser,
        "" if system in _NOT_KNOWN else system,
    )
