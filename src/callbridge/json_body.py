"""The one JSON reader of request bodies: bounded in size and nesting before the parser runs, and refusing what
the stdlib would turn into a 500 later (numbers past Python's 4,300-digit limit, lone surrogates that no
database or encoder accepts). Each route family turns ``JsonRejected`` into its own 400."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # Graph, ACS and OAuth bodies nest a handful of levels
MAX_BYTES = 1024 * 1024  # the edge's body limits are smaller still per route family

# A JSON string (escapes included) or a bracket: brackets inside strings must not count towards the depth.
_STRUCTURE = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class JsonRejected(ValueError):
    """The body is not acceptable JSON; the message says why, in words a client can act on."""


def depth_of(raw: bytes) -> int:
    """The deepest nesting of arrays and objects, in one linear pass (unclosed strings end the scan)."""
    depth = deepest = 0
    for match in _STRUCTURE.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


def read_json(raw: bytes, *, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> Any:
    """The parsed body (None when empty), or JsonRejected."""
    if not raw.strip():
        return None
    if len(raw) > max_bytes:
        raise JsonRejected(f"The body is larger than {max_bytes} bytes.")
    if depth_of(raw) > max_depth:
        raise JsonRejected(f"The body nests deeper than {max_depth} levels.")
    try:
        value = json.loads(raw)
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # a lone surrogate cannot be stored or sent back
    except RecursionError:
        raise JsonRejected(f"The body nests deeper than {max_depth} levels.") from None
    except UnicodeEncodeError:
        raise JsonRejected("The body holds text that is not valid Unicode (a lone surrogate).") from None
    except ValueError:  # bad JSON, bad UTF-8, a number of more than 4,300 digits
        raise JsonRejected("The body is not valid JSON.") from None
    return value
