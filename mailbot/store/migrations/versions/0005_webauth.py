"""workspace sign-in: failed attempts per account and address, TOTP two-step sign-in with
recovery codes, Microsoft Entra ID accounts and their sign-ins on the way

Revision ID: 0005_webauth
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_webauth"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_user") as batch:
        batch.add_column(sa.Column("source", sa.String(length=8), nullable=False, server_default="local"))
        batch.add_column(sa.Column("oidc_subject", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_web_user_oidc_subject", ["oidc_subject"])
    with op.batch_alter_table("web_session") as batch:
        batch.add_column(sa.Column("stage", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("code_failures", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "web_signin_failure",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["web_user.id"]),
        sa.PrimaryKeyConstraint("user_id", "address"),
    )
    op.create_table(
        "web_totp",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("secret_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["data_key.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["web_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),
    )
    op.create_table(
        "web_recovery_code",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["web_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_web_recovery_code_user_id", "web_recovery_code", ["user_id"])
    op.create_table(
        "web_oidc_flow",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("next_url", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state_hash"),
    )
    op.create_index("ix_web_oidc_flow_created_at", "web_oidc_flow", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_web_oidc_flow_created_at", table_name="web_oidc_flow")
    op.drop_table("web_oidc_flow")
    op.drop_index("ix_web_recovery_code_user_id", table_name="web_recovery_code")
    op.drop_table("web_recovery_code")
    op.drop_table("web_totp")
    op.drop_table("web_signin_failure")
    with op.batch_alter_table("web_session") as batch:
        batch.drop_column("code_failures")
        batch.drop_column("stage")
    with op.batch_alter_table("web_user") as batch:
        batch.drop_constraint("uq_web_user_oidc_subject", type_="unique")
        batch.drop_column("oidc_subject")
        batch.drop_column("source")
