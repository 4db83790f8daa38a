"""Generated word vectors for many images, batch by batch, and the tag lists decoded from them.

The image-feature tower of the generator gives the same output for every sample of an image,
so it runs once per image and its output is repeated for the noise samples (about 15x less
work for 4096-d features and 100 samples). Exact: when dropout is on during sampling, a
one-layer tower drops nothing (TowerNet never drops the condition input itself); a deeper
tower with dropout on runs per sample, as in training.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from cgan.networks import TowerNet
from cgan.noise import sample_noise, truncate
from cgan.sampling import sampling_modes, sampling_state
from multimodal.data import TagData
from multimodal.settings import FlickrExperiment
from multimodal.tag_decoder import TagDecoder, Vocabulary


@dataclass(frozen=True)
class Sampling:
    """How a generator network is sampled."""

    count: int  # vectors per image
    noise: str | None  # a cgan.noise kind; None = zero noise (the deterministic regressor)
    noise_dim: int
    dropout: bool  # the network's training-time dropout on while sampling
    truncation: float | None = None  # beyond the paper: |z| entries above it drawn again (BigGAN)


def cgan_samplings(cfg: FlickrExperiment) -> dict[str, Sampling]:
    """The generator sampled in each of its sampling modes (cgan.sampling), the configured
    mode (eval.sample_with_dropout) first: it picks the stopping point and the headline row."""
    return {mode: Sampling(cfg.eval.samples, cfg.objective.noise, cfg.objective.noise_dim, mode == "dropout",
                           cfg.eval.truncation)
            for mode in sampling_modes(cfg.generator, cfg.eval.sample_with_dropout)}


def regressor_samplings(cfg: FlickrExperiment) -> dict[str, Sampling]:
    """One vector per image suffices: 100 equal samples choose the same 20 words 100 times, and
    their top 10 by summed similarity are the 10 nearest words either way."""
    return {"deterministic": Sampling(1, None, cfg.objective.noise_dim, False)}


def make_decoder(cfg: FlickrExperiment, data: TagData, device: str | torch.device = "cpu") -> TagDecoder:
    """Decoding vocabulary: every word with a vector (paper), or only the training tags; the
    similarities are computed on ``device`` (the training device: no sample copies to the host)."""
    vocabulary = Vocabulary(data.word_vectors, data.words)
    if cfg.eval.vocabulary == "tags":
        vocabulary = vocabulary.restricted({data.words[i] for i in np.unique(data.train.pair_word)})
    return TagDecoder(vocabulary, cfg.eval.nearest, cfg.eval.top, device=device)


@torch.no_grad()
def iter_samples(net: TowerNet, features: np.ndarray | torch.Tensor, how: Sampling, seed: int,
                 batch_images: int = 64) -> Iterator[torch.Tensor]:
    """(images in batch, count, out) vectors per batch of images, in order, on the network's
    device. Noise and dropout masks come from their own generators seeded with ``seed`` (never
    the training streams)."""
    features = torch.as_tensor(features)
    device = next(net.parameters()).device
    shared = not how.dropout or len(net.condition_tower) <= 1
    rng = torch.Generator().manual_seed(seed)
    with sampling_state(net, "dropout" if how.dropout else "deterministic", seed):
        for start in range(0, len(features), batch_images):
            condition = features[start:start + batch_images].to(device, torch.float32)
            encoded = net.encode_condition(condition).repeat_interleave(how.count, dim=0) if shared else None
            condition = None if shared else condition.repeat_interleave(how.count, dim=0)
            rows = len(condition if encoded is None else encoded)
            if how.noise is None:
                z = torch.zeros(rows, how.noise_dim)
            else:
                z = sample_noise(how.noise, rows, how.noise_dim, rng)
                if how.truncation is not None:
                    z = truncate(z, how.truncation, rng, how.noise)
            vectors = net.sample(z.to(device), condition, encoded)
            yield vectors.view(-1, how.count, vectors.shape[-1])  # on the network's device
