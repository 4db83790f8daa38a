"""Rebuild results/mnist/table1.md, curves.png and figure2.png (the headline's) from the committed
result files.

`make tables` runs this; it reads only the measured models' runs, <results>/<name>/seed<S>/result.json
(written by `python -m unimodal.evaluate` / `unimodal.train`), so the markdown can always be
regenerated from the data.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from cgan.cli import report_parser, run_cli
from cgan.plots import save_curves
from cgan.sampling import SAMPLING_LABELS
from cgan.table_format import mean_sd
from unimodal.experiment import RESULT_FILE, run_results_dir

# Paper Table 1 (Mirza & Osindero 2014), Parzen log-likelihood on MNIST test, nats.
PAPER_TABLE1 = [
    ("DBN", "138 ± 2"),
    ("Stacked CAE", "121 ± 1.6"),
    ("Deep GSN", "214 ± 1.1"),
    ("Adversarial nets", "225 ± 2"),
    ("Conditional adversarial nets", "132 ± 1.8"),
]
MEASURED = [("mnist_gan", "Adversarial nets"), ("mnist_cgan", "Conditional adversarial nets"),
            ("mnist_cgan_symnoise", "Conditional adversarial nets, z ~ U[-√3, √3] (departure: paper U[0,1])"),
            ("mnist_cgan_symdecay", "Conditional adversarial nets, z ~ U[-√3, √3], decay 1.000004 "
                                    "(departures: paper U[0,1], decay 1.00004; both the GAN code's)"),
            ("mnist_cgan_diverse", "Conditional adversarial nets, z ~ U[-√3, √3], decay 1.000004, G's diversity "
                                   "term 8 (departures: paper U[0,1], decay 1.00004, no such term)"),
            ("mnist_cgan_diverse16", "Conditional adversarial nets, z ~ U[-√3, √3], decay 1.000004, G's diversity "
                                     "term 16 (departures: paper U[0,1], decay 1.00004, no such term)"),
            ("mnist_cgan_diverse_shared", "Conditional adversarial nets, z ~ U[-√3, √3], decay 1.000004, G's diversity "
                                          "term 8 with its two draws under one dropout mask (departures: paper "
                                          "U[0,1], decay 1.00004, no such term)")]
HEADLINE = "mnist_cgan_diverse_shared"  # Table 1's headline configuration
HEADLINE_FIGURE = "figure2.png"  # its Figure 2, copied beside the table
CURVE_PANELS = [(("d_loss",), "discriminator loss"), (("g_loss",), "generator loss"),
                (("d_fake",), "mean D(G(z)) during training"),
                (("valid_parzen", "valid_parzen_dropout"), "validation Parzen LL (nats)"),
                (("valid_diversity", "valid_diversity_dropout"), "within-class diversity, validation (1 = real digits)")]


def load_runs(results: Path) -> dict[str, list[dict]]:
    """Per measured configuration, its evaluated runs (<results>/<name>/seed<S>/result.json, written
    by unimodal.evaluate / unimodal.train), in seed order."""
    runs = {}
    for name, _ in MEASURED:
        rows = [json.loads(path.read_text()) for path in (results / name).glob(f"seed*/{RESULT_FILE}")]
        if rows:
            runs[name] = sorted(rows, key=lambda row: row["seed"])
    return runs


def load_rows(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Per configuration, the run of the config's own seed (the run named like the config)."""
    return {name: row for name, rows in runs.items() for row in rows if row["name"] == name}


