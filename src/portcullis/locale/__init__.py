"""The languages the pages and mails are shipped in, as gettext catalogues.

Each language has ``<lang>/LC_MESSAGES/portcullis.po`` (what translators edit) and the
``.mo`` compiled from it, committed beside it: the package then installs and runs with no
build step and no Babel at run time; tests/web/test_languages.py fails when a ``.mo`` is
older than its ``.po``. English is the templates' own text and has no catalogue.
"""

from __future__ import annotations

import functools
import gettext
from pathlib import Path

HERE = Path(__file__).parent
DOMAIN = "portcullis"
DEFAULT = "en"
LANGUAGES = ("en", "de")


def N_(message: str) -> str:
    """Marks ``message`` for the catalogues; it is translated where it is shown."""
    return message


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of ``language``; English (the text as written) for any other."""
    if language == DEFAULT or language not in LANGUAGES:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, HERE, languages=[language])


def choose(accept_language: str | None, fixed: str = "") -> str:
    """The operator's ``fixed`` language if set, else the browser's first shipped choice
    by its Accept-Language weights, else English."""
    if fixed:
        return fixed
    offers = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        primary = tag.strip().lower().split("-", 1)[0]
        if primary in LANGUAGES and weight > 0:
            offers.append((-weight, position, primary))
    return min(offers)[2] if offers else DEFAULT
