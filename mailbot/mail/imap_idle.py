"""One turn of IMAP IDLE: wait for the server's word that the folder grew, and notice a
dropped link instead of spinning on it. Apart from the mailbox so it reads alone."""

from __future__ import annotations

from collections.abc import Callable

from imapclient import IMAPClient


def idle_turn(client: IMAPClient, window: float, clock: Callable[[], float]) -> list[object]:
    """Collect IDLE responses for ``window`` seconds, or until new mail shows.

    imapclient's ``idle_check`` returns an empty list at once when the server has hung
    up; an early empty return therefore ends the turn, and ``idle_done`` then raises if
    the link is dead (so the caller reconnects) instead of spinning on a closed socket.
    """
    started = clock()
    collected: list[object] = []
    while (left := window - (clock() - started)) > 0:
        responses = client.idle_check(timeout=left)
        collected.extend(responses)
        if new_mail(responses):
            break
        if not responses and window - (clock() - started) > 0.05:
            break
    return collected


def new_mail(responses: list[object]) -> bool:
    """An untagged ``* n EXISTS`` (or RECENT) means the folder grew."""
    for response in responses:
        if isinstance(response, tuple) and len(response) >= 2:
            if response[1] in (b"EXISTS", b"RECENT"):
                return True
    return False
