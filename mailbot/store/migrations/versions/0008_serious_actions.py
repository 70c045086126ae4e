"""serious incidents (the flag, the day the partnership became aware, the Panel
notification and rapid review dates), extraordinary SPRG meetings, and the actions of
SPRG decisions

Revision ID: 0008_serious_actions
Revises: 0007_audit_key_records
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_serious_actions"
down_revision = "0007_audit_key_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.add_column(
            sa.Column("serious_incident", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("serious_set_by", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("serious_why_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("aware_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("panel_notified_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("rapid_review_sent_on", sa.Date(), nullable=True))
        batch.create_index("ix_case_serious_incident", ["serious_incident"])
    with op.batch_alter_table("sprg_meeting") as batch:
        batch.add_column(sa.Column("extraordinary", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "sprg_action",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("case_id", sa.String(length=32), sa.ForeignKey("case.id"), nullable=False),
        sa.Column("decision_id", sa.String(length=32), sa.ForeignKey("sprg_decision.id"), nullable=True),
        sa.Column("key_id", sa.String(length=32), sa.ForeignKey("data_key.id"), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column("agency", sa.String(length=200), nullable=False),
        sa.Column("owner_enc", sa.LargeBinary(), nullable=False),
        sa.Column("owner_email_enc", sa.LargeBinary(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("evidence_enc", sa.LargeBinary(), nullable=True),
        sa.Column("carried_forward_on", sa.Date(), nullable=True),
        sa.Column("carry_note_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("reminder_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_sprg_action_case_id", "sprg_action", ["case_id"])
    op.create_index("ix_sprg_action_agency", "sprg_action", ["agency"])
    op.create_index("ix_sprg_action_due_on", "sprg_action", ["due_on"])


def downgrade() -> None:
    op.drop_table("sprg_action")
    with op.batch_alter_table("sprg_meeting") as batch:
        batch.drop_column("extraordinary")
    with op.batch_alter_table("case") as batch:
        batch.drop_index("ix_case_serious_incident")
        for column in (
            "rapid_review_sent_on",
            "panel_notified_on",
            "aware_on",
            "serious_why_enc",
            "serious_set_by",
            "serious_incident",
        ):
            batch.drop_column(column)
