"""What a hyper-parameter sweep (cgan.sweeps.study) needs of an experiment pipeline.

Each pipeline's train module defines one ``SWEEP_TARGET`` and its ``python -m <pipeline>.sweep``
command hands it to ``cgan.sweeps.study.main``: the core never names a pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SweepTarget:
    # load(config path, overrides) -> typed config; raises ConfigError naming a bad key or value.
    load: Callable[[str | Path, list[str]], Any]
    # train(cfg, run_dir, after_epoch, data_root, cache_dir, progress) -> the run's history; each
    # record's 'score' is the experiment's validation score (higher is better).
    train: Callable[..., list[dict[str, Any]]]
    # The command that runs one configuration alone (``--config ... --set ...`` follow it).
    command: str
    # The pipeline's name, in errors.
    pipeline: str
