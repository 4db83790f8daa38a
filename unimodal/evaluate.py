"""Scoring MNIST generators: the per-epoch validation score that picks the stopping point, and
the paper's Table 1 protocol plus the conditional accuracy on the best checkpoint."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from cgan.checkpoint import load_checkpoint
from cgan.cli import experiment_parser, run_cli, set_threads
from cgan.config import to_dict
from cgan.errors import UserFacingError
from cgan.files import write_json
from cgan.layers import DropoutMasks, TowerNet
from cgan.noise import sample_noise
from cgan.paths import REPO_ROOT, cache_dir
from cgan.provenance import provenance
from unimodal.classifier import accuracy, conditional_accuracy, load_or_train_classifier
from unimodal.experiment import NUM_CLASSES, MnistExperiment, build_networks, load_experiment, one_hot
from unimodal.figures import save_digit_grid
from unimodal.mnist_data import load_mnist
from unimodal.parzen import best_sigma, parzen_protocol

SAMPLING_MODES = ("dropout", "deterministic")


@torch.no_grad()
def generate(generator: TowerNet, cfg: MnistExperiment, labels: np.ndarray | None, count: int,
             seed: int, dropout: bool = False, batch_size: int = 1000) -> np.ndarray:
    """``count`` samples (float32, (count, 784)); ``labels`` condition them.

    ``dropout=True`` keeps the generator's training-time dropout on while sampling, with masks
    from their own seeded source (the training run's mask stream is left untouched). The paper
    does not say which way it sampled; see ``sampling_modes``.
    """
    was_training, train_masks = generator.training, generator.dropout
    generator.train(dropout)
    generator.dropout = DropoutMasks(seed) if dropout else None
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    out = []
    for start in range(0, count, batch_size):
        n = min(batch_size, count - start)
        z = sample_noise(cfg.train.noise, n, cfg.train.noise_dim, rng).to(device)
        y = None if labels is None else one_hot(labels[start:start + n]).to(device)
        out.append(generator.sample(z, y).cpu())
    generator.train(was_training)
    generator.dropout = train_masks
    return torch.cat(out).numpy()


def sampling_modes(cfg: MnistExperiment) -> list[str]:
    """Ways to sample that differ for this generator: with its dropout on ('dropout') and off
    ('deterministic'); only the latter when the generator has no dropout. The configured mode
    (eval.sample_with_dropout) comes first: it picks the stopping point and the Table 1 row."""
    if cfg.generator.hidden_keep >= 1 and cfg.generator.input_keep >= 1:
        return ["deterministic"]
    return list(SAMPLING_MODES) if cfg.eval.sample_with_dropout else list(reversed(SAMPLING_MODES))


def protocol_labels(cfg: MnistExperiment) -> tuple[np.ndarray | None, int]:
    """Table 1 draws 1,000 samples per class for the conditional model, 10,000 otherwise."""
    if not cfg.conditional:
        return None, cfg.eval.unconditional_samples
    labels = np.repeat(np.arange(NUM_CLASSES), cfg.eval.samples_per_class)
    return labels, labels.size


class ValidationScore:
    """Mean Parzen log-likelihood of the first validation images at the best sigma, for each
    sampling mode; the configured mode's is the 'score' that picks the stopping point. The noise
    is fixed, so epochs differ only by the weights."""

    def __init__(self, generator: TowerNet, cfg: MnistExperiment, valid_x: np.ndarray):
        self.generator, self.cfg = generator, cfg
        self.valid = valid_x[: cfg.eval.valid_images]
        self.labels, self.count = protocol_labels(cfg)

    def __call__(self, epoch: int) -> dict:
        if epoch % self.cfg.eval.every_epochs:
            return {}
        record = {}
        for mode in sampling_modes(self.cfg):
            samples = generate(self.generator, self.cfg, self.labels, self.count, self.cfg.eval.seed,
                               dropout=mode == "dropout")
            sigma, mean = best_sigma(samples, self.valid, self.cfg.eval.sigmas())
            suffix = "" if mode == "deterministic" else "_dropout"
            record.update({f"valid_parzen{suffix}": mean, f"valid_sigma{suffix}": sigma})
            record.setdefault("score", mean)
        return record


def evaluate_run(cfg: MnistExperiment, splits, run_dir: Path,
                 classifier_cache: Path) -> tuple[dict, TowerNet]:
    """Table 1 row for the best checkpoint of a run: Parzen mean +- s.e. on the 10,000 test
    images (sigma from the first validation images, fresh noise), and conditional accuracy."""
    best = load_checkpoint(run_dir / "best.pt")
    last = load_checkpoint(run_dir / "last.pt")
    generator, _ = build_networks(cfg)
    generator.load_state_dict(best["generator"])
    labels, count = protocol_labels(cfg)
    modes = sampling_modes(cfg)
    row = {
        "name": cfg.name, "conditional": cfg.conditional, "seed": cfg.seed, "sampling": modes[0],
        "best_epoch": best["epoch"], "epochs_run": last["epoch"],
        "max_epochs": cfg.train.max_epochs, "updates": last["updates"],
        "complete": last["epoch"] >= cfg.train.max_epochs or last["stopped_early"],
        "train_seconds": last["train_seconds"],
        "eval_seconds_during_training": sum(r.get("eval_seconds", 0.0) for r in last["history"]),
        "by_sampling": {},
    }
    classifier = None
    if cfg.conditional:
        classifier = load_or_train_classifier(splits, classifier_cache,
                                              epochs=cfg.eval.classifier_epochs,
                                              min_accuracy=cfg.eval.classifier_min_accuracy)
        row["classifier_test_accuracy"] = accuracy(classifier, splits.test_x, splits.test_y)
    for mode in modes:
        started = time.perf_counter()
        samples = generate(generator, cfg, labels, count, cfg.eval.seed + 1, dropout=mode == "dropout")
        parzen = parzen_protocol(samples, splits.valid_x[: cfg.eval.valid_images], splits.test_x,
                                 cfg.eval.sigmas())
        result = {"parzen": vars(parzen), "seconds": time.perf_counter() - started}
        if classifier is not None:
            result["conditional_accuracy"] = conditional_accuracy(classifier, samples, labels)
        row["by_sampling"][mode] = result
    row["parzen"] = row["by_sampling"][modes[0]]["parzen"]
    row["conditional_accuracy"] = row["by_sampling"][modes[0]].get("conditional_accuracy")
    row.update({"config": to_dict(cfg), "training_sessions": last["sessions"],
                "history": last["history"], "evaluation": provenance()})
    return row, generator


def write_outputs(cfg: MnistExperiment, row: dict, generator: TowerNet) -> Path:
    """<results_dir>/<name>.json and the sample figure (paper Figure 2 for the CGAN) of the
    evaluated generator."""
    results = REPO_ROOT / cfg.results_dir if not Path(cfg.results_dir).is_absolute() else Path(cfg.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    labels = np.repeat(np.arange(NUM_CLASSES), 10) if cfg.conditional else None
    samples = generate(generator, cfg, labels, 100, cfg.eval.seed + 2, dropout=row["sampling"] == "dropout")
    title = (f"{cfg.name}: best epoch {row['best_epoch']} of {row['epochs_run']}, {row['sampling']} sampling"
             + (" (rows: digits 0-9)" if cfg.conditional else ""))
    save_digit_grid(samples, results / cfg.figure_name, rows=10, title=title)
    path = results / f"{cfg.name}.json"
    write_json(row, path)
    return path


def evaluate_and_write(cfg: MnistExperiment, splits, run_dir: Path, classifier_cache: Path) -> dict:
    """evaluate_run + write_outputs, with a one-line summary."""
    row, generator = evaluate_run(cfg, splits, run_dir, classifier_cache)
    path = write_outputs(cfg, row, generator)
    p = row["parzen"]
    print(f"{cfg.name}: test Parzen log-likelihood {p['mean']:.1f} +- {p['std_error']:.1f} "
          f"(sigma {p['sigma']:.3f}, best epoch {row['best_epoch']} of {row['epochs_run']}) -> {path}")
    return row


def run_directory(cfg: MnistExperiment) -> Path:
    base = Path(cfg.run_dir)
    return (base if base.is_absolute() else REPO_ROOT / base) / cfg.name


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser(
        "experiments/mnist_cgan.yaml", prog="python -m unimodal.evaluate",
        description="Evaluate the best checkpoint of an MNIST run (paper Table 1 protocol) and "
                    "write <results_dir>/<name>.json and its sample figure.")
    args = parser.parse_args(argv)
    cfg = load_experiment(args.config, args.overrides)
    set_threads(args.threads or cfg.threads)
    run_dir = run_directory(cfg)
    if not (run_dir / "best.pt").exists():
        raise UserFacingError(f"no checkpoint in {run_dir}: train first with "
                              f"python -m unimodal.train --config {args.config}")
    evaluate_and_write(cfg, load_mnist(args.data_root, args.cache_dir), run_dir, cache_dir(args.cache_dir))
    return 0


if __name__ == "__main__":
    run_cli(main)
