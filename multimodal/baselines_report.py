"""Baselines tuned like the method: results/flickr/baselines/baselines.json and baselines.md.

Every method's settings are chosen on the validation images' P@10 only (ties: the earlier, simpler
setting of the grid), then the chosen setting is scored once on the test images, with the standard
error of the mean over test images. Same data, split, vocabulary, ground truth and P@10 as the
CGAN's metrics.md (multimodal.evaluate).

- frequency prior: the most frequent training tags for every image (baseline (a));
- kNN, the project's protocol: raw features, cosine, one vote per neighbour, k from eval.knn_k
  (baseline (b), recomputed on the same grid as the next row);
- kNN tuned (TagProp-like): raw or centred + unit-length features, uniform, similarity- or
  rank-weighted votes, k up to 200;
- concept classifiers: 24 logistic regressions (MIR Flickr's concepts) on standardised features,
  concepts emitted by probability as tag words, filled with frequent training tags;
- tag classifiers: logistic regressions on the most frequent training tags themselves;
- limits on test: each image's true tags (the true-tag oracle), those with a vector, and a
  perfect concept classifier filled with frequent tags ("concepts only").

Example: python -m multimodal.baselines_report --config experiments/flickr/flickr_cgan_reconstruction.yaml \\
             --set encoders.backbone=efficientnet-lite0
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from cgan.cli import experiment_parser, run_cli, set_threads
from cgan.runs import paths
from cgan.runs.files import atomic_write, write_json
from cgan.runs.provenance import provenance
from features.tokens import tag_token
from multimodal.baselines import frequent_tags, image_words
from multimodal.data import FeatureScaling, ImageSplit, TagData, all_concepts, concept_matrix
from multimodal.download import locate_mirflickr
from multimodal.inputs import prepare
from multimodal.metrics import tag_scores
from multimodal.sampling import make_decoder
from multimodal.settings import RESULT_KEYS, load_experiment
from multimodal.tag_decoder import Vocabulary
from multimodal.tuned_baselines import (
    Weighting,
    classifier_scores,
    concept_scores,
    fit_path,
    label_matrix,
    neighbour_votes,
    ranked,
)

DEFAULT_OUT = "results/flickr/baselines"
FEATURES = {"raw": "l2", "centred": "center_l2"}  # -> FeatureScaling; 'raw' = baseline (b)'s cosine
KS = [1, 5, 10, 20, 30, 50, 75, 100, 150, 200]
WEIGHTINGS = [Weighting("uniform"), *(Weighting("similarity", t) for t in (0.01, 0.02, 0.03, 0.05, 0.1, 0.2)),
              *(Weighting("rank", r) for r in (5, 10, 20, 50, 100))]
CONCEPT_CS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 0.1, 1.0]
THRESHOLDS = [None, 0.2, 0.3, 0.4, 0.5, 0.6]  # None: every word by probability
TAG_CS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
TAG_COUNTS = [50, 100, 200, 400, 800]
PAIRED_WITH = "knn_protocol"  # each method's test P@10 minus this one's, image by image


class Scorer:
    """P@top, R@top and the distinct words of index lists over a vocabulary, with the standard
    error of the mean over images for P and R."""

    def __init__(self, vocabulary: Vocabulary, top: int):
        self.vocabulary, self.top = vocabulary, top

    def words(self, rows: list[np.ndarray]) -> list[list[str]]:
        return [[self.vocabulary.words[i] for i in row] for row in rows]

    def __call__(self, rows: list[np.ndarray], split: ImageSplit) -> dict:
        """Scores with standard errors and, for pairing, each image's precision ('per_image')."""
        return scores_with_error(self.words(rows), split.tags, self.top, per_image=True)

    def brief(self, rows: list[np.ndarray], split: ImageSplit) -> dict:
        s = self(rows, split)
        return {key: s[key] for key in (f"precision@{self.top}", f"recall@{self.top}", "distinct_words")}


def standard_error(values: np.ndarray) -> float:
    """Of the mean over images: the sample standard deviation (ddof 1) over sqrt(images)."""
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


def scores_with_error(predicted: list[list[str]], truth: list[list[str]], top: int, per_image: bool = False) -> dict:
    """``tag_scores`` plus the standard error of the mean over images of P@top and R@top (and, if
    ``per_image``, each image's P@top under 'per_image', for paired comparisons)."""
    hits = np.array([len(set(p[:top]) & set(t)) for p, t in zip(predicted, truth)], dtype=np.float64)
    sizes = np.array([max(len(set(t)), 1) for t in truth], dtype=np.float64)
    scores = tag_scores(predicted, truth, top)
    for name, values in ((f"precision@{top}", hits / top), (f"recall@{top}", hits / sizes)):
        scores[f"{name}_se"] = standard_error(values)
    return {**scores, "per_image": hits / top} if per_image else scores


