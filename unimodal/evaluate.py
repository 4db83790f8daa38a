"""Table 1 for a trained MNIST run: the paper's Parzen protocol and the conditional accuracy on its
best checkpoint, written to <results_dir>/<config name>/seed<S>/result.json with its figures."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from cgan.cli import experiment_parser, run_cli, set_threads
from cgan.config import to_dict
from cgan.errors import UserFacingError
from cgan.networks import TowerNet
from cgan.runs.checkpoint import load_checkpoint
from cgan.runs.files import write_json
from cgan.runs.paths import cache_dir
from cgan.runs.provenance import provenance
from cgan.sampling import SAMPLING_LABELS, sampling_modes
from cgan.training import training_summary
from unimodal.classifier import accuracy, load_or_train_classifier, penultimate_features
from unimodal.diagnostics import diagnose
from unimodal.figures import save_digit_grid
from unimodal.mnist_data import load_mnist
from unimodal.parzen import parzen_protocol
from unimodal.sampling import generate, interpolation_noise, protocol_labels
from unimodal.settings import (
    NUM_CLASSES,
    RESULT_FILE,
    MnistExperiment,
    build_networks,
    load_experiment,
    seed_configs,
)


def evaluate_run(cfg: MnistExperiment, splits, run_dir: Path,
                 classifier_cache: Path) -> tuple[dict, TowerNet]:
    """Table 1 row for the best checkpoint of a run, in each sampling mode: Parzen mean +- s.e. on
    the 10,000 test images (sigma from the first validation images, fresh noise), and the collapse
    diagnostics: conditional accuracy, within-class diversity and the Frechet distance in the
    scoring classifier's features (classes of unconditional samples: the classifier's)."""
    best = load_checkpoint(run_dir / "best.pt")  # loaded once: weights and summary
    run = training_summary(run_dir, best)
    generator, _ = build_networks(cfg)
    generator.load_state_dict(best["generator"])
    modes = sampling_modes(cfg.generator, cfg.eval.sample_with_dropout)
    row = {
        "name": cfg.name, "conditional": cfg.conditional, "seed": cfg.seed, "sampling": modes[0],
        "best_epoch": run["best_epoch"], "epochs_run": run["epochs_run"],
        "max_epochs": cfg.train.max_epochs, "updates": run["updates"],
        "complete": run["epochs_run"] >= cfg.train.max_epochs or run["stopped_early"],
        "train_seconds": run["train_seconds"],
        "eval_seconds_during_training": sum(r.get("eval_seconds", 0.0) for r in run["history"]),
    }
    row.update(score_generator(generator, cfg, splits, classifier_cache, modes))
    row["parzen"] = row["by_sampling"][modes[0]]["parzen"]
    row["conditional_accuracy"] = row["by_sampling"][modes[0]].get("conditional_accuracy")
    row.update({"config": to_dict(cfg), "training_sessions": run["sessions"],
                "history": run["history"], "evaluation": provenance()})
    return row, generator


def score_generator(generator: TowerNet, cfg: MnistExperiment, splits, classifier_cache: Path,
                    modes: list[str]) -> dict:
    """The protocol's numbers for a generator, per sampling mode ('by_sampling'): Parzen on the
    test images and the collapse diagnostics; with the scoring classifier's test accuracy."""
    labels, count = protocol_labels(cfg)
    classifier = load_or_train_classifier(splits, classifier_cache, epochs=cfg.eval.classifier_epochs,
                                          min_accuracy=cfg.eval.classifier_min_accuracy)
    scores = {"classifier_test_accuracy": accuracy(classifier, splits.test_x, splits.test_y), "by_sampling": {}}
    test_features = penultimate_features(classifier, splits.test_x).numpy()
    for mode in modes:
        started = time.perf_counter()
        samples = generate(generator, cfg, labels, count, cfg.eval.seed + 1, mode)
        parzen = parzen_protocol(samples, splits.valid_x[: cfg.eval.valid_images], splits.test_x,
                                 cfg.eval.sigmas(), device=next(generator.parameters()).device)
        scores["by_sampling"][mode] = {
            "parzen": vars(parzen), "seconds": time.perf_counter() - started,
            **diagnose(samples, labels, classifier, splits.test_x, splits.test_y, test_features)}
    return scores


