"""Header fields as read off the wire: names (with compact forms), unfolding, and splitting lists.

Values are kept verbatim except that folded lines are joined (RFC 3261 7.3.1: a CRLF followed by whitespace is
a single space) and the whitespace around the value is dropped. Only headers whose grammar is a comma list are
split on commas, and never inside a quoted string or between "<" and ">".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

from callbridge.sip import grammar as g
from callbridge.sip.errors import Headers, Limits, SipParseError, bad_request

# RFC 3261 7.3.3 and 20, RFC 3265 (o, u), RFC 3515 (r), RFC 3892 (b), RFC 3841 (a, j, d), RFC 4028 (x),
# RFC 4474 (y, n)
COMPACT_FORMS: Final = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "u": "Allow-Events",
    "r": "Refer-To",
    "b": "Referred-By",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
    "x": "Session-Expires",
    "y": "Identity",
    "n": "Identity-Info",
}

_KNOWN_NAMES: Final = (
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events",
    "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact", "Content-Disposition",
    "Content-Encoding", "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date", "Error-Info",
    "Event", "Expires", "From", "Identity", "Identity-Info", "In-Reply-To", "Max-Forwards", "MIME-Version",
    "Min-Expires", "Min-SE", "Organization", "P-Asserted-Identity", "P-Preferred-Identity", "Path", "Priority",
    "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck", "Reason", "Record-Route", "Refer-To",
    "Referred-By", "Reject-Contact", "Replaces", "Reply-To", "Request-Disposition", "Require", "Retry-After",
    "Route", "RSeq", "Server", "Service-Route", "Session-Expires", "SIP-ETag", "SIP-If-Match", "Subject",
    "Subscription-State", "Supported", "Timestamp", "To", "Unsupported", "User-Agent", "Via", "Warning",
    "WWW-Authenticate",
)  # fmt: skip
_CANONICAL: Final = {name.lower(): name for name in _KNOWN_NAMES}

# Headers whose grammar is `value *(COMMA value)`; every other header is one value, commas and all.
LIST_HEADERS: Final = frozenset(
    {
        "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events",
        "Call-Info", "Contact", "Content-Encoding", "Content-Language", "Error-Info", "In-Reply-To",
        "P-Asserted-Identity", "P-Preferred-Identity", "Path", "Proxy-Require", "Record-Route", "Reject-Contact",
        "Require", "Route", "Service-Route", "Supported", "Unsupported", "Via", "Warning",
    }
)  # fmt: skip


# One element of a comma list: runs of plain text, quoted strings (possibly unterminated) and <...> sections.
_LIST_ELEMENT_RE: Final = re.compile(r'(?:[^",<]++|"(?:[^"\\]|\\.)*+"?+|<[^>]*+>?+)*+', re.DOTALL)
# One part of a parameter list: plain text and quoted strings up to the next ";".
_PARAM_PART_RE: Final = re.compile(r'(?:[^";]++|"(?:[^"\\]|\\.)*+"?+)*+', re.DOTALL)
MAX_PARAMS: Final = 256


@lru_cache(maxsize=1024)
def canonical_name(name: str) -> str:
    """The long, canonically cased form of a header name; unknown names are kept as written. (Memoised: a
    message's names are nearly always the same few dozen.)"""
    lower = name.lower()
    if lower in COMPACT_FORMS:
        return COMPACT_FORMS[lower]
    return _CANONICAL.get(lower, name)


@lru_cache(maxsize=1024)
def header_key(name: str) -> str:
    """What two names of the same header have in common: the canonical name in lower case."""
    return canonical_name(name).lower()


def same_name(a: str, b: str) -> bool:
    return header_key(a) == header_key(b)


FieldIndex = dict[str, list[str]]


def field_index(fields: Headers) -> FieldIndex:
    """Every header line's value by `header_key`, in wire order: one pass over the fields for all look-ups."""
    index: FieldIndex = {}
    for name, value in fields:
        key = header_key(name)
        if key in index:
            index[key].append(value)
        else:
            index[key] = [value]
    return index


def read_header_lines(lines: list[str], limits: Limits) -> Headers:
    """Header lines (after the start line) to (canonical name, unfolded value) pairs, in order."""
    if len(lines) > limits.max_header_count * 4:
        raise SipParseError(400, "Too many header lines")
    fields: list[tuple[str, str]] = []
    for line in lines:
        if len(line) > limits.max_line_length:
            raise bad_request("Header line too long")
        if line[:1] in (" ", "\t"):
            if not fields:
                raise bad_request("Continuation line before the first header")
            name, value = fields[-1]
            continued = line.strip(" \t")
            if "\r" in continued or "\n" in continued:  # as on a first line: the unfolded value must parse again
                raise bad_request("Bare CR or LF in a header")
            fields[-1] = (name, f"{value} {continued}".strip(" \t"))
            if len(fields[-1][1]) > limits.max_line_length:
                raise bad_request("Header line too long")
            continue
        fields.append(_read_header_line(line))
        if len(fields) > limits.max_header_count:
            raise bad_request("Too many headers")
    return tuple(fields)


def _read_header_line(line: str) -> tuple[str, str]:
    match = g.HEADER_LINE_RE.fullmatch(line)
    if match is None:
        raise bad_request("Malformed header line")
    value = match["value"]
    if "\r" in value or "\n" in value:
        raise bad_request("Bare CR or LF in a header")
    return canonical_name(match["name"]), value.strip(" \t")


def split_list(value: str, limit: int | None = None) -> list[str]:
    """Split on commas outside quoted strings and outside <...>; elements are stripped, empty ones kept. With
    `limit`, more elements than that is a 400."""
    parts: list[str] = []
    position = 0
    while True:
        if limit is not None and len(parts) >= limit:
            raise bad_request("Too many values in a header")
        match = _LIST_ELEMENT_RE.match(value, position)
        assert match is not None  # the pattern matches the empty string
        parts.append(match.group().strip(" \t"))
        position = match.end() + 1  # past the comma, or past the end
        if position > len(value):
            return parts


def values_of(fields: Headers, name: str, limit: int | None = None) -> list[str]:
    """Every value of a header, list headers split into their elements (at most `limit` of them)."""
    wanted = header_key(name)
    return split_values([value for key, value in fields if header_key(key) == wanted], name, limit)


def indexed_values(index: FieldIndex, name: str, limit: int | None = None) -> list[str]:
    """`values_of`, read from a `field_index`."""
    return split_values(index.get(header_key(name), []), name, limit)


def split_values(lines: Sequence[str], name: str, limit: int | None = None) -> list[str]:
    """The values of one header's lines: list headers split into their elements (at most `limit` of them)."""
    if canonical_name(name) not in LIST_HEADERS:
        return list(lines)
    values: list[str] = []
    for value in lines:
        values += split_list(value, None if limit is None else limit - len(values))
    return values


def split_params(text: str) -> list[str]:
    """Split `;a=1;b="x;y"` on semicolons outside quoted strings; the text before the first ";" comes first."""
    parts: list[str] = []
    position = 0
    while True:
        match = _PARAM_PART_RE.match(text, position)
        assert match is not None  # the pattern matches the empty string
        parts.append(match.group())
        position = match.end() + 1
        if position > len(text):
            return parts


def parse_generic_params(text: str, what: str) -> tuple[tuple[str, str | None], ...]:
    """*( SEMI generic-param ): `text` is empty or starts with ";"; quoted values keep their quotes."""
    if not text.strip(" \t"):
        return ()
    if text.count(";") > MAX_PARAMS:
        raise bad_request(f"Too many parameters in a {what} header")
    parts = split_params(text)
    if len(parts) > MAX_PARAMS:
        raise bad_request(f"Too many parameters in a {what} header")
    if parts[0].strip(" \t"):
        raise bad_request(f"Invalid {what} header")
    params: list[tuple[str, str | None]] = []
    for part in parts[1:]:
        match = g.GENERIC_PARAM_RE.fullmatch(part)
        if match is None:
            raise bad_request(f"Invalid {what} header")
        params.append((match["name"], match["value"]))
    return tuple(params)


def unquote_string(quoted: str) -> str:
    """The text of a quoted-string, quoted-pairs resolved."""
    return g.QUOTED_PAIR_RE.sub(lambda m: m.group(1), quoted[1:-1])


def lenient_header_lines(lines: list[str], limit: int) -> Headers:
    """Best-effort header fields of a message that failed to parse, to answer it statelessly; never raises."""
    fields: list[tuple[str, str]] = []
    for line in lines[:limit]:
        if line[:1] in (" ", "\t") and fields:
            name, value = fields[-1]
            continued = line.strip(" \t")
            if "\r" in continued or "\n" in continued:  # as on a first line: the unfolded value must parse again
                raise bad_request("Bare CR or LF in a header")
            fields[-1] = (name, f"{value} {continued}".strip(" \t"))
            continue
        match = g.HEADER_LINE_RE.fullmatch(line)
        if match is not None:
            fields.append((canonical_name(match["name"]), match["value"].strip(" \t")))
    return tuple((name, value) for name, value in fields if "\r" not in value and "\n" not in value)
