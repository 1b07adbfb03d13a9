"""The core's exceptions. Each has a stable ``code``; the dialects map codes to wire formats."""

from __future__ import annotations

from collections.abc import Mapping


class Problem(str):
    """One reason a request was refused: its English text, which every API sends as is,
    keeping the template and values it was made from, so that the pages can say it in
    the reader's language. It compares, hashes and serialises as that text."""

    template: str
    values: Mapping[str, object]

    def __new__(cls, template: str, **values: object) -> Problem:
        problem = super().__new__(cls, template.format(**values))
        problem.template = template
        problem.values = values
        return problem


class PortcullisError(Exception):
    """Base of every error the core raises on purpose."""

    code = "error"
    message = "The request could not be completed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message


class InvalidInput(PortcullisError):
    """The request's values are unusable; ``problems`` lists every reason at once, each
    plain text or, where it has values in it, a ``Problem``."""

    code = "invalid_input"
    message = "Form Validation Errors"

    def __init__(self, problems: list[str]) -> None:
        super().__init__()
        self.problems = problems


class PasswordRejected(InvalidInput):
    """The password policy refused the password; ``problems`` says why."""

    code = "password_rejected"


class InvalidCredentials(PortcullisError):
    """Wrong password, unknown account or inactive account: deliberately one error.

    ``reason`` is for the audit trail only; no dialect ever shows it.
    """

    code = "invalid_credentials"
    message = "Invalid email address or password."

    def __init__(self, reason: str = "bad_password") -> None:
        super().__init__()
        self.reason = reason


class InvalidToken(PortcullisError):
    """The session token is missing, unknown, expired or revoked."""

    code = "invalid_token"
    message = "Could not find an active session for the provided security token."


class InvalidKey(PortcullisError):
    """The one-time key is unknown, used, expired or of another purpose."""

    code = "invalid_key"
    message = "Could not find an un-active user with the provided activation key."


class UnknownInstance(PortcullisError):
    """The instance key names no configured front end."""

    code = "unknown_instance"
    message = "The provided instance key is not valid."


ALREADY_REGISTERED = "There is a user already registered with the email address '{email}'."


class AlreadyRegistered(PortcullisError):
    """Only raised when the operator chose to reveal existing registrations."""

    code = "already_registered"

    def __init__(self, email: str) -> None:
        super().__init__(Problem(ALREADY_REGISTERED, email=email))


class CaptchaFailed(PortcullisError):
    code = "captcha_failed"
    message = "The Provided catch key is empty or incorrect."


class NotAllowed(PortcullisError):
    """The caller is authenticated but may not do this."""

    code = "not_allowed"
    message = "The operation is not allowed for the current user."


class NotFound(PortcullisError):
    code = "not_found"
    message = "Not found."


class TooManyAttempts(PortcullisError):
    """Held back by a lockout or a rate limit; retry after ``retry_after`` seconds."""

    code = "too_many_attempts"
    message = "Too many attempts. Try again later."

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = max(1, retry_after)


class Unavailable(PortcullisError):
    """A backing service (database, limits store) cannot be reached."""

    code = "unavailable"
    message = "The service is temporarily unavailable."


class AddressTaken(PortcullisError):
    """An e-mail change's new address came to belong to another account meanwhile."""

    code = "address_taken"
    message = "The e-mail address is already in use by another account."


class DuplicateAccount(PortcullisError):
    """Raised by storage when an e-mail or username is already taken; ``field`` says which."""

    code = "duplicate_account"

    def __init__(self, field: str) -> None:
        super().__init__(f"The {field} is already taken.")
        self.field = field
