"""The collection journal: one JSON line per finished configuration, fsynced before the next one starts.

    <work>/<key>.jsonl     {"kind": "header", ...}   what is being collected (model, space, settings)
                           {"kind": "session", ...}  one per start of the collector (date, load average)
                           {"kind": "config", ...}   one per finished configuration, feasible or not

A collector killed while writing leaves at most one incomplete last line; reading the journal cuts it off,
so that configuration is measured again. JSON only, never pickle.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from harness.traces import fsync_dir


class CollectError(RuntimeError):
    """A collection that cannot go on as asked; the message says why in one line."""


class Journal:
    """Append-only, fsynced JSON-lines record of one model's collection."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read(self, repair: bool = True) -> list[dict]:
        """Every complete record, in order; an incomplete last line (a killed writer) is cut off the file,
        unless `repair` is false (the journal of another writer, which may be appending to it now)."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        records, good = [], 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if good + len(line) == len(data):  # a torn last line
                    break
                raise CollectError(f"journal {self.path} is corrupted at byte {good}: "
                                   f"{line[:80]!r}") from None
            good += len(line)
        if repair and good < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())
        return records

    def append(self, record: dict[str, Any]) -> None:
        """Write one record and make it durable before returning."""
        line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
        new = not self.path.exists()
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        if new:  # the new directory entry must be durable too
            fsync_dir(self.path.parent)


class CollectLock:
    """An exclusive lock on one file of a trace set's work folder; the kernel drops it when the holder dies.

    Without `wait_s` a held lock is refused at once (a second collector on the same model and shard); with it,
    the lock is awaited that long (the short set-level lock that finishing writers take in turn).
    """

    def __init__(self, path: str | Path, wait_s: float | None = None):
        self.path = Path(path)
        self.wait_s = wait_s
        self._fd: int | None = None

    def __enter__(self) -> "CollectLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + (self.wait_s or 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                waited = f" (waited {self.wait_s:.0f} s)" if self.wait_s else ""
                raise CollectError(f"another collector (pid {holder}) holds {self.path}{waited}; "
                                   "wait for it or stop it") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
