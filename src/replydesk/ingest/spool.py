"""The outage spool: webhooks accepted while the database is unreachable, on local disk.

Layout, under ``<data_dir>/spool/``:

- one folder per API process, ``<pid>-<random>/``, holding a ``lock`` file the process keeps
  ``flock``-ed for its lifetime and its segments ``<seq>.seg`` (append-only);
- ``totals.json`` (+ ``totals.lock``): cumulative spooled / replayed / skipped counts, updated
  under ``flock`` by every process, read by ``replydesk queue stats``.

A folder whose lock can be taken belongs to a dead process: the replayer adopts it (its
segments are replayed and deleted like its own), so nothing spooled is left behind by a crash.

Record format (big-endian): ``b"RDS1"`` magic, u32 payload length, u32 CRC-32 of the payload,
then the payload (JSON: what the INSERT would have stored). A crash mid-write leaves a torn
last record: a short header, a length past the end of the file or a checksum that does not
match. Readers stop at it (or skip one bad record whose length is plausible) and say so once.
Appends are fsync-ed (file, and the folder when a segment is created) before the webhook is
answered 202.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from replydesk.core.logging import get_logger

log = get_logger(__name__)

MAGIC = b"RDS1"
HEADER = struct.Struct(">4sII")
# A record holds one webhook body (≤ ingest_max_body_bytes, 1 MiB by default) plus its
# metadata; a length beyond this is garbage, not a record.
MAX_RECORD_BYTES = 64 * 1024 * 1024
SEGMENT_SUFFIX = ".seg"
LOCK_NAME = "lock"
TOTALS_NAME = "totals.json"
TOTALS_LOCK_NAME = "totals.lock"


@dataclass(frozen=True)
class SpooledEvent:
    """What ``webhook_events`` would have stored, plus when it arrived."""

    workspace_id: str
    provider: str
    event_type: str
    dedupe_key: str
    status: str
    payload: str  # the raw JSON body text
    received_at: str  # ISO 8601, UTC

    def encode(self) -> bytes:
        body = json.dumps(self.__dict__, separators=(",", ":"), ensure_ascii=False).encode()
        return HEADER.pack(MAGIC, len(body), zlib.crc32(body)) + body

    @classmethod
    def decode(cls, body: bytes) -> SpooledEvent:
        data = json.loads(body)
        return cls(**{name: str(data[name]) for name in cls.__dataclass_fields__})

    @property
    def received(self) -> datetime:
        return datetime.fromisoformat(self.received_at)


@dataclass
class SegmentRead:
    events: list[SpooledEvent]
    skipped: int = 0  # records dropped: torn tail, bad checksum, undecodable
    torn_tail: bool = False


def read_segment(path: Path) -> SegmentRead:
    """Every intact record of a segment, in order. A torn or corrupt record is skipped with
    one log line per segment; a bad header ends the segment (nothing after it can be framed)."""
    data = path.read_bytes()
    out = SegmentRead([])
    offset = 0
    problem: str | None = None
    while offset < len(data):
        if len(data) - offset < HEADER.size:
            out.skipped, out.torn_tail, problem = out.skipped + 1, True, "short header"
            break
        magic, length, crc = HEADER.unpack_from(data, offset)
        if magic != MAGIC or length > MAX_RECORD_BYTES:
            out.skipped, problem = out.skipped + 1, "bad header"
            out.torn_tail = True
            break
        start, end = offset + HEADER.size, offset + HEADER.size + length
        if end > len(data):
            out.skipped, out.torn_tail, problem = out.skipped + 1, True, "record past the end"
            break
        body = data[start:end]
        offset = end
        if zlib.crc32(body) != crc:
            out.skipped, problem = out.skipped + 1, "checksum mismatch"
            continue
        try:
            out.events.append(SpooledEvent.decode(body))
        except (ValueError, KeyError, TypeError):
            out.skipped, problem = out.skipped + 1, "undecodable record"
    if problem is not None:
        # Expected after a crash mid-write (the request was never answered 2xx): a warning,
        # not an error; the provider retries what it did not see acknowledged.
        log.warning(
            "spool_record_skipped",
            segment=path.name,
            reason=problem,
            skipped=out.skipped,
            intact=len(out.events),
        )
    return out


def count_records(path: Path) -> int:
    """Records in a segment by their headers only (for stats; payloads are not read)."""
    count = 0
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            offset = 0
            while offset + HEADER.size <= size:
                f.seek(offset)
                magic, length, _ = HEADER.unpack(f.read(HEADER.size))
                if magic != MAGIC or offset + HEADER.size + length > size:
                    break
                count += 1
                offset += HEADER.size + length
    except OSError:
        return count
    return count


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def segments_of(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.name.endswith(SEGMENT_SUFFIX))
    except FileNotFoundError:
        return []


class SpoolFull(Exception):
    """The append would take the spool past its size cap."""


class SpoolDir:
    """This process's spool folder: appends to the current segment, sealed on demand.

    Blocking file I/O: callers run it in a thread (``SpoolWriter``); one thread at a time."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        root.mkdir(parents=True, exist_ok=True)
        self.folder = root / f"{os.getpid()}-{secrets.token_hex(4)}"
        self.folder.mkdir()
        self._lock_fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # held until close(): "this owner lives"
        _fsync_dir(root)
        self._seq = 0
        self._file: BinaryIO | None = None
        self._current: Path | None = None
        # Bytes in this folder's segments (written, not yet replayed and deleted).
        self.bytes = 0

    def append(self, records: list[bytes]) -> None:
        """Append and fsync; all or nothing (a failed write is truncated away)."""
        size = sum(len(r) for r in records)
        if self.bytes + size > self.max_bytes:
            raise SpoolFull
        f = self._open()
        start = f.tell()
        try:
            f.write(b"".join(records))
            f.flush()
            os.fsync(f.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                f.truncate(start)
                f.seek(start)
            raise
        self.bytes += size

    def _open(self) -> BinaryIO:
        if self._file is None:
            self._seq += 1
            self._current = self.folder / f"{self._seq:08d}{SEGMENT_SUFFIX}"
            self._file = self._current.open("ab")
            _fsync_dir(self.folder)  # the new file's name is durable too
        return self._file

    def seal(self) -> list[Path]:
        """Close the current segment; the next append starts a new one. Returns every sealed
        segment of this folder, oldest first (the ones a replay may take)."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._current = None
        return segments_of(self.folder)

    def forget(self, segment: Path, size: int) -> None:
        """A replayed segment: delete it (after its rows committed)."""
        segment.unlink(missing_ok=True)
        self.bytes = max(0, self.bytes - size)

    def close(self) -> None:
        """At shutdown: an empty folder is removed; one with segments stays for the next
        process (or another live one) to adopt once our lock is released."""
        self.seal()
        if not segments_of(self.folder):
            with contextlib.suppress(OSError):
                (self.folder / LOCK_NAME).unlink()
                self.folder.rmdir()
                self.root.rmdir()  # only if nothing else is in it (never spooled on this host)
        os.close(self._lock_fd)


@contextlib.contextmanager
def adopt_orphans(root: Path, own: Path) -> Iterator[list[Path]]:
    """Folders of dead processes (their lock can be taken), locked for the caller."""
    locked: list[tuple[Path, int]] = []
    try:
        for folder in sorted(p for p in _folders(root) if p != own):
            try:
                fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)  # its owner is alive
                continue
            locked.append((folder, fd))
        yield [folder for folder, _ in locked]
    finally:
        for folder, fd in locked:
            if not segments_of(folder):
                with contextlib.suppress(OSError):
                    (folder / LOCK_NAME).unlink()
                    folder.rmdir()
            os.close(fd)


def _folders(root: Path) -> list[Path]:
    try:
        return [p for p in root.iterdir() if p.is_dir()]
    except FileNotFoundError:
        return []


# Cumulative counts, shared by every process on the host.
TOTAL_FIELDS = ("spooled", "replayed", "replayed_new", "skipped", "refused_full")


def add_totals(root: Path, **increments: int) -> None:
    if not any(increments.values()):
        return
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / TOTALS_LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        totals = read_totals(root)
        for name, value in increments.items():
            totals[name] = totals.get(name, 0) + value
        tmp = root / (TOTALS_NAME + ".tmp")
        tmp.write_text(json.dumps(totals))
        os.replace(tmp, root / TOTALS_NAME)
    finally:
        os.close(fd)


def read_totals(root: Path) -> dict[str, int]:
    totals = dict.fromkeys(TOTAL_FIELDS, 0)
    try:
        stored: dict[str, Any] = json.loads((root / TOTALS_NAME).read_text())
    except (OSError, ValueError):
        return totals
    totals.update({k: int(v) for k, v in stored.items() if k in TOTAL_FIELDS})
    return totals


def spool_stats(root: Path) -> dict[str, int]:
    """What ``queue stats`` shows: cumulative counts and what waits on disk now."""
    stats = read_totals(root)
    segments = [s for folder in _folders(root) for s in segments_of(folder)]
    stats["pending_records"] = sum(count_records(s) for s in segments)
    stats["pending_bytes"] = sum(s.stat().st_size for s in segments if s.exists())
    stats["pending_segments"] = len(segments)
    return stats
