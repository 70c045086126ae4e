"""reply limits: the outbox keeps keyed hashes of each mail's recipient and topic (the
thread a reply answers, or the sender a limit notice is about), so the bot can count its
replies to one address or one thread without decrypting anything

Revision ID: 0012_reply_limits
Revises: 0011_notes_owner
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_reply_limits"
down_revision = "0011_notes_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("recipient_index", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("topic_index", sa.String(length=64), nullable=True))
        batch.create_index("ix_outbox_recipient_index", ["recipient_index", "created_at"])
        batch.create_index("ix_outbox_topic_index", ["topic_index"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_topic_index")
        batch.drop_index("ix_outbox_recipient_index")
        batch.drop_column("topic_index")
        batch.drop_column("recipient_index")
