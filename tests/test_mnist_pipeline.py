"""End to end on real MNIST: the smoke config trains, resumes, evaluates, reports and samples."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cgan.errors import ConfigError, UserFacingError
from cgan.runs.digest import sha256
from tests.data_paths import mnist_root
from unimodal import evaluate, generate, report, train
from unimodal.mnist_data import load_mnist
from unimodal.settings import load_experiment

pytestmark = pytest.mark.slow  # end to end: pytest -m "not slow" skips it

REPO = Path(__file__).resolve().parent.parent
SMOKE = str(REPO / "experiments" / "mnist" / "mnist_smoke.yaml")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """Train 1 epoch, then resume to 2 (as after an interruption); evaluate; build the table."""
    root = tmp_path_factory.mktemp("smoke")
    common = ["--config", SMOKE, "--data-root", mnist_root(), "--cache-dir", str(root / "cache"),
              "--set", f"run_dir={root / 'runs'}", "--set", f"results_dir={root / 'results'}",
              "--set", "name=mnist_cgan", "--threads", "2"]
    assert train.main([*common, "--set", "train.max_epochs=1", "--no-evaluate"]) == 0
    assert train.main([*common, "--set", "train.max_epochs=2"]) == 0
    assert report.main(["--results", str(root / "results")]) == 0
    return root, common


def test_smoke_run_writes_a_table1_row_with_provenance(smoke_run):
    root, _ = smoke_run
    run = root / "results" / "mnist_cgan" / "seed1234"  # <config name>/seed<S>/, one naming scheme
    row = json.loads((run / "result.json").read_text())
    assert row["epochs_run"] == 2 and row["complete"] and row["updates"] == 40
    assert [r["epoch"] for r in row["history"]] == [1, 2]
    assert len(row["training_sessions"]) == 2  # trained, then resumed
    parzen = row["parzen"]
    assert parzen["n_samples"] == 500 and parzen["n_test"] == 10000
    assert np.isclose(np.logspace(-1, 0, 10), parzen["sigma"]).sum() == 1
    assert np.isfinite(parzen["mean"]) and parzen["std_error"] > 0
    assert 0 <= row["conditional_accuracy"] <= 1 and row["classifier_test_accuracy"] >= 0.8
    # both sampling modes are measured on the same checkpoint; the configured one (the protocol's) first
    assert row["sampling"] == "deterministic" and list(row["by_sampling"]) == ["deterministic", "dropout"]
    assert row["by_sampling"]["deterministic"]["parzen"] == parzen
    for mode in ("deterministic", "dropout"):  # collapse diagnostics beside every Parzen number
        result = row["by_sampling"][mode]
        assert set(result["diversity"]) == {*map(str, range(10)), "mean"} and result["diversity"]["mean"] > 0
        assert set(result["frechet"]) == {*map(str, range(10)), "mean", "overall"}
        assert result["frechet"]["overall"] > 0
    assert {"valid_parzen", "valid_parzen_dropout", "valid_diversity", "valid_diversity_dropout"} <= set(row["history"][0])
    assert row["config"]["seed"] == 1234 and row["evaluation"]["commit"]
    for figure in ("figure2.png", "interpolation.png", "nearest_train.png"):
        assert (run / figure).stat().st_size > 1000
    assert sorted(p.name for p in (root / "results").iterdir()) == ["curves.png", "mnist_cgan", "table1.md"]
    table = (root / "results" / "table1.md").read_text()
    assert "132 ± 1.8" in table and f"{parzen['mean']:.1f} ± {parzen['std_error']:.1f}" in table
    assert "G sampled with its dropout on" in table and "G sampled without dropout" in table
    assert (root / "results" / "curves.png").exists()


def test_a_finished_run_is_not_trained_again(smoke_run, capsys):
    root, common = smoke_run
    assert train.main([*common, "--set", "train.max_epochs=2", "--no-evaluate"]) == 0
    assert "resumed" in capsys.readouterr().out
    history = json.loads((root / "runs" / "mnist_cgan" / "history.json").read_text())
    assert len(history) == 2


def test_generate_writes_png_and_npy_for_chosen_digits(smoke_run):
    root, _ = smoke_run
    checkpoint = str(root / "runs" / "mnist_cgan" / "best.pt")
    npy = root / "digits.npy"
    assert generate.main(["--checkpoint", checkpoint, "--digits", "3", "7", "-n", "4",
                          "--out", str(npy)]) == 0
    samples = np.load(npy)
    assert samples.shape == (8, 28, 28) and samples.min() >= 0 and samples.max() <= 1
    png = root / "digits.png"
    assert generate.main(["--checkpoint", checkpoint, "-n", "3", "--out", str(png)]) == 0
    assert png.stat().st_size > 500
    with pytest.raises(UserFacingError):
        generate.main(["--checkpoint", checkpoint, "--digits", "12", "--out", str(png)])


def test_evaluate_without_a_run_says_to_train_first(tmp_path):
    with pytest.raises(UserFacingError, match="train first"):
        evaluate.main(["--config", SMOKE, "--set", f"run_dir={tmp_path}"])
    with pytest.raises(UserFacingError, match=r"mnist_smoke-seed3: train first .* --seeds 3"):
        evaluate.main(["--config", SMOKE, "--set", f"run_dir={tmp_path}", "--seeds", "3"])


def test_experiment_configs_load_and_bad_overrides_are_rejected():
    cgan = load_experiment(REPO / "experiments" / "mnist" / "mnist_cgan.yaml")
    assert cgan.train.lr_decay == 1.00004 and cgan.discriminator.joint_layers == ["maxout 240x4"]
    gan = load_experiment(REPO / "experiments" / "mnist" / "mnist_gan.yaml")
    assert not gan.conditional and gan.train.lr_decay == 1.000004
    with pytest.raises(ConfigError, match="unknown key"):
        load_experiment(SMOKE, ["train.learning_rat=0.1"])
    with pytest.raises(ConfigError, match="keep probability"):
        load_experiment(SMOKE, ["generator.hidden_keep=1.5"])


def test_the_python_api_samples_a_trained_generator_from_a_checkpoint_or_exported_weights(smoke_run, tmp_path):
    from unimodal import export, load_generator
    from unimodal.sampling import generate as generate_samples

    root, _ = smoke_run
    best = root / "runs" / "mnist_cgan" / "best.pt"
    G = load_generator(best)
    images = G.sample(digits=[3, 7], n=4, seed=5)
    assert images.shape == (8, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert np.array_equal(images, G.sample(digits=[3, 7], n=4, seed=5))  # seeded
    expected = generate_samples(G.network, G.config, np.repeat([3, 7], 4), 8, 5, "deterministic")
    assert np.array_equal(images.reshape(8, -1), expected)  # the same samples as the evaluation draws
    with pytest.raises(ValueError, match="digits"):
        G.sample(digits=[12])
    weights = tmp_path / "weights" / "g.safetensors"
    assert export.main(["--checkpoint", str(best), "--out", str(weights)]) == 0
    assert (tmp_path / "weights" / "g.safetensors.sha256").read_text().split()[0] == sha256(weights)
    assert np.array_equal(load_generator(weights).sample(digits=[3, 7], n=4, seed=5), images)
    assert export.main(["--checkpoint", str(best), "--out", str(tmp_path / "h.safetensors"), "--half"]) == 0
    half = load_generator(tmp_path / "h.safetensors").sample(digits=[3, 7], n=4, seed=5)
    assert np.abs(half - images).max() < 0.02 and (tmp_path / "h.safetensors").stat().st_size < weights.stat().st_size


def test_table1_from_weights_gives_the_runs_own_numbers(smoke_run, tmp_path):
    from unimodal import export, from_weights

    root, common = smoke_run
    weights = tmp_path / "mnist_cgan.safetensors"
    assert export.main(["--checkpoint", str(root / "runs" / "mnist_cgan" / "best.pt"), "--out", str(weights)]) == 0
    out = tmp_path / "table"
    assert from_weights.main([str(weights), "--out", str(out), "--committed", str(root / "results"),
                              "--data-root", mnist_root(), "--cache-dir", str(root / "cache"), "--threads", "2"]) == 0
    row = json.loads((out / "table1_from_weights.json").read_text())["rows"][0]
    committed = json.loads((root / "results" / "mnist_cgan" / "seed1234" / "result.json").read_text())["by_sampling"]
    for mode in ("deterministic", "dropout"):  # fp32 weights, the evaluation's noise seed: the same numbers
        assert row["by_sampling"][mode]["parzen"] == committed[mode]["parzen"] == row["committed"][mode]
        assert row["by_sampling"][mode]["diversity"] == committed[mode]["diversity"]
    assert "+0.00" in (out / "table1_from_weights.md").read_text()


def test_weights_are_compared_with_the_row_named_like_the_file(tmp_path):
    """A run evaluated under another name than its config's (e.g. a second run of it) is
    compared with its own row, not with the config name's; a seed's run with that seed's row."""
    from unimodal.from_weights import committed_row

    cfg = load_experiment(REPO / "experiments" / "mnist" / "mnist_cgan.yaml")
    own = tmp_path / "mnist_cgan" / f"seed{cfg.seed}" / "result.json"
    own.parent.mkdir(parents=True)
    own.write_text("{}")
    assert committed_row(Path("weights/mnist_cgan_retrain.safetensors"), cfg, tmp_path) == own
    retrain = tmp_path / "mnist_cgan_retrain" / f"seed{cfg.seed}" / "result.json"
    retrain.parent.mkdir(parents=True)
    retrain.write_text("{}")
    assert committed_row(Path("weights/mnist_cgan_retrain.safetensors"), cfg, tmp_path) == retrain
    assert committed_row(Path("weights/mnist_cgan.safetensors"), cfg, tmp_path) == own
    seed2 = dataclasses.replace(cfg, name="mnist_cgan-seed2", seed=2)  # as train --seeds names it
    assert committed_row(Path("weights/mnist_cgan-seed2.safetensors"), seed2, tmp_path) == \
        tmp_path / "mnist_cgan" / "seed2" / "result.json"


