"""Typed SQLAlchemy 2.0 models: every table of the bot, on one ``Base``, in one package.

Every column that could identify a person ends in ``_enc`` and holds AES-GCM
ciphertext bound to (table, column, row id, key id); ids are random hex made by the
application, so the associated data is known before the INSERT. What stays in clear
is what the bot needs to query and is not about a person: references, statuses,
actions, timestamps, keyed hashes, our own Message-IDs and the required-field keys.

Callers import from here (``from mailbot.store.models import Case``); the modules
group the tables by what they record.
"""

from mailbot.store.models.audit import AuditEntry, AuditHead, MasterKeyRecord
from mailbot.store.models.base import Base, UTCDateTime, new_id
from mailbot.store.models.cases import Attachment, Case, DataKey, RefCounter, ReferralVersion, TeamNote
from mailbot.store.models.jobs import CaseChase
from mailbot.store.models.messages import (
    InboundMessage,
    MessageAttempt,
    MessageCase,
    Outbox,
    PollState,
    SealedPiece,
)
from mailbot.store.models.sprg import ActionItem, Decision, Meeting
from mailbot.store.models.web import (
    ROLES,
    WebOidcFlow,
    WebRecoveryCode,
    WebSession,
    WebSignInFailure,
    WebTotp,
    WebUser,
)

__all__ = [
    "ROLES",
    "ActionItem",
    "Attachment",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Case",
    "CaseChase",
    "DataKey",
    "Decision",
    "InboundMessage",
    "MasterKeyRecord",
    "Meeting",
    "MessageAttempt",
    "MessageCase",
    "Outbox",
    "PollState",
    "RefCounter",
    "ReferralVersion",
    "SealedPiece",
    "TeamNote",
    "UTCDateTime",
    "WebOidcFlow",
    "WebRecoveryCode",
    "WebSession",
    "WebSignInFailure",
    "WebTotp",
    "WebUser",
    "new_id",
]
