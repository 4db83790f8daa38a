"""Collapse diagnostics for MNIST generators, reported beside every Parzen number, because a
Parzen score cannot tell a generator that ignores its noise from one that does not.

- within-class diversity: the mean pairwise distance between samples of one class, divided by the
  same for real test images of that class (1 = as varied as real digits, 0 = one image repeated);
- Frechet distance between samples and test images in a feature space (here the penultimate layer
  of this repository's MNIST classifier; not the Inception network of FID), per class and overall.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import linalg

from unimodal.classifier import conditional_accuracy, penultimate_features, predict


def mean_pairwise_distance(x: np.ndarray | torch.Tensor) -> float:
    """Mean Euclidean distance over all pairs of distinct rows."""
    x = torch.as_tensor(x, dtype=torch.float64)
    n = len(x)
    if n < 2:
        raise ValueError("need at least two rows for a pairwise distance")
    return float(torch.cdist(x, x).sum() / (n * (n - 1)))


def within_class_diversity(samples: np.ndarray, labels: np.ndarray, real: np.ndarray, real_labels: np.ndarray,
                           max_per_class: int = 1000) -> dict[str, float]:
    """Per class (keys '0'..'9') and their 'mean': samples' pairwise distance over real images'."""
    per_class = {}
    for c in np.unique(labels):
        mine, theirs = samples[labels == c][:max_per_class], real[real_labels == c][:max_per_class]
        if len(mine) >= 2:  # an unconditional generator may draw a class once or never
            per_class[str(int(c))] = mean_pairwise_distance(mine) / mean_pairwise_distance(theirs)
    return {**per_class, "mean": float(np.mean(list(per_class.values())))}


def frechet_from_moments(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2)): the Frechet (2-Wasserstein)
    distance between two Gaussians."""
    with warnings.catch_warnings():  # few samples in many dimensions: singular, still well defined
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = np.real(linalg.sqrtm(cov1 @ cov2))  # rounding can leave a tiny imaginary part
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(root))


def frechet_distance(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two sets of feature rows."""
    a, b = (np.asarray(x, dtype=np.float64) for x in (a, b))
    return max(0.0, frechet_from_moments(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)))


def frechet_by_class(features: np.ndarray, labels: np.ndarray, real_features: np.ndarray,
                     real_labels: np.ndarray) -> dict[str, float]:
    """Per class (keys '0'..'9'), 'mean' over classes, and 'overall' (all samples vs all images)."""
    per_class = {str(int(c)): frechet_distance(features[labels == c], real_features[real_labels == c])
                 for c in np.unique(labels) if np.sum(labels == c) >= 2}
    return {**per_class, "mean": float(np.mean(list(per_class.values()))),
            "overall": frechet_distance(features, real_features)}


def diagnose(samples: np.ndarray, labels: np.ndarray | None, classifier, real_x: np.ndarray, real_y: np.ndarray,
             real_features: np.ndarray) -> dict:
    """Every collapse diagnostic of one set of samples against real images (the test images for
    Table 1, validation images for ablations): conditional accuracy (when ``labels`` condition the
    samples), within-class diversity and the Frechet distance in ``classifier``'s penultimate
    features; classes of unconditional samples are the classifier's."""
    result = {}
    if labels is not None:
        result["conditional_accuracy"] = conditional_accuracy(classifier, samples, labels)
    classes = labels if labels is not None else predict(classifier, samples).numpy()
    result["diversity"] = within_class_diversity(samples, classes, real_x, real_y)
    result["frechet"] = frechet_by_class(penultimate_features(classifier, samples).numpy(), classes,
                                         real_features, real_y)
    return result
