"""trunks: a tenant's phone connectivity

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callbridge.store.types

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('trunks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('host', sa.String(length=253), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('transport', sa.String(length=8), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('number_prefixes', sa.JSON(), nullable=False),
    sa.Column('allow_sources', sa.JSON(), nullable=False),
    sa.Column('inbound_realm', sa.String(length=128), nullable=True),
    sa.Column('inbound_username', sa.String(length=128), nullable=True),
    sa.Column('inbound_ha1_md5', sa.String(length=32), nullable=True),
    sa.Column('inbound_ha1_sha256', sa.String(length=64), nullable=True),
    sa.Column('outbound_username', sa.String(length=128), nullable=True),
    sa.Column('outbound_password', sa.String(length=256), nullable=True),
    sa.Column('max_calls', sa.Integer(), nullable=False),
    sa.Column('max_cps', sa.Integer(), nullable=False),
    sa.Column('created_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'name', name='uq_trunks_tenant_name')
    )
    with op.batch_alter_table('trunks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trunks_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('trunks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trunks_tenant_id'))
    op.drop_table('trunks')
