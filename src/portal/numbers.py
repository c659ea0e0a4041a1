"""E.164 phone numbers as people type them: spaces, dashes, dots and brackets are dropped; what is left must be
``+`` and 8 to 15 digits, the first not 0 (ITU-T E.164: a country code and at most 15 digits in all)."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-.()/]")
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")


class NotE164(ValueError):
    pass


def e164(text: str) -> str:
    """The number in E.164, or NotE164 with the reason in words."""
    number = _SEPARATORS.sub("", text)
    if number.startswith("00"):
        number = "+" + number[2:]
    if not number.startswith("+"):
        raise NotE164(f"'{text}' is not an international number: start it with + and the country code.")
    if not _E164.match(number):
        raise NotE164(f"'{text}' is not a valid phone number: + and the country code, then the number "
                      "(8 to 15 digits in all).")
    return number
