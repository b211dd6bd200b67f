"""Documentation stays true: every setting and every command is in the README."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from clippost.cli import build_parser
from clippost.config import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(parser: argparse.ArgumentParser, prefix: str = "clippost") -> list[str]:
    found: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(f"{prefix} {name}")
                found.extend(c for c in _commands(sub, f"{prefix} {name}") if c.count(" ") > 1)
    return found


class TestReadme:
    def test_every_setting_is_documented(self) -> None:
        """Each Settings field appears in the README as its CLIPPOST_ variable."""
        missing = [
            f"CLIPPOST_{name.upper()}"
            for name in Settings.model_fields
            if not re.search(rf"\bCLIPPOST_{name.upper()}\b", README)
        ]
        assert missing == [], f"settings missing from README.md: {missing}"

    def test_every_documented_setting_exists(self) -> None:
        """The README documents no setting that clippost does not read."""
        known = {f"CLIPPOST_{name.upper()}" for name in Settings.model_fields}
        documented = set(re.findall(r"\bCLIPPOST_[A-Z0-9_]+\b", README))
        test_only = {"CLIPPOST_TEST_POSTGRES_URL", "CLIPPOST_SHARED_CLIPPINGS"}
        assert documented - known - test_only == set()

    def test_every_command_is_documented(self) -> None:
        """Each `clippost` command (and sub-command) appears in the README."""
        commands = _commands(build_parser())
        assert "clippost serve" in commands
        missing = [c for c in commands if c not in README]
        assert missing == [], f"commands missing from README.md: {missing}"

    def test_quickstart_uses_the_two_make_targets(self) -> None:
        """The README's set-up is `make run` and `make test`, which the Makefile defines."""
        makefile = (ROOT / "Makefile").read_text()
        for target in ("run", "test"):
            assert f"make {target}" in README
            assert re.search(rf"^{target}:", makefile, re.MULTILINE)
        assert "make test" in (ROOT / ".ci" / "run").read_text()


class TestConfigurationDoc:
    """docs/configuration.md: every setting, once, in a group; none that does not exist."""

    _ROW = re.compile(r"^\| `(CLIPPOST_[A-Z0-9_]+)` \|", re.MULTILINE)

    @staticmethod
    def _text() -> str:
        return (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")

    def test_every_setting_has_one_row(self) -> None:
        """Each Settings field is a row of the document's tables, exactly once."""
        rows = self._ROW.findall(self._text())
        expected = sorted(f"CLIPPOST_{name.upper()}" for name in Settings.model_fields)
        duplicated = sorted({row for row in rows if rows.count(row) > 1})
        assert duplicated == []
        assert sorted(set(expected) - set(rows)) == [], "settings missing from configuration.md"

    def test_no_row_for_a_setting_that_does_not_exist(self) -> None:
        """The document lists no CLIPPOST_ variable that clippost does not read."""
        known = {f"CLIPPOST_{name.upper()}" for name in Settings.model_fields}
        assert sorted(set(self._ROW.findall(self._text())) - known) == []

    def test_every_row_is_in_a_group(self) -> None:
        """Rows come after a `##` group heading, never before the first one."""
        text = self._text()
        first_group = text.index("\n## ")
        assert self._ROW.search(text[:first_group]) is None
        assert text.count("\n## ") >= 6
