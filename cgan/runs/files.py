"""Files that are never half-written (a temporary file beside the target, then a rename), and
the errors of a full disk or a read-only folder said in words, not tracebacks."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cgan.errors import UserFacingError

TEMP_SUFFIX = ".tmp"


def _explain(error: OSError, path: Path, what: str) -> UserFacingError:
    if error.errno == errno.ENOSPC:
        return UserFacingError(f"the disk holding {path.parent} is full while writing {what}; free some "
                               "space (or point the run/cache folder elsewhere) and run the same command again")
    if error.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
        return UserFacingError(f"cannot write {what} to {path.parent} ({error.strerror}); make the folder "
                               "writable or choose another (run_dir=..., --cache-dir), then run the same "
                               "command again")
    return UserFacingError(f"cannot write {what} to {path} ({error})")


def atomic_write(path: Path, write, what: str | None = None) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it over ``path``:
    a kill at any moment leaves the old file or the new one, never half of one."""
    what = what or path.name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    except OSError as error:
        raise _explain(error, path, what) from None
    try:
        os.chmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide results from the user's group
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise _explain(error, path, what) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it; set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_writable(folder: Path, what: str) -> None:
    """Refuse, before any work is done, a folder that cannot take the result of that work."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise _explain(error, folder / "probe", what) from None


def check_free_space(folder: Path, needed: int, what: str) -> None:
    """Refuse, with what to do, to start writing ``needed`` bytes where they do not fit."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed:
        raise UserFacingError(f"not enough free disk space for {what} in {folder}: {needed / 1e6:.1f} MB "
                              f"needed, {free / 1e6:.1f} MB free; free some space or choose another folder")


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete the temporary files that killed writes left in ``folder`` (call it only while
    holding the folder's lock, so that no live write is removed)."""
    stale = [p for p in folder.glob(f".*{TEMP_SUFFIX}") if p.is_file()] if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def write_json(data: Any, path: str | Path) -> None:
    """Write JSON atomically, pretty-printed, so result files diff well."""
    text = json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"
    atomic_write(Path(path), lambda handle: handle.write(text.encode()))
