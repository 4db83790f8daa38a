"""The frozen encoders of features/ as stages of the tagging pipeline.

Each stage is the encoder's own command (``python -m features.cnn``, ``python -m
features.skipgram``) run with its own config plus this experiment's overrides. A stage is keyed
by the sha256 of its settings and of what it reads (the image files' names and sizes; the tag,
annotation and text files' contents or sizes), written next to its output as
``<output>.stage.json``; when the key is unchanged and the output is there, it is skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors

from cgan.config import load_config, to_dict
from cgan.errors import DataError, UserFacingError
from cgan.runs.digest import sha256
from cgan.runs.files import write_json
from cgan.runs.paths import data_root as default_data_root
from features import cnn, skipgram, store
from features.images import list_images
from features.mirflickr import MirFlickr
from multimodal.settings import FlickrExperiment

# Settings that change how a stage runs, not what it makes.
RUNTIME_KEYS = {"name", "batch_size", "num_workers", "threads", "device", "allow_download",
                "output_dir", "results_dir", "checkpoint_seconds", "probe_words", "neighbours"}


@dataclass
class Stage:
    name: str
    output: Path  # the features folder, or the .kv file
    key: str
    argv: list[str]  # arguments of ``run``
    run: Callable[[list[str]], int]
    hint: str = ""  # how to change the stage's settings from this experiment, for its errors

    @property
    def stamp(self) -> Path:
        return self.output.with_name(self.output.name + ".stage.json")

    def is_current(self) -> bool:
        if not self.output.exists() or not self.stamp.is_file():
            return False
        return json.loads(self.stamp.read_text()).get("key") == self.key

    def ensure(self) -> str:
        """Run the stage unless its output is current; 'skipped' or 'ran'."""
        if self.is_current():
            return "skipped"
        try:
            code = self.run(self.argv)
        except UserFacingError as error:
            raise type(error)(f"{error}\n(stage {self.name} of the tagging pipeline: {self.hint})") from None
        if code:
            raise DataError(f"stage {self.name} failed (exit code {code}): {' '.join(self.argv)}")
        write_json({"stage": self.name, "key": self.key, "argv": self.argv}, self.stamp)
        return "ran"


def _relevant(settings) -> dict:
    return {k: v for k, v in to_dict(settings).items() if k not in RUNTIME_KEYS}


def _common(cfg: FlickrExperiment, config: Path, overrides: list[str], threads: int | None) -> list[str]:
    argv = ["--config", str(config), *(a for o in overrides for a in ("--set", o))]
    argv += ["--set", f"results_dir={cfg.results}"]
    return argv + (["--threads", str(threads)] if threads else [])


def feature_stage(cfg: FlickrExperiment, dataset: MirFlickr, cache: Path, threads: int | None = None,
                  progress: bool = False) -> Stage:
    """CNN features of every image (paper §4.2: the frozen ImageNet network's last FC layer)."""
    config = cfg.path(cfg.encoders.features_config)
    overrides = cfg.encoders.feature_overrides()
    settings = load_config(cnn.FeatureSettings, config, overrides)
    images = dataset.images_dir
    listing = [f"{name}\t{(images / name).stat().st_size}" for name in list_images(images)]
    key = sha256({"settings": _relevant(settings), "images": store.list_digest(listing)})
    # The standard preprocessing's features sit where features.cnn puts them by default; other
    # preprocessing gets a folder of its own, so that neither overwrites the other.
    name = settings.backbone if settings.preprocess == cnn.PreprocessSettings() else \
        f"{settings.backbone}-{key[:8]}"
    output = Path(settings.output_dir).expanduser() if settings.output_dir else cache / "flickr" / "features" / name
    argv = _common(cfg, config, overrides, threads) + [
        "--images", str(images), "--out", str(output), "--cache-dir", str(cache),
        "--progress" if progress else "--no-progress"]
    hint = ("its settings come from encoders.* of this experiment's config, e.g. --set "
            "encoders.backbone=efficientnet-lite0 (make flickr-tags BACKBONE=efficientnet-lite0)")
    return Stage("features", output, key, argv, cnn.main, hint)


def wordvec_stage(cfg: FlickrExperiment, dataset: MirFlickr, cache: Path, data_root: str | None = None) -> Stage:
    """Skip-gram word vectors (paper §4.2). Test images' tags never reach the word model: the
    corpus's split is this experiment's (data.train_max_image_id)."""
    config = cfg.path(cfg.encoders.wordvecs_config)
    root = default_data_root(data_root)
    base = load_config(skipgram.WordVectorSettings, config, cfg.encoders.wordvecs_set)
    # Text files are named relative to the data root; MIR Flickr may sit elsewhere (a download
    # in the cache), so they are passed as absolute paths and the data root as MIR Flickr's.
    texts = [{"path": str(_under(root, t.path)), "column": t.column} for t in base.corpus.text_files]
    yfcc = [str(_under(root, path)) for path in base.corpus.yfcc100m_files]
    overrides = [*cfg.encoders.wordvecs_set, f"corpus.train_max_image_id={cfg.data.train_max_image_id}",
                 f"corpus.text_files={json.dumps(texts)}", f"corpus.yfcc100m_files={json.dumps(yfcc)}"]
    settings = load_config(skipgram.WordVectorSettings, config, overrides)
    out_dir = Path(settings.output_dir).expanduser() if settings.output_dir else cache / "flickr" / "wordvecs"
    output = out_dir / f"{settings.name}.kv"
    inputs = {"tags": _tag_files_digest(dataset),
              "texts": [_file_identity(Path(t["path"])) for t in texts],
              "yfcc": [_file_identity(Path(path)) for path in yfcc]}
    key = sha256({"settings": _relevant(settings), "inputs": inputs})
    # No --threads: gensim's workers stay the config's (1 is bit-reproducible).
    argv = _common(cfg, config, overrides, None) + [
        "--data-root", str(dataset.root.parent), "--out", str(out_dir), "--no-progress"]
    hint = "its settings come from encoders.wordvecs_config and encoders.wordvecs_set of this experiment's config"
    return Stage("wordvecs", output, key, argv, skipgram.main, hint)


def _under(root: Path, path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p


def _file_identity(path: Path) -> list:
    stat = path.stat() if path.is_file() else None
    return [str(path), stat.st_size if stat else None, int(stat.st_mtime) if stat else None]


def _tag_files_digest(dataset: MirFlickr) -> str:
    """sha256 over every tags file and annotation file (their contents)."""
    h = hashlib.sha256()
    tags = dataset.images_dir / "meta" / "tags"
    folders = [tags, dataset.root / "annotations"]
    for folder in folders:
        names = sorted(os.listdir(folder)) if folder.is_dir() else []
        for name in names:
            h.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    return h.hexdigest()


@dataclass
class EncoderOutputs:
    features: store.StoredFeatures
    vectors: KeyedVectors
    identity: dict  # what identifies them, for the runs trained on them


def word_vectors_digest(vectors: KeyedVectors) -> str:
    """sha256 of the words and their vectors: what the runs depend on. Not the file's bytes, which
    also hold gensim's time-stamped log of events, so that vectors trained again with the same
    settings (bit-identical with one worker) keep the runs made on them."""
    h = hashlib.sha256("\n".join(vectors.index_to_key).encode())
    h.update(np.ascontiguousarray(vectors.vectors, dtype=np.float32).tobytes())
    return h.hexdigest()


def load_encoder_outputs(features_dir: Path, kv_path: Path) -> EncoderOutputs:
    """The features folder and the word vectors, with their identities."""
    features = store.load_features(features_dir)
    if not kv_path.is_file():
        raise DataError(f"word vectors {kv_path} are missing: run python -m multimodal.pipeline "
                        "(or python -m features.skipgram)")
    vectors = KeyedVectors.load(str(kv_path))
    identity = {"features": sha256(features.meta.get("identity")), "backbone": features.meta.get("backbone"),
                "feature_dim": int(features.features.shape[1]), "word_vectors": word_vectors_digest(vectors)}
    return EncoderOutputs(features, vectors, identity)
