"""The Flickr tagging experiment's config (experiments/flickr/*.yaml) and the networks it describes.

Paper §4.2: G(z | image) generates a 200-d word vector from 100-d Gaussian noise and the image's
frozen CNN features; D(word vector | image) says whether the word is a real tag of the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from cgan.config import load_config, require, to_dict, unless_off
from cgan.errors import ConfigError
from cgan.networks import TowerNet
from cgan.objective import ObjectiveSettings
from cgan.run_settings import NetworkSettings, RunSettings, require_seed, train_identity
from cgan.runs.digest import sha256
from cgan.training import TrainSettings

# Overrides that `make flickr-tags BACKBONE=...` passes: they choose which committed result is made.
RESULT_KEYS = frozenset({"encoders.backbone"})


@dataclass
class EncoderSettings:
    """The frozen encoders of features/, each run from its own config (plus overrides)."""

    features_config: str = "experiments/features/flickr_features.yaml"
    backbone: str | None = None  # None: the features config's backbone
    features_set: list[str] = field(default_factory=list)
    wordvecs_config: str = "experiments/features/flickr_wordvecs.yaml"
    wordvecs_set: list[str] = field(default_factory=list)

    def feature_overrides(self) -> list[str]:
        return [*self.features_set, *([f"backbone={self.backbone}"] if self.backbone else [])]


@dataclass
class DataSettings:
    """Which images and (image, tag) pairs train, validate and test."""

    train_max_image_id: int = 15000
    valid_images: int = 1000
    include_annotations: bool = True
    max_train_pairs: int | None = 150000
    feature_scaling: Literal["standardize", "l2", "center_l2", "none"] = "center_l2"
    center_word_vectors: bool = True
    unit_word_vectors: bool = True
    # Length of the image features and word vectors as the networks see them, after the scaling
    # above (decoding is by cosine: unaffected). 1 = unit length; MNIST's inputs have length ~9.
    vector_length: float = 1.0
    # Beyond the paper (0 = off): both networks also see the mean tag vector of the image's k nearest
    # training images (cosine of the scaled features; an image is never its own neighbour), so that
    # G refines tag transfer instead of starting from nothing (IC-GAN, Casanova et al. 2021,
    # conditions on a neighbourhood's features; here on its tags).
    neighbour_centroid_k: int = 0

    def check(self) -> None:
        require(self.neighbour_centroid_k >= 0, "data.neighbour_centroid_k must be >= 0 (0 = off)")
        require(self.train_max_image_id >= 1, "data.train_max_image_id must be >= 1")
        require(self.valid_images >= 1, "data.valid_images must be >= 1")
        require(self.max_train_pairs is None or self.max_train_pairs >= 1,
                "data.max_train_pairs must be >= 1 or null")
        require(self.vector_length > 0, "data.vector_length must be > 0")


@dataclass
class TaggingSettings:
    """Decoding tags from generated vectors (paper §4.2) and scoring them."""

    samples: int = 100
    nearest: int = 20
    top: int = 10
    sample_with_dropout: bool = False  # as MNIST's protocol: G sampled without dropout
    vocabulary: Literal["all", "tags"] = "all"
    valid_images: int | None = None  # None: every validation image, each scored epoch
    every_epochs: int = 1
    seed: int = 2014
    knn_k: list[int] = field(default_factory=lambda: [1, 5, 10, 20, 50])
    table_images: int = 12
    batch_images: int = 64
    # ours (0 = off): an epoch is eligible as the stopping point only if its validation tags use at
    # least this many distinct words; ineligible epochs score P@10 - 1 (below every eligible one)
    min_distinct_words: int = 0
    # beyond the paper (null = off): sample G with z's entries above this magnitude drawn again, the
    # truncation trick of BigGAN (Brock et al. 2019): fewer outlying samples, less variety
    truncation: float | None = None

    def check(self) -> None:
        require_seed(self.seed, "eval.seed")
        require(self.truncation is None or self.truncation > 0, "eval.truncation must be > 0 or null (off)")
        require(self.min_distinct_words >= 0, "eval.min_distinct_words must be >= 0 (0 = every epoch eligible)")
        for name in ("samples", "nearest", "top", "every_epochs", "table_images", "batch_images"):
            require(getattr(self, name) >= 1, f"eval.{name} must be >= 1")
        require(self.valid_images is None or self.valid_images >= 1, "eval.valid_images must be >= 1 or null")
        require(bool(self.knn_k) and min(self.knn_k) >= 1, "eval.knn_k: one or more values >= 1")


@dataclass
class RegressorSettings:
    """Baseline (c): the generator's network with its noise input zeroed, fitted to the tag's
    word vector with the CGAN's SGD settings; only the loss and the epoch budget differ."""

    enabled: bool = True
    loss: Literal["mse", "cosine"] = "cosine"
    max_epochs: int = 100
    patience: int | None = 10

    def check(self) -> None:
        require(self.max_epochs >= 1, "regressor.max_epochs must be >= 1")
        require(self.patience is None or self.patience >= 1, "regressor.patience must be >= 1 or null")


