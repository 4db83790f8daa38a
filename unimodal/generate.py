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
from unimodal.experiment import NUM_CLASSES
from unimodal.figures import save_digit_grid
from unimodal.sampling import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unimodal.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="best.pt or last.pt of a run")
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
    generator, cfg = loaded.network, loaded.config
    mode = "dropout" if (cfg.eval.sample_with_dropout if args.dropout is None else args.dropout) else "deterministic"
    digits = list(range(NUM_CLASSES)) if args.digits is None else args.digits
    if any(d not in range(NUM_CLASSES) for d in digits) or args.n < 1:
        raise UserFacingError("--digits must be in 0..9 and -n at least 1")
    if cfg.conditional:
        labels = np.repeat(np.array(digits), args.n)
        samples, rows = generate(generator, cfg, labels, labels.size, args.seed, mode), len(digits)
    else:
        samples, rows = generate(generator, cfg, None, args.n, args.seed, mode), 1
    out = Path(args.out)
    if out.suffix not in (".npy", ".png"):
        raise UserFacingError(f"--out must end in .png or .npy, not {out.suffix!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, samples.reshape(-1, 28, 28))
    else:
        save_digit_grid(samples, out, rows=rows)
    print(f"wrote {len(samples)} samples to {out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
