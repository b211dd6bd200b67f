"""One log format for every process: text for people, JSON lines with CLIPPOST_LOG_FORMAT=json."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clippost import logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


class TestJsonFormatter:
    def test_a_record_is_one_json_object(self, restore_logging: None) -> None:
        """time, level, logger, message, an exception and extra fields, on one line."""
        out = io.StringIO()
        logs.configure("json", stream=out)
        logging.getLogger("clippost.test").info("sent %d", 3, extra={"batch": 7})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("clippost.test").exception("failed")
        first, second = (json.loads(line) for line in out.getvalue().splitlines())
        assert (first["level"], first["logger"], first["message"], first["batch"]) == (
            "info",
            "clippost.test",
            "sent 3",
            7,
        )
        assert first["time"].endswith("+00:00")
        assert "ValueError: boom" in second["exception"]

    def test_uvicorn_goes_through_the_same_handler(self, restore_logging: None) -> None:
        """uvicorn's loggers propagate to the one handler, in the same format."""
        out = io.StringIO()
        logs.configure("json", stream=out)
        logging.getLogger("uvicorn.error").info("Started server process")
        assert json.loads(out.getvalue())["logger"] == "uvicorn.error"

    def test_text_is_the_default_format(self, restore_logging: None) -> None:
        """text: a line for people, not JSON."""
        out = io.StringIO()
        logs.configure("text", stream=out)
        logging.getLogger("clippost.test").warning("look")
        assert out.getvalue().rstrip().endswith("WARNING clippost.test: look")


class TestCommandLine:
    def test_send_due_logs_json_lines(self, tmp_path: Path) -> None:
        """`clippost -v send-due` with CLIPPOST_LOG_FORMAT=json writes only JSON lines to stderr
        (the migrations' lines, which `-v` shows, included)."""
        env = {
            **os.environ,
            "CLIPPOST_DATA_DIR": str(tmp_path),
            "CLIPPOST_LOG_FORMAT": "json",
            "CLIPPOST_MAIL_TRANSPORT": "console",
        }
        env.pop("CLIPPOST_DATABASE_URL", None)
        done = subprocess.run(
            [sys.executable, "-m", "clippost", "-v", "send-due"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert lines, "send-due logged nothing"
        assert all(json.loads(line)["level"] for line in lines)