def test_the_shipped_generators_draw_the_digit_asked_for(smoke_run, tmp_path):
    """weights/: each shipped generator, loaded by the API, draws digits that the scoring
    classifier reads as the conditioning digit (an unconditional one: digits of nearly every
    class, not one); a damaged copy is refused."""
    from unimodal import load_generator
    from unimodal.classifier import load_or_train_classifier

    root, _ = smoke_run
    shipped = sorted((REPO / "weights").glob("mnist_*.safetensors"))
    assert shipped, "weights/ ships the generators of Table 1"
    classifier = load_or_train_classifier(load_mnist(mnist_root(), root / "cache", progress=False), root / "cache",
                                          progress=False, epochs=0.1, min_accuracy=0.8)  # the smoke run's
    for path in shipped:
        G = load_generator(path)
        assert repr(G).startswith("MnistGenerator('mnist_") and ("unconditional" in repr(G)) == (not G.conditional)
        images = G.sample(digits=list(range(10)), n=30, seed=3) if G.conditional else G.sample(n=300, seed=3)
        with torch.no_grad():
            predicted = classifier(torch.from_numpy(images.reshape(-1, 784))).argmax(dim=1).numpy()
        if G.conditional:
            assert (predicted == np.repeat(np.arange(10), 30)).mean() >= 0.9, path.name
        else:
            assert np.bincount(predicted, minlength=10).min() >= 10, path.name
    damaged = tmp_path / shipped[0].name
    data = bytearray(shipped[0].read_bytes())
    data[-5] ^= 0xFF
    damaged.write_bytes(bytes(data))
    (tmp_path / (shipped[0].name + ".sha256")).write_text((REPO / "weights" / (shipped[0].name + ".sha256")).read_text())
    with pytest.raises(UserFacingError, match="digest"):
        load_generator(damaged)


