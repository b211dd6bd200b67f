"""A real DNS server on loopback (UDP, dnspython's message classes) serving a test zone."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

Zone = dict[tuple[str, str], list[str]]  # (name, type) -> values as in a zone file


def txt(value: str) -> str:
    """A TXT value in zone-file form: quoted strings of at most 255 bytes."""
    pieces = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join(f'"{piece}"' for piece in pieces)


class ZoneServer:
    """Answers A, AAAA, MX and TXT questions from `zone`; NXDOMAIN for unknown names."""

    def __init__(self, zone: Zone) -> None:
        self.zone = {
            (name.lower().rstrip("."), kind): values for (name, kind), values in zone.items()
        }
        self.questions: list[tuple[str, str]] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._socket.close()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # closed at the end of the test
            while True:
                data, client = self._socket.recvfrom(4096)
                self._socket.sendto(self._answer(dns.message.from_wire(data)).to_wire(), client)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        (question,) = query.question
        name = question.name.to_text(omit_final_dot=True).lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        self.questions.append((name, kind))
        values = self.zone.get((name, kind))
        if values:
            response.answer.append(dns.rrset.from_text(question.name, 300, "IN", kind, *values))
        elif not any(known == name for known, _ in self.zone):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response


@pytest.fixture
def serve_zone() -> Iterator[Callable[[Zone], ZoneServer]]:
    servers: list[ZoneServer] = []

    def start(zone: Zone) -> ZoneServer:
        server = ZoneServer(zone)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
