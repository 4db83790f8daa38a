"""Scoring MNIST generators: the per-epoch validation score that picks the stopping point, and
the paper's Table 1 protocol plus the conditional accuracy on the best checkpoint."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from cgan.checkpoint import load_checkpoint
from cgan.cli import add_common_args, run_cli, set_threads
from cgan.config import to_dict
from cgan.errors import UserFacingError
from cgan.files import write_json
from cgan.layers import TowerNet
from cgan.noise import sample_noise
from cgan.paths import REPO_ROOT, cache_dir
from cgan.provenance import provenance
from unimodal.classifier import accuracy, conditional_accuracy, load_or_train_classifier
from unimodal.experiment import NUM_CLASSES, MnistExperiment, build_networks, load_experiment, one_hot
from unimodal.figures import save_digit_grid
from unimodal.mnist_data import load_mnist
from unimodal.parzen import best_sigma, parzen_protocol


@torch.no_grad()
def generate(generator: TowerNet, cfg: MnistExperiment, labels: np.ndarray | None, count: int,
             seed: int, batch_size: int = 1000) -> np.ndarray:
    """``count`` samples (float32, (count, 784)) without dropout; ``labels`` condition them."""
    was_training = generator.training
    generator.eval()
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    out = []
    for start in range(0, count, batch_size):
        n = min(batch_size, count - start)
        z = sample_noise(cfg.train.noise, n, cfg.train.noise_dim, rng).to(device)
        y = None if labels is None else one_hot(labels[start:start + n]).to(device)
        out.append(generator.sample(z, y).cpu())
    generator.train(was_training)
    return torch.cat(out).numpy()


def protocol_labels(cfg: MnistExperiment) -> tuple[np.ndarray | None, int]:
    """Table 1 draws 1,000 samples per class for the conditional model, 10,000 otherwise."""
    if not cfg.conditional:
        return None, cfg.eval.unconditional_samples
    labels = np.repeat(np.arange(NUM_CLASSES), cfg.eval.samples_per_class)
    return labels, labels.size


class ValidationScore:
    """Mean Parzen log-likelihood of the first validation images at the best sigma: the score
    that picks the stopping point. The noise is fixed, so epochs differ only by the weights."""

    def __init__(self, generator: TowerNet, cfg: MnistExperiment, valid_x: np.ndarray):
        self.generator, self.cfg = generator, cfg
        self.valid = valid_x[: cfg.eval.valid_images]
        self.labels, self.count = protocol_labels(cfg)

    def __call__(self, epoch: int) -> dict:
        if epoch % self.cfg.eval.every_epochs:
            return {}
        samples = generate(self.generator, self.cfg, self.labels, self.count, self.cfg.eval.seed)
        sigma, mean = best_sigma(samples, self.valid, self.cfg.eval.sigmas())
        return {"score": mean, "valid_parzen": mean, "valid_sigma": sigma}


def evaluate_run(cfg: MnistExperiment, splits, run_dir: Path, classifier_cache: Path) -> dict:
    """Table 1 row for the best checkpoint of a run: Parzen mean +- s.e. on the 10,000 test
    images (sigma from the first validation images, fresh noise), and conditional accuracy."""
    best = load_checkpoint(run_dir / "best.pt")
    last = load_checkpoint(run_dir / "last.pt")
    generator, _ = build_networks(cfg)
    generator.load_state_dict(best["generator"])
    labels, count = protocol_labels(cfg)
    started = time.perf_counter()
    samples = generate(generator, cfg, labels, count, cfg.eval.seed + 1)
    parzen = parzen_protocol(samples, splits.valid_x[: cfg.eval.valid_images], splits.test_x,
                             cfg.eval.sigmas())
    row = {
        "name": cfg.name, "conditional": cfg.conditional, "seed": cfg.seed,
        "parzen": vars(parzen), "parzen_seconds": time.perf_counter() - started,
        "best_epoch": best["epoch"], "epochs_run": last["epoch"],
        "max_epochs": cfg.train.max_epochs, "updates": last["updates"],
        "complete": last["epoch"] >= cfg.train.max_epochs or last["stopped_early"],
        "train_seconds": last["train_seconds"],
        "eval_seconds_during_training": sum(r.get("eval_seconds", 0.0) for r in last["history"]),
    }
    if cfg.conditional:
        classifier = load_or_train_classifier(splits, classifier_cache,
                                              epochs=cfg.eval.classifier_epochs,
                                              min_accuracy=cfg.eval.classifier_min_accuracy)
        row["conditional_accuracy"] = conditional_accuracy(classifier, samples, labels)
        row["classifier_test_accuracy"] = accuracy(classifier, splits.test_x, splits.test_y)
    row.update({"config": to_dict(cfg), "training_sessions": last["sessions"],
                "history": last["history"], "evaluation": provenance()})
    return row


def write_outputs(cfg: MnistExperiment, row: dict, run_dir: Path) -> Path:
    """<results_dir>/<name>.json and the sample figure (paper Figure 2 for the CGAN)."""
    results = REPO_ROOT / cfg.results_dir if not Path(cfg.results_dir).is_absolute() else Path(cfg.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    best = load_checkpoint(run_dir / "best.pt")
    generator, _ = build_networks(cfg)
    generator.load_state_dict(best["generator"])
    labels = np.repeat(np.arange(NUM_CLASSES), 10) if cfg.conditional else None
    samples = generate(generator, cfg, labels, 100, cfg.eval.seed + 2)
    title = (f"{cfg.name}: best epoch {row['best_epoch']} of {row['epochs_run']}"
             + (" (rows: digits 0-9)" if cfg.conditional else ""))
    save_digit_grid(samples, results / cfg.figure_name, rows=10, title=title)
    path = results / f"{cfg.name}.json"
    write_json(row, path)
    return path


def run_directory(cfg: MnistExperiment) -> Path:
    base = Path(cfg.run_dir)
    return (base if base.is_absolute() else REPO_ROOT / base) / cfg.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m unimodal.evaluate",
        description="Evaluate the best checkpoint of an MNIST run (paper Table 1 protocol) and "
                    "write <results_dir>/<name>.json and its sample figure.")
    add_common_args(parser, "experiments/mnist_cgan.yaml")
    args = parser.parse_args(argv)
    cfg = load_experiment(args.config, args.overrides)
    set_threads(args.threads or cfg.threads)
    run_dir = run_directory(cfg)
    if not (run_dir / "best.pt").exists():
        raise UserFacingError(f"no checkpoint in {run_dir}: train first with "
                              f"python -m unimodal.train --config {args.config}")
    splits = load_mnist(args.data_root, args.cache_dir)
    row = evaluate_run(cfg, splits, run_dir, cache_dir(args.cache_dir))
    path = write_outputs(cfg, row, run_dir)
    p = row["parzen"]
    print(f"{cfg.name}: Parzen log-likelihood {p['mean']:.1f} +- {p['std_error']:.1f} "
          f"(sigma {p['sigma']:.3f}, best epoch {row['best_epoch']}/{row['epochs_run']}) -> {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
