"""Tagging scores of the CGAN and the baselines on the test images, and the per-epoch validation
score that picks the CGAN's (and the regressor's) stopping point.

Decoding every test image with every method is the expensive part; its output (the tag lists)
is cached in runs/<name>/decoded-<key>.json, keyed by the checkpoints, the data and the
evaluation settings. Scores, Table 2 examples and provenance go to <results>/metrics.json.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from cgan.checkpoint import load_checkpoint
from cgan.cli import experiment_parser, run_cli, set_threads
from cgan.config import to_dict
from cgan.errors import UserFacingError
from cgan.files import write_json
from cgan.layers import TowerNet
from cgan.provenance import provenance
from multimodal.baselines import frequent_tags, neighbour_tags
from multimodal.context import Context, prepare
from multimodal.data import ImageSplit, TagData
from multimodal.experiment import FlickrExperiment, build_networks, digest, load_experiment
from multimodal.metrics import tag_scores
from multimodal.report import write_reports
from multimodal.sampling import Sampling, iter_samples
from multimodal.tagging import TagDecoder, Vocabulary

SAMPLING_MODES = ("dropout", "deterministic")


def make_decoder(cfg: FlickrExperiment, data: TagData) -> TagDecoder:
    """Decoding vocabulary: every word with a vector (paper), or only the training tags."""
    vocabulary = Vocabulary(data.word_vectors, data.words)
    if cfg.eval.vocabulary == "tags":
        vocabulary = vocabulary.restricted({data.words[i] for i in np.unique(data.train.pair_word)})
    return TagDecoder(vocabulary, cfg.eval.nearest, cfg.eval.top)


def cgan_samplings(cfg: FlickrExperiment) -> dict[str, Sampling]:
    """The generator sampled with its dropout on and off (when it has dropout); the configured
    mode (eval.sample_with_dropout) first: it picks the stopping point and the headline row."""
    g = cfg.generator
    modes = list(SAMPLING_MODES) if cfg.eval.sample_with_dropout else list(reversed(SAMPLING_MODES))
    if g.hidden_keep >= 1 and g.input_keep >= 1:
        modes = ["deterministic"]
    return {m: Sampling(cfg.eval.samples, cfg.train.noise, cfg.train.noise_dim, m == "dropout") for m in modes}


def regressor_samplings(cfg: FlickrExperiment) -> dict[str, Sampling]:
    """One vector per image suffices: 100 equal samples choose the same 20 words 100 times, and
    their top 10 by summed similarity are the 10 nearest words either way."""
    return {"deterministic": Sampling(1, None, cfg.train.noise_dim, False)}


def network_tags(net: TowerNet, data: TagData, split: ImageSplit, how: Sampling, seed: int,
                 decoder: TagDecoder, batch_images: int) -> list[list[str]]:
    """Decoded tag lists of every image of ``split``."""
    features = data.features[split.rows]
    return [tags for batch in iter_samples(net, features, how, seed, batch_images)
            for tags in decoder.words(decoder.decode(batch))]


class ValidationScore:
    """P@10 and R@10 on the validation images, per sampling mode, with fixed noise (epochs differ
    only by the weights); the first mode's P@10 is the 'score' that keeps the best checkpoint."""

    def __init__(self, net: TowerNet, cfg: FlickrExperiment, data: TagData, decoder: TagDecoder,
                 samplings: dict[str, Sampling]):
        self.net, self.cfg, self.decoder, self.samplings, self.data = net, cfg, decoder, samplings, data
        count = cfg.eval.valid_images or len(data.valid)
        self.split = _head(data.valid, count)

    def __call__(self, epoch: int) -> dict:
        if epoch % self.cfg.eval.every_epochs:
            return {}
        record: dict = {}
        top = self.cfg.eval.top
        for mode, how in self.samplings.items():
            tags = network_tags(self.net, self.data, self.split, how, self.cfg.eval.seed, self.decoder,
                                self.cfg.eval.batch_images)
            scores = tag_scores(tags, self.split.tags, top)
            suffix = "_dropout" if mode == "dropout" else ""
            record[f"valid_precision{suffix}"] = scores[f"precision@{top}"]
            record[f"valid_recall{suffix}"] = scores[f"recall@{top}"]
            record.setdefault("score", scores[f"precision@{top}"])
        return record


def _head(split: ImageSplit, count: int) -> ImageSplit:
    """The first ``count`` images of a split (their pairs are not needed for scoring)."""
    return ImageSplit(split.name, split.numbers[:count], split.rows[:count], split.tags[:count],
                      split.pair_image[:0], split.pair_word[:0])


def load_generator(cfg: FlickrExperiment, data: TagData, run_dir: Path) -> tuple[TowerNet, dict]:
    best = load_checkpoint(run_dir / "best.pt")
    generator, _ = build_networks(cfg, data.features.shape[1])
    generator.load_state_dict(best["generator"])
    return generator, best


