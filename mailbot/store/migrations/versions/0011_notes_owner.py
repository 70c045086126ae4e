"""the team's notes on a case (encrypted), a case's owner, and who wrote a message the
team sent from the workspace

Revision ID: 0011_notes_owner
Revises: 0010_message_attempt

Main had two heads when this landed (both 0009 revisions follow 0008_serious_actions), so
this revision also joins them: one head again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_notes_owner"
down_revision = "0010_message_attempt"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_note",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("case_id", sa.String(length=32), sa.ForeignKey("case.id"), nullable=False),
        sa.Column("key_id", sa.String(length=32), sa.ForeignKey("data_key.id"), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_case_note_case_id", "case_note", ["case_id"])
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("written_by", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("written_by")
    with op.batch_alter_table("case") as batch:
        batch.drop_column("owner")
    op.drop_index("ix_case_note_case_id", table_name="case_note")
    op.drop_table("case_note")
