"""Rebuild results/flickr/table2.md, table2.png, metrics.md and curves.png from metrics.json.

Reads only <results>/metrics.json (written by python -m multimodal.evaluate), so the markdown and
the figure can always be regenerated from the data.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from cgan.cli import report_parser, run_cli  # noqa: E402
from cgan.plots import save_curves, with_cjk_fallback  # noqa: E402
from cgan.runs.files import atomic_write  # noqa: E402
from cgan.runs.paths import resolve  # noqa: E402
from cgan.sampling import SAMPLING_LABELS  # noqa: E402
from cgan.table_format import mean_sd  # noqa: E402

PAPER_EXAMPLE = ("Paper Table 2, for comparison: a photo tagged *water, river* got *creek, lake, "
                 "river, rocky, valley, woods, waters, ...*")


def method_label(name: str, record: dict) -> str:
    cfg = record["config"]
    if name == "frequent":
        return f"(a) the {cfg['eval']['top']} most frequent training tags"
    if name == "knn":
        return f"(b) nearest-neighbour tag transfer, k = {record['knn']['k']} (chosen on validation)"
    if is_regressor(name):
        seed = f", seed {name.removeprefix('regressor-seed')}" if name != "regressor" else ""
        return f"(c) regressor: G's network without noise, {cfg['regressor']['loss']} loss{seed}"
    run, mode = name.split("/", 1)
    first = " — stopping-point mode" if mode == record["headline_sampling"] else ""
    seed = f", seed {run.removeprefix('cgan-seed')}" if run != "cgan" else ""
    return f"(d) conditional adversarial net{seed}, {SAMPLING_LABELS[mode]}{first}"


def is_regressor(run: str) -> bool:
    """A regressor baseline's run: 'regressor' (the config's seed) or 'regressor-seed<S>'."""
    return run == "regressor" or run.startswith("regressor-seed")


def is_other_seed(name: str) -> bool:
    """A CGAN trained with another seed than the config's (python -m multimodal.train --seeds)."""
    return name.startswith("cgan-seed")


def other_seed_runs(record: dict) -> list[str]:
    """The runs of the other seeds ('cgan-seed<S>'), by seed."""
    return sorted({name.split("/")[0] for name in record["scores"] if is_other_seed(name)},
                  key=lambda run: int(run.removeprefix("cgan-seed")))


def seed_scores(record: dict, mode: str) -> list[dict] | None:
    """Scores of the config's seed and the other seeds in one sampling mode, in seed order; None
    when one of them lacks that mode."""
    rows = [record["scores"].get(f"{run}/{mode}") for run in ["cgan", *other_seed_runs(record)]]
    return None if any(row is None for row in rows) else rows


def diagnostic_cells(d: dict) -> tuple[str, str]:
    """The 'sample cosine' and 'D own / other image' cells of a method's test diagnostics."""
    cosine = f"{d['sample_cosine']:.3f}" if "sample_cosine" in d else "—"
    gap = f"{d['d_matched']:.3f} / {d['d_mismatched']:.3f}" if "d_matched" in d else "—"
    return cosine, gap


def seeds_section(record: dict) -> list[str]:
    """Per sampling mode: P@top and R@top of the config's seed and the other seeds, their mean and
    standard deviation (ddof 1); empty when only the config's seed was evaluated."""
    top = record["config"]["eval"]["top"]
    others = other_seed_runs(record)
    if not others:
        return []
    lines = ["", "## Across seeds", "",
             "The CGAN trained with other seeds, everything else equal (`--seeds`): mean ± standard "
             "deviation (ddof 1) over the seeds, and each seed's own numbers.", "",
             f"| sampling | seeds | P@{top}, mean ± sd | R@{top}, mean ± sd | per seed: P@{top} (distinct words) |",
             "|---|---|---|---|---|"]
    seeds = [record["config"]["seed"], *(int(run.removeprefix("cgan-seed")) for run in others)]
    for mode in SAMPLING_LABELS:
        rows = seed_scores(record, mode)
        if rows is None:
            continue
        precision = np.array([row[f"precision@{top}"] for row in rows])
        recall = np.array([row[f"recall@{top}"] for row in rows])
        per_seed = "; ".join(f"{seed}: {row[f'precision@{top}']:.4f} ({row['distinct_words']:,})"
                             for seed, row in zip(seeds, rows))
        lines.append(f"| {SAMPLING_LABELS[mode]} | {len(rows)} | {mean_sd(precision, 4)} | "
                     f"{mean_sd(recall, 4)} | {per_seed} |")
    return lines


