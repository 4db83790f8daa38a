"""Parzen estimator: against a brute-force reference, batching, underflow, sigma choice."""

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from unimodal.parzen import (
    ParzenResult,
    _log_likelihood_from_sq_dists,
    best_sigma,
    parzen_log_likelihood,
    parzen_protocol,
    select_sigma,
)

SIGMAS = [0.01, 0.1, 1.0, 10.0]


def brute_force(samples, data, sigma):
    """Direct double loop over (point, sample) pairs in float64, scipy's logsumexp."""
    samples = np.asarray(samples, dtype=np.float64)
    out = []
    for x in np.asarray(data, dtype=np.float64):
        log_k = [-np.sum((x - mu) ** 2) / (2 * sigma**2) for mu in samples]
        out.append(logsumexp(log_k) - math.log(len(samples)))
    d = samples.shape[1]
    return np.array(out) - d * math.log(sigma * math.sqrt(2 * math.pi))


@pytest.fixture
def small():
    """7 samples and 5 points in 4 dims."""
    rng = np.random.default_rng(0)
    return rng.random((7, 4)), rng.random((5, 4))


@pytest.mark.parametrize("sigma", SIGMAS)
def test_matches_brute_force(small, sigma):
    samples, data = small
    got = parzen_log_likelihood(samples, data, sigma)
    assert got.dtype == np.float64 and got.shape == (5,)
    np.testing.assert_allclose(got, brute_force(samples, data, sigma), rtol=1e-9, atol=1e-9)


def test_accepts_torch_tensors(small):
    samples, data = small
    got = parzen_log_likelihood(torch.tensor(samples, dtype=torch.float32), torch.tensor(data), 0.3)
    want = brute_force(samples.astype(np.float32), data, 0.3)
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_batching_does_not_change_result(small):
    samples, data = small
    one = parzen_log_likelihood(samples, data, 0.2, batch_size=1)
    big = parzen_log_likelihood(samples, data, 0.2, batch_size=10_000)
    np.testing.assert_allclose(one, big, rtol=1e-12)


def test_stable_where_naive_exp_underflows():
    # Squared distances of ~1 with sigma=0.01 give exp(-5000): 0 in float64.
    samples = np.array([[0.0, 0.0], [1.0, 0.0]])
    data = np.array([[0.0, 1.0], [2.0, 2.0]])
    with np.errstate(divide="ignore"):
        naive = np.log(np.mean(np.exp(-((data[:, None] - samples[None]) ** 2).sum(-1) / 2e-4), 1))
    assert np.isneginf(naive).all()
    got = parzen_log_likelihood(samples, data, 0.01)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, brute_force(samples, data, 0.01), rtol=1e-12)


@pytest.mark.parametrize("sigma", [0.1, 0.3, 1.0])
def test_clamping_far_terms_gives_torch_logsumexp_bit_for_bit(sigma):
    """The kernel terms far below a row's largest are clamped at exp(-700) for speed; the result
    must still be torch.logsumexp's, to the last bit, also where most terms would be subnormal."""
    d2 = torch.from_numpy(np.random.default_rng(1).random((50, 3000)) * 400.0)
    d2[:, 0] = 0.5  # one near sample per row, the rest up to 1.6e7 sigma^2 / 2 away at sigma 0.1
    n, dim = d2.shape[1], 784
    want = torch.logsumexp(d2 / (-2.0 * sigma * sigma), dim=1) - math.log(n) \
        - dim * math.log(sigma * math.sqrt(2.0 * math.pi))
    assert torch.equal(_log_likelihood_from_sq_dists(d2.clone(), sigma, dim), want)


def test_sigma_choice_and_score_do_not_depend_on_the_batch_size():
    rng = np.random.default_rng(2)
    samples, valid = rng.random((300, 20)), rng.random((90, 20))
    assert best_sigma(samples, valid, batch_size=7) == best_sigma(samples, valid, batch_size=90)


@pytest.mark.parametrize("sigma", SIGMAS)
def test_single_sample_at_the_point_gives_normaliser(sigma):
    x = np.array([[0.3, 0.1, 0.9]])
    got = parzen_log_likelihood(x, x, sigma)
    np.testing.assert_allclose(got, [-3 * math.log(sigma * math.sqrt(2 * math.pi))], rtol=1e-12)


def test_select_sigma_picks_the_argmax(small):
    samples, data = small
    sigmas = np.logspace(-1, 0, 10)
    means = [brute_force(samples, data, s).mean() for s in sigmas]
    assert select_sigma(samples, data, sigmas) == sigmas[int(np.argmax(means))]


def test_select_sigma_is_not_the_edge_of_the_grid():
    # A grid where the best sigma lies inside, so picking the first or last would fail.
    rng = np.random.default_rng(1)
    samples, valid = rng.normal(size=(200, 3)), rng.normal(size=(100, 3))
    sigmas = np.logspace(-2, 1, 7)
    means = [parzen_log_likelihood(samples, valid, s).mean() for s in sigmas]
    best = int(np.argmax(means))
    assert 0 < best < len(sigmas) - 1
    assert select_sigma(samples, valid, sigmas) == sigmas[best]


def test_protocol_reports_mean_and_standard_error(small):
    samples, data = small
    rng = np.random.default_rng(2)
    test = rng.random((9, 4))
    result = parzen_protocol(samples, data, test)
    assert isinstance(result, ParzenResult)
    assert result.sigma == select_sigma(samples, data)
    ll = brute_force(samples, test, result.sigma)
    assert result.mean == pytest.approx(ll.mean(), rel=1e-12)
    assert result.std_error == pytest.approx(ll.std() / math.sqrt(9), rel=1e-9)
    assert result.valid_mean == pytest.approx(brute_force(samples, data, result.sigma).mean())
    assert (result.n_test, result.n_samples) == (9, 7)


@pytest.mark.parametrize(
    "call",
    [
        lambda s, d: parzen_log_likelihood(s, d, 0.0),
        lambda s, d: parzen_log_likelihood(s, d, -1.0),
        lambda s, d: parzen_log_likelihood(s, d, float("nan")),
        lambda s, d: parzen_log_likelihood(s, d[:, :3], 0.1),
        lambda s, d: parzen_log_likelihood(s[0], d, 0.1),
        lambda s, d: parzen_log_likelihood(s[:0], d, 0.1),
        lambda s, d: parzen_log_likelihood(s, d, 0.1, batch_size=0),
        lambda s, d: select_sigma(s, d, []),
        lambda s, d: select_sigma(s, d, [0.1, 0.0]),
    ],
)
def test_bad_input_raises_value_error(small, call):
    samples, data = small
    with pytest.raises(ValueError):
        call(samples, data)


def test_nan_input_raises_value_error(small):
    samples, data = small
    data = data.copy()
    data[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        parzen_log_likelihood(samples, data, 0.1)
