"""`clippost serve`: the banner it prints before uvicorn starts."""

from __future__ import annotations

from pathlib import Path

from clippost.cli.serve import startup_lines
from clippost.config import Settings
from factories import make_settings


def banner_settings(tmp_path: Path) -> Settings:
    return make_settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/db")


class TestStartupBanner:
    def test_prints_url_and_maildir(self, tmp_path: Path) -> None:
        """The banner names the URL and, for the Maildir transport, the mail folder."""
        settings = banner_settings(tmp_path).model_copy(
            update={"base_url": "http://127.0.0.1:8000"}
        )
        lines = startup_lines(settings, host="127.0.0.1", port=8000, with_worker=True)
        assert lines == [
            "clippost: serving on http://127.0.0.1:8000/",
            f"clippost: mail is written to the Maildir {settings.resolved_maildir}",
            "clippost: read it at http://127.0.0.1:8000/dev/inbox",
        ]

    def test_says_where_links_point_when_it_differs(self, tmp_path: Path) -> None:
        """Behind a proxy the banner also gives the public URL used in emails."""
        settings = banner_settings(tmp_path).model_copy(
            update={"base_url": "https://clippost.example"}
        )
        lines = startup_lines(settings, host="0.0.0.0", port=9000, with_worker=False)
        assert "clippost: links in emails point to https://clippost.example/" in lines
        assert any("no in-process worker" in line for line in lines)

    def test_no_maildir_line_for_other_transports(self, tmp_path: Path) -> None:
        """With SMTP there is no mail folder to print."""
        settings = banner_settings(tmp_path).model_copy(update={"mail_transport": "smtp"})
        lines = startup_lines(settings, host="127.0.0.1", port=8000, with_worker=True)
        assert not any("Maildir" in line for line in lines)
