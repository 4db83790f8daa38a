"""Everything a run of the tagging experiment reads, in one place: the data set, the encoders'
outputs (made first when asked), the split and pairs, and the identities that key the runs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cgan.errors import ConfigError
from cgan.runs import paths
from multimodal.data import TagData, load_tag_data
from multimodal.download import locate_mirflickr
from multimodal.encoders import feature_stage, load_encoder_outputs, wordvec_stage
from multimodal.settings import FlickrExperiment, run_directory, run_identity

MODELS = ("cgan", "regressor")


@dataclass
class Context:
    cfg: FlickrExperiment
    images_dir: Path
    data: TagData
    inputs: dict  # identities of the features, word vectors and pairs
    reports: dict = field(default_factory=dict)  # the encoders' result records, where present
    stages: dict = field(default_factory=dict)  # stage -> 'ran' / 'skipped' / 'not run'
    features_meta: dict = field(default_factory=dict)  # the features folder's meta.json (backbone, preprocessing)

    def identity(self, model: str) -> dict:
        return run_identity(self.cfg, model, self.inputs)

    def run_dir(self, model: str) -> Path:
        return run_directory(self.cfg, self.identity(model))

    def run_dirs(self) -> dict[str, Path]:
        models = MODELS if self.cfg.regressor.enabled else MODELS[:1]
        return {model: self.run_dir(model) for model in models}


def prepare(cfg: FlickrExperiment, data_root: str | None = None, cache_dir: str | None = None,
            run_stages: bool = True, threads: int | None = None, progress: bool = False) -> Context:
    """Locate (or download) MIR Flickr; make the encoders' outputs unless current (if
    ``run_stages``); read tags, split and pairs; check the shapes agree with the config."""
    cache = paths.cache_dir(cache_dir)
    dataset = locate_mirflickr(data_root, cache, progress=progress)
    stages = [feature_stage(cfg, dataset, cache, threads, progress), wordvec_stage(cfg, dataset, cache, data_root)]
    status = {s.name: s.ensure() if run_stages else "not run" for s in stages}
    for stage in stages:
        print(f"stage {stage.name}: {status[stage.name]} ({stage.output})", flush=True)
    outputs = load_encoder_outputs(stages[0].output, stages[1].output)
    if outputs.vectors.vector_size != cfg.word_dim:
        raise ConfigError(f"the word vectors are {outputs.vectors.vector_size}-d but word_dim is "
                          f"{cfg.word_dim}; make them agree (paper §4.2: 200)")
    data = load_tag_data(dataset, outputs.features, outputs.vectors, cfg.data)
    data.stats["image_side_px"] = outputs.features.meta.get("image_side_px")
    reports = {}
    for name, path in (("features", cfg.results / f"features_{outputs.identity['backbone']}.json"),
                       ("wordvecs", cfg.results / f"{stages[1].output.stem}.json")):
        if path.is_file():
            reports[name] = json.loads(path.read_text())
    inputs = {**outputs.identity, "pairs": data.identity()}
    return Context(cfg, dataset.images_dir, data, inputs, reports, status, dict(outputs.features.meta))
