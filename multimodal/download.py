"""MIR Flickr 25,000 for the tagging experiment: find it, or download the official archives.

Sources, in order: a local copy under the data root (``<data_root>/mirflickr25k``, the setting
MNIST uses; only read), a previous download in the cache (``<cache>/mirflickr25k``), then the
two official archives of the LIACS MIRFLICKR site, unpacked into the cache in the same layout.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

import torch

from cgan.errors import DataError
from cgan.runs import paths
from features.mirflickr import FOLDER, MirFlickr

SITE = "http://press.liacs.nl/mirflickr/mirflickr25k.v3b/"
IMAGES_ZIP = "mirflickr25k.zip"  # about 2.9 GB: mirflickr/imN.jpg, mirflickr/meta/tags/tagsN.txt, ...
ANNOTATIONS_ZIP = "mirflickr25k_annotations_v080.zip"  # <concept>.txt and <concept>_r1.txt


def fetch(url: str, target: Path, progress: bool) -> None:
    """Download ``url`` to ``target`` (streamed to a temporary file, then renamed)."""
    torch.hub.download_url_to_file(url, str(target), progress=progress)


def locate_mirflickr(data_root: str | Path | None = None, cache_dir: str | Path | None = None,
                     download: bool = True, progress: bool = True) -> MirFlickr:
    """The data set, downloading it into the cache when neither copy is there (if allowed)."""
    root = paths.data_root(data_root)
    if (root / FOLDER / "mirflickr").is_dir():
        return MirFlickr.at(root)
    cache = paths.cache_dir(cache_dir)
    if (cache / FOLDER / "mirflickr").is_dir():
        return MirFlickr(cache / FOLDER)
    if not download:
        return MirFlickr.at(root)  # raises, saying where to get it
    paths.check_data_root_exists(data_root, cache, "MIR Flickr")
    download_mirflickr(cache, progress)
    return MirFlickr(cache / FOLDER)


def download_mirflickr(cache: Path, progress: bool = True) -> Path:
    """Fetch both archives into <cache>/downloads and unpack them into <cache>/mirflickr25k."""
    archives = cache / "downloads"
    archives.mkdir(parents=True, exist_ok=True)
    for name in (IMAGES_ZIP, ANNOTATIONS_ZIP):
        if not (archives / name).is_file():
            try:
                fetch(SITE + name, archives / name, progress)
            except Exception as error:  # noqa: BLE001 - offline, proxy, HTTP error: same advice
                raise DataError(
                    f"MIR Flickr is not under the data root, and downloading {SITE + name} failed "
                    f"({type(error).__name__}: {error}). Put mirflickr25k/ (mirflickr/ and annotations/) "
                    "under a folder and pass --data-root or set CGAN_DATA_ROOT, or place the two "
                    f"archives in {archives}.") from None
    with tempfile.TemporaryDirectory(dir=cache, prefix=".mirflickr25k.") as tmp:
        staging = Path(tmp) / FOLDER
        _unpack_images(archives / IMAGES_ZIP, staging)
        _unpack_annotations(archives / ANNOTATIONS_ZIP, staging / "annotations")
        shutil.move(str(staging), str(cache / FOLDER))
    return cache / FOLDER


def _unpack_images(archive: Path, staging: Path) -> None:
    """The archive's folder holding imN.jpg (``mirflickr/`` in the official one) -> staging/mirflickr."""
    unpacked = staging.parent / "unpacked"
    with _open_zip(archive) as zipped:
        zipped.extractall(unpacked)
    found = next((p.parent for p in sorted(unpacked.rglob("im1.jpg"))), None) or \
        next((p.parent for p in sorted(unpacked.rglob("im*.jpg"))), None)
    if found is None:
        raise DataError(f"{archive} holds no imN.jpg images; delete it to download it again")
    staging.mkdir(parents=True)
    shutil.move(str(found), str(staging / "mirflickr"))


def _unpack_annotations(archive: Path, folder: Path) -> None:
    """Every <concept>.txt of the archive, wherever it sits in it, -> folder/<concept>.txt."""
    folder.mkdir(parents=True)
    with _open_zip(archive) as zipped:
        members = [m for m in zipped.infolist() if not m.is_dir() and m.filename.endswith(".txt")]
        if not members:
            raise DataError(f"{archive} holds no annotation files; delete it to download it again")
        for member in members:
            (folder / Path(member.filename).name).write_bytes(zipped.read(member))


def _open_zip(archive: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as error:
        raise DataError(f"{archive} is not a readable zip archive ({error}); delete it to download "
                        "it again") from None
