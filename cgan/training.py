"""The training loop shared by both pipelines, for any update rule (the paper's adversarial one is
cgan.adversarial): epochs of shuffled minibatches, SGD with momentum (cgan.optim), a learning rate
that decays after every update and momentum that moves once per epoch (cgan.schedules). Each
epoch ends with a callback that scores the model (higher is better), a checkpoint of everything
needed to resume bit-for-bit, and a copy of the best-scoring weights.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from cgan.config import require
from cgan.errors import UserFacingError
from cgan.networks import DropoutMasks, TowerNet
from cgan.optim import MomentumSGD
from cgan.runs.checkpoint import load_checkpoint, save_checkpoint
from cgan.runs.files import remove_stale_temp_files, write_json
from cgan.runs.locks import FolderLock
from cgan.runs.provenance import portable_command, provenance
from cgan.schedules import ExponentialDecay, MomentumAdjustor


@dataclass
class TrainSettings:
    """The loop's settings: SGD, its schedules, epochs and patience (what is optimised is
    cgan.objective's); each experiment's YAML names the source of every value."""

    batch_size: int = 100
    learning_rate: float = 0.1
    lr_decay: float = 1.00004
    lr_floor: float = 1e-6
    momentum_initial: float = 0.5
    momentum_final: float = 0.7
    momentum_start_epoch: int = 1
    momentum_saturate_epoch: int = 250
    max_epochs: int = 600
    patience: int | None = None

    def check(self) -> None:
        require(self.batch_size >= 1, "train.batch_size must be >= 1")
        require(self.learning_rate > 0, "train.learning_rate must be > 0")
        require(self.lr_decay >= 1.0, "train.lr_decay is a divisor per update and must be >= 1")
        require(0 < self.lr_floor <= self.learning_rate, "train.lr_floor must be in (0, learning_rate]")
        for name in ("momentum_initial", "momentum_final"):
            require(0 <= getattr(self, name) < 1, f"train.{name} must be in [0, 1)")
        require(self.momentum_initial <= self.momentum_final,
                "train.momentum_initial must be <= momentum_final (momentum rises: paper §4.1, 0.5 -> 0.7)")
        require(1 <= self.momentum_start_epoch <= self.momentum_saturate_epoch,
                "train.momentum_start_epoch must be >= 1 and <= momentum_saturate_epoch")
        require(self.max_epochs >= 1, "train.max_epochs must be >= 1")
        require(self.patience is None or self.patience >= 1, "train.patience must be >= 1 or null")

    def identity(self) -> dict[str, Any]:
        """The settings that shape the weights (not the epoch budget or patience)."""
        return {k: v for k, v in asdict(self).items() if k not in ("max_epochs", "patience")}

    def learning_rate_schedule(self) -> ExponentialDecay:
        return ExponentialDecay(self.learning_rate, self.lr_decay, self.lr_floor)

    def momentum_schedule(self) -> MomentumAdjustor:
        return MomentumAdjustor(self.momentum_initial, self.momentum_final,
                                self.momentum_start_epoch, self.momentum_saturate_epoch)


class ShuffledBatches:
    """Minibatches of a data set in a fresh random order each epoch (Pylearn2's
    'shuffled_sequential'); the order depends only on (seed, epoch), so resuming needs no state.

    ``fetch(indices)`` returns (data, condition) tensors for those examples, condition None for an
    unconditional GAN; or (data, condition, labels) where the objective needs class labels per row.
    """

    def __init__(self, size: int, fetch: Callable[[np.ndarray], tuple], batch_size: int, seed: int):
        self.size, self.fetch, self.batch_size, self.seed = size, fetch, batch_size, seed

    def __len__(self) -> int:
        return math.ceil(self.size / self.batch_size)

    def epoch(self, epoch: int) -> Iterator[tuple]:
        order = np.random.default_rng([self.seed, epoch]).permutation(self.size)
        for start in range(0, self.size, self.batch_size):
            yield self.fetch(order[start:start + self.batch_size])


EvaluateFn = Callable[[int], dict[str, Any]]


class Trainer:
    """Epochs, schedules, checkpoints, best tracking, resumption and patience, for any update rule.

    A subclass names its networks (``networks``, a dict: their state dicts go into checkpoints
    under those names, and their parameters, in that order, into one momentum-SGD optimizer),
    the per-update statistics it returns (``STATS``, averaged per epoch into the history) and
    the update itself (``update``). All networks share one dropout-mask source seeded with
    ``seed``. ``evaluate(epoch)`` is called after each epoch and returns metrics; its 'score'
    entry (higher is better) picks the best checkpoint. ``identity`` (the settings that shape
    the weights) is stored in checkpoints, and a run directory holding a different identity is
    refused; ``config`` (the whole experiment config as plain data) is stored so that a
    checkpoint alone rebuilds its networks. ``after_epoch(record)`` runs once the epoch is
    checkpointed (a sweep reports the score there, and may stop the run by raising).
    """

    STATS: tuple[str, ...] = ()

    def __init__(self, networks: dict[str, TowerNet], batches: ShuffledBatches, settings: TrainSettings,
                 run_dir: str | Path, seed: int, evaluate: EvaluateFn | None = None, identity: Any = None,
                 config: Any = None, progress: bool | None = None, device: str = "cpu",
                 after_epoch: Callable[[dict[str, Any]], None] | None = None):
        self.device = torch.device(device)
        self.networks = {name: net.to(self.device) for name, net in networks.items()}
        self.batches, self.settings, self.seed = batches, settings, seed
        self.run_dir = Path(run_dir)
        self.evaluate, self.after_epoch = evaluate, after_epoch
        self.identity, self.config = identity, config
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.masks = DropoutMasks(seed, self.device)  # on the device: no mask copies on a GPU
        for net in self.networks.values():
            net.dropout = self.masks
        self.optimizer = MomentumSGD([p for net in self.networks.values() for p in net.parameters()])
        self.lr_schedule = settings.learning_rate_schedule()
        self.momentum_schedule = settings.momentum_schedule()
        self.updates = 0
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self.best_networks: dict[str, Any] | None = None
        self.train_seconds = 0.0
        self.stopped_early = False
        self.sessions: list[dict[str, Any]] = []

    # ----- what a subclass supplies ---------------------------------------------------------
    def update(self, data: torch.Tensor, condition: torch.Tensor | None, lr: float, momentum: float,
               labels: torch.Tensor | None = None) -> torch.Tensor:
        """One update of the networks from a minibatch (``labels``: its rows' classes, where the
        batches hold them); returns a tensor of the STATS."""
        raise NotImplementedError

    def rng_state(self) -> dict[str, Any]:
        """Random-number streams of the update besides the dropout masks (resumed exactly)."""
        return {}

    def load_rng_state(self, state: dict[str, Any]) -> None:
        pass

    def step(self, data: torch.Tensor, condition: torch.Tensor | None, momentum: float,
             labels: torch.Tensor | None = None) -> torch.Tensor:
        """``update`` at the current learning rate, counted."""
        stats = self.update(data, condition, self.lr_schedule(self.updates), momentum, labels)
        self.updates += 1
        return stats

    # ----- epochs ----------------------------------------------------------------------
    def fit(self) -> list[dict[str, Any]]:
        """Train until max_epochs (or patience runs out), resuming from run_dir if possible. The
        run folder is locked meanwhile: a second process training into it is refused."""
        with FolderLock(self.run_dir, "training"):
            remove_stale_temp_files(self.run_dir)
            self.resume()
            self.sessions.append({**provenance(), "start_epoch": self.epoch})
            while self.epoch < self.settings.max_epochs and not self.stopped_early:
                self.run_epoch()
        if self.stopped_early and self.best is not None:
            print(f"stopped at epoch {self.epoch}: no better validation score for {self.settings.patience} "
                  f"epochs (best {self.best['score']:.5g} at epoch {self.best['epoch']})", flush=True)
        return self.history

    def run_epoch(self) -> dict[str, Any]:
        epoch, momentum, lr_start = self.begin_epoch()
        started = time.perf_counter()
        totals = torch.zeros(len(self.STATS), device=self.device)  # summed on the device: no sync per update
        bar = tqdm(self.batches.epoch(epoch), total=len(self.batches), disable=not self.progress,
                   desc=f"epoch {epoch}/{self.settings.max_epochs}", leave=False)
        for data, condition, *labels in bar:
            data, condition, labels = (None if t is None else t.to(self.device, non_blocking=True)
                                       for t in (data, condition, labels[0] if labels else None))
            totals += self.step(data, condition, momentum, labels)
        return self.end_epoch(epoch, momentum, lr_start, totals, time.perf_counter() - started)

    def begin_epoch(self) -> tuple[int, float, float]:
        """(epoch number, its momentum, the learning rate at its start); networks in training mode."""
        for net in self.networks.values():
            net.train()
        return self.epoch + 1, self.momentum_schedule(self.epoch + 1), self.lr_schedule(self.updates)

    def end_epoch(self, epoch: int, momentum: float, lr_start: float, totals: torch.Tensor,
                  seconds: float) -> dict[str, Any]:
        """The epoch's record (mean STATS, score), best tracking, checkpoint, log line."""
        self.train_seconds += seconds
        record = {"epoch": epoch, "updates": self.updates, "learning_rate": lr_start,
                  "momentum": momentum, **dict(zip(self.STATS, (totals / len(self.batches)).cpu().tolist())),
                  "epoch_seconds": seconds,
                  "updates_per_second": len(self.batches) / seconds}
        diverged = [key for key in self.STATS if not math.isfinite(record[key])]
        if diverged:
            raise UserFacingError(
                f"training diverged in epoch {epoch} ({', '.join(f'{k} {record[k]}' for k in diverged)}); "
                f"nothing of that epoch was saved: {self.run_dir / 'last.pt'} still holds epoch {self.epoch}. "
                "Try other settings (e.g. a lower train.learning_rate) in a new run folder, or --fresh")
        self.epoch = epoch
        if self.evaluate is not None:
            eval_started = time.perf_counter()
            record.update(self.evaluate(epoch))
            record["eval_seconds"] = time.perf_counter() - eval_started
        self.history.append(record)
        self._track_best(record)
        self.save()
        print(self.describe(record), flush=True)
        if self.after_epoch is not None:
            self.after_epoch(record)
        return record

    def describe(self, record: dict[str, Any]) -> str:
        """The epoch's line in the log."""
        stats = "  ".join(f"{key} {record[key]:.4f}" for key in self.STATS)
        text = (f"epoch {record['epoch']}/{self.settings.max_epochs}  lr {record['learning_rate']:.3g}  "
                f"mom {record['momentum']:.3f}  {stats}  {record['updates_per_second']:.1f} upd/s")
        return text + (f"  score {record['score']:.5g}" if "score" in record else "") + self.eta()

    def eta(self) -> str:
        """'  eta 1h05m': the time to the epoch budget at the pace of the last five epochs (patience
        may stop the run sooner)."""
        left = self.settings.max_epochs - self.epoch
        recent = self.history[-5:]
        if not left or not recent:
            return ""
        seconds = left * sum(r["epoch_seconds"] + r.get("eval_seconds", 0.0) for r in recent) / len(recent)
        hours, minutes = divmod(round(seconds / 60), 60)
        return f"  eta {hours}h{minutes:02d}m" if hours else f"  eta {minutes}m"

    def _track_best(self, record: dict[str, Any]) -> None:
        score = record.get("score")
        if score is None or not math.isfinite(score):
            return
        if self.best is None or score > self.best["score"]:
            self.best = {"epoch": record["epoch"], "score": score}
            self.best_networks = self.network_states()
            self.save_best()
        elif self.settings.patience and record["epoch"] - self.best["epoch"] >= self.settings.patience:
            self.stopped_early = True

    # ----- checkpoints -------------------------------------------------------------------
    def network_states(self) -> dict[str, Any]:
        """Copies of the networks' weights (a network trained in a stack holds views into the
        stack's tensors, which must not be saved whole)."""
        return {name: {k: v.detach().clone() for k, v in net.state_dict().items()}
                for name, net in self.networks.items()}

    def save_best(self) -> None:
        """best.pt: the best epoch's networks, record, identity and config (last.pt keeps a copy
        of these networks, so that a lost or damaged best.pt is written again on resuming)."""
        record = next(r for r in self.history if r["epoch"] == self.best["epoch"])
        save_checkpoint({"epoch": self.best["epoch"], "record": record, "identity": self.identity,
                         "config": self.config, **self.best_networks}, self.run_dir / "best.pt")

    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "updates": self.updates, "identity": self.identity, "config": self.config,
                **self.network_states(), "optimizer": self.optimizer.state_dict(), "masks": self.masks.state(),
                **self.rng_state(), "history": self.history, "best": self.best,
                "best_networks": self.best_networks,
                "train_seconds": self.train_seconds, "stopped_early": self.stopped_early,
                "sessions": self.sessions}

    def save(self) -> None:
        save_checkpoint(self.state(), self.run_dir / "last.pt")
        write_json(self.history, self.run_dir / "history.json")

    def resume(self) -> bool:
        """Continue from run_dir/last.pt if it exists; refuse one made by a different config."""
        path = self.run_dir / "last.pt"
        if not path.exists():
            return False
        state = load_checkpoint(path, self.device)
        conflicts = identity_conflicts(state.get("identity"), self.identity)
        if conflicts:
            raise UserFacingError(
                f"{path} was written with different settings ({', '.join(conflicts)}); use another "
                "run directory, or delete that one (or pass --fresh) to start over")
        for name, net in self.networks.items():
            net.load_state_dict(state[name])
        self.optimizer.load_state_dict(state["optimizer"])
        self.masks.load_state(state["masks"])
        self.load_rng_state(state)
        self.epoch, self.updates = state["epoch"], state["updates"]
        self.history, self.best = state["history"], state["best"]
        self.train_seconds, self.stopped_early = state["train_seconds"], state["stopped_early"]
        self.sessions = state["sessions"]
        self.best_networks = state.get("best_networks")
        print(f"resumed {path} at epoch {self.epoch} ({self.updates} updates)", flush=True)
        self._restore_best()
        return True

    def _restore_best(self) -> None:
        """Write best.pt again from last.pt's copy when it is missing or damaged."""
        if self.best is None or self.best_networks is None:
            return
        try:
            load_checkpoint(self.run_dir / "best.pt", self.device)
        except UserFacingError as error:
            print(f"{error}: written again from last.pt (epoch {self.best['epoch']})", flush=True)
            self.save_best()


