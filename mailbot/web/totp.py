"""Two-step sign-in for workspace passwords: TOTP codes (RFC 6238) and recovery codes.

- The secret (160 random bits) is sealed by the Vault under a data key of its own, bound
  to its table, column and row; clearing two-step sign-in destroys that data key.
- A code is accepted for the 30-second step before and after the current one (a phone's
  clock drifts), and only once: the step of the last accepted code is kept and a code is
  accepted only for a later step, in one ``UPDATE ... WHERE last_step < step``, so a code
  seen over a shoulder, replayed, or sent twice at once is refused.
- Ten recovery codes, shown once at enrolment and kept only as keyed hashes; each works once.
- ``web.totp``: ``admin`` (required for administrators, a choice for others), ``all``, ``off``.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from typing import Literal

import pyotp
import segno
from markupsafe import Markup
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mailbot.errors import ConfigError
from mailbot.settings import Settings
from mailbot.store.models import DataKey, WebRecoveryCode, WebTotp, WebUser
from mailbot.store.vault import Vault

ISSUER = "CSCP workspace"
STEP_SECONDS = 30
MODES = ("admin", "all", "off")
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"

Policy = Literal["off", "optional", "required"]


def check_setting(settings: Settings) -> None:
    if settings.web_totp not in MODES:
        raise ConfigError("MAILBOT_WEB_TOTP", f"expected admin, all or off, got {settings.web_totp!r}")


def policy(settings: Settings, user: WebUser) -> Policy:
    """Whether this user must, may, or cannot use two-step sign-in."""
    if settings.web_totp == "off" or user.source != "local":
        return "off"  # Entra ID accounts: Microsoft asks for the second factor
    if settings.web_totp == "all" or user.role == "admin":
        return "required"
    return "optional"


def _step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def _row(session: Session, user_id: str) -> WebTotp | None:
    return session.scalars(select(WebTotp).where(WebTotp.user_id == user_id)).one_or_none()


def enrolled(session: Session, user_id: str) -> bool:
    row = _row(session, user_id)
    return row is not None and row.confirmed_at is not None


def pending_secret(session: Session, vault: Vault, user: WebUser, now: datetime) -> str:
    """The secret being set up (made now, or the one already shown and not yet confirmed)."""
    row = _row(session, user.id)
    if row is not None and row.confirmed_at is None:
        return vault.open_text(session, row, "secret_enc")
    if row is not None:
        raise ValueError("two-step sign-in is already set up")
    secret = pyotp.random_base32(32)
    row = WebTotp(user_id=user.id, key_id=vault.new_key(session), created_at=now, secret_enc=b"")
    row.secret_enc = vault.seal_text(session, row, "secret_enc", secret)
    session.add(row)
    session.flush()
    return secret


def provisioning_uri(secret: str, name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)


def qr_svg(uri: str, label: str) -> Markup:
    """The QR code as inline SVG (made here: no script, no image from elsewhere)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=5, border=4, dark="#0b0c0c", light="#ffffff", title=label
    )
    # An image with a name for screen readers; the title element is its accessible name.
    # segno writes the whole SVG from the URI (drawn as path data) and our fixed title.
    return Markup(svg.replace("<svg ", '<svg role="img" focusable="false" ', 1))  # noqa: S704


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    found = None
    for step in range(_step(now) - 1, _step(now) + 2):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def confirm(session: Session, vault: Vault, user_id: str, code: str, now: datetime) -> list[str] | None:
    """Finish enrolment with a first code; the recovery codes to show once, or None."""
    row = _row(session, user_id)
    if row is None or row.confirmed_at is not None:
        return None
    step = _matching_step(vault.open_text(session, row, "secret_enc"), code, now)
    if step is None:
        return None
    row.confirmed_at = now
    row.last_step = step
    return new_recovery_codes(session, vault, user_id)


def verify(session: Session, vault: Vault, user_id: str, code: str, now: datetime) -> bool:
    """A code from the app, accepted once and only for a step later than the last one."""
    row = _row(session, user_id)
    if row is None or row.confirmed_at is None:
        return False
    step = _matching_step(vault.open_text(session, row, "secret_enc"), code, now)
    if step is None:
        return False
    result = session.execute(
        update(WebTotp)
        .where(WebTotp.id == row.id, (WebTotp.last_step.is_(None)) | (WebTotp.last_step < step))
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _normal(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _code_hash(vault: Vault, user_id: str, code: str) -> str:
    return vault.index("web-recovery-code", f"{user_id}:{_normal(code)}")


def new_recovery_codes(session: Session, vault: Vault, user_id: str) -> list[str]:
    """Replace the user's recovery codes; the new ones are returned to show once."""
    session.execute(delete(WebRecoveryCode).where(WebRecoveryCode.user_id == user_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(WebRecoveryCode(user_id=user_id, code_hash=_code_hash(vault, user_id, raw)))
    return codes


def looks_like_recovery_code(code: str) -> bool:
    return len(_normal(code)) == 10 and not _normal(code).isdigit()


def use_recovery_code(session: Session, vault: Vault, user_id: str, code: str, now: datetime) -> bool:
    """Spend one recovery code (once, even if sent twice at the same moment)."""
    result = session.execute(
        update(WebRecoveryCode)
        .where(
            WebRecoveryCode.user_id == user_id,
            WebRecoveryCode.code_hash == _code_hash(vault, user_id, code),
            WebRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def recovery_codes_left(session: Session, user_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(WebRecoveryCode)
            .where(WebRecoveryCode.user_id == user_id, WebRecoveryCode.used_at.is_(None))
        )
        or 0
    )


def clear(session: Session, user_id: str, now: datetime) -> bool:
    """Remove two-step sign-in (``users reset``): the secret's data key is destroyed too."""
    session.execute(delete(WebRecoveryCode).where(WebRecoveryCode.user_id == user_id))
    row = _row(session, user_id)
    if row is None:
        return False
    key_id = row.key_id
    session.delete(row)
    session.flush()
    session.execute(
        update(DataKey)
        .where(DataKey.id == key_id)
        .values(wrapped=None, destroyed_at=now)
        .execution_options(synchronize_session=False)
    )
    return True
