"""OData trees compiled to SQL over an entity's property map, and keyset paging over an ordering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, not_, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from callbridge.graph import odata
from callbridge.graph.errors import GraphError, bad_request
from callbridge.store.db import ReadSession

ADVANCED_OPERATORS = ("ne", "endswith", "not", "contains")


@dataclass(frozen=True)
class Property:
    column: InstrumentedAttribute[Any]
    kind: type  # str | bool
    filterable: bool = True
    sortable: bool = False


def _unsupported(name: str, entity: str) -> GraphError:
    return bad_request(f"Unsupported or invalid query filter clause specified for property '{name}' of resource "
                       f"'{entity}'.", "Request_UnsupportedQuery")


class FilterCompiler:
    def __init__(self, props: dict[str, Property], entity: str, advanced: bool, dialect: str) -> None:
        self._props = {k.lower(): v for k, v in props.items()}
        self._names = {k.lower(): k for k in props}
        self._entity = entity
        self._advanced = advanced
        self._dialect = dialect

    def _prop(self, name: str) -> Property:
        prop = self._props.get(name.lower())
        if prop is None:
            raise bad_request(f"Could not find a property named '{name}' on type 'microsoft.graph.{self._entity}'.",
                              "Request_BadRequest")
        if not prop.filterable:
            raise _unsupported(self._names[name.lower()], self._entity)
        return prop

    def _need_advanced(self, what: str) -> None:
        if not self._advanced:
            raise bad_request(f"Operator '{what}' is not supported because the required parameters might be "
                              "missing. Try adding $count=true query parameter and ConsistencyLevel:eventual "
                              "header.", "Request_UnsupportedQuery")

    def compile(self, node: odata.Node) -> ColumnElement[bool]:
        handlers: dict[type, Callable[[Any], ColumnElement[bool]]] = {
            odata.And: lambda n: and_(*(self.compile(x) for x in n.operands)),
            odata.Or: lambda n: or_(*(self.compile(x) for x in n.operands)),
            odata.Not: self._not,
            odata.Compare: self._compare,
            odata.In: self._in,
            odata.Function: self._function,
        }
        return handlers[type(node)](node)

    def _not(self, node: odata.Not) -> ColumnElement[bool]:
        self._need_advanced("not")
        return not_(self.compile(node.operand))

    def _value(self, prop: Property, name: str, value: odata.Literal) -> Any:
        if value is None:
            return None
        if not isinstance(value, prop.kind) or (prop.kind is not bool and isinstance(value, bool)):
            raise bad_request(f"A binary operator with incompatible types was detected for property '{name}'.",
                              "Request_BadRequest")
        return value.lower() if isinstance(value, str) else value

    def _column(self, prop: Property) -> Any:
        """Strings compare case-insensitively, as the expression indexes ``lower(column)`` are built: in binary
        order (SQLite's default; ``COLLATE "C"`` on PostgreSQL), so a prefix is an index range."""
        if prop.kind is not str:
            return prop.column
        lowered = func.lower(prop.column)
        return lowered.collate("C") if self._dialect == "postgresql" else lowered

    def _compare(self, node: odata.Compare) -> ColumnElement[bool]:
        prop = self._prop(node.prop)
        if node.op not in ("eq", "ne"):
            raise _unsupported(node.prop, self._entity)
        if node.op == "ne":
            self._need_advanced("ne")
        value = self._value(prop, node.prop, node.value)
        column = self._column(prop)
        result: ColumnElement[bool]
        if value is None:
            result = column.is_(None) if node.op == "eq" else column.is_not(None)
        else:
            result = column == value if node.op == "eq" else column != value
        return result

    def _in(self, node: odata.In) -> ColumnElement[bool]:
        prop = self._prop(node.prop)
        values = [self._value(prop, node.prop, v) for v in node.values]
        return self._column(prop).in_(values) if values else false()

    def _function(self, node: odata.Function) -> ColumnElement[bool]:
        prop = self._prop(node.prop)
        if prop.kind is not str or not isinstance(node.value, str):
            raise _unsupported(node.prop, self._entity)
        if node.name == "startswith":
            return self._prefix(prop, node.value.lower())
        self._need_advanced(node.name)
        escaped = node.value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = {"endswith": f"%{escaped}", "contains": f"%{escaped}%"}[node.name]
        return func.lower(prop.column).like(pattern, escape="\\")

    def _prefix(self, prop: Property, prefix: str) -> ColumnElement[bool]:
        """``prefix <= lower(column) < prefix'`` (the last character bumped): exact in binary order, and a range
        of the ``lower(column)`` index instead of a scan."""
        column = self._column(prop)
        if not prefix:
            everything: ColumnElement[bool] = column.is_not(None)
            return everything
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1) if ord(prefix[-1]) < 0x10FFFF else None
        lower_bound: ColumnElement[bool] = column >= prefix
        return lower_bound if upper is None else and_(lower_bound, column < upper)


async def count_rows(s: ReadSession, query: Select[*tuple[Any, ...]]) -> int:
    """How many rows ``query`` lists: a collection's ``@odata.count`` and its ``$count`` segment."""
    return int(await s.scalar(select(func.count()).select_from(query.subquery())) or 0)


def search_clause(raw: str, props: dict[str, Property]) -> ColumnElement[bool]:
    """``"displayName:al"`` (and several joined by OR/AND): a word of the property starts with the term."""
    text = raw.strip()
    if len(text) < 2 or not text.startswith('"') or not text.endswith('"'):
        raise bad_request("Syntax error: $search must be a quoted \"property:term\" clause.", "Request_BadRequest")
    clauses: list[ColumnElement[bool]] = []
    conjunction = False
    for part in text.split('"'):
        part = part.strip()
        if not part:
            continue
        if part.upper() in ("OR", "AND"):
            conjunction = part.upper() == "AND"
            continue
        name, sep, term = part.partition(":")
        prop = {k.lower(): v for k, v in props.items()}.get(name.strip().lower())
        if not sep or prop is None or prop.kind is not str or not term.strip():
            raise bad_request(f"Invalid $search clause '{part}'.", "Request_BadRequest")
        word = term.strip().lower().replace("%", "\\%").replace("_", "\\_")
        column = func.lower(prop.column)
        clauses.append(or_(column.like(f"{word}%", escape="\\"), column.like(f"% {word}%", escape="\\")))
    if not clauses:
        return true()
    return and_(*clauses) if conjunction else or_(*clauses)
