"""Train an MNIST adversarial net from a config, then evaluate its best checkpoint.

Resumable: run the same command again after an interruption and it continues from the last
checkpoint in runs/<name>/ (pass --fresh to discard it).

Several seeds in one process: --seeds 1 2 3 trains them as one stack (cgan.stacked), each in
runs/<name>-seed<S>/ with its results in <results_dir>/<name>/seed<S>/: what a separate run with
--set seed=S --set name=<name>-seed<S> gives (to float rounding; bit for bit on the CPU here).
The config's own seed, when listed, keeps the config's name (runs/<name>/, Table 1's row of that
configuration), so --seeds 1234 1 2 trains a headline row and its two other seeds.

A longer run can start from a shorter one of the same settings: --continue-from runs/mnist_gan
(with experiments/mnist/mnist_gan_open.yaml) copies that run's checkpoints and trains on from there.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

from cgan.adversarial import AdversarialTrainer
from cgan.cli import experiment_parser, run_cli, set_threads
from cgan.config import to_dict
from cgan.runs.continuation import start_from_run
from cgan.runs.paths import cache_dir
from cgan.stacked import StackedTrainer
from cgan.sweeps.target import SweepTarget
from cgan.training import ShuffledBatches, pick_device
from unimodal.evaluate import evaluate_and_write
from unimodal.mnist_data import MnistSplits, load_mnist
from unimodal.settings import (
    MnistExperiment,
    build_networks,
    load_experiment,
    one_hot,
    run_identity,
    seed_configs,
)
from unimodal.validation import validation_score


def make_batches(cfg, splits) -> ShuffledBatches:
    images = torch.from_numpy(splits.train_x[: cfg.train_images])
    labels = one_hot(splits.train_y[: cfg.train_images]) if cfg.conditional else None

    def fetch(indices):
        index = torch.from_numpy(indices)
        return images[index], (None if labels is None else labels[index])

    return ShuffledBatches(len(images), fetch, cfg.train.batch_size, cfg.seed)


def make_trainer(cfg: MnistExperiment, splits: MnistSplits, run_dir: Path, progress: bool | None = None,
                 after_epoch=None) -> AdversarialTrainer:
    """The trainer of one run of ``cfg`` in ``run_dir`` (not started)."""
    generator, discriminator = build_networks(cfg, splits.train_x[: cfg.train_images])
    return AdversarialTrainer(
        generator, discriminator, make_batches(cfg, splits), cfg.train, cfg.objective, run_dir, cfg.seed,
        evaluate=validation_score(generator, cfg, splits.valid_x, splits.valid_y), identity=run_identity(cfg),
        config=to_dict(cfg), progress=progress, device=pick_device(cfg.device), after_epoch=after_epoch)


def train_run(cfg: MnistExperiment, splits: MnistSplits, run_dir: Path, progress: bool | None = None,
              after_epoch=None) -> AdversarialTrainer:
    """Train (or resume, or find finished) one run of ``cfg`` in ``run_dir``."""
    trainer = make_trainer(cfg, splits, run_dir, progress, after_epoch)
    trainer.fit()
    return trainer


def sweep_trial(cfg: MnistExperiment, run_dir: Path, after_epoch, data_root: str | None = None,
                cache_dir: str | None = None, progress: bool | None = None) -> list[dict]:
    """One trial of a hyper-parameter sweep (cgan.sweeps.study): a run of ``cfg`` in ``run_dir``; its
    history's 'score' is the validation Parzen score in the configured sampling mode."""
    return train_run(cfg, load_mnist(data_root, cache_dir), run_dir, progress, after_epoch).history


SWEEP_TARGET = SweepTarget(load=load_experiment, train=sweep_trial, command="python -m unimodal.train",
                           pipeline="unimodal")


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser(
        "experiments/mnist/mnist_cgan.yaml", prog="python -m unimodal.train", description=__doc__)
    parser.add_argument("--fresh", action="store_true", help="delete runs/<name>/ and start over")
    parser.add_argument("--no-evaluate", action="store_true",
                        help="skip the Table 1 evaluation after training")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="per-epoch progress bar (default: when stderr is a terminal)")
    parser.add_argument("--seeds", type=int, nargs="+", metavar="S",
                        help="train these seeds together in one process, each in runs/<name>-seed<S>/ "
                             "(the config's own seed in runs/<name>/)")
    parser.add_argument("--continue-from", metavar="RUN_DIR",
                        help="start from another run folder's checkpoints when this run has none yet, e.g. "
                             "mnist_gan_open from runs/mnist_gan (the same epochs: the budget is not part of "
                             "a run's settings); refused if any setting that shapes the weights differs; with --fresh, this "
                             "run's own checkpoints are deleted first")
    args = parser.parse_args(argv)
    if args.continue_from and args.seeds:
        parser.error("--continue-from starts one run; it cannot be combined with --seeds")
    cfg = load_experiment(args.config, args.overrides)
    cfg.route_tryout_results(args.overrides, args.write_results)
    set_threads(args.threads or cfg.threads)
    configs = seed_configs(cfg, args.seeds) if args.seeds else [cfg]
    for member in configs:
        if args.fresh and member.run_root.exists():
            shutil.rmtree(member.run_root)
    if args.continue_from:
        start_from_run(args.continue_from, cfg.run_root, run_identity(cfg))
    splits = load_mnist(args.data_root, args.cache_dir)
    if args.seeds:
        StackedTrainer([make_trainer(member, splits, member.run_root, args.progress) for member in configs]).fit()
    else:
        train_run(cfg, splits, cfg.run_root, args.progress)
    if not args.no_evaluate:
        for member in configs:
            evaluate_and_write(member, splits, member.run_root, cache_dir(args.cache_dir))
    return 0


if __name__ == "__main__":
    run_cli(main)
