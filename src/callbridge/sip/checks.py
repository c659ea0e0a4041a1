"""What a parsed message must hold before the layers above see it (RFC 3261 8.1.1, 8.2.2, 20; RFC 4475 3.1.2,
3.3.1, 3.3.8, 3.3.9): the mandatory headers, once each where the grammar allows one value, every header the
stack acts on well formed, and a CSeq method that matches the request's.

Headers the stack does not act on (Expires, Subject, unknown extension headers, ...) are not checked: RFC 4475
3.1.1.1 asks parsers to carry those unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from callbridge.sip.errors import Headers, SipParseError, bad_request
from callbridge.sip.fields import (
    parse_call_id,
    parse_contacts,
    parse_content_length,
    parse_cseq,
    parse_date,
    parse_max_forwards,
    parse_name_addr,
    parse_via,
)
from callbridge.sip.headers import LIST_HEADERS, FieldIndex, field_index, header_key, indexed_values

# RFC 3261 (INVITE, ACK, OPTIONS, BYE, CANCEL, REGISTER), 3262 (PRACK), 3265 (SUBSCRIBE, NOTIFY), 3903 (PUBLISH),
# 6086 (INFO), 3515 (REFER), 3428 (MESSAGE), 3311 (UPDATE)
KNOWN_METHODS: Final = frozenset(
    {"INVITE", "ACK", "OPTIONS", "BYE", "CANCEL", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO",
     "REFER", "MESSAGE", "UPDATE"}
)  # fmt: skip

MANDATORY: Final = ("Via", "CSeq", "Call-ID", "From", "To")
SINGLE_VALUED: Final = ("CSeq", "Call-ID", "From", "To", "Max-Forwards", "Content-Length", "Content-Type")

_SCALARS: Final[tuple[tuple[str, Callable[[str], object]], ...]] = (
    ("Call-ID", parse_call_id),
    ("From", lambda value: parse_name_addr(value, "From")),
    ("To", lambda value: parse_name_addr(value, "To")),
    ("Max-Forwards", parse_max_forwards),
    ("Date", parse_date),
    ("Content-Length", parse_content_length),
)
# None of the single-valued and scalar headers is a comma list: their values are their lines, read straight off
# the field index by key (a list header's line, even an empty one, has at least one value: present is present).
assert not (set(SINGLE_VALUED) | {name for name, _ in _SCALARS}) & LIST_HEADERS


def check_message(fields: Headers, method: str | None, max_values: int) -> None:
    """Raise `SipParseError` for the first problem; `method` is None for a response; `max_values` bounds the
    elements of each list header."""
    index = field_index(fields)
    _check_present(index)
    _check_single(index)
    for value in _bounded(index, "Via", max_values):
        parse_via(value)
    cseq = parse_cseq(index[header_key("CSeq")][0])
    for name, parse in _SCALARS:
        for value in index.get(header_key(name), ()):
            parse(value)
    parse_contacts(_bounded(index, "Contact", max_values))
    for name in ("Route", "Record-Route"):
        for value in _bounded(index, name, max_values):
            parse_name_addr(value, name)
    if method is not None and cseq.method != method:
        _method_mismatch(method)


def _check_present(index: FieldIndex) -> None:
    for name in MANDATORY:
        if header_key(name) not in index:
            raise bad_request(f"Missing {name} header")


def _check_single(index: FieldIndex) -> None:
    for name in SINGLE_VALUED:
        if len(index.get(header_key(name), ())) > 1:
            raise bad_request(f"More than one {name} header")


def _bounded(index: FieldIndex, name: str, max_values: int) -> list[str]:
    try:
        return indexed_values(index, name, max_values)
    except SipParseError:
        raise bad_request(f"Too many {name} values") from None


def _method_mismatch(method: str) -> None:
    """RFC 4475 3.1.2.16 (400) and 3.1.2.17: with an unknown method, 501 is the better answer."""
    if method not in KNOWN_METHODS:
        raise SipParseError(501, "Not Implemented (CSeq method does not match)")
    raise bad_request("CSeq method does not match the request method")
