"""Real MNIST training digits scored as if a generator had drawn them: Table 1's reference row.

Samples: 1,000 training digits of each class (the config's eval.samples_per_class), drawn with a
fixed seed from training images 0-49,999 only, so the validation images (50,000-59,999, whose
first 1,000 choose sigma) are never among them. They are scored as a generator's samples are
(unimodal.parzen.parzen_protocol with the config's eval settings): sigma chosen on the validation
images, then the mean log-likelihood of the 10,000 test images ± its standard error.

Beside it, the same digits moved 10% of the way toward their class's mean image: samples less like
real digits that score higher, i.e. the Parzen window rewards samples pulled toward a class mode.

Example: python -m unimodal.real_reference      -> results/mnist/real_reference.json
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np

from cgan.cli import positive_int, run_cli, set_threads
from cgan.runs.files import write_json
from cgan.runs.paths import REPO_ROOT, portable
from cgan.runs.provenance import provenance
from unimodal.mnist_data import N_TRAIN, MnistSplits, load_mnist
from unimodal.parzen import parzen_protocol
from unimodal.settings import NUM_CLASSES, MnistExperiment, load_experiment

DEFAULT_CONFIG = REPO_ROOT / "experiments" / "mnist" / "mnist_cgan.yaml"
DEFAULT_OUT = REPO_ROOT / "results" / "mnist" / "real_reference.json"
SHRINK = 0.1  # fraction of the way from each digit to its class's mean image


def pick_real_digits(train_y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices into the training split (never the validation split): ``per_class`` distinct images
    of each class 0-9, drawn with ``seed``, class by class."""
    rng = np.random.default_rng(seed)
    return np.concatenate([np.sort(rng.choice(np.flatnonzero(train_y == digit), per_class, replace=False))
                           for digit in range(NUM_CLASSES)])


def shrink_to_class_mean(samples: np.ndarray, labels: np.ndarray, fraction: float) -> np.ndarray:
    """Each sample moved ``fraction`` of the way toward the mean of its class's samples."""
    out = samples.copy()
    for digit in np.unique(labels):
        rows = labels == digit
        out[rows] = (1 - fraction) * samples[rows] + fraction * samples[rows].mean(axis=0)
    return out


def real_reference(splits: MnistSplits, cfg: MnistExperiment, seed: int) -> dict:
    """The Parzen protocol of ``cfg`` on real training digits (and on them shrunk toward their class
    mean), with which digits were drawn."""
    index = pick_real_digits(splits.train_y, cfg.eval.samples_per_class, seed)
    samples, labels = splits.train_x[index], splits.train_y[index]
    valid = splits.valid_x[: cfg.eval.valid_images]

    def score(images: np.ndarray) -> dict:
        return vars(parzen_protocol(images, valid, splits.test_x, cfg.eval.sigmas()))

    return {
        "samples": {"split": f"training images 0-{N_TRAIN - 1:,} (validation images never drawn)",
                    "per_class": cfg.eval.samples_per_class, "seed": seed,
                    "indices_sha256": hashlib.sha256(index.astype(np.int64).tobytes()).hexdigest()},
        "protocol": {"valid_images": cfg.eval.valid_images, "sigmas": cfg.eval.sigmas().tolist(),
                     "test_images": len(splits.test_x)},
        "parzen": score(samples),
        "shrunk_to_class_mean": {"fraction": SHRINK, "parzen": score(shrink_to_class_mean(samples, labels, SHRINK))},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unimodal.real_reference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG),
                        help="experiment YAML whose eval settings give the protocol (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the draw of the digits (default: the config's eval.seed)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="JSON file to write (default: %(default)s)")
    parser.add_argument("--data-root", help="folder with local copies of the data sets (default: $CGAN_DATA_ROOT)")
    parser.add_argument("--cache-dir", help="writable folder for downloads and caches")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch threads (default: all cores)")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    started = time.perf_counter()
    cfg = load_experiment(args.config)
    record = real_reference(load_mnist(args.data_root, args.cache_dir), cfg,
                            cfg.eval.seed if args.seed is None else args.seed)
    record["config"] = portable(args.config)
    record["provenance"] = {**provenance(), "wall_seconds": round(time.perf_counter() - started, 1)}
    out = Path(args.out)
    write_json(record, out)
    p, shrunk = record["parzen"], record["shrunk_to_class_mean"]["parzen"]
    print(f"real training digits: {p['mean']:.1f} +- {p['std_error']:.1f} nats (sigma {p['sigma']:.3f}); "
          f"shrunk {SHRINK:.0%} toward their class mean: {shrunk['mean']:.1f} +- {shrunk['std_error']:.1f} -> {out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
