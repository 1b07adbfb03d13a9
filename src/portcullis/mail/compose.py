"""Turning a core Notice into a standard multipart (text and HTML) message."""

from __future__ import annotations

import gettext
from collections.abc import Callable
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from portcullis.core.models import Notice
from portcullis.core.validation import email_problems
from portcullis.locale import DEFAULT, N_, translations

# The real service's subjects, with the product name in place of "BioStudies".
SUBJECTS = {
    "activation": N_("{product} Account Activation"),
    # For an account that may already sign in: the link proves the address only.
    "email_verification": N_("Verify your email"),  # the registry's subject, word for word
    "email_change": N_("Verify your new email"),
    "email_changed": N_("{product} Account Email Changed"),
    "password_setup": N_("{product} Account Password Setup"),
    "password_reset": N_("{product} Account Password Reset"),
    "password_changed": N_("{product} Account Password Changed"),
    "account_deleted": N_("{product} Account Deleted"),
    "registration_attempt": N_("{product} Account Registration Attempt"),
    "username_taken": N_("{product} Account Registration Attempt"),
}


def duration_words(translations: gettext.NullTranslations) -> Callable[[str | int], str]:
    """A filter: a key's lifetime in the largest whole unit ("1 hour", "90 minutes")."""
    ngettext = translations.ngettext

    def duration(value: str | int) -> str:
        minutes = max(1, int(value))
        if minutes % (24 * 60) == 0:
            days = minutes // (24 * 60)
            return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
        if minutes % 60 == 0:
            hours = minutes // 60
            return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}

    return duration


class UnsendableAddress(ValueError):
    """The recipient is not one plain address: sending could reach someone else."""


class Composer:
    def __init__(self, product_name: str, sender: str, language: str = DEFAULT):
        """``language``: the mails' language (the operator's setting; English if none)."""
        self._product = product_name
        self._sender = sender
        self._translations = translations(language or DEFAULT)
        self._templates = Environment(
            loader=PackageLoader("portcullis.mail", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            extensions=["jinja2.ext.i18n"],
        )
        self._templates.install_gettext_translations(self._translations, newstyle=True)  # type: ignore[attr-defined]
        self._templates.filters["duration"] = duration_words(self._translations)
        self._templates.globals["lang"] = language or DEFAULT

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
        subject = self._translations.gettext(SUBJECTS[notice.kind])
        message["Subject"] = subject.format(product=self._product)
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
