"""Using a trained MNIST generator from Python, without knowing its internals:

    from unimodal import load_generator
    G = load_generator("runs/mnist_cgan/best.pt")      # or a .safetensors file from export_generator
    images = G.sample(digits=[3, 7], n=16)              # (32, 28, 28) floats in [0, 1]

The traps this hides: the network returns logits (``sample`` applies the sigmoid), dropout
masks (sampling here follows the protocol, G without dropout, unless ``mode="dropout"``), and the
noise distribution the generator was trained with (read from its config).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cgan.config import from_dict
from cgan.errors import UserFacingError
from cgan.networks import TowerNet
from cgan.objective import stored_config
from cgan.runs.checkpoint import load_checkpoint
from cgan.runs.weights import read_weights, write_weights
from unimodal.sampling import generate
from unimodal.settings import NUM_CLASSES, MnistExperiment, build_networks


class MnistGenerator:
    """A trained generator, the config it was trained with and its training epoch (None when the
    file does not say)."""

    def __init__(self, network: TowerNet, config: MnistExperiment, epoch: int | None = None):
        self.network, self.config, self.epoch = network.eval(), config, epoch

    @property
    def conditional(self) -> bool:
        return self.config.conditional

    def __repr__(self) -> str:
        kind = "conditional" if self.conditional else "unconditional"
        return (f"MnistGenerator({self.config.name!r}, {kind}, noise {self.config.objective.noise} "
                f"of {self.config.objective.noise_dim} dims)")

    def sample(self, digits: list[int] | None = None, n: int = 10, seed: int = 0,
               mode: str = "deterministic") -> np.ndarray:
        """``n`` images of each digit in ``digits`` (default 0-9; an unconditional generator
        draws ``n`` images and takes no digits), as (count, 28, 28) pixel intensities in [0, 1].
        The same seed gives the same images."""
        if n < 1:
            raise ValueError("n must be at least 1")
        if not self.conditional:
            if digits is not None:
                raise ValueError("this generator is unconditional: it takes no digits")
            return generate(self.network, self.config, None, n, seed, mode).reshape(-1, 28, 28)
        digits = list(range(NUM_CLASSES)) if digits is None else list(digits)
        if not digits or any(d not in range(NUM_CLASSES) for d in digits):
            raise ValueError("digits must be one or more of 0-9")
        labels = np.repeat(np.array(digits), n)
        return generate(self.network, self.config, labels, labels.size, seed, mode).reshape(-1, 28, 28)


def generator_from_checkpoint(checkpoint: dict, source: str | Path) -> MnistGenerator:
    """The generator of an already loaded training checkpoint (best.pt, last.pt), built from the
    config the checkpoint stores; ``source`` names it in errors."""
    if checkpoint.get("config") is None:
        raise UserFacingError(f"{source} holds no config: it was written before checkpoints stored one; train "
                              "it again, or evaluate it with unimodal.evaluate and its YAML")
    return _build(checkpoint["config"], checkpoint["generator"], checkpoint.get("epoch"))


def _build(config: dict, state: dict, epoch: int | None) -> MnistGenerator:
    cfg = from_dict(MnistExperiment, stored_config(config))
    generator, _ = build_networks(cfg)
    generator.load_state_dict(state)
    return MnistGenerator(generator, cfg, epoch)


def load_generator(path: str | Path) -> MnistGenerator:
    """A generator from a training checkpoint (best.pt, last.pt) or an exported .safetensors file
    (checked against its .sha256 file when one lies beside it)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        tensors, meta = read_weights(path, required=("config",), pipeline="MNIST")
        return _build(meta["config"], {k: v.float() for k, v in tensors.items()}, meta.get("epoch"))
    return generator_from_checkpoint(load_checkpoint(path), path)


def export_generator(checkpoint: str | Path, out: str | Path, half: bool = False) -> dict:
    """Write the generator of a checkpoint (G only) as safetensors, its config in the metadata,
    and ``<out>.sha256``; returns {'file', 'sha256', 'bytes', 'dtype', 'epoch'}."""
    state = load_checkpoint(checkpoint)
    if state.get("config") is None:
        raise UserFacingError(f"{checkpoint} holds no config (written before checkpoints stored one)")
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.to(dtype) for k, v in state["generator"].items()}
    info = write_weights(tensors, {"config": state["config"], "epoch": state.get("epoch")}, out)
    return {**info, "dtype": str(dtype).split(".")[-1], "epoch": state.get("epoch")}
