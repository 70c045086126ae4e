from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailbot.errors import ConfigError
from mailbot.settings import load_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_defaults_are_the_embedded_ones(tmp_path: Path) -> None:
    s = load_settings(env={}, base_dir=tmp_path)
    assert s.mailbox_url == "maildir:var/inbox"
    assert s.outbound_url == "outbox:var/outbox"
    assert s.database_url == f"sqlite:///{tmp_path}/var/mailbot.db"
    assert s.key_file == tmp_path / "var" / "master.key"
    assert s.sprg_cutoff_days == 10
    assert s.urgent_contact.startswith("If a child is at immediate risk of harm, call 999.")


def test_environment_overrides_toml(tmp_path: Path) -> None:
    config = tmp_path / "mailbot.toml"
    config.write_text(
        '[mail]\nfrom = "a@example.org"\nteam_senders = ["X@example.org"]\n[sprg]\ncutoff_days = 7\n'
    )
    s = load_settings(config, env={"MAILBOT_SPRG_CUTOFF_DAYS": "3"}, base_dir=tmp_path)
    assert s.mail_from == "a@example.org"
    assert s.team_senders == ("x@example.org",)
    assert s.sprg_cutoff_days == 3


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MAILBOT_SPRG_CUTOFF_DAYS": "ten"}, "MAILBOT_SPRG_CUTOFF_DAYS"),
        ({"MAILBOT_FROM": "not an address"}, "MAILBOT_FROM"),
        (
            {"MAILBOT_MAILBOX_PASSWORD": "a", "MAILBOT_MAILBOX_PASSWORD_FILE": "/x"},
            "MAILBOT_MAILBOX_PASSWORD",
        ),
        ({"MAILBOT_LOG_LEVEL": "LOUD"}, "MAILBOT_LOG_LEVEL"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env=env, base_dir=tmp_path)
    assert info.value.setting == named


def test_secret_from_file_and_never_in_repr(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    s = load_settings(env={"MAILBOT_MAILBOX_PASSWORD_FILE": str(secret)}, base_dir=tmp_path)
    assert s.mailbox_password == "s3cret"
    assert "s3cret" not in repr(s)


def test_config_file_from_environment_variable(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('[store]\nurl = "sqlite:////tmp/x.db"\n')
    s = load_settings(env={"MAILBOT_CONFIG": str(config)}, base_dir=tmp_path)
    assert s.database_url == "sqlite:////tmp/x.db"
    assert os.path.samefile(s.config_file, config)  # type: ignore[arg-type]


def test_a_bad_value_in_the_file_names_the_toml_key(tmp_path: Path) -> None:
    config = tmp_path / "mailbot.toml"
    config.write_text('[mail]\nfrom = "not an address"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config, env={}, base_dir=tmp_path)
    assert info.value.setting == "mail.from"
    with pytest.raises(ConfigError) as info:
        load_settings(config, env={"MAILBOT_FROM": "also wrong"}, base_dir=tmp_path)
    assert info.value.setting == "MAILBOT_FROM"


def test_attachment_limit_must_be_at_least_one_megabyte(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={"MAILBOT_MAX_ATTACHMENT_MB": "0"}, base_dir=tmp_path)
    assert info.value.setting == "MAILBOT_MAX_ATTACHMENT_MB"


def test_an_unknown_key_in_the_file_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    config = tmp_path / "mailbot.toml"
    config.write_text('[mailbox]\nur = "maildir:x"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config, env={}, base_dir=tmp_path)
    assert info.value.setting == "mailbox.ur" and "mailbox.url" in info.value.problem


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[mail]\nurgent_contact = ""\n', "mail.urgent_contact"),
        ("[mail]\nmax_attachment_mb = true\n", "mail.max_attachment_mb"),
        ("[sprg]\ncutoff_days = 10.7\n", "sprg.cutoff_days"),
        ('[log]\nlevel = "verbose"\n', "log.level"),
        ("[mail]\nmax_attachment_mb = 0\n", "mail.max_attachment_mb"),
    ],
)
def test_file_values_that_make_no_sense_are_refused(tmp_path: Path, text: str, named: str) -> None:
    config = tmp_path / "mailbot.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(config, env={}, base_dir=tmp_path)
    assert info.value.setting == named
