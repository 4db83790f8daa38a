"""Small on-disk fixtures for the features tests, written into a test's tmp_path."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def _picture(size=(48, 36), seed=0) -> Image.Image:
    """A smooth colour picture (gradients and a disc), so JPEG keeps it recognisably the same."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    r, g, b = (rng.uniform(0.3, 1.0) for _ in range(3))
    disc = ((x - w / 2) ** 2 + (y - h / 2) ** 2 < (min(w, h) / 3) ** 2)
    pixels = np.stack([x / w * 255 * r, y / h * 255 * g, disc * 255 * b], axis=-1)
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def make_image_folder(folder: Path) -> dict[str, str]:
    """Images of every kind the extractor must cope with; returns {relative path: kind}.

    Natural order: a/im2.jpg, a/im10.png, corrupt.jpg, grey.jpg, not_an_image.jpg, palette.png, rgb.jpg
    """
    (folder / "a").mkdir(parents=True)
    kinds = {}

    def put(name: str, kind: str, data: bytes | None = None, image: Image.Image | None = None, **save):
        path = folder / name
        if data is not None:
            path.write_bytes(data)
        else:
            image.save(path, **save)
        kinds[name] = kind

    put("rgb.jpg", "rgb", image=_picture(seed=1), quality=90)
    put("grey.jpg", "greyscale", image=_picture(seed=2).convert("L"), quality=90)
    palette = _picture((40, 40), seed=3).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    put("palette.png", "palette", image=palette, transparency=0)
    put("a/im2.jpg", "rgb", image=_picture((30, 50), seed=4), quality=90)
    rgba = _picture(seed=5).convert("RGBA")
    put("a/im10.png", "rgba", image=rgba)
    good = jpeg_bytes(_picture((64, 64), seed=6))
    put("corrupt.jpg", "corrupt", data=good[: len(good) // 2])  # truncated in the middle of the scan
    put("not_an_image.jpg", "corrupt", data=b"this is text, not a JPEG\n")
    (folder / "notes.txt").write_text("not an image file: ignored by extension\n")
    return kinds


MIR_TAGS = {  # image number -> tags; 15001+ are test images (train_max_image_id 15000)
    1: ["sky", "Clouds", "New York"],
    2: ["dog", "cute", "sky"],
    3: [],
    15001: ["secrettesttag", "sky"],
}
MIR_CONCEPTS = {"sky": [1, 2, 15001], "plant_life": [2], "dog": [2]}
MIR_CONCEPTS_R1 = {"dog": [3]}


def make_mirflickr(data_root: Path) -> Path:
    """A tiny MIR Flickr copy in the official layout; returns its images folder."""
    images = data_root / "mirflickr25k" / "mirflickr"
    tags = images / "meta" / "tags"
    tags.mkdir(parents=True)
    for number, words in MIR_TAGS.items():
        _picture(seed=number).save(images / f"im{number}.jpg", quality=90)
        (tags / f"tags{number}.txt").write_text("".join(f"{w}\n" for w in words), encoding="utf-8")
    annotations = data_root / "mirflickr25k" / "annotations"
    annotations.mkdir()
    for suffix, table in (("", MIR_CONCEPTS), ("_r1", MIR_CONCEPTS_R1)):
        for concept, numbers in table.items():
            (annotations / f"{concept}{suffix}.txt").write_text("".join(f"{n}\n" for n in numbers))
    (annotations / "README.txt").write_text("concept annotations\n")
    return images
