"""Customers per tenant (with their numbers), call history per user, msal token caches per user.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portal.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = portal.models.UtcDateTime
    op.create_table(
        "customers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("company", sa.String(200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("updated_at", utc(), nullable=False),
    )
    op.create_index("ix_customers_tenant_name", "customers", ["tenant_id", "name"])
    op.create_table(
        "customer_numbers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("number", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.UniqueConstraint("tenant_id", "number", name="uq_customer_numbers_tenant_number"),
    )
    op.create_index("ix_customer_numbers_customer_id", "customer_numbers", ["customer_id"])
    op.create_table(
        "call_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("account_key", sa.String(140), nullable=False),
        sa.Column("call_id", sa.String(200), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("peer_raw_id", sa.String(300), nullable=False),
        sa.Column("peer_name", sa.String(200), nullable=False),
        sa.Column("started_at", utc(), nullable=False),
        sa.Column("connected_at", utc(), nullable=True),
        sa.Column("ended_at", utc(), nullable=False),
        sa.Column("end_code", sa.Integer(), nullable=False),
        sa.Column("end_sub_code", sa.Integer(), nullable=False),
        sa.UniqueConstraint("account_key", "call_id", name="uq_call_history_account_call"),
    )
    op.create_index("ix_call_history_account_started", "call_history", ["account_key", "started_at"])
    op.create_table(
        "token_caches",
        sa.Column("account_key", sa.String(140), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("cache", sa.Text(), nullable=False),
        sa.Column("updated_at", utc(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("token_caches")
    op.drop_index("ix_call_history_account_started", "call_history")
    op.drop_table("call_history")
    op.drop_index("ix_customer_numbers_customer_id", "customer_numbers")
    op.drop_table("customer_numbers")
    op.drop_index("ix_customers_tenant_name", "customers")
    op.drop_table("customers")
