"""Hyper-parameter sweeps on Optuna, the paper's own method ("cross-validation and a mix of random
grid search and manual selection", §4.1, §4.2).

Each trial is an ordinary run of the experiment with the space's overrides, in its own run
directory (resumable like any run); its objective is the experiment's validation score (MNIST:
the validation Parzen score; Flickr: the validation P@10, both in the configured sampling mode),
reported every epoch so that a pruner can stop poor trials early.

Storage: an SQLite file under the run directory by default; with ``--storage`` any SQLAlchemy URL
(``postgresql://user:password@host/database``), so that workers on several machines share one
study: start the same command on each. A worker that dies stops sending heartbeats; its trial is
then marked failed and queued again with the same values, and the retry resumes the dead
worker's run directory. A study ends when ``--trials`` trials are complete or pruned; a killed
trial is never counted twice.

Example: python -m unimodal.sweep --config experiments/mnist/mnist_cgan.yaml --space experiments/mnist/sweeps/diversity.yaml --epochs 20
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from cgan.cli import experiment_parser, set_threads
from cgan.errors import ConfigError, UserFacingError
from cgan.runs.files import atomic_write
from cgan.runs.paths import REPO_ROOT
from cgan.runs.provenance import portable_command, provenance
from cgan.sweeps.report import write_sweep_outputs
from cgan.sweeps.space import Param, check_space, grid, read_space, space_base_config, yaml_text
from cgan.sweeps.target import SweepTarget

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)  # what --trials counts
PENDING = (TrialState.RUNNING, TrialState.WAITING)


class SurplusTrial(Exception):
    """Raised in a trial started by a worker racing another one past --trials: it runs nothing."""


def find_target(targets: list[SweepTarget], config: str | Path, overrides: list[str]) -> tuple[SweepTarget, Any]:
    """The pipeline whose config schema accepts this config file, and the config."""
    errors = []
    for target in targets:
        try:
            return target, target.load(config, overrides)
        except ConfigError as error:
            errors.append(f"as {target.pipeline}: {error}")
    raise ConfigError(f"{config} is not a config of any experiment ({'; '.join(errors)})")


def storage_url(url: str | None, default_path: Path) -> str:
    """The study's storage: an SQLite file by default; ``postgresql://`` goes through psycopg 3."""
    if url is None:
        default_path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{default_path}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def open_storage(url: str, heartbeat: int, attempts: int = 5) -> RDBStorage:
    """The study's database, with heartbeats; a stale trial is queued again with its values.
    Workers started together on a new database race to create its tables: the losers retry."""
    for attempt in range(attempts):
        try:
            return RDBStorage(url, heartbeat_interval=heartbeat, grace_period=2 * heartbeat,
                              heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=None))
        except sqlalchemy.exc.SQLAlchemyError as error:
            if attempt == attempts - 1:
                raise UserFacingError(f"cannot open the study's storage {url.split('@')[-1]}: {error}") from None
            time.sleep(1 + attempt)
    raise AssertionError("unreachable")


