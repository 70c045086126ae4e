"""Workspace accounts: add, disable, reset, and checking a password at sign-in.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory
profile). A name that does not exist costs the same hash as one that does, and five
wrong passwords in a row lock the account for a quarter of an hour.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailbot.errors import NotFound, UsageError
from mailbot.store.models import ROLES, WebSession, WebUser

MIN_PASSWORD = 12
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")

#: Actors the bot itself writes in the audit log.
RESERVED = ("cli", "mailbot", "workspace")

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not a real password, only for timing")


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password must be at least {MIN_PASSWORD} characters long")
    if password.strip() != password:
        raise UsageError("the password must not start or end with a space")


def by_name(session: Session, name: str) -> WebUser | None:
    return session.scalars(select(WebUser).where(WebUser.name == name)).one_or_none()


def _get(session: Session, name: str) -> WebUser:
    user = by_name(session, name)
    if user is None:
        raise NotFound(f"no workspace user {name}")
    return user


def add_user(session: Session, name: str, role: str, password: str, now: datetime) -> WebUser:
    if not _NAME.match(name):
        raise UsageError("a user name is 2-64 letters, digits, dots, dashes, @ or _")
    if name.lower() in RESERVED:
        raise UsageError(f"{name} is a name the bot uses in the audit log")
    if role not in ROLES:
        raise UsageError(f"the role must be one of {', '.join(ROLES)}")
    if by_name(session, name) is not None:
        raise UsageError(f"there is already a user {name}")
    check_password_rules(password)
    user = WebUser(name=name, role=role, password_hash=_hasher.hash(password), disabled=False,
                   failed_logins=0, created_at=now, password_changed_at=now)
    session.add(user)
    session.flush()
    return user


def disable_user(session: Session, name: str) -> WebUser:
    user = _get(session, name)
    user.disabled = True
    end_sessions(session, user)
    return user


def enable_user(session: Session, name: str) -> WebUser:
    user = _get(session, name)
    user.disabled = False
    user.failed_logins = 0
    user.locked_until = None
    return user


def reset_password(session: Session, name: str, password: str, now: datetime) -> WebUser:
    user = _get(session, name)
    check_password_rules(password)
    user.password_hash = _hasher.hash(password)
    user.password_changed_at = now
    user.failed_logins = 0
    user.locked_until = None
    end_sessions(session, user)
    return user


def end_sessions(session: Session, user: WebUser) -> None:
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))


def authenticate(session: Session, name: str, password: str, now: datetime) -> WebUser | None:
    """The user, when the name and password match an enabled, unlocked account."""
    user = by_name(session, name)
    if user is None:
        try:
            _hasher.verify(_DUMMY, password)
        except VerificationError:
            pass  # expected: the dummy never matches; this only evens out the timing
        return None
    if user.locked_until is not None and user.locked_until > now:
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        return None
    if user.disabled:
        return None
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user