INTERPOLATED_DIGITS = [1, 3, 5, 7, 8]


def write_outputs(cfg: MnistExperiment, row: dict, generator: TowerNet, train_x: np.ndarray) -> Path:
    """The run's results folder (<results_dir>/<config name>/seed<S>/): result.json and the figures
    of the evaluated generator, in its configured sampling mode: the sample grid (figure_name; paper
    Figure 2 for the CGAN), interpolation.png, an interpolation in z (rows of one digit each; a
    generator that ignores z draws one image per row), and nearest_train.png, each of ten samples
    above its nearest training image (a memorisation check)."""
    results = cfg.run_results
    results.mkdir(parents=True, exist_ok=True)
    mode, seed = row["sampling"], cfg.eval.seed + 2
    labels = np.repeat(np.arange(NUM_CLASSES), 10) if cfg.conditional else None
    samples = generate(generator, cfg, labels, 100, seed, mode)
    title = (f"{cfg.name}: best epoch {row['best_epoch']} of {row['epochs_run']}, {SAMPLING_LABELS[mode]}"
             + (" (rows: digits 0-9)" if cfg.conditional else ""))
    save_digit_grid(samples, results / cfg.figure_name, rows=10, title=title)
    digits = INTERPOLATED_DIGITS if cfg.conditional else [0] * len(INTERPOLATED_DIGITS)
    z = interpolation_noise(cfg, len(digits), 10, seed)
    line = generate(generator, cfg, np.repeat(digits, 10) if cfg.conditional else None, len(z), seed, mode, z=z)
    save_digit_grid(line, results / "interpolation.png", rows=len(digits),
                    title=f"{cfg.name}: z moved along a line, left to right"
                          + (f" (rows: digits {', '.join(map(str, digits))})" if cfg.conditional else ""))
    ten = samples[::10]
    nearest = train_x[torch.cdist(torch.from_numpy(ten), torch.from_numpy(train_x)).argmin(dim=1).numpy()]
    save_digit_grid(np.concatenate([ten, nearest]), results / "nearest_train.png", rows=2,
                    title=f"{cfg.name}: samples (top) and their nearest training images (bottom)")
    path = results / RESULT_FILE
    write_json(row, path)
    return path


def evaluate_and_write(cfg: MnistExperiment, splits, run_dir: Path, classifier_cache: Path) -> dict:
    """evaluate_run + write_outputs, with a one-line summary."""
    row, generator = evaluate_run(cfg, splits, run_dir, classifier_cache)
    path = write_outputs(cfg, row, generator, splits.train_x[: cfg.train_images])
    p = row["parzen"]
    print(f"{cfg.name}: test Parzen log-likelihood {p['mean']:.1f} +- {p['std_error']:.1f} "
          f"(sigma {p['sigma']:.3f}, best epoch {row['best_epoch']} of {row['epochs_run']}) -> {path}")
    return row


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser(
        "experiments/mnist/mnist_cgan.yaml", prog="python -m unimodal.evaluate",
        description="Evaluate the best checkpoint of an MNIST run (paper Table 1 protocol) and "
                    "write <results_dir>/<name>/seed<S>/result.json and its figures.")
    parser.add_argument("--seeds", type=int, nargs="+", metavar="S",
                        help="evaluate these seeds' runs, as unimodal.train --seeds named them (runs/<name>-seed<S>/, "
                             "the config's own seed runs/<name>/)")
    args = parser.parse_args(argv)
    cfg = load_experiment(args.config, args.overrides)
    cfg.route_tryout_results(args.overrides, args.write_results)
    set_threads(args.threads or cfg.threads)
    configs = seed_configs(cfg, args.seeds) if args.seeds else [cfg]
    for member in configs:
        if not (member.run_root / "best.pt").exists():
            raise UserFacingError(f"no checkpoint in {member.run_root}: train first with "
                                  f"python -m unimodal.train --config {args.config}"
                                  + (f" --seeds {' '.join(map(str, args.seeds))}" if args.seeds else ""))
    splits = load_mnist(args.data_root, args.cache_dir)
    for member in configs:
        evaluate_and_write(member, splits, member.run_root, cache_dir(args.cache_dir))
    return 0


if __name__ == "__main__":
    run_cli(main)
