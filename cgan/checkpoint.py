"""Checkpoints that are never half-written: save to a temporary file, then rename over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cgan.errors import UserFacingError
from cgan.files import atomic_write


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """torch.save ``state`` to ``path`` atomically (a kill leaves the old file or the new one)."""
    atomic_write(Path(path), lambda handle: torch.save(state, handle))


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint``, with a clear error if it is unusable."""
    path = Path(path)
    if not path.is_file():
        raise UserFacingError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # noqa: BLE001 - any unpickling failure means the same thing
        raise UserFacingError(
            f"checkpoint {path} cannot be read ({type(error).__name__}: {error}); "
            "delete it to start that run afresh"
        ) from None
