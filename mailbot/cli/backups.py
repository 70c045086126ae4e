"""``backup``, ``restore``, ``upgrade`` and ``keys escrow``: keeping the record safe."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mailbot.cli.common import Command, actor, load, open_app
from mailbot.logs import setup_logging

#: What ``init`` says once, when it makes the key.
ESCROW_NOTICE = (
    "IMPORTANT: the master key is at {path}. Every case is encrypted with it: lose it and\n"
    "every case, and every backup, is lost for good. Escrow it now, to the council's\n"
    "offline public key, and keep that file apart from the database backups:\n"
    "  mailbot keys escrow --recipient council-escrow.pub.pem --out master-key.escrow\n"
)


def add_parsers(sub: Any) -> dict[str, Command]:
    backup = sub.add_parser("backup", help="a consistent copy of the database (no key in it)")
    backup.add_argument("--out", type=Path, required=True, help="the backup file to write")
    restore = sub.add_parser(
        "restore", help="replace the database with a backup; erasures made since are applied again"
    )
    restore.add_argument("file", type=Path)
    sub.add_parser("upgrade", help="back up the database, then migrate it to this version")
    return {"backup": cmd_backup, "restore": cmd_restore, "upgrade": cmd_upgrade}


def add_escrow_parser(ksub: Any) -> None:
    escrow = ksub.add_parser("escrow", help="the master key versions encrypted to an offline RSA public key")
    escrow.add_argument("--recipient", type=Path, required=True, help="RSA public key (PEM)")
    escrow.add_argument("--out", type=Path, required=True)


def cmd_escrow(args: argparse.Namespace) -> int:
    from mailbot.records.escrow import write_escrow
    from mailbot.store.audit import audit

    app = open_app(args)
    try:
        document = write_escrow(app.keys.load(), args.recipient, args.out, app.clock.now())
        with app.db.session() as session:
            audit(
                session,
                app.clock.now(),
                actor(args),
                "keys.escrowed",
                detail=f"versions {document['master_versions']} to recipient "
                f"{document['recipient_sha256'][:16]}",
            )
    finally:
        app.close()
    print(
        f"master key versions {', '.join(map(str, document['master_versions']))} escrowed to "
        f"{args.out} (recipient key SHA-256 {document['recipient_sha256'][:16]}...); "
        "escrow again after every key rotation"
    )
    return 0


def _app_without_migrating(args: argparse.Namespace) -> Any:
    from mailbot.app import build_app

    settings = load(args)
    setup_logging(settings.log_level)
    return build_app(settings)


def cmd_backup(args: argparse.Namespace) -> int:
    from mailbot.records.backup import backup

    app = open_app(args)
    try:
        out = backup(app, args.out, actor=actor(args))
    finally:
        app.close()
    print(
        f"backup written: {out} ({out.stat().st_size} bytes); it holds no key: keep the "
        "escrowed master key to read it"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from mailbot.records.backup import restore

    app = _app_without_migrating(args)
    try:
        again = restore(app, args.file, actor=actor(args))
    finally:
        app.close()
    print(
        f"restored from {args.file}; erasures applied again: {len(again)}"
        + (f" ({', '.join(again)})" if again else "")
    )
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    from mailbot.records.backup import upgrade

    app = _app_without_migrating(args)
    try:
        out = upgrade(app, app.settings.var_dir / "backups", actor=actor(args))
    finally:
        app.close()
    print(f"backup before upgrading: {out}" if out.exists() else "nothing to back up yet")
    print("database migrated to this version's schema")
    return 0
