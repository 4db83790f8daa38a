"""Train an MNIST adversarial net from a config, then evaluate its best checkpoint.

Resumable: run the same command again after an interruption and it continues from the last
checkpoint in runs/<name>/ (pass --fresh to discard it).
"""

from __future__ import annotations

import argparse
import shutil

import torch

from cgan.cli import experiment_parser, run_cli, set_threads
from cgan.paths import cache_dir
from cgan.training import AdversarialTrainer, ShuffledBatches, pick_device
from unimodal.evaluate import ValidationScore, evaluate_and_write, run_directory
from unimodal.experiment import build_networks, load_experiment, one_hot, run_identity
from unimodal.mnist_data import load_mnist


def make_batches(cfg, splits) -> ShuffledBatches:
    images = torch.from_numpy(splits.train_x[: cfg.train_images])
    labels = one_hot(splits.train_y[: cfg.train_images]) if cfg.conditional else None

    def fetch(indices):
        index = torch.from_numpy(indices)
        return images[index], (None if labels is None else labels[index])

    return ShuffledBatches(len(images), fetch, cfg.train.batch_size, cfg.seed)


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
    set_threads(args.threads or cfg.threads)
    run_dir = run_directory(cfg)
    if args.fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    splits = load_mnist(args.data_root, args.cache_dir)
    generator, discriminator = build_networks(cfg, splits.train_x[: cfg.train_images])
    trainer = AdversarialTrainer(
        generator, discriminator, make_batches(cfg, splits), cfg.train, run_dir, cfg.seed,
        evaluate=ValidationScore(generator, cfg, splits.valid_x), identity=run_identity(cfg),
        progress=args.progress, device=pick_device(cfg.device))
    trainer.fit()
    if not args.no_evaluate:
        evaluate_and_write(cfg, splits, run_dir, cache_dir(args.cache_dir))
    return 0


if __name__ == "__main__":
    run_cli(main)