def test_seeds_trained_together_match_separate_runs(smoke_run, tmp_path):
    from cgan.runs.checkpoint import load_checkpoint

    root, _ = smoke_run
    common = ["--config", SMOKE, "--data-root", mnist_root(), "--cache-dir", str(root / "cache"), "--threads", "2",
              "--set", f"run_dir={tmp_path / 'runs'}", "--set", f"results_dir={tmp_path / 'results'}",
              "--set", "train.max_epochs=1", "--set", "name=mnist_cgan"]
    assert train.main([*common, "--seeds", "5", "6"]) == 0
    assert train.main([*common, "--set", "seed=6", "--set", "name=alone-seed6", "--no-evaluate"]) == 0
    stacked = load_checkpoint(tmp_path / "runs" / "mnist_cgan-seed6" / "last.pt")
    alone = load_checkpoint(tmp_path / "runs" / "alone-seed6" / "last.pt")
    for net in ("generator", "discriminator"):
        for name, value in alone[net].items():
            assert torch.allclose(stacked[net][name], value, atol=1e-6), name
    assert stacked["history"][0]["score"] == pytest.approx(alone["history"][0]["score"], rel=1e-6)
    assert stacked["identity"]["seed"] == 6 and stacked["sessions"][0]["stacked"] == 2
    rows = {}
    for seed in (5, 6):  # each member evaluated into its own folder: result file and figures
        run = tmp_path / "results" / "mnist_cgan" / f"seed{seed}"
        rows[seed] = json.loads((run / "result.json").read_text())
        assert rows[seed]["seed"] == seed and rows[seed]["epochs_run"] == 1
        assert sorted(p.name for p in run.iterdir()) == ["figure2.png", "interpolation.png", "nearest_train.png",
                                                         "result.json"]
    assert report.main(["--results", str(tmp_path / "results")]) == 0  # Table 1 across the seeds
    table = (tmp_path / "results" / "table1.md").read_text()
    means = np.array([rows[s]["by_sampling"]["deterministic"]["parzen"]["mean"] for s in (5, 6)])
    errors = np.array([rows[s]["by_sampling"]["deterministic"]["parzen"]["std_error"] for s in (5, 6)])
    assert "## Across seeds" in table and (f"| 2 | {means.mean():.1f} (sd {means.std(ddof=1):.1f} across 2 seeds; "
                                           f"test s.e. about {errors.mean():.1f}) |") in table
    diversity = rows[5]["by_sampling"]["deterministic"]["diversity"]["mean"]  # each seed's, beside its Parzen
    assert f"(epoch 1 of 1, diversity {diversity:.3f})" in table
    with pytest.raises(UserFacingError, match="twice"):
        train.main([*common, "--seeds", "5", "5"])
    for seed in (5, 6):
        (tmp_path / "results" / "mnist_cgan" / f"seed{seed}" / "result.json").unlink()
    assert evaluate.main([*common, "--seeds", "5", "6"]) == 0
    for seed in (5, 6):  # evaluate --seeds finds the runs train --seeds made, and scores them the same
        again = json.loads((tmp_path / "results" / "mnist_cgan" / f"seed{seed}" / "result.json").read_text())
        for mode, result in rows[seed]["by_sampling"].items():
            assert again["by_sampling"][mode]["parzen"] == result["parzen"] and again["seed"] == seed


