"""What a careless or hostile user can do, and the clear answers they get: locked run folders,
checkpoints that cannot run code and carry a checksum, a lost best.pt written again, leftover
temporary files, a full disk, a diverging run, bad configs, and try-outs that keep their hands off
committed results."""

import errno
import importlib
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import cgan.runs.files as files
from benchmarks import bench_main
from cgan.cli import experiment_parser
from cgan.config import load_config
from cgan.errors import ConfigError, UserFacingError
from cgan.runs.checkpoint import MAGIC, load_checkpoint, save_checkpoint
from cgan.runs.digest import sha256
from cgan.runs.locks import FolderLock
from cgan.training import TrainSettings
from tests.data_paths import mnist_root
from tests.test_training import make_trainer
from unimodal import generate, train
from unimodal.settings import MnistExperiment

REPO = Path(__file__).resolve().parent.parent


def test_a_second_training_on_a_locked_run_folder_is_refused_naming_the_holder(tmp_path):
    with FolderLock(tmp_path, "training"):
        with pytest.raises(UserFacingError, match=rf"in use by process {os.getpid()} .*training"):
            make_trainer(tmp_path, 1).fit()
    make_trainer(tmp_path, 1).fit()  # released: the next run goes ahead
    assert (tmp_path / "last.pt").is_file()


class Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_checkpoint_cannot_execute_code(tmp_path):
    exploit = Exploit()
    exploit.marker = tmp_path / "pwned"
    payload = pickle.dumps({"generator": exploit})
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(payload)
    signed = tmp_path / "signed.pt"  # a correct checksum does not make it trusted
    signed.write_bytes(MAGIC + sha256(payload).encode() + b"\n" + payload)
    for path in (legacy, signed):
        with pytest.raises(UserFacingError, match="cannot be read"):
            load_checkpoint(path)
        with pytest.raises(UserFacingError, match="cannot be read"):
            generate.main(["--checkpoint", str(path), "--out", str(tmp_path / "x.png")])
    assert not exploit.marker.exists()


