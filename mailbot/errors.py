"""One exception tree for the whole bot.

Adapters turn library errors into these at the boundary (``raise ... from``), so the
core and the CLI only ever catch ``MailbotError`` and its children. Messages never
carry personal data: they name settings, references and ids, not people.
"""

from __future__ import annotations


class MailbotError(Exception):
    """Base of every error the bot raises on purpose."""


class ConfigError(MailbotError):
    """A setting is missing or wrong; the CLI exits 2 and names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


class UsageError(MailbotError):
    """The command line asked for something that cannot be done (exit 2)."""


class NotFound(MailbotError):
    """A case, message or file named on the command line does not exist."""


class MailboxError(MailbotError):
    """The mailbox could not be read or changed."""


class MailboxConnectionError(MailboxError):
    """The mailbox server could not be reached or dropped the connection: retry later."""


class MailboxAuthError(MailboxError):
    """The mailbox refused our credentials: retrying will not help."""


class SendError(MailbotError):
    """An outbound message could not be handed over."""


class TemporarySendError(SendError):
    """The relay said 'try again later' (4xx) or could not be reached."""


class PermanentSendError(SendError):
    """The relay refused the message for good (5xx)."""


class CryptoError(MailbotError):
    """A ciphertext failed authentication or a key could not be unwrapped."""


class KeyFileError(ConfigError):
    """The master key file is missing, unreadable or has unsafe permissions."""


class FormError(MailbotError):
    """A document could not be read as a COC form."""


class FormRejected(FormError):
    """A file that must not or cannot be opened; ``reason`` is plain words for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotACocForm(FormError):
    """A readable document that is not the Case of Concern form."""
