"""`clippost check-dns` against a real DNS server on loopback, for a right zone and each
kind of mistake; `clippost dns-records` prints what makes it right."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from clippost.cli import main
from clippost.config import Settings
from clippost.deliverability.check import check_dns
from clippost.deliverability.dns import Dns
from clippost.deliverability.spf import check_host
from clippost.dkim.keys import generate_key, load_key

from .conftest import Zone, ZoneServer, txt

RELAY = "203.0.113.5"  # TEST-NET-3: never a real host


@dataclass(frozen=True)
class Keys:
    rsa_file: Path
    ed25519_file: Path

    def record(self, path: Path, algorithm: str) -> str:
        return load_key(path, algorithm, "s").record()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    (folder / "rsa.pem").write_bytes(generate_key("rsa"))
    (folder / "ed.pem").write_bytes(generate_key("ed25519"))
    return Keys(folder / "rsa.pem", folder / "ed.pem")


@pytest.fixture
def configured(keys: Keys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Direct SMTP through a public relay, from example.org, with both DKIM keys."""
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "DATA_DIR": tmp_path,
        "MAIL_FROM": "news@example.org",
        "MAIL_TRANSPORT": "smtp",
        "SMTP_HOST": RELAY,
        "DKIM_RSA_SELECTOR": "rsa1",
        "DKIM_RSA_KEY_FILE": keys.rsa_file,
        "DKIM_ED25519_SELECTOR": "ed1",
        "DKIM_ED25519_KEY_FILE": keys.ed25519_file,
    }.items():
        monkeypatch.setenv(f"CLIPPOST_{name}", str(value))


def good_zone(keys: Keys) -> Zone:
    return {
        ("example.org", "TXT"): [txt("v=spf1 ip4:203.0.113.0/24 -all"), txt("google-site=x")],
        ("rsa1._domainkey.example.org", "TXT"): [txt(keys.record(keys.rsa_file, "rsa"))],
        ("ed1._domainkey.example.org", "TXT"): [txt(keys.record(keys.ed25519_file, "ed25519"))],
        ("_dmarc.example.org", "TXT"): [txt("v=DMARC1; p=quarantine; rua=mailto:d@example.org")],
    }


Check = Callable[[Zone], tuple[int, str]]


@pytest.fixture
def check(
    configured: None, serve_zone: Callable[[Zone], ZoneServer], capsys: pytest.CaptureFixture[str]
) -> Check:
    def run(zone: Zone) -> tuple[int, str]:
        server = serve_zone(zone)
        code = main(["check-dns", "--nameserver", f"127.0.0.1:{server.port}"])
        return code, capsys.readouterr().out

    return run


def lines(output: str, level: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(level)]


