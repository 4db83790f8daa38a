"""Decoding every test image with every method (the expensive part of the evaluation), cached in
runs/<name>/decoded-<key>.json, keyed by the checkpoints, the data and the evaluation settings."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cgan.checkpoint import load_checkpoint
from cgan.config import to_dict
from cgan.digest import sha256
from cgan.files import write_json
from cgan.layers import TowerNet
from cgan.provenance import provenance
from multimodal.baselines import frequent_tags, neighbour_tags
from multimodal.data import TagData
from multimodal.experiment import FlickrExperiment, build_networks
from multimodal.metrics import tag_scores
from multimodal.sampling import cgan_samplings, make_decoder, network_tags, regressor_samplings


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
    return sha256({"data": data.identity(), "eval": settings, "checkpoints": checkpoints,
                   "noise": [cfg.train.noise, cfg.train.noise_dim], "generator": to_dict(cfg.generator)})


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
