"""Table 1 as unimodal.report writes it, from run folders made here: a compact main table with the
paper's rows beside ours, the marked rows, the real-digits reference, the seed-row format and the
partial mark on every row of a run that stopped before its budget."""

import json
import re

import numpy as np
import pytest

from unimodal import report
from unimodal.report import FEWEST_MARK, HEADLINE, HEADLINE_MARK, LABEL_LIMIT, MEASURED, PAPER_TABLE1


def fake_run(name: str, seed: int, mean: float, std_error: float, epochs_run: int = 600,
             max_epochs: int = 600) -> dict:
    """A result.json as unimodal.evaluate writes it, with the fields the report reads."""
    config_seed = 1234
    parzen = {"mean": mean, "std_error": std_error, "sigma": 0.16681005372000587, "valid_mean": mean - 1}
    return {
        "name": name if seed == config_seed else f"{name}-seed{seed}", "seed": seed, "sampling": "deterministic",
        "conditional": name != "mnist_gan", "best_epoch": epochs_run - 1, "epochs_run": epochs_run,
        "max_epochs": max_epochs, "complete": epochs_run >= max_epochs, "updates": 500 * epochs_run,
        "train_seconds": 3600.0, "eval_seconds_during_training": 60.0, "classifier_test_accuracy": 0.992,
        "by_sampling": {"deterministic": {"parzen": parzen, "conditional_accuracy": 0.99,
                                          "diversity": {"mean": 0.9}, "frechet": {"mean": 40.0}}},
        "training_sessions": [{"commit": "0123456789abcdef", "machine": {"cpu": "CPU", "torch_threads": 2,
                                                                          "torch": "2"}}],
        "evaluation": {"command": "python -m unimodal.evaluate", "commit": "0123456789abcdef", "date": "2026"},
        "history": [{"epoch": e, "score": mean, "valid_parzen": mean, "d_loss": 1.0} for e in (1, 2)],
    }


RUNS = {  # configuration: (seed, test mean, its s.e., epochs run) per run
    "mnist_gan": [(1234, 205.8, 2.3, 600)],
    "mnist_cgan_symnoise": [(1234, 148.2, 1.8, 176), (1, 138.2, 1.9, 176), (2, 172.3, 2.6, 176)],
    "mnist_cgan_diverse": [(1234, 219.3, 2.4, 600), (1, 200.9, 2.4, 600), (2, 167.7, 1.6, 450)],
    HEADLINE: [(1234, 257.9, 2.2, 506), (1, 259.1, 2.2, 506), (2, 259.0, 2.2, 506)],
}
REAL = {"samples": {"per_class": 1000, "seed": 2014},
        "parzen": {"mean": 243.6, "std_error": 2.1, "sigma": 0.16681005372000587},
        "shrunk_to_class_mean": {"fraction": 0.1, "parzen": {"mean": 275.7, "std_error": 2.0}}}


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> str:
    results = tmp_path_factory.mktemp("results")
    for name, runs in RUNS.items():
        for seed, mean, std_error, epochs in runs:
            folder = results / name / f"seed{seed}"
            folder.mkdir(parents=True)
            (folder / "result.json").write_text(json.dumps(fake_run(name, seed, mean, std_error, epochs)))
    (results / HEADLINE / "seed1234" / "figure2.png").write_bytes(b"headline figure")
    (results / "real_reference.json").write_text(json.dumps(REAL))
    assert report.main(["--results", str(results)]) == 0
    assert (results / "figure2.png").read_bytes() == b"headline figure"  # the headline's Figure 2 beside the table
    return (results / "table1.md").read_text()


def rows_of(table: str, model) -> list[str]:
    """Every table line of a configuration, in every table (a label that begins a longer one is
    followed by a space in its own rows, by a comma in the other's)."""
    own = re.compile(re.escape(model.label) + r" [(*|]")
    return [line for line in table.splitlines() if line.startswith("| ") and own.search(line)]


def main_table(table: str) -> list[str]:
    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| model | paper |"))
    end = lines.index("", start)
    return lines[start + 2:end]


