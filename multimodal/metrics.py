"""Tagging scores: how many of an image's top generated tags are among its real tags.

Ground truth = the image's user tags plus its concept annotations, as words (paper §4.2 counts
annotations as tags), whether or not they have a word vector: a method is not excused for
missing a tag it cannot produce. ``recall_in_vocabulary`` is the same recall against only the
tags that have a word vector (what a method decoding into that vocabulary could at best find).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np


def tag_scores(predicted: Sequence[Sequence[str]], truth: Sequence[Sequence[str]], top: int = 10,
               vocabulary: Collection[str] | None = None) -> dict:
    """Means over images of P@top = hits / top and R@top = hits / number of true tags, the
    fraction of images with at least one hit, and how many distinct words were predicted."""
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predictions for {len(truth)} images")
    hits = np.array([len(set(p[:top]) & set(t)) for p, t in zip(predicted, truth)], dtype=np.float64)
    sizes = np.array([max(len(set(t)), 1) for t in truth], dtype=np.float64)
    scores = {"images": len(truth), f"precision@{top}": float(np.mean(hits / top)),
              f"recall@{top}": float(np.mean(hits / sizes)), f"any_hit@{top}": float(np.mean(hits > 0)),
              "distinct_words": len({w for p in predicted for w in p[:top]})}
    if vocabulary is not None:
        known = [set(t) & set(vocabulary) for t in truth]
        ratios = [len(set(p[:top]) & k) / len(k) for p, k in zip(predicted, known) if k]
        scores[f"recall@{top}_in_vocabulary"] = float(np.mean(ratios)) if ratios else 0.0
    return scores
