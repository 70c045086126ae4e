"""The keyed index that finds a referral sent again without decrypting every case.

``DbCaseLookup.resent`` calls two versions the same referral when every field the
referrer wrote is equal once both sides' fallbacks are set aside (``same_referral``) and
their subjects are equal once reply and resend marks are (``subject_key``). Fallbacks
are only ever ``FALLBACK_KEYS``, so a keyed digest of the subject key and of every field
outside those keys is equal for any two versions that match: the lookup asks for the
versions with the new form's digest and confirms each with the full comparison. The
digest is an HMAC under the vault's index key (``Vault.index``), never a plain hash.
"""

from __future__ import annotations

import json
from typing import Protocol

from mailbot.cases.referral import FALLBACK_KEYS, child_key, leaf_fields, subject_key
from mailbot.forms.model import Referral
from mailbot.store.vault import Vault

#: Stored for a version that can never be found as resent (no child, no message): not
#: NULL, which means "from before the index" and is compared the old way.
NEVER = ""


def resend_digest(vault: Vault, referral: Referral, fallbacks: list[str], subject: str) -> str | None:
    """The digest a form version is found by; None when its fallbacks are not all
    ``FALLBACK_KEYS`` (then only the full comparison can tell)."""
    if not set(fallbacks) <= FALLBACK_KEYS:
        return None
    fields = sorted((k, v) for k, v in leaf_fields(referral).items() if k not in FALLBACK_KEYS)
    canonical = json.dumps([subject_key(subject), fields], ensure_ascii=False, separators=(",", ":"))
    return vault.index("resend", canonical)


class _Version(Protocol):
    referral: Referral
    fallbacks: list[str]
    subject: str | None
    message_row_id: str | None


def stored_digest(vault: Vault, version: _Version) -> str | None:
    """What a new form version stores: its digest, ``NEVER`` when no resend can match it
    (no message, so no subject; no child), None when only decrypting can tell.
    ``FALLBACK_KEYS`` (``cases.referral``) are left out of the digest whatever the form
    says."""
    if version.message_row_id is None or child_key(version.referral) is None:
        return NEVER  # an empty form is nobody's referral (``same_referral``)
    if version.subject is None:
        return None
    return resend_digest(vault, version.referral, version.fallbacks, version.subject)
