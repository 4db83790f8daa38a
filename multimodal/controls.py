"""`python -m multimodal.controls`: does the adversary help the Flickr tagger? One table of every
method scored on the same test images with the same decoding and vocabulary (the reconstruction
configuration's data settings), from the committed metrics files:

  the baselines (frequency prior, nearest-neighbour tag transfer, tuned baselines), the regressor
  (G's network without noise or D), G without D (the reconstruction configuration with
  objective.adversarial_weight 0), and the CGANs, with every seed that was trained.

Each row gives test P@10 as "mean (sd across n seeds; test s.e. x)": the sd measures how much the
result depends on the seed, the s.e. how precisely the test images measure one model. Writes
results/flickr/controls/controls.md and controls.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cgan.cli import run_cli
from cgan.readme_blocks import update_readme
from cgan.runs.files import write_json
from cgan.runs.paths import REPO_ROOT
from cgan.runs.provenance import provenance
from multimodal.report import cut_short, epoch_budget, render_table2


@dataclass(frozen=True)
class Row:
    label: str
    source: str  # metrics file, relative to results/flickr
    run: str  # 'frequent', 'knn', 'regressor' or 'cgan': the run (and its -seed<S> runs) in that file
    kind: str  # 'baseline', 'control' or 'cgan'


ROWS = (
    Row("regressor, paper-settings config (lr 0.1, unit inputs)", "paper_settings/metrics.json", "regressor", "baseline"),
    Row("CGAN as the paper describes it (every image gets the same ten tags)", "paper_settings/metrics.json", "cgan",
        "cgan"),
    Row("regressor, reconstruction config's settings", "controls/no_d/metrics.json", "regressor", "control"),
    NO_D_ROW := Row("G without D (reconstruction + diversity terms only)", "controls/no_d/metrics.json", "cgan",
                    "control"),
    CGAN_ROW := Row("CGAN, reconstruction configuration", "reconstruction/metrics.json", "cgan", "cgan"),
    Row("CGAN conditioned also on the neighbours' tag centroid", "neighbours/metrics.json", "cgan", "cgan"),
    AUXILIARY_ROW := Row("CGAN with an auxiliary concept head in D (AC-GAN), reconstruction configuration",
                         "auxiliary/metrics.json", "cgan", "cgan"),
)
TUNED = "baselines/baselines.json"  # python -m multimodal.baselines_report
TUNED_METHODS = {  # its methods, the pipeline's own two first (scored there too, with the same numbers)
    "frequent": "frequency prior: the 10 most frequent training tags",
    "knn_protocol": "nearest-neighbour tag transfer (raw features, k on validation)",
    "knn_tuned": "kNN tuned like TagProp (centred features, rank-weighted votes, k on validation)",
    "concept_classifiers": "per-concept linear classifiers + the most frequent tags",
    "tag_classifiers": "per-tag linear classifiers over the {tags} most frequent tags (number on validation)",
}
LIMITS = {"true_tags": "limit: each image's own tags exactly (no tagger can score more)",
          "concepts_only": "reference: a perfect concept classifier + the most frequent tags"}


def seed_runs(record: dict, run: str) -> list[str]:
    """The score names of ``run`` and its other seeds ('<run>-seed<S>'), in the headline sampling
    mode for a generator sampled in several modes."""
    mode = record.get("headline_sampling", "deterministic")
    names = []
    for name in record["scores"]:
        base = name.split("/")[0]
        if base != run and not base.startswith(f"{run}-seed"):
            continue
        if "/" in name and not name.endswith(f"/{mode}"):
            continue
        names.append(name)
    return sorted(names, key=lambda n: (n.split("/")[0] != run, n))


def summarise(values: list[dict], top: int = 10) -> dict:
    """Mean, sd across seeds (None for one), and the test s.e. (the seeds' mean; None where the
    file predates it) of P@top, with R@top and distinct words."""
    p = [v[f"precision@{top}"] for v in values]
    se = [v[f"precision@{top}_se"] for v in values if f"precision@{top}_se" in v]
    return {"seeds": len(values), "precision": float(np.mean(p)), "precision_per_seed": p,
            "precision_sd": float(np.std(p, ddof=1)) if len(p) > 1 else None,
            "precision_se": float(np.mean(se)) if len(se) == len(p) else None,
            "recall": float(np.mean([v[f"recall@{top}"] for v in values])),
            "distinct_words": float(np.mean([v["distinct_words"] for v in values]))}


def measured_rows(results: Path) -> list[dict]:
    """Every row whose metrics file exists, with its scores and D's own-vs-other-image gap: the
    tuned baselines first, then the pipeline's rows, the limits last."""
    rows = tuned_rows(results)
    for row in ROWS:
        path = results / row.source
        if not path.is_file():
            continue
        record = json.loads(path.read_text())
        names = seed_runs(record, row.run)
        if not names:
            continue
        short = [n.split("/")[0] for n in names if n.split("/")[0] in record.get("training", {})
                 and cut_short(n.split("/")[0], record)]
        gaps = [record["diagnostics"][n]["d_matched"] - record["diagnostics"][n]["d_mismatched"]
                for n in names if "d_matched" in record.get("diagnostics", {}).get(n, {})]
        rows.append({"label": row.label, "kind": row.kind, "source": row.source, "runs": names,
                     "word_vectors": record.get("inputs", {}).get("word_vectors"),
                     **summarise([record["scores"][n] for n in names]),
                     "d_gap": float(np.mean(gaps)) if gaps else None, "partial": partial_note(record, short),
                     "commit": record.get("evaluation", {}).get("commit") or record.get("provenance", {}).get("commit")})
    order = ("baseline", "control", "cgan", "limit")
    return sorted(rows, key=lambda row: order.index(row["kind"]))  # stable: each kind keeps its order