def epoch_budget(model: str, record: dict) -> int:
    cfg = record["config"]
    return cfg["regressor"]["max_epochs"] if is_regressor(model) else cfg["train"]["max_epochs"]


def cut_short(model: str, record: dict) -> bool:
    """Training ended before its epoch budget without its patience running out (a time limit)."""
    t = record["training"][model]
    return t["epochs_run"] < epoch_budget(model, record) and not t["stopped_early"]


def training_deviations(record: dict) -> list[str]:
    """Runs that did not get through their epoch budget are a deviation from the paper's schedule."""
    items = []
    floor = record["config"]["train"]["lr_floor"]
    for model, t in record["training"].items():
        if cut_short(model, record):
            lr = t["history"][-1]["learning_rate"] if t["history"] else float("nan")
            items.append(f"Training length: the {model} ran {t['epochs_run']} of its {epoch_budget(model, record)} "
                         f"budgeted epochs (stopped for time, {t['train_seconds'] / 3600:.1f} h on this CPU; "
                         f"learning rate {lr:.2g} at the stop, the schedule's floor is {floor:g}); its best "
                         f"validation epoch among them is the one scored.")
    return items


def header(title: str, record: dict) -> list[str]:
    items = [*record["deviations"], *training_deviations(record)]
    return [f"# {title}", "", "Generated by `python -m multimodal.report` from `metrics.json` beside this "
            "file; do not edit by hand.", "", "Deviations from the paper (Mirza & Osindero 2014, §4.2):", "",
            *[f"- {item}" for item in items], ""]


def render_metrics(record: dict) -> str:
    top = record["config"]["eval"]["top"]
    test = record["data"]["splits"]["test"]
    lines = header("Flickr tagging scores (the paper gives none)", record)
    lines += [f"## Test set: {test['images']:,} images", "",
              "Ground truth: each image's user tags plus its concept annotations, as words. "
              f"P@{top} = hits / {top}; R@{top} = hits / number of true tags; both averaged over images. "
              f"'R@{top}, tags with a vector' counts only true tags that the word model knows (what "
              f"decoding into its vocabulary could find); '≥1 hit' is the share of images with at least "
              "one correct tag; 'distinct' is how many different words a method used over all images. "
              "Collapse diagnostics on the test images: 'sample cosine' is the mean pairwise cosine among "
              "one image's samples (1 = G ignores its noise); 'D own / other image' is D's mean output on "
              "test tags with their own image and with another one (equal = D ignores the image). "
              "'—': not applicable, or evaluated before it was measured.", "",
              f"| method | P@{top} | R@{top} | R@{top}, tags with a vector | ≥1 hit | distinct | sample cosine "
              "| D own / other image |",
              "|---|---|---|---|---|---|---|---|"]
    diagnostics = record.get("diagnostics", {})
    for name, s in record["scores"].items():
        if is_other_seed(name):
            continue
        d = diagnostics.get(name, {})
        cosine, gap = diagnostic_cells(d)
        lines.append(f"| {method_label(name, record)} | {s[f'precision@{top}']:.4f} | {s[f'recall@{top}']:.4f} | "
                     f"{s[f'recall@{top}_in_vocabulary']:.4f} | {s[f'any_hit@{top}']:.3f} | "
                     f"{s['distinct_words']:,} | {cosine} | {gap} |")
    lines += seeds_section(record)
    lines += ["", "## Data", "", "| split | images | (image, tag) pairs | tags | tags without a vector |",
              "|---|---|---|---|---|"]
    oov = record["data"]["out_of_vocabulary"]
    for name, split in record["data"]["splits"].items():
        lines.append(f"| {name} | {split['images']:,} | {split['pairs']:,} | {split['tags']:,} | "
                     f"{oov[name]['dropped']:,} ({oov[name]['distinct_dropped']:,} distinct) |")
    lines += ["", f"Vocabulary: {record['data']['vocabulary']:,} words ({record['decoding_vocabulary']:,} "
              f"used for decoding); image features {record['data']['feature_dim']:,}-d "
              f"({record['data']['backbone']}).", "", "## Training", ""]
    for model, t in record["training"].items():
        ended = "stopped early, " if t["stopped_early"] else "cut short for time, " if cut_short(model, record) else ""
        lines.append(f"- **{model}**: best epoch {t['best_epoch']} of {t['epochs_run']} run, budget "
                     f"{epoch_budget(model, record)} ({ended}{t['updates']:,} updates, "
                     f"{t['train_seconds'] / 3600:.2f} h of training; validation P@{top} "
                     f"{t['best_record'].get('score', float('nan')):.4f} at the best epoch).")
    knn = record["knn"]["valid"]
    lines += ["", "Per-epoch losses and validation scores: `curves.png`."]
    lines += ["", f"Nearest-neighbour k on validation (P@{top}): " +
              ", ".join(f"k={k}: {s[f'precision@{top}']:.4f}" for k, s in knn.items()), "",
              "## Record", "", f"Evaluated by `{record['evaluation']['command']}` at commit "
              f"`{record['evaluation']['commit']}` on {record['evaluation']['date']} "
              f"({record['evaluation']['machine']['cpu']}); decoding "
              f"{'reused from the cache' if record['decoded_cached'] else 'computed in this run'} "
              f"(key `{record['decoded_key'][:12]}`).", ""]
    return "\n".join(lines)


