"""MNIST ablation: what makes the conditional generator use its noise (results/mnist/studies/ablation.md).

Reads the trials of one or more MNIST sweeps (python -m cgan.sweeps.study), takes each trial's best
checkpoint (chosen by the validation Parzen score under the protocol) and measures, on validation
images only (the test images stay for Table 1), the collapse diagnostics of samples drawn as the
protocol draws them (G without dropout): conditional accuracy, within-class diversity and the
Frechet distance in the scoring classifier's features. With the end-of-run D(x) and D(G(z)) from
the trial's history, each trial gets a verdict, and the verdicts one sentence.

A trial whose run folder is gone (checkpoints are never committed, and a fresh clone or a new
machine has none) keeps the row measured for it earlier, carried over from the previous
ablation.json with the commit it was measured at; a trial with neither is an error that says which
sweep to run again.

Example: python -m studies.ablation --study mnist_cgan-mnist_noise_dropout
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cgan.cli import experiment_parser, run_cli, set_threads  # noqa: E402
from cgan.config import to_dict  # noqa: E402
from cgan.errors import UserFacingError  # noqa: E402
from cgan.runs.checkpoint import load_checkpoint  # noqa: E402
from cgan.runs.files import atomic_write, write_json  # noqa: E402
from cgan.runs.paths import cache_dir  # noqa: E402
from cgan.runs.provenance import git_commit, provenance  # noqa: E402
from cgan.table_format import mean_sd  # noqa: E402
from unimodal.api import generator_from_checkpoint  # noqa: E402
from unimodal.classifier import load_or_train_classifier, penultimate_features  # noqa: E402
from unimodal.diagnostics import diagnose  # noqa: E402
from unimodal.mnist_data import load_mnist  # noqa: E402
from unimodal.sampling import generate, protocol_labels  # noqa: E402
from unimodal.settings import load_experiment  # noqa: E402

# Verdict thresholds (ours): a class drawn as one image has diversity 0; real digits have 1.
COLLAPSED_BELOW = 0.2
D_WINS_BELOW = 0.05  # mean D(G(z)) over the last epoch: D rejects nearly every generated digit
NO_DIGITS_BELOW = 0.5  # conditional accuracy: most samples are not the digit asked for


def dropout_label(g: dict) -> str:
    if g["hidden_keep"] >= 1 and g["input_keep"] >= 1:
        return "none"
    scaled = "scaled" if g.get("dropout_scaled", True) else "unscaled"
    return f"keep {g['hidden_keep']:g} ({scaled})"


def diversity_term_label(objective: dict) -> str:
    """G's diversity-sensitive term (ours, beyond the paper; Yang et al. 2019): 'none' when off;
    'one mask' when its two draws share G's dropout masks (else independent, DSGAN as written)."""
    weight = objective.get("diversity_weight", 0.0)
    if not weight:
        return "none"
    masks = ", one mask" if objective.get("diversity_masks") == "shared" else ""
    return f"{weight:g} (cap {objective.get('diversity_cap', 1.0):g}{masks})"


def verdict(row: dict) -> str:
    if row["final_d_fake"] < D_WINS_BELOW:
        return "D wins (G's samples all rejected)"
    if row["conditional_accuracy"] < NO_DIGITS_BELOW:
        return "no usable digits (the asked digit in under half the samples)"
    if row["diversity"] < COLLAPSED_BELOW:
        return "G ignores z (one image per class)"
    return "G uses z"


def measure_trial(run_dir: Path, splits, classifier, valid_features: np.ndarray) -> dict:
    best = load_checkpoint(run_dir / "best.pt")
    loaded = generator_from_checkpoint(best, run_dir / "best.pt")
    generator, cfg = loaded.network, loaded.config
    labels, count = protocol_labels(cfg)
    samples = generate(generator, cfg, labels, count, cfg.eval.seed + 1, "deterministic")
    found = diagnose(samples, labels, classifier, splits.valid_x, splits.valid_y, valid_features)
    history = json.loads((run_dir / "history.json").read_text())
    last = history[-1]
    return {"run": run_dir.name, "noise": cfg.objective.noise, "g_dropout": dropout_label(best["config"]["generator"]),
            "lr_decay": cfg.train.lr_decay, "diversity_term": diversity_term_label(to_dict(cfg.objective)),
            "seed": cfg.seed, "best_epoch": best["epoch"],
            "epochs_run": last["epoch"], "valid_parzen": best["record"]["valid_parzen"],
            "valid_parzen_dropout": best["record"].get("valid_parzen_dropout"),
            "conditional_accuracy": found["conditional_accuracy"], "diversity": found["diversity"]["mean"],
            "frechet": found["frechet"]["mean"], "final_d_real": last["d_real"], "final_d_fake": last["d_fake"],
            "curve": [(r["epoch"], r.get("valid_parzen")) for r in history]}


