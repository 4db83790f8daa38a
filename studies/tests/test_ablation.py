"""The MNIST ablation report: a tiny sweep's trials measured, each with a verdict, and one sentence."""

import csv
import json

import pytest

from studies import ablation
from tests.data_paths import mnist_root
from tests.test_sweep import SMOKE, sweep_args, write_space
from unimodal import sweep

pytestmark = pytest.mark.slow  # end to end: pytest -m "not slow" skips it


def test_ablation_measures_every_trial_of_a_sweep_and_writes_its_report(tmp_path, one_thread):
    space = write_space(tmp_path / "space.yaml", "objective.noise: [unit_uniform, symmetric_uniform]\n"
                        "generator.dropout_scaled: [true, false]\n")
    assert sweep.main(sweep_args(tmp_path, space, "--sampler", "grid", "--epochs", "1", "--study", "abl",
                                 "--set", "eval.sample_with_dropout=false")) == 0
    common = ["--config", SMOKE, "--data-root", mnist_root(), "--cache-dir", str(tmp_path / "cache"),
              "--set", f"run_dir={tmp_path / 'runs'}", "--set", f"results_dir={tmp_path / 'results'}",
              "--threads", "1"]
    assert ablation.main([*common, "--study", "abl"]) == 0
    record = json.loads((tmp_path / "results" / "studies" / "ablation.json").read_text())
    rows = record["rows"]
    assert len(rows) == 4 and {r["g_dropout"] for r in rows} == {"keep 0.5 (scaled)", "keep 0.5 (unscaled)"}
    assert all(0 <= r["conditional_accuracy"] <= 1 and r["diversity"] >= 0 and r["verdict"] for r in rows)
    text = (tmp_path / "results" / "studies" / "ablation.md").read_text()
    assert "**Finding.**" in text and record["finding"] in text and text.count("| unit_uniform |") == 2
    assert len(list(csv.DictReader((tmp_path / "results" / "studies" / "ablation.csv").open()))) == 4
    assert (tmp_path / "results" / "studies" / "ablation.png").stat().st_size > 0


def test_verdicts_follow_the_thresholds():
    row = {"final_d_fake": 0.3, "diversity": 0.9, "conditional_accuracy": 0.97}
    assert ablation.verdict(row) == "G uses z"
    assert ablation.verdict({**row, "conditional_accuracy": 0.1}).startswith("no usable digits")
    assert ablation.verdict({**row, "diversity": 0.01}) == "G ignores z (one image per class)"
    assert ablation.verdict({**row, "final_d_fake": 0.001}) == "D wins (G's samples all rejected)"
    assert ablation.dropout_label({"hidden_keep": 1.0, "input_keep": 1.0}) == "none"
    assert ablation.diversity_term_label({"diversity_weight": 0.0}) == "none"
    assert ablation.diversity_term_label({"diversity_weight": 8.0, "diversity_cap": 0.12}) == "8 (cap 0.12)"
    assert ablation.diversity_term_label({"diversity_weight": 8.0, "diversity_cap": 0.12,
                                          "diversity_masks": "independent"}) == "8 (cap 0.12)"
    assert ablation.diversity_term_label({"diversity_weight": 8.0, "diversity_cap": 0.12,
                                          "diversity_masks": "shared"}) == "8 (cap 0.12, one mask)"


def test_the_finding_names_each_setting_with_its_decay():
    rows = [{"noise": "symmetric_uniform", "g_dropout": "keep 0.5 (scaled)", "lr_decay": d, "valid_parzen": v,
             "diversity": 0.6, "verdict": "G uses z", "epochs_run": 30} for d, v in ((1.00004, 60.0), (1.000004, 70.0))]
    assert ablation.finding(rows).endswith("is symmetric_uniform noise, G dropout keep 0.5 (scaled), decay 1.000004 "
                                           "(70.0 nats, diversity 0.60).")


def seeded_rows() -> list[dict]:
    """Two settings, each with three seeds; the shared-mask one has the best row (seed 2)."""
    base = {"noise": "symmetric_uniform", "g_dropout": "keep 0.5 (scaled)", "lr_decay": 1.000004,
            "conditional_accuracy": 0.99, "frechet": 100.0, "epochs_run": 30}
    rows = []
    for term, parzens, diversities in (("8 (cap 0.12)", (100.0, 120.0, 110.0), (0.7, 0.1, 0.6)),
                                       ("8 (cap 0.12, one mask)", (150.0, 160.0, 170.0), (0.9, 0.92, 0.94))):
        for seed, parzen, diversity in zip((1234, 1, 2), parzens, diversities):
            rows.append({**base, "diversity_term": term, "seed": seed, "valid_parzen": parzen, "diversity": diversity})
    for row in rows:
        row["verdict"] = ablation.verdict({**row, "final_d_fake": 0.3})
    return rows


