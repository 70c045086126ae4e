"""Canary scans for the record's life: which of a case's bytes and values are still
anywhere (database file, WAL, a backup, what the master key can still open)."""

from __future__ import annotations

import gzip
from pathlib import Path

from sqlalchemy import select

from mailbot.app import App
from mailbot.errors import CryptoError
from mailbot.store.models import (
    Attachment,
    Base,
    Case,
    InboundMessage,
    MessageCase,
    Outbox,
    ReferralVersion,
    SealedPiece,
)

#: 40 bytes of AES-GCM output cannot turn up in a file by chance.
SLICE = 40


def case_ciphertexts(app: App, ref: str) -> dict[str, bytes]:
    """A 40-byte slice from the middle of every ciphertext that belongs to one case."""
    found: dict[str, bytes] = {}
    with app.db.session() as session:
        case = session.scalars(select(Case).where(Case.ref == ref)).one()
        rows: list[Base] = [case]
        rows += session.scalars(select(ReferralVersion).where(ReferralVersion.case_id == case.id))
        rows += session.scalars(select(Attachment).where(Attachment.case_id == case.id))
        rows += session.scalars(
            select(InboundMessage)
            .join(MessageCase, MessageCase.message_id == InboundMessage.id)
            .where(MessageCase.case_id == case.id)
        )
        rows += [o for o in session.scalars(select(Outbox)) if o.case_refs == [ref]]
        for row in rows:
            for column in row.__table__.columns:  # type: ignore[attr-defined]
                value = getattr(row, column.name)
                if column.name.endswith("_enc") and isinstance(value, bytes) and len(value) > 60:
                    middle = len(value) // 2
                    found[f"{row.__tablename__}.{column.name}.{row.id}"] = (  # type: ignore[attr-defined]
                        value[middle : middle + SLICE]
                    )
            pieces = session.execute(  # a raw message's or a file's bytes (store.sealed_blob)
                select(SealedPiece.owner_column, SealedPiece.idx, SealedPiece.data_enc).where(
                    SealedPiece.owner_table == row.__tablename__,
                    SealedPiece.owner_id == row.id,  # type: ignore[attr-defined]
                )
            )
            for column_name, idx, value in pieces:
                middle = len(value) // 2
                found[f"{row.__tablename__}.{column_name}#{idx}.{row.id}"] = value[middle : middle + SLICE]  # type: ignore[attr-defined]
    assert found, f"{ref} has no ciphertext to look for"
    return found


def holders(paths: list[Path], slices: dict[str, bytes]) -> list[str]:
    """Which slices still appear in any of the files (a gzip backup is read unpacked)."""
    blobs = []
    for path in paths:
        if path.exists():
            data = path.read_bytes()
            blobs.append(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    return sorted(name for name, piece in slices.items() if any(piece in b for b in blobs))


def sqlite_files(app: App) -> list[Path]:
    path = Path(app.settings.database_url.removeprefix("sqlite:///"))
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]


def case_values(app: App, ref: str) -> set[str]:
    """The personal values of a case's current referral (names, dates of birth)."""
    from mailbot.cases import store as case_store

    with app.db.session() as session:
        case = case_store.case_by_ref(session, ref)
        referral, _ = case_store.load_referral(session, app.vault, case)
    values = {referral["child"]["full_name"], referral["child"]["dob"]}
    for member in referral.get("household") or []:
        values |= {member.get("name"), member.get("dob")}
    return {v for v in values if isinstance(v, str) and v}


def readable_text(app: App) -> str:
    """Everything the master key can still open in the database, as one string."""
    app.vault._cache.clear()
    out: list[str] = []
    with app.db.session() as session:
        for model in (Case, ReferralVersion, Attachment, InboundMessage, Outbox):
            for row in session.scalars(select(model)):
                key_id = getattr(row, "key_id", None)
                if key_id is None:
                    case = session.get(Case, row.case_id)  # type: ignore[attr-defined]
                    key_id = case.key_id if case else None
                for column in row.__table__.columns:  # type: ignore[attr-defined]
                    if not column.name.endswith("_enc") or not getattr(row, column.name):
                        continue
                    try:
                        out.append(
                            app.vault.open(session, row, column.name, key_id=key_id).decode(
                                "utf-8", "replace"
                            )
                        )
                    except CryptoError:
                        continue
    return "\n".join(out)
