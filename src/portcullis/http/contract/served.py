"""GET /openapi.json and /docs (Swagger UI, from the swagger-ui-py package's own files).

Off unless PORTCULLIS_API_DOCS is true, as Keycloak and Kratos serve none of theirs:
an operator turns on what a deployment shows. ``portcullis openapi`` prints the same
document without a server, for client authors and CI.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from portcullis.config import Settings
from portcullis.http.contract.openapi import openapi_document
from portcullis.web.render import content_security_policy

ASSETS = "/docs/assets"
# No inline script or style: the pages' Content-Security-Policy holds here too.
PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Portcullis API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
""".encode()
START = b"""window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui",
  deepLinking: true, tryItOutEnabled: false});
"""


def swagger_ui_files() -> Path:
    """The static files swagger-ui-py ships; found without importing its handlers."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("PORTCULLIS_API_DOCS needs the swagger-ui-py package")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


class ApiDocs:
    def __init__(self, settings: Settings, routes: Sequence[BaseRoute]):
        self._routes = routes
        self._settings = settings
        self._document: bytes | None = None
        self._policy = content_security_policy(settings, captcha=False, images="'self' data:")

    def document(self) -> dict[str, Any]:
        return openapi_document(
            self._routes, self._settings.public_url, self._settings.session_cookie_name
        )

    async def openapi(self, request: Request) -> Response:
        if self._document is None:  # built once, at the first ask: every route is known
            self._document = orjson.dumps(self.document())
        return Response(self._document, media_type="application/json")

    async def page(self, request: Request) -> Response:
        return Response(PAGE, media_type="text/html", headers=self._headers())

    async def start(self, request: Request) -> Response:
        return Response(START, media_type="text/javascript", headers=self._headers())

    def _headers(self) -> dict[str, str]:
        return {"Content-Security-Policy": self._policy, "X-Frame-Options": "DENY"}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/docs", self.page, methods=["GET"]),
            Route("/docs/start.js", self.start, methods=["GET"]),
            Mount(ASSETS, StaticFiles(directory=swagger_ui_files()), name="api-docs-assets"),
        ]
