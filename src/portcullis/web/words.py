"""The core's errors in plain words for a person at a form, and the status each page answers."""

from __future__ import annotations

from portcullis.core.errors import (
    CaptchaFailed,
    InvalidCredentials,
    InvalidInput,
    InvalidKey,
    PortcullisError,
    TooManyAttempts,
    Unavailable,
)
from portcullis.locale import N_

USED_LINK = N_(
    "This link has already been used or has expired. Links in our mails work once, "
    "for a limited time."
)


# Words of the core that the pages show often, marked here for the catalogues (the core
# keeps to plain English and knows no languages); the rest stay English.
CORE_WORDS = (
    N_("Not one of the passwords common in lists of breached passwords."),
    N_("Not one character repeated."),
    N_("Not containing your e-mail name or username."),
    N_("The password is too common: it appears in lists of breached passwords."),
    N_("The password must not be one character repeated."),
    N_("The password must not contain your e-mail name or username."),
    N_("The username is already taken"),
    N_("The provided email is not valid"),
)


def wait_words(seconds: int) -> str:
    minutes = -(-seconds // 60)
    if seconds < 60:
        return f"{seconds} seconds"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def problems_of(error: PortcullisError) -> list[str]:
    """Every reason the form was refused, in words a person can act on."""
    if isinstance(error, InvalidInput):
        return list(error.problems) or [error.message]
    if isinstance(error, InvalidCredentials):
        return [N_("The e-mail address, username or password is wrong.")]
    if isinstance(error, TooManyAttempts):
        return [
            "Too many attempts: sign-in is locked for now. "
            f"Please try again in {wait_words(error.retry_after)}."
        ]
    if isinstance(error, CaptchaFailed):
        return [N_("Please complete the check that you are not a robot, then try again.")]
    if isinstance(error, InvalidKey):
        return [USED_LINK]
    if isinstance(error, Unavailable):
        return [N_("The service is briefly unavailable. Please try again in a minute.")]
    return [error.message]
