"""The core's errors in plain words for a person at a form, in the page's language."""

from __future__ import annotations

import gettext
from dataclasses import dataclass

from portcullis.core.errors import (
    CaptchaFailed,
    InvalidCredentials,
    InvalidInput,
    InvalidKey,
    PortcullisError,
    Problem,
    TooManyAttempts,
    Unavailable,
)
from portcullis.locale import N_

USED_LINK = N_(
    "This link has already been used or has expired. Links in our mails work once, "
    "for a limited time."
)
LOCKED = N_("Too many attempts: sign-in is locked for now. Please try again in {wait}.")


# Words of the core that the pages show, marked here for the catalogues: the core keeps to
# plain English and knows no languages. A Problem is looked up by its template, so the
# templates are marked, not the texts made from them (tests/web/test_languages.py checks
# that each of the core's templates is in every catalogue).
CORE_WORDS = (
    N_("Not one of the passwords common in lists of breached passwords."),
    N_("Not one character repeated."),
    N_("Not containing your e-mail name or username."),
    N_("The password is too common: it appears in lists of breached passwords."),
    N_("The password must not be one character repeated."),
    N_("The password must not contain your e-mail name or username."),
    N_("The username is already taken"),
    N_("The provided email is not valid"),
    N_("The provided email must be written in ASCII (an international domain in its xn-- form)"),
    N_("The name must not be empty"),
    N_("The provided ORCID is not valid"),
    N_("The login name must be at most {length} characters"),
    N_("The e-mail address is already in use by another account."),
    N_("The password must be at least {length} characters long."),
    N_("The password must be at most {length} characters long."),
    N_("The name must be at most {length} characters, without control ones"),
    N_("The username may hold only letters, digits and . _ + - (at most {length})"),
    N_("There is a user already registered with the email address '{email}'."),
)


@dataclass(frozen=True, slots=True)
class Wait:
    """How long until a held-back person may try again, said in whole units."""

    seconds: int

    def said(self, translations: gettext.NullTranslations) -> str:
        ngettext = translations.ngettext
        if self.seconds < 60:
            count = self.seconds
            return ngettext("%(count)d second", "%(count)d seconds", count) % {"count": count}
        count = -(-self.seconds // 60)
        return ngettext("%(count)d minute", "%(count)d minutes", count) % {"count": count}

    def __str__(self) -> str:
        return self.said(gettext.NullTranslations())


def translated(text: str, translations: gettext.NullTranslations) -> str:
    """``text`` in the catalogue's language: a Problem by its template, with its values
    put in (a Wait said in that language too); any other text as it is looked up."""
    if not isinstance(text, Problem):
        return translations.gettext(text)
    values = {
        name: value.said(translations) if isinstance(value, Wait) else value
        for name, value in text.values.items()
    }
    return translations.gettext(text.template).format(**values)


def problems_of(error: PortcullisError) -> list[str]:
    """Every reason the form was refused, in words a person can act on (English, or a
    Problem: ``translated`` says either in the page's language)."""
    if isinstance(error, InvalidInput):
        return list(error.problems) or [error.message]
    if isinstance(error, InvalidCredentials):
        return [N_("The e-mail address, username or password is wrong.")]
    if isinstance(error, TooManyAttempts):
        return [Problem(LOCKED, wait=Wait(error.retry_after))]
    if isinstance(error, CaptchaFailed):
        return [N_("Please complete the check that you are not a robot, then try again.")]
    if isinstance(error, InvalidKey):
        return [USED_LINK]
    if isinstance(error, Unavailable):
        return [N_("The service is briefly unavailable. Please try again in a minute.")]
    return [error.message]
