"""Hyper-parameter sweeps (cgan.sweeps.study) on the MNIST smoke config: SQLite by default, two workers on
one PostgreSQL study, a worker killed mid-trial, and bad space files rejected up front."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest

from cgan.errors import ConfigError
from cgan.sweeps import study
from tests.data_paths import mnist_root
from unimodal import sweep, train

pytestmark = pytest.mark.slow  # end to end: pytest -m "not slow" skips it

REPO = Path(__file__).resolve().parent.parent
SMOKE = str(REPO / "experiments" / "mnist" / "mnist_smoke.yaml")
# Tiny trials: 500 training images (5 updates an epoch), 200 samples scored on 100 images.
TINY = ["--set", "train_images=500", "--set", "eval.samples_per_class=20", "--set", "eval.valid_images=100"]


def sweep_args(root: Path, space: Path, *extra: str) -> list[str]:
    return ["--config", SMOKE, "--space", str(space), "--data-root", mnist_root(),
            "--cache-dir", str(root / "cache"), "--set", f"run_dir={root / 'runs'}",
            "--set", f"results_dir={root / 'results'}", "--threads", "1", *TINY, *extra]


def write_space(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def load_study(root: Path, name: str, storage: str | None = None) -> optuna.Study:
    url = storage or f"sqlite:///{root / 'runs' / 'sweeps' / name / 'study.db'}"
    return optuna.load_study(study_name=name, storage=study.storage_url(url, Path()))


def test_a_tiny_sweep_writes_its_outputs_and_the_best_trial_reproduces_alone(tmp_path, one_thread):
    space = write_space(tmp_path / "space.yaml", "objective.noise: [unit_uniform, symmetric_uniform]\n"
                        "train.learning_rate: {low: 0.05, high: 0.2, log: true}\n")
    assert sweep.main(sweep_args(tmp_path, space, "--trials", "3", "--epochs", "2", "--sampler", "random",
                                 "--study", "tiny")) == 0
    out = tmp_path / "results" / "sweeps" / "tiny"
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [r["number"] for r in rows] == ["0", "1", "2"] and {r["state"] for r in rows} == {"COMPLETE"}
    assert all(r["params_objective.noise"] in ("unit_uniform", "symmetric_uniform") for r in rows)
    assert all(0.05 <= float(r["params_train.learning_rate"]) <= 0.2 for r in rows)
    assert all(r["user_attrs_epochs_run"] == "2" for r in rows)
    text = (out / "sweep.md").read_text()
    assert "## Best trials" in text and "`objective.noise`: config `unit_uniform`" in text
    record = json.loads((out / "sweep.json").read_text())
    assert {"command", "commit", "machine", "wall_seconds"} <= set(record["provenance"])
    assert all(len(t["curve"]) == 2 for t in record["trials"])
    assert (out / "scores.png").stat().st_size > 0 and (out / "curves.png").stat().st_size > 0

    best = max(record["trials"], key=lambda t: t["score"])
    alone = [o for o in best["overrides"] if not o.startswith("run_dir=")] + [f"run_dir={tmp_path / 'alone'}"]
    args = ["--config", SMOKE, "--data-root", mnist_root(), "--cache-dir", str(tmp_path / "cache"), "--no-evaluate",
            "--threads", "1", *[item for o in alone for item in ("--set", o)]]
    assert train.main(args) == 0
    history = json.loads((tmp_path / "alone" / "mnist_smoke" / "history.json").read_text())
    assert max(r["score"] for r in history) == best["score"]

    # Started again, the finished study runs nothing more and rewrites the same trials.
    assert sweep.main(sweep_args(tmp_path, space, "--trials", "3", "--epochs", "2", "--sampler", "random",
                                 "--study", "tiny")) == 0
    assert len(load_study(tmp_path, "tiny").trials) == 3


@pytest.mark.parametrize("text, message", [
    ("train.nosie: [gaussian]\n", "train.nosie"),
    ("train.learning_rate: [0.1, 0.0]\n", "train.learning_rate = 0.0"),
    ("objective.noise: []\n", "objective.noise: the list of values is empty"),
    ("train.learning_rate: {low: 0.2, high: 0.1}\n", "train.learning_rate: low (0.2) is above high (0.1)"),
    ("train.learning_rate: {low: 0.0, high: 0.1, log: true}\n", "train.learning_rate: a log range needs low > 0"),
    ("generator.hidden_keep: 0.5\n", "generator.hidden_keep: give a list of values or a range"),
])
def test_a_bad_space_file_is_rejected_before_any_trial_naming_the_key(tmp_path, text, message):
    space = write_space(tmp_path / "space.yaml", text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sweep.main(sweep_args(tmp_path, space, "--trials", "1", "--epochs", "1"))
    assert not (tmp_path / "runs").exists()


def test_the_grid_sampler_needs_listed_values(tmp_path):
    space = write_space(tmp_path / "space.yaml", "train.learning_rate: {low: 0.05, high: 0.2}\n")
    with pytest.raises(ConfigError, match="grid sampler needs a list of values.*train.learning_rate"):
        sweep.main(sweep_args(tmp_path, space, "--sampler", "grid"))


def worker(root: Path, space: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "unimodal.sweep", *sweep_args(root, space, *extra)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def postgres_url():
    """A PostgreSQL database: $CGAN_TEST_POSTGRES_URL (CI starts a server, see .ci/run), else a
    private server started here when PostgreSQL's programs are installed."""
    url = os.environ.get("CGAN_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        if os.environ.get("CGAN_REQUIRE_POSTGRES"):
            pytest.fail("CGAN_REQUIRE_POSTGRES is set but no PostgreSQL server is installed or given")
        pytest.skip("no PostgreSQL server installed (CI installs one and sets CGAN_TEST_POSTGRES_URL)")
    bindir = bins[-1].parent
    root = Path(tempfile.mkdtemp(prefix="cgan-pg-"))  # short (a socket path), and open to the server's user
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # initdb refuses root
    if as_user:
        shutil.chown(root, "postgres")
    data = root / "data"
    try:
        subprocess.run([*as_user, bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres"], check=True,
                       capture_output=True)
        subprocess.run([*as_user, bindir / "pg_ctl", "-D", data, "-o", f"-k {root} -c listen_addresses=''",
                        "-l", root / "log", "-w", "start"], check=True, capture_output=True)
        subprocess.run(["psql", "-h", root, "-U", "postgres", "-c", "create database sweeps"], check=True,
                       capture_output=True)
        yield f"postgresql://postgres@/sweeps?host={root}"
    finally:
        subprocess.run([*as_user, bindir / "pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_share_one_postgres_study_without_duplicates_or_losses(tmp_path, postgres_url):
    space = write_space(tmp_path / "space.yaml", "objective.noise: [unit_uniform, symmetric_uniform, gaussian]\n"
                        "train.learning_rate: {low: 0.05, high: 0.2}\n")
    study = f"two-workers-{os.getpid()}-{time.time_ns()}"
    args = ("--trials", "5", "--epochs", "2", "--sampler", "random", "--storage", postgres_url, "--study", study)
    workers = [worker(tmp_path, space, *args, "--seed", str(seed)) for seed in (1, 2)]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    trials = load_study(tmp_path, study, postgres_url).trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 5 and len({t.number for t in complete}) == 5
    assert len({t.user_attrs["run"] for t in complete}) == 5  # each in its own run directory
    assert all("trial " in out for out in outputs)  # both workers ran trials
    ran = sorted(int(line.split()[1]) for out in outputs for line in out.splitlines() if line.startswith("trial "))
    assert ran == sorted(t.number for t in trials if t.state != optuna.trial.TrialState.FAIL)


def test_a_sweep_killed_mid_trial_resumes_that_trial_and_counts_it_once(tmp_path):
    space = write_space(tmp_path / "space.yaml", "objective.noise: [unit_uniform, symmetric_uniform]\n")
    args = ("--trials", "2", "--epochs", "4", "--sampler", "grid", "--study", "killed", "--heartbeat", "1",
            "--set", "train_images=2000")
    first = worker(tmp_path, space, *args)
    history = tmp_path / "runs" / "sweeps" / "killed" / "trial-0000" / "history.json"
    deadline = time.time() + 300
    while not history.exists() and time.time() < deadline and first.poll() is None:
        time.sleep(0.2)
    assert history.exists(), first.communicate()[0]
    first.send_signal(signal.SIGKILL)
    first.wait()
    epochs_before = len(json.loads(history.read_text()))
    assert 1 <= epochs_before < 4
    time.sleep(3)  # past the heartbeat's grace period (2 x 1 s): the trial is stale
    second = worker(tmp_path, space, *args)
    output = second.communicate(timeout=600)[0]
    assert second.returncode == 0, output
    assert f"resumed {history.parent / 'last.pt'} at epoch {epochs_before}" in output
    trials = load_study(tmp_path, "killed").trials
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") == 2 and states.count("FAIL") == 1 and len(trials) == 3
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") is not None)
    assert retry.system_attrs["failed_trial"] == 0 and retry.user_attrs["run"] == "trial-0000"
    assert len(json.loads(history.read_text())) == 4


def test_swept_values_keep_their_digits_in_the_report():
    from cgan.sweeps.report import _fmt

    assert [_fmt(v) for v in (1.000004, 1.00004, 0.03, 5.0, "gaussian")] == ["1.000004", "1.00004", "0.03", "5",
                                                                           "gaussian"]
