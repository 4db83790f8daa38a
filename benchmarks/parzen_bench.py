"""Time the full Table-1 Parzen protocol on random data of MNIST's size.

Run: python -m benchmarks.parzen_bench   (prints JSON)
"""

import time

import numpy as np
import torch

from benchmarks import bench_main
from unimodal.parzen import DEFAULT_SIGMAS, parzen_log_likelihood, select_sigma


def _timed(fn, *args, **kwargs):
    """(result of fn(*args, **kwargs), wall-clock seconds)."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def run(n_samples=10000, n_valid=1000, n_test=10000, dim=784, seed=0, device=None) -> dict:
    """Seconds for sigma selection (10 sigmas on valid) and for scoring test, on ``device``
    (default: the CPU). Both return host values, so a GPU's work is finished when timed.

    The two steps are what parzen_protocol does, timed separately.
    """
    rng = np.random.default_rng(seed)
    samples, valid, test = (rng.random((n, dim)) for n in (n_samples, n_valid, n_test))
    sigma, select_s = _timed(select_sigma, samples, valid, DEFAULT_SIGMAS, device=device)
    _, test_s = _timed(parzen_log_likelihood, samples, test, sigma, device=device)
    return {
        "seconds": select_s + test_s,
        "sigma_selection_seconds": select_s,
        "test_seconds": test_s,
        "threads": torch.get_num_threads(),
    }


if __name__ == "__main__":
    raise SystemExit(bench_main(run, __doc__, "python -m benchmarks.parzen_bench"))