def test_the_finding_names_a_setting_once_however_many_seeds_ran_it_and_the_best_rows_seed():
    sentence = ablation.finding(seeded_rows())
    assert sentence.count("diversity term 8 (cap 0.12);") == 1 and sentence.count("one mask)") == 2
    assert sentence.endswith("diversity term 8 (cap 0.12, one mask) with seed 2 (170.0 nats, diversity 0.94).")


def test_settings_with_several_seeds_get_mean_and_sd_across_them_and_their_verdict_counts():
    lines = ablation.across_seeds(seeded_rows())
    independent, shared = (line for line in lines if line.startswith("| `None` | symmetric_uniform"))
    # mean ± sd (ddof 1): (100, 120, 110) -> 110.0 ± 10.0; diversity (0.7, 0.1, 0.6) -> 0.47 ± 0.32, lowest 0.10
    assert "| 1234, 1, 2 | 110.0 ± 10.0 | 0.47 ± 0.32 | 0.10 |" in independent
    assert "G uses z: 2, G ignores z (one image per class): 1" in independent
    assert "| 160.0 ± 10.0 | 0.92 ± 0.02 | 0.90 | 99.0 ± 0.0% | 100.0 ± 0.0 | G uses z: 3 |" in shared
    one_seed_each = [{**r, "seed": 1234} for r in seeded_rows()[:1]] + seeded_rows()[3:4]
    assert ablation.across_seeds(one_seed_each) == []
    # The same setting in two sweeps is two groups, not one: each sweep's seeds are one comparison.
    split = [{**r, "study": "first" if r["seed"] == 1234 else "second"} for r in seeded_rows()[:3]]
    assert [line.split(" | ")[0] for line in ablation.across_seeds(split) if line.startswith("| `")] == ["| `second`"]


def test_the_setting_names_a_diversity_term_only_when_there_is_one():
    row = {"noise": "symmetric_uniform", "g_dropout": "keep 0.5 (scaled)", "lr_decay": 1.00004}
    assert ablation.setting(row) == "symmetric_uniform noise, G dropout keep 0.5 (scaled), decay 1.00004"
    assert ablation.setting({**row, "diversity_term": "8 (cap 0.12)"}).endswith(", diversity term 8 (cap 0.12)")


def test_a_trial_whose_run_folder_is_gone_keeps_its_earlier_row_and_one_never_measured_is_an_error(
        tmp_path, one_thread):
    import shutil

    import pytest

    from cgan.errors import UserFacingError

    space = write_space(tmp_path / "space.yaml", "objective.noise: [unit_uniform, symmetric_uniform]\n")
    assert sweep.main(sweep_args(tmp_path, space, "--sampler", "grid", "--epochs", "1", "--study", "keep",
                                 "--set", "eval.sample_with_dropout=false")) == 0
    common = ["--config", SMOKE, "--data-root", mnist_root(), "--cache-dir", str(tmp_path / "cache"),
              "--set", f"run_dir={tmp_path / 'runs'}", "--set", f"results_dir={tmp_path / 'results'}",
              "--threads", "1", "--study", "keep"]
    assert ablation.main(common) == 0
    path = tmp_path / "results" / "studies" / "ablation.json"
    first = json.loads(path.read_text())
    assert [r["study"] for r in first["rows"]] == ["keep", "keep"]
    # A record written before rows named their study: matched by the sweep's trial order.
    for row in first["rows"]:
        del row["study"], row["measured_at"]
    first["provenance"]["commit"] = "0123456789abcdef"
    path.write_text(json.dumps(first))
    gone = first["rows"][0]["run"]
    shutil.rmtree(tmp_path / "runs" / "sweeps" / "keep" / gone)

    assert ablation.main(common) == 0
    second = json.loads(path.read_text())
    carried = [r for r in second["rows"] if r["run"] == gone]
    assert len(second["rows"]) == 2 and len(carried) == 1
    assert carried[0]["measured_at"] == "0123456789abcdef"
    assert carried[0]["diversity"] == first["rows"][0]["diversity"]
    assert "`0123456789ab`" in (tmp_path / "results" / "studies" / "ablation.md").read_text()

    path.unlink()
    with pytest.raises(UserFacingError, match="run the sweep again"):
        ablation.main(common)
