"""Rebuild results/mnist/table1.md, curves.png and figure2.png (the headline's) from the committed
result files.

`make tables` runs this; it reads only the measured models' runs, <results>/<name>/seed<S>/result.json
(written by `python -m unimodal.evaluate` / `unimodal.train`), so the markdown can always be
regenerated from the data.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cgan.cli import report_parser, run_cli
from cgan.plots import save_curves
from cgan.readme_blocks import update_readme
from cgan.runs.paths import REPO_ROOT
from cgan.sampling import SAMPLING_LABELS
from unimodal.settings import RESULT_FILE, run_results_dir

# Paper Table 1 (Mirza & Osindero 2014), Parzen log-likelihood on MNIST test, nats.
PAPER_TABLE1 = {"DBN": "138 ± 2", "Stacked CAE": "121 ± 1.6", "Deep GSN": "214 ± 1.1",
                "Adversarial nets": "225 ± 2", "Conditional adversarial nets": "132 ± 1.8"}
GAN, CGAN = "Adversarial nets", "Conditional adversarial nets"
LABEL_LIMIT = 80  # characters of a table label; the legend under the table says the rest
HEADLINE_MARK, FEWEST_MARK = "Headline", "Working CGAN, fewest departures"


@dataclass(frozen=True)
class Model:
    """A measured configuration (experiments/mnist/<name>.yaml, its runs in <results>/<name>/)."""

    name: str
    label: str  # at most LABEL_LIMIT characters
    paper: str  # the paper's row it measures again
    legend: str  # what the label leaves out
    mark: str = ""  # HEADLINE_MARK, FEWEST_MARK or nothing


MEASURED = [
    Model("mnist_gan", "Adversarial nets", GAN,
          "Goodfellow et al. 2014's unconditional net with the GAN code's settings (goodfeli/adversarial "
          "`mnist.yaml`), trained and evaluated by the same code as the conditional nets, within a 600-epoch "
          "budget (the GAN code sets none)."),
    Model("mnist_cgan", "Conditional adversarial nets, as the paper describes them", CGAN,
          "The paper's §4.1 networks and schedule (z ~ U[0,1]^100, learning-rate decay 1.00004, dropout 0.5 "
          "in G and D), the GAN code's settings where the paper is silent."),
    Model("mnist_cgan_symnoise", "CGAN, z ~ U[-√3, √3]", CGAN,
          "The paper's settings with one departure, the GAN code's noise: z uniform on [-√3, √3] (unit "
          "variance) instead of U[0,1] (with U[0,1] G learns to ignore z: the row above).", FEWEST_MARK),
    Model("mnist_cgan_symdecay", "CGAN, z ~ U[-√3, √3], decay 1.000004", CGAN,
          "Two departures, both the GAN code's own settings: z ~ U[-√3, √3], and learning-rate decay "
          "1.000004 instead of the paper's 1.00004."),
    Model("mnist_cgan_diverse", "CGAN, z ~ U[-√3, √3], decay 1.000004, DSGAN term 8, cap 0.12", CGAN,
          "The two departures above and a third, beyond the paper: the diversity-sensitive term of DSGAN "
          "(Yang et al. 2019) in G's loss with weight 8. G also maximises min(mean|G(z1|y) − G(z2|y)| / "
          "mean|z1 − z2|, 0.12), the cap being real digits' own ratio (two digits of one class over two "
          "noise draws). Each of "
          "the term's two draws has its own dropout masks, as DSGAN writes it."),
    Model("mnist_cgan_diverse16", "CGAN, z ~ U[-√3, √3], decay 1.000004, DSGAN term 16, cap 0.12", CGAN,
          "As the row above, with the term's weight 16."),
    Model("mnist_cgan_diverse_shared", "CGAN, z ~ U[-√3, √3], decay 1.000004, DSGAN term 8, cap 0.12, "
          "shared mask (ours)", CGAN,
          "The DSGAN term of weight 8 capped at 0.12 (Yang et al. 2019; see two rows up), with one change "
          "that is this repository's own, not DSGAN's: the term's two draws share one dropout mask, so "
          "that it rewards only what z changes (DSGAN draws them independently).", HEADLINE_MARK),
]
HEADLINE = next(model.name for model in MEASURED if model.mark == HEADLINE_MARK)  # Table 1's headline
HEADLINE_FIGURE = "figure2.png"  # its Figure 2, copied beside the table
REAL_REFERENCE = "real_reference.json"  # python -m unimodal.real_reference
CURVE_PANELS = [(("d_loss",), "discriminator loss"), (("g_loss",), "generator loss"),
                (("d_fake",), "mean D(G(z)) during training"),
                (("valid_parzen", "valid_parzen_dropout"), "validation Parzen LL (nats)"),
                (("valid_diversity", "valid_diversity_dropout"), "within-class diversity, validation (1 = real digits)")]


def load_runs(results: Path) -> dict[str, list[dict]]:
    """Per measured configuration, its evaluated runs (<results>/<name>/seed<S>/result.json, written
    by unimodal.evaluate / unimodal.train), in seed order."""
    runs = {}
    for model in MEASURED:
        rows = [json.loads(path.read_text()) for path in (results / model.name).glob(f"seed*/{RESULT_FILE}")]
        if rows:
            runs[model.name] = sorted(rows, key=lambda row: row["seed"])
    return runs


def own_seed_runs(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Per configuration, the run of the config's own seed (the run named like the config)."""
    return {name: row for name, rows in runs.items() for row in rows if row["name"] == name}


