"""resend index: each form version keeps a keyed digest of what a resend is compared by
(its fields outside the fallbacks and its subject key), so finding the same referral
sent again reads the versions with that digest instead of decrypting every one of the
sender's open cases

Existing versions keep NULL (a migration never holds the keys) and are compared by
decrypting them, as before.

Revision ID: 0014_resend_index
Revises: 0013_sealed_pieces
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_resend_index"
down_revision = "0013_sealed_pieces"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referral_version") as batch:
        batch.add_column(sa.Column("resend_index", sa.String(length=64), nullable=True))
        batch.create_index("ix_referral_version_resend_index", ["resend_index"])


def downgrade() -> None:
    with op.batch_alter_table("referral_version") as batch:
        batch.drop_index("ix_referral_version_resend_index")
        batch.drop_column("resend_index")
