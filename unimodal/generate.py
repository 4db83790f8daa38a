"""Draw samples from a trained MNIST generator: a PNG grid or a .npy array.

Example: python -m unimodal.generate --checkpoint runs/mnist_cgan/best.pt --digits 3 7 -n 64 --out samples.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cgan.cli import run_cli
from cgan.errors import UserFacingError
from unimodal.api import load_generator
from unimodal.figures import save_digit_grid
from unimodal.settings import NUM_CLASSES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unimodal.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="best.pt or last.pt of a run, or a .safetensors file from weights/")
    parser.add_argument("--digits", type=int, nargs="+", default=None,
                        help="digits to condition on (default: 0-9); ignored by unconditional nets")
    parser.add_argument("-n", type=int, default=10, help="samples per digit (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--dropout", action=argparse.BooleanOptionalAction, default=None,
                        help="sample with the generator's dropout on (default: the run's "
                             "eval.sample_with_dropout)")
    parser.add_argument("--out", required=True, help="output file: .png (grid, one row per digit) or .npy")
    args = parser.parse_args(argv)
    loaded = load_generator(args.checkpoint)
    mode = "dropout" if (loaded.config.eval.sample_with_dropout if args.dropout is None else args.dropout) else "deterministic"
    digits = args.digits
    if not loaded.conditional and digits is not None:
        print("note: this generator is unconditional; --digits is ignored")
        digits = None
    try:
        samples = loaded.sample(digits, args.n, args.seed, mode)
    except ValueError as error:
        raise UserFacingError(f"{error} (--digits, -n)") from None
    rows = len(digits or range(NUM_CLASSES)) if loaded.conditional else 1
    out = Path(args.out)
    if out.suffix not in (".npy", ".png"):
        raise UserFacingError(f"--out must end in .png or .npy, not {out.suffix!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, samples)
    else:
        save_digit_grid(samples, out, rows=rows)
    print(f"wrote {len(samples)} samples to {out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
