"""Samples of an MNIST generator, in either sampling mode (cgan.sampling), batch by batch."""

from __future__ import annotations

import numpy as np
import torch

from cgan.networks import TowerNet
from cgan.noise import sample_noise
from cgan.sampling import sampling_state
from unimodal.settings import NUM_CLASSES, MnistExperiment, one_hot


@torch.no_grad()
def generate(generator: TowerNet, cfg: MnistExperiment, labels: np.ndarray | None, count: int,
             seed: int, mode: str = "deterministic", batch_size: int = 1000,
             z: np.ndarray | None = None) -> np.ndarray:
    """``count`` samples (float32, (count, 784)); ``labels`` condition them. Noise (and, in the
    'dropout' mode, dropout masks) come from their own sources seeded with ``seed``, unless the
    noise ``z`` (count, noise_dim) is given."""
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    out = []
    with sampling_state(generator, mode, seed):
        for start in range(0, count, batch_size):
            n = min(batch_size, count - start)
            noise = (sample_noise(cfg.objective.noise, n, cfg.objective.noise_dim, rng) if z is None
                     else torch.as_tensor(z[start:start + n], dtype=torch.float32))
            y = None if labels is None else one_hot(labels[start:start + n]).to(device)
            out.append(generator.sample(noise.to(device), y).cpu())
    return torch.cat(out).numpy()


def protocol_labels(cfg: MnistExperiment) -> tuple[np.ndarray | None, int]:
    """Table 1 draws 1,000 samples per class for the conditional model, 10,000 otherwise."""
    if not cfg.conditional:
        return None, cfg.eval.unconditional_samples
    labels = np.repeat(np.arange(NUM_CLASSES), cfg.eval.samples_per_class)
    return labels, labels.size


def interpolation_noise(cfg: MnistExperiment, rows: int, steps: int, seed: int) -> np.ndarray:
    """(rows * steps, noise_dim): per row, ``steps`` points on the line between two noise draws."""
    rng = torch.Generator().manual_seed(seed)
    ends = sample_noise(cfg.objective.noise, 2 * rows, cfg.objective.noise_dim, rng).numpy().reshape(rows, 2, -1)
    t = np.linspace(0, 1, steps, dtype=np.float32)[None, :, None]
    return ((1 - t) * ends[:, :1] + t * ends[:, 1:]).reshape(rows * steps, -1)