def test_the_validation_record_shows_a_generator_that_ignores_its_noise():
    """valid_diversity, recorded every epoch: ~0 once G's noise tower is silenced (each class one
    image), clearly above 0 for a freshly initialised G (small against uniform-noise 'images')."""
    from unimodal.settings import build_networks
    from unimodal.validation import validation_score

    cfg = load_experiment("experiments/mnist/mnist_smoke.yaml")
    rng = np.random.default_rng(0)
    valid_x, valid_y = rng.random((1000, 784), dtype=np.float32), rng.integers(0, 10, 1000)
    generator, _ = build_networks(cfg, valid_x)
    assert validation_score(generator, cfg, valid_x, valid_y)(1)["valid_diversity"] > 1e-3
    with torch.no_grad():
        for layer in generator.main_tower.modules():
            if isinstance(layer, torch.nn.Linear):
                layer.weight.zero_()
    assert validation_score(generator, cfg, valid_x, valid_y)(1)["valid_diversity"] < 1e-6


def test_a_longer_run_continues_from_a_shorter_one_as_if_trained_straight(smoke_run, tmp_path):
    """--continue-from (mnist_gan_open after mnist_gan): the copied epochs plus the new ones give the
    weights a straight run to that epoch gives; other settings are refused before anything is copied."""
    from cgan.runs.checkpoint import load_checkpoint

    root, common = smoke_run
    runs = tmp_path / "runs"
    longer = [*common, "--set", f"run_dir={runs}", "--set", "train.max_epochs=3", "--no-evaluate"]
    assert train.main([*longer, "--set", "name=longer", "--continue-from", str(root / "runs" / "mnist_cgan")]) == 0
    assert train.main([*longer, "--set", "name=straight"]) == 0
    continued, straight = load_checkpoint(runs / "longer" / "last.pt"), load_checkpoint(runs / "straight" / "last.pt")
    assert continued["epoch"] == 3 and len(continued["sessions"]) == 3  # two copied sessions, then this one
    for net in ("generator", "discriminator"):
        for name, value in straight[net].items():
            assert torch.equal(continued[net][name], value), name
    assert [r["score"] for r in continued["history"]] == [r["score"] for r in straight["history"]]
    assert (runs / "longer" / "best.pt").is_file()
    with pytest.raises(UserFacingError, match="other settings.*nothing was copied"):
        train.main([*longer, "--set", "name=other", "--set", "seed=7",
                    "--continue-from", str(root / "runs" / "mnist_cgan")])
    assert not (runs / "other" / "last.pt").exists()
    with pytest.raises(UserFacingError, match="no last.pt"):
        train.main([*longer, "--set", "name=other", "--continue-from", str(tmp_path / "nothing")])