def test_labels_are_short_and_the_headline_and_fewest_departures_rows_are_marked(table):
    assert all(len(model.label) <= LABEL_LIMIT for model in MEASURED)
    by_name = {model.name: model for model in MEASURED}
    assert by_name[HEADLINE].mark == HEADLINE_MARK and by_name["mnist_cgan_symnoise"].mark == FEWEST_MARK
    for name, mark in ((HEADLINE, HEADLINE_MARK), ("mnist_cgan_symnoise", FEWEST_MARK)):
        rows = rows_of(table, by_name[name])
        assert len(rows) == 3  # main table, own seed, across seeds
        assert all(row.startswith(f"| **{mark}:** {by_name[name].label}") for row in rows)
    assert sum(f"**{HEADLINE_MARK}:**" in line for line in table.splitlines()) == 3
    # the headline's label (or its legend) names the cap, the term's origin and the shared mask as ours
    headline = by_name[HEADLINE]
    assert "cap 0.12" in headline.label and "DSGAN" in headline.label and "shared mask (ours)" in headline.label
    assert "Yang et al. 2019" in headline.legend and "this repository's own" in headline.legend
    assert f"- **{headline.label}** ([`{HEADLINE}`]({HEADLINE}/)): {headline.legend}" in table


def test_the_papers_rows_stand_beside_ours_in_the_main_table(table):
    main = main_table(table)
    for paper in ("DBN", "Stacked CAE", "Deep GSN"):  # not measured here: the paper's number alone
        assert any(row.startswith(f"| {paper} (not measured here) | {PAPER_TABLE1[paper]} | — |") for row in main)
    gan = next(row for row in main if row.startswith("| Adversarial nets |"))
    assert "| 225 ± 2 | 205.8 ± 2.3 (s.e., test) |" in gan
    headline = next(row for row in main if HEADLINE_MARK in row)
    assert "| 132 ± 1.8 | 258.7 (sd" in headline
    assert len(main) == 3 + 1 + len(RUNS)  # unmeasured paper rows, the reference, one row per configuration


def test_the_real_digits_reference_row_and_the_sentence_on_parzens_bias(table):
    reference = "| Real MNIST training digits as samples (reference) | — | 243.6 ± 2.1 (s.e., test) | — | 0.167 |"
    assert any(row.startswith(reference) for row in main_table(table))
    sentence = next(line for line in table.splitlines() if line.startswith("Real digits score"))
    assert "243.6 ± 2.1" in sentence and "275.7 ± 2.0" in sentence and "10%" in sentence
    assert "bias" in sentence and "mode" in sentence


def test_seed_rows_give_the_mean_the_sd_across_seeds_and_the_test_standard_error(table):
    for name in ("mnist_cgan_symnoise", "mnist_cgan_diverse", HEADLINE):
        means = np.array([mean for _, mean, _, _ in RUNS[name]])
        errors = np.array([error for _, _, error, _ in RUNS[name]])
        cell = (f"{means.mean():.1f} (sd {means.std(ddof=1):.1f} across 3 seeds; "
                f"test s.e. about {errors.mean():.1f})")
        rows = rows_of(table, next(model for model in MEASURED if model.name == name))
        assert cell in rows[0] and cell in rows[2]  # the main table's row and the across-seeds row
        assert "(s.e., test)" in rows[1]  # the config's own seed alone
    assert "Seed rows give the mean over seeds, the standard deviation across seeds (sd)" in table


def test_every_row_of_a_run_that_stopped_before_its_budget_is_marked_partial_in_every_table(table):
    by_name = {model.name: model for model in MEASURED}
    for row in rows_of(table, by_name[HEADLINE]):  # all three seeds stopped at 506 of 600
        assert "*(partial: 506 of 600 epochs)*" in row
    for row in rows_of(table, by_name["mnist_cgan_symnoise"]):
        assert "*(partial: 176 of 600 epochs)*" in row
    diverse = rows_of(table, by_name["mnist_cgan_diverse"])
    assert len(diverse) == 3
    own_seed = [row for row in diverse if "(protocol:" in row and "| 3 |" not in row]
    assert len(own_seed) == 1 and "partial" not in own_seed[0]  # seed 1234 ran its 600 epochs
    for row in set(diverse) - set(own_seed):  # seed 2 did not: every row over the seeds says so
        assert "*(partial: seed 2 at 450 of 600 epochs)*" in row
    assert not any("partial" in row for row in rows_of(table, by_name["mnist_gan"]))


def test_the_report_never_speaks_of_sessions(table):
    assert not re.search(r"\bsessions?\b", table)
