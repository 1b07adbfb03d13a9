"""Turning a core Notice into a standard multipart (text and HTML) message."""

from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from portcullis.core.models import Notice
from portcullis.core.validation import email_problems

# The real service's subjects, with the product name in place of "BioStudies".
SUBJECTS = {
    "activation": "{product} Account Activation",
    # For an account that may already sign in: the link proves the address only.
    "email_verification": "Verify your email",  # the registry's subject, word for word
    "email_change": "Verify your new email",
    "email_changed": "{product} Account Email Changed",
    "password_setup": "{product} Account Password Setup",
    "password_reset": "{product} Account Password Reset",
    "password_changed": "{product} Account Password Changed",
    "account_deleted": "{product} Account Deleted",
    "registration_attempt": "{product} Account Registration Attempt",
    "username_taken": "{product} Account Registration Attempt",
}


def duration(value: str | int) -> str:
    """A key's lifetime in the largest whole unit: "1 hour", "90 minutes", "7 days"."""
    minutes = int(value)
    for size, unit in ((24 * 60, "day"), (60, "hour"), (1, "minute")):
        if minutes >= size and minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{minutes} minutes"


class UnsendableAddress(ValueError):
    """The recipient is not one plain address: sending could reach someone else."""


class Composer:
    def __init__(self, product_name: str, sender: str):
        self._product = product_name
        self._sender = sender
        self._templates = Environment(
            loader=PackageLoader("portcullis.mail", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self._templates.filters["duration"] = duration

    def compose(self, notice: Notice) -> EmailMessage:
        """The message for ``notice``, To its one address.

        Raises UnsendableAddress for a recipient that is not one plain address (one
        stored before addresses were checked as they are now): a parser could read
        another address, or several, out of it.
        """
        if email_problems(notice.to):
            raise UnsendableAddress(notice.to)
        values = {"product": self._product, "email": notice.to, **notice.values}
        message = EmailMessage()
        message["Subject"] = SUBJECTS[notice.kind].format(product=self._product)
        message["From"] = self._sender
        # An Address, not the text: the header is written from the one addr-spec.
        message["To"] = Address(addr_spec=notice.to)
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain="portcullis")
        message.set_content(self._templates.get_template(f"{notice.kind}.txt").render(values))
        message.add_alternative(
            self._templates.get_template(f"{notice.kind}.html").render(values), subtype="html"
        )
        return message
