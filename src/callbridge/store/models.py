"""The durable tables of the directory and the identity provider.

Every change to this file goes with an Alembic migration under ``migrations/versions``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from callbridge.store.types import UtcDateTime, new_guid, utcnow

GUID = String(36)


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(GUID, primary_key=True, default=new_guid)
    display_name: Mapped[str] = mapped_column(String(256))
    acs_interop_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    password_grant_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    user_consent_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    federation_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    domains: Mapped[list[TenantDomain]] = relationship(
        back_populates="tenant", lazy="selectin", cascade="all, delete-orphan"
    )


class TenantDomain(Base):
    __tablename__ = "tenant_domains"
    name: Mapped[str] = mapped_column(String(253), primary_key=True)  # lower case
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    tenant: Mapped[Tenant] = relationship(back_populates="domains")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_tenant_id_id", "tenant_id", "id"),
                      Index("ix_users_tenant_display_name", "tenant_id", "display_name", "id"))
    id: Mapped[str] = mapped_column(GUID, primary_key=True, default=new_guid)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_principal_name: Mapped[str] = mapped_column(String(256), unique=True)  # lower case
    display_name: Mapped[str] = mapped_column(String(256))
    given_name: Mapped[str | None] = mapped_column(String(64))
    surname: Mapped[str | None] = mapped_column(String(64))
    mail: Mapped[str | None] = mapped_column(String(256))
    job_title: Mapped[str | None] = mapped_column(String(128))
    mobile_phone: Mapped[str | None] = mapped_column(String(64))
    business_phones: Mapped[list[str]] = mapped_column(JSON, default=list)
    office_location: Mapped[str | None] = mapped_column(String(128))
    preferred_language: Mapped[str | None] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(256))
    account_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    is_tenant_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    enterprise_voice_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    phone_number: Mapped[str | None] = mapped_column(String(16), unique=True)  # E.164
    # Graph userType: Member, or Guest for a guest account (meetings' organizationExcludingGuests leaves them out)
    user_type: Mapped[str] = mapped_column(String(8), default="Member", server_default="Member")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    licences: Mapped[list[UserLicence]] = relationship(lazy="selectin", cascade="all, delete-orphan")

    @property
    def licence_skus(self) -> list[str]:
        return sorted(lic.sku for lic in self.licences)


class UserLicence(Base):
    __tablename__ = "user_licences"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), primary_key=True)
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AppRegistration(Base):
    __tablename__ = "app_registrations"
    client_id: Mapped[str] = mapped_column(GUID, primary_key=True, default=new_guid)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(256))
    multi_tenant: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_public_client: Mapped[bool] = mapped_column(Boolean, default=False)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    # {resource app id: {"delegated": [scope, ...], "application": [role, ...]}}
    required_permissions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    secrets: Mapped[list[ClientSecret]] = relationship(lazy="selectin", cascade="all, delete-orphan")


class ClientSecret(Base):
    __tablename__ = "client_secrets"
    id: Mapped[str] = mapped_column(GUID, primary_key=True, default=new_guid)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("app_registrations.client_id", ondelete="CASCADE"), index=True
    )
    hint: Mapped[str] = mapped_column(String(8))
    secret_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of a 256-bit random secret
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ServicePrincipal(Base):
    """An app's presence in a tenant, created by consent."""

    __tablename__ = "service_principals"
    __table_args__ = (UniqueConstraint("tenant_id", "app_id"),)
    id: Mapped[str] = mapped_column(GUID, primary_key=True, default=new_guid)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str] = mapped_column(GUID)
    display_name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ConsentGrant(Base):
    """Delegated permissions granted to a client for one resource: for a whole tenant or for one user.

    Shaped like Graph's oAuth2PermissionGrant: consent_type AllPrincipals (admin) or Principal (user).
    """

    __tablename__ = "consent_grants"
    __table_args__ = (Index("ix_consent_lookup", "tenant_id", "client_id", "resource_app_id"),)
    id: Mapped[str] = mapped_column(GUID, primary_key=True, default=new_guid)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(GUID)
    resource_app_id: Mapped[str] = mapped_column(GUID)
    consent_type: Mapped[str] = mapped_column(String(16))  # AllPrincipals | Principal
    principal_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scopes: Mapped[str] = mapped_column(Text, default="")  # space separated
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AppRoleGrant(Base):
    """An application permission (app role) an administrator granted to a client in a tenant."""

    __tablename__ = "app_role_grants"
    __table_args__ = (UniqueConstraint("tenant_id", "client_id", "resource_app_id", "role"),)
    id: Mapped[str] = mapped_column(GUID, primary_key=True, default=new_guid)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(GUID)
    resource_app_id: Mapped[str] = mapped_column(GUID)
    role: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CommunicationResource(Base):
    __tablename__ = "communication_resources"
    id: Mapped[str] = mapped_column(GUID, primary_key=True, default=new_guid)  # immutable resource id
    name: Mapped[str] = mapped_column(String(128), unique=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    primary_key: Mapped[str] = mapped_column(String(128))  # base64 of 64 random bytes
    secondary_key: Mapped[str] = mapped_column(String(128))
    keys_rotated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CommunicationIdentity(Base):
    """A communication user (``8:acs:<resource>_<guid>``) created through the identity API."""

    __tablename__ = "communication_identities"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # raw id
    resource_id: Mapped[str] = mapped_column(
        ForeignKey("communication_resources.id", ondelete="CASCADE"), index=True
    )
    tokens_valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SigningKey(Base):
    __tablename__ = "signing_keys"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), index=True)  # idp | communication
    algorithm: Mapped[str] = mapped_column(String(8))  # RS256 | ES256
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    publish_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuthorizationCode(Base):
    __tablename__ = "authorization_codes"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(GUID)
    tenant_id: Mapped[str] = mapped_column(GUID)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    auth_time: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(GUID, index=True)
    client_id: Mapped[str] = mapped_column(GUID)
    tenant_id: Mapped[str] = mapped_column(GUID)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scopes: Mapped[str] = mapped_column(Text)
    auth_time: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class SignInCounter(Base):
    """Failed sign-ins of one key since it was last cleared, and when the last was: per user, per user and
    address, per address (shared by all nodes; the identity provider's back-off reads and counts them)."""

    __tablename__ = "signin_counters"
    # "u:<sha256 of the upn>" | "ua:<sha256 of the upn>:<address>" | "a:<address>"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class Chat(Base):
    """A chat thread: ``19:<oid>_<oid>@unq.gbl.spaces`` for one-on-one (one per pair), ``19:<hex>@thread.v2``
    for groups, ``19:meeting_<id>@thread.v2`` for a meeting's."""

    __tablename__ = "chats"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    chat_type: Mapped[str] = mapped_column(String(16))  # oneOnOne | group | meeting
    topic: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ChatMember(Base):
    __tablename__ = "chat_members"
    chat_id: Mapped[str] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Event(Base):
    """A calendar event in its organizer's calendar; with an online meeting when ``is_online_meeting``."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_organizer_start", "organizer_id", "start_at"),
                      Index("ix_events_conference_id", "conference_id"))
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    organizer_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(255), default="")
    body_type: Mapped[str] = mapped_column(String(8), default="text")  # text | html
    body_content: Mapped[str] = mapped_column(Text, default="")
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    start_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    end_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    location: Mapped[str] = mapped_column(String(255), default="")
    show_as: Mapped[str] = mapped_column(String(16), default="busy")
    importance: Mapped[str] = mapped_column(String(8), default="normal")
    is_online_meeting: Mapped[bool] = mapped_column(Boolean, default=False)
    online_provider: Mapped[str] = mapped_column(String(32), default="unknown")
    meeting_thread_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    join_url: Mapped[str | None] = mapped_column(Text)
    conference_id: Mapped[str | None] = mapped_column(String(16))
    join_meeting_id: Mapped[str | None] = mapped_column(String(20), unique=True)
    passcode: Mapped[str | None] = mapped_column(String(16))
    lobby_bypass_scope: Mapped[str] = mapped_column(String(32), default="organization")
    dial_in_bypass: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    allowed_presenters: Mapped[str] = mapped_column(String(24), default="everyone", server_default="everyone")
    is_cancelled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    attendees: Mapped[list[EventAttendee]] = relationship(lazy="selectin", cascade="all, delete-orphan",
                                                          order_by="EventAttendee.position")


class EventAttendee(Base):
    __tablename__ = "event_attendees"
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(String(256), primary_key=True)  # lower case
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(256), default="")
    kind: Mapped[str] = mapped_column(String(16), default="required")  # required | optional | resource
    response: Mapped[str] = mapped_column(String(24), default="none")
    # Graph onlineMeetingRole in the event's online meeting: attendee | presenter | coorganizer
    role: Mapped[str] = mapped_column(String(16), default="attendee", server_default="attendee")
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)


class DeletedMeeting(Base):
    """What is left of a deleted event's online meeting: enough to tell a joiner it was deleted (rather than never
    existed). The passcode is kept so that only someone who knew it learns that the meeting id existed."""

    __tablename__ = "deleted_meetings"
    thread_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    join_meeting_id: Mapped[str | None] = mapped_column(String(20), index=True)
    passcode: Mapped[str | None] = mapped_column(String(16))
    conference_id: Mapped[str | None] = mapped_column(String(16), index=True)
    deleted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CallRecord(Base):
    """A finished call (CDR), written when it ends: parties, times, who answered on which endpoint, why it ended."""

    __tablename__ = "call_records"
    __table_args__ = (Index("ix_call_records_caller", "caller_id", "started_at"),
                      Index("ix_call_records_callee", "callee_id", "started_at"))
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the call id
    tenant_id: Mapped[str | None] = mapped_column(String(36))
    thread_id: Mapped[str | None] = mapped_column(String(128))
    caller_id: Mapped[str] = mapped_column(String(256))  # raw id
    callee_id: Mapped[str] = mapped_column(String(256))
    caller_agent: Mapped[str | None] = mapped_column(String(64))
    answered_by: Mapped[str | None] = mapped_column(String(64))  # the callee's agent that accepted
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    connected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_code: Mapped[int] = mapped_column(Integer)
    end_sub_code: Mapped[int] = mapped_column(Integer)
    trunk_call_id: Mapped[str | None] = mapped_column(String(256))  # the SIP Call-ID of a phone leg


class CallParticipant(Base):
    """One party's part in a call of more than two parties or a meeting (the meeting record): who, from what,
    when it came in (None: it never did, e.g. refused in the lobby), when and why it left."""

    __tablename__ = "call_participants"
    __table_args__ = (Index("ix_call_participants_raw_id", "raw_id", "call_id"),)
    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    raw_id: Mapped[str] = mapped_column(String(256))
    display_name: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    client: Mapped[str | None] = mapped_column(String(16))  # browser | app | phone
    joined_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_code: Mapped[int | None] = mapped_column(Integer)
    end_sub_code: Mapped[int | None] = mapped_column(Integer)


class Trunk(Base):
    """A tenant's phone connectivity: a SIP peer (a carrier or a session border controller) that its calls to and
    from the phone network go through. Inbound digest credentials are kept as HA1 hashes only; the outbound
    password is kept as given (the carrier's digest needs it), like the signing keys: protect the database."""

    __tablename__ = "trunks"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_trunks_tenant_name"),)
    id: Mapped[str] = mapped_column(GUID, primary_key=True, default=new_guid)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer, default=5060)
    transport: Mapped[str] = mapped_column(String(8), default="udp")  # udp | tcp | tls
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    number_prefixes: Mapped[list[str]] = mapped_column(JSON, default=list)  # E.164 prefixes it carries; "+" = all
    allow_sources: Mapped[list[str]] = mapped_column(JSON, default=list)  # CIDRs inbound requests may come from
    inbound_realm: Mapped[str | None] = mapped_column(String(128))
    inbound_username: Mapped[str | None] = mapped_column(String(128))
    inbound_ha1_md5: Mapped[str | None] = mapped_column(String(32))
    inbound_ha1_sha256: Mapped[str | None] = mapped_column(String(64))
    outbound_username: Mapped[str | None] = mapped_column(String(128))
    outbound_password: Mapped[str | None] = mapped_column(String(256))
    max_calls: Mapped[int] = mapped_column(Integer, default=100)
    max_cps: Mapped[int] = mapped_column(Integer, default=10)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