def tuned_rows(results: Path) -> list[dict]:
    """The rows of python -m multimodal.baselines_report's file, where it exists."""
    rows, tuned = [], results / TUNED
    if tuned.is_file():
        record = json.loads(tuned.read_text())
        vectors = record.get("inputs", {}).get("word_vectors")
        for name, label in TUNED_METHODS.items():
            if name in record["methods"]:
                label = label.format(**record["methods"][name].get("chosen", {}))
                rows.append({"label": label, "kind": "baseline", "source": TUNED, "runs": [name], "word_vectors": vectors,
                             **summarise([record["methods"][name]["test"]]), "d_gap": None})
        for name, label in LIMITS.items():
            if name in record["limits"]:
                rows.append({"label": label, "kind": "limit", "source": TUNED, "runs": [name], "word_vectors": vectors,
                             **summarise([record["limits"][name]]), "d_gap": None})
    return rows


def partial_note(record: dict, runs: list[str]) -> str | None:
    """'stopped at epoch N of M' for runs that ended before their budget without their patience
    running out (None when every run finished)."""
    if not runs:
        return None
    epochs = sorted({record["training"][run]["epochs_run"] for run in runs})
    reached = f"{epochs[0]}" if len(epochs) == 1 else f"{epochs[0]}-{epochs[-1]}"
    return f"partial: stopped at epoch {reached} of {epoch_budget(runs[0], record)}"


def fmt_precision(row: dict) -> str:
    """'mean (sd across n seeds; test s.e. x)', or 'value (test s.e. x)' for one run."""
    se = f"test s.e. {row['precision_se']:.3f}" if row["precision_se"] is not None else "test s.e. not recorded"
    partial = f" *({row['partial']})*" if row.get("partial") else ""
    if row["seeds"] > 1:
        return f"{row['precision']:.3f} (sd {row['precision_sd']:.3f} across {row['seeds']} seeds; {se}){partial}"
    return f"{row['precision']:.3f} ({se}){partial}"


def verdict(rows: list[dict]) -> list[str]:
    """What the adversary adds (CGAN minus G without D, same configuration) and the best method."""
    by_label = {r["label"]: r for r in rows}
    lines = []
    no_d = by_label.get(NO_D_ROW.label)
    controlled = [by_label[label] for label in (CGAN_ROW.label, AUXILIARY_ROW.label) if label in by_label and no_d]
    for cgan in controlled:
        same = "" if cgan.get("word_vectors") == no_d.get("word_vectors") else (
            " (the two rows' word vectors are two trainings of the same settings: the table's last column)")
        lines.append(f"- **What D adds** ({cgan['label']} against {NO_D_ROW.label}, {cgan['seeds']} and "
                     f"{no_d['seeds']} seeds): {cgan['precision'] - no_d['precision']:+.3f} P@10 and "
                     f"{cgan['distinct_words'] - no_d['distinct_words']:+.0f} distinct words on the test images{same}.")
    best = max((r for r in rows if r["kind"] != "limit"), key=lambda r: r["precision"])
    best_baseline = max((r for r in rows if r["kind"] == "baseline"), key=lambda r: r["precision"], default=None)
    best_cgan = max((r for r in rows if r["kind"] == "cgan"), key=lambda r: r["precision"], default=None)
    if best_baseline and best_cgan:
        lower = best_cgan["precision"] - (best_cgan["precision_sd"] or 0.0)
        reached = lower >= best_baseline["precision"]
        lines.append(f"- **Best CGAN vs best baseline**: {best_cgan['label']}, {best_cgan['precision']:.3f} "
                     f"(mean minus sd {lower:.3f}) against {best_baseline['label']}, "
                     f"{best_baseline['precision']:.3f}: {'at or above' if reached else 'below'} it.")
    lines.append(f"- **For tagging photos, use**: {best['label']} (test P@10 {best['precision']:.3f}).")
    return lines


