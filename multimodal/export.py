"""Export a trained tagging CGAN for ``multimodal.load_tagger`` / ``python -m multimodal.tag`` and
for shipping under weights/: G, the training images' feature statistics, the decoding vocabulary
and the backbone's identity in one safetensors file, with a .sha256 beside it.

Example: python -m multimodal.export --config experiments/flickr/flickr_cgan_auxiliary.yaml --set encoders.backbone=efficientnet-lite0 --out weights/flickr_cgan_auxiliary.safetensors
(the same --config / --set values as the training; the run folder is found from them).
"""

from __future__ import annotations

from cgan.cli import experiment_parser, run_cli
from multimodal.api import export_tagger
from multimodal.inputs import prepare
from multimodal.settings import load_experiment


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser("experiments/flickr/flickr_cgan.yaml", prog="python -m multimodal.export",
                               description=__doc__)
    parser.add_argument("--out", required=True, help="the .safetensors file to write")
    parser.add_argument("--checkpoint", help="the checkpoint to export (default: the experiment's cgan best.pt)")
    parser.add_argument("--half", action="store_true", help="store G's weights as fp16 (half the size)")
    args = parser.parse_args(argv)
    cfg = load_experiment(args.config, args.overrides)
    context = prepare(cfg, args.data_root, args.cache_dir, run_stages=False)
    checkpoint = args.checkpoint or context.run_dir("cgan") / "best.pt"
    info = export_tagger(context, checkpoint, args.out, args.half)
    print(f"wrote {args.out} (epoch {info['epoch']}, {info['bytes'] / 1e6:.1f} MB, sha256 {info['sha256'][:16]}...)")
    return 0


if __name__ == "__main__":
    run_cli(main)
