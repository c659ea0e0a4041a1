"""call records, and the tenants' federation setting

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 17:01:54.183047
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callbridge.store.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('federation_enabled', sa.Boolean(), server_default='0', nullable=False))
    op.create_table('call_records',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=True),
    sa.Column('thread_id', sa.String(length=128), nullable=True),
    sa.Column('caller_id', sa.String(length=256), nullable=False),
    sa.Column('callee_id', sa.String(length=256), nullable=False),
    sa.Column('caller_agent', sa.String(length=64), nullable=True),
    sa.Column('answered_by', sa.String(length=64), nullable=True),
    sa.Column('started_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('connected_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('end_code', sa.Integer(), nullable=False),
    sa.Column('end_sub_code', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.create_index('ix_call_records_callee', ['callee_id', 'started_at'], unique=False)
        batch_op.create_index('ix_call_records_caller', ['caller_id', 'started_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('federation_enabled')
    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.drop_index('ix_call_records_caller')
        batch_op.drop_index('ix_call_records_callee')

    op.drop_table('call_records')
