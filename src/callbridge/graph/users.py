"""``/users``, ``/users/{id | userPrincipalName}``, ``/me`` and ``licenseDetails`` in Graph's shapes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, select, tuple_

from callbridge.directory.values import Licence, is_guid
from callbridge.graph import odata
from callbridge.graph.auth import Caller
from callbridge.graph.errors import bad_request, user_not_found
from callbridge.graph.paging import PageTokens
from callbridge.graph.query import FilterCompiler, Property, count_rows, search_clause
from callbridge.store.db import ReadSession
from callbridge.store.models import User

PROPS: dict[str, Property] = {
    "id": Property(User.id, str),
    "displayName": Property(User.display_name, str, sortable=True),
    "givenName": Property(User.given_name, str),
    "surname": Property(User.surname, str),
    "mail": Property(User.mail, str),
    "userPrincipalName": Property(User.user_principal_name, str, sortable=True),
    "jobTitle": Property(User.job_title, str),
    "mobilePhone": Property(User.mobile_phone, str),
    "officeLocation": Property(User.office_location, str),
    "preferredLanguage": Property(User.preferred_language, str),
    "accountEnabled": Property(User.account_enabled, bool),
}
LISTED_COLUMNS = [p.column for p in PROPS.values()] + [User.business_phones]
DEFAULT_SELECT = ["businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                  "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"]
SELECTABLE = {*PROPS, "businessPhones"}
BASIC = {"id", "displayName", "givenName", "surname", "mail", "userPrincipalName"}
READ_OTHERS = {"User.ReadBasic.All", "User.Read.All", "Directory.Read.All"}
READ_ALL = {"User.Read.All", "Directory.Read.All"}  # the full profile of everyone (delegated or application)
PAGE_DEFAULT, PAGE_MAX = 100, 999


def _value(user: User | Row[Any], name: str) -> Any:
    if name == "businessPhones":
        return list(user.business_phones or [])
    return getattr(user, PROPS[name].column.key)


def to_graph(user: User | Row[Any], select_: list[str] | None, basic_only: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in select_ or DEFAULT_SELECT:
        out[name] = None if basic_only and name not in BASIC else _value(user, name)
    return out


def check_select(select_: list[str] | None) -> list[str] | None:
    if select_ is None:
        return None
    canonical = {n.lower(): n for n in SELECTABLE}
    out = []
    for name in select_:
        if name.lower() not in canonical:
            raise bad_request(f"Could not find a property named '{name}' on type 'microsoft.graph.user'.",
                              "Request_BadRequest")
        out.append(canonical[name.lower()])
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class UserQuery:
    filter: str | None
    search: str | None
    orderby: str | None
    select: str | None
    top: str | None
    count: bool
    eventual: bool  # ConsistencyLevel: eventual
    skiptoken: str | None


def _order(raw: str | None) -> tuple[Property, bool]:
    order = odata.parse_orderby(raw)
    if len(order) > 1:
        raise bad_request("Sorting by more than one property is not supported.", "Request_UnsupportedQuery")
    if not order:
        return PROPS["id"], False
    name, desc = order[0]
    prop = {k.lower(): v for k, v in PROPS.items()}.get(name.lower())
    if prop is None or not prop.sortable:
        raise bad_request(f"Sorting by the property '{name}' is not supported.", "Request_UnsupportedQuery")
    return prop, desc


def _where(caller: Caller, q: UserQuery, dialect: str) -> Select[Any]:
    # Plain rows, not ORM objects: a page is a hundred users and building entities would cost more than the query.
    query = select(*LISTED_COLUMNS).where(User.tenant_id == caller.tenant_id)
    if (q.search is not None or q.count) and not q.eventual:
        what = "$search" if q.search is not None else "$count"
        raise bad_request(f"{what} requires the ConsistencyLevel:eventual header.", "Request_UnsupportedQuery")
    if q.filter is not None:
        tree = odata.parse_filter(q.filter)
        compiler = FilterCompiler(PROPS, "user", advanced=q.eventual and q.count, dialect=dialect)
        query = query.where(compiler.compile(tree))
    if q.search is not None:
        query = query.where(search_clause(q.search, PROPS))
    return query


async def list_users(s: ReadSession, caller: Caller, q: UserQuery, tokens: PageTokens, fingerprint: str,
                     now: datetime, dialect: str) -> tuple[list[dict[str, Any]], str | None, int | None]:
    """(one page of users, the skiptoken of the next page or None, the total count if asked)."""
    caller.require(READ_OTHERS, READ_ALL)
    top = odata.parse_top(q.top, PAGE_DEFAULT, PAGE_MAX)
    fields = check_select(odata.parse_select(q.select))
    sort, desc = _order(q.orderby)
    query = _where(caller, q, dialect)
    total = await count_rows(s, query) if q.count else None
    key = tuple_(sort.column, User.id)
    if q.skiptoken:
        position = tokens.read(q.skiptoken, caller.tenant_id, fingerprint, now)
        if len(position) != 2:
            raise bad_request("Invalid $skiptoken.", "Request_BadRequest")
        query = query.where(key < tuple_(*position) if desc else key > tuple_(*position))
    ordering = (sort.column.desc(), User.id.desc()) if desc else (sort.column, User.id)
    rows = list((await s.execute(query.order_by(*ordering).limit(top + 1))).all())
    basic_only = not caller.is_app and not (caller.scopes & READ_ALL)
    page = [to_graph(u, fields, basic_only) for u in rows[:top]]
    next_token = None
    if len(rows) > top:
        last = rows[top - 1]
        next_token = tokens.issue(caller.tenant_id, fingerprint, [getattr(last, sort.column.key), last.id], now)
    return page, next_token, total


async def count_users(s: ReadSession, caller: Caller, q: UserQuery, dialect: str) -> int:
    """``/users/$count``: the users ``/users`` would list with the same ``$filter`` and ``$search``. Directory
    objects are counted only with ``ConsistencyLevel: eventual``; without it Graph answers this 400."""
    if not q.eventual:
        raise bad_request("$count is not currently supported.", "Request_BadRequest")
    caller.require(READ_OTHERS, READ_ALL)
    return await count_rows(s, _where(caller, q, dialect))


async def get_user(s: ReadSession, caller: Caller, ref: str, select_raw: str | None) -> dict[str, Any]:
    user = await resolve(s, caller, ref)
    if user.id != caller.user_id:
        caller.require(READ_OTHERS, READ_ALL)
    else:
        caller.require({"User.Read", *READ_OTHERS, "User.ReadWrite"})
    basic_only = user.id != caller.user_id and not caller.is_app and not (caller.scopes & READ_ALL)
    return to_graph(user, check_select(odata.parse_select(select_raw)), basic_only)


async def resolve(s: ReadSession, caller: Caller, ref: str) -> User:
    """A user of the caller's tenant by object id or UPN; another tenant's user is simply not found."""
    text = ref.strip().lower()
    column = User.id if is_guid(text) else User.user_principal_name
    user: User | None = await s.scalar(select(User).where(column == text, User.tenant_id == caller.tenant_id))
    if user is None:
        raise user_not_found(ref)
    return user


async def license_details(s: ReadSession, caller: Caller, ref: str) -> list[dict[str, Any]]:
    user = await resolve(s, caller, ref)
    if user.id == caller.user_id:
        caller.require({"User.Read", *READ_OTHERS})
    else:
        caller.require(READ_ALL, READ_ALL)
    out = []
    for sku in user.licence_skus:
        try:
            lic = Licence(sku)
        except ValueError:
            continue
        out.append({"id": f"{user.id}_{lic.sku_id}", "skuId": lic.sku_id, "skuPartNumber": lic.sku_part_number,
                    "servicePlans": []})
    return out
