"""Decoding every test image with every method (the expensive part of the evaluation), cached in
runs/<name>/decoded-<key>.json, keyed by the checkpoints, the data and the evaluation settings."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cgan.config import to_dict
from cgan.networks import TowerNet
from cgan.runs.checkpoint import load_checkpoint
from cgan.runs.digest import sha256
from cgan.runs.files import write_json
from cgan.runs.provenance import provenance
from multimodal.baselines import frequent_tags, neighbour_tags
from multimodal.data import ImageSplit, TagData
from multimodal.metrics import condition_gap, sample_cosine, tag_scores
from multimodal.report import is_regressor
from multimodal.sampling import Sampling, cgan_samplings, iter_samples, make_decoder, regressor_samplings
from multimodal.settings import FlickrExperiment, build_networks
from multimodal.tag_decoder import TagDecoder


def load_networks(cfg: FlickrExperiment, data: TagData, run_dir: Path) -> tuple[TowerNet, TowerNet | None, dict]:
    """(G, D or None for the regressor, the checkpoint) of a run's best epoch."""
    best = load_checkpoint(run_dir / "best.pt")
    generator, discriminator = build_networks(cfg, data.features.shape[1], len(data.concept_names))
    generator.load_state_dict(best["generator"])
    if "discriminator" not in best:
        return generator, None, best
    discriminator.load_state_dict(best["discriminator"])
    return generator, discriminator, best


def tags_and_spread(net: TowerNet, data: TagData, split: ImageSplit, how: Sampling, seed: int,
                    decoder: TagDecoder, batch_images: int, votes_of: Sequence[int] = ()
                    ) -> tuple[list[list[str]], float | None, dict[int, list]]:
    """Decoded tag lists of every image of ``split``; the mean pairwise cosine among one image's
    samples (None for one sample per image; 1 means G ignores its noise); and for the images at
    positions ``votes_of``, what the voting chose from (TagDecoder.votes) on those same samples."""
    tags, cosine, votes, wanted = [], 0.0, {}, set(votes_of)
    for batch in iter_samples(net, data.features[split.rows], how, seed, batch_images):
        first = len(tags)
        tags.extend(decoder.words(decoder.decode(batch)))
        cosine += sample_cosine(batch) * len(batch)
        here = sorted(p - first for p in wanted if first <= p < len(tags))
        if here:
            votes.update({first + p: v for p, v in zip(here, decoder.votes(batch[here]))})
    return tags, (cosine / len(split) if how.count > 1 else None), votes


def table2_positions(cfg: FlickrExperiment, test_images: int) -> np.ndarray:
    """Paper Table 2's test images: a fixed random choice (positions in the test split)."""
    rng = np.random.default_rng(cfg.eval.seed)
    return np.sort(rng.choice(test_images, min(cfg.eval.table_images, test_images), replace=False))


def decode_all(cfg: FlickrExperiment, data: TagData, runs: dict[str, Path]) -> dict:
    """Tag lists of every test image by every method (the cached, expensive stage)."""
    decoder = make_decoder(cfg, data)
    top, test, vocab = cfg.eval.top, data.test, decoder.vocabulary
    methods: dict[str, list[list[str]]] = {}
    seconds: dict[str, float] = {}
    diagnostics: dict[str, dict[str, float]] = {}  # collapse diagnostics on the test images, per method
    votes: dict[str, list] = {}  # the headline CGAN's vote counts for the Table 2 images, by image number

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
    for run in sorted(runs, key=lambda run: not is_regressor(run)):  # regressor(-seed<S>), cgan, cgan-seed<S> ...
        samplings = regressor_samplings(cfg) if is_regressor(run) else cgan_samplings(cfg)
        net, discriminator, _ = load_networks(cfg, data, runs[run])
        gap = condition_gap(discriminator, data, test, cfg.eval.seed) if discriminator is not None else {}
        for mode, how in samplings.items():
            name = run if is_regressor(run) else f"{run}/{mode}"
            started = time.perf_counter()
            headline = name == f"cgan/{next(iter(samplings))}"
            methods[name], cosine, spread = tags_and_spread(
                net, data, test, how, cfg.eval.seed + 1, decoder, cfg.eval.batch_images,
                table2_positions(cfg, len(test)).tolist() if headline else ())
            if headline:
                votes = {str(data.test.numbers[p]): v for p, v in spread.items()}
            seconds[name] = round(time.perf_counter() - started, 3)
            diagnostics[name] = {**gap, **({} if cosine is None else {"sample_cosine": cosine})}
    return {"test_numbers": test.numbers.tolist(), "methods": methods, "seconds": seconds,
            "diagnostics": diagnostics, "votes": votes,
            "knn": {"k": best_k, "valid": {str(k): v for k, v in valid.items()}},
            "decoding_vocabulary": len(vocab), "provenance": provenance()}


def decoding_key(cfg: FlickrExperiment, data: TagData, runs: dict[str, Path]) -> str:
    """What the decoded tag lists depend on: data, evaluation settings, the best checkpoints."""
    checkpoints = {}
    for model, run_dir in runs.items():
        best = load_checkpoint(run_dir / "best.pt")
        checkpoints[model] = {"run": run_dir.name, "epoch": best["epoch"], "score": best["record"].get("score")}
    settings = {k: v for k, v in to_dict(cfg.eval).items() if k not in ("table_images", "batch_images")}
    return sha256({"data": data.identity(), "eval": settings, "checkpoints": checkpoints,
                   "noise": [cfg.objective.noise, cfg.objective.noise_dim], "generator": cfg.generator.identity()})


def decoded_tags(cfg: FlickrExperiment, data: TagData, runs: dict[str, Path], fresh: bool = False) -> dict:
    """decode_all, or its cached result when nothing it depends on has changed."""
    key = decoding_key(cfg, data, runs)
    path = cfg.run_root / f"decoded-{key[:12]}.json"
    if path.is_file() and not fresh:
        decoded = json.loads(path.read_text())
        decoded["cached"] = True
        return decoded
    decoded = {"key": key, **decode_all(cfg, data, runs)}
    write_json(decoded, path)
    return {**decoded, "cached": False}
