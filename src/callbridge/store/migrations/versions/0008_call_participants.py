"""the meeting record: each party's part in a group call or a meeting

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 02:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callbridge.store.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('call_participants',
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('participant_id', sa.String(length=16), nullable=False),
    sa.Column('raw_id', sa.String(length=256), nullable=False),
    sa.Column('display_name', sa.String(length=256), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('client', sa.String(length=16), nullable=True),
    sa.Column('joined_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('left_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('end_code', sa.Integer(), nullable=True),
    sa.Column('end_sub_code', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('call_id', 'participant_id')
    )
    with op.batch_alter_table('call_participants', schema=None) as batch_op:
        batch_op.create_index('ix_call_participants_raw_id', ['raw_id', 'call_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('call_participants', schema=None) as batch_op:
        batch_op.drop_index('ix_call_participants_raw_id')
    op.drop_table('call_participants')
