"""``purge`` and ``erase``: crypto-shred what is due, or what a person decided to erase.

Both go the same way: the erasure log first (so a restore of an older backup shreds the
case again), then one transaction that destroys the keys, deletes the ciphertext and
leaves tombstones with an audit entry, then the database files scrubbed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cases import store as case_store
from mailbot.errors import UsageError
from mailbot.records import retention
from mailbot.records.erasure_log import NAME, Erasure, ErasureLog
from mailbot.records.mailbox_copies import expire_copies, remove_copies
from mailbot.records.shred import Shredded, destroy_keys, scrub_files, shred_case, shred_message
from mailbot.store.audit import audit
from mailbot.store.models import Case, InboundMessage


@dataclass
class PurgeReport:
    cases: list[str] = field(default_factory=list)
    held: int = 0
    other: int = 0
    keys: int = 0
    dry_run: bool = False
    #: Mailbox copies deleted (of destroyed messages, and those past mailbox_days).
    mailbox_deleted: int = 0
    mailbox_unknown: int = 0


def erasure_log(app: App) -> ErasureLog:
    return ErasureLog(app.settings.var_dir / NAME)


def purge(app: App, *, dry_run: bool = False, actor: str = "cli", mailbox: bool = True) -> PurgeReport:
    """Destroy what is due; then the mailbox copies (``mailbox=False``: the database only)."""
    now = app.clock.now()
    report = PurgeReport(dry_run=dry_run)
    with app.db.session() as session:
        retention.apply_policy(session, app.settings)
        cases = retention.due_cases(session, now)
        messages = retention.due_messages(session, app.settings, now)
        report.cases = [c.ref for c in cases]
        report.held = sum(1 for m in messages if m.kind == "held")
        report.other = len(messages) - report.held
        if dry_run:
            session.rollback()  # not even the refreshed retain-until dates
            return report
        erasure_log(app).record([Erasure(c.id, c.ref, "retention", now) for c in cases])
        result = Shredded()
        for case in cases:
            shred_case(session, app.vault, case, now, actor=actor, reason="retention", result=result)
        keys = set()
        for message in messages:
            row = session.get(InboundMessage, message.row_id)
            if row is not None:
                result.contents.add(row.content_index)
                keys.add(shred_message(session, row))
        result.keys += destroy_keys(session, keys, now)
        report.keys = result.keys
        if cases or messages:
            audit(
                session,
                now,
                actor,
                "records.purged",
                detail=f"{len(cases)} case(s), {report.held} held and {report.other} other "
                f"message(s), {result.keys} data key(s) destroyed",
            )
    scrub_files(app.db)
    if mailbox:  # only after the commit: the record of what was destroyed is durable
        report.mailbox_deleted = remove_copies(app, result.contents)
        copies = expire_copies(app, now)
        report.mailbox_deleted += copies.deleted
        report.mailbox_unknown = copies.kept_unknown
    return report


def erase(app: App, ref: str, *, reason: str, actor: str, mailbox: bool = True) -> Case:
    """A person's decision to erase one case now (a right-to-erasure request upheld)."""
    if not reason.strip():
        raise UsageError("say why (--reason): an erasure must have a recorded reason")
    now = app.clock.now()
    with app.db.session() as session:
        case = case_store.case_by_ref(session, ref, tombstone_ok=True)
        if case.shredded_at is not None:
            raise UsageError(f"{case.ref} was already destroyed on {case.shredded_at:%d/%m/%Y}")
        if case.legal_hold:
            raise UsageError(
                f"{case.ref} is under legal hold: lift it first (mailbot legal-hold REF off --why ...)"
            )
        erasure_log(app).record([Erasure(case.id, case.ref, "erasure", now)])
        result = shred_case(session, app.vault, case, now, actor=actor, reason="erasure")
        # The reason may name the person who asked, so it is sealed under a key of its
        # own (not the destroyed one) and kept in the tombstone, never in clear.
        key_id = app.vault.new_key(session)
        sealed = app.vault.seal_text(session, case, "erasure_reason", reason.strip(), key_id=key_id)
        case.tombstone = {
            **(case.tombstone or {}),
            "erasure_reason_key": key_id,
            "erasure_reason_enc": base64.b64encode(sealed).decode(),
        }
    scrub_files(app.db)
    if mailbox:
        remove_copies(app, result.contents)
    return case


def replay(app: App, session: Session, actor: str = "restore") -> list[str]:
    """Shred again every case the log names that a restored database brought back."""
    done = []
    now = app.clock.now()
    for entry in erasure_log(app).entries():
        case = session.get(Case, entry.case_id)
        if case is not None and case.shredded_at is None:
            shred_case(session, app.vault, case, now, actor=actor, reason=entry.reason)
            done.append(case.ref)
    return done