def load_seed_groups(runs: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The configurations evaluated with more than one seed, with all their runs."""
    return {name: rows for name, rows in runs.items() if len(rows) > 1}


def seeds_lines(label: str, rows: list[dict]) -> list[str]:
    """One line per sampling mode: each seed's Parzen ± s.e., and the mean ± sd across seeds."""
    lines = []
    for mode in ordered_modes(rows[0]):
        results = [row["by_sampling"][mode] for row in rows if mode in row["by_sampling"]]
        means = np.array([r["parzen"]["mean"] for r in results])
        per_seed = "; ".join(_seed_cell(row, r) for row, r in zip(rows, results))
        accs = [r["conditional_accuracy"] for r in results if r.get("conditional_accuracy") is not None]
        divs = [r["diversity"]["mean"] for r in results if r.get("diversity")]
        how = ("protocol: " if mode == PROTOCOL_MODE else "variant, not the protocol: ") + SAMPLING_LABELS[mode]
        lines.append(f"| {label} ({how}) | {len(results)} | {mean_sd(means)} | "
                     f"{per_seed} | {f'{100 * np.mean(accs):.1f}%' if accs else '—'} | "
                     f"{f'{np.mean(divs):.3f}' if divs else '—'} |")  # 3 digits: a bar at 0.8 needs them
    return lines


def _seed_cell(row: dict, result: dict) -> str:
    """One seed's test Parzen ± s.e., its stopping epoch and (when measured) its diversity."""
    diversity = (result.get("diversity") or {}).get("mean")
    return (f"{row['seed']}: {result['parzen']['mean']:.1f} ± {result['parzen']['std_error']:.1f} "
            f"(epoch {row['best_epoch']} of {row['epochs_run']}"
            f"{'' if diversity is None else f', diversity {diversity:.3f}'})")


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h"



PROTOCOL_MODE = "deterministic"  # parzen_ll.py samples G without dropout (model.generator.sample)


def ordered_modes(row: dict) -> list[str]:
    """The protocol's sampling mode first (the headline), then this repository's variant."""
    return sorted(row["by_sampling"], key=lambda mode: mode != PROTOCOL_MODE)


def headline(row: dict) -> dict:
    return row["by_sampling"][ordered_modes(row)[0]]


def _diagnostic(result: dict, key: str, fmt: str) -> str:
    value = result.get(key)
    return "—" if value is None else format(value["mean"] if isinstance(value, dict) else value, fmt)


def measured_lines(label: str, row: dict) -> list[str]:
    """One table line per sampling mode: the protocol's first (the headline), then the variant."""
    status = "" if row["complete"] else ", partial run"
    session = row["training_sessions"][-1] if row["training_sessions"] else {}
    lines = []
    for mode in ordered_modes(row):
        result = row["by_sampling"][mode]
        p = result["parzen"]
        acc = result.get("conditional_accuracy")
        how = ("protocol: " if mode == PROTOCOL_MODE else "variant, not the protocol: ") + SAMPLING_LABELS[mode]
        lines.append(
            f"| {label} ({how}{status}) | {p['mean']:.1f} ± {p['std_error']:.1f} | "
            f"{p['sigma']:.3f} | {row['best_epoch']} ({SAMPLING_LABELS[row['sampling']].removeprefix('G ')}) | "
            f"{row['epochs_run']} / {row['max_epochs']} | "
            f"{'—' if acc is None else f'{100 * acc:.1f}%'} | {_diagnostic(result, 'diversity', '.2f')} | "
            f"{_diagnostic(result, 'frechet', '.2f')} | {_hours(row['train_seconds'])} | "
            f"`{str(session.get('commit', '?'))[:12]}` |")
    return lines


def render_table(rows: dict[str, dict], seed_groups: dict[str, list[dict]] | None = None) -> str:
    lines = [
        "# Table 1: Parzen-window log-likelihood on MNIST test (nats)",
        "",
        "Generated by `make tables` from the runs' `<model>/seed<S>/result.json` beside this file; do not edit by hand.",
        "",
        "Deviations from the paper, stated for every measured row:",
        "- Protocol as in goodfeli/adversarial `parzen_ll.py`: 1,000 samples per class (10,000 for "
        "the unconditional net), sigma from `numpy.logspace(-1, 0, 10)` chosen on the first 1,000 "
        "validation images, mean ± std/sqrt(10,000) over the test set.",
        "- The stopping point is the epoch with the best validation Parzen score (the paper gives "
        "none); the test number comes from that epoch's checkpoint with fresh noise.",
        "- Hardware: a 2-core CPU (see each JSON's `machine`); a row marked *partial run* stopped "
        "before its epoch budget, and says how far it got. Training time is the wall time of the "
        "epochs as run: runs that shared the machine (with each other or other work) show it in "
        "the per-epoch `updates_per_second` of their JSON history.",
        "- Sampling: the headline row of each model samples G without dropout, as the protocol does "
        "(`parzen_ll.py` calls `model.generator.sample`, which applies no dropout). A generator trained "
        "with dropout (the paper's CGAN) is also measured with its dropout on, on the same checkpoint: "
        "that row is this repository's variant, not the protocol. The best-epoch column says which "
        "mode's validation score chose the checkpoint.",
        "- Collapse diagnostics, because a Parzen number cannot tell whether G uses z or y: the "
        "conditional accuracy (a 99%+ MNIST CNN's agreement with the conditioning label); the "
        "within-class diversity (mean pairwise distance of samples of one class over that of real "
        "test digits of the class, averaged over classes: 1 = as varied as real digits, 0 = one "
        "image); and the Fréchet distance between samples and test images in that classifier's "
        "penultimate features (mean over classes; this repository's classifier, not Inception). "
        "Classes of unconditional samples are the classifier's. '—': the row was evaluated before "
        "these were measured.",
        "- Parzen estimates in 784 dimensions are poor measures of sample quality (Theis et al. "
        "2016).",
        "",
        "## Paper",
        "",
        "| model | log-likelihood |",
        "|---|---|",
        *[f"| {model} | {value} |" for model, value in PAPER_TABLE1],
        "",
        "## Measured here",
        "",
    ]
    if not rows and not seed_groups:
        lines.append("No run has been evaluated yet: run `make mnist`.")
        return "\n".join(lines) + "\n"
    if rows:
        lines += [
            "| model | log-likelihood | sigma | best epoch (chosen by) | epochs run / budget | conditional accuracy "
            "| within-class diversity | Fréchet distance | training time | commit (last session) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [line for name, label in MEASURED if name in rows
                  for line in measured_lines(label, rows[name])]
        lines.append("")
    if seed_groups:
        lines += ["## Across seeds", "",
                  "The same configuration trained with different seeds: mean ± standard deviation (ddof 1) "
                  "of the seeds' test Parzen means, beside each seed's own number ± its standard error.", "",
                  "| model | seeds | log-likelihood, mean ± sd across seeds | per seed | conditional accuracy (mean) "
                  "| within-class diversity (mean) |", "|---|---|---|---|---|---|"]
        lines += [line for name, label in MEASURED if name in seed_groups
                  for line in seeds_lines(label, seed_groups[name])]
        lines.append("")
    for name, label in MEASURED:
        if name in rows:
            lines.append(describe_run(label, rows[name]))
    return "\n".join(lines) + "\n"


def describe_run(label: str, row: dict) -> str:
    mode = ordered_modes(row)[0]
    p = headline(row)["parzen"]
    ev = row["evaluation"]
    sessions = row["training_sessions"]
    commits = ", ".join(sorted({f"`{s['commit'][:12]}`" for s in sessions}))
    text = [f"**{label}** (`{row['name']}`, seed {row['seed']}): test {p['mean']:.2f} ± "
            f"{p['std_error']:.2f} nats at sigma {p['sigma']:.4f} (validation {p['valid_mean']:.2f}, "
            f"{SAMPLING_LABELS[mode]}); "
            f"best epoch {row['best_epoch']} of {row['epochs_run']} run "
            f"({'complete' if row['complete'] else 'partial: budget ' + str(row['max_epochs'])}), "
            f"{row['updates']:,} updates, {_hours(row['train_seconds'])} of training plus "
            f"{_hours(row['eval_seconds_during_training'])} of per-epoch validation "
            f"on {_machines(sessions)}. "
            f"Trained in {len(sessions)} session(s) at commit(s) {commits}; evaluated by "
            f"`{ev['command']}` at `{ev['commit'][:12]}` on {ev['date']}."]
    key = "valid_parzen_dropout" if row["sampling"] == "dropout" else "valid_parzen"
    scored = [r["epoch"] for r in row["history"] if key in r]
    if scored and scored[0] > 1:
        early = max(r["score"] for r in row["history"] if r["epoch"] < scored[0])
        later = min(r[key] for r in row["history"] if key in r)
        text.append(f"Epochs 1-{scored[0] - 1} were scored by the other sampling mode (the code "
                    f"measured only that one then; best {early:.1f}); from epoch {scored[0]} on "
                    f"this mode scored {later:.1f} or more"
                    + (", so the stopping point is unaffected." if later > early else "."))
    if headline(row).get("conditional_accuracy") is not None:
        text.append(f"Conditional accuracy {100 * headline(row)['conditional_accuracy']:.2f}% (classifier "
                    f"test accuracy {100 * row['classifier_test_accuracy']:.2f}%).")
    return " ".join(text) + "\n"


def _machines(sessions: list[dict]) -> str:
    """Where the training ran, over all its sessions (thread counts differ between sessions)."""
    def distinct(key: str, separator: str) -> str:
        return separator.join(str(v) for v in sorted({s["machine"][key] for s in sessions}))

    threads = distinct("torch_threads", " or ")
    return (f"{distinct('cpu', ' / ')} ({threads} thread{'' if threads == '1' else 's'}, "
            f"torch {distinct('torch', ' / ')})")


def main(argv: list[str] | None = None) -> int:
    parser = report_parser("python -m unimodal.report", __doc__, "results/mnist", "the result JSON files")
    args = parser.parse_args(argv)
    results = Path(args.results)
    runs = load_runs(results)
    rows = load_rows(runs)
    written = [results / "table1.md"]
    written[0].write_text(render_table(rows, load_seed_groups(runs)))
    if rows:
        save_curves({name: row["history"] for name, row in rows.items()}, results / "curves.png", CURVE_PANELS)
        written.append(results / "curves.png")
    if HEADLINE in rows:  # the headline's Figure 2 beside the table
        row = rows[HEADLINE]
        shutil.copyfile(run_results_dir(results, HEADLINE, row["seed"]) / HEADLINE_FIGURE, results / HEADLINE_FIGURE)
        written.append(results / HEADLINE_FIGURE)
    print("wrote " + ", ".join(map(str, written)))
    return 0


if __name__ == "__main__":
    run_cli(main)
