"""The edge's one JSON reader refuses, with JsonRejected, what would otherwise become a 500 deeper in."""

from __future__ import annotations

import pytest

from callbridge.graph import odata
from callbridge.json_body import JsonRejected, depth_of, read_json


@pytest.mark.parametrize("raw", [
    b"[" * 100_000 + b"]" * 100_000,  # RecursionError in the stdlib parser
    b'{"a": ' + b"9" * 5000 + b"}",  # ValueError: past 4,300 digits
    b'{"a": "\\ud800"}',  # parses to a lone surrogate, which no encoder accepts
    b'{"a": 1',
    b"\xff\xfe",
])
def test_hostile_bodies_are_rejected(raw: bytes) -> None:
    with pytest.raises(JsonRejected):
        read_json(raw)


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert depth_of(b'{"a": "[[[[{{{{", "b": [[1]], "c": "\\"[["}') == 3
    assert read_json(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') is not None
    assert read_json(b"  ") is None
    assert read_json(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}  # a surrogate pair is one character


def test_a_filter_with_a_lone_surrogate_is_an_odata_error() -> None:
    with pytest.raises(odata.ODataError):
        odata.parse_filter("startswith(displayName,'\ud800')")
