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

USED_LINK = (
    "This link has already been used or has expired. Links in our mails work once, "
    "for a limited time."
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
        return ["The e-mail address, username or password is wrong."]
    if isinstance(error, TooManyAttempts):
        return [
            "Too many attempts: sign-in is locked for now. "
            f"Please try again in {wait_words(error.retry_after)}."
        ]
    if isinstance(error, CaptchaFailed):
        return ["Please complete the check that you are not a robot, then try again."]
    if isinstance(error, InvalidKey):
        return [USED_LINK]
    if isinstance(error, Unavailable):
        return ["The service is briefly unavailable. Please try again in a minute."]
    return [error.message]