def paired_differences(methods: dict[str, dict], top: int) -> None:
    """Each method's test P@top minus PAIRED_WITH's, image by image, as mean and standard error
    (the images are shared, so this error is smaller than either score's); drops 'per_image'."""
    reference = methods[PAIRED_WITH]["test"]["per_image"]
    for m in methods.values():
        difference = m["test"].pop("per_image") - reference
        m["test"][f"precision@{top}_minus_{PAIRED_WITH}"] = float(difference.mean())
        m["test"][f"precision@{top}_minus_{PAIRED_WITH}_se"] = standard_error(difference)


def choose(grid: list[dict], top: int) -> int:
    """Position of the grid's best validation P@top; a tie goes to the earlier entry."""
    return max(range(len(grid)), key=lambda i: (grid[i][f"precision@{top}"], -i))


def method(grid: list[dict], chosen: int, test: dict, note: str, **extra) -> dict:
    settings = {k: v for k, v in grid[chosen].items()
                if not k.startswith(("precision@", "recall@")) and k != "distinct_words"}
    return {"note": note, "chosen": settings, "valid": grid[chosen], "test": test, "grid": grid, **extra}


def knn_methods(data: TagData, labels: np.ndarray, score: Scorer, knn_k: list[int]) -> dict[str, dict]:
    """The project's kNN protocol and the tuned one, from one validation grid per feature scaling."""
    raw, top = data.raw_features, score.top
    grid, settings, scalings = [], [], {}
    for name, how in FEATURES.items():
        scalings[name] = FeatureScaling.fit(raw[data.train.rows], how)
        train = scalings[name].apply(raw[data.train.rows])
        votes = neighbour_votes(scalings[name].apply(raw[data.valid.rows]), train, labels, KS, WEIGHTINGS, top)
        for (k, weighting), rows in votes.items():
            grid.append({"features": name, "k": k, "weighting": weighting.label, **score.brief(rows, data.valid)})
            settings.append((name, k, weighting))
        print(f"kNN on {name} features: {len(votes)} settings scored on validation", flush=True)

    def test_score(i: int) -> dict:
        name, k, weighting = settings[i]
        train = scalings[name].apply(raw[data.train.rows])
        rows = neighbour_votes(scalings[name].apply(raw[data.test.rows]), train, labels, [k], [weighting], top)
        return score(rows[(k, weighting)], data.test)

    protocol = [i for i, (name, k, w) in enumerate(settings) if name == "raw" and w.kind == "uniform" and k in knn_k]
    sub = [grid[i] for i in protocol]
    best_protocol, best = protocol[choose(sub, top)], choose(grid, top)
    return {
        "knn_protocol": method(sub, choose(sub, top), test_score(best_protocol),
                               "baseline (b) of metrics.md: raw features, cosine, one vote per neighbour, "
                               "k from eval.knn_k"),
        "knn_tuned": method(grid, best, test_score(best),
                            "TagProp-like: features raw (unit length) or centred on the training mean and then "
                            "unit length; cosine; weighted votes; k, features and weighting on validation"),
    }


def concept_words(concepts: list[str], vocabulary: Vocabulary) -> np.ndarray:
    """Each concept's vocabulary index as a tag word ('plant_life' -> 'plantlife'), -1 if absent."""
    return np.array([vocabulary.index.get(tag_token(c), -1) for c in concepts], dtype=np.int64)


def fits(models) -> list[dict]:
    return [{"C": m.c, "lbfgs_iterations": m.iterations, "gradient_max": m.gradient_max} for m in models]


