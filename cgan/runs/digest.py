"""The one sha256 helper: data checksums, weight-file identities and the keys of cached stages."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def sha256(value: bytes | Path | Any, chunk: int = 1 << 20) -> str:
    """Hex sha256 of ``bytes``; of a file's contents for a ``Path`` (read in chunks, so a
    large weights file is never held in memory); of any other JSON-able value through its
    sorted-key JSON text (so equal settings give equal keys whatever their order)."""
    digest = hashlib.sha256()
    if isinstance(value, (bytes, bytearray, memoryview)):
        digest.update(value)
    elif isinstance(value, Path):
        with open(value, "rb") as handle:
            while block := handle.read(chunk):
                digest.update(block)
    else:
        digest.update(json.dumps(value, sort_keys=True, default=str).encode())
    return digest.hexdigest()
