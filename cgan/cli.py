"""Command-line plumbing shared by every entry point: common flags and clean error exits."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import torch

from cgan.errors import UserFacingError
from cgan.runs.allocator import keep_freed_memory
from cgan.runs.paths import REPO_ROOT


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def add_common_args(parser: argparse.ArgumentParser, default_config: str | None) -> None:
    """``default_config`` None: the command finds its config elsewhere (a sweep: its space file)."""
    parser.add_argument("--config", default=default_config,
                        help=f"experiment YAML file (default: {default_config or 'the space file’s base_config'})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.max_epochs=50 (repeatable)")
    parser.add_argument("--data-root", default=None,
                        help="folder with local copies of the data sets (default: $CGAN_DATA_ROOT or ./data)")
    parser.add_argument("--cache-dir", default=None,
                        help="writable folder for downloads and caches (default: $CGAN_CACHE_DIR or ./.cache)")
    parser.add_argument("--write-results", action="store_true",
                        help="write the config's results folder even though --set changes the experiment "
                             "(by default such a try-out writes under its run folder)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="CPU threads for torch, at least 1 (default: the config's, else all cores)")


def experiment_parser(default_config: str | None, **kwargs) -> argparse.ArgumentParser:
    """An ArgumentParser for an experiment command (``prog``, ``description``, ``epilog`` as for
    argparse), with the common flags added and the description's layout kept."""
    parser = argparse.ArgumentParser(formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
    add_common_args(parser, default_config)
    return parser


def report_parser(prog: str, description: str, default_results: str, holds: str) -> argparse.ArgumentParser:
    """The parser of a report command: it rebuilds tables and figures from result files in
    ``--results`` (default ``default_results``, relative to the repository), which ``holds``."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(REPO_ROOT / default_results),
                        help=f"folder with {holds} (default: {default_results})")
    return parser


def set_threads(count: int | None) -> None:
    """Use ``count`` torch threads; None leaves torch's default (all cores)."""
    if count is not None:
        torch.set_num_threads(count)


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run ``main``; a UserFacingError prints one line on stderr and exits 2, without a traceback.
    Every command first tunes the C library's allocator (cgan.runs.allocator: same numbers, faster)."""
    keep_freed_memory()
    try:
        code = main(argv)
    except UserFacingError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: the last checkpoint is kept; run the same command to resume",
              file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
