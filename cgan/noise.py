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


def truncate(z: torch.Tensor, threshold: float, generator: torch.Generator, kind: str = "gaussian") -> torch.Tensor:
    """BigGAN's truncation trick (Brock et al. 2019), for sampling only: every entry of ``z`` whose
    magnitude exceeds ``threshold`` is drawn again from its distribution until none does."""
    z = z.clone()
    while (outside := z.abs() > threshold).any():
        z[outside] = sample_noise(kind, 1, int(outside.sum()), generator).flatten().to(z.device)
    return z
