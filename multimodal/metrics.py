"""Tagging scores: how many of an image's top generated tags are among its real tags; and the
collapse measures reported beside them (D's use of the image, the spread of one image's samples).

Ground truth = the image's user tags plus its concept annotations, as words (paper §4.2 counts
annotations as tags), whether or not they have a word vector: a method is not excused for
missing a tag it cannot produce. ``recall_in_vocabulary`` is the same recall against only the
tags that have a word vector (what a method decoding into that vocabulary could at best find).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import torch

from cgan.networks import TowerNet
from cgan.sampling import sampling_state
from multimodal.data import ImageSplit, TagData


def tag_scores(predicted: Sequence[Sequence[str]], truth: Sequence[Sequence[str]], top: int = 10,
               vocabulary: Collection[str] | None = None) -> dict:
    """Means over images of P@top = hits / top (with the standard error of that mean over the
    images) and R@top = hits / number of true tags, the
    fraction of images with at least one hit, and how many distinct words were predicted."""
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predictions for {len(truth)} images")
    hits = np.array([len(set(p[:top]) & set(t)) for p, t in zip(predicted, truth)], dtype=np.float64)
    sizes = np.array([max(len(set(t)), 1) for t in truth], dtype=np.float64)
    scores = {"images": len(truth), f"precision@{top}": float(np.mean(hits / top)),
              f"precision@{top}_se": float(np.std(hits / top, ddof=1) / np.sqrt(len(hits))) if len(hits) > 1 else 0.0,
              f"recall@{top}": float(np.mean(hits / sizes)), f"any_hit@{top}": float(np.mean(hits > 0)),
              "distinct_words": len({w for p in predicted for w in p[:top]})}
    if vocabulary is not None:
        known = [set(t) & set(vocabulary) for t in truth]
        ratios = [len(set(p[:top]) & k) / len(k) for p, k in zip(predicted, known) if k]
        scores[f"recall@{top}_in_vocabulary"] = float(np.mean(ratios)) if ratios else 0.0
    return scores


@torch.no_grad()
def condition_gap(discriminator: TowerNet, data: TagData, split: ImageSplit, seed: int = 0,
                  max_pairs: int = 5000) -> dict[str, float]:
    """D's mean output on real tags with their own image and with another image (each pair's
    image moved to a different one): if the two are equal, D ignores the image."""
    rng = np.random.default_rng(seed)
    pairs = rng.permutation(len(split.pair_image))[:max_pairs]
    images, words = split.pair_image[pairs], split.pair_word[pairs]
    others = (images + rng.integers(1, len(split), len(images))) % len(split)  # never the own image
    device = next(discriminator.parameters()).device
    vectors = torch.from_numpy(data.word_vectors[words]).to(device)

    def mean_output(image_positions: np.ndarray) -> float:
        features = torch.from_numpy(data.features[split.rows[image_positions]]).to(device)
        return torch.sigmoid(discriminator(vectors, features)).mean().item()

    with sampling_state(discriminator, "deterministic", seed):  # D as it judges: no dropout
        return {"d_matched": mean_output(images), "d_mismatched": mean_output(others)}


def sample_cosine(samples: torch.Tensor) -> float:
    """Mean pairwise cosine among the samples of each image of (images, n, d), averaged over images."""
    unit = torch.nn.functional.normalize(samples.float(), dim=-1)
    n = unit.shape[1]
    if n < 2:
        return 1.0
    gram = unit @ unit.transpose(1, 2)
    return float(((gram.sum(dim=(1, 2)) - gram.diagonal(dim1=1, dim2=2).sum(dim=1)) / (n * (n - 1))).mean())