def load_real_reference(path: Path) -> dict | None:
    """The real-digits reference row (python -m unimodal.real_reference), when it has been measured."""
    return json.loads(path.read_text()) if path.is_file() else None


PROTOCOL_MODE = "deterministic"  # parzen_ll.py samples G without dropout (model.generator.sample)


def ordered_modes(row: dict) -> list[str]:
    """The protocol's sampling mode first (the headline), then this repository's variant."""
    return sorted(row["by_sampling"], key=lambda mode: mode != PROTOCOL_MODE)


def headline(row: dict) -> dict:
    return row["by_sampling"][ordered_modes(row)[0]]


def mode_label(mode: str) -> str:
    return ("protocol: " if mode == PROTOCOL_MODE else "variant, not the protocol: ") + SAMPLING_LABELS[mode]


def parzen_cell(parzens: list[dict]) -> str:
    """One run: its test mean ± its standard error. Several seeds: the mean of their test means,
    the standard deviation (ddof 1) across seeds, and the seeds' mean test standard error."""
    means, errors = [p["mean"] for p in parzens], [p["std_error"] for p in parzens]
    if len(parzens) == 1:
        return f"{means[0]:.1f} ± {errors[0]:.1f} (s.e., test)"
    return (f"{np.mean(means):.1f} (sd {np.std(means, ddof=1):.1f} across {len(means)} seeds; "
            f"test s.e. about {np.mean(errors):.1f})")


def partial_mark(rows: list[dict]) -> str:
    """' *(partial: ...)*' when any of the runs stopped before its epoch budget (and not by its
    stopping rule): how far they got, and which seeds when not all; else ''."""
    short = [row for row in rows if not row["complete"]]
    if not short:
        return ""
    epochs = sorted({row["epochs_run"] for row in short})
    reached = f"{epochs[0]}" if len(epochs) == 1 else f"{epochs[0]}-{epochs[-1]}"
    seeds = "" if len(short) == len(rows) else \
        f"seed{'s' if len(short) > 1 else ''} {', '.join(str(row['seed']) for row in short)} at "
    return f" *(partial: {seeds}{reached} of {short[0]['max_epochs']} epochs)*"


def _spread(values: list, fmt: str) -> str:
    """The distinct values, formatted, lowest-highest when they differ."""
    shown = sorted({format(v, fmt) for v in values}, key=float)
    return shown[0] if len(shown) == 1 else f"{shown[0]}-{shown[-1]}"


def _mean_cell(results: list[dict], key: str, fmt: str, scale: float = 1.0) -> str:
    """The mean over runs of a collapse diagnostic ('—' when none measured it)."""
    values = [r[key]["mean"] if isinstance(r[key], dict) else r[key] for r in results if r.get(key) is not None]
    return format(scale * np.mean(values), fmt) if values else "—"


