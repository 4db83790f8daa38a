"""MIR Flickr 25,000 on disk: list its images, read their tags and concept annotations.

The official layout (mirflickr25k.zip and mirflickr25k_annotations_v080.zip from the LIACS
MIRFLICKR site) and the project's local copy share one layout, so one reader serves both::

    <data_root>/mirflickr25k/mirflickr/imN.jpg
    <data_root>/mirflickr25k/mirflickr/meta/tags/tagsN.txt       one tag per line
    <data_root>/mirflickr25k/annotations/<concept>.txt           image numbers, one per line
    <data_root>/mirflickr25k/annotations/<concept>_r1.txt       the stricter "relevant" set

N is the official image number (1..25,000). The split used by the tagging experiment is by
number: images up to ``train_max_image_id`` train, the rest test.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cgan.errors import DataError
from cgan.runs import paths

FOLDER = "mirflickr25k"
_IMAGE_NAME = re.compile(r"^im(\d+)\.jpg$")
_HOW_TO_GET = (
    "Download mirflickr25k.zip and mirflickr25k_annotations_v080.zip from the MIRFLICKR site "
    "(press.liacs.nl/mirflickr), unpack both into <data_root>/mirflickr25k/, and point "
    "--data-root or CGAN_DATA_ROOT at <data_root>."
)


def image_number(name: str) -> int:
    """The official number N of a file named imN.jpg (a bare name or a path)."""
    match = _IMAGE_NAME.match(Path(name).name)
    if not match:
        raise DataError(f"{name!r} is not a MIR Flickr image name (imN.jpg)")
    return int(match.group(1))


def is_train(number: int, train_max_image_id: int) -> bool:
    """The tagging experiment's split: images 1..train_max_image_id train, the rest test."""
    return number <= train_max_image_id


@dataclass(frozen=True)
class MirFlickr:
    """One copy of the data set, rooted at ``<data_root>/mirflickr25k``."""

    root: Path
    latin1_files: set[str] = field(default_factory=set, compare=False, repr=False)  # see read_text

    @classmethod
    def at(cls, data_root: str | Path | None = None) -> MirFlickr:
        root = paths.data_root(data_root) / FOLDER
        if not (root / "mirflickr").is_dir():
            raise DataError(f"MIR Flickr images not found: {root / 'mirflickr'} is missing. {_HOW_TO_GET}")
        return cls(root)

    @property
    def images_dir(self) -> Path:
        return self.root / "mirflickr"

    def image_path(self, number: int) -> Path:
        return self.images_dir / f"im{number}.jpg"

    @cached_property
    def image_numbers(self) -> list[int]:
        """Numbers of the images present, ascending (20,015 in the cleaned subset, 25,000 in full)."""
        names = os.listdir(self.images_dir)
        return sorted(int(m.group(1)) for m in map(_IMAGE_NAME.match, names) if m)

    def tags(self, number: int) -> list[str]:
        """User tags of one image as written in tagsN.txt (not yet tokenised); [] if it has none."""
        path = self.images_dir / "meta" / "tags" / f"tags{number}.txt"
        if not path.is_file():
            return []
        text = self.read_text(path)
        return [line.strip() for line in text.splitlines() if line.strip()]

    def read_text(self, path: Path) -> str:
        """A text file of the data set as UTF-8; a file that is not valid UTF-8 (a few Flickr tag
        files are Latin-1: 'caf\xe9') is read as Latin-1 instead, so no letter is lost, and its
        name is kept in ``latin1_files`` for the reports to count."""
        raw = path.read_bytes()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.latin1_files.add(path.name)
            return raw.decode("latin-1")

    @cached_property
    def annotations(self) -> dict[int, list[str]]:
        """Concepts of each annotated image: the union of <concept>.txt and <concept>_r1.txt."""
        folder = self.root / "annotations"
        if not folder.is_dir():
            raise DataError(f"MIR Flickr annotations not found: {folder} is missing. {_HOW_TO_GET}")
        concepts: dict[int, set[str]] = {}
        for path in sorted(folder.glob("*.txt")):
            if path.name.startswith("README"):
                continue
            concept = path.stem.removesuffix("_r1")
            for line in self.read_text(path).split():
                if not line.isdigit():
                    raise DataError(f"{path}: expected image numbers, one per line, found {line!r}")
                concepts.setdefault(int(line), set()).add(concept)
        return {number: sorted(names) for number, names in sorted(concepts.items())}

    def concepts(self, number: int) -> list[str]:
        """Concept names of one image (e.g. ['sky', 'water']), [] if none."""
        return self.annotations.get(number, [])



def check_image_names(images_dir: Path) -> None:
    """MIR Flickr's images are im1.jpg ... im25000.jpg; any other image file would be extracted and
    then fail the tagging experiment much later, so it is refused up front."""
    from features.images import list_images

    stray = [name for name in list_images(images_dir) if not _IMAGE_NAME.match(name)]
    if stray:
        raise DataError(f"{len(stray)} image file(s) under {images_dir} are not MIR Flickr images (imN.jpg), "
                        f"e.g. {', '.join(stray[:3])}: move them out, or extract an arbitrary folder with --images")
