"""The whole bot against every hostile shape (issue 13), through ``mailbot poll --once``.

Each hostile message arrives with a normal referral right behind it.  One poll must
handle them all, each hostile one ending in one recorded action with a plain-words
reply (or none), within the wall limit plus 2 s, and the referral behind it accepted.
Runs on SQLite and on PostgreSQL (where a long content type or a NUL once quarantined a
complete form).  The shapes that need the sandbox wired into the pipeline are in
test_hostile_breach.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import hostile
from helpers.bot import postgres_url
from helpers.hostile_cli import Run, hostile_message, normal_referral, run_bot
from sqlalchemy import create_engine, func, select

from mailbot.store.models import Attachment

#: Shape -> (the action, words the reply must hold, or None for no reply).
EXPECTED: dict[str, tuple[str, str | None]] = {
    "pdf_inflate_32k": ("reject_attachment", "too complex to read automatically"),
    "pdf_800_shared_pages": ("request_missing", "referral form"),
    "pdf_25000_pages": ("request_missing", "referral form"),
    "pdf_1gb_stream": ("reject_attachment", "too complex to read automatically"),
    "pdf_ruled_grid_20000": ("manual_entry", "will read the form and enter it by hand"),
    "zip_of_zips_10_odt": ("reject_attachment", "older formats than we convert"),
    "zip_four_24mb_members": ("request_missing", "referral form"),
    "docx_truncated": ("reject_attachment", "looks damaged"),
    "docx_corrupt_member": ("reject_attachment", "looks damaged"),
    "from_64k_comments": ("quarantine", None),
    "from_1mb_comments": ("quarantine", None),
    "header_100000_lines": ("request_missing", "referral form"),
    "message_id_8000_comments": ("request_missing", "referral form"),
    "html_240k_unclosed_style": ("request_missing", "referral form"),
    "html_1mb_unclosed_style": ("request_missing", "referral form"),
    "subject_1mb_tags_60000_refs": ("quarantine", None),
    "content_type_171": ("accept", "Thank you for your Case of Concern referral"),
    "nul_in_header": ("accept", "Thank you for your Case of Concern referral"),
    "esc_cr_lf_subject_filename": ("accept", "Thank you for your Case of Concern referral"),
    "auto_submitted_185k": ("ignore_auto", None),
    "mime_depth_2000": ("not_referral", None),
    "mime_20000_parts": ("request_missing", "referral form"),
}
WALL = 60.0


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Run, dict[str, str], str]]:
    tmp = tmp_path_factory.mktemp(f"hostile-{request.param}")
    messages = []
    ids: dict[str, str] = {}
    for n, (name, build) in enumerate(hostile.SHAPES.items()):
        mid, raw = hostile_message(name, build)
        ids[name] = mid
        messages += [(mid, raw), normal_referral(n)]
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'var' / 'mailbot.db'}"
        yield run_bot(tmp, url, messages, timeout=len(messages) * 10), ids, url
        return
    for url in postgres_url():
        yield run_bot(tmp, url, messages, timeout=len(messages) * 10), ids, url


def test_one_poll_handles_every_message(run: tuple[Run, dict[str, str], str]) -> None:
    result, ids, _url = run
    assert result.exit_code == 0, result.stderr[-2000:]
    assert result.left == 0
    assert set(ids.values()) <= set(result.rows)


@pytest.mark.parametrize("shape", sorted(EXPECTED))
def test_each_shape_ends_in_one_action_in_time(run: tuple[Run, dict[str, str], str], shape: str) -> None:
    result, ids, _url = run
    mid = ids[shape]
    action, words = EXPECTED[shape]
    row = result.rows[mid]
    assert row["action"] == action, row["reason"]
    replies = result.replies_to(mid)
    if words is None:
        assert replies == []
    else:
        assert len(replies) == 1
        text = result.reply_text(mid)
        assert words in text
        assert "x" * 50 not in text and "\x1b" not in text and "\x00" not in text
    assert result.seconds_after(mid) < WALL + 2
    assert "\x00" not in str(row["reason"]) and "\x1b" not in str(row["reason"])
    assert len(str(row["reason"])) < 600


@pytest.mark.parametrize("shape", sorted(EXPECTED))
def test_the_referral_behind_each_shape_is_accepted(run: tuple[Run, dict[str, str], str], shape: str) -> None:
    result, ids, _url = run
    index = list(hostile.SHAPES).index(shape)
    mid, _raw = normal_referral(index)
    assert result.rows[mid]["action"] == "accept"
    assert len(result.replies_to(mid)) == 1


def test_no_archive_member_is_stored_inflated(run: tuple[Run, dict[str, str], str]) -> None:
    _result, _ids, url = run
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            largest = connection.execute(select(func.max(Attachment.size))).scalar() or 0
    finally:
        engine.dispose()
    assert largest < 10 * hostile.MB  # the 24 MB members stay inside their 1.4 MB zip


def test_stored_text_shows_no_control_characters(run: tuple[Run, dict[str, str], str]) -> None:
    result, ids, _url = run
    (ref,) = result.rows[ids["esc_cr_lf_subject_filename"]]["case_refs"]  # type: ignore[misc]
    shown = result.cli("show", str(ref))
    assert shown.returncode == 0, shown.stderr
    assert "\x1b" not in shown.stdout and "\r" not in shown.stdout
    assert "erral.docx" in shown.stdout  # the file name, its controls gone


@pytest.mark.slow
def test_libreoffice_in_the_pipeline_never_reaches_the_network(tmp_path: Path) -> None:
    import http.server
    import threading

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/x.png"
        odt = hostile.with_attachment("referral.odt", hostile.odt("Referral", image_url=url))
        result = run_bot(
            tmp_path,
            f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}",
            [("<hostile.1@example.org>", odt), normal_referral(0)],
            timeout=180,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0 and result.left == 0
    assert hits == []
