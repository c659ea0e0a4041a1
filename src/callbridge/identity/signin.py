"""Checking a user's password, behind the sign-in back-off.

It holds no store connection while it waits for another, nor while it hashes: callers check the password
before or after their own session, never inside it (a pool full of sign-ins each waiting for a second
connection is a deadlock).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import Request

from callbridge.directory.passwords import verify_password
from callbridge.directory.users import find_user
from callbridge.identity import errors
from callbridge.identity.client_address import client_address
from callbridge.identity.context import IdentityContext
from callbridge.store.models import User


def request_address(ctx: IdentityContext, request: Request) -> str:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.getlist("x-forwarded-for"), ctx.trusted_proxies)


async def check_password(ctx: IdentityContext, upn: str, password: str, address: str, now: datetime) -> User:
    """The user, when ``password`` is theirs and they may sign in; the returned object belongs to no session."""
    if not upn or not password:
        raise errors.invalid_request("Enter your user name and password.", 900144)
    attempt = await ctx.throttle.reserve(upn, address, now)
    async with ctx.db.session() as s:
        user = await find_user(s, upn) if "@" in upn else None
    # Argon2 takes tens of milliseconds of CPU: off the event loop, so other requests go on meanwhile.
    if not await asyncio.to_thread(verify_password, user.password_hash if user else None, password) or user is None:
        raise errors.invalid_grant("Error validating credentials due to invalid username or password.", 50126)
    await ctx.throttle.succeeded(attempt)
    if not user.account_enabled:
        raise errors.invalid_grant("The user account is disabled.", 50057)
    return user
