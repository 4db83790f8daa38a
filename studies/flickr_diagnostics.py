"""Why a tagging CGAN fails, in numbers (results/flickr/studies/diagnostics.md).

- Oracles of the decoding: P@10 / R@10 when the "samples" of an image are its own true tags' word
  vectors (cycled to the decoder's sample count), also with noise added: what the word vectors and
  the 100 x 20 voting can reach at best, whatever the generator.
- Per epoch of chosen runs, as their history recorded it (multimodal.validation measures it with
  multimodal.metrics): does D use the image? D's mean output on real (tag, own image) pairs against
  the same tags paired with another image. Equal outputs mean D ignores the condition, and then
  nothing makes G use it. Diversity of G: the mean pairwise cosine among the samples of one image
  (1 = all the same).

Example: python -m studies.flickr_diagnostics --set encoders.backbone=efficientnet-lite0 \\
             --run 'paper D=runs/sweeps/<study>/trial-0001' --run 'GAN-CLS D=runs/sweeps/<study>/trial-0000'
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from cgan.cli import experiment_parser, run_cli, set_threads
from cgan.errors import UserFacingError
from cgan.runs.files import write_json
from cgan.runs.paths import portable
from cgan.runs.provenance import provenance
from multimodal.data import ImageSplit, TagData
from multimodal.inputs import prepare
from multimodal.metrics import tag_scores
from multimodal.sampling import make_decoder
from multimodal.settings import RESULT_KEYS, load_experiment
from multimodal.tag_decoder import TagDecoder, unit_rows

NOISE_LEVELS = (0.0, 1.0)  # norm of the added noise, relative to a unit word vector


def image_word_rows(split: ImageSplit) -> list[np.ndarray]:
    """Per image of ``split``, the word-vector rows of its tags that have a vector (its pairs)."""
    rows: list[list[int]] = [[] for _ in range(len(split))]
    for image, word in zip(split.pair_image, split.pair_word):
        rows[image].append(int(word))
    return [np.array(r, dtype=np.int64) for r in rows]


def ceiling_samples(word_vectors: np.ndarray, word_rows: list[np.ndarray], count: int, noise: float,
                    rng: np.random.Generator) -> np.ndarray:
    """(images, count, d): each image's own tag vectors, cycled to ``count``, plus Gaussian noise
    of expected norm ``noise`` times a unit vector's; zeros for an image without such a tag."""
    d = word_vectors.shape[1]
    out = np.zeros((len(word_rows), count, d), dtype=np.float32)
    for i, rows in enumerate(word_rows):
        if len(rows):
            out[i] = unit_rows(word_vectors[np.resize(rows, count)])
    if noise > 0:
        out += rng.normal(scale=noise / np.sqrt(d), size=out.shape).astype(np.float32)
    return out


def decoding_ceiling(data: TagData, split: ImageSplit, decoder: TagDecoder, count: int, top: int,
                     noise_levels=NOISE_LEVELS, seed: int = 0, batch: int = 256, mean: bool = True
                     ) -> dict[str, dict]:
    """Tag scores of decoding each image's own tag vectors, per noise level; and ('mean') of
    decoding one vector per image, the direction of its tags' mean: the best a generator that
    ignores z can aim at (a regressor's optimum under the cosine loss)."""
    rng = np.random.default_rng(seed)
    word_rows = image_word_rows(split)
    known = set(data.words)
    results = {}
    for noise in noise_levels:
        tags: list[list[str]] = []
        for start in range(0, len(split), batch):
            samples = ceiling_samples(data.word_vectors, word_rows[start:start + batch], count, noise, rng)
            tags.extend(decoder.words(decoder.decode(samples)))
        results[f"{noise:g}"] = tag_scores(tags, split.tags, top, known)
    if mean:
        means = [unit_rows(data.word_vectors[rows].mean(axis=0, keepdims=True)) if len(rows) else
                 np.zeros((1, data.word_vectors.shape[1]), np.float32) for rows in word_rows]
        tags = decoder.words(decoder.decode(np.stack(means)))
        results["mean"] = tag_scores(tags, split.tags, top, known)
    return results


# Decodings whose ceiling is measured side by side: the paper's, and options that change only the
# decoding (applied to every method alike when chosen in a config's eval section).
DECODINGS = {
    "paper: every word, 20 nearest per sample": {},
    "training tags only (eval.vocabulary: tags)": {"vocabulary": "tags"},
    "10 nearest per sample (eval.nearest: 10)": {"nearest": 10},
    "5 nearest per sample (eval.nearest: 5)": {"nearest": 5},
}

# Per-epoch columns of a CGAN run's history that show a collapse (multimodal.validation).
EPOCH_COLUMNS = (("valid_precision", "P@10", "{:.3f}"), ("valid_distinct_words", "distinct words", "{:,.0f}"),
                 ("valid_sample_cosine", "sample cosine", "{:.3f}"), ("valid_d_matched", "D(own image)", "{:.3f}"),
                 ("valid_d_mismatched", "D(other image)", "{:.3f}"))


