"""What a hyper-parameter sweep (cgan.sweep) needs of an experiment pipeline.

Each pipeline's train module exposes one ``SWEEP_TARGET``; the sweep finds the pipeline of a
config file by asking each target's ``load`` to read it (a config names no key of another
pipeline's schema, so exactly one accepts it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Pipelines with a SWEEP_TARGET, by module; imported only when a sweep runs.
PIPELINE_MODULES = ("unimodal.train", "multimodal.train")


@dataclass(frozen=True)
class SweepTarget:
    # load(config path, overrides) -> typed config; raises ConfigError naming a bad key or value.
    load: Callable[[str | Path, list[str]], Any]
    # train(cfg, run_dir, after_epoch, data_root, cache_dir, progress) -> the run's history; each
    # record's 'score' is the experiment's validation score (higher is better).
    train: Callable[..., list[dict[str, Any]]]
    # The command that runs one configuration alone (``--config ... --set ...`` follow it).
    command: str
