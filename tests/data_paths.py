"""Where the tests find the real data sets: one place, so that every test reads the same copy.

CI sets ``CGAN_TEST_DATA_ROOT`` (its ``.ci/run`` points it at ``../shared/data``); without it the
tests look beside the repository, where CI's checkout keeps that folder. A test that needs a data
set asks ``real_root(name)``: on a user's machine without the copy it is skipped with a message
saying what to set; where ``CGAN_TEST_DATA_ROOT`` names the copy (CI) a missing one fails the test,
so that CI never passes by skipping.
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NAMED = "CGAN_TEST_DATA_ROOT" in os.environ
REAL_ROOT = Path(os.environ.get("CGAN_TEST_DATA_ROOT", REPO.parent / "shared" / "data"))


def real_root(name: str = "mnist", root: Path = REAL_ROOT, named: bool = NAMED) -> Path:
    """The data root, once it is known to hold ``name``/ (skip, or fail where CI named it)."""
    if not (root / name).is_dir():
        message = f"no {name}/ copy at {root}: set CGAN_TEST_DATA_ROOT to a folder holding {name}/"
        if named:
            pytest.fail(message)
        pytest.skip(message)
    return root


def mnist_root() -> str:
    """The data root holding MNIST, in the form the command lines take (--data-root)."""
    return str(real_root("mnist"))