def training_summary(run_dir: Path, best: dict[str, Any] | None = None) -> dict[str, Any]:
    """How a run was trained, from its checkpoints: best epoch and its record, epochs, updates,
    time, sessions and the per-epoch history. ``best``: best.pt when the caller has loaded it."""
    last, best = load_checkpoint(run_dir / "last.pt"), best or load_checkpoint(run_dir / "best.pt")
    sessions = [{**session, "command": portable_command(session["command"])} if "command" in session else session
                for session in last["sessions"]]
    return {"best_epoch": best["epoch"], "best_record": best["record"], "epochs_run": last["epoch"],
            "updates": last["updates"], "train_seconds": last["train_seconds"],
            "stopped_early": last["stopped_early"], "sessions": sessions, "history": last["history"]}


def identity_conflicts(saved: Any, current: Any, where: str = "") -> list[str]:
    """Dotted keys whose values differ; keys present on one side only (settings added to the
    code since the checkpoint was written) are not conflicts."""
    if isinstance(saved, dict) and isinstance(current, dict):
        return [conflict for key in sorted(saved.keys() & current.keys())
                for conflict in identity_conflicts(saved[key], current[key], f"{where}{key}.")]
    return [] if saved == current else [where.rstrip(".") or "identity"]


def pick_device(name: str) -> str:
    """'auto' means the GPU when torch sees one, else the CPU."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserFacingError(f"device {name!r} was asked for, but torch sees no GPU; use 'auto' or 'cpu'")
    return name
