"""Checkpoints that are never half-written: save to a temporary file, then rename over."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from cgan.errors import UserFacingError


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """torch.save ``state`` to ``path`` atomically (a kill leaves the old file or the new one)."""
    _atomic_write(Path(path), lambda handle: torch.save(state, handle))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint``, with a clear error if it is unusable."""
    path = Path(path)
    if not path.is_file():
        raise UserFacingError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - any unpickling failure means the same thing
        raise UserFacingError(
            f"checkpoint {path} cannot be read ({type(error).__name__}: {error}); "
            "delete it to start that run afresh"
        ) from None


def write_json(data: Any, path: str | Path) -> None:
    """Write JSON atomically, pretty-printed, so result files diff well."""
    text = json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"
    _atomic_write(Path(path), lambda handle: handle.write(text.encode()))
