"""The bodies of the registry's account views: the models they are parsed with, and
that the OpenAPI document shows (``http/contract/trackhub.py`` imports them).

Each field is read by one of REST framework's fields (``trackhub_fields``); the checks
across fields run once the fields they need were read well, and a body's problems are
told all at once, as the registry's serializers told them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from portcullis.core.validation import username_problems
from portcullis.http.trackhub_fields import boolean, check_failed, choice, email, given_text, text
from portcullis.http.trackhub_profile import MAX_AFFILIATION, MAX_NAME, Interval

# What register asks the core's password policy: (password, email, username) -> problems.
PASSWORD_POLICY = "password_policy"  # noqa: S105 (a name, not a secret)
PasswordPolicy = Callable[[str, str, str | None], list[str]]
# Other fields are ignored, as REST framework's serializers ignore them.
FIELDS = ConfigDict(extra="ignore")
Name = Annotated[str | None, text(max_length=MAX_NAME)]
Affiliation = Annotated[str | None, text(max_length=MAX_AFFILIATION)]
Password = Annotated[str, text(required=True, strip=False)]
Captcha = Annotated[str | None, given_text()]


def agreeing(first: str, second: str, message: str) -> Any:
    """A check of ``second``: the same text as ``first``, when that was read well."""

    def agree(cls: type[BaseModel], value: str, info: ValidationInfo) -> str:
        if info.data.get(first, value) != value:
            raise check_failed(second, message)
        return value

    return field_validator(second)(agree)


class ProfileFields(BaseModel):
    """POST /api/user: the profile; the e-mail address and check_interval are required."""

    model_config = FIELDS
    email: Annotated[str, email()]
    check_interval: Annotated[Interval, choice(Interval, required=True)]
    first_name: Name = None
    last_name: Name = None
    affiliation: Affiliation = None
    continuous_alert: Annotated[bool | None, boolean()] = None


class RegisterFields(BaseModel):
    """POST /api/register. Parsed with the core's password policy in the context
    (``PASSWORD_POLICY``), so that its problems are told with the fields'."""

    model_config = FIELDS
    email: Annotated[str, email()]
    username: Annotated[str, text(required=True)]
    password: Password
    password2: Password
    first_name: Name = None
    last_name: Name = None
    affiliation: Affiliation = None
    check_interval: Annotated[Interval | None, choice(Interval)] = None
    continuous_alert: Annotated[bool | None, boolean()] = None
    captcha: Captcha = Field(default=None, alias="recaptcha2-response")

    @field_validator("username")
    @classmethod
    def _username_rules(cls, username: str) -> str:
        problems = username_problems(username)
        if problems:
            raise check_failed("username", *problems)
        return username

    @field_validator("password2")
    @classmethod
    def _passwords_agree(cls, password2: str, info: ValidationInfo) -> str:
        password = info.data.get("password")
        if password is None:
            return password2
        if password != password2:
            raise check_failed("password", "Password fields didn't match.")
        if "email" in info.data:
            policy: PasswordPolicy = (info.context or {})[PASSWORD_POLICY]
            problems = policy(password, info.data["email"], info.data.get("username"))
            if problems:
                raise check_failed("password", *problems)
        return password2


class ChangePasswordFields(BaseModel):
    model_config = FIELDS
    old_password: Password
    new_password1: Password
    new_password2: Password

    _passwords_agree = agreeing(
        "new_password1", "new_password2", "The two password fields didn't match."
    )


class ResetMailFields(BaseModel):
    model_config = FIELDS
    email: Annotated[str, email()]
    captcha: Captcha = Field(default=None, alias="recaptcha2-response")


class ResetFields(BaseModel):
    model_config = FIELDS
    new_password: Password
    new_password_confirm: Password
    uidb64: Annotated[str, text(required=True)]
    token: Annotated[str, text(required=True)]

    _passwords_agree = agreeing(
        "new_password", "new_password_confirm", "Password fields didn't match."
    )
