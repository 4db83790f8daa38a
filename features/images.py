"""Reading images for a CNN: find them, decode them to RGB, preprocess, never crash on a bad one.

A file that cannot be decoded (truncated, corrupt, not an image) yields a placeholder and the
reason, so the caller can skip it, list it and count it; the batch goes on.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


def natural_key(name: str) -> list:
    """Sort key that orders im2 before im10 (digit runs compare as numbers)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def list_images(folder: str | Path) -> list[str]:
    """Image files under ``folder`` (recursively), as relative POSIX paths in natural order.

    Hidden files and folders are skipped. Only names are held, so a million-file folder is fine.
    """
    folder = Path(folder)
    found = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = Path(here).relative_to(folder)
        found.extend((rel / f).as_posix() for f in files
                     if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS)
    return sorted(found, key=natural_key)


def load_rgb(path: str | Path) -> Image.Image:
    """Decode an image fully and convert it to 8-bit RGB (greyscale, palette, CMYK, alpha alike).

    Raises on anything unreadable; a truncated file is an error, not a half-grey picture.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            image.load()
            if image.mode == "P" and "transparency" in image.info:
                image = image.convert("RGBA")  # PIL's advice for palette images with transparency
            elif image.mode.startswith("I"):  # 16/32-bit greyscale: scale to 8 bits first
                image = image.point(lambda v: v / 256).convert("L")
            return image.convert("RGB")


@dataclass(frozen=True)
class Preprocessing:
    """Standard ImageNet evaluation preprocessing: resize the shorter side, centre crop, normalise."""

    resize: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bilinear"

    def transform(self) -> transforms.Compose:
        return transforms.Compose([
            transforms.Resize(self.resize, interpolation=transforms.InterpolationMode(self.interpolation),
                              antialias=True),
            transforms.CenterCrop(self.crop),
            transforms.ToTensor(),
            transforms.Normalize(self.mean, self.std),
        ])

    def record(self) -> dict:
        """What meta.json stores, so that a later stage can check it matches."""
        return {"resize_shorter_side": self.resize, "center_crop": self.crop,
                "interpolation": self.interpolation, "antialias": True, "color": "RGB",
                "scale": "0..1", "mean": list(self.mean), "std": list(self.std)}


class ImageFiles(Dataset):
    """Items are (index, tensor, error, width, height); error is '' when the image was read.

    An unreadable image gives a zero tensor and the reason, so the DataLoader never stops.
    With ``root``, ``paths`` are relative to it (short strings instead of a million Paths).
    """

    def __init__(self, paths: list[str | Path], preprocessing: Preprocessing, root: Path | None = None):
        self.paths, self.root = paths, root
        self.preprocessing = preprocessing
        self._transform = preprocessing.transform()

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        try:
            path = self.paths[index]
            image = load_rgb(self.root / path if self.root else path)
            return index, self._transform(image), "", image.width, image.height
        except Exception as error:  # noqa: BLE001 - any decoding failure is reported, not raised
            blank = torch.zeros(3, self.preprocessing.crop, self.preprocessing.crop)
            return index, blank, f"{type(error).__name__}: {error}".replace("\n", " "), 0, 0


def single_thread_worker(_worker_id: int) -> None:
    """DataLoader workers each decode one image at a time: one torch thread, no oversubscription."""
    torch.set_num_threads(1)
