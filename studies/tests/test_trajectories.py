"""Runs of one configuration side by side: results read from files or from git history, summarised
and drawn."""

import json
import subprocess

import pytest

from cgan.errors import UserFacingError
from studies import trajectories


def _result(seed, valid, diversity, best_epoch, test=200.0, threads=2, command="python -m unimodal.train"):
    history = [{"epoch": e + 1, "valid_parzen": v, "valid_diversity": d, "score": v}
               for e, (v, d) in enumerate(zip(valid, diversity))]
    return {"seed": seed, "best_epoch": best_epoch, "epochs_run": len(history), "max_epochs": 10, "history": history,
            "training_sessions": [{"command": command, "machine": {"torch_threads": threads}}],
            "by_sampling": {"deterministic": {"parzen": {"mean": test, "std_error": 2.0},
                                              "diversity": {"mean": diversity[best_epoch - 1]}}}}


def _git(repo, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=repo,
                   check=True, capture_output=True)


def test_a_replaced_results_file_is_read_as_committed(tmp_path):
    first, second = _result(1, [1.0, 2.0], [0.5, 0.6], 2), _result(1, [3.0, 4.0], [0.7, 0.9], 2)
    _git(tmp_path, "init", "-q")
    (tmp_path / "run.json").write_text(json.dumps(first))
    _git(tmp_path, "add", "run.json")
    _git(tmp_path, "commit", "-qm", "first run")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    (tmp_path / "run.json").write_text(json.dumps(second))  # a later run of the seed replaced it
    assert trajectories.read_result(f"{commit[:7]}:run.json", repo=tmp_path)["history"] == first["history"]
    assert trajectories.read_result("run.json", repo=tmp_path)["history"] == second["history"]
    with pytest.raises(UserFacingError, match="git cannot show"):
        trajectories.read_result("0000000:run.json", repo=tmp_path)


def test_a_file_that_is_not_a_results_file_is_refused_by_name(tmp_path):
    (tmp_path / "other.json").write_text(json.dumps({"epoch": 3}))
    with pytest.raises(UserFacingError, match="other.json is not an MNIST results file"):
        trajectories.read_result("other.json", repo=tmp_path)
    with pytest.raises(UserFacingError, match="missing.json: cannot read it"):
        trajectories.read_result("missing.json", repo=tmp_path)


def test_summary_reports_the_best_epoch_the_settled_diversity_and_the_score_after_the_best():
    result = _result(2, [10.0, 30.0, 20.0, 24.0], [0.5, 0.82, 0.78, 0.8], best_epoch=2, test=215.0,
                     threads=1, command="python -m unimodal.train --seeds 1 2")
    row = trajectories.summarise("2, first run", "run.json", result, settled_from=2)
    assert (row["best_epoch"], row["best_valid"], row["test"], row["diversity"]) == (2, 30.0, 215.0, 0.82)
    assert (row["settled_min"], row["settled_max"]) == (0.78, 0.82)
    assert (row["after_mean"], row["after_epochs"]) == (22.0, 2)
    assert row["trained"] == "1 thread(s), seeds stacked"


def test_the_command_writes_a_table_and_curves_and_counts_runs_at_the_bar(tmp_path):
    for name, result in {"a": _result(1, [5.0, 6.0], [0.85, 0.81], 2, test=210.0),
                         "b": _result(1, [5.0, 4.0], [0.70, 0.75], 1, test=190.0)}.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(result))
    out = tmp_path / "report" / "runs"
    assert trajectories.main(["--out", str(out), "--plot-from", "1", "--run", f"first={tmp_path / 'a.json'}",
                              "--run", f"second={tmp_path / 'b.json'}"]) == 0
    table = out.with_suffix(".md").read_text()
    assert "| first | 1 |" in table and "| second | 1 |" in table
    assert "test Parzen 190.0 to 210.0" in table and "1 of 2 at 0.8 or above" in table
    assert out.with_suffix(".png").stat().st_size > 1000
    assert table.startswith("# Runs of one configuration side by side\n")
    assert trajectories.main(["--out", str(out), "--title", "Masks shared or not", "--run", f"first={tmp_path / 'a.json'}"]) == 0
    assert out.with_suffix(".md").read_text().startswith("# Masks shared or not\n")


def test_a_run_without_a_label_is_refused(capsys):
    with pytest.raises(SystemExit):
        trajectories.main(["--out", "x", "--run", "results.json"])
    assert "is not LABEL=SOURCE" in capsys.readouterr().err
