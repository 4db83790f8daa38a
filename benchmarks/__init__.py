"""Speed benchmarks (`make bench` runs them all through benchmarks.run)."""

import argparse
import json
import sys

from cgan.runs.allocator import keep_freed_memory


def bench_main(run, doc: str, prog: str, argv: list[str] | None = None) -> int:
    """The command line of one benchmark module: ``--help`` explains it, otherwise it runs and
    prints its measurements as JSON."""
    parser = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(sys.argv[1:] if argv is None else argv)
    keep_freed_memory()  # as every training command does (cgan.cli.run_cli)
    print(json.dumps(run(), indent=2))
    return 0
