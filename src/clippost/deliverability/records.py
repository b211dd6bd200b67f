"""The DNS records a sending domain publishes for clippost: SPF, DKIM (each key), DMARC.

SPF and DMARC belong to the domain of CLIPPOST_MAIL_FROM (clippost sends with the same
address as envelope sender and From); DKIM records to the signing domain. What SPF must
authorise depends on how mail leaves: the SMTP relay's address, or the provider's include.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from clippost.config import Settings
from clippost.dkim.keys import SigningKey

# The SPF include each provider documents for its sending servers.
PROVIDER_SPF = {
    "ses": "amazonses.com",
    "postmark": "spf.mtasv.net",
    "sendgrid": "sendgrid.net",
}
_MAX_STRING = 255  # one character-string of a TXT record (RFC 1035 3.3)
# A relay at one of these addresses hands mail on from an address clippost never sees.
_LOCAL = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


@dataclass(frozen=True, slots=True)
class Record:
    kind: str  # SPF, DKIM, DMARC
    name: str  # without the final dot
    value: str
    comment: str = ""

    def zone_line(self) -> str:
        """The record as a zone-file line, long values split into 255-byte strings."""
        return f"{self.name}. 3600 IN TXT {txt_strings(self.value)}"


def txt_strings(value: str) -> str:
    """`"..." "..."`: the value in quoted strings of at most 255 bytes (a DKIM RSA-2048
    key does not fit in one). The record's value is their concatenation."""
    data = value.encode("ascii")
    pieces = [data[i : i + _MAX_STRING].decode("ascii") for i in range(0, len(data), _MAX_STRING)]
    quoted = " ".join(f'"{piece}"' for piece in pieces or [""])
    return f"( {quoted} )" if len(pieces) > 1 else quoted


def sender_domain(settings: Settings) -> str:
    return settings.mail_from.rpartition("@")[2].lower().rstrip(".")


def relay_mechanism(settings: Settings) -> str | None:
    """The SPF mechanism that authorises where mail leaves from; None when clippost cannot
    tell (a relay on this machine or a private network sends from an address it never sees)."""
    if settings.mail_transport in PROVIDER_SPF:
        return f"include:{PROVIDER_SPF[settings.mail_transport]}"
    if settings.mail_transport != "smtp":
        return None
    host = settings.smtp_host.strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None if host == "localhost" or "." not in host else f"a:{host}"
    if address.is_loopback or address.is_link_local or address.is_unspecified:
        return None
    if any(address in network for network in _LOCAL if network.version == address.version):
        return None
    return f"ip{address.version}:{address}"


def expected_records(settings: Settings, keys: list[SigningKey]) -> list[Record]:
    domain = sender_domain(settings)
    mechanism = relay_mechanism(settings)
    spf_comment = "" if mechanism else "put the address your mail leaves from in place of mx"
    records = [Record("SPF", domain, f"v=spf1 {mechanism or 'mx'} -all", spf_comment)]
    records += [
        Record("DKIM", f"{key.selector}._domainkey.{settings.resolved_dkim_domain}", key.record())
        for key in keys
    ]
    records.append(
        Record(
            "DMARC",
            f"_dmarc.{domain}",
            f"v=DMARC1; p=quarantine; adkim=r; aspf=r; rua=mailto:dmarc-reports@{domain}",
            "rua: an address of yours that receives the daily aggregate reports",
        )
    )
    return records


def aligned(domain: str, signing_domain: str, *, strict: bool) -> bool:
    """DMARC alignment of a DKIM or SPF domain with the From domain. Relaxed: the same
    organisational domain, taken here as one being the other or a parent of it (without
    the public suffix list, two sibling subdomains are reported as not aligned)."""
    domain, signing_domain = domain.lower(), signing_domain.lower()
    if strict or domain == signing_domain:
        return domain == signing_domain
    return domain.endswith("." + signing_domain) or signing_domain.endswith("." + domain)
