"""``mailbot check``: after every configuration change, does each part work?

One line per part, plain words, exit 1 if anything fails. Nothing is changed: the
mailbox is listed, the relay is greeted (no message is sent), the database is asked
for its schema version, and a data key is unwrapped with the master key. A Microsoft
Graph mailbox or sender signs in and is looked at (``graph_check``), and no delta round
is run. Settings that work but leave the bot weaker than it should be (no sender
check) are warning lines: they do not fail the check.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, text

from mailbot.app import App
from mailbot.errors import MailbotError
from mailbot.mail.graph_check import graph_check_mailbox, graph_check_sender
from mailbot.mail.graph_mailbox import GraphMailbox
from mailbot.mail.graph_sender import GraphSender
from mailbot.mail.sender_auth_settings import sender_auth_warnings
from mailbot.store import crypto
from mailbot.store.models import DataKey


@dataclass
class CheckResult:
    part: str
    ok: bool
    detail: str
    #: Works, but a person should know: shown as a warning, never fails the check.
    warning: bool = False


def _mailbox(app: App) -> str:
    mailbox = app.mailbox
    if isinstance(mailbox, GraphMailbox):
        ok, line = graph_check_mailbox(mailbox)
        if not ok:
            raise MailbotError(line)
        return line
    count = len(mailbox.list_new())
    return f"{mailbox.identity}: reachable, {count} message(s) waiting"


def _sender(app: App) -> str:
    if isinstance(app.sender, GraphSender):
        ok, line = graph_check_sender(app.sender)
        if not ok:
            raise MailbotError(line)
        return line
    verify = getattr(app.sender, "verify", None)
    if verify is None:
        raise MailbotError("this kind of sender cannot be checked")
    verify()
    return f"{app.settings.outbound_url.split('@')[-1]}: ready to send"


def _team(app: App) -> str:
    if not app.settings.team_address:
        raise MailbotError("mail.team is not set: alerts, digests and reminders go nowhere")
    return f"alerts and digests go to {app.settings.team_address}"


def _database(app: App) -> str:
    with app.db.session() as session:
        version = session.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return f"{app.db.dialect}: schema {', '.join(sorted(version)) or 'missing'}"


def _keys(app: App) -> str:
    keys = app.keys.load()
    with app.db.session() as session:
        row = session.scalars(select(DataKey).where(DataKey.wrapped.is_not(None)).limit(1)).first()
        if row is not None:
            app.vault.data_key(session, row.id)
            return f"master key v{keys.current_version} unwraps the stored data keys"
    probe = crypto.new_data_key()
    key_id = secrets.token_hex(16)
    wrapped = crypto.wrap_key(keys.key(keys.current_version), keys.current_version, key_id, probe)
    assert crypto.unwrap_key(keys.key(keys.current_version), keys.current_version, key_id, wrapped) == probe
    return f"master key v{keys.current_version} works (no data keys stored yet)"


CHECKS: tuple[tuple[str, Callable[[App], str]], ...] = (
    ("database", _database),
    ("keys", _keys),
    ("mailbox", _mailbox),
    ("outbound", _sender),
    ("team", _team),
)


def _sender_auth(app: App) -> list[CheckResult]:
    """``mail.sender_auth``: what it believes, or a warning line per weakness."""
    warnings = sender_auth_warnings(app.settings)
    if app.settings.sender_auth == "none":
        warnings.append(
            "mail.sender_auth is none: no team sender can be authenticated, so "
            "every SPRG decision e-mailed by the team will be held for the team "
            "to confirm under Held messages"
        )
    if warnings:
        return [CheckResult("sender_auth", True, line, warning=True) for line in warnings]
    s = app.settings
    rule = {
        "authserv-id": f"Authentication-Results from {s.trusted_authserv_id} are believed",
        "exchange-online": "the topmost Authentication-Results (our Exchange Online) and "
        "its compauth are believed",
    }
    return [CheckResult("sender_auth", True, f"{s.sender_auth}: {rule[s.sender_auth]}")]


def run_checks(app: App) -> list[CheckResult]:
    results = []
    for part, check in CHECKS:
        try:
            results.append(CheckResult(part, True, check(app)))
        except MailbotError as exc:
            results.append(CheckResult(part, False, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a check reports every failure as a line;
            # only the error's type is shown, as its text may carry an address.
            results.append(CheckResult(part, False, f"failed ({type(exc).__name__})"))
    return results + _sender_auth(app)
