"""Checkpoints that are never half-written, never run code, and never load damaged.

A checkpoint file is a short header (a magic line and the sha256 of the payload) followed by the
payload, a ``torch.save`` of plain data and tensors. Loading checks the digest, then unpickles with
``weights_only=True``, which refuses anything but tensors and plain data: a crafted checkpoint
cannot execute code. Writing goes to a temporary file that is renamed over the target, so a kill
leaves the old file or the new one.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from cgan.errors import UserFacingError
from cgan.runs.digest import sha256
from cgan.runs.files import atomic_write, check_free_space

MAGIC = b"cgan-checkpoint v1 sha256="


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write ``state`` (tensors and plain data only) to ``path`` with its digest, atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    path = Path(path)
    check_free_space(path.parent, 2 * len(payload), f"checkpoint {path.name}")
    header = MAGIC + sha256(payload).encode() + b"\n"
    atomic_write(path, lambda handle: (handle.write(header), handle.write(payload)))


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint``, with a clear error if it is missing,
    damaged (its digest does not match), or holds anything but tensors and plain data."""
    path = Path(path)
    if not path.is_file():
        raise UserFacingError(f"checkpoint {path} does not exist")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UserFacingError(f"checkpoint {path} cannot be read ({error})") from None
    if raw.startswith(MAGIC):
        header, _, payload = raw.partition(b"\n")
        if header[len(MAGIC):].decode(errors="replace") != sha256(payload):
            raise UserFacingError(f"checkpoint {path} is damaged (its contents do not match the checksum "
                                  "written with it); delete it, or restore it from a copy")
    else:  # written before checkpoints carried a digest: still loaded safely, without the check
        payload = raw
    try:
        return torch.load(io.BytesIO(payload), map_location=device, weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure means the same thing
        # torch's wording around the unpickler's reason asks to file an issue: show the reason only
        _, marker, after = str(error).partition("WeightsUnpickler error:")
        lines = [line.strip() for line in (after if marker else str(error)).splitlines() if line.strip()]
        reason = lines[0] if lines else ""
        raise UserFacingError(
            f"checkpoint {path} cannot be read ({type(error).__name__}: {reason}); a checkpoint of this "
            "repository holds only tensors and plain data, so this one is damaged or not one of ours: "
            "if it is a run's last.pt or best.pt, delete it to start that run afresh"
        ) from None
