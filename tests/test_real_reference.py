"""Table 1's reference row: real MNIST training digits scored as a generator's samples, under the
same Parzen protocol (unimodal.real_reference)."""

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tests.data_paths import mnist_root
from unimodal import real_reference
from unimodal.mnist_data import N_TRAIN, load_mnist
from unimodal.parzen import parzen_protocol
from unimodal.settings import load_experiment

pytestmark = pytest.mark.slow  # end to end: pytest -m "not slow" skips it

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "experiments" / "mnist" / "mnist_smoke.yaml"


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    return load_mnist(mnist_root(), tmp_path_factory.mktemp("cache"), progress=False)


def test_the_draw_takes_1000_training_digits_of_each_class_and_no_validation_image(splits):
    index = real_reference.pick_real_digits(splits.train_y, 1000, seed=2014)
    assert len(index) == 10000 and len(set(index)) == 10000  # distinct images
    assert index.max() < N_TRAIN == len(splits.train_x)  # the training split: images 0-49,999
    assert np.array_equal(np.bincount(splits.train_y[index], minlength=10), np.full(10, 1000))
    assert np.array_equal(index, real_reference.pick_real_digits(splits.train_y, 1000, seed=2014))  # fixed seed
    assert not np.array_equal(index, real_reference.pick_real_digits(splits.train_y, 1000, seed=1))
    validation = {hashlib.sha256(image.tobytes()).digest() for image in splits.valid_x[:1000]}  # sigma's images
    assert not any(hashlib.sha256(image.tobytes()).digest() in validation for image in splits.train_x[index])


def test_the_reference_is_the_parzen_protocol_on_those_digits(splits):
    cfg = load_experiment(SMOKE)
    cfg = dataclasses.replace(cfg, eval=dataclasses.replace(cfg.eval, samples_per_class=20, valid_images=100))
    small = dataclasses.replace(splits, test_x=splits.test_x[:500], test_y=splits.test_y[:500])
    record = real_reference.real_reference(small, cfg, seed=3)
    index = real_reference.pick_real_digits(splits.train_y, 20, seed=3)
    expected = parzen_protocol(splits.train_x[index], splits.valid_x[:100], small.test_x, cfg.eval.sigmas())
    assert record["parzen"] == vars(expected) and np.isfinite(record["parzen"]["mean"])
    assert record["parzen"]["n_samples"] == 200 and record["parzen"]["n_test"] == 500
    shrunk = record["shrunk_to_class_mean"]
    assert shrunk["fraction"] == real_reference.SHRINK and np.isfinite(shrunk["parzen"]["mean"])
    assert shrunk["parzen"]["mean"] != record["parzen"]["mean"]
    assert record["samples"]["indices_sha256"] == hashlib.sha256(index.astype(np.int64).tobytes()).hexdigest()


def test_shrinking_moves_each_digit_toward_its_class_mean_and_keeps_the_mean():
    rng = np.random.default_rng(0)
    samples, labels = rng.random((40, 784), dtype=np.float32), np.repeat(np.arange(4), 10)
    shrunk = real_reference.shrink_to_class_mean(samples, labels, 0.1)
    for digit in range(4):
        rows = labels == digit
        mean = samples[rows].mean(axis=0)
        assert np.allclose(shrunk[rows], 0.9 * samples[rows] + 0.1 * mean, atol=1e-6)
        assert np.allclose(shrunk[rows].mean(axis=0), mean, atol=1e-6)


def test_the_command_writes_the_row_with_its_provenance(splits, tmp_path):
    out = tmp_path / "real_reference.json"
    assert real_reference.main(["--config", str(SMOKE), "--out", str(out), "--data-root", mnist_root(),
                                "--cache-dir", str(tmp_path / "cache"), "--threads", "1"]) == 0
    record = json.loads(out.read_text())
    assert record["samples"]["per_class"] == 50 and record["samples"]["seed"] == 2014  # the config's eval.seed
    assert record["config"] == "experiments/mnist/mnist_smoke.yaml" and record["protocol"]["valid_images"] == 200
    assert record["parzen"]["n_samples"] == 500 and record["parzen"]["n_test"] == 10000
    assert np.isfinite(record["parzen"]["mean"]) and record["parzen"]["std_error"] > 0
    assert record["provenance"]["commit"] and record["provenance"]["wall_seconds"] > 0
