"""``/chats``: one-on-one chats (one per pair, idempotent) and group chats; only members can read a chat."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.graph.auth import Caller
from callbridge.graph.errors import GraphError, bad_request
from callbridge.graph.query import count_rows
from callbridge.graph.users import resolve
from callbridge.store.db import ReadSession
from callbridge.store.models import Chat, ChatMember, User

CREATE = {"Chat.Create", "Chat.ReadWrite"}
READ = {"Chat.ReadBasic", "Chat.Read", "Chat.ReadWrite"}
APP_CREATE = {"Chat.Create"}
APP_READ = {"Chat.Read.All", "Chat.ReadBasic.All", "Chat.ReadWrite.All"}
MEMBER_TYPE = "#microsoft.graph.aadUserConversationMember"
_BIND = re.compile(r"users\(['\"]?([^'\")]+)['\"]?\)/?$")


def one_on_one_id(a: str, b: str) -> str:
    first, second = sorted((a, b))
    return f"19:{first}_{second}@unq.gbl.spaces"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def chat_to_graph(chat: Chat, base: str) -> dict[str, Any]:
    return {
        "id": chat.id, "topic": chat.topic, "createdDateTime": _iso(chat.created_at),
        "lastUpdatedDateTime": _iso(chat.updated_at), "chatType": chat.chat_type, "tenantId": chat.tenant_id,
        "webUrl": f"{base}/l/chat/{chat.id}/0?tenantId={chat.tenant_id}",
    }


def member_to_graph(member: ChatMember, user: User, chat: Chat) -> dict[str, Any]:
    return {
        "@odata.type": MEMBER_TYPE, "id": f"{chat.id}#{user.id}", "roles": list(member.roles),
        "displayName": user.display_name, "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z",
        "userId": user.id, "email": user.mail, "tenantId": user.tenant_id,
    }


async def _members_from_body(s: AsyncSession, caller: Caller, body: dict[str, Any]) -> list[tuple[User, list[str]]]:
    members = body.get("members")
    if not isinstance(members, list) or not members:
        raise bad_request("The chat must have members.", "BadRequest")
    out: list[tuple[User, list[str]]] = []
    for m in members:
        bind = m.get("user@odata.bind") if isinstance(m, dict) else None
        match = _BIND.search(bind) if isinstance(bind, str) else None
        if not match:
            raise bad_request("Each member needs 'user@odata.bind' naming users('<id or userPrincipalName>').")
        roles = m.get("roles", ["owner"])
        if not isinstance(roles, list) or not all(r in ("owner", "guest") for r in roles):
            raise bad_request("Member roles must be 'owner' or 'guest'.")
        out.append((await resolve(s, caller, match.group(1)), list(roles)))
    if len({u.id for u, _ in out}) != len(out):
        raise bad_request("The same user is listed twice among the members.")
    return out


async def create_chat(s: AsyncSession, caller: Caller, body: Any, now: datetime) -> tuple[Chat, bool]:
    """Returns (chat, created). A one-on-one chat of an existing pair is returned as it is."""
    caller.require(CREATE, APP_CREATE)
    if not isinstance(body, dict):
        raise bad_request("The request body must be a chat object.")
    chat_type = body.get("chatType")
    members = await _members_from_body(s, caller, body)
    if not caller.is_app and caller.user_id not in {u.id for u, _ in members}:
        raise bad_request("The signed-in user must be one of the chat's members.", "Forbidden")
    if chat_type == "oneOnOne":
        if len(members) != 2:
            raise bad_request("A oneOnOne chat has exactly two members.")
        if body.get("topic"):
            raise bad_request("A oneOnOne chat has no topic.")
        chat_id = one_on_one_id(members[0][0].id, members[1][0].id)
        existing = await s.get(Chat, chat_id)
        if existing is not None:
            return existing, False
    elif chat_type == "group":
        if len(members) < 2:
            raise bad_request("A group chat has at least two members.")
        chat_id = f"19:{secrets.token_hex(16)}@thread.v2"
    else:
        raise bad_request("chatType must be 'oneOnOne' or 'group'.")
    topic = body.get("topic") if chat_type == "group" else None
    if topic is not None and (not isinstance(topic, str) or len(topic) > 250):
        raise bad_request("topic must be text of at most 250 characters.")
    chat = Chat(id=chat_id, tenant_id=caller.tenant_id, chat_type=chat_type, topic=topic, created_at=now,
                updated_at=now)
    s.add(chat)
    s.add_all(ChatMember(chat_id=chat_id, user_id=u.id, roles=roles, added_at=now) for u, roles in members)
    await s.flush()
    return chat, True


async def readable_chat(s: ReadSession, caller: Caller, chat_id: str) -> Chat:
    caller.require(READ, APP_READ)
    chat: Chat | None = await s.get(Chat, chat_id)
    if chat is None or chat.tenant_id != caller.tenant_id:
        raise GraphError(404, "NotFound", f"Chat '{chat_id}' was not found.")
    if not caller.is_app and await s.get(ChatMember, (chat_id, caller.user_id)) is None:
        raise GraphError(403, "Forbidden", "The signed-in user is not a member of this chat.")
    return chat


def _members_of(chat: Chat) -> Select[ChatMember, User]:
    return select(ChatMember, User).join(User, User.id == ChatMember.user_id).where(ChatMember.chat_id == chat.id)


async def members(s: ReadSession, chat: Chat) -> list[dict[str, Any]]:
    rows = await s.execute(_members_of(chat).order_by(ChatMember.added_at, User.display_name))
    return [member_to_graph(m, u, chat) for m, u in rows.all()]


async def count_members(s: ReadSession, chat: Chat) -> int:
    return await count_rows(s, _members_of(chat))


def _chats_of(caller: Caller) -> Select[Any]:
    caller.require(READ)
    return (select(Chat).join(ChatMember, ChatMember.chat_id == Chat.id)
            .where(ChatMember.user_id == caller.me(), Chat.tenant_id == caller.tenant_id))


async def my_chats(s: ReadSession, caller: Caller, base: str) -> list[dict[str, Any]]:
    rows = await s.scalars(_chats_of(caller).order_by(Chat.updated_at.desc()))
    return [chat_to_graph(c, base) for c in rows.all()]


async def count_my_chats(s: ReadSession, caller: Caller) -> int:
    return await count_rows(s, _chats_of(caller))
