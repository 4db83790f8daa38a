"""cgan.allocator: freed buffers are reused, not faulted in again at every step."""

import os
import subprocess
import sys

import pytest

# A training step in miniature: twenty 1 MB temporaries made and freed, ten times; then the page
# faults of a second round of that, after the first has warmed the heap.
STEP = """
import resource, torch
from cgan.allocator import keep_freed_memory
took = keep_freed_memory()
x = torch.ones(500, 500)
def rounds():
    for _ in range(10):
        temporaries = [x * 2.0 for _ in range(20)]
        del temporaries
rounds()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds()
print(took, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(**env: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", STEP], env={**os.environ, **env}, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator is what is tuned")
def test_tuned_allocator_reuses_freed_buffers_where_glibc_default_faults_them_in_again():
    took, tuned = _faults(CGAN_MALLOC_TUNING="1")
    off, default = _faults(CGAN_MALLOC_TUNING="0")
    assert (took, off) == ("True", "False")
    # 20 MB freed per round: glibc's default trims it and faults ~5,000 pages back in, every round.
    assert default > 10_000
    assert tuned < default / 20
