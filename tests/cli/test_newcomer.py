"""A newcomer's first run from a shell: quiet migrations unless -v, and a warning when a
command's links would not point where the server listens (site_state)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.db.engine import Database
from clippost.db.migrate import upgrade
from clippost.site_state import record_server_base_url


def _clippost(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLIPPOST_")}
    base["CLIPPOST_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "clippost", *args],
        cwd=tmp_path,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def _record(tmp_path: Path, url: str) -> None:
    async def run() -> None:
        db = Database(Settings(_env_file=None, data_dir=tmp_path / "data").resolved_database_url)
        try:
            await upgrade(db)
            await record_server_base_url(db, url, now=utcnow())
        finally:
            await db.dispose()

    (tmp_path / "data").mkdir(exist_ok=True)
    asyncio.run(run())


class TestMigrationChatter:
    def test_commands_print_no_alembic_lines(self, tmp_path: Path) -> None:
        """send-due on a fresh database migrates it without a word from Alembic."""
        done = _clippost(tmp_path, "send-due")
        assert "alembic" not in done.stderr
        assert "planned 0 digests" in done.stdout

    def test_verbose_shows_them(self, tmp_path: Path) -> None:
        """-v brings Alembic's lines back."""
        done = _clippost(tmp_path, "-v", "stats")
        assert "alembic.runtime.migration" in done.stderr


class TestBaseUrlWarning:
    def test_default_url_while_the_server_uses_another(self, tmp_path: Path) -> None:
        """No CLIPPOST_BASE_URL and a server on :9000: the command says so, once."""
        _record(tmp_path, "http://127.0.0.1:9000")
        done = _clippost(tmp_path, "stats")
        assert done.stderr.count("CLIPPOST_BASE_URL is not set") == 1
        assert "http://127.0.0.1:9000" in done.stderr

    def test_no_warning_when_set_or_matching(self, tmp_path: Path) -> None:
        """A base URL given on purpose, or the same as the server's: no warning."""
        _record(tmp_path, "http://127.0.0.1:9000")
        given = _clippost(tmp_path, "stats", CLIPPOST_BASE_URL="http://127.0.0.1:9000")
        assert "CLIPPOST_BASE_URL" not in given.stderr
        _record(tmp_path, "http://127.0.0.1:8000")
        assert "CLIPPOST_BASE_URL" not in _clippost(tmp_path, "stats").stderr
