"""A sweep's outputs under <results>/sweeps/<study>/: trials.csv, sweep.json (everything, with
provenance), sweep.md (best trials, each value's effect, what departs from the config), and two
plots: the score of every trial against each swept value, and every trial's validation curve."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from optuna.trial import FrozenTrial, TrialState  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from cgan.files import atomic_write, write_json  # noqa: E402
from cgan.paths import REPO_ROOT  # noqa: E402
from cgan.search_space import Param, yaml_text  # noqa: E402

if TYPE_CHECKING:
    from cgan.sweep import Sweep

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)


def _relative(path: str | Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def trial_record(trial: FrozenTrial) -> dict[str, Any]:
    return {"number": trial.number, "state": trial.state.name, "params": trial.params, "score": trial.value,
            "curve": {str(k): v for k, v in sorted(trial.intermediate_values.items())},
            "seconds": trial.duration.total_seconds() if trial.duration else None,
            **{k: v for k, v in trial.user_attrs.items() if k != "interrupted"}}


def config_value(cfg: Any, key: str) -> Any:
    """The value of a dotted key in a typed config."""
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def write_sweep_outputs(sweep: Sweep, seconds: float) -> list[Path]:
    """Write every output from the study as it stands (any worker may; the last one wins)."""
    out = sweep.results
    out.mkdir(parents=True, exist_ok=True)
    trials = sorted(sweep.study.get_trials(deepcopy=False), key=lambda t: t.number)
    frame = sweep.study.trials_dataframe(attrs=("number", "value", "state", "params", "user_attrs", "duration"))
    frame = frame.drop(columns=[c for c in frame.columns if c == "user_attrs_interrupted"])
    atomic_write(out / "trials.csv", lambda handle: handle.write(frame.to_csv(index=False).encode()))
    faithful = sweep.target.load(sweep.args.config, [])
    record = {
        "study": sweep.study_name, "config": _relative(sweep.args.config), "space": _relative(sweep.args.space),
        "base_overrides": sweep.base, "epochs": sweep.epochs, "trials_wanted": sweep.trials,
        "sampler": sweep.args.sampler, "pruner": sweep.args.pruner, "sampler_seed": sweep.args.seed,
        "storage": "sqlite (default)" if sweep.args.storage is None else sweep.args.storage.split("://")[0],
        "params": [{"key": p.key, "config_value": _plain(config_value(faithful, p.key)), "choices": p.choices,
                    "low": p.low, "high": p.high, "log": p.log, "integer": p.integer} for p in sweep.params],
        "reproduce_command": f"{sweep.target.command} --config {_relative(sweep.args.config)}",
        "trials": [trial_record(t) for t in trials],
        "provenance": {**sweep.provenance, "wall_seconds": round(seconds, 1),
                       "command": redact_storage(sweep.provenance["command"], sweep.args.storage)},
    }
    write_json(record, out / "sweep.json")
    (out / "sweep.md").write_text(render_markdown(record, sweep.params))
    save_score_plot(record, sweep.params, out / "scores.png")
    save_curve_plot(record, out / "curves.png")
    return [out / name for name in ("trials.csv", "sweep.json", "sweep.md", "scores.png", "curves.png")]


def redact_storage(command: str, storage: str | None) -> str:
    """The command without the storage URL's credentials, host and socket path (machine details)."""
    if not storage:
        return command
    return command.replace(storage, storage.split("://")[0] + "://...")


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else yaml_text(value)


def _fmt(value: Any) -> str:
    return f"{value:.10g}" if isinstance(value, float) else str(value)  # 1.000004 stays itself


def _effect_lines(record: dict, params: list[Param]) -> list[str]:
    """Per swept key: for listed values, count / mean / best score per value; for ranges, the
    rank correlation of score with value."""
    done = [t for t in record["trials"] if t["state"] == "COMPLETE"]
    lines = []
    for param in params:
        lines += ["", f"**{param.key}**", ""]
        if param.categorical:
            lines += ["| value | trials | mean score | best score |", "|---|---|---|---|"]
            for choice in param.choices:
                scores = [t["score"] for t in done if t["params"].get(param.key) == choice]
                mean = f"{np.mean(scores):.4g}" if scores else "—"
                best = f"{max(scores):.4g}" if scores else "—"
                lines.append(f"| {_fmt(choice)} | {len(scores)} | {mean} | {best} |")
        else:
            pairs = [(t["params"][param.key], t["score"]) for t in done if param.key in t["params"]]
            if len(pairs) >= 3:
                rho = spearmanr(*zip(*pairs)).statistic
                lines.append(f"Spearman rank correlation of score with value over {len(pairs)} complete "
                             f"trials: {rho:+.2f}.")
            else:
                lines.append("Too few complete trials for a correlation.")
    return lines


