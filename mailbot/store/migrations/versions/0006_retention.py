"""retention and erasure: a case's retain-until date, legal hold, and the tombstone a
crypto-shredded case leaves behind

Revision ID: 0006_retention
Revises: 0005_webauth
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_retention"
down_revision = "0005_webauth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Columns are only added (SQLite's ALTER TABLE ADD COLUMN): the case table, which
    # others reference, is never rebuilt.
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("retain_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("legal_hold_why_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("shred_reason", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("tombstone", sa.JSON(), nullable=True))
        batch.create_index(batch.f("ix_case_retain_until"), ["retain_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.drop_index(batch.f("ix_case_retain_until"))
        for name in (
            "tombstone",
            "shred_reason",
            "shredded_at",
            "legal_hold_why_enc",
            "legal_hold",
            "retain_until",
        ):
            batch.drop_column(name)
