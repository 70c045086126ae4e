"""poison messages: each message's handling attempts, recorded before the work starts

Revision ID: 0010_message_attempt
Revises: 0009_key_retirement
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_message_attempt"
down_revision = "0009_key_retirement"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_attempt",
        sa.Column("ref_index", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("ref_index"),
    )


def downgrade() -> None:
    op.drop_table("message_attempt")