def test_a_file_that_is_no_checkpoint_is_named_with_the_unpicklers_reason_only(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("# not a checkpoint\n")
    with pytest.raises(UserFacingError) as caught:
        load_checkpoint(text)
    assert "Unsupported operand" in str(caught.value)  # the reason, without torch's request to file an issue
    assert "file an issue" not in str(caught.value)


def test_weights_of_the_other_pipeline_are_refused_naming_the_right_loader():
    from multimodal.api import load_tagger
    from unimodal.api import load_generator

    with pytest.raises(UserFacingError, match="Flickr tagging pipeline.*multimodal.load_tagger"):
        load_generator(REPO / "weights" / "flickr_cgan_auxiliary.safetensors")
    with pytest.raises(UserFacingError, match="MNIST pipeline.*unimodal.load_generator"):
        load_tagger(REPO / "weights" / "mnist_gan.safetensors")


def test_a_damaged_checkpoint_is_refused_by_its_checksum(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint({"weights": torch.arange(10_000, dtype=torch.float32)}, path)
    assert torch.equal(load_checkpoint(path)["weights"], torch.arange(10_000, dtype=torch.float32))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2: len(raw) // 2 + 64] = bytes(64)  # 64 bytes of the weights zeroed
    path.write_bytes(bytes(raw))
    with pytest.raises(UserFacingError, match="damaged"):
        load_checkpoint(path)


def test_a_damaged_best_checkpoint_is_written_again_when_the_run_resumes(tmp_path):
    make_trainer(tmp_path, 3, scores=[1.0, 5.0, 2.0, 3.0]).fit()
    best = load_checkpoint(tmp_path / "best.pt")
    (tmp_path / "best.pt").write_bytes(b"garbage")
    resumed = make_trainer(tmp_path, 4, scores=[1.0, 5.0, 2.0, 3.0])
    resumed.fit()
    again = load_checkpoint(tmp_path / "best.pt")
    assert again["epoch"] == 2 and again["record"]["score"] == 5.0
    for name in ("generator", "discriminator"):
        for key, value in best[name].items():
            assert torch.equal(again[name][key], value)
    (tmp_path / "best.pt").unlink()  # lost altogether: the same
    make_trainer(tmp_path, 4, scores=[1.0, 5.0, 2.0, 3.0]).fit()
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == 2


def test_temporary_files_left_by_killed_writes_are_removed_at_start(tmp_path):
    make_trainer(tmp_path, 1).fit()
    orphans = [tmp_path / ".last.pt.abc123.tmp", tmp_path / ".best.pt.xyz.tmp"]
    for orphan in orphans:
        orphan.write_bytes(b"x" * 1000)
    make_trainer(tmp_path, 2).fit()
    assert not any(p.exists() for p in orphans) and (tmp_path / "last.pt").is_file()


def test_a_full_disk_or_read_only_folder_is_said_in_words(tmp_path, monkeypatch):
    with pytest.raises(UserFacingError, match="not enough free disk space for checkpoint"):
        files.check_free_space(tmp_path, 10**18, "checkpoint last.pt")

    for code, message in ((errno.ENOSPC, "is full"), (errno.EROFS, "cannot write")):
        def failing(handle, code=code):
            raise OSError(code, os.strerror(code))

        with pytest.raises(UserFacingError, match=message):
            files.atomic_write(tmp_path / "out.bin", failing)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_written_files_get_the_permissions_a_plain_open_gives(tmp_path):
    """Results, checkpoints and weights are written through a temporary file: they must not keep
    mkstemp's owner-only 0600, which hides them from the user's group."""
    old = os.umask(0o022)
    try:
        files.atomic_write(tmp_path / "atomic.json", lambda handle: handle.write(b"{}"))
        (tmp_path / "plain.json").write_bytes(b"{}")
    finally:
        os.umask(old)
    assert (tmp_path / "atomic.json").stat().st_mode & 0o777 == (tmp_path / "plain.json").stat().st_mode & 0o777 == 0o644


def test_a_diverging_run_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path):
    make_trainer(tmp_path, 1).fit()
    good = load_checkpoint(tmp_path / "last.pt")
    trainer = make_trainer(tmp_path, 2)
    trainer.settings.learning_rate = trainer.settings.lr_floor = 1e30
    trainer.lr_schedule = trainer.settings.learning_rate_schedule()
    with pytest.raises(UserFacingError, match="training diverged in epoch 2.*still holds epoch 1"):
        trainer.fit()
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == good["epoch"] == 1


@pytest.mark.parametrize("override, message", [
    ("train.learning_rate=.inf", "expected a finite number"),
    ("train.momentum_initial=0.9", "momentum_initial must be <= momentum_final"),
    ("threads=0", "threads must be >= 1"),
    ("seed=-1", "seed must be a whole number from 0"),
    (f"seed={2**63}", "seed must be a whole number from 0"),
    ("eval.seed=-5", "eval.seed must be a whole number from 0"),
])
def test_impossible_settings_are_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(MnistExperiment, REPO / "experiments" / "mnist" / "mnist_smoke.yaml", [override])


def test_numbers_that_yaml_reads_as_text_are_numbers_and_a_base_loop_is_refused(tmp_path):
    cfg = load_config(MnistExperiment, REPO / "experiments" / "mnist" / "mnist_smoke.yaml", ["train.lr_floor=1e-6"])
    assert cfg.train.lr_floor == 1e-6
    assert TrainSettings(lr_floor=1e-6).lr_floor == 1e-6
    (tmp_path / "a.yaml").write_text("base: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\nname: b\n")
    with pytest.raises(ConfigError, match="base: chain comes back to itself"):
        load_config(MnistExperiment, tmp_path / "a.yaml")
    (tmp_path / "self.yaml").write_text("base: self.yaml\n")
    with pytest.raises(ConfigError, match="comes back to itself"):
        load_config(MnistExperiment, tmp_path / "self.yaml")


@pytest.mark.parametrize("argv", [["--threads", "-3"], ["--threads", "0"]])
def test_thread_counts_below_one_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        experiment_parser("x.yaml").parse_args(argv)
    assert "is not at least 1" in capsys.readouterr().err


def test_generate_needs_digit_values_and_makes_the_output_folder(tmp_path, capsys):
    with pytest.raises(SystemExit):
        generate.main(["--checkpoint", "x.pt", "--digits", "--out", "a.png"])
    assert "expected at least one argument" in capsys.readouterr().err


def test_seeds_given_on_the_command_line_are_checked_before_anything_runs():
    from unimodal.settings import seed_configs

    cfg = load_config(MnistExperiment, REPO / "experiments" / "mnist" / "mnist_smoke.yaml")
    for seeds, message in (([1, 1], "lists a seed twice"), ([3, -2], "whole number from 0")):
        with pytest.raises(UserFacingError, match=message):
            seed_configs(cfg, seeds)
    assert [c.name for c in seed_configs(cfg, [0, 2])] == [f"{cfg.name}-seed0", f"{cfg.name}-seed2"]
    own = seed_configs(cfg, [cfg.seed, 2])  # the config's own seed keeps its name: Table 1's row
    assert own[0] == cfg and own[1].name == f"{cfg.name}-seed2" and own[1].seed == 2
    # every seed's results, the config's own included, in <results_dir>/<config name>/seed<S>/
    assert [c.run_results for c in own] == [cfg.results / cfg.name / f"seed{cfg.seed}", cfg.results / cfg.name / "seed2"]
    assert own[1].figure_name == cfg.figure_name  # one file name in every run folder


@pytest.mark.slow
@pytest.mark.parametrize("option, message", [
    (["--trials", "0"], "--trials must be at least 1"),
    (["--epochs", "-1"], "--epochs must be at least 1"),
    (["--heartbeat", "0"], "--heartbeat must be at least 1 second"),
    (["--seed", "-3"], "--seed must be a whole number from 0"),
])
def test_impossible_sweep_options_are_refused_before_anything_runs(option, message, tmp_path):
    from unimodal import sweep

    with pytest.raises(UserFacingError, match=message):
        sweep.main(["--config", str(REPO / "experiments" / "mnist" / "mnist_smoke.yaml"), "--set", f"run_dir={tmp_path}",
                    "--space", str(REPO / "experiments" / "mnist" / "sweeps" / "mnist_decay.yaml"), *option])
    assert not any(tmp_path.iterdir())


def test_generate_says_when_an_unconditional_generator_ignores_the_digits(tmp_path, capsys):
    out = tmp_path / "new" / "gan.npy"
    generate.main(["--checkpoint", str(REPO / "weights" / "mnist_gan.safetensors"), "--digits", "3", "-n", "4",
                   "--out", str(out)])
    assert "--digits is ignored" in capsys.readouterr().out
    assert np.load(out).shape == (4, 28, 28)
    with pytest.raises(UserFacingError, match="digits must be one or more of 0-9"):
        generate.main(["--checkpoint", str(REPO / "weights" / "mnist_cgan_diverse.safetensors"), "--digits", "12",
                       "--out", str(out)])


@pytest.mark.slow
def test_a_tryout_writes_its_results_under_its_run_folder(tmp_path, one_thread):
    results = tmp_path / "committed"
    common = ["--config", str(REPO / "experiments" / "mnist" / "mnist_smoke.yaml"), "--data-root", mnist_root(),
              "--cache-dir", str(tmp_path / "cache"), "--set", f"run_dir={tmp_path / 'runs'}", "--threads", "1",
              "--set", "eval.classifier_epochs=0.05", "--set", "eval.classifier_min_accuracy=0.5"]
    # The smoke config's own results_dir is replaced here by one the test owns, via the config file.
    config = tmp_path / "exp.yaml"
    config.write_text(f"base: {REPO / 'experiments' / 'mnist' / 'mnist_smoke.yaml'}\nresults_dir: {results}\n")
    common[1] = str(config)
    assert train.main([*common, "--set", "train.max_epochs=1", "--set", "train_images=300"]) == 0
    assert not results.exists()
    assert (tmp_path / "runs" / "mnist_smoke" / "results" / "mnist_smoke" / "seed1234" / "result.json").is_file()
    out = tmp_path / "deep" / "folder" / "samples.npy"
    assert generate.main(["--checkpoint", str(tmp_path / "runs" / "mnist_smoke" / "best.pt"), "--digits", "3",
                          "-n", "2", "--out", str(out)]) == 0
    assert out.is_file()


@pytest.mark.parametrize("module", ["training_bench", "parzen_bench", "features_bench", "run"])
def test_every_benchmark_answers_help(module, capsys):
    mod = importlib.import_module(f"benchmarks.{module}")
    with pytest.raises(SystemExit) as stop:
        if module == "run":
            mod.main(["--help"])
        else:
            bench_main(mod.run, mod.__doc__, f"python -m benchmarks.{module}", ["--help"])
    assert stop.value.code == 0 and "usage: python -m benchmarks." in capsys.readouterr().out


def test_a_config_path_works_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(MnistExperiment, "experiments/mnist/mnist_cgan.yaml")
    assert cfg.name == "mnist_cgan"
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(MnistExperiment, "experiments/no_such.yaml")
