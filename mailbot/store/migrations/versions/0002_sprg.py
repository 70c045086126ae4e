"""SPRG meetings and decisions

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sprg_meeting",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("meeting_date", sa.Date(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("digest_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("digest_cases", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["data_key.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_date"),
    )
    op.create_table(
        "sprg_decision",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("outcome_enc", sa.LargeBinary(), nullable=False),
        sa.Column("meeting_date", sa.Date(), nullable=True),
        sa.Column("final_report_date", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("reminder_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.ForeignKeyConstraint(["key_id"], ["data_key.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["inbound_message.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sprg_decision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sprg_decision_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sprg_decision_final_report_date"), ["final_report_date"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sprg_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sprg_decision_final_report_date"))
        batch_op.drop_index(batch_op.f("ix_sprg_decision_case_id"))
    op.drop_table("sprg_decision")
    op.drop_table("sprg_meeting")
