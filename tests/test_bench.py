"""The benchmark's arithmetic (the timings themselves live in `make bench`, not in tests)."""

import pytest
import torch

from benchmarks.training_bench import headroom, optimizer_seconds


def test_headroom_splits_an_update_into_matmuls_optimizer_and_the_rest():
    # 3 GFLOP in 40 ms, 75 % of it in matmuls (30 ms), 3 ms of optimizer, peak 150 GFLOP/s.
    out = headroom(3.0, 0.040, 0.75, 0.003, 150.0)
    assert out["matmul_gflops_in_update"] == pytest.approx(100.0)
    assert out["fraction_of_peak_if_only_matmuls_and_optimizer"] == pytest.approx(3.0 / 0.033 / 150.0)
    assert out["other_seconds_now"] == pytest.approx(0.007)
    # 65 % of 150 GFLOP/s for 3 GFLOP is 30.8 ms: less than the matmuls and optimizer take -> negative budget
    assert out["other_seconds_allowed_for_65pct"] == pytest.approx(3.0 / 97.5 - 0.033)
    assert out["other_seconds_allowed_for_65pct"] < 0


def test_the_optimizer_pass_is_timed_on_the_papers_networks():
    assert 0 < optimizer_seconds("experiments/mnist/mnist_cgan.yaml", steps=2) < 1.0


def test_each_cpu_model_gets_its_own_bench_file():
    from benchmarks.run import machine_slug

    assert machine_slug("Intel(R) Xeon(R) Processor") == "intel-xeon-processor"
    assert machine_slug("AMD EPYC 7763 64-Core Processor") == "amd-epyc-7763-64-core-processor"
    assert machine_slug("") == "unknown-cpu"


def test_a_gpu_only_run_is_filed_under_the_gpu_and_says_so_without_one():
    from benchmarks.gpu_bench import run
    from benchmarks.run import bench_machine, machine_slug

    machine = {"cpu": "Intel(R) Xeon(R) Processor", "gpu": "NVIDIA H200"}
    assert bench_machine(machine, ["gpu"]) == "NVIDIA H200"
    assert bench_machine(machine, None) == bench_machine(machine, ["training", "gpu"]) == machine["cpu"]
    # Two machines a VM names alike are told apart by their vector unit.
    amd = {"cpu": "AMD EPYC"}
    assert machine_slug(bench_machine(amd, None, "AVX2")) == "amd-epyc-avx2"
    assert machine_slug(bench_machine(amd, ["training"], "AVX512")) == "amd-epyc-avx512"
    assert bench_machine({"cpu": "x"}, ["gpu"]) is None  # nothing measured: no CPU file overwritten
    if not torch.cuda.is_available():
        assert run() == {"cuda": "no GPU seen by torch"}


def test_masks_drawn_up_front_for_a_compiled_update_are_the_eager_updates_masks():
    """The compiled-update benchmark draws every dropout mask before its graph runs: uncompiled,
    that update must be the eager one bit for bit (same masks, same order), so that the compiled
    one differs from it by rounding only."""
    from benchmarks.training_bench import _compiled_losses_trainer, _trainer

    eager, eager_batches = _trainer("experiments/mnist/mnist_smoke.yaml")
    given, given_batches = _compiled_losses_trainer("experiments/mnist/mnist_smoke.yaml", compile_losses=False)
    for _ in range(3):
        eager.step(*next(eager_batches), 0.5)
        given.step(*next(given_batches), 0.5)
    assert all(torch.equal(a, b) for a, b in zip(eager.optimizer.params, given.optimizer.params, strict=True))
    assert given.masks.rng.bit_generator.state == eager.masks.rng.bit_generator.state