def _tags(tags: list[str], truth: list[str]) -> str:
    """Tags with the correct ones in bold."""
    return ", ".join(f"**{t}**" if t in truth else t for t in tags)


def render_table2(record: dict) -> str:
    headline = f"cgan/{record['headline_sampling']}"
    lines = header("Table 2: generated tags for test images", record)
    lines += [f"Generated by the conditional adversarial net ({SAMPLING_LABELS[record['headline_sampling']]}): "
              f"{record['config']['eval']['samples']} samples per image, the "
              f"{record['config']['eval']['nearest']} nearest words of each, the "
              f"{record['config']['eval']['top']} most frequent. Bold: among the image's real tags.", "",
              PAPER_EXAMPLE, "", "| image | user tags + annotations | generated tags |", "|---|---|---|"]
    for row in record["table2"]:
        lines.append(f"| im{row['image']} | {', '.join(row['truth'])} | "
                     f"{_tags(row['generated'].get(headline, []), row['truth'])} |")
    lines += ["", "## The same images, every method", "", "| image | method | tags |", "|---|---|---|"]
    for row in record["table2"]:
        for name, tags in row["generated"].items():
            if is_other_seed(name):
                continue
            lines.append(f"| im{row['image']} | {method_label(name, record)} | {_tags(tags, row['truth'])} |")
    return "\n".join(lines) + "\n"


