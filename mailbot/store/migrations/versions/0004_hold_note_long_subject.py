"""joins the SPRG and workspace branches; a person's note on a held message, encrypted;
outbound subjects long enough for every case tag

Revision ID: 0004
Revises: 0002, 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = ("0002", "0003")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_message") as batch:
        batch.add_column(sa.Column("hold_note_enc", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column(
            "subject", existing_type=sa.String(length=255), type_=sa.Text(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column(
            "subject", existing_type=sa.Text(), type_=sa.String(length=255), existing_nullable=False
        )
    with op.batch_alter_table("inbound_message") as batch:
        batch.drop_column("hold_note_enc")
