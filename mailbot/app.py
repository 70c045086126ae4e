"""Wire everything in one place: ``build_app(settings)``.

The concrete mailbox, sender, clock, key store, database and template environment are
chosen here and passed in; nothing else in the package constructs them, so tests build
the same graph with a fixed clock or another mailbox.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from mailbot.clock import Clock, SystemClock, london
from mailbot.errors import KeyFileError
from mailbot.settings import Settings
from mailbot.store.db import Database
from mailbot.store.keys import SETTING as KEY_SETTING
from mailbot.store.keys import KeyStore
from mailbot.store.vault import Vault

# Start-up time (benchmarks/bench_startup.py): `mailbot cases` needs the database, the keys
# and the vault, and nothing of the mail, the intake, the templates or the sandbox; each of
# those is imported where the app first uses it (``mailbox``, ``outbound``, ``intake``...).
if TYPE_CHECKING:
    from jinja2 import Environment
    from sqlalchemy.orm import Session

    from mailbot.forms.model import AttachmentVerdict
    from mailbot.intake.handlers import Handler, HandlerContext
    from mailbot.intake.pipeline import Intake
    from mailbot.mail.graph_client import GraphAccess
    from mailbot.mail.mailbox import Mailbox
    from mailbot.mail.oauth import TokenSource
    from mailbot.mail.reader import InboundMessage
    from mailbot.mail.sender import Sender
    from mailbot.mail.smime import SmimeKey
    from mailbot.outbound.mail import Outbound
    from mailbot.outbound.outbox import Drainer
    from mailbot.sandbox import AttachmentSandbox

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    clock: Clock
    db: Database
    keys: KeyStore
    vault: Vault
    #: The handlers given to ``build_app``; None: ``default_handlers()`` (see ``handlers``).
    _handlers: tuple[Handler, ...] | None = field(default=None, repr=False)
    _mailbox: Mailbox | None = field(default=None, repr=False)
    _sender: Sender | None = field(default=None, repr=False)
    #: Where untrusted mail is read: a child process under the ``sandbox.*`` limits.
    #: Started on first use; one passed to ``build_app`` is shared, and not closed here.
    _sandbox: AttachmentSandbox | None = field(default=None, repr=False)
    _own_sandbox: bool = field(default=True, repr=False)

    @cached_property
    def handlers(self) -> tuple[Handler, ...]:
        """The handlers, in the order they are asked (``default_handlers()``)."""
        if self._handlers is not None:
            return self._handlers
        from mailbot.intake.handlers import default_handlers

        return default_handlers()

    @cached_property
    def env(self) -> Environment:
        """The mail templates' environment (made once, on first use)."""
        from mailbot.outbound.compose import template_env

        return template_env()

    @cached_property
    def outbound(self) -> Outbound:
        from mailbot.outbound.mail import Outbound

        s = self.settings
        return Outbound(
            self.env, self.vault, sender=s.mail_from, domain=s.bot_domain, urgent_contact=s.urgent_contact
        )

    # Connections are opened on first use: `mailbot cases` needs no mailbox.
    @property
    def mailbox(self) -> Mailbox:
        if self._mailbox is None:
            from mailbot.mail.connect import open_mailbox
            from mailbot.store.poll_delta import DbDeltaStore

            s = self.settings
            graph = self.graph if s.mailbox_url.startswith("graph:") else None
            self._mailbox = open_mailbox(
                s.mailbox_url,
                password=s.mailbox_password,
                base_dir=s.base_dir,
                ca_file=self._ca_file,
                token_provider=self.token_provider,
                graph=graph,
                delta_store=DbDeltaStore(self.db, self.clock.now) if graph else None,
            )
        return self._mailbox

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            from mailbot.mail.connect import open_sender

            s = self.settings
            self._sender = open_sender(
                s.outbound_url,
                password=s.outbound_password,
                base_dir=s.base_dir,
                ca_file=self._ca_file,
                token_provider=self.token_provider,
                graph=self.graph if s.outbound_url.startswith("graph:") else None,
            )
        return self._sender

    @property
    def _ca_file(self) -> str | None:
        return str(self.settings.mailbox_ca_file) if self.settings.mailbox_ca_file else None

    @cached_property
    def token_provider(self) -> TokenSource | None:
        """Microsoft 365 app-only OAuth2, shared by IMAP and SMTP; None for passwords."""
        s = self.settings
        if not s.m365_tenant_id or not s.m365_client_id:
            return None
        from mailbot.mail.graph_client import AUTHORITY_URL_SETTING, check_base_url, new_session
        from mailbot.mail.oauth import load_m365_credential, microsoft_token_provider

        return microsoft_token_provider(
            s.m365_tenant_id,
            s.m365_client_id,
            load_m365_credential(s.m365_client_secret, s.m365_certificate_file),
            authority_host=check_base_url(s.m365_authority_url, AUTHORITY_URL_SETTING),
            http_client=new_session(self._ca_file) if self._ca_file else None,
        )

    @cached_property
    def graph(self) -> GraphAccess | None:
        """Microsoft Graph as the app (``graph://`` mailbox and sender share one token)."""
        from mailbot.mail.graph_client import graph_access_from_settings

        return graph_access_from_settings(self.settings)

    def prepare(self) -> None:
        """Migrate the schema and make sure the master key is usable (INTERFACE.md rule)."""
        from sqlalchemy import func, select

        from mailbot.store.key_records import check_key_file
        from mailbot.store.models import DataKey

        if self.keys.exists():
            self.keys.load()
            self.db.migrate()
        else:
            self.db.migrate()
            with self.db.session() as session:
                wrapped = (
                    session.scalar(
                        select(func.count()).select_from(DataKey).where(DataKey.wrapped.is_not(None))
                    )
                    or 0
                )
            if wrapped:
                raise KeyFileError(
                    KEY_SETTING,
                    f"no key file at {self.keys.path}, but the "
                    "database holds data keys wrapped by one: restore the key file",
                )
            self.keys.create()
        # Another installation's key file (or an old copy) stops here, before any write.
        with self.db.session() as session:
            check_key_file(session, self.keys, self.keys.load(), self.clock.now())

    @property
    def sandbox(self) -> AttachmentSandbox:
        if self._sandbox is None:
            from mailbot.sandbox import AttachmentSandbox, SandboxLimits

            self._sandbox = AttachmentSandbox(SandboxLimits.from_settings(self.settings))
        return self._sandbox

    def read_message(self, raw: bytes) -> InboundMessage:
        """The message, parsed in the sandbox, with the sender check the settings ask for
        (``mail.sender_auth``); one the sandbox stopped reading says at which limit."""
        from mailbot.mail.smime import decrypt_message

        s = self.settings
        opened = decrypt_message(raw, self.smime_key) if self.smime_key else None
        msg = self.sandbox.read_message(
            opened or raw,
            sender_auth=s.sender_auth,
            trusted_authserv_id=s.trusted_authserv_id,
            sender_auth_tenant_id=s.sender_auth_tenant_id,
        )
        if opened is not None:  # decrypted here, where the key is; read in the sandbox
            msg.raw = raw
            msg.wrapping.note("S/MIME encrypted message: opened with the mailbox's key")
        elif self.smime_key and msg.wrapping.encrypted:
            msg.wrapping.notes = [
                n.replace("no key configured", "not for our key") for n in msg.wrapping.notes
            ]
        if msg.stopped_at is not None:
            log.warning("message reading stopped at a sandbox limit", extra={"limit": msg.stopped_at})
        return msg

    @cached_property
    def smime_key(self) -> SmimeKey | None:
        """The mailbox's S/MIME key (``mail.smime_key``, checked when settings load)."""
        from mailbot.mail.smime import load_smime_key

        return load_smime_key(self.settings.smime_key) if self.settings.smime_key else None

    def read_forms(self, message: InboundMessage) -> list[AttachmentVerdict]:
        """Every attachment judged in the sandbox, the message within one budget of CPU,
        memory, wall clock and conversions; a breach is a verdict, never an exception."""
        parts = [(a.filename, a.content_type, a.data) for a in message.attachments if not a.inline]
        if not parts:
            return []
        verdicts = self.sandbox.read_attachments(
            parts,
            max_bytes=self.settings.max_attachment_mb * 1024 * 1024,
            reference_year=london(self.clock.now()).year,
        )
        if self.sandbox.last_breach is not None:
            log.warning(
                "attachment reading stopped at a sandbox limit", extra={"limit": self.sandbox.last_breach}
            )
        return verdicts

    def handler_context(self, session: Session) -> HandlerContext:
        from mailbot.cases.lookup import DbCaseLookup
        from mailbot.intake.handlers import HandlerContext

        cache: dict[int, list[AttachmentVerdict]] = {}

        def read_once(message: InboundMessage) -> list[AttachmentVerdict]:
            if id(message) not in cache:
                cache[id(message)] = self.read_forms(message)
            return cache[id(message)]

        own = {self.settings.mail_from}
        return HandlerContext(
            cases=DbCaseLookup(session, self.vault),
            read_forms=read_once,
            team_senders=frozenset(self.settings.team_senders),
            own_addresses=frozenset(own),
            now=self.clock.now(),
            resend_window_days=self.settings.resend_window_days,
        )

    @cached_property
    def intake(self) -> Intake:
        from mailbot.intake.pipeline import Intake

        return Intake(
            db=self.db,
            vault=self.vault,
            mailbox=self.mailbox,
            clock=self.clock,
            settings=self.settings,
            outbound=self.outbound,
            handlers=self.handlers,
            make_context=self.handler_context,
            reader=self.read_message,
            form_reader=self.read_forms,
        )

    @cached_property
    def drainer(self) -> Drainer:
        from mailbot.outbound.outbox import Drainer

        return Drainer(self.db, self.vault, self.sender, self.clock, self.settings.send_max_attempts)

    def close(self) -> None:
        if self._mailbox is not None:
            self._mailbox.close()
        if self._sender is not None:
            self._sender.close()
        if self._sandbox is not None and self._own_sandbox:
            self._sandbox.close()
        self.db.dispose()


