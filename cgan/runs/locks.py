"""One process at a time per run folder: an OS file lock that the kernel releases when its holder
exits, however it exits (a kill -9 included), so that a lock never outlives its process.

Two trainings writing one run directory would interleave their checkpoints silently; the second
is refused instead, with a message naming the holder.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
from pathlib import Path

from cgan.errors import UserFacingError

LOCK_NAME = ".lock"


class FolderLock:
    """``with FolderLock(folder, "training"):`` holds an exclusive lock on ``folder``."""

    def __init__(self, folder: str | Path, purpose: str):
        self.folder, self.purpose = Path(folder), purpose
        self.handle = None

    def __enter__(self) -> FolderLock:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self.folder / LOCK_NAME, "a+")
        except OSError as error:
            raise UserFacingError(f"cannot use {self.folder} for {self.purpose} ({error.strerror}); make it "
                                  "writable or choose another folder") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _describe_holder(handle.read())
            handle.close()
            raise UserFacingError(f"{self.folder} is in use by {holder}; wait for it to finish (or stop it), "
                                  "or use another run folder") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "purpose": self.purpose,
                                 "command": " ".join(sys.argv[:4])}))
        handle.flush()
        self.handle = handle
        return self

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


def holder_note(text: str) -> dict | None:
    """The note a lock's holder wrote into the lock file (pid, host, purpose, command), or None
    when the file holds none (never locked, or written by something else)."""
    try:
        info = json.loads(text)
        return {"pid": int(info["pid"]), "host": info["host"], "purpose": info["purpose"], "command": info["command"]}
    except (ValueError, KeyError, TypeError):
        return None


def _describe_holder(text: str) -> str:
    info = holder_note(text)
    if info is None:
        return "another process"
    return f"process {info['pid']} on {info['host']} ({info['purpose']}: {info['command']})"
