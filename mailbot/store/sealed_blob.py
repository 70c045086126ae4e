"""Large sealed values in pieces: a raw message, an attachment's bytes (issue 13).

A value is cut into pieces of ``PIECE`` bytes, each sealed (AES-256-GCM under the owner
row's data key) and inserted on its own, so neither a full-size ciphertext nor the
database driver's copy of one is ever in memory: a 34 MB message costs the bot about
one piece beyond its plaintext.  The owner row (``inbound_message``, ``attachment``)
stays small, so reading or updating it never touches the bytes.

Each piece's associated data names the owner's table, column and row id, the data key
id, the piece's index and the number of pieces (``raw_enc#3/35``): pieces reordered,
dropped, added or moved to another row or column fail to decrypt instead of giving
wrong or partial data.  A value sealed whole before pieces existed (migration 0013
moved each old ``raw_enc``/``data_enc`` into one piece without keys) carries the old
associated data with no index; it is accepted only as the sole piece, which it was by
construction (it was sealed as the whole value).

Crypto-shredding is unchanged: the pieces are under the owner's data key, destroyed
with it, and ``delete_pieces`` removes the rows with their owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, delete, insert, select
from sqlalchemy.orm import Session

from mailbot.errors import CryptoError
from mailbot.store import crypto
from mailbot.store.models import Base, SealedPiece, new_id
from mailbot.store.vault import Vault

#: Bytes of plaintext per piece.
PIECE = 1 << 20

_TABLE: Any = SealedPiece.__table__
_HELD = "mailbot.sealed_pieces_held"
#: Sealed bytes held for ``pieces_together`` at most (issue 13's memory bound holds).
HELD_BYTES = 4 << 20


def piece_column(column: str, index: int, count: int) -> str:
    """The column name the associated data carries for one piece of ``count``."""
    return f"{column}#{index}/{count}"


def _owner(row: Base) -> tuple[str, str]:
    return row.__tablename__, row.id  # type: ignore[attr-defined]


def _where(table: str, row_id: str, column: str) -> ColumnElement[bool]:
    return and_(
        SealedPiece.owner_table == table, SealedPiece.owner_id == row_id, SealedPiece.owner_column == column
    )


def seal_pieces(
    session: Session,
    vault: Vault,
    row: Base,
    column: str,
    data: bytes | bytearray | memoryview,
    *,
    key_id: str | None = None,
    piece: int = PIECE,
) -> int:
    """Seal ``data`` for ``row``'s ``column`` and insert it, a piece at a time, in the
    session's transaction; the number of pieces (at least one, even for no bytes)."""
    key_id = key_id or row.key_id  # type: ignore[attr-defined]
    if getattr(row, "id", None) is None:
        row.id = new_id()  # type: ignore[attr-defined]  # the row id is in the AAD
    table, row_id = _owner(row)
    key = vault.data_key(session, key_id)
    view = memoryview(data).cast("B")
    count = max(1, -(-len(view) // piece))
    for index in range(count):
        chunk = view[index * piece : (index + 1) * piece]
        # AES-GCM takes any buffer: the piece is a view of the caller's bytes, not a copy.
        sealed = crypto.seal(
            key, key_id, table, piece_column(column, index, count), row_id, cast(bytes, chunk)
        )
        values = {"owner_table": table, "owner_id": row_id, "owner_column": column, "idx": index}
        held: list[dict[str, Any]] | None = session.info.get(_HELD)
        if count == 1 and held is not None:
            held.append({**values, "data_enc": sealed})  # with the others, at the end
            if sum(len(row["data_enc"]) for row in held) > HELD_BYTES:
                _write_held(session)
            continue
        # On the session's connection: a Core insert that does not flush the ORM's pending
        # rows first (a piece has no foreign key), so they go in one flush later (issue 18).
        session.connection().execute(insert(_TABLE), [{**values, "data_enc": sealed}])
        del sealed
    return count


@contextmanager
def pieces_together(session: Session) -> Iterator[None]:
    """Within the block, values of one piece (a message, most attachments) are inserted
    together at its end, in one statement (issue 18: a round trip per value saved);
    larger ones still a piece at a time, as they come. Nothing is inserted if the block
    raises."""
    if _HELD in session.info:
        yield
        return
    session.info[_HELD] = []
    try:
        yield
        _write_held(session)
    finally:
        session.info.pop(_HELD, None)


def _write_held(session: Session) -> None:
    held: list[dict[str, Any]] = session.info[_HELD]
    if held:
        session.connection().execute(insert(_TABLE), held)
        held.clear()


def iter_pieces(
    session: Session, vault: Vault, row: Base, column: str, *, key_id: str | None = None
) -> Iterator[bytes]:
    """The value's plaintext, a piece at a time (each read from the database on its own).

    Raises ``CryptoError`` for a value with no pieces, a gap in them, or any piece that
    fails authentication (before that piece's bytes are given out)."""
    key_id = key_id or row.key_id  # type: ignore[attr-defined]
    table, row_id = _owner(row)
    where = _where(table, row_id, column)
    indexes = list(session.scalars(select(SealedPiece.idx).where(where).order_by(SealedPiece.idx)))
    count = len(indexes)
    if count == 0:
        raise CryptoError(f"sealed value {table}.{column} of {row_id} is missing")
    if indexes != list(range(count)):
        raise CryptoError(f"sealed value {table}.{column} of {row_id} has pieces missing")
    key = vault.data_key(session, key_id)
    for index in range(count):
        blob = session.scalars(select(SealedPiece.data_enc).where(where, SealedPiece.idx == index)).one()
        try:
            plain = crypto.unseal(key, key_id, table, piece_column(column, index, count), row_id, blob)
        except CryptoError:
            if count != 1:
                raise
            # Sealed whole before pieces (moved here by migration 0013): only ever valid
            # as the one and only piece of this row's column.
            plain = crypto.unseal(key, key_id, table, column, row_id, blob)
        del blob
        yield plain


def open_pieces(
    session: Session, vault: Vault, row: Base, column: str, *, key_id: str | None = None
) -> bytes:
    """The whole value (every piece authenticated)."""
    return b"".join(iter_pieces(session, vault, row, column, key_id=key_id))


def open_head(session: Session, vault: Vault, row: Base, column: str, *, key_id: str | None = None) -> bytes:
    """The value's first pieces, up to the first that holds a blank line: a message's
    header block without decrypting its attachments."""
    head = bytearray()
    for plain in iter_pieces(session, vault, row, column, key_id=key_id):
        scan_from = max(0, len(head) - 3)
        head += plain
        if head.find(b"\n\n", scan_from) >= 0 or head.find(b"\r\n\r\n", scan_from) >= 0:
            break
    return bytes(head)


def delete_pieces(session: Session, table: str, owner_ids: Iterable[str] | Any) -> None:
    """Remove the pieces of these owner rows (a list of ids or a SELECT of them)."""
    session.execute(
        delete(SealedPiece).where(SealedPiece.owner_table == table, SealedPiece.owner_id.in_(owner_ids))
    )
