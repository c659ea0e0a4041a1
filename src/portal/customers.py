"""Contoso's customers of one tenant: create, change, delete, search, and find by the number calling in. Every
function takes the tenant of the signed-in user, resolved once at the edge; no query crosses tenants."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import PortalError, not_found
from portal.models import Customer, CustomerNumber, utcnow

PAGE = 50


@dataclass(frozen=True)
class CustomerFields:
    """What a person enters; ``phone_numbers`` already in E.164 (see portal.numbers)."""

    name: str
    company: str
    phone_numbers: tuple[str, ...]
    notes: str


async def _check_numbers_free(s: AsyncSession, tenant_id: str, numbers: tuple[str, ...], owner: str | None) -> None:
    if len(set(numbers)) != len(numbers):
        raise PortalError(400, "InvalidRequest", "The same phone number is listed twice.")
    if not numbers:
        return
    taken = await s.scalar(select(CustomerNumber).where(
        CustomerNumber.tenant_id == tenant_id, CustomerNumber.number.in_(numbers),
        CustomerNumber.customer_id != (owner or "")))
    if taken is not None:
        holder = await s.get(Customer, taken.customer_id)
        raise PortalError(409, "NumberInUse", f"{taken.number} already belongs to the customer "
                          f"{holder.name if holder else 'another customer'}.")


def _set_numbers(customer: Customer, numbers: tuple[str, ...]) -> None:
    customer.numbers = [CustomerNumber(tenant_id=customer.tenant_id, number=n, position=i)
                        for i, n in enumerate(numbers)]


async def create(s: AsyncSession, tenant_id: str, fields: CustomerFields) -> Customer:
    await _check_numbers_free(s, tenant_id, fields.phone_numbers, None)
    customer = Customer(id=str(uuid.uuid4()), tenant_id=tenant_id, name=fields.name, company=fields.company,
                        notes=fields.notes, numbers=[])
    _set_numbers(customer, fields.phone_numbers)
    s.add(customer)
    await s.flush()
    return customer


async def get(s: AsyncSession, tenant_id: str, customer_id: str) -> Customer:
    customer = await s.get(Customer, customer_id)
    if customer is None or customer.tenant_id != tenant_id:  # another tenant's customer does not exist here
        raise not_found("The customer")
    return customer


async def update(s: AsyncSession, tenant_id: str, customer_id: str, fields: CustomerFields) -> Customer:
    customer = await get(s, tenant_id, customer_id)
    await _check_numbers_free(s, tenant_id, fields.phone_numbers, customer.id)
    customer.name, customer.company, customer.notes = fields.name, fields.company, fields.notes
    if [n.number for n in customer.numbers] != list(fields.phone_numbers):
        await s.execute(delete(CustomerNumber).where(CustomerNumber.customer_id == customer.id))
        await s.flush()
        s.expire(customer, ["numbers"])
        await s.refresh(customer, ["numbers"])
        _set_numbers(customer, fields.phone_numbers)
    customer.updated_at = utcnow()
    await s.flush()
    return customer


async def remove(s: AsyncSession, tenant_id: str, customer_id: str) -> None:
    await s.delete(await get(s, tenant_id, customer_id))


async def search(s: AsyncSession, tenant_id: str, text: str) -> list[Customer]:
    """By name, company or (part of) a number, case-insensitively; at most ``PAGE``, by name."""
    query = select(Customer).where(Customer.tenant_id == tenant_id).order_by(Customer.name).limit(PAGE)
    text = text.strip()
    if text:
        like = f"%{text.lower().replace('%', '').replace('_', '')}%"
        digits = "".join(c for c in text if c.isdigit())
        by_number = select(CustomerNumber.customer_id).where(
            CustomerNumber.tenant_id == tenant_id, CustomerNumber.number.like(f"%{digits}%"))
        conditions = [Customer.name.ilike(like), Customer.company.ilike(like)]
        if digits:
            conditions.append(Customer.id.in_(by_number))
        query = query.where(or_(*conditions))
    return list((await s.scalars(query)).all())


async def by_number(s: AsyncSession, tenant_id: str, number: str) -> Customer | None:
    found = await s.scalar(select(CustomerNumber).where(CustomerNumber.tenant_id == tenant_id,
                                                        CustomerNumber.number == number))
    return await s.get(Customer, found.customer_id) if found is not None else None
