"""Generator noise distributions named in the paper and the GAN code."""

from __future__ import annotations

import math

import torch

NOISE_KINDS = ("unit_uniform", "symmetric_uniform", "gaussian")


def sample_noise(kind: str, count: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """unit_uniform: U[0,1]^d (paper §4.1); symmetric_uniform: U[-sqrt3, sqrt3]^d (GAN code,
    unit variance); gaussian: N(0, I) (paper §4.2)."""
    device = generator.device  # drawn where the generator lives: no copy from the host on a GPU
    if kind == "unit_uniform":
        return torch.rand(count, dim, generator=generator, device=device)
    if kind == "symmetric_uniform":
        return (torch.rand(count, dim, generator=generator, device=device) * 2 - 1) * math.sqrt(3.0)
    if kind == "gaussian":
        return torch.randn(count, dim, generator=generator, device=device)
    raise ValueError(f"unknown noise kind {kind!r}; choose one of {NOISE_KINDS}")