def concept_method(data: TagData, standard: dict[str, np.ndarray], annotations: dict[int, list[str]],
                   vocabulary: Vocabulary, prior: np.ndarray, score: Scorer) -> tuple[dict, dict]:
    """Concept classifiers on validation then test; and the 'concepts only' limit on test."""
    concepts = all_concepts(annotations)
    words = concept_words(concepts, vocabulary)
    models = fit_path(standard["train"], concept_matrix(annotations, data.train.numbers, concepts), CONCEPT_CS)
    grid, chosen_from = [], []
    for model in models:
        p = model.probabilities(standard["valid"])
        for threshold in THRESHOLDS:
            rows = ranked(concept_scores(p, words, prior, threshold), score.top)
            grid.append({"C": model.c, "emit": "by probability" if threshold is None else f"p >= {threshold:g}",
                         **score.brief(rows, data.valid)})
            chosen_from.append((model, threshold))
        print(f"concept classifiers C={model.c:g}: {model.iterations} L-BFGS iterations", flush=True)
    best = choose(grid, score.top)
    model, threshold = chosen_from[best]
    test = score(ranked(concept_scores(model.probabilities(standard["test"]), words, prior, threshold), score.top),
                 data.test)
    perfect = concept_scores(concept_matrix(annotations, data.test.numbers, concepts), words, prior, 0.5)
    extra = {"concepts": {c: (vocabulary.words[w] if w >= 0 else None) for c, w in zip(concepts, words)},
             "fits": fits(models)}
    note = ("one L2 logistic regression per MIR Flickr concept on standardised features; concepts ranked by "
            "probability become their tag words, filled to ten with the most frequent training tags")
    return method(grid, best, test, note, **extra), score(ranked(perfect, score.top), data.test)


def tag_method(data: TagData, standard: dict[str, np.ndarray], labels: np.ndarray, frequent: np.ndarray,
               score: Scorer) -> dict:
    """Logistic regressions on the max(TAG_COUNTS) most frequent training tags, fitted once per C;
    the first N of them (N on validation) vote."""
    columns = frequent[:max(TAG_COUNTS)]
    models = fit_path(standard["train"], labels[:, columns], TAG_CS)
    grid, chosen_from = [], []
    for model in models:
        p = model.probabilities(standard["valid"])
        for count in TAG_COUNTS:
            rows = ranked(classifier_scores(p[:, :count], columns[:count], len(score.vocabulary)), score.top)
            grid.append({"C": model.c, "tags": count, **score.brief(rows, data.valid)})
            chosen_from.append((model, count))
        print(f"tag classifiers C={model.c:g}: {model.iterations} L-BFGS iterations", flush=True)
    best = choose(grid, score.top)
    model, count = chosen_from[best]
    p = model.probabilities(standard["test"])[:, :count]
    test = score(ranked(classifier_scores(p, columns[:count], len(score.vocabulary)), score.top), data.test)
    note = (f"one L2 logistic regression per tag for the {max(TAG_COUNTS)} most frequent training tags (one fit "
            "per C), standardised features; the N most frequent of them ranked by probability")
    return method(grid, best, test, note, fits=fits(models))


def build_record(cfg, context, dataset_annotations: dict[int, list[str]]) -> dict:
    data, top = context.data, cfg.eval.top
    vocabulary = make_decoder(cfg, data).vocabulary
    score = Scorer(vocabulary, top)
    labels = label_matrix(image_words(data.train, data, vocabulary), len(vocabulary))
    prior = labels.mean(axis=0)  # share of training images that carry each word
    frequent = frequent_tags(data, vocabulary, len(vocabulary))
    prior_rows = [frequent[:top]]
    methods = {"frequent": {"note": "baseline (a): the most frequent training tags, the same for every image",
                            "chosen": {}, "valid": score.brief(prior_rows * len(data.valid), data.valid),
                            "test": score(prior_rows * len(data.test), data.test)}}
    methods.update(knn_methods(data, labels, score, sorted(set(cfg.eval.knn_k))))
    scaling = FeatureScaling.fit(data.raw_features[data.train.rows], "standardize")
    standard = {name: scaling.apply(data.raw_features[split.rows]) for name, split in data.splits.items()}
    methods["concept_classifiers"], concepts_only = concept_method(
        data, standard, dataset_annotations, vocabulary, prior, score)
    methods["tag_classifiers"] = tag_method(data, standard, labels, frequent, score)
    in_vocabulary = [[t for t in tags if t in vocabulary.index] for tags in data.test.tags]
    paired_differences(methods, top)
    concepts_only.pop("per_image")
    limits = {"true_tags": scores_with_error(data.test.tags, data.test.tags, top),
              "true_tags_with_a_vector": scores_with_error(in_vocabulary, data.test.tags, top),
              "concepts_only": concepts_only}
    return {"methods": methods, "limits": limits, "reference": reference_scores(cfg),
            "data": {"splits": {name: len(split) for name, split in data.splits.items()},
                     "decoding_vocabulary": len(vocabulary), "backbone": data.stats.get("backbone"),
                     "feature_dim": data.stats.get("feature_dim")},
            "grids": {"k": KS, "weightings": [w.label for w in WEIGHTINGS], "features": list(FEATURES),
                      "concept_C": CONCEPT_CS, "concept_emission": ["by probability" if t is None else t for t in THRESHOLDS],
                      "tag_C": TAG_CS, "tag_counts": TAG_COUNTS},
            "top": top, "seed": cfg.seed, "inputs": context.inputs}


