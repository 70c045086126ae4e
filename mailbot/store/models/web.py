"""The workspace's tables: staff accounts and their sign-in sessions.

Nothing here is about a child. A user's name is a member of staff's sign-in name; the
password is an argon2 hash; a session is stored as the SHA-256 of its random token, so a
copy of the database does not let anyone sign in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from mailbot.store.models.base import Base, new_id

ROLES = ("team", "sprg", "admin")


class WebUser(Base):
    __tablename__ = "web_user"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]
    #: ``local`` (a password here) or ``oidc`` (signs in with Microsoft Entra ID only).
    source: Mapped[str] = mapped_column(String(8), default="local", server_default="local")
    #: An Entra ID account: SHA-256 of its issuer and subject (how it is found again).
    oidc_subject: Mapped[str | None] = mapped_column(String(64), unique=True)


class WebSession(Base):
    __tablename__ = "web_session"

    #: SHA-256 (hex) of the random token in the cookie.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("web_user.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    #: None once signed in; ``totp`` (password right, the code is still to come) or
    #: ``enrol`` (password right, two-step sign-in must be set up first).
    stage: Mapped[str | None] = mapped_column(String(8))
    #: Wrong codes given in this half-finished sign-in.
    code_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class WebSignInFailure(Base):
    """Failed sign-ins of one account from one source address (a keyed hash of it)."""

    __tablename__ = "web_signin_failure"

    user_id: Mapped[str] = mapped_column(ForeignKey("web_user.id"), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    last_failed_at: Mapped[datetime | None]
    #: The last right sign-in from here: such an address is spared the account-wide back-off.
    last_success_at: Mapped[datetime | None]


class WebTotp(Base):
    """A user's TOTP secret (encrypted under its own data key) and the last step used."""

    __tablename__ = "web_totp"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("web_user.id"), unique=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("data_key.id"))
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    #: None until the user has typed a code from the new secret (enrolment finished).
    confirmed_at: Mapped[datetime | None]
    #: The 30-second step of the last accepted code: that code and older ones are refused.
    last_step: Mapped[int | None] = mapped_column(Integer)


class WebRecoveryCode(Base):
    """A one-time recovery code, kept only as a keyed hash."""

    __tablename__ = "web_recovery_code"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("web_user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


class WebOidcFlow(Base):
    """One Entra ID sign-in on its way: hashes of its state and browser cookie, PKCE, nonce."""

    __tablename__ = "web_oidc_flow"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(64))
    next_url: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(index=True)