def marked(model: Model) -> str:
    """The model's label, after its mark (headline, fewest departures) when it has one."""
    return f"**{model.mark}:** {model.label}" if model.mark else model.label


def main_row(model: Model, rows: list[dict]) -> str:
    """The main table's row of a configuration: the protocol's numbers over all its seeds."""
    results = [row["by_sampling"][PROTOCOL_MODE] for row in rows]
    accuracy = _mean_cell(results, "conditional_accuracy", ".1f", 100)
    return (f"| {marked(model)}{partial_mark(rows)} | {PAPER_TABLE1[model.paper]} | "
            f"{parzen_cell([r['parzen'] for r in results])} | {', '.join(str(row['seed']) for row in rows)} | "
            f"{_spread([r['parzen']['sigma'] for r in results], '.3f')} | "
            f"{_spread([row['epochs_run'] for row in rows], 'd')} / {rows[0]['max_epochs']} | "
            f"{accuracy}{'' if accuracy == '—' else '%'} | {_mean_cell(results, 'diversity', '.2f')} | "
            f"{_mean_cell(results, 'frechet', '.1f')} |")


REAL_LABEL = "Real MNIST training digits as samples (reference)"


def real_row(real: dict) -> str:
    p = real["parzen"]
    return f"| {REAL_LABEL} | — | {parzen_cell([p])} | — | {p['sigma']:.3f} | — | — | — | — |"


def real_sentence(real: dict) -> str:
    """Why a score above the real digits' shows the estimator's bias, in the numbers measured."""
    p, shrunk = real["parzen"], real["shrunk_to_class_mean"]
    return (f"Real digits score {p['mean']:.1f} ± {p['std_error']:.1f} nats under this protocol "
            f"({real['samples']['per_class']:,} training digits per class, `real_reference.json`), so a "
            f"generator above them shows the Parzen window's bias, not better samples: it rewards samples "
            f"pulled toward their class's mode, and the same real digits moved {shrunk['fraction']:.0%} of the "
            f"way toward their class's mean image score {shrunk['parzen']['mean']:.1f} ± "
            f"{shrunk['parzen']['std_error']:.1f}.")


def main_table(runs: dict[str, list[dict]], real: dict | None) -> list[str]:
    """The paper's rows beside ours (the protocol's sampling), the real-digits reference, the legend."""
    measured = {model.paper for model in MEASURED if model.name in runs}
    lines = ["| model | paper | measured here: test log-likelihood (nats) | seeds | sigma | epochs run / budget "
             "| conditional accuracy | within-class diversity | Fréchet distance |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {paper} (not measured here) | {value} | — | — | — | — | — | — | — |"
              for paper, value in PAPER_TABLE1.items() if paper not in measured]
    if real:
        lines.append(real_row(real))
    lines += [main_row(model, runs[model.name]) for model in MEASURED if model.name in runs]
    lines += ["", "Seed rows give the mean over seeds, the standard deviation across seeds (sd) and the "
              "seeds' typical standard error of the test mean (s.e.); a single run gives its mean ± that "
              "s.e. A row marked *partial* stopped before its epoch budget: how far it got.", ""]
    if real:
        lines += [real_sentence(real), ""]
    lines += ["Rows (each configuration in `experiments/mnist/<name>.yaml`, its runs in `<name>/seed<S>/`):", ""]
    lines += [f"- **{model.label}** ([`{model.name}`]({model.name}/)): {model.legend}"
              for model in MEASURED if model.name in runs]
    return lines


