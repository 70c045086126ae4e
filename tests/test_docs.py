"""The README and the code cannot drift apart (datasette's test_docs, in our terms)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from mailbot.cli.main import build_parser
from mailbot.settings import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    match = re.search(rf"(?ms)^## {re.escape(title)}\n(.*?)(?=^## )", README)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def commands() -> list[str]:
    """Every command and sub-command the parser knows, as typed ("keys rotate")."""
    found: list[str] = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:  # argparse offers no public walk of sub-parsers
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found.append(f"{prefix}{name}")
                    walk(sub, f"{prefix}{name} ")

    walk(build_parser(), "")
    return found


@pytest.mark.parametrize("command", commands())
def test_every_command_is_in_the_commands_table(command: str) -> None:
    rows = [line for line in section("Commands").splitlines() if line.startswith("| `mailbot ")]
    first, *rest = command.split()
    assert any(
        f"`mailbot {first}" in row and all(re.search(rf"\b{w}\b", row) for w in rest) for row in rows
    ), command


@pytest.mark.parametrize("setting", REGISTRY, ids=lambda s: s.env)
def test_every_setting_is_in_the_settings_table(setting: object) -> None:
    rows = [line for line in section("Settings").splitlines() if line.startswith("| `")]
    assert any(
        f"`{setting.env}`" in row and f"`{setting.toml}`" in row  # type: ignore[attr-defined]
        for row in rows
    )


def test_every_path_the_layout_names_exists() -> None:
    paths = re.findall(r"`((?:mailbot|tests|benchmarks)/[^`]*)`", section("Layout"))
    assert paths, "the Layout section names no paths"
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert missing == []


def test_every_folder_of_the_package_is_in_the_layout() -> None:
    layout = section("Layout")
    folders = [
        p.relative_to(ROOT).as_posix() + "/"
        for p in (ROOT / "mailbot").rglob("*")
        if p.is_dir() and (p / "__init__.py").exists() and "migrations" not in p.parts
    ]
    missing = [f for f in folders if f"`{f}`" not in layout and f != "mailbot/"]
    assert missing == []


def test_files_named_in_a_folder_row_exist() -> None:
    for line in section("Layout").splitlines():
        match = re.match(r"\| `(mailbot/[a-z_/]+/)` \| (.*) \|$", line)
        if not match:
            continue
        folder, text = ROOT / match.group(1), match.group(2)
        for name in re.findall(r"`([a-z_]+(?:\.py|\.toml|/))`", text):
            assert (folder / name).exists(), f"{match.group(1)}{name}"
