"""Large values sealed in pieces (issue 13), on SQLite and PostgreSQL: the bytes come back
whole, and pieces reordered, dropped, truncated or moved to another row fail to decrypt
instead of giving wrong or partial data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.bot import eml
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.errors import CryptoError
from mailbot.intake.poller import Poller
from mailbot.store import sealed_blob
from mailbot.store.models import InboundMessage, SealedPiece
from mailbot.store.sealed_blob import delete_pieces, open_head, open_pieces, pieces_together, seal_pieces

PIECE = 1000
DATA = bytes(range(256)) * 14  # 3,584 bytes: four pieces of 1,000


@pytest.fixture
def two(any_app: App) -> Iterator[tuple[App, Session, InboundMessage, InboundMessage]]:
    """Two stored messages, each with a four-piece value in column ``test_enc``."""
    any_app.mailbox.append(eml("mail-01-referral-complete"))
    any_app.mailbox.append(eml("mail-04-handtyped-dates"))
    Poller(any_app).cycle()
    with any_app.db.session() as session:
        first, second = session.scalars(select(InboundMessage).order_by(InboundMessage.received_at)).all()[:2]
        for row in (first, second):
            assert seal_pieces(session, any_app.vault, row, "test_enc", DATA, piece=PIECE) == 4
        session.flush()
        yield any_app, session, first, second
        session.rollback()


def _pieces(session: Session, row: InboundMessage) -> list[bytes]:
    where = (SealedPiece.owner_id == row.id, SealedPiece.owner_column == "test_enc")
    return list(session.scalars(select(SealedPiece.data_enc).where(*where).order_by(SealedPiece.idx)))


def _set_idx(session: Session, row: InboundMessage, old: int, new: int) -> None:
    session.execute(
        update(SealedPiece)
        .where(SealedPiece.owner_id == row.id, SealedPiece.owner_column == "test_enc", SealedPiece.idx == old)
        .values(idx=new)
    )


def test_the_bytes_come_back_whole_and_no_piece_holds_plaintext(two: tuple) -> None:  # type: ignore[type-arg]
    app, session, first, _second = two
    assert open_pieces(session, app.vault, first, "test_enc") == DATA
    assert all(DATA[:64] not in piece for piece in _pieces(session, first))
    raw = open_pieces(session, app.vault, first, "raw_enc")  # the message, stored by the pipeline
    assert raw == eml("mail-01-referral-complete")
    assert raw.startswith(open_head(session, app.vault, first, "raw_enc")[:100])


def test_reordered_pieces_fail(two: tuple) -> None:  # type: ignore[type-arg]
    app, session, first, _second = two
    _set_idx(session, first, 1, 9)
    _set_idx(session, first, 2, 1)
    _set_idx(session, first, 9, 2)
    with pytest.raises(CryptoError):
        open_pieces(session, app.vault, first, "test_enc")


@pytest.mark.parametrize("dropped", [[3], [1], [1, 2, 3]], ids=["last", "middle", "all-but-first"])
def test_dropped_pieces_fail(two: tuple, dropped: list[int]) -> None:  # type: ignore[type-arg]
    app, session, first, _second = two
    session.execute(
        delete(SealedPiece).where(
            SealedPiece.owner_id == first.id,
            SealedPiece.owner_column == "test_enc",
            SealedPiece.idx.in_(dropped),
        )
    )
    if dropped == [1]:  # renumber so that no gap shows: the count in the AAD still differs
        _set_idx(session, first, 2, 1)
        _set_idx(session, first, 3, 2)
    with pytest.raises(CryptoError):
        open_pieces(session, app.vault, first, "test_enc")


def test_a_piece_swapped_in_from_another_row_fails(two: tuple) -> None:  # type: ignore[type-arg]
    app, session, first, second = two
    theirs = _pieces(session, second)
    session.execute(
        update(SealedPiece)
        .where(SealedPiece.owner_id == first.id, SealedPiece.owner_column == "test_enc", SealedPiece.idx == 2)
        .values(data_enc=theirs[2])
    )
    with pytest.raises(CryptoError):
        open_pieces(session, app.vault, first, "test_enc")


def test_a_piece_moved_to_another_column_fails(two: tuple) -> None:  # type: ignore[type-arg]
    app, session, first, _second = two
    session.execute(
        update(SealedPiece)
        .where(SealedPiece.owner_id == first.id, SealedPiece.owner_column == "test_enc")
        .values(owner_column="other_enc")
    )
    with pytest.raises(CryptoError):
        open_pieces(session, app.vault, first, "other_enc")


def test_no_pieces_is_an_error_not_empty_bytes(two: tuple) -> None:  # type: ignore[type-arg]
    app, session, first, _second = two
    delete_pieces(session, "inbound_message", [first.id])
    with pytest.raises(CryptoError):
        open_pieces(session, app.vault, first, "raw_enc")
    with pytest.raises(CryptoError):
        open_pieces(session, app.vault, first, "test_enc")


def test_a_value_sealed_whole_reads_only_as_the_sole_piece(two: tuple) -> None:  # type: ignore[type-arg]
    """What migration 0013 made of an old ``raw_enc``: one piece with the old AAD."""
    app, session, first, _second = two
    whole = app.vault.seal(session, first, "old_enc", b"Subject: x\r\n\r\nx")
    values = {"owner_table": "inbound_message", "owner_id": first.id, "owner_column": "old_enc"}
    session.add(SealedPiece(**values, idx=0, data_enc=whole))
    session.flush()
    assert open_pieces(session, app.vault, first, "old_enc") == b"Subject: x\r\n\r\nx"
    session.add(SealedPiece(**values, idx=1, data_enc=_pieces(session, first)[1]))
    session.flush()
    with pytest.raises(CryptoError):
        open_pieces(session, app.vault, first, "old_enc")


def test_empty_and_exact_multiples(two: tuple) -> None:  # type: ignore[type-arg]
    app, session, first, _second = two
    assert seal_pieces(session, app.vault, first, "empty_enc", b"", piece=PIECE) == 1
    assert open_pieces(session, app.vault, first, "empty_enc") == b""
    assert seal_pieces(session, app.vault, first, "even_enc", DATA[:2000], piece=PIECE) == 2
    assert open_pieces(session, app.vault, first, "even_enc") == DATA[:2000]


# -- values of one piece held to the end of a message (issue 18) --------------------------------


def _inserts(session: Session) -> list[int]:
    """The rows of each INSERT into sealed_piece from now on (appended as they happen)."""
    seen: list[int] = []

    def on_execute(_conn, _cursor, statement, params, _context, many):  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO sealed_piece"):
            seen.append(len(params) if many else 1)

    event.listen(session.get_bind(), "before_cursor_execute", on_execute)
    return seen


def _count(session: Session, row: InboundMessage) -> int:
    where = (SealedPiece.owner_id == row.id, SealedPiece.owner_column == "test_enc")
    return session.scalar(select(func.count()).select_from(SealedPiece).where(*where)) or 0


def test_values_of_one_piece_go_in_together_at_the_end_and_large_ones_at_once(two: tuple) -> None:  # type: ignore[type-arg]
    app, session, first, second = two
    session.execute(delete(SealedPiece).where(SealedPiece.owner_column == "test_enc"))
    inserts = _inserts(session)
    with pieces_together(session):
        seal_pieces(session, app.vault, first, "test_enc", DATA[:900], piece=PIECE)
        seal_pieces(session, app.vault, second, "test_enc", DATA[:10], piece=PIECE)
        assert inserts == [] and _count(session, first) == 0  # held
        seal_pieces(session, app.vault, first, "big_enc", DATA, piece=PIECE)
        assert inserts == [1, 1, 1, 1]  # four pieces, one at a time, as they come
    assert inserts == [1, 1, 1, 1, 2]  # the two small values in one statement
    assert open_pieces(session, app.vault, first, "test_enc") == DATA[:900]
    assert open_pieces(session, app.vault, second, "test_enc") == DATA[:10]
    assert open_pieces(session, app.vault, first, "big_enc") == DATA


def test_nothing_held_is_written_when_the_message_fails(two: tuple) -> None:  # type: ignore[type-arg]
    app, session, first, _second = two
    session.execute(delete(SealedPiece).where(SealedPiece.owner_column == "test_enc"))
    with pytest.raises(ZeroDivisionError), pieces_together(session):
        seal_pieces(session, app.vault, first, "test_enc", DATA[:100], piece=PIECE)
        raise ZeroDivisionError
    assert _count(session, first) == 0
    seal_pieces(session, app.vault, first, "test_enc", DATA[:100], piece=PIECE)  # not held now
    assert _count(session, first) == 1


def test_held_bytes_past_the_bound_are_written_early(two: tuple, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    """Many attachments of just under a piece do not pile up in memory (issue 13)."""
    app, session, first, second = two
    monkeypatch.setattr(sealed_blob, "HELD_BYTES", 1500)
    session.execute(delete(SealedPiece).where(SealedPiece.owner_column == "test_enc"))
    inserts = _inserts(session)
    with pieces_together(session):
        seal_pieces(session, app.vault, first, "test_enc", DATA[:900], piece=PIECE)
        assert inserts == []
        seal_pieces(session, app.vault, second, "test_enc", DATA[:900], piece=PIECE)
        assert inserts == [2]  # past 1,500 held bytes: out now
    assert inserts == [2]  # nothing left for the end
    assert open_pieces(session, app.vault, second, "test_enc") == DATA[:900]
