"""What forward-auth learns of the request the proxy holds back: method, path, address.

The proxies tell it in headers: nginx ``X-Original-URI`` (and whatever the operator
adds), Traefik and Caddy ``X-Forwarded-Method``/``-Uri``/``-Host``/``-Proto``. Path rules
are matched on the path as the proxy routes it: percent-escapes decoded and dot segments
resolved, so ``/public/../private/x`` is held to the rules of ``/private/``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from starlette.datastructures import QueryParams

from portcullis.http.cross_site import origin_of

NO_QUERY = QueryParams()
# What normalised_path has to decode or fold: a percent-escape, a dot segment ("/." also
# stands for a name beginning with a dot, folded to itself), an empty segment.
PATH_MARKS = ("%", "/.", "//")


@dataclass(frozen=True, slots=True)
class Original:
    """The request the proxy asks about (or the check's own, when it says nothing)."""

    method: str
    path: str  # normalised, for the rules
    uri: str  # as sent: path and query, for the return address
    query: QueryParams
    url: str | None  # scheme://host/uri when the proxy named the host


def normalised_path(raw: str) -> str:
    """The path of ``raw`` as a proxy routes it: decoded, dot segments and slashes folded."""
    # Not urlsplit: it reads "//private/x" as the host "private".
    path = raw.partition("?")[0].partition("#")[0]
    if path.startswith("/") and not any(mark in path for mark in PATH_MARKS):
        return path  # nothing to decode or fold (most paths): as the steps below would give
    path = unquote(path or "/", errors="replace")
    folded = posixpath.normpath("/" + path.lstrip("/"))
    # normpath keeps a leading "//"; and a trailing slash still says "a folder".
    folded = "/" + folded.lstrip("/")
    if path.endswith("/") and folded != "/":
        folded += "/"
    return folded


def original_of(headers: Mapping[str, str], method: str, uri: str) -> Original:
    """The original request from the proxy's headers; ``method``, ``uri`` otherwise."""
    forwarded_uri = headers.get("x-forwarded-uri") or headers.get("x-original-uri") or uri
    # Asked on every request a proxy holds back: nothing split that was not sent.
    host = first_of(headers.get("x-forwarded-host"))
    url = None
    if host and forwarded_uri.startswith("/"):
        scheme = first_of(headers.get("x-forwarded-proto")).lower() or "https"
        url = f"{scheme}://{host}{forwarded_uri}"
    return Original(
        method=(headers.get("x-forwarded-method") or method).upper(),
        path=normalised_path(forwarded_uri),
        uri=forwarded_uri,
        query=QueryParams(forwarded_uri.partition("?")[2].partition("#")[0])
        if "?" in forwarded_uri
        else NO_QUERY,
        url=url,
    )


def first_of(value: str | None) -> str:
    """The first of a header's comma-separated values (the proxy nearest the client)."""
    return value.split(",")[0].strip() if value else ""


class PathRules:
    """Tags required per path prefix (``PORTCULLIS_GATEWAY_RULES``); the longest prefix wins."""

    def __init__(self, rules: Mapping[str, Sequence[str]]):
        self._rules = sorted(
            (
                (normalised_path(prefix), tuple(dict.fromkeys(tags)))
                for prefix, tags in rules.items()
            ),
            key=lambda rule: len(rule[0]),
            reverse=True,
        )

    def required(self, path: str) -> tuple[str, ...]:
        for prefix, tags in self._rules:
            if path == prefix.rstrip("/") or path.startswith(prefix):
                return tags
        return ()

    def wanted(self, path: str, asked: Sequence[str]) -> Sequence[str]:
        """The tags the path's rule and ``?allow=`` ask for, each once."""
        required = self.required(path) if self._rules else ()
        return tuple(dict.fromkeys((*required, *asked))) if asked else required


class ReturnAddresses:
    """Where sign-in may send the browser back to: this service and the instances only."""

    def __init__(self, public_url: str, instances: Iterable[str]):
        origins = (origin_of(url) for url in (public_url, *instances))
        self._origins = frozenset(origin for origin in origins if origin)

    def checked(self, url: str | None) -> str | None:
        """``url`` if it is an absolute address on a trusted origin; None otherwise.

        Only ``http(s)://host/...`` is accepted: no ``//host`` nor ``/\\host`` (which
        browsers read as another host), no user-info, no control characters.
        """
        if not url or any(ord(c) < 0x21 or c == "\\" for c in url):
            return None
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            return None
        if origin_of(url) not in self._origins or not (parts.path or "/").startswith("/"):
            return None
        return url
