"""The message layer's one error type and its size limits.

A `SipParseError` carries what to answer: a status code and a reason phrase naming the problem (400, 505,
513, ...), or ``status is None`` when no response can be formed and the message is dropped (a malformed
response, a request without a Via, bytes that are no SIP message at all). It also carries the header fields
read before the problem was found, so the transport can answer statelessly (`responses.error_response`).
"""

from __future__ import annotations

from dataclasses import dataclass

Headers = tuple[tuple[str, str], ...]


class SipParseError(Exception):
    """A message that cannot be accepted; `status` is the response to send, or None to drop it."""

    def __init__(
        self,
        status: int | None,
        reason: str,
        *,
        is_request: bool = False,
        header_fields: Headers = (),
    ) -> None:
        super().__init__(f"{status or 'drop'}: {reason}")
        self.status = status
        self.reason = reason
        self.is_request = is_request
        self.header_fields = header_fields

    @property
    def drop(self) -> bool:
        return self.status is None

    def in_context(self, *, is_request: bool, header_fields: Headers) -> SipParseError:
        """The same problem, placed in its message: only a request with a Via can be answered."""
        has_via = any(name == "Via" for name, _ in header_fields)
        status = self.status if is_request and has_via else None
        return SipParseError(status, self.reason, is_request=is_request, header_fields=header_fields)


def bad_request(reason: str) -> SipParseError:
    return SipParseError(400, reason)


@dataclass(frozen=True)
class Limits:
    """Bounds on what the parser reads; anything larger is refused with a clear error, never parsed slowly."""

    max_message_size: int = 64 * 1024
    max_header_size: int = 32 * 1024
    max_header_count: int = 256
    max_line_length: int = 8 * 1024


DEFAULT_LIMITS = Limits()
