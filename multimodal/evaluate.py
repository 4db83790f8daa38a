"""Tagging scores of the CGAN and the baselines on the test images: decode (or reuse the cached
decoding), score every method by the same code, and write <results>/metrics.json with the Table 2
examples, the deviations from the paper, how each model was trained and the provenance.
"""

from __future__ import annotations

from pathlib import Path

from cgan.cli import experiment_parser, run_cli, set_threads
from cgan.config import to_dict
from cgan.errors import UserFacingError
from cgan.runs.files import write_json
from cgan.runs.paths import portable
from cgan.runs.provenance import provenance
from cgan.training import training_summary
from multimodal.data import TagData
from multimodal.decode_test_set import decoded_tags, table2_positions
from multimodal.inputs import Context, prepare
from multimodal.metrics import tag_scores
from multimodal.paper_departures import deviations
from multimodal.report import write_reports
from multimodal.sampling import cgan_samplings
from multimodal.settings import RESULT_KEYS, FlickrExperiment, load_experiment
from multimodal.train import add_seeds_argument, cgan_seed_runs, seed_contexts


def table2_examples(cfg: FlickrExperiment, data: TagData, decoded: dict, dataset_images: Path) -> list[dict]:
    """Paper Table 2: for a fixed random choice of test images, the real and generated tags."""
    votes = decoded.get("votes", {})  # caches written before votes were kept have none
    return [{"image": int(data.test.numbers[i]), "path": portable(dataset_images / f"im{data.test.numbers[i]}.jpg"),
             "truth": data.test.tags[i],
             "generated": {name: tags[i] for name, tags in decoded["methods"].items()},
             **({"votes": votes[str(data.test.numbers[i])]} if str(data.test.numbers[i]) in votes else {})}
            for i in table2_positions(cfg, len(data.test))]


def method_scores(cfg: FlickrExperiment, data: TagData, decoded: dict) -> dict[str, dict]:
    """Scores of every method on the test images, by the same code."""
    known = set(data.words)
    return {name: tag_scores(tags, data.test.tags, cfg.eval.top, known)
            for name, tags in decoded["methods"].items()}


def evaluate_and_write(context: Context, runs: dict[str, Path], fresh: bool = False) -> dict:
    """Decode (or reuse), score, and write <results>/metrics.json."""
    cfg, data = context.cfg, context.data
    decoded = decoded_tags(cfg, data, runs, fresh)
    record = {
        "deviations": deviations(context),
        "scores": method_scores(cfg, data, decoded),
        "headline_sampling": next(iter(cgan_samplings(cfg))),
        "knn": decoded["knn"], "decoding_seconds": decoded["seconds"],
        "diagnostics": decoded.get("diagnostics", {}), "decoded_cached": decoded["cached"],
        "decoding_vocabulary": decoded["decoding_vocabulary"], "decoded_key": decoded["key"],
        "data": data.stats, "inputs": context.inputs, "stages": context.stages,
        "table2": table2_examples(cfg, data, decoded, context.images_dir),
        "training": {model: {"run_dir": portable(run_dir), **training_summary(run_dir)} for model, run_dir in runs.items()},
        "config": to_dict(cfg), "decoding": decoded["provenance"], "evaluation": provenance(),
    }
    write_json(record, cfg.results / "metrics.json")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser(
        "experiments/flickr/flickr_cgan.yaml", prog="python -m multimodal.evaluate",
        description="Score the trained CGAN and the baselines on the test images, write "
                    "<results>/metrics.json and rebuild the report from it.")
    parser.add_argument("--fresh", action="store_true", help="decode again even if a cached result matches")
    add_seeds_argument(parser)
    args = parser.parse_args(argv)
    cfg = load_experiment(args.config, args.overrides)
    cfg.route_tryout_results(args.overrides, args.write_results, RESULT_KEYS)
    set_threads(args.threads or cfg.threads)
    context = prepare(cfg, args.data_root, args.cache_dir, run_stages=False)
    runs = {m: d for m, d in context.run_dirs().items() if (d / "best.pt").exists()}
    if "cgan" not in runs:
        raise UserFacingError(f"no CGAN checkpoint for these settings and inputs: train first with "
                              f"python -m multimodal.train --config {args.config}")
    seeds = cgan_seed_runs(context, args.seeds)
    missing = [name for name, run_dir in seeds.items() if not (run_dir / "best.pt").exists()]
    if missing:
        raise UserFacingError(f"no checkpoint for {', '.join(missing)}: train first with python -m "
                              f"multimodal.train --config {args.config} --seeds {' '.join(map(str, args.seeds))}")
    runs.update(seeds)
    if "regressor" in runs:  # the regressor's other seeds, where trained
        runs.update({name: seeded.run_dir("regressor")
                     for name, seeded in seed_contexts(context, "regressor", args.seeds).items()
                     if name != "regressor" and (seeded.run_dir("regressor") / "best.pt").exists()})
    evaluate_and_write(context, runs, fresh=args.fresh)
    write_reports(cfg.results)
    return 0


if __name__ == "__main__":
    run_cli(main)
