"""`make flickr-tags`: from MIR Flickr 25,000 to a regenerated paper Table 2 and measured tagging
scores against baselines (Mirza & Osindero 2014, §4.2).

Stages, each skipped when its inputs have not changed:
1. data: MIR Flickr under the data root, else downloaded into the cache (official archives);
2. image features (python -m features.cnn), keyed by its settings and the image files;
3. word vectors (python -m features.skipgram), keyed by its settings and the tag/text files;
4. training of the CGAN and the regressor baseline, each in runs/<name>/<model>-<key>/ keyed by
   its settings and inputs: an interrupted run resumes, a finished one is not trained again;
5. decoding of every test image by every method, cached in runs/<name>/decoded-<key>.json;
6. scores into <results>/metrics.json, then table2.md, table2.png and metrics.md from it.
"""

from __future__ import annotations

import argparse
import sys
import time

from cgan.cli import experiment_parser, run_cli, set_threads
from multimodal.evaluate import evaluate_and_write
from multimodal.inputs import prepare
from multimodal.report import write_reports
from multimodal.settings import RESULT_KEYS, load_experiment
from multimodal.train import add_seeds_argument, train_models


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser(
        "experiments/flickr/flickr_cgan.yaml", prog="python -m multimodal.pipeline", description=__doc__)
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars (default: when stderr is a terminal)")
    parser.add_argument("--redecode", action="store_true",
                        help="decode the test images again even if a cached result matches")
    add_seeds_argument(parser)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    cfg = load_experiment(args.config, args.overrides)
    cfg.route_tryout_results(args.overrides, args.write_results, RESULT_KEYS)
    threads = args.threads or cfg.threads
    set_threads(threads)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    context = prepare(cfg, args.data_root, args.cache_dir, run_stages=True, threads=threads, progress=progress)
    runs = train_models(context, "all", args.seeds, progress=progress)
    record = evaluate_and_write(context, runs, fresh=args.redecode)
    written = write_reports(cfg.results)
    top = cfg.eval.top
    for name, scores in record["scores"].items():
        print(f"{name:>18}: P@{top} {scores[f'precision@{top}']:.4f}  R@{top} {scores[f'recall@{top}']:.4f}")
    print(f"wrote {', '.join(str(p) for p in written)} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    run_cli(main)
