"""Where the tests find the real data sets: one place, so that every test reads the same copy.

CI sets ``CGAN_TEST_DATA_ROOT`` (its ``.ci/run`` points it at ``../shared/data``); without it the
tests look beside the repository, where CI's checkout keeps that folder.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REAL_ROOT = Path(os.environ.get("CGAN_TEST_DATA_ROOT", REPO.parent / "shared" / "data"))
DATA_ROOT = str(REAL_ROOT)  # the form the command lines take (--data-root)
