"""Features on disk: an N x D float32 ``.npy`` filled in place, resumable, with its image ids.

Layout of a finished folder::

    features.npy   N x D float32, row i = image ids.txt line i (open with mmap_mode="r")
    ids.txt        the N readable images, in order
    failed.txt     images that could not be read, "<id><TAB><reason>", in order
    meta.json      backbone, weights sha256, preprocessing, dimension, counts, provenance

While running, rows go into ``features.partial.npy`` (a memmap: memory stays bounded whatever
N is) and ``progress.json`` records, atomically, how many inputs are done. A killed run is
resumed from there: rows past the last checkpoint are simply computed again. Unreadable
images take no row, so at the end the file is shortened in place to the rows written.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cgan.errors import DataError
from cgan.runs.files import check_free_space, write_json

FEATURES, IDS, FAILED, META = "features.npy", "ids.txt", "failed.txt", "meta.json"
PARTIAL, PROGRESS = "features.partial.npy", "progress.json"


def list_digest(ids: list[str]) -> str:
    """Identity of an ordered image list, so a resumed run reads the same images."""
    digest = hashlib.sha256()
    for image_id in ids:
        digest.update(image_id.encode() + b"\n")
    return digest.hexdigest()


@dataclass
class Progress:
    """How far an extraction got: inputs done, rows written, failures so far."""

    identity: dict
    done: int = 0
    rows: int = 0
    failed: list[list] = field(default_factory=list)  # [input index, reason]
    seconds: float = 0.0  # extraction time of all sessions up to the last checkpoint
    min_side: int | None = None
    max_side: int | None = None

    def add_sizes(self, widths, heights) -> None:
        sides = [s for w, h in zip(widths, heights) for s in (w, h) if s]
        if sides:
            self.min_side = min(sides + ([self.min_side] if self.min_side else []))
            self.max_side = max(sides + ([self.max_side] if self.max_side else []))


class FeatureWriter:
    """Fills a feature folder row by row; ``open`` resumes an interrupted run with the same identity."""

    def __init__(self, folder: Path, progress: Progress, total: int, dim: int):
        self.folder, self.progress = folder, progress
        mode = "r+" if (folder / PARTIAL).is_file() and progress.done else "w+"
        if mode == "w+":  # a memmap on a full disk dies with a bus error: check the space first
            folder.mkdir(parents=True, exist_ok=True)
            check_free_space(folder, total * dim * 4 + (1 << 20), "the image features")
        self.array = np.lib.format.open_memmap(folder / PARTIAL, mode=mode, dtype=np.float32,
                                               shape=None if mode == "r+" else (total, dim))
        if self.array.shape != (total, dim):
            raise DataError(f"{folder / PARTIAL} has shape {self.array.shape}, expected {(total, dim)}; "
                            "run again with --fresh")

    @classmethod
    def open(cls, folder: Path, identity: dict, total: int, dim: int, fresh: bool = False) -> FeatureWriter:
        identity = json.loads(json.dumps(identity))  # as it reads back from progress.json
        progress_file = folder / PROGRESS
        progress = Progress(identity)
        if progress_file.is_file() and not fresh:
            saved = json.loads(progress_file.read_text())
            if saved.get("identity") != identity:
                raise DataError(
                    f"{folder} holds an interrupted extraction with other settings or another image "
                    f"list ({progress_file}); run again with --fresh to discard it")
            progress = Progress(**saved)
        elif fresh:
            for name in (PARTIAL, PROGRESS):
                (folder / name).unlink(missing_ok=True)
        return cls(folder, progress, total, dim)

    def write(self, count: int, rows: np.ndarray, failures: list[tuple[int, str]]) -> None:
        """Record the next ``count`` inputs: ``rows`` for the readable ones, ``failures`` for the rest."""
        p = self.progress
        self.array[p.rows: p.rows + len(rows)] = rows
        p.rows += len(rows)
        p.done += count
        p.failed.extend([index, reason] for index, reason in failures)

    def checkpoint(self) -> None:
        """Make the rows so far durable, then (and only then) say they are done."""
        self.array.flush()
        write_json(self.progress.__dict__, self.folder / PROGRESS)

    def finish(self, ids: list[str], meta: dict) -> Path:
        """Shorten the array to the rows written and write ids, failures and meta.json."""
        self.checkpoint()
        p = self.progress
        failed_at = {index for index, _ in p.failed}
        kept = [image_id for i, image_id in enumerate(ids) if i not in failed_at]
        if len(kept) != p.rows:
            raise DataError(f"{self.folder}: {p.rows} rows written for {len(kept)} readable images; "
                            "run again with --fresh")
        del self.array
        _truncate_rows(self.folder / PARTIAL, p.rows)
        _write_lines(self.folder / IDS, kept)
        _write_lines(self.folder / FAILED, [f"{ids[i]}\t{reason}" for i, reason in p.failed])
        os.replace(self.folder / PARTIAL, self.folder / FEATURES)
        write_json(meta, self.folder / META)
        (self.folder / PROGRESS).unlink(missing_ok=True)
        return self.folder / FEATURES


def _write_lines(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)


def _truncate_rows(path: Path, rows: int) -> None:
    """Rewrite a version-1 .npy header in place to ``rows`` rows and cut the file after them.

    The header keeps its length (it is padded with spaces), so no data is moved: finishing a
    million-row file costs nothing.
    """
    with open(path, "r+b") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}[version]
        shape, fortran, dtype = read_header(handle)
        offset = handle.tell()
        if shape[0] == rows:
            return
        header = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": fortran,
                       "shape": (rows, *shape[1:])})
        start = 8 + (2 if version == (1, 0) else 4)
        header = header.ljust(offset - start - 1) + "\n"
        if len(header) != offset - start:
            raise DataError(f"cannot rewrite the header of {path}")
        handle.seek(start)
        handle.write(header.encode("latin1"))
        handle.truncate(offset + rows * int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize)


def failed_ids(folder: Path) -> list[str]:
    """The images a finished extraction could not read (failed.txt)."""
    path = folder / FAILED
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return [line.split("\t", 1)[0] for line in lines if line]


def add_rows(folder: Path, rows: dict[str, np.ndarray], order) -> None:
    """Fold rows of images that failed before into a finished folder: the rows in image order
    (``order`` is the sort key of ids), ids.txt, failed.txt and the counts in meta.json."""
    stored = load_features(folder)
    ids = sorted([*stored.ids, *rows], key=order)
    old = dict(zip(stored.ids, range(len(stored.ids))))
    array = np.stack([rows[i] if i in rows else stored.features[old[i]] for i in ids]).astype(np.float32)
    del stored
    check_free_space(folder, array.nbytes + (1 << 20), "the image features")
    tmp = folder / PARTIAL
    np.save(tmp, array)
    failed = [line for line in (folder / FAILED).read_text(encoding="utf-8").splitlines()
              if line and line.split("\t", 1)[0] not in rows]
    meta = json.loads((folder / META).read_text())
    meta["counts"] = {**meta["counts"], "features": len(ids), "failed": len(failed)}
    os.replace(tmp, folder / FEATURES)
    _write_lines(folder / IDS, ids)
    _write_lines(folder / FAILED, failed)
    write_json(meta, folder / META)


def is_complete(folder: Path, identity: dict) -> bool:
    """A finished extraction with the same identity is there (nothing to do)."""
    meta = folder / META
    return (folder / FEATURES).is_file() and meta.is_file() and \
        json.loads(meta.read_text()).get("identity") == identity


@dataclass
class StoredFeatures:
    features: np.ndarray  # memmap, N x D float32
    ids: list[str]
    meta: dict


def load_features(folder: str | Path, expect: dict | None = None) -> StoredFeatures:
    """Open a finished feature folder (the array as a read-only memmap).

    ``expect`` (e.g. {"backbone": "alexnet", "dim": 4096}) is checked against meta.json, so a
    later stage cannot silently mix features of different networks or preprocessing.
    """
    folder = Path(folder)
    for name in (FEATURES, IDS, META):
        if not (folder / name).is_file():
            raise DataError(f"{folder / name} is missing: extract the features first "
                            "(python -m features.cnn)")
    meta = json.loads((folder / META).read_text())
    for key, value in (expect or {}).items():
        if meta.get(key) != value:
            raise DataError(f"{folder}: features were made with {key}={meta.get(key)!r}, "
                            f"expected {value!r}; extract them again with matching settings")
    features = np.load(folder / FEATURES, mmap_mode="r")
    ids = (folder / IDS).read_text(encoding="utf-8").splitlines()
    if features.shape[0] != len(ids) or features.dtype != np.float32:
        raise DataError(f"{folder}: {features.shape} {features.dtype} features for {len(ids)} ids; "
                        "extract them again")
    return StoredFeatures(features, ids, meta)
