"""The per-epoch validation score of an MNIST generator: the mean Parzen log-likelihood of the
first validation images at the best sigma, per sampling mode, with fixed noise (cgan.validation)."""

from __future__ import annotations

import numpy as np

from cgan.layers import TowerNet
from cgan.sampling import sampling_modes
from cgan.validation import ValidationScore
from unimodal.experiment import MnistExperiment
from unimodal.parzen import best_sigma
from unimodal.sampling import generate, protocol_labels


def validation_score(generator: TowerNet, cfg: MnistExperiment, valid_x: np.ndarray) -> ValidationScore:
    """The configured mode's (eval.sample_with_dropout) Parzen score picks the stopping point."""
    valid = valid_x[: cfg.eval.valid_images]
    labels, count = protocol_labels(cfg)

    def measure(mode: str) -> dict[str, float]:
        samples = generate(generator, cfg, labels, count, cfg.eval.seed, mode)
        sigma, mean = best_sigma(samples, valid, cfg.eval.sigmas(), device=next(generator.parameters()).device)
        return {"valid_parzen": mean, "valid_sigma": sigma}

    return ValidationScore(sampling_modes(cfg.generator, cfg.eval.sample_with_dropout), measure,
                           "valid_parzen", cfg.eval.every_epochs)