def earlier_rows(path: Path, sweeps_dir: Path) -> dict[tuple[str, str], dict]:
    """The rows of a previous ablation.json, by (study, trial run). Rows written before rows named
    their study are matched in the order they were measured: each study's completed trials in
    turn, as its sweep.json lists them (their run names must agree, else they are not reused)."""
    if not path.is_file():
        return {}
    record = json.loads(path.read_text())
    measured = record.get("provenance", {}).get("commit", "unknown")
    order = []
    for study in record.get("studies", []):
        sweep = sweeps_dir / study / "sweep.json"
        trials = json.loads(sweep.read_text())["trials"] if sweep.is_file() else []
        order += [(study, t["run"]) for t in trials if t["state"] == "COMPLETE"]
    found = {}
    for i, row in enumerate(record.get("rows", [])):
        if "study" in row:
            key = (row["study"], row["run"])
        elif i < len(order) and order[i][1] == row["run"]:
            key = order[i]
        else:
            continue
        found[key] = {**row, "study": key[0], "measured_at": row.get("measured_at", measured)}
    return found


def setting(row: dict) -> str:
    term = row.get("diversity_term", "none")
    return (f"{row['noise']} noise, G dropout {row['g_dropout']}, decay {row['lr_decay']}"
            + ("" if term == "none" else f", diversity term {term}"))


def settings_of(rows: list[dict]) -> list[str]:
    """The distinct settings of these rows, in order (several seeds of one setting name it once)."""
    return list(dict.fromkeys(setting(r) for r in rows))


def grouped(rows: list[dict], key) -> dict:
    """Rows by key(row), keys in the order first seen."""
    groups: dict = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return groups


def finding(rows: list[dict]) -> str:
    """One sentence from the verdicts: which settings let G use z."""
    using = [r for r in rows if r["verdict"] == "G uses z"]
    if not using:
        kinds = sorted({r["verdict"] for r in rows})
        return (f"No setting tried made G use z within {max(r['epochs_run'] for r in rows)} epochs: "
                + "; ".join(f"{k}: " + ", ".join(settings_of([r for r in rows if r["verdict"] == k]))
                            for k in kinds) + ".")
    best = max(using, key=lambda r: r["valid_parzen"])
    several = len({r.get("seed") for r in rows if setting(r) == setting(best)}) > 1
    return ("G uses z with " + "; ".join(settings_of(using))
            + f"; the best of these by validation Parzen (protocol) is {setting(best)} "
            + (f"with seed {best['seed']} " if several else "")
            + f"({best['valid_parzen']:.1f} nats, diversity {best['diversity']:.2f}).")


