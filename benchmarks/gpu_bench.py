"""The GPU's figures (when torch sees one): updates/s of one MNIST CGAN and of stacks of 3 and 8,
the minutes the faithful schedule would take, and the Table-1 Parzen protocol's time on the GPU.

Run: python -m benchmarks.gpu_bench   (prints JSON; `python -m benchmarks.run --only gpu` writes
results/bench/bench-<gpu>.md). Without a GPU it says so and measures nothing.
"""

import time

import numpy as np
import torch

from benchmarks import bench_main
from benchmarks.training_bench import gpu_run
from unimodal.parzen import DEFAULT_SIGMAS, best_sigma, parzen_log_likelihood


def parzen_seconds(n_samples: int = 10000, n_valid: int = 1000, n_test: int = 10000, dim: int = 784) -> dict:
    """The protocol on the GPU, on random data of MNIST's size: sigma chosen on the validation
    images, then the test set scored."""
    rng = np.random.default_rng(0)
    samples, valid, test = (rng.random((n, dim), dtype=np.float32) for n in (n_samples, n_valid, n_test))
    best_sigma(samples, valid, DEFAULT_SIGMAS, device="cuda")  # warm-up: CUDA context, kernels
    torch.cuda.synchronize()
    started = time.perf_counter()
    sigma, _ = best_sigma(samples, valid, DEFAULT_SIGMAS, device="cuda")
    selected = time.perf_counter()
    parzen_log_likelihood(samples, test, sigma, device="cuda")
    torch.cuda.synchronize()
    return {"parzen_sigma_selection_seconds": selected - started,
            "parzen_test_seconds": time.perf_counter() - selected}


def run(config: str = "experiments/mnist_cgan.yaml") -> dict:
    if not torch.cuda.is_available():
        return {"cuda": "no GPU seen by torch on this machine"}
    return {"config": config, **gpu_run(config), **parzen_seconds()}


if __name__ == "__main__":
    raise SystemExit(bench_main(run, __doc__, "python -m benchmarks.gpu_bench"))