def make_sampler(name: str, params: list[Param], seed: int) -> optuna.samplers.BaseSampler:
    if name == "grid":
        return optuna.samplers.GridSampler(grid(params), seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    if name == "median":  # stop a trial whose score is below the median of earlier trials at that epoch
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=max(1, epochs // 4))
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    return optuna.pruners.NopPruner()


def trial_number(study: optuna.Study, trial: optuna.Trial) -> int:
    """The number of the trial this one retries (itself if none): it names the run directory, so
    that a retried trial resumes where its dead worker stopped."""
    frozen = study.trials[trial.number]
    original = RetryHeartbeatStaleTrialCallback.retried_trial_number(frozen)
    return trial.number if original is None else original


class Sweep:
    def __init__(self, args: argparse.Namespace, targets: list[SweepTarget]):
        self.args = args
        self.params = read_space(args.space)
        self.base = list(args.overrides)
        self.target, self.cfg = find_target(targets, args.config, self.base)
        self.epochs = args.epochs or self.cfg.train.max_epochs
        check_space(self.params, lambda extra: self.target.load(args.config, self.base + extra), args.space)
        if args.sampler == "grid":
            grid(self.params)
        self.study_name = args.study or f"{self.cfg.name}-{Path(args.space).stem}"
        self.sweep_dir = self.cfg.path(self.cfg.run_dir) / "sweeps" / self.study_name
        self.results = self.cfg.results / "sweeps" / self.study_name
        self.storage = open_storage(storage_url(args.storage, self.sweep_dir / "study.db"), args.heartbeat)
        self.study = optuna.create_study(
            study_name=self.study_name, storage=self.storage, load_if_exists=True, direction="maximize",
            sampler=make_sampler(args.sampler, self.params, args.seed), pruner=make_pruner(args.pruner, self.epochs))
        self.trials = args.trials or (_grid_size(self.params) if args.sampler == "grid" else 10)

    def overrides(self, values: dict[str, Any]) -> list[str]:
        """Every override of a trial: the sweep's own (--set), the swept values, the epoch budget."""
        by_key = {p.key: p for p in self.params}
        return [*self.base, *(by_key[k].override(v) for k, v in values.items()), f"train.max_epochs={self.epochs}"]

    def objective(self, trial: optuna.Trial) -> float:
        counted = self.study.get_trials(deepcopy=False, states=COUNTED + PENDING)
        if sum(t.number < trial.number for t in counted) >= self.trials:
            raise SurplusTrial(f"the study already has {self.trials} trials")
        values = {p.key: p.suggest(trial) for p in self.params}
        number = trial_number(self.study, trial)
        run_dir = self.sweep_dir / f"trial-{number:04d}"
        cfg = self.target.load(self.args.config, self.overrides(values))
        trial.set_user_attr("interrupted", False)
        trial.set_user_attr("run", run_dir.name)
        trial.set_user_attr("overrides", self.overrides(values))
        print(f"trial {trial.number} ({run_dir.name}): {', '.join(f'{k}={v}' for k, v in values.items())}",
              flush=True)

        def report(record: dict) -> None:
            if record.get("score") is not None:
                trial.report(record["score"], record["epoch"])
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after epoch {record['epoch']}")

        history_file = run_dir / "history.json"
        if history_file.is_file():  # a retry: the epochs its dead worker ran count for the pruner
            for record in json.loads(history_file.read_text()):
                report(record)
        started = time.perf_counter()
        try:
            history = self.target.train(cfg, run_dir, report, self.args.data_root, self.args.cache_dir,
                                        self.args.progress)
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)  # queued again when the sweep is started again
            raise
        scored = [r for r in history if r.get("score") is not None]
        if not scored:
            raise UserFacingError(f"trial {trial.number} has no validation score (eval.every_epochs too large?)")
        best = max(scored, key=lambda r: r["score"])
        trial.set_user_attr("epochs_run", history[-1]["epoch"])
        trial.set_user_attr("best_epoch", best["epoch"])
        trial.set_user_attr("worker_seconds", round(time.perf_counter() - started, 1))
        trial.set_user_attr("train_seconds", round(sum(r["epoch_seconds"] + r.get("eval_seconds", 0.0)
                                                       for r in history), 1))
        return best["score"]

    def counts(self) -> tuple[int, int]:
        trials = self.study.get_trials(deepcopy=False)
        return (sum(t.state in COUNTED for t in trials), sum(t.state in PENDING for t in trials))

    def requeue_interrupted(self) -> None:
        """Queue again, with the same values and run directory, every trial stopped by Ctrl-C
        (a trial whose worker was killed is queued again by the heartbeat check)."""
        trials = self.study.get_trials(deepcopy=False)
        retried = {n for t in trials for n in RetryHeartbeatStaleTrialCallback.retry_history(t)}
        requeue = RetryHeartbeatStaleTrialCallback(max_retry=None)
        for trial in trials:
            if trial.state == TrialState.FAIL and trial.user_attrs.get("interrupted") and trial.number not in retried:
                requeue(self.study, trial)

    def run(self) -> None:
        """Run trials until the study has --trials counted ones; wait for trials other workers
        run (taking them over if their worker dies), then write the outputs."""
        started, self.provenance = time.perf_counter(), provenance()  # the code this worker runs
        self.requeue_interrupted()
        while True:
            done, pending = self.counts()
            if done >= self.trials:
                break
            waiting = sum(t.state == TrialState.WAITING for t in self.study.get_trials(deepcopy=False))
            if done + pending - waiting >= self.trials:  # the rest is running on other workers
                print(f"{done} of {self.trials} trials done; waiting for {pending} running elsewhere", flush=True)
                time.sleep(self.args.heartbeat)
                optuna.storages.fail_stale_trials(self.study)
                continue
            self.study.optimize(self.objective, n_trials=1, catch=(SurplusTrial,))
        self.write_outputs(time.perf_counter() - started)

    def write_outputs(self, seconds: float) -> list[Path]:
        """Every output from the study as it stands (any worker may write them; the last one wins)."""
        self.results.mkdir(parents=True, exist_ok=True)
        frame = self.study.trials_dataframe(attrs=("number", "value", "state", "params", "user_attrs", "duration"))
        frame = frame.drop(columns=[c for c in frame.columns if c == "user_attrs_interrupted"])
        if "user_attrs_overrides" in frame.columns:  # no folder of this computer in the committed table
            frame["user_attrs_overrides"] = frame["user_attrs_overrides"].map(portable_overrides)
        atomic_write(self.results / "trials.csv", lambda handle: handle.write(frame.to_csv(index=False).encode()))
        return [self.results / "trials.csv", *write_sweep_outputs(self.record(seconds), self.params, self.results)]

    def record(self, seconds: float) -> dict[str, Any]:
        """The study as plain data: its settings, every trial, and the provenance of this worker."""
        args, faithful = self.args, self.target.load(self.args.config, [])
        trials = sorted(self.study.get_trials(deepcopy=False), key=lambda t: t.number)
        return {
            "study": self.study_name, "config": _relative(args.config), "space": _relative(args.space),
            "base_overrides": portable_overrides(self.base), "epochs": self.epochs, "trials_wanted": self.trials,
            "sampler": args.sampler, "pruner": args.pruner, "sampler_seed": args.seed,
            "storage": "sqlite (default)" if args.storage is None else args.storage.split("://")[0],
            "params": [{"key": p.key, "config_value": _plain(config_value(faithful, p.key)), "choices": p.choices,
                        "low": p.low, "high": p.high, "log": p.log, "integer": p.integer} for p in self.params],
            "reproduce_command": f"{self.target.command} --config {_relative(args.config)}",
            "trials": [trial_record(t) for t in trials],
            "provenance": {**self.provenance, "wall_seconds": round(seconds, 1),
                           "command": redact_storage(self.provenance["command"], args.storage)},
        }


def trial_record(trial: FrozenTrial) -> dict[str, Any]:
    attrs = {k: v for k, v in trial.user_attrs.items() if k != "interrupted"}
    if "overrides" in attrs:
        attrs["overrides"] = portable_overrides(attrs["overrides"])
    return {"number": trial.number, "state": trial.state.name, "params": trial.params, "score": trial.value,
            "curve": {str(k): v for k, v in sorted(trial.intermediate_values.items())},
            "seconds": trial.duration.total_seconds() if trial.duration else None, **attrs}


def portable_overrides(overrides: Any) -> Any:
    """A trial's --set overrides as a result records them (cgan.runs.provenance.portable_command)."""
    return [portable_command(o) for o in overrides] if isinstance(overrides, list) else overrides


def config_value(cfg: Any, key: str) -> Any:
    """The value of a dotted key in a typed config."""
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _relative(path: str | Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def redact_storage(command: str, storage: str | None) -> str:
    """The command without the storage URL's credentials, host and socket path (machine details)."""
    if not storage:
        return command
    return command.replace(storage, storage.split("://")[0] + "://...")


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else yaml_text(value)


def _grid_size(params: list[Param]) -> int:
    size = 1
    for param in params:
        size *= len(param.choices or ())
    return size


def main(argv: list[str] | None, targets: list[SweepTarget], prog: str) -> int:
    """The sweep command of the pipelines whose ``targets`` are given (each pipeline's
    ``python -m <pipeline>.sweep`` passes its own)."""
    parser = experiment_parser(None, prog=prog, description=__doc__)
    parser.add_argument("--space", required=True, help="YAML file of config keys and their values or ranges")
    parser.add_argument("--trials", type=int, default=None,
                        help="complete (or pruned) trials the study ends with (default: the grid's size, else 10)")
    parser.add_argument("--storage", default=None,
                        help="SQLAlchemy URL of the study, e.g. postgresql://user:pw@host/db "
                             "(default: sqlite file under <run_dir>/sweeps/<study>/)")
    parser.add_argument("--study", default=None, help="study name (default: <config name>-<space file name>)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per trial (default: the config's max_epochs)")
    parser.add_argument("--sampler", choices=["grid", "random", "tpe"], default="tpe",
                        help="grid: every combination of listed values; random; tpe (default)")
    parser.add_argument("--pruner", choices=["none", "median", "hyperband"], default="none",
                        help="stop poor trials early (default: none)")
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed (default 0)")
    parser.add_argument("--heartbeat", type=int, default=60,
                        help="seconds between a worker's heartbeats; a trial silent for twice that is "
                             "retried by another worker (default 60)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False,
                        help="per-epoch progress bars (default: off)")
    args = parser.parse_args(argv)
    if args.config is None:
        args.config = space_base_config(args.space)
        if args.config is None:
            raise UserFacingError(f"{args.space} names no base_config: pass --config")
        args.config = str(REPO_ROOT / args.config)
    if args.trials is not None and args.trials < 1:
        raise UserFacingError("--trials must be at least 1")
    if args.epochs is not None and args.epochs < 1:
        raise UserFacingError("--epochs must be at least 1")
    if args.heartbeat < 1:
        raise UserFacingError("--heartbeat must be at least 1 second")
    if not 0 <= args.seed < 2**32:
        raise UserFacingError("--seed must be a whole number from 0 to 2^32 - 1 (the sampler's numpy limit)")
    optuna.logging.set_verbosity(logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sweep = Sweep(args, targets)
    set_threads(args.threads or sweep.cfg.threads)
    print(f"study {sweep.study_name}: {sweep.trials} trials of {sweep.epochs} epochs "
          f"({args.sampler} sampler, {args.pruner} pruner) -> {sweep.results}", flush=True)
    sweep.run()
    return 0

