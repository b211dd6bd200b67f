"""The `clippost` command line, run in-process as a user would type it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clippost.cli import main


class TestDbUpgrade:
    def test_upgrade_creates_the_embedded_database(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`clippost db upgrade` with no configuration migrates a SQLite file in the data dir."""
        monkeypatch.setenv("CLIPPOST_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.chdir(tmp_path)
        assert main(["db", "upgrade"]) == 0
        assert main(["db", "upgrade"]) == 0
        assert (tmp_path / "data" / "clippost.db").exists()
        assert "database at revision" in capsys.readouterr().out

    def test_upgrade_on_postgres_by_plain_url(
        self,
        postgres_url: str,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
    ) -> None:
        """A plain postgresql:// URL works as CLIPPOST_DATABASE_URL."""
        monkeypatch.setenv("CLIPPOST_DATABASE_URL", postgres_url)
        monkeypatch.setenv("CLIPPOST_DATA_DIR", str(tmp_path))
        assert main(["db", "upgrade"]) == 0
        assert "(postgresql)" in capsys.readouterr().out


class TestArguments:
    def test_unknown_command_exits_with_usage(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown command is an argparse error (exit 2) naming the valid choices."""
        with pytest.raises(SystemExit) as exited:
            main(["fly"])
        assert exited.value.code == 2
        assert "serve" in capsys.readouterr().err

    def test_send_due_refuses_a_malformed_date(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`send-due --at` must be an ISO date-time."""
        with pytest.raises(SystemExit):
            main(["send-due", "--at", "next tuesday"])
        assert "not an ISO date-time" in capsys.readouterr().err


class TestPipes:
    def test_a_closed_pipe_ends_quietly(self, tmp_path: Path) -> None:
        """`clippost parse FILE | head` exits 141 (as SIGPIPE would) without a traceback."""
        entry = (
            "Dune (Frank Herbert)\n- Your Highlight on Location {n}-{m} | "
            "Added on Monday, March 4, 2024 10:00:00 AM\n\nPassage number {n}.\n==========\n"
        )
        source = tmp_path / "My Clippings.txt"
        source.write_text("".join(entry.format(n=n, m=n + 2) for n in range(5000)))
        command = [sys.executable, "-m", "clippost", "parse", str(source), "--format", "jsonl"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.read(100)
        process.stdout.close()
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=60) == 141
        assert "Traceback" not in stderr
