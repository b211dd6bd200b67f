"""DNS look-ups for the checks, through dnspython: TXT, addresses, MX.

"No such name" and "no record of that type" are answers (an empty list); a server that
cannot be reached or fails is LookupFailed, so a check never mistakes an outage for a
missing record.
"""

from __future__ import annotations

from typing import Any

import dns.exception
import dns.resolver


class LookupFailed(Exception):
    """The DNS could not answer (timeout, SERVFAIL, no server reachable)."""


class Dns:
    def __init__(self, resolver: dns.resolver.Resolver | None = None) -> None:
        self._resolver = resolver or dns.resolver.Resolver()

    @classmethod
    def at(cls, nameserver: str, port: int = 53, *, timeout: float = 5.0) -> Dns:
        """Ask one server only (the domain's own authoritative server, or a test's)."""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [nameserver]
        resolver.port = port
        resolver.lifetime = timeout
        return cls(resolver)

    def txt(self, name: str) -> list[str]:
        """Each TXT record at `name`, its strings joined (as SPF, DKIM and DMARC read them)."""
        return [
            b"".join(rdata.strings).decode("utf-8", "replace")
            for rdata in self._resolve(name, "TXT")
        ]

    def addresses(self, name: str) -> list[str]:
        return [rdata.address for kind in ("A", "AAAA") for rdata in self._resolve(name, kind)]

    def mx(self, name: str) -> list[str]:
        return [rdata.exchange.to_text(omit_final_dot=True) for rdata in self._resolve(name, "MX")]

    def _resolve(self, name: str, kind: str) -> list[Any]:  # rdata of the type asked
        try:
            return list(self._resolver.resolve(name, kind, search=False))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as exc:
            raise LookupFailed(f"{name} {kind}: {exc}") from exc
