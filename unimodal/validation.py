"""The per-epoch validation score of an MNIST generator: the mean Parzen log-likelihood of the
first validation images at the best sigma, per sampling mode, with fixed noise (cgan.validation);
beside it, for a conditional generator, its within-class diversity (unimodal.diagnostics) on a
small sample, so that a run's history shows whether and when G stops using its noise."""

from __future__ import annotations

import numpy as np

from cgan.networks import TowerNet
from cgan.sampling import sampling_modes
from cgan.validation import ValidationScore
from unimodal.diagnostics import within_class_diversity
from unimodal.parzen import best_sigma
from unimodal.sampling import generate, protocol_labels
from unimodal.settings import MnistExperiment

DIVERSITY_PER_CLASS = 200  # samples and validation images per class: ~0.1 s per sampling mode on a CPU core


def validation_score(generator: TowerNet, cfg: MnistExperiment, valid_x: np.ndarray,
                     valid_y: np.ndarray | None = None) -> ValidationScore:
    """The configured mode's (eval.sample_with_dropout) Parzen score picks the stopping point.
    With ``valid_y``, a conditional generator's 'valid_diversity' (mean over classes, on
    DIVERSITY_PER_CLASS samples and validation images of each) is recorded too; it picks nothing."""
    valid = valid_x[: cfg.eval.valid_images]
    labels, count = protocol_labels(cfg)

    def measure(mode: str) -> dict[str, float]:
        samples = generate(generator, cfg, labels, count, cfg.eval.seed, mode)
        sigma, mean = best_sigma(samples, valid, cfg.eval.sigmas(), device=next(generator.parameters()).device)
        record = {"valid_parzen": mean, "valid_sigma": sigma}
        if labels is not None and valid_y is not None:
            record["valid_diversity"] = within_class_diversity(samples, labels, valid_x, valid_y,
                                                               DIVERSITY_PER_CLASS)["mean"]
        return record

    return ValidationScore(sampling_modes(cfg.generator, cfg.eval.sample_with_dropout), measure,
                           "valid_parzen", cfg.eval.every_epochs)
