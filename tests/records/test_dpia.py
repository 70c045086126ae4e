"""``mailbot dpia``: the settings in force, never a secret."""

from __future__ import annotations

from pathlib import Path

from helpers.bot import make_env

from mailbot.records.dpia import dpia_text
from mailbot.settings import load_settings


def test_dpia_follows_the_settings_and_hides_passwords(tmp_path: Path) -> None:
    env = make_env(
        tmp_path,
        "postgresql+psycopg://mailbot:S3cretPw@db.internal/mailbot",
        MAILBOT_RETENTION_YEARS="30",
        MAILBOT_RETENTION_MAILBOX_DAYS="14",
        MAILBOT_SPRG_MEMBERS="chair@partner.example.org,police@partner.example.org",
        MAILBOT_MAILBOX_URL="imaps://cscp%40example.org:Pw2@outlook.office365.com/INBOX",
    )
    text = dpia_text(load_settings(env=env, base_dir=tmp_path), {"team": 3, "admin": 1})
    assert "30 years after closing" in text and "14 days after the encrypted copy" in text
    assert "chair@partner.example.org, police@partner.example.org" in text
    assert "team: 3 account(s)" in text and "sprg: 0 account(s)" in text
    assert "postgresql+psycopg://mailbot@db.internal/mailbot" in text
    assert "S3cretPw" not in text and "Pw2" not in text
    assert "no pack attached" in text