def decode_all(cfg: FlickrExperiment, data: TagData, runs: dict[str, Path]) -> dict:
    """Tag lists of every test image by every method (the cached, expensive stage)."""
    decoder = make_decoder(cfg, data)
    top, test, vocab = cfg.eval.top, data.test, decoder.vocabulary
    methods: dict[str, list[list[str]]] = {}
    seconds: dict[str, float] = {}

    def timed(name: str, make) -> None:
        started = time.perf_counter()
        methods[name] = make()
        seconds[name] = round(time.perf_counter() - started, 3)

    timed("frequent", lambda: decoder.words([frequent_tags(data, vocab, top)]) * len(test))
    ks = sorted(set(cfg.eval.knn_k))
    valid = {k: tag_scores(decoder.words(rows), data.valid.tags, top)
             for k, rows in neighbour_tags(data, data.valid, vocab, ks, top).items()}
    best_k = max(ks, key=lambda k: (valid[k][f"precision@{top}"], -k))  # ours: k chosen on validation
    timed("knn", lambda: decoder.words(neighbour_tags(data, test, vocab, [best_k], top)[best_k]))
    for model, samplings in (("regressor", regressor_samplings(cfg)), ("cgan", cgan_samplings(cfg))):
        if model in runs:
            net, _ = load_generator(cfg, data, runs[model])
            for mode, how in samplings.items():
                timed(model if model == "regressor" else f"cgan/{mode}",
                      lambda how=how, net=net: network_tags(net, data, test, how, cfg.eval.seed + 1,
                                                            decoder, cfg.eval.batch_images))
    return {"test_numbers": test.numbers.tolist(), "methods": methods, "seconds": seconds,
            "knn": {"k": best_k, "valid": {str(k): v for k, v in valid.items()}},
            "decoding_vocabulary": len(vocab), "provenance": provenance()}


def decoding_key(cfg: FlickrExperiment, data: TagData, runs: dict[str, Path]) -> str:
    """What the decoded tag lists depend on: data, evaluation settings, the best checkpoints."""
    checkpoints = {}
    for model, run_dir in runs.items():
        best = load_checkpoint(run_dir / "best.pt")
        checkpoints[model] = {"run": run_dir.name, "epoch": best["epoch"], "score": best["record"].get("score")}
    settings = {k: v for k, v in to_dict(cfg.eval).items() if k not in ("table_images", "batch_images")}
    return digest({"data": data.identity(), "eval": settings, "checkpoints": checkpoints,
                   "noise": [cfg.train.noise, cfg.train.noise_dim], "generator": to_dict(cfg.generator)})


def decoded_tags(cfg: FlickrExperiment, data: TagData, runs: dict[str, Path], fresh: bool = False) -> dict:
    """decode_all, or its cached result when nothing it depends on has changed."""
    key = decoding_key(cfg, data, runs)
    path = cfg.path(cfg.run_dir) / cfg.name / f"decoded-{key[:12]}.json"
    if path.is_file() and not fresh:
        decoded = json.loads(path.read_text())
        decoded["cached"] = True
        return decoded
    decoded = {"key": key, **decode_all(cfg, data, runs)}
    write_json(decoded, path)
    return {**decoded, "cached": False}


def training_summary(run_dir: Path) -> dict:
    """How a model was trained: epochs, updates, time, sessions, per-epoch history."""
    last, best = load_checkpoint(run_dir / "last.pt"), load_checkpoint(run_dir / "best.pt")
    return {"run_dir": str(run_dir), "best_epoch": best["epoch"], "best_record": best["record"],
            "epochs_run": last["epoch"], "updates": last["updates"], "train_seconds": last["train_seconds"],
            "stopped_early": last["stopped_early"], "sessions": last["sessions"], "history": last["history"]}


def table2_examples(cfg: FlickrExperiment, data: TagData, decoded: dict, dataset_images: Path) -> list[dict]:
    """Paper Table 2: for a fixed random choice of test images, the real and generated tags."""
    rng = np.random.default_rng(cfg.eval.seed)
    count = min(cfg.eval.table_images, len(data.test))
    chosen = np.sort(rng.choice(len(data.test), count, replace=False))
    return [{"image": int(data.test.numbers[i]), "path": str(dataset_images / f"im{data.test.numbers[i]}.jpg"),
             "truth": data.test.tags[i],
             "generated": {name: tags[i] for name, tags in decoded["methods"].items()}} for i in chosen]


def method_scores(cfg: FlickrExperiment, data: TagData, decoded: dict) -> dict[str, dict]:
    """Scores of every method on the test images, by the same code."""
    known = set(data.words)
    return {name: tag_scores(tags, data.test.tags, cfg.eval.top, known)
            for name, tags in decoded["methods"].items()}


