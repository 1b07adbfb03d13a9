"""A session's browser and system by name, from its User-Agent; the session list says
them in its language ("Chrome on Linux", "Chrome unter Linux").

ua-parser carries the regular expressions the uap-core project keeps up to date (in the
ua-parser-builtins package, released as browsers change): no list of our own to maintain.
Its first use compiles them (about half a second), so callers run it off the event loop.
"""

from __future__ import annotations

import functools

from ua_parser import parse_os, parse_user_agent

# What the parser names what it does not know.
_NOT_KNOWN = {"", "Other"}
# Longer strings say nothing more that matters here, and cost the matchers more.
MAX_USER_AGENT = 512


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
