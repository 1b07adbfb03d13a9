"""The BioStudies dialect's operations (/auth/*): its bodies, answers and error body."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from portcullis.http.biostudies import (
    ChangePasswordBody,
    CheckRegistrationBody,
    LinkBody,
    LoginBody,
    LogoutBody,
    PasswordSetupBody,
    RegisterBody,
    ResetBody,
)
from portcullis.http.biostudies_admin import PermissionBody
from portcullis.http.contract.document import Answer, Operation, Query, header_link

TAG = "BioStudies"
TOKEN = ("SessionToken", "SessionCookie", "SessionParameter")


class LogNode(BaseModel):
    level: Literal["ERROR"]
    message: str
    subnodes: list[LogNode]


class Fail(BaseModel):
    """Every error of the dialect: the message, and each problem as a subnode."""

    status: Literal["FAIL"]
    log: LogNode


class Aux(BaseModel):
    orcid: str


class Profile(BaseModel):
    sessid: str = Field(description="The session token: send it as X-Session-Token.")
    email: str
    username: str | None
    secret: str
    fullname: str
    superuser: bool
    allow: list[str]
    deny: list[str]
    aux: Aux
    orcid: str
    uploadType: str
    lastActivity: str


class UserFolder(BaseModel):
    relativePath: str
    path: str
    type: str


class PermissionView(BaseModel):
    accessType: str
    accessTag: str


class UserRecord(BaseModel):
    id: int
    email: str
    fullName: str
    login: str | None
    orcid: str
    secret: str
    superuser: bool
    lastActivity: str | None
    userFolder: UserFolder
    groupsFolders: list[Any]
    permissions: list[PermissionView]
    adminCollections: list[str]
    notificationsEnabled: bool
    active: bool


class PasswordChanged(BaseModel):
    id: int
    email: str
    secretKey: str
    fullName: str
    notificationsEnabled: bool


class SessionView(BaseModel):
    id: str
    created: str | None
    lastActivity: str | None
    expires: str | None
    clientAddress: str | None
    userAgent: str | None
    current: bool
    openedBy: str | None


class AuditView(BaseModel):
    at: str | None
    kind: str
    accountId: int | None
    subject: str | None
    detail: str | None
    actorId: int | None
    clientAddress: str | None
    userAgent: str | None


class Ended(BaseModel):
    ended: int


class Changed(BaseModel):
    changed: bool


FAIL_EXAMPLE = {
    "status": "FAIL",
    "log": {"level": "ERROR", "message": "Invalid email address or password.", "subnodes": []},
}


def _fail(description: str, *headers: str) -> Answer:
    return Answer(description, Fail, headers, example=None)


COMMON = {
    400: _fail("The request is unusable: each problem is a subnode."),
    413: _fail("The request body is over the configured limit."),
    503: _fail("A backing service (database, Redis, hashing) is unavailable."),
}
LIMITED = {429: _fail("Too many attempts from this address or for this account.", "Retry-After")}
SIGNED_IN = {
    401: _fail("No token, or one that names no live session."),
    403: _fail("A session cookie on a cross-site state change."),
}
EMPTY_OK = Answer("Done; the body is empty.")


PAGES = (
    Query("limit", "At most this many, 1 to 1000 (default 100)."),
    Query("cursor", "Where the page starts: from the previous page's `Link` (rel=next)."),
)


def _op(summary: str, answers: dict[int, Answer], **rest: Any) -> Operation:
    return Operation(summary, TAG, {**COMMON, **answers}, **rest)


# Registration cannot be linked to activation: the key arrives only by mail.
def _with_session(method: str, path: str, description: str) -> dict[str, Any]:
    return header_link(method, path, "X-Session-Token", "$response.body#/sessid", description)


TO_LOGOUT = {"logout": _with_session("POST", "/auth/logout", "End the session.")}
SIGNED_IN_LINKS = {
    "profile": _with_session("GET", "/auth/profile", "The session's profile."),
    **TO_LOGOUT,
}


def _signed_in(summary: str, answers: dict[int, Answer], **rest: Any) -> Operation:
    return _op(summary, {**SIGNED_IN, **answers}, security=TOKEN, **rest)


LOGIN = _op(
    "Sign in with an e-mail address or username and a password",
    {
        200: Answer(
            "Signed in: the profile, with the new session's token.",
            Profile,
            links=SIGNED_IN_LINKS,
        ),
        401: _fail("Wrong credentials (alike for every cause)."),
        **LIMITED,
    },
    body=LoginBody,
    example={"login": "jo@example.org", "password": "a sturdy passphrase"},
)
LOGOUT = _op(
    "End the session of a token (sessid, or the token itself)",
    {200: EMPTY_OK},
    body=LogoutBody,
    security=(*TOKEN, ""),  # always 200: no session is what the caller wanted anyway
)
PROFILE = _signed_in(
    "The profile of the token's account",
    {200: Answer("The profile.", Profile, links=TO_LOGOUT)},
)
REGISTER = _op(
    "Register an account (activation by a mailed link unless turned off)",
    {201: Answer("Registered; the body is empty."), **LIMITED},
    body=RegisterBody,
    example={
        "name": "Jo Smith",
        "email": "jo@example.org",
        "password": "a sturdy passphrase",
        "instanceKey": "default",
        "path": "activate",
    },
)
LINKS = {200: EMPTY_OK, **LIMITED}

OPERATIONS: dict[tuple[str, str], Operation] = {
    **{("POST", path): LOGIN for path in ("/auth/login", "/auth/signin")},
    **{("POST", path): LOGOUT for path in ("/auth/logout", "/auth/signout")},
    **{("GET", path): PROFILE for path in ("/auth/profile", "/auth/check")},
    **{("POST", path): REGISTER for path in ("/auth/register", "/auth/signup")},
    ("POST", "/auth/activate/{key}"): _op(
        "Activate an account by its mailed key", {200: EMPTY_OK, **LIMITED}
    ),
    ("POST", "/auth/activate"): _op("Mail a password-setup link", LINKS, body=LinkBody),
    ("POST", "/auth/retryact"): _op("Mail the activation link again", LINKS, body=LinkBody),
    ("POST", "/auth/password/reset"): _op("Mail a password-reset link", LINKS, body=ResetBody),
    ("POST", "/auth/password/change"): _op(
        "Set a new password with a mailed key",
        {200: Answer("Changed; every session ended.", PasswordChanged), **LIMITED},
        body=ChangePasswordBody,
    ),
    ("POST", "/auth/password/setup"): _op(
        "Set the first password with a mailed key",
        {200: Answer("Set.", PasswordChanged), **LIMITED},
        body=PasswordSetupBody,
    ),
    ("POST", "/auth/check-registration"): _signed_in(
        "A superuser checks (or makes) an account by e-mail and name",
        {200: Answer("The account.", UserRecord)},
        body=CheckRegistrationBody,
    ),
    ("GET", "/auth/sessions"): _signed_in(
        "The token's account's live sessions, newest first",
        {200: Answer("A page of sessions.", list[SessionView], ("Link",))},
        query=PAGES,
    ),
    ("DELETE", "/auth/sessions/{id}"): _signed_in(
        "End one of one's sessions", {200: EMPTY_OK, 404: _fail("No such session.")}
    ),
    ("POST", "/auth/logout/all"): _signed_in(
        "End every session of the token's account", {200: Answer("How many.", Ended)}
    ),
}
ADMIN = "/auth/admin/users/{email}"
ADMIN_ANSWERS = {403: _fail("The caller is not a superuser."), 404: _fail("No such account.")}
OPERATIONS |= {
    ("GET", f"{ADMIN}/sessions"): _signed_in(
        "An account's sessions, newest first (superusers)",
        {200: Answer("A page of sessions.", list[SessionView], ("Link",)), **ADMIN_ANSWERS},
        query=PAGES,
    ),
    ("DELETE", f"{ADMIN}/sessions/{{id}}"): _signed_in(
        "End an account's session (superusers)", {200: EMPTY_OK, **ADMIN_ANSWERS}
    ),
    ("POST", f"{ADMIN}/logout-all"): _signed_in(
        "End every session of an account (superusers)",
        {200: Answer("How many.", Ended), **ADMIN_ANSWERS},
    ),
    ("POST", f"{ADMIN}/permissions"): _signed_in(
        "Grant an access type on a tag (superusers)",
        {200: Answer("Whether anything changed.", Changed), **ADMIN_ANSWERS},
        body=PermissionBody,
    ),
    ("DELETE", f"{ADMIN}/permissions/{{access}}/{{tag}}"): _signed_in(
        "Revoke an access type on a tag (superusers)", {200: EMPTY_OK, **ADMIN_ANSWERS}
    ),
    ("GET", "/auth/admin/audit"): _signed_in(
        "The audit trail, newest first (superusers)",
        {200: Answer("A page of events.", list[AuditView], ("Link",)), **ADMIN_ANSWERS},
        query=(
            Query("user", "Only this account's events (e-mail or username)."),
            Query("since", "Only events from this ISO 8601 date or date-time (UTC)."),
            *PAGES,
        ),
    ),
    ("GET", "/auth/admin/users"): _signed_in(
        "Every account, by id (superusers)",
        {200: Answer("A page of accounts.", list[UserRecord], ("Link",)), **ADMIN_ANSWERS},
        query=PAGES,
    ),
}
