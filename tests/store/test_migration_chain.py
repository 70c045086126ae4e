"""The migrations form one line: branches from parallel work must be joined before they
land, or a database upgraded between them could miss a revision's changes."""

from __future__ import annotations

from importlib import resources

from alembic.config import Config
from alembic.script import ScriptDirectory


def script() -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("mailbot.store") / "migrations"))
    return ScriptDirectory.from_config(cfg)


def test_there_is_one_head_and_no_merge_point() -> None:
    scripts = script()
    assert len(scripts.get_heads()) == 1
    merges = [
        r.revision
        for r in scripts.walk_revisions()
        if isinstance(r.down_revision, tuple) and r.revision != "0004"
    ]  # 0004 joined the first session's two branches
    assert merges == []


def test_each_file_is_named_after_its_revision() -> None:
    for rev in script().walk_revisions():
        name = rev.path.rsplit("/", 1)[-1]
        assert name.startswith(rev.revision.split("_")[0] + "_"), name
