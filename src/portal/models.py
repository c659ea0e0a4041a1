"""The portal's own data: Contoso's customers of each tenant (with their phone numbers), each user's call history,
and each user's serialized msal token cache. Every row names its tenant; every query filters by it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (Index("ix_customers_tenant_name", "tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    numbers: Mapped[list[CustomerNumber]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerNumber.position", lazy="selectin")


class CustomerNumber(Base):
    """One E.164 number of a customer; a number belongs to at most one customer of a tenant (so an incoming call
    names one caller)."""

    __tablename__ = "customer_numbers"
    __table_args__ = (UniqueConstraint("tenant_id", "number", name="uq_customer_numbers_tenant_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer, default=0)
    customer: Mapped[Customer] = relationship(back_populates="numbers")


class CallHistory(Base):
    __tablename__ = "call_history"
    __table_args__ = (UniqueConstraint("account_key", "call_id", name="uq_call_history_account_call"),
                      Index("ix_call_history_account_started", "account_key", "started_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    account_key: Mapped[str] = mapped_column(String(140))
    call_id: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(16))
    peer_raw_id: Mapped[str] = mapped_column(String(300))
    peer_name: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    connected_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_code: Mapped[int] = mapped_column(Integer)
    end_sub_code: Mapped[int] = mapped_column(Integer)


class TokenCache(Base):
    """msal's serialized token cache of one user (key: msal's home account id ``oid.tid``): never shared between
    users or tenants, so one user's refresh token can never answer for another."""

    __tablename__ = "token_caches"

    account_key: Mapped[str] = mapped_column(String(140), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    cache: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