def reference_scores(cfg) -> dict:
    """The CGAN's test scores from the same config's metrics.json, where present (not recomputed)."""
    path = cfg.results / "metrics.json"
    if not path.is_file():
        return {}
    record = json.loads(path.read_text())
    name = f"cgan/{record['headline_sampling']}"
    return {"source": paths.portable(path), "method": name, "test": record["scores"][name]}


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser("experiments/flickr/flickr_cgan_reconstruction.yaml",
                               prog="python -m multimodal.baselines_report", description=__doc__)
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"folder for baselines.json and baselines.md (default: {DEFAULT_OUT}; a try-out "
                             "--set writes under its run folder instead)")
    parser.add_argument("--render-only", action="store_true",
                        help="only rebuild baselines.md from the baselines.json in --out (seconds, no data needed)")
    args = parser.parse_args(argv)
    if args.render_only:
        return write_markdown(json.loads((paths.REPO_ROOT / args.out / "baselines.json").read_text()),
                              paths.REPO_ROOT / args.out)
    cfg = load_experiment(args.config, args.overrides)
    committed = cfg.results_dir
    cfg.route_tryout_results(args.overrides, args.write_results, RESULT_KEYS)
    out = paths.REPO_ROOT / args.out if cfg.results_dir == committed else cfg.results / "baselines"
    set_threads(args.threads or cfg.threads)
    torch.manual_seed(cfg.seed)  # nothing here draws random numbers; kept so that nothing could vary
    started = time.perf_counter()
    context = prepare(cfg, args.data_root, args.cache_dir, run_stages=False)
    dataset = locate_mirflickr(args.data_root, paths.cache_dir(args.cache_dir), download=False, progress=False)
    record = {"config": paths.portable(Path(args.config)), "overrides": args.overrides,
              **build_record(cfg, context, dataset.annotations)}
    record["provenance"] = {**provenance(), "wall_seconds": round(time.perf_counter() - started, 1)}
    out.mkdir(parents=True, exist_ok=True)
    write_json(record, out / "baselines.json")
    return write_markdown(record, out)


def write_markdown(record: dict, out: Path) -> int:
    text = render(record)
    atomic_write(out / "baselines.md", lambda handle: handle.write(text.encode()))
    print(text)
    print(f"wrote {paths.portable(out / 'baselines.md')}")
    return 0


LABELS = {"frequent": "frequency prior (a)", "knn_protocol": "kNN, project protocol (b)",
          "knn_tuned": "kNN tuned (TagProp-like)", "concept_classifiers": "concept classifiers + frequent tags",
          "tag_classifiers": "tag classifiers (frequent tags)"}
LIMIT_LABELS = {"true_tags": "true-tag oracle: each image's own tags",
                "true_tags_with_a_vector": "true-tag oracle, only tags with a word vector",
                "concepts_only": "concepts only: perfect concept classifier + frequent tags"}


def settings_text(chosen: dict) -> str:
    return ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}" for k, v in chosen.items()) or "—"


def pm(scores: dict, key: str) -> str:
    return f"{scores[key]:.3f} ± {scores[key + '_se']:.3f}"


