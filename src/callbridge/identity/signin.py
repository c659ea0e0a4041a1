"""Checking a user's password, throttled per user and per address."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.directory.passwords import verify_password
from callbridge.directory.users import find_user
from callbridge.identity import errors
from callbridge.identity.context import IdentityContext
from callbridge.store.models import User


async def check_password(
    ctx: IdentityContext, s: AsyncSession, upn: str, password: str, address: str, now: datetime
) -> User:
    if not upn or not password:
        raise errors.invalid_request("Enter your user name and password.", 900144)
    if await ctx.throttle.blocked(upn, address, now):
        raise errors.too_many_attempts()
    user = await find_user(s, upn) if "@" in upn else None
    if not verify_password(user.password_hash if user else None, password) or user is None:
        await ctx.throttle.failed(upn, address, now)
        raise errors.invalid_grant("Error validating credentials due to invalid username or password.", 50126)
    if not user.account_enabled:
        raise errors.invalid_grant("The user account is disabled.", 50057)
    await ctx.throttle.succeeded(upn, now)
    return user
