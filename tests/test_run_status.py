"""python -m cgan.runs.status: how far each run got, from its folder alone."""

import json
import os
import socket

import pytest

from cgan.errors import UserFacingError
from cgan.runs import status as run_status
from cgan.runs.checkpoint import save_checkpoint
from cgan.runs.locks import FolderLock


def _run(folder, scores, budget, pid=None):
    folder.mkdir(parents=True)
    history = [{"epoch": i + 1, "score": s, "epoch_seconds": 30.0, "eval_seconds": 10.0, "valid_diversity": 0.5}
               for i, s in enumerate(scores)]
    (folder / "history.json").write_text(json.dumps(history))
    save_checkpoint({"config": {"train": {"max_epochs": budget}}}, folder / "last.pt")
    if pid is not None:
        (folder / ".lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                                 "purpose": "training", "command": "x"}))


def test_status_reports_progress_best_epoch_pace_and_the_live_trainer(tmp_path, capsys):
    _run(tmp_path / "alive", [1.0, 5.0, 3.0], budget=10)
    dead = 2 ** 22 + 12345  # above Linux's default pid_max: no such process
    _run(tmp_path / "sweeps" / "study" / "trial-0000", [2.0, 4.0], budget=2, pid=dead)
    with FolderLock(tmp_path / "alive", "training"):
        alive = run_status.run_status(tmp_path / "alive", tmp_path)
        assert run_status.main(["--runs", str(tmp_path)]) == 0
    assert alive["training_pid"] == os.getpid() and alive["epoch"] == 3 and alive["budget"] == 10
    assert alive["best_epoch"] == 2 and alive["best_score"] == 5.0 and alive["last_score"] == 3.0
    assert alive["seconds_per_epoch"] == 40.0 and alive["hours_left"] == pytest.approx(7 * 40 / 3600)
    trial = run_status.run_status(tmp_path / "sweeps" / "study" / "trial-0000", tmp_path)
    assert trial["training_pid"] is None and trial["hours_left"] == 0
    table = capsys.readouterr().out
    assert f"| alive | training (pid {os.getpid()}) | 3 / 10 | 2 (5.0) | 3.0 |" in table
    assert "| sweeps/study/trial-0000 | finished | 2 / 2 |" in table


def test_status_of_a_missing_runs_folder_says_so(tmp_path):
    with pytest.raises(UserFacingError, match="does not exist"):
        run_status.main(["--runs", str(tmp_path / "none")])


def test_a_reused_pid_is_not_a_trainer(tmp_path):
    """After a restart the note's pid may belong to another live process (here: this test's):
    with the lock not held, the run is stopped."""
    _run(tmp_path / "stale", [1.0], budget=5, pid=os.getpid())
    assert run_status.run_status(tmp_path / "stale", tmp_path)["training_pid"] is None
