"""IMAP in batches: how ``ImapMailbox.fetch_many`` and ``move_many`` cut a backlog into
commands, apart from the connection handling so that it reads (and is tested) alone.

A fetch asks the sizes of a window of UIDs first (one ``UID FETCH set (RFC822.SIZE)``),
then fetches bodies in chunks bounded by count and by total size, so memory stays bounded
whatever the backlog; UIDs missing from the size answer are gone and are not fetched.
A move is one ``UID SEARCH`` (which of the set are still here and not ``\\Deleted``) and
one ``UID MOVE`` per target folder (or COPY + ``\\Deleted`` + UID EXPUNGE of exactly
those UIDs where MOVE is absent), so repeating a batch after a crash moves nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from mailbot.mail.mailbox import MailboxRef

#: Bodies per ``UID FETCH``: round trips fall 25-fold, and the reply stays small.
FETCH_COUNT = 25
#: ... and at most this many bytes of bodies per command (a big message goes alone).
FETCH_BYTES = 32 * 1024 * 1024
#: UIDs per size query, per SEARCH and per MOVE: keeps command lines far below the
#: servers' limits (Dovecot: 64 KB) with UIDs of up to 10 digits.
SET_SIZE = 500
DELETED = b"\\Deleted"


def windows(refs: Sequence[MailboxRef], size: int = SET_SIZE) -> Iterator[list[MailboxRef]]:
    """Runs of consecutive refs in one folder and UIDVALIDITY, at most ``size`` long."""
    run: list[MailboxRef] = []
    for ref in refs:
        if run and (len(run) >= size or (ref.folder, ref.uidvalidity) != (run[0].folder, run[0].uidvalidity)):
            yield run
            run = []
        run.append(ref)
    if run:
        yield run


def sizes(client: IMAPClient, uids: list[int]) -> dict[int, int]:
    """RFC822.SIZE of each UID still in the selected folder (gone ones are absent)."""
    answer = client.fetch(uids, ["RFC822.SIZE"])
    return {uid: int(data.get(b"RFC822.SIZE", 0)) for uid, data in answer.items()}


def chunks(
    uids: list[int], known: dict[int, int], count: int = FETCH_COUNT, limit: int = FETCH_BYTES
) -> Iterator[list[int]]:
    """The UIDs still present, in order, cut into chunks of at most ``count`` UIDs and
    ``limit`` bytes (a single message above ``limit`` makes a chunk of its own)."""
    chunk: list[int] = []
    total = 0
    for uid in uids:
        if uid not in known:
            continue
        if chunk and (len(chunk) >= count or total + known[uid] > limit):
            yield chunk
            chunk, total = [], 0
        chunk.append(uid)
        total += known[uid]
    if chunk:
        yield chunk


def bodies(client: IMAPClient, uids: list[int]) -> dict[int, bytes]:
    """``BODY.PEEK[]`` of a chunk (no ``\\Seen``); a UID expunged meanwhile is left out
    (Dovecot omits it, some servers answer NIL)."""
    answer = client.fetch(uids, ["BODY.PEEK[]"])
    found: dict[int, bytes] = {}
    for uid, data in answer.items():
        body = data.get(b"BODY[]")
        if body is not None:
            found[uid] = bytes(body)
    return found


def present(client: IMAPClient, uids: list[int]) -> set[int]:
    """Which of ``uids`` are in the selected folder and not flagged ``\\Deleted``."""
    found: set[int] = set()
    for start in range(0, len(uids), SET_SIZE):
        part = ",".join(str(uid) for uid in uids[start : start + SET_SIZE])
        found.update(int(uid) for uid in client.search(["UID", part, "NOT", "DELETED"]))
    return found


def move_present(
    client: IMAPClient, targets: dict[str, list[int]], *, has_move: bool, has_uidplus: bool
) -> None:
    """Move the UIDs of ``targets`` still here (one SEARCH) to their folders (one MOVE per
    folder). A UID another session expunged since this one last heard makes the server
    refuse the command (Dovecot: ``[EXPUNGEISSUED]``); then a NOOP brings the view up to
    date and the set is asked again, once: a NOOP ahead of every batch would cost a round
    trip where a single worker never needs it."""
    for attempt in (1, 2):
        here = present(client, sorted({uid for uids in targets.values() for uid in uids}))
        try:
            for target, uids in targets.items():
                if wanted := [uid for uid in dict.fromkeys(uids) if uid in here]:
                    move(client, wanted, target, has_move=has_move, has_uidplus=has_uidplus)
                    here.difference_update(wanted)
            return
        except IMAPClientError as exc:
            if attempt == 2 or "EXPUNGEISSUED" not in str(exc).upper():
                raise
            client.noop()


def move(client: IMAPClient, uids: list[int], folder: str, *, has_move: bool, has_uidplus: bool) -> None:
    """Move exactly ``uids`` (all present) to ``folder``. Without UIDPLUS the ``\\Deleted``
    copies stay (listings skip them) rather than a plain EXPUNGE taking others' mail."""
    for start in range(0, len(uids), SET_SIZE):
        part = uids[start : start + SET_SIZE]
        if has_move:
            client.move(part, folder)
            continue
        client.copy(part, folder)
        client.add_flags(part, [DELETED], silent=True)
        if has_uidplus:
            client.uid_expunge(part)
