"""Tagging photos with a trained Flickr generator, from Python:

    from multimodal import load_tagger, tag_image
    tag_image("photo.jpg")                                   # ten tags, with the shipped weights
    tagger = load_tagger("weights/flickr_cgan_auxiliary.safetensors")
    tagger.tag_images(["a.jpg", "b.jpg"])                    # one list of ten tags per photo

A weights file (``python -m multimodal.export``) holds all that tagging needs besides the
backbone's own ImageNet weights: G; the training images' feature statistics (a new photo is
scaled exactly as the training images were); the decoding vocabulary's unit word vectors and
words; the experiment config; and the backbone's name, preprocessing and weights digest, checked
when the backbone loads (features of another CNN would give confident nonsense).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cgan.config import from_dict
from cgan.errors import UserFacingError
from cgan.networks import TowerNet
from cgan.objective import stored_config
from cgan.runs.checkpoint import load_checkpoint
from cgan.runs.paths import REPO_ROOT
from cgan.runs.weights import read_weights, write_weights
from multimodal.data import FeatureScaling
from multimodal.inputs import Context
from multimodal.sampling import cgan_samplings, iter_samples, make_decoder
from multimodal.settings import FlickrExperiment, build_networks
from multimodal.tag_decoder import TagDecoder, Vocabulary

DEFAULT_WEIGHTS = REPO_ROOT / "weights" / "flickr_cgan_auxiliary.safetensors"  # Table 2's generator
METADATA = ("config", "words", "feature_scaling", "features")


class FlickrTagger:
    """A trained tagging generator and everything needed to turn a photo into tags."""

    def __init__(self, network: TowerNet, config: FlickrExperiment, scaling: FeatureScaling,
                 vocabulary: Vocabulary, features: dict):
        self.network, self.config, self.scaling = network.eval(), config, scaling
        self.vocabulary, self.features = vocabulary, features  # features: backbone, preprocessing, weights
        self._backbone = None

    def __repr__(self) -> str:
        return (f"FlickrTagger({self.config.name!r}, {self.features['backbone']} features, "
                f"{len(self.vocabulary.words)} words, {self.config.eval.top} tags per image)")

    def tags_from_features(self, raw: np.ndarray, seed: int | None = None, mode: str | None = None) -> list[list[str]]:
        """Ten tags (eval.top) per row of raw CNN features, by the paper's voting over the
        nearest words of eval.samples generated vectors. ``mode``: a sampling mode (default: the
        one the experiment reports first); ``seed``: the noise (default: the evaluation's)."""
        cfg = self.config
        samplings = cgan_samplings(cfg)
        how = samplings[mode or next(iter(samplings))]
        decoder = TagDecoder(self.vocabulary, cfg.eval.nearest, cfg.eval.top)
        features = self.scaling.apply(np.atleast_2d(raw))
        seed = cfg.eval.seed if seed is None else seed
        return [tags for batch in iter_samples(self.network, features, how, seed, cfg.eval.batch_images)
                for tags in decoder.words(decoder.decode(batch))]

    def image_features(self, paths: list[str | Path]) -> np.ndarray:
        """Raw features of image files by the backbone the generator was trained on."""
        from features.cnn import extract_features
        from features.images import Preprocessing

        missing = [str(p) for p in paths if not Path(p).is_file()]
        if missing:
            raise UserFacingError(f"no such image file: {', '.join(missing)}")
        record = self.features["preprocessing"]
        preprocessing = Preprocessing(record["resize_shorter_side"], record["center_crop"], tuple(record["mean"]),
                                      tuple(record["std"]), record["interpolation"])
        rows, failed = extract_features([str(p) for p in paths], self.backbone(), preprocessing=preprocessing,
                                        batch_size=16)
        if failed:
            raise UserFacingError(f"cannot read image(s): {', '.join(map(str, failed))}")
        return rows

    def backbone(self):
        """The frozen CNN, loaded once; refused if its weights are not those the features came from."""
        if self._backbone is None:
            from features.backbones import load_backbone

            backbone = load_backbone(self.features["backbone"], allow_download=True)
            expected = (self.features.get("weights") or {}).get("sha256")
            if expected and backbone.weights.get("sha256") != expected:
                raise UserFacingError(
                    f"the {backbone.name} weights found ({backbone.weights.get('file')}) are not the ones this "
                    f"generator was trained on (sha256 {expected[:16]}...): its tags would be meaningless")
            self._backbone = backbone
        return self._backbone

    def tag_images(self, paths: list[str | Path], seed: int | None = None) -> list[list[str]]:
        return self.tags_from_features(self.image_features(paths), seed)

    def tag_image(self, path: str | Path, seed: int | None = None) -> list[str]:
        return self.tag_images([path], seed)[0]


def load_tagger(path: str | Path = DEFAULT_WEIGHTS) -> FlickrTagger:
    """A tagger from a weights file written by ``export_tagger`` (checked against its .sha256)."""
    tensors, meta = read_weights(path, required=METADATA, pipeline="Flickr tagging")
    cfg = from_dict(FlickrExperiment, stored_config(meta["config"]))
    generator_state = {k.removeprefix("generator."): v.float() for k, v in tensors.items()
                       if k.startswith("generator.")}
    generator, _ = build_networks(cfg, int(meta["features"]["dim"]))
    generator.load_state_dict(generator_state)
    scaling = FeatureScaling(meta["feature_scaling"],
                             *(tensors[k].double().numpy() if k in tensors else None
                               for k in ("feature_mean", "feature_std")), length=cfg.data.vector_length)
    vocabulary = Vocabulary(tensors["vocabulary"].float().numpy(), meta["words"])
    return FlickrTagger(generator, cfg, scaling, vocabulary, meta["features"])


def tag_image(path: str | Path, weights: str | Path = DEFAULT_WEIGHTS) -> list[str]:
    """Ten tags for one photo with the shipped weights (or ``weights``)."""
    return load_tagger(weights).tag_image(path)


def export_tagger(context: Context, checkpoint: str | Path, out: str | Path, half: bool = False) -> dict:
    """Write the generator of ``checkpoint`` (a CGAN run's best.pt) with what tagging needs, from
    the experiment ``context`` it was trained in; returns {'file', 'sha256', 'bytes', 'epoch'}."""
    state = load_checkpoint(checkpoint)
    cfg, data = context.cfg, context.data
    if state.get("identity") != context.identity("cgan") or state.get("config") is None:
        raise UserFacingError(f"{checkpoint} was not trained by this experiment on these inputs (features, word "
                              "vectors, split); export it with the --config and --set values it was trained with")
    dtype = torch.float16 if half else torch.float32
    tensors = {f"generator.{k}": v.to(dtype) for k, v in state["generator"].items()}
    scaling = data.scaling
    for name in ("mean", "std"):
        if getattr(scaling, name) is not None:
            tensors[f"feature_{name}"] = torch.from_numpy(getattr(scaling, name))
    vocabulary = make_decoder(cfg, data).vocabulary
    tensors["vocabulary"] = vocabulary.unit.clone()
    meta = context.features_meta
    features = {"backbone": meta["backbone"], "dim": meta["dim"], "weights": meta["weights"],
                "preprocessing": meta["preprocessing"]}
    info = write_weights(tensors, {"config": state["config"], "words": vocabulary.words,
                                   "feature_scaling": scaling.how, "features": features,
                                   "epoch": state.get("epoch"), "dtype": str(dtype).split(".")[-1]}, out)
    return {**info, "epoch": state.get("epoch")}
