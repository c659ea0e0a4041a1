"""Building responses to requests (RFC 3261 8.2.6), including the stateless answer to a request that failed to
parse, and the two request checks RFC 4475 leaves to the user agent (unsupported URI scheme, 416; unsupported
Require option tags, 420).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Final

from callbridge.sip.errors import Headers, SipParseError
from callbridge.sip.fields import parse_name_addr
from callbridge.sip.headers import field_index, header_key, values_of
from callbridge.sip.message import Request, Response

REASON_PHRASES: Final = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued", 183: "Session Progress",
    200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 410: "Gone", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
    421: "Extension Required", 422: "Session Interval Too Small", 423: "Interval Too Brief",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist", 482: "Loop Detected",
    483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 489: "Bad Event", 491: "Request Pending",
    493: "Undecipherable",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Server Time-out", 505: "Version Not Supported", 513: "Message Too Large",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}  # fmt: skip

# RFC 3261 8.2.6.2: these are copied from the request into every response, Via lines in order.
_COPIED: Final = ("Via", "From", "To", "Call-ID", "CSeq")


def reason_phrase(status: int) -> str:
    return REASON_PHRASES.get(status, REASON_PHRASES.get(status // 100 * 100, "Unknown"))


def make_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    header_fields: Headers = (),
    body: bytes = b"",
) -> Response:
    """A response to `request`: Via, From, To, Call-ID and CSeq copied (RFC 3261 8.2.6.2), a To tag added when
    `to_tag` is given and the To has none, Timestamp echoed on 100 (8.2.6.1), then `header_fields`."""
    copied = _copied_fields(request.headers, to_tag)
    if status == 100:
        copied += tuple((name, value) for name, value in request.header_fields if name == "Timestamp")
    return Response(status, reason or reason_phrase(status), copied + tuple(header_fields), body)


def _copied_fields(lines_of: Callable[[str], Sequence[str]], to_tag: str | None) -> Headers:
    """The `_COPIED` headers' lines, each name's in wire order; `lines_of(name)` gives them (a message's
    `headers`, or a look-up in the fields of a request that failed to parse)."""
    copied: list[tuple[str, str]] = []
    for wanted in _COPIED:
        for value in lines_of(wanted):
            if wanted == "To" and to_tag is not None and not _has_tag(value):
                value = f"{value};tag={to_tag}"
            copied.append((wanted, value))
    return tuple(copied)


def _has_tag(to_value: str) -> bool:
    try:
        return parse_name_addr(to_value, "To").tag is not None
    except SipParseError:
        return ";tag=" in to_value.replace(" ", "").lower()


def error_response(error: SipParseError, *, to_tag: str | None = None) -> Response | None:
    """The stateless answer to a request that failed to parse, or None when it is to be dropped."""
    if error.status is None or not values_of(error.header_fields, "Via"):
        return None
    index = field_index(error.header_fields)
    return Response(error.status, error.reason,
                    _copied_fields(lambda name: index.get(header_key(name), ()), to_tag))


def require_supported_scheme(request: Request, schemes: Collection[str] = ("sip", "sips", "tel")) -> None:
    """RFC 3261 8.2.2.1 and RFC 4475 3.3.2/3.3.3: a user agent answers a Request-URI scheme it does not
    support with 416."""
    if request.uri.scheme not in schemes:
        raise SipParseError(416, "Unsupported URI Scheme", is_request=True, header_fields=request.header_fields)


def unsupported_requirements(request: Request, supported: Collection[str]) -> tuple[str, ...]:
    """Option tags in Require that a user agent does not support (RFC 3261 8.2.2.3: answer 420 with them in
    Unsupported; RFC 4475 3.3.5). Empty when the request can go on."""
    wanted = {tag.lower() for tag in supported}
    return tuple(tag for tag in request.values("Require") if tag and tag.lower() not in wanted)
