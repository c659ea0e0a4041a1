"""The SDK's error: ACS's code and subCode, and the service's message."""

from __future__ import annotations


class CallingError(Exception):
    def __init__(self, code: int | str, sub_code: int, message: str) -> None:
        super().__init__(f"{code}/{sub_code}: {message}")
        self.code = code
        self.sub_code = sub_code
