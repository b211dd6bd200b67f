"""`clippost check-dns`: what the DNS publishes, against what clippost sends.

Each record gets findings: "ok", "note" (what clippost cannot see), "warning" (works, but
mailbox providers advise otherwise, such as DMARC p=none) or "error" (missing or wrong:
mail will fail SPF, DKIM or DMARC, or bulk-sender rules). Only errors fail the check.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from clippost.config import Settings
from clippost.deliverability import spf
from clippost.deliverability.dns import Dns, LookupFailed
from clippost.deliverability.records import (
    PROVIDER_SPF,
    aligned,
    relay_mechanism,
    sender_domain,
)
from clippost.dkim.keys import SigningKey

Level = Literal["ok", "note", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    record: str  # SPF, DKIM <selector>, DMARC, alignment
    message: str


def check_dns(settings: Settings, keys: list[SigningKey], dns: Dns) -> list[Finding]:
    findings = _guarded("SPF", lambda: check_spf(settings, dns))
    findings += _guarded("DKIM", lambda: check_dkim(settings, keys, dns))
    findings += _guarded("DMARC", lambda: check_dmarc(settings, keys, dns))
    return findings


def _guarded(record: str, check: Callable[[], list[Finding]]) -> list[Finding]:
    try:
        return check()
    except LookupFailed as exc:
        return [Finding("error", record, f"the DNS did not answer: {exc}")]


def check_spf(settings: Settings, dns: Dns) -> list[Finding]:
    domain = sender_domain(settings)
    records = spf.spf_records(dns, domain)
    provider = PROVIDER_SPF.get(settings.mail_transport)
    if not records:
        # Through a provider, SPF is checked on its return-path domain; DMARC then
        # aligns through DKIM, so a missing record at the From domain is advice only.
        level: Level = "warning" if provider else "error"
        return [Finding(level, "SPF", f"no SPF record (v=spf1) at {domain}")]
    if len(records) > 1:
        return [
            Finding(
                "error",
                "SPF",
                f"{len(records)} SPF records at {domain}: receivers "
                "treat more than one as a permanent error; merge them",
            )
        ]
    found = [Finding("ok", "SPF", f"{domain}: {records[0]}")]
    if provider:
        return found + _provider_spf(dns, domain, provider)
    return found + _relay_spf(settings, dns, domain)


def _provider_spf(dns: Dns, domain: str, provider: str) -> list[Finding]:
    if provider in spf.includes(dns, domain):
        return [Finding("ok", "SPF", f"includes {provider}")]
    return [
        Finding(
            "warning",
            "SPF",
            f"does not include {provider} (needed when the "
            "provider's custom MAIL FROM domain is this one)",
        )
    ]


def _relay_spf(settings: Settings, dns: Dns, domain: str) -> list[Finding]:
    mechanism = relay_mechanism(settings)
    if mechanism is None:
        return [
            Finding(
                "note",
                "SPF",
                "clippost cannot tell the address mail leaves from "
                f"({settings.mail_transport} via {settings.smtp_host}): make sure "
                "SPF authorises it",
            )
        ]
    host = settings.smtp_host.strip("[]")
    addresses = [host] if _is_address(host) else dns.addresses(host)
    if not addresses:
        return [Finding("error", "SPF", f"the relay {host} has no address in the DNS")]
    findings = []
    for address in addresses:
        result, why = spf.check_host(dns, address, domain)
        if result == "pass":
            findings.append(Finding("ok", "SPF", f"authorises the relay {host} ({address})"))
        elif result == "unknown":
            findings.append(Finding("note", "SPF", f"cannot evaluate for {address}: {why}"))
        else:
            detail = f": {why}" if why else ""
            findings.append(
                Finding(
                    "error",
                    "SPF",
                    f"does not authorise the relay {host} ({address}): {result}{detail}",
                )
            )
    return findings


def check_dkim(settings: Settings, keys: list[SigningKey], dns: Dns) -> list[Finding]:
    if not keys:
        if settings.mail_transport == "smtp":
            return [
                Finding(
                    "error",
                    "DKIM",
                    "no DKIM key configured: mail over SMTP goes "
                    "unsigned (CLIPPOST_DKIM_RSA_SELECTOR and _KEY_FILE)",
                )
            ]
        return [
            Finding(
                "note",
                "DKIM",
                f"{settings.mail_transport} signs with its own keys: "
                "check its records in the provider's console",
            )
        ]
    return [_check_key(key, settings.resolved_dkim_domain, dns) for key in keys]


def _check_key(key: SigningKey, domain: str, dns: Dns) -> Finding:
    name = f"{key.selector}._domainkey.{domain}"
    label = f"DKIM {key.selector}"
    published = [tags for tags in map(_tags, dns.txt(name)) if "p" in tags]
    if not published:
        return Finding("error", label, f"no DKIM record at {name}")
    if len(published) > 1:
        return Finding("error", label, f"{len(published)} DKIM records at {name}")
    tags = published[0]
    if tags.get("k", "rsa").lower() != key.algorithm:
        return Finding(
            "error",
            label,
            f"{name} is k={tags.get('k', 'rsa')}, the configured key is {key.algorithm}",
        )
    if not tags["p"]:
        return Finding("error", label, f"{name} has an empty p= (the key is revoked)")
    if _decoded(tags["p"]) != _decoded(key.public_value()):
        return Finding(
            "error",
            label,
            f"{name} publishes a different key from the "
            "configured one: publish the record `clippost dns-records` prints",
        )
    return Finding("ok", label, f"{name} publishes the configured {key.algorithm} key")


def check_dmarc(settings: Settings, keys: list[SigningKey], dns: Dns) -> list[Finding]:
    domain = sender_domain(settings)
    found = _dmarc_record(dns, domain)
    if found is None:
        return [
            Finding(
                "error",
                "DMARC",
                f"no DMARC record at _dmarc.{domain} (bulk "
                "senders must publish one, p=none at least)",
            )
        ]
    at, tags = found
    policy = tags.get("p", "").lower()
    findings = [_policy_finding(at, policy)]
    if keys:
        strict = tags.get("adkim", "r").lower() == "s"
        signing = settings.resolved_dkim_domain
        if aligned(domain, signing, strict=strict):
            findings.append(
                Finding("ok", "alignment", f"DKIM d={signing} aligns with From {domain}")
            )
        else:
            mode = "strict" if strict else "relaxed"
            findings.append(
                Finding(
                    "error",
                    "alignment",
                    f"DKIM d={signing} does not align "
                    f"with From {domain} ({mode}): set CLIPPOST_DKIM_DOMAIN",
                )
            )
    return findings


def _policy_finding(at: str, policy: str) -> Finding:
    if policy in ("quarantine", "reject"):
        return Finding("ok", "DMARC", f"{at}: p={policy}")
    if policy == "none":
        return Finding(
            "warning",
            "DMARC",
            f"{at}: p=none only monitors; move to quarantine "
            "once the reports show your mail passing",
        )
    return Finding("error", "DMARC", f"{at}: no valid p= tag (none, quarantine or reject)")


def _dmarc_record(dns: Dns, domain: str) -> tuple[str, dict[str, str]] | None:
    """The DMARC record for `domain`, or else for its parent domains (a stand-in for the
    organisational domain of RFC 7489 6.6.3)."""
    labels = domain.split(".")
    for start in range(0, max(1, len(labels) - 1)):
        name = "_dmarc." + ".".join(labels[start:])
        records = [r for r in dns.txt(name) if r.replace(" ", "").upper().startswith("V=DMARC1")]
        if len(records) == 1:
            return name, _tags(records[0])
    return None


def _tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip().lower()] = "".join(value.split())
    return tags


def _decoded(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