def deviations(context: Context) -> list[str]:
    """What differs from the paper (§4.2), for the header of every table: backbone and feature
    dimension, word-vector corpus and vocabulary, image resolution and subset, our choices."""
    cfg, stats = context.cfg, context.data.stats
    splits = stats["splits"]
    # The encoders' own reports say how they depart from the paper; without them, a summary.
    items = [f"Image features: {d}" for d in context.reports.get("features", {}).get("deviations", [])] or [
        f"Image features: {stats['backbone']}, {stats['feature_dim']:,}-d (paper: 4,096-d last fully-connected "
        "layer of a CNN trained on the full ImageNet, 21,000 classes)."]
    items += [f"Word vectors: {d}" for d in context.reports.get("wordvecs", {}).get("deviations", [])] or [
        f"Word vectors: vocabulary of {stats['vocabulary']:,} words (paper: 247,465, skip-gram trained on "
        "YFCC100M user tags, titles and descriptions)."]
    side = (stats.get("image_side_px") or {}).get("max")
    if side and side < 500 and "features" not in context.reports:
        items.append(f"Resolution: images at most {side} px on a side (official: up to 500 px).")
    if stats["images_in_dataset"] != 25000 and "features" not in context.reports:
        items.append(f"Subset: {stats['images_in_dataset']:,} images of MIR Flickr's 25,000 are present "
                     "(the 'cleaned' subset: images with at least one common tag and at least one concept).")
    oov = stats["out_of_vocabulary"]["train"]
    items += [
        f"Split (paper: none given; it trained on the first 150,000 pairs): images 1-{cfg.data.train_max_image_id:,} "
        f"train, of which the last {splits['valid']['images']:,} validate; the rest test. Train "
        f"{splits['train']['images']:,} images / {splits['train']['pairs']:,} pairs, validation "
        f"{splits['valid']['images']:,} / {splits['valid']['pairs']:,}, test {splits['test']['images']:,} / "
        f"{splits['test']['pairs']:,}; {stats['left_out_untagged']:,} untagged image(s) left out; "
        f"{oov['dropped']:,} of {oov['tags']:,} training tags ({oov['distinct_dropped']:,} distinct words) "
        "dropped for lacking a word vector.",
        f"Stopping point (paper: none given): the epoch with the best validation P@{cfg.eval.top}.",
        f"Inputs (paper silent): image features scaled '{cfg.data.feature_scaling}'; word vectors "
        f"{'centred on the vocabulary mean, ' if cfg.data.center_word_vectors else ''}"
        f"{'scaled to unit length' if cfg.data.unit_word_vectors else 'as trained'} (targets and decoding alike).",
        f"Decoding (paper silent on ties): count ties go to the higher summed cosine, then alphabetical; "
        f"vocabulary: {'every word with a vector' if cfg.eval.vocabulary == 'all' else 'training tags only'}.",
    ]
    return items


def evaluate_and_write(context: Context, runs: dict[str, Path], fresh: bool = False) -> dict:
    """Decode (or reuse), score, and write <results>/metrics.json."""
    cfg, data = context.cfg, context.data
    decoded = decoded_tags(cfg, data, runs, fresh)
    record = {
        "deviations": deviations(context),
        "scores": method_scores(cfg, data, decoded),
        "headline_sampling": next(iter(cgan_samplings(cfg))),
        "knn": decoded["knn"], "decoding_seconds": decoded["seconds"], "decoded_cached": decoded["cached"],
        "decoding_vocabulary": decoded["decoding_vocabulary"], "decoded_key": decoded["key"],
        "data": data.stats, "inputs": context.inputs, "stages": context.stages,
        "table2": table2_examples(cfg, data, decoded, context.images_dir),
        "training": {model: training_summary(run_dir) for model, run_dir in runs.items()},
        "config": to_dict(cfg), "decoding": decoded["provenance"], "evaluation": provenance(),
    }
    write_json(record, cfg.results / "metrics.json")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser(
        "experiments/flickr_cgan.yaml", prog="python -m multimodal.evaluate",
        description="Score the trained CGAN and the baselines on the test images, write "
                    "<results>/metrics.json and rebuild the report from it.")
    parser.add_argument("--fresh", action="store_true", help="decode again even if a cached result matches")
    args = parser.parse_args(argv)
    cfg = load_experiment(args.config, args.overrides)
    set_threads(args.threads or cfg.threads)
    context = prepare(cfg, args.data_root, args.cache_dir, run_stages=False)
    runs = {m: d for m, d in context.run_dirs().items() if (d / "best.pt").exists()}
    if "cgan" not in runs:
        raise UserFacingError(f"no CGAN checkpoint for these settings and inputs: train first with "
                              f"python -m multimodal.train --config {args.config}")
    evaluate_and_write(context, runs, fresh=args.fresh)
    write_reports(cfg.results)
    return 0


if __name__ == "__main__":
    run_cli(main)