@dataclass(kw_only=True)
class FlickrExperiment(RunSettings):
    generator: NetworkSettings
    discriminator: NetworkSettings
    objective: ObjectiveSettings = field(default_factory=ObjectiveSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    data: DataSettings = field(default_factory=DataSettings)
    eval: TaggingSettings = field(default_factory=TaggingSettings)
    regressor: RegressorSettings = field(default_factory=RegressorSettings)
    encoders: EncoderSettings = field(default_factory=EncoderSettings)
    word_dim: int = 200
    results_dir: str = "results/flickr"

    def check(self) -> None:
        super().check()
        require(self.word_dim >= 1, "word_dim must be >= 1")
        for net in ("generator", "discriminator"):
            require(getattr(self, net).condition_layers is not None,
                    f"{net}.condition_layers is required: both networks see the image features")
        require(self.data.include_annotations or not self.objective.auxiliary_weight,
                "objective.auxiliary_weight needs data.include_annotations: its classes are MIR Flickr's concepts")


def load_experiment(path, overrides=None) -> FlickrExperiment:
    return load_config(FlickrExperiment, path, overrides)


def run_identity(cfg: FlickrExperiment, model: str, inputs: dict) -> dict:
    """What a checkpoint of ``model`` ('cgan' or 'regressor') must agree with to be resumed:
    the settings that shape its weights or its stopping point, and the identities of its inputs
    (features, word vectors, pairs). Epoch budgets, threads, devices and paths may change."""
    evaluation = {k: v for k, v in to_dict(cfg.eval).items() if k not in ("knn_k", "table_images", "batch_images")}
    identity = {"model": model, "seed": cfg.seed, "word_dim": cfg.word_dim,
                "data": unless_off(to_dict(cfg.data), ("neighbour_centroid_k",)),
                "generator": cfg.generator.identity(), "inputs": inputs,
                "train": train_identity(cfg),
                "eval": unless_off(evaluation, ("min_distinct_words", "truncation"))}
    if model == "cgan":
        identity["discriminator"] = cfg.discriminator.identity()
    else:
        identity["regressor"] = {"loss": cfg.regressor.loss}
    return identity


def run_directory(cfg: FlickrExperiment, identity: dict) -> Path:
    """runs/<name>/<model>-<key>: one folder per distinct identity, so changed inputs or
    settings start a new run and never clobber (or resume) one made from others."""
    return cfg.run_root / f"{identity['model']}-{sha256(identity)[:12]}"


def build_networks(cfg: FlickrExperiment, feature_dim: int, concepts: int = 0) -> tuple[TowerNet, TowerNet | None]:
    """Generator (noise -> tower, image features -> tower, joint -> linear word vector) and
    discriminator (word vector -> tower, image features -> tower, joint maxout -> sigmoid; with
    the auxiliary term, a head naming the image's ``concepts`` from the word vector alone).
    The image-feature dimension comes from the features file (4096 for fc7, 1280 for lite0)."""
    torch.manual_seed(cfg.seed)
    generator = cfg.generator.build(cfg.objective.noise_dim, feature_dim)
    classes = concepts if cfg.objective.auxiliary_weight else 0
    discriminator = cfg.discriminator.build(cfg.word_dim, feature_dim, classes) if cfg.objective.adversarial else None
    if generator.out_features != cfg.word_dim:
        raise ConfigError(f"generator.output_layer makes {generator.out_features}-d vectors, "
                          f"but word_dim is {cfg.word_dim}")
    return generator, discriminator
