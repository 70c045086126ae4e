"""a keyed audit chain with a head row that serialises appends; the master key
versions' fingerprints

Entries already written keep their plain SHA-256 hashes: ``audit_head.keyed_from``
marks the first entry whose hash is an HMAC under the audit key. When the command
that migrates passes the audit key in (``mailbot.store.db.migrate`` does), that
boundary is signed with it, so nobody without the key can move it later.

Revision ID: 0007_audit_key_records
Revises: 0006_retention
"""

import hashlib
import hmac

import sqlalchemy as sa
from alembic import context, op

revision = "0007_audit_key_records"
down_revision = "0006_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=True),
        sa.Column("keyed_from", sa.Integer(), nullable=False),
        sa.Column("keyed_from_mac", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "master_key",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    bind = op.get_bind()
    last = bind.execute(sa.text("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")).first()
    keyed_from = (last[0] + 1) if last else 1
    key_source = context.config.attributes.get("audit_key")
    mac = None
    if key_source is not None and keyed_from > 1:
        mac = hmac.new(key_source(), f"keyed_from|{keyed_from}".encode(), hashlib.sha256).hexdigest()
    op.bulk_insert(
        head,
        [{"id": 1, "last_hash": last[1] if last else None, "keyed_from": keyed_from, "keyed_from_mac": mac}],
    )


def downgrade() -> None:
    op.drop_table("master_key")
    op.drop_table("audit_head")
