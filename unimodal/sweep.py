"""`python -m unimodal.sweep`: a hyper-parameter sweep of the MNIST pipeline's configs on Optuna
(cgan.sweeps.study; see --help) -> <results>/sweeps/<study>/."""

from __future__ import annotations

from cgan.cli import run_cli
from cgan.sweeps import study
from unimodal.train import SWEEP_TARGET


def main(argv: list[str] | None = None) -> int:
    return study.main(argv, [SWEEP_TARGET], prog="python -m unimodal.sweep")


if __name__ == "__main__":
    run_cli(main)
