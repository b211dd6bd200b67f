"""Settings: embedded defaults, environment prefix, secret key handling, URL forms."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from clippost.config import Settings
from clippost.db.dialect import normalise_database_url
from clippost.errors import ConfigurationError


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class TestEmbeddedDefaults:
    def test_database_is_a_sqlite_file_in_the_data_folder(self, tmp_path: Path) -> None:
        """With no database URL, the database is clippost.db inside the data folder."""
        settings = _settings(data_dir=tmp_path)
        assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path}/clippost.db"

    def test_mail_goes_to_a_maildir_in_the_data_folder(self, tmp_path: Path) -> None:
        """The default transport is a Maildir under the data folder."""
        settings = _settings(data_dir=tmp_path)
        assert settings.mail_transport == "maildir"
        assert settings.resolved_maildir == tmp_path / "mail"

    def test_secret_key_is_generated_once_and_kept(self, tmp_path: Path) -> None:
        """Without a configured key, one is generated, stored 0600 and reused next time."""
        first = _settings(data_dir=tmp_path).ensure_secret_key()
        second = _settings(data_dir=tmp_path).ensure_secret_key()
        assert first == second
        assert len(first) >= 48
        mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
        assert mode == 0o600


class TestEnvironment:
    def test_settings_are_read_with_the_clippost_prefix(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """CLIPPOST_* variables set the matching fields, lists split on commas."""
        monkeypatch.setenv("CLIPPOST_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("CLIPPOST_SMTP_PORT", "2525")
        monkeypatch.setenv("CLIPPOST_STAGING_ALLOWLIST", "a@example.org, @example.com")
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert settings.data_dir == tmp_path
        assert settings.smtp_port == 2525
        assert settings.staging_allowlist == ["a@example.org", "@example.com"]

    def test_invalid_values_are_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A transport clippost does not know is a validation error, not a silent default."""
        monkeypatch.setenv("CLIPPOST_MAIL_TRANSPORT", "pigeon")
        with pytest.raises(ValueError, match="mail_transport"):
            Settings(_env_file=None)  # type: ignore[call-arg]


WEAK_KEYS = ["changeme", "short-key", "a" * 40, "0123" * 10]
GOOD_KEY = "Vx3q-9LmZp_T2wRk8sYb0HcN4dFj6GaE1uQi7oKe"


class TestSecretKey:
    @pytest.mark.parametrize("key", WEAK_KEYS)
    def test_placeholder_short_or_repetitive_keys_are_refused(
        self, key: str, tmp_path: Path
    ) -> None:
        """A configured key must be 32 varied characters and not a placeholder."""
        with pytest.raises(ConfigurationError, match="CLIPPOST_SECRET_KEY must be at least 32"):
            _settings(data_dir=tmp_path, secret_key=key).ensure_secret_key()

    @pytest.mark.parametrize("key", WEAK_KEYS)
    def test_old_keys_pass_the_same_checks(self, key: str, tmp_path: Path) -> None:
        """A weak key among CLIPPOST_OLD_SECRET_KEYS is refused as the current one would be,
        whether the current key is configured or generated."""
        for current in (GOOD_KEY, None):
            settings = _settings(data_dir=tmp_path, secret_key=current, old_secret_keys=[key])
            with pytest.raises(ConfigurationError, match="Key 1 of CLIPPOST_OLD_SECRET_KEYS"):
                settings.ensure_secret_key()

    def test_good_old_keys_are_taken(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """Random old keys, from the environment's comma list, pass."""
        monkeypatch.setenv("CLIPPOST_OLD_SECRET_KEYS", f"{GOOD_KEY[::-1]}, {GOOD_KEY.upper()}x")
        settings = Settings(_env_file=None, data_dir=tmp_path, secret_key=GOOD_KEY)  # type: ignore[call-arg]
        assert settings.ensure_secret_key() == GOOD_KEY
        assert len(settings.old_secret_keys) == 2


class TestDatabaseUrls:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
            ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
            ("postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
            ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
            ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ],
    )
    def test_plain_urls_map_onto_the_async_drivers(self, given: str, expected: str) -> None:
        """Operators write plain URLs; clippost picks the async driver."""
        assert normalise_database_url(given) == expected
