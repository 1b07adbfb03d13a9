"""The Track Hub Registry dialect's operations (/api/*): its bodies, answers and errors.

Every body is the model its handler parses: the login's LoginForm, the account views'
models of REST framework's fields (``http/trackhub_bodies.py``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, RootModel

from portcullis.http.contract.document import Answer, Operation, Query, header_link
from portcullis.http.trackhub import LoginForm
from portcullis.http.trackhub_bodies import (
    ChangePasswordFields,
    ProfileFields,
    RegisterFields,
    ResetFields,
    ResetMailFields,
)

TAG = "Track Hub Registry"
TOKEN = ("Token", "Bearer", "AuthToken")


class Error(BaseModel):
    error: str | list[str]


class TokenRefused(BaseModel):
    """A missing or bad token: ``detail`` for REST framework's clients, ``error`` for older."""

    detail: str
    error: str


class FieldProblems(RootModel[dict[str, list[str]]]):
    """REST framework's 400: each field's problems (``non_field_errors`` for the rest)."""


class LoggedIn(BaseModel):
    auth_token: str
    email: str
    is_account_activated: bool


class Success(BaseModel):
    success: str


class LoggedOutByGet(BaseModel):
    message: str


class PasswordChangedAnswer(BaseModel):
    success: str
    token: str = Field(description="A new session's token: every other session ended.")


class ResetChecked(BaseModel):
    success: str
    uidb64: str
    token: str


class TrackHubProfile(BaseModel):
    username: str
    email: str
    first_name: str
    last_name: str
    affiliation: str
    check_interval: str
    continuous_alert: bool


COMMON = {
    413: Answer("The request body is over the configured limit.", Error),
    503: Answer("A backing service is unavailable.", Error),
}
LIMITED = {429: Answer("Too many attempts.", Error, ("Retry-After",))}
FIELDS = {400: Answer("The fields' problems.", FieldProblems)}
REFUSED = {401: Answer("No token, or a bad one.", TokenRefused, ("WWW-Authenticate",))}


def _op(summary: str, answers: dict[int, Answer], **rest: Any) -> Operation:
    return Operation(summary, TAG, {**COMMON, **answers}, **rest)


def _with_token(method: str, path: str, description: str) -> dict[str, Any]:
    token = "Token {$response.body#/auth_token}"  # noqa: S105 (read from the answer)
    return header_link(method, path, "Authorization", token, description)


LOGGED_IN = Answer(
    "The session's token.",
    LoggedIn,
    links={
        "profile": _with_token("GET", "/api/user", "The session's profile."),
        "logout": _with_token("POST", "/api/logout", "End the session."),
    },
)


def _login(method: str) -> Operation:
    # A GET signs in by Basic only: its body, if any, is never read.
    by_post = method == "POST"
    return _op(
        "Sign in: Basic credentials, or (POST) username and password in the body",
        {
            200: LOGGED_IN,
            400: Answer("The body is unusable.", Error),
            401: Answer("Wrong credentials.", Error, ("WWW-Authenticate",)),
            **LIMITED,
        },
        body=LoginForm if by_post else None,
        security=("Basic", ""),
        example={"username": "jo", "password": "a sturdy passphrase"} if by_post else None,
    )


def _logout(method: str) -> Operation:
    body = LoggedOutByGet if method == "GET" else Success
    return _op(
        "End the token's session",
        {200: Answer("Logged out.", body), 400: Answer("Unusable.", Error), **REFUSED},
        security=TOKEN,
    )


VIEWS: dict[tuple[str, str], Operation] = {
    ("POST", "register"): _op(
        "Register (a verification link is mailed)",
        {201: Answer("Registered.", Success), **FIELDS, **LIMITED},
        body=RegisterFields,
    ),
    ("GET", "email_verification"): _op(
        "Verify the e-mail address by the mailed token",
        {200: Answer("Verified.", Success), 400: Answer("A bad token.", Error), **LIMITED},
        query=(Query("token", "The mailed key.", required=True),),
    ),
    **{
        (method, "change_password"): _op(
            "Change the password (the current one is asked for)",
            {200: Answer("Changed.", PasswordChangedAnswer), **FIELDS, **REFUSED, **LIMITED},
            body=ChangePasswordFields,
            security=TOKEN,
        )
        for method in ("PUT", "PATCH", "POST")
    },
    ("POST", "reset_password_email"): _op(
        "Mail a password-reset link (the same answer whether the address is known)",
        {200: Answer("Mailed if known.", Success), **FIELDS, **LIMITED},
        body=ResetMailFields,
    ),
    ("GET", "reset_password"): _op(
        "Check a mailed reset link",
        {200: Answer("Valid.", ResetChecked), 400: Answer("Not valid.", Error), **LIMITED},
        query=(Query("uidb64", "The account's handle."), Query("token", "The mailed key.")),
    ),
    **{
        (method, "reset_password_complete"): _op(
            "Set a new password with a mailed reset link",
            {
                200: Answer("Reset.", Success),
                400: Answer("Not valid.", Error | FieldProblems),
                **LIMITED,
            },
            body=ResetFields,
        )
        for method in ("PUT", "PATCH", "POST")
    },
}

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/api/user"): _op(
        "The token's account's profile",
        {200: Answer("The profile.", TrackHubProfile), 400: Answer("Unusable.", Error), **REFUSED},
        security=TOKEN,
    ),
    ("POST", "/api/user"): _op(
        "Update the profile",
        {
            200: Answer("Updated.", Success),
            400: Answer("Unusable.", Error | FieldProblems),
            **REFUSED,
        },
        body=ProfileFields,
        security=TOKEN,
    ),
    **{
        (method, f"{prefix}/{view}"): operation
        for prefix in ("/api", "/api/user")
        for (method, view), operation in VIEWS.items()
    },
    **{
        (method, f"{prefix}/{name}"): _login(method) if name == "login" else _logout(method)
        for prefix in ("/api", "/api/user")
        for name in ("login", "logout")
        for method in ("GET", "POST")
    },
}
