"""The MNIST experiment's config (experiments/mnist/*.yaml) and the networks it describes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cgan.config import load_config, require, to_dict
from cgan.networks import TowerNet
from cgan.objective import ObjectiveSettings
from cgan.run_settings import NetworkSettings, RunSettings, check_seeds, require_seed, train_identity
from cgan.training import TrainSettings

IMAGE_DIM = 784
NUM_CLASSES = 10


@dataclass
class MnistEvalSettings:
    """Parzen-window protocol of goodfeli/adversarial parzen_ll.py (paper Table 1)."""

    samples_per_class: int = 1000
    unconditional_samples: int = 10000
    valid_images: int = 1000
    sigma_log10_min: float = -1.0
    sigma_log10_max: float = 0.0
    sigma_count: int = 10
    every_epochs: int = 1
    seed: int = 2014
    classifier_epochs: float = 5.0
    classifier_min_accuracy: float = 0.99
    sample_with_dropout: bool = False  # the protocol (parzen_ll.py samples G without dropout)

    def check(self) -> None:
        require_seed(self.seed, "eval.seed")
        require(self.samples_per_class >= 1, "eval.samples_per_class must be >= 1")
        require(self.unconditional_samples >= 1, "eval.unconditional_samples must be >= 1")
        require(1 <= self.valid_images <= 10000, "eval.valid_images must be in [1, 10000]")
        require(self.sigma_count >= 1, "eval.sigma_count must be >= 1")
        require(self.sigma_log10_min <= self.sigma_log10_max, "eval.sigma_log10_min must be <= max")
        require(self.every_epochs >= 1, "eval.every_epochs must be >= 1")
        require(self.classifier_epochs > 0, "eval.classifier_epochs must be > 0")
        require(0 < self.classifier_min_accuracy <= 1, "eval.classifier_min_accuracy must be in (0, 1]")

    def sigmas(self) -> np.ndarray:
        return np.logspace(self.sigma_log10_min, self.sigma_log10_max, self.sigma_count)


@dataclass(kw_only=True)
class MnistExperiment(RunSettings):
    conditional: bool
    generator: NetworkSettings
    discriminator: NetworkSettings
    objective: ObjectiveSettings = field(default_factory=ObjectiveSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    eval: MnistEvalSettings = field(default_factory=MnistEvalSettings)
    output_bias_from_marginals: bool = True
    marginal_clip: float = 1e-7
    train_images: int = 50000
    results_dir: str = "results/mnist"
    figure_name: str = "samples.png"

    def check(self) -> None:
        super().check()
        require(1 <= self.train_images <= 50000, "train_images must be in [1, 50000]")
        require(0 < self.marginal_clip < 0.5, "marginal_clip must be in (0, 0.5)")
        require(not self.objective.auxiliary_weight,
                "objective.auxiliary_weight (the AC-GAN head) is built for the Flickr pipeline only; set it to 0")
        if self.conditional:
            for net in ("generator", "discriminator"):
                require(getattr(self, net).condition_layers is not None,
                        f"{net}.condition_layers is required for a conditional model")

    @property
    def condition_dim(self) -> int:
        return NUM_CLASSES if self.conditional else 0

    @property
    def run_results(self) -> Path:
        """<results_dir>/<config name>/seed<S>/: this run's result.json and figures."""
        return run_results_dir(self.results, self.name, self.seed)


RESULT_FILE = "result.json"


def run_results_dir(results: Path, name: str, seed: int) -> Path:
    """A run's results folder under ``results``: <config name>/seed<S>/, the config's name being the
    run's less the -seed<S> that seed_configs gives the runs of other seeds than the config's."""
    return results / name.removesuffix(f"-seed{seed}") / f"seed{seed}"


RESUMABLE_CHANGES = ("threads", "device", "run_dir", "results_dir", "figure_name")


def run_identity(cfg: MnistExperiment) -> dict:
    """The settings a checkpoint must agree with to be resumed: everything that shapes the
    trained weights or picks the best epoch. Where outputs go, threads, the epoch budget and
    the scoring classifier may change between runs."""
    identity = {k: v for k, v in to_dict(cfg).items() if k not in RESUMABLE_CHANGES}
    identity["train"] = train_identity(cfg)
    identity["generator"], identity["discriminator"] = cfg.generator.identity(), cfg.discriminator.identity()
    del identity["objective"]
    identity["eval"] = {k: v for k, v in identity["eval"].items() if not k.startswith("classifier_")}
    return identity


def load_experiment(path, overrides=None) -> MnistExperiment:
    return load_config(MnistExperiment, path, overrides)


def build_networks(cfg: MnistExperiment, train_x: np.ndarray | None = None) -> tuple[TowerNet, TowerNet | None]:
    """Generator and discriminator, initialised as the GAN code does.

    The generator's sigmoid output bias is the logit of each pixel's mean over the training
    images (Pylearn2 init_sigmoid_bias_from_marginals), when ``train_x`` is given.
    """
    torch.manual_seed(cfg.seed)
    generator = cfg.generator.build(cfg.objective.noise_dim, cfg.condition_dim)
    discriminator = cfg.discriminator.build(IMAGE_DIM, cfg.condition_dim) if cfg.objective.adversarial else None
    if cfg.output_bias_from_marginals and train_x is not None:
        mean = np.clip(train_x.mean(axis=0, dtype=np.float64), cfg.marginal_clip, 1 - cfg.marginal_clip)
        with torch.no_grad():
            generator.output.bias.copy_(torch.from_numpy(np.log(mean / (1 - mean))))
    return generator, discriminator


def one_hot(labels: np.ndarray | torch.Tensor) -> torch.Tensor:
    labels = torch.as_tensor(labels, dtype=torch.long)
    return torch.nn.functional.one_hot(labels, NUM_CLASSES).float()


def seed_configs(cfg: MnistExperiment, seeds: list[int]) -> list[MnistExperiment]:
    """One config per seed, named <name>-seed<S> (its run folder runs/<name>-seed<S>/; its results
    <results_dir>/<name>/seed<S>/); the config's own seed keeps the config as it is."""
    check_seeds(seeds)
    return [cfg if seed == cfg.seed else dataclasses.replace(cfg, seed=seed, name=f"{cfg.name}-seed{seed}")
            for seed in seeds]
