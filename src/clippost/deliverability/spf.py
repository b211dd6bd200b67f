"""Does the SPF record authorise an address? RFC 7208's check_host, for what a check needs.

Mechanisms all, include, a, mx, ip4, ip6 and the redirect modifier are evaluated, with the
limit of ten look-ups. A record that depends on what cannot be known here (`exists`, `ptr`,
macros) gives "unknown" rather than a guess.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from dataclasses import dataclass, field

from clippost.deliverability.dns import Dns

_QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
_MAX_LOOKUPS = 10
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class _Unknown(Exception):
    """The record uses something that cannot be evaluated here."""


class _PermError(Exception):
    pass


@dataclass
class _Budget:
    lookups: int = 0
    includes: list[str] = field(default_factory=list)

    def spend(self) -> None:
        self.lookups += 1
        if self.lookups > _MAX_LOOKUPS:
            raise _PermError("more than 10 DNS look-ups (RFC 7208 4.6.4)")


def spf_records(dns: Dns, domain: str) -> list[str]:
    return [r for r in dns.txt(domain) if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")]


def check_host(dns: Dns, address: str, domain: str) -> tuple[str, str]:
    """(result, why): pass, fail, softfail, neutral, none, permerror or unknown."""
    try:
        result = _check(dns, ipaddress.ip_address(address), domain, _Budget())
    except _Unknown as exc:
        return "unknown", str(exc)
    except _PermError as exc:
        return "permerror", str(exc)
    return result, ""


def includes(dns: Dns, domain: str) -> list[str]:
    """Every domain the record includes or redirects to, however deep (for a provider's)."""
    budget = _Budget()
    with contextlib.suppress(_Unknown, _PermError):  # what was found until then still counts
        _check(dns, ipaddress.ip_address("192.0.2.1"), domain, budget)  # TEST-NET: no match
    return budget.includes


def _check(dns: Dns, ip: IPAddress, domain: str, budget: _Budget) -> str:
    records = spf_records(dns, domain)
    if not records:
        return "none"
    if len(records) > 1:
        raise _PermError(f"{domain} has {len(records)} SPF records")
    redirect = None
    for term in records[0].split()[1:]:
        if "%" in term:
            raise _Unknown(f"macro in {term!r}")
        if "=" in term:  # a modifier: redirect= is followed, exp= only explains a failure
            name, _, value = term.partition("=")
            redirect = value if name.lower() == "redirect" else redirect
            continue
        qualifier = _QUALIFIERS.get(term[0])
        mechanism = term[1:] if qualifier else term
        if _matches(dns, ip, domain, mechanism, budget):
            return qualifier or "pass"
    if redirect is None:
        return "neutral"
    budget.spend()
    budget.includes.append(redirect)
    result = _check(dns, ip, redirect, budget)
    if result == "none":
        raise _PermError(f"redirect to {redirect}, which has no SPF record")
    return result


def _matches(dns: Dns, ip: IPAddress, domain: str, mechanism: str, budget: _Budget) -> bool:
    kind, argument, cidr = _split(mechanism)
    if kind == "all":
        return True
    if kind in ("ip4", "ip6"):
        try:
            return ip in ipaddress.ip_network(argument, strict=False)
        except ValueError as exc:
            raise _PermError(f"bad network in {mechanism!r}") from exc
    if kind == "include":
        budget.spend()
        budget.includes.append(argument)
        result = _check(dns, ip, argument, budget)
        if result == "none":
            raise _PermError(f"include:{argument} has no SPF record")
        return result == "pass"
    if kind in ("a", "mx"):
        budget.spend()
        target = argument or domain
        hosts = [target] if kind == "a" else dns.mx(target)
        return any(_in(ip, address, cidr) for host in hosts for address in dns.addresses(host))
    if kind in ("exists", "ptr"):
        raise _Unknown(f"the {kind} mechanism")
    raise _PermError(f"unknown mechanism {mechanism!r}")


def _split(mechanism: str) -> tuple[str, str, str]:
    """(kind, domain or network, prefix lengths) of a mechanism: `a:host/24//64` gives
    ("a", "host", "24//64"); `ip6:2001:db8::/32` gives ("ip6", "2001:db8::/32", "")."""
    kind = re.match(r"[A-Za-z0-9]*", mechanism).group(0)  # type: ignore[union-attr]
    rest = mechanism[len(kind) :].removeprefix(":")
    kind = kind.lower()
    if kind in ("ip4", "ip6"):
        return kind, rest, ""
    argument, _, cidr = rest.partition("/")
    return kind, argument, cidr


def _in(ip: IPAddress, address: str, cidr: str) -> bool:
    """Whether `ip` is `address`, or in its network of the mechanism's prefix length."""
    candidate = ipaddress.ip_address(address)
    if candidate.version != ip.version:
        return False
    v4, _, v6 = cidr.partition("/")
    bits = (v4 if ip.version == 4 else v6.lstrip("/")) or str(candidate.max_prefixlen)
    return ip in ipaddress.ip_network(f"{candidate}/{bits}", strict=False)
