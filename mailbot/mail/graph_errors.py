"""How Microsoft Graph refuses: one exception per thing the caller does next (retry
later, stop for a person, resync), carrying the HTTP status and Graph's code but never
the response text, which can quote a message."""

from __future__ import annotations

from mailbot.errors import MailbotError


class GraphError(MailbotError):
    """Graph refused a request; ``status`` and ``code`` say how (no message text)."""

    def __init__(self, problem: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(problem)
        self.status = status
        self.code = code


class GraphUnavailable(GraphError):
    """Unreachable, throttled past our patience, or failing on its side: try later."""


class GraphAuthError(GraphError):
    """401/403, or the sign-in refused the app: retrying will not help until a person acts."""


class GraphSyncReset(GraphError):
    """The delta token expired (410 Gone, ``syncStateNotFound``, ``resyncRequired``)."""


def status_of(exc: BaseException) -> int | None:
    cause = exc.__cause__
    return cause.status if isinstance(cause, GraphError) else None


def short_id(message_id: str) -> str:
    """Enough of an id for a log or an error (they run to 150 characters)."""
    return message_id if len(message_id) <= 16 else f"...{message_id[-12:]}"
