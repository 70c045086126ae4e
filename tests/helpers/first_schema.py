"""A database made by the first schema (revision 0001) with a case in it, as a bot of
that time stored one: for the upgrade path to the current schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command

from mailbot.store import crypto
from mailbot.store.db import _alembic_config, make_engine
from mailbot.store.keys import KeyStore

FORMS = Path(__file__).resolve().parents[1] / "data" / "forms"
REF = "COC-2025-0007"
CHILD = "Imogen Firstschema"
WHEN = datetime(2025, 11, 3, 10, 0, tzinfo=UTC)
MESSAGE_ID, ATTACHMENT_ID = "m" * 32, "a" * 32
#: The stored message and the form kept with the case (before issue 13, each a whole ciphertext).
RAW = b"Subject: x\r\n\r\nx"
FILE = b"PK\x03\x04 the form as it was kept"


def seed_first_schema(url: str, keys: KeyStore) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        cfg = _alembic_config(engine)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")
    master = keys.load()
    meta = sa.MetaData()
    meta.reflect(engine)
    t = meta.tables
    data_key = crypto.new_data_key()
    key_id, case_id, version_id, message_id = "k" * 32, "c" * 32, "v" * 32, MESSAGE_ID

    def seal(table: str, column: str, row_id: str, value: Any) -> bytes:
        raw = (
            value
            if isinstance(value, bytes)
            else json.dumps(value).encode()
            if not isinstance(value, str)
            else value.encode()
        )
        return crypto.seal(data_key, key_id, table, column, row_id, raw)

    referral = json.loads((FORMS / "coc-01-complete.expected.json").read_text(encoding="utf-8"))
    referral.pop("missing_required")
    referral["child"]["full_name"] = CHILD
    with engine.begin() as db:
        db.execute(
            t["data_key"]
            .insert()
            .values(
                id=key_id,
                master_version=master.current_version,
                created_at=WHEN,
                wrapped=crypto.wrap_key(
                    master.key(master.current_version), master.current_version, key_id, data_key
                ),
            )
        )
        db.execute(
            t["case"]
            .insert()
            .values(
                id=case_id,
                ref=REF,
                status="ready",
                key_id=key_id,
                created_at=WHEN,
                updated_at=WHEN,
                ready_at=WHEN,
                held=False,
                sender_enc=seal("case", "sender_enc", case_id, "a@school.example.org"),
                sender_index="0" * 64,
                current_version=1,
                missing_required=[],
                queries=[],
            )
        )
        db.execute(
            t["inbound_message"]
            .insert()
            .values(
                id=message_id,
                dedupe_key="d" * 64,
                content_index="e" * 64,
                mailbox_ref="maildir:/x|INBOX||1",
                key_id=key_id,
                received_at=WHEN,
                action="accept",
                reason="complete referral form attached",
                target_folder="Processed",
                moved=True,
                sender_enc=seal("inbound_message", "sender_enc", message_id, "a@x"),
                subject_enc=seal("inbound_message", "subject_enc", message_id, "Referral"),
                raw_enc=seal("inbound_message", "raw_enc", message_id, RAW),
            )
        )
        db.execute(t["message_case"].insert().values(message_id=message_id, case_id=case_id))
        db.execute(
            t["attachment"]
            .insert()
            .values(
                id=ATTACHMENT_ID,
                case_id=case_id,
                message_id=message_id,
                key_id=key_id,
                filename_enc=seal("attachment", "filename_enc", ATTACHMENT_ID, "referral.docx"),
                content_type="application/octet-stream",
                size=len(FILE),
                kind="form",
                data_enc=seal("attachment", "data_enc", ATTACHMENT_ID, FILE),
            )
        )
        db.execute(
            t["referral_version"]
            .insert()
            .values(
                id=version_id,
                case_id=case_id,
                version=1,
                source="form",
                referral_enc=seal("referral_version", "referral_enc", version_id, referral),
                provenance_enc=seal("referral_version", "provenance_enc", version_id, {}),
                fallbacks=[],
                missing_required=[],
                queries=[],
                message_id=message_id,
                created_at=WHEN,
                created_by="mailbot",
            )
        )
    engine.dispose()
