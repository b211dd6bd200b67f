"""DKIM keys: read and checked at start-up, with a sentence for each way they can be wrong."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clippost.cli import main
from clippost.config import Settings
from clippost.dkim.keys import configured_keys, load_key, write_new_key
from clippost.errors import ConfigurationError

from .conftest import DkimKeys


def _settings(**values: object) -> Settings:
    values.setdefault("mail_from", "news@clippost.test")
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _rsa_pem(bits: int) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


class TestLoadKey:
    def test_a_missing_file_is_named(self, tmp_path: Path) -> None:
        """A key file that cannot be read stops start-up, naming the file."""
        with pytest.raises(ConfigurationError, match=r"Cannot read the DKIM RSA key file .*nope"):
            load_key(tmp_path / "nope.pem", "rsa", "s1")

    def test_a_short_rsa_key_is_refused(self, tmp_path: Path) -> None:
        """An RSA key under 2048 bits is refused with its size."""
        path = tmp_path / "short.pem"
        path.write_bytes(_rsa_pem(1024))
        with pytest.raises(ConfigurationError, match="has 1024 bits; at least 2048"):
            load_key(path, "rsa", "s1")

    def test_garbage_is_not_a_key(self, tmp_path: Path) -> None:
        """A file that is no PEM private key is refused as such."""
        path = tmp_path / "junk.pem"
        path.write_text("-----BEGIN NOTHING-----\n")
        with pytest.raises(ConfigurationError, match="not an unencrypted PEM private key"):
            load_key(path, "ed25519", "s1")

    def test_the_wrong_kind_is_refused(self, test_keys: DkimKeys) -> None:
        """An Ed25519 key given as the RSA key (or the reverse) is refused."""
        with pytest.raises(ConfigurationError, match="is not an RSA private key"):
            load_key(test_keys.ed25519_file, "rsa", "s1")
        with pytest.raises(ConfigurationError, match="is not an Ed25519 private key"):
            load_key(test_keys.rsa_file, "ed25519", "s1")

    def test_openssl_keys_load(self, tmp_path: Path) -> None:
        """Keys made by `openssl genpkey` (what most guides say) load as they are."""
        for algorithm, options in (
            ("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
            ("ed25519", ["-algorithm", "ED25519"]),
        ):
            path = tmp_path / f"{algorithm}.pem"
            subprocess.run(["openssl", "genpkey", *options, "-out", str(path)], check=True)
            assert (
                load_key(path, algorithm, "s1").record().startswith(f"v=DKIM1; k={algorithm}; p=")
            )  # type: ignore[arg-type]


class TestConfiguredKeys:
    def test_none_without_settings(self) -> None:
        """No DKIM settings: no keys, nothing signed."""
        assert configured_keys(_settings()) == []

    def test_both_keys_in_order(self, test_keys: DkimKeys) -> None:
        """Both keys configured: RSA then Ed25519, with their selectors."""
        settings = _settings(
            dkim_rsa_selector="r1",
            dkim_rsa_key_file=test_keys.rsa_file,
            dkim_ed25519_selector="e1",
            dkim_ed25519_key_file=test_keys.ed25519_file,
        )
        keys = configured_keys(settings)
        assert [(k.algorithm, k.selector) for k in keys] == [("rsa", "r1"), ("ed25519", "e1")]

    def test_a_selector_needs_its_key(self) -> None:
        """A selector without a key file (or the reverse) names the missing setting."""
        with pytest.raises(ConfigurationError, match="CLIPPOST_DKIM_RSA_KEY_FILE must be set"):
            configured_keys(_settings(dkim_rsa_selector="r1"))

    def test_a_bad_selector_is_refused(self, test_keys: DkimKeys) -> None:
        """A selector that is no DNS label is refused."""
        settings = _settings(
            dkim_ed25519_selector="a b", dkim_ed25519_key_file=test_keys.ed25519_file
        )
        with pytest.raises(ConfigurationError, match="not a valid DNS label"):
            configured_keys(settings)

    def test_the_domain_defaults_to_the_sender_and_must_be_public(
        self, test_keys: DkimKeys
    ) -> None:
        """The signing domain is the sender's unless set; `localhost` cannot sign."""
        assert _settings(mail_from="a@News.Example.org").resolved_dkim_domain == "news.example.org"
        assert _settings(dkim_domain="example.org").resolved_dkim_domain == "example.org"
        settings = _settings(
            mail_from="clippost@localhost",
            dkim_rsa_selector="r1",
            dkim_rsa_key_file=test_keys.rsa_file,
        )
        with pytest.raises(ConfigurationError, match="not a public domain name"):
            configured_keys(settings)


class TestWriteNewKey:
    def test_new_keys_are_private_and_never_overwrite(self, tmp_path: Path) -> None:
        """A generated key is readable by its owner only, and an existing file is kept."""
        path = tmp_path / "keys" / "rsa.pem"
        write_new_key(path, "rsa")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert load_key(path, "rsa", "s1").algorithm == "rsa"
        before = path.read_bytes()
        with pytest.raises(ConfigurationError, match="exists already"):
            write_new_key(path, "rsa")
        assert path.read_bytes() == before


class TestStartUp:
    @pytest.mark.parametrize("command", [["serve"], ["worker"], ["send-due"]])
    def test_a_bad_key_stops_the_sending_commands(
        self,
        command: list[str],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """serve, worker and send-due refuse to start with an unreadable key, in a sentence."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("CLIPPOST_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("CLIPPOST_MAIL_FROM", "news@clippost.test")
        monkeypatch.setenv("CLIPPOST_MAIL_TRANSPORT", "smtp")
        monkeypatch.setenv("CLIPPOST_DKIM_RSA_SELECTOR", "r1")
        monkeypatch.setenv("CLIPPOST_DKIM_RSA_KEY_FILE", str(tmp_path / "gone.pem"))
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "clippost: Cannot read the DKIM RSA key file" in err
        assert "gone.pem" in err
        assert "Traceback" not in err
