"""Workspace accounts: add, disable, reset, and checking a password at sign-in.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory
profile). Every refusal costs the same: one argon2 verification (of a dummy hash when
the name does not exist, or the account has no password here), the same counter
statements, the same words. Wrong passwords lock the account per source address, with a
higher ceiling for the account as a whole (``mailbot.web.lockout`` gives the rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailbot.errors import NotFound, UsageError
from mailbot.store.models import ROLES, WebSession, WebUser
from mailbot.web import lockout, totp

MIN_PASSWORD = 12
MAX_FAILURES = lockout.RULE.per_address
LOCKOUT: timedelta = lockout.RULE.address_lock
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
    user = WebUser(
        name=name,
        role=role,
        password_hash=_hasher.hash(password),
        disabled=False,
        failed_logins=0,
        created_at=now,
        password_changed_at=now,
    )
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
    session.flush()
    lockout.clear(session, user.id)
    session.refresh(user)
    return user


def reset_password(session: Session, name: str, password: str, now: datetime) -> WebUser:
    """A new password; every lock lifted, every session ended, and two-step sign-in
    cleared (the user sets it up again at their next sign-in, where it is required)."""
    user = _get(session, name)
    if user.source != "local":
        raise UsageError(f"{name} signs in with Microsoft Entra ID; their password is kept there")
    check_password_rules(password)
    user.password_hash = _hasher.hash(password)
    user.password_changed_at = now
    session.flush()
    lockout.clear(session, user.id)
    totp.clear(session, user.id, now)
    end_sessions(session, user)
    session.refresh(user)
    return user


def end_sessions(session: Session, user: WebUser) -> None:
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))


@dataclass(frozen=True)
class Verdict:
    """What a sign-in try came to. ``user`` only when it may go on to a session."""

    user: WebUser | None
    #: ok, unknown, wrong-password, locked, disabled
    reason: str
    account_id: str | None


def _verify(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def authenticate(
    session: Session,
    name: str,
    password: str,
    now: datetime,
    *,
    address: str = "",
    rule: lockout.LockoutRule = lockout.RULE,
) -> Verdict:
    """Check a name and password from ``address`` (a keyed hash, ``lockout.address_key``).

    Each refusal does the same work whatever its reason, so its time tells nothing; a
    wrong password is counted atomically against the account and the address.
    """
    user = by_name(session, name)
    if user is None:
        _verify(_DUMMY, password)  # the dummy never matches; this only evens out the time
        lockout.record_failure(session, lockout.NO_ACCOUNT, address, now, count_account=False)
        return Verdict(None, "unknown", None)
    locked = lockout.is_locked(session, user.id, address, now, rule)
    right = _verify(user.password_hash if user.source == "local" else _DUMMY, password)
    if not right:
        lockout.record_failure(session, user.id, address, now, count_account=not locked, rule=rule)
        return Verdict(None, "locked" if locked else "wrong-password", user.id)
    if locked or user.disabled:  # a right password: not a guess, so not counted
        lockout.record_failure(session, lockout.NO_ACCOUNT, address, now, count_account=False)
        return Verdict(None, "locked" if locked else "disabled", user.id)
    lockout.record_success(session, user.id, address, now)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    session.refresh(user, ["failed_logins", "locked_until"])
    return Verdict(user, "ok", user.id)
