"""Shipped weights: safetensors files with their config in the metadata and a ``.sha256`` beside.

The one exception to "checkpoints are never committed" (weights/): G only, plus whatever a user
needs to run it, loadable without pickle (no code runs from a file) and checked against its
digest, so that a damaged or swapped file is a clear error, never silently wrong samples.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from cgan.errors import UserFacingError
from cgan.runs.digest import sha256

# Each pipeline's weights and how to load them, for the error when a file reaches the other's loader.
LOADERS = {"MNIST": "unimodal.load_generator (or python -m unimodal.generate)",
           "Flickr tagging": "multimodal.load_tagger (or python -m multimodal.tag)"}


def pipeline_of(metadata: dict[str, Any]) -> str | None:
    """Which pipeline wrote a weights file, told by the keys of the config in its metadata."""
    config = metadata.get("config")
    if not isinstance(config, dict):
        return None
    if "word_dim" in config:
        return "Flickr tagging"
    return "MNIST" if "conditional" in config else None


def write_weights(tensors: dict[str, torch.Tensor], metadata: dict[str, Any], out: str | Path) -> dict:
    """Write ``tensors`` (contiguous copies) and ``metadata`` (each value stored as JSON) to
    ``out`` and its digest to ``<out>.sha256``; returns {'file', 'sha256', 'bytes'}."""
    from safetensors.torch import save_file

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out),
              metadata={key: json.dumps(value) for key, value in metadata.items()})
    digest = sha256(out)
    out.with_name(out.name + ".sha256").write_text(f"{digest}  {out.name}\n")
    return {"file": out.name, "sha256": digest, "bytes": out.stat().st_size}


def read_weights(path: str | Path, required: tuple[str, ...] = (), pipeline: str | None = None
                 ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, metadata) of a weights file, after checking it against ``<path>.sha256`` when
    that file exists; a file of another ``pipeline`` (a key of LOADERS) or ``required`` metadata
    keys missing is an error that says what to do."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    if not path.is_file():
        raise UserFacingError(f"weights file {path} does not exist")
    digest_file = path.with_name(path.name + ".sha256")
    if digest_file.is_file():
        expected = digest_file.read_text().split()[0] if digest_file.read_text().split() else ""
        if sha256(path) != expected:
            raise UserFacingError(f"{path} does not match its digest in {digest_file.name}: the file is damaged or "
                                  "was replaced; download or export it again")
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise UserFacingError(f"{path} is not a readable safetensors file ({error})") from None
    try:
        metadata = {key: json.loads(value) for key, value in raw.items()}
    except json.JSONDecodeError:
        metadata = dict(raw)
    found = pipeline_of(metadata)
    if pipeline is not None and found is not None and found != pipeline:
        raise UserFacingError(f"{path} holds a generator of the {found} pipeline, not of the {pipeline} one: "
                              f"load it with {LOADERS[found]}")
    missing = [key for key in required if key not in metadata]
    if missing:
        raise UserFacingError(f"{path} lacks {', '.join(missing)} in its metadata: it was not written by this "
                              "repository's export command")
    return tensors, metadata
