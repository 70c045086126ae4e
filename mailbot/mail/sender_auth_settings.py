"""The sender check's own settings: ``mail.sender_auth`` defaulted and checked when the
settings load, and the warnings ``mailbot check`` prints when the check cannot do its
job. Apart from ``authresults`` so the header parsing reads alone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mailbot.errors import ConfigError
from mailbot.mail.authresults import GUID, MODES

if TYPE_CHECKING:
    from mailbot.settings import Settings


def resolve_settings(values: dict[str, Any]) -> None:
    """Check and default ``sender_auth`` and ``sender_auth_tenant_id`` (settings loading).

    ``sender_auth`` defaults to ``authserv-id`` when ``trusted_authserv_id`` is set, else
    ``none``; the tenant id defaults to ``m365_tenant_id`` when that is a GUID.
    """
    mode = (values.get("sender_auth") or "").strip().lower()
    if not mode:
        mode = "authserv-id" if values.get("trusted_authserv_id") else "none"
    if mode not in MODES:
        raise ConfigError("MAILBOT_SENDER_AUTH", "expected authserv-id, exchange-online or none")
    if mode == "authserv-id" and not values.get("trusted_authserv_id"):
        raise ConfigError(
            "MAILBOT_TRUSTED_AUTHSERV_ID", "must be set when MAILBOT_SENDER_AUTH is authserv-id"
        )
    values["sender_auth"] = mode
    tenant = (values.get("sender_auth_tenant_id") or "").strip().lower()
    if tenant and not GUID.fullmatch(tenant):
        raise ConfigError(
            "MAILBOT_SENDER_AUTH_TENANT_ID",
            "expected the tenant (directory) id, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47",
        )
    if not tenant:
        m365 = (values.get("m365_tenant_id") or "").strip().lower()
        tenant = m365 if GUID.fullmatch(m365) else ""
    values["sender_auth_tenant_id"] = tenant or None


def sender_auth_warnings(settings: Settings) -> list[str]:
    """Lines for ``mailbot check`` about a sender check that cannot do its job."""
    mode = getattr(settings, "sender_auth", "none")
    if mode == "none":
        return [
            "mail.sender_auth is none: no sender check is read, so a message that fails "
            "DMARC at our mail server is never held (set mail.sender_auth to authserv-id "
            "or exchange-online)"
        ]
    if mode == "exchange-online" and not getattr(settings, "sender_auth_tenant_id", None):
        return [
            "mail.sender_auth_tenant_id is not set: mail from inside our Microsoft 365 "
            "tenant counts as authenticated only when it passes DMARC"
        ]
    return []
