"""Collapse diagnostics: within-class diversity and the Frechet distance."""

import numpy as np
import pytest

from unimodal.diagnostics import (
    frechet_by_class,
    frechet_distance,
    frechet_from_moments,
    mean_pairwise_distance,
    within_class_diversity,
)


def test_pairwise_distance_of_known_points():
    assert mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    # three points on a line at 0, 1, 3: pairs 1, 3, 2
    assert mean_pairwise_distance(np.array([[0.0], [1.0], [3.0]])) == pytest.approx(2.0)


def test_diversity_is_zero_for_one_repeated_image_and_one_for_real_digits_against_themselves():
    rng = np.random.default_rng(0)
    real = rng.random((60, 784), dtype=np.float32)
    labels = np.repeat(np.arange(3), 20)
    repeated = np.repeat(real[[0, 20, 40]], 20, axis=0)  # each class one image, 20 times
    collapsed = within_class_diversity(repeated, labels, real, labels)
    assert collapsed["mean"] == pytest.approx(0.0, abs=1e-6) and set(collapsed) == {"0", "1", "2", "mean"}
    assert within_class_diversity(real, labels, real, labels)["mean"] == pytest.approx(1.0)
    doubled = within_class_diversity(2 * real, labels, real, labels)  # twice as spread out
    assert doubled["1"] == pytest.approx(2.0)


def test_frechet_distance_is_zero_for_identical_sets_and_matches_the_closed_form_for_gaussians():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(500, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # diagonal Gaussians: |mu1 - mu2|^2 + sum (s1 + s2 - 2 sqrt(s1 s2)) = sum (sqrt s1 - sqrt s2)^2 + ...
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert frechet_from_moments(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected)
    # from samples, the estimate approaches the closed form
    x = mu1 + rng.normal(size=(200_000, 3)) * np.sqrt(s1)
    y = mu2 + rng.normal(size=(200_000, 3)) * np.sqrt(s2)
    assert frechet_distance(x, y) == pytest.approx(expected, rel=0.02)


def test_frechet_by_class_reports_each_class_the_mean_and_overall():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(300, 3))
    labels = np.repeat(np.arange(3), 100)
    shifted = real + np.array([1.0, 0.0, 0.0]) * (labels[:, None] == 2)  # only class 2 is off, by 1
    scores = frechet_by_class(shifted, labels, real, labels)
    assert scores["0"] == pytest.approx(0.0, abs=1e-6) and scores["2"] == pytest.approx(1.0)
    assert scores["mean"] == pytest.approx(1 / 3) and scores["overall"] > 0
