"""meeting policy: dial-in bypass, allowed presenters, cancellation, attendee roles, guest accounts, and what is
left of deleted meetings

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 02:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callbridge.store.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_type', sa.String(length=8), server_default='Member', nullable=False))
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dial_in_bypass', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('allowed_presenters', sa.String(length=24), server_default='everyone',
                                      nullable=False))
        batch_op.add_column(sa.Column('is_cancelled', sa.Boolean(), server_default='0', nullable=False))
        batch_op.create_index('ix_events_conference_id', ['conference_id'], unique=False)
    with op.batch_alter_table('event_attendees', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=16), server_default='attendee', nullable=False))
    op.create_table('deleted_meetings',
    sa.Column('thread_id', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('join_meeting_id', sa.String(length=20), nullable=True),
    sa.Column('passcode', sa.String(length=16), nullable=True),
    sa.Column('conference_id', sa.String(length=16), nullable=True),
    sa.Column('deleted_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('thread_id')
    )
    with op.batch_alter_table('deleted_meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deleted_meetings_conference_id'), ['conference_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deleted_meetings_join_meeting_id'), ['join_meeting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deleted_meetings_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deleted_meetings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deleted_meetings_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_deleted_meetings_join_meeting_id'))
        batch_op.drop_index(batch_op.f('ix_deleted_meetings_conference_id'))
    op.drop_table('deleted_meetings')
    with op.batch_alter_table('event_attendees', schema=None) as batch_op:
        batch_op.drop_column('role')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_conference_id')
        batch_op.drop_column('is_cancelled')
        batch_op.drop_column('allowed_presenters')
        batch_op.drop_column('dial_in_bypass')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('user_type')