def save_table2_figure(record: dict, path: Path, columns: int = 2) -> None:
    """Each example image beside its real tags and the CGAN's tags."""
    headline = f"cgan/{record['headline_sampling']}"
    rows = record["table2"]
    lines_per = (len(rows) + columns - 1) // columns
    fig, axes = plt.subplots(lines_per, columns * 2, figsize=(8 * columns, 2.3 * lines_per),
                             gridspec_kw={"width_ratios": [1, 2.6] * columns}, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    families = with_cjk_fallback("monospace")
    for i, row in enumerate(rows):
        image_ax, text_ax = axes[i // columns, 2 * (i % columns)], axes[i // columns, 2 * (i % columns) + 1]
        if resolve(row["path"]).is_file():
            with Image.open(resolve(row["path"])) as image:
                image_ax.imshow(image.convert("RGB"))
        image_ax.set_title(f"im{row['image']}", fontsize=8)
        wrap = "\n".join
        text = (f"user tags + annotations:\n{wrap(textwrap.wrap(', '.join(row['truth']), 60)[:3])}\n\n"
                f"generated:\n{wrap(textwrap.wrap(', '.join(row['generated'].get(headline, [])), 60))}")
        text_ax.text(0, 0.95, text, va="top", ha="left", fontsize=8, family=families, wrap=True)
    fig.suptitle(f"Generated tags (conditional adversarial net, {SAMPLING_LABELS[record['headline_sampling']]})",
                 fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def save_votes_figure(record: dict, path: Path, images: int = 6) -> bool:
    """For a few Table 2 images, what the voting chose from: how many of the samples had each word
    among their nearest words (the headline CGAN's), the decoded tags above the dashed line, real
    tags in green. One tall bar = the samples agree (G ignores its noise, or the image is clear);
    a flat spread = the samples disagree. False (nothing written) when the record has no votes."""
    rows = [row for row in record["table2"] if row.get("votes")][:images]
    if not rows:
        return False
    top, samples = record["config"]["eval"]["top"], record["config"]["eval"]["samples"]
    fig, axes = plt.subplots(len(rows), 2, figsize=(9, 2.6 * len(rows)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 2.4]})
    families = with_cjk_fallback("sans-serif")
    for (image_ax, bar_ax), row in zip(axes, rows):
        image_ax.set_axis_off()
        if resolve(row["path"]).is_file():
            with Image.open(resolve(row["path"])) as image:
                image_ax.imshow(image.convert("RGB"))
        image_ax.set_title(f"im{row['image']}: " + "\n".join(textwrap.wrap(", ".join(row["truth"]), 40)[:3]),
                           fontsize=7, family=families)
        words, counts = zip(*row["votes"])
        colors = ["tab:green" if word in row["truth"] else "tab:gray" for word in words]
        bar_ax.barh(range(len(words)), counts, color=colors)
        bar_ax.set_yticks(range(len(words)), words, fontsize=7, family=families)
        bar_ax.invert_yaxis()
        bar_ax.axhline(min(top, len(words)) - 0.5, color="k", linestyle="--", linewidth=0.8)
        bar_ax.set_xlim(0, samples)
        bar_ax.set_xlabel(f"samples (of {samples}) with the word among their "
                          f"{record['config']['eval']['nearest']} nearest", fontsize=7)
    fig.suptitle(f"What the voting chose from (conditional adversarial net, "
                 f"{SAMPLING_LABELS[record['headline_sampling']]}); green: a real tag; above the line: "
                 f"the {top} decoded tags", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


CURVE_PANELS = [(("d_loss",), "discriminator loss (CGAN)"),
                (("g_loss",), "generator loss (regressor: 1 - cosine)"),
                (("d_real", "d_fake"), "mean D(x) and D(G(z)) during training (CGAN)"),
                (("valid_precision", "valid_precision_dropout"), "validation P@10")]


def save_training_curves(record: dict, path: Path) -> None:
    """Losses and validation P@10 per epoch. The regressor has no discriminator: histories written
    before the trainer recorded only the stats a model has hold zeros as its d_*; they are left out."""
    histories = {model: [{k: v for k, v in r.items() if not (model == "regressor" and k.startswith("d_"))}
                         for r in t["history"]] for model, t in record["training"].items()}
    save_curves(histories, path, CURVE_PANELS)


def write_reports(results: Path) -> list[Path]:
    """metrics.md, table2.md, table2.png and curves.png from results/metrics.json."""
    record = json.loads((results / "metrics.json").read_text())
    written = []
    for name, text in (("metrics.md", render_metrics(record)), ("table2.md", render_table2(record))):
        atomic_write(results / name, lambda handle, text=text: handle.write(text.encode()))
        written.append(results / name)
    save_table2_figure(record, results / "table2.png")
    save_training_curves(record, results / "curves.png")
    votes = [results / "votes.png"] if save_votes_figure(record, results / "votes.png") else []
    return [*written, results / "table2.png", results / "curves.png", *votes]


def main(argv: list[str] | None = None) -> int:
    parser = report_parser("python -m multimodal.report", __doc__, "results/flickr", "metrics.json")
    args = parser.parse_args(argv)
    written = write_reports(Path(args.results))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    run_cli(main)
