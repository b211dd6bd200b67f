"""A `.zip` upload read under limits: members, total size and compression ratio.

A zip's header states each member's size, and a hostile one lies: members are inflated in
pieces and counted as they come, so a zip bomb is refused after at most the limit's worth
of work, never after filling memory. Members that cannot hold highlights (pictures, fonts,
PDFs, e-books) are left unread, so a reader may zip a whole KOReader folder, books and all.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from clippost.clippings.formats.base import FormatError, Limits
from clippost.clippings.models import ErrorKind

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_CHUNK = 1 << 16
_PEEK = 64
# First bytes of files that never hold highlights: read no further than these.
_NOT_HIGHLIGHTS = (
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"RIFF",
    b"OTTO",
    b"\x00\x01\x00\x00",
    b"wOFF",
    b"wOF2",
    b"ID3",
    b"\x1f\x8b",
)
_TOO_LARGE = (
    "This archive unpacks to more than we accept ({what}). Zip only the files that hold "
    "your highlights and try again."
)


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    data: bytes


def is_zip(data: bytes) -> bool:
    return data.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC))


def read_zip(data: bytes, limits: Limits) -> list[Member]:
    """The members of the zip in `data` that may hold highlights, in archive order.

    Raises FormatError (TOO_LARGE) past a limit and (DAMAGED) for a broken or encrypted
    archive.
    """
    archive = _open(data)
    infos = [info for info in archive.infolist() if not info.is_dir()]
    if len(infos) > limits.max_members:
        raise FormatError(
            _TOO_LARGE.format(what=f"{limits.max_members} files"), ErrorKind.TOO_LARGE
        )
    budget = _Budget(limits)
    members: list[Member] = []
    for info in infos:
        if _skipped(info):
            continue
        member = _read_member(archive, info, budget, limits)
        if member is not None:
            members.append(member)
    return members


def member_names(data: bytes) -> list[str]:
    """The file names in the zip (nothing is inflated), or [] when it is not a zip."""
    try:
        return _open(data).namelist()
    except FormatError:
        return []


def read_one(data: bytes, name: str, limits: Limits) -> bytes:
    """One member by name (a .docx's document.xml), under the same limits."""
    archive = _open(data)
    member = _read_member(archive, archive.getinfo(name), _Budget(limits), limits, peek=False)
    if member is None:
        raise FormatError(f"The archive's {name} cannot be read.", ErrorKind.DAMAGED)
    return member.data


def _open(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise FormatError(
            "This zip archive is damaged and cannot be opened.", ErrorKind.DAMAGED
        ) from exc


def _skipped(info: zipfile.ZipInfo) -> bool:
    # macOS adds resource forks ("__MACOSX/._name") that only look like the real files.
    base = info.filename.rsplit("/", 1)[-1]
    return info.filename.startswith("__MACOSX/") or base.startswith("._")


class _Budget:
    """The bytes still allowed across the whole archive."""

    def __init__(self, limits: Limits) -> None:
        self.left = limits.max_total_bytes
        self._total = limits.max_total_bytes

    def take(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            mib = self._total // (1024 * 1024)
            raise FormatError(_TOO_LARGE.format(what=f"{mib} MB in all"), ErrorKind.TOO_LARGE)


def _read_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    budget: _Budget,
    limits: Limits,
    *,
    peek: bool = True,
) -> Member | None:
    if info.flag_bits & 0x1:
        raise FormatError(
            "This zip archive is protected by a password; zip the files again without one.",
            ErrorKind.DAMAGED,
        )
    _check_ratio(info, limits)
    try:
        with archive.open(info) as stream:
            first = stream.read(_PEEK)
            if peek and first.startswith(_NOT_HIGHLIGHTS):
                return None
            if (
                peek
                and first.startswith(ZIP_MAGIC)
                and info.file_size > limits.max_nested_zip_bytes
            ):
                return None  # an e-book or another archive: too large to be a notes document
            budget.take(len(first))
            return Member(info.filename, first + b"".join(_chunks(stream, info, budget, limits)))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise FormatError(
            f"The archive's {info.filename} is damaged and cannot be read.", ErrorKind.DAMAGED
        ) from exc


def _check_ratio(info: zipfile.ZipInfo, limits: Limits) -> None:
    if info.file_size > limits.max_ratio * max(info.compress_size, 1) and info.file_size > _CHUNK:
        raise FormatError(
            f"The archive's {info.filename} unpacks to {limits.max_ratio} times its size or"
            " more, which no highlights file does.",
            ErrorKind.TOO_LARGE,
        )


def _chunks(
    stream: IO[bytes], info: zipfile.ZipInfo, budget: _Budget, limits: Limits
) -> Iterator[bytes]:
    # The declared size is not trusted: what is inflated is counted, and a member that
    # inflates beyond what it declared, or beyond the ratio, is refused mid-way.
    allowed = max(info.file_size, _PEEK) + 1
    ceiling = max(limits.max_ratio * max(info.compress_size, 1), _CHUNK)
    seen = _PEEK
    while chunk := stream.read(_CHUNK):
        seen += len(chunk)
        if seen > allowed or seen > ceiling:
            raise FormatError(
                f"The archive's {info.filename} unpacks to more than it declares.",
                ErrorKind.TOO_LARGE,
            )
        budget.take(len(chunk))
        yield chunk
