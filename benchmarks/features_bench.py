"""Image-feature throughput of efficientnet-lite0 (the offline backbone) on the CPU.

Images per second for 1 and 2 torch threads: end to end (decode, preprocess, network, as
``extract_features`` does in the main process) and the network alone on a ready batch.
Uses the first MIR Flickr images under the data root if present, else synthetic JPEGs.

Run: python -m benchmarks.features_bench   (prints JSON)
"""

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks import bench_main
from cgan.errors import DataError
from cgan.runs.paths import portable
from features.backbones import load_backbone
from features.cnn import extract_features
from features.images import ImageFiles
from features.mirflickr import MirFlickr

BACKBONE = "efficientnet-lite0"


def _images(count: int, folder: Path) -> tuple[list[Path], str]:
    """``count`` real MIR Flickr images if there are enough, else synthetic 500x375 JPEGs."""
    try:
        dataset = MirFlickr.at()
        numbers = dataset.image_numbers[:count]
        if len(numbers) == count:
            return [dataset.image_path(n) for n in numbers], f"MIR Flickr ({portable(dataset.root)})"
    except DataError:
        pass
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"im{i}.jpg"
        Image.fromarray(rng.integers(0, 256, (375, 500, 3), dtype=np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths, "synthetic 500x375 JPEGs"


def run(images: int = 256, batch_size: int = 64, threads=(1, 2)) -> dict:
    before = torch.get_num_threads()
    backbone = load_backbone(BACKBONE, device="cpu")
    results = {"backbone": BACKBONE, "images": images, "batch_size": batch_size}
    with tempfile.TemporaryDirectory() as tmp:
        paths, source = _images(images, Path(tmp))
        results["source"] = source
        dataset = ImageFiles(paths[:batch_size], backbone.spec.preprocessing())
        batch = torch.stack([dataset[i][1] for i in range(len(dataset))])
        try:
            for count in threads:
                torch.set_num_threads(count)
                extract_features(paths[:batch_size], backbone, batch_size=batch_size)  # warm-up
                start = time.perf_counter()
                features, failed = extract_features(paths, backbone, batch_size=batch_size)
                seconds = time.perf_counter() - start
                assert features.shape == (images, backbone.dim) and not failed
                with torch.inference_mode():
                    start = time.perf_counter()
                    backbone.network(batch)
                    forward = time.perf_counter() - start
                results[f"images_per_second_{count}_threads"] = round(images / seconds, 2)
                results[f"network_images_per_second_{count}_threads"] = round(len(batch) / forward, 2)
        finally:
            torch.set_num_threads(before)
    return results


if __name__ == "__main__":
    raise SystemExit(bench_main(run, __doc__, "python -m benchmarks.features_bench"))