class TestCorrectZone:
    def test_all_right(self, check: Check, keys: Keys) -> None:
        """A zone with SPF for the relay, both DKIM keys and DMARC passes: exit 0."""
        code, out = check(good_zone(keys))
        assert code == 0, out
        assert lines(out, "ERROR") == []
        assert "authorises the relay 203.0.113.5" in out
        assert "rsa1._domainkey.example.org publishes the configured rsa key" in out
        assert "ed1._domainkey.example.org publishes the configured ed25519 key" in out
        assert "DKIM d=example.org aligns with From example.org" in out
        assert out.rstrip().endswith("all right")

    def test_spf_through_includes_and_a_hostname_relay(
        self, check: Check, keys: Keys, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A relay named by host name, authorised through an include's `a:` mechanism."""
        monkeypatch.setenv("CLIPPOST_SMTP_HOST", "mail.example.net")
        zone = good_zone(keys)
        zone["example.org", "TXT"] = [txt("v=spf1 include:_spf.example.net ~all")]
        zone["_spf.example.net", "TXT"] = [txt("v=spf1 a:mail.example.net -all")]
        zone["mail.example.net", "A"] = [RELAY]
        code, out = check(zone)
        assert code == 0, out
        assert "authorises the relay mail.example.net (203.0.113.5)" in out

    def test_what_dns_records_prints_passes(
        self, check: Check, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The records `clippost dns-records` prints, once published, pass `check-dns`."""
        monkeypatch.setenv("CLIPPOST_SMTP_HOST", RELAY)
        assert main(["dns-records"]) == 0
        printed = capsys.readouterr().out
        zone: Zone = {}
        for name, strings in re.findall(r"^(\S+)\. 3600 IN TXT \(? ?(.+?) ?\)?$", printed, re.M):
            assert all(len(s) <= 255 for s in re.findall(r'"([^"]*)"', strings))
            zone[name, "TXT"] = [strings]
        assert len(zone) == 4  # SPF, two DKIM keys, DMARC
        assert re.search(
            r'rsa1\._domainkey\.example\.org\. 3600 IN TXT \( "[^"]+" "[^"]+" \)', printed
        )
        code, out = check(zone)
        assert code == 0, out


class TestMistakes:
    def test_no_spf(self, check: Check, keys: Keys) -> None:
        """No SPF record is an error."""
        zone = good_zone(keys)
        zone["example.org", "TXT"] = [txt("google-site=x")]
        code, out = check(zone)
        assert code == 1
        assert "no SPF record (v=spf1) at example.org" in out

    def test_spf_not_authorising_the_relay(self, check: Check, keys: Keys) -> None:
        """An SPF record that does not cover the relay's address is an error."""
        zone = good_zone(keys)
        zone["example.org", "TXT"] = [txt("v=spf1 ip4:198.51.100.0/24 ~all")]
        code, out = check(zone)
        assert code == 1
        assert "does not authorise the relay 203.0.113.5 (203.0.113.5): softfail" in out

    def test_two_spf_records(self, check: Check, keys: Keys) -> None:
        """Two SPF records (a permanent error for receivers) are reported."""
        zone = good_zone(keys)
        zone["example.org", "TXT"] = [txt("v=spf1 mx -all"), txt("v=spf1 ip4:203.0.113.5 -all")]
        code, out = check(zone)
        assert code == 1
        assert "2 SPF records at example.org" in out

    def test_dkim_record_absent(self, check: Check, keys: Keys) -> None:
        """A configured key with no record is an error naming the record."""
        zone = good_zone(keys)
        del zone["ed1._domainkey.example.org", "TXT"]
        code, out = check(zone)
        assert code == 1
        assert "no DKIM record at ed1._domainkey.example.org" in out

    def test_dkim_key_differs(self, check: Check, keys: Keys, tmp_path: Path) -> None:
        """A published key that is not the configured one is an error."""
        other = tmp_path / "other.pem"
        other.write_bytes(generate_key("rsa"))
        zone = good_zone(keys)
        zone["rsa1._domainkey.example.org", "TXT"] = [txt(keys.record(other, "rsa"))]
        code, out = check(zone)
        assert code == 1
        assert "rsa1._domainkey.example.org publishes a different key" in out

    def test_dmarc_absent(self, check: Check, keys: Keys) -> None:
        """No DMARC record is an error (bulk senders must publish one)."""
        zone = good_zone(keys)
        del zone["_dmarc.example.org", "TXT"]
        code, out = check(zone)
        assert code == 1
        assert "no DMARC record at _dmarc.example.org" in out

    def test_dmarc_p_none_is_a_warning(self, check: Check, keys: Keys) -> None:
        """p=none is a warning: the check still passes."""
        zone = good_zone(keys)
        zone["_dmarc.example.org", "TXT"] = [txt("v=DMARC1; p=none")]
        code, out = check(zone)
        assert code == 0, out
        assert lines(out, "warning")[0].endswith(
            "_dmarc.example.org: p=none only monitors; move to quarantine once the reports "
            "show your mail passing"
        )

    def test_dkim_domain_not_aligned(
        self, check: Check, keys: Keys, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A DKIM domain that does not align with the From domain is an error."""
        monkeypatch.setenv("CLIPPOST_DKIM_DOMAIN", "mailer.example.com")
        zone = good_zone(keys)
        for selector, path, algorithm in (
            ("rsa1", keys.rsa_file, "rsa"),
            ("ed1", keys.ed25519_file, "ed25519"),
        ):
            zone[f"{selector}._domainkey.mailer.example.com", "TXT"] = [
                txt(keys.record(path, algorithm))
            ]
        code, out = check(zone)
        assert code == 1
        assert "DKIM d=mailer.example.com does not align with From example.org (relaxed)" in out

    def test_strict_alignment_needs_the_same_domain(
        self, check: Check, keys: Keys, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With adkim=s, a parent signing domain is not aligned."""
        monkeypatch.setenv("CLIPPOST_MAIL_FROM", "news@mail.example.org")
        monkeypatch.setenv("CLIPPOST_DKIM_DOMAIN", "example.org")
        zone = good_zone(keys)
        zone["mail.example.org", "TXT"] = zone.pop(("example.org", "TXT"))
        zone["_dmarc.mail.example.org", "TXT"] = [txt("v=DMARC1; p=reject; adkim=s")]
        code, out = check(zone)
        assert code == 1
        assert "does not align with From mail.example.org (strict)" in out

    def test_no_dkim_key_for_smtp(
        self, check: Check, keys: Keys, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Direct SMTP without a DKIM key configured is an error."""
        for name in ("RSA", "ED25519"):
            monkeypatch.delenv(f"CLIPPOST_DKIM_{name}_SELECTOR")
            monkeypatch.delenv(f"CLIPPOST_DKIM_{name}_KEY_FILE")
        code, out = check(good_zone(keys))
        assert code == 1
        assert "no DKIM key configured" in out


class TestLookups:
    def test_a_dns_that_does_not_answer_is_an_error(self, tmp_path: Path) -> None:
        """An unreachable server fails the check; it is never read as a missing record."""
        settings = Settings(_env_file=None, data_dir=tmp_path, mail_from="a@example.org")  # type: ignore[call-arg]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        findings = check_dns(settings, [], Dns.at("127.0.0.1", port, timeout=0.3))
        assert {f.record for f in findings if f.level == "error"} == {"SPF", "DMARC"}
        assert all("did not answer" in f.message for f in findings if f.level == "error")

    def test_a_bad_nameserver_argument(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`--nameserver` that is no address gets argparse's clear message."""
        with pytest.raises(SystemExit):
            main(["check-dns", "--nameserver", "host:port"])
        assert "not a name server address" in capsys.readouterr().err


class TestSpfEvaluation:
    def _check(self, serve_zone: Callable[[Zone], ZoneServer], zone: Zone) -> tuple[str, str]:
        server = serve_zone(zone)
        return check_host(Dns.at("127.0.0.1", server.port), RELAY, "example.org")

    def test_mx_with_a_prefix_length(self, serve_zone: Callable[[Zone], ZoneServer]) -> None:
        """`mx/24` matches an address in the /24 of the domain's mail server."""
        zone: Zone = {
            ("example.org", "TXT"): [txt("v=spf1 mx/24 -all")],
            ("example.org", "MX"): ["10 mx.example.org."],
            ("mx.example.org", "A"): ["203.0.113.77"],
        }
        assert self._check(serve_zone, zone) == ("pass", "")

    def test_redirect_is_followed(self, serve_zone: Callable[[Zone], ZoneServer]) -> None:
        """`redirect=` hands the decision to the other domain's record."""
        zone: Zone = {
            ("example.org", "TXT"): [txt("v=spf1 redirect=_spf.example.net")],
            ("_spf.example.net", "TXT"): [txt("v=spf1 ip4:203.0.113.5 -all")],
        }
        assert self._check(serve_zone, zone) == ("pass", "")

    def test_too_many_lookups(self, serve_zone: Callable[[Zone], ZoneServer]) -> None:
        """More than ten look-ups is a permanent error (RFC 7208 4.6.4)."""
        zone: Zone = {("example.org", "TXT"): [txt("v=spf1 " + "a:x.example.org " * 11 + "-all")]}
        zone["x.example.org", "A"] = ["198.51.100.1"]
        assert self._check(serve_zone, zone)[0] == "permerror"

    def test_macros_cannot_be_told(self, serve_zone: Callable[[Zone], ZoneServer]) -> None:
        """A record with macros or `exists` is "unknown", never a guess."""
        zone: Zone = {("example.org", "TXT"): [txt("v=spf1 exists:%{i}.spf.example.org -all")]}
        assert self._check(serve_zone, zone)[0] == "unknown"