def render_markdown(record: dict, params: list[Param]) -> str:
    trials = record["trials"]
    counted = [t for t in trials if t["state"] in ("COMPLETE", "PRUNED")]
    ranked = sorted([t for t in trials if t["state"] == "COMPLETE" and t["score"] is not None],
                    key=lambda t: -t["score"])
    prov = record["provenance"]
    machine = prov["machine"]
    lines = [
        f"# Sweep `{record['study']}`",
        "",
        "Generated by `python -m cgan.sweep` from the study's storage; do not edit by hand.",
        "",
        f"- Command: `{prov['command']}`",
        f"- Commit `{prov['commit']}`, {prov['date']}, {machine['cpu']} ({machine['torch_threads']} torch "
        f"thread(s){', ' + machine['gpu'] if machine.get('gpu') else ''}); this worker's wall time "
        f"{prov['wall_seconds'] / 60:.1f} min.",
        f"- Experiment `{record['config']}`, space `{record['space']}`; {record['sampler']} sampler (seed "
        f"{record['sampler_seed']}), {record['pruner']} pruner, {record['epochs']} epochs per trial; "
        f"{len(counted)} of {record['trials_wanted']} trials counted "
        f"({sum(t['state'] == 'PRUNED' for t in trials)} pruned; "
        f"{sum(t['state'] == 'FAIL' for t in trials)} failed or interrupted and retried).",
        f"- Objective: the run's best validation score over its epochs (higher is better): {_objective(record)}.",
        "",
        "## Departures from the experiment's config",
        "",
        f"The config's comments name the source (paper or GAN code) of every value. Every trial runs "
        f"{record['epochs']} epochs (a short run; `train.max_epochs` in the config is the full budget)"
        + (f" and these overrides: `{'`, `'.join(record['base_overrides'])}`." if record["base_overrides"] else "."),
        "Swept keys, with the config's own value (any other value is a departure from it):",
        "",
    ]
    for param in record["params"]:
        values = (", ".join(_fmt(c) for c in param["choices"]) if param["choices"] is not None else
                  f"{param['low']} to {param['high']}{' (log scale)' if param['log'] else ''}")
        lines.append(f"- `{param['key']}`: config `{_fmt(param['config_value'])}`; swept {values}")
    lines += ["", "## Best trials", "", "| trial | score | best epoch | epochs | "
              + " | ".join(f"`{p.key}`" for p in params) + " |", "|---" * (4 + len(params)) + "|"]
    for t in ranked[:10]:
        lines.append(f"| {t['number']} | {t['score']:.4g} | {t.get('best_epoch', '—')} | {t.get('epochs_run', '—')} | "
                     + " | ".join(_fmt(t["params"].get(p.key, "—")) for p in params) + " |")
    if ranked:
        best = ranked[0]
        lines += ["", "The best trial alone (same score, one thread):", "",
                  "```bash", f"{record['reproduce_command']} " + " ".join(f"--set {o}" for o in best.get("overrides", [])),
                  "```"]
    lines += ["", "## Each value's effect"] + _effect_lines(record, params)
    lines += ["", "## Figures", "", "- `scores.png`: every trial's score against each swept value "
              "(pruned trials hollow).", "- `curves.png`: every trial's validation score per epoch.", ""]
    return "\n".join(lines)


def _objective(record: dict) -> str:
    config = record["config"]
    if "flickr" in config:
        return "validation P@10 of the decoded tags"
    return "validation Parzen log-likelihood (nats) of the first validation images"


def save_score_plot(record: dict, params: list[Param], path: Path) -> None:
    columns = min(3, len(params))
    rows = math.ceil(len(params) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.5 * rows), squeeze=False)
    for ax in axes.flat[len(params):]:
        ax.set_axis_off()
    for ax, param in zip(axes.flat, params):
        for state, face in (("COMPLETE", "C0"), ("PRUNED", "none")):
            points = [(t["params"][param.key], t["score"]) for t in record["trials"]
                      if t["state"] == state and t["score"] is not None and param.key in t["params"]]
            if not points:
                continue
            xs, ys = zip(*points)
            if param.categorical:
                xs = [list(param.choices).index(x) for x in xs]
            ax.scatter(xs, ys, facecolors=face, edgecolors="C0", label=state.lower())
        if param.categorical:
            ax.set_xticks(range(len(param.choices)), [_fmt(c) for c in param.choices], fontsize=7, rotation=15)
        elif param.log:
            ax.set_xscale("log")
        ax.set_title(param.key, fontsize=9)
        ax.set_ylabel("score")
        ax.grid(alpha=0.3)
    fig.suptitle(f"sweep {record['study']}: score per trial", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_curve_plot(record: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for t in record["trials"]:
        if t["curve"] and t["state"] in ("COMPLETE", "PRUNED"):
            epochs = [int(k) for k in t["curve"]]
            label = f"{t['number']}: " + ", ".join(f"{k.split('.')[-1]}={_fmt(v)}" for k, v in t["params"].items())
            ax.plot(epochs, list(t["curve"].values()), linewidth=1, label=label,
                    linestyle="-" if t["state"] == "COMPLETE" else ":")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation score")
    ax.set_title(f"sweep {record['study']}: validation score per epoch (dotted: pruned)", fontsize=10)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
