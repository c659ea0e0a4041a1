"""OData query options as Microsoft Graph accepts them: a ``$filter`` parser (tokens -> tree), and the checks of
``$select``, ``$orderby`` and ``$top``. Pure: no database, no HTTP.

Grammar (the subset Graph supports on directory objects)::

    expr       = and_expr *( "or" and_expr )
    and_expr   = unary *( "and" unary )
    unary      = "not" unary / primary
    primary    = "(" expr ")" / function / comparison
    function   = ("startswith" / "endswith" / "contains") "(" property "," literal ")"
    comparison = property ( ("eq" / "ne" / "gt" / "ge" / "lt" / "le") literal / "in" "(" literal *("," literal) ")" )
    literal    = "'" *( char / "''" ) "'" / "true" / "false" / "null" / number / guid
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Literal = str | bool | int | float | None

MAX_DEPTH = 32
MAX_TOKENS = 400
COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
FUNCTIONS = ("startswith", "endswith", "contains")
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_./]*)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)


class ODataError(ValueError):
    """A malformed or unsupported query option; the message is Graph's wording."""


@dataclass(frozen=True)
class Compare:
    prop: str
    op: str
    value: Literal


@dataclass(frozen=True)
class In:
    prop: str
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Function:
    name: str
    prop: str
    value: Literal


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


Node = Compare | In | Function | And | Or | Not


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ODataError(f"Invalid filter clause: syntax error at position {pos} in '{text}'.")
        kind = m.lastgroup or ""
        out.append(_Tok(kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    def parse(self) -> Node:
        if not self.toks:
            raise ODataError("Invalid filter clause: the filter is empty.")
        if len(self.toks) > MAX_TOKENS:
            raise ODataError("Invalid filter clause: the filter has too many clauses.")
        node = self._or()
        if self.i != len(self.toks):
            raise ODataError(f"Invalid filter clause: unexpected '{self.toks[self.i].text}' in '{self.text}'.")
        return node

    def _peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _next(self, what: str) -> _Tok:
        tok = self._peek()
        if tok is None:
            raise ODataError(f"Invalid filter clause: expected {what} at the end of '{self.text}'.")
        self.i += 1
        return tok

    def _keyword(self, word: str) -> bool:
        tok = self._peek()
        if tok is not None and tok.kind == "word" and tok.text.lower() == word:
            self.i += 1
            return True
        return False

    def _expect(self, punct: str) -> None:
        tok = self._next(f"'{punct}'")
        if tok.text != punct:
            raise ODataError(f"Invalid filter clause: expected '{punct}' but found '{tok.text}'.")

    def _or(self) -> Node:
        nodes = [self._and()]
        while self._keyword("or"):
            nodes.append(self._and())
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def _and(self) -> Node:
        nodes = [self._unary()]
        while self._keyword("and"):
            nodes.append(self._unary())
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def _unary(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ODataError("Invalid filter clause: the filter is nested too deeply.")
        try:
            if self._keyword("not"):
                return Not(self._unary())
            tok = self._peek()
            if tok is not None and tok.text == "(":
                self.i += 1
                node = self._or()
                self._expect(")")
                return node
            return self._primary()
        finally:
            self.depth -= 1

    def _primary(self) -> Node:
        tok = self._next("a property or a function")
        if tok.kind != "word":
            raise ODataError(f"Invalid filter clause: expected a property name but found '{tok.text}'.")
        name = tok.text
        if name.lower() in FUNCTIONS and (nxt := self._peek()) is not None and nxt.text == "(":
            self.i += 1
            prop = self._property()
            self._expect(",")
            value = self._literal()
            self._expect(")")
            return Function(name.lower(), prop, value)
        op = self._next("an operator").text.lower()
        if op == "in":
            self._expect("(")
            values = [self._literal()]
            while (nxt := self._peek()) is not None and nxt.text == ",":
                self.i += 1
                values.append(self._literal())
            self._expect(")")
            return In(name, tuple(values))
        if op not in COMPARISONS:
            raise ODataError(f"Invalid filter clause: unsupported operator '{op}'.")
        return Compare(name, op, self._literal())

    def _property(self) -> str:
        tok = self._next("a property name")
        if tok.kind != "word":
            raise ODataError(f"Invalid filter clause: expected a property name but found '{tok.text}'.")
        return tok.text

    def _literal(self) -> Literal:
        tok = self._next("a value")
        if tok.kind == "string":
            return tok.text[1:-1].replace("''", "'")
        if tok.kind == "guid":
            return tok.text.lower()
        if tok.kind == "number":
            return float(tok.text) if "." in tok.text else int(tok.text)
        words: dict[str, Literal] = {"true": True, "false": False, "null": None}
        if tok.kind == "word" and tok.text.lower() in words:
            return words[tok.text.lower()]
        raise ODataError(f"Invalid filter clause: expected a value but found '{tok.text}'.")


def parse_filter(text: str) -> Node:
    if len(text) > 4096:
        raise ODataError("Invalid filter clause: the filter is too long.")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no store can compare it, no response can carry it
            raise ODataError("Invalid filter clause: the filter holds text that is not valid Unicode.") from None
    return _Parser(text).parse()


def properties(node: Node) -> set[str]:
    """Every property a filter names (to check them against the entity's)."""
    if isinstance(node, And | Or):
        return set().union(*(properties(n) for n in node.operands))
    if isinstance(node, Not):
        return properties(node.operand)
    return {node.prop}


def parse_top(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ODataError(f"Invalid page size specified: '{raw}'. Must be between 1 and {maximum} inclusive.") from None
    if not 1 <= value <= maximum:
        raise ODataError(f"Invalid page size specified: '{raw}'. Must be between 1 and {maximum} inclusive.")
    return value


def parse_select(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    names = [n.strip() for n in raw.split(",")]
    if not all(re.fullmatch(r"[A-Za-z_@.][A-Za-z0-9_@.]*", n) for n in names):
        raise ODataError(f"Parsing OData Select and Expand failed: invalid $select '{raw}'.")
    return names


def parse_orderby(raw: str | None) -> list[tuple[str, bool]]:
    """``displayName desc, id`` -> [("displayName", True), ("id", False)]; True means descending."""
    if raw is None:
        return []
    out = []
    for part in raw.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise ODataError(f"Invalid $orderby clause: '{raw}'.")
        out.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return out
