"""Turning a core Notice into a standard multipart (text and HTML) message."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from portcullis.core.models import Notice

# The real service's subjects, with the product name in place of "BioStudies".
SUBJECTS = {
    "activation": "{product} Account Activation",
    "password_setup": "{product} Account Password Setup",
    "password_reset": "{product} Account Password Reset",
    "password_changed": "{product} Account Password Changed",
    "registration_attempt": "{product} Account Registration Attempt",
}


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

    def compose(self, notice: Notice) -> EmailMessage:
        values = {"product": self._product, "email": notice.to, **notice.values}
        message = EmailMessage()
        message["Subject"] = SUBJECTS[notice.kind].format(product=self._product)
        message["From"] = self._sender
        message["To"] = notice.to
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain="portcullis")
        message.set_content(self._templates.get_template(f"{notice.kind}.txt").render(values))
        message.add_alternative(
            self._templates.get_template(f"{notice.kind}.html").render(values), subtype="html"
        )
        return message
