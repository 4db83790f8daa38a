"""Why a tagging CGAN fails, in numbers (results/flickr/diagnostics.md).

- Ceiling of the decoding: P@10 / R@10 when the "samples" of an image are its own true tags' word
  vectors (cycled to the decoder's sample count), also with noise added: what the word vectors and
  the 100 x 20 voting can reach at best, whatever the generator.
- Does D use the image? D's mean output on real (tag, own image) pairs against the same tags paired
  with another image. Equal outputs mean D ignores the condition, and then nothing makes G use it.
- Diversity of G: the mean pairwise cosine among the samples of one image (1 = all the same).

Example: python -m multimodal.diagnostics --set encoders.backbone=efficientnet-lite0
"""

from __future__ import annotations

import time

import numpy as np
import torch

from cgan.cli import experiment_parser, run_cli, set_threads
from cgan.files import write_json
from cgan.layers import TowerNet
from cgan.provenance import provenance
from cgan.sampling import sampling_state
from multimodal.context import prepare
from multimodal.data import ImageSplit, TagData
from multimodal.experiment import RESULT_KEYS, load_experiment
from multimodal.metrics import tag_scores
from multimodal.sampling import make_decoder
from multimodal.tagging import TagDecoder, unit_rows

NOISE_LEVELS = (0.0, 0.5, 1.0)  # norm of the added noise, relative to a unit word vector


def image_word_rows(split: ImageSplit) -> list[np.ndarray]:
    """Per image of ``split``, the word-vector rows of its tags that have a vector (its pairs)."""
    rows: list[list[int]] = [[] for _ in range(len(split))]
    for image, word in zip(split.pair_image, split.pair_word):
        rows[image].append(int(word))
    return [np.array(r, dtype=np.int64) for r in rows]


def ceiling_samples(word_vectors: np.ndarray, word_rows: list[np.ndarray], count: int, noise: float,
                    rng: np.random.Generator) -> np.ndarray:
    """(images, count, d): each image's own tag vectors, cycled to ``count``, plus Gaussian noise
    of expected norm ``noise`` times a unit vector's; zeros for an image without such a tag."""
    d = word_vectors.shape[1]
    out = np.zeros((len(word_rows), count, d), dtype=np.float32)
    for i, rows in enumerate(word_rows):
        if len(rows):
            out[i] = unit_rows(word_vectors[np.resize(rows, count)])
    if noise > 0:
        out += rng.normal(scale=noise / np.sqrt(d), size=out.shape).astype(np.float32)
    return out


def decoding_ceiling(data: TagData, split: ImageSplit, decoder: TagDecoder, count: int, top: int,
                     noise_levels=NOISE_LEVELS, seed: int = 0, batch: int = 256) -> dict[str, dict]:
    """Tag scores of decoding each image's own tag vectors, per noise level."""
    rng = np.random.default_rng(seed)
    word_rows = image_word_rows(split)
    known = set(data.words)
    results = {}
    for noise in noise_levels:
        tags: list[list[str]] = []
        for start in range(0, len(split), batch):
            samples = ceiling_samples(data.word_vectors, word_rows[start:start + batch], count, noise, rng)
            tags.extend(decoder.words(decoder.decode(samples)))
        results[f"{noise:g}"] = tag_scores(tags, split.tags, top, known)
    return results


@torch.no_grad()
def condition_gap(discriminator: TowerNet, data: TagData, split: ImageSplit, seed: int = 0,
                  max_pairs: int = 5000) -> dict[str, float]:
    """D's mean output on real tags with their own image and with another image (each pair's
    image moved to a different one): if the two are equal, D ignores the image."""
    rng = np.random.default_rng(seed)
    pairs = rng.permutation(len(split.pair_image))[:max_pairs]
    images, words = split.pair_image[pairs], split.pair_word[pairs]
    others = (images + rng.integers(1, len(split), len(images))) % len(split)  # never the own image
    device = next(discriminator.parameters()).device
    vectors = torch.from_numpy(data.word_vectors[words]).to(device)

    def mean_output(image_positions: np.ndarray) -> float:
        features = torch.from_numpy(data.features[split.rows[image_positions]]).to(device)
        return torch.sigmoid(discriminator(vectors, features)).mean().item()

    with sampling_state(discriminator, "deterministic", seed):  # D as it judges: no dropout
        return {"d_matched": mean_output(images), "d_mismatched": mean_output(others)}


def sample_cosine(samples: torch.Tensor) -> float:
    """Mean pairwise cosine among the samples of each image of (images, n, d), averaged over images."""
    unit = torch.nn.functional.normalize(samples.float(), dim=-1)
    n = unit.shape[1]
    if n < 2:
        return 1.0
    gram = unit @ unit.transpose(1, 2)
    return float(((gram.sum(dim=(1, 2)) - gram.diagonal(dim1=1, dim2=2).sum(dim=1)) / (n * (n - 1))).mean())


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser("experiments/flickr_cgan.yaml", prog="python -m multimodal.diagnostics",
                               description=__doc__)
    args = parser.parse_args(argv)
    cfg = load_experiment(args.config, args.overrides)
    cfg.route_tryout_results(args.overrides, args.write_results, RESULT_KEYS)
    set_threads(args.threads or cfg.threads)
    started = time.perf_counter()
    context = prepare(cfg, args.data_root, args.cache_dir, run_stages=False)
    data, decoder = context.data, make_decoder(cfg, context.data)
    ceiling = {name: decoding_ceiling(data, split, decoder, cfg.eval.samples, cfg.eval.top, seed=cfg.eval.seed)
               for name, split in (("valid", data.valid), ("test", data.test))}
    record = {"ceiling": ceiling, "noise_levels": list(NOISE_LEVELS), "samples": cfg.eval.samples,
              "decoding_vocabulary": len(decoder.vocabulary), "inputs": context.inputs,
              "provenance": {**provenance(), "wall_seconds": round(time.perf_counter() - started, 1)}}
    write_json(record, cfg.results / "diagnostics.json")
    (cfg.results / "diagnostics.md").write_text(render(record))
    print(f"wrote {cfg.results / 'diagnostics.md'}")
    return 0


def render(record: dict) -> str:
    top = 10
    lines = ["# Flickr tagging diagnostics", "",
             "Generated by `python -m multimodal.diagnostics`; do not edit by hand.", "",
             f"- Command `{record['provenance']['command']}` at commit `{record['provenance']['commit']}`, "
             f"{record['provenance']['date']}.", "",
             "## Ceiling of the decoding", "",
             f"The {record['samples']} \"samples\" of each image are its own true tags' word vectors (those with "
             "a vector), cycled, with Gaussian noise of the given norm (a unit word vector has norm 1), decoded "
             "by the paper's voting. No generator can do better than the noiseless row with these word vectors "
             "and this decoding.", "",
             "| split | noise | P@10 | R@10 | R@10 within the vocabulary | distinct words |", "|---|---|---|---|---|---|"]
    for split, levels in record["ceiling"].items():
        for noise, s in levels.items():
            lines.append(f"| {split} | {noise} | {s[f'precision@{top}']:.3f} | {s[f'recall@{top}']:.3f} | "
                         f"{s[f'recall@{top}_in_vocabulary']:.3f} | {s['distinct_words']:,} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    run_cli(main)
