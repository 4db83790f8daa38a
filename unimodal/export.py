"""Export a trained MNIST generator (G only) as safetensors, with its config and a .sha256 file,
for ``unimodal.load_generator`` and for shipping under weights/.

Example: python -m unimodal.export --checkpoint runs/mnist_cgan/best.pt --out weights/mnist_cgan.safetensors
"""

from __future__ import annotations

import argparse

from cgan.cli import run_cli
from unimodal.api import export_generator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unimodal.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="best.pt of a run")
    parser.add_argument("--out", required=True, help="the .safetensors file to write")
    parser.add_argument("--half", action="store_true", help="store fp16 weights (half the size)")
    args = parser.parse_args(argv)
    info = export_generator(args.checkpoint, args.out, args.half)
    print(f"wrote {args.out} ({info['bytes'] / 1e6:.1f} MB, {info['dtype']}, sha256 {info['sha256'][:16]}...)")
    return 0


if __name__ == "__main__":
    run_cli(main)
