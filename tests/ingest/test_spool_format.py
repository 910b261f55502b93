"""The spool's segment format: framing, checksums, torn records, the size cap, and folders of
dead processes (no database needed)."""

from __future__ import annotations

import fcntl
import os
import struct
import zlib
from pathlib import Path

import pytest

from replydesk.ingest.spool import (
    HEADER,
    MAGIC,
    SpoolDir,
    SpooledEvent,
    SpoolFull,
    add_totals,
    adopt_orphans,
    count_records,
    read_segment,
    segments_of,
    spool_stats,
)
from tests.support.logs import LogCapture


def _event(n: int) -> SpooledEvent:
    return SpooledEvent(
        workspace_id="5f0c0000-0000-0000-0000-000000000001",
        provider="emailbison",
        event_type="EMAIL_SENT",
        dedupe_key=f"emailbison:ws:-:EMAIL_SENT:scheduled_email:{n}",
        status="pending",
        payload='{"event": {"type": "EMAIL_SENT"}, "text": "h\\u00e9llo ü"}',
        received_at="2026-12-02T01:00:00+00:00",
    )


def _segment(tmp_path: Path, records: list[bytes]) -> Path:
    path = tmp_path / "00000001.seg"
    path.write_bytes(b"".join(records))
    return path


def test_records_round_trip(tmp_path: Path) -> None:
    events = [_event(n) for n in range(5)]
    path = _segment(tmp_path, [e.encode() for e in events])
    read = read_segment(path)
    assert read.events == events and read.skipped == 0 and not read.torn_tail
    assert count_records(path) == 5
    assert read.events[0].payload == events[0].payload  # non-ASCII text kept as is


@pytest.mark.parametrize("cut", [1, HEADER.size - 1, HEADER.size, HEADER.size + 10, -1])
def test_a_torn_last_record_is_skipped_with_one_log_line(
    tmp_path: Path, log_capture: LogCapture, cut: int
) -> None:
    whole = [_event(n).encode() for n in range(3)]
    last = whole[-1]
    torn = last[: cut if cut > 0 else len(last) - 1]
    path = _segment(tmp_path, [*whole[:-1], torn])
    read = read_segment(path)
    assert [e.dedupe_key for e in read.events] == [_event(0).dedupe_key, _event(1).dedupe_key]
    assert read.skipped == 1 and read.torn_tail
    lines = [r for r in log_capture.records() if r["event"] == "spool_record_skipped"]
    assert len(lines) == 1 and lines[0]["level"] == "warning"
    assert "payload" not in lines[0] and "hllo" not in str(lines[0])


def test_a_bad_checksum_skips_that_record_only(tmp_path: Path) -> None:
    records = [bytearray(_event(n).encode()) for n in range(3)]
    records[1][-2] ^= 0xFF  # flip a payload byte: the length still frames it
    path = _segment(tmp_path, [bytes(r) for r in records])
    read = read_segment(path)
    assert [e.dedupe_key for e in read.events] == [_event(0).dedupe_key, _event(2).dedupe_key]
    assert read.skipped == 1 and not read.torn_tail


def test_garbage_header_ends_the_segment(tmp_path: Path) -> None:
    body = b'{"not": "a record"}'
    bad = struct.pack(">4sII", b"XXXX", len(body), zlib.crc32(body)) + body
    path = _segment(tmp_path, [_event(0).encode(), bad, _event(1).encode()])
    read = read_segment(path)
    assert [e.dedupe_key for e in read.events] == [_event(0).dedupe_key]
    assert read.torn_tail
    # A record whose checksum is right but whose content is not ours is skipped, not fatal.
    odd = struct.pack(">4sII", MAGIC, len(body), zlib.crc32(body)) + body
    path.write_bytes(odd + _event(3).encode())
    assert [e.dedupe_key for e in read_segment(path).events] == [_event(3).dedupe_key]


def test_appends_respect_the_cap_and_survive_a_reopen(tmp_path: Path) -> None:
    record = _event(0).encode()
    spool = SpoolDir(tmp_path / "spool", max_bytes=len(record) * 3)
    spool.append([record, _event(1).encode()])
    spool.append([_event(2).encode()])
    with pytest.raises(SpoolFull):
        spool.append([_event(3).encode()])
    sealed = spool.seal()
    assert [read_segment(s).events for s in sealed] == [[_event(0), _event(1), _event(2)]]
    # Replaying frees room: the next append goes to a new segment.
    spool.forget(sealed[0], sealed[0].stat().st_size)
    spool.append([_event(4).encode()])
    assert [s.name for s in spool.seal()] == ["00000002.seg"]
    assert spool_stats(tmp_path / "spool")["pending_records"] == 1
    spool.close()
    assert spool.folder.exists()  # a segment is left: the folder waits to be adopted


def test_folders_of_dead_processes_are_adopted_live_ones_are_not(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    mine = SpoolDir(root, max_bytes=1 << 20)
    alive = SpoolDir(root, max_bytes=1 << 20)  # another live process (its lock is held)
    alive.append([_event(1).encode()])
    dead = root / "99999-deadbeef"
    dead.mkdir()
    (dead / "lock").touch()
    (dead / "00000001.seg").write_bytes(_event(2).encode())
    with adopt_orphans(root, mine.folder) as orphans:
        assert orphans == [dead]
        # Locked while adopted: another process cannot take it at the same time.
        fd = os.open(dead / "lock", os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)
        for segment in segments_of(dead):
            segment.unlink()
    assert not dead.exists()  # emptied folders are removed
    assert alive.folder.exists()
    alive.close()
    mine.close()
    assert not mine.folder.exists()  # nothing spooled: nothing left behind


def test_totals_accumulate_across_writers(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    add_totals(root, spooled=3)
    add_totals(root, spooled=2, replayed=4, replayed_new=3)
    stats = spool_stats(root)
    assert (stats["spooled"], stats["replayed"], stats["replayed_new"]) == (5, 4, 3)
    assert stats["pending_records"] == 0
