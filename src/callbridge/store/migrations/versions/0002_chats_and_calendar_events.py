"""chats and calendar events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 16:06:46.729411
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callbridge.store.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chats',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('chat_type', sa.String(length=16), nullable=False),
    sa.Column('topic', sa.String(length=256), nullable=True),
    sa.Column('created_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('chats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chats_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('chat_members',
    sa.Column('chat_id', sa.String(length=128), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('added_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('chat_id', 'user_id')
    )
    with op.batch_alter_table('chat_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_members_user_id'), ['user_id'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('organizer_id', sa.String(length=36), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('body_type', sa.String(length=8), nullable=False),
    sa.Column('body_content', sa.Text(), nullable=False),
    sa.Column('start_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('end_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('start_zone', sa.String(length=64), nullable=False),
    sa.Column('end_zone', sa.String(length=64), nullable=False),
    sa.Column('is_all_day', sa.Boolean(), nullable=False),
    sa.Column('location', sa.String(length=255), nullable=False),
    sa.Column('show_as', sa.String(length=16), nullable=False),
    sa.Column('importance', sa.String(length=8), nullable=False),
    sa.Column('is_online_meeting', sa.Boolean(), nullable=False),
    sa.Column('online_provider', sa.String(length=32), nullable=False),
    sa.Column('meeting_thread_id', sa.String(length=128), nullable=True),
    sa.Column('join_url', sa.Text(), nullable=True),
    sa.Column('conference_id', sa.String(length=16), nullable=True),
    sa.Column('join_meeting_id', sa.String(length=20), nullable=True),
    sa.Column('passcode', sa.String(length=16), nullable=True),
    sa.Column('lobby_bypass_scope', sa.String(length=32), nullable=False),
    sa.Column('created_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('modified_at', callbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organizer_id'], ['users.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('join_meeting_id'),
    sa.UniqueConstraint('meeting_thread_id')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_organizer_start', ['organizer_id', 'start_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('event_attendees',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('email', sa.String(length=256), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('response', sa.String(length=24), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('event_id', 'email')
    )
    with op.batch_alter_table('event_attendees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_attendees_user_id'), ['user_id'], unique=False)

    op.create_index("ix_users_tenant_id_id", "users", ["tenant_id", "id"])
    op.create_index("ix_users_tenant_display_name", "users", ["tenant_id", "display_name", "id"])
    _user_lookup_indexes()


# The directory API filters users case-insensitively on these columns: one index per column on lower(column),
# in binary order (SQLite's default, COLLATE "C" on PostgreSQL) so that a prefix is a range of the index.
# Expression indexes are not in the models (autogenerate cannot compare them); they live only here.
LOWER_INDEXED = ("display_name", "given_name", "surname", "mail", "user_principal_name")


def _user_lookup_indexes() -> None:
    collate = ' COLLATE "C"' if op.get_bind().dialect.name == "postgresql" else ""
    for column in LOWER_INDEXED:
        op.execute(f"CREATE INDEX ix_users_tenant_lower_{column} ON users (tenant_id, lower({column}){collate})")


def downgrade() -> None:
    for column in LOWER_INDEXED:
        op.execute(f"DROP INDEX ix_users_tenant_lower_{column}")
    op.drop_index("ix_users_tenant_id_id", "users")
    op.drop_index("ix_users_tenant_display_name", "users")
    with op.batch_alter_table('event_attendees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_attendees_user_id'))

    op.drop_table('event_attendees')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_tenant_id'))
        batch_op.drop_index('ix_events_organizer_start')

    op.drop_table('events')
    with op.batch_alter_table('chat_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_members_user_id'))

    op.drop_table('chat_members')
    with op.batch_alter_table('chats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chats_tenant_id'))

    op.drop_table('chats')