def across_seeds(rows: list[dict]) -> list[str]:
    """Settings that one sweep trained with several seeds: mean ± sd (ddof 1) of the seeds' numbers,
    and how many seeds each verdict got, so that one lucky seed cannot carry a setting. Grouped
    within a sweep, so that each group is one controlled comparison (a setting another sweep also
    ran, at other commits, stays out of it)."""
    by_sweep = grouped(rows, lambda r: (r.get("study"), setting(r)))
    groups = {k: g for k, g in by_sweep.items() if len({r.get("seed") for r in g}) > 1}
    if not groups:
        return []
    lines = ["## Settings run with several seeds", "",
             "Mean ± standard deviation (ddof 1) across one sweep's seeds; the per-seed rows are in the "
             "table above.", "",
             "| sweep | setting | seeds | valid Parzen (protocol) | diversity | lowest diversity | conditional accuracy "
             "| Fréchet | verdicts |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (study, name), group in groups.items():
        verdicts = ", ".join(f"{k}: {sum(r['verdict'] == k for r in group)}"
                             for k in dict.fromkeys(r["verdict"] for r in group))
        lines.append(f"| `{study}` | {name} | {', '.join(str(r.get('seed')) for r in group)} | "
                     f"{mean_sd([r['valid_parzen'] for r in group])} | "
                     f"{mean_sd([r['diversity'] for r in group], 2)} | {min(r['diversity'] for r in group):.2f} | "
                     f"{mean_sd([100 * r['conditional_accuracy'] for r in group])}% | "
                     f"{mean_sd([r['frechet'] for r in group])} | {verdicts} |")
    return [*lines, ""]


def render(rows: list[dict], record: dict) -> str:
    prov = record["provenance"]
    lines = [
        "# MNIST CGAN ablation: what makes G use its noise",
        "",
        "Generated by `python -m studies.ablation` from the trials of the sweeps named below; do not edit by hand.",
        "",
        f"- Sweeps: {', '.join(f'`{s}`' for s in record['studies'])} (each trial's settings, command and "
        "provenance: `results/mnist/sweeps/<study>/`).",
        f"- Measured by `{prov['command']}` at commit `{prov['commit']}` on {prov['date']} "
        f"({prov['machine']['cpu']}, {prov['wall_seconds']:.0f} s). A row whose 'measured at' differs was "
        "carried over from the previous ablation.json: its trial's run folder was gone at this run.",
        "- Each trial is a short run of `experiments/mnist/mnist_cgan.yaml` (the paper's settings) with the "
        "listed changes (the diversity term, ours and beyond the paper: G also maximises, with that "
        "weight, mean|G(z1|y) - G(z2|y)| / mean|z1 - z2| capped at the cap, Yang et al. 2019); its "
        "checkpoint is the epoch with the best validation Parzen score under the protocol (G sampled "
        "without dropout, as `parzen_ll.py` samples).",
        "- Diagnostics of 1,000 protocol samples per class against the 10,000 validation images (test "
        "images are not used here): conditional accuracy, within-class diversity (1 = as varied as real "
        "digits, 0 = one image per class), Fréchet distance in this repository's classifier's "
        "penultimate features (mean over classes). D(x) and D(G(z)): means over the trial's last epoch.",
        "- The diversity term's two draws G(z1|y), G(z2|y) take independent dropout masks (DSGAN as "
        "written) unless the term says *one mask*: then they share G's masks, so that only z can "
        "separate them (`objective.diversity_masks: shared`).",
        f"- Verdicts (ours), in this order: *D wins* when the last epoch's mean D(G(z)) < {D_WINS_BELOW}; "
        f"*no usable digits* when the conditional accuracy < {NO_DIGITS_BELOW:.0%}; *G ignores z* when the "
        f"diversity < {COLLAPSED_BELOW}; else *G uses z*.",
        "",
        "| noise | G dropout | lr decay (per update) | G diversity term (ours) | seed | valid Parzen (protocol) | best epoch / run | conditional accuracy | diversity "
        "| Fréchet | D(x) | D(G(z)) | valid Parzen, G dropout on (variant) | verdict | measured at |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        variant = "—" if r["valid_parzen_dropout"] is None else f"{r['valid_parzen_dropout']:.1f}"
        lines.append(
            f"| {r['noise']} | {r['g_dropout']} | {r['lr_decay']} | {r.get('diversity_term', 'none')} | {r.get('seed', '—')} | "
            f"{r['valid_parzen']:.1f} | {r['best_epoch']} / {r['epochs_run']} | "
            f"{100 * r['conditional_accuracy']:.1f}% | {r['diversity']:.2f} | {r['frechet']:.2f} | "
            f"{r['final_d_real']:.3f} | {r['final_d_fake']:.3f} | {variant} | {r['verdict']} | "
            f"`{r['measured_at'][:12]}` |")
    lines += ["", *across_seeds(rows), "**Finding.** " + record["finding"], "",
              "`ablation.png`: validation Parzen (protocol) per epoch of every trial, and diversity against "
              "validation Parzen.", ""]
    return "\n".join(lines)


def save_plot(rows: list[dict], path: Path) -> None:
    """Curves and scatter in one colour per setting, a line style and marker per seed of it, and
    the legend below both panels (a setting's seeds must be told apart, not hidden in a cycle)."""
    groups = grouped(rows, setting)
    colours = plt.get_cmap("tab20" if len(groups) > 10 else "tab10")
    styles, markers = ("-", "--", ":", "-."), ("o", "s", "^", "D")
    legend_inches = 0.16 * ((len(rows) + 1) // 2)  # two columns of legend entries
    fig, (curves, scatter) = plt.subplots(1, 2, figsize=(12, 4.5 + legend_inches))
    for colour, (name, group) in enumerate(groups.items()):
        for i, r in enumerate(group):
            points = [(e, v) for e, v in r["curve"] if v is not None]
            label = name + (f", seed {r.get('seed')}" if len(group) > 1 else "")
            curves.plot(*zip(*points), linewidth=1, color=colours(colour), linestyle=styles[i % 4], label=label)
            scatter.scatter(r["diversity"], r["valid_parzen"], color=colours(colour), marker=markers[i % 4])
    curves.set_xlabel("epoch")
    curves.set_ylabel("validation Parzen, protocol (nats)")
    curves.set_ylim(bottom=max(-600, curves.get_ylim()[0]))
    scatter.set_xlabel("within-class diversity (protocol samples)")
    scatter.set_ylabel("best validation Parzen (nats)")
    for ax in (curves, scatter):
        ax.grid(alpha=0.3)
    fig.legend(*curves.get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, legend_inches / fig.get_figheight() + 0.02, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser("experiments/mnist/mnist_cgan.yaml", prog="python -m studies.ablation",
                               description=__doc__)
    parser.add_argument("--study", action="append", required=True, help="a sweep's study name (repeatable)")
    args = parser.parse_args(argv)
    cfg = load_experiment(args.config, args.overrides)
    set_threads(args.threads or cfg.threads)
    started = time.perf_counter()
    splits = load_mnist(args.data_root, args.cache_dir)
    classifier = load_or_train_classifier(splits, cache_dir(args.cache_dir), epochs=cfg.eval.classifier_epochs,
                                          min_accuracy=cfg.eval.classifier_min_accuracy)
    valid_features = penultimate_features(classifier, splits.valid_x).numpy()
    sweeps, out = cfg.results / "sweeps", cfg.results / "studies"
    earlier = earlier_rows(out / "ablation.json", sweeps)
    commit = git_commit()
    rows = []
    for study in args.study:
        sweep = sweeps / study / "sweep.json"
        if not sweep.is_file():
            raise UserFacingError(f"no sweep results {sweep}: run python -m cgan.sweeps.study first")
        for trial in json.loads(sweep.read_text())["trials"]:
            if trial["state"] != "COMPLETE":
                continue
            run_dir = cfg.path(cfg.run_dir) / "sweeps" / study / trial["run"]
            if (run_dir / "best.pt").is_file():
                rows.append({**measure_trial(run_dir, splits, classifier, valid_features), "study": study,
                             "measured_at": commit})
            elif (study, trial["run"]) in earlier:
                rows.append(earlier[(study, trial["run"])])
            else:
                raise UserFacingError(
                    f"trial {trial['run']} of sweep {study} has no checkpoint ({run_dir / 'best.pt'}) and no "
                    f"earlier measurement in {out / 'ablation.json'}: run the sweep again (its command is in "
                    f"{sweep.parent / 'sweep.md'}), then this command")
            print(f"{study} {trial['run']}: {rows[-1]['noise']}, G dropout {rows[-1]['g_dropout']}: "
                  f"diversity {rows[-1]['diversity']:.2f} (measured at {rows[-1]['measured_at'][:12]})", flush=True)
    for row in rows:
        row["verdict"] = verdict(row)
    record = {"studies": args.study, "finding": finding(rows), "rows": rows,
              "config": to_dict(cfg),  # the scoring settings; each trial's own config is in its sweep
              "provenance": {**provenance(), "wall_seconds": round(time.perf_counter() - started, 1)}}
    write_json(record, out / "ablation.json")
    (out / "ablation.md").write_text(render(rows, record))
    columns = [k for k in rows[0] if k != "curve"]
    table = io.StringIO()
    writer = csv.DictWriter(table, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(out / "ablation.csv", lambda handle: handle.write(table.getvalue().encode()))
    save_plot(rows, out / "ablation.png")
    print(f"wrote {out / 'ablation.md'}")
    return 0


if __name__ == "__main__":
    run_cli(main)
