"""`python -m multimodal.sweep`: a hyper-parameter sweep of the Flickr pipeline's configs on Optuna
(cgan.sweeps.study; see --help) -> <results>/sweeps/<study>/."""

from __future__ import annotations

from cgan.cli import run_cli
from cgan.sweeps import study
from multimodal.train import SWEEP_TARGET


def main(argv: list[str] | None = None) -> int:
    return study.main(argv, [SWEEP_TARGET], prog="python -m multimodal.sweep")


if __name__ == "__main__":
    run_cli(main)
