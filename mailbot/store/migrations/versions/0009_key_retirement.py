"""master key versions: when each was retired (the row is kept, with its fingerprint)

Revision ID: 0009_key_retirement
Revises: 0008_serious_actions
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_key_retirement"
down_revision = "0008_serious_actions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("master_key") as batch:
        batch.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("master_key") as batch:
        batch.drop_column("retired_at")