def run_epochs(run_dir: Path) -> list[dict]:
    """The per-epoch diagnostics of a training run (its history.json)."""
    path = run_dir / "history.json"
    if not path.is_file():
        raise UserFacingError(f"{path} does not exist: pass the folder of a CGAN run (one with history.json)")
    rows = json.loads(path.read_text())
    return [{"epoch": r["epoch"], **{key: r.get(key) for key, _, _ in EPOCH_COLUMNS}} for r in rows]


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser("experiments/flickr/flickr_cgan.yaml", prog="python -m studies.flickr_diagnostics",
                               description=__doc__)
    parser.add_argument("--run", action="append", default=[], metavar="LABEL=DIR",
                        help="a CGAN run folder whose per-epoch diagnostics go into the report (repeatable)")
    args = parser.parse_args(argv)
    cfg = load_experiment(args.config, args.overrides)
    cfg.route_tryout_results(args.overrides, args.write_results, RESULT_KEYS)
    set_threads(args.threads or cfg.threads)
    runs = {}
    for item in args.run:
        label, _, folder = item.rpartition("=")
        if not label:
            raise UserFacingError(f"--run {item!r}: write LABEL=DIR, e.g. --run 'paper D=runs/.../trial-0001'")
        runs[label] = {"run": portable(Path(folder)), "epochs": run_epochs(Path(folder))}
    started = time.perf_counter()
    context = prepare(cfg, args.data_root, args.cache_dir, run_stages=False)
    data, ceiling = context.data, {}
    for name, changes in DECODINGS.items():
        variant = dataclasses.replace(cfg, eval=dataclasses.replace(cfg.eval, **changes))
        decoder = make_decoder(variant, data)
        ceiling[name] = {"vocabulary": len(decoder.vocabulary), "nearest": decoder.nearest, "scores": {
            split_name: decoding_ceiling(data, split, decoder, cfg.eval.samples, cfg.eval.top, seed=cfg.eval.seed)
            for split_name, split in (("valid", data.valid), ("test", data.test))}}
        print(f"ceiling, {name}: test P@10 {ceiling[name]['scores']['test']['0'][f'precision@{cfg.eval.top}']:.3f}",
              flush=True)
    record = {"ceiling": ceiling, "noise_levels": list(NOISE_LEVELS), "samples": cfg.eval.samples,
              "runs": runs, "inputs": context.inputs,
              "provenance": {**provenance(), "wall_seconds": round(time.perf_counter() - started, 1)}}
    out = cfg.results / "studies"
    write_json(record, out / "diagnostics.json")
    (out / "diagnostics.md").write_text(render(record))
    if runs:
        plot_runs(runs, out / "diagnostics.png")
    print(f"wrote {out / 'diagnostics.md'}")
    return 0


def render(record: dict) -> str:
    top = 10
    lines = ["# Flickr tagging diagnostics", "",
             "Generated by `python -m studies.flickr_diagnostics`; do not edit by hand.", "",
             f"- Command `{record['provenance']['command']}` at commit `{record['provenance']['commit']}`, "
             f"{record['provenance']['date']}, {record['provenance']['wall_seconds']} s.", "",
             "## Two oracles of the decoding", "",
             f"Own-tags oracle: the {record['samples']} \"samples\" of each image are its own true tags' word "
             "vectors (those with a vector), cycled, with Gaussian noise of the given norm (a unit word vector "
             "has norm 1), decoded by the voting. Mean-direction oracle (rows 'tags\' mean'): one vector per "
             "image, the direction of the mean of its tag vectors. Neither is a ceiling for a generator: the "
             "mean-direction oracle scores above the own-tags one because the voting rewards samples that "
             "agree, and predicting exactly each image's own tags scores higher than both "
             "(`results/flickr/baselines/baselines.md`).", "",
             "| decoding | vocabulary | split | samples: own tags + noise | P@10 | R@10 | R@10 within the vocabulary "
             "| distinct words |",
             "|---|---|---|---|---|---|---|---|"]
    for name, variant in record["ceiling"].items():
        for split, levels in variant["scores"].items():
            for noise, s in levels.items():
                noise = "tags' mean" if noise == "mean" else noise
                lines.append(f"| {name} | {variant['vocabulary']:,} | {split} | {noise} | {s[f'precision@{top}']:.3f} | "
                             f"{s[f'recall@{top}']:.3f} | {s[f'recall@{top}_in_vocabulary']:.3f} | "
                             f"{s['distinct_words']:,} |")
    for label, run in record.get("runs", {}).items():
        lines += ["", f"## Per epoch: {label}", "", f"Run `{run['run']}`; validation images, G sampled without dropout; D's outputs are its "
                  "mean probability on real validation tags with their own image and with another image "
                  "(equal: D ignores the image).", "",
                  "| epoch | " + " | ".join(title for _, title, _ in EPOCH_COLUMNS) + " | gap |",
                  "|---|" + "---|" * (len(EPOCH_COLUMNS) + 1)]
        for row in run["epochs"]:
            cells = ["—" if row[key] is None else fmt.format(row[key]) for key, _, fmt in EPOCH_COLUMNS]
            gap = (row["valid_d_matched"] - row["valid_d_mismatched"]
                   if row["valid_d_matched"] is not None and row["valid_d_mismatched"] is not None else None)
            lines.append(f"| {row['epoch']} | " + " | ".join(cells) + f" | {'—' if gap is None else f'{gap:+.3f}'} |")
    return "\n".join(lines) + "\n"


def plot_runs(runs: dict, path: Path) -> None:
    """Per epoch and run: validation P@10, distinct words, and D's matched-vs-mismatched gap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for label, run in runs.items():
        epochs = [r["epoch"] for r in run["epochs"]]
        axes[0].plot(epochs, [r["valid_precision"] for r in run["epochs"]], marker="o", label=label)
        axes[1].plot(epochs, [r["valid_distinct_words"] for r in run["epochs"]], marker="o", label=label)
        gaps = [None if r["valid_d_matched"] is None or r["valid_d_mismatched"] is None
                else r["valid_d_matched"] - r["valid_d_mismatched"] for r in run["epochs"]]
        axes[2].plot(epochs, gaps, marker="o", label=label)
    for ax, title in zip(axes, ("validation P@10", "distinct words over validation images",
                                "D(own image) - D(other image)")):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    run_cli(main)
