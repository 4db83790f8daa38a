"""The GPU's figures (when torch sees one): updates/s of one MNIST CGAN and of stacks of 3 and 8,
the minutes the faithful schedule would take, and the Table-1 Parzen protocol's time on the GPU.

Run: python -m benchmarks.gpu_bench   (prints JSON; `python -m benchmarks.run --only gpu` writes
results/bench/bench-<gpu>.md). Without a GPU it says so and measures nothing.
"""

import torch

from benchmarks import bench_main, parzen_bench
from benchmarks.training_bench import gpu_run


def parzen_seconds() -> dict:
    """The Table-1 protocol's time on the GPU (benchmarks.parzen_bench, on the GPU), after a
    warm-up that pays for the CUDA context and kernels."""
    parzen_bench.run(n_samples=1000, n_valid=100, n_test=100, device="cuda")
    return {f"parzen_{key}": value for key, value in parzen_bench.run(device="cuda").items() if key != "threads"}


def run(config: str = "experiments/mnist/mnist_cgan.yaml") -> dict:
    if not torch.cuda.is_available():
        return {"cuda": "no GPU seen by torch"}
    return {"config": config, **gpu_run(config), **parzen_seconds()}


if __name__ == "__main__":
    raise SystemExit(bench_main(run, __doc__, "python -m benchmarks.gpu_bench"))
