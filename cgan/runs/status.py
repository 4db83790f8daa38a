"""Where every training run stands, without disturbing any: epochs done of the budget, the best
validation epoch so far, the latest scores, whether a process is training it now, and when it
would finish at its recent pace. Long runs train in the background across sessions; this answers
"how far did they get?" from their run folders (history.json, last.pt's config, the .lock note).

    python -m cgan.runs.status            # every run under runs/
    python -m cgan.runs.status --runs DIR
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from pathlib import Path
from typing import Any

from cgan.cli import run_cli
from cgan.errors import UserFacingError
from cgan.runs.checkpoint import load_checkpoint
from cgan.runs.locks import LOCK_NAME, holder_note
from cgan.runs.paths import REPO_ROOT

RECENT_EPOCHS = 5  # the pace of a run: its last few epochs (training and validation)


def training_process(folder: Path) -> int | None:
    """The pid of the live process on this machine that holds the folder's lock; None when none
    does. Reads the lock's note and asks the kernel whether the lock is held: taking the lock,
    even for a moment, could turn a starting run away, and a pid alone can be reused by another
    process after a restart."""
    lock = folder / LOCK_NAME
    try:
        note = holder_note(lock.read_text())
    except OSError:
        return None
    if note is None or note["host"] != socket.gethostname() or note["purpose"] != "training":
        return None
    held = _lock_is_held(lock)
    if held is not None:
        return note["pid"] if held else None
    try:  # no /proc/locks (not Linux): trust the pid
        os.kill(note["pid"], 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, but another user's
        pass
    return note["pid"]


def _lock_is_held(lock: Path) -> bool | None:
    """Whether some process holds a flock on ``lock`` (from /proc/locks), or None where the
    kernel does not say."""
    try:
        table, inode = Path("/proc/locks").read_text(), lock.stat().st_ino
    except OSError:
        return None
    for line in table.splitlines():
        fields = line.split()  # "1: FLOCK ADVISORY WRITE <pid> <major>:<minor>:<inode> 0 EOF"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
            return True
    return False


def run_status(folder: Path, root: Path) -> dict[str, Any] | None:
    """One run folder's state (named by its path under ``root``), or None if it holds no history yet."""
    try:
        history = json.loads((folder / "history.json").read_text())
    except (OSError, ValueError):
        return None
    if not history:
        return None
    budget = None
    try:
        budget = load_checkpoint(folder / "last.pt")["config"]["train"]["max_epochs"]
    except (UserFacingError, KeyError, TypeError):
        pass
    best = max(history, key=lambda record: record["score"])
    recent = history[-RECENT_EPOCHS:]
    pace = sum(r.get("epoch_seconds", 0) + r.get("eval_seconds", 0) for r in recent) / len(recent)
    last = history[-1]
    remaining = None if budget is None else max(budget - last["epoch"], 0) * pace
    return {"run": folder.relative_to(root).as_posix(), "training_pid": training_process(folder), "epoch": last["epoch"],
            "budget": budget, "best_epoch": best["epoch"], "best_score": best["score"],
            "last_score": last["score"], "last_diversity": last.get("valid_diversity"),
            "seconds_per_epoch": pace, "hours_left": None if remaining is None else remaining / 3600}


def find_runs(root: Path) -> list[Path]:
    """Folders under ``root`` (sweep trials included) that hold a history.json."""
    return sorted(path.parent for path in root.rglob("history.json"))


def format_table(rows: list[dict[str, Any]]) -> str:
    def number(value, spec):
        return "—" if value is None else format(value, spec)

    lines = ["| run | state | epoch / budget | best epoch (score) | last score | last diversity | s / epoch | hours left |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        state = f"training (pid {r['training_pid']})" if r["training_pid"] else "stopped"
        if r["budget"] is not None and r["epoch"] >= r["budget"]:
            state = "finished"
        lines.append(f"| {r['run']} | {state} | {r['epoch']} / {number(r['budget'], 'd')} | "
                     f"{r['best_epoch']} ({r['best_score']:.1f}) | {r['last_score']:.1f} | "
                     f"{number(r['last_diversity'], '.3f')} | {r['seconds_per_epoch']:.0f} | "
                     f"{number(r['hours_left'], '.1f')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cgan.runs.status", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default=str(REPO_ROOT / "runs"), help="folder of run folders (default: runs/)")
    args = parser.parse_args(argv)
    root = Path(args.runs)
    if not root.is_dir():
        raise UserFacingError(f"{root} does not exist: no run has been trained there yet")
    rows = [row for row in (run_status(folder, root) for folder in find_runs(root)) if row is not None]
    print(format_table(rows) if rows else f"no run under {root} has finished an epoch yet")
    return 0


if __name__ == "__main__":
    run_cli(main)
