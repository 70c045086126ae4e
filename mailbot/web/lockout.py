"""Failed sign-ins: counted atomically, locked per account *and* source address.

The rule (the README's "Workspace" says the same):

- Five wrong tries (password or two-step code) at one account from one address lock that
  account **for that address** for 15 minutes; each further wrong try from there while it
  is locked starts the 15 minutes again. Other addresses are not affected, so a visitor
  who guesses cannot lock the owner out.
- Against many addresses at once there is a much higher ceiling for the account as a
  whole: 50 wrong tries (not counting those from addresses already locked out) lock the
  account for 5 minutes — but not for an address that has signed in to it successfully in
  the last 90 days. Someone with many addresses gets at most 50 guesses per 5 minutes;
  the owner, from an address they have used, is never held up by them.
- A right sign-in from an address clears that address's counter (and the account's
  count, unless the account is in its back-off).

An address is an IPv4 address, or the /64 network of an IPv6 address (one machine can
have a whole /64), kept only as a keyed hash. Every counter changes in one statement
(``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` and ``UPDATE ... RETURNING``: SQLite
3.35 or later, and PostgreSQL), so tries in parallel never lose a count.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mailbot.store.models import UTCDateTime, WebSignInFailure, WebUser
from mailbot.store.vault import Vault

#: Stands in for an account when the name is unknown: the same statements run, touching no row.
NO_ACCOUNT = "-"


@dataclass(frozen=True)
class LockoutRule:
    per_address: int = 5
    address_lock: timedelta = timedelta(minutes=15)
    per_account: int = 50
    account_backoff: timedelta = timedelta(minutes=5)
    known_address: timedelta = timedelta(days=90)


RULE = LockoutRule()


def address_key(vault: Vault, remote: str | None) -> str:
    """A keyed hash of the client's address (its /64 for IPv6); never the address itself."""
    text = (remote or "").strip()
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return vault.index("web-signin-address", "unknown:" + text[:100])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        else:
            return vault.index("web-signin-address", str(ipaddress.IPv6Network((ip, 64), strict=False)))
    return vault.index("web-signin-address", str(ip))


def _when(value: datetime) -> Any:
    return literal(value, UTCDateTime())


def is_locked(session: Session, user_id: str, address: str, now: datetime, rule: LockoutRule = RULE) -> bool:
    """Whether a try at the account from ``address`` is refused whatever the password."""
    row = session.get(WebSignInFailure, (user_id, address), populate_existing=True)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return True
    backoff = session.scalar(select(WebUser.locked_until).where(WebUser.id == user_id))
    if backoff is None or backoff <= now:
        return False
    known = (
        row is not None
        and row.last_success_at is not None
        and now - row.last_success_at <= rule.known_address
    )
    return not known


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(WebSignInFailure)
    if dialect == "sqlite":
        return sqlite.insert(WebSignInFailure)
    raise NotImplementedError(f"sign-in counters need SQLite or PostgreSQL, not {dialect}")


def record_failure(
    session: Session,
    user_id: str,
    address: str,
    now: datetime,
    *,
    count_account: bool,
    rule: LockoutRule = RULE,
) -> tuple[int, int]:
    """Count one wrong try; lock when a limit is reached. Returns (address count, account count).

    ``count_account`` is False when the address was already locked out, so that one address
    alone cannot push the account to its ceiling. For an unknown name (``NO_ACCOUNT``) the
    same kind of statements run and change nothing, so the time taken tells nothing.
    """
    return (
        _count_address(session, user_id, address, now, rule),
        _count_account(session, user_id, now, rule, count_account),
    )


def _count_address(session: Session, user_id: str, address: str, now: datetime, rule: LockoutRule) -> int:
    cols = WebSignInFailure.__table__.c
    if user_id == NO_ACCOUNT:
        row = session.execute(
            update(WebSignInFailure)
            .where(WebSignInFailure.user_id == user_id, WebSignInFailure.address == address)
            .values(failures=WebSignInFailure.failures + 1)
            .returning(WebSignInFailure.failures)
            .execution_options(synchronize_session=False)
        ).first()
        return 0 if row is None else int(row[0])
    # A count starts again once its lock is over, or 15 minutes after the last wrong try.
    fresh = or_(
        and_(cols.locked_until.is_not(None), cols.locked_until <= _when(now)),
        and_(cols.locked_until.is_(None), cols.last_failed_at < _when(now - rule.address_lock)),
    )
    counted = case((fresh, 1), else_=cols.failures + 1)
    first_lock = _when(now + rule.address_lock) if rule.per_address <= 1 else None
    statement = (
        _insert(session)
        .values(user_id=user_id, address=address, failures=1, last_failed_at=now, locked_until=first_lock)
        .on_conflict_do_update(
            index_elements=[cols.user_id, cols.address],
            set_={
                "failures": counted,
                "last_failed_at": _when(now),
                "locked_until": case(
                    (counted >= rule.per_address, _when(now + rule.address_lock)),
                    (fresh, None),
                    else_=cols.locked_until,
                ),
            },
        )
        .returning(cols.failures)
    )
    return int(session.execute(statement).scalar_one())


def _count_account(session: Session, user_id: str, now: datetime, rule: LockoutRule, count: bool) -> int:
    if count:
        over = and_(WebUser.locked_until.is_not(None), WebUser.locked_until <= _when(now))
        counted = case((over, 1), else_=WebUser.failed_logins + 1)
        values: dict[str, Any] = {
            "failed_logins": counted,
            "locked_until": case(
                (counted >= rule.per_account, _when(now + rule.account_backoff)),
                (over, None),
                else_=WebUser.locked_until,
            ),
        }
    else:  # the same statement's cost, changing nothing
        values = {"failed_logins": WebUser.failed_logins}
    row = session.execute(
        update(WebUser)
        .where(WebUser.id == user_id)
        .values(**values)
        .returning(WebUser.failed_logins)
        .execution_options(synchronize_session=False)
    ).first()
    return 0 if row is None else int(row[0])


def record_success(session: Session, user_id: str, address: str, now: datetime) -> None:
    """A right sign-in: this address starts again from nought and counts as known."""
    cols = WebSignInFailure.__table__.c
    session.execute(
        _insert(session)
        .values(user_id=user_id, address=address, failures=0, last_success_at=now)
        .on_conflict_do_update(
            index_elements=[cols.user_id, cols.address],
            set_={"failures": 0, "locked_until": None, "last_success_at": _when(now)},
        )
    )
    session.execute(
        update(WebUser)
        .where(WebUser.id == user_id, or_(WebUser.locked_until.is_(None), WebUser.locked_until <= _when(now)))
        .values(failed_logins=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )


def clear(session: Session, user_id: str) -> None:
    """An administrator's enable or reset: every lock on the account is lifted."""
    session.execute(
        update(WebSignInFailure)
        .where(WebSignInFailure.user_id == user_id)
        .values(failures=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(WebUser)
        .where(WebUser.id == user_id)
        .values(failed_logins=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )


def counters(session: Session, user_id: str) -> list[WebSignInFailure]:
    return list(session.scalars(select(WebSignInFailure).where(WebSignInFailure.user_id == user_id)))
