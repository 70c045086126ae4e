"""sealed pieces: raw messages and attachments' bytes leave their rows for
``sealed_piece``, sealed a piece at a time (issue 13: a 25 MB attachment kept the bot
above 200 MB, and marking a message moved rewrote its 34 MB row)

Each existing ``inbound_message.raw_enc`` and ``attachment.data_enc`` becomes the one
piece of its value, ciphertext copied as it is (migrations never hold keys); its
associated data has no piece index, which ``store.sealed_blob`` accepts only for a sole
piece.  Values written from now on are sealed in pieces bound to their index and count.

Irreversible: a value stored in several pieces can only be joined back into one
ciphertext by decrypting it, and a migration never holds the keys.  ``mailbot upgrade``
takes a backup before migrating: restore that to go back.

Revision ID: 0013_sealed_pieces
Revises: 0012_reply_limits
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_sealed_pieces"
down_revision = "0012_reply_limits"
branch_labels = None
depends_on = None

_MOVED = (
    (
        "inbound_message",
        "raw_enc",
        "INSERT INTO sealed_piece (owner_table, owner_id, owner_column, idx, data_enc) "
        "SELECT 'inbound_message', id, 'raw_enc', 0, raw_enc FROM inbound_message",
    ),
    (
        "attachment",
        "data_enc",
        "INSERT INTO sealed_piece (owner_table, owner_id, owner_column, idx, data_enc) "
        "SELECT 'attachment', id, 'data_enc', 0, data_enc FROM attachment",
    ),
)


def upgrade() -> None:
    op.create_table(
        "sealed_piece",
        sa.Column("owner_table", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("owner_column", sa.String(length=32), nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data_enc", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("owner_table", "owner_id", "owner_column", "idx"),
    )
    for table, column, copy in _MOVED:
        op.execute(copy)  # in the database, never through Python's memory
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)


def downgrade() -> None:
    raise NotImplementedError(
        "0013_sealed_pieces cannot be undone: values sealed in pieces can only be joined "
        "again with the data keys, which migrations never hold; restore the backup "
        "`mailbot upgrade` took before migrating"
    )