def render(record: dict) -> str:
    top, p, prov = record["top"], f"precision@{record['top']}", record["provenance"]
    r, d = f"recall@{top}", record["data"]
    lines = ["# Flickr tagging: baselines tuned like the method", "",
             "Generated by `python -m multimodal.baselines_report` into `baselines.json` and this file; do not "
             "edit by hand.", "",
             f"- Command `{prov['command']}` at commit `{prov['commit']}`, {prov['date']}, {prov['wall_seconds']} s.",
             f"- Images: {d['splits']['train']:,} training, {d['splits']['valid']:,} validation, "
             f"{d['splits']['test']:,} test; features {d['backbone']} ({d['feature_dim']}-d); decoding vocabulary "
             f"{d['decoding_vocabulary']:,} words. Same split, ground truth (user tags + concept annotations as "
             f"words) and P@{top} as the CGAN's metrics.md.",
             f"- Every setting chosen on validation P@{top} only (a tie: the earlier setting of the grid); the chosen "
             f"one scored once on test. ± = standard error of the mean over the test images; the paired column "
             f"is the mean over test images of the difference in P@{top}, with its own standard error.", "",
             "## Test scores", "",
             f"| method | chosen on validation | valid P@{top} | test P@{top} | test R@{top} | test P@{top} minus "
             f"{LABELS[PAIRED_WITH]}, paired | distinct words (test) |",
             "|---|---|---|---|---|---|---|"]
    paired = f"{p}_minus_{PAIRED_WITH}"
    for name, m in record["methods"].items():
        lines.append(f"| {LABELS[name]} | {settings_text(m['chosen'])} | {m['valid'][p]:.3f} | {pm(m['test'], p)} | "
                     f"{pm(m['test'], r)} | {m['test'][paired]:+.4f} ± {m['test'][paired + '_se']:.4f} | "
                     f"{m['test']['distinct_words']:,} |")
    ref = record.get("reference")
    if ref:
        lines.append(f"| CGAN ({ref['method']}, from `{ref['source']}`) | — | — | {ref['test'][p]:.3f} | "
                     f"{ref['test'][r]:.3f} | — | {ref['test']['distinct_words']:,} |")
    lines += ["", "## Limits on test", "", f"| reference | test P@{top} | test R@{top} | distinct words |",
              "|---|---|---|---|"]
    for name, s in record["limits"].items():
        lines.append(f"| {LIMIT_LABELS[name]} | {pm(s, p)} | {pm(s, r)} | {s['distinct_words']:,} |")
    lines += ["", f"P@{top} of the true-tag oracle is below 1 because many images have fewer than {top} tags.", ""]
    lines += ["## Methods", ""] + [f"- **{LABELS[name]}**: {m['note']}." for name, m in record["methods"].items()]
    lines += ["", "Logistic regressions: L-BFGS in float32 stops when the objective stops changing; 'max gradient' "
              "(of the objective divided by C n) says how far from the exact optimum each fit ended.", ""]
    lines += [f"- Chosen at the edge of its grid: {LABELS[name]}, {key} = {value:g}." for name, key, value in edges(record)]
    lines += knn_grid(record) + classifier_grids(record)
    return "\n".join(lines) + "\n"


def edges(record: dict) -> list[tuple[str, str, float]]:
    """(method, setting, value) for every chosen numeric setting at the end of its grid."""
    grids = record["grids"]
    axes = {"knn_tuned": {"k": grids["k"]}, "concept_classifiers": {"C": grids["concept_C"]},
            "tag_classifiers": {"C": grids["tag_C"], "tags": grids["tag_counts"]}}
    return [(name, key, record["methods"][name]["chosen"][key]) for name, settings in axes.items()
            for key, values in settings.items() if record["methods"][name]["chosen"][key] in (min(values), max(values))]


def knn_grid(record: dict) -> list[str]:
    top, grids = record["top"], record["grids"]
    grid = record["methods"]["knn_tuned"]["grid"]
    cell = {(g["features"], g["weighting"], g["k"]): g[f"precision@{top}"] for g in grid}
    lines = []
    for features in grids["features"]:
        lines += ["", f"## Validation P@{top}, kNN on {features} features", "",
                  "| weighting | " + " | ".join(f"k = {k}" for k in grids["k"]) + " |",
                  "|---|" + "---|" * len(grids["k"])]
        for weighting in grids["weightings"]:
            lines.append(f"| {weighting} | " + " | ".join(f"{cell[(features, weighting, k)]:.3f}" for k in grids["k"]) + " |")
    return lines


def classifier_grids(record: dict) -> list[str]:
    top = record["top"]
    lines = []
    for name, column, title in (("concept_classifiers", "emit", "concepts emitted"), ("tag_classifiers", "tags", "tags")):
        m = record["methods"][name]
        columns = list(dict.fromkeys(g[column] for g in m["grid"]))
        cell = {(g["C"], g[column]): g[f"precision@{top}"] for g in m["grid"]}
        lines += ["", f"## Validation P@{top}, {LABELS[name]} ({title} across, C down)", "",
                  "| C | " + " | ".join(map(str, columns)) + " | L-BFGS iterations | max gradient |",
                  "|---|" + "---|" * (len(columns) + 2)]
        for fit in m["fits"]:
            lines.append(f"| {fit['C']:g} | " + " | ".join(f"{cell[(fit['C'], c)]:.3f}" for c in columns) +
                         f" | {fit['lbfgs_iterations']} | {fit['gradient_max']:.1e} |")
    return lines


if __name__ == "__main__":
    run_cli(main)
