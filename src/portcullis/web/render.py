"""Templates to responses: every page with the same security headers, errors as pages too."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import Scope

from portcullis.config import Settings
from portcullis.core.errors import PortcullisError, TooManyAttempts
from portcullis.http.common import status_of
from portcullis.locale import DEFAULT, LANGUAGES, N_, choose, translations
from portcullis.web.words import problems_of, translated

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
PREFIX = "/account"


def content_security_policy(settings: Settings, captcha: bool, images: str = "'self'") -> str:
    """No inline script or style anywhere; the captcha's origins only when it is shown.

    ``images`` adds sources of images (an image runs no script): /docs takes ``data:``,
    where Swagger UI's stylesheet keeps its icons."""
    origins = " ".join(settings.captcha_origins) if captcha else ""
    script = f"'self' {origins}".strip()
    frame = origins or "'none'"
    img = f"{images} {logo_origin(settings.logo_url)}".strip()
    return (
        "default-src 'self'; "
        f"script-src {script}; "
        "style-src 'self'; "
        f"img-src {img}; "
        f"frame-src {frame}; "
        "object-src 'none'; "
        "base-uri 'none'; "
        "form-action 'self'; "
        "frame-ancestors 'none'"
    )


def logo_origin(url: str) -> str:
    """The origin of an https:// logo, for the policy; empty for a path on this site."""
    parts = urlsplit(url)
    return f"https://{parts.netloc}" if parts.scheme == "https" else ""


def captcha_enabled(settings: Settings) -> bool:
    return bool(settings.captcha_secret and settings.captcha_site_key)


class Renderer:
    """Renders the page templates with the product's name and the page headers."""

    def __init__(self, settings: Settings):
        self.language = settings.language
        captcha = captcha_enabled(settings)
        # One environment per language: gettext is installed into an environment.
        self._envs = {language: self._environment(language) for language in LANGUAGES}
        for env in self._envs.values():
            env.globals.update(
                product=settings.product_name,
                prefix=PREFIX,
                logo_url=settings.logo_url,
                captcha_site_key=settings.captcha_site_key if captcha else "",
                captcha_script_url=_https_only(settings.captcha_script_url) if captcha else "",
            )
        self.headers = {
            "Content-Security-Policy": content_security_policy(settings, captcha),
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store",
        }
        # The colours are checked as #hex by the settings, so nothing else reaches the CSS.
        self.theme_css = (
            f":root {{ --brand: {settings.brand_color}; "
            f"--brand-text: {settings.brand_text_color}; }}\n"
        )

    @staticmethod
    def _environment(language: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n"],
        )
        env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
        env.globals["lang"] = language
        # For text made elsewhere (a notice, a problem): translated, then escaped as any
        # value is. Jinja's own _() would mark the text safe, and such text may hold input.
        env.filters["t"] = functools.partial(translated, translations=translations(language))
        return env

    def language_for(self, scope: Scope) -> str:
        """The operator's language, else the browser's (Accept-Language), else English."""
        headers = dict(scope.get("headers") or [])
        accept = headers.get(b"accept-language", b"").decode("latin-1")
        return choose(accept, self.language)

    def page(
        self, template: str, status_code: int = 200, language: str = DEFAULT, **values: Any
    ) -> Response:
        for name, default in (("signed_in", False), ("csrf_token", ""), ("notice", None)):
            values.setdefault(name, default)
        values.setdefault("problems", [])
        values.setdefault("errors", {})
        # The summary links each problem that concerns a field to that field.
        values["anchors"] = {p: field for field, ps in values["errors"].items() for p in ps}
        html = self._envs[language].get_template(template).render(**values)
        headers = {**self.headers, "Content-Language": language, "Vary": "Accept-Language"}
        return HTMLResponse(html, status_code, headers=headers)

    def error(
        self,
        message: str,
        status_code: int,
        headers: Mapping[str, str] | None = None,
        language: str = DEFAULT,
    ) -> Response:
        title = TITLES.get(
            status_code, N_("Something went wrong") if status_code >= 500 else N_("Error")
        )
        response = self.page("error.html", status_code, language, title=title, message=message)
        response.headers.update(headers or {})
        return response


def _https_only(url: str) -> str:
    return url if urlsplit(url).scheme == "https" else ""


def is_page(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    return path == PREFIX or path.startswith(PREFIX + "/")


# What a person is told instead of the framework's terse reasons.
FRIENDLY = {
    404: N_("There is no page at this address. Check the link, or start from the sign-in page."),
    405: N_("This page cannot be used that way. Start again from the sign-in page."),
    500: N_("Something went wrong on our side. Please try again in a minute."),
}
TITLES = {404: N_("Page not found"), 403: N_("Not allowed"), 429: N_("Too many attempts")}


def problem_page(scope: Scope, problem: PortcullisError) -> Response:
    """A core error no form caught, as a page."""
    headers = (
        {"Retry-After": str(problem.retry_after)} if isinstance(problem, TooManyAttempts) else {}
    )
    problems = problems_of(problem)
    # One problem stays itself, so that the page can still translate a Problem.
    message = problems[0] if len(problems) == 1 else " ".join(problems)
    return error_page(scope, message, status_of(problem), **headers)


def error_page(scope: Scope, message: str, status_code: int, **headers: str) -> Response:
    """An error under /account as a page, from whichever layer caught it."""
    message = FRIENDLY.get(status_code, message)
    app = scope.get("app")
    renderer = getattr(getattr(app, "state", None), "account_pages", None)
    if isinstance(renderer, Renderer):
        return renderer.error(message, status_code, headers, renderer.language_for(scope))
    return PlainTextResponse(message, status_code, headers=headers)  # before the app is built
