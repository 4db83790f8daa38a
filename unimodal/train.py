"""Train an MNIST adversarial net from a config, then evaluate its best checkpoint.

Resumable: run the same command again after an interruption and it continues from the last
checkpoint in runs/<name>/ (pass --fresh to discard it).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

from cgan.cli import experiment_parser, run_cli, set_threads
from cgan.config import to_dict
from cgan.paths import cache_dir
from cgan.sweep_target import SweepTarget
from cgan.training import AdversarialTrainer, ShuffledBatches, pick_device
from unimodal.evaluate import evaluate_and_write
from unimodal.experiment import MnistExperiment, build_networks, load_experiment, one_hot, run_identity
from unimodal.mnist_data import MnistSplits, load_mnist
from unimodal.validation import validation_score


def make_batches(cfg, splits) -> ShuffledBatches:
    images = torch.from_numpy(splits.train_x[: cfg.train_images])
    labels = one_hot(splits.train_y[: cfg.train_images]) if cfg.conditional else None

    def fetch(indices):
        index = torch.from_numpy(indices)
        return images[index], (None if labels is None else labels[index])

    return ShuffledBatches(len(images), fetch, cfg.train.batch_size, cfg.seed)


def train_run(cfg: MnistExperiment, splits: MnistSplits, run_dir: Path, progress: bool | None = None,
              after_epoch=None) -> AdversarialTrainer:
    """Train (or resume, or find finished) one run of ``cfg`` in ``run_dir``."""
    generator, discriminator = build_networks(cfg, splits.train_x[: cfg.train_images])
    trainer = AdversarialTrainer(
        generator, discriminator, make_batches(cfg, splits), cfg.train, run_dir, cfg.seed,
        evaluate=validation_score(generator, cfg, splits.valid_x), identity=run_identity(cfg),
        config=to_dict(cfg), progress=progress, device=pick_device(cfg.device), after_epoch=after_epoch)
    trainer.fit()
    return trainer


def sweep_trial(cfg: MnistExperiment, run_dir: Path, after_epoch, data_root: str | None = None,
                cache_dir: str | None = None, progress: bool | None = None) -> list[dict]:
    """One trial of a hyper-parameter sweep (cgan.sweep): a run of ``cfg`` in ``run_dir``; its
    history's 'score' is the validation Parzen score in the configured sampling mode."""
    return train_run(cfg, load_mnist(data_root, cache_dir), run_dir, progress, after_epoch).history


SWEEP_TARGET = SweepTarget(load=load_experiment, train=sweep_trial, command="python -m unimodal.train")


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser(
        "experiments/mnist_cgan.yaml", prog="python -m unimodal.train", description=__doc__)
    parser.add_argument("--fresh", action="store_true", help="delete runs/<name>/ and start over")
    parser.add_argument("--no-evaluate", action="store_true",
                        help="skip the Table 1 evaluation after training")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="per-epoch progress bar (default: when stderr is a terminal)")
    args = parser.parse_args(argv)
    cfg = load_experiment(args.config, args.overrides)
    cfg.route_tryout_results(args.overrides, args.write_results)
    set_threads(args.threads or cfg.threads)
    run_dir = cfg.run_root
    if args.fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    splits = load_mnist(args.data_root, args.cache_dir)
    train_run(cfg, splits, run_dir, args.progress)
    if not args.no_evaluate:
        evaluate_and_write(cfg, splits, run_dir, cache_dir(args.cache_dir))
    return 0


if __name__ == "__main__":
    run_cli(main)
