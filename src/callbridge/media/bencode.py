"""Bencode, the encoding of rtpengine's ng control protocol: integers ``i42e``, byte strings ``4:spam``, lists
``l...e`` and dictionaries ``d...e`` with keys sorted. Strings are decoded as UTF-8 text."""

from __future__ import annotations

from typing import Union

from callbridge.media.errors import MediaError

Value = Union[int, str, bytes, list["Value"], dict[str, "Value"]]  # noqa: UP007 (a recursive alias)
_MAX_DEPTH = 64


class BencodeError(MediaError):
    """Not valid bencode."""


def encode(value: Value) -> bytes:
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value: Value, out: list[bytes]) -> None:
    """Appends the pieces of `value` to `out` (one join at the end; strings first, the commonest). Keys sort as
    text: UTF-8 keeps the order of code points, so that is the order of their bytes."""
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        out.append(b"%d:" % len(value))
        out.append(value)
    elif isinstance(value, bool):
        raise BencodeError("bencode has no booleans")
    elif isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, list):
        out.append(b"l")
        for item in value:
            _encode(item, out)
        out.append(b"e")
    elif isinstance(value, dict):
        out.append(b"d")
        for key in sorted(value):
            if not isinstance(key, str):
                raise BencodeError("dictionary keys are strings")
            _encode(key, out)
            _encode(value[key], out)
        out.append(b"e")
    else:
        raise BencodeError(f"cannot bencode {type(value).__name__}")


def decode(data: bytes) -> Value:
    value, end = _decode(data, 0, 0)
    if end != len(data):
        raise BencodeError("trailing data after the value")
    return value


def _decode(data: bytes, at: int, depth: int) -> tuple[Value, int]:
    if depth > _MAX_DEPTH:
        raise BencodeError("nested too deeply")
    if at >= len(data):
        raise BencodeError("truncated")
    kind = data[at:at + 1]
    if kind == b"i":
        end = _find(data, b"e", at)
        return _integer(data[at + 1:end]), end + 1
    if kind == b"l":
        items: list[Value] = []
        at += 1
        while data[at:at + 1] != b"e":
            item, at = _decode(data, at, depth + 1)
            items.append(item)
        return items, at + 1
    if kind == b"d":
        return _dictionary(data, at + 1, depth)
    if kind.isdigit():
        return _string(data, at)
    raise BencodeError(f"unexpected byte {kind!r} at {at}")


def _dictionary(data: bytes, at: int, depth: int) -> tuple[Value, int]:
    result: dict[str, Value] = {}
    while data[at:at + 1] != b"e":
        if not data[at:at + 1].isdigit():
            raise BencodeError("dictionary keys are strings")
        key, at = _string(data, at)
        result[str(key)], at = _decode(data, at, depth + 1)
    return result, at + 1


def _string(data: bytes, at: int) -> tuple[str, int]:
    colon = _find(data, b":", at)
    length = _integer(data[at:colon])
    end = colon + 1 + length
    if length < 0 or end > len(data):
        raise BencodeError("truncated string")
    try:
        return data[colon + 1:end].decode(), end
    except UnicodeDecodeError as exc:
        raise BencodeError("a string that is not UTF-8") from exc


def _find(data: bytes, byte: bytes, start: int) -> int:
    end = data.find(byte, start)
    if end < 0:
        raise BencodeError("truncated")
    return end


def _integer(digits: bytes) -> int:
    if len(digits) > 32:
        raise BencodeError("integer too long")
    try:
        return int(digits)
    except ValueError as exc:
        raise BencodeError(f"bad integer {digits!r}") from exc
