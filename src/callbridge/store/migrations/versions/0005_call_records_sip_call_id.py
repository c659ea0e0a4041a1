"""call records: the SIP Call-ID of a phone leg

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 19:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trunk_call_id', sa.String(length=256), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.drop_column('trunk_call_id')
