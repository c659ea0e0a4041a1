"""HTML pages of the identity provider (sign-in, consent, messages), the sign-in session cookie and CSRF."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from callbridge.identity.context import IdentityContext
from callbridge.identity.tokens import Expectation, TokenInvalid, sign, verify

SESSION_COOKIE = "cb_session"
CSRF_COOKIE = "cb_csrf"
SESSION_AUDIENCE = "urn:callbridge:signin-session"

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape())

SCOPE_DESCRIPTIONS = {
    "User.Read": "Sign you in and read your profile",
    "User.ReadBasic.All": "Read the basic profiles of all users in your organisation",
    "User.Read.All": "Read the full profiles of all users",
    "User.ReadWrite.All": "Read and write the full profiles of all users",
    "Directory.Read.All": "Read directory data",
    "Directory.ReadWrite.All": "Read and write directory data",
    "Group.Read.All": "Read all groups",
    "Group.ReadWrite.All": "Read and write all groups",
    "People.Read.All": "Read all users' relevant people lists",
    "Organization.Read.All": "Read your organisation's information",
    "Chat.Create": "Create chats",
    "Chat.Read": "Read your chat messages",
    "Chat.ReadBasic": "Read the names and members of your chats",
    "Chat.ReadWrite": "Read and write your chat messages",
    "Calendars.ReadBasic": "Read the basic details of your calendars",
    "Calendars.Read": "Read your calendars",
    "Calendars.ReadWrite": "Have full access to your calendars",
    "OnlineMeetings.Read": "Read your online meetings",
    "OnlineMeetings.ReadWrite": "Read and create your online meetings",
    "Presence.Read": "Read your presence information",
    "People.Read": "Read the people relevant to you",
    "Teams.ManageCalls": "Manage calls in Teams",
    "Teams.ManageChats": "Manage chats in Teams",
    "openid": "Sign you in",
    "profile": "View your basic profile",
    "email": "View your email address",
    "offline_access": "Maintain access to data you have given it access to",
}


def render(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    values.setdefault("tenant_label", "sign-in")
    html = _env.get_template(template).render(**values)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def message_page(title: str, message: str, status: int = 400, code: int | None = None) -> HTMLResponse:
    return render("message.html", status, title=title, message=message, code=code, is_error=status >= 400)


def describe(names: list[str]) -> list[dict[str, str]]:
    return [{"name": n, "description": SCOPE_DESCRIPTIONS.get(n.rsplit("/", 1)[-1], n)} for n in names]


def csrf_token(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def csrf_ok(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and submitted and secrets.compare_digest(cookie.encode(), submitted.encode()))  # any text


def set_csrf(response: Response, token: str) -> None:
    response.set_cookie(CSRF_COOKIE, token, httponly=True, secure=True, samesite="lax", path="/")


def new_session(ctx: IdentityContext, user_id: str, tenant_id: str, now: datetime) -> str:
    exp = now + timedelta(seconds=ctx.settings.session_lifetime_s)
    claims = {"aud": SESSION_AUDIENCE, "sub": user_id, "tid": tenant_id, "iat": int(now.timestamp()),
              "exp": int(exp.timestamp()), "auth_time": int(now.timestamp())}
    return sign(claims, ctx.ring)


def read_session(ctx: IdentityContext, request: Request, now: datetime) -> dict[str, Any] | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        return verify(cookie, ctx.ring, Expectation(frozenset({SESSION_AUDIENCE})), now)
    except TokenInvalid:
        return None


def set_session(response: Response, value: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, value, max_age=max_age, httponly=True, secure=True, samesite="lax",
                        path="/")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