def seeds_lines(model: Model, rows: list[dict]) -> list[str]:
    """One line per sampling mode: the spread across seeds, and each seed's Parzen ± s.e."""
    lines = []
    for mode in ordered_modes(rows[0]):
        results = [row["by_sampling"][mode] for row in rows if mode in row["by_sampling"]]
        per_seed = "; ".join(_seed_cell(row, r) for row, r in zip(rows, results))
        accs = [r["conditional_accuracy"] for r in results if r.get("conditional_accuracy") is not None]
        divs = [r["diversity"]["mean"] for r in results if r.get("diversity")]
        lines.append(f"| {marked(model)} ({mode_label(mode)}){partial_mark(rows)} | {len(results)} | "
                     f"{parzen_cell([r['parzen'] for r in results])} | "
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


def _diagnostic(result: dict, key: str, fmt: str) -> str:
    value = result.get(key)
    return "—" if value is None else format(value["mean"] if isinstance(value, dict) else value, fmt)


def measured_lines(model: Model, row: dict) -> list[str]:
    """One table line per sampling mode: the protocol's first (the headline), then the variant."""
    last = row["training_sessions"][-1] if row["training_sessions"] else {}
    lines = []
    for mode in ordered_modes(row):
        result = row["by_sampling"][mode]
        acc = result.get("conditional_accuracy")
        lines.append(
            f"| {marked(model)} ({mode_label(mode)}){partial_mark([row])} | {parzen_cell([result['parzen']])} | "
            f"{result['parzen']['sigma']:.3f} | {row['best_epoch']} "
            f"({SAMPLING_LABELS[row['sampling']].removeprefix('G ')}) | {row['epochs_run']} / {row['max_epochs']} | "
            f"{'—' if acc is None else f'{100 * acc:.1f}%'} | {_diagnostic(result, 'diversity', '.2f')} | "
            f"{_diagnostic(result, 'frechet', '.2f')} | {_hours(row['train_seconds'])} | "
            f"`{str(last.get('commit', '?'))[:12]}` |")
    return lines


PROTOCOL_NOTES = [
    "- Protocol as in goodfeli/adversarial `parzen_ll.py`: 1,000 samples per class (10,000 for "
    "the unconditional net), sigma from `numpy.logspace(-1, 0, 10)` chosen on the first 1,000 "
    "validation images, mean ± std/sqrt(10,000) over the test set.",
    "- The stopping point is the epoch with the best validation Parzen score (the paper gives "
    "none); the test number comes from that epoch's checkpoint with fresh noise.",
    "- Hardware: a 2-core CPU (see each JSON's `machine`). Training time is the wall time of the "
    "epochs as run: runs that shared the machine (with each other or other work) show it in "
    "the per-epoch `updates_per_second` of their JSON history.",
    "- Sampling: the main table and the first row of each model below sample G without dropout, as the "
    "protocol does (`parzen_ll.py` calls `model.generator.sample`, which applies no dropout). A generator "
    "trained with dropout (the paper's CGAN) is also measured with its dropout on, on the same checkpoint: "
    "that row is this repository's variant, not the protocol. The best-epoch column says which "
    "mode's validation score chose the checkpoint.",
    "- Collapse diagnostics, because a Parzen number cannot tell whether G uses z or y: the "
    "conditional accuracy (a 99%+ MNIST CNN's agreement with the conditioning label); the "
    "within-class diversity (mean pairwise distance of samples of one class over that of real "
    "test digits of the class, averaged over classes: 1 = as varied as real digits, 0 = one "
    "image); and the Fréchet distance between samples and test images in that classifier's "
    "penultimate features (mean over classes; this repository's classifier, not Inception). "
    "Classes of unconditional samples are the classifier's. '—': not measured for that row.",
    "- Parzen estimates in 784 dimensions are poor measures of sample quality (Theis et al. 2016).",
]


def render_table(runs: dict[str, list[dict]], real: dict | None = None) -> str:
    lines = ["# Table 1: Parzen-window log-likelihood on MNIST test (nats)", "",
             "Generated by `make tables` from the runs' `<model>/seed<S>/result.json` beside this file and "
             "`real_reference.json`; do not edit by hand.", ""]
    if not runs:
        lines.append("No run has been evaluated yet: run `make mnist`.")
        return "\n".join(lines) + "\n"
    lines += [*main_table(runs, real), "", "Deviations from the paper, stated for every measured row:",
              *PROTOCOL_NOTES, ""]
    rows = own_seed_runs(runs)
    by_name = {model.name: model for model in MEASURED}
    lines += ["## Each configuration's own seed, both sampling modes", "",
              "| model | log-likelihood | sigma | best epoch (chosen by) | epochs run / budget | conditional accuracy "
              "| within-class diversity | Fréchet distance | training time | commit (last trained) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [line for name, row in rows.items() for line in measured_lines(by_name[name], row)]
    seed_groups = {name: group for name, group in runs.items() if len(group) > 1}
    if seed_groups:
        lines += ["", "## Across seeds", "",
                  "The same configuration trained with different seeds: the mean of the seeds' test Parzen "
                  "means (sd: their standard deviation, ddof 1; s.e.: the seeds' typical standard error of "
                  "the test mean), beside each seed's own number ± its standard error.", "",
                  "| model | seeds | log-likelihood: mean (sd across seeds; test s.e.) | per seed "
                  "| conditional accuracy (mean) | within-class diversity (mean) |", "|---|---|---|---|---|---|"]
        lines += [line for name, group in seed_groups.items() for line in seeds_lines(by_name[name], group)]
    lines.append("")
    lines += [describe_run(by_name[name].label, row) for name, row in rows.items()]
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
            f"Trained by {len(sessions)} run(s) of the training command (each resuming the last) at "
            f"commit(s) {commits}; evaluated by "
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
    """Where the training ran, over all its runs of the command (thread counts differ between them)."""
    def distinct(key: str, separator: str) -> str:
        return separator.join(str(v) for v in sorted({s["machine"][key] for s in sessions}))

    threads = distinct("torch_threads", " or ")
    return (f"{distinct('cpu', ' / ')} ({threads} thread{'' if threads == '1' else 's'}, "
            f"torch {distinct('torch', ' / ')})")


README_MODELS = {  # Table 1 in the README: the rows a reader needs, each with a short label
    "mnist_gan": "GAN (Goodfellow et al. 2014)",
    "mnist_cgan": "CGAN as the paper describes it",
    "mnist_cgan_symnoise": "CGAN + the GAN code's noise U[-√3, √3] (fewest departures)",
    "mnist_cgan_diverse_shared": "CGAN + GAN-code noise and decay + DSGAN term, one mask (headline)",
}


def readme_table(runs: dict[str, list[dict]], real: dict | None) -> str:
    """Table 1 as the README shows it: the paper beside ours for the rows a reader needs, with
    seeds, epochs, the collapse diagnostics and the shipped weights (the full table: table1.md)."""
    lines = ["| model | paper | ours: test log-likelihood (nats) | epochs | accuracy | diversity | weights |",
             "|---|---|---|---|---|---|---|"]
    if real:
        lines.append(f"| real training digits as samples (reference) | — | {parzen_cell([real['parzen']])} "
                     "| — | — | — | — |")
    for model in MEASURED:
        if model.name not in README_MODELS or model.name not in runs:
            continue
        rows, label = runs[model.name], README_MODELS[model.name]
        results = [row["by_sampling"][PROTOCOL_MODE] for row in rows]
        accuracy = _mean_cell(results, "conditional_accuracy", ".1f", 100)
        weights = REPO_ROOT / "weights" / f"{model.name}.safetensors"
        shipped = f"[`{weights.name}`](weights/{weights.name})" if weights.is_file() else "—"
        epochs = f"{_spread([row['epochs_run'] for row in rows], 'd')} / {rows[0]['max_epochs']}"
        lines.append(f"| {f'**{label}**' if model.mark == HEADLINE_MARK else label} | "
                     f"{PAPER_TABLE1[model.paper]} | {parzen_cell([r['parzen'] for r in results])} | "
                     f"{epochs}{' (partial)' if partial_mark(rows) else ''} | "
                     f"{accuracy}{'' if accuracy == '—' else '%'} | {_mean_cell(results, 'diversity', '.2f')} | "
                     f"{shipped} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = report_parser("python -m unimodal.report", __doc__, "results/mnist", "the result JSON files")
    args = parser.parse_args(argv)
    results = Path(args.results)
    runs = load_runs(results)
    rows = own_seed_runs(runs)
    real = load_real_reference(results / REAL_REFERENCE)
    written = [results / "table1.md"]
    written[0].write_text(render_table(runs, real))
    if results.resolve() == (REPO_ROOT / "results" / "mnist").resolve() and update_readme("table1", readme_table(runs, real)):
        written.append(REPO_ROOT / "README.md")
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
