"""``mailbot check`` for a Graph mailbox and sender: reach, sign in, permissions; change nothing.

The mailbox check resolves the folder, counts what waits in it and looks for the
``Processed``, ``Quarantine`` and ``Other`` folders (missing ones are made at the first
poll, so they are reported, not failed). Neither check runs a delta round (the stored
state stays as the poller left it) nor sends mail. Permissions are read from the app's
token where Entra ID put them (its ``roles``); RBAC for Applications grants them inside
Exchange, where only the calls themselves show them.
"""

from __future__ import annotations

from mailbot.errors import MailbotError, MailboxAuthError
from mailbot.mail.graph_client import GraphAuthError, GraphError, permission_problem
from mailbot.mail.graph_mailbox import READ_WRITE, GraphMailbox
from mailbot.mail.graph_sender import SEND, GraphSender
from mailbot.mail.mailbox import FOLDERS


def graph_check_mailbox(mailbox: GraphMailbox) -> tuple[bool, str]:
    """(ok, one line for people) for ``mailbot check``'s mailbox part."""
    where = f"{mailbox.identity}/{mailbox.folder}"
    try:
        roles = mailbox.client.token_roles()
        if roles is not None and READ_WRITE not in roles:
            return False, (
                f"{where}: the app's token does not carry the application permission "
                f"{READ_WRITE} (it has {', '.join(sorted(roles))}); moving and filing "
                f"mail will be refused unless RBAC for Applications grants it"
            )
        waiting, missing = mailbox.folder_status(FOLDERS)
    except GraphAuthError as exc:
        return False, permission_problem(exc, mailbox.user, READ_WRITE)
    except MailboxAuthError as exc:
        return False, str(exc)
    except (GraphError, MailbotError) as exc:
        return False, f"{where}: {exc}"
    folders = (
        "folders " + ", ".join(FOLDERS) + " present"
        if not missing
        else "will create " + ", ".join(missing) + " at the first poll"
    )
    return True, f"{where}: reachable, {waiting} message(s) waiting; {folders}"


def graph_check_sender(sender: GraphSender) -> tuple[bool, str]:
    """(ok, one line for people) for ``mailbot check``'s outbound part; sends nothing."""
    try:
        roles = sender.client.token_roles()
    except GraphAuthError as exc:
        return False, permission_problem(exc, sender.user, SEND)
    except (GraphError, MailbotError) as exc:
        return False, f"{sender.identity}: {exc}"
    if roles is None:
        return True, (
            f"{sender.identity}: signed in; {SEND} is not listed in the token "
            f"(granted in Exchange, or missing): the first reply will tell"
        )
    if SEND not in roles:
        return False, (
            f"{sender.identity}: the app's token does not carry the application "
            f"permission {SEND}; sending will be refused unless RBAC for "
            f"Applications grants it"
        )
    return True, f"{sender.identity}: signed in, {SEND} granted: ready to send"