def key_store(settings: Settings) -> KeyStore:
    """The key file, or the read-only secret or command that replaces it."""
    from mailbot.store import key_sources

    if settings.key_command:
        return KeyStore(
            settings.key_file,
            source=key_sources.from_command(settings.key_command),
            setting=key_sources.COMMAND_SETTING,
            label="the key printed by store.key_command",
        )
    if settings.master_key:
        return KeyStore(
            settings.key_file,
            source=key_sources.from_secret(settings.master_key),
            setting=key_sources.SECRET_SETTING,
            label="the store.master_key secret",
        )
    return KeyStore(settings.key_file)


def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    mailbox: Mailbox | None = None,
    sender: Sender | None = None,
    handlers: Sequence[Handler] | None = None,
    sandbox: AttachmentSandbox | None = None,
) -> App:
    clock = clock or SystemClock()
    keys = key_store(settings)
    vault = Vault(keys, clock)
    db = Database(settings.database_url, audit_key=lambda: keys.load().audit_key)
    return App(
        settings=settings,
        clock=clock,
        db=db,
        keys=keys,
        vault=vault,
        _handlers=tuple(handlers) if handlers is not None else None,
        _mailbox=mailbox,
        _sender=sender,
        _sandbox=sandbox,
        _own_sandbox=sandbox is None,
    )
