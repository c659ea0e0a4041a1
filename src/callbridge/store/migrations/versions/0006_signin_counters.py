"""sign-in back-off: one counter per user, per user and address, per address (instead of a row per failure)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 23:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callbridge.store.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signin_counters',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('signin_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signin_counters_last_failure_at'), ['last_failure_at'], unique=False)
    with op.batch_alter_table('signin_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signin_failures_key'))
        batch_op.drop_index(batch_op.f('ix_signin_failures_at'))
    op.drop_table('signin_failures')


def downgrade() -> None:
    op.create_table('signin_failures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('at', callbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('signin_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signin_failures_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_signin_failures_key'), ['key'], unique=False)
    with op.batch_alter_table('signin_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signin_counters_last_failure_at'))
    op.drop_table('signin_counters')