def epoch_lines(results: Path) -> list[str]:
    """Per epoch on validation, the config's own seed of each generator row: P@10, distinct words,
    and D's own-vs-other-image gap (how much D uses the image as training goes on)."""
    lines = ["## Per epoch, on the validation images (each configuration's own seed)", "",
             "| configuration | epoch | P@10 | distinct words | D own / other image | gap |", "|---|---|---|---|---|---|"]
    for row in ROWS:
        path = results / row.source
        if row.kind == "baseline" or not path.is_file():
            continue
        record = json.loads(path.read_text())
        for h in record.get("training", {}).get(row.run, {}).get("history", []):
            own, other = h.get("valid_d_matched"), h.get("valid_d_mismatched")
            d = "no D" if own is None else f"{own:.3f} / {other:.3f} | {own - other:+.3f}"
            lines.append(f"| {record['config']['name']} | {h['epoch']} | {h['valid_precision']:.3f} | {h['valid_distinct_words']} | "
                         f"{d if own is not None else 'no D | —'} |")
    return lines


def render(rows: list[dict], results: Path | None = None) -> str:
    lines = ["# Flickr tagging: baselines, controls and CGANs on one table", "",
             "Test images of MIR Flickr (the reconstruction configuration's split, decoding and vocabulary); "
             "P@10 as mean (sd across seeds; the test set's standard error of one model's mean). "
             "D gap: D's mean output for test tags with their own image minus with another image "
             "(0: D ignores the image). Every row departs from the paper as its folder's `metrics.md` lists "
             "(features, word vectors, split, stopping point, and each configuration's settings); the "
             "limits at the bottom are references, not methods. Word vectors: the first digits of the "
             "sha256 of the vectors a row was trained and decoded with; rows with different digits used word vectors "
             "trained again with the same skip-gram settings and seed that did not come out bit-identical, "
             "so compare them with that in mind.", "",
             "| kind | method | seeds | P@10 | R@10 | distinct words | D gap | from | word vectors |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        gap = f"{row['d_gap']:+.3f}" if row["d_gap"] is not None else "no D"
        vectors = f"`{row['word_vectors'][:8]}`" if row.get("word_vectors") else "not recorded"
        lines.append(f"| {row['kind']} | {row['label']} | {row['seeds']} | {fmt_precision(row)} | "
                     f"{row['recall']:.3f} | {row['distinct_words']:.0f} | {gap} | `{row['source']}` | {vectors} |")
    per_epoch = ["", *epoch_lines(results)] if results is not None else []
    return "\n".join([*lines, "", "## What the table says", "", *verdict(rows), *per_epoch, ""])


def readme_table(rows: list[dict]) -> str:
    """The README's Flickr table: every row but the limits, P@10 with its spread."""
    lines = ["| method | seeds | test P@10 | distinct words |", "|---|---|---|---|"]
    best = max((r["precision"] for r in rows if r["kind"] == "cgan"), default=None)
    for row in rows:
        if row["kind"] == "limit":
            continue
        label = f"**{row['label']}**" if row["kind"] == "cgan" and row["precision"] == best else row["label"]
        lines.append(f"| {label} | {row['seeds']} | {fmt_precision(row)} | {row['distinct_words']:.0f} |")
    return "\n".join(lines) + "\n"


def write_table2(results: Path, rows: list[dict]) -> list[Path]:
    """results/flickr/table2.md and .png: the Table 2 of the best CGAN on test (its own folder's,
    with a note naming it and the paper's settings' collapsed one)."""
    cgans = [row for row in rows if row["kind"] == "cgan"]
    if not cgans:
        return []
    best = max(cgans, key=lambda row: row["precision"])
    folder = results / Path(best["source"]).parent
    record = json.loads((folder / "metrics.json").read_text())
    text = render_table2(record).replace(
        "Generated by `python -m multimodal.report` from `metrics.json` beside this file",
        f"Generated by `python -m multimodal.controls` from `{best['source']}` (the best CGAN on the test "
        f"images: {best['label']}, P@10 {best['precision']:.3f}). The paper's settings as written give every "
        "image the same ten tags: their Table 2 is `paper_settings/table2.md`", 1)
    (results / "table2.md").write_text(text)
    shutil.copyfile(folder / "table2.png", results / "table2.png")
    return [results / "table2.md", results / "table2.png"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m multimodal.controls", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(REPO_ROOT / "results/flickr"),
                        help="the Flickr results folder (default: results/flickr)")
    args = parser.parse_args(argv)
    results = Path(args.results)
    rows = measured_rows(results)
    if not rows:
        raise SystemExit(f"no metrics files under {results}: run python -m multimodal.pipeline first")
    out = results / "controls"
    out.mkdir(parents=True, exist_ok=True)
    write_json({"rows": rows, "provenance": provenance()}, out / "controls.json")
    (out / "controls.md").write_text(render(rows, results))
    written = [out / "controls.md", *write_table2(results, rows)]
    if results.resolve() == (REPO_ROOT / "results" / "flickr").resolve() and update_readme("flickr", readme_table(rows)):
        written.append(REPO_ROOT / "README.md")
    print("wrote " + ", ".join(map(str, written)))
    return 0


if __name__ == "__main__":
    run_cli(main)
