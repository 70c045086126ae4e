"""Sending through Microsoft Graph (``graph://USER``): ``POST /users/{user}/sendMail``.

The finished message goes as MIME (base64 of its RFC 5322 bytes, ``Content-Type:
text/plain``), so Exchange sends the bytes the outbox fixed: the same Message-ID,
In-Reply-To and References, no rewriting into Graph's JSON message.

Saved to Sent Items: Graph's MIME form of sendMail has no ``saveToSentItems`` switch
(that flag exists only in the JSON form, and the JSON form cannot carry our threading
headers); Microsoft documents that sendMail saves the message in Sent Items. So a copy
lands in the mailbox's Sent Items, as it does for mail submitted over SMTP AUTH.

Failures are classified like ``smtp.py``: a message Graph refuses as such (400 bad MIME
or recipients, 413 too large, 415) is ``PermanentSendError``; throttling and server
trouble (after the client's retries), a lost connection and a missing permission are
``TemporarySendError`` (the message stays queued until a person fixes the app; the
error names the permission, ``Mail.Send``). Bcc headers are dropped as in ``smtp.py``.
"""

from __future__ import annotations

import base64
import copy
import logging
from email.message import EmailMessage
from urllib.parse import quote

from mailbot.errors import PermanentSendError, TemporarySendError
from mailbot.mail.graph_client import (
    GraphAuthError,
    GraphClient,
    GraphError,
    GraphUnavailable,
    permission_problem,
)
from mailbot.mail.sender import crlf, headers_of
from mailbot.mail.smtp import SendAuthError, envelope
from mailbot.mail.thread_headers import outbound_bytes

log = logging.getLogger(__name__)

SEND = "Mail.Send"
#: Graph takes at most 4 MB per request; base64 makes 3 bytes of mail 4 on the wire.
MAX_REQUEST_BYTES = 4 * 1024 * 1024
#: Refusals of the message itself: sending it again will not help.
_PERMANENT = frozenset({400, 413, 415, 422})


class GraphSendAuthError(SendAuthError):
    """Graph refused the app (401/403): kept queued, like SMTP's refused login."""


class GraphSender:
    """The ``Sender`` protocol over Graph's sendMail for one user."""

    def __init__(self, client: GraphClient, user: str) -> None:
        self.client = client
        self.user = user
        self._path = f"/users/{quote(user, safe='@')}/sendMail"

    @property
    def identity(self) -> str:
        return f"graph://{quote(self.user, safe='')}"

    def send(self, message: EmailMessage) -> None:
        # msg-ids and Thread-Index never encoded, whatever policy the message came with
        self.send_raw(outbound_bytes(_without_bcc(message), linesep="\r\n"))

    def send_raw(self, raw: bytes) -> None:
        """Graph takes MIME: the stored bytes go as they are (a Bcc header dropped)."""
        headers = headers_of(raw)
        envelope(headers)  # refuses a message without To or Cc, as SMTP does
        if "Bcc" in headers or "Resent-Bcc" in headers:
            raw = outbound_bytes(_without_bcc(headers_of(raw, headersonly=False)))
        raw = crlf(raw)
        body = base64.b64encode(raw)
        if len(body) > MAX_REQUEST_BYTES:
            raise PermanentSendError(
                f"the message is {len(raw) / 1e6:.1f} MB; Microsoft Graph's sendMail takes about "
                f"3 MB of mail at most (4 MB per request)"
            )
        try:
            self.client.request(
                "POST", self._path, data=body, content_type="text/plain", retry_transport=False
            )
        except GraphAuthError as exc:
            raise GraphSendAuthError(permission_problem(exc, self.user, SEND)) from exc
        except GraphUnavailable as exc:
            raise TemporarySendError(str(exc)) from exc
        except GraphError as exc:
            if exc.status in _PERMANENT:
                raise PermanentSendError(
                    f"Microsoft Graph refused the message ({exc.status} {exc.code})".replace(" )", ")")
                ) from exc
            raise TemporarySendError(str(exc)) from exc

    def verify(self) -> None:
        """Sign in, and where the token lists the app's permissions, look for Mail.Send.

        Nothing is sent: with RBAC for Applications the permission lives in Exchange and
        only a real send would show it.
        """
        try:
            roles = self.client.token_roles()
        except GraphAuthError as exc:
            raise GraphSendAuthError(permission_problem(exc, self.user, SEND)) from exc
        except GraphUnavailable as exc:
            raise TemporarySendError(str(exc)) from exc
        if roles is not None and SEND not in roles:
            raise GraphSendAuthError(
                f"the app's token for {self.user} does not carry the application permission "
                f"{SEND} (it has {', '.join(sorted(roles))}); sending will be refused unless "
                f"{SEND} is granted through RBAC for Applications in Exchange Online"
            )

    def close(self) -> None:
        self.client.close()


def _without_bcc(message: EmailMessage) -> EmailMessage:
    """Exchange would send to Bcc addresses in the MIME: never let it."""
    if "Bcc" not in message and "Resent-Bcc" not in message:
        return message
    log.warning("a Bcc header was dropped from an outbound message")
    clone = copy.deepcopy(message)
    del clone["Bcc"]
    del clone["Resent-Bcc"]
    return clone
