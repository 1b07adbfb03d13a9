"""Form bodies (urlencoded and multipart) read as UTF-8 text, strictly, or refused.

Starlette's own form parsing honours whatever charset a multipart body declares, and
reads what it cannot decode as latin-1: ``punycode`` raised (a 500), and ``utf-7`` or
``unicode_escape`` turned bytes into lone surrogates, text that no database, hash or
log line can encode. Its urlencoded parsing replaces bad UTF-8 with U+FFFD, so the text
stored is not the text sent. Browsers send forms in the page's encoding, UTF-8 here,
and declare no other; so anything that is not UTF-8 is a 400 here, where the body
becomes text, and nothing behind this module ever meets such text.
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from portcullis.core.errors import InvalidInput

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"
# As Starlette's default: a form of ours has a handful of fields.
MAX_FIELDS = 1000
NOT_UTF8 = "The request body is not valid UTF-8"
# The charsets whose text is read unchanged as UTF-8 (ASCII is a subset).
UTF8_NAMES = frozenset({"utf-8", "ascii"})


def media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def is_form(content_type: str) -> bool:
    return media_type(content_type) in (FORM_TYPE, MULTIPART_TYPE)


async def read_form(request: Request) -> dict[str, str]:
    """The request's form fields; ``{}`` when the body is not a form.

    Raises InvalidInput when it is a form that is not UTF-8 or cannot be parsed.
    """
    content_type = request.headers.get("content-type", "")
    if not is_form(content_type):
        return {}
    return parse_form(content_type, await request.body())


def parse_form(content_type: str, body: bytes) -> dict[str, str]:
    """The fields of a urlencoded or multipart ``body``. Raises InvalidInput."""
    if media_type(content_type) == MULTIPART_TYPE:
        return _parse_multipart(content_type, body)
    return _parse_urlencoded(body)


def _parse_urlencoded(body: bytes) -> dict[str, str]:
    # The label's charset, if any, is not honoured: the bytes are read as UTF-8 or not
    # at all, and so are the bytes each %XX escape stands for.
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS
        )
    except UnicodeDecodeError:
        raise InvalidInput([NOT_UTF8]) from None
    except ValueError:  # more than MAX_FIELDS fields
        raise InvalidInput([f"A form has at most {MAX_FIELDS} fields"]) from None
    return dict(pairs)


def _refuse_other_charsets(declared: bytes | None) -> None:
    if declared is None:
        return
    try:
        name = codecs.lookup(declared.decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        name = ""
    if name not in UTF8_NAMES:
        raise InvalidInput(["Only UTF-8 text is accepted; the body declares another charset"])


def _text(raw: bytes | bytearray) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput([NOT_UTF8]) from None


def _parse_multipart(content_type: str, body: bytes) -> dict[str, str]:
    _, options = parse_options_header(content_type)
    _refuse_other_charsets(options.get(b"charset"))
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidInput(["The multipart body names no boundary"])
    parts = _Parts()
    try:
        parser = MultipartParser(boundary, parts.callbacks())
        parser.write(body)
        parser.finalize()
    except FormParserError:
        raise InvalidInput(["The multipart body is malformed"]) from None
    return parts.fields


class _Parts:
    """python-multipart's callbacks, gathering each part's headers and bytes."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._data = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_part,
            "on_header_end": self._header_end,
            "on_part_data": self._part_data,
            "on_part_end": self._end,
        }

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name.extend(data[start:end])

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value.extend(data[start:end])

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._data.extend(data[start:end])

    def _begin(self) -> None:
        self._headers.clear()
        self._data.clear()

    def _header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _end(self) -> None:
        if len(self.fields) >= MAX_FIELDS:
            raise InvalidInput([f"A form has at most {MAX_FIELDS} fields"])
        _, disposition = parse_options_header(self._headers.get(b"content-disposition"))
        if b"filename" in disposition:
            raise InvalidInput(["Files are not accepted"])
        if b"name" not in disposition:
            raise InvalidInput(["A multipart part names no field"])
        _, part_type = parse_options_header(self._headers.get(b"content-type"))
        _refuse_other_charsets(part_type.get(b"charset"))
        # parse_options_header reads the header as latin-1; the name's bytes are UTF-8.
        name = _text(disposition[b"name"])
        self.fields[name] = _text(self._data)
